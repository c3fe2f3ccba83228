//! The runner agent emulator: it plays every EC2 instance a runner autoscaler launches, the way
//! the instance's user data and `actions/runner` would, against the in-process [`FakeGitHub`].
//!
//! For each instance [`Machines::live_instances`] reports, the agent waits a sampled boot delay,
//! reads and deletes the instance's runner credential ([`Machines::take_token`]), waits a sampled
//! registration delay, registers (registration token + `config.sh`, then online) or connects
//! (JIT config), runs what GitHub assigns — holding each job for [`AgentSettings::job_duration`]
//! from the job's start — completes it, and for ephemeral runners terminates its instance
//! ([`Machines::terminate`]) a fixed delay after the job. An instance that disappears (scale-down
//! terminated it) takes its runner offline.
//!
//! The agent owns no clock and spawns nothing: the caller decides what "now" is and calls
//! [`Agent::step`] (a harness on a scaled or stepped virtual clock calls it at every event and
//! at [`Agent::next_due`]). It knows nothing of AWS: the caller implements [`Machines`] with
//! whatever client it has (the Lambdas' twin uses moto).
//!
//! [`FakeGitHub`]: crate::FakeGitHub

use std::collections::BTreeMap;
use std::future::Future;

use crate::clock::Millis;
use crate::server::FakeGitHubHandle;
use crate::world::{AgentRegistration, Job};

/// One instance as the AWS side reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineInfo {
    /// Instance id.
    pub id: String,
    /// Tags (the autoscaler's; the agent only reports them back in its log).
    pub tags: BTreeMap<String, String>,
}

/// What the agent needs from the cloud. Implemented by the caller (no AWS dependency here).
pub trait Machines {
    /// Instances that are pending or running now (terminated ones left out).
    fn live_instances(&self) -> impl Future<Output = Result<Vec<MachineInfo>, String>>;
    /// Reads and deletes the instance's runner credential (JIT config or registration token);
    /// `None` when it is not (yet) there.
    fn take_token(&self, instance_id: &str)
        -> impl Future<Output = Result<Option<String>, String>>;
    /// Terminates the instance (an ephemeral runner's user data shuts it down).
    fn terminate(&self, instance_id: &str) -> impl Future<Output = Result<(), String>>;
}

/// How the agent behaves; the delays are what the simulator's world settings are given.
pub struct AgentSettings {
    /// The credential is an encoded JIT config (`run.sh --jitconfig`), else a registration token.
    pub jit: bool,
    /// Registered runners are ephemeral (one job, then the instance terminates).
    pub ephemeral: bool,
    /// Custom labels given to `config.sh` (registration tokens only; JIT configs carry theirs).
    pub labels: Vec<String>,
    /// The runner name for an instance (`config.sh --name`).
    pub runner_name: Box<dyn Fn(&str) -> String + Send>,
    /// Instance launched → user data running, milliseconds (sampled per instance).
    pub boot_delay: Box<dyn FnMut() -> Millis + Send>,
    /// User data running → runner registered and online, milliseconds (sampled per instance).
    pub registration_delay: Box<dyn FnMut() -> Millis + Send>,
    /// Ephemeral runner: job done → instance terminated, milliseconds.
    pub ephemeral_shutdown_ms: Millis,
    /// How long a job runs, milliseconds from its start.
    pub job_duration: Box<dyn Fn(&Job) -> Millis + Send>,
    /// Give up on an instance whose credential never appears after this long (the instance
    /// idles like a real one whose user data failed; scale-down's orphan rules handle it).
    pub token_wait_ms: Millis,
}

/// Where one instance stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MachineState {
    /// Booting until `until`.
    Booting {
        /// When user data runs.
        until: Millis,
    },
    /// User data runs; the credential was not there yet.
    WaitingForToken {
        /// Since when.
        since: Millis,
    },
    /// Credential read; registering until `until`.
    Registering {
        /// When the runner is online.
        until: Millis,
    },
    /// The runner is online (maybe busy).
    Online {
        /// GitHub's runner id.
        runner_id: u64,
    },
    /// Ephemeral job done: the instance terminates at `at`.
    ShuttingDown {
        /// When the agent terminates the instance.
        at: Millis,
    },
    /// No credential ever came; the instance idles until something terminates it.
    Stuck,
    /// Gone (terminated by the agent or by someone else).
    Gone,
}

