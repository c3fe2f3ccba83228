//! Numbers for the closing note (printed, never asserted):
//! - the webhook handler in process over every payload of `../shared/data/webhooks/`, AWS
//!   stubbed: p50/p99 of the handler alone, and with the event's JSON parse;
//! - with `FLOTILLA_MOTO_URL` (lambdas/tests/run.sh's moto, or any): 100 queued jobs, delay 0 →
//!   100 instances requested in moto through scale-up (batches of 10, one invocation at a time,
//!   as the default reserved concurrency of 1 runs them);
//! - zip sizes, when `lambdas/package.sh` has built them.
//!
//! `cargo bench -p flotilla-lambdas --bench lambdas`

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use flotilla_core::Config;
use flotilla_lambdas::context::Context;
use flotilla_lambdas::contract::Function;
use flotilla_lambdas::handlers::webhook::{handle, HttpRequest};
use flotilla_lambdas::metrics::Metrics;
use flotilla_lambdas::settings::Settings;
use flotilla_lambdas::stub::{StubAws, StubGitHub};

const SECRET: &str = "bench-secret";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn webhook_bench(rt: &tokio::runtime::Runtime) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/webhooks");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("webhook bench SKIPPED: {} is absent", dir.display());
        return;
    };
    let mut events: Vec<Vec<u8>> = Vec::new();
    for e in entries {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let body = std::fs::read(&path).unwrap();
        let event = name.split('.').next().unwrap();
        let json = serde_json::json!({
            "version": "2.0", "routeKey": "POST /webhook", "rawPath": "/webhook",
            "headers": {"content-type": "application/json", "x-github-event": event,
                        "x-github-delivery": "d", "x-hub-signature-256": flotilla_core::webhook::sign(SECRET.as_bytes(), &body)},
            "requestContext": {"requestId": "r", "http": {"method": "POST"}},
            "body": base64::engine::general_purpose::STANDARD.encode(&body),
            "isBase64Encoded": true,
        });
        events.push(serde_json::to_vec(&json).unwrap());
    }
    let config = Config {
        prefix: "bench".into(),
        runner_extra_labels: vec!["k8s".into()],
        ..Config::default()
    };
    let settings = Settings {
        prefix: "bench".into(),
        build_queue_url: Some("http://127.0.0.1:1/q".into()),
        job_archive_bucket: Some("archive".into()),
        ..Settings::default()
    };
    let ctx = Context::new(
        Function::Webhook,
        settings,
        StubAws::default(),
        StubGitHub,
        Metrics::discard(),
    )
    .with_config(config)
    .with_secret(SECRET.into());
    let parsed: Vec<HttpRequest> = events
        .iter()
        .map(|e| serde_json::from_slice(e).unwrap())
        .collect();
    let rounds = 400;
    rt.block_on(async {
        // Warm up.
        for r in &parsed {
            handle(&ctx, r).await.unwrap();
        }
        let mut alone = Vec::with_capacity(rounds * parsed.len());
        let mut with_parse = Vec::with_capacity(rounds * parsed.len());
        for _ in 0..rounds {
            for (raw, req) in events.iter().zip(&parsed) {
                let t = Instant::now();
                let resp = handle(&ctx, req).await.unwrap();
                alone.push(t.elapsed());
                std::hint::black_box(resp);
                let t = Instant::now();
                let req: HttpRequest = serde_json::from_slice(raw).unwrap();
                let resp = handle(&ctx, &req).await.unwrap();
                with_parse.push(t.elapsed());
                std::hint::black_box(resp);
            }
        }
        alone.sort();
        with_parse.sort();
        println!(
            "webhook handler in process, {} payloads x {rounds}, AWS stubbed: p50 {:.1} µs, p99 {:.1} µs (targets 10 / 60)",
            parsed.len(),
            percentile(&alone, 0.5).as_secs_f64() * 1e6,
            percentile(&alone, 0.99).as_secs_f64() * 1e6,
        );
        println!(
            "webhook handler with the event's JSON parse: p50 {:.1} µs, p99 {:.1} µs",
            percentile(&with_parse, 0.5).as_secs_f64() * 1e6,
            percentile(&with_parse, 0.99).as_secs_f64() * 1e6,
        );
    });
}

