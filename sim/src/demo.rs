//! Built-in data so `flotilla replay` runs with no files: a small price table of common CI
//! instance types ([`demo_price_book`]) and a seeded synthetic workload ([`demo_workload`],
//! [`synthetic_workload`], or the streaming [`Workload`]).
//!
//! # Prices
//! us-east-1, Linux. On-demand USD/hour, spot-advisor savings and interruption buckets are the
//! figures of `../shared/data/prices/` (`ec2-ondemand-linux-us-east-1.csv`, generated 2026-07;
//! `spot-advisor-data.json`, 2025-06), written here as constants. Spot prices are derived from
//! them: `on_demand × (1 − savings)`, times a per-zone factor (0.97, 1.00 or 1.04 — real
//! histories show the same type a few percent apart across zones: eu-west-1 m5.large 0.0363 /
//! 0.0370 / 0.0385 on 2022-07-10) and four steps over a UTC day (×1.00 from 00:00, ×1.01 from
//! 07:00, ×1.03 from 13:00, ×1.01 from 19:00, each zone an hour later than the previous: US
//! business hours cost a little more; real day-to-day moves are of this size). The series
//! describe one day, 2025-09-01, declared as the book's spot cycle: aligned to a trace they
//! repeat daily.
//!
//! # Workload
//! Shaped on the linux jobs of the bitcoin/bitcoin trace (`../shared/data/traces/`, 623 runs,
//! 8,393 linux jobs, 29.3 days), measured as follows (numbers in `docs/formats.md`):
//! - **Runs arrive** as a non-homogeneous Poisson process of *bursts*: 25.6 runs per weekday and
//!   7.85 per weekend day (measured: Mon–Fri 22–31, Sat/Sun 7.5–8.2), modulated over the UTC day
//!   by `1 + 0.70 cos(2π (h − 15.85) / 24)` (the first Fourier harmonic of the run creation hours:
//!   relative amplitude 0.70, peak 15:51 UTC). A burst is one run followed, with probability 0.3
//!   each, by another run after an exponential gap of mean 10 min — without bursts, inter-arrival
//!   times have a coefficient of variation of 1.5 and 27 % below 15 min; with them 1.8–2.1 and
//!   41–44 %; the trace has 1.96 and 39 %.
//! - **A run** is one short setup job (lognormal, median 3 s, σ 0.37; the trace's `determine
//!   runners`) and, when it completes, a fan-out of matrix jobs queued together: the full matrix of
//!   13 with probability 0.94 (568 + 21 of 623 runs have 14–15 linux jobs), else 1–12 of them.
//! - **Durations** are lognormal per matrix job with the 13 medians measured per job name
//!   (441 s … 2,849 s) and σ 0.26 (the mean within-name σ of log duration); pooled, this gives
//!   the trace's spread (σ of log duration 0.50 across names, p5 ≈ 400 s, p95 ≈ 2,200 s).
//! - **Outcomes**: 13.1 % cancelled (run time × U², matching the cancelled jobs' quartiles of
//!   0 / 0.17 / 0.51 of their job's median), 3.5 % failed (× U), the rest succeed.
//!
//! All jobs carry `self-hosted, linux, x64`. Synthetic jobs have no observed start: `started_at`
//! is `queued_at` and `completed_at` is `queued_at + run time`, so [`TraceJob::duration_ms`] is
//! the run time the simulator replays.
//!
//! Determinism: `ChaCha8Rng` seeded from the `u64` seed, only `next_u64` draws converted to
//! `f64` here, `libm` for `ln`/`exp`/`cos`/`sqrt`, integer time: the same seed gives the same jobs
//! natively and in wasm32.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use flotilla_core::Timestamp;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::prices::{InterruptionBucket, PriceBook, PriceOs, SpotAdvice};
use crate::trace::TraceJob;

const SECOND_MS: i64 = 1_000;
const HOUR_MS: i64 = 3_600 * SECOND_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// 2025-09-01T00:00:00Z, a Monday: where the demo workload and the demo price day start.
pub const DEMO_START: Timestamp = Timestamp(1_756_684_800_000);

