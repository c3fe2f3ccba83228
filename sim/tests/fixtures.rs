//! Every fixture under `sim/fixtures/` parses to exactly the values it was written with.

use std::path::PathBuf;

use flotilla_core::Timestamp;
use flotilla_sim::prices::{AlignmentKind, PriceBook, PriceFormat, PriceOs};
use flotilla_sim::trace::{
    load_trace, parse_canonical_csv, to_canonical_csv, TraceFormat, TraceJob, TraceLoad,
};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn ots(s: &str) -> Option<Timestamp> {
    Some(ts(s))
}

fn job(load: &TraceLoad, id: u64) -> &TraceJob {
    load.jobs.iter().find(|j| j.job_id == id).unwrap()
}

fn ids(load: &TraceLoad) -> Vec<u64> {
    load.jobs.iter().map(|j| j.job_id).collect()
}

#[test]
fn canonical_jsonl() {
    let load = load_trace(fixture("traces/canonical.jsonl")).unwrap();
    assert_eq!(load.format, TraceFormat::CanonicalJsonl);
    assert_eq!(ids(&load), [101, 102, 103]);
    let j = job(&load, 101);
    assert_eq!((j.run_id, j.run_attempt), (11, 1));
    assert_eq!(
        (&*j.repo, &*j.workflow, &*j.name),
        ("acme/widgets", "CI", "build")
    );
    assert_eq!(j.labels[..], ["self-hosted", "linux", "x64"]);
    assert_eq!(j.queued_at, ts("2025-03-03T09:00:00Z"));
    assert_eq!(j.started_at, ots("2025-03-03T09:00:40Z"));
    assert_eq!(j.completed_at, ots("2025-03-03T09:12:10Z"));
    assert_eq!(j.conclusion.as_deref(), Some("success"));
    assert_eq!(j.duration_ms(), Some(690_000));
    assert_eq!(j.recorded_wait_ms(), Some(40_000));
    // Negative duration clamped; run_attempt defaults to 1.
    let j = job(&load, 102);
    assert_eq!(j.run_attempt, 1);
    assert_eq!(j.completed_at, ots("2025-03-03T09:13:00Z"));
    assert_eq!(j.duration_ms(), Some(0));
    assert_eq!(j.labels[..], ["self-hosted", "linux", "arm64"]);
    // Quoted id, offset time, never started.
    let j = job(&load, 103);
    assert_eq!((j.run_id, j.run_attempt), (12, 2));
    assert_eq!(j.queued_at, ts("2025-03-03T09:30:00Z"));
    assert_eq!(
        (j.started_at, j.completed_at, j.conclusion.clone()),
        (None, None, None)
    );
    assert_eq!(j.labels.len(), 4);
    let s = &load.stats;
    assert_eq!(
        (s.rows_read, s.jobs, s.negative_durations_clamped),
        (3, 3, 1)
    );
    assert_eq!(
        (s.missing_started, s.missing_completed, s.skipped_total()),
        (1, 1, 0)
    );
}

#[test]
fn canonical_csv_equals_canonical_jsonl_and_round_trips() {
    let csv = load_trace(fixture("traces/canonical.csv")).unwrap();
    let jsonl = load_trace(fixture("traces/canonical.jsonl")).unwrap();
    assert_eq!(csv.format, TraceFormat::CanonicalCsv);
    assert_eq!(csv.jobs, jsonl.jobs);
    assert_eq!(csv.stats, jsonl.stats);
    let again = parse_canonical_csv(&to_canonical_csv(&csv.jobs), "again").unwrap();
    assert_eq!(again.jobs, csv.jobs);
}

#[test]
fn github_jobs_single_page() {
    let load = load_trace(fixture("traces/github-jobs.json")).unwrap();
    assert_eq!(load.format, TraceFormat::GithubJobs);
    assert_eq!(ids(&load), [201, 202]);
    let j = job(&load, 201);
    assert_eq!(
        (j.run_id, j.run_attempt, &*j.repo, &*j.workflow, &*j.name),
        (21, 1, "acme/widgets", "CI", "build")
    );
    assert_eq!(j.queued_at, ts("2025-03-04T08:00:00Z"));
    assert_eq!(j.started_at, ots("2025-03-04T08:01:30Z"));
    assert_eq!(j.completed_at, ots("2025-03-04T08:20:00Z"));
    assert_eq!(j.conclusion.as_deref(), Some("success"));
    // Queued: GitHub's started_at for a queued job is not a start.
    let j = job(&load, 202);
    assert_eq!(&*j.repo, "acme/widgets");
    assert_eq!(j.queued_at, ts("2025-03-04T08:20:00Z"));
    assert_eq!(
        (j.started_at, j.completed_at, j.conclusion.clone()),
        (None, None, None)
    );
    assert_eq!((load.stats.rows_read, load.stats.missing_started), (2, 1));
}

