//! Scale-up: a batch of queued jobs → launches, retries and discards.
//!
//! Per message, in order: a job GitHub already started needs nothing; a job this pool already
//! launched for (a duplicate delivery) needs nothing; an idle runner that GitHub can give the job
//! to gets a short while to take it; otherwise launch one instance, unless the pool is at
//! `runners_maximum_count` — then ephemeral jobs wait on the queue for a free slot and reusable
//! jobs are left to the busy runners.

use crate::command::{
    Claim, Command, LaunchPurpose, LaunchRequest, RegistrationMode, RunnerProvision,
};
use crate::config::{CapacityType, Config};
use crate::labels::runner_covers_job;
use crate::model::{Fleet, Instance, OwnerType, QueuedJob, RepoRef, Runner, RunnerOwner};
use crate::naming;
use crate::observation::{JobMessage, JobStatus, ScaleUpBatch};
use crate::tags;
use crate::time::{Timestamp, MINUTE};

/// A launch claim younger than this belongs to a delivery still launching.
pub const CLAIM_IN_FLIGHT_MS: i64 = 2 * MINUTE;
/// How long an idle runner gets to take a job before we launch anyway.
pub const IDLE_RUNNER_GRACE_SECONDS: u32 = 20;
/// Deliveries on which an idle runner is trusted to take the job; later ones launch.
pub const MAX_IDLE_RUNNER_DEFERRALS: u32 = 2;
/// Visibility delay for a job waiting for a free slot (ephemeral pools at the maximum).
pub const MAXIMUM_REACHED_RETRY_SECONDS: u32 = 30;
/// Visibility delay after EC2 throttled us.
pub const THROTTLED_RETRY_SECONDS: u32 = 30;
/// Visibility delay after a launch failed for lack of capacity or another error.
pub const LAUNCH_FAILED_RETRY_SECONDS: u32 = 60;

/// Error codes meaning "slow down", retried through the queue.
pub const THROTTLING_ERRORS: &[&str] =
    &["RequestLimitExceeded", "Throttling", "ThrottlingException"];

/// Whether the shell should ask GitHub for each job's status before deciding.
pub fn wants_job_status(config: &Config) -> bool {
    config.job_queued_check() || config.job_retry.enable
}

/// Where runners for this job register.
pub fn owner_for(config: &Config, repo_owner: &str, repo_full_name: &str) -> RunnerOwner {
    if config.enable_organization_runners {
        RunnerOwner::Org(repo_owner.to_string())
    } else {
        RunnerOwner::Repo(repo_full_name.to_string())
    }
}

/// [`owner_for`] of a repository, naming it in full only for repository runners.
pub fn owner_of_repo(config: &Config, repo: &RepoRef) -> RunnerOwner {
    if config.enable_organization_runners {
        RunnerOwner::Org(repo.owner.clone())
    } else {
        RunnerOwner::Repo(repo.full_name())
    }
}

fn job_owner(config: &Config, job: &QueuedJob) -> RunnerOwner {
    owner_of_repo(config, &job.repo)
}

