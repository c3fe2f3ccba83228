//! The input of one decision: what triggered it and what the shell observed.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{Fleet, Instance, QueuedJob, Runner};
use crate::time::Timestamp;

/// One invocation's view of the world. Each variant is one Lambda's trigger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "trigger", rename_all = "snake_case")]
pub enum Observation<'a> {
    /// An HTTP delivery from GitHub (API Gateway or function URL).
    Webhook(WebhookDelivery<'a>),
    /// A batch of build-queue messages, with the pool as it stands.
    ScaleUp(ScaleUpBatch<'a>),
    /// The scale-down schedule fired.
    ScaleDown { fleet: Fleet<'a> },
    /// A pool schedule fired, asking for `size` idle runners.
    Pool { size: u32, fleet: Fleet<'a> },
    /// EventBridge: a spot interruption warning or an instance state change.
    Interruption(InterruptionNotice),
}

/// The webhook secret: never printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery<'a> {
    /// `X-GitHub-Event`
    #[serde(default)]
    pub event: Option<String>,
    /// `X-GitHub-Delivery`
    #[serde(default)]
    pub delivery_id: Option<String>,
    /// `X-Hub-Signature-256`
    #[serde(default)]
    pub signature_256: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// The exact bytes GitHub signed (base64 already decoded by the shell).
    #[serde(with = "body_text")]
    pub body: Cow<'a, [u8]>,
    pub secret: Secret,
}

mod body_text {
    use std::borrow::Cow;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(body))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'static, [u8]>, D::Error> {
        Ok(Cow::Owned(String::deserialize(d)?.into_bytes()))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleUpBatch<'a> {
    pub messages: Vec<JobMessage>,
    #[serde(default)]
    pub fleet: Fleet<'a>,
    /// Live instances the shell counted but left out of `fleet.instances`. Scale-up reads the
    /// fleet for two things only: how many instances are live, and which were launched for a
    /// job of this batch. A Lambda describes the whole fleet and leaves this 0; the simulator
    /// keeps its instances indexed by job and describes only those of the batch's jobs, so a
    /// delivery does not walk thousands of unrelated instances.
    #[serde(default)]
    pub other_live_instances: u64,
}

/// One build-queue message and what the shell learned about its job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobMessage {
    pub message_id: String,
    pub job: QueuedJob,
    /// SQS ApproximateReceiveCount (1 on the first delivery).
    #[serde(default = "one")]
    pub receive_count: u32,
    /// GitHub's answer for the job, asked only when
    /// [`crate::policy::scale_up::wants_job_status`] says so.
    #[serde(default)]
    pub status: JobStatus,
    /// When this job's launch claim was written, if one exists.
    #[serde(default)]
    pub claimed_at: Option<Timestamp>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum JobStatus {
    /// The check is off for this pool.
    #[default]
    NotChecked,
    Queued,
    InProgress,
    Completed,
    /// GitHub answered 404.
    NotFound,
    /// The check failed (5xx, 429, timeout): the policy fails open.
    Unknown {
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InterruptionNotice {
    pub kind: InterruptionKind,
    pub instance_id: String,
    /// The instance as DescribeInstances shows it; `None` when it is not one of this pool's.
    #[serde(default)]
    pub instance: Option<Instance>,
    /// Its runner in GitHub's list, if registered.
    #[serde(default)]
    pub runner: Option<Runner>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterruptionKind {
    /// EC2 Spot Instance Interruption Warning: two minutes left.
    SpotWarning,
    /// EC2 Instance State-change Notification to shutting-down or terminated.
    Terminating,
}