/// The demo price table's region.
pub const DEMO_REGION: &str = "us-east-1";

/// The demo price table's zones.
pub const DEMO_ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

/// An instance type of the built-in table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoInstanceType {
    pub name: &'static str,
    /// `x86_64` or `arm64`.
    pub arch: &'static str,
    pub vcpus: u32,
    pub memory_gib: u32,
    pub on_demand_usd_per_hour: f64,
    /// Spot savings over on-demand, percent (spot advisor).
    pub savings_pct: f64,
    /// Spot-advisor interruption bucket, 0 (`<5%`) … 4 (`>20%`).
    pub interruption_bucket: u8,
}

const fn t(
    name: &'static str,
    arch: &'static str,
    vcpus: u32,
    memory_gib: u32,
    on_demand_usd_per_hour: f64,
    savings_pct: f64,
    interruption_bucket: u8,
) -> DemoInstanceType {
    DemoInstanceType {
        name,
        arch,
        vcpus,
        memory_gib,
        on_demand_usd_per_hour,
        savings_pct,
        interruption_bucket,
    }
}

/// Common CI instance types, us-east-1 Linux (see the module documentation for the sources).
pub const DEMO_INSTANCE_TYPES: [DemoInstanceType; 36] = [
    t("m5.large", "x86_64", 2, 8, 0.096, 66.0, 3),
    t("m5.xlarge", "x86_64", 4, 16, 0.192, 66.0, 4),
    t("m5.2xlarge", "x86_64", 8, 32, 0.384, 54.0, 2),
    t("m6i.large", "x86_64", 2, 8, 0.096, 63.0, 2),
    t("m6i.xlarge", "x86_64", 4, 16, 0.192, 55.0, 1),
    t("m6i.2xlarge", "x86_64", 8, 32, 0.384, 58.0, 4),
    t("m7i.large", "x86_64", 2, 8, 0.1008, 68.0, 3),
    t("m7i.xlarge", "x86_64", 4, 16, 0.2016, 53.0, 3),
    t("m7i.2xlarge", "x86_64", 8, 32, 0.4032, 62.0, 4),
    t("c5.large", "x86_64", 2, 4, 0.085, 59.0, 0),
    t("c5.xlarge", "x86_64", 4, 8, 0.17, 56.0, 0),
    t("c5.2xlarge", "x86_64", 8, 16, 0.34, 56.0, 1),
    t("c6i.large", "x86_64", 2, 4, 0.085, 63.0, 1),
    t("c6i.xlarge", "x86_64", 4, 8, 0.17, 60.0, 3),
    t("c6i.2xlarge", "x86_64", 8, 16, 0.34, 51.0, 1),
    t("c7i.large", "x86_64", 2, 4, 0.08925, 66.0, 4),
    t("c7i.xlarge", "x86_64", 4, 8, 0.1785, 61.0, 4),
    t("c7i.2xlarge", "x86_64", 8, 16, 0.357, 59.0, 4),
    t("c6a.large", "x86_64", 2, 4, 0.0765, 62.0, 3),
    t("c6a.xlarge", "x86_64", 4, 8, 0.153, 59.0, 3),
    t("c6a.2xlarge", "x86_64", 8, 16, 0.306, 57.0, 3),
    t("m6a.large", "x86_64", 2, 8, 0.0864, 59.0, 1),
    t("m6a.xlarge", "x86_64", 4, 16, 0.1728, 57.0, 4),
    t("m6a.2xlarge", "x86_64", 8, 32, 0.3456, 54.0, 4),
    t("m6g.large", "arm64", 2, 8, 0.077, 60.0, 2),
    t("m6g.xlarge", "arm64", 4, 16, 0.154, 68.0, 1),
    t("m6g.2xlarge", "arm64", 8, 32, 0.308, 64.0, 1),
    t("m7g.large", "arm64", 2, 8, 0.0816, 64.0, 2),
    t("m7g.xlarge", "arm64", 4, 16, 0.1632, 62.0, 1),
    t("m7g.2xlarge", "arm64", 8, 32, 0.3264, 64.0, 1),
    t("c6g.large", "arm64", 2, 4, 0.068, 59.0, 1),
    t("c6g.xlarge", "arm64", 4, 8, 0.136, 61.0, 1),
    t("c6g.2xlarge", "arm64", 8, 16, 0.272, 66.0, 0),
    t("c7g.large", "arm64", 2, 4, 0.0725, 49.0, 0),
    t("c7g.xlarge", "arm64", 4, 8, 0.145, 62.0, 0),
    t("c7g.2xlarge", "arm64", 8, 16, 0.29, 69.0, 0),
];

