//! The tuner: which config, replayed on the user's own trace and prices, is cheapest while jobs
//! still get a runner fast enough.
//!
//! - [`Space`]: the choices per dimension (delay, minimum running time, idle window and count,
//!   pool size, maximum count, ephemeral, instance types, capacity type, allocation strategy).
//! - [`Search`]: a deterministic state machine handing out batches of configs; evaluate them in
//!   any order or in parallel ([`evaluate`]) and [`Search::record`] them.
//! - [`pareto_front`] of cost vs p95 wait, [`recommend`]: the cheapest config meeting the SLO.
//! - [`recommended_tfvars`]: the recommendation as Terraform variables, applied by `terraform/`
//!   as is.
//!
//! Everything here builds for wasm32 (no threads, no clock): the browser page runs the same
//! search in a Web Worker, one config at a time.

mod search;
mod space;

use std::fmt::Write as _;

use flotilla_core::Config;
use serde::{Deserialize, Serialize};

use crate::engine::{replay_with, Scenario};
use crate::report::{self, Report};

pub use search::Search;
pub use space::{
    instance_type_sets, peak_demand, IdleWindow, Point, Space, ARM64_FAMILIES, DIMENSIONS,
    X64_FAMILIES,
};

/// What "good" means.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Objective {
    /// The p95 wait for a runner (seconds) a config must meet to be recommended.
    pub slo_p95_seconds: f64,
    /// GitHub API calls one App installation may make per hour; configs whose busiest hour
    /// needs more are rejected.
    pub api_budget_per_hour: u64,
}

impl Default for Objective {
    fn default() -> Self {
        Objective {
            slo_p95_seconds: 120.0,
            api_budget_per_hour: 5_000,
        }
    }
}

/// The numbers of one replay the tuner compares configs by (the same values, bit for bit, as
/// the report of `flotilla replay` with that config).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub cost_usd: report::Cost,
    pub cost_per_job_hour_usd: f64,
    pub wait_seconds: report::WaitSeconds,
    pub utilisation: f64,
    pub instances_launched: u64,
    pub instances_peak: u64,
    pub billed_instance_hours: f64,
    pub interruptions: u64,
    pub github_api_peak_per_hour: u64,
    pub jobs_completed: u64,
    pub jobs_never_started: u64,
    pub jobs_unfinished: u64,
}

impl Metrics {
    pub fn from_report(r: &Report) -> Metrics {
        Metrics {
            cost_usd: r.cost_usd.clone(),
            cost_per_job_hour_usd: r.cost_per_job_hour_usd,
            wait_seconds: r.wait_seconds.clone(),
            utilisation: r.utilisation,
            instances_launched: r.instances.launched,
            instances_peak: r.instances.peak,
            billed_instance_hours: r.instances.billed_instance_hours,
            interruptions: r.interruptions,
            github_api_peak_per_hour: r.github_api.peak_per_hour,
            jobs_completed: r.jobs.completed,
            jobs_never_started: r.jobs.never_started,
            jobs_unfinished: r.jobs.unfinished,
        }
    }
}

/// One config, replayed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Position in the search (0: the base config).
    pub index: usize,
    /// Serialised as its Terraform variables that differ from the defaults.
    #[serde(with = "tfvars_form")]
    pub config: Config,
    pub metrics: Metrics,
    /// Why this config cannot be recommended (over the API budget, jobs never started, the
    /// replay failed); `None` when it can.
    pub rejected: Option<String>,
}

mod tfvars_form {
    use flotilla_core::Config;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(c: &Config, s: S) -> Result<S::Ok, S::Error> {
        c.to_tfvars(true).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Config, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        Config::from_value(v).map_err(serde::de::Error::custom)
    }
}

