//! Label matching: which jobs this pool serves, and which runner GitHub may give a job.

/// GitHub compares labels case-insensitively; so does everything here.
pub fn normalise_label(label: &str) -> String {
    label.trim().to_ascii_lowercase()
}

/// GitHub's own rule: a runner can take a job when every label the job asks for is one of the
/// runner's labels. An empty label list is never self-hosted work.
pub fn runner_covers_job<R: AsRef<str>, J: AsRef<str>>(
    runner_labels: &[R],
    job_labels: &[J],
) -> bool {
    !job_labels.is_empty()
        && job_labels.iter().all(|j| {
            runner_labels
                .iter()
                .any(|r| r.as_ref().trim().eq_ignore_ascii_case(j.as_ref().trim()))
        })
}

/// The pool's acceptance rule (`enable_runner_workflow_job_labels_check_all`): with `check_all`
/// the job must be one GitHub could give our runners (every job label is a runner label, compared
/// exactly); without it one shared label is enough (v7's loose mode, which can launch runners
/// GitHub will not use).
pub fn pool_accepts_labels<R: AsRef<str>, J: AsRef<str>>(
    runner_labels: &[R],
    job_labels: &[J],
    check_all: bool,
) -> bool {
    if check_all {
        runner_covers_job(runner_labels, job_labels)
    } else {
        job_labels.iter().any(|j| {
            runner_labels
                .iter()
                .any(|r| r.as_ref().trim().eq_ignore_ascii_case(j.as_ref().trim()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNNER: [&str; 4] = ["self-hosted", "linux", "x64", "gpu"];

    #[test]
    fn subset_matches_case_insensitively() {
        assert!(runner_covers_job(&RUNNER, &["Self-Hosted", "LINUX"]));
        assert!(runner_covers_job(
            &RUNNER,
            &["self-hosted", "linux", "x64", "gpu"]
        ));
        assert!(!runner_covers_job(&RUNNER, &["self-hosted", "arm64"]));
        assert!(!runner_covers_job(&RUNNER, &["ubuntu-latest"]));
        assert!(!runner_covers_job(&RUNNER, &[] as &[&str]));
    }

    #[test]
    fn loose_mode_needs_one_label() {
        assert!(pool_accepts_labels(
            &RUNNER,
            &["self-hosted", "arm64"],
            false
        ));
        assert!(!pool_accepts_labels(
            &RUNNER,
            &["self-hosted", "arm64"],
            true
        ));
        assert!(!pool_accepts_labels(&RUNNER, &["ubuntu-latest"], false));
    }
}
