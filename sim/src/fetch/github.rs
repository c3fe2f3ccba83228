//! `flotilla trace fetch`: a repository's or an organisation's workflow runs in a time window,
//! and every job of every attempt of each run, from the GitHub REST API (github.com or GHES)
//! through octocrab, written as canonical JSONL (`docs/formats.md`).
//!
//! - **Runs**: `GET /repos/{o}/{r}/actions/runs?created=FROM..TO`. GitHub returns at most 1,000
//!   runs for a filtered query while `total_count` says how many match, so a window with more is
//!   split in halves (to the second) until each part has at most 1,000.
//! - **Jobs**: `GET /repos/{o}/{r}/actions/runs/{id}/jobs?filter=all` (every attempt), converted
//!   by the same rules as the GitHub REST jobs loader ([`crate::trace::parse_github_jobs`]).
//! - **Pages** are requested as relative routes with `page=N` (never by following the absolute
//!   `Link` URLs: octocrab sends credentials only to relative routes or api.github.com, so a GHES
//!   `Link` would go out unauthenticated).
//! - **Rate limits**: a 403/429 with `retry-after`, or with `x-ratelimit-remaining: 0` and
//!   `x-ratelimit-reset`, is waited out; a secondary limit without a header waits 60 s, doubling.
//!   5xx answers and dropped connections are retried with a doubling delay (1 s … 30 s). All of it
//!   is bounded: `max_retries` per request and `max_wait` in total; every wait is printed.
//! - **Resume**: see [`Checkpoint`]: jobs go to `OUT.partial` as each run completes and the run
//!   id to `OUT.checkpoint`; a re-run with the same `--out` skips the runs listed there, and the
//!   final `OUT` (written atomically) holds each job id once.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flotilla_core::Timestamp;
use http::{HeaderMap, StatusCode};
use octocrab::models::{AppId, InstallationId};
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{error_chain, now, thousands, write_atomic};
use crate::trace::{parse_canonical_jsonl, parse_github_jobs, to_canonical_jsonl, TraceJob};

/// GitHub answers at most this many runs for a filtered runs query.
pub const RUNS_QUERY_CAP: u64 = 1_000;

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One repository, `owner/name`.
    Repo(String),
    /// Every repository of an organisation the credentials can see.
    Org(String),
}

impl Target {
    fn describe(&self) -> String {
        match self {
            Target::Repo(r) => format!("repo:{r}"),
            Target::Org(o) => format!("org:{o}"),
        }
    }
}

/// How to authenticate.
#[derive(Clone)]
pub enum Auth {
    /// A personal access token (classic or fine-grained), read from the environment variable named.
    Token { token: String, env_var: String },
    /// A GitHub App: its id, private key (PEM) and installation (found from the target when
    /// `None`).
    App {
        app_id: u64,
        key_pem: Vec<u8>,
        installation: Option<u64>,
    },
}

/// Options of one trace fetch.
#[derive(Clone)]
pub struct TraceFetch {
    pub target: Target,
    pub since: Timestamp,
    /// `None`: now — fixed when the fetch first starts and kept by a resume.
    pub until: Option<Timestamp>,
    pub out: PathBuf,
    pub auth: Auth,
    /// `https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise Server.
    pub api_url: String,
    /// Retries of one request (rate limits, 5xx, dropped connections).
    pub max_retries: u32,
    /// Total time the whole fetch may spend waiting.
    pub max_wait: Duration,
    /// Page size (GitHub's maximum is 100).
    pub per_page: u32,
}

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TraceSummary {
    pub repos: u64,
    /// Runs in the window.
    pub runs: u64,
    /// Runs whose jobs were fetched now.
    pub runs_fetched: u64,
    /// Runs skipped: already in the checkpoint (or complete in an existing `--out`).
    pub runs_resumed: u64,
    /// Jobs in the output file.
    pub jobs: u64,
    /// Jobs fetched now.
    pub jobs_fetched: u64,
    /// Jobs the loader rules dropped (no `created_at` and never started).
    pub jobs_skipped: u64,
    /// Windows the runs query was split into to stay under 1,000 runs each.
    pub windows: u64,
    pub requests: u64,
    pub retries: u64,
    pub waited_secs: u64,
}

// ------------------------------------------------------------------------------------ checkpoint

/// The first line of `OUT.checkpoint`: which fetch the files belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Header {
    flotilla_trace_fetch: u32,
    target: String,
    api_url: String,
    since: Timestamp,
    until: Timestamp,
    until_given: bool,
}

