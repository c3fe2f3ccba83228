//! `flotilla tune` end to end through the real binary: the recommendation replays to the same
//! numbers, only Terraform variables are written, threads do not change the result, charts are
//! well-formed files, nothing-meets-the-SLO and holdout paths, readable errors.
//!
//! The real-data tests read `../shared/data` and skip loudly when it is absent. They keep debug
//! builds quick: a handful of configs, and a week of the trace where the whole month is not the
//! point.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "SKIP ******** {} is absent: real-data tune test not run ********",
            p.display()
        );
        None
    }
}

const TRACE: &str = "traces/bitcoin-core-gha-jobs-2025-09.csv";
const PRICES: [&str; 3] = [
    "prices/describe-spot-price-history.eu-west-1.2022-07-11.txt",
    "prices/ec2-ondemand-linux-us-east-1.csv",
    "prices/spot-advisor-data.json",
];

/// `--prices F` for the eu-west-1 files, or `None` (skipped) when the data is absent.
fn price_args() -> Option<Vec<String>> {
    let mut v = Vec::new();
    for p in PRICES {
        v.push("--prices".to_string());
        v.push(data(p)?.display().to_string());
    }
    Some(v)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("flotilla-tune-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The rows of the trace whose run was created in `[from, to)` (RFC 3339 prefixes compare as
/// text), written to a temporary file.
fn slice(name: &str, from: &str, to: &str) -> Option<PathBuf> {
    let src = data(TRACE)?;
    let text = std::fs::read_to_string(src).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let col = header
        .split(',')
        .position(|c| c == "run_created_at")
        .unwrap();
    let mut out = vec![header.to_string()];
    let mut rdr = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    for rec in rdr.records() {
        let rec = rec.unwrap();
        let t = &rec[col];
        if t >= from && t < to {
            let fields: Vec<String> = rec
                .iter()
                .map(|f| {
                    if f.contains(',') || f.contains('"') {
                        format!("\"{}\"", f.replace('"', "\"\""))
                    } else {
                        f.to_string()
                    }
                })
                .collect();
            out.push(fields.join(","));
        }
    }
    let p = tmp(&format!("slice-{name}")).join("trace.csv");
    std::fs::write(&p, out.join("\n") + "\n").unwrap();
    Some(p)
}

fn flotilla(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .output()
        .expect("run flotilla");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "flotilla panicked: {stderr}");
    out
}

fn ok(args: &[&str]) -> String {
    let out = flotilla(args);
    assert!(
        out.status.success(),
        "flotilla {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn write_base(dir: &Path) -> String {
    // A sensible starting point: the search then has something meeting the SLO early.
    let p = dir.join("base.json");
    std::fs::write(
        &p,
        r#"{"runners_maximum_count": 40, "enable_ephemeral_runners": true, "delay_webhook_event": 0}"#,
    )
    .unwrap();
    p.display().to_string()
}

/// Every `variable "NAME"` of terraform/variables.tf.
fn terraform_variables() -> Vec<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../terraform/variables.tf");
    let text = std::fs::read_to_string(&p).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("variable \""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_string)
        .collect()
}

fn assert_only_terraform_variables(tfvars: &Value) {
    let vars = terraform_variables();
    assert!(vars.len() > 30, "variables.tf read: {}", vars.len());
    let obj = tfvars.as_object().expect("tfvars is an object");
    assert!(!obj.is_empty());
    for k in obj.keys() {
        assert!(
            vars.contains(k),
            "{k} is not a variable in terraform/variables.tf"
        );
        assert!(
            flotilla_core::config::CONFIG_FIELDS.contains(&k.as_str()),
            "{k} is not a config field"
        );
    }
}

/// The metric a replay report holds at `path` equals the tuner's, bit for bit.
fn same(report: &Value, rpath: &str, metrics: &Value, mpath: &str) {
    let r = report
        .pointer(rpath)
        .unwrap_or_else(|| panic!("report {rpath}"));
    let m = metrics
        .pointer(mpath)
        .unwrap_or_else(|| panic!("metrics {mpath}"));
    assert!(r.is_number(), "{rpath}: {r}");
    assert_eq!(r, m, "replay {rpath} = {r}, tuner {mpath} = {m}");
}

#[test]
fn recommendation_replays_to_the_tuners_metrics_exactly() {
    let (Some(trace), Some(prices)) = (data(TRACE), price_args()) else {
        return;
    };
    let dir = tmp("reproduce");
    let base = write_base(&dir);
    let out = dir.join("out");
    let trace = trace.display().to_string();
    let mut args = vec!["tune", "--trace", &trace, "--slo-p95", "120"];
    args.extend(prices.iter().map(String::as_str));
    let out_s = out.display().to_string();
    args.extend(["--config", &base, "--max-evals", "6", "--out", &out_s]);
    let text = ok(&args);
    eprintln!("{text}");
    assert!(text.contains("Recommended: config #"), "{text}");
    let result = read_json(&out.join("evaluations.json"));
    assert_eq!(result["evaluations"].as_array().unwrap().len(), 6);
    let rec = &result["recommendation"];
    assert_eq!(rec["meets_slo"], true, "{rec}");
    let index = rec["index"].as_u64().unwrap() as usize;
    let metrics = &result["evaluations"][index]["metrics"];
    assert!(metrics["wait_seconds"]["p95"].as_f64().unwrap() <= 120.0);
    let tfvars = out.join("recommended.tfvars.json");
    assert_only_terraform_variables(&read_json(&tfvars));
    assert_eq!(
        result["evaluations"][index]["config"],
        read_json(&tfvars),
        "evaluations.json holds the same variables"
    );

    let tfvars_s = tfvars.display().to_string();
    let mut replay = vec!["replay", "--trace", &trace, "--config", &tfvars_s, "--json"];
    replay.extend(prices.iter().map(String::as_str));
    let report: Value = serde_json::from_str(&ok(&replay)).unwrap();
    for c in [
        "total",
        "instances_spot",
        "instances_on_demand",
        "ebs",
        "lambda",
        "sqs",
        "api_gateway",
    ] {
        same(
            &report,
            &format!("/cost_usd/{c}"),
            metrics,
            &format!("/cost_usd/{c}"),
        );
    }
    for w in ["p50", "p90", "p95", "p99", "max", "mean", "samples"] {
        same(
            &report,
            &format!("/wait_seconds/{w}"),
            metrics,
            &format!("/wait_seconds/{w}"),
        );
    }
    for (r, m) in [
        ("/cost_per_job_hour_usd", "/cost_per_job_hour_usd"),
        ("/utilisation", "/utilisation"),
        ("/instances/launched", "/instances_launched"),
        ("/instances/peak", "/instances_peak"),
        ("/instances/billed_instance_hours", "/billed_instance_hours"),
        ("/interruptions", "/interruptions"),
        ("/github_api/peak_per_hour", "/github_api_peak_per_hour"),
        ("/jobs/completed", "/jobs_completed"),
        ("/jobs/never_started", "/jobs_never_started"),
        ("/jobs/unfinished", "/jobs_unfinished"),
    ] {
        same(&report, r, metrics, m);
    }
}

#[test]
fn thread_count_does_not_change_the_result() {
    let (Some(trace), Some(prices)) = (slice("threads", "2025-09-08", "2025-09-11"), price_args())
    else {
        return;
    };
    let trace = trace.display().to_string();
    let run = |threads: &str| {
        let mut args = vec!["tune", "--trace", &trace, "--max-evals", "8", "--json"];
        args.extend(prices.iter().map(String::as_str));
        args.extend(["--threads", threads, "--seed", "3"]);
        ok(&args)
    };
    let one = run("1");
    let two = run("2");
    assert_eq!(one, two, "1 and 2 threads gave different results");
    let v: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["evaluations"].as_array().unwrap().len(), 8);
}

