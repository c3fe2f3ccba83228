//! The twin's machinery: the virtual clock, the AWS port that keeps moto's timestamps on it, the
//! event source mapping, the agent's cloud side, the simulator run and the comparison.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::sqs::SqsMessage;
use flotilla_core::command::LaunchRequest;
use flotilla_core::config::CapacityType;
use flotilla_core::cron::{parse_schedule_expression, Schedule};
use flotilla_core::model::Instance;
use flotilla_core::{naming, Config, Timestamp};
use flotilla_lambdas::aws::AwsClients;
use flotilla_lambdas::context::{AppGitHub, Context};
use flotilla_lambdas::contract::Function;
use flotilla_lambdas::github::RetryPolicy;
use flotilla_lambdas::handlers;
use flotilla_lambdas::metrics::Metrics;
use flotilla_lambdas::ports::{
    Aws, AwsError, FleetResult, LaunchTarget, Parameter, ParameterKind, PutResult, QueueMessage,
};
use flotilla_sim::engine::{replay, Scenario};
use flotilla_sim::report::percentile;
use flotilla_sim::rng::{Delay, SimRng};
use flotilla_sim::settings::{InterruptionModel, ScriptedInterruption, WorldSettings};
use flotilla_sim::trace::TraceJob;
use flotilla_testkit::agent::{Agent, AgentSettings, MachineInfo, Machines};
use flotilla_testkit::{JobState, Millis};

use crate::support::{World, MOTO_ACCOUNT, REGION, REPO, WEBHOOK_SECRET};

/// Count tolerance: instances launched, instance-seconds, jobs started.
pub const COUNT_TOLERANCE: f64 = 0.05;
/// Wait tolerance: p50 and p95 wait.
pub const WAIT_TOLERANCE: f64 = 0.10;
/// Below this many seconds a wait is compared absolutely (a percentile of a few seconds moves
/// by more than 10 % with one job's boot draw): |a − b| ≤ this.
pub const WAIT_FLOOR_SECONDS: f64 = 3.0;
/// The twin gives up this long (virtual) after the last job was queued.
const DRAIN_MS: i64 = 24 * 3_600_000;
/// Seed of both sides' boot and registration draws.
const SEED: u64 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Reusable,
    /// Ephemeral runners, and one scripted spot interruption ([`INTERRUPTION`]): both sides warn
    /// and reclaim the same instance at the same instant, while it runs a job.
    Ephemeral,
    /// Ephemeral runners of one instance type whose spot capacity is exhausted (the fault proxy
    /// answers InsufficientInstanceCapacity; the simulator's capacity rule makes it unavailable),
    /// with on-demand failover configured, and GitHub answering 429 to runner listings.
    Faults,
    /// What the `default` Terraform example deploys: its policy config, build-queue delay and
    /// scale-down schedule read from `terraform output -json` of the example applied to moto
    /// (`terraform/tests/run.sh --keep`; file in `FLOTILLA_TWIN_TF_OUTPUTS`).
    Deployed,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Reusable => "reusable",
            Variant::Ephemeral => "ephemeral",
            Variant::Faults => "faults",
            Variant::Deployed => "deployed",
        }
    }

    /// The contract defaults (`Config::default()`, what the module deploys unless told
    /// otherwise) with the region of moto and the price table, a maximum that lets a burst of
    /// the trace through, and the runner kind.
    pub fn config(self) -> serde_json::Value {
        if self == Variant::Deployed {
            let d = deployed();
            let mut c = d.config;
            // The example deploys to eu-west-1; the twin's moto answers in us-east-1 and the
            // built-in price table is us-east-1's. Nothing else in the policy reads the region.
            c["aws_region"] = REGION.into();
            return c;
        }
        let mut c = serde_json::json!({
            "aws_region": REGION,
            "runners_maximum_count": 30,
            "enable_ephemeral_runners": self != Variant::Reusable,
        });
        if self == Variant::Faults {
            c["instance_types"] = serde_json::json!([FAULT_TYPE]);
            c["enable_runner_on_demand_failover_for_errors"] =
                serde_json::json!(["InsufficientInstanceCapacity"]);
        }
        c
    }

    fn describe(self) -> &'static str {
        match self {
            Variant::Reusable => "reusable runners",
            Variant::Ephemeral => "ephemeral runners, one scripted spot interruption",
            Variant::Faults => "FAULTS: ephemeral, m5.large only, its spot capacity exhausted, on-demand failover, 6 GitHub 429s",
            Variant::Deployed => "DEPLOYED: the default Terraform example's config, queue delay and schedule (applied to moto)",
        }
    }

    /// What the simulator is told about the same faults.
    fn world(self) -> WorldSettings {
        let mut w = world_settings();
        if self == Variant::Ephemeral {
            w.scripted_interruptions = vec![INTERRUPTION];
        }
        if self == Variant::Faults {
            w.capacity = vec![flotilla_sim::settings::CapacityRule {
                instance_type: FAULT_TYPE.into(),
                capacity_type: Some("spot".into()),
                unavailable_probability: 1.0,
            }];
        }
        w
    }
}

/// What the applied `default` example says (see [`Variant::Deployed`]).
pub struct Deployed {
    pub config: serde_json::Value,
    pub queue_delay_seconds: u32,
    pub scale_down_schedule: String,
    pub pool_schedules: usize,
}

