//! Job traces: what the simulator replays. Every accepted format (see `docs/formats.md`) loads
//! into the same [`TraceJob`] list, sorted by `(queued_at, job_id)`, with [`TraceStats`] saying
//! what was read, skipped, clamped and inferred.
//!
//! [`load_trace`] reads a file and detects its format; the `parse_*` functions take text and a
//! source name (used in error messages) for one format each. No input makes a loader panic.

mod canonical;
mod ci_stats;
mod github;
mod webhook;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use flotilla_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::load::{read_file, text_of, LoadError};

pub use canonical::{
    parse_canonical_csv, parse_canonical_jsonl, to_canonical_csv, to_canonical_jsonl,
};
pub use ci_stats::{labels_for_os_guess, parse_ci_stats_csv};
pub use github::parse_github_jobs;
pub use webhook::parse_webhook_jsonl;

/// One job of a trace.
///
/// `queued_at` is when the job became runnable (GitHub queued it); `started_at`/`completed_at` are
/// the recorded run (absent when the job never started / never finished). The simulator replays
/// the job at `queued_at` for [`TraceJob::duration_ms`].
///
/// Text fields are shared (`Arc`): a trace of a million jobs has a handful of distinct repos,
/// workflows, names and label sets, and each is stored once (loaders intern them per load).
/// Serialised, they are plain strings and a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceJob {
    pub job_id: u64,
    pub run_id: u64,
    pub run_attempt: u32,
    pub repo: Arc<str>,
    pub workflow: Arc<str>,
    pub name: Arc<str>,
    pub labels: Arc<[String]>,
    pub queued_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub conclusion: Option<Arc<str>>,
}

impl TraceJob {
    /// Run time in milliseconds: `completed_at - started_at`, never negative; `None` when the job
    /// has no start or no completion.
    pub fn duration_ms(&self) -> Option<u64> {
        match (self.started_at, self.completed_at) {
            (Some(s), Some(c)) => Some(c.0.saturating_sub(s.0).max(0) as u64),
            _ => None,
        }
    }

    /// The wait recorded in the trace, `started_at - queued_at` in milliseconds (may be negative
    /// when clocks disagree); `None` when the job never started.
    pub fn recorded_wait_ms(&self) -> Option<i64> {
        self.started_at
            .map(|s| s.0.saturating_sub(self.queued_at.0))
    }

    /// How far the record got: 0 queued only, 1 started, 2 completed (used to merge duplicates).
    fn progress(&self) -> u8 {
        u8::from(self.started_at.is_some()) + u8::from(self.completed_at.is_some())
    }
}

/// The formats [`load_trace`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceFormat {
    /// One JSON object per line with the canonical fields.
    CanonicalJsonl,
    /// CSV with a header naming the canonical columns.
    CanonicalCsv,
    /// GitHub REST `GET /repos/{o}/{r}/actions/runs/{id}/jobs` responses.
    GithubJobs,
    /// Archived `workflow_job` webhook payloads, one per line.
    WebhookJsonl,
    /// The bitcoin-core-ci-stats CSV (`run_created_at`, `os_guess`, ...).
    CiStatsCsv,
}

impl TraceFormat {
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::CanonicalJsonl => "canonical JSONL",
            TraceFormat::CanonicalCsv => "canonical CSV",
            TraceFormat::GithubJobs => "GitHub REST jobs JSON",
            TraceFormat::WebhookJsonl => "workflow_job webhook JSONL",
            TraceFormat::CiStatsCsv => "ci-stats CSV (run_created_at, os_guess)",
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Rows of one skip reason: how many, and the first line where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub count: u64,
    pub first_line: usize,
}

/// What a load read, skipped, clamped and inferred.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceStats {
    /// Data rows read: CSV records after the header, non-blank JSONL lines, REST job objects.
    pub rows_read: u64,
    /// Jobs in the result.
    pub jobs: u64,
    /// Rows (or events) not turned into a job, by reason.
    pub skipped: BTreeMap<String, Skipped>,
    /// Jobs whose `completed_at` was before `started_at`: `completed_at` set to `started_at`.
    pub negative_durations_clamped: u64,
    /// Jobs whose `queued_at` was inferred later than the recorded creation time (ci-stats CSV:
    /// from the same run's jobs that completed before the job started).
    pub queued_inferred: u64,
    /// Jobs with no creation/queue time whose `queued_at` is their `started_at` (zero wait).
    pub queued_from_started: u64,
    /// Jobs that never started (no `started_at`).
    pub missing_started: u64,
    /// Jobs that never completed (no `completed_at`).
    pub missing_completed: u64,
}

