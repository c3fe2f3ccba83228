//! The loop every handler runs: `decide`, perform the commands, feed each outcome to
//! `on_outcome`, perform what that asks, until nothing is left.
//!
//! Commands of one round are independent of each other (each follow-up waits for the outcome it
//! depends on), so a round is performed concurrently, at most `concurrency` at a time, and its
//! outcomes are fed back in the order the policy emitted the commands: the result is the same as
//! performing them one by one, only faster.

use std::future::Future;

use flotilla_core::{decide, on_outcome, Command, Config, Observation, Outcome, Timestamp};
use futures::stream::{self, StreamExt};

/// Performs one command; answers the outcome the policy wants to hear about, if any.
pub trait Perform: Sync {
    fn perform(&self, command: &Command) -> impl Future<Output = Option<Outcome>> + Send;
}

/// Commands performed, in order, and the outcomes reported back.
#[derive(Debug, Default)]
pub struct Trace {
    pub commands: Vec<Command>,
    pub outcomes: Vec<Outcome>,
}

/// Bounds the follow-ups of one invocation (the policy never loops, but a shell must not trust
/// that with someone's AWS bill).
pub const MAX_ROUNDS: usize = 16;

pub async fn run<P: Perform>(
    config: &Config,
    observation: &Observation<'_>,
    now: Timestamp,
    performer: &P,
    concurrency: usize,
) -> Trace {
    let mut trace = Trace::default();
    let mut round = decide(config, observation, now);
    let mut rounds = 0;
    while !round.is_empty() && rounds < MAX_ROUNDS {
        rounds += 1;
        let outcomes: Vec<Option<Outcome>> = if round.len() == 1 {
            vec![performer.perform(&round[0]).await]
        } else {
            stream::iter(round.iter().map(|c| performer.perform(c)))
                .buffered(concurrency.max(1))
                .collect()
                .await
        };
        let mut next = Vec::new();
        for outcome in outcomes.into_iter().flatten() {
            next.extend(on_outcome(config, observation, &outcome, now));
            trace.outcomes.push(outcome);
        }
        trace.commands.append(&mut round);
        round = next;
    }
    if !round.is_empty() {
        tracing::error!(
            left = round.len(),
            "policy follow-ups exceeded {MAX_ROUNDS} rounds"
        );
    }
    trace
}

/// The command's kind, as the policy names it (`launch`, `retry_message`, ...).
pub fn kind(command: &Command) -> &'static str {
    match command {
        Command::Respond { .. } => "respond",
        Command::Enqueue { .. } => "enqueue",
        Command::LookupJob { .. } => "lookup_job",
        Command::ArchiveJobEvent { .. } => "archive_job_event",
        Command::LookupInterruptedJobs { .. } => "lookup_interrupted_jobs",
        Command::RecordInterruptedJob { .. } => "record_interrupted_job",
        Command::RerunJob { .. } => "rerun_job",
        Command::Launch(_) => "launch",
        Command::ProvisionRunner(_) => "provision_runner",
        Command::RetryMessage { .. } => "retry_message",
        Command::DiscardMessage { .. } => "discard_message",
        Command::ReleaseClaim { .. } => "release_claim",
        Command::TagInstance { .. } => "tag_instance",
        Command::UntagInstance { .. } => "untag_instance",
        Command::DeregisterRunner { .. } => "deregister_runner",
        Command::TerminateInstances { .. } => "terminate_instances",
        Command::DeleteParameter { .. } => "delete_parameter",
    }
}
