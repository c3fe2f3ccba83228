//! Names the policy and its shells must agree on: SSM parameter paths, runner names, client
//! tokens. Terraform scopes IAM to the same paths (see `contracts/lambda-env.json`).

use crate::config::Config;

/// SSM parameter holding an instance's registration token or JIT config.
pub fn token_parameter(prefix: &str, instance_id: &str) -> String {
    format!("/{prefix}/runners/tokens/{instance_id}")
}

/// The path under which every token parameter lives (for listing).
pub fn token_parameter_path(prefix: &str) -> String {
    format!("/{prefix}/runners/tokens/")
}

/// The put-if-absent record that makes a duplicate delivery of a job harmless.
pub fn launch_claim_parameter(prefix: &str, job_id: u64, run_attempt: u32) -> String {
    format!("/{prefix}/runners/launch-claims/{job_id}-{run_attempt}")
}

pub fn launch_claim_path(prefix: &str) -> String {
    format!("/{prefix}/runners/launch-claims/")
}

/// Parses `{job_id}-{run_attempt}` from a claim parameter name.
pub fn parse_launch_claim(name: &str) -> Option<(u64, u32)> {
    let last = name.rsplit('/').next()?;
    let (job, attempt) = last.split_once('-')?;
    Some((job.parse().ok()?, attempt.parse().ok()?))
}

/// A job interrupted by a spot reclaim, to re-run when its run completes.
pub fn interrupted_job_parameter(prefix: &str, run_id: u64, job_id: u64) -> String {
    format!("/{prefix}/runners/interrupted-jobs/{run_id}/{job_id}")
}

pub fn interrupted_jobs_path(prefix: &str, run_id: u64) -> String {
    format!("/{prefix}/runners/interrupted-jobs/{run_id}/")
}

pub fn config_parameter(prefix: &str) -> String {
    format!("/{prefix}/config")
}

/// GitHub runner name of an instance: the instance id behind `runner_name_prefix`.
pub fn runner_name(config: &Config, instance_id: &str) -> String {
    format!("{}{}", config.runner_name_prefix, instance_id)
}

/// The instance a runner name belongs to, when the name is one this pool gives.
pub fn instance_of_runner<'a>(config: &Config, runner_name: &'a str) -> Option<&'a str> {
    runner_name
        .strip_prefix(config.runner_name_prefix.as_str())
        .filter(|id| id.starts_with("i-") && id.len() > 2)
}

fn fnv1a32(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for part in parts {
        for b in part.iter() {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
        // A separator, so ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Short stable digest of the prefix (32-bit FNV-1a), so two pools in one account never share a
/// client token. Not security: tokens only need to differ.
fn prefix_digest(prefix: &str) -> String {
    format!("{:08x}", fnv1a32(&[prefix.as_bytes()]))
}

/// EC2 ClientToken for launching for a job: distinct per launch option (so failover is not
/// answered from idempotency), per build-queue message and per delivery of it (so a retry after a
/// failure, or a new message for the same job, launches anew rather than being answered with an
/// earlier launch), at most 64 characters.
pub fn job_client_token(
    prefix: &str,
    job_id: u64,
    option: u32,
    message_id: &str,
    receive_count: u32,
) -> String {
    let delivery = fnv1a32(&[message_id.as_bytes(), &receive_count.to_le_bytes()]);
    format!(
        "fl-{}-{job_id}-{delivery:08x}-o{option}",
        prefix_digest(prefix)
    )
}

pub fn pool_client_token(prefix: &str, now_ms: i64, option: u32) -> String {
    format!("fl-{}-pool-{now_ms}-o{option}", prefix_digest(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_tokens_fit_and_differ_per_option() {
        let long_id = "d".repeat(100);
        let a = job_client_token("github-actions", u64::MAX, u32::MAX, &long_id, u32::MAX);
        assert!(a.len() <= 64, "{a} is {} chars", a.len());
        let base = job_client_token("p", 1, 0, "m1", 1);
        assert_ne!(base, job_client_token("p", 1, 1, "m1", 1), "per option");
        assert_ne!(base, job_client_token("q", 1, 0, "m1", 1), "per pool");
        assert_ne!(base, job_client_token("p", 1, 0, "m2", 1), "per message");
        assert_ne!(base, job_client_token("p", 1, 0, "m1", 2), "per delivery");
        assert_eq!(base, job_client_token("p", 1, 0, "m1", 1), "stable");
        assert!(pool_client_token("github-actions", i64::MAX, 9).len() <= 64);
    }

    #[test]
    fn runner_names_round_trip() {
        let c = Config {
            runner_name_prefix: "gh-".into(),
            ..Config::default()
        };
        let name = runner_name(&c, "i-0abc");
        assert_eq!(name, "gh-i-0abc");
        assert_eq!(instance_of_runner(&c, &name), Some("i-0abc"));
        assert_eq!(instance_of_runner(&c, "my runner"), None);
    }

    #[test]
    fn claim_names_parse() {
        let n = launch_claim_parameter("p", 42, 3);
        assert_eq!(parse_launch_claim(&n), Some((42, 3)));
        assert_eq!(parse_launch_claim("/p/x/garbage"), None);
    }
}
