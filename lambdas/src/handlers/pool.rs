//! Pool (schedule): top the pool up to its size. Terraform gives each `pool_config` entry its own
//! schedule whose input is `{"pool_size": N}` (the contract's `schedule_inputs.pool`); `{"size": N}`
//! is accepted as an alias; without either the first entry's size is used.

use flotilla_core::model::RunnerOwner;
use flotilla_core::{Config, Observation};
use serde_json::{json, Value};

use crate::context::{Context, Error};
use crate::observe;
use crate::perform::{Inputs, Invocation};
use crate::ports::{Aws, GitHub};
use crate::shell;

/// The size the event asks for: `pool_size` (what Terraform's schedules send), else `size`.
pub fn size_of(event: &Value, config: &Config) -> u32 {
    event
        .get("pool_size")
        .and_then(Value::as_u64)
        .or_else(|| event.get("size").and_then(Value::as_u64))
        .map(|s| s.min(u64::from(u32::MAX)) as u32)
        .or_else(|| config.pool_config.first().map(|p| p.size))
        .unwrap_or(0)
}

pub async fn handle<A: Aws, G: GitHub>(ctx: &Context<A, G>, event: Value) -> Result<Value, Error> {
    let now = ctx.now();
    let config = ctx.config().await?;
    let size = size_of(&event, &config);
    let extra: Vec<RunnerOwner> = config
        .pool_runner_owner
        .iter()
        .filter(|o| !o.is_empty())
        .map(|o| RunnerOwner::Org(o.clone()))
        .collect();
    let fleet = observe::fleet(&ctx.aws, &ctx.github, &config.prefix, &extra, false).await?;
    let observation = Observation::Pool { size, fleet };
    let invocation = Invocation::new(ctx, &config, now, Inputs::default());
    let trace = shell::run(&config, &observation, now, &invocation, ctx.concurrency).await;
    let effects = invocation.into_effects();
    tracing::info!(size, launched = ?effects.launched, "pool done");
    Ok(json!({
        "size": size,
        "commands": trace.commands.iter().map(shell::kind).collect::<Vec<_>>(),
        "launched": effects.launched,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_value(json!({
            "enable_organization_runners": true,
            "pool_runner_owner": "acme",
            "pool_config": [{"schedule_expression": "rate(5 minutes)", "size": 2}]
        }))
        .unwrap()
    }

    #[test]
    fn the_schedule_input_terraform_sends_sets_the_size() {
        let c = config();
        assert_eq!(size_of(&json!({"pool_size": 7}), &c), 7);
        assert_eq!(size_of(&json!({"size": 5}), &c), 5, "alias");
        assert_eq!(
            size_of(&json!({"pool_size": 4, "size": 9}), &c),
            4,
            "pool_size wins"
        );
        assert_eq!(size_of(&json!({}), &c), 2, "the first pool_config size");
        assert_eq!(size_of(&json!({}), &Config::default()), 0);
    }

    #[test]
    fn the_contract_records_the_pool_schedule_input() {
        let contract: Value = serde_json::from_str(crate::contract::CONTRACT_JSON).unwrap();
        let shape = &contract["schedule_inputs"]["pool"];
        let fields = shape
            .as_object()
            .expect("schedule_inputs.pool is an object");
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            vec!["pool_size"],
            "{shape}"
        );
        assert_eq!(fields["pool_size"], "number");
        // What the contract says Terraform sends is what the handler reads.
        let event = json!({"pool_size": 3});
        assert_eq!(size_of(&event, &config()), 3);
    }
}