impl TraceStats {
    pub(crate) fn skip(&mut self, reason: impl Into<String>, line: usize) {
        self.skipped
            .entry(reason.into())
            .and_modify(|s| s.count += 1)
            .or_insert(Skipped {
                count: 1,
                first_line: line,
            });
    }

    /// Total rows skipped, all reasons.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().map(|s| s.count).sum()
    }

    /// A few lines for people.
    pub fn describe(&self) -> String {
        let mut out = format!("{} rows read, {} jobs", self.rows_read, self.jobs);
        for (reason, s) in &self.skipped {
            out.push_str(&format!(
                "\n  skipped {}: {} (first at line {})",
                s.count, reason, s.first_line
            ));
        }
        let counts = [
            (
                self.negative_durations_clamped,
                "negative durations clamped to 0",
            ),
            (
                self.queued_inferred,
                "queue times inferred from the run's earlier jobs",
            ),
            (
                self.queued_from_started,
                "queue times missing: taken as the start time",
            ),
            (self.missing_started, "jobs never started"),
            (self.missing_completed, "jobs never completed"),
        ];
        for (n, what) in counts {
            if n > 0 {
                out.push_str(&format!("\n  {n} {what}"));
            }
        }
        out
    }
}

/// A loaded trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceLoad {
    /// The file or name given.
    pub source: String,
    pub format: TraceFormat,
    /// Sorted by `(queued_at, job_id)`; `job_id`s are unique.
    pub jobs: Vec<TraceJob>,
    pub stats: TraceStats,
}

impl TraceLoad {
    /// Earliest `queued_at` and latest time of any job (`completed_at`, else `started_at`, else
    /// `queued_at`); `None` for an empty trace.
    pub fn window(&self) -> Option<(Timestamp, Timestamp)> {
        let first = self.jobs.first()?.queued_at;
        let last = self
            .jobs
            .iter()
            .map(|j| {
                j.completed_at
                    .or(j.started_at)
                    .unwrap_or(j.queued_at)
                    .max(j.queued_at)
            })
            .max()?;
        Some((first, last))
    }
}

/// Reads a trace file in any accepted format, detected from its content.
pub fn load_trace(path: impl AsRef<Path>) -> Result<TraceLoad, LoadError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    parse_trace(&bytes, &path.display().to_string())
}

/// Parses trace bytes in any accepted format, detected from the content; `source` names the input
/// in errors.
pub fn parse_trace(bytes: &[u8], source: &str) -> Result<TraceLoad, LoadError> {
    let text = text_of(bytes, source)?;
    let format = detect_trace_format(text).map_err(|e| LoadError::at(source, e.0, e.1))?;
    parse_trace_as(format, text, source)
}

/// Parses text in the given format.
pub fn parse_trace_as(
    format: TraceFormat,
    text: &str,
    source: &str,
) -> Result<TraceLoad, LoadError> {
    match format {
        TraceFormat::CanonicalJsonl => parse_canonical_jsonl(text, source),
        TraceFormat::CanonicalCsv => parse_canonical_csv(text, source),
        TraceFormat::GithubJobs => parse_github_jobs(text, source),
        TraceFormat::WebhookJsonl => parse_webhook_jsonl(text, source),
        TraceFormat::CiStatsCsv => parse_ci_stats_csv(text, source),
    }
}

