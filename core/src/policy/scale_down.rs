//! Scale-down: the pool's instances against GitHub's runner list.
//!
//! - A busy runner is never touched.
//! - An idle runner younger than `minimum_running_time_in_minutes` stays.
//! - Inside an `idle_config` window, `idleCount` idle runners stay, chosen by its eviction
//!   strategy; the rest are deregistered, and only once GitHub has let go of a runner (a 422 means
//!   it just turned busy) is its instance terminated.
//! - An instance with no runner past `runner_boot_time_in_minutes` is tagged orphan; still
//!   without a runner on a following cycle, it is terminated.
//! - Past `instance_max_lifetime_in_minutes`, a runner that is not busy goes regardless of quota.
//! - Offline runners of this pool with no instance left are deregistered; token parameters of
//!   instances that are gone and launch claims past their in-flight window are deleted.

use crate::command::{Command, RemovalReason};
use crate::config::{Config, EvictionStrategy};
use crate::cron::parse_idle_cron;
use crate::id_index::IdIndex;
use crate::labels::runner_covers_job;
use crate::model::{Fleet, Instance, Runner};
use crate::naming;
use crate::tags;
use crate::time::{Timestamp, SECOND};

/// `idle_config` windows are read with v7's tolerance.
pub const IDLE_WINDOW_TOLERANCE_MS: i64 = 5 * SECOND;
/// A launch claim only guards the launch in flight (until the instance and its tags are visible);
/// after this it is swept, which keeps the claims path short enough to list every cycle.
pub const CLAIM_TTL_MS: i64 = 10 * 60 * SECOND;
/// A token parameter of an instance that is gone is kept this long (it may belong to a launch
/// DescribeInstances has not caught up with).
pub const TOKEN_GRACE_MS: i64 = 60 * SECOND;

/// The idle quota in force at `now`: the first `idle_config` entry whose window holds.
pub fn idle_quota(config: &Config, now: Timestamp) -> (u32, EvictionStrategy) {
    config
        .idle_config
        .iter()
        .find(|c| {
            parse_idle_cron(&c.cron, &c.time_zone)
                .map(|s| s.holds_near(now, IDLE_WINDOW_TOLERANCE_MS))
                .unwrap_or(false)
        })
        .map(|c| (c.idle_count, c.eviction_strategy))
        .unwrap_or((0, EvictionStrategy::OldestFirst))
}

