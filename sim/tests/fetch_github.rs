//! `flotilla trace fetch` against flotilla-testkit's fake GitHub (strict: every answer validated
//! against GitHub's OpenAPI description), through the real binary: pagination of runs and jobs,
//! windows over 1,000 runs, rate limits with retry-after, rate limits beyond the wait budget,
//! interrupted fetches resumed without duplicates, bad credentials, GitHub Apps and a GHES base
//! URL (`/api/v3`). Loopback only.
#![cfg(feature = "fetch")]

mod common;
use common::{text, Scratch};

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use flotilla_core::Timestamp;
use flotilla_sim::trace::{load_trace, TraceFormat};
use flotilla_testkit::*;

const TOKEN: &str = "ghp_fetchtest0000000000000000000000000";
const LOGIN: &str = "octo";
const REPO: &str = "acme/widgets";
const LABELS: &[&str] = &["self-hosted", "linux", "x64"];

fn scratch(name: &str) -> Scratch {
    common::scratch("fetch", name)
}

async fn fake() -> FakeGitHubHandle {
    let gh = FakeGitHub::start(FakeGitHubOptions::strict())
        .await
        .unwrap();
    gh.add_repo("acme", "widgets");
    gh.add_personal_token(TOKEN, LOGIN);
    gh
}

/// `n` runs of `jobs` completed jobs each, one every `step_s` seconds from `start`.
fn seed_runs(gh: &FakeGitHubHandle, repo: &str, start: &str, step_s: i64, n: usize, jobs: usize) {
    let t0 = Timestamp::parse_rfc3339(start).unwrap().millis() / 1000;
    let at = |s: i64| Timestamp::from_secs(s).to_rfc3339();
    for i in 0..n {
        let created = t0 + i as i64 * step_s;
        let jobs = (0..jobs)
            .map(|k| {
                let mut j = JobSpec::completed(
                    &format!("job {k}"),
                    LABELS,
                    if k % 7 == 3 { "failure" } else { "success" },
                    &at(created + 20 + k as i64),
                    &at(created + 320 + k as i64),
                );
                j.runner_name = Some(format!("runner-{k}"));
                j.runner_id = Some(1 + k as u64);
                j
            })
            .collect();
        gh.add_run(&RunSpec::new(repo, jobs).created_at(&at(created)))
            .unwrap();
    }
}

fn seeded_job_ids(gh: &FakeGitHubHandle) -> BTreeSet<u64> {
    gh.jobs().iter().map(|j| j.id).collect()
}

