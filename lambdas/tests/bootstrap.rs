//! The built `bootstrap`s under a local Lambda Runtime API (a small one written here), with
//! static credentials and a region so nothing probes IMDS: the webhook bootstrap handles a signed
//! real webhook and enqueues the job in moto; the runners bootstrap runs scale-down. Prints the
//! time from process start to the first `invocation/next` (handler ready).
//! Needs moto (`FLOTILLA_MOTO_URL`).

mod support;

use serde_json::json;
use support::runtime_api::{bootstrap_env, run_bootstrap, RuntimeApi};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_bootstrap_handles_a_signed_real_webhook() {
    let Some(moto) = moto_url("bootstrap_webhook") else {
        return;
    };
    let Some(body) = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/webhooks/workflow_job.queued.6.json"
    ))
    .ok() else {
        report("SKIPPED bootstrap_webhook: shared/data/webhooks is absent");
        return;
    };
    let w = World::new("boot", &moto, json!({"runner_extra_labels": ["k8s"]})).await;
    // A full API Gateway v2 event as Lambda delivers it.
    let sig = flotilla_core::webhook::sign(WEBHOOK_SECRET.as_bytes(), &body);
    use base64::Engine;
    let event = json!({
        "version": "2.0", "routeKey": "POST /webhook", "rawPath": "/webhook", "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-github-event": "workflow_job",
                    "x-github-delivery": "72d3162e", "x-hub-signature-256": sig},
        "requestContext": {"accountId": "123456789012", "apiId": "api", "domainName": "x", "domainPrefix": "x",
            "http": {"method": "POST", "path": "/webhook", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "GitHub-Hookshot"},
            "requestId": "req-bootstrap-1", "routeKey": "POST /webhook", "stage": "$default", "time": "04/Sep/2025:10:00:00 +0000", "timeEpoch": 1756980000000u64},
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
        "isBase64Encoded": true,
    });
    let api = RuntimeApi::start(serde_json::to_vec(&event).unwrap()).await;
    let env = bootstrap_env(&w, "webhook", &api.addr);
    let (answer, ready, logs) = run_bootstrap(env!("CARGO_BIN_EXE_webhook"), env, &api).await;
    let answer = answer.unwrap_or_else(|e| panic!("bootstrap failed: {e}\n{logs}"));
    assert_eq!(answer["statusCode"], 201, "{answer}\n{logs}");
    let msgs = w.receive(10).await;
    assert_eq!(msgs.len(), 1, "the job is on the build queue");
    assert!(logs.contains("webhook answered"), "{logs}");
    assert!(!logs.contains(WEBHOOK_SECRET));
    report(&format!(
        "BENCH bootstrap start to handler ready (webhook): {:.1} ms",
        ready.as_secs_f64() * 1e3
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runners_bootstrap_selects_its_handler() {
    let Some(moto) = moto_url("bootstrap_runners") else {
        return;
    };
    let w = World::new("bootrun", &moto, json!({})).await;
    let event = json!({"version": "0", "id": "s", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let api = RuntimeApi::start(serde_json::to_vec(&event).unwrap()).await;
    let env = bootstrap_env(&w, "scale-down", &api.addr);
    let (answer, ready, logs) = run_bootstrap(env!("CARGO_BIN_EXE_runners"), env, &api).await;
    let answer = answer.unwrap_or_else(|e| panic!("bootstrap failed: {e}\n{logs}"));
    assert!(answer["commands"].is_array(), "{answer}");
    report(&format!(
        "BENCH bootstrap start to handler ready (runners/scale-down): {:.1} ms",
        ready.as_secs_f64() * 1e3
    ));

    // A handler not in runners.zip is refused at start.
    let api = RuntimeApi::start(b"{}".to_vec()).await;
    let mut env = bootstrap_env(&w, "webhook", &api.addr);
    env.insert("FLOTILLA_HANDLER".into(), "webhook".into());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_runners"))
        .env_clear()
        .envs(env)
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not in runners.zip"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
