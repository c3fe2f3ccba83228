//! Malformed inputs are errors naming the source, the line and the reason — and no input makes a
//! loader panic (property tests over arbitrary bytes and over mutated fixtures).

use std::path::PathBuf;

use flotilla_sim::load::LoadError;
use flotilla_sim::prices::{PriceBook, PriceOs};
use flotilla_sim::trace::{
    load_trace, parse_canonical_csv, parse_canonical_jsonl, parse_ci_stats_csv, parse_github_jobs,
    parse_trace, parse_webhook_jsonl,
};
use proptest::prelude::*;

fn trace_err(text: &str) -> LoadError {
    parse_trace(text.as_bytes(), "bad.trace").unwrap_err()
}

fn price_err(text: &str) -> LoadError {
    PriceBook::new("eu-west-1", PriceOs::Linux)
        .add_bytes(text.as_bytes(), "bad.prices")
        .unwrap_err()
}

fn assert_at(e: &LoadError, line: usize, words: &str) {
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.reason.contains(words), "`{words}` not in: {e}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}, line {line}: ", e.source)),
        "{e}"
    );
}

const CANON_HEADER: &str =
    "job_id,run_id,repo,workflow,name,labels,queued_at,started_at,completed_at,conclusion";

#[test]
fn canonical_jsonl_errors() {
    let ok = r#"{"job_id":1,"run_id":1,"queued_at":"2025-01-01T00:00:00Z"}"#;
    let e = trace_err(&format!(
        "{ok}\n\n{}\n",
        r#"{"job_id":2,"run_id":1,"queued_at":"yesterday"}"#
    ));
    assert_at(&e, 3, "RFC 3339");
    assert_eq!(e.source, "bad.trace");
    let e = trace_err(&format!("{ok}\n{{\"job_id\": 2,\n"));
    assert_at(&e, 2, "JSON");
    let e = trace_err(&format!(
        "{ok}\n{}\n",
        r#"{"job_id":-4,"run_id":1,"queued_at":"2025-01-01T00:00:00Z"}"#
    ));
    assert_at(&e, 2, "JSON value");
    let e = trace_err(&format!(
        "{ok}\n{}\n",
        r#"{"job_id":5,"queued_at":"2025-01-01T00:00:00Z"}"#
    ));
    assert_at(&e, 2, "run_id");
    let e = parse_canonical_jsonl("[1,2]\n", "x.jsonl").unwrap_err();
    assert_at(&e, 1, "JSON");
}

#[test]
fn canonical_csv_errors() {
    let row = "1,1,a/b,CI,build,linux,2025-01-01T00:00:00Z,,,";
    let e = trace_err(&format!(
        "{CANON_HEADER}\n{row}\n2,x,a/b,CI,build,linux,2025-01-01T00:00:00Z,,,\n"
    ));
    assert_at(&e, 3, "run_id `x`");
    let e = trace_err(&format!("{CANON_HEADER}\n{row}\n{row},extra\n"));
    assert_at(&e, 3, "fields");
    let e = trace_err(&format!("{CANON_HEADER}\n3,1,a/b,CI,build,linux,,,,\n"));
    assert_at(&e, 2, "queued_at is empty");
    let e = trace_err(&format!(
        "{CANON_HEADER}\n3,1,a/b,CI,build,linux,2025-01-01T00:00:00Z,noon,,\n"
    ));
    assert_at(&e, 2, "started_at");
    let e = parse_canonical_csv("job_id,queued_at\n1,2025-01-01T00:00:00Z\n", "h.csv").unwrap_err();
    assert_at(&e, 1, "`run_id`");
    // A quoted field spanning lines keeps later line numbers right.
    let e = trace_err(&format!("{CANON_HEADER}\n1,1,a/b,CI,\"two\nlines\",linux,2025-01-01T00:00:00Z,,,\n2,1,a/b,CI,x,linux,bad,,,\n"));
    assert_at(&e, 4, "queued_at");
}

