//! Every payload in `../shared/data/webhooks/` through the webhook handler, as API Gateway v2
//! (base64 body) and as a function URL (plain body), gets the status `core/docs/
//! webhook-payloads.md` documents; and the failure paths (401, 400, 413, 415, 503). AWS is
//! stubbed here (the moto-backed tests cover the real calls).

use std::path::PathBuf;

use base64::Engine;
use flotilla_core::webhook::sign;
use flotilla_core::Config;
use flotilla_lambdas::context::Context;
use flotilla_lambdas::contract::Function;
use flotilla_lambdas::handlers::webhook::{handle, HttpRequest};
use flotilla_lambdas::metrics::Metrics;
use flotilla_lambdas::settings::Settings;
use flotilla_lambdas::stub::{StubAws, StubGitHub};

const SECRET: &str = "It's a Secret to Everybody";

fn data_dir() -> Option<PathBuf> {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/webhooks");
    if d.is_dir() {
        Some(d)
    } else {
        {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: {} is absent (shared data not laid out)",
                d.display()
            );
        }
        None
    }
}

fn config(name: &str) -> Config {
    let mut c = Config {
        prefix: "p".into(),
        ..Config::default()
    };
    if name == "k8s" {
        c.runner_extra_labels = vec!["k8s".into()];
    }
    c
}

fn ctx(config: Config, fail_sqs: bool) -> Context<StubAws, StubGitHub> {
    let settings = Settings {
        prefix: "p".into(),
        build_queue_url: Some("http://127.0.0.1:1/queue".into()),
        job_archive_bucket: Some("archive".into()),
        config_parameter: Some("/p/config".into()),
        github_webhook_secret_parameter: Some("/p/github/webhook-secret".into()),
        ..Settings::default()
    };
    let aws = StubAws {
        fail_sqs,
        ..StubAws::recording()
    };
    Context::new(
        Function::Webhook,
        settings,
        aws,
        StubGitHub,
        Metrics::discard(),
    )
    .with_config(config)
    .with_secret(SECRET.into())
}

/// The table of `core/docs/webhook-payloads.md`: (payload, config, status).
fn documented() -> Vec<(String, String, u16)> {
    let text = include_str!("../../core/docs/webhook-payloads.md");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            if cells.len() < 5 || !cells[1].ends_with(".json") {
                return None;
            }
            Some((
                cells[1].to_string(),
                cells[2].to_string(),
                cells[3].parse().ok()?,
            ))
        })
        .collect()
}

fn api_gateway(
    event: Option<&str>,
    body: &[u8],
    signature: Option<String>,
    content_type: &str,
) -> HttpRequest {
    let mut headers = serde_json::Map::new();
    headers.insert("content-type".into(), content_type.into());
    if let Some(e) = event {
        headers.insert("x-github-event".into(), e.into());
    }
    if let Some(s) = signature {
        headers.insert("x-hub-signature-256".into(), s.into());
    }
    serde_json::from_value(serde_json::json!({
        "version": "2.0",
        "routeKey": "POST /webhook",
        "rawPath": "/webhook",
        "headers": headers,
        "requestContext": {"requestId": "r", "http": {"method": "POST"}},
        "body": base64::engine::general_purpose::STANDARD.encode(body),
        "isBase64Encoded": true,
    }))
    .unwrap()
}

fn function_url(event: &str, body: &[u8]) -> HttpRequest {
    // Function URLs send text bodies as is; header names arrive lower-cased, but a hand-made
    // test event may not, so one is capitalised here.
    serde_json::from_value(serde_json::json!({
        "version": "2.0",
        "rawPath": "/",
        "headers": {
            "Content-Type": "application/json",
            "x-github-event": event,
            "X-Hub-Signature-256": sign(SECRET.as_bytes(), body),
        },
        "requestContext": {"requestId": "r", "http": {"method": "POST"}},
        "body": String::from_utf8(body.to_vec()).unwrap(),
        "isBase64Encoded": false,
    }))
    .unwrap()
}

fn event_of(file: &str) -> &str {
    file.split('.').next().unwrap()
}

#[tokio::test]
async fn every_payload_gets_its_documented_status() {
    let Some(dir) = data_dir() else { return };
    let table = documented();
    assert!(table.len() >= 30, "the documented table lost rows");
    let mut seen_files = std::collections::BTreeSet::new();
    for (file, config_name, status) in &table {
        let body = std::fs::read(dir.join(file)).unwrap();
        let event = event_of(file);
        for (how, req) in [
            (
                "API Gateway",
                api_gateway(
                    Some(event),
                    &body,
                    Some(sign(SECRET.as_bytes(), &body)),
                    "application/json",
                ),
            ),
            ("function URL", function_url(event, &body)),
        ] {
            let c = ctx(config(config_name), false);
            let resp = handle(&c, &req).await.unwrap();
            assert_eq!(
                resp.status_code, *status,
                "{file} ({config_name}) via {how}: {}",
                resp.body
            );
            let calls = c.aws.calls();
            let enqueued = calls.iter().any(|c| c.starts_with("send_message"));
            assert_eq!(
                enqueued,
                *status == 201,
                "{file}: enqueue iff 201 ({calls:?})"
            );
            if event == "workflow_job" {
                assert!(
                    calls
                        .iter()
                        .any(|c| c.starts_with("put_object archive/p/workflow_job/")),
                    "{file}: archived"
                );
            }
        }
        seen_files.insert(file.clone());
    }
    // Every payload on disk is in the table.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".json") {
            assert!(seen_files.contains(&name), "{name} is not documented");
        }
    }
}

