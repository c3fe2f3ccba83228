//! What the page's simulation worker holds: the uploaded trace and price files, and the scenario
//! built from them, and how one replay request becomes one result.
//!
//! Everything here is plain Rust (no wasm-bindgen types), so it is tested natively and behaves the
//! same in the browser. A replay goes through the same functions as `flotilla replay`
//! ([`inputs::load_trace`], [`inputs::load_prices`], [`inputs::scenario`], then the engine), so the
//! report's JSON is byte-identical to `flotilla replay --json` for the same files, config and seed.

use std::collections::BTreeMap;

use flotilla_core::Config;
use flotilla_sim::engine::{replay_with, Scenario};
use flotilla_sim::inputs::{self, Source, DEMO_DAYS};
use flotilla_sim::prices::{PriceBook, PriceOs};
use flotilla_sim::report::{Outcome, Timeline};
use flotilla_sim::settings::WorldSettings;
use flotilla_sim::trace::TraceLoad;
use flotilla_sim::tune::{self, Evaluation, Objective, Space};
use serde::{Deserialize, Serialize};

/// A problem to show the user: which input (a file name, or `config`), which line when one
/// applies, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserError {
    pub source: String,
    pub line: Option<usize>,
    pub reason: String,
}

impl UserError {
    pub fn new(source: &str, reason: impl Into<String>) -> Self {
        UserError {
            source: source.to_string(),
            line: None,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}, line {}: {}", self.source, l, self.reason),
            None => write!(f, "{}: {}", self.source, self.reason),
        }
    }
}

impl From<flotilla_sim::load::LoadError> for UserError {
    fn from(e: flotilla_sim::load::LoadError) -> Self {
        UserError {
            source: e.source,
            line: e.line,
            reason: e.reason,
        }
    }
}

/// Parses and validates a config object (Terraform variable names, as `flotilla replay
/// --config`); every problem is listed, one per line.
pub fn parse_config(value: &serde_json::Value) -> Result<Config, UserError> {
    Config::from_value(value.clone()).map_err(|e| {
        let lines: Vec<String> = e.0.iter().map(|x| x.to_string()).collect();
        UserError::new("config", lines.join("\n"))
    })
}

/// Parses config text (an uploaded `.tfvars.json`).
pub fn parse_config_text(name: &str, text: &str) -> Result<Config, UserError> {
    Config::from_json(text).map_err(|e| {
        let lines: Vec<String> = e.0.iter().map(|x| x.to_string()).collect();
        UserError::new(name, lines.join("\n"))
    })
}

fn demo_days() -> u32 {
    DEMO_DAYS
}
fn one() -> u64 {
    1
}

/// What the page asks for: a config (only the variables that differ from the defaults are
/// needed), the seed of every random draw, and the demo's length when no trace is loaded.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    #[serde(default)]
    pub config: serde_json::Value,
    #[serde(default = "one")]
    pub seed: u64,
    #[serde(default = "demo_days")]
    pub days: u32,
}

impl ReplayRequest {
    pub fn from_json(text: &str) -> Result<Self, UserError> {
        let mut r: ReplayRequest = serde_json::from_str(text)
            .map_err(|e| UserError::new("request", format!("not a valid request: {e}")))?;
        if r.config.is_null() {
            r.config = serde_json::Value::Object(Default::default());
        }
        if r.days == 0 || r.days > 366 {
            return Err(UserError::new("days", "the demo runs 1-366 days"));
        }
        Ok(r)
    }

    pub fn config(&self) -> Result<Config, UserError> {
        parse_config(&self.config)
    }
}

/// A loaded trace, for the page.
#[derive(Clone, Debug, Serialize)]
pub struct TraceSummary {
    pub name: String,
    pub format: String,
    pub jobs: usize,
    pub description: String,
}

/// A loaded price file, for the page.
#[derive(Clone, Debug, Serialize)]
pub struct PriceSummary {
    pub name: String,
    pub format: String,
    pub description: String,
}