pub fn decide(config: &Config, batch: &ScaleUpBatch<'_>, now: Timestamp) -> Vec<Command> {
    let fleet = &batch.fleet;
    // One pass over the fleet for the whole batch, not one per message: an org's fleet holds
    // thousands of instances and runners, and a busy queue delivers a batch every few seconds.
    let FleetIndex {
        mut live,
        launched_for,
        idle,
    } = FleetIndex::new(fleet, batch.other_live_instances, &batch.messages);
    let max = u64::from(config.runners_maximum_count);
    // Idle runners GitHub could hand a queued job to; each is counted for one job only.
    let mut idle_taken = vec![false; idle.len()];
    let mut commands = Vec::with_capacity(batch.messages.len());

    for (m, msg) in batch.messages.iter().enumerate() {
        let job = &msg.job;
        let discard = |reason: String| Command::DiscardMessage {
            message_id: msg.message_id.clone(),
            reason,
        };
        if !config.accepts_job_labels(&job.labels) {
            commands.push(discard(format!(
                "labels {:?} are not served by this pool",
                job.labels
            )));
            continue;
        }
        if config.enable_organization_runners && job.repo.owner_type == OwnerType::User {
            commands.push(discard(
                "organization runners cannot serve a user-owned repository".into(),
            ));
            continue;
        }
        match &msg.status {
            JobStatus::InProgress | JobStatus::Completed => {
                commands.push(discard("job already picked up by a runner".into()));
                continue;
            }
            JobStatus::NotFound => {
                commands.push(discard("job no longer exists at GitHub".into()));
                continue;
            }
            JobStatus::NotChecked | JobStatus::Queued | JobStatus::Unknown { .. } => {}
        }
        if let Some(inst) = launched_for[m] {
            // A job-retry check finds the job still waiting for the instance it launched.
            if let Some(delay) = job_retry_delay(config, msg) {
                if msg.status == JobStatus::Queued {
                    commands.push(Command::RetryMessage {
                        message_id: msg.message_id.clone(),
                        delay_seconds: delay,
                        reason: format!(
                            "job still queued; instance {} launched for it is coming up",
                            inst.id
                        ),
                    });
                    continue;
                }
            }
            commands.push(discard(format!(
                "duplicate delivery: instance {} was launched for this job",
                inst.id
            )));
            continue;
        }
        let stale_claim = match msg.claimed_at {
            Some(at) if now.since(at) < CLAIM_IN_FLIGHT_MS => {
                commands.push(discard(format!(
                    "duplicate delivery: a launch for this job was claimed at {at}"
                )));
                continue;
            }
            Some(_) => true,
            None => false,
        };
        let owner = job_owner(config, job);
        if let Some(k) = idle_runner_for(&idle, &idle_taken, &owner, &job.labels) {
            idle_taken[k] = true;
            let runner = idle[k];
            match msg.status {
                // Nobody will tell us whether the idle runner took it: trust GitHub to assign it.
                JobStatus::NotChecked => {
                    commands.push(discard(format!(
                        "idle runner {} can take the job",
                        runner.name
                    )));
                    continue;
                }
                _ if msg.receive_count <= MAX_IDLE_RUNNER_DEFERRALS => {
                    commands.push(Command::RetryMessage {
                        message_id: msg.message_id.clone(),
                        delay_seconds: IDLE_RUNNER_GRACE_SECONDS,
                        reason: format!(
                            "idle runner {} can take the job; check again",
                            runner.name
                        ),
                    });
                    continue;
                }
                _ => {}
            }
        }
        if live >= max {
            if config.enable_ephemeral_runners {
                commands.push(Command::RetryMessage {
                    message_id: msg.message_id.clone(),
                    delay_seconds: MAXIMUM_REACHED_RETRY_SECONDS,
                    reason: format!(
                        "runners_maximum_count ({max}) reached; waiting for a free slot"
                    ),
                });
            } else {
                commands.push(discard(format!(
                    "runners_maximum_count ({max}) reached; the pool's runners will take the job"
                )));
            }
            continue;
        }
        live += 1;
        commands.push(Command::Launch(Box::new(job_launch(
            config,
            msg,
            owner,
            0,
            stale_claim,
        ))));
    }
    commands
}

/// What scale-up asks of the fleet for a batch, read in one pass over it.
struct FleetIndex<'f> {
    /// Pending and running instances.
    live: u64,
    /// Per message: the first live instance (in fleet order) launched for its job attempt.
    launched_for: Vec<Option<&'f Instance>>,
    /// Online runners that are not busy, in fleet order.
    idle: Vec<&'f Runner>,
}

impl<'f> FleetIndex<'f> {
    fn new(fleet: &'f Fleet<'_>, other_live_instances: u64, messages: &[JobMessage]) -> Self {
        // (job id, run attempt, message): sorted, so each instance finds its messages by
        // binary search, duplicates of one job side by side.
        let mut attempts: Vec<(u64, u32, usize)> = messages
            .iter()
            .enumerate()
            .map(|(m, msg)| (msg.job.job_id, msg.job.run_attempt, m))
            .collect();
        attempts.sort_unstable();
        let mut launched_for = vec![None; messages.len()];
        let mut live = other_live_instances;
        for instance in fleet.live_instances() {
            live += 1;
            let Some(key) = instance.tags.launched_for_attempt() else {
                continue;
            };
            let first = attempts.partition_point(|&(j, a, _)| (j, a) < key);
            for &(_, _, m) in attempts[first..]
                .iter()
                .take_while(|&&(j, a, _)| (j, a) == key)
            {
                launched_for[m].get_or_insert(instance);
            }
        }
        let idle = fleet
            .runners
            .iter()
            .filter(|r| r.online && !r.busy)
            .collect();
        FleetIndex {
            live,
            launched_for,
            idle,
        }
    }
}

