//! The discrete-event simulation: virtual time in integer milliseconds, events ordered by
//! (time, sequence), a seeded RNG, and the world around the policy. The simulator never decides:
//! every decision is `flotilla_core::decide` / `on_outcome` on an `Observation` built from what a
//! Lambda could see (instances and their tags, GitHub's runner list, SSM, build-queue messages).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use flotilla_core::command::{LaunchRequest, RemovalReason};
use flotilla_core::config::CapacityType;
use flotilla_core::cron::{parse_schedule_expression, Schedule};
use flotilla_core::model::{
    ClaimParameter, Fleet, InstanceState, QueuedJob, RepoRef, Runner, TokenParameter,
};
use flotilla_core::observation::{
    InterruptionKind, InterruptionNotice, JobMessage, JobStatus, ScaleUpBatch, Secret,
    WebhookDelivery,
};
use flotilla_core::outcome::InterruptedJob;
use flotilla_core::policy::scale_up::{owner_of_repo, wants_job_status};
use flotilla_core::policy::webhook::decide_event;
use flotilla_core::webhook::{WebhookEvent, WorkflowJobEvent, WorkflowRunEvent};
use flotilla_core::{
    decide, naming, on_outcome, tags, Command, Config, Observation, Outcome, Timestamp,
};

use crate::prices::{AzId, PriceBook, TypeId};
use crate::report::{self, Report};
use crate::rng::SimRng;
use crate::settings::{
    bucket_share, monthly_share_to_hourly_rate, InterruptionModel, WorldSettings,
};
use crate::trace::TraceJob;
use crate::world::ec2::{candidate_pools, choose_pool, instance_id, Ec2, SimInstance};
use crate::world::github::{Attempt, AttemptStatus, GitHub, SimRunner};
use crate::world::sqs::{BuildQueue, MessageState};
use crate::world::ssm::Ssm;

mod import;
pub use import::{observe_like, TableCase};

const SECOND: i64 = 1_000;
const HOUR: i64 = 3_600_000;
/// A spot interruption warning comes two minutes before the reclaim.
const SPOT_WARNING_MS: i64 = 120 * SECOND;
/// Duration of a webhook invocation, for Lambda cost.
const WEBHOOK_INVOCATION_MS: i64 = 30;
/// Duration of a termination-watcher invocation.
const WATCHER_INVOCATION_MS: i64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    JobQueued(usize),
    WebhookQueued(usize),
    WebhookStarted(usize),
    WebhookCompleted(usize),
    RunCompleted(u64),
    Poll,
    ScaleUpStart(usize),
    ScaleUpEnd,
    InstanceBooted(usize),
    RunnerRegistered(usize),
    JobStarts(usize),
    JobFinished(usize),
    EphemeralShutdown(usize),
    ScaleDownTick,
    PoolTick(usize),
    Perform(usize),
    SpotWarning(usize),
    SpotReclaim(usize),
    RunnerOffline(usize),
    LostJobFails(usize),
    Sample,
}

struct Scheduled {
    at: i64,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at && self.seq == o.seq
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> Ordering {
        // Min-heap on (at, seq).
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// What an invocation was about, to rebuild its observation for `on_outcome`.
#[derive(Clone, Debug)]
enum Context {
    Webhook,
    ScaleUp(Vec<JobMessage>),
    ScaleDown(Box<SsmView>),
    Pool(u32, Box<SsmView>),
    Interruption(Box<InterruptionNotice>),
}

/// The SSM parameters a scheduled function listed when it started.
#[derive(Clone, Debug, Default)]
struct SsmView {
    tokens: Vec<TokenParameter>,
    claims: Vec<ClaimParameter>,
}

struct Pending {
    context: Context,
    commands: Vec<Command>,
}

/// Everything a replay needs.
pub struct Scenario {
    pub config: Config,
    pub world: WorldSettings,
    pub prices: PriceBook,
    pub jobs: Vec<TraceJob>,
    pub seed: u64,
    pub trace_description: String,
    pub prices_description: String,
    pub notes: Vec<String>,
}

/// A served trace job's bookkeeping.
#[derive(Clone, Debug, Default)]
struct JobBook {
    served: bool,
    first_start: Option<i64>,
    completed: bool,
    /// Successful completions: more than one would be a bug in the world model.
    successes: u32,
    duration_ms: i64,
    /// Index into [`Sim::routes`]: the job's repository and labels.
    route: usize,
}

/// A distinct (repository, labels) of the trace, routed once: traces repeat a handful of these
/// thousands of times.
struct Route {
    repo: RepoRef,
    served: bool,
    scope: usize,
    /// A `workflow_job` event of this repository and labels, refilled for each delivery.
    event: WebhookEvent,
}

#[derive(Default)]
struct Counters {
    launched: u64,
    spot: u64,
    on_demand: u64,
    failovers: u64,
    peak: u64,
    launch_errors: BTreeMap<String, u64>,
    terminated: BTreeMap<String, u64>,
    by_type: BTreeMap<String, u64>,
    interruptions: u64,
    reruns: u64,
    interrupted_attempts: u64,
    webhook_requests: u64,
    lambda_invocations: u64,
    lambda_ms: i64,
    scale_up_invocations: u64,
    webhook_responses: BTreeMap<u16, u64>,
    busy_ms: i64,
}

pub struct Sim<'a> {
    cfg: &'a Config,
    world: &'a WorldSettings,
    prices: &'a PriceBook,
    trace: &'a [TraceJob],
    now: i64,
    seq: u64,
    events: BinaryHeap<Scheduled>,
    rng: SimRng,
    interruption_rng: SimRng,
    capacity_rng: SimRng,
    gh: GitHub,
    ec2: Ec2,
    sqs: BuildQueue,
    ssm: Ssm,
    books: Vec<JobBook>,
    routes: Vec<Route>,
    /// Served trace jobs' arrival events, in (time, sequence) order: kept out of the heap, which
    /// then holds only the events the run creates (see [`Sim::next_event`]).
    arrivals: Vec<Scheduled>,
    next_arrival: usize,
    /// Drawn spot warnings and reclaims of live instances, also out of the heap: most instances
    /// end long before their draw, and a terminated instance's two events took heap space until
    /// their time came (at a million jobs, 180,000 of the heap's 182,000 events were such dead
    /// ones, and every pop paid for the depth). Termination removes them here.
    spot_events: BTreeMap<(i64, u64), Event>,
    /// The (time, sequence) keys of each live instance's drawn spot events.
    spot_keys: BTreeMap<usize, [(i64, u64); 2]>,
    /// The first key of `spot_events`, kept so the event loop does not walk the tree per event.
    spot_first: Option<(i64, u64)>,
    /// Served attempts not yet finished, per run id.
    run_open: BTreeMap<u64, u32>,
    /// A served trace job of each run (its repository is the run's).
    run_job: BTreeMap<u64, usize>,
    pending: Vec<Option<Pending>>,
    invocations: Vec<Vec<usize>>,
    scale_up_running: u32,
    scale_up_limit: u32,
    poll_scheduled_at: Option<i64>,
    next_job_id: u64,
    counters: Counters,
    timeline: report::Timeline,
    sample_every: i64,
    start: i64,
    horizon: i64,
    runner_labels: Vec<String>,
    zones: Vec<AzId>,
    scale_down: Schedule,
    pools: Vec<Schedule>,
    open_attempts: u64,
    last_queued: i64,
    /// The attempt a webhook invocation is about (for Enqueue).
    current_attempt: Option<usize>,
    /// The config's instance types with their price-book ids, in request order.
    config_types: Vec<(usize, TypeId)>,
}

/// Why a scenario cannot run, in words for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError(pub String);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

/// Runs a scenario to the end.
pub fn replay(s: &Scenario) -> Result<report::Outcome, ScenarioError> {
    replay_with(s, &s.config)
}

/// Runs a scenario's trace, prices and world with another config (the tuner's evaluation: the
/// scenario is shared, only the config differs).
pub fn replay_with(s: &Scenario, config: &Config) -> Result<report::Outcome, ScenarioError> {
    let mut sim = Sim::with_config(s, config)?;
    sim.run();
    Ok(sim.finish(s))
}

impl<'a> Sim<'a> {
    pub fn new(s: &'a Scenario) -> Result<Self, ScenarioError> {
        Self::with_config(s, &s.config)
    }

