//! The HTTP server: router, the GitHub pipeline (faults → auth → rate limits → request
//! validation → handler → headers → response validation → accounting), and the handle.
use crate::clock::{system_now_ms, Clock};
use crate::openapi::Spec;
use crate::seed::*;
use crate::traffic::{Fault, RequestRecord, StatsSummary, Traffic};
use crate::webhook::Delivery;
use crate::world::*;
use axum::body::{to_bytes, Body};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What to do with responses that do not match GitHub's OpenAPI description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// Do not validate.
    Off,
    /// Validate and record failures ([`FakeGitHubHandle::validation_failures`]).
    #[default]
    Record,
    /// Validate, record, and replace a failing response with a 500 naming the violations, so the
    /// client under test fails loudly.
    Enforce,
}

/// Options of [`FakeGitHub::start`].
#[derive(Debug, Clone)]
pub struct FakeGitHubOptions {
    /// Port on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Response validation against the OpenAPI description (skipped, loudly, when absent).
    pub validation: Validation,
    /// Validate request bodies against the description and answer 422 like GitHub.
    pub validate_requests: bool,
    /// Hourly request budget per installation / user / app (GitHub: 5000).
    pub rate_limit_per_hour: u32,
    /// Status of an exhausted primary rate limit (GitHub answers 403, sometimes 429).
    pub primary_rate_limit_status: u16,
    /// A busy runner offline this long gets its job failed.
    pub runner_lost_timeout: Duration,
    /// actions/runner version reported by runners and downloads.
    pub runner_version: String,
    /// The clock (default: system clock).
    pub clock: Option<Clock>,
    /// State to load at start.
    pub seed: Option<Seed>,
    /// How often the background task processes due events (scheduled runs, lost runners).
    pub tick_interval: Duration,
    /// Where the REST API lives under the origin: `""` (github.com) or, like GitHub Enterprise
    /// Server, `/api/v3`. [`FakeGitHubHandle::base_url`] includes it; the `/_testkit` control
    /// routes and release downloads stay at the origin, as GHES serves downloads.
    pub base_path: String,
}

impl Default for FakeGitHubOptions {
    fn default() -> Self {
        Self {
            port: 0,
            validation: Validation::Record,
            validate_requests: true,
            rate_limit_per_hour: 5000,
            primary_rate_limit_status: 403,
            runner_lost_timeout: Duration::from_secs(600),
            runner_version: "2.323.0".into(),
            clock: None,
            seed: None,
            tick_interval: Duration::from_millis(100),
            base_path: String::new(),
        }
    }
}

impl FakeGitHubOptions {
    /// Defaults for tests: every response validated, violations turned into 500s.
    pub fn strict() -> Self {
        Self {
            validation: Validation::Enforce,
            ..Self::default()
        }
    }
}

pub(crate) struct Inner {
    pub world: World,
    pub traffic: Traffic,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub inner: Arc<Mutex<Inner>>,
    pub spec: Option<&'static Spec>,
    pub validation: Validation,
    pub validate_requests: bool,
    /// The REST API's path under the origin (`""` or e.g. `/api/v3`).
    pub base_path: String,
}

/// `api/v3/` → `/api/v3`; `""` and `/` → `""`. Refuses anything but plain path segments.
fn normalise_base_path(p: &str) -> std::io::Result<String> {
    let trimmed = p.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let ok = trimmed.split('/').all(|seg| {
        !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    });
    if !ok || trimmed.starts_with("_testkit") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("base_path {p:?} is not a plain path such as /api/v3"),
        ));
    }
    Ok(format!("/{trimmed}"))
}