pub fn decide(config: &Config, fleet: &Fleet<'_>, now: Timestamp) -> Vec<Command> {
    let mut commands = Vec::new();
    // By the instance id in the runner's name: the same match as "name == runner_name(id)",
    // without formatting a name per instance.
    let runners_by_instance: IdIndex<&Runner> = IdIndex::new(
        fleet
            .runners
            .iter()
            .filter_map(|r| naming::instance_of_runner(config, &r.name).map(|id| (id, r))),
    );
    let min_running = config.minimum_running_time_ms();
    let boot_time = config.boot_time_ms();
    let max_lifetime = config.max_lifetime_ms();

    let mut live: Vec<&Instance> = fleet.live_instances().collect();
    live.sort_by(|a, b| (a.launch_time, &a.id).cmp(&(b.launch_time, &b.id)));

    let mut idle_candidates: Vec<(&Instance, &Runner)> = Vec::new();
    for inst in &live {
        let owner_unlisted = inst
            .tags
            .owner
            .as_ref()
            .is_some_and(|o| fleet.unlisted_owners.contains(o));
        if owner_unlisted {
            continue;
        }
        let age = now.since(inst.launch_time);
        let runner = if naming::is_instance_id(&inst.id) {
            runners_by_instance.get(&inst.id)
        } else {
            let name = naming::runner_name(config, &inst.id);
            fleet.runners.iter().rev().find(|r| r.name == name)
        };
        match runner {
            Some(runner) => {
                if inst.tags.orphan_since.is_some() {
                    // It registered after all.
                    commands.push(Command::UntagInstance {
                        instance_id: inst.id.clone(),
                        keys: vec![tags::ORPHAN_SINCE.to_string()],
                    });
                }
                if runner.busy {
                    continue;
                }
                // A JIT runner is listed (offline) from before its instance boots: booting.
                if !runner.online && age < boot_time {
                    continue;
                }
                if age >= max_lifetime {
                    commands.push(deregister(
                        runner,
                        Some(&inst.id),
                        RemovalReason::MaxLifetime,
                    ));
                } else if age >= min_running {
                    idle_candidates.push((inst, runner));
                }
            }
            None => {
                if inst.tags.deregister_pending.is_some() || inst.tags.interrupted_at.is_some() {
                    // Being reclaimed by EC2 already.
                    continue;
                }
                if age < boot_time {
                    continue;
                }
                if inst.tags.orphan_since.is_some() || age >= max_lifetime {
                    commands.push(Command::TerminateInstances {
                        instance_ids: vec![inst.id.clone()],
                        reason: RemovalReason::Orphan,
                    });
                } else {
                    commands.push(Command::TagInstance {
                        instance_id: inst.id.clone(),
                        tags: tags::one(tags::ORPHAN_SINCE, now.to_rfc3339()),
                    });
                }
            }
        }
    }

    // `idle_candidates` is oldest first. (The quota reads the idle_config crons: only when there
    // is anything to keep.)
    let (keep, strategy) = if idle_candidates.is_empty() {
        (0, EvictionStrategy::OldestFirst)
    } else {
        idle_quota(config, now)
    };
    let keep = (keep as usize).min(idle_candidates.len());
    let evict: Vec<&(&Instance, &Runner)> = match strategy {
        EvictionStrategy::OldestFirst => idle_candidates[..idle_candidates.len() - keep]
            .iter()
            .collect(),
        EvictionStrategy::NewestFirst => idle_candidates[keep..].iter().collect(),
    };
    for (inst, runner) in evict {
        commands.push(deregister(runner, Some(&inst.id), RemovalReason::Idle));
    }

    // Runners of this pool whose instance is gone.
    // Looked up once per runner and per token: indexed, so a fleet of thousands stays cheap.
    let live_ids = IdIndex::new(live.iter().map(|i| (i.id.as_str(), ())));
    let is_live = |id: &str| live_ids.contains(id);
    let mut pool_labels: Option<Vec<String>> = None;
    for runner in fleet.runners.iter() {
        if runner.busy || runner.online || fleet.unlisted_owners.contains(&runner.owner) {
            continue;
        }
        let Some(instance_id) = naming::instance_of_runner(config, &runner.name) else {
            continue;
        };
        if is_live(instance_id) {
            continue;
        }
        let pool_labels = pool_labels.get_or_insert_with(|| config.runner_labels());
        if runner_covers_job(&runner.labels, pool_labels) || runner.labels.is_empty() {
            commands.push(deregister(
                runner,
                None,
                RemovalReason::RunnerWithoutInstance,
            ));
        }
    }

    for token in fleet.tokens.iter() {
        let gone = !is_live(&token.instance_id);
        if gone && now.since(token.last_modified) >= TOKEN_GRACE_MS {
            commands.push(Command::DeleteParameter {
                name: token.name.clone(),
                reason: format!("token of instance {} which is gone", token.instance_id),
            });
        }
    }

    for claim in fleet.claims.iter() {
        if now.since(claim.claimed_at) >= CLAIM_TTL_MS {
            commands.push(Command::DeleteParameter {
                name: claim.name.clone(),
                reason: "launch claim past its in-flight window; the instance's tags remember the launch".into(),
            });
        }
    }
    commands
}

fn deregister(runner: &Runner, instance_id: Option<&String>, reason: RemovalReason) -> Command {
    Command::DeregisterRunner {
        runner_id: runner.id,
        owner: runner.owner.clone(),
        instance_id: instance_id.cloned(),
        reason,
    }
}

/// GitHub let go of the runner: its instance may go.
pub fn on_deregistered(instance_id: Option<&String>, reason: RemovalReason) -> Vec<Command> {
    match instance_id {
        Some(id) => vec![Command::TerminateInstances {
            instance_ids: vec![id.clone()],
            reason,
        }],
        None => Vec::new(),
    }
}