/// Replays `config` on the scenario's trace, prices and world and judges it. Never panics on a
/// bad config: a replay error is a rejection with the reason.
pub fn evaluate(
    scenario: &Scenario,
    index: usize,
    config: &Config,
    objective: &Objective,
) -> Evaluation {
    match replay_with(scenario, config) {
        Ok(out) => judge(
            index,
            config.clone(),
            Metrics::from_report(&out.report),
            objective,
        ),
        Err(e) => Evaluation {
            index,
            config: config.clone(),
            metrics: Metrics::default(),
            rejected: Some(format!("cannot be replayed: {e}")),
        },
    }
}

/// An evaluation from metrics already measured (e.g. a replay the caller ran itself).
pub fn judge(index: usize, config: Config, metrics: Metrics, objective: &Objective) -> Evaluation {
    let mut reasons = Vec::new();
    if metrics.github_api_peak_per_hour > objective.api_budget_per_hour {
        reasons.push(format!(
            "needs {} GitHub API calls in its busiest hour, over the {}/h of one App installation",
            metrics.github_api_peak_per_hour, objective.api_budget_per_hour
        ));
    }
    if metrics.jobs_never_started > 0 {
        reasons.push(format!(
            "leaves {} jobs never started",
            metrics.jobs_never_started
        ));
    }
    Evaluation {
        index,
        config,
        metrics,
        rejected: (!reasons.is_empty()).then(|| reasons.join("; ")),
    }
}

fn cost(e: &Evaluation) -> f64 {
    e.metrics.cost_usd.total
}
fn p95(e: &Evaluation) -> f64 {
    e.metrics.wait_seconds.p95
}

/// The Pareto front of total cost vs p95 wait among the evaluations not rejected: indices
/// ([`Evaluation::index`]) of those no other config beats on both (equal points: the lowest
/// index), cheapest first.
pub fn pareto_front(evaluations: &[Evaluation]) -> Vec<usize> {
    let mut valid: Vec<&Evaluation> = evaluations
        .iter()
        .filter(|e| e.rejected.is_none())
        .collect();
    valid.sort_by(|a, b| {
        cost(a)
            .total_cmp(&cost(b))
            .then(p95(a).total_cmp(&p95(b)))
            .then(a.index.cmp(&b.index))
    });
    let mut front = Vec::new();
    let mut best_p95 = f64::INFINITY;
    for e in valid {
        if p95(e) < best_p95 {
            best_p95 = p95(e);
            front.push(e.index);
        }
    }
    front
}

/// The tuner's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The recommended evaluation, or when nothing meets the SLO the closest one.
    pub index: usize,
    /// Whether its p95 wait meets the SLO.
    pub meets_slo: bool,
    /// In words, for people.
    pub message: String,
}

/// The cheapest non-rejected config whose p95 wait meets the SLO (ties: lower p95, then lower
/// index). When none does, the one with the lowest p95 (ties: cheaper), flagged. `None` when
/// every evaluation was rejected.
pub fn recommend(evaluations: &[Evaluation], objective: &Objective) -> Option<Recommendation> {
    let valid = evaluations.iter().filter(|e| e.rejected.is_none());
    let meeting = valid
        .clone()
        .filter(|e| p95(e) <= objective.slo_p95_seconds)
        .min_by(|a, b| {
            cost(a)
                .total_cmp(&cost(b))
                .then(p95(a).total_cmp(&p95(b)))
                .then(a.index.cmp(&b.index))
        });
    if let Some(e) = meeting {
        return Some(Recommendation {
            index: e.index,
            meets_slo: true,
            message: format!(
                "config #{} is the cheapest meeting p95 wait <= {} s: ${:.2}, p95 {:.0} s",
                e.index,
                objective.slo_p95_seconds,
                cost(e),
                p95(e)
            ),
        });
    }
    let closest = valid.min_by(|a, b| {
        p95(a)
            .total_cmp(&p95(b))
            .then(cost(a).total_cmp(&cost(b)))
            .then(a.index.cmp(&b.index))
    })?;
    Some(Recommendation {
        index: closest.index,
        meets_slo: false,
        message: format!(
            "nothing evaluated meets p95 wait <= {} s; the closest is config #{} with p95 {:.0} s at ${:.2} (raise --slo-p95, --max-evals or runners_maximum_count)",
            objective.slo_p95_seconds,
            closest.index,
            p95(closest),
            cost(closest)
        ),
    })
}