#[test]
fn github_jobs_pages_as_jsonl() {
    let load = load_trace(fixture("traces/github-jobs-pages.jsonl")).unwrap();
    assert_eq!(load.format, TraceFormat::GithubJobs);
    assert_eq!(ids(&load), [301, 302, 303]);
    // Cancelled before a runner took it: completion kept, no start.
    let j = job(&load, 301);
    assert_eq!(&*j.repo, "acme/gadgets");
    assert_eq!(
        (j.started_at, j.completed_at),
        (None, ots("2025-03-05T12:03:00Z"))
    );
    assert_eq!(j.conclusion.as_deref(), Some("cancelled"));
    assert_eq!(j.duration_ms(), None);
    let j = job(&load, 302);
    assert_eq!(
        (j.started_at, j.completed_at),
        (ots("2025-03-05T12:00:20Z"), None)
    );
    // No created_at: queued at its start.
    let j = job(&load, 303);
    assert_eq!(j.queued_at, ts("2025-03-05T12:01:00Z"));
    assert_eq!(j.duration_ms(), Some(480_000));
    let s = &load.stats;
    assert_eq!(
        (
            s.rows_read,
            s.queued_from_started,
            s.missing_started,
            s.missing_completed
        ),
        (3, 1, 1, 1)
    );
}

#[test]
fn webhook_jsonl_folds_events() {
    let load = load_trace(fixture("traces/webhooks.jsonl")).unwrap();
    assert_eq!(load.format, TraceFormat::WebhookJsonl);
    assert_eq!(ids(&load), [401, 402, 403]);
    let j = job(&load, 401);
    assert_eq!(
        (j.run_id, &*j.repo, &*j.workflow, &*j.name),
        (41, "acme/widgets", "CI", "build")
    );
    assert_eq!(j.queued_at, ts("2025-03-06T14:00:00Z"));
    assert_eq!(j.started_at, ots("2025-03-06T14:02:00Z"));
    assert_eq!(j.completed_at, ots("2025-03-06T14:30:00Z"));
    assert_eq!(j.conclusion.as_deref(), Some("success"));
    let j = job(&load, 402);
    assert_eq!(j.labels[..], ["self-hosted", "linux", "arm64"]);
    assert_eq!(
        (j.started_at, j.completed_at),
        (None, ots("2025-03-06T14:05:00Z"))
    );
    assert_eq!(j.conclusion.as_deref(), Some("cancelled"));
    // From the archive envelope: queued when received.
    let j = job(&load, 403);
    assert_eq!((j.run_id, j.run_attempt, &*j.workflow), (42, 1, "Release"));
    assert_eq!(j.queued_at, ts("2025-03-06T15:00:01Z"));
    assert_eq!((j.started_at, j.completed_at), (None, None));
    let s = &load.stats;
    assert_eq!((s.rows_read, s.jobs), (7, 3));
    let skipped = &s.skipped["not a workflow_job event"];
    assert_eq!((skipped.count, skipped.first_line), (1, 2));
}

#[test]
fn ci_stats_csv_infers_queue_times_and_maps_labels() {
    let load = load_trace(fixture("traces/ci-stats.csv")).unwrap();
    assert_eq!(load.format, TraceFormat::CiStatsCsv);
    assert_eq!(ids(&load), [501, 502, 504, 503, 505]);
    let q = |id: u64| job(&load, id).queued_at;
    assert_eq!(q(501), ts("2025-03-07T10:00:00Z"));
    assert_eq!(q(502), ts("2025-03-07T10:00:09Z")); // after "determine runners"
    assert_eq!(q(504), ts("2025-03-07T10:00:09Z"));
    assert_eq!(q(503), ts("2025-03-07T10:15:00Z")); // after "build linux"
    assert_eq!(q(505), ts("2025-03-07T11:00:00Z"));
    assert_eq!(job(&load, 502).labels[..], ["self-hosted", "linux", "x64"]);
    assert_eq!(
        job(&load, 503).labels[..],
        ["self-hosted", "windows", "x64"]
    );
    assert_eq!(
        job(&load, 504).labels[..],
        ["self-hosted", "macos", "arm64"]
    );
    assert_eq!(job(&load, 503).conclusion.as_deref(), Some("failure"));
    assert_eq!(job(&load, 504).conclusion.as_deref(), Some("cancelled"));
    assert_eq!(job(&load, 504).duration_ms(), Some(0));
    assert_eq!(&*job(&load, 502).name, "build linux");
    let s = &load.stats;
    assert_eq!(
        (
            s.rows_read,
            s.jobs,
            s.queued_inferred,
            s.negative_durations_clamped
        ),
        (6, 5, 3, 1)
    );
    let skipped = &s.skipped["os_guess `other` is not linux, windows or macos"];
    assert_eq!((skipped.count, skipped.first_line), (1, 7));
}