fn hundred_jobs(rt: &tokio::runtime::Runtime) {
    let Ok(moto) = std::env::var("FLOTILLA_MOTO_URL") else {
        println!("100 jobs → 100 instances SKIPPED: FLOTILLA_MOTO_URL is not set (run lambdas/tests/run.sh's moto)");
        return;
    };
    rt.block_on(async {
        let w = support::World::new(
            "bench",
            &moto,
            serde_json::json!({"enable_ephemeral_runners": true, "enable_organization_runners": true, "runners_maximum_count": 100}),
        )
        .await;
        let scale_up = w.ctx(Function::ScaleUp);
        for i in 0..100u64 {
            let body = serde_json::json!({
                "job_id": 1_000_000 + i, "run_id": 5, "run_attempt": 1,
                "repo": {"owner": support::ORG, "name": "widgets", "owner_type": "Organization"},
                "installation_id": w.installation_id,
                "labels": ["self-hosted", "linux"],
            });
            w.direct.sqs.send_message().queue_url(&w.queue_url).message_body(body.to_string()).send().await.unwrap();
        }
        let t = Instant::now();
        let mut invocations = 0;
        while w.live_instances().await.len() < 100 && t.elapsed() < Duration::from_secs(120) {
            let msgs = w.receive(10).await;
            if msgs.is_empty() {
                continue;
            }
            invocations += 1;
            w.scale_up(&scale_up, msgs).await;
        }
        let n = w.live_instances().await.len();
        println!(
            "100 queued jobs (delay 0) → {n} instances requested in moto in {:.2} s ({invocations} scale-up invocations of 10, one at a time; target 10 s)",
            t.elapsed().as_secs_f64()
        );
    });
}

fn bootstrap_ready(rt: &tokio::runtime::Runtime) {
    let Ok(moto) = std::env::var("FLOTILLA_MOTO_URL") else {
        println!("bootstrap start to handler ready SKIPPED: FLOTILLA_MOTO_URL is not set");
        return;
    };
    rt.block_on(async {
        let w = support::World::new("benchboot", &moto, serde_json::json!({})).await;
        let body = br#"{"zen":"Design for failure.","hook_id":1}"#;
        let mut times = Vec::new();
        for _ in 0..7 {
            let sig = flotilla_core::webhook::sign(support::WEBHOOK_SECRET.as_bytes(), body);
            let event = serde_json::json!({
                "headers": {"content-type": "application/json", "x-github-event": "ping", "x-hub-signature-256": sig},
                "requestContext": {"requestId": "r"},
                "body": String::from_utf8_lossy(body),
                "isBase64Encoded": false,
            });
            let api = support::runtime_api::RuntimeApi::start(serde_json::to_vec(&event).unwrap()).await;
            let env = support::runtime_api::bootstrap_env(&w, "webhook", &api.addr);
            let (answer, ready, logs) =
                support::runtime_api::run_bootstrap(env!("CARGO_BIN_EXE_webhook"), env, &api).await;
            assert_eq!(answer.map(|a| a["statusCode"].clone()), Ok(200.into()), "{logs}");
            times.push(ready);
        }
        times.sort();
        println!(
            "bootstrap (release webhook) start to handler ready: median {:.1} ms, min {:.1} ms over {} starts (target 30)",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            times.len()
        );
    });
}

fn zip_sizes() {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist");
    let mut any = false;
    for arch in ["x86_64", "arm64"] {
        for zip in ["webhook.zip", "runners.zip", "runner-binaries-syncer.zip"] {
            if let Ok(m) = std::fs::metadata(dist.join(arch).join(zip)) {
                any = true;
                println!("zip {arch}/{zip}: {:.2} MB", m.len() as f64 / 1e6);
            }
        }
    }
    if !any {
        println!("zip sizes SKIPPED: run lambdas/package.sh first");
    }
}

fn main() {
    flotilla_lambdas::runtime::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        // `cargo test --benches` runs this as a test: nothing to measure there.
        return;
    }
    webhook_bench(&rt);
    hundred_jobs(&rt);
    bootstrap_ready(&rt);
    zip_sizes();
}