/// Per-zone price factors; zone `z` of type `i` uses `ZONE_FACTORS[(i + z) % 3]`.
const ZONE_FACTORS: [f64; 3] = [1.00, 1.04, 0.97];

/// Steps over the UTC day: (hour, factor); zone `z` changes `z` hours later.
const DAY_STEPS: [(i64, f64); 4] = [(0, 1.00), (7, 1.01), (13, 1.03), (19, 1.01)];

/// The built-in price table as a [`PriceBook`] (us-east-1, Linux), its spot cycle declared as the
/// day [`DEMO_START`] → +24 h.
pub fn demo_price_book() -> PriceBook {
    let mut book = PriceBook::new(DEMO_REGION, PriceOs::Linux);
    for (i, ty) in DEMO_INSTANCE_TYPES.iter().enumerate() {
        book.set_on_demand(ty.name, ty.on_demand_usd_per_hour);
        if let Some(bucket) = InterruptionBucket::standard(ty.interruption_bucket) {
            book.set_advice(
                ty.name,
                SpotAdvice {
                    savings_pct: ty.savings_pct,
                    bucket,
                },
            );
        }
        let base = ty.on_demand_usd_per_hour * (1.0 - ty.savings_pct / 100.0);
        for (z, zone) in DEMO_ZONES.iter().enumerate() {
            let zf = ZONE_FACTORS[(i + z) % ZONE_FACTORS.len()];
            let price = |f: f64| libm::round(base * zf * f * 10_000.0) / 10_000.0;
            let mut points: Vec<(Timestamp, f64)> = DAY_STEPS
                .iter()
                .map(|&(hour, f)| {
                    (
                        DEMO_START.plus_millis((hour + z as i64) % 24 * HOUR_MS),
                        price(f),
                    )
                })
                .collect();
            if z > 0 {
                // Until this zone's first step, the previous day's last step holds.
                let (_, last) = DAY_STEPS[DAY_STEPS.len() - 1];
                points.push((DEMO_START, price(last)));
            }
            book.add_spot_points(ty.name, zone, &points);
        }
    }
    book.set_spot_cycle(DEMO_START, DAY_MS);
    book
}

/// Runs per weekday and per weekend day (bitcoin trace: 25.6 and 7.85).
pub const RUNS_PER_WEEKDAY: f64 = 25.6;
pub const RUNS_PER_WEEKEND_DAY: f64 = 7.85;
/// Relative amplitude and peak hour (UTC) of the daily cycle of run arrivals.
pub const DIURNAL_AMPLITUDE: f64 = 0.70;
pub const DIURNAL_PEAK_HOUR_UTC: f64 = 15.85;
/// Probability that a burst goes on with one more run, and the mean gap before it.
pub const BURST_CONTINUE: f64 = 0.30;
pub const BURST_GAP_MEAN_S: f64 = 600.0;
/// The setup job: lognormal median and σ.
pub const SETUP_MEDIAN_S: f64 = 3.0;
pub const SETUP_SIGMA: f64 = 0.37;
/// Probability a run has the full matrix (else 1–12 of its jobs).
pub const FULL_MATRIX: f64 = 0.94;
/// The matrix: job name and median run time (s), per-job σ of log run time.
pub const MATRIX: [(&str, f64); 13] = [
    ("check-format", 441.0),
    ("build-minimal", 564.0),
    ("cross-compile", 605.0),
    ("build-legacy-distro", 679.0),
    ("test-32bit", 719.0),
    ("test-previous-releases", 769.0),
    ("test-thread-sanitizer", 903.5),
    ("test-arm", 1015.0),
    ("static-analysis", 1042.0),
    ("fuzz", 1133.0),
    ("test-memory-sanitizer", 1171.0),
    ("test-address-sanitizer", 1712.0),
    ("test-each-commit", 2849.0),
];
pub const MATRIX_SIGMA: f64 = 0.26;
/// Outcome shares of matrix jobs.
pub const P_CANCELLED: f64 = 0.131;
pub const P_FAILED: f64 = 0.035;