/// Recognises a trace format from the text; the error is (line, reason).
pub fn detect_trace_format(text: &str) -> Result<TraceFormat, (usize, String)> {
    let Some((line_no, first)) = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .find(|(_, l)| !l.is_empty())
    else {
        return Err((1, "the trace is empty".to_string()));
    };
    if first.starts_with('[') {
        return Ok(TraceFormat::GithubJobs);
    }
    if first.starts_with('{') {
        // The first JSON value: the first line for JSONL, or a pretty-printed object.
        let value: serde_json::Value = match serde_json::from_str(first) {
            Ok(v) => v,
            Err(_) => {
                let start = text.len() - text.trim_start().len();
                let mut stream = serde_json::Deserializer::from_str(&text[start..])
                    .into_iter::<serde_json::Value>();
                match stream.next() {
                    Some(Ok(v)) => v,
                    Some(Err(e)) => {
                        let err = crate::load::json_error("", line_no, &e);
                        return Err((
                            err.line.unwrap_or(line_no),
                            format!("the first JSON value: {}", err.reason),
                        ));
                    }
                    None => return Err((line_no, "the trace is empty".to_string())),
                }
            }
        };
        let has = |k: &str| value.get(k).is_some();
        if has("jobs") || has("total_count") {
            return Ok(TraceFormat::GithubJobs);
        }
        if has("queued_at") {
            return Ok(TraceFormat::CanonicalJsonl);
        }
        if has("workflow_job") || has("payload") || has("action") || has("hook_id") || has("zen") {
            return Ok(TraceFormat::WebhookJsonl);
        }
        return Err((
            line_no,
            "a JSON trace must be GitHub REST jobs pages (with `jobs`), canonical JSONL (with \
             `queued_at`) or workflow_job webhook payloads (with `workflow_job`)"
                .to_string(),
        ));
    }
    // CSV: look at the header.
    let header: Vec<String> = first
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let has = |k: &str| header.iter().any(|h| h == k);
    if has("os_guess") && has("run_created_at") {
        return Ok(TraceFormat::CiStatsCsv);
    }
    if has("queued_at") {
        return Ok(TraceFormat::CanonicalCsv);
    }
    Err((
        line_no,
        format!(
            "unrecognised trace format: not JSON, and the CSV header `{}` has neither `queued_at` \
             (canonical CSV) nor `run_created_at` and `os_guess` (ci-stats CSV)",
            crate::load::clip(first)
        ),
    ))
}

/// A time field: RFC 3339 (any offset, normalised to UTC) or integer milliseconds since the epoch.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let t = text.trim();
    if !t.is_empty()
        && t.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
        && t != "-"
    {
        return t.parse::<i64>().map(Timestamp).map_err(|_| {
            format!(
                "`{}` is out of range for milliseconds since the epoch",
                crate::load::clip(t)
            )
        });
    }
    Timestamp::parse_rfc3339(t).map_err(|_| {
        format!(
            "`{}` is not an RFC 3339 time such as 2025-09-04T17:25:47Z",
            crate::load::clip(t)
        )
    })
}

/// Shares equal strings and label sets within one load.
#[derive(Default)]
pub struct Interner {
    strings: BTreeMap<String, Arc<str>>,
    label_sets: BTreeMap<Vec<String>, Arc<[String]>>,
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }
    /// The shared copy of `s`.
    pub fn str(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(s.to_string(), a.clone());
        a
    }
    /// The shared copy of a label set (order kept).
    pub fn labels(&mut self, labels: Vec<String>) -> Arc<[String]> {
        if let Some(a) = self.label_sets.get(&labels) {
            return a.clone();
        }
        let a: Arc<[String]> = Arc::from(labels.clone());
        self.label_sets.insert(labels, a.clone());
        a
    }
    /// `Some(shared copy)` of a non-empty conclusion.
    pub fn conclusion(&mut self, c: Option<&str>) -> Option<Arc<str>> {
        c.map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| self.str(c))
    }
}

/// Sets `completed_at = started_at` when the job completed before it started, and counts it.
pub(crate) fn clamp_negative(job: &mut TraceJob, stats: &mut TraceStats) {
    if let (Some(s), Some(c)) = (job.started_at, job.completed_at) {
        if c < s {
            job.completed_at = Some(s);
            stats.negative_durations_clamped += 1;
        }
    }
}

/// The common end of every loader: clamp, merge duplicate job ids (keeping the most complete
/// record, the first on a tie), count, sort.
pub(crate) fn finish(
    source: &str,
    format: TraceFormat,
    rows: Vec<(usize, TraceJob)>,
    mut stats: TraceStats,
) -> TraceLoad {
    let mut by_id: BTreeMap<u64, (usize, TraceJob)> = BTreeMap::new();
    for (line, mut job) in rows {
        clamp_negative(&mut job, &mut stats);
        match by_id.get_mut(&job.job_id) {
            None => {
                by_id.insert(job.job_id, (line, job));
            }
            Some(kept) => {
                stats.skip("duplicate job_id (kept the most complete record)", line);
                if job.progress() > kept.1.progress() {
                    *kept = (line, job);
                }
            }
        }
    }
    let mut jobs: Vec<TraceJob> = by_id.into_values().map(|(_, j)| j).collect();
    jobs.sort_by_key(|j| (j.queued_at, j.job_id));
    stats.jobs = jobs.len() as u64;
    stats.missing_started = jobs.iter().filter(|j| j.started_at.is_none()).count() as u64;
    stats.missing_completed = jobs.iter().filter(|j| j.completed_at.is_none()).count() as u64;
    TraceLoad {
        source: source.to_string(),
        format,
        jobs,
        stats,
    }
}

