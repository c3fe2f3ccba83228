//! The simulator's half of the shared scenario table (`core/scenarios/policy.json`): put a
//! scenario's observed state into the simulated world — instances with their tags, GitHub's
//! runners and jobs, build-queue messages, SSM — and build the observation from the world the way
//! a replay does. If the simulator observes what a Lambda would, `decide` on its observation
//! gives the scenario's commands.

use flotilla_core::model::Instance;
use flotilla_core::observation::{InterruptionNotice, JobStatus};
use flotilla_core::{naming, tags, Config, Observation};

use super::{Attempt, AttemptStatus, GitHub, Scenario, Sim, SimInstance, SimRunner};
use crate::demo::demo_price_book;
use crate::prices::{AzId, TypeId};
use crate::settings::WorldSettings;

/// A scenario case the simulator can stand in for, or why it cannot.
pub enum TableCase {
    Observed(Box<Observation<'static>>),
    /// The world model cannot produce this state (e.g. GitHub failing to list runners).
    NotModelled(String),
}

fn sim_instance(inst: &Instance, gh: &mut GitHub) -> SimInstance {
    let owner_scope = inst
        .tags
        .owner
        .as_ref()
        .map(|o| gh.scope_id(o))
        .unwrap_or_default();
    let raw = tags::render(&inst.tags);
    SimInstance {
        type_id: TypeId(0),
        az: AzId(0),
        capacity: inst.capacity_type,
        launched_at: inst.launch_time.0,
        state: inst.state,
        ended_at: None,
        raw_tags: raw,
        runner: None,
        token: false,
        registering: false,
        scope: owner_scope,
        reclaim_at: None,
        interrupted: false,
    }
}

/// Builds the world a scenario describes and observes it as the replay would.
pub fn observe_like(config: &Config, observation: &Observation<'_>) -> TableCase {
    let scenario = Scenario {
        config: config.clone(),
        world: WorldSettings::default(),
        prices: demo_price_book(),
        jobs: Vec::new(),
        seed: 0,
        trace_description: String::new(),
        prices_description: String::new(),
        notes: Vec::new(),
    };
    let Ok(mut sim) = Sim::new(&scenario) else {
        return TableCase::NotModelled(
            "the scenario's instance types are not in the built-in price table".into(),
        );
    };
    let fleet = match observation {
        Observation::ScaleUp(b) => &b.fleet,
        Observation::ScaleDown { fleet } | Observation::Pool { fleet, .. } => fleet,
        Observation::Webhook(_) => {
            return TableCase::NotModelled(
                "webhook deliveries are checked with real payloads".into(),
            )
        }
        Observation::Interruption(_) => return observe_interruption(&mut sim, observation),
    };
    if !fleet.unlisted_owners.is_empty() {
        return TableCase::NotModelled("the simulated GitHub always answers runner lists".into());
    }
    for inst in fleet.instances.iter() {
        let si = sim_instance(inst, &mut sim.gh);
        let type_name = inst.instance_type.clone();
        if inst.state.is_live() {
            sim.ec2.add(inst.id.clone(), si, &type_name);
        } else {
            sim.ec2.add_gone(&inst.id, si);
        }
    }
    for r in fleet.runners.iter() {
        let scope = sim.gh.scope_id(&r.owner);
        let instance =
            match naming::instance_of_runner(config, &r.name).and_then(|id| sim.ec2.index_of(id)) {
                Some(i) => i,
                None => sim.ec2.add_gone(&r.name, SimInstance::gone(scope)),
            };
        let idx = sim.gh.runners.len();
        let busy_with = r.busy.then(|| {
            sim.gh.add_attempt(Attempt {
                trace_index: 0,
                job_id: 0,
                run_attempt: 1,
                scope,
                queued_at: 0,
                started_at: Some(0),
                completed_at: None,
                status: AttemptStatus::InProgress,
                runner: Some(idx),
                interrupted: false,
                conclusion: None,
            })
        });
        sim.gh.add_runner(
            SimRunner {
                id: r.id,
                instance,
                scope,
                ephemeral: config.enable_ephemeral_runners,
                polling: r.online && !r.busy,
                busy_with,
                listed: true,
                idle_since: 0,
            },
            r.clone(),
        );
        sim.ec2.instances[instance].runner = Some(idx);
    }
    for t in fleet.tokens.iter() {
        let i = match sim.ec2.index_of(&t.instance_id) {
            Some(i) => i,
            None => sim.ec2.add_gone(&t.instance_id, SimInstance::gone(0)),
        };
        sim.ssm.tokens.insert(i, t.last_modified.0);
    }
    for c in fleet.claims.iter() {
        sim.ssm.claims.insert(c.name.clone(), c.claimed_at.0);
    }
    match observation {
        Observation::ScaleUp(batch) => {
            let mut idx = Vec::new();
            for m in &batch.messages {
                let status = match &m.status {
                    JobStatus::NotChecked | JobStatus::Queued => AttemptStatus::Queued,
                    JobStatus::InProgress => AttemptStatus::InProgress,
                    JobStatus::Completed => AttemptStatus::Completed,
                    other => {
                        return TableCase::NotModelled(format!(
                            "the simulated GitHub never answers a job check with {other:?}"
                        ))
                    }
                };
                let owner = flotilla_core::policy::scale_up::owner_for(
                    config,
                    &m.job.repo.owner,
                    &m.job.repo.full_name(),
                );
                let scope = sim.gh.scope_id(&owner);
                let attempt = sim.gh.add_attempt(Attempt {
                    trace_index: 0,
                    job_id: m.job.job_id,
                    run_attempt: m.job.run_attempt,
                    scope,
                    queued_at: 0,
                    started_at: None,
                    completed_at: None,
                    status,
                    runner: None,
                    interrupted: false,
                    conclusion: None,
                });
                if let Some(at) = m.claimed_at {
                    let name = naming::launch_claim_parameter(
                        &config.prefix,
                        m.job.job_id,
                        m.job.run_attempt,
                    );
                    sim.ssm.claims.insert(name, at.0);
                }
                let (i, _) = sim
                    .sqs
                    .send_as(m.message_id.clone(), m.job.clone(), attempt, 0, 0);
                sim.sqs.messages[i].receive_count = m.receive_count;
                idx.push(i);
            }
            let (messages, _) = sim.job_messages(&idx);
            let obs = Observation::ScaleUp(flotilla_core::observation::ScaleUpBatch {
                messages,
                fleet: owned_fleet(&sim, Vec::new(), Vec::new()),
                other_live_instances: 0,
            });
            TableCase::Observed(Box::new(obs))
        }
        Observation::ScaleDown { .. } => {
            let ssm = sim.ssm_view();
            TableCase::Observed(Box::new(Observation::ScaleDown {
                fleet: owned_fleet(&sim, ssm.tokens, ssm.claims),
            }))
        }
        Observation::Pool { size, .. } => {
            let ssm = sim.ssm_view();
            TableCase::Observed(Box::new(Observation::Pool {
                size: *size,
                fleet: owned_fleet(&sim, ssm.tokens, ssm.claims),
            }))
        }
        _ => unreachable!("handled above"),
    }
}

fn owned_fleet(
    sim: &Sim<'_>,
    tokens: Vec<flotilla_core::model::TokenParameter>,
    claims: Vec<flotilla_core::model::ClaimParameter>,
) -> flotilla_core::Fleet<'static> {
    flotilla_core::Fleet {
        instances: sim.ec2.described.clone().into(),
        runners: sim.gh.listed.clone().into(),
        unlisted_owners: Vec::new(),
        tokens: tokens.into(),
        claims: claims.into(),
    }
}