#[test]
fn github_and_webhook_errors() {
    let e = parse_github_jobs(
        "{\"total_count\": 1,\n \"jobs\": [\n  {\"id\": \"x1\"}\n ]}\n",
        "p.json",
    )
    .unwrap_err();
    assert_at(&e, 3, "id");
    let e = parse_github_jobs(
        "{\"total_count\": 0, \"jobs\": []}\n{\"jobs\": [{\"id\": 1, \"created_at\": 5.5}]}\n",
        "p.jsonl",
    )
    .unwrap_err();
    assert_at(&e, 2, "JSON value");
    let e = trace_err("{\"total_count\": 0, \"jobs\": []}\n{\"jobs\": \n");
    assert_eq!(e.line, Some(3), "{e}");
    let e = parse_webhook_jsonl("{\"zen\": \"x\"}\nnot json\n", "w.jsonl").unwrap_err();
    assert_at(&e, 2, "JSON");
    let e = parse_webhook_jsonl(
        "{\"action\": \"queued\", \"workflow_job\": {\"run_id\": 1}}\n",
        "w.jsonl",
    )
    .unwrap_err();
    assert_at(&e, 1, "id");
}

#[test]
fn ci_stats_errors() {
    let header = "job_id,run_id,name,status,run_status,branch,run_created_at,started_at,completed_at,wait_s,duration_s,os_guess";
    let row = "1,1,a,COMPLETED,COMPLETED,main,2025-01-01T00:00:00Z,2025-01-01T00:00:05Z,2025-01-01T00:01:00Z,5,55,linux";
    let bad = "2,1,a,COMPLETED,COMPLETED,main,2025-01-01T00:00:00Z,2025-13-01T00:00:05Z,2025-01-01T00:01:00Z,5,55,linux";
    let e = parse_ci_stats_csv(&format!("{header}\n{row}\n{row}\n{bad}\n"), "b.csv").unwrap_err();
    assert_at(&e, 4, "started_at");
    let e = parse_ci_stats_csv("job_id,run_id,started_at\n", "b.csv").unwrap_err();
    assert_at(&e, 1, "run_created_at");
}

#[test]
fn detection_errors() {
    assert_eq!(trace_err("").line, Some(1));
    assert!(trace_err("\n\n").reason.contains("empty"));
    let e = trace_err("\n\nwhat,is,this\n");
    assert_at(&e, 3, "unrecognised");
    let e = trace_err("{\"hello\": 1}\n");
    assert_at(&e, 1, "JSON trace");
    let e = parse_trace(b"job_id,queued_at\n\xff\xfe\n", "u.csv").unwrap_err();
    assert_at(&e, 2, "UTF-8");
    let e = load_trace(PathBuf::from("/nonexistent/trace.csv")).unwrap_err();
    assert_eq!(
        (e.source.as_str(), e.line),
        ("/nonexistent/trace.csv", None)
    );
    assert!(e.reason.contains("cannot read"), "{e}");
}

#[test]
fn price_errors() {
    let e = price_err("SPOTINSTANCEPRICE\t0.1\t2025-01-01T00:00:00Z\tm5.large\tLinux/UNIX\teu-west-1a\nSPOTINSTANCEPRICE\tcheap\t2025-01-01T00:00:00Z\tm5.large\tLinux/UNIX\teu-west-1a\n");
    assert_at(&e, 2, "price `cheap`");
    let e = price_err("SPOTINSTANCEPRICE\t0.1\t2025-01-01T00:00:00Z\n");
    assert_at(&e, 1, "6 fields");
    let e = price_err("SPOTINSTANCEPRICE\t0.1\tlater\tm5.large\tLinux/UNIX\teu-west-1a\n");
    assert_at(&e, 1, "timestamp");
    let e = price_err("SPOTPRICEHISTORY\teu-west-1a\tm5.large\tLinux/UNIX\t0.1\t2025-01-01T00:00:00Z\nSPOTINSTANCEPRICE\t0.1\t2025-01-01T00:00:00Z\tm5.large\tLinux/UNIX\teu-west-1a\n");
    assert_at(&e, 2, "mixed");
    let e = price_err("euw1-az1\tm5.large\tLinux/UNIX\t0.1\t2025-01-01T00:00:00Z\neuw1-az1\tm5.large\tLinux/UNIX\t0.1\n");
    assert_at(&e, 2, "5 tab-separated");
    let e = price_err("euw1-az1\tm5.large\tLinux/UNIX\tNaN\t2025-01-01T00:00:00Z\n");
    assert_at(&e, 1, "finite");
    let e = price_err(
        "region,instance_type,usd_per_hour\neu-west-1,m5.large,0.1\neu-west-1,m5.xlarge,-0.2\n",
    );
    assert_at(&e, 3, "non-negative");
    let e = price_err("region,instance_type,usd_per_hour\neu-west-1,m5.large\n");
    assert_at(&e, 2, "fields");
    let e = price_err("{\"SpotPriceHistory\": [\n {\"AvailabilityZone\": \"eu-west-1a\", \"InstanceType\": \"m5.large\",\n  \"ProductDescription\": \"Linux/UNIX\", \"SpotPrice\": \"abc\",\n  \"Timestamp\": \"2025-01-01T00:00:00Z\"}]}\n");
    assert_at(&e, 3, "abc");
    let e = price_err("{\"spot_advisor\": {}, \"ranges\": [\n{\"index\": 0, \"label\": 5}]}\n");
    assert_at(&e, 2, "JSON value");
    let e = price_err("\n<html>\n");
    assert_at(&e, 2, "unrecognised price format");
    let e = PriceBook::new("eu-west-1", PriceOs::Linux)
        .load_file("/nonexistent/prices.json")
        .unwrap_err();
    assert_eq!(e.line, None);
}

