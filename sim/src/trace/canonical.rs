//! The canonical trace formats, defined by this project (`docs/formats.md`): JSONL (one object per
//! line) and CSV (header row, any column order), fields `job_id, run_id, run_attempt, repo,
//! workflow, name, labels, queued_at, started_at, completed_at, conclusion`.

use flotilla_core::Timestamp;
use serde::Deserialize;

use super::{de, finish, parse_time, Interner, TraceFormat, TraceJob, TraceLoad, TraceStats};
use crate::load::{clip, csv_error, json_error, LoadError};

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
struct Row {
    #[serde(deserialize_with = "de::id")]
    job_id: u64,
    #[serde(deserialize_with = "de::id")]
    run_id: u64,
    #[serde(default = "one")]
    run_attempt: u32,
    #[serde(default, deserialize_with = "de::string_or_null")]
    repo: String,
    #[serde(default, deserialize_with = "de::string_or_null")]
    workflow: String,
    #[serde(default, deserialize_with = "de::string_or_null")]
    name: String,
    #[serde(default, deserialize_with = "de::strings_or_null")]
    labels: Vec<String>,
    queued_at: Timestamp,
    #[serde(default)]
    started_at: Option<Timestamp>,
    #[serde(default)]
    completed_at: Option<Timestamp>,
    #[serde(default)]
    conclusion: Option<String>,
}

/// Canonical JSONL: one JSON object per line; blank lines are ignored. `job_id`, `run_id` and
/// `queued_at` are required; `run_attempt` defaults to 1, text fields to `""`, `labels` to `[]`.
pub fn parse_canonical_jsonl(text: &str, source: &str) -> Result<TraceLoad, LoadError> {
    let mut stats = TraceStats::default();
    let mut rows = Vec::new();
    let mut intern = Interner::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        stats.rows_read += 1;
        let r: Row = serde_json::from_str(line).map_err(|e| json_error(source, line_no, &e))?;
        rows.push((
            line_no,
            TraceJob {
                job_id: r.job_id,
                run_id: r.run_id,
                run_attempt: r.run_attempt,
                repo: intern.str(&r.repo),
                workflow: intern.str(&r.workflow),
                name: intern.str(&r.name),
                labels: intern.labels(r.labels),
                queued_at: r.queued_at,
                started_at: r.started_at,
                completed_at: r.completed_at,
                conclusion: intern.conclusion(r.conclusion.as_deref()),
            },
        ));
    }
    Ok(finish(source, TraceFormat::CanonicalJsonl, rows, stats))
}

/// Canonical CSV: a header row naming the columns (any order; unknown columns are ignored);
/// `job_id`, `run_id`, `queued_at` are required columns. Labels are `;`-joined; an empty cell is
/// `None` for `started_at`, `completed_at`, `conclusion`, and 1 for `run_attempt`.
pub fn parse_canonical_csv(text: &str, source: &str) -> Result<TraceLoad, LoadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| csv_error(source, &e))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let need = |name: &str| {
        col(name).ok_or_else(|| {
            LoadError::at(
                source,
                1,
                format!("the header has no `{name}` column (canonical CSV needs job_id, run_id, queued_at)"),
            )
        })
    };
    let (c_job, c_run, c_queued) = (need("job_id")?, need("run_id")?, need("queued_at")?);
    let (c_attempt, c_repo, c_workflow, c_name, c_labels) = (
        col("run_attempt"),
        col("repo"),
        col("workflow"),
        col("name"),
        col("labels"),
    );
    let (c_started, c_completed, c_conclusion) =
        (col("started_at"), col("completed_at"), col("conclusion"));

    let mut stats = TraceStats::default();
    let mut rows = Vec::new();
    let mut intern = Interner::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_error(source, &e))?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        stats.rows_read += 1;
        let field = |c: Option<usize>| c.and_then(|c| rec.get(c)).map(str::trim).unwrap_or("");
        let err = |what: String| LoadError::at(source, line, what);
        let id = |c: usize, what: &str| -> Result<u64, LoadError> {
            let t = field(Some(c));
            t.parse::<u64>().map_err(|_| {
                err(format!(
                    "{what} `{}` is not a non-negative integer",
                    clip(t)
                ))
            })
        };
        let time = |c: Option<usize>, what: &str| -> Result<Option<Timestamp>, LoadError> {
            let t = field(c);
            if t.is_empty() {
                return Ok(None);
            }
            parse_time(t)
                .map(Some)
                .map_err(|e| err(format!("{what}: {e}")))
        };
        let queued_at = time(Some(c_queued), "queued_at")?
            .ok_or_else(|| err("queued_at is empty".to_string()))?;
        let attempt = field(c_attempt);
        let run_attempt = if attempt.is_empty() {
            1
        } else {
            attempt.parse::<u32>().map_err(|_| {
                err(format!(
                    "run_attempt `{}` is not a non-negative integer",
                    clip(attempt)
                ))
            })?
        };
        let conclusion = intern.conclusion(Some(field(c_conclusion)));
        rows.push((
            line,
            TraceJob {
                job_id: id(c_job, "job_id")?,
                run_id: id(c_run, "run_id")?,
                run_attempt,
                repo: intern.str(field(c_repo)),
                workflow: intern.str(field(c_workflow)),
                name: intern.str(field(c_name)),
                labels: intern.labels(split_labels(field(c_labels))),
                queued_at,
                started_at: time(c_started, "started_at")?,
                completed_at: time(c_completed, "completed_at")?,
                conclusion,
            },
        ));
    }
    Ok(finish(source, TraceFormat::CanonicalCsv, rows, stats))
}

fn split_labels(text: &str) -> Vec<String> {
    text.split(';')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Writes jobs as canonical JSONL (every field, RFC 3339 times).
pub fn to_canonical_jsonl(jobs: &[TraceJob]) -> String {
    let mut out = String::new();
    for j in jobs {
        // A TraceJob always serialises: plain strings, numbers and timestamps.
        if let Ok(line) = serde_json::to_string(j) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// Writes jobs as canonical CSV. Labels are `;`-joined, so a label containing `;` does not
/// round-trip.
pub fn to_canonical_csv(jobs: &[TraceJob]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = [
        "job_id",
        "run_id",
        "run_attempt",
        "repo",
        "workflow",
        "name",
        "labels",
        "queued_at",
        "started_at",
        "completed_at",
        "conclusion",
    ];
    let _ = w.write_record(header);
    let t = |t: Option<Timestamp>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    for j in jobs {
        let _ = w.write_record([
            j.job_id.to_string(),
            j.run_id.to_string(),
            j.run_attempt.to_string(),
            j.repo.to_string(),
            j.workflow.to_string(),
            j.name.to_string(),
            j.labels.join(";"),
            j.queued_at.to_rfc3339(),
            t(j.started_at),
            t(j.completed_at),
            j.conclusion.as_deref().unwrap_or("").to_string(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