/// One instance type the prices know, for the instance-type picker.
#[derive(Clone, Debug, Serialize)]
pub struct TypeInfo {
    pub name: String,
    pub on_demand_usd_per_hour: Option<f64>,
    pub has_spot: bool,
}

/// One replay's result, as the page shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayResult {
    /// Exactly what `flotilla replay --json` prints for the same inputs.
    pub report_json: String,
    /// The table `flotilla replay` prints.
    pub table: String,
    pub timeline: Timeline,
    /// Wait of every started served job, seconds, sorted (the wait CDF).
    pub waits: Vec<f64>,
    /// The config's variables that differ from the defaults (a `.tfvars.json`).
    pub tfvars: serde_json::Map<String, serde_json::Value>,
    /// Instance types the scenario's prices know.
    pub instance_types: Vec<TypeInfo>,
    /// The most common repository owner of the trace (the organization a pool would serve).
    pub trace_owner: String,
    pub trace: String,
    pub prices: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ScenarioKey {
    generation: u64,
    seed: u64,
    days: u32,
    region: String,
    os: String,
}

/// The worker's state: inputs and the scenario built from them for the last request.
#[derive(Default)]
pub struct Session {
    trace: Option<TraceLoad>,
    prices: Vec<(String, Vec<u8>)>,
    /// Bumped whenever the inputs change, so a cached scenario is rebuilt.
    generation: u64,
    cache: Option<(ScenarioKey, Scenario)>,
    world: WorldSettings,
}

impl Session {
    pub fn new() -> Self {
        Session::default()
    }

    /// Loads a trace in any format the CLI accepts, replacing the current one. On error the
    /// current trace stays.
    pub fn load_trace(&mut self, name: &str, bytes: &[u8]) -> Result<TraceSummary, UserError> {
        let load = inputs::load_trace(&Source {
            name: name.to_string(),
            bytes,
        })?;
        if load.jobs.is_empty() {
            return Err(UserError::new(
                name,
                format!(
                    "the trace holds no jobs ({})",
                    load.stats.describe().replace('\n', ";")
                ),
            ));
        }
        let summary = TraceSummary {
            name: name.to_string(),
            format: load.format.name().to_string(),
            jobs: load.jobs.len(),
            description: load.stats.describe(),
        };
        self.trace = Some(load);
        self.changed();
        Ok(summary)
    }

    /// Back to the built-in demo workload.
    pub fn clear_trace(&mut self) {
        self.trace = None;
        self.changed();
    }

    pub fn has_trace(&self) -> bool {
        self.trace.is_some()
    }

    /// Adds a price file (any format the CLI accepts). It is checked now against the region and
    /// OS of `config`; later replays load it again for their config's region. On error nothing
    /// is added.
    pub fn add_prices(
        &mut self,
        name: &str,
        bytes: &[u8],
        config: &Config,
    ) -> Result<PriceSummary, UserError> {
        let os = PriceOs::from_runner_os(config.runner_os.as_str())
            .map_err(|e| UserError::new("config", e))?;
        let mut book = PriceBook::new(&config.aws_region, os);
        let load = book.add_bytes(bytes, name)?;
        self.prices.retain(|(n, _)| n != name);
        self.prices.push((name.to_string(), bytes.to_vec()));
        self.changed();
        Ok(PriceSummary {
            name: name.to_string(),
            format: load.format.name().to_string(),
            description: load.describe(),
        })
    }

    /// Back to the built-in price table.
    pub fn clear_prices(&mut self) {
        self.prices.clear();
        self.changed();
    }

    pub fn price_count(&self) -> usize {
        self.prices.len()
    }

    fn changed(&mut self) {
        self.generation += 1;
        self.cache = None;
    }

