//! The real files in `../shared/data` load with sane counts. Skipped (loudly) when absent.

use std::path::PathBuf;

use flotilla_core::Timestamp;
use flotilla_sim::prices::{AlignmentKind, PriceBook, PriceFormat, PriceOs};
use flotilla_sim::trace::{load_trace, TraceFormat};

fn data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "SKIP ******** {} is absent: real-data test not run ********",
            p.display()
        );
        None
    }
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn pct(sorted: &[i64], q: f64) -> i64 {
    // Nearest rank.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[test]
fn bitcoin_trace_loads_with_inferred_queue_times() {
    let Some(path) = data("traces/bitcoin-core-gha-jobs-2025-09.csv") else {
        return;
    };
    let load = load_trace(&path).unwrap();
    assert_eq!(load.format, TraceFormat::CiStatsCsv);
    let s = &load.stats;
    eprintln!("{}", s.describe());
    assert_eq!(s.rows_read, 11_402);
    assert_eq!(s.jobs, 11_402);
    assert_eq!(s.skipped_total(), 0);
    // "a few dozen rows have completed_at before started_at"
    assert!(
        (20..=100).contains(&s.negative_durations_clamped),
        "{}",
        s.negative_durations_clamped
    );
    assert!(load.jobs.iter().all(|j| j.completed_at >= j.started_at));
    let linux: Vec<_> = load
        .jobs
        .iter()
        .filter(|j| j.labels.iter().any(|l| l == "linux"))
        .collect();
    assert!((8_300..=8_500).contains(&linux.len()), "{}", linux.len());
    assert!(linux
        .iter()
        .all(|j| j.labels[..] == ["self-hosted", "linux", "x64"]));
    let mac = load
        .jobs
        .iter()
        .filter(|j| j.labels.iter().any(|l| l == "macos"))
        .count();
    let win = load
        .jobs
        .iter()
        .filter(|j| j.labels.iter().any(|l| l == "windows"))
        .count();
    assert_eq!(linux.len() + mac + win, 11_402);
    // Most jobs wait on `needs:` (the run's "determine runners" job): their queue time moves.
    assert!(s.queued_inferred > 5_000, "{}", s.queued_inferred);
    assert!(load
        .jobs
        .windows(2)
        .all(|w| (w[0].queued_at, w[0].job_id) < (w[1].queued_at, w[1].job_id)));
    let (first, last) = load.window().unwrap();
    assert!(first >= ts("2025-09-04T00:00:00Z") && last <= ts("2025-10-05T00:00:00Z"));
    // Inferred waits are never negative (queued_at <= started_at) and mostly short.
    let mut waits: Vec<i64> = load
        .jobs
        .iter()
        .filter_map(|j| j.recorded_wait_ms())
        .collect();
    waits.sort_unstable();
    assert!(waits[0] >= 0);
    let mut lw: Vec<i64> = linux.iter().filter_map(|j| j.recorded_wait_ms()).collect();
    lw.sort_unstable();
    let mut durations: Vec<u64> = linux.iter().filter_map(|j| j.duration_ms()).collect();
    durations.sort_unstable();
    eprintln!(
        "all jobs: wait after inference p50 {} s, p90 {} s, p95 {} s, p99 {} s, max {} s",
        pct(&waits, 0.5) / 1000,
        pct(&waits, 0.9) / 1000,
        pct(&waits, 0.95) / 1000,
        pct(&waits, 0.99) / 1000,
        waits[waits.len() - 1] / 1000
    );
    eprintln!(
        "linux jobs: wait p50 {} s, p95 {} s, p99 {} s; duration p50 {} s, p95 {} s",
        pct(&lw, 0.5) / 1000,
        pct(&lw, 0.95) / 1000,
        pct(&lw, 0.99) / 1000,
        durations[durations.len() / 2] / 1000,
        durations[durations.len() * 95 / 100] / 1000
    );
    assert!(pct(&waits, 0.5) < 60_000);
}

#[test]
fn eu_west_1_linux_spot_prices_from_the_legacy_text() {
    let Some(path) = data("prices/describe-spot-price-history.eu-west-1.2022-07-11.txt") else {
        return;
    };
    let mut book = PriceBook::new("eu-west-1", PriceOs::Linux);
    let load = book.load_file(&path).unwrap();
    eprintln!("{}", load.describe());
    assert_eq!(load.format, PriceFormat::SpotLegacyText);
    assert_eq!(load.rows_read, 16_840);
    assert_eq!(load.rows_used, 4_778);
    assert_eq!(load.other_os, 16_840 - 4_778);
    assert_eq!(load.other_region, 0);
    for ty in [
        "m5.large",
        "m5.xlarge",
        "c5.xlarge",
        "m6i.large",
        "c6a.2xlarge",
        "m6g.large",
        "c7g.xlarge",
    ] {
        for az in ["eu-west-1a", "eu-west-1b", "eu-west-1c"] {
            assert!(
                book.spot_price_at(ty, az, ts("2022-07-11T00:00:00Z"))
                    .is_some(),
                "{ty} {az}"
            );
        }
    }
    assert_eq!(
        book.spot_price_at("m5.large", "eu-west-1a", ts("2022-07-10T12:00:00Z")),
        Some(0.0363)
    );
    assert_eq!(
        book.spot_price_at("m5.large", "eu-west-1a", ts("2022-07-11T12:00:00Z")),
        Some(0.0364)
    );
    // Aligned to the bitcoin trace (2025): shifted and repeated.
    let a = book
        .align_to(ts("2025-09-04T17:25:47Z"), ts("2025-10-03T23:00:00Z"))
        .clone();
    eprintln!("alignment: {}", a.description);
    assert_eq!(a.kind, AlignmentKind::Shifted);
    assert_eq!(a.data_start, ts("2022-07-09T18:48:09Z"));
    assert_eq!(a.period_ms, 52 * 3_600_000);
    let p = book.spot_price_at("m5.large", "eu-west-1b", ts("2025-09-20T12:00:00Z"));
    assert_eq!(p, Some(0.037));
}

#[test]
fn ca_central_1_spot_json() {
    let Some(path) = data("prices/describe-spot-price-history.ca-central-1.c5.xlarge.2021-02.json")
    else {
        return;
    };
    let mut book = PriceBook::new("ca-central-1", PriceOs::Linux);
    let load = book.load_file(&path).unwrap();
    eprintln!("{}", load.describe());
    assert_eq!(load.format, PriceFormat::SpotHistoryJson);
    assert!(load.rows_used > 0 && load.other_os > 0);
    let zones: Vec<String> = book.zones().map(|(_, z)| z.to_string()).collect();
    assert_eq!(zones, ["ca-central-1a", "ca-central-1b", "ca-central-1d"]);
    let p = book
        .spot_price_at("c5.xlarge", "ca-central-1a", ts("2021-03-01T00:00:00Z"))
        .unwrap();
    assert!(p > 0.02 && p < 0.2, "{p}");
    // Another region gets nothing.
    let mut other = PriceBook::new("eu-west-1", PriceOs::Linux);
    let l = other.load_file(&path).unwrap();
    assert_eq!(l.rows_used, 0);
    assert_eq!(l.other_region, l.rows_read);
}

#[test]
fn az_id_tsv_carries_forward_per_zone_id() {
    let Some(path) = data("prices/spot-price-history.all-regions.2022-05-31.tsv") else {
        return;
    };
    let mut book = PriceBook::new("eu-west-1", PriceOs::Linux);
    let load = book.load_file(&path).unwrap();
    eprintln!("{}", load.describe());
    assert_eq!(load.format, PriceFormat::AzIdTsv);
    let zones: Vec<String> = book.zones().map(|(_, z)| z.to_string()).collect();
    assert_eq!(zones, ["euw1-az1", "euw1-az2", "euw1-az3"]);
    assert!(load.rows_used > 500 && load.other_region > 20_000);
    // Two rows (19:03:21 0.0731, 21:41:21 0.0730): the first holds before and until the second.
    let p = |t: &str| book.spot_price_at("m5.xlarge", "euw1-az2", ts(t));
    assert_eq!(p("2022-05-31T18:00:00Z"), Some(0.0731));
    assert_eq!(p("2022-05-31T21:41:20Z"), Some(0.0731));
    assert_eq!(p("2022-05-31T21:41:21Z"), Some(0.073));
    assert_eq!(p("2022-06-01T00:00:00Z"), Some(0.073));
    let (start, period) = book.spot_window().unwrap();
    eprintln!("window {start} + {} min", period / 60_000);
    assert!(period <= 7 * 3_600_000);
    // us-east-1 has six zone IDs.
    let mut us = PriceBook::new("us-east-1", PriceOs::Linux);
    us.load_file(&path).unwrap();
    assert_eq!(us.zones().count(), 6);
}

#[test]
fn on_demand_csv_and_region_fallback() {
    let Some(path) = data("prices/ec2-ondemand-linux-us-east-1.csv") else {
        return;
    };
    let mut us = PriceBook::new("us-east-1", PriceOs::Linux);
    let load = us.load_file(&path).unwrap();
    assert_eq!(load.format, PriceFormat::OnDemandCsv);
    assert_eq!(load.rows_read, 1_317);
    assert_eq!(load.rows_used, 1_317);
    assert_eq!(us.on_demand_usd_per_hour("m5.large"), Some(0.096));
    assert!(us.notes().is_empty());
    let mut eu = PriceBook::new("eu-west-1", PriceOs::Linux);
    let load = eu.load_file(&path).unwrap();
    assert_eq!(load.rows_used, 1_317);
    assert_eq!(eu.notes().len(), 1);
    assert!(eu.notes()[0].contains("us-east-1"), "{:?}", eu.notes());
}

#[test]
fn spot_advisor_buckets() {
    let Some(path) = data("prices/spot-advisor-data.json") else {
        return;
    };
    let mut book = PriceBook::new("eu-west-1", PriceOs::Linux);
    let load = book.load_file(&path).unwrap();
    eprintln!("{}", load.describe());
    assert_eq!(load.format, PriceFormat::SpotAdvisorJson);
    assert!(load.rows_used > 500, "{}", load.rows_used);
    let a = book.advice("m5.large").unwrap();
    assert!(a.bucket.index <= 4);
    assert!(a.savings_pct > 0.0 && a.savings_pct < 100.0);
    let labels: Vec<String> = (0..5)
        .filter_map(|i| {
            book.instance_types()
                .filter_map(|(id, _)| book.advice_id(id))
                .find(|a| a.bucket.index == i)
                .map(|a| {
                    format!(
                        "{}={}..{}",
                        a.bucket.label, a.bucket.lower_pct, a.bucket.upper_pct
                    )
                })
        })
        .collect();
    eprintln!("buckets: {labels:?}");
    assert_eq!(
        labels,
        [
            "<5%=0..5",
            "5-10%=5..10",
            "10-15%=10..15",
            "15-20%=15..20",
            ">20%=20..100"
        ]
    );
    let mut win = PriceBook::new("eu-west-1", PriceOs::Windows);
    let l = win.load_file(&path).unwrap();
    assert!(l.rows_used > 100 && l.other_os > 500);
}

#[test]
fn all_price_files_together_for_the_real_data_replay() {
    let files = [
        "prices/describe-spot-price-history.eu-west-1.2022-07-11.txt",
        "prices/ec2-ondemand-linux-us-east-1.csv",
        "prices/spot-advisor-data.json",
    ];
    let mut book = PriceBook::new("eu-west-1", PriceOs::Linux);
    for f in files {
        let Some(p) = data(f) else { return };
        book.load_file(p).unwrap();
    }
    for ty in ["m5.large", "c6i.xlarge", "m6g.large"] {
        let id = book.type_id(ty).unwrap();
        assert_eq!(book.spot_zones(id).len(), 3, "{ty}");
        assert!(book.on_demand_usd_per_hour_id(id).is_some(), "{ty}");
        assert!(book.advice_id(id).is_some(), "{ty}");
        let spot = book
            .spot_price_at_id(id, book.spot_zones(id)[0], ts("2022-07-11T00:00:00Z"))
            .unwrap();
        assert!(spot < book.on_demand_usd_per_hour_id(id).unwrap(), "{ty}");
    }
}
