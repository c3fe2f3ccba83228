//! Walks the policy's scenario table (`core/scenarios/policy.json`): exact commands for each
//! observation, and for each follow-up outcome.

use flotilla_core::{decide, on_outcome, Command, Config, Fleet, Observation, Outcome, Timestamp};
use serde::Deserialize;

#[derive(Deserialize)]
struct Table {
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
struct Scenario {
    name: String,
    config: serde_json::Value,
    now: Timestamp,
    /// Absent when the case is about outcomes only.
    #[serde(default)]
    observation: Option<Observation<'static>>,
    #[serde(default)]
    expect: Vec<Command>,
    #[serde(default)]
    outcomes: Vec<FollowUp>,
}

#[derive(Deserialize)]
struct FollowUp {
    outcome: Outcome,
    expect: Vec<Command>,
}

fn pretty(commands: &[Command]) -> String {
    serde_json::to_string_pretty(commands).unwrap()
}

#[test]
fn every_scenario_gives_exactly_its_commands() {
    let text = include_str!("../scenarios/policy.json");
    let table: Table = serde_json::from_str(text).expect("scenario table parses");
    assert!(table.scenarios.len() >= 30, "the table lost cases");
    let mut failures = Vec::new();
    for s in &table.scenarios {
        let config = Config::from_value(s.config.clone())
            .unwrap_or_else(|e| panic!("{}: bad config: {e}", s.name));
        let fallback = Observation::ScaleDown {
            fleet: Fleet::default(),
        };
        let observation = s.observation.as_ref().unwrap_or(&fallback);
        if s.observation.is_some() {
            let got = decide(&config, observation, s.now);
            if got != s.expect {
                failures.push(format!(
                    "{}\n  expected {}\n  got      {}",
                    s.name,
                    pretty(&s.expect),
                    pretty(&got)
                ));
            }
        }
        for (i, f) in s.outcomes.iter().enumerate() {
            let got = on_outcome(&config, observation, &f.outcome, s.now);
            if got != f.expect {
                failures.push(format!(
                    "{} / outcome {i}\n  expected {}\n  got      {}",
                    s.name,
                    pretty(&f.expect),
                    pretty(&got)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn decisions_are_pure() {
    let text = include_str!("../scenarios/policy.json");
    let table: Table = serde_json::from_str(text).unwrap();
    for s in &table.scenarios {
        let config = Config::from_value(s.config.clone()).unwrap();
        if let Some(obs) = &s.observation {
            assert_eq!(
                decide(&config, obs, s.now),
                decide(&config, obs, s.now),
                "{}",
                s.name
            );
        }
    }
}

/// Every Terraform variable of the module is either a policy field or a known deployment
/// variable, and every policy field is a Terraform variable: a `recommended.tfvars.json` from
/// `flotilla tune` applies as is, and a `.tfvars.json` is valid config.
#[test]
fn config_names_equal_the_terraform_variables() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform/variables.tf");
    let Ok(text) = std::fs::read_to_string(&path) else {
        panic!("{} is missing", path.display());
    };
    let tf: std::collections::BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("variable \""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect();
    use flotilla_core::config::{CONFIG_FIELDS, DEPLOYMENT_VARIABLES};
    for f in CONFIG_FIELDS {
        assert!(
            tf.contains(*f),
            "config field {f} is not a variable in terraform/variables.tf"
        );
    }
    for v in &tf {
        assert!(
            CONFIG_FIELDS.contains(&v.as_str()) || DEPLOYMENT_VARIABLES.contains(&v.as_str()),
            "terraform variable {v} is neither a config field nor in DEPLOYMENT_VARIABLES"
        );
    }
    for d in DEPLOYMENT_VARIABLES {
        assert!(
            tf.contains(*d),
            "DEPLOYMENT_VARIABLES lists {d}, which terraform/variables.tf lacks"
        );
    }
}