async fn flotilla(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args(args)
        .env_remove("GITHUB_TOKEN")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

async fn fetch(gh: &FakeGitHubHandle, out: &Path, extra: &[&str]) -> Output {
    let url = gh.base_url();
    let out = out.display().to_string();
    let mut args = vec![
        "trace",
        "fetch",
        "--repo",
        REPO,
        "--since",
        "2025-09-01",
        "--until",
        "2025-09-30",
        "--api-url",
        &url,
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    flotilla(&args, &[("GITHUB_TOKEN", TOKEN)]).await
}

/// The output's job ids, asserting they are unique and the file is canonical JSONL.
fn output_ids(out: &Path) -> Vec<u64> {
    let load = load_trace(out).unwrap();
    assert_eq!(load.format, TraceFormat::CanonicalJsonl);
    let text = std::fs::read_to_string(out).unwrap();
    let ids: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["job_id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "job ids repeat in {}",
        out.display()
    );
    assert_eq!(load.jobs.len(), ids.len());
    ids
}

fn count(gh: &FakeGitHubHandle, route: &str) -> usize {
    gh.requests().iter().filter(|r| r.route == route).count()
}

const RUNS: &str = "/repos/{owner}/{repo}/actions/runs";
const JOBS: &str = "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs";

fn assert_success(o: &Output) {
    let (out, err) = text(o);
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{out}\nstderr:\n{err}",
        o.status
    );
}

fn assert_failure(o: &Output) -> String {
    let (out, err) = text(o);
    assert!(
        !o.status.success(),
        "expected a failure\nstdout:\n{out}\nstderr:\n{err}"
    );
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_and_jobs_are_paginated() {
    let gh = fake().await;
    // 230 runs → 3 pages of runs; one run with 150 jobs → 2 pages of jobs.
    seed_runs(&gh, REPO, "2025-09-02T08:00:00Z", 600, 230, 2);
    seed_runs(&gh, REPO, "2025-09-10T08:00:00Z", 60, 1, 150);
    let dir = scratch("paginate");
    let out = dir.join("trace.jsonl");
    let o = fetch(&gh, &out, &[]).await;
    assert_success(&o);
    let ids = output_ids(&out);
    assert_eq!(ids.len(), 230 * 2 + 150);
    assert_eq!(
        ids.iter().copied().collect::<BTreeSet<_>>(),
        seeded_job_ids(&gh)
    );
    assert_eq!(count(&gh, RUNS), 3, "231 runs at 100 per page");
    assert_eq!(
        count(&gh, JOBS),
        231 + 1,
        "one page per run, two for the big run"
    );
    // Every request carried the token (no absolute Link URL followed without credentials).
    assert!(
        gh.requests().iter().all(|r| r.status == 200),
        "{:?}",
        gh.requests().iter().find(|r| r.status != 200)
    );
    assert!(gh
        .requests()
        .iter()
        .all(|r| r.identity.as_deref() == Some("user:octo")));
    // The checkpoint files are gone, the fields are those of the REST jobs.
    assert!(!dir.join("trace.jsonl.partial").exists());
    assert!(!dir.join("trace.jsonl.checkpoint").exists());
    let load = load_trace(&out).unwrap();
    let big = gh
        .jobs()
        .into_iter()
        .filter(|j| j.name == "job 149")
        .max_by_key(|j| j.id)
        .unwrap();
    let j = load.jobs.iter().find(|j| j.job_id == big.id).unwrap();
    assert_eq!(&*j.repo, REPO);
    assert_eq!(&*j.workflow, "CI");
    assert_eq!(&*j.name, "job 149");
    assert_eq!(&j.labels[..], LABELS);
    assert_eq!(j.run_attempt, 1);
    assert_eq!(j.queued_at.to_rfc3339(), "2025-09-10T08:00:00Z");
    assert_eq!(j.started_at.unwrap().to_rfc3339(), "2025-09-10T08:02:49Z");
    assert_eq!(j.completed_at.unwrap().to_rfc3339(), "2025-09-10T08:07:49Z");
    assert_eq!(j.conclusion.as_deref(), Some("success"));
    let (stdout, _) = text(&o);
    assert!(stdout.contains("wrote 610 jobs"), "{stdout}");
    gh.assert_no_validation_failures();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_over_1000_runs_is_split() {
    let gh = fake().await;
    // 1,100 runs inside the window, and runs just outside it on both sides.
    seed_runs(&gh, REPO, "2025-09-05T00:00:00Z", 60, 1_100, 1);
    seed_runs(&gh, REPO, "2025-08-31T23:59:00Z", 10, 5, 1);
    seed_runs(&gh, REPO, "2025-10-01T00:00:00Z", 10, 5, 1);
    let dir = scratch("split");
    let out = dir.join("trace.jsonl");
    let o = fetch(&gh, &out, &[]).await;
    assert_success(&o);
    let (_, err) = text(&o);
    assert!(err.contains("at most 1000 per query: splitting"), "{err}");
    let ids = output_ids(&out);
    assert_eq!(ids.len(), 1_100);
    let load = load_trace(&out).unwrap();
    let first = load.jobs.iter().map(|j| j.queued_at).min().unwrap();
    let last = load.jobs.iter().map(|j| j.queued_at).max().unwrap();
    assert_eq!(first.to_rfc3339(), "2025-09-05T00:00:00Z");
    assert_eq!(
        last.to_rfc3339(),
        "2025-09-05T18:19:00Z",
        "1,099 minutes later"
    );
    gh.assert_no_validation_failures();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_with_retry_after_are_waited_out() {
    let gh = fake().await;
    seed_runs(&gh, REPO, "2025-09-03T10:00:00Z", 300, 12, 3);
    // A 429 on the runs list, a secondary-limit 403 on a jobs page, both with retry-after.
    gh.inject_fault(
        FaultSpec::new("GET", RUNS)
            .status(429)
            .retry_after(1)
            .times(2),
    );
    gh.inject_fault(
        FaultSpec::new("GET", JOBS)
            .status(403)
            .retry_after(1)
            .times(1),
    );
    let dir = scratch("retry-after");
    let out = dir.join("trace.jsonl");
    let o = fetch(&gh, &out, &[]).await;
    assert_success(&o);
    let (stdout, err) = text(&o);
    assert_eq!(
        err.matches("retry-after 1 s; waiting 1 s").count(),
        3,
        "{err}"
    );
    assert!(err.contains("HTTP 429"), "{err}");
    assert!(err.contains("HTTP 403"), "{err}");
    assert!(stdout.contains("3 retries, 3 s waited"), "{stdout}");
    assert_eq!(output_ids(&out).len(), 36);
    let faulted: Vec<u16> = gh
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .map(|r| r.status)
        .collect();
    assert_eq!(faulted, vec![429, 429, 403]);
    // A secondary limit from the fake's own accounting (window of 2 s, retry-after 1 s).
    gh.set_secondary_limit(Some(SecondaryLimit {
        max_requests: 5,
        window_secs: 2,
        retry_after_secs: 1,
        status: 403,
    }));
    let out2 = dir.join("trace2.jsonl");
    let o = fetch(&gh, &out2, &["--max-wait", "120"]).await;
    assert_success(&o);
    let (_, err) = text(&o);
    assert!(err.contains("retry-after 1 s; waiting 1 s"), "{err}");
    assert_eq!(output_ids(&out2).len(), 36);
    assert!(gh.requests().iter().any(|r| r.rate_limited));
    gh.assert_no_validation_failures();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_beyond_the_budget_stop_the_fetch_and_retry_counts_are_bounded() {
    let gh = fake().await;
    seed_runs(&gh, REPO, "2025-09-03T10:00:00Z", 300, 4, 1);
    let dir = scratch("budget");
    let out = dir.join("trace.jsonl");
    gh.inject_fault(
        FaultSpec::new("GET", RUNS)
            .status(429)
            .retry_after(120)
            .times(1),
    );
    let o = fetch(&gh, &out, &["--max-wait", "5"]).await;
    let err = assert_failure(&o);
    assert!(
        err.contains("GitHub asks to wait 120 s, more than the 5 s left of the --max-wait budget"),
        "{err}"
    );
    assert!(
        err.contains("run the same command again to resume"),
        "{err}"
    );
    assert!(!out.exists());
    // Attempts are bounded too: a 429 every time, retry-after 1 s, two retries allowed.
    gh.clear_faults();
    gh.inject_fault(FaultSpec::new("GET", RUNS).status(429).retry_after(1));
    let o = fetch(&gh, &out, &["--max-retries", "2"]).await;
    let err = assert_failure(&o);
    assert!(
        err.contains("gave up after 2 retries (--max-retries 2)"),
        "{err}"
    );
    assert_eq!(
        gh.requests().iter().filter(|r| r.fault.is_some()).count(),
        1 + 3,
        "one request in the first fetch, three (1 + 2 retries) in the second"
    );
    gh.clear_faults();
    let o = fetch(&gh, &out, &[]).await;
    assert_success(&o);
    assert_eq!(output_ids(&out).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_stopped_by_the_primary_rate_limit_resumes_without_duplicates() {
    let gh = fake().await;
    seed_runs(&gh, REPO, "2025-09-04T09:00:00Z", 900, 40, 3);
    let seeded = seeded_job_ids(&gh);
    // 15 requests: the runs page and 14 runs' jobs; then 403 with x-ratelimit-remaining 0 and a
    // reset an hour away, beyond the wait budget.
    gh.set_rate_limit(Some("user:octo"), 15);
    let dir = scratch("primary");
    let out = dir.join("trace.jsonl");
    let o = fetch(&gh, &out, &["--max-wait", "30"]).await;
    let err = assert_failure(&o);
    assert!(err.contains("rate limit exhausted, resets at"), "{err}");
    assert!(
        err.contains("run the same command again to resume"),
        "{err}"
    );
    assert!(!out.exists(), "no output before the fetch completes");
    let checkpoint = std::fs::read_to_string(dir.join("trace.jsonl.checkpoint")).unwrap();
    assert_eq!(
        checkpoint.lines().count(),
        1 + 14,
        "header and 14 runs:\n{checkpoint}"
    );
    let partial = std::fs::read_to_string(dir.join("trace.jsonl.partial")).unwrap();
    assert_eq!(partial.lines().count(), 14 * 3);

    // Later: the budget is back.
    gh.set_rate_limit(Some("user:octo"), 5000);
    gh.reset_stats();
    let o = fetch(&gh, &out, &[]).await;
    assert_success(&o);
    let (stdout, err) = text(&o);
    assert!(err.contains("resuming the fetch"), "{err}");
    assert!(stdout.contains("26 fetched, 14 already done"), "{stdout}");
    assert_eq!(
        count(&gh, JOBS),
        26,
        "the 14 finished runs are not fetched again"
    );
    let ids = output_ids(&out);
    assert_eq!(ids.len(), seeded.len());
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), seeded);
    assert!(!dir.join("trace.jsonl.checkpoint").exists());
    gh.assert_no_validation_failures();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_interrupted_by_server_errors_and_a_torn_write_resumes_without_duplicates() {
    let gh = fake().await;
    seed_runs(&gh, REPO, "2025-09-04T09:00:00Z", 900, 20, 4);
    let seeded = seeded_job_ids(&gh);
    let mut run_ids: Vec<u64> = gh.jobs().iter().map(|j| j.run_id).collect();
    run_ids.sort();
    run_ids.dedup();
    // The 11th run's jobs answer 502 until the fault is removed.
    let bad = run_ids[10];
    gh.inject_fault(
        FaultSpec::new(
            "GET",
            &format!("/repos/acme/widgets/actions/runs/{bad}/jobs"),
        )
        .status(502),
    );
    let dir = scratch("interrupted");
    let out = dir.join("trace.jsonl");
    let o = fetch(&gh, &out, &["--max-retries", "2"]).await;
    let err = assert_failure(&o);
    assert!(err.contains("HTTP 502"), "{err}");
    assert!(err.contains("gave up after 2 retries"), "{err}");
    let partial = dir.join("trace.jsonl.partial");
    assert_eq!(
        std::fs::read_to_string(&partial).unwrap().lines().count(),
        10 * 4
    );
    // A crash in the middle of a write leaves a torn line, and a run's jobs written without its
    // checkpoint line: both are handled on resume.
    let mut lines: Vec<String> = std::fs::read_to_string(&partial)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let last_run: Vec<String> = lines[lines.len() - 4..].to_vec();
    let cp = dir.join("trace.jsonl.checkpoint");
    let mut cp_lines: Vec<String> = std::fs::read_to_string(&cp)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    cp_lines.pop();
    std::fs::write(&cp, cp_lines.join("\n") + "\n").unwrap();
    lines.extend(last_run);
    std::fs::write(&partial, lines.join("\n") + "\n{\"job_id\": 12, \"run_id\"").unwrap();

    gh.clear_faults();
    gh.reset_stats();
    let o = fetch(&gh, &out, &[]).await;
    assert_success(&o);
    let (stdout, _) = text(&o);
    assert!(stdout.contains("11 fetched, 9 already done"), "{stdout}");
    assert_eq!(count(&gh, JOBS), 11);
    let ids = output_ids(&out);
    assert_eq!(ids.len(), seeded.len(), "each seeded job once");
    assert_eq!(ids.into_iter().collect::<BTreeSet<_>>(), seeded);
    gh.assert_no_validation_failures();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_trace_is_extended_and_another_query_is_refused() {
    let gh = fake().await;
    seed_runs(&gh, REPO, "2025-09-01T12:00:00Z", 3_600, 30, 2);
    let dir = scratch("extend");
    let out = dir.join("trace.jsonl");
    let url = gh.base_url();
    let out_s = out.display().to_string();
    let day = |since: &'static str, until: &'static str| {
        vec![
            "trace",
            "fetch",
            "--repo",
            REPO,
            "--since",
            since,
            "--until",
            until,
            "--api-url",
            url.as_str(),
            "--out",
            out_s.as_str(),
        ]
    };
    let o = flotilla(&day("2025-09-01", "2025-09-01"), &[("GITHUB_TOKEN", TOKEN)]).await;
    assert_success(&o);
    assert_eq!(
        output_ids(&out).len(),
        12 * 2,
        "12:00..23:00 on the first day"
    );
    gh.reset_stats();
    let o = flotilla(&day("2025-09-01", "2025-09-02"), &[("GITHUB_TOKEN", TOKEN)]).await;
    assert_success(&o);
    assert_eq!(
        count(&gh, JOBS),
        18,
        "the first day's runs are in the file already"
    );
    assert_eq!(output_ids(&out).len(), 30 * 2);

    // Leftover work of another query: refused with a way out, nothing touched.
    let header = r#"{"flotilla_trace_fetch":1,"target":"repo:acme/other","api_url":"http://127.0.0.1:1","since":"2025-09-01T00:00:00Z","until":"2025-09-02T00:00:00Z","until_given":true}"#;
    let checkpoint = dir.join("trace.jsonl.checkpoint");
    std::fs::write(&checkpoint, format!("{header}\n12345\n")).unwrap();
    let partial = dir.join("trace.jsonl.partial");
    let job = r#"{"job_id":1,"run_id":12345,"queued_at":"2025-09-01T00:00:00Z"}"#;
    std::fs::write(&partial, format!("{job}\n")).unwrap();
    let before = std::fs::read(&out).unwrap();
    let o = flotilla(&day("2025-09-01", "2025-09-02"), &[("GITHUB_TOKEN", TOKEN)]).await;
    let err = assert_failure(&o);
    assert!(
        err.contains("belongs to an unfinished fetch of another query"),
        "{err}"
    );
    assert!(err.contains("delete"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert_eq!(
        std::fs::read_to_string(&partial).unwrap(),
        format!("{job}\n")
    );
    // A checkpoint of another query that saved nothing (it failed at once) is replaced.
    std::fs::remove_file(&partial).unwrap();
    std::fs::write(&checkpoint, format!("{header}\n")).unwrap();
    let o = flotilla(&day("2025-09-01", "2025-09-02"), &[("GITHUB_TOKEN", TOKEN)]).await;
    assert_success(&o);
    let (_, err) = text(&o);
    assert!(err.contains("starting over"), "{err}");
    assert_eq!(output_ids(&out).len(), 30 * 2);
    assert!(!checkpoint.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_fail_with_a_clear_message() {
    let gh = fake().await;
    seed_runs(&gh, REPO, "2025-09-03T10:00:00Z", 300, 2, 1);
    let dir = scratch("badcreds");
    let out = dir.join("trace.jsonl");
    let url = gh.base_url();
    let out_s = out.display().to_string();
    let base = [
        "trace",
        "fetch",
        "--repo",
        REPO,
        "--since",
        "2025-09-01",
        "--api-url",
        url.as_str(),
        "--out",
        out_s.as_str(),
    ];

    // A wrong token.
    let mut args = base.to_vec();
    args.extend(["--token-env", "GH_TEST_TOKEN"]);
    let o = flotilla(&args, &[("GH_TEST_TOKEN", "ghp_wrong")]).await;
    let err = assert_failure(&o);
    assert!(
        err.contains("GitHub rejected the credentials (HTTP 401: Bad credentials)"),
        "{err}"
    );
    assert!(err.contains("$GH_TEST_TOKEN"), "{err}");
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
    // Nothing was saved, so nothing is left to resume.
    assert!(!dir.join("trace.jsonl.checkpoint").exists());
    assert!(!dir.join("trace.jsonl.partial").exists());

    // No token at all.
    let o = flotilla(&base, &[]).await;
    let err = assert_failure(&o);
    assert!(
        err.contains("no GitHub credentials: $GITHUB_TOKEN is not set"),
        "{err}"
    );

    // A GitHub App whose key is not the registered one.
    let app = gh.add_test_app("flotilla");
    gh.install_app(app.app_id, "acme");
    let other = generate_rsa_key_pair();
    let key = dir.join("wrong.pem");
    std::fs::write(&key, other.private_pem).unwrap();
    let id = app.app_id.to_string();
    let key_s = key.display().to_string();
    let mut args = base.to_vec();
    args.extend(["--app-id", id.as_str(), "--app-key", key_s.as_str()]);
    let o = flotilla(&args, &[]).await;
    let err = assert_failure(&o);
    assert!(
        err.contains("GitHub rejected the credentials (HTTP 401"),
        "{err}"
    );
    assert!(err.contains("--app-key"), "{err}");

    // A key file that is not a key.
    std::fs::write(&key, "not a key").unwrap();
    let o = flotilla(&args, &[]).await;
    let err = assert_failure(&o);
    assert!(err.contains("--app-key is not an RSA private key"), "{err}");

    // Nothing listening at --api-url.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let closed_url = format!("http://127.0.0.1:{closed}");
    let args = [
        "trace",
        "fetch",
        "--repo",
        REPO,
        "--since",
        "2025-09-01",
        "--api-url",
        &closed_url,
        "--out",
        out_s.as_str(),
    ];
    let o = flotilla(&args, &[("GITHUB_TOKEN", TOKEN)]).await;
    let err = assert_failure(&o);
    assert!(
        err.contains(&format!("cannot reach GitHub at {closed_url}")),
        "{err}"
    );
    gh.assert_no_validation_failures();
}

/// A GitHub Enterprise Server stand-in: serves the fake under `/api/v3`, 404 elsewhere, and
/// records the paths asked.
async fn ghes_proxy(upstream: String) -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let upstream = upstream.clone();
        let seen = seen2.clone();
        async move {
            let pq = uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
                .to_string();
            seen.lock().unwrap().push(pq.clone());
            let Some(rest) = pq.strip_prefix("/api/v3") else {
                return (StatusCode::NOT_FOUND, "not under /api/v3").into_response();
            };
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let hdrs: Vec<(&str, &str)> = if auth.is_empty() {
                vec![]
            } else {
                vec![("authorization", auth.as_str())]
            };
            let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            let reply = client::request(
                method.as_str(),
                &format!("{upstream}{rest}"),
                &hdrs,
                json.as_ref(),
            )
            .await
            .unwrap();
            let mut resp = (
                StatusCode::from_u16(reply.status).unwrap(),
                reply.text.clone(),
            )
                .into_response();
            for (k, v) in &reply.headers {
                if k.starts_with("x-") || k == "content-type" || k == "retry-after" {
                    resp.headers_mut().insert(
                        axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        v.parse().unwrap(),
                    );
                }
            }
            resp
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/api/v3"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_app_on_an_org_through_a_ghes_base_url() {
    let gh = fake().await;
    gh.add_repo("acme", "gadgets");
    gh.add_repo("other", "elsewhere");
    let app = gh.add_test_app("flotilla");
    let installation = gh.install_app(app.app_id, "acme");
    seed_runs(&gh, "acme/widgets", "2025-09-03T10:00:00Z", 300, 5, 2);
    seed_runs(&gh, "acme/gadgets", "2025-09-04T10:00:00Z", 300, 3, 3);
    seed_runs(&gh, "other/elsewhere", "2025-09-04T10:00:00Z", 300, 3, 3);
    let (api_url, seen) = ghes_proxy(gh.base_url()).await;
    let dir = scratch("ghes");
    let key = dir.join("app.pem");
    std::fs::write(&key, &app.private_key_pem).unwrap();
    let out = dir.join("org.jsonl");
    let (id, key_s, out_s) = (
        app.app_id.to_string(),
        key.display().to_string(),
        out.display().to_string(),
    );
    let o = flotilla(
        &[
            "trace",
            "fetch",
            "--org",
            "acme",
            "--since",
            "2025-09-01",
            "--until",
            "2025-09-30T23:59:59Z",
            "--api-url",
            &api_url,
            "--app-id",
            &id,
            "--app-key",
            &key_s,
            "--out",
            &out_s,
        ],
        &[],
    )
    .await;
    assert_success(&o);
    let (stdout, err) = text(&o);
    assert!(
        err.contains(&format!("installation {installation}")),
        "{err}"
    );
    assert!(stdout.contains("2 repositories"), "{stdout}");
    let load = load_trace(&out).unwrap();
    assert_eq!(load.jobs.len(), 5 * 2 + 3 * 3);
    let repos: BTreeSet<&str> = load.jobs.iter().map(|j| &*j.repo).collect();
    assert_eq!(repos, BTreeSet::from(["acme/gadgets", "acme/widgets"]));
    // Every request went through /api/v3 and was authenticated (JWT, then the installation).
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|p| p.starts_with("/api/v3/")), "{seen:?}");
    assert!(seen
        .iter()
        .any(|p| p.starts_with("/api/v3/orgs/acme/installation")));
    assert!(seen.iter().any(|p| p.contains("/access_tokens")));
    let ids: BTreeSet<Option<String>> = gh.requests().iter().map(|r| r.identity.clone()).collect();
    assert!(!ids.contains(&None), "{ids:?}");
    assert!(gh.requests().iter().all(|r| r.status < 300));
    gh.assert_no_validation_failures();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_without_until_keeps_the_window_of_the_first_start() {
    let gh = fake().await;
    seed_runs(&gh, REPO, "2025-09-03T10:00:00Z", 300, 6, 2);
    let mut run_ids: Vec<u64> = gh.jobs().iter().map(|j| j.run_id).collect();
    run_ids.sort();
    run_ids.dedup();
    gh.inject_fault(
        FaultSpec::new(
            "GET",
            &format!("/repos/acme/widgets/actions/runs/{}/jobs", run_ids[3]),
        )
        .status(500),
    );
    let dir = scratch("no-until");
    let out = dir.join("trace.jsonl");
    let (url, out_s) = (gh.base_url(), out.display().to_string());
    let args = [
        "trace",
        "fetch",
        "--repo",
        REPO,
        "--since",
        "2025-09-01",
        "--api-url",
        &url,
        "--out",
        &out_s,
        "--max-retries",
        "0",
    ];
    let err = assert_failure(&flotilla(&args, &[("GITHUB_TOKEN", TOKEN)]).await);
    assert!(err.contains("gave up after 0 retries"), "{err}");
    let header = std::fs::read_to_string(dir.join("trace.jsonl.checkpoint")).unwrap();
    assert!(header.contains("\"until_given\":false"), "{header}");
    // A second later "now" has moved on; the resume keeps the first start's end of window.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    gh.clear_faults();
    let o = flotilla(&args, &[("GITHUB_TOKEN", TOKEN)]).await;
    assert_success(&o);
    let (stdout, err) = text(&o);
    assert!(err.contains("resuming the fetch"), "{err}");
    assert!(stdout.contains("3 fetched, 3 already done"), "{stdout}");
    assert_eq!(output_ids(&out).len(), 12);
    gh.assert_no_validation_failures();
}