impl AppState {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fake GitHub server.
pub struct FakeGitHub;

impl FakeGitHub {
    /// Start on 127.0.0.1 (needs a tokio runtime).
    pub async fn start(opts: FakeGitHubOptions) -> std::io::Result<FakeGitHubHandle> {
        let base_path = normalise_base_path(&opts.base_path)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let origin = format!("http://{addr}");
        let base_url = format!("{origin}{base_path}");
        let clock = opts.clock.clone().unwrap_or_default();
        let mut world = World::new(
            clock.clone(),
            base_url.clone(),
            opts.runner_version.clone(),
            opts.runner_lost_timeout.as_millis() as i64,
        );
        world.origin = origin.clone();
        let traffic = Traffic::new(opts.rate_limit_per_hour, opts.primary_rate_limit_status);
        let spec = if opts.validation != Validation::Off || opts.validate_requests {
            Spec::shared()
        } else {
            None
        };
        let state = AppState {
            inner: Arc::new(Mutex::new(Inner { world, traffic })),
            spec,
            validation: opts.validation,
            validate_requests: opts.validate_requests,
            base_path: base_path.clone(),
        };
        let (post_tx, post_rx) = tokio::sync::mpsc::unbounded_channel();
        state.lock().world.webhooks.poster = Some(post_tx);
        let app = crate::api::router(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let ticker_state = state.clone();
        let interval = opts.tick_interval.max(Duration::from_millis(5));
        let ticker = tokio::spawn(async move {
            let mut iv = tokio::time::interval(interval);
            loop {
                iv.tick().await;
                ticker_state.lock().world.tick();
            }
        });
        let poster = tokio::spawn(crate::api::webhook_poster(state.clone(), post_rx));
        let handle = FakeGitHubHandle {
            state,
            addr,
            base_url,
            origin,
            clock,
            tasks: Arc::new(vec![server, ticker, poster]),
        };
        if let Some(seed) = &opts.seed {
            handle
                .seed(seed)
                .map_err(|e| std::io::Error::other(format!("seed: {}", e.body)))?;
        }
        Ok(handle)
    }
}

/// A running fake; dropping the last clone stops it.
#[derive(Clone)]
pub struct FakeGitHubHandle {
    pub(crate) state: AppState,
    addr: SocketAddr,
    base_url: String,
    origin: String,
    clock: Clock,
    tasks: Arc<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for FakeGitHubHandle {
    fn drop(&mut self) {
        if Arc::strong_count(&self.tasks) == 1 {
            for t in self.tasks.iter() {
                t.abort();
            }
        }
    }
}

/// A test GitHub App: its id and the private key to give the client.
#[derive(Debug, Clone)]
pub struct TestApp {
    /// App id (JWT `iss`).
    pub app_id: u64,
    /// PEM private key for octocrab's `.app(app_id, EncodingKey::from_rsa_pem(..))`.
    pub private_key_pem: String,
}

/// A run with its derived status.
#[derive(Debug, Clone, Serialize)]
pub struct RunView {
    /// The run.
    pub run: Run,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    /// Conclusion when completed.
    pub conclusion: Option<String>,
}

type R<T> = Result<T, ApiError>;

impl FakeGitHubHandle {
    fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let mut g = self.state.lock();
        g.world.tick();
        f(&mut g.world)
    }

    /// The REST API: `http://127.0.0.1:PORT` plus the base path (`/api/v3` for a GHES-shaped
    /// fake) — give it to octocrab as `base_uri`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }
    /// `http://127.0.0.1:PORT`: the `/_testkit` control routes and release downloads.
    pub fn origin(&self) -> String {
        self.origin.clone()
    }
    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The fake's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
    /// Move the fake clock forward and process what became due.
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
        self.tick();
    }
    /// Process what is due now (scheduled runs, lost runners, job assignment).
    pub fn tick(&self) {
        self.state.lock().world.tick();
    }

    // -------------------------------------------------------------- seeding

