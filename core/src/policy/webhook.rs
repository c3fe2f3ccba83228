//! The webhook: verify, parse, route, answer — within GitHub's 10 s, which does not redeliver.
//!
//! | request | answer |
//! |---|---|
//! | form-encoded body | 415 (configure the App's webhook content type as JSON) |
//! | body over [`MAX_BODY_BYTES`] | 413 |
//! | missing or wrong `X-Hub-Signature-256` | 401 |
//! | no `X-GitHub-Event`, or a body that is not the event's JSON | 400 |
//! | `ping` | 200 |
//! | `workflow_job` `queued` this pool serves | 201, enqueued |
//! | `workflow_job` `in_progress` on one of our runners | 200, instance tagged with the job |
//! | other `workflow_job` actions | 200, archived |
//! | `check_run` `created`+`queued` by GitHub Actions | look up the job's labels, then as `queued` |
//! | `workflow_run` `completed` | 200, interrupted jobs of the run re-run |
//! | anything else, or a job not for this pool | 202, ignored |

use crate::command::{Command, FifoKeys};
use crate::config::Config;
use crate::model::{OwnerType, QueuedJob, RepoRef};
use crate::naming;
use crate::observation::WebhookDelivery;
use crate::outcome::JobLookup;
use crate::tags;
use crate::webhook::{parse_event, verify_signature, WebhookEvent, MAX_BODY_BYTES};

fn respond(status: u16, message: impl Into<String>) -> Command {
    Command::Respond {
        status,
        message: message.into(),
    }
}

pub fn decide(config: &Config, delivery: &WebhookDelivery<'_>) -> Vec<Command> {
    if let Some(ct) = &delivery.content_type {
        if ct
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
        {
            return vec![respond(
                415,
                "form-encoded deliveries are not supported: set the GitHub App's webhook content type to application/json",
            )];
        }
    }
    if delivery.body.len() > MAX_BODY_BYTES {
        return vec![respond(
            413,
            format!(
                "body of {} bytes is over the {MAX_BODY_BYTES}-byte limit",
                delivery.body.len()
            ),
        )];
    }
    if delivery.secret.0.is_empty() {
        return vec![respond(500, "webhook secret is not configured")];
    }
    let Some(signature) = delivery.signature_256.as_deref() else {
        return vec![respond(401, "missing X-Hub-Signature-256")];
    };
    if !verify_signature(delivery.secret.0.as_bytes(), &delivery.body, signature) {
        return vec![respond(401, "signature does not match")];
    }
    let Some(event) = delivery.event.as_deref().filter(|e| !e.is_empty()) else {
        return vec![respond(400, "missing X-GitHub-Event")];
    };
    match parse_event(event, &delivery.body) {
        Ok(event) => decide_event(config, &event),
        Err(reason) => vec![respond(400, reason)],
    }
}