#[tokio::test]
async fn failure_paths_answer_401_400_413_415_and_503() {
    let Some(dir) = data_dir() else { return };
    let body = std::fs::read(dir.join("workflow_job.queued.6.json")).unwrap();
    let good = || Some(sign(SECRET.as_bytes(), &body));
    let cases: Vec<(&str, HttpRequest, u16)> = vec![
        (
            "signature of other bytes",
            api_gateway(
                Some("workflow_job"),
                &body,
                Some(sign(SECRET.as_bytes(), b"{}")),
                "application/json",
            ),
            401,
        ),
        (
            "signature with another secret",
            api_gateway(
                Some("workflow_job"),
                &body,
                Some(sign(b"nope", &body)),
                "application/json",
            ),
            401,
        ),
        (
            "no signature",
            api_gateway(Some("workflow_job"), &body, None, "application/json"),
            401,
        ),
        (
            "form-encoded",
            api_gateway(
                Some("workflow_job"),
                &body,
                good(),
                "application/x-www-form-urlencoded",
            ),
            415,
        ),
        (
            "over 1 MiB",
            {
                let big = vec![b' '; (1 << 20) + 1];
                api_gateway(
                    Some("workflow_job"),
                    &big,
                    Some(sign(SECRET.as_bytes(), &big)),
                    "application/json",
                )
            },
            413,
        ),
        (
            "no event header",
            api_gateway(None, &body, good(), "application/json"),
            400,
        ),
        (
            "cut short",
            {
                let cut = &body[..body.len() / 2];
                api_gateway(
                    Some("workflow_job"),
                    cut,
                    Some(sign(SECRET.as_bytes(), cut)),
                    "application/json",
                )
            },
            400,
        ),
        (
            "body not base64",
            {
                let mut r = api_gateway(Some("workflow_job"), &body, good(), "application/json");
                r.body = Some("%%%not base64%%%".into());
                r
            },
            400,
        ),
    ];
    for (name, req, status) in cases {
        let c = ctx(config("k8s"), false);
        let resp = handle(&c, &req).await.unwrap();
        assert_eq!(resp.status_code, status, "{name}: {}", resp.body);
        assert!(
            !c.aws.calls().iter().any(|c| c.starts_with("send_message")),
            "{name}: nothing enqueued"
        );
    }
    // SQS refuses: the job must not be reported as taken.
    let c = ctx(config("k8s"), true);
    let resp = handle(
        &c,
        &api_gateway(Some("workflow_job"), &body, good(), "application/json"),
    )
    .await
    .unwrap();
    assert_eq!(resp.status_code, 503, "{}", resp.body);
    // The policy's answer to EnqueueFailed (core decides the 503, not the shell).
    assert_eq!(
        resp.message(),
        flotilla_core::policy::webhook::on_enqueue_failed(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap()["workflow_job"]["id"]
                .as_u64()
                .unwrap(),
            "ServiceUnavailable: stubbed SQS failure"
        )
        .iter()
        .find_map(|c| match c {
            flotilla_core::Command::Respond { message, .. } => Some(message.clone()),
            _ => None,
        })
        .unwrap(),
        "{}",
        resp.body
    );
    // Secret not configured.
    let c = Context::new(
        Function::Webhook,
        Settings {
            prefix: "p".into(),
            github_webhook_secret_parameter: Some("/p/github/webhook-secret".into()),
            ..Settings::default()
        },
        StubAws::recording(),
        StubGitHub,
        Metrics::discard(),
    )
    .with_config(config("k8s"));
    let resp = handle(
        &c,
        &api_gateway(Some("workflow_job"), &body, good(), "application/json"),
    )
    .await
    .unwrap();
    assert_eq!(resp.status_code, 500);
}

#[tokio::test]
async fn fifo_queues_get_deduplication_and_group_ids() {
    let Some(dir) = data_dir() else { return };
    let body = std::fs::read(dir.join("workflow_job.queued.6.json")).unwrap();
    let mut cfg = config("k8s");
    cfg.fifo_build_queue = true;
    let c = ctx(cfg, false);
    let resp = handle(
        &c,
        &api_gateway(
            Some("workflow_job"),
            &body,
            Some(sign(SECRET.as_bytes(), &body)),
            "application/json",
        ),
    )
    .await
    .unwrap();
    assert_eq!(resp.status_code, 201);
    let calls = c.aws.calls();
    assert!(
        calls.iter().any(|c| c.starts_with("send_message")
            && c.contains("fifo=")
            && c.ends_with(&format!("/{}", c.split(' ').nth(1).unwrap()))),
        "{calls:?}"
    );
}