/// Serde helpers shared by the JSON loaders.
pub(crate) mod de {
    use serde::{Deserialize, Deserializer};

    /// A string, or `""` for null.
    pub fn string_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
    }

    /// A list of strings, or empty for null.
    pub fn strings_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrText {
        Num(u64),
        Text(String),
    }

    /// An id: a JSON number or a string of digits (some exporters quote 64-bit ids).
    pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match NumOrText::deserialize(d)? {
            NumOrText::Num(n) => Ok(n),
            NumOrText::Text(t) => t.trim().parse().map_err(|_| {
                serde::de::Error::custom(format!("`{t}` is not a non-negative integer id"))
            }),
        }
    }

    /// An optional id (null or absent is `None`).
    pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<NumOrText>::deserialize(d)? {
            None => Ok(None),
            Some(NumOrText::Num(n)) => Ok(Some(n)),
            Some(NumOrText::Text(t)) => t.trim().parse().map(Some).map_err(|_| {
                serde::de::Error::custom(format!("`{t}` is not a non-negative integer id"))
            }),
        }
    }

    /// Distinguishes an absent field (`None`) from an explicit null (`Some(None)`).
    pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Ok(Some(Option::<T>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, q: i64, s: Option<i64>, c: Option<i64>) -> TraceJob {
        TraceJob {
            job_id: id,
            run_id: 1,
            run_attempt: 1,
            repo: Arc::from(""),
            workflow: Arc::from(""),
            name: Arc::from(""),
            labels: Arc::from(Vec::new()),
            queued_at: Timestamp(q),
            started_at: s.map(Timestamp),
            completed_at: c.map(Timestamp),
            conclusion: None,
        }
    }

    #[test]
    fn duration_is_clamped_and_optional() {
        assert_eq!(job(1, 0, Some(10), Some(25)).duration_ms(), Some(15));
        assert_eq!(job(1, 0, Some(10), Some(5)).duration_ms(), Some(0));
        assert_eq!(job(1, 0, Some(10), None).duration_ms(), None);
        assert_eq!(
            job(1, 0, Some(i64::MIN), Some(i64::MAX)).duration_ms(),
            Some(i64::MAX as u64)
        );
    }

    #[test]
    fn finish_sorts_merges_and_counts() {
        let rows = vec![
            (1, job(5, 100, None, None)),
            (2, job(3, 100, Some(110), Some(105))),
            (3, job(5, 100, Some(120), Some(130))),
            (4, job(9, 50, Some(60), None)),
        ];
        let load = finish("t", TraceFormat::CanonicalCsv, rows, TraceStats::default());
        let ids: Vec<u64> = load.jobs.iter().map(|j| j.job_id).collect();
        assert_eq!(ids, vec![9, 3, 5]);
        assert_eq!(load.jobs[2].started_at, Some(Timestamp(120)));
        assert_eq!(load.jobs[1].completed_at, Some(Timestamp(110)));
        assert_eq!(load.stats.negative_durations_clamped, 1);
        assert_eq!(load.stats.skipped_total(), 1);
        assert_eq!(load.stats.missing_completed, 1);
        assert_eq!(load.stats.jobs, 3);
    }

    #[test]
    fn times_parse_as_rfc3339_or_millis() {
        assert_eq!(parse_time("1970-01-01T00:00:01Z"), Ok(Timestamp(1000)));
        assert_eq!(parse_time("1500"), Ok(Timestamp(1500)));
        assert_eq!(parse_time("-5"), Ok(Timestamp(-5)));
        assert!(parse_time("-").is_err());
        assert!(parse_time("99999999999999999999").is_err());
        assert!(parse_time("soon").is_err());
    }
}
