//! The core's scenario table, replayed through the simulator's world: the observation the
//! simulator builds from that state gives exactly the scenario's commands.

use flotilla_core::{decide, Command, Config, Observation, Timestamp};
use flotilla_sim::engine::{observe_like, TableCase};
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
    #[serde(default)]
    observation: Option<Observation<'static>>,
    #[serde(default)]
    expect: Vec<Command>,
}

#[test]
fn the_simulator_observes_what_the_scenarios_describe() {
    let text = include_str!("../../core/scenarios/policy.json");
    let table: Table = serde_json::from_str(text).unwrap();
    let mut compared = 0;
    let mut not_modelled = Vec::new();
    let mut failures = Vec::new();
    for s in &table.scenarios {
        let Some(obs) = &s.observation else { continue };
        let config = Config::from_value(s.config.clone()).unwrap();
        match observe_like(&config, obs) {
            TableCase::Observed(sim_obs) => {
                compared += 1;
                let got = decide(&config, &sim_obs, s.now);
                if got != s.expect {
                    failures.push(format!(
                        "{}\n  expected {}\n  got      {}",
                        s.name,
                        serde_json::to_string(&s.expect).unwrap(),
                        serde_json::to_string(&got).unwrap()
                    ));
                }
            }
            TableCase::NotModelled(why) => not_modelled.push(format!("{}: {why}", s.name)),
        }
    }
    eprintln!(
        "{compared} scenarios replayed through the simulator; not modelled:\n  {}",
        not_modelled.join("\n  ")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(compared >= 30, "only {compared} scenarios compared");
}
