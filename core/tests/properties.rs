//! Properties over arbitrary inputs: nothing panics, busy or young runners are never removed,
//! the maximum is never exceeded.

use std::borrow::Cow;

use flotilla_core::command::LaunchPurpose;
use flotilla_core::config::{Config, IdleConfig};
use flotilla_core::model::{
    Instance, InstanceState, InstanceTags, QueuedJob, RepoRef, Runner, RunnerOwner,
};
use flotilla_core::observation::{JobMessage, JobStatus, ScaleUpBatch, Secret, WebhookDelivery};
use flotilla_core::webhook::{parse_event, sign};
use flotilla_core::{decide, on_outcome, Command, Fleet, Observation, Outcome, Timestamp};
use proptest::prelude::*;

const NOW: i64 = 1_757_000_000_000;
const MIN: i64 = 60_000;

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("queued"),
            Just("in_progress"),
            Just("completed"),
            Just("created"),
            Just("github-actions")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("action".to_string()),
                    Just("workflow_job".to_string()),
                    Just("check_run".to_string()),
                    Just("workflow_run".to_string()),
                    Just("repository".to_string()),
                    Just("installation".to_string()),
                    Just("id".to_string()),
                    Just("run_id".to_string()),
                    Just("labels".to_string()),
                    Just("owner".to_string()),
                    Just("login".to_string()),
                    Just("name".to_string()),
                    Just("full_name".to_string()),
                    Just("status".to_string()),
                    Just("app".to_string()),
                    Just("slug".to_string()),
                    Just("created_at".to_string()),
                    Just("runner_name".to_string()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..8
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn webhook(event: &str, body: &[u8], config: &Config) -> Vec<Command> {
    let secret = "s";
    let obs = Observation::Webhook(WebhookDelivery {
        event: Some(event.to_string()),
        delivery_id: None,
        signature_256: Some(sign(secret.as_bytes(), body)),
        content_type: Some("application/json".into()),
        body: Cow::Borrowed(body),
        secret: Secret(secret.into()),
    });
    decide(config, &obs, Timestamp(NOW))
}

fn answers_once(commands: &[Command]) -> bool {
    let responds = commands
        .iter()
        .filter(|c| matches!(c, Command::Respond { .. }))
        .count();
    let lookups = commands
        .iter()
        .any(|c| matches!(c, Command::LookupJob { .. }));
    responds == 1 || (responds == 0 && lookups)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), event in prop_oneof![Just("workflow_job"), Just("check_run"), Just("workflow_run"), Just("ping"), Just("push")]) {
        let out = webhook(event, &body, &Config::default());
        prop_assert!(answers_once(&out), "{out:?}");
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json(), event in prop_oneof![Just("workflow_job"), Just("check_run"), Just("workflow_run"), Just("ping"), Just("installation")]) {
        let body = serde_json::to_vec(&v).unwrap();
        let _ = parse_event(event, &body);
        let out = webhook(event, &body, &Config::default());
        prop_assert!(answers_once(&out), "{out:?}");
        let _ = Config::from_value(v);
    }

    #[test]
    fn arbitrary_config_text_never_panics(text in ".{0,200}") {
        let _ = Config::from_json(&text);
    }
}

fn arb_config() -> impl Strategy<Value = Config> {
    (
        any::<bool>(),
        1u32..8,
        prop::option::of(0u32..30),
        1u32..10,
        0u32..4,
        any::<bool>(),
        30u32..3000,
    )
        .prop_map(
            |(ephemeral, max, min_running, boot, idle, newest, lifetime)| Config {
                enable_ephemeral_runners: ephemeral,
                runners_maximum_count: max,
                minimum_running_time_in_minutes: min_running,
                runner_boot_time_in_minutes: boot,
                instance_max_lifetime_in_minutes: lifetime,
                idle_config: if idle > 0 {
                    vec![IdleConfig {
                        cron: "* * * * * *".into(),
                        time_zone: "UTC".into(),
                        idle_count: idle,
                        eviction_strategy: if newest {
                            flotilla_core::config::EvictionStrategy::NewestFirst
                        } else {
                            Default::default()
                        },
                    }]
                } else {
                    Vec::new()
                },
                ..Config::default()
            },
        )
}

fn owner() -> RunnerOwner {
    RunnerOwner::Repo("o/r".into())
}

