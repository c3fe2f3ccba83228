//! The fake's state and GitHub's rules over it: accounts, repositories, apps, installations,
//! tokens, runner groups, runners, workflow runs and jobs, releases; job assignment, reruns,
//! lost runners, scheduled runs.
//!
//! Everything here is synchronous and guarded by one mutex in [`crate::FakeGitHubHandle`].
use crate::clock::{parse_rfc3339, rfc3339, Clock, Millis};
use crate::seed::*;
use crate::webhook::{Delivery, WebhookState};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Default documentation URL in error bodies.
pub const DOCS: &str = "https://docs.github.com/rest";
/// GitHub's limit on re-runs of one workflow run.
pub const MAX_RERUNS_PER_RUN: u32 = 50;
/// Installation tokens live one hour.
pub const INSTALLATION_TOKEN_TTL_MS: i64 = 3_600_000;
/// Registration and remove tokens live one hour.
pub const RUNNER_TOKEN_TTL_MS: i64 = 3_600_000;
/// Runs older than this cannot be re-run.
pub const RERUN_MAX_AGE_MS: i64 = 30 * 24 * 3_600_000;

/// An error answer: status, JSON body and extra headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Value,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    /// `{"message": msg, "documentation_url": ..., "status": "<code>"}`.
    pub fn new(status: u16, msg: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"message": msg.into(), "documentation_url": DOCS, "status": status.to_string()}),
            headers: vec![],
        }
    }
    /// 404 Not Found.
    pub fn not_found() -> Self {
        Self::new(404, "Not Found")
    }
    /// 422 with GitHub's "Validation Failed" shape.
    pub fn validation(errors: Vec<Value>) -> Self {
        Self {
            status: 422,
            body: json!({"message": "Validation Failed", "errors": errors, "documentation_url": DOCS, "status": "422"}),
            headers: vec![],
        }
    }
    /// 422 with a message and string errors ("Validation Error Simple").
    pub fn simple_422(msg: impl Into<String>) -> Self {
        Self::new(422, msg)
    }
    /// 403 "Resource not accessible by integration".
    pub fn not_accessible() -> Self {
        Self::new(403, "Resource not accessible by integration")
    }
}

/// Result type of world operations.
pub type ApiResult<T> = Result<T, ApiError>;

/// Who is calling.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// A GitHub App, authenticated with a JWT.
    App {
        /// App id.
        app_id: u64,
    },
    /// An installation access token.
    Installation {
        /// Installation id.
        installation_id: u64,
        /// Repos the token is narrowed to (None: the installation's).
        repo_ids: Option<Vec<u64>>,
        /// Permissions of the token.
        permissions: BTreeMap<String, String>,
    },
    /// A personal access token.
    User {
        /// Login.
        login: String,
        /// User id.
        id: u64,
    },
    /// No credentials.
    Anonymous,
}

impl Principal {
    /// Rate-limit identity: `installation:ID`, `user:LOGIN`, `app:ID`, `anonymous`.
    pub fn identity(&self) -> String {
        match self {
            Principal::App { app_id } => format!("app:{app_id}"),
            Principal::Installation {
                installation_id, ..
            } => format!("installation:{installation_id}"),
            Principal::User { login, .. } => format!("user:{login}"),
            Principal::Anonymous => "anonymous".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct App {
    pub id: u64,
    pub slug: String,
    pub name: String,
    pub owner: String,
    pub client_id: String,
    pub key: jsonwebtoken::DecodingKey,
    pub created_at: Millis,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Account {
    pub id: u64,
    pub login: String,
    pub is_org: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub created_at: Millis,
}

impl Repo {
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Installation {
    pub id: u64,
    pub app_id: u64,
    pub account: String,
    pub repo_ids: Option<Vec<u64>>,
    pub permissions: BTreeMap<String, String>,
    pub suspended: bool,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub(crate) struct InstToken {
    pub installation_id: u64,
    pub expires_at: Millis,
    pub repo_ids: Option<Vec<u64>>,
    pub permissions: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RunnerGroup {
    pub id: u64,
    pub org: String,
    pub name: String,
    pub visibility: String,
    pub default: bool,
    pub selected_repo_ids: Vec<u64>,
    pub allows_public_repositories: bool,
}

/// Where a runner (or a token) is registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// An organization (lower-case login).
    Org(String),
    /// A repository id.
    Repo(u64),
}

/// A label on a runner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunnerLabel {
    /// Label id.
    pub id: u64,
    /// Label name.
    pub name: String,
    /// `read-only` or `custom`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A self-hosted runner as the fake holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Runner {
    /// Runner id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Where it is registered.
    pub scope: Scope,
    /// Runner group id (1 = Default).
    pub group_id: u64,
    /// OS as reported (`linux`, ...; `unknown` for a JIT runner that never connected).
    pub os: String,
    /// Architecture (`x64`, ...).
    pub arch: String,
    /// Online?
    pub online: bool,
    /// Running a job?
    pub busy: bool,
    /// Ephemeral (one job)?
    pub ephemeral: bool,
    /// Labels.
    pub labels: Vec<RunnerLabel>,
    /// Runner version, once connected.
    pub version: Option<String>,
    /// Created via JIT config.
    pub jit: bool,
    /// The job it runs.
    pub current_job: Option<u64>,
    /// When it last became idle (assignment prefers the longest idle).
    pub idle_since: Millis,
    /// When it went offline while busy.
    pub lost_since: Option<Millis>,
    /// Registration time.
    pub created_at: Millis,
    #[serde(skip)]
    pub(crate) secret: String,
}

/// Internal job state (GitHub shows `pending`/`scheduled` jobs to nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Its run is not created yet (future `created_at`).
    Scheduled,
    /// Waiting for `needs`.
    Pending,
    /// Queued, waiting for a runner.
    Queued,
    /// Running.
    InProgress,
    /// Done.
    Completed,
}

impl JobState {
    /// GitHub's status string.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Scheduled | JobState::Pending => "pending",
            JobState::Queued => "queued",
            JobState::InProgress => "in_progress",
            JobState::Completed => "completed",
        }
    }
}

/// A job as the fake holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Job id.
    pub id: u64,
    /// Run id.
    pub run_id: u64,
    /// Attempt this job belongs to.
    pub run_attempt: u32,
    /// Name.
    pub name: String,
    /// `runs-on` labels.
    pub labels: Vec<String>,
    /// State.
    pub state: JobState,
    /// Conclusion once completed.
    pub conclusion: Option<String>,
    /// Creation (queue) time.
    pub created_at: Millis,
    /// Start time.
    pub started_at: Option<Millis>,
    /// Completion time.
    pub completed_at: Option<Millis>,
    /// `needs:`.
    pub needs: Vec<String>,
    /// Runner id.
    pub runner_id: Option<u64>,
    /// Runner name.
    pub runner_name: Option<String>,
    /// Runner group id.
    pub runner_group_id: Option<u64>,
    /// Runner group name.
    pub runner_group_name: Option<String>,
    /// Superseded by a later attempt.
    pub superseded: bool,
}

/// A workflow run as the fake holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Run id.
    pub id: u64,
    /// Repository id.
    pub repo_id: u64,
    /// Workflow id.
    pub workflow_id: u64,
    /// Workflow name.
    pub workflow_name: String,
    /// Workflow path.
    pub path: String,
    /// Branch.
    pub head_branch: String,
    /// Commit.
    pub head_sha: String,
    /// Event.
    pub event: String,
    /// Actor login.
    pub actor: String,
    /// Run number.
    pub run_number: u64,
    /// Current attempt.
    pub run_attempt: u32,
    /// Re-runs so far.
    pub reruns: u32,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
    /// Start of the current attempt.
    pub run_started_at: Millis,
    /// Whether `workflow_run.completed` was sent for the current attempt.
    pub completed_sent: bool,
    /// Whether the run became visible (`requested` sent).
    pub visible: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Release {
    pub id: u64,
    pub repo_id: u64,
    pub tag_name: String,
    pub name: String,
    pub draft: bool,
    pub prerelease: bool,
    pub published_at: Millis,
    pub assets: Vec<(u64, String)>,
}

#[derive(Debug, Clone)]
pub(crate) struct RunnerToken {
    pub scope: Scope,
    pub expires_at: Millis,
    pub remove: bool,
}

/// One assignment of a job to a runner (the log tests use to observe job stealing).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Assignment {
    /// Job id.
    pub job_id: u64,
    /// Job name.
    pub job_name: String,
    /// Runner id.
    pub runner_id: u64,
    /// Runner name.
    pub runner_name: String,
    /// When (fake clock).
    pub at: Millis,
}

