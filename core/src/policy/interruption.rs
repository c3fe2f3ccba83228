//! Spot interruptions and the re-run of the jobs they kill.
//!
//! On the two-minute warning the instance is tagged, the job its busy runner last started (tagged
//! by the webhook on `workflow_job.in_progress`) is recorded in SSM — again at the reclaim, for a
//! job started in the last two minutes — and the runner is deregistered;
//! GitHub refuses while it is busy (422), so the instance is marked and scale-down deregisters
//! the offline runner once the instance is gone. When the job's run completes, the webhook reads
//! the records and re-runs each interrupted job that did not succeed — at most
//! [`MAX_RERUNS_PER_RUN`] per run (a re-run also re-runs the job's dependents).

use crate::command::{Command, RemovalReason};
use crate::config::Config;
use crate::model::RepoRef;
use crate::naming;
use crate::observation::{InterruptionKind, InterruptionNotice};
use crate::outcome::InterruptedJob;
use crate::tags;
use crate::time::Timestamp;

pub const MAX_RERUNS_PER_RUN: usize = 50;

pub fn decide(config: &Config, notice: &InterruptionNotice, now: Timestamp) -> Vec<Command> {
    let Some(instance) = &notice.instance else {
        // Not one of this pool's instances.
        return Vec::new();
    };
    let mut commands = Vec::new();
    if notice.kind == InterruptionKind::SpotWarning && instance.tags.interrupted_at.is_none() {
        commands.push(Command::TagInstance {
            instance_id: instance.id.clone(),
            tags: tags::one(tags::INTERRUPTED_AT, now.to_rfc3339()),
        });
    }
    // Recorded at the warning and again at the reclaim: a job that started in between (its
    // runner took one more job in the last two minutes) is caught by the second; the record's
    // name makes the two one.
    if let (Some(job), Some(runner)) = (&instance.tags.current_job, &notice.runner) {
        if runner.busy {
            commands.push(Command::RecordInterruptedJob {
                parameter: naming::interrupted_job_parameter(
                    &config.prefix,
                    job.run_id,
                    job.job_id,
                ),
                job: job.clone(),
            });
        }
    }
    if notice.kind == InterruptionKind::Terminating {
        commands.push(Command::DeleteParameter {
            name: naming::token_parameter(&config.prefix, &instance.id),
            reason: format!("instance {} is terminating", instance.id),
        });
    }
    if let Some(runner) = &notice.runner {
        commands.push(Command::DeregisterRunner {
            runner_id: runner.id,
            owner: runner.owner.clone(),
            instance_id: None,
            reason: RemovalReason::Interrupted,
        });
    }
    commands
}

/// GitHub refused to delete the busy runner: mark the instance; scale-down finishes the job.
pub fn on_deregister_refused(notice: &InterruptionNotice, now: Timestamp) -> Vec<Command> {
    match &notice.instance {
        Some(instance) if instance.tags.deregister_pending.is_none() => {
            vec![Command::TagInstance {
                instance_id: instance.id.clone(),
                tags: tags::one(tags::DEREGISTER_PENDING, now.to_rfc3339()),
            }]
        }
        _ => Vec::new(),
    }
}

/// The run completed: re-run what the interruption killed, forget every record.
pub fn on_interrupted_jobs_found(
    repo: &RepoRef,
    installation_id: Option<u64>,
    jobs: &[InterruptedJob],
) -> Vec<Command> {
    let mut commands = Vec::new();
    let mut reruns = 0;
    for job in jobs {
        let succeeded = job.conclusion.as_deref() == Some("success");
        if !succeeded && reruns < MAX_RERUNS_PER_RUN {
            reruns += 1;
            commands.push(Command::RerunJob {
                repo: repo.clone(),
                job_id: job.job_id,
                installation_id,
            });
        }
        commands.push(Command::DeleteParameter {
            name: job.parameter.clone(),
            reason: if succeeded {
                "interrupted job succeeded after all".into()
            } else {
                "interrupted job handled".into()
            },
        });
    }
    commands
}
