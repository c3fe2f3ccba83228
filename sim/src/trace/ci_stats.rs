//! The CSV flattened from bitcoin-core-ci-stats (`../shared/data/traces/`): columns `job_id,
//! run_id, name, status, run_status, branch, run_created_at, started_at, completed_at, wait_s,
//! duration_s, os_guess` (any order; `wait_s`, `duration_s`, `branch`, `run_status` are not used:
//! they are derived from the times).
//!
//! Two things the file does not say, and how they are filled in (see `docs/formats.md`):
//! - **Queue time.** `run_created_at` is the *run's* creation time, so a job that waited on
//!   `needs:` would look as if it waited for a runner all that time. Each job's queue time is
//!   inferred as `max(run_created_at, latest completed_at among the same run's other jobs with
//!   completed_at <= this job's started_at)`: a job is queued when its last dependency completes,
//!   and the latest completion before its start is the latest moment that can be. The inferred
//!   wait is therefore a lower bound of the true runner wait.
//! - **Labels.** No runner labels were recorded; `os_guess` maps to self-hosted labels by
//!   [`labels_for_os_guess`] — an assumption of this project, not a fact of the trace.

use std::collections::BTreeMap;

use flotilla_core::Timestamp;

use super::{
    clamp_negative, finish, parse_time, Interner, TraceFormat, TraceJob, TraceLoad, TraceStats,
};
use crate::load::{clip, csv_error, LoadError};

/// The labels assumed for an `os_guess` value (case-insensitive): linux → `self-hosted, linux,
/// x64`; windows → `self-hosted, windows, x64`; macos → `self-hosted, macos, arm64`. `None` for
/// anything else.
pub fn labels_for_os_guess(os_guess: &str) -> Option<[&'static str; 3]> {
    match os_guess.trim().to_ascii_lowercase().as_str() {
        "linux" => Some(["self-hosted", "linux", "x64"]),
        "windows" => Some(["self-hosted", "windows", "x64"]),
        "macos" => Some(["self-hosted", "macos", "arm64"]),
        _ => None,
    }
}

/// The job `status` column as a GitHub conclusion: COMPLETED → success, FAILED → failure,
/// ABORTED → cancelled; anything else lower-cased as is; empty → `None`.
fn conclusion_of(status: &str) -> Option<String> {
    match status.trim().to_ascii_uppercase().as_str() {
        "" => None,
        "COMPLETED" => Some("success".to_string()),
        "FAILED" => Some("failure".to_string()),
        "ABORTED" => Some("cancelled".to_string()),
        other => Some(other.to_ascii_lowercase()),
    }
}

/// Parses the ci-stats CSV; infers queue times and maps `os_guess` to labels as described in the
/// module documentation. Rows whose `os_guess` is not linux/windows/macos are skipped and counted.
pub fn parse_ci_stats_csv(text: &str, source: &str) -> Result<TraceLoad, LoadError> {
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
                format!(
                    "the header has no `{name}` column (the ci-stats CSV needs job_id, run_id, \
                     run_created_at, started_at, completed_at, os_guess)"
                ),
            )
        })
    };
    let c_job = need("job_id")?;
    let c_run = need("run_id")?;
    let c_created = need("run_created_at")?;
    let c_started = need("started_at")?;
    let c_completed = need("completed_at")?;
    let c_os = need("os_guess")?;
    let (c_name, c_status) = (col("name"), col("status"));

    let mut stats = TraceStats::default();
    let mut rows: Vec<(usize, TraceJob)> = Vec::new();
    let mut intern = Interner::new();
    let empty = intern.str("");
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
        let time = |c: usize, what: &str| -> Result<Option<Timestamp>, LoadError> {
            let t = field(Some(c));
            if t.is_empty() {
                return Ok(None);
            }
            parse_time(t)
                .map(Some)
                .map_err(|e| err(format!("{what}: {e}")))
        };
        let job_id = id(c_job, "job_id")?;
        let run_id = id(c_run, "run_id")?;
        let created = time(c_created, "run_created_at")?;
        let started_at = time(c_started, "started_at")?;
        let completed_at = time(c_completed, "completed_at")?;
        let os = field(Some(c_os));
        let Some(labels) = labels_for_os_guess(os) else {
            stats.skip(
                format!("os_guess `{}` is not linux, windows or macos", clip(os)),
                line,
            );
            continue;
        };
        let queued_at = match (created, started_at) {
            (Some(c), _) => c,
            (None, Some(s)) => {
                stats.queued_from_started += 1;
                s
            }
            (None, None) => {
                stats.skip("no run_created_at and no started_at", line);
                continue;
            }
        };
        let mut job = TraceJob {
            job_id,
            run_id,
            run_attempt: 1,
            repo: empty.clone(),
            workflow: empty.clone(),
            name: intern.str(field(c_name)),
            labels: intern.labels(labels.iter().map(|l| l.to_string()).collect()),
            queued_at,
            started_at,
            completed_at,
            conclusion: intern.conclusion(conclusion_of(field(c_status)).as_deref()),
        };
        clamp_negative(&mut job, &mut stats);
        rows.push((line, job));
    }
    infer_queue_times(&mut rows, &mut stats);
    Ok(finish(source, TraceFormat::CiStatsCsv, rows, stats))
}

