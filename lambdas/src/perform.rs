//! Performing the policy's commands with AWS and GitHub, and reporting outcomes. No decision is
//! taken here: every branch maps an I/O result to the [`Outcome`] the core defined for it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use flotilla_core::command::{LaunchRequest, RegistrationMode, RunnerProvision};
use flotilla_core::model::JobRef;
use flotilla_core::outcome::{InterruptedJob, JobLookup};
use flotilla_core::{naming, Command, Config, Outcome, Timestamp};

use crate::context::{Context, TOKEN_INSTANCE_ARN_TAG};
use crate::metrics::{self, Unit};
use crate::ports::{Aws, GitHub, LaunchTarget, ParameterKind, PutResult, QueueMessage};
use crate::shell::{kind, Perform};

/// What one invocation performed that its handler answers with.
#[derive(Debug, Default)]
pub struct Effects {
    /// The last `Respond`.
    pub response: Option<(u16, String)>,
    /// Messages to leave on the queue (batch item failures).
    pub retried: Vec<String>,
    pub discarded: Vec<String>,
    pub launched: Vec<String>,
    pub terminated: Vec<String>,
}

/// Per-invocation inputs the commands need besides the context.
#[derive(Default)]
pub struct Inputs<'a> {
    /// The webhook delivery's body (for the archive) and id.
    pub body: Option<&'a [u8]>,
    pub delivery_id: Option<&'a str>,
    /// SQS receipt handles by message id (scale-up).
    pub receipts: HashMap<String, String>,
}

pub struct Invocation<'a, A, G> {
    pub ctx: &'a Context<A, G>,
    pub config: &'a Config,
    pub now: Timestamp,
    pub inputs: Inputs<'a>,
    pub effects: Mutex<Effects>,
}

impl<'a, A: Aws, G: GitHub> Invocation<'a, A, G> {
    pub fn new(
        ctx: &'a Context<A, G>,
        config: &'a Config,
        now: Timestamp,
        inputs: Inputs<'a>,
    ) -> Self {
        Invocation {
            ctx,
            config,
            now,
            inputs,
            effects: Mutex::new(Effects::default()),
        }
    }

    pub fn into_effects(self) -> Effects {
        self.effects.into_inner().unwrap()
    }

    fn metric(&self, name: &str, unit: Unit, value: f64, dims: &[(&str, &str)]) {
        self.ctx
            .metrics
            .emit(name, unit, value, dims, self.now.millis());
    }

    async fn launch(&self, request: &LaunchRequest) -> Outcome {
        if let Some(claim) = &request.claim {
            let value = serde_json::json!({
                "client_token": request.client_token,
                "claimed_at": self.now.to_rfc3339(),
            })
            .to_string();
            match self
                .ctx
                .aws
                .put_parameter(
                    &claim.parameter,
                    &value,
                    ParameterKind::String,
                    claim.overwrite,
                )
                .await
            {
                Ok(PutResult::Written) => {}
                Ok(PutResult::AlreadyExists) => {
                    return Outcome::ClaimHeld {
                        request: Box::new(request.clone()),
                    }
                }
                Err(e) => {
                    tracing::warn!(claim = %claim.parameter, error = %e, "launch claim failed");
                    return self.launch_failed(request, vec![e.code_or_unknown()]);
                }
            }
        }
        let target = LaunchTarget {
            launch_template_name: self
                .ctx
                .settings
                .launch_template_name
                .clone()
                .unwrap_or_default(),
            subnet_ids: self.ctx.settings.subnet_ids.clone().unwrap_or_default(),
        };
        match self.ctx.aws.create_fleet(request, &target).await {
            Ok(result) if !result.instance_ids.is_empty() => {
                for code in &result.error_codes {
                    self.metric(
                        metrics::LAUNCH_ERRORS,
                        Unit::Count,
                        1.0,
                        &[("ErrorCode", code)],
                    );
                }
                self.metric(
                    metrics::RUNNERS_LAUNCHED,
                    Unit::Count,
                    result.instance_ids.len() as f64,
                    &[("CapacityType", request.capacity_type.as_str())],
                );
                tracing::info!(
                    instance_ids = ?result.instance_ids,
                    capacity_type = request.capacity_type.as_str(),
                    client_token = %request.client_token,
                    "launched"
                );
                self.effects
                    .lock()
                    .unwrap()
                    .launched
                    .extend(result.instance_ids.iter().cloned());
                Outcome::Launched {
                    request: Box::new(request.clone()),
                    instance_ids: result.instance_ids,
                }
            }
            Ok(result) => self.launch_failed(request, result.error_codes),
            Err(e) => {
                tracing::warn!(error = %e, client_token = %request.client_token, "CreateFleet failed");
                self.launch_failed(request, vec![e.code_or_unknown()])
            }
        }
    }