/// The config as a `.tfvars.json` object: only Terraform variables of the module (the config's
/// field names), only those that differ from the module's defaults.
pub fn recommended_tfvars(config: &Config) -> serde_json::Map<String, serde_json::Value> {
    config
        .to_tfvars(true)
        .into_iter()
        .filter(|(k, _)| flotilla_core::config::CONFIG_FIELDS.contains(&k.as_str()))
        .collect()
}

/// A search's outcome: every evaluation, the front and the recommendation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TuneResult {
    pub objective: Objective,
    pub space: Space,
    pub seed: u64,
    pub max_evals: usize,
    /// Index of the base config (always 0).
    pub base_index: usize,
    /// Pareto front of cost vs p95 wait, cheapest first.
    pub front: Vec<usize>,
    pub recommendation: Option<Recommendation>,
    /// Every evaluated config, in index order.
    pub evaluations: Vec<Evaluation>,
}

impl TuneResult {
    pub fn new(
        objective: Objective,
        space: Space,
        seed: u64,
        max_evals: usize,
        mut evaluations: Vec<Evaluation>,
    ) -> TuneResult {
        // Indices are identities, not positions: a cancelled search may leave gaps.
        evaluations.sort_by_key(|e| e.index);
        TuneResult {
            front: pareto_front(&evaluations),
            recommendation: recommend(&evaluations, &objective),
            objective,
            space,
            seed,
            max_evals,
            base_index: 0,
            evaluations,
        }
    }

    pub fn base(&self) -> Option<&Evaluation> {
        self.by_index(self.base_index)
    }

    /// The evaluation with this index (evaluations are sorted by index; gaps are allowed).
    pub fn by_index(&self, index: usize) -> Option<&Evaluation> {
        self.evaluations
            .binary_search_by_key(&index, |e| e.index)
            .ok()
            .map(|p| &self.evaluations[p])
    }

    pub fn recommended(&self) -> Option<&Evaluation> {
        self.recommendation
            .as_ref()
            .and_then(|r| self.by_index(r.index))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("tune result serialises") + "\n"
    }

