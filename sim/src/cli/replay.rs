//! `flotilla replay`: one config, one trace, one price history → one report.

use std::path::{Path, PathBuf};

use clap::Args;
use flotilla_core::Config;
use flotilla_sim::engine::replay;
use flotilla_sim::inputs::{self, Source, DEMO_DAYS};
use flotilla_sim::settings::WorldSettings;

/// Replay a job trace through the scaling policy and report waits, cost and fleet.
///
/// With no arguments it replays the built-in demo: a week of synthetic jobs shaped on
/// bitcoin/bitcoin's linux CI, priced with a built-in us-east-1 table.
///
/// Examples:
///   flotilla replay
///   flotilla replay --trace jobs.jsonl --prices spot-history.json --prices ondemand.csv
///   flotilla replay --config recommended.tfvars.json --json > report.json
///
/// Trace formats (detected): canonical JSONL/CSV, GitHub REST jobs JSON, archived
/// workflow_job webhooks (JSONL), the ci-stats CSV. Price formats (detected): `aws ec2
/// describe-spot-price-history` JSON, AWS CLI text, legacy SPOTINSTANCEPRICE text, AZ-ID TSV,
/// on-demand CSV, spot-advisor JSON. See docs/formats.md.
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct ReplayArgs {
    /// Job trace to replay (default: the built-in demo workload).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Price data, repeatable: spot history, on-demand CSV, spot advisor (default: built-in table).
    #[arg(long = "prices", value_name = "FILE")]
    pub prices: Vec<PathBuf>,
    /// On-demand price CSV (`region,instance_type,usd_per_hour`); same as another --prices.
    #[arg(long, value_name = "FILE")]
    pub on_demand: Option<PathBuf>,
    /// Pool config or .tfvars.json (Terraform variable names; default: v7 defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// World model settings JSON: boot times, latencies, capacity errors, interruptions.
    ///
    /// Every field is optional (the rest keep their defaults); fields, defaults and the delay
    /// syntax are in docs/formats.md ("World settings"), e.g.
    /// `{"instance_boot": {"distribution": "log_normal", "median": 55, "sigma": 0.3}}`.
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// Seed of every random draw (boot times, interruptions, the demo workload).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days of the demo workload when no --trace is given.
    #[arg(long, default_value_t = DEMO_DAYS)]
    pub days: u32,
    /// Print the report as JSON (schema: docs/report.schema.json) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write charts (PNG and SVG) to this folder: fleet over time, wait CDF, cost by component.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
}

pub fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

pub fn load_config(path: Option<&Path>) -> Result<Config, String> {
    match path {
        None => Ok(Config::default()),
        Some(p) => {
            let text = String::from_utf8(read(p)?)
                .map_err(|_| format!("{}: not UTF-8 text", p.display()))?;
            Config::from_json(&text).map_err(|e| {
                let lines: Vec<String> = e.0.iter().map(|x| format!("  {x}")).collect();
                format!(
                    "{}: the config is not valid:\n{}",
                    p.display(),
                    lines.join("\n")
                )
            })
        }
    }
}

pub fn load_world(path: Option<&Path>) -> Result<WorldSettings, String> {
    match path {
        None => Ok(WorldSettings::default()),
        Some(p) => {
            let bytes = read(p)?;
            let w: WorldSettings = serde_json::from_slice(&bytes).map_err(|e| {
                format!(
                    "{}, line {}: not valid world settings: {e}",
                    p.display(),
                    e.line()
                )
            })?;
            w.validate().map_err(|e| format!("{}: {e}", p.display()))?;
            Ok(w)
        }
    }
}

/// Everything replay and tune share: files → scenario.
pub struct InputArgs<'a> {
    pub trace: Option<&'a Path>,
    pub prices: Vec<&'a Path>,
    pub world: Option<&'a Path>,
    pub seed: u64,
    pub days: u32,
}

pub fn build_scenario(
    config: Config,
    a: &InputArgs<'_>,
) -> Result<flotilla_sim::engine::Scenario, String> {
    let world = load_world(a.world)?;
    let trace = match a.trace {
        Some(p) => {
            let bytes = read(p)?;
            Some(
                inputs::load_trace(&Source {
                    name: p.display().to_string(),
                    bytes: &bytes,
                })
                .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    let prices = if a.prices.is_empty() {
        None
    } else {
        let files: Vec<(String, Vec<u8>)> = a
            .prices
            .iter()
            .map(|p| read(p).map(|b| (p.display().to_string(), b)))
            .collect::<Result<_, _>>()?;
        let sources: Vec<Source<'_>> = files
            .iter()
            .map(|(n, b)| Source {
                name: n.clone(),
                bytes: b,
            })
            .collect();
        Some(inputs::load_prices(&config, &sources).map_err(|e| e.to_string())?)
    };
    inputs::scenario(config, world, a.seed, trace, prices, a.days)
}

pub fn run(args: ReplayArgs) -> Result<(), String> {
    let config = load_config(args.config.as_deref())?;
    let mut prices: Vec<&Path> = args.prices.iter().map(PathBuf::as_path).collect();
    if let Some(p) = &args.on_demand {
        prices.push(p);
    }
    let scenario = build_scenario(
        config,
        &InputArgs {
            trace: args.trace.as_deref(),
            prices,
            world: args.world.as_deref(),
            seed: args.seed,
            days: args.days,
        },
    )?;
    let outcome = replay(&scenario).map_err(|e| e.to_string())?;
    if args.json {
        print!("{}", outcome.report.to_json());
    } else {
        print!("{}", outcome.report.to_table());
    }
    if let Some(dir) = &args.plot {
        let written = replay_plots(dir, &outcome)?;
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        eprintln!("Charts: {}", names.join(", "));
    }
    Ok(())
}

/// Charts of one replay: fleet over time, wait CDF, cost by component.
pub fn replay_plots(
    dir: &Path,
    outcome: &flotilla_sim::report::Outcome,
) -> Result<Vec<PathBuf>, String> {
    use flotilla_sim::plot::{files::write_chart, Chart, WaitSeries};
    let mut out = write_chart(
        dir,
        "fleet",
        &Chart::Fleet {
            timeline: &outcome.timeline,
            title: "replay",
        },
    )?;
    out.extend(write_chart(
        dir,
        "wait-cdf",
        &Chart::WaitCdf {
            series: vec![WaitSeries {
                label: "replay",
                waits: &outcome.waits,
            }],
            slo_seconds: None,
        },
    )?);
    out.extend(write_chart(
        dir,
        "cost",
        &Chart::Cost(vec![("replay", &outcome.report.cost_usd)]),
    )?);
    Ok(out)
}