/// Mean runs per day over a week.
fn runs_per_day() -> f64 {
    (5.0 * RUNS_PER_WEEKDAY + 2.0 * RUNS_PER_WEEKEND_DAY) / 7.0
}

/// Mean jobs per run: the setup job and the expected fan-out.
fn jobs_per_run() -> f64 {
    let n = MATRIX.len() as f64;
    1.0 + FULL_MATRIX * n + (1.0 - FULL_MATRIX) * (1.0 + (n - 1.0)) / 2.0
}

/// Expected jobs per day of the demo shape at rate scale 1 (≈ 279).
pub fn expected_jobs_per_day() -> f64 {
    runs_per_day() * jobs_per_run()
}

/// The demo workload: `days` days of runs from [`DEMO_START`] at the bitcoin trace's rate
/// (≈ 279 jobs a day); jobs of runs that arrive before the end are all included.
pub fn demo_workload(seed: u64, days: u32) -> Vec<TraceJob> {
    Workload::demo(seed, days).collect()
}

/// `n_jobs` jobs of the same shape at a rate scaled so they span about 30 days (for 1,000,000
/// jobs: ×119, ≈ 2,450 runs a day, an organisation-sized load), for benchmarks.
pub fn synthetic_workload(seed: u64, n_jobs: usize) -> Vec<TraceJob> {
    let mut v = Vec::with_capacity(n_jobs);
    v.extend(Workload::synthetic(seed, n_jobs).take(n_jobs));
    v
}

/// Jobs generated but not yet released: kept in slots, ordered by a heap of small keys
/// `(queued_at, job_id, slot)` so the jobs themselves are not moved around.
#[derive(Default)]
struct Pending {
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    slots: Vec<Option<TraceJob>>,
    free: Vec<usize>,
}

impl Pending {
    fn push(&mut self, job: TraceJob) {
        let key = (job.queued_at.0, job.job_id);
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i] = Some(job);
                i
            }
            None => {
                self.slots.push(Some(job));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse((key.0, key.1, slot)));
    }

    fn first_queued_at(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((q, _, _))| *q)
    }

    fn pop(&mut self) -> Option<TraceJob> {
        let Reverse((_, _, slot)) = self.heap.pop()?;
        self.free.push(slot);
        self.slots.get_mut(slot)?.take()
    }
}

/// The synthetic workload as a stream of jobs in `(queued_at, job_id)` order (the simulator
/// can consume it without holding every job).
pub struct Workload {
    rng: ChaCha8Rng,
    /// Rate multiplier over the demo's rate.
    scale: f64,
    /// Arrival clock (ms since the epoch, fractional).
    clock: f64,
    end: Option<i64>,
    next_start: Option<i64>,
    exhausted: bool,
    pending: Pending,
    next_job_id: u64,
    next_run_id: u64,
    /// Jobs left to emit (synthetic) or `u64::MAX`.
    remaining: u64,
    text: SharedText,
}

/// The few distinct texts of the workload, shared by every job.
struct SharedText {
    repo: Arc<str>,
    workflow: Arc<str>,
    labels: Arc<[String]>,
    setup: Arc<str>,
    matrix: Vec<Arc<str>>,
    success: Arc<str>,
    failure: Arc<str>,
    cancelled: Arc<str>,
}