fn eu() -> PriceBook {
    PriceBook::new("eu-west-1", PriceOs::Linux)
}

#[test]
fn spot_history_json() {
    let mut b = eu();
    let l = b.load_file(fixture("prices/spot-history.json")).unwrap();
    assert_eq!(l.format, PriceFormat::SpotHistoryJson);
    assert_eq!(
        (
            l.rows_read,
            l.rows_used,
            l.other_os,
            l.other_region,
            l.series
        ),
        (5, 3, 1, 1, 2)
    );
    let p = |az: &str, t: &str| b.spot_price_at("m5.large", az, ts(t));
    assert_eq!(p("eu-west-1a", "2025-03-01T06:00:00Z"), Some(0.036));
    assert_eq!(p("eu-west-1a", "2025-03-01T13:00:00Z"), Some(0.0365));
    assert_eq!(p("eu-west-1b", "2025-03-01T00:00:00Z"), Some(0.0381));
    assert_eq!(p("us-east-1a", "2025-03-01T00:00:00Z"), None);
}

#[test]
fn spot_history_cli_text() {
    let mut b = eu();
    let l = b.load_file(fixture("prices/spot-history-cli.txt")).unwrap();
    assert_eq!(l.format, PriceFormat::SpotHistoryCliText);
    assert_eq!((l.rows_read, l.rows_used, l.other_os), (3, 2, 1));
    assert_eq!(l.skipped["`NEXTTOKEN` records"], 1);
    assert_eq!(
        b.spot_price_at("c6i.xlarge", "eu-west-1a", ts("2025-03-01T07:00:00Z")),
        Some(0.0721)
    );
    assert_eq!(
        b.spot_price_at("c6i.xlarge", "eu-west-1b", ts("2025-03-01T07:00:00Z")),
        Some(0.0743)
    );
}

#[test]
fn spot_legacy_text_newest_first() {
    let mut b = eu();
    let l = b.load_file(fixture("prices/spot-legacy.txt")).unwrap();
    assert_eq!(l.format, PriceFormat::SpotLegacyText);
    assert_eq!((l.rows_read, l.rows_used, l.other_os), (5, 3, 2));
    let ty = b.type_id("m6i.xlarge").unwrap();
    let series = b.series(ty, b.az_id("eu-west-1c").unwrap()).unwrap();
    let points: Vec<(Timestamp, f64)> = series.points().collect();
    assert_eq!(
        points,
        [
            (ts("2025-03-01T03:00:00Z"), 0.078),
            (ts("2025-03-01T21:00:00Z"), 0.0799),
            (ts("2025-03-02T09:00:00Z"), 0.0812)
        ]
    );
}

#[test]
fn az_id_tsv() {
    let mut b = eu();
    let l = b.load_file(fixture("prices/spot-az-id.tsv")).unwrap();
    assert_eq!(l.format, PriceFormat::AzIdTsv);
    assert_eq!(
        (l.rows_read, l.rows_used, l.other_os, l.other_region),
        (5, 3, 1, 1)
    );
    let p = |t: &str| b.spot_price_at("m5.large", "euw1-az1", ts(t));
    assert_eq!(p("2025-03-01T03:00:00Z"), Some(0.0366));
    assert_eq!(p("2025-03-01T05:00:00Z"), Some(0.0371));
    assert_eq!(
        b.spot_price_at("c7g.large", "euw1-az3", ts("2025-03-01T00:00:00Z")),
        Some(0.0319)
    );
}

#[test]
fn on_demand_csv() {
    let mut b = eu();
    let l = b.load_file(fixture("prices/on-demand.csv")).unwrap();
    assert_eq!(l.format, PriceFormat::OnDemandCsv);
    assert_eq!((l.rows_read, l.rows_used, l.other_region), (3, 2, 1));
    assert_eq!(b.on_demand_usd_per_hour("m5.large"), Some(0.107));
    assert_eq!(b.on_demand_usd_per_hour("c7g.large"), Some(0.0813));
    assert!(b.notes().is_empty());
    // A region the file lacks, when the file has several: nothing, no fallback.
    let mut ap = PriceBook::new("ap-south-1", PriceOs::Linux);
    let l = ap.load_file(fixture("prices/on-demand.csv")).unwrap();
    assert_eq!(
        (l.rows_used, ap.on_demand_usd_per_hour("m5.large")),
        (0, None)
    );
}

