//! Scale-down (schedule): the pool's instances against GitHub's runner lists and SSM's tokens and
//! claims → deregister, terminate, tag orphans, sweep.

use flotilla_core::model::RunnerOwner;
use flotilla_core::Observation;
use serde_json::{json, Value};

use crate::context::{Context, Error};
use crate::metrics::{self, Unit};
use crate::observe;
use crate::perform::{Inputs, Invocation};
use crate::ports::{Aws, GitHub};
use crate::shell;

/// The schedule's event is not read.
pub async fn handle<A: Aws, G: GitHub>(ctx: &Context<A, G>) -> Result<Value, Error> {
    let now = ctx.now();
    let config = ctx.config().await?;
    let extra: Vec<RunnerOwner> = config
        .pool_runner_owner
        .iter()
        .filter(|o| !o.is_empty())
        .map(|o| RunnerOwner::Org(o.clone()))
        .collect();
    let fleet = observe::fleet(&ctx.aws, &ctx.github, &config.prefix, &extra, true).await?;
    let observation = Observation::ScaleDown { fleet };
    let invocation = Invocation::new(ctx, &config, now, Inputs::default());
    let trace = shell::run(&config, &observation, now, &invocation, ctx.concurrency).await;
    let effects = invocation.into_effects();
    tracing::info!(
        commands = trace.commands.len(),
        terminated = ?effects.terminated,
        "scale-down done"
    );
    if let Some(remaining) = ctx.github.rate_limit_remaining() {
        ctx.metrics.emit(
            metrics::RATE_LIMIT_REMAINING,
            Unit::Count,
            remaining as f64,
            &[],
            now.millis(),
        );
    }
    Ok(json!({
        "commands": trace.commands.iter().map(shell::kind).collect::<Vec<_>>(),
        "terminated": effects.terminated,
    }))
}
