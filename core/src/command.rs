//! What the policy asks its shell to do. The shell performs each command and reports the ones
//! with an interesting result back through [`crate::Outcome`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{AllocationStrategy, CapacityType};
use crate::model::{JobRef, QueuedJob, RepoRef, RunnerOwner};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// The webhook's HTTP answer. The last one emitted is the answer.
    Respond { status: u16, message: String },
    /// Send the job to the build queue (which carries `delay_webhook_event`). Answer on failure:
    /// `EnqueueFailed`.
    Enqueue {
        job: QueuedJob,
        /// FIFO queues only: deduplication id and message group.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fifo: Option<FifoKeys>,
    },
    /// Ask GitHub for a job's labels (check_run events carry none). Answer: `JobLookedUp`.
    LookupJob {
        repo: RepoRef,
        job_id: u64,
        installation_id: Option<u64>,
    },
    /// Append the delivery's body to the job-event archive (what `flotilla replay` reads).
    ArchiveJobEvent { job_id: u64, action: String },
    /// Read the interrupted-job records of a run. Answer: `InterruptedJobsFound`.
    LookupInterruptedJobs {
        repo: RepoRef,
        run_id: u64,
        installation_id: Option<u64>,
    },
    /// Remember that a job was interrupted, to re-run it when its run completes.
    RecordInterruptedJob { parameter: String, job: JobRef },
    /// Re-run one job (and, as GitHub does, its dependents).
    RerunJob {
        repo: RepoRef,
        job_id: u64,
        installation_id: Option<u64>,
    },
    /// CreateFleet (type `instant`). Answer: `Launched`, `LaunchFailed` or `ClaimHeld`.
    Launch(Box<LaunchRequest>),
    /// Create the runner's JIT config or registration token and store it in SSM for the instance.
    /// Answer on failure: `ProvisionFailed`.
    ProvisionRunner(Box<RunnerProvision>),
    /// Leave the message for a later delivery (batch item failure with this visibility delay).
    RetryMessage {
        message_id: String,
        delay_seconds: u32,
        reason: String,
    },
    /// Done with the message without launching (it is deleted with the batch).
    DiscardMessage { message_id: String, reason: String },
    /// Delete a launch claim so a later delivery may launch.
    ReleaseClaim { parameter: String },
    TagInstance {
        instance_id: String,
        tags: BTreeMap<String, String>,
    },
    UntagInstance {
        instance_id: String,
        keys: Vec<String>,
    },
    /// DELETE the runner at GitHub. Answer: `Deregistered` or `DeregisterFailed`.
    DeregisterRunner {
        runner_id: u64,
        owner: RunnerOwner,
        /// The instance to terminate once GitHub has let go of the runner, if any.
        instance_id: Option<String>,
        reason: RemovalReason,
    },
    TerminateInstances {
        instance_ids: Vec<String>,
        reason: RemovalReason,
    },
    /// Delete an SSM parameter (a stale token, claim or record); absent is fine.
    DeleteParameter { name: String, reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FifoKeys {
    pub deduplication_id: String,
    pub group_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// Idle past the minimum running time and outside the idle quota.
    Idle,
    /// Never registered within `runner_boot_time_in_minutes`.
    Orphan,
    /// Older than `instance_max_lifetime_in_minutes`.
    MaxLifetime,
    /// Its runner could not be provisioned.
    ProvisionFailed,
    /// Its GitHub runner has no instance behind it any more.
    RunnerWithoutInstance,
    /// Spot interruption.
    Interrupted,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LaunchPurpose {
    Job {
        message_id: String,
        job: QueuedJob,
        receive_count: u32,
    },
    Pool {
        requested_at: crate::time::Timestamp,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaunchRequest {
    pub purpose: LaunchPurpose,
    pub owner: RunnerOwner,
    pub count: u32,
    /// Index into the launch options (0: the configured capacity type; 1: on-demand failover).
    pub option: u32,
    pub capacity_type: CapacityType,
    pub instance_types: Vec<String>,
    pub allocation_strategy: AllocationStrategy,
    pub max_spot_price: Option<String>,
    pub client_token: String,
    /// Tag specifications for the instances.
    pub tags: BTreeMap<String, String>,
    /// Put-if-absent this SSM parameter before launching; if it exists, answer `ClaimHeld`.
    pub claim: Option<Claim>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub parameter: String,
    /// Take over a stale claim left by a crashed invocation.
    pub overwrite: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerProvision {
    pub instance_id: String,
    pub owner: RunnerOwner,
    pub installation_id: Option<u64>,
    pub runner_name: String,
    pub labels: Vec<String>,
    pub runner_group: String,
    pub mode: RegistrationMode,
    pub ephemeral: bool,
    /// SSM SecureString the instance reads (and deletes) at boot.
    pub token_parameter: String,
    /// The launch this provisions, to retry its job if provisioning fails.
    pub purpose: LaunchPurpose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// generate-jitconfig: needs the runner group's id.
    JitConfig,
    RegistrationToken,
}
