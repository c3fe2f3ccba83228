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

pub fn run(a: BenchArgs) -> Result<(), String> {
    let data = PathBuf::from("../shared/data");
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
