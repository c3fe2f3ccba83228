//! Seed and control types: what a test (Rust or JSON over `/_testkit/...`) can put into the fake.
//!
//! Every type deserialises from JSON with defaults for the optional fields, so a `seed.json` for
//! the `fake-github` binary is just a [`Seed`].
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

fn default_true() -> bool {
    true
}

/// A GitHub App.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AppSpec {
    /// App id (the JWT `iss`); assigned when absent.
    #[serde(default)]
    pub id: Option<u64>,
    /// App slug, e.g. `flotilla`.
    pub slug: String,
    /// Display name (defaults to the slug).
    #[serde(default)]
    pub name: Option<String>,
    /// Login of the owning account (defaults to the first org, or `octocat`).
    #[serde(default)]
    pub owner: Option<String>,
    /// PEM of the app's RSA public key (`PUBLIC KEY` or `RSA PUBLIC KEY`).
    pub public_key_pem: String,
    /// Client id (also accepted as JWT `iss`).
    #[serde(default)]
    pub client_id: Option<String>,
}

/// An organization or a user account.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AccountSpec {
    /// Login.
    pub login: String,
    /// Account id; assigned when absent.
    #[serde(default)]
    pub id: Option<u64>,
}

/// A repository.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepoSpec {
    /// Owner login (org or user; created as an org when unknown).
    pub owner: String,
    /// Repository name.
    pub name: String,
    /// Private repository (default true).
    #[serde(default = "default_true")]
    pub private: bool,
    /// Repository id; assigned when absent.
    #[serde(default)]
    pub id: Option<u64>,
}

impl RepoSpec {
    /// A private repository `owner/name`.
    pub fn new(owner: &str, name: &str) -> Self {
        Self {
            owner: owner.into(),
            name: name.into(),
            private: true,
            id: None,
        }
    }
}

/// An installation of an app on an account.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct InstallationSpec {
    /// Installation id; assigned when absent.
    #[serde(default)]
    pub id: Option<u64>,
    /// The app.
    pub app_id: u64,
    /// Login of the org or user the app is installed on.
    pub account: String,
    /// Repository names the installation may access; empty means all of the account's repos.
    #[serde(default)]
    pub repositories: Vec<String>,
    /// Permissions (`actions: write`, ...). Empty means the Flotilla set: actions, administration,
    /// organization_self_hosted_runners: write; contents, metadata, checks: read.
    #[serde(default)]
    pub permissions: BTreeMap<String, String>,
    /// Suspended installations cannot mint tokens.
    #[serde(default)]
    pub suspended: bool,
}

/// A personal access token (for the trace fetcher): full access, rate-limited as its user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenSpec {
    /// The token string the client sends (`ghp_...`).
    pub token: String,
    /// The user's login (created when unknown).
    pub login: String,
}

/// A runner group of an organization (the `Default` group, id 1, exists in every org).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunnerGroupSpec {
    /// Organization login.
    pub org: String,
    /// Group name.
    pub name: String,
    /// `all` (default), `selected` or `private`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Repository names allowed when `visibility` is `selected`.
    #[serde(default)]
    pub selected_repositories: Vec<String>,
    /// Whether public repositories may use the group.
    #[serde(default)]
    pub allows_public_repositories: bool,
}

/// A runner seeded directly (as if registered and configured earlier).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunnerSpec {
    /// Organization scope (exactly one of `org` / `repo`).
    #[serde(default)]
    pub org: Option<String>,
    /// Repository scope, `owner/name`.
    #[serde(default)]
    pub repo: Option<String>,
    /// Runner name.
    pub name: String,
    /// Custom labels (the read-only `self-hosted`, OS and architecture labels are added).
    #[serde(default)]
    pub labels: Vec<String>,
    /// `linux` (default), `windows`, `macos`.
    #[serde(default)]
    pub os: Option<String>,
    /// `x64` (default), `arm64`, `arm`.
    #[serde(default)]
    pub arch: Option<String>,
    /// Online (default false: offline).
    #[serde(default)]
    pub online: bool,
    /// Ephemeral runner: removed after its one job.
    #[serde(default)]
    pub ephemeral: bool,
    /// Runner group name (org runners; default `Default`).
    #[serde(default)]
    pub runner_group: Option<String>,
    /// Do not add the read-only default labels.
    #[serde(default)]
    pub no_default_labels: bool,
}

