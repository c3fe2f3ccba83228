//! What a warm Lambda keeps between invocations: settings, clients, the policy config and the
//! webhook secret (both cached for [`Context::cache_ttl`]), and GitHub's tokens (in the client).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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
    /// Replaces the system clock (the digital twin runs the handlers on a scaled clock).
    clock: Option<Arc<dyn Fn() -> flotilla_core::Timestamp + Send + Sync>>,
    /// Partition, region and account of this function (from the invoked function's ARN), for
    /// the instance ARNs runner tokens are tagged with.
    function_arn: OnceLock<FunctionArn>,
}

/// The parts of a Lambda function's ARN that other ARNs of the same account are built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionArn {
    pub partition: String,
    pub region: String,
    pub account: String,
}

impl FunctionArn {
    /// `arn:{partition}:lambda:{region}:{account}:function:{name}[:{qualifier}]`.
    pub fn parse(arn: &str) -> Option<FunctionArn> {
        let parts: Vec<&str> = arn.split(':').collect();
        match parts.as_slice() {
            ["arn", partition, "lambda", region, account, "function", _name, ..]
                if !partition.is_empty() && !region.is_empty() && !account.is_empty() =>
            {
                Some(FunctionArn {
                    partition: partition.to_string(),
                    region: region.to_string(),
                    account: account.to_string(),
                })
            }
            _ => None,
        }
    }

    /// `arn:{partition}:ec2:{region}:{account}:instance/{id}` — what IAM's
    /// `${ec2:SourceInstanceARN}` is for that instance.
    pub fn instance_arn(&self, instance_id: &str) -> String {
        format!(
            "arn:{}:ec2:{}:{}:instance/{instance_id}",
            self.partition, self.region, self.account
        )
    }
}

/// The tag a runner token parameter carries (`ssm_parameter_tags` in the contract): Terraform's
/// instance policy lets an instance read and delete only the token whose tag is its own ARN.
pub const TOKEN_INSTANCE_ARN_TAG: &str = "flotilla:instance-arn";

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
            clock: None,
            function_arn: OnceLock::new(),
        }
    }

    /// The function's own ARN (production: the invocation context's `invoked_function_arn`,
    /// set on the first invocation). Unparseable ARNs are ignored.
    pub fn set_function_arn(&self, arn: &str) {
        if self.function_arn.get().is_none() {
            match FunctionArn::parse(arn) {
                Some(a) => {
                    let _ = self.function_arn.set(a);
                }
                None => tracing::warn!(arn, "the invoked function ARN is not a Lambda ARN"),
            }
        }
    }

    /// Partition, region and account given directly (in-process tests and the twin).
    pub fn with_account(self, partition: &str, region: &str, account: &str) -> Self {
        let _ = self.function_arn.set(FunctionArn {
            partition: partition.into(),
            region: region.into(),
            account: account.into(),
        });
        self
    }

    pub fn function_arn(&self) -> Option<&FunctionArn> {
        self.function_arn.get()
    }

    /// Runs the handlers on another clock than the system's (the digital twin's scaled time).
    pub fn with_clock(
        mut self,
        clock: Arc<dyn Fn() -> flotilla_core::Timestamp + Send + Sync>,
    ) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The time the policy is given.
    pub fn now(&self) -> flotilla_core::Timestamp {
        let base = match &self.clock {
            Some(clock) => clock(),
            None => crate::clock::now(),
        };
        base.plus_millis(self.clock_offset_ms.load(Ordering::Relaxed))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_arns_come_from_the_function_arn() {
        let a = FunctionArn::parse("arn:aws:lambda:eu-west-1:123456789012:function:gh-scale-up")
            .unwrap();
        assert_eq!(
            a.instance_arn("i-0abc"),
            "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"
        );
        let gov =
            FunctionArn::parse("arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:f:live")
                .unwrap();
        assert_eq!(
            gov.instance_arn("i-1"),
            "arn:aws-us-gov:ec2:us-gov-west-1:111122223333:instance/i-1"
        );
        assert_eq!(FunctionArn::parse("arn:aws:sqs:eu-west-1:1:q"), None);
        assert_eq!(FunctionArn::parse("not an arn"), None);
        assert_eq!(FunctionArn::parse("arn:aws:lambda::123:function:f"), None);
    }

    #[test]
    fn the_contract_names_the_token_tag() {
        let contract: serde_json::Value =
            serde_json::from_str(crate::contract::CONTRACT_JSON).unwrap();
        let tags = contract["ssm_parameter_tags"]["runner_tokens"]
            .as_object()
            .unwrap();
        assert!(tags.contains_key(TOKEN_INSTANCE_ARN_TAG), "{tags:?}");
        assert!(tags[TOKEN_INSTANCE_ARN_TAG]
            .as_str()
            .unwrap()
            .starts_with("arn:{partition}:ec2:{region}:{account}:instance/{instance_id}"));
    }
}