/// The first idle runner not yet counted for a job that GitHub could give this job to: its
/// position in `idle`.
fn idle_runner_for(
    idle: &[&Runner],
    taken: &[bool],
    owner: &RunnerOwner,
    labels: &[String],
) -> Option<usize> {
    idle.iter().enumerate().find_map(|(k, r)| {
        (!taken[k] && r.owner == *owner && runner_covers_job(&r.labels, labels)).then_some(k)
    })
}

/// The capacity type of each launch option, in order of preference.
pub fn launch_option(config: &Config, option: u32) -> Option<CapacityType> {
    match (option, config.instance_target_capacity_type) {
        (0, capacity) => Some(capacity),
        (1, CapacityType::Spot)
            if !config
                .enable_runner_on_demand_failover_for_errors
                .is_empty() =>
        {
            Some(CapacityType::OnDemand)
        }
        _ => None,
    }
}

fn base_request(
    config: &Config,
    purpose: LaunchPurpose,
    owner: RunnerOwner,
    count: u32,
    option: u32,
    client_token: String,
    claim: Option<Claim>,
) -> Option<LaunchRequest> {
    let capacity_type = launch_option(config, option)?;
    let launched_for = match &purpose {
        LaunchPurpose::Job { job, .. } => Some((job.job_id, job.run_attempt)),
        LaunchPurpose::Pool { .. } => None,
    };
    Some(LaunchRequest {
        tags: tags::at_launch(&config.prefix, &owner, launched_for),
        purpose,
        owner,
        count,
        option,
        capacity_type,
        instance_types: config.instance_types.clone(),
        allocation_strategy: match capacity_type {
            CapacityType::Spot => config.instance_allocation_strategy,
            CapacityType::OnDemand => crate::config::AllocationStrategy::LowestPrice,
        },
        max_spot_price: match capacity_type {
            CapacityType::Spot => config.instance_max_spot_price.clone(),
            CapacityType::OnDemand => None,
        },
        client_token,
        claim,
    })
}

fn job_launch(
    config: &Config,
    msg: &JobMessage,
    owner: RunnerOwner,
    option: u32,
    stale_claim: bool,
) -> LaunchRequest {
    let job = &msg.job;
    base_request(
        config,
        LaunchPurpose::Job {
            message_id: msg.message_id.clone(),
            job: job.clone(),
            receive_count: msg.receive_count,
        },
        owner,
        1,
        option,
        naming::job_client_token(
            &config.prefix,
            job.job_id,
            option,
            &msg.message_id,
            msg.receive_count,
        ),
        Some(Claim {
            parameter: naming::launch_claim_parameter(&config.prefix, job.job_id, job.run_attempt),
            overwrite: stale_claim,
        }),
    )
    .expect("option 0 always exists")
}

/// A pool launch of `count` runners for `owner`.
pub fn pool_launch(
    config: &Config,
    owner: RunnerOwner,
    count: u32,
    now: Timestamp,
) -> LaunchRequest {
    base_request(
        config,
        LaunchPurpose::Pool { requested_at: now },
        owner,
        count,
        0,
        naming::pool_client_token(&config.prefix, now.millis(), 0),
        None,
    )
    .expect("option 0 always exists")
}

/// The visibility delay of the next job-retry check of this delivery, if one is due.
fn job_retry_delay(config: &Config, msg: &JobMessage) -> Option<u32> {
    job_retry_delay_at(config, msg.receive_count)
}