    /// Load a whole seed.
    pub fn seed(&self, s: &Seed) -> R<()> {
        self.with(|w| w.apply_seed(s))
    }
    /// Add an organization; returns its id.
    pub fn add_org(&self, login: &str) -> u64 {
        self.with(|w| w.ensure_account(login, true, None).id)
    }
    /// Add a user; returns its id.
    pub fn add_user(&self, login: &str) -> u64 {
        self.with(|w| w.ensure_account(login, false, None).id)
    }
    /// Add a private repository `owner/name` (the owner becomes an org if unknown).
    pub fn add_repo(&self, owner: &str, name: &str) -> u64 {
        self.add_repo_spec(&RepoSpec::new(owner, name))
            .expect("add_repo")
    }
    /// Add a repository.
    pub fn add_repo_spec(&self, spec: &RepoSpec) -> R<u64> {
        self.with(|w| w.add_repo(spec))
    }
    /// Register a GitHub App.
    pub fn add_app(&self, spec: &AppSpec) -> R<u64> {
        self.with(|w| w.add_app(spec))
    }
    /// Register an app with the checked-in test key.
    pub fn add_test_app(&self, slug: &str) -> TestApp {
        let keys = crate::keys::test_key_pair();
        let app_id = self
            .add_app(&AppSpec {
                slug: slug.into(),
                public_key_pem: keys.public_pem,
                ..Default::default()
            })
            .expect("add_test_app");
        TestApp {
            app_id,
            private_key_pem: keys.private_pem,
        }
    }
    /// Install an app.
    pub fn add_installation(&self, spec: &InstallationSpec) -> R<u64> {
        self.with(|w| w.add_installation(spec))
    }
    /// Install an app on all repositories of an account, with the default permissions.
    pub fn install_app(&self, app_id: u64, account: &str) -> u64 {
        self.add_installation(&InstallationSpec {
            app_id,
            account: account.into(),
            ..Default::default()
        })
        .expect("install_app")
    }
    /// Accept a personal access token for `login`.
    pub fn add_personal_token(&self, token: &str, login: &str) {
        self.with(|w| {
            w.add_pat(&TokenSpec {
                token: token.into(),
                login: login.into(),
            })
        })
    }
    /// Mint an installation token directly (bypassing the JWT exchange).
    pub fn mint_installation_token(&self, installation_id: u64) -> R<String> {
        self.with(|w| {
            let inst = w
                .installations
                .get(&installation_id)
                .ok_or_else(ApiError::not_found)?
                .clone();
            Ok(
                w.mint_installation_token(installation_id, None, inst.permissions)
                    .0,
            )
        })
    }
    /// Add a runner group to an org; returns its id.
    pub fn add_runner_group(&self, spec: &RunnerGroupSpec) -> R<u64> {
        self.with(|w| w.add_group(spec))
    }
    /// Add a runner as if registered earlier; returns its id.
    pub fn add_runner(&self, spec: &RunnerSpec) -> R<u64> {
        self.with(|w| w.seed_runner(spec))
    }
    /// Add a workflow run with its jobs; returns the run id.
    pub fn add_run(&self, spec: &RunSpec) -> R<u64> {
        self.with(|w| w.add_run(spec))
    }
    /// Queue one job in a new run of `owner/name`; returns the job id.
    pub fn queue_job(&self, repo: &str, name: &str, labels: &[&str]) -> R<u64> {
        self.with(|w| {
            let run = w.add_run(&RunSpec::new(repo, vec![JobSpec::queued(name, labels)]))?;
            Ok(w.jobs
                .values()
                .find(|j| j.run_id == run)
                .map(|j| j.id)
                .unwrap())
        })
    }
    /// Add a release.
    pub fn add_release(&self, spec: &ReleaseSpec) -> R<u64> {
        self.with(|w| w.add_release(spec))
    }
    /// Publish `actions/runner` `v{version}` with the usual Linux/Windows/macOS assets.
    pub fn add_actions_runner_release(&self, version: &str) -> R<u64> {
        let assets = [
            ("linux", "x64", "tar.gz"),
            ("linux", "arm64", "tar.gz"),
            ("linux", "arm", "tar.gz"),
            ("osx", "x64", "tar.gz"),
            ("osx", "arm64", "tar.gz"),
            ("win", "x64", "zip"),
            ("win", "arm64", "zip"),
        ]
        .iter()
        .map(|(os, arch, ext)| format!("actions-runner-{os}-{arch}-{version}.{ext}"))
        .collect();
        self.add_release(&ReleaseSpec {
            repo: "actions/runner".into(),
            tag_name: format!("v{version}"),
            assets,
            ..Default::default()
        })
    }

    // -------------------------------------------------------------- inspection

