//! Names the policy and its shells must agree on: SSM parameter paths, runner names, client
//! tokens. Terraform scopes IAM to the same paths (see `contracts/lambda-env.json`).

use crate::config::Config;

// These names are built on every launch, scale-up message and runner (the simulator builds
// millions per tuning run): joined by hand rather than through `format!`'s machinery.

/// Appends `n` in decimal (what `write!(out, "{n}")` does, without the formatting machinery:
/// `itoa` writes two digits per step and hands back a `&str`, with no UTF-8 check to pay).
pub fn push_decimal(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Appends `n` as 8 lowercase hex digits.
fn push_hex8(out: &mut String, n: u32) {
    for shift in (0..8).rev() {
        let nibble = (n >> (shift * 4)) & 0xf;
        out.push(char::from_digit(nibble, 16).unwrap_or('0'));
    }
}

fn joined(parts: &[&str], extra: usize) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + extra);
    for p in parts {
        out.push_str(p);
    }
    out
}

/// SSM parameter holding an instance's registration token or JIT config.
pub fn token_parameter(prefix: &str, instance_id: &str) -> String {
    joined(&["/", prefix, "/runners/tokens/", instance_id], 0)
}

/// The path under which every token parameter lives (for listing).
pub fn token_parameter_path(prefix: &str) -> String {
    joined(&["/", prefix, "/runners/tokens/"], 0)
}

/// The put-if-absent record that makes a duplicate delivery of a job harmless.
pub fn launch_claim_parameter(prefix: &str, job_id: u64, run_attempt: u32) -> String {
    let mut out = joined(&["/", prefix, "/runners/launch-claims/"], 32);
    push_decimal(&mut out, job_id);
    out.push('-');
    push_decimal(&mut out, u64::from(run_attempt));
    out
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
    joined(&[&config.runner_name_prefix, instance_id], 0)
}

/// The instance a runner name belongs to, when the name is one this pool gives.
pub fn instance_of_runner<'a>(config: &Config, runner_name: &'a str) -> Option<&'a str> {
    runner_name
        .strip_prefix(config.runner_name_prefix.as_str())
        .filter(|id| is_instance_id(id))
}

/// Whether `id` has the shape of an EC2 instance id (`i-…`), as runner names carry them.
pub fn is_instance_id(id: &str) -> bool {
    id.starts_with("i-") && id.len() > 2
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
fn push_prefix_digest(out: &mut String, prefix: &str) {
    push_hex8(out, fnv1a32(&[prefix.as_bytes()]));
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
    // fl-{digest}-{job_id}-{delivery:08x}-o{option}
    let mut out = String::with_capacity(64);
    out.push_str("fl-");
    push_prefix_digest(&mut out, prefix);
    out.push('-');
    push_decimal(&mut out, job_id);
    out.push('-');
    push_hex8(&mut out, delivery);
    out.push_str("-o");
    push_decimal(&mut out, u64::from(option));
    out
}

pub fn pool_client_token(prefix: &str, now_ms: i64, option: u32) -> String {
    let mut out = String::from("fl-");
    push_prefix_digest(&mut out, prefix);
    format!("{out}-pool-{now_ms}-o{option}")
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
    fn push_decimal_writes_what_format_writes() {
        let mut cases = vec![0u64, 1, 9, u64::MAX, u64::MAX - 1];
        let mut p = 1u64;
        while let Some(next) = p.checked_mul(10) {
            cases.extend([p - 1, p, p + 1]);
            p = next;
        }
        for n in cases {
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn hand_built_names_match_their_formats() {
        for (job, attempt, option) in [
            (0u64, 0u32, 0u32),
            (42, 3, 1),
            (u64::MAX, u32::MAX, u32::MAX),
        ] {
            assert_eq!(
                launch_claim_parameter("gh-ci", job, attempt),
                format!("/gh-ci/runners/launch-claims/{job}-{attempt}")
            );
            let delivery = fnv1a32(&["m-1".as_bytes(), &7u32.to_le_bytes()]);
            assert_eq!(
                job_client_token("gh-ci", job, option, "m-1", 7),
                format!(
                    "fl-{:08x}-{job}-{delivery:08x}-o{option}",
                    fnv1a32(&[b"gh-ci"])
                )
            );
        }
        assert_eq!(
            pool_client_token("p", -5, 2),
            format!("fl-{:08x}-pool--5-o2", fnv1a32(&[b"p"]))
        );
        assert_eq!(token_parameter("p", "i-1"), "/p/runners/tokens/i-1");
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