#[test]
fn nothing_meeting_the_slo_is_said_and_the_closest_shown() {
    let (Some(trace), Some(prices)) = (slice("noslo", "2025-09-08", "2025-09-10"), price_args())
    else {
        return;
    };
    let dir = tmp("noslo");
    let trace = trace.display().to_string();
    let out_s = dir.display().to_string();
    // No runner boots in under a second: p95 <= 1 s is out of reach.
    let mut args = vec![
        "tune",
        "--trace",
        &trace,
        "--slo-p95",
        "1",
        "--max-evals",
        "4",
        "--out",
        &out_s,
    ];
    args.extend(prices.iter().map(String::as_str));
    let text = ok(&args);
    assert!(text.contains("NOTHING MEETS THE SLO"), "{text}");
    assert!(text.contains("the closest is config #"), "{text}");
    assert!(!dir.join("recommended.tfvars.json").exists());
    assert_only_terraform_variables(&read_json(&dir.join("closest.tfvars.json")));
    let result = read_json(&dir.join("evaluations.json"));
    assert_eq!(result["recommendation"]["meets_slo"], false);
    let front = std::fs::read_to_string(dir.join("front.txt")).unwrap();
    assert!(front.contains("NOTHING MEETS THE SLO"), "{front}");
}

#[test]
fn holdout_replays_base_and_recommended_on_the_other_trace() {
    let (Some(train), Some(hold), Some(prices)) = (
        slice("train", "2025-09-08", "2025-09-10"),
        slice("hold", "2025-09-15", "2025-09-17"),
        price_args(),
    ) else {
        return;
    };
    let dir = tmp("holdout");
    let base = write_base(&dir);
    let (train, hold) = (train.display().to_string(), hold.display().to_string());
    let out_s = dir.join("out").display().to_string();
    let mut args = vec![
        "tune",
        "--trace",
        &train,
        "--holdout",
        &hold,
        "--config",
        &base,
        "--max-evals",
        "4",
        "--out",
        &out_s,
    ];
    args.extend(prices.iter().map(String::as_str));
    let text = ok(&args);
    assert!(text.contains("Holdout: "), "{text}");
    let h = read_json(&dir.join("out/holdout.json"));
    assert!(h["trace"].as_str().unwrap().contains("hold"), "{h}");
    for who in ["base", "recommended"] {
        let jobs = h[who]["report"]["jobs"]["total"].as_u64().unwrap();
        assert!(jobs > 100, "{who}: {jobs} jobs on the holdout");
        assert!(h[who]["report"]["cost_usd"]["total"].as_f64().unwrap() > 0.0);
    }
    // The holdout is another trace: its job count is not the training trace's.
    let result = read_json(&dir.join("out/evaluations.json"));
    assert_eq!(result["evaluations"][0]["index"], 0);
    assert!(dir.join("out/holdout.txt").is_file());
}

