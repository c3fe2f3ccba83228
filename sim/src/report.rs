//! What a replay reports: JSON for machines (schema: `docs/report.schema.json`), a table for
//! people. Maps are `BTreeMap` and floats are printed by serde_json, so the same run gives the
//! same bytes on every platform.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub inputs: Inputs,
    pub jobs: Jobs,
    pub wait_seconds: WaitSeconds,
    pub cost_usd: Cost,
    /// Total cost per hour of job run time completed.
    pub cost_per_job_hour_usd: f64,
    /// Busy runner-seconds / billed instance-seconds.
    pub utilisation: f64,
    pub instances: Instances,
    pub interruptions: u64,
    pub github_api: GithubApi,
    pub control_plane: ControlPlane,
    pub webhook_responses: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    pub trace: String,
    pub prices: String,
    pub price_alignment: String,
    pub region: String,
    pub seed: u64,
    /// Config fields that differ from the defaults.
    pub config: serde_json::Map<String, serde_json::Value>,
    pub simulated_from: String,
    pub simulated_to: String,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Jobs {
    /// Jobs in the trace.
    pub total: u64,
    /// Served jobs whose final attempt completed.
    pub completed: u64,
    /// Attempts killed by a spot reclaim.
    pub interrupted: u64,
    /// Attempts started by a re-run.
    pub reruns: u64,
    /// Jobs no runner of this pool can serve (labels, repository, owner): excluded.
    pub unserved: u64,
    /// Served jobs that never started before the simulation ended.
    pub never_started: u64,
    /// Served jobs started but not finished when the simulation ended.
    pub unfinished: u64,
    /// Build-queue messages moved to the dead-letter queue or expired.
    pub dead_lettered: u64,
    /// Self-check of the world model: jobs that completed successfully twice (always 0).
    pub completed_more_than_once: u64,
}

/// Nearest-rank percentiles over served jobs that started (first start − queued).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WaitSeconds {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
    pub samples: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub total: f64,
    pub instances_spot: f64,
    pub instances_on_demand: f64,
    pub ebs: f64,
    pub lambda: f64,
    pub sqs: f64,
    pub api_gateway: f64,
}

