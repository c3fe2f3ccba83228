//! `flotilla bench`: how fast the simulator replays, in jobs per second, and its peak memory.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use flotilla_core::Config;
use flotilla_sim::demo::synthetic_workload;
use flotilla_sim::engine::{replay, Scenario};
use flotilla_sim::inputs;
use flotilla_sim::settings::WorldSettings;

/// Measure replay speed (single-threaded) and peak memory.
///
/// Replays (1) the real trace when --trace is given or ../shared/data is present, with the
/// given --prices, and (2) a synthetic trace of --jobs jobs (default 1,000,000): the demo
/// workload's shape (bursty runs of 13-job matrices, lognormal durations, weekday and
/// time-of-day profile) at 119 times its intensity, so a million jobs span about 30 days —
/// ~33,000 jobs a day, peaking near 1,600 concurrent jobs — against a pool allowed 2,000
/// ephemeral runners. Prints jobs/s, wall time and peak RSS (VmHWM).
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct BenchArgs {
    /// Jobs in the synthetic trace.
    #[arg(long, default_value_t = 1_000_000)]
    pub jobs: usize,
    /// Real trace to time (default: ../shared/data/traces/bitcoin-core-gha-jobs-2025-09.csv if present).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Price files for the real trace (default: the eu-west-1 files of ../shared/data if present).
    #[arg(long = "prices", value_name = "FILE")]
    pub prices: Vec<PathBuf>,
    /// Skip the real trace.
    #[arg(long)]
    pub synthetic_only: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Instead: time `flotilla tune` searching N configs over the real trace (default base
    /// config, SLO p95 120 s), in parallel; prints configs/s, wall time and the recommendation.
    #[arg(long, value_name = "N")]
    pub tune: Option<usize>,
    /// Worker threads for --tune (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn time(label: &str, s: &Scenario) -> Result<(), String> {
    let t = Instant::now();
    let out = replay(s).map_err(|e| e.to_string())?;
    let secs = t.elapsed().as_secs_f64();
    let jobs = out.report.jobs.total;
    println!(
        "{label}: {jobs} jobs in {secs:.3} s = {:.0} jobs/s; {} instances launched; wait p95 {:.0} s; peak RSS so far {}",
        jobs as f64 / secs,
        out.report.instances.launched,
        out.report.wait_seconds.p95,
        peak_rss_mb().map(|m| format!("{m:.0} MB")).unwrap_or_else(|| "n/a".into())
    );
    Ok(())
}

/// The tuner over the real trace: `n` configs, wall time and configs/s.
fn tune_bench(
    a: &BenchArgs,
    n: usize,
    trace: &std::path::Path,
    prices: &[PathBuf],
) -> Result<(), String> {
    use flotilla_sim::tune::{Objective, Search, Space};
    let base = Config::default();
    let t = Instant::now();
    let mut scenario = super::replay::build_scenario(
        base.clone(),
        &super::replay::InputArgs {
            trace: Some(trace),
            prices: prices.iter().map(PathBuf::as_path).collect(),
            world: None,
            seed: a.seed,
            days: 0,
        },
    )?;
    scenario.world.timeline_points = 0;
    println!(
        "tune bench: {} jobs loaded in {:.2} s",
        scenario.jobs.len(),
        t.elapsed().as_secs_f64()
    );
    let space = Space::for_scenario(&scenario, &base);
    let search = Search::new(&base, space, Objective::default(), n, a.seed);
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(k) = a.threads {
        builder = builder.num_threads(k);
    }
    let pool = builder.build().map_err(|e| e.to_string())?;
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    let result = super::tune::run_search(&scenario, search, &pool, &|| {})?;
    let wall = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let k = result.evaluations.len();
    println!(
        "tune bench: {k} configs in {wall:.2} s wall = {:.1} configs/s on {} threads{}; peak RSS {}",
        k as f64 / wall,
        pool.current_num_threads(),
        cpu.map(|c| format!(" ({c:.1} s CPU, {:.0} ms CPU per config)", c * 1000.0 / k as f64))
            .unwrap_or_default(),
        peak_rss_mb().map(|m| format!("{m:.0} MB")).unwrap_or_else(|| "n/a".into())
    );
    print!("{}", result.summary());
    Ok(())
}

/// CPU time of this process (user + system), seconds.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

pub fn run(a: BenchArgs) -> Result<(), String> {
    let data = PathBuf::from("../shared/data");
    if let Some(n) = a.tune {
        let trace = a
            .trace
            .clone()
            .unwrap_or_else(|| data.join("traces/bitcoin-core-gha-jobs-2025-09.csv"));
        let mut prices = a.prices.clone();
        if prices.is_empty() {
            for f in [
                "prices/describe-spot-price-history.eu-west-1.2022-07-11.txt",
                "prices/ec2-ondemand-linux-us-east-1.csv",
                "prices/spot-advisor-data.json",
            ] {
                prices.push(data.join(f));
            }
        }
        return tune_bench(&a, n, &trace, &prices);
    }
    if !a.synthetic_only {
        let trace = a.trace.clone().or_else(|| {
            let p = data.join("traces/bitcoin-core-gha-jobs-2025-09.csv");
            p.is_file().then_some(p)
        });
        match trace {
            Some(trace) => {
                let mut prices = a.prices.clone();
                if prices.is_empty() {
                    for f in [
                        "prices/describe-spot-price-history.eu-west-1.2022-07-11.txt",
                        "prices/ec2-ondemand-linux-us-east-1.csv",
                        "prices/spot-advisor-data.json",
                    ] {
                        if data.join(f).is_file() {
                            prices.push(data.join(f));
                        }
                    }
                }
                let config = Config::from_json(r#"{"runners_maximum_count": 40, "enable_ephemeral_runners": true, "delay_webhook_event": 0}"#)
                    .expect("bench config");
                let scenario = super::replay::build_scenario(
                    config,
                    &super::replay::InputArgs {
                        trace: Some(&trace),
                        prices: prices.iter().map(PathBuf::as_path).collect(),
                        world: None,
                        seed: a.seed,
                        days: 0,
                    },
                )?;
                time(&format!("real trace {}", trace.display()), &scenario)?;
            }
            None => println!("real trace: skipped (no --trace and ../shared/data is absent)"),
        }
    }
    let t = Instant::now();
    let jobs = synthetic_workload(a.seed, a.jobs);
    println!(
        "synthetic trace: {} jobs generated in {:.3} s",
        jobs.len(),
        t.elapsed().as_secs_f64()
    );
    let config = Config::from_json(r#"{"runners_maximum_count": 2000, "enable_ephemeral_runners": true, "delay_webhook_event": 0, "lambda_event_source_mapping_batch_size": 10, "scale_up_reserved_concurrent_executions": 10}"#)
        .expect("bench config");
    let world = WorldSettings {
        timeline_points: 0,
        ..WorldSettings::default()
    };
    let scenario = inputs::scenario(config, world, a.seed, None, None, 0).map(|mut s| {
        s.jobs = jobs;
        s.trace_description = "synthetic".into();
        s
    })?;
    time("synthetic", &scenario)?;
    Ok(())
}
