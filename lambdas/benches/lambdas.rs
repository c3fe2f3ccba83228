//! Numbers for the closing note (printed, never asserted):
//! - the webhook handler in process over every payload of `../shared/data/webhooks/`, AWS
//!   stubbed: p50/p99 of the handler alone, with the event's JSON parse, and with the production
//!   JSON log subscriber formatting each line (to `io::sink`), and alone on the same payloads
//!   compacted (the files are pretty-printed, GitHub's deliveries are not);
//! - with `FLOTILLA_MOTO_URL` (lambdas/tests/run.sh's moto, or any): 100 queued jobs, delay 0 →
//!   100 instances requested in moto through scale-up (batches of 10, one invocation at a time,
//!   as the default reserved concurrency of 1 runs them);
//! - zip sizes, when `lambdas/package.sh` has built them.
//!
//! `cargo bench -p flotilla-lambdas --bench lambdas` (`FLOTILLA_BENCH_PER_PAYLOAD=1`: each
//! payload's median too; `FLOTILLA_BENCH_ONLY=<part of a file name>`: those payloads only)

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
    let mut compact: Vec<HttpRequest> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let only = std::env::var("FLOTILLA_BENCH_ONLY").unwrap_or_default();
        if !name.ends_with(".json") || !name.contains(&only) {
            continue;
        }
        names.push(name.clone());
        let body = std::fs::read(&path).unwrap();
        let event = name.split('.').next().unwrap();
        let api_gateway = |body: &[u8]| {
            serde_json::json!({
                "version": "2.0", "routeKey": "POST /webhook", "rawPath": "/webhook",
                "headers": {"content-type": "application/json", "x-github-event": event,
                            "x-github-delivery": "d", "x-hub-signature-256": flotilla_core::webhook::sign(SECRET.as_bytes(), body)},
                "requestContext": {"requestId": "r", "http": {"method": "POST"}},
                "body": base64::engine::general_purpose::STANDARD.encode(body),
                "isBase64Encoded": true,
            })
        };
        events.push(serde_json::to_vec(&api_gateway(&body)).unwrap());
        // The files are pretty-printed; GitHub sends compact JSON (no whitespace, no newline).
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let compact_body = serde_json::to_vec(&value).unwrap();
        compact.push(serde_json::from_value(api_gateway(&compact_body)).unwrap());
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
        let mut compact_alone = Vec::with_capacity(rounds * compact.len());
        for _ in 0..rounds {
            for req in &compact {
                let t = Instant::now();
                let resp = handle(&ctx, req).await.unwrap();
                compact_alone.push(t.elapsed());
                std::hint::black_box(resp);
            }
        }
        // As deployed, every answer also formats its JSON log line (`logging::subscriber`, the
        // one `runtime` installs); here the line goes to `io::sink` instead of stdout, so the
        // write to Lambda's log pipe (one `write` per line) is the only part left out. Last:
        // once a subscriber was set, tracing's callsites stay enabled.
        let mut with_logs = Vec::with_capacity(rounds * parsed.len());
        {
            let _logs = tracing::subscriber::set_default(flotilla_lambdas::logging::subscriber(
                "info",
                std::io::sink,
            ));
            for r in &parsed {
                handle(&ctx, r).await.unwrap();
            }
            for _ in 0..rounds {
                for req in &parsed {
                    let t = Instant::now();
                    let resp = handle(&ctx, req).await.unwrap();
                    with_logs.push(t.elapsed());
                    std::hint::black_box(resp);
                }
            }
        }
        if std::env::var_os("FLOTILLA_BENCH_PER_PAYLOAD").is_some() {
            // The handler alone, per payload: its median over the rounds.
            for (i, name) in names.iter().enumerate() {
                let mut mine: Vec<Duration> =
                    alone.iter().skip(i).step_by(names.len()).copied().collect();
                mine.sort();
                println!(
                    "  {name:48} {:>6} B  p50 {:6.1} µs",
                    std::fs::metadata(dir.join(name))
                        .map(|m| m.len())
                        .unwrap_or(0),
                    percentile(&mine, 0.5).as_secs_f64() * 1e6
                );
            }
        }
        alone.sort();
        with_parse.sort();
        with_logs.sort();
        compact_alone.sort();
        let us = |v: &[Duration], p: f64| percentile(v, p).as_secs_f64() * 1e6;
        let n = parsed.len();
        let lines: [(String, &[Duration]); 4] = [
            (
                format!("webhook handler in process, {n} payloads x {rounds}, AWS stubbed"),
                &alone,
            ),
            (
                "webhook handler with the event's JSON parse".into(),
                &with_parse,
            ),
            (
                "webhook handler with its JSON log line formatted (to io::sink)".into(),
                &with_logs,
            ),
            (
                "webhook handler alone, the same payloads compact as GitHub sends them".into(),
                &compact_alone,
            ),
        ];
        for (label, samples) in lines {
            println!(
                "{label}: p50 {:.1} µs, p99 {:.1} µs (targets 10 / 60)",
                us(samples, 0.5),
                us(samples, 0.99),
            );
        }
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