fn job_retry_delay_at(config: &Config, receive_count: u32) -> Option<u32> {
    let r = &config.job_retry;
    // The first delivery launched; each later one is a check.
    let checks_done = receive_count.saturating_sub(1);
    (r.enable && checks_done < r.max_attempts).then(|| {
        let factor = r.delay_backoff.saturating_pow(checks_done);
        r.delay_in_seconds.saturating_mul(factor).min(900)
    })
}

/// After CreateFleet: provision every new instance's runner, and with `job_retry` come back to
/// check the job got a runner.
pub fn on_launched(
    config: &Config,
    request: &LaunchRequest,
    instance_ids: &[String],
) -> Vec<Command> {
    let installation_id = match &request.purpose {
        LaunchPurpose::Job { job, .. } => job.installation_id,
        LaunchPurpose::Pool { .. } => None,
    };
    let mut commands: Vec<Command> = instance_ids
        .iter()
        .map(|id| {
            Command::ProvisionRunner(Box::new(RunnerProvision {
                instance_id: id.clone(),
                owner: request.owner.clone(),
                installation_id,
                runner_name: naming::runner_name(config, id),
                labels: config.runner_labels(),
                runner_group: config.runner_group_name.clone(),
                mode: if config.jit_config() {
                    RegistrationMode::JitConfig
                } else {
                    RegistrationMode::RegistrationToken
                },
                ephemeral: config.enable_ephemeral_runners,
                token_parameter: naming::token_parameter(&config.prefix, id),
                purpose: request.purpose.clone(),
            }))
        })
        .collect();
    if let LaunchPurpose::Job {
        message_id,
        receive_count,
        ..
    } = &request.purpose
    {
        if let Some(delay) = job_retry_delay_at(config, *receive_count) {
            commands.push(Command::RetryMessage {
                message_id: message_id.clone(),
                delay_seconds: delay,
                reason: "job_retry: check the job got a runner".into(),
            });
        }
    }
    commands
}

/// CreateFleet launched nothing: fail over, retry through the queue, or give up until the next
/// pool tick.
pub fn on_launch_failed(
    config: &Config,
    request: &LaunchRequest,
    error_codes: &[String],
) -> Vec<Command> {
    let listed = !error_codes.is_empty()
        && error_codes.iter().all(|c| {
            config
                .enable_runner_on_demand_failover_for_errors
                .iter()
                .any(|l| l == c)
        });
    if listed {
        let next = request.option + 1;
        let token = match &request.purpose {
            LaunchPurpose::Job {
                job,
                message_id,
                receive_count,
            } => naming::job_client_token(
                &config.prefix,
                job.job_id,
                next,
                message_id,
                *receive_count,
            ),
            LaunchPurpose::Pool { requested_at } => {
                naming::pool_client_token(&config.prefix, requested_at.millis(), next)
            }
        };
        if let Some(failover) = base_request(
            config,
            request.purpose.clone(),
            request.owner.clone(),
            request.count,
            next,
            token,
            // The claim is ours already.
            None,
        ) {
            return vec![Command::Launch(Box::new(failover))];
        }
    }
    let throttled = error_codes
        .iter()
        .any(|c| THROTTLING_ERRORS.contains(&c.as_str()));
    match &request.purpose {
        LaunchPurpose::Job {
            message_id, job, ..
        } => vec![
            Command::ReleaseClaim {
                parameter: naming::launch_claim_parameter(
                    &config.prefix,
                    job.job_id,
                    job.run_attempt,
                ),
            },
            Command::RetryMessage {
                message_id: message_id.clone(),
                delay_seconds: if throttled {
                    THROTTLED_RETRY_SECONDS
                } else {
                    LAUNCH_FAILED_RETRY_SECONDS
                },
                reason: format!("launch failed: {}", error_codes.join(", ")),
            },
        ],
        LaunchPurpose::Pool { .. } => Vec::new(),
    }
}

/// Someone else holds the job's claim: this delivery is a duplicate.
pub fn on_claim_held(request: &LaunchRequest) -> Vec<Command> {
    match &request.purpose {
        LaunchPurpose::Job { message_id, .. } => vec![Command::DiscardMessage {
            message_id: message_id.clone(),
            reason: "duplicate delivery: another invocation holds the launch claim".into(),
        }],
        LaunchPurpose::Pool { .. } => Vec::new(),
    }
}

