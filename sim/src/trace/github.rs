//! GitHub REST `GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs` responses
//! (`{"total_count": N, "jobs": [...]}`): one page, several pages one after another (JSONL or
//! concatenated), or a JSON array of pages.

use flotilla_core::Timestamp;
use serde::Deserialize;

use super::{de, finish, Interner, TraceFormat, TraceJob, TraceLoad, TraceStats};
use crate::load::{json_values, LoadError};

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    #[allow(dead_code)]
    total_count: Option<u64>,
    jobs: Vec<RestJob>,
}

/// The fields of a job object the simulator needs (the same object as `workflow_job` in a webhook).
#[derive(Deserialize)]
pub(crate) struct RestJob {
    #[serde(deserialize_with = "de::id")]
    pub id: u64,
    #[serde(default, deserialize_with = "de::opt_id")]
    pub run_id: Option<u64>,
    #[serde(default)]
    pub run_attempt: Option<u32>,
    #[serde(default)]
    pub run_url: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub html_url: Option<String>,
    #[serde(default)]
    pub workflow_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::strings_or_null")]
    pub labels: Vec<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub conclusion: Option<String>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    #[serde(default)]
    pub completed_at: Option<Timestamp>,
    /// Absent (`None`) vs explicit null (`Some(None)`): a null runner means no runner ever took
    /// the job.
    #[serde(default, deserialize_with = "de::present")]
    pub runner_name: Option<Option<String>>,
}

impl RestJob {
    /// `owner/repo` from `run_url`/`url` (`…/repos/{owner}/{repo}/…`) or `html_url`
    /// (`https://github.com/{owner}/{repo}/…`); `""` when none says.
    pub fn repo(&self) -> String {
        for u in [&self.run_url, &self.url].into_iter().flatten() {
            if let Some(i) = u.find("/repos/") {
                let mut parts = u[i + 7..].split('/');
                if let (Some(o), Some(r)) = (parts.next(), parts.next()) {
                    if !o.is_empty() && !r.is_empty() {
                        return format!("{o}/{r}");
                    }
                }
            }
        }
        if let Some(u) = &self.html_url {
            let rest = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
            let mut parts = rest.split('/').skip(1);
            if let (Some(o), Some(r)) = (parts.next(), parts.next()) {
                if !o.is_empty() && !r.is_empty() {
                    return format!("{o}/{r}");
                }
            }
        }
        String::new()
    }

    /// Whether a runner ever took the job: the status says it ran, and the runner is not an
    /// explicit null (GitHub reports a job cancelled while queued as `completed` with times but
    /// no runner).
    pub fn ran(&self) -> bool {
        let status_ran = matches!(
            self.status.as_deref(),
            None | Some("in_progress") | Some("completed")
        );
        let runner_ok = !matches!(&self.runner_name, Some(None));
        status_ran && runner_ok
    }
}

/// Parses REST jobs pages. `started_at` is kept only when the job ran (status `in_progress` or
/// `completed` with a runner: GitHub fills `started_at` in even for queued jobs), `completed_at`
/// only when it completed (a completed job that never ran keeps `completed_at` without
/// `started_at`: it was cancelled or skipped while queued). `queued_at` is `created_at`, else `started_at` (counted); a job with
/// neither is skipped.
pub fn parse_github_jobs(text: &str, source: &str) -> Result<TraceLoad, LoadError> {
    let pages: Vec<(usize, Page)> = json_values(text, source)?;
    if pages.is_empty() {
        return Err(LoadError::whole(
            source,
            "no jobs page found (expected {\"total_count\":…,\"jobs\":[…]})",
        ));
    }
    let mut stats = TraceStats::default();
    let mut rows = Vec::new();
    let mut intern = Interner::new();
    for (line, page) in pages {
        for job in page.jobs {
            stats.rows_read += 1;
            if let Some(j) = to_trace_job(job, line, &mut stats, &mut intern) {
                rows.push((line, j));
            }
        }
    }
    Ok(finish(source, TraceFormat::GithubJobs, rows, stats))
}

fn to_trace_job(
    job: RestJob,
    line: usize,
    stats: &mut TraceStats,
    intern: &mut Interner,
) -> Option<TraceJob> {
    let ran = job.ran();
    let started_at = if ran { job.started_at } else { None };
    let completed = matches!(job.status.as_deref(), None | Some("completed"));
    // A completed job that never ran (cancelled or skipped while queued) keeps its completion:
    // that is when it left the queue.
    let completed_at = if completed { job.completed_at } else { None };
    let queued_at = match (job.created_at, started_at) {
        (Some(c), _) => c,
        (None, Some(s)) => {
            stats.queued_from_started += 1;
            s
        }
        (None, None) => {
            stats.skip("job has no created_at and never started", line);
            return None;
        }
    };
    let repo = job.repo();
    Some(TraceJob {
        job_id: job.id,
        run_id: job.run_id.unwrap_or(0),
        run_attempt: job.run_attempt.unwrap_or(1),
        repo: intern.str(&repo),
        workflow: intern.str(job.workflow_name.as_deref().unwrap_or("")),
        name: intern.str(job.name.as_deref().unwrap_or("")),
        labels: intern.labels(job.labels),
        queued_at,
        started_at,
        completed_at,
        conclusion: if completed {
            intern.conclusion(job.conclusion.as_deref())
        } else {
            None
        },
    })
}
