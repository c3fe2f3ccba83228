//! The octocrab-backed GitHub client.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use flotilla_core::model::{RepoRef, Runner, RunnerOwner};
use http::{HeaderMap, Method, StatusCode};
use octocrab::models::{AppId, InstallationId};
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::wire::*;
use crate::ports::{GitHub, GitHubError, JobInfo, Release, RunnerCredential};

/// How hard to try before giving up on GitHub (a Lambda has seconds, not hours).
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The longest rate-limit wait honoured; a longer one fails the call at once.
    pub max_wait: Duration,
    /// Backoff after a 5xx or transport error, doubled each time.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            max_wait: Duration::from_secs(5),
            backoff: Duration::from_millis(200),
        }
    }
}

/// Unknown rate limit remaining.
const UNKNOWN: i64 = -1;

pub struct GitHubClient {
    /// Authenticated as the App (JWT), or anonymous for the syncer.
    app: Octocrab,
    retry: RetryPolicy,
    installations: Mutex<HashMap<u64, Octocrab>>,
    owner_installations: Mutex<HashMap<String, u64>>,
    runner_groups: Mutex<HashMap<(String, String), u64>>,
    rate_limit_remaining: AtomicI64,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubClient").finish_non_exhaustive()
    }
}

fn builder_error(e: impl std::fmt::Display) -> GitHubError {
    GitHubError::new(None, format!("cannot build the GitHub client: {e}"))
}