/// The instance cannot register: remove it and let the job try again.
pub fn on_provision_failed(
    config: &Config,
    provision: &RunnerProvision,
    reason: &str,
) -> Vec<Command> {
    let mut commands = vec![Command::TerminateInstances {
        instance_ids: vec![provision.instance_id.clone()],
        reason: crate::command::RemovalReason::ProvisionFailed,
    }];
    if let LaunchPurpose::Job {
        message_id, job, ..
    } = &provision.purpose
    {
        commands.push(Command::ReleaseClaim {
            parameter: naming::launch_claim_parameter(&config.prefix, job.job_id, job.run_attempt),
        });
        commands.push(Command::RetryMessage {
            message_id: message_id.clone(),
            delay_seconds: LAUNCH_FAILED_RETRY_SECONDS,
            reason: format!("runner provisioning failed: {reason}"),
        });
    }
    commands
}

#[cfg(test)]
mod tests {
    //! The one-pass fleet index is held to the per-message scans it replaced.

    use super::*;
    use crate::model::{InstanceState, InstanceTags};

    // ---- the code before the fleet index, verbatim but for the names ----

    fn decide_before(config: &Config, batch: &ScaleUpBatch<'_>, now: Timestamp) -> Vec<Command> {
        let fleet = &batch.fleet;
        let mut live = fleet.live_instances().count() as u64;
        let max = u64::from(config.runners_maximum_count);
        // Idle runners GitHub could hand a queued job to; each is counted for one job only.
        let mut idle_taken = vec![false; fleet.runners.len()];
        let mut commands = Vec::with_capacity(batch.messages.len());

        for msg in &batch.messages {
            let job = &msg.job;
            let discard = |reason: String| Command::DiscardMessage {
                message_id: msg.message_id.clone(),
                reason,
            };
            if !config.accepts_job_labels(&job.labels) {
                commands.push(discard(format!(
                    "labels {:?} are not served by this pool",
                    job.labels
                )));
                continue;
            }
            if config.enable_organization_runners && job.repo.owner_type == OwnerType::User {
                commands.push(discard(
                    "organization runners cannot serve a user-owned repository".into(),
                ));
                continue;
            }
            match &msg.status {
                JobStatus::InProgress | JobStatus::Completed => {
                    commands.push(discard("job already picked up by a runner".into()));
                    continue;
                }
                JobStatus::NotFound => {
                    commands.push(discard("job no longer exists at GitHub".into()));
                    continue;
                }
                JobStatus::NotChecked | JobStatus::Queued | JobStatus::Unknown { .. } => {}
            }
            if let Some(inst) = fleet.live_instances().find(|i| {
                i.tags.launched_for == Some(job.job_id)
                    && i.tags.run_attempt.unwrap_or(1) == job.run_attempt
            }) {
                // A job-retry check finds the job still waiting for the instance it launched.
                if let Some(delay) = job_retry_delay(config, msg) {
                    if msg.status == JobStatus::Queued {
                        commands.push(Command::RetryMessage {
                            message_id: msg.message_id.clone(),
                            delay_seconds: delay,
                            reason: format!(
                                "job still queued; instance {} launched for it is coming up",
                                inst.id
                            ),
                        });
                        continue;
                    }
                }
                commands.push(discard(format!(
                    "duplicate delivery: instance {} was launched for this job",
                    inst.id
                )));
                continue;
            }
            let stale_claim = match msg.claimed_at {
                Some(at) if now.since(at) < CLAIM_IN_FLIGHT_MS => {
                    commands.push(discard(format!(
                        "duplicate delivery: a launch for this job was claimed at {at}"
                    )));
                    continue;
                }
                Some(_) => true,
                None => false,
            };
            let owner = job_owner(config, job);
            if let Some(slot) = idle_runner_for_before(fleet, &idle_taken, &owner, &job.labels) {
                idle_taken[slot] = true;
                match msg.status {
                    // Nobody will tell us whether the idle runner took it: trust GitHub to assign it.
                    JobStatus::NotChecked => {
                        commands.push(discard(format!(
                            "idle runner {} can take the job",
                            fleet.runners[slot].name
                        )));
                        continue;
                    }
                    _ if msg.receive_count <= MAX_IDLE_RUNNER_DEFERRALS => {
                        commands.push(Command::RetryMessage {
                            message_id: msg.message_id.clone(),
                            delay_seconds: IDLE_RUNNER_GRACE_SECONDS,
                            reason: format!(
                                "idle runner {} can take the job; check again",
                                fleet.runners[slot].name
                            ),
                        });
                        continue;
                    }
                    _ => {}
                }
            }
            if live >= max {
                if config.enable_ephemeral_runners {
                    commands.push(Command::RetryMessage {
                        message_id: msg.message_id.clone(),
                        delay_seconds: MAXIMUM_REACHED_RETRY_SECONDS,
                        reason: format!(
                            "runners_maximum_count ({max}) reached; waiting for a free slot"
                        ),
                    });
                } else {
                    commands.push(discard(format!(
                        "runners_maximum_count ({max}) reached; the pool's runners will take the job"
                    )));
                }
                continue;
            }
            live += 1;
            commands.push(Command::Launch(Box::new(job_launch(
                config,
                msg,
                owner,
                0,
                stale_claim,
            ))));
        }
        commands
    }
    fn idle_runner_for_before(
        fleet: &Fleet<'_>,
        taken: &[bool],
        owner: &RunnerOwner,
        labels: &[String],
    ) -> Option<usize> {
        fleet.runners.iter().enumerate().find_map(|(i, r)| {
            (!taken[i]
                && r.online
                && !r.busy
                && r.owner == *owner
                && runner_covers_job(&r.labels, labels))
            .then_some(i)
        })
    }

