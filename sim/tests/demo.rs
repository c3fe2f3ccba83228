//! The built-in demo data: deterministic generators with the documented shape, and a price table
//! that answers every lookup the simulator makes.

use flotilla_core::Timestamp;
use flotilla_sim::demo::{
    demo_price_book, demo_workload, expected_jobs_per_day, synthetic_workload, Workload,
    DEMO_INSTANCE_TYPES, DEMO_START, DEMO_ZONES, MATRIX,
};
use flotilla_sim::prices::AlignmentKind;
use flotilla_sim::trace::{parse_canonical_jsonl, to_canonical_jsonl, TraceJob};

const DAY: i64 = 86_400_000;

fn fingerprint(jobs: &[TraceJob]) -> u64 {
    // FNV-1a over the canonical JSONL: a stable summary of every field.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in to_canonical_jsonl(jobs).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[test]
fn same_seed_same_jobs_different_seed_different_jobs() {
    let a = demo_workload(7, 7);
    let b = demo_workload(7, 7);
    let c = demo_workload(8, 7);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(synthetic_workload(1, 5_000), synthetic_workload(1, 5_000));
    assert_ne!(synthetic_workload(1, 5_000), synthetic_workload(2, 5_000));
}

/// Pins the generator's output: a change of any draw, formula or constant changes this value,
/// and the wasm32 build must give the same (the web crate checks it there).
#[test]
fn the_demo_workload_is_pinned() {
    let jobs = demo_workload(42, 3);
    let fp = fingerprint(&jobs);
    eprintln!(
        "demo_workload(42, 3): {} jobs, fingerprint {fp:#018x}",
        jobs.len()
    );
    assert_eq!((jobs.len(), fp), PINNED);
}

const PINNED: (usize, u64) = (952, 0xb07a_a137_869e_3c35);

#[test]
fn jobs_are_sorted_unique_and_well_formed() {
    let jobs = demo_workload(3, 14);
    assert!(jobs
        .windows(2)
        .all(|w| (w[0].queued_at, w[0].job_id) < (w[1].queued_at, w[1].job_id)));
    let mut ids: Vec<u64> = jobs.iter().map(|j| j.job_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), jobs.len());
    let end = Timestamp(DEMO_START.0 + 14 * DAY);
    for j in &jobs {
        assert!(j.queued_at >= DEMO_START);
        assert_eq!(j.labels[..], ["self-hosted", "linux", "x64"]);
        assert!(j.duration_ms().is_some());
        assert_eq!(j.started_at, Some(j.queued_at));
    }
    // Setup jobs (one per run) start every run and arrive before the end.
    assert!(jobs
        .iter()
        .filter(|j| &*j.name == "setup")
        .all(|j| j.queued_at < end));
    // Canonical JSONL round-trips.
    let back = parse_canonical_jsonl(&to_canonical_jsonl(&jobs), "roundtrip").unwrap();
    assert_eq!(back.jobs, jobs);
}

fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[test]
fn the_shape_matches_the_measured_trace() {
    // 8 weeks, several seeds: rates, weekly and daily profile, run size, durations, outcomes.
    let days = 56;
    let mut jobs = Vec::new();
    for seed in 0..4 {
        jobs.extend(demo_workload(seed, days));
    }
    let n_days = 4.0 * f64::from(days);
    let per_day = jobs.len() as f64 / n_days;
    eprintln!(
        "jobs/day {per_day:.1} (expected {:.1})",
        expected_jobs_per_day()
    );
    assert!(
        (per_day / expected_jobs_per_day() - 1.0).abs() < 0.1,
        "{per_day}"
    );

    let setups: Vec<&TraceJob> = jobs.iter().filter(|j| &*j.name == "setup").collect();
    let weekday = |t: Timestamp| (t.0.div_euclid(DAY) + 3).rem_euclid(7);
    let wk =
        setups.iter().filter(|j| weekday(j.queued_at) < 5).count() as f64 / (n_days * 5.0 / 7.0);
    let we =
        setups.iter().filter(|j| weekday(j.queued_at) >= 5).count() as f64 / (n_days * 2.0 / 7.0);
    eprintln!("runs per weekday {wk:.1}, per weekend day {we:.1}");
    assert!(
        (wk - 25.6).abs() < 2.5 && (we - 7.85).abs() < 1.5,
        "{wk} {we}"
    );
    let hour = |t: Timestamp| t.0.rem_euclid(DAY) / 3_600_000;
    let night = setups
        .iter()
        .filter(|j| (2..6).contains(&hour(j.queued_at)))
        .count();
    let afternoon = setups
        .iter()
        .filter(|j| (14..18).contains(&hour(j.queued_at)))
        .count();
    eprintln!("runs 02-06 UTC {night}, 14-18 UTC {afternoon}");
    assert!(afternoon > 3 * night);

    let per_run = jobs.len() as f64 / setups.len() as f64;
    eprintln!("jobs per run {per_run:.2}");
    assert!((13.0..14.2).contains(&per_run));

    let mut d: Vec<f64> = jobs
        .iter()
        .filter(|j| &*j.name != "setup" && j.conclusion.as_deref() == Some("success"))
        .map(|j| j.duration_ms().unwrap() as f64 / 1000.0)
        .collect();
    d.sort_by(f64::total_cmp);
    let (p5, p50, p95) = (
        nearest_rank(&d, 0.05),
        nearest_rank(&d, 0.5),
        nearest_rank(&d, 0.95),
    );
    eprintln!("successful matrix jobs: p5 {p5:.0} s, p50 {p50:.0} s, p95 {p95:.0} s (trace: 417, 917, 2243)");
    assert!(
        (350.0..500.0).contains(&p5)
            && (800.0..1050.0).contains(&p50)
            && (1900.0..2700.0).contains(&p95)
    );

    let matrix: Vec<&TraceJob> = jobs.iter().filter(|j| &*j.name != "setup").collect();
    let share = |c: &str| {
        matrix
            .iter()
            .filter(|j| j.conclusion.as_deref() == Some(c))
            .count() as f64
            / matrix.len() as f64
    };
    eprintln!(
        "cancelled {:.3}, failed {:.3}",
        share("cancelled"),
        share("failure")
    );
    assert!((share("cancelled") - 0.131).abs() < 0.01 && (share("failure") - 0.035).abs() < 0.006);
    assert!(MATRIX
        .iter()
        .all(|(name, _)| matrix.iter().any(|j| &*j.name == *name)));

    // Burstiness of run arrivals (one workload): CV of inter-arrival gaps well above a Poisson
    // process's 1.
    let one = demo_workload(0, days);
    let starts: Vec<i64> = one
        .iter()
        .filter(|j| &*j.name == "setup")
        .map(|j| j.queued_at.0)
        .collect();
    let gaps: Vec<f64> = starts.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let sd = (gaps.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / gaps.len() as f64).sqrt();
    let short = gaps.iter().filter(|g| **g < 900_000.0).count() as f64 / gaps.len() as f64;
    eprintln!(
        "inter-arrival CV {:.2}, share < 15 min {short:.2} (trace: 1.96, 0.39)",
        sd / mean
    );
    assert!(sd / mean > 1.5 && (0.3..0.5).contains(&short));
}