    /// The scenario for a config, seed and demo length: built as `flotilla replay` builds it,
    /// reused while the inputs, seed, region and OS stay the same.
    pub fn scenario(
        &mut self,
        config: &Config,
        seed: u64,
        days: u32,
    ) -> Result<&Scenario, UserError> {
        let key = ScenarioKey {
            generation: self.generation,
            seed,
            days: if self.trace.is_some() { 0 } else { days },
            region: config.aws_region.clone(),
            os: config.runner_os.as_str().to_string(),
        };
        let fresh = !matches!(&self.cache, Some((k, _)) if *k == key);
        if fresh {
            self.cache = None;
            let prices = if self.prices.is_empty() {
                None
            } else {
                let sources: Vec<Source<'_>> = self
                    .prices
                    .iter()
                    .map(|(n, b)| Source {
                        name: n.clone(),
                        bytes: b,
                    })
                    .collect();
                Some(inputs::load_prices(config, &sources)?)
            };
            let scenario = inputs::scenario(
                config.clone(),
                self.world.clone(),
                seed,
                self.trace.clone(),
                prices,
                days,
            )
            .map_err(|e| UserError::new("scenario", e))?;
            self.cache = Some((key, scenario));
        }
        Ok(&self.cache.as_ref().expect("scenario cached").1)
    }

    /// The search space around the scenario of `request` (its config is the base).
    pub fn search_space(&mut self, request: &ReplayRequest) -> Result<Space, UserError> {
        let base = request.config()?;
        let scenario = self.scenario(&base, request.seed, request.days)?;
        let space = Space::for_scenario(scenario, &base);
        space
            .validate(&base)
            .map_err(|e| UserError::new("search", e))?;
        Ok(space)
    }

    /// Replays one config of a search on the scenario of `request` (whose config is the base:
    /// the scenario depends only on its region and OS, which a search does not change).
    pub fn evaluate(
        &mut self,
        request: &ReplayRequest,
        index: usize,
        config: &serde_json::Value,
        objective: &Objective,
    ) -> Result<Evaluation, UserError> {
        let base = request.config()?;
        let config = parse_config(config)?;
        let scenario = self.scenario(&base, request.seed, request.days)?;
        Ok(tune::evaluate(scenario, index, &config, objective))
    }

    /// One replay.
    pub fn replay(&mut self, request: &ReplayRequest) -> Result<ReplayResult, UserError> {
        let config = request.config()?;
        let scenario = self.scenario(&config, request.seed, request.days)?;
        let outcome =
            replay_with(scenario, &config).map_err(|e| UserError::new("scenario", e.0))?;
        Ok(result_of(scenario, &config, outcome))
    }
}

/// The most common repository owner of a scenario's jobs.
pub fn trace_owner(scenario: &Scenario) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for j in &scenario.jobs {
        let owner = j.repo.split_once('/').map_or("", |(o, _)| o);
        if !owner.is_empty() {
            *counts.entry(owner).or_default() += 1;
        }
    }
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(o, _)| o.to_string())
        .unwrap_or_default()
}

/// The instance types a scenario's prices know.
pub fn instance_types(scenario: &Scenario) -> Vec<TypeInfo> {
    let book = &scenario.prices;
    book.instance_types()
        .map(|(id, name)| TypeInfo {
            name: name.to_string(),
            on_demand_usd_per_hour: book.on_demand_usd_per_hour_id(id),
            has_spot: !book.spot_zones(id).is_empty(),
        })
        .collect()
}

