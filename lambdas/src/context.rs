//! What a warm Lambda keeps between invocations: settings, clients, the policy config and the
//! webhook secret (both cached for [`Context::cache_ttl`]), and GitHub's tokens (in the client).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use flotilla_core::model::{RepoRef, Runner, RunnerOwner};
use flotilla_core::Config;

use crate::contract::Function;
use crate::github::{GitHubClient, RetryPolicy};
use crate::metrics::Metrics;
use crate::ports::{Aws, GitHub, GitHubError, JobInfo, ParameterKind, RunnerCredential};
use crate::settings::Settings;

/// A handler's error: the invocation fails (SQS retries the batch, the schedule fires again).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

struct Cached<T> {
    value: Arc<T>,
    at: Instant,
}

pub struct Context<A, G> {
    pub function: Function,
    pub settings: Settings,
    pub aws: A,
    pub github: G,
    pub metrics: Metrics,
    pub cache_ttl: Duration,
    /// Commands performed at once (each wave of the shell loop).
    pub concurrency: usize,
    config: Mutex<Option<Cached<Config>>>,
    secret: Mutex<Option<Cached<String>>>,
    /// Added to the system clock (tests move time forward; production leaves it at 0).
    clock_offset_ms: AtomicI64,
}

impl<A: Aws, G: GitHub> Context<A, G> {
    pub fn new(
        function: Function,
        settings: Settings,
        aws: A,
        github: G,
        metrics: Metrics,
    ) -> Self {
        Context {
            function,
            settings,
            aws,
            github,
            metrics,
            cache_ttl: Duration::from_secs(300),
            concurrency: 16,
            config: Mutex::new(None),
            secret: Mutex::new(None),
            clock_offset_ms: AtomicI64::new(0),
        }
    }