    fn launch_failed(&self, request: &LaunchRequest, error_codes: Vec<String>) -> Outcome {
        for code in &error_codes {
            self.metric(
                metrics::LAUNCH_ERRORS,
                Unit::Count,
                1.0,
                &[("ErrorCode", code)],
            );
        }
        tracing::warn!(
            error_codes = ?error_codes,
            option = request.option,
            capacity_type = request.capacity_type.as_str(),
            "launch failed"
        );
        Outcome::LaunchFailed {
            request: Box::new(request.clone()),
            error_codes,
        }
    }

    async fn provision(&self, p: &RunnerProvision) -> Option<Outcome> {
        let gh = &self.ctx.github;
        let credential = match p.mode {
            RegistrationMode::JitConfig => {
                gh.jit_config(
                    &p.owner,
                    p.installation_id,
                    &p.runner_name,
                    &p.labels,
                    &p.runner_group,
                )
                .await
            }
            RegistrationMode::RegistrationToken => {
                gh.registration_token(&p.owner, p.installation_id).await
            }
        };
        let failed = |reason: String| {
            tracing::warn!(instance_id = %p.instance_id, reason = %reason, "provisioning failed");
            Some(Outcome::ProvisionFailed {
                provision: Box::new(p.clone()),
                reason,
            })
        };
        let credential = match credential {
            Ok(c) => c,
            Err(e) => return failed(e.to_string()),
        };
        let mut tags = BTreeMap::new();
        match self.ctx.function_arn() {
            Some(arn) => {
                tags.insert(
                    TOKEN_INSTANCE_ARN_TAG.to_string(),
                    arn.instance_arn(&p.instance_id),
                );
            }
            None => tracing::error!(
                instance_id = %p.instance_id,
                "the function's account is unknown: the token is stored without its instance-ARN tag, which the instance needs to read it"
            ),
        }
        match self
            .ctx
            .aws
            .put_tagged_parameter(
                &p.token_parameter,
                &credential.0,
                self.ctx.token_kind(),
                &tags,
            )
            .await
        {
            Ok(()) => {
                tracing::info!(
                    instance_id = %p.instance_id,
                    parameter = %p.token_parameter,
                    mode = ?p.mode,
                    "runner credential stored"
                );
                None
            }
            Err(e) => failed(format!("storing the runner credential: {e}")),
        }
    }

    async fn interrupted_jobs(
        &self,
        repo: &flotilla_core::model::RepoRef,
        run_id: u64,
        installation_id: Option<u64>,
    ) -> Option<Outcome> {
        let path = naming::interrupted_jobs_path(&self.config.prefix, run_id);
        let params = match self.ctx.aws.parameters_by_path(&path).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(run_id, error = %e, "reading interrupted jobs failed");
                return None;
            }
        };
        let mut jobs = Vec::new();
        for p in params {
            let Some(job_id) = p
                .name
                .rsplit('/')
                .next()
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let conclusion = match self.ctx.github.get_job(repo, job_id, installation_id).await {
                Ok(Some(j)) => j.conclusion,
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(job_id, error = %e, "reading an interrupted job failed");
                    None
                }
            };
            jobs.push(InterruptedJob {
                job_id,
                parameter: p.name,
                conclusion,
            });
        }
        Some(Outcome::InterruptedJobsFound {
            repo: repo.clone(),
            run_id,
            installation_id,
            jobs,
        })
    }

    fn archive_key(&self, job_id: u64, action: &str) -> String {
        let date = self.now.to_rfc3339();
        let day = date.get(..10).unwrap_or("unknown").replace('-', "/");
        let delivery = self.inputs.delivery_id.unwrap_or("none");
        format!(
            "{}/workflow_job/{day}/{}-{job_id}-{action}-{delivery}.jsonl",
            self.config.prefix,
            self.now.millis()
        )
    }
}