/// The decision for a verified, parsed event. The simulator enters here with events it builds
/// itself (no bytes to sign), so both worlds share everything after the signature check.
pub fn decide_event(config: &Config, event: &WebhookEvent) -> Vec<Command> {
    match event {
        WebhookEvent::Ping => vec![respond(200, "pong")],
        WebhookEvent::Other { name } => vec![respond(202, format!("{name} events are ignored"))],
        WebhookEvent::WorkflowJob(job) => {
            let mut commands = Vec::with_capacity(3);
            commands.push(Command::ArchiveJobEvent {
                job_id: job.job_id,
                action: job.action.clone(),
            });
            match job.action.as_str() {
                "queued" => commands.extend(route(config, job.queued_job())),
                "in_progress" => {
                    let instance = job
                        .runner_name
                        .as_deref()
                        .and_then(|n| naming::instance_of_runner(config, n));
                    match instance {
                        Some(id) => {
                            commands.push(Command::TagInstance {
                                instance_id: id.to_string(),
                                tags: tags::one(
                                    tags::CURRENT_JOB,
                                    tags::job_ref_value(&job.job_ref()),
                                ),
                            });
                            let mut message = String::with_capacity(48);
                            message.push_str("job ");
                            naming::push_decimal(&mut message, job.job_id);
                            message.push_str(" started on ");
                            message.push_str(id);
                            commands.push(respond(200, message));
                        }
                        None => {
                            commands.push(respond(200, "job started on a runner of another pool"))
                        }
                    }
                }
                other => commands.push(respond(200, format!("workflow_job {other} recorded"))),
            }
            commands
        }
        WebhookEvent::CheckRun(run) => {
            if run.action == "created"
                && run.status == "queued"
                && run.app_slug.as_deref() == Some("github-actions")
            {
                vec![Command::LookupJob {
                    repo: run.repo.clone(),
                    job_id: run.check_run_id,
                    installation_id: run.installation_id,
                }]
            } else {
                vec![respond(
                    202,
                    "only check runs created and queued by GitHub Actions start work",
                )]
            }
        }
        WebhookEvent::WorkflowRun(run) => {
            if run.action == "completed" {
                vec![
                    Command::LookupInterruptedJobs {
                        repo: run.repo.clone(),
                        run_id: run.run_id,
                        installation_id: run.installation_id,
                    },
                    respond(200, "checked for interrupted jobs"),
                ]
            } else {
                vec![respond(
                    202,
                    format!("workflow_run {} is ignored", run.action),
                )]
            }
        }
    }
}

/// Accept a queued job for this pool, or say why not.
pub fn route(config: &Config, job: QueuedJob) -> Vec<Command> {
    if !config.repository_white_list.is_empty() {
        let full = job.repo.full_name();
        if !config
            .repository_white_list
            .iter()
            .any(|r| r.eq_ignore_ascii_case(&full))
        {
            return vec![respond(
                202,
                format!("repository {full} is not in repository_white_list"),
            )];
        }
    }
    if config.enable_organization_runners && job.repo.owner_type == OwnerType::User {
        return vec![respond(
            202,
            format!(
                "{} belongs to a user; organization runners cannot serve it",
                job.repo.full_name()
            ),
        )];
    }
    if !config.accepts_job_labels(&job.labels) {
        return vec![respond(
            202,
            format!("labels {:?} are not served by this pool", job.labels),
        )];
    }
    let fifo = config.fifo_build_queue.then(|| FifoKeys {
        deduplication_id: format!("{}-{}", job.job_id, job.run_attempt),
        group_id: job.job_id.to_string(),
    });
    let mut message = String::with_capacity(48);
    message.push_str("job ");
    naming::push_decimal(&mut message, job.job_id);
    message.push_str(" queued for scale-up");
    vec![Command::Enqueue { job, fifo }, respond(201, message)]
}

/// The labels of a check run's job arrived.
pub fn on_job_looked_up(
    config: &Config,
    repo: &RepoRef,
    job_id: u64,
    installation_id: Option<u64>,
    result: &JobLookup,
) -> Vec<Command> {
    match result {
        JobLookup::Found {
            run_id,
            run_attempt,
            labels,
            status,
        } => {
            if status != "queued" {
                return vec![respond(
                    202,
                    format!("job {job_id} is {status}, not queued"),
                )];
            }
            route(
                config,
                QueuedJob {
                    job_id,
                    run_id: *run_id,
                    run_attempt: *run_attempt,
                    repo: repo.clone(),
                    installation_id,
                    labels: labels.clone(),
                    queued_at: None,
                },
            )
        }
        JobLookup::NotFound => vec![respond(202, format!("job {job_id} not found at GitHub"))],
        JobLookup::Failed { reason } => vec![respond(
            502,
            format!("could not read job {job_id}'s labels from GitHub: {reason}"),
        )],
    }
}

/// The build queue refused the job. The answer replaces the 201: GitHub shows the failed
/// delivery, and someone can redeliver it from the App's settings.
pub fn on_enqueue_failed(job_id: u64, reason: &str) -> Vec<Command> {
    vec![respond(
        503,
        format!("could not queue job {job_id} for scale-up: {reason}; redeliver this webhook"),
    )]
}