    pub fn with_config(s: &'a Scenario, config: &'a Config) -> Result<Self, ScenarioError> {
        s.world.validate().map_err(ScenarioError)?;
        config
            .validate()
            .map_err(|e| ScenarioError(e.to_string()))?;
        let prices = &s.prices;
        for name in &config.instance_types {
            match prices.type_id(name) {
                Some(id) => {
                    let priced = match config.instance_target_capacity_type {
                        CapacityType::Spot => !prices.spot_zones(id).is_empty(),
                        CapacityType::OnDemand => prices.on_demand_usd_per_hour_id(id).is_some(),
                    };
                    if !priced {
                        return Err(ScenarioError(format!(
                            "instance type {name} has no {} price in the price data for {}: add prices for it or remove it from instance_types",
                            config.instance_target_capacity_type.as_str(),
                            prices.region()
                        )));
                    }
                }
                None => {
                    return Err(ScenarioError(format!(
                        "instance type {name} is not in the price data for {}: add prices for it (--prices) or remove it from instance_types",
                        prices.region()
                    )))
                }
            }
        }
        let mut zones = Vec::new();
        for z in &s.world.availability_zones {
            zones.push(prices.az_id(z).ok_or_else(|| {
                ScenarioError(format!(
                    "availability zone {z} has no prices in the price data"
                ))
            })?);
        }
        let scale_down = parse_schedule_expression(&config.scale_down_schedule_expression, None)
            .map_err(ScenarioError)?;
        let mut pools = Vec::new();
        for p in &config.pool_config {
            pools.push(
                parse_schedule_expression(
                    &p.schedule_expression,
                    p.schedule_expression_timezone.as_deref(),
                )
                .map_err(ScenarioError)?,
            );
        }
        let start = s.jobs.first().map(|j| j.queued_at.0).unwrap_or(0);
        let last_queued = s.jobs.last().map(|j| j.queued_at.0).unwrap_or(0);
        let horizon = last_queued + (s.world.max_drain_seconds * 1000.0) as i64;
        let longest = s
            .jobs
            .iter()
            .map(|j| j.duration_ms().unwrap_or(0) as i64)
            .max()
            .unwrap_or(0);
        // Plots cover the trace and the usual tail; a long drain adds points at the same pace.
        let points = i64::from(s.world.timeline_points.max(1));
        let sample_every = ((last_queued + longest - start) / points).max(SECOND);
        let scale_up_limit = match config.scale_up_reserved_concurrent_executions {
            n if n < 0 => 1_000,
            0 => 0,
            n => n as u32,
        };
        Ok(Sim {
            cfg: config,
            world: &s.world,
            prices,
            trace: &s.jobs,
            now: start,
            seq: 0,
            events: BinaryHeap::new(),
            rng: SimRng::fork(s.seed, 1),
            interruption_rng: SimRng::fork(s.seed, 2),
            capacity_rng: SimRng::fork(s.seed, 3),
            gh: GitHub::default(),
            ec2: Ec2::default(),
            sqs: BuildQueue::default(),
            ssm: Ssm::default(),
            books: Vec::new(),
            routes: Vec::new(),
            arrivals: Vec::new(),
            next_arrival: 0,
            spot_events: BTreeMap::new(),
            spot_keys: BTreeMap::new(),
            spot_first: None,
            run_open: BTreeMap::new(),
            run_job: BTreeMap::new(),
            pending: Vec::new(),
            invocations: Vec::new(),
            scale_up_running: 0,
            scale_up_limit,
            poll_scheduled_at: None,
            next_job_id: s.jobs.iter().map(|j| j.job_id).max().unwrap_or(0) + 1,
            counters: Counters::default(),
            timeline: report::Timeline::default(),
            sample_every,
            start,
            horizon,
            runner_labels: config.runner_labels(),
            zones,
            scale_down,
            pools,
            open_attempts: 0,
            last_queued,
            current_attempt: None,
            config_types: type_ids(prices, &config.instance_types),
        })
    }

    fn at(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.events.push(Scheduled {
            at: at.max(self.now),
            seq: self.seq,
            event,
        });
    }

    /// Schedules a drawn spot event in [`Sim::spot_events`]; its sequence number comes from the
    /// same counter as the heap's, so the merged order is the one a single heap would give.
    fn at_spot(&mut self, at: i64, event: Event) -> (i64, u64) {
        self.seq += 1;
        let key = (at.max(self.now), self.seq);
        self.spot_events.insert(key, event);
        self.spot_first = Some(self.spot_first.map_or(key, |f| f.min(key)));
        key
    }

    /// Forgets a live instance's drawn spot events (it is ending; they would do nothing).
    fn cancel_spot_events(&mut self, instance: usize) {
        let Some(keys) = self.spot_keys.remove(&instance) else {
            return;
        };
        for key in keys {
            self.spot_events.remove(&key);
        }
        self.spot_first = self.spot_events.first_key_value().map(|(k, _)| *k);
    }

    fn now_ts(&self) -> Timestamp {
        Timestamp(self.now)
    }

    /// Queues every trace job and the schedules; routes each job through the webhook's decision
    /// to learn whether this pool serves it.
    fn seed_events(&mut self) {
        // Every served job gets a book, an attempt, a build-queue message and a few events:
        // reserve once instead of growing (and copying) large vectors during the run.
        let n = self.trace.len();
        self.books.reserve(n);
        self.arrivals.reserve(n);
        // Re-runs add attempts and messages, and ephemeral runners an instance and a runner per
        // attempt: a quarter more, so that a vector of a hundred megabytes is not doubled and
        // copied near its end (the headroom is address space; untouched pages cost no memory).
        let headroom = n + n / 4;
        self.gh.attempts.reserve(headroom);
        self.sqs.messages.reserve(headroom);
        self.gh.reserve_runners(headroom);
        self.ec2.reserve(headroom);
        // Arrivals bypass the heap when they come in (time, job) order, as loaded traces do.
        let sorted = self
            .trace
            .windows(2)
            .all(|w| w[0].queued_at <= w[1].queued_at);
        let mut route_of: BTreeMap<(&str, &[String]), usize> = BTreeMap::new();
        for (i, job) in self.trace.iter().enumerate() {
            let key = (&*job.repo, &*job.labels);
            let route = match route_of.get(&key) {
                Some(&r) => r,
                None => {
                    let r = self.route(job);
                    route_of.insert(key, r);
                    r
                }
            };
            let Route { served, scope, .. } = self.routes[route];
            self.books.push(JobBook {
                served,
                duration_ms: job.duration_ms().unwrap_or(0) as i64,
                route,
                ..Default::default()
            });
            if served {
                let a = self.gh.add_attempt(Attempt {
                    trace_index: i,
                    job_id: job.job_id,
                    run_attempt: job.run_attempt,
                    scope,
                    queued_at: job.queued_at.0,
                    started_at: None,
                    completed_at: None,
                    status: AttemptStatus::Queued,
                    runner: None,
                    interrupted: false,
                    conclusion: None,
                });
                *self.run_open.entry(job.run_id).or_default() += 1;
                self.run_job.entry(job.run_id).or_insert(i);
                self.open_attempts += 1;
                if sorted {
                    self.seq += 1;
                    self.arrivals.push(Scheduled {
                        at: job.queued_at.0.max(self.now),
                        seq: self.seq,
                        event: Event::JobQueued(a),
                    });
                } else {
                    self.at(job.queued_at.0, Event::JobQueued(a));
                }
            }
        }
        if let Some(t) = self.scale_down.next_after(Timestamp(self.start)) {
            self.at(t.0, Event::ScaleDownTick);
        }
        for i in 0..self.pools.len() {
            if let Some(t) = self.pools[i].next_after(Timestamp(self.start)) {
                self.at(t.0, Event::PoolTick(i));
            }
        }
        if self.world.timeline_points > 0 {
            self.at(self.start, Event::Sample);
        }
    }

