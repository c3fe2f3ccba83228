//! The rest of the handlers' surface against moto and the fake GitHub: the runner binaries
//! syncer, check_run deliveries (job labels looked up at GitHub), runner tokens under a KMS key
//! and in the Advanced tier from 4 KB, and the archive's JSONL. Needs `FLOTILLA_MOTO_URL`.

mod support;

use flotilla_lambdas::contract::Function;
use flotilla_lambdas::github::{GitHubClient, RetryPolicy};
use flotilla_lambdas::handlers;
use flotilla_lambdas::ports::{Aws, ParameterKind};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_syncer_mirrors_the_latest_runner_release_once() {
    let Some(moto) = moto_url("syncer") else {
        return;
    };
    let w = World::new("syncer", &moto, json!({})).await;
    w.gh.add_actions_runner_release("2.330.0").unwrap();
    let settings = w.settings(Function::RunnerBinariesSyncer);
    let github = GitHubClient::anonymous(&w.gh.base_url(), RetryPolicy::default()).unwrap();
    let out = handlers::runner_binaries_syncer::handle(&settings, &w.aws, &github)
        .await
        .unwrap();
    assert_eq!(out["updated"], true, "{out}");
    assert_eq!(out["asset"], "actions-runner-linux-x64-2.330.0.tar.gz");
    let head = w
        .direct
        .s3
        .head_object()
        .bucket(&w.bucket)
        .key("actions-runner-linux-x64.tar.gz")
        .send()
        .await
        .unwrap();
    assert_eq!(head.metadata().unwrap()["runner-version"], "v2.330.0");
    assert!(head.content_length().unwrap_or(0) > 0);
    // Current: skipped.
    let out = handlers::runner_binaries_syncer::handle(&settings, &w.aws, &github)
        .await
        .unwrap();
    assert_eq!(out["updated"], false, "{out}");
    // A newer release: mirrored.
    w.gh.add_actions_runner_release("2.331.0").unwrap();
    let out = handlers::runner_binaries_syncer::handle(&settings, &w.aws, &github)
        .await
        .unwrap();
    assert_eq!(out["version"], "v2.331.0", "{out}");
    assert_eq!(out["updated"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_run_from_github_actions_is_routed_by_its_jobs_labels() {
    let Some(moto) = moto_url("check_run") else {
        return;
    };
    let w = World::new("checkrun", &moto, json!({"enable_ephemeral_runners": true})).await;
    let webhook = w.ctx(Function::Webhook);
    let job =
        w.gh.queue_job(REPO, "build", &["self-hosted", "linux"])
            .unwrap();
    let other = w.gh.queue_job(REPO, "hosted", &["ubuntu-latest"]).unwrap();
    let check_run = |id: u64| {
        json!({
            "action": "created",
            "check_run": {"id": id, "status": "queued", "app": {"slug": "github-actions"}},
            "repository": {"name": "widgets", "full_name": REPO, "owner": {"login": ORG, "type": "Organization"}},
            "installation": {"id": w.installation_id},
        })
        .to_string()
    };
    let resp = w
        .webhook(&webhook, "check_run", check_run(job).as_bytes())
        .await;
    assert_eq!(resp.status_code, 201, "{}", resp.body);
    let msgs = w.receive(10).await;
    assert_eq!(msgs.len(), 1);
    let body: serde_json::Value = serde_json::from_str(msgs[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(body["job_id"], job);
    assert_eq!(body["labels"], json!(["self-hosted", "linux"]));
    // A GitHub-hosted job is not ours; a job GitHub does not know is ignored.
    let resp = w
        .webhook(&webhook, "check_run", check_run(other).as_bytes())
        .await;
    assert_eq!(resp.status_code, 202, "{}", resp.body);
    let resp = w
        .webhook(&webhook, "check_run", check_run(999_999).as_bytes())
        .await;
    assert_eq!(resp.status_code, 202, "{}", resp.body);
    // GitHub failing: 502, nothing enqueued.
    w.gh.inject_fault(
        flotilla_testkit::FaultSpec::new("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}")
            .status(503),
    );
    let resp = w
        .webhook(&webhook, "check_run", check_run(job).as_bytes())
        .await;
    assert_eq!(resp.status_code, 502, "{}", resp.body);
    assert!(w.receive(10).await.len() <= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagged_parameters_are_tagged_when_created_and_when_overwritten() {
    let Some(moto) = moto_url("tagged_token") else {
        return;
    };
    let w = World::new("tagged", &moto, json!({})).await;
    let name = format!("/{}/runners/tokens/i-0123456789abcdef0", w.prefix);
    let kind = ParameterKind::Secure { kms_key_id: None };
    let tag = |v: &str| {
        std::collections::BTreeMap::from([("flotilla:instance-arn".to_string(), v.to_string())])
    };
    // New: PutParameter with Tags (overwrite off).
    w.aws
        .put_tagged_parameter(&name, "first", kind, &tag("arn-1"))
        .await
        .unwrap();
    assert_eq!(w.parameter_tags(&name).await, tag("arn-1"));
    // Existing: overwritten, then tagged (PutParameter refuses Tags with Overwrite).
    w.aws
        .put_tagged_parameter(&name, "second", kind, &tag("arn-2"))
        .await
        .unwrap();
    assert_eq!(w.parameter_tags(&name).await, tag("arn-2"));
    let value = w.direct.get_parameter(&name, true).await.unwrap().unwrap();
    assert_eq!(value.value, "second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_tokens_use_the_kms_key_and_the_advanced_tier_from_4_kb() {
    let Some(moto) = moto_url("kms_tier") else {
        return;
    };
    let w = World::new("kmstier", &moto, json!({})).await;
    let key = w.direct_kms_key().await;
    let small = format!("/{}/runners/tokens/i-small", w.prefix);
    let big = format!("/{}/runners/tokens/i-big", w.prefix);
    let kind = ParameterKind::Secure {
        kms_key_id: Some(&key),
    };
    w.aws
        .put_parameter(&small, "token", kind, true)
        .await
        .unwrap();
    w.aws
        .put_parameter(&big, &"j".repeat(5000), kind, true)
        .await
        .unwrap();
    let described = w
        .direct
        .ssm
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .option("BeginsWith")
                .values(format!("/{}/runners/tokens/", w.prefix))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let by_name = |n: &str| {
        described
            .parameters()
            .iter()
            .find(|p| p.name() == Some(n))
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name(&small).tier().map(|t| t.as_str()), Some("Standard"));
    assert_eq!(by_name(&big).tier().map(|t| t.as_str()), Some("Advanced"));
    assert_eq!(
        by_name(&small).r#type().map(|t| t.as_str()),
        Some("SecureString")
    );
    assert!(
        by_name(&small)
            .key_id()
            .is_some_and(|k| k.contains(&key) || key.contains(k)),
        "{:?}",
        by_name(&small).key_id()
    );
    let back = w.direct.get_parameter(&big, true).await.unwrap().unwrap();
    assert_eq!(back.value.len(), 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_holds_one_jsonl_line_per_job_event() {
    let Some(moto) = moto_url("archive") else {
        return;
    };
    let w = World::new("archive", &moto, json!({})).await;
    let webhook = w.ctx(Function::Webhook);
    w.gh.set_webhook(flotilla_testkit::seed::WebhookSpec {
        url: None,
        secret: Some(WEBHOOK_SECRET.into()),
        events: None,
    });
    let mut rx = w.gh.subscribe_webhooks();
    let job =
        w.gh.queue_job(REPO, "build", &["self-hosted", "linux"])
            .unwrap();
    w.gh.complete_job(job, "cancelled").unwrap();
    w.deliver_webhooks(&webhook, &mut rx).await;
    let listed = w
        .direct
        .s3
        .list_objects_v2()
        .bucket(&w.bucket)
        .send()
        .await
        .unwrap();
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert!(keys.len() >= 2, "{keys:?}");
    for k in keys {
        assert!(
            k.starts_with(&format!("{}/workflow_job/", w.prefix)) && k.ends_with(".jsonl"),
            "{k}"
        );
        let obj = w
            .direct
            .s3
            .get_object()
            .bucket(&w.bucket)
            .key(&k)
            .send()
            .await
            .unwrap();
        let bytes = obj.body.collect().await.unwrap().into_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "one line: {text}");
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["payload"]["workflow_job"]["id"], job);
        assert!(v["received_at"].is_string());
    }
}

impl World {
    /// CreateKey on moto's KMS (JSON 1.1; moto routes by the credential scope's service).
    async fn direct_kms_key(&self) -> String {
        use http_body_util::{BodyExt, Full};
        let client: hyper_util::client::legacy::Client<_, Full<bytes::Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let req = hyper::Request::post(format!("{}/", self.moto))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "TrentService.CreateKey")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(Full::new(bytes::Bytes::from_static(b"{}")))
            .unwrap();
        let resp = client.request(req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["KeyMetadata"]["KeyId"]
            .as_str()
            .expect("a KMS key")
            .to_string()
    }
}