/// The resumable state of a fetch into `OUT`, in two files beside it:
///
/// - `OUT.partial`: canonical JSONL, the jobs of every run fetched so far, appended (and flushed)
///   one run at a time;
/// - `OUT.checkpoint`: a header line naming the query, then the id of each completed run whose
///   jobs are in `OUT.partial`, appended after them.
///
/// A crash between the two appends leaves a run's jobs without its id: the run is fetched again
/// and its jobs appear twice in `OUT.partial`, which the final write removes (one record per job
/// id, the most complete). A torn last line (a crash mid-write) is cut off on resume. Runs still
/// in progress are written but not checkpointed, so a resume fetches them again. When the fetch
/// completes, `OUT` is written atomically (temporary file + rename) and both files are removed.
pub struct Checkpoint {
    partial_path: PathBuf,
    checkpoint_path: PathBuf,
    partial: File,
    checkpoint: File,
    done: BTreeSet<u64>,
    header: Header,
}

fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    out.with_file_name(name)
}

/// Cuts a file back to its last newline (a line torn by a crash); returns its complete lines.
fn repair_lines(path: &Path) -> Result<String, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let keep = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    if keep < bytes.len() {
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        f.set_len(keep as u64)
            .map_err(|e| format!("cannot repair {}: {e}", path.display()))?;
    }
    Ok(String::from_utf8_lossy(&bytes[..keep]).into_owned())
}

