//! `flotilla trace fetch` and `flotilla prices fetch` (feature `fetch`): download a job trace
//! from GitHub and prices from AWS into files `flotilla replay --trace/--prices` reads.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use flotilla_sim::fetch::aws::{fetch_prices, PricesFetch, MAX_DAYS};
use flotilla_sim::fetch::github::{fetch_trace, Auth, Target, TraceFetch};
use flotilla_sim::fetch::{install_crypto_provider, parse_date, thousands, DayEnd};
use flotilla_sim::prices::PriceOs;

/// Job traces: `flotilla trace fetch`.
#[derive(Args)]
pub struct TraceCommand {
    #[command(subcommand)]
    command: TraceSub,
}

#[derive(Subcommand)]
enum TraceSub {
    Fetch(TraceFetchArgs),
}

/// Prices: `flotilla prices fetch`.
#[derive(Args)]
pub struct PricesCommand {
    #[command(subcommand)]
    command: PricesSub,
}

#[derive(Subcommand)]
enum PricesSub {
    Fetch(PricesFetchArgs),
}

/// Download the workflow runs of a repository or organisation in a time window, and every job
/// of every attempt, as a canonical JSONL trace (docs/formats.md).
///
/// Resumable: an interrupted fetch leaves OUT.partial and OUT.checkpoint beside OUT; run the same
/// command again to continue (finished runs are not fetched again; each job appears once). An
/// existing OUT is added to. Rate limits are waited out within --max-wait.
///
///   flotilla trace fetch --repo acme/widgets --since 2025-09-01 --until 2025-09-30 --out trace.jsonl
///
///   flotilla trace fetch --org acme --since 2025-09-01 --app-id 12345 --app-key app.pem
#[derive(Args)]
pub struct TraceFetchArgs {
    /// The repository, OWNER/NAME.
    #[arg(
        long,
        value_name = "OWNER/NAME",
        conflicts_with = "org",
        required_unless_present = "org"
    )]
    repo: Option<String>,
    /// Every repository of this organisation the credentials can see.
    #[arg(long, value_name = "ORG")]
    org: Option<String>,
    /// First day (UTC) or RFC 3339 time of run creation, inclusive.
    #[arg(long, value_name = "DATE")]
    since: String,
    /// Last day (UTC, the whole day) or RFC 3339 time, inclusive [default: now].
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Output file (canonical JSONL).
    #[arg(long, value_name = "FILE", default_value = "trace.jsonl")]
    out: PathBuf,
    /// Environment variable holding a personal access token (read access to Actions).
    #[arg(
        long,
        value_name = "VAR",
        default_value = "GITHUB_TOKEN",
        conflicts_with = "app_id"
    )]
    token_env: String,
    /// GitHub App id (authenticate as the App's installation instead of a token).
    #[arg(long, value_name = "N", requires = "app_key")]
    app_id: Option<u64>,
    /// The GitHub App's private key (PEM file).
    #[arg(long, value_name = "FILE", requires = "app_id")]
    app_key: Option<PathBuf>,
    /// Installation id [default: the App's installation on the repository or organisation].
    #[arg(long, value_name = "N", requires = "app_id")]
    installation: Option<u64>,
    /// REST API base URL; GitHub Enterprise Server: https://HOST/api/v3.
    #[arg(long, value_name = "URL", default_value = "https://api.github.com")]
    api_url: String,
    /// Retries of one request (rate limits, 5xx answers, dropped connections).
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_retries: u32,
    /// Total seconds the fetch may spend waiting on rate limits and retries; past it the fetch
    /// stops (resumable).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    max_wait: u64,
    /// Page size of the listing requests (GitHub's maximum, 100, uses the fewest requests).
    #[arg(long, value_name = "N", default_value_t = 100, hide = true)]
    per_page: u32,
}