/// One JSONL line: `{"received_at": ..., "payload": <body>}` (what `flotilla replay` reads).
pub fn archive_line(body: &[u8], received_at: Timestamp) -> Vec<u8> {
    let mut line = Vec::with_capacity(body.len() + 64);
    line.extend_from_slice(b"{\"received_at\":\"");
    line.extend_from_slice(received_at.to_rfc3339().as_bytes());
    line.extend_from_slice(b"\",\"payload\":");
    if body.contains(&b'\n') {
        // Pretty-printed (GitHub sends compact JSON; a hand-made delivery may not): the same JSON
        // on one line. What a `serde_json::Value` would refuse is archived as `null`.
        // Checked and compacted in one pass when the core's reader vouches for the body.
        if !flotilla_core::webhook::append_compact(body, &mut line) {
            match flotilla_core::webhook::check_json(body) {
                Ok(()) => compact_json(body, &mut line),
                Err(_) => line.extend_from_slice(b"null"),
            }
        }
    } else {
        line.extend_from_slice(body);
    }
    line.extend_from_slice(b"}\n");
    line
}

/// Appends valid JSON `body` without the whitespace between its tokens: strings (where a raw
/// newline cannot occur) are copied as they are, so the value is unchanged, keys keep their order
/// and nothing is re-encoded.
fn compact_json(body: &[u8], out: &mut Vec<u8>) {
    let is_space = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t');
    let mut i = 0;
    while i < body.len() {
        let start = i;
        match body[i] {
            b if is_space(b) => {
                i += 1;
                continue;
            }
            b'"' => {
                i += 1;
                // To the closing quote, past escapes (`\"` included).
                loop {
                    match memchr::memchr2(b'"', b'\\', &body[i..]) {
                        Some(k) if body[i + k] == b'"' => {
                            i += k + 1;
                            break;
                        }
                        Some(k) => i = (i + k + 2).min(body.len()),
                        None => {
                            i = body.len();
                            break;
                        }
                    }
                }
            }
            _ => {
                while i < body.len() && !is_space(body[i]) && body[i] != b'"' {
                    i += 1;
                }
            }
        }
        out.extend_from_slice(&body[start..i]);
    }
}