impl Checkpoint {
    /// Opens the checkpoint of `out`, resuming when it belongs to the same query, starting one
    /// otherwise. `wanted` is the query of this invocation (its `until` is replaced by the stored
    /// one when neither run gave `--until`).
    fn open(out: &Path, asked: Header, log: &mut dyn FnMut(&str)) -> Result<Checkpoint, String> {
        let mut wanted = asked.clone();
        let partial_path = sibling(out, ".partial");
        let checkpoint_path = sibling(out, ".checkpoint");
        let mut done = BTreeSet::new();
        if checkpoint_path.exists() {
            let text = repair_lines(&checkpoint_path)?;
            let mut lines = text.lines();
            let header: Header = lines
                .next()
                .and_then(|l| serde_json::from_str(l).ok())
                .ok_or_else(|| {
                    format!(
                        "{} is not a flotilla trace-fetch checkpoint; delete it (and {}) to start over",
                        checkpoint_path.display(),
                        partial_path.display()
                    )
                })?;
            if !wanted.until_given && !header.until_given {
                wanted.until = header.until;
            }
            let rest: Vec<&str> = lines.collect();
            let partial_empty = fs::metadata(&partial_path).map_or(true, |m| m.len() == 0);
            if header != wanted && rest.is_empty() && partial_empty {
                // Nothing was saved under the other query (it failed at once): start over.
                log(&format!(
                    "{} held no saved work of another query ({} {}..{}): starting over",
                    checkpoint_path.display(),
                    header.target,
                    header.since,
                    header.until
                ));
                let _ = fs::remove_file(&partial_path);
                fs::remove_file(&checkpoint_path)
                    .map_err(|e| format!("cannot remove {}: {e}", checkpoint_path.display()))?;
                return Checkpoint::open(out, asked, log);
            }
            if header != wanted {
                return Err(format!(
                    "{} belongs to an unfinished fetch of another query ({} {}..{} from {}); \
                     this one is {} {}..{} from {}. Finish that fetch with its flags, or delete {} \
                     and {} to start over",
                    checkpoint_path.display(),
                    header.target,
                    header.since,
                    header.until,
                    header.api_url,
                    wanted.target,
                    wanted.since,
                    wanted.until,
                    wanted.api_url,
                    checkpoint_path.display(),
                    partial_path.display()
                ));
            }
            for (i, line) in rest.iter().enumerate() {
                let id = line.trim().parse::<u64>().map_err(|_| {
                    format!(
                        "{}, line {}: `{}` is not a run id",
                        checkpoint_path.display(),
                        i + 2,
                        line
                    )
                })?;
                done.insert(id);
            }
            if partial_path.exists() {
                repair_lines(&partial_path)?;
            }
            log(&format!(
                "resuming the fetch into {}: {} runs already done",
                out.display(),
                thousands(done.len() as u64)
            ));
        } else {
            if partial_path.exists() {
                return Err(format!(
                    "{} exists without {}: it is left from another fetch; delete it to start over",
                    partial_path.display(),
                    checkpoint_path.display()
                ));
            }
            let mut line = serde_json::to_string(&wanted).map_err(|e| e.to_string())?;
            line.push('\n');
            write_atomic(&checkpoint_path, line.as_bytes())?;
        }
        let open_append = |p: &Path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("cannot open {}: {e}", p.display()))
        };
        Ok(Checkpoint {
            partial: open_append(&partial_path)?,
            checkpoint: open_append(&checkpoint_path)?,
            partial_path,
            checkpoint_path,
            done,
            header: wanted,
        })
    }

    /// Appends a run's jobs, then (when the run is complete) its id.
    fn record(&mut self, run_id: u64, jobs: &[TraceJob], complete: bool) -> Result<(), String> {
        let text = to_canonical_jsonl(jobs);
        self.partial
            .write_all(text.as_bytes())
            .and_then(|_| self.partial.flush())
            .map_err(|e| format!("cannot write {}: {e}", self.partial_path.display()))?;
        if complete {
            self.partial
                .sync_data()
                .map_err(|e| format!("cannot write {}: {e}", self.partial_path.display()))?;
            writeln!(self.checkpoint, "{run_id}")
                .and_then(|_| self.checkpoint.flush())
                .map_err(|e| format!("cannot write {}: {e}", self.checkpoint_path.display()))?;
            self.done.insert(run_id);
        }
        Ok(())
    }

    /// After a failure: removes both files when they hold nothing (no run done, no job written),
    /// so a fetch that failed at once leaves nothing behind.
    fn discard_if_empty(self) {
        let partial_empty = fs::metadata(&self.partial_path).map_or(true, |m| m.len() == 0);
        if self.done.is_empty() && partial_empty {
            drop(self.partial);
            drop(self.checkpoint);
            let _ = fs::remove_file(&self.partial_path);
            let _ = fs::remove_file(&self.checkpoint_path);
        }
    }

    /// Writes `out` (the existing trace, if any, plus everything fetched, one record per job id,
    /// sorted) atomically and removes the checkpoint files. Answers the jobs written.
    fn finish(self, out: &Path, existing: &str) -> Result<u64, String> {
        let partial = fs::read_to_string(&self.partial_path)
            .map_err(|e| format!("cannot read {}: {e}", self.partial_path.display()))?;
        let mut text = String::with_capacity(existing.len() + partial.len() + 1);
        text.push_str(existing);
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&partial);
        let load = parse_canonical_jsonl(&text, &self.partial_path.display().to_string())
            .map_err(|e| e.to_string())?;
        write_atomic(out, to_canonical_jsonl(&load.jobs).as_bytes())?;
        drop(self.partial);
        drop(self.checkpoint);
        let _ = fs::remove_file(&self.partial_path);
        let _ = fs::remove_file(&self.checkpoint_path);
        Ok(load.jobs.len() as u64)
    }
}

// ------------------------------------------------------------------------------------ client

/// The HTTP side: octocrab without its own retries, and this fetch's backoff budget.
struct GitHub {
    crab: Octocrab,
    api_url: String,
    auth_hint: String,
    max_retries: u32,
    max_wait: Duration,
    waited: Duration,
    requests: u64,
    retries: u64,
    succeeded: bool,
    rate_remaining: Option<i64>,
}

fn header_i64(h: &HeaderMap, name: &str) -> Option<i64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn message_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// How long a 403/429 asks to wait, or `None` when it is not a rate limit. `attempt` counts the
/// retries of this request so far (a secondary limit without headers: 60 s, doubling).
fn rate_limit_wait(
    status: StatusCode,
    headers: &HeaderMap,
    message: &str,
    attempt: u32,
    now_secs: i64,
) -> Option<(Duration, String)> {
    if status != StatusCode::TOO_MANY_REQUESTS && status != StatusCode::FORBIDDEN {
        return None;
    }
    if let Some(s) = header_i64(headers, "retry-after") {
        return Some((
            Duration::from_secs(s.max(0) as u64),
            format!("retry-after {s} s"),
        ));
    }
    if header_i64(headers, "x-ratelimit-remaining") == Some(0) {
        if let Some(reset) = header_i64(headers, "x-ratelimit-reset") {
            let secs = (reset - now_secs).max(1);
            return Some((
                Duration::from_secs(secs as u64),
                format!(
                    "rate limit exhausted, resets at {}",
                    Timestamp::from_secs(reset)
                ),
            ));
        }
    }
    let secondary = message.to_ascii_lowercase().contains("rate limit");
    if status == StatusCode::TOO_MANY_REQUESTS || secondary {
        let secs = 60u64.saturating_mul(1 << attempt.min(6));
        return Some((
            Duration::from_secs(secs),
            "secondary rate limit without retry-after".into(),
        ));
    }
    None
}