impl Cost {
    /// The components, in the order the total adds them.
    pub fn components(&self) -> [(&'static str, f64); 6] {
        [
            ("instances_spot", self.instances_spot),
            ("instances_on_demand", self.instances_on_demand),
            ("ebs", self.ebs),
            ("lambda", self.lambda),
            ("sqs", self.sqs),
            ("api_gateway", self.api_gateway),
        ]
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Instances {
    pub launched: u64,
    pub spot: u64,
    pub on_demand: u64,
    /// Launches that succeeded on a later launch option (on-demand failover).
    pub failovers: u64,
    /// Most instances alive at once.
    pub peak: u64,
    pub billed_instance_hours: f64,
    /// CreateFleet failures by error code.
    pub launch_errors: BTreeMap<String, u64>,
    /// Terminations by reason.
    pub terminated: BTreeMap<String, u64>,
    pub by_type: BTreeMap<String, u64>,
    /// Instances still alive when the simulation ended.
    pub alive_at_end: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GithubApi {
    pub calls: u64,
    pub peak_per_hour: u64,
    pub mean_per_hour: f64,
    pub budget_per_hour: u64,
    /// Hours in which the calls exceeded the budget.
    pub hours_over_budget: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlPlane {
    pub webhook_requests: u64,
    pub lambda_invocations: u64,
    pub scale_up_invocations: u64,
    pub sqs_requests: u64,
}

/// Fleet over time, for plots.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Seconds since the start of the simulation.
    pub t_seconds: Vec<f64>,
    pub booting: Vec<u32>,
    pub idle: Vec<u32>,
    pub busy: Vec<u32>,
    pub queued_jobs: Vec<u32>,
}

/// A replay's full output: the report, plus what plots need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub report: Report,
    pub timeline: Timeline,
    /// Wait of every started served job, seconds, sorted.
    pub waits: Vec<f64>,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = libm::ceil(p / 100.0 * sorted.len() as f64).max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn money(v: f64) -> String {
    if v >= 100.0 {
        format!("${v:.0}")
    } else {
        format!("${v:.2}")
    }
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises") + "\n"
    }

    /// The table `flotilla replay` prints.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let i = &self.inputs;
        let _ = writeln!(s, "Flotilla replay");
        let _ = writeln!(s, "  trace    {}", i.trace);
        let _ = writeln!(s, "  prices   {} ({})", i.prices, i.region);
        let _ = writeln!(s, "           {}", i.price_alignment);
        let _ = writeln!(s, "  window   {} → {}", i.simulated_from, i.simulated_to);
        let _ = writeln!(s, "  seed     {}", i.seed);
        if !i.config.is_empty() {
            let cfg: Vec<String> = i.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(s, "  config   {}", cfg.join(", "));
        }
        for n in &i.notes {
            let _ = writeln!(s, "  note     {n}");
        }
        let j = &self.jobs;
        let _ = writeln!(s, "\nJobs");
        let _ = writeln!(
            s,
            "  {} in trace, {} served, {} completed, {} never started, {} unfinished",
            j.total,
            j.total - j.unserved,
            j.completed,
            j.never_started,
            j.unfinished
        );
        let _ = writeln!(
            s,
            "  {} unserved (no runner of this pool can take them), {} interrupted, {} re-runs, {} dead-lettered",
            j.unserved, j.interrupted, j.reruns, j.dead_lettered
        );
        let w = &self.wait_seconds;
        let _ = writeln!(s, "\nWait for a runner (seconds, {} jobs)", w.samples);
        let _ = writeln!(
            s,
            "  p50 {:.0}   p90 {:.0}   p95 {:.0}   p99 {:.0}   max {:.0}   mean {:.1}",
            w.p50, w.p90, w.p95, w.p99, w.max, w.mean
        );
        let c = &self.cost_usd;
        let _ = writeln!(s, "\nCost (USD)");
        let _ = writeln!(
            s,
            "  total {}   per job-hour {}",
            money(c.total),
            money(self.cost_per_job_hour_usd)
        );
        for (name, v) in c.components() {
            let share = if c.total > 0.0 {
                v / c.total * 100.0
            } else {
                0.0
            };
            let _ = writeln!(s, "  {name:<20} {:>10}  {share:5.1}%", money(v));
        }
        let n = &self.instances;
        let _ = writeln!(s, "\nInstances");
        let _ = writeln!(
            s,
            "  {} launched ({} spot, {} on-demand, {} by failover), peak {} at once, {:.1} billed hours",
            n.launched, n.spot, n.on_demand, n.failovers, n.peak, n.billed_instance_hours
        );
        let _ = writeln!(
            s,
            "  utilisation {:.1}% (busy runner time / billed instance time), {} interruptions",
            self.utilisation * 100.0,
            self.interruptions
        );
        if !n.by_type.is_empty() {
            let t: Vec<String> = n.by_type.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(s, "  types: {}", t.join(", "));
        }
        if !n.launch_errors.is_empty() {
            let t: Vec<String> = n
                .launch_errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(s, "  launch errors: {}", t.join(", "));
        }
        if !n.terminated.is_empty() {
            let t: Vec<String> = n
                .terminated
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(s, "  terminated: {}", t.join(", "));
        }
        let g = &self.github_api;
        let _ = writeln!(s, "\nGitHub API");
        let _ = writeln!(
            s,
            "  {} calls, peak {}/h, mean {:.0}/h (budget {}/h{})",
            g.calls,
            g.peak_per_hour,
            g.mean_per_hour,
            g.budget_per_hour,
            if g.hours_over_budget > 0 {
                format!(", OVER in {} hours", g.hours_over_budget)
            } else {
                String::new()
            }
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 50.0), 5.0);
        assert_eq!(percentile(&v, 95.0), 10.0);
        assert_eq!(percentile(&v, 90.0), 9.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