/// Download spot price history (EC2 DescribeSpotPriceHistory, up to 90 days) and on-demand prices
/// (Price List GetProducts, served from us-east-1) for one region, OS and list of instance types.
///
/// Writes DIR/spot-price-history-REGION-OS.json (the `aws ec2 describe-spot-price-history` JSON)
/// and DIR/on-demand-REGION-OS.csv (region,instance_type,usd_per_hour); both load with
/// `flotilla replay --prices`. Credentials, endpoints and retries come from the usual AWS
/// configuration (AWS_PROFILE, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_EC2, AWS_ENDPOINT_URL_PRICING…).
///
///   flotilla prices fetch --region eu-west-1 --instance-types m5.large,m6i.large --days 30
#[derive(Args)]
pub struct PricesFetchArgs {
    /// AWS region of the spot prices, e.g. eu-west-1.
    #[arg(long, value_name = "REGION")]
    region: String,
    /// Instance types, comma-separated.
    #[arg(long, value_name = "T1,T2,…", value_delimiter = ',', required = true)]
    instance_types: Vec<String>,
    /// Days of spot price history, up to 90.
    #[arg(long, value_name = "N")]
    days: u32,
    /// Operating system: linux or windows.
    #[arg(long, value_name = "OS", default_value = "linux", value_parser = PriceOs::from_runner_os)]
    os: PriceOs,
    /// Folder for the two files.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out_dir: PathBuf,
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn log_line(line: &str) {
    eprintln!("{line}");
}

pub fn run_trace(cmd: TraceCommand) -> Result<(), String> {
    install_crypto_provider();
    let TraceSub::Fetch(a) = cmd.command;
    let target = match (a.repo, a.org) {
        (Some(r), _) => Target::Repo(r),
        (None, Some(o)) => Target::Org(o),
        (None, None) => return Err("give --repo OWNER/NAME or --org ORG".into()),
    };
    let since = parse_date(&a.since, DayEnd::Start).map_err(|e| format!("--since: {e}"))?;
    let until = a
        .until
        .as_deref()
        .map(|u| parse_date(u, DayEnd::End).map_err(|e| format!("--until: {e}")))
        .transpose()?;
    let auth = match (a.app_id, a.app_key) {
        (Some(app_id), Some(key)) => Auth::App {
            app_id,
            key_pem: std::fs::read(&key)
                .map_err(|e| format!("--app-key {}: {e}", key.display()))?,
            installation: a.installation,
        },
        _ => {
            let token = std::env::var(&a.token_env).unwrap_or_default();
            if token.trim().is_empty() {
                return Err(format!(
                    "no GitHub credentials: ${} is not set. Put a token with read access to \
                     Actions there, name another variable with --token-env VAR, or use a GitHub \
                     App (--app-id N --app-key FILE)",
                    a.token_env
                ));
            }
            Auth::Token {
                token: token.trim().to_string(),
                env_var: a.token_env,
            }
        }
    };
    let f = TraceFetch {
        target,
        since,
        until,
        out: a.out,
        auth,
        api_url: a.api_url,
        max_retries: a.max_retries,
        max_wait: Duration::from_secs(a.max_wait),
        per_page: a.per_page,
    };
    let started = Instant::now();
    let mut log = log_line;
    let s = runtime()?.block_on(fetch_trace(&f, &mut log))?;
    println!(
        "wrote {} jobs to {} ({} repositories, {} runs: {} fetched, {} already done; {} jobs \
         fetched, {} dropped without a queue time; {} requests, {} retries, {} s waited; {:.1} s)",
        thousands(s.jobs),
        f.out.display(),
        s.repos,
        thousands(s.runs),
        thousands(s.runs_fetched),
        thousands(s.runs_resumed),
        thousands(s.jobs_fetched),
        s.jobs_skipped,
        thousands(s.requests),
        s.retries,
        s.waited_secs,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn run_prices(cmd: PricesCommand) -> Result<(), String> {
    install_crypto_provider();
    let PricesSub::Fetch(a) = cmd.command;
    let mut types: Vec<String> = a
        .instance_types
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    types.sort();
    types.dedup();
    if a.days == 0 || a.days > MAX_DAYS {
        return Err(format!(
            "--days {} must be 1..={MAX_DAYS} (AWS keeps {MAX_DAYS} days of spot price history)",
            a.days
        ));
    }
    let f = PricesFetch {
        region: a.region.trim().to_string(),
        instance_types: types,
        days: a.days,
        os: a.os,
        out_dir: a.out_dir,
    };
    let started = Instant::now();
    let mut log = log_line;
    let s = runtime()?.block_on(fetch_prices(&f, &mut log))?;
    println!(
        "wrote {} ({} spot prices, {} type×zone series, {} pages)",
        s.spot_file.display(),
        thousands(s.spot_points),
        s.spot_series,
        s.spot_pages
    );
    println!(
        "wrote {} ({} of {} instance types, {} pages; {:.1} s)",
        s.on_demand_file.display(),
        s.on_demand.len(),
        f.instance_types.len(),
        s.on_demand_pages,
        started.elapsed().as_secs_f64()
    );
    for n in &s.notes {
        eprintln!("note: {n}");
    }
    if !s.no_spot.is_empty() {
        eprintln!("warning: no spot price for {}", s.no_spot.join(", "));
    }
    if !s.no_on_demand.is_empty() {
        eprintln!(
            "warning: no on-demand price for {}",
            s.no_on_demand.join(", ")
        );
    }
    let none: Vec<&String> = f
        .instance_types
        .iter()
        .filter(|t| s.no_spot.contains(t) && s.no_on_demand.contains(t))
        .collect();
    if !none.is_empty() {
        return Err(format!(
            "no price at all for {} in {}: a misspelt instance type, or one not offered there?",
            none.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            f.region
        ));
    }
    Ok(())
}
