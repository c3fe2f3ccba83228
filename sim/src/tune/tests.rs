use super::*;

fn eval(index: usize, cost: f64, p95: f64, rejected: bool) -> Evaluation {
    let mut m = Metrics::default();
    m.cost_usd.total = cost;
    m.wait_seconds.p95 = p95;
    Evaluation {
        index,
        config: Config::default(),
        metrics: m,
        rejected: rejected.then(|| "no".to_string()),
    }
}

#[test]
fn front_keeps_only_undominated_valid_points_cheapest_first() {
    let evals = vec![
        eval(0, 10.0, 100.0, false),
        eval(1, 5.0, 200.0, false),
        eval(2, 20.0, 50.0, false),
        eval(3, 12.0, 100.0, false), // dominated by 0
        eval(4, 1.0, 10.0, true),    // rejected
        eval(5, 10.0, 100.0, false), // equal to 0: the lower index stays
        eval(6, 30.0, 50.0, false),  // dominated by 2
    ];
    assert_eq!(pareto_front(&evals), vec![1, 0, 2]);
}

#[test]
fn recommends_the_cheapest_meeting_the_slo_or_says_nothing_does() {
    let obj = Objective {
        slo_p95_seconds: 120.0,
        api_budget_per_hour: 5000,
    };
    let evals = vec![
        eval(0, 10.0, 100.0, false),
        eval(1, 5.0, 200.0, false),
        eval(2, 8.0, 120.0, false),
        eval(3, 1.0, 10.0, true),
    ];
    let r = recommend(&evals, &obj).unwrap();
    assert_eq!((r.index, r.meets_slo), (2, true));
    let strict = Objective {
        slo_p95_seconds: 30.0,
        ..obj.clone()
    };
    let r = recommend(&evals, &strict).unwrap();
    assert_eq!((r.index, r.meets_slo), (0, false));
    assert!(
        r.message.contains("nothing evaluated meets"),
        "{}",
        r.message
    );
    assert!(recommend(&[eval(0, 1.0, 1.0, true)], &obj).is_none());
}

#[test]
fn judge_rejects_over_budget_and_never_started() {
    let obj = Objective::default();
    let mut m = Metrics {
        github_api_peak_per_hour: 6000,
        ..Metrics::default()
    };
    let e = judge(0, Config::default(), m.clone(), &obj);
    assert!(e.rejected.unwrap().contains("5000/h"));
    m.github_api_peak_per_hour = 10;
    m.jobs_never_started = 3;
    let e = judge(0, Config::default(), m, &obj);
    assert!(e.rejected.unwrap().contains("3 jobs never started"));
}

#[test]
fn tfvars_hold_only_changed_config_fields() {
    let c = Config {
        delay_webhook_event: 0,
        enable_ephemeral_runners: true,
        ..Config::default()
    };
    let v = recommended_tfvars(&c);
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v["delay_webhook_event"], 0);
    let back = Config::from_value(serde_json::Value::Object(v)).unwrap();
    assert_eq!(back, c);
}

/// A fake evaluation: deterministic numbers from the config alone.
fn fake(index: usize, c: &Config) -> Evaluation {
    let mut m = Metrics::default();
    m.cost_usd.total = f64::from(c.runners_maximum_count) * 3.0
        + f64::from(c.minimum_running_time_in_minutes.unwrap_or(5))
        + c.idle_config
            .first()
            .map_or(0.0, |i| f64::from(i.idle_count) * 2.0);
    m.wait_seconds.p95 = 600.0 / f64::from(c.runners_maximum_count)
        + f64::from(c.delay_webhook_event)
        - c.idle_config
            .first()
            .map_or(0.0, |i| f64::from(i.idle_count));
    judge(index, c.clone(), m, &Objective::default())
}

fn run(max: usize, seed: u64, reverse: bool) -> TuneResult {
    let mut s = Search::new(
        &Config::default(),
        Space::default(),
        Objective::default(),
        max,
        seed,
    );
    while let Some(batch) = s.next_batch() {
        let mut evals: Vec<Evaluation> = batch.iter().map(|(i, c)| fake(*i, c)).collect();
        if reverse {
            evals.reverse();
        }
        s.record(evals).unwrap();
    }
    assert!(s.is_done());
    s.result()
}

