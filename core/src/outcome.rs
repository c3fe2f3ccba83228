//! What happened when the shell performed a command that needs a follow-up decision.

use serde::{Deserialize, Serialize};

use crate::command::{LaunchRequest, RemovalReason, RunnerProvision};
use crate::model::{RepoRef, RunnerOwner};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// SQS refused the job: the webhook must not claim it was queued (GitHub does not redeliver).
    EnqueueFailed { job_id: u64, reason: String },
    JobLookedUp {
        repo: RepoRef,
        job_id: u64,
        installation_id: Option<u64>,
        result: JobLookup,
    },
    /// The launch claim already existed: another delivery of the same job is launching.
    ClaimHeld { request: Box<LaunchRequest> },
    Launched {
        request: Box<LaunchRequest>,
        instance_ids: Vec<String>,
    },
    /// CreateFleet launched nothing; `error_codes` from its `Errors` (or the API error).
    LaunchFailed {
        request: Box<LaunchRequest>,
        error_codes: Vec<String>,
    },
    ProvisionFailed {
        provision: Box<RunnerProvision>,
        reason: String,
    },
    Deregistered {
        runner_id: u64,
        owner: RunnerOwner,
        instance_id: Option<String>,
        reason: RemovalReason,
    },
    DeregisterFailed {
        runner_id: u64,
        owner: RunnerOwner,
        instance_id: Option<String>,
        /// GitHub answered 422: the runner is running a job.
        busy: bool,
        reason: String,
    },
    InterruptedJobsFound {
        repo: RepoRef,
        run_id: u64,
        installation_id: Option<u64>,
        jobs: Vec<InterruptedJob>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "found", rename_all = "snake_case")]
pub enum JobLookup {
    Found {
        run_id: u64,
        run_attempt: u32,
        labels: Vec<String>,
        status: String,
    },
    NotFound,
    Failed {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterruptedJob {
    pub job_id: u64,
    /// The record's SSM parameter, to forget it.
    pub parameter: String,
    /// The job's conclusion now, if the shell read it (`success` needs no re-run).
    pub conclusion: Option<String>,
}