/// (instances, runners): each instance has an age, a state, maybe a runner (busy or not), maybe
/// an orphan tag.
fn arb_fleet() -> impl Strategy<Value = (Vec<Instance>, Vec<Runner>)> {
    prop::collection::vec(
        (0i64..3000, 0u8..6, 0u8..4, any::<bool>(), any::<bool>()),
        0..12,
    )
    .prop_map(|rows| {
        let mut instances = Vec::new();
        let mut runners = Vec::new();
        for (i, (age_min, state, runner_kind, orphan, online)) in rows.into_iter().enumerate() {
            let id = format!("i-{i:04}");
            let state = [
                InstanceState::Running,
                InstanceState::Pending,
                InstanceState::Running,
                InstanceState::Terminated,
                InstanceState::ShuttingDown,
                InstanceState::Running,
            ][state as usize];
            instances.push(Instance {
                id: id.clone(),
                state,
                launch_time: Timestamp(NOW - age_min * MIN),
                instance_type: "m5.large".into(),
                capacity_type: flotilla_core::config::CapacityType::Spot,
                tags: InstanceTags {
                    owner: Some(owner()),
                    orphan_since: orphan.then_some(Timestamp(NOW - 5 * MIN)),
                    ..Default::default()
                },
            });
            if runner_kind > 0 {
                runners.push(Runner {
                    id: i as u64 + 1,
                    name: id,
                    online,
                    busy: runner_kind == 2,
                    labels: vec!["self-hosted".into(), "linux".into(), "x64".into()],
                    owner: owner(),
                });
            }
        }
        (instances, runners)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn scale_down_never_removes_busy_or_young_runners(config in arb_config(), (instances, runners) in arb_fleet(), busy_on_delete in any::<bool>()) {
        let now = Timestamp(NOW);
        let obs = Observation::ScaleDown { fleet: Fleet { instances: Cow::Borrowed(&instances), runners: Cow::Borrowed(&runners), ..Default::default() } };
        // Run the whole loop: GitHub either lets go or says busy.
        let mut pending: std::collections::VecDeque<Command> = decide(&config, &obs, now).into();
        let mut terminated = Vec::new();
        let mut deregistered = Vec::new();
        while let Some(cmd) = pending.pop_front() {
            match cmd {
                Command::DeregisterRunner { runner_id, owner, instance_id, reason } => {
                    deregistered.push(runner_id);
                    let outcome = if busy_on_delete {
                        Outcome::DeregisterFailed { runner_id, owner, instance_id, busy: true, reason: "422".into() }
                    } else {
                        Outcome::Deregistered { runner_id, owner, instance_id, reason }
                    };
                    pending.extend(on_outcome(&config, &obs, &outcome, now));
                }
                Command::TerminateInstances { instance_ids, .. } => terminated.extend(instance_ids),
                _ => {}
            }
        }
        if busy_on_delete {
            // A 422 never leads to a termination.
            for id in &terminated {
                prop_assert!(!runners.iter().any(|r| &r.name == id), "{id} terminated though its runner refused");
            }
        }
        for r in &runners {
            let inst = instances.iter().find(|i| i.id == r.name).unwrap();
            let age = now.since(inst.launch_time);
            let removed = deregistered.contains(&r.id) || terminated.contains(&inst.id);
            if r.busy {
                prop_assert!(!removed, "busy runner {} removed", r.name);
            }
            if removed && inst.state.is_live() {
                prop_assert!(age >= config.minimum_running_time_ms().min(config.max_lifetime_ms()), "runner {} removed at age {age}", r.name);
            }
        }
        for id in &terminated {
            let inst = instances.iter().find(|i| &i.id == id).unwrap();
            prop_assert!(inst.state.is_live());
            if !runners.iter().any(|r| &r.name == id) {
                prop_assert!(now.since(inst.launch_time) >= config.boot_time_ms(), "orphan {id} terminated while booting");
            }
        }
    }

    #[test]
    fn scale_up_never_exceeds_the_maximum(config in arb_config(), (instances, runners) in arb_fleet(), jobs in 1usize..25, checked in any::<bool>()) {
        let messages: Vec<JobMessage> = (0..jobs).map(|j| JobMessage {
            message_id: format!("m{j}"),
            job: QueuedJob { job_id: 1000 + j as u64, run_id: 1, run_attempt: 1, repo: RepoRef { owner: "o".into(), name: "r".into(), owner_type: Default::default() }, installation_id: None, labels: vec!["self-hosted".into(), "linux".into()], queued_at: None },
            receive_count: 1 + (j as u32 % 4),
            status: if checked { JobStatus::Queued } else { JobStatus::NotChecked },
            claimed_at: None,
        }).collect();
        let live = instances.iter().filter(|i| i.state.is_live()).count() as u64;
        let batch = ScaleUpBatch { messages, fleet: Fleet { instances: Cow::Borrowed(&instances), runners: Cow::Borrowed(&runners), ..Default::default() }, other_live_instances: 0 };
        let out = decide(&config, &Observation::ScaleUp(batch.clone()), Timestamp(NOW));
        let launched: u64 = out.iter().map(|c| match c { Command::Launch(r) => u64::from(r.count), _ => 0 }).sum();
        prop_assert!(launched == 0 || live + launched <= u64::from(config.runners_maximum_count), "live {live} + launched {launched} > {}", config.runners_maximum_count);
        // Every message gets exactly one decision.
        for m in &batch.messages {
            let n = out.iter().filter(|c| match c {
                Command::Launch(r) => matches!(&r.purpose, LaunchPurpose::Job { message_id, .. } if *message_id == m.message_id),
                Command::RetryMessage { message_id, .. } | Command::DiscardMessage { message_id, .. } => *message_id == m.message_id,
                _ => false,
            }).count();
            prop_assert_eq!(n, 1, "message {} got {} decisions", m.message_id, n);
        }
    }

    #[test]
    fn pool_never_exceeds_the_maximum(config in arb_config(), (instances, runners) in arb_fleet(), size in 0u32..10) {
        let config = Config { enable_organization_runners: true, pool_runner_owner: Some("o".into()), ..config };
        let live = instances.iter().filter(|i| i.state.is_live()).count() as u64;
        let obs = Observation::Pool { size, fleet: Fleet { instances: Cow::Borrowed(&instances), runners: Cow::Borrowed(&runners), ..Default::default() } };
        let out = decide(&config, &obs, Timestamp(NOW));
        let launched: u64 = out.iter().map(|c| match c { Command::Launch(r) => u64::from(r.count), _ => 0 }).sum();
        prop_assert!(launched == 0 || live + launched <= u64::from(config.runners_maximum_count));
        prop_assert!(launched <= u64::from(size));
    }
}
