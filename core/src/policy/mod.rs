//! `decide` and `on_outcome`: the whole policy's entry points.

pub mod interruption;
pub mod pool;
pub mod scale_down;
pub mod scale_up;
pub mod webhook;

use crate::command::Command;
use crate::config::Config;
use crate::observation::Observation;
use crate::outcome::Outcome;
use crate::time::Timestamp;

/// What to do about this observation. Pure: the same inputs give the same commands.
pub fn decide(config: &Config, observation: &Observation<'_>, now: Timestamp) -> Vec<Command> {
    match observation {
        Observation::Webhook(delivery) => webhook::decide(config, delivery),
        Observation::ScaleUp(batch) => scale_up::decide(config, batch, now),
        Observation::ScaleDown { fleet } => scale_down::decide(config, fleet, now),
        Observation::Pool { size, fleet } => pool::decide(config, *size, fleet, now),
        Observation::Interruption(notice) => interruption::decide(config, notice, now),
    }
}

/// What to do next, now that a command's I/O has answered. `observation` is the one the command
/// came from.
pub fn on_outcome(
    config: &Config,
    observation: &Observation<'_>,
    outcome: &Outcome,
    now: Timestamp,
) -> Vec<Command> {
    match outcome {
        Outcome::EnqueueFailed { job_id, reason } => webhook::on_enqueue_failed(*job_id, reason),
        Outcome::JobLookedUp {
            repo,
            job_id,
            installation_id,
            result,
        } => webhook::on_job_looked_up(config, repo, *job_id, *installation_id, result),
        Outcome::ClaimHeld { request } => scale_up::on_claim_held(request),
        Outcome::Launched {
            request,
            instance_ids,
        } => {
            if instance_ids.is_empty() {
                scale_up::on_launch_failed(config, request, &["NoInstancesLaunched".to_string()])
            } else {
                scale_up::on_launched(config, request, instance_ids)
            }
        }
        Outcome::LaunchFailed {
            request,
            error_codes,
        } => scale_up::on_launch_failed(config, request, error_codes),
        Outcome::ProvisionFailed { provision, reason } => {
            scale_up::on_provision_failed(config, provision, reason)
        }
        Outcome::Deregistered {
            instance_id,
            reason,
            ..
        } => scale_down::on_deregistered(instance_id.as_ref(), *reason),
        Outcome::DeregisterFailed { busy, .. } => match observation {
            Observation::Interruption(notice) if *busy => {
                interruption::on_deregister_refused(notice, now)
            }
            // Busy (422): it took a job after we looked; it stays. Other errors: next cycle.
            _ => Vec::new(),
        },
        Outcome::InterruptedJobsFound {
            repo,
            installation_id,
            jobs,
            ..
        } => interruption::on_interrupted_jobs_found(repo, *installation_id, jobs),
    }
}