fn result_of(scenario: &Scenario, config: &Config, outcome: Outcome) -> ReplayResult {
    ReplayResult {
        report_json: outcome.report.to_json(),
        table: outcome.report.to_table(),
        waits: outcome.waits,
        timeline: outcome.timeline,
        tfvars: config.to_tfvars(true),
        instance_types: instance_types(scenario),
        trace_owner: trace_owner(scenario),
        trace: scenario.trace_description.clone(),
        prices: scenario.prices_description.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_sim::engine::replay;

    fn request(json: &str) -> ReplayRequest {
        ReplayRequest::from_json(json).unwrap()
    }

    #[test]
    fn demo_replay_matches_the_cli_path_byte_for_byte() {
        let mut s = Session::new();
        let req = request(r#"{"config": {"delay_webhook_event": 10}, "seed": 3, "days": 2}"#);
        let page = s.replay(&req).unwrap();
        // What `flotilla replay --config c.json --seed 3 --days 2` does.
        let config = req.config().unwrap();
        let scenario =
            inputs::scenario(config, WorldSettings::default(), 3, None, None, 2).unwrap();
        let cli = replay(&scenario).unwrap().report.to_json();
        assert_eq!(page.report_json, cli);
        assert_eq!(page.tfvars.len(), 1);
        assert_eq!(page.trace_owner, "demo-org");
        assert!(!page.instance_types.is_empty());
        assert!(!page.waits.is_empty());
    }

    #[test]
    fn a_cached_scenario_gives_the_same_bytes_as_a_fresh_one() {
        let mut s = Session::new();
        let a = request(r#"{"config": {"runners_maximum_count": 5}, "days": 1}"#);
        let b = request(r#"{"config": {"runners_maximum_count": 9}, "days": 1}"#);
        let first_b = {
            let mut fresh = Session::new();
            fresh.replay(&b).unwrap().report_json
        };
        s.replay(&a).unwrap();
        assert_eq!(s.replay(&b).unwrap().report_json, first_b);
    }

    #[test]
    fn config_errors_name_the_field() {
        let mut s = Session::new();
        let e = s
            .replay(&request(
                r#"{"config": {"delay_webhook_event": 5000, "runners_maximum_cont": 2}}"#,
            ))
            .unwrap_err();
        assert_eq!(e.source, "config");
        assert!(e.reason.contains("runners_maximum_cont"), "{e}");
        assert!(e.reason.contains("did you mean"), "{e}");
    }

    #[test]
    fn bad_requests_are_errors() {
        assert!(ReplayRequest::from_json("{").is_err());
        assert!(ReplayRequest::from_json(r#"{"sed": 1}"#).is_err());
        assert!(ReplayRequest::from_json(r#"{"days": 0}"#).is_err());
        let r = request("{}");
        assert_eq!((r.seed, r.days), (1, DEMO_DAYS));
    }

    #[test]
    fn bad_trace_names_file_line_and_reason_and_keeps_the_old_one() {
        let mut s = Session::new();
        let good = "job_id,run_id,repo,workflow,name,labels,queued_at,started_at,completed_at,conclusion\n\
                    1,1,o/r,ci,build,self-hosted;linux;x64,2025-01-01T00:00:00Z,2025-01-01T00:00:10Z,2025-01-01T00:10:00Z,success\n";
        let summary = s.load_trace("good.csv", good.as_bytes()).unwrap();
        assert_eq!(summary.jobs, 1);
        let bad = format!("{good}2,1,o/r,ci,build,self-hosted,not-a-time,,,\n");
        let e = s.load_trace("bad.csv", bad.as_bytes()).unwrap_err();
        assert_eq!(e.source, "bad.csv");
        assert_eq!(e.line, Some(3), "{e}");
        assert!(s.has_trace());
        let r = s.replay(&request("{}")).unwrap();
        assert!(r.trace.starts_with("good.csv"), "{}", r.trace);
        assert_eq!(r.trace_owner, "o");
        s.clear_trace();
        assert!(!s.has_trace());
    }

    #[test]
    fn bad_prices_are_errors_and_good_ones_are_used() {
        let mut s = Session::new();
        let config = Config::default();
        let e = s
            .add_prices(
                "p.csv",
                b"region,instance_type,usd_per_hour\neu-west-1,m5.large,abc\n",
                &config,
            )
            .unwrap_err();
        assert_eq!(e.source, "p.csv");
        assert_eq!(e.line, Some(2), "{e}");
        assert_eq!(s.price_count(), 0);
        let ok = s
            .add_prices(
                "od.csv",
                b"region,instance_type,usd_per_hour\neu-west-1,m5.large,0.107\neu-west-1,c5.large,0.096\n",
                &config,
            )
            .unwrap();
        assert!(ok.format.contains("on-demand"), "{}", ok.format);
        let r = s
            .replay(&request(
                r#"{"config": {"instance_target_capacity_type": "on-demand"}, "days": 1}"#,
            ))
            .unwrap();
        assert!(r.prices.contains("od.csv"), "{}", r.prices);
    }
}