/// A failure of one request: fatal, or worth retrying after a wait.
enum Failure {
    Fatal(String),
    Retry { wait: Duration, why: String },
}

impl GitHub {
    fn new(crab: Octocrab, f: &TraceFetch, api_url: &str, auth_hint: String) -> GitHub {
        GitHub {
            crab,
            api_url: api_url.to_string(),
            auth_hint,
            max_retries: f.max_retries,
            max_wait: f.max_wait,
            waited: Duration::ZERO,
            requests: 0,
            retries: 0,
            succeeded: false,
            rate_remaining: None,
        }
    }

    async fn connect(f: &TraceFetch, log: &mut dyn FnMut(&str)) -> Result<GitHub, String> {
        let api_url = f.api_url.trim_end_matches('/').to_string();
        let builder = || {
            octocrab::OctocrabBuilder::new()
                .base_uri(api_url.as_str())
                .map(|b| {
                    b.add_retry_config(RetryConfig::None)
                        .set_connect_timeout(Some(Duration::from_secs(10)))
                        .set_read_timeout(Some(Duration::from_secs(60)))
                })
                .map_err(|e| format!("--api-url {api_url}: {e}"))
        };
        let build_err = |e: octocrab::Error| format!("cannot build the GitHub client: {e}");
        match &f.auth {
            Auth::Token { token, env_var } => {
                let crab = builder()?
                    .personal_token(token.clone())
                    .build()
                    .map_err(build_err)?;
                let hint = format!(
                    "check the token in ${env_var} (expired, revoked, or for another host?)"
                );
                Ok(GitHub::new(crab, f, &api_url, hint))
            }
            Auth::App {
                app_id,
                key_pem,
                installation,
            } => {
                let key = octocrab::EncodingKey::from_rsa_pem(key_pem).map_err(|e| {
                    format!("--app-key is not an RSA private key in PEM format ({e})")
                })?;
                let app = builder()?
                    .app(AppId(*app_id), key)
                    .build()
                    .map_err(build_err)?;
                let hint =
                    format!("check --app-id {app_id} and that --app-key is that App's private key");
                let mut gh = GitHub::new(app.clone(), f, &api_url, hint);
                let id = match installation {
                    Some(id) => *id,
                    None => {
                        let (route, account) = match &f.target {
                            Target::Repo(r) => (format!("/repos/{r}/installation"), r),
                            Target::Org(o) => (format!("/orgs/{o}/installation"), o),
                        };
                        let v = gh.get(&route, log).await.map_err(|e| {
                            if e.contains("HTTP 404") {
                                format!(
                                    "the GitHub App {app_id} is not installed on {account} ({e}); \
                                     install it, or pass --installation"
                                )
                            } else {
                                e
                            }
                        })?;
                        let id = v.get("id").and_then(Value::as_u64).ok_or_else(|| {
                            format!("GET {route}: the answer has no installation id")
                        })?;
                        log(&format!("GitHub App {app_id}: installation {id}"));
                        id
                    }
                };
                gh.auth_hint = format!(
                    "check --app-id {app_id}, that --app-key is that App's private key, and \
                     --installation {id}"
                );
                gh.crab = app.installation(InstallationId(id)).map_err(build_err)?;
                Ok(gh)
            }
        }
    }

    fn budget_left(&self) -> Duration {
        self.max_wait.saturating_sub(self.waited)
    }

