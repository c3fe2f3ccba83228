//! Scale-up: a batch of build-queue messages → the policy → launches, provisioning, retries.
//! Answers SQS partial batch failures: the retried messages stay on the queue (with the visibility
//! delay the policy asked for), the rest are deleted.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use flotilla_core::model::{Fleet, QueuedJob};
use flotilla_core::observation::{JobMessage, JobStatus, ScaleUpBatch};
use flotilla_core::policy::scale_up::{owner_for, wants_job_status};
use flotilla_core::{naming, Observation};
use futures::future::join_all;

use crate::context::{Context, Error};
use crate::metrics::{self, Unit};
use crate::observe;
use crate::perform::{Inputs, Invocation};
use crate::ports::{Aws, GitHub};
use crate::shell;

/// GitHub's job status as the policy reads it.
pub fn job_status(status: &str) -> JobStatus {
    match status {
        "in_progress" => JobStatus::InProgress,
        "completed" => JobStatus::Completed,
        // queued, waiting, pending, requested: not started.
        _ => JobStatus::Queued,
    }
}

pub async fn handle<A: Aws, G: GitHub>(
    ctx: &Context<A, G>,
    event: SqsEvent,
) -> Result<SqsBatchResponse, Error> {
    let now = ctx.now();
    let config = ctx.config().await?;
    let mut receipts = HashMap::new();
    let mut messages = Vec::new();
    for record in event.records {
        let Some(id) = record.message_id.clone() else {
            continue;
        };
        let job: QueuedJob = match record.body.as_deref().map(serde_json::from_str) {
            Some(Ok(job)) => job,
            _ => {
                // Nothing will ever parse it: let it go (it is logged, not retried forever).
                tracing::error!(message_id = %id, "build-queue message is not a queued job; dropped");
                continue;
            }
        };
        if let Some(r) = record.receipt_handle {
            receipts.insert(id.clone(), r);
        }
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        messages.push(JobMessage {
            message_id: id,
            job,
            receive_count,
            status: JobStatus::NotChecked,
            claimed_at: None,
        });
    }

    // Observe: job statuses, claims, instances and runners, all at once.
    let check = wants_job_status(&config);
    let statuses = join_all(messages.iter().map(|m| async {
        if !check {
            return JobStatus::NotChecked;
        }
        match ctx
            .github
            .get_job(&m.job.repo, m.job.job_id, m.job.installation_id)
            .await
        {
            Ok(Some(j)) => job_status(&j.status),
            Ok(None) => JobStatus::NotFound,
            // Fail open: the policy launches anyway.
            Err(e) => JobStatus::Unknown {
                reason: e.to_string(),
            },
        }
    }));
    let claim_names: Vec<String> = messages
        .iter()
        .map(|m| naming::launch_claim_parameter(&config.prefix, m.job.job_id, m.job.run_attempt))
        .collect();
    let claims = ctx.aws.get_parameters(&claim_names);
    let owners: BTreeSet<_> = messages
        .iter()
        .map(|m| owner_for(&config, &m.job.repo.owner, &m.job.repo.full_name()))
        .collect();
    let instances = ctx.aws.describe_instances(&config.prefix, None);
    let runners = observe::runners(&ctx.github, &owners);
    let (statuses, claims, instances, (runners, unlisted)) =
        futures::join!(statuses, claims, instances, runners);
    let claims = claims?;
    for ((m, status), name) in messages.iter_mut().zip(statuses).zip(&claim_names) {
        m.status = status;
        m.claimed_at = claims
            .iter()
            .find(|p| &p.name == name)
            .map(|p| p.last_modified);
    }
    let fleet = Fleet {
        instances: Cow::Owned(instances?),
        runners: Cow::Owned(runners),
        unlisted_owners: unlisted,
        ..Fleet::default()
    };
    let count = messages.len();
    // The whole fleet is described: nothing is counted beside it.
    let observation = Observation::ScaleUp(ScaleUpBatch {
        messages,
        fleet,
        other_live_instances: 0,
    });
    let invocation = Invocation::new(
        ctx,
        &config,
        now,
        Inputs {
            receipts,
            ..Inputs::default()
        },
    );
    let trace = shell::run(&config, &observation, now, &invocation, ctx.concurrency).await;
    let effects = invocation.into_effects();
    tracing::info!(
        messages = count,
        launched = effects.launched.len(),
        retried = effects.retried.len(),
        discarded = effects.discarded.len(),
        commands = trace.commands.len(),
        "scale-up done"
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
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = effects
        .retried
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    Ok(response)
}
