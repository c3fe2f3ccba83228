//! Turning files (or the built-in demo) into a [`Scenario`]: the same path for the CLI, the
//! benchmarks and the browser page, so all three replay the same thing for the same inputs.

use flotilla_core::Config;

use crate::demo::{demo_price_book, demo_workload, DEMO_REGION};
use crate::engine::Scenario;
use crate::load::LoadError;
use crate::prices::{PriceBook, PriceOs};
use crate::settings::WorldSettings;
use crate::trace::{parse_trace, TraceLoad};

/// Days of the built-in demo workload.
pub const DEMO_DAYS: u32 = 7;

/// A named input's bytes (a file, or a browser upload).
pub struct Source<'a> {
    pub name: String,
    pub bytes: &'a [u8],
}

/// Loads price sources into a book for the config's region and OS.
pub fn load_prices(
    config: &Config,
    sources: &[Source<'_>],
) -> Result<(PriceBook, String), LoadError> {
    let os = PriceOs::from_runner_os(config.runner_os.as_str())
        .map_err(|e| LoadError::whole("config", e))?;
    let mut book = PriceBook::new(&config.aws_region, os);
    let mut parts = Vec::new();
    for s in sources {
        let load = book.add_bytes(s.bytes, &s.name)?;
        parts.push(format!("{} ({})", s.name, load.format));
    }
    Ok((book, parts.join(", ")))
}

pub fn load_trace(source: &Source<'_>) -> Result<TraceLoad, LoadError> {
    parse_trace(source.bytes, &source.name)
}

/// Assembles a scenario. `trace: None` uses the demo workload of `demo_days`; `prices: None`
/// the built-in price table.
pub fn scenario(
    config: Config,
    world: WorldSettings,
    seed: u64,
    trace: Option<TraceLoad>,
    prices: Option<(PriceBook, String)>,
    demo_days: u32,
) -> Result<Scenario, String> {
    let mut notes = Vec::new();
    let (jobs, trace_description) = match trace {
        Some(t) => {
            let d = format!("{} ({}): {}", t.source, t.format, t.stats.describe());
            if t.jobs.is_empty() {
                return Err(format!("{}: the trace holds no jobs", t.source));
            }
            (t.jobs, d)
        }
        None => {
            let jobs = demo_workload(seed, demo_days);
            let d = format!(
                "built-in demo workload: {} jobs over {demo_days} days (seed {seed}; shaped on bitcoin/bitcoin's linux CI)",
                jobs.len()
            );
            (jobs, d)
        }
    };
    let (mut book, prices_description) = match prices {
        Some(p) => p,
        None => {
            if config.aws_region != DEMO_REGION {
                notes.push(format!(
                    "the built-in price table is for {DEMO_REGION}; aws_region {} is priced as {DEMO_REGION} (give --prices for your region)",
                    config.aws_region
                ));
            }
            (
                demo_price_book(),
                format!("built-in price table ({DEMO_REGION}, Linux; 36 common CI instance types)"),
            )
        }
    };
    for n in book.notes() {
        notes.push(n.clone());
    }
    let first = jobs.first().map(|j| j.queued_at).unwrap_or_default();
    let last = jobs.last().map(|j| j.queued_at).unwrap_or_default();
    book.align_to(first, last);
    Ok(Scenario {
        config,
        world,
        prices: book,
        jobs,
        seed,
        trace_description,
        prices_description,
        notes,
    })
}