    /// `GET route` (relative, with its query) → JSON, with the retry and wait budget.
    async fn get(&mut self, route: &str, log: &mut dyn FnMut(&str)) -> Result<Value, String> {
        let mut attempt: u32 = 0;
        loop {
            let failure = match self.try_get(route, attempt).await {
                Ok(v) => {
                    self.succeeded = true;
                    return Ok(v);
                }
                Err(f) => f,
            };
            let (wait, why) = match failure {
                Failure::Fatal(msg) => return Err(msg),
                Failure::Retry { wait, why } => (wait, why),
            };
            let saved = "what was fetched so far is saved: run the same command again to resume";
            if attempt >= self.max_retries {
                return Err(format!(
                    "GET {route}: {why}; gave up after {} retries (--max-retries {}); {saved}",
                    attempt, self.max_retries
                ));
            }
            if wait > self.budget_left() {
                return Err(format!(
                    "GET {route}: {why}: GitHub asks to wait {} s, more than the {} s left of the \
                     --max-wait budget ({} s); {saved}",
                    wait.as_secs(),
                    self.budget_left().as_secs(),
                    self.max_wait.as_secs()
                ));
            }
            attempt += 1;
            self.retries += 1;
            log(&format!(
                "GET {route}: {why}; waiting {} s (retry {attempt} of at most {}; {} s of the {} s \
                 --max-wait budget used)",
                wait.as_secs(),
                self.max_retries,
                (self.waited + wait).as_secs(),
                self.max_wait.as_secs()
            ));
            tokio::time::sleep(wait).await;
            self.waited += wait;
        }
    }