    /// All runners.
    pub fn runners(&self) -> Vec<Runner> {
        self.with(|w| w.runners.values().cloned().collect())
    }
    /// One runner.
    pub fn runner(&self, id: u64) -> Option<Runner> {
        self.with(|w| w.runners.get(&id).cloned())
    }
    /// A runner by name (any scope).
    pub fn runner_by_name(&self, name: &str) -> Option<Runner> {
        self.with(|w| w.runners.values().find(|r| r.name == name).cloned())
    }
    /// All jobs (every attempt, including ones not visible yet).
    pub fn jobs(&self) -> Vec<Job> {
        self.with(|w| w.jobs.values().cloned().collect())
    }
    /// One job.
    pub fn job(&self, id: u64) -> Option<Job> {
        self.with(|w| w.jobs.get(&id).cloned())
    }
    /// Jobs of a run, every attempt.
    pub fn jobs_of_run(&self, run_id: u64) -> Vec<Job> {
        self.with(|w| {
            w.jobs
                .values()
                .filter(|j| j.run_id == run_id)
                .cloned()
                .collect()
        })
    }
    /// A run and its derived status.
    pub fn run(&self, id: u64) -> Option<RunView> {
        self.with(|w| {
            let run = w.runs.get(&id)?.clone();
            let (status, conclusion) = w.run_status(id);
            Some(RunView {
                run,
                status: status.into(),
                conclusion,
            })
        })
    }
    /// Every job → runner assignment so far, in order.
    pub fn assignments(&self) -> Vec<Assignment> {
        self.with(|w| w.assignments.clone())
    }
    /// The whole state as JSON (also `GET /_testkit/state`).
    pub fn state_json(&self) -> Value {
        self.with(|w| w.snapshot())
    }

    // -------------------------------------------------------------- jobs and agents

    /// Complete a job with a conclusion (as its runner would); returns whether the runner was
    /// removed (ephemeral).
    pub fn complete_job(&self, job_id: u64, conclusion: &str) -> R<bool> {
        self.with(|w| w.complete_job(job_id, conclusion))
    }
    /// Register a runner with a registration token (like `config.sh`); it stays offline.
    pub fn agent_register(&self, reg: &AgentRegistration) -> R<AgentSession> {
        self.with(|w| w.agent_register(reg))
    }
    /// Connect with an encoded JIT config (like `run.sh --jitconfig`); goes online.
    pub fn agent_connect_jit(&self, encoded_jit_config: &str) -> R<AgentSession> {
        self.with(|w| w.agent_connect_jit(encoded_jit_config, None, None))
    }
    /// Bring a runner online or take it offline.
    pub fn set_runner_online(&self, runner_id: u64, online: bool) -> R<()> {
        self.with(|w| w.set_online(runner_id, online))
    }
    /// The job assigned to a runner, if any.
    pub fn assigned_job(&self, runner_id: u64) -> Option<Job> {
        self.with(|w| {
            let jid = w.runners.get(&runner_id)?.current_job?;
            w.jobs.get(&jid).cloned()
        })
    }

    // -------------------------------------------------------------- faults, limits, stats

    /// Install a fault; returns its id.
    pub fn inject_fault(&self, spec: FaultSpec) -> u64 {
        self.state.lock().traffic.add_fault(spec)
    }
    /// Remove every fault.
    pub fn clear_faults(&self) {
        self.state.lock().traffic.faults.clear();
    }
    /// Installed faults with their hit counts.
    pub fn faults(&self) -> Vec<Fault> {
        self.state.lock().traffic.faults.clone()
    }
    /// Delay every GitHub API answer.
    pub fn set_latency(&self, d: Duration) {
        self.state.lock().traffic.latency_ms = d.as_millis() as u64;
    }
    /// Hourly budget of one identity (`installation:ID`, `user:LOGIN`, `app:ID`, `anonymous`),
    /// or the default for all when `identity` is None.
    pub fn set_rate_limit(&self, identity: Option<&str>, limit: u32) {
        let mut g = self.state.lock();
        match identity {
            Some(id) => {
                g.traffic.limit_overrides.insert(id.into(), limit);
            }
            None => g.traffic.default_limit = limit,
        }
    }
    /// Install (or remove) a secondary rate limit.
    pub fn set_secondary_limit(&self, limit: Option<SecondaryLimit>) {
        self.state.lock().traffic.secondary = limit;
    }
    /// The current rate-limit window of an identity.
    pub fn rate_window(&self, identity: &str) -> Option<RateWindow> {
        self.state.lock().traffic.windows.get(identity).cloned()
    }
    /// Every GitHub API request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.lock().traffic.records.clone()
    }
    /// Aggregated counts.
    pub fn stats(&self) -> StatsSummary {
        self.state.lock().traffic.summary()
    }
    /// Forget the request log.
    pub fn reset_stats(&self) {
        self.state.lock().traffic.records.clear();
    }

