//! What the policy can observe: EC2 instances with their tags, GitHub runners, SSM parameters,
//! build-queue messages. Each is exactly what a stateless Lambda can read from AWS or GitHub; the
//! simulator builds the same values from its world.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::config::CapacityType;
use crate::time::Timestamp;

/// A repository, with its owner's kind (runners register at the org or at the repo).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RepoRef {
    pub owner: String,
    pub name: String,
    #[serde(default)]
    pub owner_type: OwnerType,
}

impl RepoRef {
    pub fn full_name(&self) -> String {
        let mut out = String::with_capacity(self.owner.len() + 1 + self.name.len());
        out.push_str(&self.owner);
        out.push('/');
        out.push_str(&self.name);
        out
    }
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum OwnerType {
    #[default]
    Organization,
    User,
}

/// A job waiting for a runner: the build-queue message body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedJob {
    pub job_id: u64,
    pub run_id: u64,
    #[serde(default = "one")]
    pub run_attempt: u32,
    pub repo: RepoRef,
    /// Absent in some payloads: the shell then asks GitHub for the repo's installation.
    #[serde(default)]
    pub installation_id: Option<u64>,
    pub labels: Vec<String>,
    #[serde(default)]
    pub queued_at: Option<Timestamp>,
}

fn one() -> u32 {
    1
}

/// Where a runner registers: an organization, or one repository.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum RunnerOwner {
    Org(String),
    Repo(String),
}

impl RunnerOwner {
    /// The tag value: `org` or `owner/repo`.
    pub fn tag_value(&self) -> &str {
        match self {
            RunnerOwner::Org(o) | RunnerOwner::Repo(o) => o,
        }
    }
    pub fn from_tag_value(value: &str) -> Self {
        if value.contains('/') {
            RunnerOwner::Repo(value.to_string())
        } else {
            RunnerOwner::Org(value.to_string())
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Stopping,
    Stopped,
    Terminated,
}

impl InstanceState {
    /// Pending and running instances count against the maximum and cost money.
    pub fn is_live(self) -> bool {
        matches!(self, InstanceState::Pending | InstanceState::Running)
    }
}

/// An EC2 instance of this pool, as DescribeInstances shows it, tags already parsed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    pub state: InstanceState,
    pub launch_time: Timestamp,
    #[serde(default)]
    pub instance_type: String,
    #[serde(default = "spot")]
    pub capacity_type: CapacityType,
    #[serde(default)]
    pub tags: InstanceTags,
}

fn spot() -> CapacityType {
    CapacityType::Spot
}

/// The policy's memory: tags it wrote on earlier invocations (see [`crate::tags`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceTags {
    #[serde(default)]
    pub owner: Option<RunnerOwner>,
    /// The job it was launched for; `None` for pool instances.
    #[serde(default)]
    pub launched_for: Option<u64>,
    #[serde(default)]
    pub run_attempt: Option<u32>,
    #[serde(default)]
    pub orphan_since: Option<Timestamp>,
    #[serde(default)]
    pub current_job: Option<JobRef>,
    #[serde(default)]
    pub interrupted_at: Option<Timestamp>,
    #[serde(default)]
    pub deregister_pending: Option<Timestamp>,
}

impl InstanceTags {
    /// The job attempt (job id, run attempt) the instance was launched for: scale-up matches a
    /// queued job to it, an absent attempt tag reading as the first attempt.
    pub fn launched_for_attempt(&self) -> Option<(u64, u32)> {
        self.launched_for
            .map(|job| (job, self.run_attempt.unwrap_or(1)))
    }
}

/// A job of a workflow run, enough to re-run it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobRef {
    /// `owner/repo`
    pub repo: String,
    pub run_id: u64,
    pub job_id: u64,
}

/// A self-hosted runner as GitHub's runner list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runner {
    pub id: u64,
    pub name: String,
    pub online: bool,
    pub busy: bool,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Which runner list it came from.
    pub owner: RunnerOwner,
}

/// An SSM parameter holding a runner's registration token or JIT config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenParameter {
    pub name: String,
    pub instance_id: String,
    pub last_modified: Timestamp,
}

/// A launch claim: the put-if-absent record of one job attempt's launch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimParameter {
    pub name: String,
    pub claimed_at: Timestamp,
}

/// Everything scale-down, pool and scale-up look at: the pool's instances, the runners GitHub
/// lists for their owners, and the token parameters in SSM.
///
/// Borrowed where the simulator keeps these in its world already, owned where a Lambda or a
/// scenario table builds them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Fleet<'a> {
    #[serde(default)]
    pub instances: Cow<'a, [Instance]>,
    #[serde(default)]
    pub runners: Cow<'a, [Runner]>,
    /// Owners whose runner list could not be read this time: their instances are left alone,
    /// since "no runner" would be a guess.
    #[serde(default)]
    pub unlisted_owners: Vec<RunnerOwner>,
    #[serde(default)]
    pub tokens: Cow<'a, [TokenParameter]>,
    /// Launch claims in SSM (for the sweep of old ones).
    #[serde(default)]
    pub claims: Cow<'a, [ClaimParameter]>,
}

impl Fleet<'_> {
    pub fn live_instances(&self) -> impl Iterator<Item = &Instance> {
        self.instances.iter().filter(|i| i.state.is_live())
    }
}