#[test]
fn a_failed_load_leaves_the_book_unchanged() {
    let mut b = PriceBook::new("eu-west-1", PriceOs::Linux);
    let text = "SPOTINSTANCEPRICE\t0.1\t2025-01-01T00:00:00Z\tm5.large\tLinux/UNIX\teu-west-1a\nSPOTINSTANCEPRICE\tx\t2025-01-01T00:00:00Z\tm5.large\tLinux/UNIX\teu-west-1a\n";
    assert!(b.add_bytes(text.as_bytes(), "t").is_err());
    assert_eq!(b.series_count(), 0);
    assert!(b.type_id("m5.large").is_none());
}

fn fixture_texts() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    for sub in ["traces", "prices"] {
        let mut entries: Vec<_> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            out.push(std::fs::read(p).unwrap());
        }
    }
    out
}

/// Every loader, on the same bytes; only panics matter here.
fn run_all_loaders(bytes: &[u8]) {
    let _ = parse_trace(bytes, "fuzz");
    let text = String::from_utf8_lossy(bytes);
    let _ = parse_canonical_jsonl(&text, "fuzz");
    let _ = parse_canonical_csv(&text, "fuzz");
    let _ = parse_github_jobs(&text, "fuzz");
    let _ = parse_webhook_jsonl(&text, "fuzz");
    let _ = parse_ci_stats_csv(&text, "fuzz");
    let mut b = PriceBook::new("eu-west-1", PriceOs::Linux);
    let _ = b.add_bytes(bytes, "fuzz");
    let _ = b.add_spot_history_json(&text, "fuzz");
    let _ = b.add_spot_text(&text, "fuzz");
    let _ = b.add_az_id_tsv(&text, "fuzz");
    let _ = b.add_on_demand_csv(&text, "fuzz");
    let _ = b.add_spot_advisor_json(&text, "fuzz");
    // Whatever got in must answer lookups.
    if let Some((start, _)) = b.spot_window() {
        b.align_to(start, start.plus_millis(86_400_000));
    }
    let types: Vec<_> = b.instance_types().map(|(id, _)| id).collect();
    for ty in types {
        for &az in b.spot_zones(ty) {
            let _ = b.spot_price_at_id(ty, az, flotilla_core::Timestamp(0));
            let _ = b.spot_cost_usd_id(
                ty,
                az,
                flotilla_core::Timestamp(0),
                flotilla_core::Timestamp(7_200_000),
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        run_all_loaders(&bytes);
    }

    #[test]
    fn arbitrary_text_lines_never_panic(lines in proptest::collection::vec("[ -~\t]{0,80}", 0..8)) {
        run_all_loaders(lines.join("\n").as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..12,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let texts = fixture_texts();
        let mut bytes = texts[which % texts.len()].clone();
        for (at, byte, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, byte),
            }
        }
        run_all_loaders(&bytes);
        let keep = cut.index(bytes.len() + 1);
        run_all_loaders(&bytes[..keep]);
    }
}