    /// The webhook's own routing decides "served"; a job GitHub could never give our runners
    /// (labels not covered) is unserved too, rather than queued forever.
    fn route(&mut self, job: &TraceJob) -> usize {
        let cfg = self.cfg;
        let repo = repo_ref(&job.repo);
        let owner = owner_of_repo(cfg, &repo);
        let scope = self.gh.scope_id(&owner);
        let labels: Vec<String> = job.labels.to_vec();
        let queued = QueuedJob {
            job_id: job.job_id,
            run_id: job.run_id,
            run_attempt: job.run_attempt,
            repo: repo.clone(),
            installation_id: None,
            labels: labels.clone(),
            queued_at: Some(job.queued_at),
        };
        let routed = flotilla_core::policy::webhook::route(cfg, queued)
            .iter()
            .any(|c| matches!(c, Command::Enqueue { .. }));
        let coverable = flotilla_core::labels::runner_covers_job(&self.runner_labels, &labels);
        self.routes.push(Route {
            repo: repo.clone(),
            served: routed && coverable,
            scope,
            event: WebhookEvent::WorkflowJob(WorkflowJobEvent {
                action: String::new(),
                job_id: 0,
                run_id: 0,
                run_attempt: 0,
                name: String::new(),
                workflow_name: String::new(),
                labels,
                status: String::new(),
                conclusion: None,
                created_at: None,
                started_at: None,
                completed_at: None,
                runner_name: None,
                repo,
                installation_id: None,
            }),
        });
        self.routes.len() - 1
    }

    /// The next event in (time, sequence) order, from the heap, the arrivals or the spot events.
    fn next_event(&mut self) -> Option<Scheduled> {
        let arrival = self.arrivals.get(self.next_arrival).map(|a| (a.at, a.seq));
        let heap = self.events.peek().map(|h| (h.at, h.seq));
        let earliest = |a: Option<(i64, u64)>, b: Option<(i64, u64)>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        };
        if let Some(first) = self.spot_first {
            if earliest(arrival, heap).is_none_or(|other| first < other) {
                let event = self
                    .spot_events
                    .remove(&first)
                    .expect("spot_first is a key of spot_events");
                self.spot_first = self.spot_events.first_key_value().map(|(k, _)| *k);
                return Some(Scheduled {
                    at: first.0,
                    seq: first.1,
                    event,
                });
            }
        }
        let from_arrivals = match (arrival, heap) {
            (Some(a), Some(h)) => a < h,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if from_arrivals {
            self.next_arrival += 1;
            let a = &self.arrivals[self.next_arrival - 1];
            Some(Scheduled {
                at: a.at,
                seq: a.seq,
                event: a.event,
            })
        } else {
            self.events.pop()
        }
    }

    pub fn run(&mut self) {
        self.seed_events();
        while let Some(s) = self.next_event() {
            if s.at > self.horizon {
                self.now = self.horizon;
                break;
            }
            self.now = s.at;
            self.handle(s.event);
            if self.open_attempts == 0
                && self.ec2.live_count() == 0
                && self.now >= self.last_queued
                && self.scale_up_running == 0
            {
                break;
            }
        }
    }

    fn handle(&mut self, e: Event) {
        match e {
            Event::JobQueued(a) => self.on_job_queued(a),
            Event::WebhookQueued(a) => self.on_webhook_job(a, "queued"),
            Event::WebhookStarted(a) => self.on_webhook_job(a, "in_progress"),
            // workflow_job completed only feeds the archive: billed, nothing to decide.
            Event::WebhookCompleted(_) => self.count_webhook(),
            Event::RunCompleted(run) => self.on_run_completed(run),
            Event::Poll => self.on_poll(),
            Event::ScaleUpStart(inv) => self.on_scale_up(inv),
            Event::ScaleUpEnd => {
                self.scale_up_running -= 1;
                self.on_poll();
            }
            Event::InstanceBooted(i) => self.on_booted(i),
            Event::RunnerRegistered(i) => self.on_registered(i),
            Event::JobStarts(a) => self.on_job_starts(a),
            Event::JobFinished(a) => self.on_job_finished(a),
            Event::EphemeralShutdown(i) => {
                if self.ec2.is_live(i) {
                    self.terminate(i, "ephemeral_done");
                }
            }
            Event::ScaleDownTick => self.on_scale_down_tick(),
            Event::PoolTick(p) => self.on_pool_tick(p),
            Event::Perform(p) => {
                if let Some(pending) = self.pending[p].take() {
                    let _ = self.perform_all(pending.context, pending.commands);
                }
            }
            Event::SpotWarning(i) => self.on_spot_warning(i),
            Event::SpotReclaim(i) => self.on_spot_reclaim(i),
            Event::RunnerOffline(r) => self.gh.set_listed_online(r, false),
            Event::LostJobFails(a) => self.finish_attempt(a, "failure"),
            Event::Sample => self.on_sample(),
        }
    }

    // ---- GitHub ----

    fn on_job_queued(&mut self, a: usize) {
        let scope = self.gh.attempts[a].scope;
        match self.gh.take_idle_runner(scope) {
            Some(r) => self.assign(a, r),
            None => self.gh.enqueue(a),
        }
        let delay = self.rng.sample(&self.world.webhook_delivery);
        self.at(self.now + delay, Event::WebhookQueued(a));
        self.last_queued = self.last_queued.max(self.now);
    }

    fn assign(&mut self, a: usize, r: usize) {
        self.gh.attempts[a].status = AttemptStatus::Assigned;
        self.gh.attempts[a].runner = Some(r);
        self.gh.runners[r].busy_with = Some(a);
        self.gh.set_listed_busy(r, true);
        let delay = self.rng.sample(&self.world.job_assignment);
        self.at(self.now + delay, Event::JobStarts(a));
    }

    fn on_job_starts(&mut self, a: usize) {
        let Some(r) = self.gh.attempts[a].runner else {
            return;
        };
        let inst = self.gh.runners[r].instance;
        if !self.ec2.is_live(inst) {
            // The runner died before it picked the job up: GitHub queues it again.
            self.gh.attempts[a].status = AttemptStatus::Queued;
            self.gh.attempts[a].runner = None;
            self.gh.enqueue(a);
            return;
        }
        let at = &mut self.gh.attempts[a];
        at.status = AttemptStatus::InProgress;
        at.started_at = Some(self.now);
        let book = &mut self.books[at.trace_index];
        if book.first_start.is_none() {
            book.first_start = Some(self.now);
        }
        let duration = book.duration_ms;
        self.at(self.now + duration, Event::JobFinished(a));
        let delay = self.rng.sample(&self.world.webhook_delivery);
        self.at(self.now + delay, Event::WebhookStarted(a));
    }

    fn on_job_finished(&mut self, a: usize) {
        if self.gh.attempts[a].status != AttemptStatus::InProgress
            || self.gh.attempts[a].interrupted
        {
            return;
        }
        let Some(r) = self.gh.attempts[a].runner else {
            return;
        };
        let started = self.gh.attempts[a].started_at.unwrap_or(self.now);
        self.counters.busy_ms += self.now - started;
        self.finish_attempt(a, "success");
        if self.gh.runners[r].ephemeral {
            self.gh.unlist(r);
            let inst = self.gh.runners[r].instance;
            let delay = self.rng.sample(&self.world.ephemeral_shutdown);
            self.at(self.now + delay, Event::EphemeralShutdown(inst));
        } else {
            self.runner_free(r);
        }
        let delay = self.rng.sample(&self.world.webhook_delivery);
        self.at(self.now + delay, Event::WebhookCompleted(a));
    }

    fn finish_attempt(&mut self, a: usize, conclusion: &'static str) {
        let at = &mut self.gh.attempts[a];
        if at.status == AttemptStatus::Completed {
            return;
        }
        at.status = AttemptStatus::Completed;
        at.completed_at = Some(self.now);
        at.conclusion = Some(conclusion);
        if conclusion == "success" {
            self.books[at.trace_index].completed = true;
            self.books[at.trace_index].successes += 1;
        }
        let trace_index = at.trace_index;
        if let Some(r) = at.runner {
            if self.gh.runners[r].busy_with == Some(a) {
                self.gh.runners[r].busy_with = None;
                self.gh.set_listed_busy(r, false);
            }
        }
        self.open_attempts = self.open_attempts.saturating_sub(1);
        let run_id = self.trace[trace_index].run_id;
        if let Some(n) = self.run_open.get_mut(&run_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                let delay = self.rng.sample(&self.world.webhook_delivery);
                self.at(self.now + delay, Event::RunCompleted(run_id));
            }
        }
    }

    /// A runner became free: GitHub gives it the oldest queued job of its scope.
    fn runner_free(&mut self, r: usize) {
        let scope = self.gh.runners[r].scope;
        match self.gh.take_queued(scope) {
            Some(a) => self.assign(a, r),
            None => self.gh.mark_idle(r, self.now),
        }
    }