fn png_size(p: &Path) -> (u32, u32) {
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}: not a PNG", p.display());
    assert_eq!(&b[12..16], b"IHDR", "{}: no IHDR first", p.display());
    let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
    (w, h)
}

fn svg_texts(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{}: not XML: {e}", p.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n")
}

fn check_chart(dir: &Path, stem: &str, expect: &[&str]) {
    assert_eq!(png_size(&dir.join(format!("{stem}.png"))), (1200, 720));
    let png = std::fs::metadata(dir.join(format!("{stem}.png"))).unwrap();
    assert!(png.len() > 10_000, "{stem}.png is nearly empty");
    let texts = svg_texts(&dir.join(format!("{stem}.svg")));
    for e in expect {
        assert!(texts.contains(e), "{stem}.svg lacks {e:?}: {texts}");
    }
}

#[test]
fn replay_and_tune_plots_are_well_formed_files() {
    // The demo: no data needed.
    let dir = tmp("plots");
    let rp = dir.join("replay").display().to_string();
    ok(&["replay", "--days", "1", "--plot", &rp]);
    let rp = dir.join("replay");
    check_chart(
        &rp,
        "fleet",
        &[
            "Fleet over time",
            "busy instances",
            "queued jobs",
            "time since the first job (hours)",
        ],
    );
    check_chart(
        &rp,
        "wait-cdf",
        &["Wait for a runner", "jobs started within x (%)"],
    );
    check_chart(&rp, "cost", &["Cost by component", "spot instances", "USD"]);

    let tp = dir.join("tune").display().to_string();
    let text = ok(&["tune", "--days", "1", "--max-evals", "4", "--plot", &tp]);
    assert!(text.contains("Charts: "), "{text}");
    let tp = dir.join("tune");
    check_chart(
        &tp,
        "pareto",
        &[
            "Tuning: cost vs p95 wait",
            "Pareto front",
            "base config",
            "SLO: p95 <= 120 s",
        ],
    );
    check_chart(&tp, "wait-cdf", &["base: p50", "SLO: p95"]);
    check_chart(&tp, "cost", &["base: total $"]);
    check_chart(&tp, "fleet-base", &["Fleet over time: base config"]);
}

#[test]
fn demo_tune_writes_only_terraform_variables() {
    let dir = tmp("demo");
    let out_s = dir.display().to_string();
    let text = ok(&[
        "tune",
        "--days",
        "1",
        "--max-evals",
        "6",
        "--slo-p95",
        "300",
        "--out",
        &out_s,
    ]);
    assert!(text.contains("Pareto front"), "{text}");
    let name = if dir.join("recommended.tfvars.json").exists() {
        "recommended.tfvars.json"
    } else {
        "closest.tfvars.json"
    };
    assert_only_terraform_variables(&read_json(&dir.join(name)));
    let front = std::fs::read_to_string(dir.join("front.txt")).unwrap();
    assert!(
        front.lines().any(|l| l.starts_with('*')),
        "base marked: {front}"
    );
}

#[test]
fn bad_inputs_give_readable_errors() {
    let dir = tmp("bad");
    let bad_config = dir.join("bad.json");
    std::fs::write(&bad_config, r#"{"runners_maximum_cont": 4}"#).unwrap();
    let garbage = dir.join("garbage.csv");
    std::fs::write(&garbage, "this is not,a trace\n1,2\n").unwrap();
    let bc = bad_config.display().to_string();
    let gb = garbage.display().to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["tune", "--trace", "/nonexistent/jobs.csv"],
            "cannot read",
        ),
        (
            vec!["tune", "--config", &bc],
            "did you mean `runners_maximum_count`",
        ),
        (vec!["tune", "--trace", &gb], "garbage.csv"),
        (vec!["tune", "--max-evals", "0"], "--max-evals"),
        (vec!["tune", "--slo-p95=-5"], "--slo-p95"),
        (vec!["tune", "--threads", "0"], "--threads"),
        (
            vec!["tune", "--days", "1", "--holdout", "/nonexistent/h.csv"],
            "cannot read",
        ),
        (
            vec!["tune", "--days", "1", "--out", "/proc/flotilla/out"],
            "cannot create",
        ),
        (
            vec!["replay", "--days", "1", "--plot", "/proc/flotilla/plots"],
            "cannot create",
        ),
    ];
    for (args, want) in cases {
        let out = flotilla(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(want),
            "{args:?}: wanted {want:?} in {stderr}"
        );
    }
}
