//! What the handlers need from the outside world, as two traits: [`Aws`] and [`GitHub`].
//!
//! Production implements them with aws-sdk-rust ([`crate::aws::AwsClients`]) and octocrab
//! ([`crate::github::GitHubClient`]); the tests point those same implementations at moto and the
//! fake GitHub on loopback, and the benchmark swaps in a do-nothing [`Aws`].

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use flotilla_core::command::{FifoKeys, LaunchRequest};
use flotilla_core::model::{Instance, QueuedJob, RepoRef, Runner, RunnerOwner};
use flotilla_core::Timestamp;

/// An AWS call that failed: the service's error code when it sent one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsError {
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(code: Option<&str>, message: impl Into<String>) -> AwsError {
        AwsError {
            code: code.map(str::to_string),
            message: message.into(),
        }
    }
    pub fn code_or_unknown(&self) -> String {
        self.code.clone().unwrap_or_else(|| "Unknown".into())
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(c) => write!(f, "{c}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for AwsError {}

/// An SSM parameter as read back.
#[derive(Clone, PartialEq, Eq)]
pub struct Parameter {
    pub name: String,
    pub value: String,
    pub last_modified: Timestamp,
}

impl fmt::Debug for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be tokens: never printed.
        f.debug_struct("Parameter")
            .field("name", &self.name)
            .field("last_modified", &self.last_modified)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParameterKind<'a> {
    String,
    /// SecureString under this KMS key (`None`: the account's `aws/ssm`).
    Secure {
        kms_key_id: Option<&'a str>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutResult {
    Written,
    /// `overwrite` was false and the parameter exists.
    AlreadyExists,
}

/// CreateFleet's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetResult {
    pub instance_ids: Vec<String>,
    /// `Errors[].ErrorCode`.
    pub error_codes: Vec<String>,
}

/// Where and how to launch, beyond what the policy's request says.
#[derive(Clone, Debug)]
pub struct LaunchTarget {
    pub launch_template_name: String,
    pub subnet_ids: Vec<String>,
}

/// A message for the build queue.
#[derive(Clone, Debug)]
pub struct QueueMessage<'a> {
    pub queue_url: &'a str,
    pub job: &'a QueuedJob,
    pub fifo: Option<&'a FifoKeys>,
}

pub trait Aws: Send + Sync {
    fn get_parameter(
        &self,
        name: &str,
        decrypt: bool,
    ) -> impl Future<Output = Result<Option<Parameter>, AwsError>> + Send;
    /// Up to any number of names (batched by ten); absent ones are left out.
    fn get_parameters(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<Parameter>, AwsError>> + Send;
    /// Every parameter under `path`, recursively, values not decrypted.
    fn parameters_by_path(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Vec<Parameter>, AwsError>> + Send;
    fn put_parameter(
        &self,
        name: &str,
        value: &str,
        kind: ParameterKind<'_>,
        overwrite: bool,
    ) -> impl Future<Output = Result<PutResult, AwsError>> + Send;
    /// Creates or overwrites a parameter carrying `tags` (runner credentials: IAM lets an
    /// instance read its token only by tag). PutParameter takes `Tags` only without overwrite,
    /// so an existing parameter is overwritten and then tagged (AddTagsToResource).
    fn put_tagged_parameter(
        &self,
        name: &str,
        value: &str,
        kind: ParameterKind<'_>,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Absent is fine.
    fn delete_parameter(&self, name: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn send_message(
        &self,
        message: QueueMessage<'_>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn change_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        seconds: u32,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        metadata: BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The object's user metadata, `None` when absent.
    fn head_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<BTreeMap<String, String>>, AwsError>> + Send;

    /// The pool's instances (tag `flotilla:prefix`), optionally only these ids, every state.
    fn describe_instances(
        &self,
        prefix: &str,
        ids: Option<&[String]>,
    ) -> impl Future<Output = Result<Vec<Instance>, AwsError>> + Send;
    fn create_fleet(
        &self,
        request: &LaunchRequest,
        target: &LaunchTarget,
    ) -> impl Future<Output = Result<FleetResult, AwsError>> + Send;
    fn tag_instance(
        &self,
        instance_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn untag_instance(
        &self,
        instance_id: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    fn terminate_instances(
        &self,
        instance_ids: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// A GitHub call that failed: the HTTP status when there was an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubError {
    pub status: Option<u16>,
    pub message: String,
}

impl GitHubError {
    pub fn new(status: Option<u16>, message: impl Into<String>) -> GitHubError {
        GitHubError {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for GitHubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "GitHub answered {s}: {}", self.message),
            None => write!(f, "GitHub unreachable: {}", self.message),
        }
    }
}

impl std::error::Error for GitHubError {}

/// A workflow job as GitHub shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobInfo {
    pub run_id: u64,
    pub run_attempt: u32,
    pub labels: Vec<String>,
    pub status: String,
    pub conclusion: Option<String>,
}

/// A release asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseAsset {
    pub name: String,
    pub download_url: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub tag_name: String,
    pub assets: Vec<ReleaseAsset>,
}

/// A runner's registration credential: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct RunnerCredential(pub String);

impl fmt::Debug for RunnerCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RunnerCredential(<redacted>)")
    }
}

pub trait GitHub: Send + Sync {
    /// `None`: 404.
    fn get_job(
        &self,
        repo: &RepoRef,
        job_id: u64,
        installation_id: Option<u64>,
    ) -> impl Future<Output = Result<Option<JobInfo>, GitHubError>> + Send;
    fn list_runners(
        &self,
        owner: &RunnerOwner,
    ) -> impl Future<Output = Result<Vec<Runner>, GitHubError>> + Send;
    /// 422 (status `Some(422)`) while the runner is busy.
    fn delete_runner(
        &self,
        owner: &RunnerOwner,
        runner_id: u64,
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;
    /// generate-jitconfig: the encoded JIT config.
    fn jit_config(
        &self,
        owner: &RunnerOwner,
        installation_id: Option<u64>,
        name: &str,
        labels: &[String],
        runner_group: &str,
    ) -> impl Future<Output = Result<RunnerCredential, GitHubError>> + Send;
    fn registration_token(
        &self,
        owner: &RunnerOwner,
        installation_id: Option<u64>,
    ) -> impl Future<Output = Result<RunnerCredential, GitHubError>> + Send;
    fn rerun_job(
        &self,
        repo: &RepoRef,
        job_id: u64,
        installation_id: Option<u64>,
    ) -> impl Future<Output = Result<(), GitHubError>> + Send;
    /// The last `x-ratelimit-remaining` GitHub sent, for the metric.
    fn rate_limit_remaining(&self) -> Option<u64> {
        None
    }
}