    fn on_booted(&mut self, i: usize) {
        if !self.ec2.is_live(i) {
            return;
        }
        self.ec2.set_state(i, InstanceState::Running);
        if self.ec2.instances[i].token {
            // User data reads its token and deletes it.
            self.ec2.instances[i].token = false;
            self.ec2.instances[i].registering = true;
            self.ssm.tokens.remove(&i);
            self.ssm.requests += 2;
            let delay = self.rng.sample(&self.world.runner_registration);
            self.at(self.now + delay, Event::RunnerRegistered(i));
        }
    }

    fn on_registered(&mut self, i: usize) {
        if !self.ec2.is_live(i) {
            return;
        }
        let inst = &self.ec2.instances[i];
        let scope = inst.scope;
        let runner = Runner {
            id: GitHub::runner_id(self.gh.runners.len()),
            name: naming::runner_name(self.cfg, &self.ec2.id_of(i)),
            online: true,
            busy: false,
            labels: self.runner_labels.clone(),
            owner: self.gh.scopes[scope].clone(),
        };
        let r = self.gh.add_runner(
            SimRunner {
                id: GitHub::runner_id(self.gh.runners.len()),
                instance: i,
                scope,
                ephemeral: self.cfg.enable_ephemeral_runners,
                polling: true,
                busy_with: None,
                listed: true,
                idle_since: self.now,
            },
            runner,
        );
        self.ec2.instances[i].runner = Some(r);
        self.runner_free(r);
    }

    // ---- webhook ----

    fn count_webhook(&mut self) {
        self.counters.webhook_requests += 1;
        self.counters.lambda_invocations += 1;
        self.counters.lambda_ms += WEBHOOK_INVOCATION_MS;
    }

    fn on_webhook_job(&mut self, a: usize, action: &str) {
        self.count_webhook();
        let at = &self.gh.attempts[a];
        let trace = &self.trace[at.trace_index];
        let route = self.books[at.trace_index].route;
        // The route's event, refilled: its repository and labels are this job's already.
        let mut event = std::mem::replace(&mut self.routes[route].event, WebhookEvent::Ping);
        if let WebhookEvent::WorkflowJob(job) = &mut event {
            let runner_name = match (action, at.runner) {
                ("queued", _) | (_, None) => None,
                (_, Some(r)) => Some(match self.gh.listed_of(r) {
                    Some(l) => Cow::Borrowed(l.name.as_str()),
                    None => Cow::Owned(naming::runner_name(
                        self.cfg,
                        &self.ec2.id_of(self.gh.runners[r].instance),
                    )),
                }),
            };
            match runner_name {
                Some(name) => {
                    let mut buf = job.runner_name.take().unwrap_or_default();
                    buf.clear();
                    buf.push_str(&name);
                    job.runner_name = Some(buf);
                }
                None => job.runner_name = None,
            }
            job.action.clear();
            job.action.push_str(action);
            job.status.clear();
            job.status.push_str(action);
            job.job_id = at.job_id;
            job.run_id = trace.run_id;
            job.run_attempt = at.run_attempt;
            if job.conclusion.as_deref() != at.conclusion {
                job.conclusion = at.conclusion.map(str::to_string);
            }
            job.created_at = Some(Timestamp(at.queued_at));
            job.started_at = at.started_at.map(Timestamp);
            job.completed_at = at.completed_at.map(Timestamp);
        }
        let commands = decide_event(self.cfg, &event);
        self.routes[route].event = event;
        self.current_attempt = Some(a);
        let _ = self.perform_all(Context::Webhook, commands);
        self.current_attempt = None;
    }

    fn on_run_completed(&mut self, run_id: u64) {
        self.count_webhook();
        let Some(route) = self
            .run_job
            .get(&run_id)
            .map(|i| &self.routes[self.books[*i].route])
        else {
            return;
        };
        let event = WebhookEvent::WorkflowRun(WorkflowRunEvent {
            action: "completed".into(),
            run_id,
            run_attempt: 1,
            conclusion: None,
            repo: route.repo.clone(),
            installation_id: None,
        });
        let commands = decide_event(self.cfg, &event);
        let _ = self.perform_all(Context::Webhook, commands);
    }

    // ---- scale-up ----

    fn schedule_poll(&mut self, at: i64) {
        let at = at.max(self.now);
        if self.poll_scheduled_at.is_some_and(|t| t <= at) {
            return;
        }
        self.poll_scheduled_at = Some(at);
        self.at(at, Event::Poll);
    }

    fn on_poll(&mut self) {
        if self.poll_scheduled_at.is_some_and(|t| t <= self.now) {
            self.poll_scheduled_at = None;
        }
        let batch_size = self.cfg.lambda_event_source_mapping_batch_size as usize;
        let window = i64::from(
            self.cfg
                .lambda_event_source_mapping_maximum_batching_window_in_seconds,
        ) * SECOND;
        while self.scale_up_running < self.scale_up_limit {
            let visible = self.sqs.visible_count(self.now);
            if visible == 0 {
                break;
            }
            if window > 0 && visible < batch_size {
                let oldest = self.sqs.next_visible_at().unwrap_or(self.now);
                if oldest + window > self.now {
                    self.schedule_poll(oldest + window);
                    break;
                }
            }
            let taken = self.sqs.receive(self.now, batch_size);
            let retention = i64::from(self.cfg.job_queue_retention_in_seconds) * SECOND;
            let max_receive = self
                .cfg
                .redrive_build_queue
                .enabled
                .then_some(self.cfg.redrive_build_queue.max_receive_count)
                .flatten();
            let mut kept = Vec::new();
            for m in taken {
                let msg = &self.sqs.messages[m];
                if self.now - msg.sent_at > retention {
                    self.sqs.expire(m);
                } else if max_receive.is_some_and(|n| msg.receive_count > n) {
                    self.sqs.dead_letter(m);
                } else {
                    kept.push(m);
                }
            }
            if kept.is_empty() {
                continue;
            }
            self.scale_up_running += 1;
            let inv = self.invocations.len();
            self.invocations.push(kept);
            let delay = self.rng.sample(&self.world.scale_up_start);
            self.at(self.now + delay, Event::ScaleUpStart(inv));
        }
        if let Some(t) = self.sqs.next_visible_at() {
            if t > self.now {
                self.schedule_poll(t);
            }
        }
    }

    fn job_status(&self, attempt: usize) -> JobStatus {
        match self.gh.attempts[attempt].status {
            AttemptStatus::Queued | AttemptStatus::Assigned => JobStatus::Queued,
            AttemptStatus::InProgress => JobStatus::InProgress,
            AttemptStatus::Completed => JobStatus::Completed,
        }
    }

    /// The batch as scale-up sees it: each message with GitHub's answer for its job (when the
    /// policy wants one) and its launch claim. The bodies move into the batch for the
    /// invocation (see [`Sim::return_bodies`]), with the index of each message.
    fn job_messages(&mut self, messages_idx: &[usize]) -> (Vec<JobMessage>, Vec<usize>) {
        let check = wants_job_status(self.cfg);
        let mut batch = Vec::with_capacity(messages_idx.len());
        let mut taken = Vec::with_capacity(messages_idx.len());
        for &m in messages_idx {
            // Received messages are unsettled: they still have their body.
            let Some(job) = self.sqs.messages[m].job.take() else {
                continue;
            };
            let msg = &self.sqs.messages[m];
            let claim =
                naming::launch_claim_parameter(&self.cfg.prefix, job.job_id, job.run_attempt);
            batch.push(JobMessage {
                message_id: self.sqs.id_of(m),
                job: *job,
                receive_count: msg.receive_count,
                status: if check {
                    self.job_status(msg.attempt)
                } else {
                    JobStatus::NotChecked
                },
                claimed_at: self.ssm.claims.get(&claim).map(|t| Timestamp(*t)),
            });
            taken.push(m);
        }
        (batch, taken)
    }

    /// The invocation is over: messages still on the queue get their bodies back.
    fn return_bodies(&mut self, batch: Vec<JobMessage>, taken: &[usize]) {
        for (message, &m) in batch.into_iter().zip(taken) {
            let msg = &mut self.sqs.messages[m];
            if matches!(msg.state, MessageState::Waiting | MessageState::InFlight) {
                msg.job = Some(Box::new(message.job));
            }
        }
    }