impl SharedText {
    fn new() -> Self {
        SharedText {
            repo: Arc::from("demo-org/app"),
            workflow: Arc::from("CI"),
            labels: Arc::from(vec![
                "self-hosted".to_string(),
                "linux".to_string(),
                "x64".to_string(),
            ]),
            setup: Arc::from("setup"),
            matrix: MATRIX.iter().map(|(n, _)| Arc::from(*n)).collect(),
            success: Arc::from("success"),
            failure: Arc::from("failure"),
            cancelled: Arc::from("cancelled"),
        }
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Success,
    Failure,
    Cancelled,
}

impl Workload {
    fn new(seed: u64, scale: f64, end: Option<i64>, remaining: u64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            0.0
        };
        Workload {
            rng: ChaCha8Rng::seed_from_u64(seed),
            scale,
            clock: DEMO_START.0 as f64,
            end,
            next_start: None,
            exhausted: scale == 0.0 || remaining == 0,
            pending: Pending::default(),
            next_job_id: 1_000_000_001,
            next_run_id: 1_000_001,
            remaining,
            text: SharedText::new(),
        }
    }

    /// See [`demo_workload`].
    pub fn demo(seed: u64, days: u32) -> Self {
        let end = DEMO_START.0 + i64::from(days) * DAY_MS;
        Self::new(seed, 1.0, Some(end), if days == 0 { 0 } else { u64::MAX })
    }

    /// See [`synthetic_workload`]; yields exactly `n_jobs` jobs.
    pub fn synthetic(seed: u64, n_jobs: usize) -> Self {
        let scale = n_jobs as f64 / (30.0 * expected_jobs_per_day());
        Self::new(seed, scale, None, n_jobs as u64)
    }

