//! Termination watcher: EventBridge's EC2 Spot Instance Interruption Warning and EC2 Instance
//! State-change Notification (shutting-down, terminated) → the policy's interruption handling.

use flotilla_core::naming;
use flotilla_core::observation::{InterruptionKind, InterruptionNotice};
use flotilla_core::Observation;
use serde_json::{json, Value};

use crate::context::{Context, Error};
use crate::metrics::{self, Unit};
use crate::perform::{Inputs, Invocation};
use crate::ports::{Aws, GitHub};
use crate::shell;

/// The notice kind and instance id of an EventBridge event, if it is one we act on.
pub fn parse_event(event: &Value) -> Option<(InterruptionKind, String)> {
    let detail_type = event.get("detail-type")?.as_str()?;
    let detail = event.get("detail")?;
    let instance_id = detail.get("instance-id")?.as_str()?.to_string();
    match detail_type {
        "EC2 Spot Instance Interruption Warning" => {
            Some((InterruptionKind::SpotWarning, instance_id))
        }
        "EC2 Instance State-change Notification" => match detail.get("state")?.as_str()? {
            "shutting-down" | "terminated" => Some((InterruptionKind::Terminating, instance_id)),
            _ => None,
        },
        _ => None,
    }
}

pub async fn handle<A: Aws, G: GitHub>(ctx: &Context<A, G>, event: Value) -> Result<Value, Error> {
    let now = ctx.now();
    let Some((kind, instance_id)) = parse_event(&event) else {
        tracing::info!("event ignored");
        return Ok(json!({"ignored": true}));
    };
    let config = ctx.config().await?;
    let instances = ctx
        .aws
        .describe_instances(&config.prefix, Some(std::slice::from_ref(&instance_id)))
        .await?;
    let instance = instances.into_iter().find(|i| i.id == instance_id);
    let mut runner = None;
    if let Some(owner) = instance.as_ref().and_then(|i| i.tags.owner.clone()) {
        let name = naming::runner_name(&config, &instance_id);
        match ctx.github.list_runners(&owner).await {
            Ok(list) => runner = list.into_iter().find(|r| r.name == name),
            Err(e) => {
                tracing::warn!(instance_id = %instance_id, error = %e, "runner list unreadable")
            }
        }
    }
    if instance.is_some() && kind == InterruptionKind::SpotWarning {
        ctx.metrics
            .emit(metrics::INTERRUPTIONS, Unit::Count, 1.0, &[], now.millis());
    }
    let observation = Observation::Interruption(InterruptionNotice {
        kind,
        instance_id: instance_id.clone(),
        instance,
        runner,
    });
    let invocation = Invocation::new(ctx, &config, now, Inputs::default());
    let trace = shell::run(&config, &observation, now, &invocation, ctx.concurrency).await;
    tracing::info!(instance_id = %instance_id, kind = ?kind_name(&observation), commands = trace.commands.len(), "interruption handled");
    Ok(json!({
        "instance_id": instance_id,
        "commands": trace.commands.iter().map(shell::kind).collect::<Vec<_>>(),
    }))
}

fn kind_name(o: &Observation<'_>) -> &'static str {
    match o {
        Observation::Interruption(n) => match n.kind {
            InterruptionKind::SpotWarning => "spot_warning",
            InterruptionKind::Terminating => "terminating",
        },
        _ => "",
    }
}
