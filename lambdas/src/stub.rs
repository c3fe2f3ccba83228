//! Do-nothing [`Aws`] and [`GitHub`] that record the calls: for tests that only look at the
//! policy's answers and for the in-process benchmark ("AWS calls stubbed").

use std::collections::BTreeMap;
use std::sync::Mutex;

use flotilla_core::command::LaunchRequest;
use flotilla_core::model::{Instance, RepoRef, Runner, RunnerOwner};
use flotilla_core::Timestamp;

use crate::ports::*;

#[derive(Default)]
pub struct StubAws {
    /// Parameters by name.
    pub parameters: Mutex<BTreeMap<String, String>>,
    /// One line per call: `send_message <body>`, `put_object <bucket>/<key>`, ...
    pub calls: Mutex<Vec<String>>,
    /// Record calls (off for benchmarks).
    pub record: bool,
    /// Fail `send_message`.
    pub fail_sqs: bool,
}

impl StubAws {
    pub fn recording() -> StubAws {
        StubAws {
            record: true,
            ..StubAws::default()
        }
    }
    fn note(&self, call: impl FnOnce() -> String) {
        if self.record {
            self.calls.lock().unwrap().push(call());
        }
    }
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl Aws for StubAws {
    async fn get_parameter(
        &self,
        name: &str,
        _decrypt: bool,
    ) -> Result<Option<Parameter>, AwsError> {
        Ok(self
            .parameters
            .lock()
            .unwrap()
            .get(name)
            .map(|v| Parameter {
                name: name.to_string(),
                value: v.clone(),
                last_modified: Timestamp::from_millis(0),
            }))
    }
    async fn get_parameters(&self, names: &[String]) -> Result<Vec<Parameter>, AwsError> {
        let p = self.parameters.lock().unwrap();
        Ok(names
            .iter()
            .filter_map(|n| {
                p.get(n).map(|v| Parameter {
                    name: n.clone(),
                    value: v.clone(),
                    last_modified: Timestamp::from_millis(0),
                })
            })
            .collect())
    }
    async fn parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, AwsError> {
        let p = self.parameters.lock().unwrap();
        Ok(p.iter()
            .filter(|(n, _)| n.starts_with(path))
            .map(|(n, v)| Parameter {
                name: n.clone(),
                value: v.clone(),
                last_modified: Timestamp::from_millis(0),
            })
            .collect())
    }
    async fn put_parameter(
        &self,
        name: &str,
        value: &str,
        _kind: ParameterKind<'_>,
        overwrite: bool,
    ) -> Result<PutResult, AwsError> {
        self.note(|| format!("put_parameter {name}"));
        let mut p = self.parameters.lock().unwrap();
        if !overwrite && p.contains_key(name) {
            return Ok(PutResult::AlreadyExists);
        }
        p.insert(name.to_string(), value.to_string());
        Ok(PutResult::Written)
    }
    async fn put_tagged_parameter(
        &self,
        name: &str,
        value: &str,
        _kind: ParameterKind<'_>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.note(|| {
            let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("put_parameter {name} tags {}", tags.join(","))
        });
        self.parameters
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
        Ok(())
    }
    async fn delete_parameter(&self, name: &str) -> Result<(), AwsError> {
        self.note(|| format!("delete_parameter {name}"));
        self.parameters.lock().unwrap().remove(name);
        Ok(())
    }
    async fn send_message(&self, message: QueueMessage<'_>) -> Result<(), AwsError> {
        self.note(|| match message.fifo {
            Some(f) => format!(
                "send_message {} fifo={}/{}",
                message.job.job_id, f.deduplication_id, f.group_id
            ),
            None => format!("send_message {}", message.job.job_id),
        });
        if self.fail_sqs {
            return Err(AwsError::new(
                Some("ServiceUnavailable"),
                "stubbed SQS failure",
            ));
        }
        Ok(())
    }
    async fn change_visibility(&self, _: &str, _: &str, seconds: u32) -> Result<(), AwsError> {
        self.note(|| format!("change_visibility {seconds}"));
        Ok(())
    }
    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        _body: Vec<u8>,
        _metadata: BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.note(|| format!("put_object {bucket}/{key}"));
        Ok(())
    }
    async fn head_object(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        Ok(None)
    }
    async fn describe_instances(
        &self,
        _: &str,
        _: Option<&[String]>,
    ) -> Result<Vec<Instance>, AwsError> {
        Ok(Vec::new())
    }
    async fn create_fleet(
        &self,
        r: &LaunchRequest,
        _: &LaunchTarget,
    ) -> Result<FleetResult, AwsError> {
        self.note(|| format!("create_fleet {}", r.client_token));
        Ok(FleetResult {
            instance_ids: (0..r.count).map(|i| format!("i-stub{i}")).collect(),
            error_codes: Vec::new(),
        })
    }
    async fn tag_instance(&self, id: &str, _: &BTreeMap<String, String>) -> Result<(), AwsError> {
        self.note(|| format!("tag_instance {id}"));
        Ok(())
    }
    async fn untag_instance(&self, id: &str, _: &[String]) -> Result<(), AwsError> {
        self.note(|| format!("untag_instance {id}"));
        Ok(())
    }
    async fn terminate_instances(&self, ids: &[String]) -> Result<(), AwsError> {
        self.note(|| format!("terminate_instances {}", ids.join(",")));
        Ok(())
    }
}

/// A GitHub that knows nothing: jobs are not found, lists are empty.
#[derive(Default)]
pub struct StubGitHub;

impl GitHub for StubGitHub {
    async fn get_job(
        &self,
        _: &RepoRef,
        _: u64,
        _: Option<u64>,
    ) -> Result<Option<JobInfo>, GitHubError> {
        Ok(None)
    }
    async fn list_runners(&self, _: &RunnerOwner) -> Result<Vec<Runner>, GitHubError> {
        Ok(Vec::new())
    }
    async fn delete_runner(&self, _: &RunnerOwner, _: u64) -> Result<(), GitHubError> {
        Ok(())
    }
    async fn jit_config(
        &self,
        _: &RunnerOwner,
        _: Option<u64>,
        _: &str,
        _: &[String],
        _: &str,
    ) -> Result<RunnerCredential, GitHubError> {
        Err(GitHubError::new(Some(503), "stub"))
    }
    async fn registration_token(
        &self,
        _: &RunnerOwner,
        _: Option<u64>,
    ) -> Result<RunnerCredential, GitHubError> {
        Err(GitHubError::new(Some(503), "stub"))
    }
    async fn rerun_job(&self, _: &RepoRef, _: u64, _: Option<u64>) -> Result<(), GitHubError> {
        Ok(())
    }
}