/// The answer to an agent's registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentSession {
    /// Runner id.
    pub runner_id: u64,
    /// Runner name.
    pub name: String,
    /// The secret the agent presents as `Authorization: Bearer ...` on `/_testkit/agent/...`.
    pub credentials: String,
    /// Ephemeral?
    pub ephemeral: bool,
}

/// Registration of a runner with a registration token (like `config.sh --token`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AgentRegistration {
    /// The registration token.
    pub token: String,
    /// Runner name.
    pub name: String,
    /// Custom labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// `--ephemeral`.
    #[serde(default)]
    pub ephemeral: bool,
    /// `--runnergroup` (org scope; default `Default`).
    #[serde(default)]
    pub runner_group: Option<String>,
    /// `--replace`: take over a runner of the same name.
    #[serde(default)]
    pub replace: bool,
    /// `--no-default-labels`.
    #[serde(default)]
    pub no_default_labels: bool,
    /// OS (default `linux`).
    #[serde(default)]
    pub os: Option<String>,
    /// Architecture (default `x64`).
    #[serde(default)]
    pub arch: Option<String>,
}

/// What the fake knows about the rate limits of one credential.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RateWindow {
    /// Hourly budget.
    pub limit: u32,
    /// Used in this window.
    pub used: u32,
    /// Window end, epoch seconds.
    pub reset: i64,
}