impl GitHubClient {
    /// As the GitHub App `app_id` with its private key (PEM).
    pub fn app(
        api_url: &str,
        app_id: u64,
        private_key_pem: &[u8],
        retry: RetryPolicy,
    ) -> Result<GitHubClient, GitHubError> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem)
            .map_err(|_| GitHubError::new(None, "the GitHub App private key is not an RSA PEM"))?;
        let app = octocrab::OctocrabBuilder::new()
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(builder_error)?
            .app(AppId(app_id), key)
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(5)))
            .set_read_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(builder_error)?;
        Ok(GitHubClient::with(app, retry))
    }

    /// Unauthenticated (public endpoints: releases).
    pub fn anonymous(api_url: &str, retry: RetryPolicy) -> Result<GitHubClient, GitHubError> {
        let app = octocrab::OctocrabBuilder::new()
            .base_uri(api_url.trim_end_matches('/'))
            .map_err(builder_error)?
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(5)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(builder_error)?;
        Ok(GitHubClient::with(app, retry))
    }

    fn with(app: Octocrab, retry: RetryPolicy) -> GitHubClient {
        GitHubClient {
            app,
            retry,
            installations: Mutex::new(HashMap::new()),
            owner_installations: Mutex::new(HashMap::new()),
            runner_groups: Mutex::new(HashMap::new()),
            rate_limit_remaining: AtomicI64::new(UNKNOWN),
        }
    }

    /// The last `x-ratelimit-remaining` GitHub sent, if any.
    pub fn rate_limit_remaining(&self) -> Option<u64> {
        u64::try_from(self.rate_limit_remaining.load(Ordering::Relaxed)).ok()
    }

    /// One request, with the retry policy. Answers the status and body of a 2xx or 404; other
    /// statuses are errors.
    async fn send(
        &self,
        crab: &Octocrab,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(StatusCode, Bytes), GitHubError> {
        let mut attempt = 0;
        let mut backoff = self.retry.backoff;
        loop {
            attempt += 1;
            let result = match method {
                Method::GET => crab._get(path).await,
                Method::POST => crab._post(path, body).await,
                Method::DELETE => crab._delete(path, body).await,
                Method::PUT => crab._put(path, body).await,
                _ => unreachable!("only GET, POST, PUT and DELETE are used"),
            };
            let last = attempt >= self.retry.attempts;
            let response = match result {
                Ok(r) => r,
                Err(e) => {
                    let err = GitHubError::new(None, transport_message(&e));
                    if last {
                        return Err(err);
                    }
                    tracing::warn!(attempt, path, error = %err, "GitHub request failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
            };
            let status = response.status();
            let headers = response.headers().clone();
            if let Some(remaining) = header_i64(&headers, "x-ratelimit-remaining") {
                self.rate_limit_remaining
                    .store(remaining, Ordering::Relaxed);
            }
            let bytes = http_body_bytes(response).await?;
            if status.is_success() || status == StatusCode::NOT_FOUND {
                return Ok((status, bytes));
            }
            let message = error_message(&bytes);
            let err = GitHubError::new(Some(status.as_u16()), message);
            if last {
                return Err(err);
            }
            if let Some(wait) = rate_limit_wait(status, &headers) {
                if wait > self.retry.max_wait {
                    return Err(GitHubError::new(
                        Some(status.as_u16()),
                        format!(
                            "rate limited for {}s, longer than the {}s this invocation waits: {}",
                            wait.as_secs(),
                            self.retry.max_wait.as_secs(),
                            err.message
                        ),
                    ));
                }
                tracing::warn!(
                    attempt,
                    path,
                    status = status.as_u16(),
                    wait_ms = wait.as_millis() as u64,
                    "GitHub rate limit; waiting"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            if status.is_server_error() {
                tracing::warn!(
                    attempt,
                    path,
                    status = status.as_u16(),
                    "GitHub server error; retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                continue;
            }
            return Err(err);
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        crab: &Octocrab,
        path: &str,
    ) -> Result<Option<T>, GitHubError> {
        let (status, bytes) = self.send(crab, Method::GET, path, None).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        parse(&bytes).map(Some)
    }

    async fn post_json<T: DeserializeOwned>(
        &self,
        crab: &Octocrab,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<T, GitHubError> {
        let (status, bytes) = self.send(crab, Method::POST, path, Some(body)).await?;
        if status == StatusCode::NOT_FOUND {
            return Err(GitHubError::new(Some(404), format!("{path} not found")));
        }
        parse(&bytes)
    }

    /// The installation of the App on `account` (`org`, `owner/repo`), cached.
    async fn installation_of(&self, key: &str) -> Result<u64, GitHubError> {
        if let Some(id) = self.owner_installations.lock().unwrap().get(key) {
            return Ok(*id);
        }
        let paths: Vec<String> = if key.contains('/') {
            vec![format!("/repos/{key}/installation")]
        } else {
            vec![
                format!("/orgs/{key}/installation"),
                format!("/users/{key}/installation"),
            ]
        };
        for path in paths {
            if let Some(inst) = self.get_json::<WireInstallation>(&self.app, &path).await? {
                self.owner_installations
                    .lock()
                    .unwrap()
                    .insert(key.to_string(), inst.id);
                return Ok(inst.id);
            }
        }
        Err(GitHubError::new(
            Some(404),
            format!("the GitHub App is not installed on {key}"),
        ))
    }

    /// A client for the installation, its token cached by octocrab across calls.
    fn installation_client(&self, id: u64) -> Result<Octocrab, GitHubError> {
        let mut map = self.installations.lock().unwrap();
        if let Some(c) = map.get(&id) {
            return Ok(c.clone());
        }
        let c = self
            .app
            .installation(InstallationId(id))
            .map_err(|e| GitHubError::new(None, format!("installation client: {e}")))?;
        map.insert(id, c.clone());
        Ok(c)
    }

    async fn client_for(
        &self,
        account: &str,
        installation_id: Option<u64>,
    ) -> Result<Octocrab, GitHubError> {
        let id = match installation_id {
            Some(id) => id,
            None => self.installation_of(account).await?,
        };
        self.installation_client(id)
    }

    async fn owner_client(
        &self,
        owner: &RunnerOwner,
        installation_id: Option<u64>,
    ) -> Result<Octocrab, GitHubError> {
        self.client_for(owner.tag_value(), installation_id).await
    }

    async fn runner_group_id(
        &self,
        crab: &Octocrab,
        owner: &RunnerOwner,
        group: &str,
    ) -> Result<u64, GitHubError> {
        let RunnerOwner::Org(org) = owner else {
            // Repository runners have only the default group.
            return Ok(1);
        };
        let key = (org.clone(), group.to_ascii_lowercase());
        if let Some(id) = self.runner_groups.lock().unwrap().get(&key) {
            return Ok(*id);
        }
        let mut page = 1;
        loop {
            let path = format!("/orgs/{org}/actions/runner-groups?per_page=100&page={page}");
            let groups: WireGroups = self
                .get_json(crab, &path)
                .await?
                .ok_or_else(|| GitHubError::new(Some(404), format!("{path} not found")))?;
            let n = groups.runner_groups.len();
            if let Some(g) = groups
                .runner_groups
                .into_iter()
                .find(|g| g.name.eq_ignore_ascii_case(group))
            {
                self.runner_groups.lock().unwrap().insert(key, g.id);
                return Ok(g.id);
            }
            if n < 100 {
                return Err(GitHubError::new(
                    Some(404),
                    format!("runner group {group} does not exist in {org}"),
                ));
            }
            page += 1;
        }
    }

    /// The latest release of `owner/repo` (public: anonymous is fine).
    pub async fn latest_release(&self, repo: &str) -> Result<Release, GitHubError> {
        let path = format!("/repos/{repo}/releases/latest");
        let r: WireRelease = self
            .get_json(&self.app, &path)
            .await?
            .ok_or_else(|| GitHubError::new(Some(404), format!("{repo} has no release")))?;
        Ok(r.into())
    }

    /// Downloads a release asset (following redirects), from any host.
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, GitHubError> {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| GitHubError::new(None, format!("bad download URL {url}")))?;
        let origin = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or_default()
        );
        let crab = octocrab::OctocrabBuilder::new()
            .base_uri(origin)
            .map_err(builder_error)?
            .add_retry_config(RetryConfig::None)
            .set_read_timeout(Some(Duration::from_secs(120)))
            .build()
            .map_err(builder_error)?;
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let (status, bytes) = self.send(&crab, Method::GET, &path, None).await?;
        if status == StatusCode::NOT_FOUND {
            return Err(GitHubError::new(Some(404), format!("{url} not found")));
        }
        Ok(bytes.to_vec())
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, GitHubError> {
    serde_json::from_slice(bytes)
        .map_err(|e| GitHubError::new(None, format!("unexpected GitHub answer: {e}")))
}

fn transport_message(e: &octocrab::Error) -> String {
    // octocrab's Display of a service error is short; the source chain says what happened.
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

async fn http_body_bytes(
    response: http::Response<http_body_util::combinators::BoxBody<Bytes, octocrab::Error>>,
) -> Result<Bytes, GitHubError> {
    use http_body_util::BodyExt;
    response
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| GitHubError::new(None, format!("reading GitHub's answer: {e}")))
}

fn error_message(bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Msg {
        message: Option<String>,
    }
    serde_json::from_slice::<Msg>(bytes)
        .ok()
        .and_then(|m| m.message)
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned())
}

fn header_i64(h: &HeaderMap, name: &str) -> Option<i64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// How long GitHub asks us to wait, when the answer is a rate limit.
pub fn rate_limit_wait(status: StatusCode, h: &HeaderMap) -> Option<Duration> {
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (header_i64(h, "x-ratelimit-remaining") == Some(0)
                || h.contains_key("retry-after")));
    if !limited {
        return None;
    }
    if let Some(s) = header_i64(h, "retry-after") {
        return Some(Duration::from_secs(s.max(0) as u64));
    }
    if let Some(reset) = header_i64(h, "x-ratelimit-reset") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        return Some(Duration::from_secs((reset - now).max(0) as u64 + 1));
    }
    // Secondary limit without headers: GitHub asks for at least a minute.
    Some(Duration::from_secs(60))
}

impl GitHub for GitHubClient {
    async fn get_job(
        &self,
        repo: &RepoRef,
        job_id: u64,
        installation_id: Option<u64>,
    ) -> Result<Option<JobInfo>, GitHubError> {
        let full = repo.full_name();
        let crab = self.client_for(&full, installation_id).await?;
        let job: Option<WireJob> = self
            .get_json(&crab, &format!("/repos/{full}/actions/jobs/{job_id}"))
            .await?;
        Ok(job.map(Into::into))
    }

    async fn list_runners(&self, owner: &RunnerOwner) -> Result<Vec<Runner>, GitHubError> {
        let crab = self.owner_client(owner, None).await?;
        let base = match owner {
            RunnerOwner::Org(o) => format!("/orgs/{o}/actions/runners"),
            RunnerOwner::Repo(r) => format!("/repos/{r}/actions/runners"),
        };
        let mut out = Vec::new();
        let mut page = 1;
        loop {
            let path = format!("{base}?per_page=100&page={page}");
            let list: WireRunners = self
                .get_json(&crab, &path)
                .await?
                .ok_or_else(|| GitHubError::new(Some(404), format!("{path} not found")))?;
            let n = list.runners.len();
            out.extend(list.runners.into_iter().map(|r| r.into_runner(owner)));
            if n < 100 || out.len() as u64 >= list.total_count {
                return Ok(out);
            }
            page += 1;
        }
    }

    async fn delete_runner(&self, owner: &RunnerOwner, runner_id: u64) -> Result<(), GitHubError> {
        let crab = self.owner_client(owner, None).await?;
        let path = match owner {
            RunnerOwner::Org(o) => format!("/orgs/{o}/actions/runners/{runner_id}"),
            RunnerOwner::Repo(r) => format!("/repos/{r}/actions/runners/{runner_id}"),
        };
        // 404: already gone, which is what we wanted.
        self.send(&crab, Method::DELETE, &path, None).await?;
        Ok(())
    }

    async fn jit_config(
        &self,
        owner: &RunnerOwner,
        installation_id: Option<u64>,
        name: &str,
        labels: &[String],
        runner_group: &str,
    ) -> Result<RunnerCredential, GitHubError> {
        let crab = self.owner_client(owner, installation_id).await?;
        let group = self.runner_group_id(&crab, owner, runner_group).await?;
        let path = match owner {
            RunnerOwner::Org(o) => format!("/orgs/{o}/actions/runners/generate-jitconfig"),
            RunnerOwner::Repo(r) => format!("/repos/{r}/actions/runners/generate-jitconfig"),
        };
        let body = json!({
            "name": name,
            "runner_group_id": group,
            "labels": labels,
            "work_folder": "_work",
        });
        let jit: WireJit = self.post_json(&crab, &path, &body).await?;
        Ok(RunnerCredential(jit.encoded_jit_config))
    }

    async fn registration_token(
        &self,
        owner: &RunnerOwner,
        installation_id: Option<u64>,
    ) -> Result<RunnerCredential, GitHubError> {
        let crab = self.owner_client(owner, installation_id).await?;
        let path = match owner {
            RunnerOwner::Org(o) => format!("/orgs/{o}/actions/runners/registration-token"),
            RunnerOwner::Repo(r) => format!("/repos/{r}/actions/runners/registration-token"),
        };
        let t: WireToken = self.post_json(&crab, &path, &json!({})).await?;
        Ok(RunnerCredential(t.token))
    }

    async fn rerun_job(
        &self,
        repo: &RepoRef,
        job_id: u64,
        installation_id: Option<u64>,
    ) -> Result<(), GitHubError> {
        let full = repo.full_name();
        let crab = self.client_for(&full, installation_id).await?;
        let path = format!("/repos/{full}/actions/jobs/{job_id}/rerun");
        let (status, _) = self
            .send(&crab, Method::POST, &path, Some(&json!({})))
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Err(GitHubError::new(
                Some(404),
                format!("job {job_id} not found"),
            ));
        }
        Ok(())
    }

    fn rate_limit_remaining(&self) -> Option<u64> {
        u64::try_from(self.rate_limit_remaining.load(Ordering::Relaxed)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn rate_limit_waits_follow_the_headers() {
        assert_eq!(
            rate_limit_wait(
                StatusCode::TOO_MANY_REQUESTS,
                &headers(&[("retry-after", "3")])
            ),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &headers(&[("x-ratelimit-remaining", "5")])
            ),
            None,
            "a plain 403 is a permission problem"
        );
        let far = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600)
            .to_string();
        let w = rate_limit_wait(
            StatusCode::FORBIDDEN,
            &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &far)]),
        )
        .unwrap();
        assert!(w > Duration::from_secs(3000));
        assert_eq!(
            rate_limit_wait(StatusCode::BAD_GATEWAY, &HeaderMap::new()),
            None
        );
    }
}