    /// The time the policy is given.
    pub fn now(&self) -> flotilla_core::Timestamp {
        crate::clock::now().plus_millis(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this context's clock forward (tests: boot times, minimum running times).
    pub fn advance_clock(&self, ms: i64) {
        self.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Forget the cached config and secret (tests that change them).
    pub fn forget_cache(&self) {
        *self.config.lock().unwrap() = None;
        *self.secret.lock().unwrap() = None;
    }

    /// Pre-load the config (tests, benchmarks).
    pub fn with_config(self, config: Config) -> Self {
        *self.config.lock().unwrap() = Some(Cached {
            value: Arc::new(config),
            at: Instant::now(),
        });
        self
    }

    /// Pre-load the webhook secret (benchmarks).
    pub fn with_secret(self, secret: String) -> Self {
        *self.secret.lock().unwrap() = Some(Cached {
            value: Arc::new(secret),
            at: Instant::now(),
        });
        self
    }

    fn fresh<T>(&self, slot: &Mutex<Option<Cached<T>>>) -> Option<Arc<T>> {
        let guard = slot.lock().unwrap();
        guard
            .as_ref()
            .filter(|c| c.at.elapsed() < self.cache_ttl)
            .map(|c| c.value.clone())
    }

    /// The pool's policy config from SSM (`FLOTILLA_CONFIG_PARAMETER`), validated, cached.
    pub async fn config(&self) -> Result<Arc<Config>, Error> {
        if let Some(c) = self.fresh(&self.config) {
            return Ok(c);
        }
        let name = Settings::need(&self.settings.config_parameter, "FLOTILLA_CONFIG_PARAMETER")?;
        let p = self
            .aws
            .get_parameter(name, true)
            .await?
            .ok_or_else(|| format!("config parameter {name} does not exist"))?;
        let config = Config::from_json(&p.value)
            .map_err(|e| format!("config parameter {name} is invalid:\n{e}"))?;
        if config.prefix != self.settings.prefix {
            return Err(format!(
                "config parameter {name} has prefix {:?} but FLOTILLA_PREFIX is {:?}",
                config.prefix, self.settings.prefix
            )
            .into());
        }
        let config = Arc::new(config);
        *self.config.lock().unwrap() = Some(Cached {
            value: config.clone(),
            at: Instant::now(),
        });
        Ok(config)
    }

    /// The webhook secret from SSM, cached. Empty when the parameter is absent (the policy then
    /// answers 500).
    pub async fn webhook_secret(&self) -> Result<Arc<String>, Error> {
        if let Some(s) = self.fresh(&self.secret) {
            return Ok(s);
        }
        let name = Settings::need(
            &self.settings.github_webhook_secret_parameter,
            "FLOTILLA_GITHUB_WEBHOOK_SECRET_PARAMETER",
        )?;
        let value = self
            .aws
            .get_parameter(name, true)
            .await?
            .map(|p| p.value)
            .unwrap_or_default();
        let secret = Arc::new(value);
        *self.secret.lock().unwrap() = Some(Cached {
            value: secret.clone(),
            at: Instant::now(),
        });
        Ok(secret)
    }

    /// `aws/ssm` or the configured key, for runner tokens.
    pub fn token_kind(&self) -> ParameterKind<'_> {
        ParameterKind::Secure {
            kms_key_id: self
                .settings
                .kms_key_id
                .as_deref()
                .filter(|k| !k.is_empty()),
        }
    }
}

/// The GitHub App client, built on first use from the App id and key in SSM (the webhook needs
/// GitHub only for check runs and re-runs, so a cold start does not pay for it).
pub struct AppGitHub<A> {
    aws: A,
    api_url: String,
    app_id_parameter: String,
    app_key_parameter: String,
    retry: RetryPolicy,
    client: tokio::sync::OnceCell<GitHubClient>,
}

impl<A: Aws> AppGitHub<A> {
    pub fn new(aws: A, settings: &Settings, retry: RetryPolicy) -> AppGitHub<A> {
        AppGitHub {
            aws,
            api_url: settings
                .github_api_url
                .clone()
                .unwrap_or_else(|| "https://api.github.com".into()),
            app_id_parameter: settings.github_app_id_parameter.clone().unwrap_or_default(),
            app_key_parameter: settings
                .github_app_key_parameter
                .clone()
                .unwrap_or_default(),
            retry,
            client: tokio::sync::OnceCell::new(),
        }
    }

    pub async fn client(&self) -> Result<&GitHubClient, GitHubError> {
        self.client
            .get_or_try_init(|| async {
                let ssm = |e: crate::ports::AwsError| {
                    GitHubError::new(None, format!("reading the GitHub App from SSM: {e}"))
                };
                let id = self
                    .aws
                    .get_parameter(&self.app_id_parameter, true)
                    .await
                    .map_err(ssm)?
                    .ok_or_else(|| {
                        GitHubError::new(None, "the GitHub App id parameter is missing")
                    })?;
                let app_id: u64 = id.value.trim().parse().map_err(|_| {
                    GitHubError::new(None, "the GitHub App id parameter is not a number")
                })?;
                let key = self
                    .aws
                    .get_parameter(&self.app_key_parameter, true)
                    .await
                    .map_err(ssm)?
                    .ok_or_else(|| {
                        GitHubError::new(None, "the GitHub App key parameter is missing")
                    })?;
                let pem = decode_key(&key.value)?;
                GitHubClient::app(&self.api_url, app_id, &pem, self.retry)
            })
            .await
    }
}

/// The key parameter holds the PEM base64-encoded (as the reference module stores it); a bare
/// PEM is accepted too.
pub fn decode_key(value: &str) -> Result<Vec<u8>, GitHubError> {
    let v = value.trim();
    if v.starts_with("-----BEGIN") {
        return Ok(v.as_bytes().to_vec());
    }
    let compact: String = v.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| GitHubError::new(None, "the GitHub App key is neither PEM nor base64 PEM"))
}

impl<A: Aws> GitHub for AppGitHub<A> {
    async fn get_job(
        &self,
        repo: &RepoRef,
        job_id: u64,
        installation_id: Option<u64>,
    ) -> Result<Option<JobInfo>, GitHubError> {
        self.client()
            .await?
            .get_job(repo, job_id, installation_id)
            .await
    }
    async fn list_runners(&self, owner: &RunnerOwner) -> Result<Vec<Runner>, GitHubError> {
        self.client().await?.list_runners(owner).await
    }
    async fn delete_runner(&self, owner: &RunnerOwner, runner_id: u64) -> Result<(), GitHubError> {
        self.client().await?.delete_runner(owner, runner_id).await
    }
    async fn jit_config(
        &self,
        owner: &RunnerOwner,
        installation_id: Option<u64>,
        name: &str,
        labels: &[String],
        runner_group: &str,
    ) -> Result<RunnerCredential, GitHubError> {
        self.client()
            .await?
            .jit_config(owner, installation_id, name, labels, runner_group)
            .await
    }
    async fn registration_token(
        &self,
        owner: &RunnerOwner,
        installation_id: Option<u64>,
    ) -> Result<RunnerCredential, GitHubError> {
        self.client()
            .await?
            .registration_token(owner, installation_id)
            .await
    }
    async fn rerun_job(
        &self,
        repo: &RepoRef,
        job_id: u64,
        installation_id: Option<u64>,
    ) -> Result<(), GitHubError> {
        self.client()
            .await?
            .rerun_job(repo, job_id, installation_id)
            .await
    }
    fn rate_limit_remaining(&self) -> Option<u64> {
        self.client.get().and_then(|c| c.rate_limit_remaining())
    }
}