    fn on_scale_up(&mut self, inv: usize) {
        let messages_idx = std::mem::take(&mut self.invocations[inv]);
        self.counters.scale_up_invocations += 1;
        self.counters.lambda_invocations += 1;
        let check = wants_job_status(self.cfg);
        let (messages, taken) = self.job_messages(&messages_idx);
        let mut owners = Vec::new();
        for &m in &messages_idx {
            let scope = self.gh.attempts[self.sqs.messages[m].attempt].scope;
            if !owners.contains(&scope) {
                owners.push(scope);
            }
        }
        let calls = if check { messages.len() as u64 } else { 0 }
            + owners
                .iter()
                .map(|s| pages(self.gh.listed_count(*s)))
                .sum::<u64>();
        self.gh.api_call(self.now, calls);
        let commands = {
            // Only the instances launched for this batch's jobs are described, the rest counted:
            // a delivery reads a few instances instead of a fleet of thousands.
            let attempts: Vec<(u64, u32)> = messages
                .iter()
                .map(|m| (m.job.job_id, m.job.run_attempt))
                .collect();
            let (instances, other_live_instances) = self.ec2.launched_for_any(&attempts);
            let obs = Observation::ScaleUp(ScaleUpBatch {
                messages,
                fleet: Fleet {
                    instances: Cow::Owned(instances),
                    runners: Cow::Borrowed(&self.gh.listed),
                    ..Default::default()
                },
                other_live_instances,
            });
            let commands = decide(self.cfg, &obs, self.now_ts());
            let Observation::ScaleUp(batch) = obs else {
                unreachable!()
            };
            (commands, batch.messages)
        };
        let (commands, messages) = commands;
        let launches_before = self.counters.launched;
        let context = Context::ScaleUp(messages);
        if let Context::ScaleUp(messages) = self.perform_all(context, commands) {
            self.return_bodies(messages, &taken);
        }
        // Messages the policy neither retried nor discarded were launched for: done.
        for &m in &messages_idx {
            if self.sqs.messages[m].state == MessageState::InFlight {
                self.sqs.delete(m);
            }
        }
        self.sqs.requests += 1; // DeleteMessageBatch
        let launches = self.counters.launched - launches_before;
        let mut duration = self.rng.sample(&self.world.scale_up_base);
        for _ in 0..launches {
            duration += self.rng.sample(&self.world.scale_up_per_launch);
        }
        self.counters.lambda_ms += duration;
        self.at(self.now + duration, Event::ScaleUpEnd);
    }

    // ---- schedules ----

    fn ssm_view(&self) -> SsmView {
        let tokens = self
            .ssm
            .tokens
            .iter()
            .map(|(i, t)| {
                let id = self.ec2.id_of(*i);
                TokenParameter {
                    name: naming::token_parameter(&self.cfg.prefix, &id),
                    instance_id: id,
                    last_modified: Timestamp(*t),
                }
            })
            .collect();
        let claims = self
            .ssm
            .claims
            .iter()
            .map(|(n, t)| ClaimParameter {
                name: n.clone(),
                claimed_at: Timestamp(*t),
            })
            .collect();
        SsmView { tokens, claims }
    }

    /// The fleet as a scheduled function sees it: instances and runners now, SSM as listed.
    fn fleet<'s>(&'s self, ssm: &'s SsmView) -> Fleet<'s> {
        Fleet {
            instances: Cow::Borrowed(&self.ec2.described),
            runners: Cow::Borrowed(&self.gh.listed),
            unlisted_owners: Vec::new(),
            tokens: Cow::Borrowed(&ssm.tokens),
            claims: Cow::Borrowed(&ssm.claims),
        }
    }

    fn count_runner_lists(&mut self) {
        let calls: u64 = (0..self.gh.scopes.len())
            .map(|s| pages(self.gh.listed_count(s)))
            .sum();
        self.gh.api_call(self.now, calls.max(1));
    }

    fn on_scale_down_tick(&mut self) {
        if let Some(t) = self.scale_down.next_after(self.now_ts()) {
            self.at(t.0, Event::ScaleDownTick);
        }
        self.count_runner_lists();
        let ssm = self.ssm_view();
        let commands = decide(
            self.cfg,
            &Observation::ScaleDown {
                fleet: self.fleet(&ssm),
            },
            self.now_ts(),
        );
        self.defer(Context::ScaleDown(Box::new(ssm)), commands);
    }

    fn on_pool_tick(&mut self, p: usize) {
        if let Some(t) = self.pools[p].next_after(self.now_ts()) {
            self.at(t.0, Event::PoolTick(p));
        }
        self.count_runner_lists();
        let size = self.cfg.pool_config[p].size;
        let ssm = self.ssm_view();
        let commands = decide(
            self.cfg,
            &Observation::Pool {
                size,
                fleet: self.fleet(&ssm),
            },
            self.now_ts(),
        );
        self.defer(Context::Pool(size, Box::new(ssm)), commands);
    }

    /// Commands of a scheduled function run after it has listed AWS and GitHub.
    fn defer(&mut self, context: Context, commands: Vec<Command>) {
        self.counters.lambda_invocations += 1;
        let delay = self.rng.sample(&self.world.schedule_observe);
        self.counters.lambda_ms += delay;
        if commands.is_empty() {
            return;
        }
        let p = self.pending.len();
        self.pending.push(Some(Pending { context, commands }));
        self.at(self.now + delay, Event::Perform(p));
    }

    // ---- spot ----