impl RateWindow {
    /// Remaining requests.
    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

pub(crate) struct World {
    pub clock: Clock,
    /// The REST API's URL (origin + base path): `url` fields and `Link` headers.
    pub base_url: String,
    /// The server's origin (`/_testkit` routes, downloads).
    pub origin: String,
    pub runner_version: String,
    pub runner_lost_timeout_ms: i64,
    seq: u64,
    next_runner_id: u64,
    next_group_id: u64,
    next_label_id: u64,
    next_job_id: u64,
    next_run_id: u64,
    next_account_id: u64,
    next_repo_id: u64,
    next_installation_id: u64,
    next_app_id: u64,
    pub apps: BTreeMap<u64, App>,
    pub accounts: BTreeMap<String, Account>,
    pub repos: BTreeMap<u64, Repo>,
    pub installations: BTreeMap<u64, Installation>,
    pub inst_tokens: HashMap<String, InstToken>,
    pub pats: HashMap<String, String>,
    pub groups: Vec<RunnerGroup>,
    pub runners: BTreeMap<u64, Runner>,
    labels: BTreeMap<String, u64>,
    pub runs: BTreeMap<u64, Run>,
    pub jobs: BTreeMap<u64, Job>,
    pub releases: Vec<Release>,
    pub runner_tokens: HashMap<String, RunnerToken>,
    pub jit_configs: HashMap<String, u64>,
    pub assignments: Vec<Assignment>,
    pub webhooks: WebhookState,
    workflow_ids: HashMap<(u64, String), u64>,
    run_numbers: HashMap<u64, u64>,
}

pub(crate) fn lc(s: &str) -> String {
    s.to_ascii_lowercase()
}

pub(crate) fn default_permissions() -> BTreeMap<String, String> {
    [
        ("actions", "write"),
        ("administration", "write"),
        ("organization_self_hosted_runners", "write"),
        ("contents", "read"),
        ("metadata", "read"),
        ("checks", "read"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn level(l: &str) -> u8 {
    match l {
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        _ => 0,
    }
}

/// Does `granted` cover `wanted` (a permission map)?
pub(crate) fn permissions_cover(
    granted: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> bool {
    wanted
        .iter()
        .all(|(k, v)| granted.get(k).is_some_and(|g| level(g) >= level(v)))
}

fn os_label(os: &str) -> String {
    match lc(os).as_str() {
        "linux" => "Linux".into(),
        "windows" | "win" => "Windows".into(),
        "macos" | "osx" | "darwin" => "macOS".into(),
        other => other.to_string(),
    }
}

fn arch_label(arch: &str) -> String {
    match lc(arch).as_str() {
        "x64" | "amd64" | "x86_64" => "X64".into(),
        "arm64" | "aarch64" => "ARM64".into(),
        "arm" => "ARM".into(),
        other => other.to_uppercase(),
    }
}

const READ_ONLY_NAMES: &[&str] = &[
    "self-hosted",
    "linux",
    "windows",
    "macos",
    "x64",
    "arm64",
    "arm",
];

impl World {
    pub fn new(
        clock: Clock,
        base_url: String,
        runner_version: String,
        runner_lost_timeout_ms: i64,
    ) -> Self {
        World {
            clock,
            origin: base_url.clone(),
            base_url,
            runner_version,
            runner_lost_timeout_ms,
            seq: 0,
            next_runner_id: 1,
            next_group_id: 2,
            next_label_id: 1,
            next_job_id: 30_000_000_001,
            next_run_id: 15_000_000_001,
            next_account_id: 9_000_001,
            next_repo_id: 700_000_001,
            next_installation_id: 50_000_001,
            next_app_id: 900_001,
            apps: BTreeMap::new(),
            accounts: BTreeMap::new(),
            repos: BTreeMap::new(),
            installations: BTreeMap::new(),
            inst_tokens: HashMap::new(),
            pats: HashMap::new(),
            groups: Vec::new(),
            runners: BTreeMap::new(),
            labels: BTreeMap::new(),
            runs: BTreeMap::new(),
            jobs: BTreeMap::new(),
            releases: Vec::new(),
            runner_tokens: HashMap::new(),
            jit_configs: HashMap::new(),
            assignments: Vec::new(),
            webhooks: WebhookState::default(),
            workflow_ids: HashMap::new(),
            run_numbers: HashMap::new(),
        }
    }

    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// A deterministic pseudo-random string from the alphabet.
    pub fn token_chars(&mut self, n: usize, alphabet: &[u8]) -> String {
        let mut out = String::new();
        while out.len() < n {
            self.seq += 1;
            let digest = Sha256::digest(format!("flotilla-testkit:{}", self.seq).as_bytes());
            for b in digest {
                if out.len() == n {
                    break;
                }
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
        out
    }

    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    // ---------------------------------------------------------------- accounts, repos, apps

    pub fn ensure_account(&mut self, login: &str, is_org: bool, id: Option<u64>) -> Account {
        if let Some(a) = self.accounts.get(&lc(login)) {
            return a.clone();
        }
        let id = id.unwrap_or_else(|| {
            self.next_account_id += 1;
            self.next_account_id
        });
        let a = Account {
            id,
            login: login.to_string(),
            is_org,
        };
        self.accounts.insert(lc(login), a.clone());
        if is_org {
            self.groups.push(RunnerGroup {
                id: 1,
                org: lc(login),
                name: "Default".into(),
                visibility: "all".into(),
                default: true,
                selected_repo_ids: vec![],
                allows_public_repositories: true,
            });
        }
        a
    }

    pub fn account(&self, login: &str) -> Option<&Account> {
        self.accounts.get(&lc(login))
    }

    pub fn add_repo(&mut self, spec: &RepoSpec) -> ApiResult<u64> {
        if let Some(r) = self.find_repo(&spec.owner, &spec.name) {
            return Ok(r.id);
        }
        let owner = self.ensure_account(&spec.owner, true, None);
        let id = spec.id.unwrap_or_else(|| {
            self.next_repo_id += 1;
            self.next_repo_id
        });
        let now = self.now();
        self.repos.insert(
            id,
            Repo {
                id,
                owner: owner.login,
                name: spec.name.clone(),
                private: spec.private,
                created_at: now,
            },
        );
        Ok(id)
    }

    pub fn find_repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .values()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    pub fn repo_by_full_name(&self, full: &str) -> ApiResult<&Repo> {
        let (o, n) = full
            .split_once('/')
            .ok_or_else(|| ApiError::new(400, format!("repo must be owner/name, got {full:?}")))?;
        self.find_repo(o, n)
            .ok_or_else(|| ApiError::new(404, format!("unknown repository {full}")))
    }

    pub fn add_app(&mut self, spec: &AppSpec) -> ApiResult<u64> {
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(spec.public_key_pem.as_bytes())
            .map_err(|e| ApiError::new(400, format!("bad public_key_pem: {e}")))?;
        let id = spec.id.unwrap_or_else(|| {
            self.next_app_id += 1;
            self.next_app_id
        });
        let owner = spec
            .owner
            .clone()
            .or_else(|| {
                self.accounts
                    .values()
                    .find(|a| a.is_org)
                    .map(|a| a.login.clone())
            })
            .unwrap_or_else(|| "octocat".into());
        let owner = self.ensure_account(&owner, true, None).login;
        let now = self.now();
        let client_id = spec
            .client_id
            .clone()
            .unwrap_or_else(|| format!("Iv1.{:016x}", id));
        self.apps.insert(
            id,
            App {
                id,
                slug: spec.slug.clone(),
                name: spec.name.clone().unwrap_or_else(|| spec.slug.clone()),
                owner,
                client_id,
                key,
                created_at: now,
            },
        );
        Ok(id)
    }

    pub fn add_installation(&mut self, spec: &InstallationSpec) -> ApiResult<u64> {
        if !self.apps.contains_key(&spec.app_id) {
            return Err(ApiError::new(404, format!("unknown app {}", spec.app_id)));
        }
        let account = match self.account(&spec.account) {
            Some(a) => a.clone(),
            None => self.ensure_account(&spec.account, true, None),
        };
        let repo_ids = if spec.repositories.is_empty() {
            None
        } else {
            let mut ids = Vec::new();
            for name in &spec.repositories {
                let r = self
                    .find_repo(&account.login, name)
                    .ok_or_else(|| ApiError::new(404, format!("unknown repository {name}")))?;
                ids.push(r.id);
            }
            Some(ids)
        };
        let id = spec.id.unwrap_or_else(|| {
            self.next_installation_id += 1;
            self.next_installation_id
        });
        let now = self.now();
        self.installations.insert(
            id,
            Installation {
                id,
                app_id: spec.app_id,
                account: account.login,
                repo_ids,
                permissions: if spec.permissions.is_empty() {
                    default_permissions()
                } else {
                    spec.permissions.clone()
                },
                suspended: spec.suspended,
                created_at: now,
            },
        );
        Ok(id)
    }

    pub fn add_pat(&mut self, spec: &TokenSpec) {
        self.ensure_account(&spec.login, false, None);
        self.pats.insert(spec.token.clone(), spec.login.clone());
    }

    /// Repositories an installation can reach.
    pub fn installation_repo_ids(&self, inst: &Installation) -> Vec<u64> {
        match &inst.repo_ids {
            Some(ids) => ids.clone(),
            None => self
                .repos
                .values()
                .filter(|r| r.owner.eq_ignore_ascii_case(&inst.account))
                .map(|r| r.id)
                .collect(),
        }
    }

    pub fn mint_installation_token(
        &mut self,
        installation_id: u64,
        repo_ids: Option<Vec<u64>>,
        permissions: BTreeMap<String, String>,
    ) -> (String, Millis) {
        let token = format!(
            "ghs_{}",
            self.token_chars(
                36,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
            )
        );
        let expires_at = self.now() + INSTALLATION_TOKEN_TTL_MS;
        self.inst_tokens.insert(
            token.clone(),
            InstToken {
                installation_id,
                expires_at,
                repo_ids,
                permissions,
            },
        );
        (token, expires_at)
    }

    // ---------------------------------------------------------------- access

    /// Check that the principal may touch this org (installation account / PAT).
    pub fn check_org_access(&self, p: &Principal, org: &str) -> ApiResult<()> {
        match p {
            Principal::User { .. } => Ok(()),
            Principal::Installation {
                installation_id, ..
            } => {
                let inst = self
                    .installations
                    .get(installation_id)
                    .ok_or_else(ApiError::not_found)?;
                if inst.account.eq_ignore_ascii_case(org) {
                    Ok(())
                } else {
                    Err(ApiError::not_accessible())
                }
            }
            _ => Err(ApiError::not_accessible()),
        }
    }

    /// Check that the principal may touch this repo; repos outside the token answer 404.
    pub fn check_repo_access(&self, p: &Principal, repo: &Repo) -> ApiResult<()> {
        match p {
            Principal::User { .. } => Ok(()),
            Principal::Anonymous if !repo.private => Ok(()),
            Principal::Installation {
                installation_id,
                repo_ids,
                ..
            } => {
                let inst = self
                    .installations
                    .get(installation_id)
                    .ok_or_else(ApiError::not_found)?;
                let allowed = match repo_ids {
                    Some(ids) => ids.contains(&repo.id),
                    None => self.installation_repo_ids(inst).contains(&repo.id),
                };
                if allowed || !repo.private {
                    Ok(())
                } else {
                    Err(ApiError::not_found())
                }
            }
            _ => Err(ApiError::not_found()),
        }
    }

    pub fn org_exists(&self, org: &str) -> ApiResult<String> {
        match self.account(org) {
            Some(a) if a.is_org => Ok(lc(&a.login)),
            _ => Err(ApiError::not_found()),
        }
    }

    // ---------------------------------------------------------------- runner groups

    pub fn group(&self, org: &str, id: u64) -> Option<&RunnerGroup> {
        self.groups.iter().find(|g| g.org == lc(org) && g.id == id)
    }

    pub fn group_by_name(&self, org: &str, name: &str) -> Option<&RunnerGroup> {
        self.groups
            .iter()
            .find(|g| g.org == lc(org) && g.name.eq_ignore_ascii_case(name))
    }

    pub fn add_group(&mut self, spec: &RunnerGroupSpec) -> ApiResult<u64> {
        let org = self.org_exists(&spec.org)?;
        if self.group_by_name(&org, &spec.name).is_some() {
            return Err(ApiError::validation(vec![json!({
                "resource": "RunnerGroup", "code": "already_exists", "field": "name",
                "message": format!("A runner group named '{}' already exists", spec.name)
            })]));
        }
        let visibility = spec.visibility.clone().unwrap_or_else(|| "all".into());
        if !["all", "selected", "private"].contains(&visibility.as_str()) {
            return Err(ApiError::validation(vec![
                json!({"resource":"RunnerGroup","code":"invalid","field":"visibility"}),
            ]));
        }
        let mut selected = Vec::new();
        for name in &spec.selected_repositories {
            let r = self
                .find_repo(&org, name)
                .ok_or_else(|| ApiError::new(404, format!("unknown repository {name}")))?;
            selected.push(r.id);
        }
        let id = self.next_group_id;
        self.next_group_id += 1;
        self.groups.push(RunnerGroup {
            id,
            org,
            name: spec.name.clone(),
            visibility,
            default: false,
            selected_repo_ids: selected,
            allows_public_repositories: spec.allows_public_repositories,
        });
        Ok(id)
    }

    fn group_admits(&self, g: &RunnerGroup, repo: &Repo) -> bool {
        if !repo.private && !g.allows_public_repositories {
            return false;
        }
        match g.visibility.as_str() {
            "selected" => g.selected_repo_ids.contains(&repo.id),
            "private" => repo.private,
            _ => true,
        }
    }

    // ---------------------------------------------------------------- runners

    pub fn label_id(&mut self, name: &str) -> u64 {
        if let Some(id) = self.labels.get(&lc(name)) {
            return *id;
        }
        let id = self.next_label_id;
        self.next_label_id += 1;
        self.labels.insert(lc(name), id);
        id
    }

    fn make_labels(&mut self, read_only: &[String], custom: &[String]) -> Vec<RunnerLabel> {
        let mut out: Vec<RunnerLabel> = Vec::new();
        for (names, kind) in [(read_only, "read-only"), (custom, "custom")] {
            for n in names {
                if out.iter().any(|l| l.name.eq_ignore_ascii_case(n)) {
                    continue;
                }
                let id = self.label_id(n);
                out.push(RunnerLabel {
                    id,
                    name: n.clone(),
                    kind: kind.into(),
                });
            }
        }
        out
    }

    pub fn scope_of_spec(&mut self, org: Option<&str>, repo: Option<&str>) -> ApiResult<Scope> {
        match (org, repo) {
            (Some(o), None) => Ok(Scope::Org(self.org_exists(o)?)),
            (None, Some(r)) => Ok(Scope::Repo(self.repo_by_full_name(r)?.id)),
            _ => Err(ApiError::new(400, "give exactly one of org / repo")),
        }
    }

    fn runner_name_taken(&self, scope: &Scope, name: &str) -> Option<u64> {
        self.runners
            .values()
            .find(|r| &r.scope == scope && r.name.eq_ignore_ascii_case(name))
            .map(|r| r.id)
    }

    #[allow(clippy::too_many_arguments)]
    fn create_runner(
        &mut self,
        scope: Scope,
        name: &str,
        group_id: u64,
        os: &str,
        arch: &str,
        read_only: Vec<String>,
        custom: Vec<String>,
        ephemeral: bool,
        jit: bool,
    ) -> u64 {
        let labels = self.make_labels(&read_only, &custom);
        let id = self.next_runner_id;
        self.next_runner_id += 1;
        let now = self.now();
        let secret = self.token_chars(40, b"abcdef0123456789");
        self.runners.insert(
            id,
            Runner {
                id,
                name: name.to_string(),
                scope,
                group_id,
                os: os.to_string(),
                arch: arch.to_string(),
                online: false,
                busy: false,
                ephemeral,
                labels,
                version: None,
                jit,
                current_job: None,
                idle_since: now,
                lost_since: None,
                created_at: now,
                secret,
            },
        );
        id
    }

    fn resolve_group(&self, scope: &Scope, group: Option<&str>) -> ApiResult<u64> {
        match scope {
            Scope::Org(org) => match group {
                None => Ok(1),
                Some(g) => self.group_by_name(org, g).map(|g| g.id).ok_or_else(|| {
                    ApiError::new(
                        404,
                        format!("Could not find any self-hosted runner group named \"{g}\"."),
                    )
                }),
            },
            Scope::Repo(_) => Ok(1),
        }
    }

    pub fn seed_runner(&mut self, spec: &RunnerSpec) -> ApiResult<u64> {
        let scope = self.scope_of_spec(spec.org.as_deref(), spec.repo.as_deref())?;
        if self.runner_name_taken(&scope, &spec.name).is_some() {
            return Err(ApiError::new(
                409,
                format!("A runner named {} already exists", spec.name),
            ));
        }
        let group_id = self.resolve_group(&scope, spec.runner_group.as_deref())?;
        let os = spec.os.clone().unwrap_or_else(|| "linux".into());
        let arch = spec.arch.clone().unwrap_or_else(|| "x64".into());
        let read_only = if spec.no_default_labels {
            vec![]
        } else {
            vec!["self-hosted".into(), os_label(&os), arch_label(&arch)]
        };
        let id = self.create_runner(
            scope,
            &spec.name,
            group_id,
            &os,
            &arch,
            read_only,
            spec.labels.clone(),
            spec.ephemeral,
            false,
        );
        let v = self.runner_version.clone();
        let r = self.runners.get_mut(&id).unwrap();
        r.version = Some(v);
        if spec.online {
            self.set_online(id, true)?;
        }
        Ok(id)
    }

    /// POST generate-jitconfig.
    pub fn generate_jit(&mut self, scope: Scope, body: &Value) -> ApiResult<(u64, String)> {
        let name = body.get("name").and_then(Value::as_str);
        let group_id = body.get("runner_group_id").and_then(Value::as_u64);
        let labels = body.get("labels").and_then(Value::as_array);
        let mut missing = Vec::new();
        if name.is_none() {
            missing.push("name");
        }
        if group_id.is_none() {
            missing.push("runner_group_id");
        }
        if labels.is_none() {
            missing.push("labels");
        }
        if !missing.is_empty() {
            return Err(ApiError::simple_422(format!(
                "Invalid request.\n\n{} {} required.",
                missing
                    .iter()
                    .map(|m| format!("\"{m}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
                if missing.len() == 1 {
                    "wasn't supplied but is"
                } else {
                    "weren't supplied but are"
                }
            )));
        }
        let (name, group_id, labels) = (name.unwrap(), group_id.unwrap(), labels.unwrap());
        let labels: Vec<String> = labels
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        if labels.is_empty() || labels.len() > 100 {
            return Err(ApiError::simple_422(
                "Invalid request.\n\nFor 'properties/labels', the array must contain between 1 and 100 labels.",
            ));
        }
        if name.trim().is_empty() {
            return Err(ApiError::simple_422("Runner name must not be empty"));
        }
        match &scope {
            Scope::Org(org) => {
                if self.group(org, group_id).is_none() {
                    return Err(ApiError::new(404, "Runner group not found"));
                }
            }
            Scope::Repo(_) => {
                if group_id != 1 {
                    return Err(ApiError::new(404, "Runner group not found"));
                }
            }
        }
        if self.runner_name_taken(&scope, name).is_some() {
            return Err(ApiError::new(
                409,
                format!("Already exists - A runner with the name {name} already exists."),
            ));
        }
        let (read_only, custom): (Vec<String>, Vec<String>) = labels
            .into_iter()
            .partition(|l| READ_ONLY_NAMES.contains(&lc(l).as_str()));
        let id = self.create_runner(
            scope, name, group_id, "unknown", "unknown", read_only, custom, true, true,
        );
        let secret = self.runners[&id].secret.clone();
        let jit_key = self.token_chars(32, b"abcdefghijklmnopqrstuvwxyz0123456789");
        self.jit_configs.insert(jit_key.clone(), id);
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let runner_file = json!({"AgentId": id, "AgentName": name, "PoolId": group_id,
            "ServerUrl": self.base_url, "GitHubUrl": self.base_url, "WorkFolder": body.get("work_folder").and_then(Value::as_str).unwrap_or("_work"),
            "Ephemeral": true, "FakeGitHubJitKey": jit_key});
        let creds = json!({"Scheme": "OAuth", "Data": {"clientId": format!("fake-{id}"), "authorizationUrl": format!("{}/_testkit/agent/token", self.origin), "requireFipsCryptography": "False"}});
        let rsa = json!({"d": "", "dp": "", "dq": "", "exponent": "AQAB", "inverseQ": "", "modulus": secret, "p": "", "q": ""});
        let config = json!({
            ".runner": b64.encode(runner_file.to_string()),
            ".credentials": b64.encode(creds.to_string()),
            ".credentials_rsaparams": b64.encode(rsa.to_string()),
        });
        Ok((id, b64.encode(config.to_string())))
    }

    pub fn mint_runner_token(&mut self, scope: Scope, remove: bool) -> (String, Millis) {
        let token = self.token_chars(29, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        let expires_at = self.now() + RUNNER_TOKEN_TTL_MS;
        self.runner_tokens.insert(
            token.clone(),
            RunnerToken {
                scope,
                expires_at,
                remove,
            },
        );
        (token, expires_at)
    }

    /// `config.sh --token`: register a runner with a registration token (runner stays offline).
    pub fn agent_register(&mut self, reg: &AgentRegistration) -> ApiResult<AgentSession> {
        let now = self.now();
        let tok = self
            .runner_tokens
            .get(&reg.token)
            .filter(|t| !t.remove && t.expires_at > now)
            .cloned()
            .ok_or_else(|| ApiError::new(404, "Invalid or expired registration token"))?;
        if let Some(existing) = self.runner_name_taken(&tok.scope, &reg.name) {
            if !reg.replace {
                return Err(ApiError::new(
                    409,
                    format!("A runner exists with the same name {}.", reg.name),
                ));
            }
            if self.runners[&existing].busy {
                return Err(ApiError::new(
                    422,
                    format!(
                        "Bad request - Runner \"{}\" is still running a job\"",
                        reg.name
                    ),
                ));
            }
            self.remove_runner(existing);
        }
        let group_id = self.resolve_group(&tok.scope, reg.runner_group.as_deref())?;
        let os = reg.os.clone().unwrap_or_else(|| "linux".into());
        let arch = reg.arch.clone().unwrap_or_else(|| "x64".into());
        let read_only = if reg.no_default_labels {
            vec![]
        } else {
            vec!["self-hosted".into(), os_label(&os), arch_label(&arch)]
        };
        let id = self.create_runner(
            tok.scope,
            &reg.name,
            group_id,
            &os,
            &arch,
            read_only,
            reg.labels.clone(),
            reg.ephemeral,
            false,
        );
        let v = self.runner_version.clone();
        let r = self.runners.get_mut(&id).unwrap();
        r.version = Some(v);
        Ok(AgentSession {
            runner_id: id,
            name: r.name.clone(),
            credentials: r.secret.clone(),
            ephemeral: r.ephemeral,
        })
    }

    /// `run.sh --jitconfig`: connect a JIT runner (goes online). A JIT config works once.
    pub fn agent_connect_jit(
        &mut self,
        encoded: &str,
        os: Option<&str>,
        arch: Option<&str>,
    ) -> ApiResult<AgentSession> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let bad = || ApiError::new(401, "Invalid JIT configuration");
        let outer: Value = b64
            .decode(encoded.trim())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(bad)?;
        let runner_file: Value = outer
            .get(".runner")
            .and_then(Value::as_str)
            .and_then(|s| b64.decode(s).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(bad)?;
        let key = runner_file
            .get("FakeGitHubJitKey")
            .and_then(Value::as_str)
            .ok_or_else(bad)?;
        let id = self.jit_configs.remove(key).ok_or_else(|| {
            ApiError::new(
                401,
                "The JIT configuration was already used or its runner was removed",
            )
        })?;
        let os = os.unwrap_or("linux").to_string();
        let arch = arch.unwrap_or("x64").to_string();
        let v = self.runner_version.clone();
        let r = self.runners.get_mut(&id).ok_or_else(bad)?;
        r.os = os;
        r.arch = arch;
        r.version = Some(v);
        let session = AgentSession {
            runner_id: id,
            name: r.name.clone(),
            credentials: r.secret.clone(),
            ephemeral: r.ephemeral,
        };
        self.set_online(id, true)?;
        Ok(session)
    }

    /// Check an agent's credentials.
    pub fn agent_auth(&self, runner_id: u64, secret: &str) -> ApiResult<()> {
        match self.runners.get(&runner_id) {
            Some(r) if r.secret == secret => Ok(()),
            Some(_) => Err(ApiError::new(401, "Bad runner credentials")),
            None => Err(ApiError::new(
                404,
                "Runner not found: it was removed (deleted, or ephemeral and done)",
            )),
        }
    }

    /// `config.sh remove --token`: remove with a remove token.
    pub fn agent_remove(&mut self, token: &str, runner_id: u64) -> ApiResult<()> {
        let now = self.now();
        let tok = self
            .runner_tokens
            .get(token)
            .filter(|t| t.remove && t.expires_at > now)
            .cloned()
            .ok_or_else(|| ApiError::new(404, "Invalid or expired remove token"))?;
        match self.runners.get(&runner_id) {
            Some(r) if r.scope == tok.scope => {
                if r.busy {
                    return Err(ApiError::new(
                        422,
                        format!(
                            "Bad request - Runner \"{}\" is still running a job\"",
                            r.name
                        ),
                    ));
                }
                self.remove_runner(runner_id);
                Ok(())
            }
            _ => Err(ApiError::not_found()),
        }
    }

    pub fn set_online(&mut self, runner_id: u64, online: bool) -> ApiResult<()> {
        let now = self.now();
        let r = self
            .runners
            .get_mut(&runner_id)
            .ok_or_else(ApiError::not_found)?;
        if r.online == online {
            return Ok(());
        }
        r.online = online;
        if online {
            r.lost_since = None;
            if !r.busy {
                r.idle_since = now;
            }
        } else if r.busy {
            r.lost_since = Some(now);
        }
        self.tick();
        Ok(())
    }

    pub fn remove_runner(&mut self, runner_id: u64) -> Option<Runner> {
        let r = self.runners.remove(&runner_id)?;
        self.jit_configs.retain(|_, id| *id != runner_id);
        Some(r)
    }

    /// DELETE runner (API): refused with 422 while busy.
    pub fn delete_runner(&mut self, scope: &Scope, runner_id: u64) -> ApiResult<()> {
        let r = self
            .runners
            .get(&runner_id)
            .filter(|r| &r.scope == scope)
            .ok_or_else(ApiError::not_found)?;
        if r.busy {
            return Err(ApiError::simple_422(format!(
                "Bad request - Runner \"{}\" is still running a job\"",
                r.name
            )));
        }
        self.remove_runner(runner_id);
        Ok(())
    }

    pub fn runner_in_scope(&self, scope: &Scope, runner_id: u64) -> ApiResult<&Runner> {
        self.runners
            .get(&runner_id)
            .filter(|r| &r.scope == scope)
            .ok_or_else(ApiError::not_found)
    }

    /// Label operations: `add`, `set`, `clear`, `remove(name)`.
    pub fn edit_labels(
        &mut self,
        scope: &Scope,
        runner_id: u64,
        op: LabelOp,
    ) -> ApiResult<Vec<RunnerLabel>> {
        self.runner_in_scope(scope, runner_id)?;
        let mut labels = self.runners[&runner_id].labels.clone();
        match op {
            LabelOp::Add(names) | LabelOp::Set(names) if names.is_empty() || names.len() > 100 => {
                return Err(ApiError::simple_422(
                    "Invalid request.\n\nFor 'properties/labels', the array must contain between 1 and 100 labels.",
                ));
            }
            LabelOp::Add(names) => {
                for n in names {
                    if !labels.iter().any(|l| l.name.eq_ignore_ascii_case(&n)) {
                        let id = self.label_id(&n);
                        labels.push(RunnerLabel {
                            id,
                            name: n,
                            kind: "custom".into(),
                        });
                    }
                }
            }
            LabelOp::Set(names) => {
                labels.retain(|l| l.kind == "read-only");
                for n in names {
                    if !labels.iter().any(|l| l.name.eq_ignore_ascii_case(&n)) {
                        let id = self.label_id(&n);
                        labels.push(RunnerLabel {
                            id,
                            name: n,
                            kind: "custom".into(),
                        });
                    }
                }
            }
            LabelOp::Clear => labels.retain(|l| l.kind == "read-only"),
            LabelOp::Remove(name) => {
                let Some(pos) = labels
                    .iter()
                    .position(|l| l.name.eq_ignore_ascii_case(&name))
                else {
                    return Err(ApiError::not_found());
                };
                if labels[pos].kind == "read-only" {
                    return Err(ApiError::simple_422(format!(
                        "Cannot remove read-only label {name}"
                    )));
                }
                labels.remove(pos);
            }
        }
        self.runners.get_mut(&runner_id).unwrap().labels = labels.clone();
        self.tick();
        Ok(labels)
    }

    // ---------------------------------------------------------------- runs and jobs

    fn job_state_from(s: Option<&str>) -> ApiResult<JobState> {
        match s.unwrap_or("queued") {
            "queued" => Ok(JobState::Queued),
            "in_progress" => Ok(JobState::InProgress),
            "completed" => Ok(JobState::Completed),
            other => Err(ApiError::new(
                400,
                format!("unsupported job status {other:?}"),
            )),
        }
    }

    pub fn add_run(&mut self, spec: &RunSpec) -> ApiResult<u64> {
        let repo = self.repo_by_full_name(&spec.repo)?.clone();
        let now = self.now();
        let created_at = match &spec.created_at {
            Some(s) => parse_rfc3339(s)
                .ok_or_else(|| ApiError::new(400, format!("bad created_at {s:?}")))?,
            None => now,
        };
        let id = spec.id.unwrap_or_else(|| {
            self.next_run_id += 1;
            self.next_run_id
        });
        if self.runs.contains_key(&id) {
            return Err(ApiError::new(409, format!("run {id} exists")));
        }
        let workflow_name = spec.workflow_name.clone().unwrap_or_else(|| "CI".into());
        let path = spec
            .workflow_path
            .clone()
            .unwrap_or_else(|| ".github/workflows/ci.yml".into());
        let next_wf = 160_000_000 + self.workflow_ids.len() as u64 + 1;
        let workflow_id = *self
            .workflow_ids
            .entry((repo.id, path.clone()))
            .or_insert(next_wf);
        let n = self.run_numbers.entry(repo.id).or_insert(0);
        *n += 1;
        let run_number = *n;
        let attempt = spec.run_attempt.unwrap_or(1).max(1);
        let head_sha = spec.head_sha.clone().unwrap_or_else(|| {
            hex::encode(&Sha256::digest(format!("commit-{id}").as_bytes())[..20])
        });
        let future = created_at > now;
        // Validate jobs first.
        let names: BTreeSet<String> = spec.jobs.iter().map(|j| j.name.clone()).collect();
        if names.len() != spec.jobs.len() {
            return Err(ApiError::new(400, "job names must be unique within a run"));
        }
        for j in &spec.jobs {
            for n in &j.needs {
                if !names.contains(n) {
                    return Err(ApiError::new(
                        400,
                        format!("job {} needs unknown job {n}", j.name),
                    ));
                }
            }
        }
        self.runs.insert(
            id,
            Run {
                id,
                repo_id: repo.id,
                workflow_id,
                workflow_name,
                path,
                head_branch: spec.head_branch.clone().unwrap_or_else(|| "main".into()),
                head_sha,
                event: spec.event.clone().unwrap_or_else(|| "push".into()),
                actor: spec.actor.clone().unwrap_or_else(|| repo.owner.clone()),
                run_number,
                run_attempt: attempt,
                reruns: attempt - 1,
                created_at,
                updated_at: created_at,
                run_started_at: created_at,
                completed_sent: false,
                visible: false,
            },
        );
        for j in &spec.jobs {
            let state = Self::job_state_from(j.status.as_deref())?;
            let job_created = match &j.created_at {
                Some(s) => parse_rfc3339(s)
                    .ok_or_else(|| ApiError::new(400, format!("bad created_at {s:?}")))?,
                None => created_at,
            };
            let started_at = match &j.started_at {
                Some(s) => Some(
                    parse_rfc3339(s)
                        .ok_or_else(|| ApiError::new(400, format!("bad started_at {s:?}")))?,
                ),
                None if state != JobState::Queued => Some(job_created),
                None => None,
            };
            let completed_at = match &j.completed_at {
                Some(s) => Some(
                    parse_rfc3339(s)
                        .ok_or_else(|| ApiError::new(400, format!("bad completed_at {s:?}")))?,
                ),
                None if state == JobState::Completed => started_at,
                None => None,
            };
            let state = if future {
                JobState::Scheduled
            } else if state == JobState::Queued && !j.needs.is_empty() {
                JobState::Pending
            } else {
                state
            };
            let job_id = self.next_job_id;
            self.next_job_id += 1;
            let runner_name = j.runner_name.clone();
            // A seeded in_progress job on a known idle runner makes that runner busy with it.
            if state == JobState::InProgress && !future {
                let scope_ok = |r: &Runner| match &r.scope {
                    Scope::Repo(id) => *id == repo.id,
                    Scope::Org(org) => *org == lc(&repo.owner),
                };
                let found = self
                    .runners
                    .values()
                    .find(|r| {
                        scope_ok(r)
                            && !r.busy
                            && (j.runner_id == Some(r.id)
                                || j.runner_name.as_deref() == Some(r.name.as_str()))
                    })
                    .map(|r| r.id);
                if let Some(rid) = found {
                    let r = self.runners.get_mut(&rid).unwrap();
                    r.busy = true;
                    r.current_job = Some(job_id);
                }
            }
            self.jobs.insert(
                job_id,
                Job {
                    id: job_id,
                    run_id: id,
                    run_attempt: attempt,
                    name: j.name.clone(),
                    labels: j.labels.clone(),
                    state,
                    conclusion: if state == JobState::Completed {
                        Some(j.conclusion.clone().unwrap_or_else(|| "success".into()))
                    } else {
                        None
                    },
                    created_at: job_created,
                    started_at,
                    completed_at,
                    needs: j.needs.clone(),
                    runner_id: j.runner_id,
                    runner_name,
                    runner_group_id: j.runner_name.as_ref().map(|_| 1),
                    runner_group_name: j.runner_name.as_ref().map(|_| "Default".into()),
                    superseded: false,
                },
            );
            if let Some(r) = self
                .runners
                .values()
                .find(|r| r.current_job == Some(job_id))
            {
                let (rid, rname, gid) = (r.id, r.name.clone(), r.group_id);
                let job = self.jobs.get_mut(&job_id).unwrap();
                job.runner_id = Some(rid);
                job.runner_name = Some(rname);
                job.runner_group_id = Some(gid);
            }
        }
        let run = self.runs.get_mut(&id).unwrap();
        if !future {
            run.visible = true;
            // Seeded already-finished runs are history: no webhooks for them.
            let all_done = self
                .jobs
                .values()
                .filter(|j| j.run_id == id)
                .all(|j| j.state == JobState::Completed);
            if all_done {
                self.runs.get_mut(&id).unwrap().completed_sent = true;
            } else {
                self.emit_run_event(id, "requested");
                let queued: Vec<u64> = self
                    .jobs
                    .values()
                    .filter(|j| j.run_id == id && j.state == JobState::Queued)
                    .map(|j| j.id)
                    .collect();
                for jid in queued {
                    self.emit_job_event(jid, "queued");
                }
            }
        }
        self.tick();
        Ok(id)
    }

    /// Jobs of the run's latest attempt (per name, the highest attempt).
    pub fn latest_jobs(&self, run_id: u64) -> Vec<&Job> {
        self.jobs
            .values()
            .filter(|j| j.run_id == run_id && !j.superseded)
            .collect()
    }

    /// A run's status and conclusion, derived from its latest jobs.
    pub fn run_status(&self, run_id: u64) -> (&'static str, Option<String>) {
        let jobs = self.latest_jobs(run_id);
        let run = &self.runs[&run_id];
        if jobs.is_empty() {
            return ("completed", Some("success".into()));
        }
        if jobs.iter().all(|j| j.state == JobState::Completed) {
            let concl = |c: &str| jobs.iter().any(|j| j.conclusion.as_deref() == Some(c));
            let c = if concl("failure") || concl("timed_out") {
                "failure"
            } else if concl("cancelled") {
                "cancelled"
            } else {
                "success"
            };
            return ("completed", Some(c.into()));
        }
        let started = jobs.iter().any(|j| {
            j.state == JobState::InProgress
                || (j.state == JobState::Completed && j.run_attempt == run.run_attempt)
        });
        if started {
            ("in_progress", None)
        } else {
            ("queued", None)
        }
    }

    pub fn visible_job(&self, job_id: u64) -> Option<&Job> {
        self.jobs
            .get(&job_id)
            .filter(|j| !matches!(j.state, JobState::Scheduled | JobState::Pending))
    }

    pub fn job_repo(&self, job: &Job) -> &Repo {
        &self.repos[&self.runs[&job.run_id].repo_id]
    }

    /// Rerun a job and its dependents as a new attempt.
    pub fn rerun_job(&mut self, job_id: u64) -> ApiResult<()> {
        let job = self
            .visible_job(job_id)
            .ok_or_else(ApiError::not_found)?
            .clone();
        let run_id = job.run_id;
        let (status, _) = self.run_status(run_id);
        if status != "completed" {
            return Err(ApiError::new(403, "This workflow is already running"));
        }
        let now = self.now();
        let run = self.runs[&run_id].clone();
        if now - run.created_at > RERUN_MAX_AGE_MS {
            return Err(ApiError::new(
                403,
                "Unable to retry this workflow run because it was created over a month ago",
            ));
        }
        if run.reruns >= MAX_RERUNS_PER_RUN {
            return Err(ApiError::new(403, "This workflow run cannot be retried"));
        }
        // The job, and every job that (transitively) needs it.
        let latest: Vec<Job> = self.latest_jobs(run_id).into_iter().cloned().collect();
        let mut set: BTreeSet<String> = BTreeSet::new();
        set.insert(job.name.clone());
        loop {
            let before = set.len();
            for j in &latest {
                if j.needs.iter().any(|n| set.contains(n)) {
                    set.insert(j.name.clone());
                }
            }
            if set.len() == before {
                break;
            }
        }
        let attempt = run.run_attempt + 1;
        {
            let r = self.runs.get_mut(&run_id).unwrap();
            r.run_attempt = attempt;
            r.reruns += 1;
            r.run_started_at = now;
            r.updated_at = now;
            r.completed_sent = false;
        }
        let mut queued = Vec::new();
        for old in latest.iter().filter(|j| set.contains(&j.name)) {
            self.jobs.get_mut(&old.id).unwrap().superseded = true;
            let waits = old.needs.iter().any(|n| set.contains(n));
            let id = self.next_job_id;
            self.next_job_id += 1;
            self.jobs.insert(
                id,
                Job {
                    id,
                    run_id,
                    run_attempt: attempt,
                    name: old.name.clone(),
                    labels: old.labels.clone(),
                    state: if waits {
                        JobState::Pending
                    } else {
                        JobState::Queued
                    },
                    conclusion: None,
                    created_at: now,
                    started_at: None,
                    completed_at: None,
                    needs: old.needs.clone(),
                    runner_id: None,
                    runner_name: None,
                    runner_group_id: None,
                    runner_group_name: None,
                    superseded: false,
                },
            );
            if !waits {
                queued.push(id);
            }
        }
        self.emit_run_event(run_id, "requested");
        for id in queued {
            self.emit_job_event(id, "queued");
        }
        self.tick();
        Ok(())
    }

    /// Complete a job (agent or test), then release its runner and unblock dependents.
    pub fn complete_job(&mut self, job_id: u64, conclusion: &str) -> ApiResult<bool> {
        const OK: &[&str] = &[
            "success",
            "failure",
            "neutral",
            "cancelled",
            "skipped",
            "timed_out",
            "action_required",
        ];
        if !OK.contains(&conclusion) {
            return Err(ApiError::new(400, format!("bad conclusion {conclusion:?}")));
        }
        let now = self.now();
        let job = self.jobs.get_mut(&job_id).ok_or_else(ApiError::not_found)?;
        if job.state == JobState::Completed {
            return Err(ApiError::new(409, "job already completed"));
        }
        let was_running = job.state == JobState::InProgress;
        job.state = JobState::Completed;
        job.conclusion = Some(conclusion.to_string());
        job.started_at.get_or_insert(now);
        job.completed_at = Some(now);
        let runner_id = job.runner_id;
        let run_id = job.run_id;
        self.runs.get_mut(&run_id).unwrap().updated_at = now;
        self.emit_job_event(job_id, "completed");
        let mut removed = false;
        if let (true, Some(rid)) = (was_running, runner_id) {
            if let Some(r) = self.runners.get_mut(&rid) {
                if r.current_job == Some(job_id) {
                    r.busy = false;
                    r.current_job = None;
                    r.idle_since = now;
                    r.lost_since = None;
                    if r.ephemeral {
                        self.remove_runner(rid);
                        removed = true;
                    }
                }
            }
        }
        self.settle_run(run_id);
        self.tick();
        Ok(removed)
    }

    /// Queue or skip jobs whose `needs` finished; send `workflow_run.completed` when done.
    fn settle_run(&mut self, run_id: u64) {
        loop {
            let latest: Vec<Job> = self.latest_jobs(run_id).into_iter().cloned().collect();
            let by_name: HashMap<&str, &Job> =
                latest.iter().map(|j| (j.name.as_str(), j)).collect();
            let mut changed = false;
            for j in latest.iter().filter(|j| j.state == JobState::Pending) {
                let deps: Vec<&&Job> = j
                    .needs
                    .iter()
                    .filter_map(|n| by_name.get(n.as_str()))
                    .collect();
                if deps.iter().all(|d| d.state == JobState::Completed) {
                    let ok = deps.iter().all(|d| {
                        matches!(
                            d.conclusion.as_deref(),
                            Some("success") | Some("skipped") | Some("neutral")
                        )
                    });
                    let now = self.now();
                    let job = self.jobs.get_mut(&j.id).unwrap();
                    job.created_at = now;
                    if ok {
                        job.state = JobState::Queued;
                        self.emit_job_event(j.id, "queued");
                    } else {
                        job.state = JobState::Completed;
                        job.conclusion = Some("skipped".into());
                        job.started_at = Some(now);
                        job.completed_at = Some(now);
                    }
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let (status, _) = self.run_status(run_id);
        let run = &self.runs[&run_id];
        if status == "completed" && !run.completed_sent && run.visible {
            self.runs.get_mut(&run_id).unwrap().completed_sent = true;
            self.emit_run_event(run_id, "completed");
        }
    }

    fn runner_can_take(&self, r: &Runner, job: &Job) -> bool {
        if !r.online || r.busy {
            return false;
        }
        let repo = self.job_repo(job);
        let scope_ok = match &r.scope {
            Scope::Repo(id) => *id == repo.id,
            Scope::Org(org) => {
                lc(&repo.owner) == *org
                    && self
                        .group(org, r.group_id)
                        .is_some_and(|g| self.group_admits(g, repo))
            }
        };
        scope_ok
            && job
                .labels
                .iter()
                .all(|l| r.labels.iter().any(|rl| rl.name.eq_ignore_ascii_case(l)))
    }

    /// Process everything due at the fake clock's now: scheduled runs, lost runners, assignment.
    pub fn tick(&mut self) {
        let now = self.now();
        // 1. Runs whose time has come.
        let due: Vec<u64> = {
            let mut v: Vec<&Run> = self
                .runs
                .values()
                .filter(|r| !r.visible && r.created_at <= now)
                .collect();
            v.sort_by_key(|r| (r.created_at, r.id));
            v.into_iter().map(|r| r.id).collect()
        };
        for run_id in due {
            self.runs.get_mut(&run_id).unwrap().visible = true;
            self.emit_run_event(run_id, "requested");
            let ids: Vec<u64> = self
                .jobs
                .values()
                .filter(|j| j.run_id == run_id && j.state == JobState::Scheduled)
                .map(|j| j.id)
                .collect();
            for id in ids {
                let j = self.jobs.get_mut(&id).unwrap();
                if j.needs.is_empty() {
                    j.state = JobState::Queued;
                    self.emit_job_event(id, "queued");
                } else {
                    j.state = JobState::Pending;
                }
            }
        }
        // 2. Runners offline while busy for too long: GitHub fails their job.
        let lost: Vec<(u64, u64)> = self
            .runners
            .values()
            .filter(|r| {
                !r.online
                    && r.busy
                    && r.lost_since
                        .is_some_and(|t| now - t >= self.runner_lost_timeout_ms)
            })
            .filter_map(|r| r.current_job.map(|j| (r.id, j)))
            .collect();
        for (rid, jid) in lost {
            if let Some(r) = self.runners.get_mut(&rid) {
                r.busy = false;
                r.current_job = None;
                r.lost_since = None;
                r.idle_since = now;
            }
            let job = self.jobs.get_mut(&jid).unwrap();
            job.state = JobState::Completed;
            job.conclusion = Some("failure".into());
            job.completed_at = Some(now);
            let run_id = job.run_id;
            self.emit_job_event(jid, "completed");
            self.settle_run(run_id);
        }
        // 3. Assignment: oldest queued job first, to the longest-idle runner that can take it.
        let mut queued: Vec<(Millis, u64)> = self
            .jobs
            .values()
            .filter(|j| j.state == JobState::Queued)
            .map(|j| (j.created_at, j.id))
            .collect();
        queued.sort();
        for (_, jid) in queued {
            let job = self.jobs[&jid].clone();
            let pick = self
                .runners
                .values()
                .filter(|r| self.runner_can_take(r, &job))
                .min_by_key(|r| (r.idle_since, r.id))
                .map(|r| r.id);
            let Some(rid) = pick else { continue };
            let r = self.runners.get_mut(&rid).unwrap();
            r.busy = true;
            r.current_job = Some(jid);
            let (rname, gid) = (r.name.clone(), r.group_id);
            let gname = match &r.scope {
                Scope::Org(org) => {
                    let org = org.clone();
                    self.group(&org, gid)
                        .map(|g| g.name.clone())
                        .unwrap_or_default()
                }
                Scope::Repo(_) => "Default".into(),
            };
            let j = self.jobs.get_mut(&jid).unwrap();
            j.state = JobState::InProgress;
            j.started_at = Some(now);
            j.runner_id = Some(rid);
            j.runner_name = Some(rname.clone());
            j.runner_group_id = Some(gid);
            j.runner_group_name = Some(gname);
            let run_id = j.run_id;
            self.assignments.push(Assignment {
                job_id: jid,
                job_name: job.name.clone(),
                runner_id: rid,
                runner_name: rname,
                at: now,
            });
            let first_start = self
                .latest_jobs(run_id)
                .iter()
                .filter(|j| j.state == JobState::InProgress)
                .count()
                == 1
                && !self.latest_jobs(run_id).iter().any(|j| {
                    j.state == JobState::Completed
                        && j.run_attempt == self.runs[&run_id].run_attempt
                });
            self.runs.get_mut(&run_id).unwrap().updated_at = now;
            self.emit_job_event(jid, "in_progress");
            if first_start {
                self.emit_run_event(run_id, "in_progress");
            }
        }
    }

    // ---------------------------------------------------------------- releases

    pub fn add_release(&mut self, spec: &ReleaseSpec) -> ApiResult<u64> {
        let (o, n) = spec
            .repo
            .split_once('/')
            .ok_or_else(|| ApiError::new(400, "repo must be owner/name"))?;
        let repo_id = match self.find_repo(o, n) {
            Some(r) => r.id,
            None => self.add_repo(&RepoSpec {
                owner: o.into(),
                name: n.into(),
                private: false,
                id: None,
            })?,
        };
        let now = self.now();
        let id = 200_000_000 + self.releases.len() as u64 + 1;
        let assets = spec
            .assets
            .iter()
            .enumerate()
            .map(|(i, a)| (id * 100 + i as u64, a.clone()))
            .collect();
        self.releases.push(Release {
            id,
            repo_id,
            tag_name: spec.tag_name.clone(),
            name: spec.name.clone().unwrap_or_else(|| spec.tag_name.clone()),
            draft: spec.draft,
            prerelease: spec.prerelease,
            published_at: match &spec.published_at {
                Some(s) => {
                    parse_rfc3339(s).ok_or_else(|| ApiError::new(400, "bad published_at"))?
                }
                None => now,
            },
            assets,
        });
        Ok(id)
    }

    /// Bytes served for a release asset or runner download (deterministic).
    pub fn asset_bytes(filename: &str) -> Vec<u8> {
        format!("flotilla-testkit fake asset {filename}\n").into_bytes()
    }

    // ---------------------------------------------------------------- webhooks

    pub fn emit_job_event(&mut self, job_id: u64, action: &str) {
        match action {
            "queued" => self.emit_check_run(job_id, "created"),
            "completed" => self.emit_check_run(job_id, "completed"),
            _ => {}
        }
        if !self.webhooks.wants("workflow_job") {
            return;
        }
        let job = &self.jobs[&job_id];
        let repo = self.job_repo(job).clone();
        let mut payload = json!({
            "action": action,
            "workflow_job": crate::render::job(self, job),
            "repository": crate::render::repository(self, &repo),
            "sender": crate::render::simple_user(self, &self.runs[&job.run_id].actor.clone(), false),
        });
        self.add_common(&mut payload, &repo);
        self.deliver("workflow_job", action, payload);
    }

    /// `check_run` (opt-in: list it in `WebhookSpec.events`), as GitHub Actions sends it: the
    /// check run id is the job id, the app is `github-actions`.
    fn emit_check_run(&mut self, job_id: u64, action: &str) {
        if !self.webhooks.wants("check_run") {
            return;
        }
        let job = &self.jobs[&job_id];
        let repo = self.job_repo(job).clone();
        let mut payload = json!({
            "action": action,
            "check_run": crate::render::check_run(self, job),
            "repository": crate::render::repository(self, &repo),
            "sender": crate::render::simple_user(self, &self.runs[&job.run_id].actor.clone(), false),
        });
        self.add_common(&mut payload, &repo);
        self.deliver("check_run", action, payload);
    }

    pub fn emit_run_event(&mut self, run_id: u64, action: &str) {
        if !self.webhooks.wants("workflow_run") {
            return;
        }
        let run = &self.runs[&run_id];
        let repo = self.repos[&run.repo_id].clone();
        let mut payload = json!({
            "action": action,
            "workflow_run": crate::render::run(self, run),
            "workflow": crate::render::workflow(self, run),
            "repository": crate::render::repository(self, &repo),
            "sender": crate::render::simple_user(self, &run.actor.clone(), false),
        });
        self.add_common(&mut payload, &repo);
        self.deliver("workflow_run", action, payload);
    }

    fn add_common(&self, payload: &mut Value, repo: &Repo) {
        if let Some(a) = self.account(&repo.owner).filter(|a| a.is_org) {
            payload["organization"] = crate::render::organization(self, &a.login.clone());
        }
        let inst = self.installations.values().find(|i| {
            i.account.eq_ignore_ascii_case(&repo.owner)
                && self.installation_repo_ids(i).contains(&repo.id)
        });
        if let Some(i) = inst {
            use base64::Engine;
            payload["installation"] = json!({"id": i.id, "node_id": base64::engine::general_purpose::STANDARD.encode(format!("040:Installation{}", i.id))});
        }
    }

    fn deliver(&mut self, event: &str, action: &str, payload: Value) {
        let guid = {
            let h = self.token_chars(32, b"0123456789abcdef");
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        };
        let now = self.now();
        let hook_target = self.apps.keys().next().copied();
        let d = Delivery::build(
            guid,
            event,
            action,
            &payload,
            self.webhooks.spec.secret.as_deref(),
            hook_target,
            now,
        );
        self.webhooks.push(d);
    }

    /// Load a whole seed.
    pub fn apply_seed(&mut self, s: &Seed) -> ApiResult<()> {
        for o in &s.orgs {
            self.ensure_account(&o.login, true, o.id);
        }
        for u in &s.users {
            self.ensure_account(&u.login, false, u.id);
        }
        for r in &s.repos {
            self.add_repo(r)?;
        }
        for a in &s.apps {
            self.add_app(a)?;
        }
        for i in &s.installations {
            self.add_installation(i)?;
        }
        for t in &s.tokens {
            self.add_pat(t);
        }
        for g in &s.runner_groups {
            self.add_group(g)?;
        }
        for r in &s.runners {
            self.seed_runner(r)?;
        }
        for r in &s.releases {
            self.add_release(r)?;
        }
        if let Some(h) = &s.webhook {
            self.webhooks.spec = h.clone();
            self.webhooks.enabled = true;
        }
        for r in &s.runs {
            self.add_run(r)?;
        }
        Ok(())
    }

    /// Snapshot of the state for inspection.
    pub fn snapshot(&self) -> Value {
        let runs: Vec<Value> = self
            .runs
            .values()
            .map(|r| {
                let (status, conclusion) = self.run_status(r.id);
                json!({"id": r.id, "repo": self.repos[&r.repo_id].full_name(), "status": status, "conclusion": conclusion,
                       "run_attempt": r.run_attempt, "reruns": r.reruns, "created_at": rfc3339(r.created_at), "visible": r.visible})
            })
            .collect();
        json!({
            "now": rfc3339(self.now()),
            "runners": self.runners.values().collect::<Vec<_>>(),
            "jobs": self.jobs.values().collect::<Vec<_>>(),
            "runs": runs,
            "assignments": self.assignments,
        })
    }
}

/// A label edit.
#[derive(Debug, Clone)]
pub enum LabelOp {
    /// POST labels.
    Add(Vec<String>),
    /// PUT labels.
    Set(Vec<String>),
    /// DELETE labels.
    Clear,
    /// DELETE labels/{name}.
    Remove(String),
}