    // -------------------------------------------------------------- webhooks, validation

    /// Enable webhook deliveries (to `spec.url` if set, and to subscribers).
    pub fn set_webhook(&self, spec: WebhookSpec) {
        let mut g = self.state.lock();
        g.world.webhooks.spec = spec;
        g.world.webhooks.enabled = true;
    }
    /// Receive every delivery from now on, in process (enables deliveries if off).
    pub fn subscribe_webhooks(&self) -> tokio::sync::mpsc::UnboundedReceiver<Delivery> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut g = self.state.lock();
        g.world.webhooks.enabled = true;
        g.world.webhooks.subscribers.push(tx);
        rx
    }
    /// Every delivery so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().world.webhooks.log.clone()
    }
    /// Responses that did not match the OpenAPI description.
    pub fn validation_failures(&self) -> Vec<String> {
        self.state.lock().traffic.validation_failures.clone()
    }
    /// Panic with the violations, if any.
    pub fn assert_no_validation_failures(&self) {
        let f = self.validation_failures();
        assert!(
            f.is_empty(),
            "responses violating GitHub's OpenAPI description:\n{}",
            f.join("\n")
        );
    }
    /// Whether the OpenAPI description was found (validation active).
    pub fn validation_active(&self) -> bool {
        self.state.spec.is_some() && self.state.validation != Validation::Off
    }
}

// ------------------------------------------------------------------ the GitHub pipeline

/// Body of a GitHub request, parsed by the pipeline.
#[derive(Clone, Debug)]
pub(crate) struct ReqJson(pub Option<Value>);

enum Need {
    Jwt,
    Public,
    Token,
}

fn need(method: &str, template: &str) -> Need {
    match (method, template) {
        ("GET", "/app")
        | ("POST", "/app/installations/{installation_id}/access_tokens")
        | ("GET", "/orgs/{org}/installation")
        | ("GET", "/users/{username}/installation")
        | ("GET", "/repos/{owner}/{repo}/installation") => Need::Jwt,
        ("GET", "/rate_limit") | ("GET", "/repos/{owner}/{repo}/releases/latest") => Need::Public,
        _ => Need::Token,
    }
}

/// Permission an installation token needs for an operation.
fn permission(method: &str, template: &str) -> Option<(&'static str, &'static str)> {
    let write = method != "GET";
    let lvl = if write { "write" } else { "read" };
    if template.starts_with("/orgs/{org}/actions/runner") {
        return Some(("organization_self_hosted_runners", lvl));
    }
    if template.starts_with("/repos/{owner}/{repo}/actions/runners") {
        return Some(("administration", lvl));
    }
    if template.starts_with("/repos/{owner}/{repo}/actions/") {
        return Some(("actions", lvl));
    }
    if template == "/orgs/{org}/repos" && write {
        return Some(("administration", "write"));
    }
    if template.starts_with("/repos/{owner}/{repo}/releases") {
        return Some(("contents", "read"));
    }
    None
}

#[derive(Deserialize)]
struct JwtClaims {
    iss: Option<Value>,
    iat: Option<Value>,
    exp: Option<Value>,
}

fn jwt_err(msg: &str) -> ApiError {
    ApiError::new(401, msg)
}

/// Who is calling (never fails on a missing header: that is `Anonymous`).
pub(crate) fn classify(w: &World, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let Some(raw) = headers.get("authorization") else {
        return Ok(Principal::Anonymous);
    };
    let raw = raw
        .to_str()
        .map_err(|_| ApiError::new(401, "Bad credentials"))?;
    let (scheme, cred) = raw.split_once(' ').unwrap_or((raw, ""));
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("token") {
        return Err(ApiError::new(401, "Bad credentials"));
    }
    let cred = cred.trim();
    if cred.split('.').count() == 3 && cred.starts_with("eyJ") {
        return verify_jwt(w, cred);
    }
    if let Some(t) = w.inst_tokens.get(cred) {
        if t.expires_at <= w.now() {
            return Err(ApiError::new(401, "Bad credentials"));
        }
        let inst = w
            .installations
            .get(&t.installation_id)
            .ok_or_else(|| ApiError::new(401, "Bad credentials"))?;
        if inst.suspended {
            return Err(ApiError::new(403, "This installation has been suspended"));
        }
        return Ok(Principal::Installation {
            installation_id: t.installation_id,
            repo_ids: t.repo_ids.clone(),
            permissions: t.permissions.clone(),
        });
    }
    if let Some(login) = w.pats.get(cred) {
        let id = w.account(login).map(|a| a.id).unwrap_or(0);
        return Ok(Principal::User {
            login: login.clone(),
            id,
        });
    }
    Err(ApiError::new(401, "Bad credentials"))
}

