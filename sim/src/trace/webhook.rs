//! Archived `workflow_job` webhook payloads, one JSON object per line (JSONL): the bare payload
//! as GitHub sends it, or an envelope `{"received_at": "...", "payload": {...}}`. A job sends
//! several events (`waiting`, `queued`, `in_progress`, `completed`); they fold into one job by
//! `workflow_job.id`, in any order.

use std::collections::BTreeMap;

use flotilla_core::Timestamp;
use serde::Deserialize;

use super::github::RestJob;
use super::{finish, Interner, TraceFormat, TraceJob, TraceLoad, TraceStats};
use crate::load::{json_error, LoadError};

#[derive(Deserialize)]
struct Repository {
    #[serde(default)]
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    workflow_job: Option<RestJob>,
    #[serde(default)]
    repository: Option<Repository>,
    #[serde(default)]
    payload: Option<Box<Event>>,
    #[serde(default)]
    received_at: Option<Timestamp>,
}

#[derive(Default)]
struct Fold {
    first_line: usize,
    run_id: Option<u64>,
    run_attempt: Option<u32>,
    repo: String,
    workflow: String,
    name: String,
    labels: Vec<String>,
    created_at: Option<Timestamp>,
    queued_received: Option<Timestamp>,
    started_at: Option<Timestamp>,
    completed_at: Option<Timestamp>,
    conclusion: Option<String>,
}

fn fill(slot: &mut String, value: Option<String>) {
    if slot.is_empty() {
        if let Some(v) = value {
            *slot = v;
        }
    }
}

/// Parses and folds workflow_job webhook JSONL.
///
/// Per job: `queued_at` = `workflow_job.created_at`, else the earliest `received_at` of its
/// queued/waiting events, else its start (counted); `started_at` from an `in_progress` or
/// `completed` event whose job had a runner (`queued` events carry a meaningless `started_at`);
/// `completed_at` and `conclusion` from the `completed` event; labels from the last event that
/// lists any. Lines that are other events (`ping`, `check_run`, …) are skipped and counted.
pub fn parse_webhook_jsonl(text: &str, source: &str) -> Result<TraceLoad, LoadError> {
    let mut stats = TraceStats::default();
    let mut folds: BTreeMap<u64, Fold> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        stats.rows_read += 1;
        let mut ev: Event =
            serde_json::from_str(line).map_err(|e| json_error(source, line_no, &e))?;
        let received_at = ev.received_at;
        if let Some(inner) = ev.payload.take() {
            ev = *inner;
        }
        let Some(job) = ev.workflow_job else {
            stats.skip("not a workflow_job event", line_no);
            continue;
        };
        let action = ev
            .action
            .or_else(|| job.status.clone())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let f = folds.entry(job.id).or_insert_with(|| Fold {
            first_line: line_no,
            ..Fold::default()
        });
        let repo = ev
            .repository
            .and_then(|r| r.full_name)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| job.repo());
        fill(&mut f.repo, Some(repo));
        fill(&mut f.workflow, job.workflow_name.clone());
        fill(&mut f.name, job.name.clone());
        f.run_id = f.run_id.or(job.run_id);
        f.run_attempt = f.run_attempt.or(job.run_attempt);
        f.created_at = f.created_at.or(job.created_at);
        if !job.labels.is_empty() {
            f.labels = job.labels.clone();
        }
        match action.as_str() {
            "in_progress" | "completed" => {
                let had_runner = !matches!(&job.runner_name, Some(None));
                if had_runner && f.started_at.is_none() {
                    f.started_at = job.started_at;
                }
                if action == "completed" {
                    f.completed_at = job.completed_at.or(received_at);
                    f.conclusion = job.conclusion.filter(|c| !c.is_empty());
                }
            }
            _ => {
                // queued, waiting, requested, pending: the job is (about to be) queued.
                if let Some(r) = received_at {
                    f.queued_received = Some(f.queued_received.map_or(r, |q| q.min(r)));
                }
            }
        }
    }
    let mut rows = Vec::with_capacity(folds.len());
    let mut intern = Interner::new();
    for (id, f) in folds {
        let queued_at = match (f.created_at.or(f.queued_received), f.started_at) {
            (Some(q), _) => q,
            (None, Some(s)) => {
                stats.queued_from_started += 1;
                s
            }
            (None, None) => {
                stats.skip(
                    "job has no created_at, no queued event time and no start",
                    f.first_line,
                );
                continue;
            }
        };
        rows.push((
            f.first_line,
            TraceJob {
                job_id: id,
                run_id: f.run_id.unwrap_or(0),
                run_attempt: f.run_attempt.unwrap_or(1),
                repo: intern.str(&f.repo),
                workflow: intern.str(&f.workflow),
                name: intern.str(&f.name),
                labels: intern.labels(f.labels),
                queued_at,
                started_at: f.started_at,
                completed_at: f.completed_at,
                conclusion: intern.conclusion(f.conclusion.as_deref()),
            },
        ));
    }
    Ok(finish(source, TraceFormat::WebhookJsonl, rows, stats))
}