impl<A: Aws, G: GitHub> Perform for Invocation<'_, A, G> {
    async fn perform(&self, command: &Command) -> Option<Outcome> {
        let aws = &self.ctx.aws;
        let gh = &self.ctx.github;
        tracing::debug!(command = kind(command), "performing");
        match command {
            Command::Respond { status, message } => {
                self.effects.lock().unwrap().response = Some((*status, message.clone()));
                None
            }
            Command::Enqueue { job, fifo } => {
                let queue_url = self
                    .ctx
                    .settings
                    .build_queue_url
                    .as_deref()
                    .unwrap_or_default();
                match aws
                    .send_message(QueueMessage {
                        queue_url,
                        job,
                        fifo: fifo.as_ref(),
                    })
                    .await
                {
                    Ok(()) => {
                        self.metric(metrics::JOBS_QUEUED, Unit::Count, 1.0, &[]);
                        tracing::info!(job_id = job.job_id, run_id = job.run_id, repo = %job.repo.full_name(), "job enqueued");
                    }
                    Err(e) => {
                        tracing::error!(job_id = job.job_id, error = %e, "enqueue failed");
                        // The policy answers it (503: GitHub does not redeliver).
                        return Some(Outcome::EnqueueFailed {
                            job_id: job.job_id,
                            reason: e.to_string(),
                        });
                    }
                }
                None
            }
            Command::LookupJob {
                repo,
                job_id,
                installation_id,
            } => {
                let result = match gh.get_job(repo, *job_id, *installation_id).await {
                    Ok(Some(j)) => JobLookup::Found {
                        run_id: j.run_id,
                        run_attempt: j.run_attempt,
                        labels: j.labels,
                        status: j.status,
                    },
                    Ok(None) => JobLookup::NotFound,
                    Err(e) => JobLookup::Failed {
                        reason: e.to_string(),
                    },
                };
                Some(Outcome::JobLookedUp {
                    repo: repo.clone(),
                    job_id: *job_id,
                    installation_id: *installation_id,
                    result,
                })
            }
            Command::ArchiveJobEvent { job_id, action } => {
                let bucket = self
                    .ctx
                    .settings
                    .job_archive_bucket
                    .as_deref()
                    .unwrap_or_default();
                if let (false, Some(body)) = (bucket.is_empty(), self.inputs.body) {
                    let key = self.archive_key(*job_id, action);
                    if let Err(e) = aws
                        .put_object(bucket, &key, archive_line(body, self.now), BTreeMap::new())
                        .await
                    {
                        tracing::warn!(job_id, error = %e, "archiving the job event failed");
                    }
                }
                None
            }
            Command::LookupInterruptedJobs {
                repo,
                run_id,
                installation_id,
            } => self.interrupted_jobs(repo, *run_id, *installation_id).await,
            Command::RecordInterruptedJob { parameter, job } => {
                let value = serde_json::to_string::<JobRef>(job).unwrap_or_default();
                match aws
                    .put_parameter(parameter, &value, ParameterKind::String, true)
                    .await
                {
                    Ok(_) => tracing::info!(
                        job_id = job.job_id,
                        run_id = job.run_id,
                        "interrupted job recorded"
                    ),
                    Err(e) => {
                        tracing::error!(job_id = job.job_id, error = %e, "recording the interrupted job failed")
                    }
                }
                None
            }
            Command::RerunJob {
                repo,
                job_id,
                installation_id,
            } => {
                match gh.rerun_job(repo, *job_id, *installation_id).await {
                    Ok(()) => {
                        tracing::info!(job_id, repo = %repo.full_name(), "interrupted job re-run")
                    }
                    Err(e) => tracing::error!(job_id, error = %e, "re-running the job failed"),
                }
                None
            }
            Command::Launch(request) => Some(self.launch(request).await),
            Command::ProvisionRunner(p) => self.provision(p).await,
            Command::RetryMessage {
                message_id,
                delay_seconds,
                reason,
            } => {
                let receipt = self.inputs.receipts.get(message_id);
                let queue_url = self.ctx.settings.build_queue_url.as_deref();
                if let (Some(receipt), Some(queue_url)) = (receipt, queue_url) {
                    if let Err(e) = aws
                        .change_visibility(queue_url, receipt, *delay_seconds)
                        .await
                    {
                        tracing::warn!(message_id, error = %e, "changing the message's visibility failed");
                    }
                }
                tracing::info!(message_id, delay_seconds, reason = %reason, "message left for a later delivery");
                self.effects
                    .lock()
                    .unwrap()
                    .retried
                    .push(message_id.clone());
                None
            }
            Command::DiscardMessage { message_id, reason } => {
                tracing::info!(message_id, reason = %reason, "message done");
                self.effects
                    .lock()
                    .unwrap()
                    .discarded
                    .push(message_id.clone());
                None
            }
            Command::ReleaseClaim { parameter }
            | Command::DeleteParameter {
                name: parameter, ..
            } => {
                if let Err(e) = aws.delete_parameter(parameter).await {
                    tracing::warn!(parameter = %parameter, error = %e, "deleting the parameter failed");
                } else {
                    tracing::info!(parameter = %parameter, command = kind(command), "parameter deleted");
                }
                None
            }
            Command::TagInstance { instance_id, tags } => {
                if let Err(e) = aws.tag_instance(instance_id, tags).await {
                    tracing::warn!(instance_id = %instance_id, error = %e, "tagging failed");
                }
                None
            }
            Command::UntagInstance { instance_id, keys } => {
                if let Err(e) = aws.untag_instance(instance_id, keys).await {
                    tracing::warn!(instance_id = %instance_id, error = %e, "untagging failed");
                }
                None
            }
            Command::DeregisterRunner {
                runner_id,
                owner,
                instance_id,
                reason,
            } => match gh.delete_runner(owner, *runner_id).await {
                Ok(()) => {
                    tracing::info!(runner_id, instance_id = ?instance_id, reason = ?reason, "runner deregistered");
                    Some(Outcome::Deregistered {
                        runner_id: *runner_id,
                        owner: owner.clone(),
                        instance_id: instance_id.clone(),
                        reason: *reason,
                    })
                }
                Err(e) => {
                    let busy = e.status == Some(422);
                    tracing::info!(runner_id, busy, error = %e, "runner not deregistered");
                    Some(Outcome::DeregisterFailed {
                        runner_id: *runner_id,
                        owner: owner.clone(),
                        instance_id: instance_id.clone(),
                        busy,
                        reason: e.to_string(),
                    })
                }
            },
            Command::TerminateInstances {
                instance_ids,
                reason,
            } => {
                match aws.terminate_instances(instance_ids).await {
                    Ok(()) => {
                        tracing::info!(instance_ids = ?instance_ids, reason = ?reason, "terminated");
                        self.metric(
                            metrics::RUNNERS_REMOVED,
                            Unit::Count,
                            instance_ids.len() as f64,
                            &[("Reason", &format!("{reason:?}"))],
                        );
                        self.effects
                            .lock()
                            .unwrap()
                            .terminated
                            .extend(instance_ids.iter().cloned());
                    }
                    Err(e) => {
                        tracing::error!(instance_ids = ?instance_ids, error = %e, "terminating failed")
                    }
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_lines_are_one_line_envelopes() {
        let t = Timestamp::from_secs(1_700_000_000);
        let line = archive_line(b"{\"a\":1}", t);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "{\"received_at\":\"2023-11-14T22:13:20Z\",\"payload\":{\"a\":1}}\n"
        );
        let pretty = archive_line(b"{\n  \"a\": 1\n}", t);
        let text = String::from_utf8(pretty).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["payload"]["a"], 1);
        let bad = archive_line(b"{\n  \"a\": \"\xff\"\n}", t);
        assert!(String::from_utf8(bad)
            .unwrap()
            .contains("\"payload\":null}"));
    }

    #[test]
    fn compacting_keeps_the_value_strings_and_key_order() {
        let body = "{\n  \"z\": \"a \\\" b\\\\\",\n\t\"a\" : [ 1 , 2.5e3, {\"k\": \" x\\n \"} ],\r\n \"\u{e9}\": null }";
        let mut out = Vec::new();
        compact_json(body.as_bytes(), &mut out);
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "{\"z\":\"a \\\" b\\\\\",\"a\":[1,2.5e3,{\"k\":\" x\\n \"}],\"\u{e9}\":null}"
        );
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/webhooks");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("SKIPPED: {} is absent", dir.display());
            return;
        };
        for e in entries {
            let body = std::fs::read(e.unwrap().path()).unwrap();
            let mut out = Vec::new();
            compact_json(&body, &mut out);
            assert!(!out.contains(&b'\n'));
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
                serde_json::from_slice::<serde_json::Value>(&body).unwrap()
            );
        }
    }

    /// The one-pass line is the two-pass one (check with `check_json`, then `compact_json`),
    /// byte for byte: every real payload, its cuts and changed bytes, and some hand-made bodies.
    #[test]
    fn one_pass_archive_lines_are_the_two_pass_ones() {
        let t = Timestamp::from_secs(1_700_000_000);
        let two_pass = |body: &[u8]| {
            let mut line = Vec::new();
            line.extend_from_slice(b"{\"received_at\":\"");
            line.extend_from_slice(t.to_rfc3339().as_bytes());
            line.extend_from_slice(b"\",\"payload\":");
            if body.contains(&b'\n') {
                match flotilla_core::webhook::check_json(body) {
                    Ok(()) => compact_json(body, &mut line),
                    Err(_) => line.extend_from_slice(b"null"),
                }
            } else {
                line.extend_from_slice(body);
            }
            line.extend_from_slice(b"}\n");
            line
        };
        let mut bodies: Vec<Vec<u8>> = [
            &b"{\n  \"z\": \"a \\\" b\\\\\",\n\t\"a\" : [ 1 , 2.5e3, {\"k\": \" x\\n \"} ],\r\n \"\xc3\xa9\": null }"[..],
            b"\n 1 \n",
            b"[\n]",
            b"{\n\"a\":\"\\ud800\"}",
            b"{\n\"a\":1e400}",
            b"{\n\"\\u0041\"  :  \"        \"        }",
            b"\"\n\"",
        ]
        .iter()
        .map(|b| b.to_vec())
        .collect();
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/webhooks");
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries {
                let body = std::fs::read(e.unwrap().path()).unwrap();
                for cut in (0..body.len()).step_by(61) {
                    bodies.push(body[..cut].to_vec());
                    let mut changed = body.clone();
                    changed[cut] = b"\n \t\"\\{}[],:0x\xff"[cut % 14];
                    bodies.push(changed);
                }
                bodies.push(body);
            }
        }
        for body in &bodies {
            assert_eq!(
                String::from_utf8_lossy(&archive_line(body, t)),
                String::from_utf8_lossy(&two_pass(body)),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
