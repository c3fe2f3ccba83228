//! The loopback world the Lambda tests run in: moto (behind the fault proxy) for EC2, SQS, SSM,
//! KMS and S3, and `flotilla-testkit`'s fake GitHub. Each test gets its own prefix, queue,
//! launch template and bucket, so tests share one moto without seeing each other.
#![allow(dead_code)]

pub mod proxy;
pub mod runtime_api;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use base64::Engine;
use flotilla_core::model::{InstanceState, RunnerOwner};
use flotilla_core::{naming, Config};
use flotilla_lambdas::aws::AwsClients;
use flotilla_lambdas::context::{AppGitHub, Context};
use flotilla_lambdas::contract::{Env, Function};
use flotilla_lambdas::github::RetryPolicy;
use flotilla_lambdas::handlers;
use flotilla_lambdas::handlers::webhook::{HttpRequest, HttpResponse};
use flotilla_lambdas::metrics::Metrics;
use flotilla_lambdas::ports::Aws;
use flotilla_lambdas::settings::Settings;
use flotilla_testkit::{
    AgentRegistration, FakeGitHub, FakeGitHubHandle, FakeGitHubOptions, JobState, TestApp,
    Validation,
};

#[allow(unused_imports)]
pub use proxy::{Faults, Proxy};

pub const REGION: &str = "us-east-1";
/// The account moto answers as.
pub const MOTO_ACCOUNT: &str = "123456789012";
pub const WEBHOOK_SECRET: &str = "webhook-secret-for-tests-7f3a9c";
pub const ORG: &str = "acme";
pub const REPO: &str = "acme/widgets";

/// moto's URL, from `FLOTILLA_MOTO_URL` (set by `lambdas/tests/run.sh`). `None`: skip, loudly.
pub fn moto_url(test: &str) -> Option<String> {
    match std::env::var("FLOTILLA_MOTO_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            report(&format!(
                "SKIPPED {test}: FLOTILLA_MOTO_URL is not set — run lambdas/tests/run.sh (it starts moto)"
            ));
            None
        }
    }
}

/// A line on stderr that the test harness does not capture (skips and measurements stay visible).
pub fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub fn install_crypto() {
    flotilla_lambdas::runtime::install_crypto_provider();
}

pub fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("testing", "testing", None, None, "tests"),
            ),
        )
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique, DNS-safe prefix for one test.
pub fn unique_prefix(name: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 1_000_000_000;
    format!("t-{name}-{t}-{n}")
}

pub type Ctx = Context<AwsClients, AppGitHub<AwsClients>>;

/// Everything one scenario needs.
pub struct World {
    pub prefix: String,
    pub moto: String,
    pub proxy: Proxy,
    pub aws: AwsClients,
    /// Straight to moto (setup and inspection, no faults).
    pub direct: AwsClients,
    pub gh: FakeGitHubHandle,
    pub app: TestApp,
    pub installation_id: u64,
    pub queue_url: String,
    pub bucket: String,
    pub subnets: Vec<String>,
    pub env: HashMap<String, String>,
    pub config: Config,
    pub metrics: Arc<std::sync::Mutex<Vec<String>>>,
}

