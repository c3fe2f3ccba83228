//! Pool (schedule): top the pool up to its size. The schedule's input may carry `{"size": N}`
//! (one schedule per `pool_config` entry); without it the first entry's size is used.

use flotilla_core::model::RunnerOwner;
use flotilla_core::{Config, Observation};
use serde_json::{json, Value};

use crate::context::{Context, Error};
use crate::observe;
use crate::perform::{Inputs, Invocation};
use crate::ports::{Aws, GitHub};
use crate::shell;

/// The size the event asks for.
pub fn size_of(event: &Value, config: &Config) -> u32 {
    event
        .get("size")
        .and_then(Value::as_u64)
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