fn observe_interruption(sim: &mut Sim<'_>, observation: &Observation<'_>) -> TableCase {
    let Observation::Interruption(notice) = observation else {
        unreachable!()
    };
    let Some(inst) = &notice.instance else {
        // Not an instance of this pool: the watcher sees no instance in its DescribeInstances.
        return TableCase::Observed(Box::new(Observation::Interruption(InterruptionNotice {
            kind: notice.kind.clone(),
            instance_id: notice.instance_id.clone(),
            instance: None,
            runner: None,
        })));
    };
    let si = sim_instance(inst, &mut sim.gh);
    let i = if inst.state.is_live() {
        sim.ec2.add(inst.id.clone(), si, &inst.instance_type)
    } else {
        sim.ec2.add_gone(&inst.id, si)
    };
    if let Some(r) = &notice.runner {
        let scope = sim.gh.scope_id(&r.owner);
        let idx = sim.gh.runners.len();
        sim.gh.add_runner(
            SimRunner {
                id: r.id,
                instance: i,
                scope,
                ephemeral: false,
                polling: false,
                busy_with: None,
                listed: true,
                idle_since: 0,
            },
            r.clone(),
        );
        sim.ec2.instances[i].runner = Some(idx);
    }
    let mut n = sim.notice(i, notice.kind.clone(), None);
    // The watcher reads the instance's type from DescribeInstances; the imported world has the
    // scenario's.
    if let (Some(a), Some(b)) = (&mut n.instance, &notice.instance) {
        a.instance_type = b.instance_type.clone();
    }
    TableCase::Observed(Box::new(Observation::Interruption(n)))
}