    /// One line per front member (plus the base when it is not on the front): cost, waits,
    /// fleet and what differs from the base config.
    pub fn front_table(&self) -> String {
        let mut s = String::new();
        let rec = self.recommendation.as_ref().map(|r| r.index);
        let _ = writeln!(
            s,
            "Pareto front of cost vs p95 wait ({} of {} configs; * base, > recommended{})",
            self.front.len(),
            self.evaluations.len(),
            if self.recommendation.as_ref().is_some_and(|r| !r.meets_slo) {
                ", closest to the SLO"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "{:<2} {:>5} {:>10} {:>7} {:>7} {:>7} {:>6} {:>8}  changes from the base config",
            "", "#", "cost USD", "p50 s", "p95 s", "p99 s", "util%", "launched"
        );
        let mut rows: Vec<usize> = self.front.clone();
        if let Some(r) = rec {
            if !rows.contains(&r) {
                rows.push(r);
            }
        }
        if !rows.contains(&self.base_index) && self.base().is_some() {
            rows.push(self.base_index);
        }
        rows.retain(|i| self.by_index(*i).is_some());
        rows.sort_by(|a, b| {
            let (a, b) = (self.by_index(*a).unwrap(), self.by_index(*b).unwrap());
            cost(a).total_cmp(&cost(b)).then(a.index.cmp(&b.index))
        });
        let base_vars = self.base().map(|b| b.config.to_tfvars(false));
        for i in rows {
            let Some(e) = self.by_index(i) else { continue };
            let mark = match (i == self.base_index, Some(i) == rec) {
                (true, true) => "*>",
                (true, false) => "*",
                (false, true) => ">",
                _ => "",
            };
            let m = &e.metrics;
            let diff = match &base_vars {
                Some(b) => config_diff(b, &e.config),
                None => String::new(),
            };
            let diff = if let Some(r) = &e.rejected {
                format!("REJECTED: {r}; {diff}")
            } else {
                diff
            };
            let _ = writeln!(
                s,
                "{:<2} {:>5} {:>10.2} {:>7.0} {:>7.0} {:>7.0} {:>6.1} {:>8}  {}",
                mark,
                e.index,
                m.cost_usd.total,
                m.wait_seconds.p50,
                m.wait_seconds.p95,
                m.wait_seconds.p99,
                m.utilisation * 100.0,
                m.instances_launched,
                if diff.is_empty() { "(same)" } else { &diff }
            );
        }
        s
    }

    /// The recommendation against the base, in words.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let rejected = self
            .evaluations
            .iter()
            .filter(|e| e.rejected.is_some())
            .count();
        let _ = writeln!(
            s,
            "{} configs evaluated ({} rejected), SLO p95 wait <= {} s, API budget {}/h",
            self.evaluations.len(),
            rejected,
            self.objective.slo_p95_seconds,
            self.objective.api_budget_per_hour
        );
        match (&self.recommendation, self.base(), self.recommended()) {
            (Some(r), Some(b), Some(e)) => {
                if r.meets_slo {
                    let _ = writeln!(s, "Recommended: {}", r.message);
                } else {
                    let _ = writeln!(s, "NOTHING MEETS THE SLO: {}", r.message);
                }
                let (bc, rc) = (cost(b), cost(e));
                let saved = bc - rc;
                let pct = if bc > 0.0 { saved / bc * 100.0 } else { 0.0 };
                let _ = writeln!(
                    s,
                    "  vs base config #{}: cost ${:.2} -> ${:.2} ({}{:.2}, {:+.1} %), p95 wait {:.0} s -> {:.0} s, p99 {:.0} s -> {:.0} s{}",
                    b.index,
                    bc,
                    rc,
                    if saved >= 0.0 { "saves $" } else { "costs $" },
                    saved.abs(),
                    -pct,
                    p95(b),
                    p95(e),
                    b.metrics.wait_seconds.p99,
                    e.metrics.wait_seconds.p99,
                    match &b.rejected {
                        Some(why) => format!(" (the base is rejected: {why})"),
                        None => String::new(),
                    }
                );
                let vars = recommended_tfvars(&e.config);
                let v: Vec<String> = vars.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                let _ = writeln!(
                    s,
                    "  {}: {}",
                    if r.meets_slo {
                        "recommended.tfvars.json"
                    } else {
                        "closest.tfvars.json"
                    },
                    v.join(", ")
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "No recommendation: every evaluated config was rejected (see evaluations.json for the reasons)."
                );
            }
        }
        s
    }
}

/// `key=value` for every Terraform variable that differs between `base` (all variables) and
/// `config`.
pub fn config_diff(base: &serde_json::Map<String, serde_json::Value>, config: &Config) -> String {
    let mine = config.to_tfvars(false);
    let mut parts = Vec::new();
    for (k, v) in &mine {
        if base.get(k) != Some(v) {
            parts.push(format!("{k}={}", short_value(v)));
        }
    }
    parts.join(" ")
}

fn short_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(items) if items.iter().all(|x| x.is_string()) => {
            let s: Vec<&str> = items.iter().filter_map(|x| x.as_str()).collect();
            format!("[{}]", s.join(","))
        }
        serde_json::Value::Array(items) if items.len() == 1 && items[0].is_object() => {
            // idle_config / pool_config: the fields that matter.
            let o = items[0].as_object().expect("object");
            let get = |k: &str| {
                o.get(k)
                    .map(|x| x.to_string().trim_matches('"').to_string())
            };
            match (get("cron"), get("idleCount"), get("size")) {
                (Some(c), Some(n), _) => format!("{n}@'{c}'"),
                (_, _, Some(n)) => n,
                _ => v.to_string(),
            }
        }
        serde_json::Value::String(s) => s.clone(),
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests;