/// A job inside a seeded workflow run.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct JobSpec {
    /// Job name (unique within the run; `needs` refers to it).
    pub name: String,
    /// `runs-on` labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// `queued` (default), `in_progress` or `completed`.
    #[serde(default)]
    pub status: Option<String>,
    /// Conclusion for completed jobs (`success` default).
    #[serde(default)]
    pub conclusion: Option<String>,
    /// RFC 3339; defaults to the run's `created_at`.
    #[serde(default)]
    pub created_at: Option<String>,
    /// RFC 3339, for in_progress / completed jobs.
    #[serde(default)]
    pub started_at: Option<String>,
    /// RFC 3339, for completed jobs.
    #[serde(default)]
    pub completed_at: Option<String>,
    /// Names of jobs this one waits for (`needs:`).
    #[serde(default)]
    pub needs: Vec<String>,
    /// Runner name shown on in_progress / completed seeded jobs.
    #[serde(default)]
    pub runner_name: Option<String>,
    /// Runner id shown on in_progress / completed seeded jobs.
    #[serde(default)]
    pub runner_id: Option<u64>,
}

impl JobSpec {
    /// A queued job with these labels.
    pub fn queued(name: &str, labels: &[&str]) -> Self {
        Self {
            name: name.into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    /// A completed job.
    pub fn completed(
        name: &str,
        labels: &[&str],
        conclusion: &str,
        started_at: &str,
        completed_at: &str,
    ) -> Self {
        Self {
            name: name.into(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            status: Some("completed".into()),
            conclusion: Some(conclusion.into()),
            started_at: Some(started_at.into()),
            completed_at: Some(completed_at.into()),
            ..Default::default()
        }
    }

    /// Wait for other jobs (`needs:`).
    pub fn needs(mut self, names: &[&str]) -> Self {
        self.needs = names.iter().map(|s| s.to_string()).collect();
        self
    }
}

/// A workflow run with its jobs.
///
/// A run whose `created_at` lies in the fake clock's future stays invisible until then; at that
/// moment its jobs queue and their `workflow_job.queued` webhooks go out (how a trace is replayed).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunSpec {
    /// `owner/name`.
    pub repo: String,
    /// Run id; assigned when absent.
    #[serde(default)]
    pub id: Option<u64>,
    /// Workflow name (default `CI`).
    #[serde(default)]
    pub workflow_name: Option<String>,
    /// Workflow file path (default `.github/workflows/ci.yml`).
    #[serde(default)]
    pub workflow_path: Option<String>,
    /// Branch (default `main`).
    #[serde(default)]
    pub head_branch: Option<String>,
    /// Commit (default: derived from the run id).
    #[serde(default)]
    pub head_sha: Option<String>,
    /// Triggering event (default `push`).
    #[serde(default)]
    pub event: Option<String>,
    /// Actor login (default: the repo owner).
    #[serde(default)]
    pub actor: Option<String>,
    /// RFC 3339; defaults to now.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Attempt number of the seeded jobs (default 1).
    #[serde(default)]
    pub run_attempt: Option<u32>,
    /// The jobs.
    #[serde(default)]
    pub jobs: Vec<JobSpec>,
}

impl RunSpec {
    /// A run in `owner/name` with these jobs, created now.
    pub fn new(repo: &str, jobs: Vec<JobSpec>) -> Self {
        Self {
            repo: repo.into(),
            jobs,
            ..Default::default()
        }
    }

    /// Set `created_at` (RFC 3339).
    pub fn created_at(mut self, at: &str) -> Self {
        self.created_at = Some(at.into());
        self
    }
}

/// A release (for `releases/latest`, e.g. `actions/runner`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ReleaseSpec {
    /// `owner/name` (created, public, when unknown).
    pub repo: String,
    /// Tag, e.g. `v2.323.0`.
    pub tag_name: String,
    /// Name (defaults to the tag).
    #[serde(default)]
    pub name: Option<String>,
    /// Draft releases are never "latest".
    #[serde(default)]
    pub draft: bool,
    /// Prereleases are never "latest".
    #[serde(default)]
    pub prerelease: bool,
    /// RFC 3339 (default now).
    #[serde(default)]
    pub published_at: Option<String>,
    /// Asset file names; each is served at `/{owner}/{repo}/releases/download/{tag}/{name}`.
    #[serde(default)]
    pub assets: Vec<String>,
}

/// Where webhook deliveries go.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct WebhookSpec {
    /// URL to POST deliveries to (loopback only). None: deliveries are only recorded and sent to
    /// in-process subscribers.
    #[serde(default)]
    pub url: Option<String>,
    /// Secret for `X-Hub-Signature-256`; None: no signature header (as GitHub does).
    #[serde(default)]
    pub secret: Option<String>,
    /// Events to deliver (default: `workflow_job`, `workflow_run`).
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

/// A whole seed, e.g. the `--state` file of the `fake-github` binary.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Seed {
    /// Organizations.
    #[serde(default)]
    pub orgs: Vec<AccountSpec>,
    /// Users.
    #[serde(default)]
    pub users: Vec<AccountSpec>,
    /// Repositories.
    #[serde(default)]
    pub repos: Vec<RepoSpec>,
    /// Apps.
    #[serde(default)]
    pub apps: Vec<AppSpec>,
    /// Installations.
    #[serde(default)]
    pub installations: Vec<InstallationSpec>,
    /// Personal tokens.
    #[serde(default)]
    pub tokens: Vec<TokenSpec>,
    /// Runner groups.
    #[serde(default)]
    pub runner_groups: Vec<RunnerGroupSpec>,
    /// Runners.
    #[serde(default)]
    pub runners: Vec<RunnerSpec>,
    /// Workflow runs.
    #[serde(default)]
    pub runs: Vec<RunSpec>,
    /// Releases.
    #[serde(default)]
    pub releases: Vec<ReleaseSpec>,
    /// Webhook target.
    #[serde(default)]
    pub webhook: Option<WebhookSpec>,
}