    async fn try_get(&mut self, route: &str, attempt: u32) -> Result<Value, Failure> {
        let backoff = Duration::from_secs((1u64 << attempt.min(5)).min(30));
        self.requests += 1;
        let resp = match self.crab._get(route).await {
            Ok(r) => r,
            Err(octocrab::Error::GitHub { source, .. }) => {
                // An answer octocrab turned into an error itself: minting the installation token.
                let status = source.status_code;
                let headers = source.headers.clone().unwrap_or_default();
                let what = format!("the installation token (POST /app/installations/…/access_tokens) for GET {route}");
                return Err(self.classify(
                    &what,
                    status,
                    &headers,
                    &source.message,
                    attempt,
                    backoff,
                ));
            }
            Err(e) => {
                let msg = error_chain(&e);
                if !self.succeeded {
                    return Err(Failure::Fatal(format!(
                        "cannot reach GitHub at {}: {msg} (check --api-url and the network)",
                        self.api_url
                    )));
                }
                return Err(Failure::Retry {
                    wait: backoff,
                    why: format!("connection failed ({msg})"),
                });
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        if let Some(r) = header_i64(&headers, "x-ratelimit-remaining") {
            self.rate_remaining = Some(r);
        }
        let body = match self.crab.body_to_string(resp).await {
            Ok(b) => b,
            Err(e) => {
                return Err(Failure::Retry {
                    wait: backoff,
                    why: format!("reading the answer failed ({})", error_chain(&e)),
                })
            }
        };
        if status.is_success() {
            return serde_json::from_str(&body).map_err(|e| {
                Failure::Fatal(format!(
                    "GET {route}: the answer is not JSON ({e}): is --api-url {} a GitHub API?",
                    self.api_url
                ))
            });
        }
        let what = format!("GET {route}");
        Err(self.classify(
            &what,
            status,
            &headers,
            &message_of(&body),
            attempt,
            backoff,
        ))
    }

    fn classify(
        &self,
        what: &str,
        status: StatusCode,
        headers: &HeaderMap,
        message: &str,
        attempt: u32,
        backoff: Duration,
    ) -> Failure {
        let code = status.as_u16();
        if status == StatusCode::UNAUTHORIZED {
            return Failure::Fatal(format!(
                "GitHub rejected the credentials (HTTP 401: {message}) for {what} at {}: {}",
                self.api_url, self.auth_hint
            ));
        }
        if let Some((wait, why)) =
            rate_limit_wait(status, headers, message, attempt, now().millis() / 1000)
        {
            return Failure::Retry {
                wait,
                why: format!("HTTP {code}, {why}"),
            };
        }
        if status.is_server_error() {
            return Failure::Retry {
                wait: backoff,
                why: format!("HTTP {code} ({message})"),
            };
        }
        let hint = match code {
            403 => " (the credentials lack a permission: a token needs `repo` or Actions read; an App needs Actions: read)",
            404 => " (it does not exist, or these credentials cannot see it)",
            _ => "",
        };
        Failure::Fatal(format!(
            "GitHub answered HTTP {code} for {what}: {message}{hint}"
        ))
    }
}

// ------------------------------------------------------------------------------------ listing

/// A run to fetch.
#[derive(Debug, Clone)]
struct RunRef {
    id: u64,
    repo: String,
    complete: bool,
}

/// GitHub's `created` qualifier for `[from, to]`, both inclusive, to the second.
pub fn created_range(from_s: i64, to_s: i64) -> String {
    format!(
        "{}..{}",
        Timestamp::from_secs(from_s).to_rfc3339(),
        Timestamp::from_secs(to_s).to_rfc3339()
    )
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl GitHub {
    async fn org_repos(
        &mut self,
        org: &str,
        per_page: u32,
        log: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, String> {
        let mut repos = Vec::new();
        for page in 1.. {
            let route = format!("/orgs/{org}/repos?type=all&per_page={per_page}&page={page}");
            let v = self.get(&route, log).await?;
            let items = v
                .as_array()
                .ok_or_else(|| format!("GET {route}: expected a list of repositories"))?;
            for r in items {
                if let Some(name) = r.get("full_name").and_then(Value::as_str) {
                    repos.push(name.to_string());
                }
            }
            if (items.len() as u32) < per_page {
                break;
            }
        }
        repos.sort();
        repos.dedup();
        Ok(repos)
    }

    /// The runs of `repo` created in `[from_s, to_s]` (seconds, inclusive), splitting the window
    /// while GitHub says more than 1,000 match.
    async fn runs(
        &mut self,
        repo: &str,
        from_s: i64,
        to_s: i64,
        per_page: u32,
        windows: &mut u64,
        log: &mut dyn FnMut(&str),
    ) -> Result<Vec<RunRef>, String> {
        let mut out: BTreeMap<u64, RunRef> = BTreeMap::new();
        let mut stack = vec![(from_s, to_s)];
        while let Some((a, b)) = stack.pop() {
            let created = encode(&created_range(a, b));
            let base = format!("/repos/{repo}/actions/runs?created={created}&per_page={per_page}");
            let first = self.get(&format!("{base}&page=1"), log).await?;
            let total = first
                .get("total_count")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("GET {base}: the answer has no total_count"))?;
            if total > RUNS_QUERY_CAP && b > a {
                let mid = a + (b - a) / 2;
                log(&format!(
                    "{repo}: {} runs created {}; GitHub answers at most {RUNS_QUERY_CAP} per query: splitting",
                    thousands(total),
                    created_range(a, b)
                ));
                // Newest first, like GitHub's own order.
                stack.push((a, mid));
                stack.push((mid + 1, b));
                continue;
            }
            if total > RUNS_QUERY_CAP {
                log(&format!(
                    "warning: {repo}: {} runs were created in the one second {}; GitHub answers only {RUNS_QUERY_CAP} of them",
                    thousands(total),
                    Timestamp::from_secs(a)
                ));
            }
            *windows += 1;
            let reachable = total.min(RUNS_QUERY_CAP);
            let mut seen: u64 = 0;
            let mut page_value = first;
            let mut page = 1;
            loop {
                let runs = page_value
                    .get("workflow_runs")
                    .and_then(Value::as_array)
                    .ok_or_else(|| format!("GET {base}: the answer has no workflow_runs"))?;
                let n = runs.len() as u64;
                for r in runs {
                    let Some(id) = r.get("id").and_then(Value::as_u64) else {
                        continue;
                    };
                    let complete = r.get("status").and_then(Value::as_str) == Some("completed");
                    out.insert(
                        id,
                        RunRef {
                            id,
                            repo: repo.to_string(),
                            complete,
                        },
                    );
                }
                seen += n;
                if n < per_page as u64 || seen >= reachable {
                    break;
                }
                page += 1;
                page_value = self.get(&format!("{base}&page={page}"), log).await?;
            }
        }
        // Oldest first: a resumed fetch then continues where the window's history left off.
        Ok(out.into_values().collect())
    }

    /// Every job of every attempt of a run, as the GitHub REST jobs page text.
    async fn jobs(
        &mut self,
        repo: &str,
        run_id: u64,
        per_page: u32,
        log: &mut dyn FnMut(&str),
    ) -> Result<Vec<Value>, String> {
        let mut jobs = Vec::new();
        let mut total = None;
        for page in 1.. {
            let route = format!(
                "/repos/{repo}/actions/runs/{run_id}/jobs?filter=all&per_page={per_page}&page={page}"
            );
            let v = self.get(&route, log).await?;
            if total.is_none() {
                total = v.get("total_count").and_then(Value::as_u64);
            }
            let items = v
                .get("jobs")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("GET {route}: the answer has no jobs"))?;
            let n = items.len();
            jobs.extend(items.iter().cloned());
            if n < per_page as usize || total.is_some_and(|t| jobs.len() as u64 >= t) {
                break;
            }
        }
        Ok(jobs)
    }
}

// ------------------------------------------------------------------------------------ the fetch

/// Runs the fetch; `log` receives progress lines (stderr in the CLI).
pub async fn fetch_trace(
    f: &TraceFetch,
    log: &mut dyn FnMut(&str),
) -> Result<TraceSummary, String> {
    if f.per_page == 0 || f.per_page > 100 {
        return Err("--per-page must be 1..=100".into());
    }
    if let Target::Repo(r) = &f.target {
        let mut parts = r.split('/');
        let ok = matches!((parts.next(), parts.next(), parts.next()), (Some(o), Some(n), None) if !o.is_empty() && !n.is_empty());
        if !ok {
            return Err(format!("--repo `{r}` is not OWNER/NAME"));
        }
    }
    let until_given = f.until.is_some();
    let header = Header {
        flotilla_trace_fetch: 1,
        target: f.target.describe(),
        api_url: f.api_url.trim_end_matches('/').to_string(),
        since: Timestamp::from_secs(f.since.millis().div_euclid(1000)),
        until: Timestamp::from_secs(f.until.unwrap_or_else(now).millis().div_euclid(1000)),
        until_given,
    };
    if header.until < header.since {
        return Err(format!(
            "--until {} is before --since {}",
            header.until, header.since
        ));
    }

    // An existing trace in --out is kept and added to.
    let existing = if f.out.exists() && fs::metadata(&f.out).map(|m| m.len() > 0).unwrap_or(false) {
        let text = fs::read_to_string(&f.out)
            .map_err(|e| format!("cannot read {}: {e}", f.out.display()))?;
        parse_canonical_jsonl(&text, &f.out.display().to_string()).map_err(|e| {
            format!(
                "--out {} exists and is not a canonical JSONL trace ({e}); choose another --out",
                f.out.display()
            )
        })?;
        text
    } else {
        String::new()
    };
    let mut complete_in_out: BTreeSet<u64> = BTreeSet::new();
    if !existing.is_empty() {
        let load = parse_canonical_jsonl(&existing, "").map_err(|e| e.to_string())?;
        let mut incomplete = BTreeSet::new();
        for j in &load.jobs {
            if j.completed_at.is_some() {
                complete_in_out.insert(j.run_id);
            } else {
                incomplete.insert(j.run_id);
            }
        }
        for r in incomplete {
            complete_in_out.remove(&r);
        }
        log(&format!(
            "{} already holds {} jobs of {} completed runs: those runs are skipped",
            f.out.display(),
            thousands(load.jobs.len() as u64),
            thousands(complete_in_out.len() as u64)
        ));
    }

    let mut cp = Checkpoint::open(&f.out, header, log)?;
    let mut summary = TraceSummary::default();
    if let Err(e) = fetch_runs(f, &mut cp, &complete_in_out, &mut summary, log).await {
        cp.discard_if_empty();
        return Err(e);
    }
    summary.jobs = cp.finish(&f.out, &existing)?;
    Ok(summary)
}

/// Lists the runs and fetches the jobs of those not done yet into the checkpoint.
async fn fetch_runs(
    f: &TraceFetch,
    cp: &mut Checkpoint,
    complete_in_out: &BTreeSet<u64>,
    summary: &mut TraceSummary,
    log: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let started = Instant::now();
    let (from_s, to_s) = (
        cp.header.since.millis() / 1000,
        cp.header.until.millis() / 1000,
    );
    let mut gh = GitHub::connect(f, log).await?;
    let result = async {
        let repos = match &f.target {
            Target::Repo(r) => vec![r.clone()],
            Target::Org(o) => {
                let repos = gh.org_repos(o, f.per_page, log).await?;
                log(&format!("{o}: {} repositories", repos.len()));
                repos
            }
        };
        summary.repos = repos.len() as u64;
        let mut last_progress = Instant::now();
        for repo in &repos {
            let runs = gh
                .runs(repo, from_s, to_s, f.per_page, &mut summary.windows, log)
                .await?;
            summary.runs += runs.len() as u64;
            let todo: Vec<&RunRef> = runs
                .iter()
                .filter(|r| !cp.done.contains(&r.id) && !complete_in_out.contains(&r.id))
                .collect();
            summary.runs_resumed += (runs.len() - todo.len()) as u64;
            log(&format!(
                "{repo}: {} runs created {}..{}, {} to fetch",
                thousands(runs.len() as u64),
                cp.header.since,
                cp.header.until,
                thousands(todo.len() as u64)
            ));
            for (i, run) in todo.iter().enumerate() {
                let raw = gh.jobs(&run.repo, run.id, f.per_page, log).await?;
                let page = serde_json::json!({"total_count": raw.len(), "jobs": raw});
                let load = parse_github_jobs(&page.to_string(), &format!("run {}", run.id))
                    .map_err(|e| format!("run {}: {e}", run.id))?;
                summary.jobs_skipped += load.stats.skipped_total();
                summary.jobs_fetched += load.jobs.len() as u64;
                cp.record(run.id, &load.jobs, run.complete)?;
                summary.runs_fetched += 1;
                if last_progress.elapsed() >= Duration::from_secs(5) || i + 1 == todo.len() {
                    last_progress = Instant::now();
                    let rate = gh
                        .rate_remaining
                        .map(|r| format!(", rate limit {} left", thousands(r.max(0) as u64)))
                        .unwrap_or_default();
                    log(&format!(
                        "{repo}: {}/{} runs, {} jobs, {} requests{rate}, {:.0} s",
                        thousands(i as u64 + 1),
                        thousands(todo.len() as u64),
                        thousands(summary.jobs_fetched),
                        thousands(gh.requests),
                        started.elapsed().as_secs_f64()
                    ));
                }
            }
        }
        Ok::<(), String>(())
    }
    .await;
    summary.requests = gh.requests;
    summary.retries = gh.retries;
    summary.waited_secs = gh.waited.as_secs();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn rate_limit_answers() {
        let now = 1_000_000;
        let w = |status: u16, h: &[(&str, &str)], msg: &str, attempt: u32| {
            rate_limit_wait(
                StatusCode::from_u16(status).unwrap(),
                &headers(h),
                msg,
                attempt,
                now,
            )
            .map(|(d, _)| d.as_secs())
        };
        assert_eq!(w(429, &[("retry-after", "7")], "", 0), Some(7));
        assert_eq!(w(403, &[("retry-after", "3")], "", 0), Some(3));
        assert_eq!(
            w(
                403,
                &[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1000042")
                ],
                "API rate limit exceeded",
                0
            ),
            Some(42)
        );
        // A reset already past still waits a second.
        assert_eq!(
            w(
                403,
                &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "10")],
                "",
                0
            ),
            Some(1)
        );
        assert_eq!(w(429, &[], "", 0), Some(60));
        assert_eq!(w(429, &[], "", 2), Some(240));
        assert_eq!(
            w(403, &[], "You have exceeded a secondary rate limit", 0),
            Some(60)
        );
        // A plain 403 is a permission problem, not a rate limit.
        assert_eq!(
            w(
                403,
                &[("x-ratelimit-remaining", "4999")],
                "Resource not accessible by integration",
                0
            ),
            None
        );
        assert_eq!(w(500, &[("retry-after", "1")], "", 0), None);
    }

    #[test]
    fn created_ranges_are_inclusive_seconds() {
        assert_eq!(
            created_range(1_756_684_800, 1_756_771_199),
            "2025-09-01T00:00:00Z..2025-09-01T23:59:59Z"
        );
        assert_eq!(encode("a..b+c"), "a..b%2Bc");
    }

    #[test]
    fn torn_lines_are_cut() {
        let dir = std::env::temp_dir().join(format!("flotilla-torn-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.partial");
        fs::write(&p, "{\"a\":1}\n{\"a\":").unwrap();
        assert_eq!(repair_lines(&p).unwrap(), "{\"a\":1}\n");
        assert_eq!(fs::read_to_string(&p).unwrap(), "{\"a\":1}\n");
        fs::write(&p, "no newline").unwrap();
        assert_eq!(repair_lines(&p).unwrap(), "");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checkpoint_names_sit_beside_the_output() {
        assert_eq!(
            sibling(Path::new("/tmp/a/trace.jsonl"), ".partial"),
            PathBuf::from("/tmp/a/trace.jsonl.partial")
        );
        assert_eq!(
            sibling(Path::new("trace.jsonl"), ".checkpoint"),
            PathBuf::from("trace.jsonl.checkpoint")
        );
    }
}