    /// What the termination watcher reads about instance `i`; `tags_when_live` are its tags
    /// from before a termination (a terminated instance keeps no tags in the simulator).
    fn notice(
        &self,
        i: usize,
        kind: InterruptionKind,
        tags_when_live: Option<flotilla_core::model::InstanceTags>,
    ) -> InterruptionNotice {
        let inst = &self.ec2.instances[i];
        let instance = self.ec2.described_of(i).cloned().or_else(|| {
            Some(flotilla_core::model::Instance {
                id: self.ec2.id_of(i),
                state: inst.state,
                launch_time: Timestamp(inst.launched_at),
                instance_type: self.prices.type_name(inst.type_id).to_string(),
                capacity_type: inst.capacity,
                tags: tags_when_live.unwrap_or_else(|| {
                    tags::parse(inst.raw_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                }),
            })
        });
        let runner = inst.runner.and_then(|r| self.gh.listed_of(r).cloned());
        InterruptionNotice {
            kind,
            instance_id: self.ec2.id_of(i),
            instance,
            runner,
        }
    }

    fn on_spot_warning(&mut self, i: usize) {
        if !self.ec2.is_live(i) {
            return;
        }
        self.counters.lambda_invocations += 1;
        self.counters.lambda_ms += WATCHER_INVOCATION_MS;
        let notice = self.notice(i, InterruptionKind::SpotWarning, None);
        let commands = decide(
            self.cfg,
            &Observation::Interruption(notice.clone()),
            self.now_ts(),
        );
        self.gh.api_call(self.now, 1);
        let _ = self.perform_all(Context::Interruption(Box::new(notice)), commands);
    }

    fn on_spot_reclaim(&mut self, i: usize) {
        if !self.ec2.is_live(i) {
            return;
        }
        self.counters.interruptions += 1;
        self.ec2.instances[i].interrupted = true;
        let tags_when_live = self.ec2.described_of(i).map(|d| d.tags.clone());
        self.terminate(i, "interrupted");
        self.counters.lambda_invocations += 1;
        self.counters.lambda_ms += WATCHER_INVOCATION_MS;
        let notice = self.notice(i, InterruptionKind::Terminating, tags_when_live);
        let commands = decide(
            self.cfg,
            &Observation::Interruption(notice.clone()),
            self.now_ts(),
        );
        let _ = self.perform_all(Context::Interruption(Box::new(notice)), commands);
    }

    fn hourly_interruption_rate(&self, ty: TypeId) -> f64 {
        match self.world.interruptions {
            InterruptionModel::None => 0.0,
            InterruptionModel::Rate { per_instance_hour } => per_instance_hour,
            InterruptionModel::Advisor { factor } => {
                let bucket = self
                    .prices
                    .advice_id(ty)
                    .map(|a| a.bucket.index)
                    .unwrap_or(2);
                monthly_share_to_hourly_rate(bucket_share(bucket)) * factor
            }
        }
    }

    // ---- EC2 ----

    fn terminate(&mut self, i: usize, reason: &str) {
        if !self.ec2.is_live(i) {
            return;
        }
        self.ec2.remove_live(i, self.now, InstanceState::Terminated);
        self.cancel_spot_events(i);
        bump(&mut self.counters.terminated, reason);
        if let Some(r) = self.ec2.instances[i].runner {
            self.gh.stop_polling(r);
            if self.gh.runners[r].listed {
                let offline = (self.world.runner_offline_after_seconds * 1000.0) as i64;
                self.at(self.now + offline, Event::RunnerOffline(r));
            }
            if let Some(a) = self.gh.runners[r].busy_with {
                match self.gh.attempts[a].status {
                    AttemptStatus::InProgress => {
                        self.gh.attempts[a].interrupted = true;
                        self.counters.interrupted_attempts += 1;
                        let started = self.gh.attempts[a].started_at.unwrap_or(self.now);
                        self.counters.busy_ms += self.now - started;
                        let lost = (self.world.lost_runner_job_timeout_seconds * 1000.0) as i64;
                        self.at(self.now + lost, Event::LostJobFails(a));
                    }
                    AttemptStatus::Assigned => {
                        // Never started: GitHub hands it to another runner.
                        self.gh.attempts[a].status = AttemptStatus::Queued;
                        self.gh.attempts[a].runner = None;
                        self.gh.runners[r].busy_with = None;
                        self.gh.set_listed_busy(r, false);
                        let scope = self.gh.attempts[a].scope;
                        match self.gh.take_idle_runner(scope) {
                            Some(other) => self.assign(a, other),
                            None => self.gh.enqueue(a),
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn launch(&mut self, req: Box<LaunchRequest>) -> Outcome {
        if let Some(claim) = &req.claim {
            self.ssm.requests += 1;
            if self.ssm.claims.contains_key(&claim.parameter) && !claim.overwrite {
                return Outcome::ClaimHeld { request: req };
            }
            self.ssm.claims.insert(claim.parameter.clone(), self.now);
        }
        let failed = |req: Box<LaunchRequest>, code: &str| Outcome::LaunchFailed {
            request: req,
            error_codes: vec![code.to_string()],
        };
        if self.capacity_rng.chance(self.world.throttle_probability) {
            *self
                .counters
                .launch_errors
                .entry("RequestLimitExceeded".into())
                .or_default() += 1;
            return failed(req, "RequestLimitExceeded");
        }
        let types: Vec<(usize, TypeId)> = if req.instance_types == self.cfg.instance_types {
            self.config_types.clone()
        } else {
            type_ids(self.prices, &req.instance_types)
        };
        let mut pools = candidate_pools(
            self.prices,
            &types,
            &self.zones,
            req.capacity_type,
            self.now_ts(),
        );
        // Capacity this call: each type independently per rule.
        let mut unavailable = Vec::new();
        for &(_, ty) in &types {
            let name = self.prices.type_name(ty);
            for rule in &self.world.capacity {
                let applies = (rule.instance_type == "*" || rule.instance_type == name)
                    && rule
                        .capacity_type
                        .as_deref()
                        .is_none_or(|c| c == req.capacity_type.as_str());
                if applies && self.capacity_rng.chance(rule.unavailable_probability) {
                    unavailable.push(ty);
                }
            }
        }
        let before = pools.len();
        pools.retain(|p| !unavailable.contains(&p.type_id));
        let mut price_limited = false;
        if let Some(max) = req
            .max_spot_price
            .as_deref()
            .and_then(|m| m.parse::<f64>().ok())
        {
            let n = pools.len();
            pools.retain(|p| p.price <= max);
            price_limited = pools.len() < n;
        }
        if pools.is_empty() {
            let code = if price_limited && before > 0 && unavailable.is_empty() {
                "SpotMaxPriceTooLow"
            } else {
                "InsufficientInstanceCapacity"
            };
            *self.counters.launch_errors.entry(code.into()).or_default() += 1;
            return failed(req, code);
        }
        let owner = req.owner.clone();
        let scope = self.gh.scope_id(&owner);
        let mut ids = Vec::with_capacity(req.count as usize);
        let launch_tags = tags::parse(req.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for _ in 0..req.count {
            let pool = choose_pool(req.allocation_strategy, &pools, &self.ec2);
            let idx = self.ec2.instances.len();
            let id = instance_id(idx);
            let reclaim_at = if req.capacity_type == CapacityType::Spot {
                let rate = self.hourly_interruption_rate(pool.type_id);
                (rate > 0.0).then(|| {
                    self.now + (self.interruption_rng.exponential(1.0 / rate) * HOUR as f64) as i64
                })
            } else {
                None
            };
            let prices = self.prices;
            let type_name = prices.type_name(pool.type_id);
            self.ec2.add_tagged(
                id.clone(),
                SimInstance {
                    type_id: pool.type_id,
                    az: pool.az,
                    capacity: req.capacity_type,
                    launched_at: self.now,
                    state: InstanceState::Pending,
                    ended_at: None,
                    raw_tags: BTreeMap::new(),
                    runner: None,
                    token: false,
                    registering: false,
                    scope,
                    reclaim_at,
                    interrupted: false,
                },
                type_name,
                launch_tags.clone(),
            );
            self.counters.launched += 1;
            match req.capacity_type {
                CapacityType::Spot => self.counters.spot += 1,
                CapacityType::OnDemand => self.counters.on_demand += 1,
            }
            if req.option > 0 {
                self.counters.failovers += 1;
            }
            bump(&mut self.counters.by_type, type_name);
            self.counters.peak = self.counters.peak.max(self.ec2.live_count() as u64);
            let boot = self.rng.sample(&self.world.instance_boot);
            self.at(self.now + boot, Event::InstanceBooted(idx));
            if req.capacity_type == CapacityType::Spot {
                // The spot launch just counted is number `spot - 1` (0-based).
                let nth = self.counters.spot - 1;
                let world = self.world;
                for s in &world.scripted_interruptions {
                    if s.launch == nth {
                        let warn = self.now + (s.warning_after_seconds * 1000.0) as i64;
                        self.at(warn, Event::SpotWarning(idx));
                        self.at(warn + SPOT_WARNING_MS, Event::SpotReclaim(idx));
                    }
                }
            }
            if let Some(t) = reclaim_at {
                if t < self.horizon {
                    let warning =
                        self.at_spot((t - SPOT_WARNING_MS).max(self.now), Event::SpotWarning(idx));
                    let reclaim = self.at_spot(t, Event::SpotReclaim(idx));
                    self.spot_keys.insert(idx, [warning, reclaim]);
                }
            }
            ids.push(id);
        }
        Outcome::Launched {
            request: req,
            instance_ids: ids,
        }
    }

    // ---- the shell: perform commands, feed outcomes back ----

    fn observation_for<'s>(&'s self, context: &'s Context) -> Observation<'s> {
        match context {
            Context::Webhook => Observation::Webhook(WebhookDelivery {
                event: None,
                delivery_id: None,
                signature_256: None,
                content_type: None,
                body: Cow::Borrowed(&[]),
                secret: Secret::default(),
            }),
            Context::ScaleUp(messages) => Observation::ScaleUp(ScaleUpBatch {
                messages: messages.clone(),
                fleet: Fleet {
                    instances: Cow::Borrowed(&self.ec2.described),
                    runners: Cow::Borrowed(&self.gh.listed),
                    ..Default::default()
                },
                other_live_instances: 0,
            }),
            Context::ScaleDown(ssm) => Observation::ScaleDown {
                fleet: self.fleet(ssm),
            },
            Context::Pool(size, ssm) => Observation::Pool {
                size: *size,
                fleet: self.fleet(ssm),
            },
            Context::Interruption(n) => Observation::Interruption((**n).clone()),
        }
    }

    /// Performs the commands in order, then the commands their outcomes bring, level by level
    /// (the order of one first-in, first-out queue).
    /// Returns the context (a scale-up batch goes back to its messages).
    fn perform_all(&mut self, mut context: Context, commands: Vec<Command>) -> Context {
        let mut level = commands;
        let mut guard = 0;
        while !level.is_empty() {
            let mut next = Vec::new();
            for cmd in level {
                guard += 1;
                if guard > 10_000 {
                    return context;
                }
                let Some(outcome) = self.perform(cmd) else {
                    continue;
                };
                let more = if let Context::ScaleUp(messages) = &mut context {
                    // The batch moves into the observation and back: no copy per outcome.
                    let obs = Observation::ScaleUp(ScaleUpBatch {
                        messages: std::mem::take(messages),
                        fleet: Fleet {
                            instances: Cow::Borrowed(&self.ec2.described),
                            runners: Cow::Borrowed(&self.gh.listed),
                            ..Default::default()
                        },
                        other_live_instances: 0,
                    });
                    let more = on_outcome(self.cfg, &obs, &outcome, self.now_ts());
                    if let Observation::ScaleUp(batch) = obs {
                        *messages = batch.messages;
                    }
                    more
                } else {
                    let obs = self.observation_for(&context);
                    on_outcome(self.cfg, &obs, &outcome, self.now_ts())
                };
                next.extend(more);
            }
            level = next;
        }
        context
    }

    fn perform(&mut self, cmd: Command) -> Option<Outcome> {
        match cmd {
            Command::Respond { status, .. } => {
                *self.counters.webhook_responses.entry(status).or_default() += 1;
                None
            }
            Command::Enqueue { job, .. } => {
                let attempt = self.current_attempt?;
                let delay = i64::from(self.cfg.delay_webhook_event) * SECOND;
                let (_, visible_at) = self.sqs.send(job, attempt, self.now, delay);
                self.schedule_poll(visible_at);
                None
            }
            Command::LookupJob { .. } | Command::ArchiveJobEvent { .. } => None,
            Command::LookupInterruptedJobs {
                repo,
                run_id,
                installation_id,
            } => {
                self.ssm.requests += 1;
                let records = self
                    .ssm
                    .interrupted
                    .get(&run_id)
                    .cloned()
                    .unwrap_or_default();
                let jobs = records
                    .into_iter()
                    .map(|(job_id, (parameter, _))| InterruptedJob {
                        job_id,
                        parameter,
                        conclusion: self
                            .attempt_by_job_id(job_id)
                            .and_then(|a| self.gh.attempts[a].conclusion.map(str::to_string)),
                    })
                    .collect();
                Some(Outcome::InterruptedJobsFound {
                    repo,
                    run_id,
                    installation_id,
                    jobs,
                })
            }
            Command::RecordInterruptedJob { parameter, job } => {
                self.ssm.requests += 1;
                self.ssm
                    .interrupted
                    .entry(job.run_id)
                    .or_default()
                    .insert(job.job_id, (parameter, job));
                None
            }
            Command::RerunJob { job_id, .. } => {
                self.gh.api_call(self.now, 1);
                self.rerun(job_id);
                None
            }
            Command::Launch(req) => Some(self.launch(req)),
            Command::ProvisionRunner(p) => {
                let calls = match p.mode {
                    flotilla_core::command::RegistrationMode::JitConfig => 2,
                    flotilla_core::command::RegistrationMode::RegistrationToken => 1,
                };
                self.gh.api_call(self.now, calls);
                self.ssm.requests += 1;
                if let Some(i) = self.ec2.index_of(&p.instance_id) {
                    if i < self.ec2.instances.len() {
                        self.ec2.instances[i].token = true;
                        self.ssm.tokens.insert(i, self.now);
                    }
                }
                None
            }
            Command::RetryMessage {
                message_id,
                delay_seconds,
                ..
            } => {
                if let Some(m) = self.sqs.index_of(&message_id) {
                    let at = self
                        .sqs
                        .retry(m, self.now, i64::from(delay_seconds) * SECOND);
                    self.schedule_poll(at);
                }
                None
            }
            Command::DiscardMessage { message_id, .. } => {
                if let Some(m) = self.sqs.index_of(&message_id) {
                    self.sqs.delete(m);
                }
                None
            }
            Command::ReleaseClaim { parameter } => {
                self.ssm.claims.remove(&parameter);
                self.ssm.requests += 1;
                None
            }
            Command::TagInstance { instance_id, tags } => {
                if let Some(i) = self.ec2.index_of(&instance_id) {
                    self.ec2.tag(i, tags);
                }
                None
            }
            Command::UntagInstance { instance_id, keys } => {
                if let Some(i) = self.ec2.index_of(&instance_id) {
                    self.ec2.untag(i, &keys);
                }
                None
            }
            Command::DeregisterRunner {
                runner_id,
                owner,
                instance_id,
                reason,
            } => {
                self.gh.api_call(self.now, 1);
                let r = self.gh.runner_index(runner_id);
                match r {
                    Some(r)
                        if self.gh.runners[r].busy_with.is_some() && self.gh.runners[r].listed =>
                    {
                        Some(Outcome::DeregisterFailed {
                            runner_id,
                            owner,
                            instance_id,
                            busy: true,
                            reason: "422 Runner is still running a job".into(),
                        })
                    }
                    Some(r) => {
                        self.gh.unlist(r);
                        Some(Outcome::Deregistered {
                            runner_id,
                            owner,
                            instance_id,
                            reason,
                        })
                    }
                    None => Some(Outcome::Deregistered {
                        runner_id,
                        owner,
                        instance_id,
                        reason,
                    }),
                }
            }
            Command::TerminateInstances {
                instance_ids,
                reason,
            } => {
                let reason = removal_name(reason);
                for id in instance_ids {
                    if let Some(i) = self.ec2.index_of(&id) {
                        self.terminate(i, reason);
                    }
                }
                None
            }
            Command::DeleteParameter { name, .. } => {
                let token_owner = name
                    .rsplit('/')
                    .next()
                    .and_then(|id| self.ec2.index_of(id))
                    .filter(|_| name.starts_with(&naming::token_parameter_path(&self.cfg.prefix)));
                self.ssm.delete(&name, token_owner);
                None
            }
        }
    }

    fn attempt_by_job_id(&self, job_id: u64) -> Option<usize> {
        self.gh.attempts.iter().rposition(|a| a.job_id == job_id)
    }

    /// GitHub re-runs a job: a new attempt with a new job id, queued now.
    fn rerun(&mut self, job_id: u64) {
        let Some(prev) = self.attempt_by_job_id(job_id) else {
            return;
        };
        let old = self.gh.attempts[prev].clone();
        if old.status != AttemptStatus::Completed || old.conclusion == Some("success") {
            return;
        }
        let new_id = self.next_job_id;
        self.next_job_id += 1;
        let a = self.gh.add_attempt(Attempt {
            job_id: new_id,
            run_attempt: old.run_attempt + 1,
            queued_at: self.now,
            started_at: None,
            completed_at: None,
            status: AttemptStatus::Queued,
            runner: None,
            interrupted: false,
            conclusion: None,
            ..old
        });
        self.counters.reruns += 1;
        self.open_attempts += 1;
        let run_id = self.trace[self.gh.attempts[a].trace_index].run_id;
        *self.run_open.entry(run_id).or_default() += 1;
        self.on_job_queued(a);
    }

    fn on_sample(&mut self) {
        let mut booting = 0;
        let mut idle = 0;
        let mut busy = 0;
        for inst in &self.ec2.described {
            let i = self.ec2.index_of(&inst.id).unwrap_or(0);
            match self.ec2.instances[i].runner {
                None => booting += 1,
                Some(r) if self.gh.runners[r].busy_with.is_some() => busy += 1,
                Some(_) => idle += 1,
            }
        }
        let t = &mut self.timeline;
        t.t_seconds.push((self.now - self.start) as f64 / 1000.0);
        t.booting.push(booting);
        t.idle.push(idle);
        t.busy.push(busy);
        t.queued_jobs.push(self.gh.queued_count() as u32);
        self.at(self.now + self.sample_every, Event::Sample);
    }

    // ---- the report ----

    pub fn finish(mut self, s: &Scenario) -> report::Outcome {
        let end = self.now;
        let costs = &self.world.costs;
        let mut spot = 0.0;
        let mut on_demand = 0.0;
        let mut billed_ms: i64 = 0;
        let gb: f64 = self
            .cfg
            .block_device_mappings
            .iter()
            .map(|b| f64::from(b.volume_size))
            .sum();
        let alive_at_end = self.ec2.live_count() as u64;
        for inst in &self.ec2.instances {
            let stop = inst.ended_at.unwrap_or(end);
            let ran = (stop - inst.launched_at).max(0);
            let billed = ran.max(60 * SECOND);
            billed_ms += billed;
            match inst.capacity {
                CapacityType::Spot => {
                    spot += self
                        .prices
                        .spot_cost_usd_id(
                            inst.type_id,
                            inst.az,
                            Timestamp(inst.launched_at),
                            Timestamp(inst.launched_at + billed),
                        )
                        .unwrap_or(0.0)
                }
                CapacityType::OnDemand => {
                    on_demand += self
                        .prices
                        .on_demand_usd_per_hour_id(inst.type_id)
                        .unwrap_or(0.0)
                        * billed as f64
                        / HOUR as f64
                }
            }
        }
        let ebs = gb * costs.ebs_usd_per_gb_month * billed_ms as f64 / (730.0 * HOUR as f64);
        let lambda =
            self.counters.lambda_invocations as f64 * costs.lambda_usd_per_million_requests / 1e6
                + self.counters.lambda_ms as f64 / 1000.0
                    * (costs.lambda_memory_mb / 1024.0)
                    * costs.lambda_usd_per_gb_second;
        let span_h = (end - self.start).max(0) as f64 / HOUR as f64;
        let sqs_requests = self.sqs.requests + (costs.sqs_idle_polls_per_hour * span_h) as u64;
        let sqs = sqs_requests as f64 * costs.sqs_usd_per_million_requests / 1e6;
        let api_gateway = self.counters.webhook_requests as f64
            * costs.api_gateway_usd_per_million_requests
            / 1e6;
        let total = spot + on_demand + ebs + lambda + sqs + api_gateway;

        // Installation token refreshes, once an hour.
        let hours = libm::ceil(span_h).max(1.0) as i64;
        for h in 0..hours {
            self.gh.api_call(self.start + h * HOUR, 1);
        }

        let mut waits = Vec::new();
        let mut jobs = report::Jobs {
            total: self.trace.len() as u64,
            ..Default::default()
        };
        let mut job_hours = 0.0;
        for (i, b) in self.books.iter().enumerate() {
            if !b.served {
                jobs.unserved += 1;
                continue;
            }
            match b.first_start {
                Some(st) => waits.push((st - self.trace[i].queued_at.0) as f64 / 1000.0),
                None => jobs.never_started += 1,
            }
            if b.successes > 1 {
                jobs.completed_more_than_once += 1;
            }
            if b.completed {
                jobs.completed += 1;
                job_hours += b.duration_ms as f64 / HOUR as f64;
            } else if b.first_start.is_some() {
                jobs.unfinished += 1;
            }
        }
        jobs.interrupted = self.counters.interrupted_attempts;
        jobs.reruns = self.counters.reruns;
        jobs.dead_lettered = self.sqs.dead_lettered + self.sqs.expired;
        waits.sort_by(f64::total_cmp);
        let wait_seconds = report::WaitSeconds {
            p50: report::percentile(&waits, 50.0),
            p90: report::percentile(&waits, 90.0),
            p95: report::percentile(&waits, 95.0),
            p99: report::percentile(&waits, 99.0),
            max: waits.last().copied().unwrap_or(0.0),
            mean: if waits.is_empty() {
                0.0
            } else {
                waits.iter().sum::<f64>() / waits.len() as f64
            },
            samples: waits.len() as u64,
        };
        let budget = self.world.github_api_budget_per_hour;
        let github_api = report::GithubApi {
            calls: self.gh.api_calls_total,
            peak_per_hour: self.gh.peak_calls_per_hour(),
            mean_per_hour: self.gh.api_calls_total as f64 / span_h.max(1.0),
            budget_per_hour: budget,
            hours_over_budget: self
                .gh
                .api_calls_per_hour
                .values()
                .filter(|n| **n > budget)
                .count() as u64,
        };
        let report = Report {
            schema_version: report::SCHEMA_VERSION,
            inputs: report::Inputs {
                trace: s.trace_description.clone(),
                prices: s.prices_description.clone(),
                price_alignment: s.prices.alignment().description.clone(),
                region: s.prices.region().to_string(),
                seed: s.seed,
                config: self.cfg.to_tfvars(true),
                simulated_from: Timestamp(self.start).to_rfc3339(),
                simulated_to: Timestamp(end).to_rfc3339(),
                notes: s.notes.clone(),
            },
            jobs,
            wait_seconds,
            cost_usd: report::Cost {
                total,
                instances_spot: spot,
                instances_on_demand: on_demand,
                ebs,
                lambda,
                sqs,
                api_gateway,
            },
            cost_per_job_hour_usd: if job_hours > 0.0 {
                total / job_hours
            } else {
                0.0
            },
            utilisation: if billed_ms > 0 {
                self.counters.busy_ms as f64 / billed_ms as f64
            } else {
                0.0
            },
            instances: report::Instances {
                launched: self.counters.launched,
                spot: self.counters.spot,
                on_demand: self.counters.on_demand,
                failovers: self.counters.failovers,
                peak: self.counters.peak,
                billed_instance_hours: billed_ms as f64 / HOUR as f64,
                launch_errors: std::mem::take(&mut self.counters.launch_errors),
                terminated: std::mem::take(&mut self.counters.terminated),
                by_type: std::mem::take(&mut self.counters.by_type),
                alive_at_end,
            },
            interruptions: self.counters.interruptions,
            github_api,
            control_plane: report::ControlPlane {
                webhook_requests: self.counters.webhook_requests,
                lambda_invocations: self.counters.lambda_invocations,
                scale_up_invocations: self.counters.scale_up_invocations,
                sqs_requests,
            },
            webhook_responses: self
                .counters
                .webhook_responses
                .iter()
                .map(|(status, n)| (status.to_string(), *n))
                .collect(),
        };
        report::Outcome {
            report,
            timeline: std::mem::take(&mut self.timeline),
            waits,
        }
    }
}

/// Counts one more of `key`, allocating the key only the first time.
fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            map.insert(key.to_string(), 1);
        }
    }
}

/// Each named type the price book knows, with its position in the request.
fn type_ids(prices: &PriceBook, names: &[String]) -> Vec<(usize, TypeId)> {
    names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| prices.type_id(n).map(|t| (i, t)))
        .collect()
}

fn pages(n: usize) -> u64 {
    (n as u64).div_ceil(100).max(1)
}

fn removal_name(r: RemovalReason) -> &'static str {
    match r {
        RemovalReason::Idle => "idle",
        RemovalReason::Orphan => "orphan",
        RemovalReason::MaxLifetime => "max_lifetime",
        RemovalReason::ProvisionFailed => "provision_failed",
        RemovalReason::RunnerWithoutInstance => "runner_without_instance",
        RemovalReason::Interrupted => "interrupted",
    }
}

/// `owner/name` → a repository (traces without an owner get `unknown`).
pub fn repo_ref(full: &str) -> RepoRef {
    let (owner, name) = full.split_once('/').unwrap_or(("unknown", full));
    RepoRef {
        owner: owner.to_string(),
        name: name.to_string(),
        owner_type: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use flotilla_core::config::Config;

    use super::*;
    use crate::inputs;
    use crate::settings::{InterruptionModel, WorldSettings};

    /// Spot events live outside the heap only while their instance does: an instance that ends
    /// takes its warning and reclaim with it, and the ones that fire are its own.
    #[test]
    fn drawn_spot_events_belong_to_live_instances_only() {
        let world = WorldSettings {
            interruptions: InterruptionModel::Rate {
                per_instance_hour: 0.5,
            },
            ..WorldSettings::default()
        };
        let s = inputs::scenario(Config::default(), world, 5, None, None, 2).unwrap();
        let mut sim = Sim::new(&s).unwrap();
        sim.seed_events();
        let mut fired = 0;
        let mut most_pending = 0;
        while let Some(e) = sim.next_event() {
            if e.at > sim.horizon {
                break;
            }
            if let Event::SpotWarning(i) | Event::SpotReclaim(i) = e.event {
                if sim
                    .spot_keys
                    .get(&i)
                    .is_some_and(|k| k.contains(&(e.at, e.seq)))
                {
                    assert!(sim.ec2.is_live(i), "a drawn spot event fired for dead {i}");
                    fired += 1;
                }
            }
            sim.now = e.at;
            sim.handle(e.event);
            for (i, keys) in &sim.spot_keys {
                assert!(
                    sim.ec2.is_live(*i),
                    "instance {i} ended with spot events pending"
                );
                assert!(keys.iter().any(|k| sim.spot_events.contains_key(k)));
            }
            assert!(sim.spot_events.len() <= 2 * sim.spot_keys.len());
            assert_eq!(
                sim.spot_first,
                sim.spot_events.first_key_value().map(|(k, _)| *k)
            );
            most_pending = most_pending.max(sim.spot_events.len());
        }
        assert!(sim.counters.interruptions > 0);
        assert!(fired > 0 && most_pending > 0);
        assert!(sim.spot_events.is_empty());
    }
}