/// `queued_at = max(queued_at, latest completed_at among the same run's other jobs with
/// completed_at <= this job's started_at)`, for every job that started. Counts the jobs moved.
pub(crate) fn infer_queue_times(rows: &mut [(usize, TraceJob)], stats: &mut TraceStats) {
    // Per run: (completed_at, row index), sorted.
    let mut completions: BTreeMap<u64, Vec<(Timestamp, usize)>> = BTreeMap::new();
    for (i, (_, j)) in rows.iter().enumerate() {
        if let Some(c) = j.completed_at {
            completions.entry(j.run_id).or_default().push((c, i));
        }
    }
    for list in completions.values_mut() {
        list.sort_unstable();
    }
    for (i, (_, job)) in rows.iter_mut().enumerate() {
        let Some(started) = job.started_at else {
            continue;
        };
        let Some(list) = completions.get(&job.run_id) else {
            continue;
        };
        // Latest completion <= started, skipping this job's own.
        let end = list.partition_point(|&(c, _)| c <= started);
        let latest = list[..end]
            .iter()
            .rev()
            .find(|&&(_, k)| k != i)
            .map(|&(c, _)| c);
        if let Some(c) = latest {
            if c > job.queued_at {
                job.queued_at = c;
                stats.queued_inferred += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn os_guess_maps_to_assumed_labels() {
        assert_eq!(
            labels_for_os_guess("Linux"),
            Some(["self-hosted", "linux", "x64"])
        );
        assert_eq!(
            labels_for_os_guess("macos"),
            Some(["self-hosted", "macos", "arm64"])
        );
        assert_eq!(labels_for_os_guess("solaris"), None);
    }

    #[test]
    fn status_maps_to_conclusion() {
        assert_eq!(conclusion_of("COMPLETED").as_deref(), Some("success"));
        assert_eq!(conclusion_of("ABORTED").as_deref(), Some("cancelled"));
        assert_eq!(conclusion_of("FAILED").as_deref(), Some("failure"));
        assert_eq!(conclusion_of("SKIPPED").as_deref(), Some("skipped"));
        assert_eq!(conclusion_of(""), None);
    }

    #[test]
    fn inference_uses_latest_earlier_completion_of_the_same_run_only() {
        let text = "\
job_id,run_id,name,status,run_status,branch,run_created_at,started_at,completed_at,wait_s,duration_s,os_guess
1,10,setup,COMPLETED,COMPLETED,main,2025-09-04T10:00:00Z,2025-09-04T10:00:05Z,2025-09-04T10:00:09Z,5,4,linux
2,10,build,COMPLETED,COMPLETED,main,2025-09-04T10:00:00Z,2025-09-04T10:00:30Z,2025-09-04T10:10:00Z,30,570,linux
3,10,test,COMPLETED,COMPLETED,main,2025-09-04T10:00:00Z,2025-09-04T10:10:00Z,2025-09-04T10:20:00Z,600,600,windows
4,10,lint,COMPLETED,COMPLETED,main,2025-09-04T10:00:00Z,2025-09-04T10:00:02Z,2025-09-04T10:01:00Z,2,58,linux
5,20,other,COMPLETED,COMPLETED,main,2025-09-04T09:00:00Z,2025-09-04T10:15:00Z,2025-09-04T10:16:00Z,4500,60,linux
";
        let load = parse_ci_stats_csv(text, "inline").unwrap();
        let q = |id: u64| load.jobs.iter().find(|j| j.job_id == id).unwrap().queued_at;
        assert_eq!(q(1), t("2025-09-04T10:00:00Z")); // nothing completed before it started
        assert_eq!(q(4), t("2025-09-04T10:00:00Z"));
        assert_eq!(q(2), t("2025-09-04T10:00:09Z")); // after setup
        assert_eq!(q(3), t("2025-09-04T10:10:00Z")); // completion at exactly its start counts
        assert_eq!(q(5), t("2025-09-04T09:00:00Z")); // other runs never count
        assert_eq!(load.stats.queued_inferred, 2);
    }
}
