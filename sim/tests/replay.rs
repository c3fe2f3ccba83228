//! Replays through the whole simulator: determinism, accounting, the real trace.

use std::path::PathBuf;

use flotilla_core::Config;
use flotilla_sim::engine::replay;
use flotilla_sim::inputs::{self, Source};
use flotilla_sim::settings::{
    CapacityRule, InterruptionModel, ScriptedInterruption, WorldSettings,
};

fn demo(
    config: Config,
    world: WorldSettings,
    seed: u64,
    days: u32,
) -> flotilla_sim::report::Outcome {
    let s = inputs::scenario(config, world, seed, None, None, days).unwrap();
    replay(&s).unwrap()
}

fn sum(c: &flotilla_sim::report::Cost) -> f64 {
    c.components().iter().map(|(_, v)| v).sum()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = demo(Config::default(), WorldSettings::default(), 7, 2)
        .report
        .to_json();
    let b = demo(Config::default(), WorldSettings::default(), 7, 2)
        .report
        .to_json();
    assert_eq!(a, b);
    let c = demo(Config::default(), WorldSettings::default(), 8, 2)
        .report
        .to_json();
    assert_ne!(a, c);
}

#[test]
fn cost_is_the_sum_of_its_components_and_jobs_add_up() {
    let config = Config::from_json(r#"{"runners_maximum_count": 20, "enable_ephemeral_runners": true, "delay_webhook_event": 0}"#).unwrap();
    let out = demo(config, WorldSettings::default(), 3, 3);
    let r = &out.report;
    assert!(
        (r.cost_usd.total - sum(&r.cost_usd)).abs() < 1e-9,
        "{:?}",
        r.cost_usd
    );
    assert!(r.cost_usd.instances_spot > 0.0);
    let served = r.jobs.total - r.jobs.unserved;
    assert_eq!(
        r.jobs.completed + r.jobs.never_started + r.jobs.unfinished,
        served
    );
    assert_eq!(r.jobs.completed, served, "{:?}", r.jobs);
    assert_eq!(r.jobs.completed_more_than_once, 0);
    // Ephemeral: one instance per job, each terminates itself.
    assert!(r.instances.launched >= served);
    assert_eq!(r.wait_seconds.samples, served);
    assert!(r.wait_seconds.p50 <= r.wait_seconds.p95 && r.wait_seconds.p95 <= r.wait_seconds.max);
    assert_eq!(out.waits.len() as u64, served);
}

#[test]
fn more_runners_wait_less_and_a_delay_adds_wait() {
    let small = demo(Config::default(), WorldSettings::default(), 1, 2).report;
    let big = demo(
        Config::from_json(r#"{"runners_maximum_count": 30}"#).unwrap(),
        WorldSettings::default(),
        1,
        2,
    )
    .report;
    assert!(
        big.wait_seconds.p95 < small.wait_seconds.p95 / 10.0,
        "{} vs {}",
        big.wait_seconds.p95,
        small.wait_seconds.p95
    );
    let delayed = demo(
        Config::from_json(r#"{"runners_maximum_count": 30, "delay_webhook_event": 120, "enable_ephemeral_runners": true}"#).unwrap(),
        WorldSettings::default(),
        1,
        2,
    )
    .report;
    assert!(
        delayed.wait_seconds.p50 >= 120.0,
        "{}",
        delayed.wait_seconds.p50
    );
}

#[test]
fn capacity_errors_fail_over_to_on_demand_when_listed() {
    let world = WorldSettings {
        capacity: vec![CapacityRule {
            instance_type: "*".into(),
            capacity_type: Some("spot".into()),
            unavailable_probability: 1.0,
        }],
        ..WorldSettings::default()
    };
    let with = demo(
        Config::from_json(r#"{"runners_maximum_count": 20, "enable_ephemeral_runners": true, "enable_runner_on_demand_failover_for_errors": ["InsufficientInstanceCapacity"]}"#).unwrap(),
        world.clone(),
        1,
        1,
    )
    .report;
    assert_eq!(with.instances.spot, 0);
    assert!(with.instances.on_demand > 0);
    assert_eq!(with.instances.failovers, with.instances.on_demand);
    assert!(with.cost_usd.instances_on_demand > 0.0);
    assert_eq!(with.jobs.completed, with.jobs.total - with.jobs.unserved);
    let without = demo(
        Config::from_json(r#"{"runners_maximum_count": 20, "enable_ephemeral_runners": true}"#)
            .unwrap(),
        WorldSettings {
            max_drain_seconds: 3_600.0,
            ..world
        },
        1,
        1,
    )
    .report;
    assert_eq!(without.instances.launched, 0);
    assert!(without.instances.launch_errors["InsufficientInstanceCapacity"] > 0);
    assert_eq!(without.jobs.completed, 0);
    assert_eq!(
        without.jobs.never_started,
        without.jobs.total - without.jobs.unserved
    );
}

#[test]
fn interruptions_are_rerun_and_complete_once() {
    let world = WorldSettings {
        interruptions: InterruptionModel::Rate {
            per_instance_hour: 0.5,
        },
        ..WorldSettings::default()
    };
    let r = demo(
        Config::from_json(r#"{"runners_maximum_count": 30, "enable_ephemeral_runners": true, "delay_webhook_event": 0, "job_retry": {"enable": true, "max_attempts": 3}}"#).unwrap(),
        world,
        5,
        2,
    )
    .report;
    assert!(r.interruptions > 10, "{}", r.interruptions);
    assert!(r.jobs.interrupted > 0);
    assert!(r.jobs.reruns > 0 && r.jobs.reruns <= r.jobs.interrupted);
    assert_eq!(r.jobs.completed_more_than_once, 0);
    assert_eq!(
        r.jobs.completed,
        r.jobs.total - r.jobs.unserved,
        "{:?}",
        r.jobs
    );
}

#[test]
fn a_scripted_interruption_happens_once_and_its_job_is_rerun_once() {
    let config = || {
        Config::from_json(
            r#"{"runners_maximum_count": 30, "enable_ephemeral_runners": true, "delay_webhook_event": 0}"#,
        )
        .unwrap()
    };
    let quiet = WorldSettings {
        interruptions: InterruptionModel::None,
        ..WorldSettings::default()
    };
    let without = demo(config(), quiet.clone(), 5, 1).report;
    assert_eq!(without.interruptions, 0);
    // The first spot instance: warned 3 minutes after its launch (booted, registered, busy).
    let world = WorldSettings {
        scripted_interruptions: vec![ScriptedInterruption {
            launch: 0,
            warning_after_seconds: 180.0,
        }],
        ..quiet.clone()
    };
    let r = demo(config(), world.clone(), 5, 1).report;
    assert_eq!(r.interruptions, 1);
    assert_eq!(r.jobs.interrupted, 1, "{:?}", r.jobs);
    assert_eq!(r.jobs.reruns, 1, "{:?}", r.jobs);
    assert_eq!(r.jobs.completed_more_than_once, 0);
    assert_eq!(r.jobs.completed, r.jobs.total - r.jobs.unserved);
    // Deterministic, and absent from the JSON when empty (existing outputs stay byte-identical).
    assert_eq!(
        r.to_json(),
        demo(config(), world.clone(), 5, 1).report.to_json()
    );
    assert!(!serde_json::to_string(&quiet)
        .unwrap()
        .contains("scripted_interruptions"));
    let back: WorldSettings =
        serde_json::from_str(&serde_json::to_string(&world).unwrap()).unwrap();
    assert_eq!(back, world);
}

fn data() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!(
            "SKIP: {} is missing; real-data replay not checked",
            d.display()
        );
        None
    }
}

#[test]
fn real_trace_with_eu_west_1_prices_completes_every_served_job_once() {
    let Some(d) = data() else { return };
    let read = |p: &str| std::fs::read(d.join(p)).unwrap();
    let trace_bytes = read("traces/bitcoin-core-gha-jobs-2025-09.csv");
    let spot = read("prices/describe-spot-price-history.eu-west-1.2022-07-11.txt");
    let od = read("prices/ec2-ondemand-linux-us-east-1.csv");
    let advisor = read("prices/spot-advisor-data.json");
    let config = Config::default();
    let trace = inputs::load_trace(&Source {
        name: "bitcoin".into(),
        bytes: &trace_bytes,
    })
    .unwrap();
    let prices = inputs::load_prices(
        &config,
        &[
            Source {
                name: "spot".into(),
                bytes: &spot,
            },
            Source {
                name: "od".into(),
                bytes: &od,
            },
            Source {
                name: "advisor".into(),
                bytes: &advisor,
            },
        ],
    )
    .unwrap();
    let s = inputs::scenario(
        config,
        WorldSettings::default(),
        1,
        Some(trace),
        Some(prices),
        0,
    )
    .unwrap();
    let r = replay(&s).unwrap().report;
    assert_eq!(r.jobs.total, 11_402);
    assert_eq!(
        r.jobs.total - r.jobs.unserved,
        8_393,
        "linux jobs are the served ones"
    );
    assert_eq!(r.jobs.completed, 8_393, "{:?}", r.jobs);
    assert_eq!(r.jobs.completed_more_than_once, 0);
    assert!((r.cost_usd.total - sum(&r.cost_usd)).abs() < 1e-9);
    // The defaults allow 3 runners; the trace needs ~3 on average and ~28 at its peaks.
    assert_eq!(r.instances.peak, 3);
    assert!(r.utilisation > 0.9, "{}", r.utilisation);
    assert!(
        r.inputs.price_alignment.contains("shifted"),
        "{}",
        r.inputs.price_alignment
    );
}
