//! The report JSON follows docs/report.schema.json, and the schema is strict enough to notice
//! drift (a missing or unknown field fails).

use flotilla_core::Config;
use flotilla_sim::engine::replay;
use flotilla_sim::inputs;
use flotilla_sim::settings::{InterruptionModel, WorldSettings};

fn schema() -> serde_json::Value {
    serde_json::from_str(include_str!("../../docs/report.schema.json")).unwrap()
}

#[test]
fn replay_reports_match_the_schema() {
    let validator = jsonschema::validator_for(&schema()).expect("the schema compiles");
    let configs = [
        r#"{}"#,
        r#"{"runners_maximum_count": 20, "enable_ephemeral_runners": true, "enable_runner_on_demand_failover_for_errors": ["InsufficientInstanceCapacity"]}"#,
    ];
    for c in configs {
        let world = WorldSettings {
            interruptions: InterruptionModel::Rate {
                per_instance_hour: 0.2,
            },
            ..WorldSettings::default()
        };
        let s = inputs::scenario(Config::from_json(c).unwrap(), world, 2, None, None, 1).unwrap();
        let report = replay(&s).unwrap().report;
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{c}: {errors:#?}");
        // The keys the issue names.
        for path in [
            "/jobs/total",
            "/jobs/completed",
            "/wait_seconds/p95",
            "/cost_usd/total",
            "/instances/launched",
        ] {
            assert!(value.pointer(path).is_some(), "{path} missing");
        }
    }
}

#[test]
fn the_schema_rejects_drift() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let s = inputs::scenario(
        Config::default(),
        WorldSettings::default(),
        1,
        None,
        None,
        1,
    )
    .unwrap();
    let mut value: serde_json::Value =
        serde_json::from_str(&replay(&s).unwrap().report.to_json()).unwrap();
    value["jobs"].as_object_mut().unwrap().remove("completed");
    assert!(!validator.is_valid(&value));
    let mut value2: serde_json::Value =
        serde_json::from_str(&replay(&s).unwrap().report.to_json()).unwrap();
    value2["cost_usd"]["surprise"] = serde_json::json!(1.0);
    assert!(!validator.is_valid(&value2));
}