/// One instance's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineRecord {
    /// Instance id.
    pub id: String,
    /// Tags when first seen.
    pub tags: BTreeMap<String, String>,
    /// When the agent first saw it.
    pub seen_at: Millis,
    /// When its runner came online.
    pub registered_at: Option<Millis>,
    /// When the agent saw it gone (or terminated it).
    pub gone_at: Option<Millis>,
    /// The agent terminated it (ephemeral runner done).
    pub terminated_by_agent: bool,
    /// Jobs its runner ran to completion.
    pub jobs_completed: u32,
    /// Where it stands.
    pub state: MachineState,
}

/// A job the agent ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRecord {
    /// GitHub job id.
    pub job_id: u64,
    /// Job name.
    pub name: String,
    /// Instance whose runner took it.
    pub instance_id: String,
    /// Queue time (GitHub's `created_at`).
    pub queued_at: Millis,
    /// Start (assignment) time.
    pub started_at: Millis,
    /// Completion time, once done.
    pub completed_at: Option<Millis>,
}

struct Running {
    job_id: u64,
    instance_id: String,
    until: Millis,
}

/// The emulator. See the module documentation.
pub struct Agent<M> {
    gh: FakeGitHubHandle,
    machines: M,
    settings: AgentSettings,
    records: BTreeMap<String, MachineRecord>,
    runners: BTreeMap<String, u64>,
    running: BTreeMap<u64, Running>,
    jobs: BTreeMap<u64, JobRecord>,
    /// Credentials read at boot, used at registration.
    credentials: BTreeMap<String, String>,
    errors: Vec<String>,
}

