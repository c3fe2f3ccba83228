//! The `flotilla` command line: argument parsing and dispatch; each subcommand in its own file.

mod bench;
#[cfg(feature = "fetch")]
mod fetch;
mod replay;
mod tune;

use clap::{Parser, Subcommand};

/// Flotilla: self-hosted GitHub Actions runners on AWS spot, and the simulator that tunes them.
///
/// The simulator drives the same scaling policy the production Lambdas run
/// (flotilla-core) through a model of GitHub, SQS, EC2 Fleet and the spot market,
/// in virtual time. Same inputs and seed give byte-identical results.
#[derive(Parser)]
#[command(
    name = "flotilla",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Replay(replay::ReplayArgs),
    Tune(tune::TuneArgs),
    Bench(bench::BenchArgs),
    /// Job traces from GitHub: `flotilla trace fetch`.
    #[cfg(feature = "fetch")]
    Trace(fetch::TraceCommand),
    /// Spot and on-demand prices from AWS: `flotilla prices fetch`.
    #[cfg(feature = "fetch")]
    Prices(fetch::PricesCommand),
}

/// Exit codes: 0 success, 1 the work failed, 2 bad input (a message says which and why).
pub fn main() -> i32 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Replay(args) => replay::run(args),
        Command::Tune(args) => tune::run(args),
        Command::Bench(args) => bench::run(args),
        #[cfg(feature = "fetch")]
        Command::Trace(args) => fetch::run_trace(args),
        #[cfg(feature = "fetch")]
        Command::Prices(args) => fetch::run_prices(args),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