    /// Uniform in [0, 1) from the top 53 bits of one `u64`.
    #[inline]
    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in (0, 1].
    #[inline]
    fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    #[inline]
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(self.uniform_open0())
    }

    /// Standard normal (Box–Muller, one of the pair).
    #[inline]
    fn normal(&mut self) -> f64 {
        let r = libm::sqrt(-2.0 * libm::log(self.uniform_open0()));
        r * libm::cos(2.0 * core::f64::consts::PI * self.uniform())
    }

    /// Lognormal with the given median (ms) and σ.
    #[inline]
    fn lognormal_ms(&mut self, median_ms: f64, sigma: f64) -> i64 {
        let v = median_ms * libm::exp(sigma * self.normal());
        if v.is_finite() {
            v as i64
        } else {
            0
        }
    }

    /// Runs-per-ms rate of burst starts at time `t`.
    fn burst_rate(&self, t: i64) -> f64 {
        let day = t.div_euclid(DAY_MS);
        let weekday = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday; 0 = Monday
        let per_day = if weekday < 5 {
            RUNS_PER_WEEKDAY
        } else {
            RUNS_PER_WEEKEND_DAY
        };
        let hour = t.rem_euclid(DAY_MS) as f64 / HOUR_MS as f64;
        let diurnal = 1.0
            + DIURNAL_AMPLITUDE
                * libm::cos(2.0 * core::f64::consts::PI * (hour - DIURNAL_PEAK_HOUR_UTC) / 24.0);
        self.scale * per_day / DAY_MS as f64 * diurnal * (1.0 - BURST_CONTINUE)
    }

    /// The next burst start by thinning, or `None` past the end.
    fn draw_burst_start(&mut self) -> Option<i64> {
        let max_rate = self.scale * RUNS_PER_WEEKDAY / DAY_MS as f64
            * (1.0 + DIURNAL_AMPLITUDE)
            * (1.0 - BURST_CONTINUE);
        if max_rate.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        loop {
            self.clock += self.exponential(1.0 / max_rate);
            let t = self.clock as i64;
            if self.end.is_some_and(|e| t >= e) || !self.clock.is_finite() {
                return None;
            }
            if self.uniform() * max_rate < self.burst_rate(t) {
                return Some(t);
            }
        }
    }

    fn job(
        &mut self,
        run_id: u64,
        name: Option<usize>,
        queued: i64,
        run_ms: i64,
        outcome: Outcome,
    ) -> TraceJob {
        let id = self.next_job_id;
        self.next_job_id += 1;
        let text = &self.text;
        let name = match name {
            Some(i) => text.matrix[i].clone(),
            None => text.setup.clone(),
        };
        let conclusion = match outcome {
            Outcome::Success => text.success.clone(),
            Outcome::Failure => text.failure.clone(),
            Outcome::Cancelled => text.cancelled.clone(),
        };
        TraceJob {
            job_id: id,
            run_id,
            run_attempt: 1,
            repo: text.repo.clone(),
            workflow: text.workflow.clone(),
            name,
            labels: text.labels.clone(),
            queued_at: Timestamp(queued),
            started_at: Some(Timestamp(queued)),
            completed_at: Some(Timestamp(queued.saturating_add(run_ms.max(0)))),
            conclusion: Some(conclusion),
        }
    }

    fn push_run(&mut self, t: i64) {
        let run_id = self.next_run_id;
        self.next_run_id += 1;
        let setup_ms = self
            .lognormal_ms(SETUP_MEDIAN_S * 1000.0, SETUP_SIGMA)
            .max(1000);
        let setup = self.job(run_id, None, t, setup_ms, Outcome::Success);
        self.pending.push(setup);
        let n = MATRIX.len();
        let k = if self.uniform() < FULL_MATRIX {
            n
        } else {
            1 + ((self.uniform() * (n - 1) as f64) as usize).min(n - 2)
        };
        let fan_out_at = t.saturating_add(setup_ms);
        for (i, &(_, median_s)) in MATRIX.iter().enumerate().take(k) {
            let full = self.lognormal_ms(median_s * 1000.0, MATRIX_SIGMA);
            let u = self.uniform();
            let (run_ms, outcome) = if u < P_CANCELLED {
                let f = self.uniform();
                ((full as f64 * f * f) as i64, Outcome::Cancelled)
            } else if u < P_CANCELLED + P_FAILED {
                ((full as f64 * self.uniform()) as i64, Outcome::Failure)
            } else {
                (full, Outcome::Success)
            };
            let job = self.job(run_id, Some(i), fan_out_at, run_ms, outcome);
            self.pending.push(job);
        }
    }

    fn push_burst(&mut self, start: i64) {
        let mut t = start as f64;
        self.push_run(start);
        while self.uniform() < BURST_CONTINUE {
            t += self.exponential(BURST_GAP_MEAN_S * 1000.0);
            let at = t as i64;
            if self.end.is_some_and(|e| at >= e) {
                break;
            }
            self.push_run(at);
        }
    }
}

impl Iterator for Workload {
    type Item = TraceJob;

    fn next(&mut self) -> Option<TraceJob> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if self.next_start.is_none() && !self.exhausted {
                self.next_start = self.draw_burst_start();
                self.exhausted = self.next_start.is_none();
            }
            // Every job not yet generated is queued at or after the next burst start (and has a
            // larger id), so anything in the heap up to it is final.
            let frontier = self.next_start.unwrap_or(i64::MAX);
            if self
                .pending
                .first_queued_at()
                .is_some_and(|q| q <= frontier)
            {
                self.remaining -= 1;
                return self.pending.pop();
            }
            match self.next_start.take() {
                Some(start) => self.push_burst(start),
                None => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_start_is_a_monday_midnight() {
        assert_eq!(
            DEMO_START,
            Timestamp::parse_rfc3339("2025-09-01T00:00:00Z").unwrap()
        );
        assert_eq!((DEMO_START.0.div_euclid(DAY_MS) + 3).rem_euclid(7), 0);
    }

    #[test]
    fn expected_rate_matches_the_measured_trace() {
        let j = expected_jobs_per_day();
        assert!((270.0..290.0).contains(&j), "{j}");
    }
}
