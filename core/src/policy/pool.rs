//! Pool: top the pool up to `size` runners ready for work.
//!
//! Ready means an idle online runner, or an instance still booting within
//! `runner_boot_time_in_minutes` that has not been tagged orphan (with or without its offline
//! JIT runner listed yet). Launches never take the pool
//! past `runners_maximum_count`.

use crate::command::Command;
use crate::config::Config;
use crate::model::{Fleet, RunnerOwner};
use crate::naming;
use crate::policy::scale_up::pool_launch;
use crate::time::Timestamp;

pub fn decide(config: &Config, size: u32, fleet: &Fleet<'_>, now: Timestamp) -> Vec<Command> {
    let Some(org) = config
        .pool_runner_owner
        .as_deref()
        .filter(|o| !o.is_empty())
    else {
        return Vec::new();
    };
    let owner = RunnerOwner::Org(org.to_string());
    let boot_time = config.boot_time_ms();
    let mut live = 0u64;
    let mut ready = 0u64;
    for inst in fleet.live_instances() {
        live += 1;
        let name = naming::runner_name(config, &inst.id);
        match fleet.runners.iter().find(|r| r.name == name) {
            Some(r) => {
                // A JIT-configured runner is listed offline until its instance connects: while
                // the instance boots it counts as ready, like an instance without a runner.
                let booting = !r.online && now.since(inst.launch_time) < boot_time;
                if !r.busy && r.owner == owner && (r.online || booting) {
                    ready += 1;
                }
            }
            None => {
                if inst.tags.orphan_since.is_none()
                    && inst.tags.interrupted_at.is_none()
                    && now.since(inst.launch_time) < boot_time
                {
                    ready += 1;
                }
            }
        }
    }
    let wanted = u64::from(size).saturating_sub(ready);
    let room = u64::from(config.runners_maximum_count).saturating_sub(live);
    let count = wanted.min(room);
    if count == 0 {
        return Vec::new();
    }
    vec![Command::Launch(Box::new(pool_launch(
        config,
        owner,
        count as u32,
        now,
    )))]
}