pub fn deployed_outputs() -> Option<PathBuf> {
    std::env::var("FLOTILLA_TWIN_TF_OUTPUTS")
        .ok()
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

pub fn deployed() -> Deployed {
    let path = deployed_outputs().expect("FLOTILLA_TWIN_TF_OUTPUTS names the outputs file");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let o: serde_json::Value = serde_json::from_str(&text).expect("terraform output -json");
    let config_json = o["config"]["value"]["json"]
        .as_str()
        .expect("output config.json");
    Deployed {
        config: serde_json::from_str(config_json).expect("the deployed config is JSON"),
        queue_delay_seconds: o["queues"]["value"]["build_queue"]["delay_seconds"]
            .as_u64()
            .expect("output queues.build_queue.delay_seconds") as u32,
        scale_down_schedule: o["schedules"]["value"]["scale_down"]["schedule_expression"]
            .as_str()
            .expect("output schedules.scale_down.schedule_expression")
            .to_string(),
        pool_schedules: o["schedules"]["value"]["pool"]
            .as_array()
            .map(Vec::len)
            .unwrap_or(0),
    }
}

/// The scripted spot interruption of the ephemeral run: the 3rd spot instance launched gets the
/// two-minute warning 3 minutes after its launch, while it runs its job on both sides (the first
/// two have finished theirs by then), and is reclaimed two minutes later.
const INTERRUPTION: ScriptedInterruption = ScriptedInterruption {
    launch: 2,
    warning_after_seconds: 180.0,
};
/// EC2's notice before a spot reclaim.
const SPOT_WARNING_MS: i64 = 120_000;

/// The instance type of the fault run, without spot capacity.
const FAULT_TYPE: &str = "m5.large";
/// GitHub answers this many runner listings with 429 (`retry-after: 1`) in the fault run.
const FAULT_GITHUB_429S: u32 = 6;

impl Variant {}

pub fn trace_path() -> Option<PathBuf> {
    let dir = std::env::var("FLOTILLA_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let p = dir.join("traces/bitcoin-core-gha-jobs-2025-09.csv");
    p.exists().then_some(p)
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `n` linux jobs of the trace from the `offset`-th, queued in order, with a run time, moved to
/// the fake's repository (the only one the twin's GitHub App is installed on).
pub fn slice(path: &PathBuf, offset: usize, n: usize) -> Vec<TraceJob> {
    let bytes = std::fs::read(path).expect("trace readable");
    let load = flotilla_sim::trace::parse_trace(&bytes, &path.display().to_string())
        .expect("trace parses");
    let mut jobs: Vec<TraceJob> = load
        .jobs
        .into_iter()
        .filter(|j| j.labels.iter().any(|l| l.eq_ignore_ascii_case("linux")))
        .filter(|j| j.duration_ms().is_some())
        .collect();
    jobs.sort_by_key(|j| (j.queued_at, j.job_id));
    let repo: Arc<str> = Arc::from(REPO);
    jobs.into_iter()
        .skip(offset)
        .take(n)
        .map(|mut j| {
            j.repo = repo.clone();
            // The twin seeds every job as a run of its own (queued at the job's queue time), so
            // the simulator's runs are one job each too: a run completes — and re-runs what an
            // interruption killed — when its job does.
            j.run_id = j.job_id;
            j
        })
        .collect()
}

/// A warm function's life on the virtual clock (fresh GitHub installation tokens).
const CONTEXT_LIFETIME_MS: i64 = 45 * 60_000;

/// The slice moved by whole days so that it starts after the system clock: virtual time then
/// runs ahead of the system clock, which octocrab judges token expiry by (a trace date in the
/// past would make it mint a token for every call). Whole days keep every cron phase, and the
/// simulator replays the same shifted jobs.
pub fn shift_to_now(mut jobs: Vec<TraceJob>) -> Vec<TraceJob> {
    const DAY: i64 = 86_400_000;
    let Some(first) = jobs.first().map(|j| j.queued_at.0) else {
        return jobs;
    };
    let now = flotilla_testkit::clock::system_now_ms();
    let days = ((now - first) / DAY + 1).max(0);
    let shift = days * DAY;
    for j in &mut jobs {
        j.queued_at = Timestamp(j.queued_at.0 + shift);
        j.started_at = j.started_at.map(|t| Timestamp(t.0 + shift));
        j.completed_at = j.completed_at.map(|t| Timestamp(t.0 + shift));
    }
    jobs
}

// ---------------------------------------------------------------- virtual clock and ledger

/// What happened when, on the virtual clock: moto stamps its own (real) times, the twin keeps
/// the virtual ones here and the AWS port hands those to the handlers.
#[derive(Default)]
struct Ledger {
    launched: BTreeMap<String, i64>,
    terminated: BTreeMap<String, i64>,
    /// Parameters written (claims, tokens), by name.
    written: BTreeMap<String, i64>,
    /// Receipt handle → visibility delay the policy asked for, seconds.
    retry_delay: HashMap<String, u32>,
    launch_errors: BTreeMap<String, u64>,
    failovers: u64,
    /// Spot instances in launch order (the scripted interruption picks one by its index).
    spot_launches: Vec<(String, i64)>,
    /// Every instance's place in launch order (CreateFleet's answer order within a call).
    launch_order: HashMap<String, usize>,
}

#[derive(Clone)]
struct TwinAws {
    inner: AwsClients,
    now: Arc<AtomicI64>,
    ledger: Arc<Mutex<Ledger>>,
}

impl TwinAws {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn stamp(&self, mut p: Parameter) -> Parameter {
        if let Some(t) = self.ledger.lock().unwrap().written.get(&p.name) {
            p.last_modified = Timestamp(*t);
        }
        p
    }

    fn stamp_instance(&self, mut i: Instance) -> Instance {
        if let Some(t) = self.ledger.lock().unwrap().launched.get(&i.id) {
            i.launch_time = Timestamp(*t);
        }
        i
    }
}

impl Aws for TwinAws {
    async fn get_parameter(
        &self,
        name: &str,
        decrypt: bool,
    ) -> Result<Option<Parameter>, AwsError> {
        Ok(self
            .inner
            .get_parameter(name, decrypt)
            .await?
            .map(|p| self.stamp(p)))
    }

    async fn get_parameters(&self, names: &[String]) -> Result<Vec<Parameter>, AwsError> {
        Ok(self
            .inner
            .get_parameters(names)
            .await?
            .into_iter()
            .map(|p| self.stamp(p))
            .collect())
    }

    async fn parameters_by_path(&self, path: &str) -> Result<Vec<Parameter>, AwsError> {
        Ok(self
            .inner
            .parameters_by_path(path)
            .await?
            .into_iter()
            .map(|p| self.stamp(p))
            .collect())
    }

    async fn put_parameter(
        &self,
        name: &str,
        value: &str,
        kind: ParameterKind<'_>,
        overwrite: bool,
    ) -> Result<PutResult, AwsError> {
        let r = self
            .inner
            .put_parameter(name, value, kind, overwrite)
            .await?;
        if r == PutResult::Written {
            self.ledger
                .lock()
                .unwrap()
                .written
                .insert(name.to_string(), self.now());
        }
        Ok(r)
    }

    async fn put_tagged_parameter(
        &self,
        name: &str,
        value: &str,
        kind: ParameterKind<'_>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.inner
            .put_tagged_parameter(name, value, kind, tags)
            .await?;
        self.ledger
            .lock()
            .unwrap()
            .written
            .insert(name.to_string(), self.now());
        Ok(())
    }

    async fn delete_parameter(&self, name: &str) -> Result<(), AwsError> {
        self.inner.delete_parameter(name).await
    }

    async fn send_message(&self, message: QueueMessage<'_>) -> Result<(), AwsError> {
        self.inner.send_message(message).await
    }

    /// The twin's event source mapping holds the messages and honours the delay on the virtual
    /// clock (moto's visibility timeout is real time).
    async fn change_visibility(
        &self,
        _queue_url: &str,
        receipt_handle: &str,
        seconds: u32,
    ) -> Result<(), AwsError> {
        self.ledger
            .lock()
            .unwrap()
            .retry_delay
            .insert(receipt_handle.to_string(), seconds);
        Ok(())
    }

    async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        metadata: BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.inner.put_object(bucket, key, body, metadata).await
    }

    async fn head_object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<BTreeMap<String, String>>, AwsError> {
        self.inner.head_object(bucket, key).await
    }

    async fn describe_instances(
        &self,
        prefix: &str,
        ids: Option<&[String]>,
    ) -> Result<Vec<Instance>, AwsError> {
        Ok(self
            .inner
            .describe_instances(prefix, ids)
            .await?
            .into_iter()
            .map(|i| self.stamp_instance(i))
            .collect())
    }

    async fn create_fleet(
        &self,
        request: &LaunchRequest,
        target: &LaunchTarget,
    ) -> Result<FleetResult, AwsError> {
        let r = self.inner.create_fleet(request, target).await;
        let now = self.now();
        let mut l = self.ledger.lock().unwrap();
        match &r {
            Ok(f) => {
                for id in &f.instance_ids {
                    l.launched.entry(id.clone()).or_insert(now);
                    let n = l.launch_order.len();
                    l.launch_order.entry(id.clone()).or_insert(n);
                    if request.capacity_type == CapacityType::Spot {
                        l.spot_launches.push((id.clone(), now));
                    }
                }
                if request.option > 0 {
                    l.failovers += f.instance_ids.len() as u64;
                }
                // As the simulator counts: a call that launched nothing, by its first code.
                if f.instance_ids.is_empty() {
                    if let Some(c) = f.error_codes.first() {
                        *l.launch_errors.entry(c.clone()).or_default() += 1;
                    }
                }
            }
            Err(e) => *l.launch_errors.entry(e.code_or_unknown()).or_default() += 1,
        }
        r
    }

    async fn tag_instance(
        &self,
        instance_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), AwsError> {
        self.inner.tag_instance(instance_id, tags).await
    }

    async fn untag_instance(&self, instance_id: &str, keys: &[String]) -> Result<(), AwsError> {
        self.inner.untag_instance(instance_id, keys).await
    }

    async fn terminate_instances(&self, instance_ids: &[String]) -> Result<(), AwsError> {
        self.inner.terminate_instances(instance_ids).await?;
        let now = self.now();
        let mut l = self.ledger.lock().unwrap();
        for id in instance_ids {
            l.terminated.entry(id.clone()).or_insert(now);
        }
        Ok(())
    }
}

type TwinCtx = Context<TwinAws, AppGitHub<TwinAws>>;

fn context(w: &World, aws: &TwinAws, f: Function) -> TwinCtx {
    context_counting(w, aws, f, Arc::new(AtomicU64::new(0)))
}

/// A context whose metric lines naming `Interruptions` are counted in `interruptions`.
fn context_counting(
    w: &World,
    aws: &TwinAws,
    f: Function,
    interruptions: Arc<AtomicU64>,
) -> TwinCtx {
    let settings = w.settings(f);
    let github = AppGitHub::new(
        aws.clone(),
        &settings,
        // Production's: 3 tries, rate-limit waits up to 5 s (real time; the virtual clock
        // stands still meanwhile), 200 ms backoff.
        RetryPolicy::default(),
    );
    let metrics = Metrics::new(
        "FlotillaTwin",
        f.name(),
        Arc::new(move |line: &str| {
            if line.contains(flotilla_lambdas::metrics::INTERRUPTIONS) {
                interruptions.fetch_add(1, Ordering::SeqCst);
            }
        }),
    );
    let now = aws.now.clone();
    Context::new(f, settings, aws.clone(), github, metrics)
        .with_account("aws", REGION, MOTO_ACCOUNT)
        .with_clock(Arc::new(move || Timestamp(now.load(Ordering::SeqCst))))
}

// ---------------------------------------------------------------- the agent's cloud side

struct Cloud {
    aws: TwinAws,
    prefix: String,
    /// moto's answer, kept while no instance was launched or terminated (every launch and
    /// termination goes through [`TwinAws`]): moto is single-threaded Python and DescribeInstances
    /// is its most expensive call.
    cached: Mutex<Option<(usize, Vec<MachineInfo>)>>,
}

impl Machines for Cloud {
    async fn live_instances(&self) -> Result<Vec<MachineInfo>, String> {
        let version = {
            let l = self.aws.ledger.lock().unwrap();
            l.launched.len() + l.terminated.len()
        };
        if let Some((v, list)) = self.cached.lock().unwrap().as_ref() {
            if *v == version {
                return Ok(list.clone());
            }
        }
        let all = self
            .aws
            .inner
            .describe_instances(&self.prefix, None)
            .await
            .map_err(|e| e.to_string())?;
        let mut list: Vec<MachineInfo> = all
            .into_iter()
            .filter(|i| i.state.is_live())
            .map(|i| MachineInfo {
                id: i.id,
                tags: BTreeMap::new(),
            })
            .collect();
        // In launch order, as the simulator draws boot delays: the agent draws for new
        // instances in the order it is given them, so the n-th instance launched gets the n-th
        // draw on both sides (and the scripted interruption's n-th spot launch is the same
        // machine on both sides).
        {
            let l = self.aws.ledger.lock().unwrap();
            list.sort_by_key(|m| l.launch_order.get(&m.id).copied().unwrap_or(usize::MAX));
        }
        *self.cached.lock().unwrap() = Some((version, list.clone()));
        Ok(list)
    }

    async fn take_token(&self, instance_id: &str) -> Result<Option<String>, String> {
        let name = naming::token_parameter(&self.prefix, instance_id);
        let p = self
            .aws
            .inner
            .get_parameter(&name, true)
            .await
            .map_err(|e| e.to_string())?;
        if p.is_some() {
            self.aws
                .inner
                .delete_parameter(&name)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(p.map(|p| p.value))
    }

    async fn terminate(&self, instance_id: &str) -> Result<(), String> {
        self.aws
            .terminate_instances(&[instance_id.to_string()])
            .await
            .map_err(|e| e.to_string())
    }
}

/// The world settings both sides are given: the simulator's measured boot and registration
/// distributions; every control-plane latency zero, because the twin's loop performs each
/// handler at one virtual instant (its real duration does not move the virtual clock); no
/// random interruptions, capacity errors or throttling.
pub fn world_settings() -> WorldSettings {
    let zero = Delay::constant(0.0);
    WorldSettings {
        webhook_delivery: zero.clone(),
        scale_up_start: zero.clone(),
        scale_up_base: zero.clone(),
        scale_up_per_launch: zero.clone(),
        schedule_observe: zero.clone(),
        job_assignment: zero,
        interruptions: InterruptionModel::None,
        timeline_points: 0,
        ..WorldSettings::default()
    }
}

// ---------------------------------------------------------------- the event source mapping

struct Held {
    record: SqsMessage,
    sent_at: i64,
    visible_at: i64,
    receives: u32,
}

/// Everything visible in moto moves into `held` (with a long visibility timeout, so moto never
/// redelivers in real time); the build queue's delay runs on the virtual clock.
async fn pull(w: &World, held: &mut Vec<Held>, now: i64, delay_ms: i64) {
    loop {
        let out = w
            .direct
            .sqs
            .receive_message()
            .queue_url(&w.queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(43_200)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        let msgs = out.messages();
        if msgs.is_empty() {
            return;
        }
        for m in msgs {
            let mut rec = SqsMessage::default();
            rec.message_id = m.message_id().map(str::to_string);
            rec.receipt_handle = m.receipt_handle().map(str::to_string);
            rec.body = m.body().map(str::to_string);
            held.push(Held {
                record: rec,
                sent_at: now,
                visible_at: now + delay_ms,
                receives: 0,
            });
        }
    }
}

/// What the Lambda event source mapping does, as the simulator models it: batches of up to
/// `batch_size` visible messages; with a batching window, a short batch waits until the oldest
/// message has been visible that long. Answers the next time it wants to poll.
async fn poll(
    w: &World,
    ctx: &TwinCtx,
    aws: &TwinAws,
    held: &mut Vec<Held>,
    now: i64,
    stats: &mut TwinStats,
) -> Option<i64> {
    let cfg = &w.config;
    let batch = cfg.lambda_event_source_mapping_batch_size as usize;
    let window =
        i64::from(cfg.lambda_event_source_mapping_maximum_batching_window_in_seconds) * 1000;
    loop {
        held.sort_by_key(|h| h.visible_at);
        let visible = held.iter().filter(|h| h.visible_at <= now).count();
        if visible == 0 {
            break;
        }
        if window > 0 && visible < batch {
            let oldest = held[0].visible_at;
            if oldest + window > now {
                return Some(oldest + window);
            }
        }
        let take = visible.min(batch);
        let drained: Vec<Held> = held.drain(..take).collect();
        // What SQS does before the function sees a message: retention expiry and redrive to
        // the dead-letter queue after maxReceiveCount receives (as the simulator models).
        let retention = i64::from(cfg.job_queue_retention_in_seconds) * 1000;
        let max_receive = cfg
            .redrive_build_queue
            .enabled
            .then_some(cfg.redrive_build_queue.max_receive_count)
            .flatten();
        let mut taken = Vec::new();
        for mut h in drained {
            h.receives += 1;
            if now - h.sent_at > retention || max_receive.is_some_and(|n| h.receives > n) {
                stats.dead_lettered += 1;
                let _ = w
                    .direct
                    .sqs
                    .delete_message()
                    .queue_url(&w.queue_url)
                    .receipt_handle(h.record.receipt_handle.clone().unwrap_or_default())
                    .send()
                    .await;
            } else {
                taken.push(h);
            }
        }
        if taken.is_empty() {
            continue;
        }
        let records: Vec<SqsMessage> = taken
            .iter()
            .map(|h| {
                let mut r = h.record.clone();
                r.attributes
                    .insert("ApproximateReceiveCount".into(), h.receives.to_string());
                r
            })
            .collect();
        stats.scale_up_invocations += 1;
        let failed: Vec<String> =
            match handlers::scale_up::handle(ctx, World::sqs_event(records)).await {
                Ok(resp) => resp
                    .batch_item_failures
                    .iter()
                    .map(|f| f.item_identifier.clone())
                    .collect(),
                Err(e) => {
                    stats.handler_errors.push(format!("scale-up: {e}"));
                    taken
                        .iter()
                        .filter_map(|h| h.record.message_id.clone())
                        .collect()
                }
            };
        for mut h in taken {
            let id = h.record.message_id.clone().unwrap_or_default();
            let receipt = h.record.receipt_handle.clone().unwrap_or_default();
            if failed.contains(&id) {
                stats.retried += 1;
                let delay = aws
                    .ledger
                    .lock()
                    .unwrap()
                    .retry_delay
                    .remove(&receipt)
                    .unwrap_or(WorldSettings::default().queue_visibility_timeout_seconds);
                h.visible_at = now + i64::from(delay) * 1000;
                held.push(h);
            } else {
                let _ = w
                    .direct
                    .sqs
                    .delete_message()
                    .queue_url(&w.queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await;
            }
        }
    }
    held.iter().map(|h| h.visible_at).filter(|t| *t > now).min()
}

/// Feeds what the fake GitHub emitted to the webhook handler, as GitHub posts it.
async fn deliver(
    ctx: &TwinCtx,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<flotilla_testkit::Delivery>,
    stats: &mut TwinStats,
) {
    while let Ok(d) = rx.try_recv() {
        let req = crate::support::delivery_request(&d);
        stats.webhooks += 1;
        match handlers::webhook::handle(ctx, &req).await {
            Ok(r) if r.status_code < 300 => {}
            Ok(r) => stats.handler_errors.push(format!(
                "webhook {} {}: HTTP {}",
                d.event, d.action, r.status_code
            )),
            Err(e) => stats
                .handler_errors
                .push(format!("webhook {} {}: {e}", d.event, d.action)),
        }
    }
}

/// Sends an EventBridge EC2 event to the termination watcher; a failure is the twin's to report.
async fn to_watcher(
    ctx: &TwinCtx,
    id: String,
    detail_type: &str,
    detail: serde_json::Value,
    stats: &mut TwinStats,
) {
    let event = serde_json::json!({
        "version": "0", "id": id, "source": "aws.ec2",
        "detail-type": detail_type, "detail": detail,
    });
    if let Err(e) = handlers::termination_watcher::handle(ctx, event).await {
        stats
            .handler_errors
            .push(format!("termination watcher ({detail_type}): {e}"));
    }
}

#[derive(Default)]
struct TwinStats {
    webhooks: u64,
    scale_up_invocations: u64,
    scale_down_invocations: u64,
    pool_invocations: u64,
    retried: u64,
    dead_lettered: u64,
    /// Instances the scripted interruptions reclaimed.
    reclaimed: u64,
    steps: u64,
    handler_errors: Vec<String>,
}

// ---------------------------------------------------------------- one side's numbers

#[derive(Clone, Debug, Default)]
pub struct Side {
    pub launched: f64,
    pub instance_seconds: f64,
    pub jobs_started: f64,
    pub p50: f64,
    pub p95: f64,
    pub mean_wait: f64,
    pub terminated_by: BTreeMap<String, u64>,
    pub launch_errors: BTreeMap<String, u64>,
    pub failovers: u64,
    pub interruptions: u64,
    pub interrupted_jobs: u64,
    pub reruns: u64,
}

pub struct VariantOutcome {
    pub table: String,
    pub failures: Vec<String>,
}

fn billed_seconds(launch: i64, end: i64) -> f64 {
    ((end - launch).max(60_000)) as f64 / 1000.0
}

pub async fn run_variant(moto: &str, trace: &PathBuf, variant: Variant) -> VariantOutcome {
    let (offset, jobs) = slice_from_env(trace);
    let scale: f64 = env_num("FLOTILLA_TWIN_SCALE", 0.0);
    let seed: u64 = env_num("FLOTILLA_TWIN_SEED", SEED);
    if let Ok(level) = std::env::var("FLOTILLA_TWIN_LOG") {
        flotilla_lambdas::logging::init(&level, std::io::stderr);
    }
    assert!(!jobs.is_empty(), "the trace slice is empty");
    let world_settings = variant.world();
    let mut failures = Vec::new();

    // ---- the twin
    let wall = std::time::Instant::now();
    if std::env::var("FLOTILLA_TWIN_OWNS_MOTO").is_ok_and(|v| v == "1") {
        // scripts/twin started this moto for the twin alone: forget the previous variant's
        // instances (moto filters DescribeInstances over every instance it holds).
        let url = format!("{moto}/moto-api/reset");
        let status = flotilla_testkit::client::request("POST", &url, &[], None)
            .await
            .map(|r| r.status);
        assert_eq!(status.ok(), Some(200), "moto reset at {url}");
    }
    let w = World::new(&format!("twin-{}", variant.name()), moto, variant.config()).await;
    let cfg: Config = w.config.clone();
    let start = jobs[0].queued_at.0;
    let last_queued = jobs.last().unwrap().queued_at.0;
    let now = Arc::new(AtomicI64::new(start));
    let aws = TwinAws {
        inner: w.aws.clone(),
        now: now.clone(),
        ledger: Arc::new(Mutex::new(Ledger::default())),
    };
    w.gh.clock().set(start - 1_000);
    w.gh.set_rate_limit(None, 1_000_000);
    w.gh.set_webhook(flotilla_testkit::seed::WebhookSpec {
        url: None,
        secret: Some(WEBHOOK_SECRET.into()),
        events: Some(vec!["workflow_job".into(), "workflow_run".into()]),
    });
    let mut rx = w.gh.subscribe_webhooks();
    if variant == Variant::Faults {
        w.proxy.state.faults.lock().unwrap().exhausted =
            vec![("spot".to_string(), FAULT_TYPE.to_string())];
        w.gh.inject_fault(
            flotilla_testkit::seed::FaultSpec::new("GET", "/repos/{owner}/{repo}/actions/runners")
                .status(429)
                .retry_after(1)
                .times(FAULT_GITHUB_429S),
        );
    }
    let mut durations: HashMap<String, Millis> = HashMap::new();
    for j in &jobs {
        let name = j.job_id.to_string();
        durations.insert(name.clone(), j.duration_ms().unwrap_or(0) as i64);
        w.gh.add_run(&flotilla_testkit::seed::RunSpec {
            repo: REPO.into(),
            created_at: Some(flotilla_testkit::clock::rfc3339(j.queued_at.0)),
            jobs: vec![flotilla_testkit::seed::JobSpec {
                name,
                labels: j.labels.to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .expect("run seeded");
    }
    let mut webhook_ctx = context(&w, &aws, Function::Webhook);
    let mut scale_up_ctx = context(&w, &aws, Function::ScaleUp);
    let mut scale_down_ctx = context(&w, &aws, Function::ScaleDown);
    let mut pool_ctx = context(&w, &aws, Function::Pool);
    let interruptions = Arc::new(AtomicU64::new(0));
    let mut watcher_ctx = context_counting(
        &w,
        &aws,
        Function::TerminationWatcher,
        interruptions.clone(),
    );
    let mut contexts_born = start;
    // The scripted interruptions: (instance, warning at, reclaim at, warned, reclaimed), once
    // the instance has been launched.
    let mut scripted: Vec<Option<(String, i64, bool, bool)>> =
        vec![None; world_settings.scripted_interruptions.len()];

    // Both sides draw boot and registration delays from the simulator's stream 1 in the order
    // the events happen, so equal event orders give equal draws.
    // FLOTILLA_TWIN_AGENT_SEED gives the agent its own draws: then only the distributions are
    // shared and the comparison is statistical (the tolerances' real test).
    let agent_seed: u64 = env_num("FLOTILLA_TWIN_AGENT_SEED", seed);
    let rng = Arc::new(Mutex::new(SimRng::fork(agent_seed, 1)));
    let (r1, r2) = (rng.clone(), rng.clone());
    let (boot, reg) = (
        world_settings.instance_boot.clone(),
        world_settings.runner_registration.clone(),
    );
    let cfg_for_name = cfg.clone();
    let mut agent = Agent::new(
        w.gh.clone(),
        Cloud {
            aws: aws.clone(),
            prefix: w.prefix.clone(),
            cached: Mutex::new(None),
        },
        AgentSettings {
            jit: cfg.jit_config(),
            ephemeral: cfg.enable_ephemeral_runners,
            labels: cfg.runner_extra_labels.clone(),
            runner_name: Box::new(move |id| naming::runner_name(&cfg_for_name, id)),
            boot_delay: Box::new(move || r1.lock().unwrap().sample(&boot)),
            registration_delay: Box::new(move || r2.lock().unwrap().sample(&reg)),
            ephemeral_shutdown_ms: (world_settings.ephemeral_shutdown.mean_seconds() * 1000.0)
                as i64,
            job_duration: Box::new(move |j| durations.get(&j.name).copied().unwrap_or(0)),
            token_wait_ms: i64::from(cfg.runner_boot_time_in_minutes) * 60_000,
        },
    );

    let scale_down: Schedule =
        parse_schedule_expression(&cfg.scale_down_schedule_expression, None).unwrap();
    let pools: Vec<(u32, Schedule)> = cfg
        .pool_config
        .iter()
        .map(|p| {
            (
                p.size,
                parse_schedule_expression(
                    &p.schedule_expression,
                    p.schedule_expression_timezone.as_deref(),
                )
                .unwrap(),
            )
        })
        .collect();
    let mut next_scale_down = scale_down.next_after(Timestamp(start)).map(|t| t.0);
    let mut next_pool: Vec<Option<i64>> = pools
        .iter()
        .map(|(_, s)| s.next_after(Timestamp(start)).map(|t| t.0))
        .collect();
    let queue_times: Vec<i64> = jobs.iter().map(|j| j.queued_at.0).collect();
    let mut delay_ms = i64::from(cfg.delay_webhook_event) * 1000;
    if variant == Variant::Deployed {
        // The queue's delay and the schedule as Terraform created them, not as the config says.
        let d = deployed();
        delay_ms = i64::from(d.queue_delay_seconds) * 1000;
        if d.queue_delay_seconds != cfg.delay_webhook_event {
            failures.push(format!(
                "deployed: the build queue's delay is {} s, the config's delay_webhook_event {} s",
                d.queue_delay_seconds, cfg.delay_webhook_event
            ));
        }
        if d.scale_down_schedule != cfg.scale_down_schedule_expression {
            failures.push(format!(
                "deployed: the scale-down schedule is {}, the config's {}",
                d.scale_down_schedule, cfg.scale_down_schedule_expression
            ));
        }
        if d.pool_schedules != cfg.pool_config.len() {
            failures.push(format!(
                "deployed: {} pool schedules for {} pool_config entries",
                d.pool_schedules,
                cfg.pool_config.len()
            ));
        }
    }
    let mut held: Vec<Held> = Vec::new();
    let mut stats = TwinStats::default();
    let mut pulled_at = 0;
    let mut t = start;
    let end;
    loop {
        stats.steps += 1;
        // Installation tokens live one hour of the fake's (virtual) clock while octocrab judges
        // them by the system clock: the functions start cold every 45 virtual minutes, as
        // Lambdas do, and mint fresh ones.
        if t - contexts_born > CONTEXT_LIFETIME_MS {
            webhook_ctx = context(&w, &aws, Function::Webhook);
            scale_up_ctx = context(&w, &aws, Function::ScaleUp);
            scale_down_ctx = context(&w, &aws, Function::ScaleDown);
            pool_ctx = context(&w, &aws, Function::Pool);
            watcher_ctx = context_counting(
                &w,
                &aws,
                Function::TerminationWatcher,
                interruptions.clone(),
            );
            contexts_born = t;
        }
        now.store(t, Ordering::SeqCst);
        w.gh.clock().set(t);
        w.gh.tick();
        deliver(&webhook_ctx, &mut rx, &mut stats).await;
        // Only the webhook handler sends to the build queue.
        if stats.webhooks > pulled_at {
            pull(&w, &mut held, t, delay_ms).await;
            pulled_at = stats.webhooks;
        }
        let mut next_poll = poll(&w, &scale_up_ctx, &aws, &mut held, t, &mut stats).await;
        // The scripted spot interruptions: EventBridge's warning to the termination watcher,
        // two minutes later EC2 reclaims the instance (the agent then sees it gone: its runner
        // drops offline, GitHub fails the job after its lost-runner timeout) and EventBridge's
        // state change reaches the watcher.
        for (i, s) in world_settings.scripted_interruptions.iter().enumerate() {
            if scripted[i].is_none() {
                let launched = aws
                    .ledger
                    .lock()
                    .unwrap()
                    .spot_launches
                    .get(s.launch as usize)
                    .cloned();
                if let Some((id, at)) = launched {
                    let warn = at + (s.warning_after_seconds * 1000.0) as i64;
                    scripted[i] = Some((id, warn, false, false));
                }
            }
            let Some((id, warn, warned, reclaimed)) = scripted[i].as_mut() else {
                continue;
            };
            let live = !aws
                .ledger
                .lock()
                .unwrap()
                .terminated
                .contains_key(id.as_str());
            if !*warned && *warn <= t {
                *warned = true;
                if live {
                    let detail =
                        serde_json::json!({"instance-id": id, "instance-action": "terminate"});
                    let kind = "EC2 Spot Instance Interruption Warning";
                    to_watcher(
                        &watcher_ctx,
                        format!("twin-warning-{i}"),
                        kind,
                        detail,
                        &mut stats,
                    )
                    .await;
                } else {
                    *reclaimed = true;
                }
            }
            if *warned && !*reclaimed && *warn + SPOT_WARNING_MS <= t {
                *reclaimed = true;
                if live {
                    if let Err(e) = aws.terminate_instances(std::slice::from_ref(id)).await {
                        stats.handler_errors.push(format!("reclaiming {id}: {e}"));
                    }
                    stats.reclaimed += 1;
                    let detail = serde_json::json!({"instance-id": id, "state": "terminated"});
                    let kind = "EC2 Instance State-change Notification";
                    to_watcher(
                        &watcher_ctx,
                        format!("twin-reclaim-{i}"),
                        kind,
                        detail,
                        &mut stats,
                    )
                    .await;
                }
            }
        }
        agent.step(t).await;
        deliver(&webhook_ctx, &mut rx, &mut stats).await;
        // A job that runs 0 s (cancelled in the trace) is due at the instant it starts.
        let mut passes = 0;
        while agent.next_due().is_some_and(|d| d <= t) && passes < 10 {
            agent.step(t).await;
            deliver(&webhook_ctx, &mut rx, &mut stats).await;
            passes += 1;
        }
        let mut scheduled = false;
        if next_scale_down.is_some_and(|s| s <= t) {
            stats.scale_down_invocations += 1;
            if let Err(e) = handlers::scale_down::handle(&scale_down_ctx).await {
                stats.handler_errors.push(format!("scale-down: {e}"));
            }
            next_scale_down = scale_down.next_after(Timestamp(t)).map(|x| x.0);
            scheduled = true;
        }
        for (i, (size, sched)) in pools.iter().enumerate() {
            if next_pool[i].is_some_and(|s| s <= t) {
                stats.pool_invocations += 1;
                if let Err(e) =
                    handlers::pool::handle(&pool_ctx, serde_json::json!({"pool_size": size})).await
                {
                    stats.handler_errors.push(format!("pool: {e}"));
                }
                next_pool[i] = sched.next_after(Timestamp(t)).map(|x| x.0);
                scheduled = true;
            }
        }
        if scheduled {
            if let Some(p) = poll(&w, &scale_up_ctx, &aws, &mut held, t, &mut stats).await {
                next_poll = Some(next_poll.map_or(p, |q| q.min(p)));
            }
            agent.step(t).await;
            deliver(&webhook_ctx, &mut rx, &mut stats).await;
        }
        // Done when nothing can change any more: no message left, no instance, and every job
        // completed — or, without a pool to launch for them, left queued (their messages were
        // dead-lettered: both sides count them as never started).
        let all_done = t >= last_queued
            && held.is_empty()
            && (pools.is_empty() || w.gh.jobs().iter().all(|j| j.state == JobState::Completed));
        let live = {
            let l = aws.ledger.lock().unwrap();
            l.launched
                .keys()
                .filter(|id| !l.terminated.contains_key(*id))
                .count()
        };
        let live_agent = agent
            .records()
            .values()
            .filter(|r| r.gone_at.is_none())
            .count();
        if all_done && live == 0 && live_agent == 0 {
            end = t;
            break;
        }
        if t > last_queued + DRAIN_MS {
            failures.push(format!(
                "{}: the twin did not drain within {} h of the last job ({live} instances live)",
                variant.name(),
                DRAIN_MS / 3_600_000
            ));
            end = t;
            break;
        }
        let candidates = [
            queue_times.iter().copied().find(|q| *q > t),
            agent.next_due(),
            next_poll,
            held.iter().map(|h| h.visible_at).filter(|v| *v > t).min(),
            next_scale_down,
        ];
        // The warning, the reclaim, and GitHub failing the lost runner's job (the fake's
        // lost-runner timeout, 600 s, is the simulator's `lost_runner_job_timeout_seconds`): the
        // fake only does what is due when the loop steps there.
        let lost_ms = (world_settings.lost_runner_job_timeout_seconds * 1000.0) as i64;
        let interruption_times =
            scripted
                .iter()
                .flatten()
                .filter_map(|(_, warn, warned, reclaimed)| {
                    let reclaim = *warn + SPOT_WARNING_MS;
                    if !*warned {
                        Some(*warn)
                    } else if !*reclaimed {
                        Some(reclaim)
                    } else if reclaim + lost_ms > t {
                        Some(reclaim + lost_ms)
                    } else {
                        None
                    }
                });
        let next = candidates
            .into_iter()
            .flatten()
            .chain(interruption_times)
            .chain(next_pool.iter().flatten().copied())
            .filter(|x| *x > t)
            .min()
            .unwrap_or(t + 60_000);
        if std::env::var("FLOTILLA_TWIN_DEBUG").is_ok() {
            let states: Vec<String> = agent
                .records()
                .values()
                .filter(|r| r.gone_at.is_none())
                .map(|r| format!("{} {:?}", r.id, r.state))
                .collect();
            crate::support::report(&format!(
                "step {t} +{} s → +{} s; due {:?} {:?}; {:?}",
                (t - start) / 1000,
                (next - start) / 1000,
                agent.next_due().map(|d| (d - start) / 1000),
                agent.next_due(),
                states
            ));
        }
        if scale > 0.0 {
            let real = ((next - t) as f64 / scale / 1000.0).min(5.0);
            tokio::time::sleep(std::time::Duration::from_secs_f64(real)).await;
        }
        t = next;
    }
    let twin_wall = wall.elapsed();
    if std::env::var("FLOTILLA_TWIN_DEBUG").is_ok() {
        for r in agent.records().values() {
            crate::support::report(&format!(
                "instance {} seen +{} s, registered {:?}, gone {:?}, launched(ledger) {:?}, state {:?}",
                r.id,
                (r.seen_at - start) / 1000,
                r.registered_at.map(|x| (x - start) / 1000),
                r.gone_at.map(|x| (x - start) / 1000),
                aws.ledger.lock().unwrap().launched.get(&r.id).map(|x| (x - start) / 1000),
                r.state
            ));
        }
        for j in w.gh.jobs() {
            crate::support::report(&format!(
                "job {} queued +{} s started {:?} completed {:?} runner {:?}",
                j.name,
                (j.created_at - start) / 1000,
                j.started_at.map(|x| (x - start) / 1000),
                j.completed_at.map(|x| (x - start) / 1000),
                j.runner_name
            ));
        }
    }

    // Twin numbers.
    let gh_jobs = w.gh.jobs();
    let mut waits: Vec<f64> = gh_jobs
        .iter()
        .filter(|j| j.run_attempt == 1)
        .filter_map(|j| j.started_at.map(|s| (s - j.created_at) as f64 / 1000.0))
        .collect();
    waits.sort_by(f64::total_cmp);
    let twin = {
        let ledger = aws.ledger.lock().unwrap();
        let mut twin = Side {
            launched: ledger.launched.len() as f64,
            instance_seconds: ledger
                .launched
                .iter()
                .map(|(id, l)| {
                    billed_seconds(*l, ledger.terminated.get(id).copied().unwrap_or(end))
                })
                .sum(),
            jobs_started: waits.len() as f64,
            p50: percentile(&waits, 50.0),
            p95: percentile(&waits, 95.0),
            mean_wait: waits.iter().sum::<f64>() / waits.len().max(1) as f64,
            launch_errors: ledger.launch_errors.clone(),
            failovers: ledger.failovers,
            interruptions: interruptions.load(Ordering::SeqCst),
            interrupted_jobs: gh_jobs
                .iter()
                .filter(|j| j.conclusion.as_deref() == Some("failure"))
                .count() as u64,
            reruns: gh_jobs.iter().filter(|j| j.run_attempt > 1).count() as u64,
            ..Side::default()
        };
        let by_agent = agent
            .records()
            .values()
            .filter(|r| r.terminated_by_agent)
            .count() as u64;
        twin.terminated_by
            .insert("agent (ephemeral done)".into(), by_agent);
        twin.terminated_by.insert(
            "handlers".into(),
            ledger.terminated.len() as u64 - by_agent - stats.reclaimed,
        );
        if stats.reclaimed > 0 {
            twin.terminated_by
                .insert("spot reclaim (scripted)".into(), stats.reclaimed);
        }
        twin
    };

    // Leaks and errors.
    let live = w.live_instances().await;
    if !live.is_empty() {
        failures.push(format!(
            "{}: {} instances leaked: {:?}",
            variant.name(),
            live.len(),
            live.iter().map(|i| &i.id).collect::<Vec<_>>()
        ));
    }
    let tokens = w.token_parameters().await;
    if !tokens.is_empty() {
        failures.push(format!(
            "{}: {} tokens leaked: {tokens:?}",
            variant.name(),
            tokens.len()
        ));
    }
    for e in stats.handler_errors.iter().take(5) {
        failures.push(format!("{}: handler error: {e}", variant.name()));
    }
    for e in agent.errors().iter().take(5) {
        failures.push(format!("{}: agent error: {e}", variant.name()));
    }
    let vf = w.gh.validation_failures();
    if !vf.is_empty() {
        failures.push(format!("{}: OpenAPI violations: {vf:?}", variant.name()));
    }

    // ---- the simulator
    let mut book = flotilla_sim::demo::demo_price_book();
    book.align_to(jobs[0].queued_at, jobs.last().unwrap().queued_at);
    let scenario = Scenario {
        config: cfg.clone(),
        world: world_settings.clone(),
        prices: book,
        jobs: jobs.clone(),
        seed,
        trace_description: "twin slice".into(),
        prices_description: "built-in".into(),
        notes: Vec::new(),
    };
    let sim_wall = std::time::Instant::now();
    let out = replay(&scenario).expect("simulator runs");
    let sim_wall = sim_wall.elapsed();
    let r = &out.report;
    let sim = Side {
        launched: r.instances.launched as f64,
        instance_seconds: r.instances.billed_instance_hours * 3600.0,
        jobs_started: out.waits.len() as f64,
        p50: r.wait_seconds.p50,
        p95: r.wait_seconds.p95,
        mean_wait: r.wait_seconds.mean,
        terminated_by: r.instances.terminated.clone(),
        launch_errors: r.instances.launch_errors.clone(),
        failovers: r.instances.failovers,
        interruptions: r.interruptions,
        interrupted_jobs: r.jobs.interrupted,
        reruns: r.jobs.reruns,
    };

    // ---- side by side
    let mut table = String::new();
    let span_h = (last_queued - start) as f64 / 3_600_000.0;
    let _ = writeln!(
        table,
        "\n==== twin vs simulator: {}, {} linux jobs of the trace from #{offset} ({:.1} h of queueing, {})",
        variant.describe(),
        jobs.len(),
        span_h,
        flotilla_testkit::clock::rfc3339(start),
    );
    let _ = writeln!(
        table,
        "config: {} — runners_maximum_count {}, delay_webhook_event {} s, scale-down {}, minimum_running_time {:?} min, jit {}",
        if variant == Variant::Deployed {
            "terraform output of examples/default applied to moto"
        } else {
            "contract defaults +"
        },
        cfg.runners_maximum_count,
        cfg.delay_webhook_event,
        cfg.scale_down_schedule_expression,
        cfg.minimum_running_time_in_minutes,
        cfg.jit_config()
    );
    let _ = writeln!(
        table,
        "{:<20} {:>12} {:>12} {:>10} {:>9}  check",
        "metric", "twin", "simulator", "diff", "diff %"
    );
    let rows: [(&str, f64, f64, bool); 5] = [
        ("instances launched", twin.launched, sim.launched, false),
        (
            "instance-seconds",
            twin.instance_seconds,
            sim.instance_seconds,
            false,
        ),
        ("jobs started", twin.jobs_started, sim.jobs_started, false),
        ("p50 wait (s)", twin.p50, sim.p50, true),
        ("p95 wait (s)", twin.p95, sim.p95, true),
    ];
    for (name, a, b, is_wait) in rows {
        let diff = a - b;
        let rel = if b.abs() > 0.0 {
            diff / b
        } else if a == 0.0 {
            0.0
        } else {
            1.0
        };
        let ok = if is_wait {
            rel.abs() <= WAIT_TOLERANCE || diff.abs() <= WAIT_FLOOR_SECONDS
        } else {
            rel.abs() <= COUNT_TOLERANCE
        };
        let tol = if is_wait {
            format!(
                "≤ {:.0} % or ≤ {WAIT_FLOOR_SECONDS} s",
                WAIT_TOLERANCE * 100.0
            )
        } else {
            format!("≤ {:.0} %", COUNT_TOLERANCE * 100.0)
        };
        let _ = writeln!(
            table,
            "{name:<20} {a:>12.1} {b:>12.1} {diff:>10.1} {:>8.1}%  {} ({tol})",
            rel * 100.0,
            if ok { "ok" } else { "DRIFT" }
        );
        if !ok {
            failures.push(format!(
                "{}: {name}: twin {a:.1} vs simulator {b:.1} ({:+.1} %, tolerance {tol})",
                variant.name(),
                rel * 100.0
            ));
        }
    }
    let _ = writeln!(
        table,
        "{:<20} {:>12.1} {:>12.1}   (not checked)",
        "mean wait (s)", twin.mean_wait, sim.mean_wait
    );
    {
        let (a, b) = (stats.dead_lettered, r.jobs.dead_lettered);
        let ok = (a as f64 - b as f64).abs() <= COUNT_TOLERANCE * (b.max(a) as f64);
        let _ = writeln!(
            table,
            "{:<20} {a:>12} {b:>12} {:>10}           {} (≤ 5 %)",
            "messages dead-lettered",
            a as i64 - b as i64,
            if ok { "ok" } else { "DRIFT" }
        );
        if !ok {
            failures.push(format!(
                "{}: messages dead-lettered: twin {a} vs simulator {b}",
                variant.name()
            ));
        }
    }
    if variant == Variant::Faults {
        let twin_ice = twin
            .launch_errors
            .get("InsufficientInstanceCapacity")
            .copied()
            .unwrap_or(0);
        let sim_ice = sim
            .launch_errors
            .get("InsufficientInstanceCapacity")
            .copied()
            .unwrap_or(0);
        let answered_429 = w.gh.requests().iter().filter(|r| r.status == 429).count();
        for (name, a, b) in [
            ("on-demand failovers", twin.failovers, sim.failovers),
            ("spot launches ICE", twin_ice, sim_ice),
        ] {
            let ok = a == b && a > 0;
            let _ = writeln!(
                table,
                "{name:<20} {a:>12} {b:>12} {:>10}           {} (equal, > 0)",
                a as i64 - b as i64,
                if ok { "ok" } else { "DRIFT" }
            );
            if !ok {
                failures.push(format!(
                    "{}: {name}: twin {a} vs simulator {b} (must be equal and > 0)",
                    variant.name()
                ));
            }
        }
        let _ = writeln!(
            table,
            "GitHub 429s answered {answered_429} (simulator: no rate-limit answers modelled; the client's retries absorb them)"
        );
        if answered_429 != FAULT_GITHUB_429S as usize {
            failures.push(format!(
                "{}: {answered_429} GitHub 429s answered, {FAULT_GITHUB_429S} injected",
                variant.name()
            ));
        }
    }
    if !world_settings.scripted_interruptions.is_empty() {
        let n = world_settings.scripted_interruptions.len() as u64;
        for (name, a, b) in [
            ("spot interruptions", twin.interruptions, sim.interruptions),
            (
                "jobs interrupted",
                twin.interrupted_jobs,
                sim.interrupted_jobs,
            ),
            ("jobs re-run", twin.reruns, sim.reruns),
        ] {
            let ok = a == b && a == n;
            let _ = writeln!(
                table,
                "{name:<20} {a:>12} {b:>12} {:>10}           {} (equal, = {n} scripted)",
                a as i64 - b as i64,
                if ok { "ok" } else { "DRIFT" }
            );
            if !ok {
                failures.push(format!(
                    "{}: {name}: twin {a} vs simulator {b} (must be equal, = {n} scripted)",
                    variant.name()
                ));
            }
        }
    }
    let _ = writeln!(
        table,
        "terminations: twin {:?}; simulator {:?}",
        twin.terminated_by, sim.terminated_by
    );
    let _ = writeln!(
        table,
        "launch errors: twin {:?}, failovers {}; simulator {:?}, failovers {}",
        twin.launch_errors, twin.failovers, sim.launch_errors, sim.failovers
    );
    let _ = writeln!(
        table,
        "twin: {} steps, {} webhooks, {} scale-up / {} scale-down / {} pool invocations, {} messages retried, leaked instances {}, leaked tokens {}; wall {:.1} s (simulator {:.3} s)",
        stats.steps,
        stats.webhooks,
        stats.scale_up_invocations,
        stats.scale_down_invocations,
        stats.pool_invocations,
        stats.retried,
        live.len(),
        tokens.len(),
        twin_wall.as_secs_f64(),
        sim_wall.as_secs_f64()
    );
    VariantOutcome { table, failures }
}

/// p50/p95 wait of the simulator for seeds `1..=seeds`, relative to seed 1 (see
/// `simulator_seed_spread`).
pub fn seed_spread(trace: &PathBuf, variant: Variant, seeds: u64) -> String {
    let (_, jobs) = slice_from_env(trace);
    let mut c = variant.config();
    c["prefix"] = "twin-spread".into();
    let cfg = Config::from_value(c).expect("config");
    let mut book = flotilla_sim::demo::demo_price_book();
    book.align_to(jobs[0].queued_at, jobs.last().unwrap().queued_at);
    let mut rows = Vec::new();
    for seed in 1..=seeds {
        let scenario = Scenario {
            config: cfg.clone(),
            world: variant.world(),
            prices: book.clone(),
            jobs: jobs.clone(),
            seed,
            trace_description: "twin slice".into(),
            prices_description: "built-in".into(),
            notes: Vec::new(),
        };
        let r = replay(&scenario).expect("simulator runs").report;
        rows.push((
            seed,
            r.wait_seconds.p50,
            r.wait_seconds.p95,
            r.instances.launched,
        ));
    }
    let (b50, b95) = (rows[0].1, rows[0].2);
    let rel = |a: f64, b: f64| if b > 0.0 { (a - b) / b * 100.0 } else { 0.0 };
    let max50 = rows.iter().map(|r| rel(r.1, b50).abs()).fold(0.0, f64::max);
    let max95 = rows.iter().map(|r| rel(r.2, b95).abs()).fold(0.0, f64::max);
    let beyond = rows
        .iter()
        .filter(|r| {
            rel(r.1, b50).abs() > WAIT_TOLERANCE * 100.0
                || rel(r.2, b95).abs() > WAIT_TOLERANCE * 100.0
        })
        .count();
    let mut out = format!(
        "simulator vs itself, {} jobs, {}: seed 1 p50 {b50:.1} s, p95 {b95:.1} s; over seeds 1..={seeds} the largest move is {max50:.1} % (p50) and {max95:.1} % (p95); {beyond} of {seeds} seeds are beyond the 10 % wait tolerance\n",
        jobs.len(),
        variant.name()
    );
    for (seed, p50, p95, launched) in rows {
        out.push_str(&format!(
            "  seed {seed:>2}: p50 {p50:>7.1} s ({:+5.1} %), p95 {p95:>7.1} s ({:+5.1} %), launched {launched}\n",
            rel(p50, b50),
            rel(p95, b95)
        ));
    }
    out
}

/// The slice both sides run: `FLOTILLA_TWIN_JOBS` linux jobs (default 80) from the
/// `FLOTILLA_TWIN_OFFSET`-th (default 3000), moved past the system clock; with the offset.
fn slice_from_env(trace: &PathBuf) -> (usize, Vec<TraceJob>) {
    let n: usize = env_num("FLOTILLA_TWIN_JOBS", 80);
    let offset: usize = env_num("FLOTILLA_TWIN_OFFSET", 3000);
    (offset, shift_to_now(slice(trace, offset, n)))
}