/// "The next N requests matching METHOD + path answer STATUS" (or are delayed).
///
/// `path` is an OpenAPI path template as GitHub documents it
/// (`/orgs/{org}/actions/runners/{runner_id}`), a concrete path (`/orgs/acme/actions/runners/7`),
/// or a glob where `*` matches any characters (`/repos/*/actions/runs*`).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct FaultSpec {
    /// HTTP method; None or `*` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path pattern.
    pub path: String,
    /// How many matching requests it applies to; None: until removed.
    #[serde(default)]
    pub times: Option<u32>,
    /// Status to answer; None: latency only (the request then proceeds normally).
    #[serde(default)]
    pub status: Option<u16>,
    /// JSON body (default: GitHub's message for the status).
    #[serde(default)]
    pub body: Option<Value>,
    /// Extra headers, e.g. `retry-after`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Delay before answering, in milliseconds.
    #[serde(default)]
    pub delay_ms: u64,
}

impl FaultSpec {
    /// Match `method` + `path` (every time, until `times` is set).
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: Some(method.to_string()),
            path: path.to_string(),
            ..Default::default()
        }
    }
    /// Answer this status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
    /// Apply to the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
    /// Body to answer.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    /// Add a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .insert(name.to_ascii_lowercase(), value.to_string());
        self
    }
    /// Add `retry-after: secs`.
    pub fn retry_after(self, secs: u64) -> Self {
        self.header("retry-after", &secs.to_string())
    }
    /// Delay the answer.
    pub fn delay(mut self, d: std::time::Duration) -> Self {
        self.delay_ms = d.as_millis() as u64;
        self
    }
}

/// A secondary ("abuse") rate limit: more than `max_requests` in `window_secs` per credential
/// answers `status` (403 or 429) with `retry-after: retry_after_secs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecondaryLimit {
    /// Requests allowed per window.
    pub max_requests: u32,
    /// Window length in seconds (fake clock).
    pub window_secs: u64,
    /// Value of `retry-after`.
    #[serde(default = "default_retry_after")]
    pub retry_after_secs: u64,
    /// 403 (GitHub's usual) or 429.
    #[serde(default = "default_secondary_status")]
    pub status: u16,
}

fn default_retry_after() -> u64 {
    60
}
fn default_secondary_status() -> u16 {
    403
}