#[test]
fn synthetic_gives_exactly_n_jobs_over_about_a_month() {
    let jobs = synthetic_workload(9, 20_000);
    assert_eq!(jobs.len(), 20_000);
    assert!(jobs
        .windows(2)
        .all(|w| (w[0].queued_at, w[0].job_id) < (w[1].queued_at, w[1].job_id)));
    let span = jobs[jobs.len() - 1].queued_at.0 - jobs[0].queued_at.0;
    assert!(span > 20 * DAY && span < 40 * DAY, "{span}");
    assert!(synthetic_workload(1, 0).is_empty());
    assert!(demo_workload(1, 0).is_empty());
    // The stream and the Vec agree.
    let streamed: Vec<TraceJob> = Workload::synthetic(9, 20_000).collect();
    assert_eq!(streamed, jobs);
}

/// Prints the time for 1,000,000 jobs (no assertion on time: run with `--release --nocapture`).
#[test]
fn one_million_jobs() {
    let started = std::time::Instant::now();
    let jobs = synthetic_workload(2025, 1_000_000);
    let elapsed = started.elapsed();
    eprintln!(
        "synthetic_workload(2025, 1_000_000): {} jobs in {:.3} s, {} runs, span {:.1} days",
        jobs.len(),
        elapsed.as_secs_f64(),
        jobs.iter().filter(|j| &*j.name == "setup").count(),
        (jobs[jobs.len() - 1].queued_at.0 - jobs[0].queued_at.0) as f64 / DAY as f64
    );
    assert_eq!(jobs.len(), 1_000_000);
}

#[test]
fn the_price_table_answers_every_lookup() {
    let mut book = demo_price_book();
    assert_eq!(book.region(), "us-east-1");
    for ty in DEMO_INSTANCE_TYPES {
        let od = book.on_demand_usd_per_hour(ty.name).unwrap();
        assert_eq!(od, ty.on_demand_usd_per_hour);
        let advice = book.advice(ty.name).unwrap();
        assert_eq!(advice.bucket.index, ty.interruption_bucket);
        for zone in DEMO_ZONES {
            let id = book.type_id(ty.name).unwrap();
            let series = book.series(id, book.az_id(zone).unwrap()).unwrap();
            assert!(series.len() >= 3, "{} {zone}", ty.name);
            assert_eq!(series.first_time(), Some(DEMO_START));
            for (_, p) in series.points() {
                assert!(p > 0.0 && p < od, "{} {zone} {p}", ty.name);
            }
        }
    }
    // m5.large, us-east-1a at 14:00: 0.096 × 0.34 × 1.00 × 1.03 = 0.0336.
    let t = Timestamp(DEMO_START.0 + 14 * 3_600_000);
    assert_eq!(
        book.spot_price_at("m5.large", "us-east-1a", t),
        Some(0.0336)
    );
    // Aligned to a week of demo workload: as is, repeated daily.
    let a = book
        .align_to(DEMO_START, Timestamp(DEMO_START.0 + 7 * DAY))
        .clone();
    assert_eq!(a.kind, AlignmentKind::AsIs);
    assert_eq!(a.period_ms, DAY);
    eprintln!("{}", a.description);
    assert_eq!(
        book.spot_price_at("m5.large", "us-east-1a", Timestamp(t.0 + 5 * DAY)),
        Some(0.0336)
    );
    // A whole day costs the time-weighted mean: 7 h ×1.00, 6 h ×1.01, 6 h ×1.03, 5 h ×1.01.
    let day = book
        .spot_cost_usd(
            "m5.large",
            "us-east-1a",
            DEMO_START,
            Timestamp(DEMO_START.0 + DAY),
        )
        .unwrap();
    let expected = 7.0 * 0.0326 + 6.0 * 0.0330 + 6.0 * 0.0336 + 5.0 * 0.0330;
    assert!((day - expected).abs() < 1e-9, "{day} vs {expected}");
}