fn verify_jwt(w: &World, token: &str) -> Result<Principal, ApiError> {
    use base64::Engine;
    let undecodable = || jwt_err("A JSON web token could not be decoded");
    let payload = token.split('.').nth(1).ok_or_else(undecodable)?;
    let claims: JwtClaims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(undecodable)?;
    let app = match &claims.iss {
        Some(Value::Number(n)) => n.as_u64().and_then(|id| w.apps.get(&id)),
        Some(Value::String(s)) => s
            .parse::<u64>()
            .ok()
            .and_then(|id| w.apps.get(&id))
            .or_else(|| w.apps.values().find(|a| &a.client_id == s)),
        _ => {
            return Err(jwt_err("'Issuer' claim ('iss') must be an Integer"));
        }
    }
    .ok_or_else(undecodable)?;
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.required_spec_claims.clear();
    v.leeway = 0;
    jsonwebtoken::decode::<Value>(token, &app.key, &v).map_err(|_| undecodable())?;
    let now = system_now_ms() / 1000;
    let exp = claims.exp.as_ref().and_then(Value::as_i64).ok_or_else(|| {
        jwt_err("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
    })?;
    let iat = claims.iat.as_ref().and_then(Value::as_i64).ok_or_else(|| {
        jwt_err("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued")
    })?;
    if exp <= now {
        return Err(jwt_err("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"));
    }
    if exp > now + 600 {
        return Err(jwt_err(
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    if iat > now + 60 {
        return Err(jwt_err("'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"));
    }
    Ok(Principal::App { app_id: app.id })
}

fn rate_headers(h: &mut HeaderMap, w: &RateWindow) {
    let mut set = |k: &'static str, v: String| {
        h.insert(
            HeaderName::from_static(k),
            HeaderValue::from_str(&v).unwrap(),
        );
    };
    set("x-ratelimit-limit", w.limit.to_string());
    set("x-ratelimit-remaining", w.remaining().to_string());
    set("x-ratelimit-used", w.used.to_string());
    set("x-ratelimit-reset", w.reset.to_string());
    set("x-ratelimit-resource", "core".into());
}

pub(crate) fn json_response(
    status: u16,
    body: Option<&Value>,
    headers: &[(String, String)],
) -> Response {
    let mut resp = match body {
        Some(b) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [("content-type", "application/json; charset=utf-8")],
            b.to_string(),
        )
            .into_response(),
        None => StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
    };
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

pub(crate) fn error_response(e: &ApiError) -> Response {
    json_response(e.status, Some(&e.body), &e.headers)
}

fn default_fault_body(status: u16, request_id: &str) -> Value {
    let msg = match status {
        401 => "Bad credentials".to_string(),
        403 | 429 => format!("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID {request_id}."),
        404 => "Not Found".into(),
        422 => "Validation Failed".into(),
        500 | 502 => "Server Error".into(),
        503 => "Service Unavailable".into(),
        s => StatusCode::from_u16(s)
            .ok()
            .and_then(|c| c.canonical_reason())
            .unwrap_or("Error")
            .to_string(),
    };
    json!({"message": msg, "documentation_url": DOCS, "status": status.to_string()})
}

/// The GitHub pipeline, as an axum middleware around the GitHub routes.
pub(crate) async fn github_pipeline(
    State(st): State<AppState>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().as_str().to_string();
    // Paths and templates are the API's own (without a GHES base path), so faults, permissions
    // and validation read the same under `/api/v3`.
    let strip = |p: &str| -> String {
        match p.strip_prefix(st.base_path.as_str()) {
            Some(rest)
                if !st.base_path.is_empty() && (rest.is_empty() || rest.starts_with('/')) =>
            {
                if rest.is_empty() {
                    "/".to_string()
                } else {
                    rest.to_string()
                }
            }
            _ => p.to_string(),
        }
    };
    let path = strip(req.uri().path());
    let template = matched
        .map(|m| strip(m.as_str()))
        .unwrap_or_else(|| path.clone());
    // Step 1: classify the caller, pick a fault.
    let (principal, fault, latency, request_id, now) = {
        let mut g = st.lock();
        g.world.tick();
        let now = g.world.now();
        let principal = classify(&g.world, req.headers());
        let fault = g.traffic.take_fault(&method, &template, &path);
        let rid = format!(
            "{:04X}:{:06X}",
            g.world.next_seq() % 0xFFFF,
            now.rem_euclid(0xFFFFFF)
        );
        (principal, fault, g.traffic.latency_ms, rid, now)
    };
    let delay = latency + fault.as_ref().map(|f| f.spec.delay_ms).unwrap_or(0);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let identity = match &principal {
        Ok(p) => p.identity(),
        Err(_) => "anonymous".into(),
    };
    let mut record = RequestRecord {
        at: now,
        method: method.clone(),
        path: path.clone(),
        route: template.clone(),
        identity: principal.as_ref().ok().map(|p| p.identity()),
        status: 0,
        fault: fault.as_ref().map(|f| f.id),
        rate_limited: false,
    };
    let base_headers = |resp: &mut Response, window: Option<&RateWindow>| {
        let h = resp.headers_mut();
        if let Some(w) = window {
            rate_headers(h, w);
        }
        h.insert(
            "x-github-request-id",
            HeaderValue::from_str(&request_id).unwrap(),
        );
        h.insert(
            "x-github-api-version-selected",
            HeaderValue::from_static("2022-11-28"),
        );
        h.insert(
            "x-github-media-type",
            HeaderValue::from_static("github.v3; format=json"),
        );
    };
    let finish = |st: &AppState, mut record: RequestRecord, resp: Response| -> Response {
        record.status = resp.status().as_u16();
        st.lock().traffic.records.push(record);
        resp
    };
    // Step 2: a fault with a status answers now.
    if let Some(f) = fault.as_ref().filter(|f| f.spec.status.is_some()) {
        let status = f.spec.status.unwrap();
        let body = f
            .spec
            .body
            .clone()
            .unwrap_or_else(|| default_fault_body(status, &request_id));
        let headers: Vec<(String, String)> = f.spec.headers.clone().into_iter().collect();
        let mut resp = json_response(status, Some(&body), &headers);
        let window = st.lock().traffic.window(&identity, now);
        base_headers(&mut resp, Some(&window));
        // A fault's own headers win over the defaults.
        for (k, v) in &f.spec.headers {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
                resp.headers_mut().insert(k, v);
            }
        }
        return finish(&st, record, resp);
    }
    // Step 3: authentication and the endpoint's requirement.
    let principal = match principal {
        Ok(p) => p,
        Err(e) => {
            let mut resp = error_response(&e);
            let window = st.lock().traffic.window("anonymous", now);
            base_headers(&mut resp, Some(&window));
            return finish(&st, record, resp);
        }
    };
    let refusal = match (need(&method, &template), &principal) {
        (Need::Jwt, Principal::App { .. }) => None,
        (Need::Jwt, _) => Some(jwt_err("A JSON web token could not be decoded")),
        (Need::Public, _) => None,
        (Need::Token, Principal::Anonymous) => Some(ApiError::new(401, "Requires authentication")),
        (Need::Token, Principal::App { .. }) => Some(ApiError::not_accessible()),
        (Need::Token, Principal::Installation { permissions, .. }) => {
            match permission(&method, &template) {
                Some((perm, lvl)) => {
                    let want: BTreeMap<String, String> =
                        [(perm.to_string(), lvl.to_string())].into_iter().collect();
                    (!permissions_cover(permissions, &want)).then(ApiError::not_accessible)
                }
                None => None,
            }
        }
        (Need::Token, Principal::User { .. }) => None,
    };
    // Step 4: rate limits (GET /rate_limit is free).
    let free = method == "GET" && template == "/rate_limit";
    let window = {
        let mut g = st.lock();
        if let Some(s) = (!free)
            .then(|| g.traffic.secondary_exceeded(&identity, now))
            .flatten()
        {
            let w = g.traffic.window(&identity, now);
            drop(g);
            let body = default_fault_body(429, &request_id);
            let mut resp = json_response(
                s.status,
                Some(&body),
                &[("retry-after".into(), s.retry_after_secs.to_string())],
            );
            base_headers(&mut resp, Some(&w));
            record.rate_limited = true;
            return finish(&st, record, resp);
        }
        if free {
            g.traffic.window(&identity, now)
        } else {
            match g.traffic.consume(&identity, now) {
                Ok(w) => w,
                Err(w) => {
                    let status = g.traffic.primary_status;
                    drop(g);
                    let msg = match &principal {
                        Principal::Installation { installation_id, .. } => {
                            format!("API rate limit exceeded for installation ID {installation_id}.")
                        }
                        Principal::User { id, .. } => format!("API rate limit exceeded for user ID {id}."),
                        Principal::App { app_id } => format!("API rate limit exceeded for app ID {app_id}."),
                        Principal::Anonymous => "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)".into(),
                    };
                    let body = json!({"message": msg, "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", "status": status.to_string()});
                    let mut resp = json_response(status, Some(&body), &[]);
                    base_headers(&mut resp, Some(&w));
                    record.rate_limited = true;
                    return finish(&st, record, resp);
                }
            }
        }
    };
    if let Some(e) = refusal {
        let mut resp = error_response(&e);
        base_headers(&mut resp, Some(&window));
        return finish(&st, record, resp);
    }
    // Step 5: the body.
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 10 * 1024 * 1024).await.unwrap_or_default();
    let json_body = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        None
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => Some(v),
            Err(_) => {
                let mut resp = error_response(&ApiError::new(400, "Problems parsing JSON"));
                base_headers(&mut resp, Some(&window));
                return finish(&st, record, resp);
            }
        }
    };
    if st.validate_requests {
        if let Some(spec) = st.spec.filter(|s| s.find(&method, &template).is_some()) {
            let body_for_check = json_body.as_ref().filter(|v| !v.is_null());
            if let Err(errs) = spec.validate_request(&method, &template, body_for_check) {
                let e = ApiError::simple_422(format!("Invalid request.\n\n{}", errs.join("\n")));
                let mut resp = error_response(&e);
                base_headers(&mut resp, Some(&window));
                return finish(&st, record, resp);
            }
        }
    }
    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(principal);
    req.extensions_mut().insert(ReqJson(json_body));
    // Step 6: the handler.
    let mut resp = next.run(req).await;
    base_headers(&mut resp, Some(&window));
    // Step 7: validation of the answer.
    if st.validation != Validation::Off {
        // Paths outside the description (the 404 fallback) are not validated.
        if let Some(spec) = st.spec.filter(|s| s.find(&method, &template).is_some()) {
            let (parts, body) = resp.into_parts();
            let bytes = to_bytes(body, 50 * 1024 * 1024).await.unwrap_or_default();
            let parsed: Option<Value> = if bytes.is_empty() {
                None
            } else {
                serde_json::from_slice(&bytes).ok()
            };
            let status = parts.status.as_u16();
            let errs = if !bytes.is_empty() && parsed.is_none() {
                Err(vec![format!(
                    "{method} {template} → {status}: body is not JSON"
                )])
            } else {
                spec.validate_response(&method, &template, status, parsed.as_ref())
            };
            resp = Response::from_parts(parts, Body::from(bytes));
            if let Err(errs) = errs {
                for e in &errs {
                    eprintln!("fake-github: OpenAPI violation: {e}");
                }
                st.lock().traffic.validation_failures.extend(errs.clone());
                if st.validation == Validation::Enforce {
                    let body = json!({"message": "fake-github: response failed OpenAPI validation", "errors": errs});
                    resp = json_response(500, Some(&body), &[]);
                    base_headers(&mut resp, Some(&window));
                }
            }
        }
    }
    finish(&st, record, resp)
}