impl World {
    /// `config` is patched with the world's prefix.
    pub async fn new(name: &str, moto: &str, config: serde_json::Value) -> World {
        install_crypto();
        let prefix = unique_prefix(name);
        let proxy = Proxy::start(moto).await;
        let aws = AwsClients::from_config(&sdk_config(&proxy.url));
        let direct = AwsClients::from_config(&sdk_config(moto));

        let mut config_json = config;
        config_json["prefix"] = prefix.clone().into();
        let config = Config::from_value(config_json.clone()).expect("test config is valid");

        let gh = FakeGitHub::start(FakeGitHubOptions {
            validation: Validation::Record,
            ..FakeGitHubOptions::default()
        })
        .await
        .expect("fake GitHub starts");
        let app = gh.add_test_app("flotilla");
        gh.add_org(ORG);
        gh.add_repo(ORG, "widgets");
        let installation_id = gh.install_app(app.app_id, ORG);

        // SQS
        let mut q = direct
            .sqs
            .create_queue()
            .queue_name(format!("{prefix}-build"));
        if config.fifo_build_queue {
            q = q
                .queue_name(format!("{prefix}-build.fifo"))
                .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
        }
        let queue_url = q.send().await.expect("queue").queue_url.unwrap();
        // EC2: default subnets and a launch template on any AMI moto knows.
        let subnets: Vec<String> = direct
            .ec2
            .describe_subnets()
            .send()
            .await
            .expect("subnets")
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .take(2)
            .collect();
        let ami = direct
            .ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .expect("images")
            .images()
            .first()
            .and_then(|i| i.image_id().map(str::to_string))
            .unwrap_or_else(|| "ami-12c6146b".into());
        direct
            .ec2
            .create_launch_template()
            .launch_template_name(format!("{prefix}-lt"))
            .launch_template_data(
                aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                    .image_id(ami)
                    .build(),
            )
            .send()
            .await
            .expect("launch template");
        // S3
        let bucket = prefix.to_ascii_lowercase();
        direct
            .s3
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("bucket");
        // SSM
        let p = |s: &str| format!("/{prefix}/{s}");
        let put = |name: String, value: String, secure: bool| {
            let direct = direct.clone();
            async move {
                direct
                    .ssm
                    .put_parameter()
                    .name(name)
                    .value(value)
                    .r#type(if secure {
                        aws_sdk_ssm::types::ParameterType::SecureString
                    } else {
                        aws_sdk_ssm::types::ParameterType::String
                    })
                    .overwrite(true)
                    .send()
                    .await
                    .expect("put parameter");
            }
        };
        put(p("config"), config_json.to_string(), false).await;
        put(p("github/app-id"), app.app_id.to_string(), false).await;
        put(
            p("github/app-key-base64"),
            base64::engine::general_purpose::STANDARD.encode(&app.private_key_pem),
            true,
        )
        .await;
        put(p("github/webhook-secret"), WEBHOOK_SECRET.into(), true).await;

        let env = HashMap::from([
            ("FLOTILLA_PREFIX".to_string(), prefix.clone()),
            ("FLOTILLA_CONFIG_PARAMETER".into(), p("config")),
            (
                "FLOTILLA_GITHUB_APP_ID_PARAMETER".into(),
                p("github/app-id"),
            ),
            (
                "FLOTILLA_GITHUB_APP_KEY_PARAMETER".into(),
                p("github/app-key-base64"),
            ),
            (
                "FLOTILLA_GITHUB_WEBHOOK_SECRET_PARAMETER".into(),
                p("github/webhook-secret"),
            ),
            ("FLOTILLA_GITHUB_API_URL".into(), gh.base_url()),
            ("FLOTILLA_BUILD_QUEUE_URL".into(), queue_url.clone()),
            ("FLOTILLA_JOB_ARCHIVE_BUCKET".into(), bucket.clone()),
            (
                "FLOTILLA_LAUNCH_TEMPLATE_NAME".into(),
                format!("{prefix}-lt"),
            ),
            ("FLOTILLA_SUBNET_IDS".into(), subnets.join(",")),
            ("FLOTILLA_KMS_KEY_ID".into(), String::new()),
            ("FLOTILLA_METRICS_NAMESPACE".into(), "FlotillaTest".into()),
            ("FLOTILLA_RUNNER_BINARIES_BUCKET".into(), bucket.clone()),
            (
                "FLOTILLA_RUNNER_BINARIES_KEY".into(),
                "actions-runner-linux-x64.tar.gz".into(),
            ),
            ("FLOTILLA_RUNNER_OS".into(), "linux".into()),
            ("FLOTILLA_RUNNER_ARCHITECTURE".into(), "x64".into()),
            ("LOG_LEVEL".into(), "debug".into()),
        ]);
        World {
            prefix,
            moto: moto.to_string(),
            proxy,
            aws,
            direct,
            gh,
            app,
            installation_id,
            queue_url,
            bucket,
            subnets,
            env,
            config,
            metrics: Arc::new(std::sync::Mutex::new(Vec::new())),
        }
    }

    pub fn settings(&self, f: Function) -> Settings {
        let mut env = self.env.clone();
        env.insert("FLOTILLA_HANDLER".into(), f.name().into());
        Settings::load(&Env::from_fn(f, move |n| env.get(n).cloned())).expect("settings")
    }

    /// A handler context as a Lambda would build it, through the contract.
    pub fn ctx(&self, f: Function) -> Ctx {
        let settings = self.settings(f);
        let sink = self.metrics.clone();
        let metrics = Metrics::new(
            "FlotillaTest",
            f.name(),
            Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_string())),
        );
        let github = AppGitHub::new(
            self.aws.clone(),
            &settings,
            RetryPolicy {
                attempts: 3,
                max_wait: std::time::Duration::from_secs(3),
                backoff: std::time::Duration::from_millis(20),
            },
        );
        // moto's account; production reads these from the invoked function's ARN.
        Context::new(f, settings, self.aws.clone(), github, metrics).with_account(
            "aws",
            REGION,
            MOTO_ACCOUNT,
        )
    }

    /// The tags of an SSM parameter (ListTagsForResource, straight to moto).
    pub async fn parameter_tags(&self, name: &str) -> BTreeMap<String, String> {
        self.direct
            .ssm
            .list_tags_for_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .expect("list tags")
            .tag_list()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()
    }

    /// Every runner token carries the instance-ARN tag Terraform's instance policy checks.
    pub async fn assert_tokens_tagged(&self, label: &str) {
        let tokens = self.token_parameters().await;
        assert!(!tokens.is_empty(), "{label}: no token to check");
        for t in tokens {
            let id = t.rsplit('/').next().unwrap();
            let tags = self.parameter_tags(&t).await;
            assert_eq!(
                tags.get("flotilla:instance-arn").map(String::as_str),
                Some(format!("arn:aws:ec2:{REGION}:{MOTO_ACCOUNT}:instance/{id}").as_str()),
                "{label}: token {t} tags {tags:?}"
            );
        }
    }

    pub fn metric_lines(&self, name: &str) -> Vec<serde_json::Value> {
        self.metrics
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get(name).is_some())
            .collect()
    }

    /// A signed webhook delivery as API Gateway v2 sends it (base64 body).
    pub fn api_gateway_event(event: &str, body: &[u8], secret: &str) -> HttpRequest {
        let sig = flotilla_core::webhook::sign(secret.as_bytes(), body);
        let json = serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /webhook",
            "rawPath": "/webhook",
            "headers": {
                "content-type": "application/json",
                "x-github-event": event,
                "x-github-delivery": "d-1",
                "x-hub-signature-256": sig,
            },
            "requestContext": {"requestId": "req-1", "http": {"method": "POST", "path": "/webhook"}},
            "body": base64::engine::general_purpose::STANDARD.encode(body),
            "isBase64Encoded": true,
        });
        serde_json::from_value(json).unwrap()
    }

    pub async fn webhook(&self, ctx: &Ctx, event: &str, body: &[u8]) -> HttpResponse {
        let req = World::api_gateway_event(event, body, WEBHOOK_SECRET);
        handlers::webhook::handle(ctx, &req)
            .await
            .expect("webhook handler")
    }

    /// Feeds every delivery the fake GitHub has emitted since `rx` was subscribed to the
    /// webhook handler, as GitHub would post them. Answers the statuses.
    pub async fn deliver_webhooks(
        &self,
        ctx: &Ctx,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<flotilla_testkit::Delivery>,
    ) -> Vec<(String, String, u16)> {
        let mut out = Vec::new();
        while let Ok(d) = rx.try_recv() {
            let req = delivery_request(&d);
            let resp = handlers::webhook::handle(ctx, &req).await.expect("webhook");
            out.push((d.event.clone(), d.action.clone(), resp.status_code));
        }
        out
    }

    /// Receives what the build queue has visible now, as the Lambda event source mapping would.
    pub async fn receive(&self, max: i32) -> Vec<SqsMessage> {
        let out = self
            .direct
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.min(10))
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        out.messages()
            .iter()
            .map(|m| {
                let mut msg = SqsMessage::default();
                msg.message_id = m.message_id().map(str::to_string);
                msg.receipt_handle = m.receipt_handle().map(str::to_string);
                msg.body = m.body().map(str::to_string);
                msg.attributes = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                msg
            })
            .collect()
    }

    pub fn sqs_event(records: Vec<SqsMessage>) -> SqsEvent {
        let mut e = SqsEvent::default();
        e.records = records;
        e
    }

    /// One scale-up invocation over `records`, then what the event source mapping does: delete
    /// the messages not reported as failures. Answers the failed message ids.
    pub async fn scale_up(&self, ctx: &Ctx, records: Vec<SqsMessage>) -> Vec<String> {
        let resp = handlers::scale_up::handle(ctx, World::sqs_event(records.clone()))
            .await
            .expect("scale-up");
        let failed: Vec<String> = resp
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        for r in records {
            if !failed.contains(r.message_id.as_ref().unwrap()) {
                let _ = self
                    .direct
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(r.receipt_handle.unwrap())
                    .send()
                    .await;
            }
        }
        failed
    }

    /// Makes retried messages visible again (the visibility delay is real time in moto).
    pub async fn release_retried(&self, records: &[SqsMessage]) {
        for r in records {
            if let Some(h) = &r.receipt_handle {
                let _ = self
                    .direct
                    .sqs
                    .change_message_visibility()
                    .queue_url(&self.queue_url)
                    .receipt_handle(h)
                    .visibility_timeout(0)
                    .send()
                    .await;
            }
        }
    }

    pub async fn instances(&self) -> Vec<flotilla_core::model::Instance> {
        self.direct
            .describe_instances(&self.prefix, None)
            .await
            .expect("describe")
    }

    pub async fn live_instances(&self) -> Vec<flotilla_core::model::Instance> {
        self.instances()
            .await
            .into_iter()
            .filter(|i| i.state.is_live())
            .collect()
    }

    pub async fn token_parameters(&self) -> Vec<String> {
        self.direct
            .parameters_by_path(&naming::token_parameter_path(&self.prefix))
            .await
            .expect("tokens")
            .into_iter()
            .map(|p| p.name)
            .collect()
    }

    /// What the runner's user data does at boot: read the token parameter, delete it, register
    /// with GitHub (JIT config or registration token). Answers the runner ids registered.
    pub async fn boot(&self) -> Vec<u64> {
        let mut ids = Vec::new();
        for inst in self.live_instances().await {
            let name = naming::token_parameter(&self.prefix, &inst.id);
            let Some(p) = self
                .direct
                .get_parameter(&name, true)
                .await
                .expect("get token")
            else {
                continue;
            };
            self.direct.delete_parameter(&name).await.unwrap();
            let runner_name = naming::runner_name(&self.config, &inst.id);
            let session = if self.config.jit_config() {
                self.gh
                    .agent_connect_jit(&p.value)
                    .expect("JIT config accepted")
            } else {
                self.gh
                    .agent_register(&AgentRegistration {
                        token: p.value.clone(),
                        name: runner_name,
                        labels: self.config.runner_extra_labels.clone(),
                        ephemeral: self.config.enable_ephemeral_runners,
                        ..AgentRegistration::default()
                    })
                    .expect("registration token accepted")
            };
            if !self.config.jit_config() {
                // The agent connects (run.sh): the runner goes online.
                self.gh
                    .set_runner_online(session.runner_id, true)
                    .expect("runner online");
            }
            ids.push(session.runner_id);
        }
        self.gh.tick();
        ids
    }

    /// Completes every running job; ephemeral runners' instances then shut down (user data).
    pub async fn finish_jobs(&self, conclusion: &str) -> Vec<u64> {
        let mut done = Vec::new();
        for j in self.gh.jobs() {
            if j.state == JobState::InProgress {
                self.gh.complete_job(j.id, conclusion).unwrap();
                done.push(j.id);
                if self.config.enable_ephemeral_runners {
                    if let Some(name) = &j.runner_name {
                        if let Some(id) = naming::instance_of_runner(&self.config, name) {
                            self.direct
                                .terminate_instances(&[id.to_string()])
                                .await
                                .unwrap();
                        }
                    }
                }
            }
        }
        self.gh.tick();
        done
    }

    pub fn runner_owner(&self) -> RunnerOwner {
        if self.config.enable_organization_runners {
            RunnerOwner::Org(ORG.into())
        } else {
            RunnerOwner::Repo(REPO.into())
        }
    }

    /// The three invariants every scenario ends with.
    pub async fn check_invariants(&self, label: &str) {
        let instances = self.instances().await;
        let live: Vec<_> = instances.iter().filter(|i| i.state.is_live()).collect();
        let tokens = self.token_parameters().await;
        let runners = self.gh.runners();
        // 1. No running instance without a runner or a pending boot.
        for i in &live {
            let name = naming::runner_name(&self.config, &i.id);
            let has_runner = runners.iter().any(|r| r.name == name);
            let booting = tokens.contains(&naming::token_parameter(&self.prefix, &i.id));
            let leaving = i.tags.interrupted_at.is_some() || i.tags.deregister_pending.is_some();
            assert!(
                has_runner || booting || leaving,
                "{label}: instance {} ({:?}) has no runner and no pending boot",
                i.id,
                i.state
            );
        }
        // 2. No SSM token of a terminated instance.
        for t in &tokens {
            let id = t.rsplit('/').next().unwrap();
            let inst = instances.iter().find(|i| i.id == id);
            assert!(
                inst.is_some_and(|i| i.state.is_live()),
                "{label}: token {t} belongs to an instance that is {:?}",
                inst.map(|i| i.state).unwrap_or(InstanceState::Terminated)
            );
        }
        // 3. No job left without a runner that could take it.
        let pool_labels = self.config.runner_labels();
        let queued_msgs = self
            .direct
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attrs = queued_msgs.attributes().cloned().unwrap_or_default();
        let pending: u64 = [
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed,
        ]
        .iter()
        .filter_map(|k| attrs.get(k).and_then(|v| v.parse::<u64>().ok()))
        .sum();
        for j in self.gh.jobs() {
            if j.state != JobState::Queued {
                continue;
            }
            if !flotilla_core::labels::runner_covers_job(&pool_labels, &j.labels) {
                continue;
            }
            let idle_runner = runners.iter().any(|r| {
                r.online
                    && !r.busy
                    && flotilla_core::labels::runner_covers_job(
                        &r.labels.iter().map(|l| l.name.clone()).collect::<Vec<_>>(),
                        &j.labels,
                    )
            });
            let booting = live.iter().any(|i| {
                tokens.contains(&naming::token_parameter(&self.prefix, &i.id))
                    && (i.tags.launched_for == Some(j.id) || i.tags.launched_for.is_none())
            });
            assert!(
                idle_runner || booting || pending > 0,
                "{label}: job {} is queued with no runner, no booting instance and nothing on the queue",
                j.id
            );
        }
        let failures = self.gh.validation_failures();
        assert!(
            failures.is_empty(),
            "{label}: fake GitHub OpenAPI violations: {failures:?}"
        );
    }

    pub async fn put_config(&mut self, config: serde_json::Value) {
        let mut c = config;
        c["prefix"] = self.prefix.clone().into();
        self.config = Config::from_value(c.clone()).unwrap();
        self.direct
            .put_parameter(
                &format!("/{}/config", self.prefix),
                &c.to_string(),
                flotilla_lambdas::ports::ParameterKind::String,
                true,
            )
            .await
            .unwrap();
    }
}

/// Tags as a map, for assertions.
pub fn tag_map(i: &aws_sdk_ec2::types::Instance) -> BTreeMap<String, String> {
    i.tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// A webhook delivery of the fake GitHub as API Gateway hands it to the webhook function.
pub fn delivery_request(d: &flotilla_testkit::Delivery) -> HttpRequest {
    let mut headers: HashMap<String, String> = d.headers.iter().cloned().collect();
    headers.insert("content-type".into(), "application/json".into());
    serde_json::from_value(serde_json::json!({
        "headers": headers,
        "body": d.body,
        "isBase64Encoded": false,
        "requestContext": {"requestId": d.id},
    }))
    .expect("a delivery is a valid HTTP API request")
}