    // ---- deterministic worlds ----

    struct Draw(u64);

    impl Draw {
        fn next(&mut self) -> u64 {
            // splitmix64
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
    }

    const STATES: [InstanceState; 6] = [
        InstanceState::Pending,
        InstanceState::Running,
        InstanceState::ShuttingDown,
        InstanceState::Stopping,
        InstanceState::Stopped,
        InstanceState::Terminated,
    ];

    fn owner(d: &mut Draw, config: &Config) -> RunnerOwner {
        let repo = repo(d);
        if d.chance(10) {
            // An owner of the other kind than the config's.
            return if config.enable_organization_runners {
                RunnerOwner::Repo(repo.full_name())
            } else {
                RunnerOwner::Org(repo.owner)
            };
        }
        owner_of_repo(config, &repo)
    }

    fn repo(d: &mut Draw) -> RepoRef {
        RepoRef {
            owner: ["acme", "umbrella"][d.below(2) as usize].into(),
            name: ["api", "web", "ci"][d.below(3) as usize].into(),
            owner_type: if d.chance(10) {
                OwnerType::User
            } else {
                OwnerType::Organization
            },
        }
    }

    fn labels(d: &mut Draw) -> Vec<String> {
        const SETS: [&[&str]; 6] = [
            &["self-hosted", "linux", "x64"],
            &["self-hosted", "linux"],
            &["self-hosted", "Linux", "gpu"],
            &["self-hosted", "windows"],
            &["ubuntu-latest"],
            &[],
        ];
        SETS[d.below(SETS.len() as u64) as usize]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn world(d: &mut Draw) -> (Config, Fleet<'static>, Vec<JobMessage>) {
        let config = Config::from_json(&format!(
            r#"{{"runners_maximum_count": {}, "enable_ephemeral_runners": {}, "enable_organization_runners": {}, "runner_extra_labels": ["gpu"], "job_retry": {{"enable": {}, "delay_in_seconds": 180, "delay_backoff": 2, "max_attempts": 2}}}}"#,
            1 + d.below(12),
            d.chance(50),
            d.chance(50),
            d.chance(30),
        ))
        .expect("test config");
        let job_ids = 1 + d.below(8);
        let instances = (0..d.below(14))
            .map(|i| Instance {
                id: format!("i-{i:017x}"),
                state: STATES[d.below(6) as usize],
                launch_time: Timestamp(0),
                instance_type: "m7i.large".into(),
                capacity_type: CapacityType::Spot,
                tags: InstanceTags {
                    owner: Some(owner(d, &config)),
                    launched_for: d.chance(70).then(|| 1 + d.below(job_ids)),
                    run_attempt: d.chance(70).then(|| 1 + d.below(2) as u32),
                    ..InstanceTags::default()
                },
            })
            .collect::<Vec<_>>();
        let runners = (0..d.below(10))
            .map(|i| Runner {
                id: i,
                name: format!("runner-{i}"),
                online: d.chance(70),
                busy: d.chance(40),
                labels: labels(d),
                owner: owner(d, &config),
            })
            .collect::<Vec<_>>();
        let messages = (0..d.below(12))
            .map(|m| JobMessage {
                message_id: format!("m-{m}"),
                job: QueuedJob {
                    job_id: 1 + d.below(job_ids),
                    run_id: 7,
                    run_attempt: 1 + d.below(2) as u32,
                    repo: repo(d),
                    installation_id: None,
                    labels: labels(d),
                    queued_at: None,
                },
                receive_count: 1 + d.below(4) as u32,
                status: match d.below(6) {
                    0 => JobStatus::NotChecked,
                    1 => JobStatus::InProgress,
                    2 => JobStatus::NotFound,
                    3 => JobStatus::Unknown {
                        reason: "503".into(),
                    },
                    _ => JobStatus::Queued,
                },
                claimed_at: match d.below(4) {
                    0 => Some(Timestamp(1_000_000)),
                    1 => Some(Timestamp(1_000_000 - CLAIM_IN_FLIGHT_MS)),
                    _ => None,
                },
            })
            .collect();
        let fleet = Fleet {
            instances: instances.into(),
            runners: runners.into(),
            ..Fleet::default()
        };
        (config, fleet, messages)
    }

    /// The batch as the simulator passes it: live instances launched for none of its jobs
    /// (by job id and attempt) counted in `other_live_instances` instead of described.
    fn only_instances_of_the_batch(batch: &ScaleUpBatch<'_>) -> ScaleUpBatch<'static> {
        let wanted: Vec<(u64, u32)> = batch
            .messages
            .iter()
            .map(|m| (m.job.job_id, m.job.run_attempt))
            .collect();
        let of_the_batch = |i: &Instance| {
            i.tags
                .launched_for_attempt()
                .is_some_and(|key| wanted.contains(&key))
        };
        let kept: Vec<Instance> = batch
            .fleet
            .live_instances()
            .filter(|i| of_the_batch(i))
            .cloned()
            .collect();
        let others = batch.fleet.live_instances().count() - kept.len();
        ScaleUpBatch {
            messages: batch.messages.clone(),
            fleet: Fleet {
                instances: kept.into(),
                runners: batch.fleet.runners.clone().into_owned().into(),
                ..Fleet::default()
            },
            other_live_instances: others as u64,
        }
    }

    #[test]
    fn decide_matches_the_per_message_scans_it_replaced() {
        let mut d = Draw(0x2026_1205);
        let now = Timestamp(1_000_000);
        let (mut launches, mut duplicates, mut idle) = (0, 0, 0);
        for _ in 0..20_000 {
            let (config, fleet, messages) = world(&mut d);
            let batch = ScaleUpBatch {
                messages,
                fleet,
                other_live_instances: 0,
            };
            let got = decide(&config, &batch, now);
            assert_eq!(got, decide_before(&config, &batch, now), "{batch:#?}");
            // A shell may describe only the instances launched for the batch's jobs and count
            // the other live ones.
            let partial = only_instances_of_the_batch(&batch);
            assert_eq!(decide(&config, &partial, now), got, "{partial:#?}");
            for c in &got {
                match c {
                    Command::Launch(_) => launches += 1,
                    Command::DiscardMessage { reason, .. }
                    | Command::RetryMessage { reason, .. } => {
                        duplicates += usize::from(reason.contains("was launched for this job"));
                        duplicates += usize::from(reason.contains("instance launched for it"));
                        idle += usize::from(reason.contains("idle runner"));
                    }
                    _ => {}
                }
            }
        }
        // The worlds reach every branch the index feeds, many times over.
        assert!(
            launches > 1_000 && duplicates > 1_000 && idle > 1_000,
            "{launches} {duplicates} {idle}"
        );
    }
}