impl<M: Machines> Agent<M> {
    /// An agent over `machines`, registering with `gh`.
    pub fn new(gh: FakeGitHubHandle, machines: M, settings: AgentSettings) -> Self {
        Agent {
            gh,
            machines,
            settings,
            records: BTreeMap::new(),
            runners: BTreeMap::new(),
            running: BTreeMap::new(),
            jobs: BTreeMap::new(),
            credentials: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// The cloud side it was given.
    pub fn machines(&self) -> &M {
        &self.machines
    }

    /// Every instance seen, by id.
    pub fn records(&self) -> &BTreeMap<String, MachineRecord> {
        &self.records
    }

    /// Every job run, by job id.
    pub fn jobs(&self) -> &BTreeMap<u64, JobRecord> {
        &self.jobs
    }

    /// What went wrong (a credential GitHub refused, a failed call): a twin asserts it is empty.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The earliest time something is due (boot, registration, job end, shutdown).
    pub fn next_due(&self) -> Option<Millis> {
        let states = self.records.values().filter_map(|r| match r.state {
            MachineState::Booting { until } | MachineState::Registering { until } => Some(until),
            MachineState::ShuttingDown { at } => Some(at),
            _ => None,
        });
        let jobs = self.running.values().map(|r| r.until);
        states.chain(jobs).min()
    }

    /// Jobs running now.
    pub fn busy(&self) -> usize {
        self.running.len()
    }

    /// Does everything due at `now` (the fake GitHub's clock must already stand at `now`).
    pub async fn step(&mut self, now: Millis) {
        // 1. New and vanished instances.
        match self.machines.live_instances().await {
            Ok(live) => self.reconcile(now, live),
            Err(e) => self.errors.push(format!("listing instances: {e}")),
        }
        // 2. Jobs whose time is up.
        let done: Vec<u64> = self
            .running
            .iter()
            .filter(|(_, r)| r.until <= now)
            .map(|(id, _)| *id)
            .collect();
        for job_id in done {
            self.finish_job(now, job_id).await;
        }
        // 3. Boots, registrations, shutdowns.
        let ids: Vec<String> = self.records.keys().cloned().collect();
        for id in ids {
            self.advance_machine(now, &id).await;
        }
        // 4. What GitHub assigned.
        self.pick_up_assignments();
    }

    fn reconcile(&mut self, now: Millis, live: Vec<MachineInfo>) {
        for m in &live {
            if !self.records.contains_key(&m.id) {
                let until = now + (self.settings.boot_delay)().max(0);
                self.records.insert(
                    m.id.clone(),
                    MachineRecord {
                        id: m.id.clone(),
                        tags: m.tags.clone(),
                        seen_at: now,
                        registered_at: None,
                        gone_at: None,
                        terminated_by_agent: false,
                        jobs_completed: 0,
                        state: MachineState::Booting { until },
                    },
                );
            }
        }
        let vanished: Vec<String> = self
            .records
            .values()
            .filter(|r| r.state != MachineState::Gone && !live.iter().any(|m| m.id == r.id))
            .map(|r| r.id.clone())
            .collect();
        for id in vanished {
            self.machine_gone(now, &id);
        }
    }

    /// The instance died (terminated by scale-down, reclaimed): its runner stops polling.
    fn machine_gone(&mut self, now: Millis, id: &str) {
        if let Some(rid) = self.runners.remove(id) {
            // The runner may already be deregistered (scale-down deletes it first).
            if self.gh.runner(rid).is_some() {
                let _ = self.gh.set_runner_online(rid, false);
            }
        }
        self.running.retain(|_, r| r.instance_id != id);
        if let Some(r) = self.records.get_mut(id) {
            r.state = MachineState::Gone;
            r.gone_at.get_or_insert(now);
        }
    }

    async fn advance_machine(&mut self, now: Millis, id: &str) {
        let Some(state) = self.records.get(id).map(|r| r.state.clone()) else {
            return;
        };
        match state {
            MachineState::Booting { until } if until <= now => {
                self.read_token(now, id, now).await;
            }
            MachineState::WaitingForToken { since } => {
                self.read_token(now, id, since).await;
            }
            MachineState::Registering { until } if until <= now => {
                self.register(now, id);
            }
            MachineState::ShuttingDown { at } if at <= now => {
                match self.machines.terminate(id).await {
                    Ok(()) => {
                        let r = self.records.get_mut(id).unwrap();
                        r.terminated_by_agent = true;
                        r.state = MachineState::Gone;
                        r.gone_at = Some(now);
                    }
                    Err(e) => self.errors.push(format!("terminating {id}: {e}")),
                }
            }
            _ => {}
        }
    }

    async fn read_token(&mut self, now: Millis, id: &str, since: Millis) {
        match self.machines.take_token(id).await {
            Ok(Some(token)) => {
                let until = now + (self.settings.registration_delay)().max(0);
                self.credentials.insert(id.to_string(), token);
                self.records.get_mut(id).unwrap().state = MachineState::Registering { until };
            }
            Ok(None) => {
                let r = self.records.get_mut(id).unwrap();
                r.state = if now - since >= self.settings.token_wait_ms {
                    MachineState::Stuck
                } else {
                    MachineState::WaitingForToken { since }
                };
            }
            Err(e) => self.errors.push(format!("reading the token of {id}: {e}")),
        }
    }

    fn register(&mut self, now: Millis, id: &str) {
        let token = self.credentials.remove(id).unwrap_or_default();
        let session = if self.settings.jit {
            self.gh.agent_connect_jit(&token)
        } else {
            let reg = AgentRegistration {
                token,
                name: (self.settings.runner_name)(id),
                labels: self.settings.labels.clone(),
                ephemeral: self.settings.ephemeral,
                ..AgentRegistration::default()
            };
            self.gh.agent_register(&reg).and_then(|s| {
                self.gh.set_runner_online(s.runner_id, true)?;
                Ok(s)
            })
        };
        let r = self.records.get_mut(id).unwrap();
        match session {
            Ok(s) => {
                self.runners.insert(id.to_string(), s.runner_id);
                r.registered_at = Some(now);
                r.state = MachineState::Online {
                    runner_id: s.runner_id,
                };
            }
            Err(e) => {
                // The JIT runner was removed (scale-down saw it offline too long), or the token
                // expired: the instance idles until scale-down terminates it.
                self.errors
                    .push(format!("registering {id}: {} {}", e.status, e.body));
                r.state = MachineState::Stuck;
            }
        }
    }

    fn pick_up_assignments(&mut self) {
        let online: Vec<(String, u64)> =
            self.runners.iter().map(|(i, r)| (i.clone(), *r)).collect();
        for (instance_id, runner_id) in online {
            let Some(job) = self.gh.assigned_job(runner_id) else {
                continue;
            };
            if self.running.contains_key(&job.id) {
                continue;
            }
            let started = job.started_at.unwrap_or_else(|| self.gh.clock().now_ms());
            let until = started + (self.settings.job_duration)(&job).max(0);
            self.jobs.insert(
                job.id,
                JobRecord {
                    job_id: job.id,
                    name: job.name.clone(),
                    instance_id: instance_id.clone(),
                    queued_at: job.created_at,
                    started_at: started,
                    completed_at: None,
                },
            );
            self.running.insert(
                job.id,
                Running {
                    job_id: job.id,
                    instance_id,
                    until,
                },
            );
        }
    }

    async fn finish_job(&mut self, now: Millis, job_id: u64) {
        let Some(run) = self.running.remove(&job_id) else {
            return;
        };
        if let Err(e) = self.gh.complete_job(run.job_id, "success") {
            self.errors.push(format!(
                "completing job {}: {} {}",
                run.job_id, e.status, e.body
            ));
            return;
        }
        if let Some(j) = self.jobs.get_mut(&job_id) {
            j.completed_at = Some(now);
        }
        let ephemeral = self.settings.ephemeral;
        let shutdown = now + self.settings.ephemeral_shutdown_ms.max(0);
        if let Some(r) = self.records.get_mut(&run.instance_id) {
            r.jobs_completed += 1;
            if ephemeral {
                r.state = MachineState::ShuttingDown { at: shutdown };
            }
        }
        if ephemeral {
            self.runners.remove(&run.instance_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::seed::{JobSpec, RunSpec};
    use crate::server::{FakeGitHub, FakeGitHubOptions};
    use crate::world::{JobState, Scope};
    use std::sync::{Arc, Mutex};

    /// An in-memory cloud: instances, tokens, terminations.
    #[derive(Clone, Default)]
    struct Cloud {
        live: Arc<Mutex<Vec<String>>>,
        tokens: Arc<Mutex<BTreeMap<String, String>>>,
        terminated: Arc<Mutex<Vec<String>>>,
    }

    impl Machines for Cloud {
        async fn live_instances(&self) -> Result<Vec<MachineInfo>, String> {
            Ok(self
                .live
                .lock()
                .unwrap()
                .iter()
                .map(|id| MachineInfo {
                    id: id.clone(),
                    tags: BTreeMap::new(),
                })
                .collect())
        }
        async fn take_token(&self, id: &str) -> Result<Option<String>, String> {
            Ok(self.tokens.lock().unwrap().remove(id))
        }
        async fn terminate(&self, id: &str) -> Result<(), String> {
            self.live.lock().unwrap().retain(|i| i != id);
            self.terminated.lock().unwrap().push(id.to_string());
            Ok(())
        }
    }

    const T0: Millis = 1_760_000_000_000;

    async fn fake() -> FakeGitHubHandle {
        let gh = FakeGitHub::start(FakeGitHubOptions {
            clock: Some(Clock::frozen(T0)),
            validation: crate::Validation::Off,
            ..FakeGitHubOptions::default()
        })
        .await
        .unwrap();
        gh.add_repo("acme", "widgets");
        gh
    }

    fn settings(ephemeral: bool, durations: BTreeMap<String, Millis>) -> AgentSettings {
        AgentSettings {
            jit: false,
            ephemeral,
            labels: vec!["extra".into()],
            runner_name: Box::new(|id| format!("runner-{id}")),
            boot_delay: Box::new(|| 40_000),
            registration_delay: Box::new(|| 20_000),
            ephemeral_shutdown_ms: 10_000,
            job_duration: Box::new(move |j| durations.get(&j.name).copied().unwrap_or(1_000)),
            token_wait_ms: 300_000,
        }
    }

    fn registration_token(gh: &FakeGitHubHandle) -> String {
        let mut g = gh.state.lock();
        g.world
            .mint_runner_token(Scope::Org("acme".into()), false)
            .0
    }

    async fn at(gh: &FakeGitHubHandle, agent: &mut Agent<Cloud>, t: Millis) {
        gh.clock().set(t);
        gh.tick();
        agent.step(t).await;
    }

    fn queue(gh: &FakeGitHubHandle, names: &[&str]) {
        gh.add_run(&RunSpec {
            repo: "acme/widgets".into(),
            jobs: names
                .iter()
                .map(|n| JobSpec {
                    name: n.to_string(),
                    labels: vec!["self-hosted".into(), "extra".into()],
                    ..JobSpec::default()
                })
                .collect(),
            ..RunSpec::default()
        })
        .unwrap();
    }

    #[tokio::test]
    async fn reusable_runner_boots_registers_runs_jobs_in_order_and_keeps_its_instance() {
        let gh = fake().await;
        let cloud = Cloud::default();
        cloud.live.lock().unwrap().push("i-1".into());
        cloud
            .tokens
            .lock()
            .unwrap()
            .insert("i-1".into(), registration_token(&gh));
        let durations = BTreeMap::from([("a".to_string(), 60_000), ("b".to_string(), 30_000)]);
        let mut agent = Agent::new(gh.clone(), cloud.clone(), settings(false, durations));
        queue(&gh, &["a", "b"]);

        at(&gh, &mut agent, T0).await;
        assert_eq!(agent.next_due(), Some(T0 + 40_000), "boot delay");
        // Before the boot is over nothing is read.
        at(&gh, &mut agent, T0 + 39_999).await;
        assert_eq!(cloud.tokens.lock().unwrap().len(), 1);
        at(&gh, &mut agent, T0 + 40_000).await;
        assert!(
            cloud.tokens.lock().unwrap().is_empty(),
            "token read and deleted"
        );
        assert!(gh.runners().is_empty(), "not registered before the delay");
        assert_eq!(agent.next_due(), Some(T0 + 60_000));
        at(&gh, &mut agent, T0 + 60_000).await;
        let runner = gh.runner_by_name("runner-i-1").expect("registered");
        assert!(runner.online && runner.busy);
        assert_eq!(agent.busy(), 1);
        assert_eq!(agent.next_due(), Some(T0 + 120_000), "job a runs 60 s");
        at(&gh, &mut agent, T0 + 120_000).await;
        assert_eq!(agent.next_due(), Some(T0 + 150_000), "job b runs 30 s");
        at(&gh, &mut agent, T0 + 150_000).await;
        assert!(gh.jobs().iter().all(|j| j.state == JobState::Completed));
        let jobs: Vec<_> = agent.jobs().values().cloned().collect();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[0].started_at, T0 + 60_000);
        assert_eq!(jobs[1].started_at, T0 + 120_000);
        assert_eq!(jobs[1].completed_at, Some(T0 + 150_000));
        assert_eq!(agent.records()["i-1"].jobs_completed, 2);
        assert!(
            cloud.terminated.lock().unwrap().is_empty(),
            "reusable stays"
        );
        assert_eq!(agent.next_due(), None);
        assert!(agent.errors().is_empty(), "{:?}", agent.errors());
    }

    #[tokio::test]
    async fn ephemeral_runner_terminates_its_instance_after_one_job() {
        let gh = fake().await;
        let cloud = Cloud::default();
        for id in ["i-1", "i-2"] {
            cloud.live.lock().unwrap().push(id.into());
            cloud
                .tokens
                .lock()
                .unwrap()
                .insert(id.into(), registration_token(&gh));
        }
        let mut agent = Agent::new(gh.clone(), cloud.clone(), settings(true, BTreeMap::new()));
        queue(&gh, &["a", "b", "c"]);
        at(&gh, &mut agent, T0).await;
        at(&gh, &mut agent, T0 + 40_000).await;
        at(&gh, &mut agent, T0 + 60_000).await;
        assert_eq!(agent.busy(), 2, "two runners, two jobs");
        at(&gh, &mut agent, T0 + 61_000).await;
        assert_eq!(agent.busy(), 0, "an ephemeral runner takes no second job");
        assert!(
            gh.runners().is_empty(),
            "ephemeral runners removed after their job"
        );
        assert!(cloud.terminated.lock().unwrap().is_empty());
        at(&gh, &mut agent, T0 + 71_000).await;
        assert_eq!(cloud.terminated.lock().unwrap().len(), 2);
        assert!(agent.records().values().all(|r| r.terminated_by_agent));
        let queued = gh
            .jobs()
            .iter()
            .filter(|j| j.state == JobState::Queued)
            .count();
        assert_eq!(queued, 1, "the third job waits for a new runner");
    }

    #[tokio::test]
    async fn missing_token_waits_then_gives_up_and_a_vanished_instance_goes_offline() {
        let gh = fake().await;
        let cloud = Cloud::default();
        cloud.live.lock().unwrap().push("i-1".into());
        let mut s = settings(false, BTreeMap::new());
        s.token_wait_ms = 10_000;
        let mut agent = Agent::new(gh.clone(), cloud.clone(), s);
        at(&gh, &mut agent, T0).await;
        at(&gh, &mut agent, T0 + 40_000).await;
        assert_eq!(
            agent.records()["i-1"].state,
            MachineState::WaitingForToken { since: T0 + 40_000 }
        );
        at(&gh, &mut agent, T0 + 50_000).await;
        assert_eq!(agent.records()["i-1"].state, MachineState::Stuck);
        // A second instance registers, then its instance is terminated by someone else.
        cloud.live.lock().unwrap().push("i-2".into());
        cloud
            .tokens
            .lock()
            .unwrap()
            .insert("i-2".into(), registration_token(&gh));
        at(&gh, &mut agent, T0 + 60_000).await;
        at(&gh, &mut agent, T0 + 100_000).await;
        at(&gh, &mut agent, T0 + 120_000).await;
        let r = gh.runner_by_name("runner-i-2").unwrap();
        assert!(r.online);
        cloud.live.lock().unwrap().retain(|i| i != "i-2");
        at(&gh, &mut agent, T0 + 130_000).await;
        assert!(!gh.runner_by_name("runner-i-2").unwrap().online);
        assert_eq!(agent.records()["i-2"].gone_at, Some(T0 + 130_000));
        assert_eq!(agent.records()["i-2"].state, MachineState::Gone);
    }

    #[tokio::test]
    async fn a_refused_credential_is_reported() {
        let gh = fake().await;
        let cloud = Cloud::default();
        cloud.live.lock().unwrap().push("i-1".into());
        cloud
            .tokens
            .lock()
            .unwrap()
            .insert("i-1".into(), "not-a-token".into());
        let mut agent = Agent::new(gh.clone(), cloud, settings(false, BTreeMap::new()));
        at(&gh, &mut agent, T0).await;
        at(&gh, &mut agent, T0 + 40_000).await;
        at(&gh, &mut agent, T0 + 60_000).await;
        assert_eq!(agent.records()["i-1"].state, MachineState::Stuck);
        assert_eq!(agent.errors().len(), 1, "{:?}", agent.errors());
        assert!(agent.errors()[0].contains("404"), "{:?}", agent.errors());
    }
}
