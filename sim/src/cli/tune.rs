//! `flotilla tune`: search configs on a trace, report the Pareto front of cost vs p95 wait and
//! the cheapest config meeting the SLO as a ready `recommended.tfvars.json`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use flotilla_core::Config;
use flotilla_sim::engine::{replay_with, Scenario};
use flotilla_sim::inputs::DEMO_DAYS;
use flotilla_sim::plot::{files::write_chart, Chart, WaitSeries};
use flotilla_sim::report::Outcome;
use flotilla_sim::tune::{
    evaluate, recommended_tfvars, Evaluation, Objective, Search, Space, TuneResult,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use super::replay::{build_scenario, load_config, InputArgs};

/// Search configs on a job trace: the cheapest whose p95 wait meets the SLO, and the Pareto
/// front of cost vs p95 wait.
///
/// Searches delay_webhook_event, minimum_running_time_in_minutes, idle_config (window and
/// count), pool size (organization runners only), runners_maximum_count, ephemeral vs
/// reusable, instance types (families priced in the region, the base config's size),
/// capacity type and allocation strategy, starting from the base config (--config). Configs
/// over the GitHub API budget of one App installation, or leaving jobs never started, are
/// rejected with the reason. Same inputs and seed give the same result whatever --threads.
///
/// Examples:
///   flotilla tune --slo-p95 120
///   flotilla tune --trace jobs.csv --prices spot.txt --prices ondemand.csv --out tuned --plot tuned
///   flotilla tune --trace september.csv --holdout october.csv --config current.tfvars.json
///
/// Writes to --out: front.txt (the front, base marked *), recommended.tfvars.json (only
/// Terraform variables that differ from the module's defaults), evaluations.json (every
/// config with its metrics) and, with --holdout, holdout.json / holdout.txt. See docs/tuning.md.
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct TuneArgs {
    /// Job trace to tune on (default: the built-in demo workload).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Price data, repeatable: spot history, on-demand CSV, spot advisor (default: built-in table).
    #[arg(long = "prices", value_name = "FILE")]
    pub prices: Vec<PathBuf>,
    /// On-demand price CSV; same as another --prices.
    #[arg(long, value_name = "FILE")]
    pub on_demand: Option<PathBuf>,
    /// Base config or .tfvars.json: the starting point, always evaluated (default: v7 defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// World model settings JSON (as for replay).
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// A second trace: replay the base and the recommended config on it too (same prices).
    #[arg(long, value_name = "FILE")]
    pub holdout: Option<PathBuf>,
    /// The p95 wait for a runner to meet, seconds.
    #[arg(long = "slo-p95", value_name = "SECONDS", default_value_t = 120.0)]
    pub slo_p95: f64,
    /// GitHub API calls per hour one App installation may make (default: the world's budget, 5000).
    #[arg(long, value_name = "CALLS")]
    pub api_budget: Option<u64>,
    /// Configs to evaluate, the base included.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub max_evals: usize,
    /// Seed of the search and of every random draw of the replays.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days of the demo workload when no --trace is given.
    #[arg(long, default_value_t = DEMO_DAYS)]
    pub days: u32,
    /// Print the result (every evaluation, front, recommendation) as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Folder for front.txt, recommended.tfvars.json, evaluations.json (and holdout.*).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Folder for charts (PNG and SVG): Pareto front, wait CDFs, fleet over time, cost.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Worker threads (default: one per core). The result does not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// Runs a search to the end, evaluating each batch in parallel; `tick` after each config.
pub fn run_search(
    scenario: &Scenario,
    mut search: Search,
    pool: &rayon::ThreadPool,
    tick: &(dyn Fn() + Sync),
) -> Result<TuneResult, String> {
    let objective = search.objective().clone();
    while let Some(batch) = search.next_batch() {
        let evals: Vec<Evaluation> = pool.install(|| {
            batch
                .par_iter()
                .map(|(i, c)| {
                    let e = evaluate(scenario, *i, c, &objective);
                    tick();
                    e
                })
                .collect()
        });
        search.record(evals)?;
    }
    Ok(search.result())
}

fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} tuning [{bar:40}] {pos}/{len} configs, {per_sec}, ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Replays a config with the fleet timeline on (for plots and the holdout).
fn replay_full(scenario: &Scenario, config: &Config) -> Result<Outcome, String> {
    replay_with(scenario, config).map_err(|e| e.to_string())
}

pub fn run(args: TuneArgs) -> Result<(), String> {
    if !(args.slo_p95.is_finite() && args.slo_p95 >= 0.0) {
        return Err("--slo-p95 must be a number of seconds, 0 or more".into());
    }
    if args.max_evals == 0 {
        return Err("--max-evals must be at least 1 (the base config)".into());
    }
    if args.threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    let base = load_config(args.config.as_deref())?;
    let mut prices: Vec<&Path> = args.prices.iter().map(PathBuf::as_path).collect();
    if let Some(p) = &args.on_demand {
        prices.push(p);
    }
    let input = |trace| InputArgs {
        trace,
        prices: prices.clone(),
        world: args.world.as_deref(),
        seed: args.seed,
        days: args.days,
    };
    let mut scenario = build_scenario(base.clone(), &input(args.trace.as_deref()))?;
    let holdout = match args.holdout.as_deref() {
        Some(h) => Some(build_scenario(base.clone(), &input(Some(h)))?),
        None => None,
    };
    // The timeline only feeds plots: off for the search (the metrics do not depend on it).
    let timeline_points = scenario.world.timeline_points;
    scenario.world.timeline_points = 0;

    let objective = Objective {
        slo_p95_seconds: args.slo_p95,
        api_budget_per_hour: args
            .api_budget
            .unwrap_or(scenario.world.github_api_budget_per_hour),
    };
    let space = Space::for_scenario(&scenario, &base);
    space.validate(&base)?;
    let search = Search::new(&base, space, objective, args.max_evals, args.seed);
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(n) = args.threads {
        builder = builder.num_threads(n);
    }
    let pool = builder
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))?;
    if !args.json {
        eprintln!(
            "Tuning on {} ({} jobs) with {} threads, up to {} configs",
            scenario.trace_description.lines().next().unwrap_or(""),
            scenario.jobs.len(),
            pool.current_num_threads(),
            args.max_evals
        );
        for n in &search.space().notes {
            eprintln!("  note: {n}");
        }
    }
    let bar = progress_bar(args.max_evals as u64);
    let started = Instant::now();
    let result = run_search(&scenario, search, &pool, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    scenario.world.timeline_points = timeline_points;

    let front = result.front_table();
    let summary = result.summary();
    let holdout_text = match (&holdout, result.base(), result.recommended()) {
        (Some(h), Some(b), Some(r)) => Some(holdout_report(h, b, r)?),
        (Some(_), _, _) => Some((
            "Holdout: nothing to compare (no recommendation).\n".to_string(),
            serde_json::json!({"error": "no recommendation"}),
        )),
        _ => None,
    };

    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create the output folder: {e}", dir.display()))?;
        write(&dir.join("front.txt"), &format!("{summary}\n{front}"))?;
        write(&dir.join("evaluations.json"), &result.to_json())?;
        // Only a config meeting the SLO is "recommended"; the closest one is written apart so
        // nobody applies it by mistake.
        let _ = std::fs::remove_file(dir.join("recommended.tfvars.json"));
        let _ = std::fs::remove_file(dir.join("closest.tfvars.json"));
        if let (Some(rec), Some(e)) = (&result.recommendation, result.recommended()) {
            let vars = serde_json::Value::Object(recommended_tfvars(&e.config));
            let name = if rec.meets_slo {
                "recommended.tfvars.json"
            } else {
                "closest.tfvars.json"
            };
            write(
                &dir.join(name),
                &(serde_json::to_string_pretty(&vars).expect("json") + "\n"),
            )?;
        }
        if let Some((text, json)) = &holdout_text {
            write(&dir.join("holdout.txt"), text)?;
            write(
                &dir.join("holdout.json"),
                &(serde_json::to_string_pretty(json).expect("json") + "\n"),
            )?;
        }
    }
    let mut plotted = Vec::new();
    if let Some(dir) = &args.plot {
        plotted = tune_plots(dir, &scenario, &result)?;
    }
    if args.json {
        print!("{}", result.to_json());
    } else {
        print!("{summary}\n{front}");
        if let Some((text, _)) = &holdout_text {
            print!("\n{text}");
        }
        println!(
            "\n{} configs in {:.1} s ({:.1} configs/s)",
            result.evaluations.len(),
            secs,
            result.evaluations.len() as f64 / secs.max(1e-9)
        );
        if let Some(dir) = &args.out {
            println!(
                "Wrote {} (front.txt, evaluations.json{}{})",
                dir.display(),
                match &result.recommendation {
                    Some(r) if r.meets_slo => ", recommended.tfvars.json",
                    Some(_) => ", closest.tfvars.json (it does not meet the SLO)",
                    None => "",
                },
                if holdout_text.is_some() {
                    ", holdout.txt, holdout.json"
                } else {
                    ""
                }
            );
        }
        if !plotted.is_empty() {
            println!(
                "Charts: {}",
                plotted
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    Ok(())
}

/// The base and the recommended config replayed on the holdout trace.
fn holdout_report(
    holdout: &Scenario,
    base: &Evaluation,
    rec: &Evaluation,
) -> Result<(String, serde_json::Value), String> {
    let b = replay_full(holdout, &base.config)?.report;
    let r = replay_full(holdout, &rec.config)?.report;
    let mut s = format!("Holdout: {}\n", holdout.trace_description);
    s.push_str(&format!(
        "  {:<12} {:>10} {:>7} {:>7} {:>7} {:>8} {:>14}\n",
        "config", "cost USD", "p50 s", "p95 s", "p99 s", "launched", "never started"
    ));
    for (name, rep) in [("base", &b), ("recommended", &r)] {
        s.push_str(&format!(
            "  {:<12} {:>10.2} {:>7.0} {:>7.0} {:>7.0} {:>8} {:>14}\n",
            name,
            rep.cost_usd.total,
            rep.wait_seconds.p50,
            rep.wait_seconds.p95,
            rep.wait_seconds.p99,
            rep.instances.launched,
            rep.jobs.never_started
        ));
    }
    let saved = b.cost_usd.total - r.cost_usd.total;
    s.push_str(&format!(
        "  recommended vs base on the holdout: {} ${:.2} ({:+.1} %), p95 {:.0} s -> {:.0} s\n",
        if saved >= 0.0 { "saves" } else { "costs" },
        saved.abs(),
        if b.cost_usd.total > 0.0 {
            -saved / b.cost_usd.total * 100.0
        } else {
            0.0
        },
        b.wait_seconds.p95,
        r.wait_seconds.p95
    ));
    let json = serde_json::json!({
        "trace": holdout.trace_description,
        "base": {"index": base.index, "report": b},
        "recommended": {"index": rec.index, "report": r},
    });
    Ok((s, json))
}

/// Charts of a search: Pareto front; wait CDFs, cost and fleet of the base and the
/// recommendation (replayed again with the timeline on).
pub fn tune_plots(
    dir: &Path,
    scenario: &Scenario,
    result: &TuneResult,
) -> Result<Vec<PathBuf>, String> {
    let mut out = write_chart(dir, "pareto", &Chart::Pareto(result))?;
    let mut runs: Vec<(&str, Outcome)> = Vec::new();
    if let Some(b) = result.base() {
        // A base that cannot be replayed (its rejection says why) has nothing to draw.
        if let Ok(o) = replay_full(scenario, &b.config) {
            runs.push(("base", o));
        }
    }
    if let Some(r) = result.recommended() {
        let meets = result.recommendation.as_ref().is_some_and(|x| x.meets_slo);
        let label = if meets { "recommended" } else { "closest" };
        runs.push((label, replay_full(scenario, &r.config)?));
    }
    let series: Vec<WaitSeries<'_>> = runs
        .iter()
        .map(|(l, o)| WaitSeries {
            label: l,
            waits: &o.waits,
        })
        .collect();
    out.extend(write_chart(
        dir,
        "wait-cdf",
        &Chart::WaitCdf {
            series,
            slo_seconds: Some(result.objective.slo_p95_seconds),
        },
    )?);
    let bars: Vec<(&str, &flotilla_sim::report::Cost)> =
        runs.iter().map(|(l, o)| (*l, &o.report.cost_usd)).collect();
    out.extend(write_chart(dir, "cost", &Chart::Cost(bars))?);
    for (label, o) in &runs {
        let title = format!("{label} config");
        out.extend(write_chart(
            dir,
            &format!("fleet-{label}"),
            &Chart::Fleet {
                timeline: &o.timeline,
                title: &title,
            },
        )?);
    }
    Ok(out)
}