#[test]
fn spot_advisor_json() {
    let mut b = eu();
    let l = b.load_file(fixture("prices/spot-advisor.json")).unwrap();
    assert_eq!(l.format, PriceFormat::SpotAdvisorJson);
    assert_eq!(
        (l.rows_read, l.rows_used, l.other_os, l.other_region),
        (3, 3, 1, 1)
    );
    let a = b.advice("m5.large").unwrap();
    assert_eq!(a.savings_pct, 61.0);
    assert_eq!(
        (
            a.bucket.index,
            a.bucket.label.as_str(),
            a.bucket.lower_pct,
            a.bucket.upper_pct
        ),
        (1, "5-10%", 5.0, 10.0)
    );
    let a = b.advice("m7i.large").unwrap();
    assert_eq!(
        (a.bucket.index, a.bucket.lower_pct, a.bucket.upper_pct),
        (4, 20.0, 100.0)
    );
    let mut w = PriceBook::new("eu-west-1", PriceOs::Windows);
    w.load_file(fixture("prices/spot-advisor.json")).unwrap();
    assert_eq!(w.advice("m5.large").unwrap().bucket.index, 2);
}

#[test]
fn one_book_from_every_price_fixture_and_its_alignment() {
    let mut b = eu();
    for f in [
        "spot-history.json",
        "spot-history-cli.txt",
        "spot-legacy.txt",
        "spot-az-id.tsv",
        "on-demand.csv",
        "spot-advisor.json",
    ] {
        b.load_file(fixture(&format!("prices/{f}"))).unwrap();
    }
    // 2025-03-01T00:00Z → 2025-03-02T09:00Z: 33 h, rounded up to 34 h.
    assert_eq!(
        b.spot_window(),
        Some((ts("2025-03-01T00:00:00Z"), 34 * 3_600_000))
    );
    let a = b
        .align_to(ts("2025-03-01T06:00:00Z"), ts("2025-03-03T06:00:00Z"))
        .clone();
    assert_eq!(a.kind, AlignmentKind::AsIs);
    assert_eq!(
        b.spot_price_at("m6i.xlarge", "eu-west-1c", ts("2025-03-02T09:30:00Z")),
        Some(0.0812)
    );
    // 34 h after the window start the cycle starts over.
    assert_eq!(
        b.spot_price_at("m6i.xlarge", "eu-west-1c", ts("2025-03-02T10:30:00Z")),
        Some(0.078)
    );
    let a = b
        .align_to(ts("2025-09-01T00:00:00Z"), ts("2025-09-08T00:00:00Z"))
        .clone();
    assert_eq!(a.kind, AlignmentKind::Shifted);
    assert_eq!(a.anchor, ts("2025-09-01T00:00:00Z"));
    assert_eq!(
        b.spot_price_at("m5.large", "eu-west-1a", ts("2025-09-01T13:00:00Z")),
        Some(0.0365)
    );
    assert!(
        a.description.contains("shifted by +184.0 days"),
        "{}",
        a.description
    );
}

#[test]
fn world_settings() {
    use flotilla_sim::rng::Delay;
    use flotilla_sim::settings::{InterruptionModel, ScriptedInterruption, WorldSettings};
    let text = std::fs::read_to_string(fixture("world/world.json")).unwrap();
    let w: WorldSettings = serde_json::from_str(&text).unwrap();
    w.validate().unwrap();
    assert_eq!(
        w.instance_boot,
        Delay::LogNormal {
            median: 55.0,
            sigma: 0.3
        }
    );
    assert_eq!(
        w.runner_registration,
        Delay::Uniform {
            min: 15.0,
            max: 40.0
        }
    );
    assert_eq!(
        w.interruptions,
        InterruptionModel::Rate {
            per_instance_hour: 0.002
        }
    );
    assert_eq!(
        w.scripted_interruptions,
        [ScriptedInterruption {
            launch: 2,
            warning_after_seconds: 180.0
        }]
    );
    assert_eq!(w.capacity.len(), 1);
    assert_eq!(w.capacity[0].capacity_type.as_deref(), Some("spot"));
    assert_eq!(w.throttle_probability, 0.01);
    assert_eq!(w.costs.lambda_memory_mb, 256.0);
    // What the file leaves out keeps its default.
    let d = WorldSettings::default();
    assert_eq!(w.webhook_delivery, d.webhook_delivery);
    assert_eq!(w.costs.ebs_usd_per_gb_month, d.costs.ebs_usd_per_gb_month);
    // A misspelt field is an error, not silently ignored.
    let bad = text.replace("throttle_probability", "throttle_probabilty");
    let e = serde_json::from_str::<WorldSettings>(&bad).unwrap_err();
    assert!(e.to_string().contains("throttle_probabilty"), "{e}");
}
