//! CloudWatch metrics as Embedded Metric Format lines on stdout: CloudWatch Logs turns each line
//! into metrics, no PutMetricData call and no extra latency.

use std::sync::Arc;

use serde_json::{json, Map, Value};

pub const JOBS_QUEUED: &str = "JobsQueued";
pub const RUNNERS_LAUNCHED: &str = "RunnersLaunched";
pub const LAUNCH_ERRORS: &str = "LaunchErrors";
pub const TIME_TO_START: &str = "TimeToStart";
pub const INTERRUPTIONS: &str = "Interruptions";
pub const RATE_LIMIT_REMAINING: &str = "GitHubRateLimitRemaining";
pub const RUNNERS_REMOVED: &str = "RunnersRemoved";

/// Where EMF lines go.
pub type Sink = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Clone)]
pub struct Metrics {
    namespace: String,
    function: &'static str,
    sink: Sink,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Seconds => "Seconds",
            Unit::None => "None",
        }
    }
}

impl Metrics {
    pub fn new(namespace: impl Into<String>, function: &'static str, sink: Sink) -> Metrics {
        Metrics {
            namespace: namespace.into(),
            function,
            sink,
        }
    }

    /// To stdout, as Lambda wants.
    pub fn stdout(namespace: impl Into<String>, function: &'static str) -> Metrics {
        Metrics::new(
            namespace,
            function,
            Arc::new(|line: &str| {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.write_all(b"\n");
            }),
        )
    }

    /// Discards every line (benchmarks).
    pub fn discard() -> Metrics {
        Metrics::new("Flotilla", "none", Arc::new(|_: &str| {}))
    }

    /// One EMF line for one metric, with the `Function` dimension and `dims`.
    pub fn emit(&self, name: &str, unit: Unit, value: f64, dims: &[(&str, &str)], now_ms: i64) {
        (self.sink)(&self.line(name, unit, value, dims, now_ms));
    }

    pub fn line(
        &self,
        name: &str,
        unit: Unit,
        value: f64,
        dims: &[(&str, &str)],
        now_ms: i64,
    ) -> String {
        let mut dim_names = vec![Value::from("Function")];
        let mut root = Map::new();
        root.insert("Function".into(), Value::from(self.function));
        for (k, v) in dims {
            dim_names.push(Value::from(*k));
            root.insert((*k).to_string(), Value::from(*v));
        }
        root.insert(name.to_string(), json!(value));
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dim_names],
                    "Metrics": [{"Name": name, "Unit": unit.as_str()}],
                }],
            }),
        );
        Value::Object(root).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_lines_name_metric_dimensions_and_value() {
        let m = Metrics::discard();
        let line = m.line(
            LAUNCH_ERRORS,
            Unit::Count,
            1.0,
            &[("ErrorCode", "InsufficientInstanceCapacity")],
            1_700_000_000_000,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["LaunchErrors"], 1.0);
        assert_eq!(v["ErrorCode"], "InsufficientInstanceCapacity");
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Flotilla");
        assert_eq!(cw["Dimensions"][0], json!(["Function", "ErrorCode"]));
        assert_eq!(cw["Metrics"][0]["Name"], "LaunchErrors");
        assert_eq!(v["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }
}