#[test]
fn search_is_deterministic_unique_and_within_budget() {
    let a = run(60, 7, false);
    let b = run(60, 7, true);
    assert_eq!(a, b, "order of recording must not matter");
    assert_eq!(a.evaluations.len(), 60);
    assert_eq!(
        a.evaluations[0].config,
        Config::default(),
        "index 0 is the base"
    );
    let mut keys: Vec<String> = a
        .evaluations
        .iter()
        .map(|e| serde_json::to_string(&e.config).unwrap())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 60, "no config twice");
    for (i, e) in a.evaluations.iter().enumerate() {
        assert_eq!(e.index, i);
        e.config.validate().unwrap();
    }
    let c = run(60, 8, false);
    assert_ne!(a.evaluations, c.evaluations, "the seed matters");
    // Refinement finds something meeting the SLO (fake model: max 40, small delay).
    assert!(a.recommendation.as_ref().unwrap().meets_slo);
    let json = a.to_json();
    let back: TuneResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
}

#[test]
fn search_handles_tiny_budgets_and_stray_records() {
    let r = run(1, 1, false);
    assert_eq!(r.evaluations.len(), 1);
    let mut s = Search::new(
        &Config::default(),
        Space::default(),
        Objective::default(),
        5,
        1,
    );
    let batch = s.next_batch().unwrap();
    assert!(s.next_batch().is_none(), "one batch at a time");
    assert!(s.record(vec![fake(99, &Config::default())]).is_err());
    let evals = batch.iter().map(|(i, c)| fake(*i, c)).collect();
    s.record(evals).unwrap();
}

#[test]
fn tiny_space_is_exhausted_without_looping() {
    let space = Space {
        delay_webhook_event: vec![0, 30],
        minimum_running_time_in_minutes: vec![5],
        idle_window: vec![IdleWindow::None],
        idle_count: vec![1],
        pool_size: vec![0],
        runners_maximum_count: vec![3],
        ephemeral: vec![false],
        instance_types: vec![vec!["m5.large".into()]],
        capacity_type: vec![flotilla_core::config::CapacityType::Spot],
        allocation_strategy: vec![flotilla_core::config::AllocationStrategy::LowestPrice],
        ..Space::default()
    };
    let mut s = Search::new(&Config::default(), space, Objective::default(), 50, 1);
    let mut n = 0;
    while let Some(batch) = s.next_batch() {
        n += batch.len();
        let evals = batch.iter().map(|(i, c)| fake(*i, c)).collect();
        s.record(evals).unwrap();
    }
    assert_eq!(n, 3, "base + two points");
    assert!(s.is_done());
}

#[test]
fn space_for_the_demo_scenario_prices_every_candidate() {
    let s = crate::inputs::scenario(
        Config::default(),
        crate::settings::WorldSettings::default(),
        1,
        None,
        None,
        1,
    )
    .unwrap();
    let space = Space::for_scenario(&s, &s.config);
    space.validate(&s.config).unwrap();
    assert!(space
        .notes
        .iter()
        .any(|n| n.contains("pool_config not searched")));
    for set in &space.instance_types {
        for t in set {
            assert!(s.prices.on_demand_usd_per_hour(t).is_some(), "{t}");
        }
    }
    assert!(space.runners_maximum_count.iter().all(|&m| m >= 1));
    let e = evaluate(&s, 0, &s.config, &Objective::default());
    let out = crate::engine::replay(&s).unwrap();
    assert_eq!(e.metrics, Metrics::from_report(&out.report));
}

#[test]
fn a_result_with_gaps_in_its_indices_still_reports() {
    use crate::report::WaitSeconds;
    let mk = |index: usize, cost: f64, p95: f64| {
        let mut e = Evaluation {
            index,
            config: flotilla_core::Config::default(),
            metrics: Metrics::default(),
            rejected: None,
        };
        e.metrics.cost_usd.total = cost;
        e.metrics.wait_seconds = WaitSeconds {
            p95,
            samples: 1,
            ..Default::default()
        };
        e
    };
    // A cancelled search: 0, 2 and 5 came back, out of order.
    let r = TuneResult::new(
        Objective::default(),
        Space::default(),
        1,
        8,
        vec![mk(5, 1.0, 50.0), mk(0, 3.0, 500.0), mk(2, 2.0, 100.0)],
    );
    assert_eq!(r.front, vec![5]);
    assert_eq!(r.base().map(|e| e.index), Some(0));
    assert_eq!(r.by_index(2).map(|e| e.index), Some(2));
    assert!(r.by_index(1).is_none());
    let table = r.front_table();
    assert!(table.contains('*'), "{table}");
}
