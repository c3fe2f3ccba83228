//! Instance tags: the policy's memory between stateless invocations.
//!
//! Reading is forgiving (a tag with a value we cannot parse is as if absent: the worst case is
//! that a step is repeated), writing goes through these functions only.

use std::collections::BTreeMap;

use crate::model::{InstanceTags, JobRef, RunnerOwner};
use crate::time::Timestamp;

pub const PREFIX: &str = "flotilla:prefix";
pub const OWNER: &str = "flotilla:owner";
pub const LAUNCHED_FOR: &str = "flotilla:launched-for";
pub const RUN_ATTEMPT: &str = "flotilla:run-attempt";
pub const ORPHAN_SINCE: &str = "flotilla:orphan-since";
pub const CURRENT_JOB: &str = "flotilla:current-job";
pub const INTERRUPTED_AT: &str = "flotilla:interrupted-at";
pub const DEREGISTER_PENDING: &str = "flotilla:deregister-pending";

/// `launched-for` value of instances launched by the pool schedule.
pub const POOL: &str = "pool";

/// Parses DescribeInstances tags into what the policy reads.
pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> InstanceTags {
    let mut tags = InstanceTags::default();
    for (key, value) in pairs {
        apply(&mut tags, key, value);
    }
    tags
}

/// Reads one tag: the field its key holds is set from this value alone, so a tag written over an
/// instance's parsed tags reads as if all its tags were parsed again.
pub fn apply(tags: &mut InstanceTags, key: &str, value: &str) {
    match key {
        OWNER => tags.owner = (!value.is_empty()).then(|| RunnerOwner::from_tag_value(value)),
        LAUNCHED_FOR => tags.launched_for = value.parse().ok(),
        RUN_ATTEMPT => tags.run_attempt = value.parse().ok(),
        ORPHAN_SINCE => tags.orphan_since = Timestamp::parse_rfc3339(value).ok(),
        CURRENT_JOB => tags.current_job = parse_job_ref(value),
        INTERRUPTED_AT => tags.interrupted_at = Timestamp::parse_rfc3339(value).ok(),
        DEREGISTER_PENDING => tags.deregister_pending = Timestamp::parse_rfc3339(value).ok(),
        _ => {}
    }
}

/// The raw tags that [`parse`] reads back as `tags` (without the prefix tag).
pub fn render(tags: &InstanceTags) -> BTreeMap<String, String> {
    let mut raw = BTreeMap::new();
    if let Some(o) = &tags.owner {
        raw.insert(OWNER.to_string(), o.tag_value().to_string());
    }
    match tags.launched_for {
        Some(job) => {
            raw.insert(LAUNCHED_FOR.to_string(), job.to_string());
        }
        None => {
            raw.insert(LAUNCHED_FOR.to_string(), POOL.to_string());
        }
    }
    if let Some(a) = tags.run_attempt {
        raw.insert(RUN_ATTEMPT.to_string(), a.to_string());
    }
    let times = [
        (ORPHAN_SINCE, tags.orphan_since),
        (INTERRUPTED_AT, tags.interrupted_at),
        (DEREGISTER_PENDING, tags.deregister_pending),
    ];
    for (k, t) in times {
        if let Some(t) = t {
            raw.insert(k.to_string(), t.to_rfc3339());
        }
    }
    if let Some(j) = &tags.current_job {
        raw.insert(CURRENT_JOB.to_string(), job_ref_value(j));
    }
    raw
}

/// `owner/repo:run_id:job_id`
pub fn job_ref_value(job: &JobRef) -> String {
    let mut out = String::with_capacity(job.repo.len() + 42);
    out.push_str(&job.repo);
    out.push(':');
    crate::naming::push_decimal(&mut out, job.run_id);
    out.push(':');
    crate::naming::push_decimal(&mut out, job.job_id);
    out
}

/// Reads `repo:run_id:job_id` (the repository may hold colons: the ids are the last two
/// fields). Split by hand: every job start writes this tag and the simulator reads it back.
pub fn parse_job_ref(value: &str) -> Option<JobRef> {
    let bytes = value.as_bytes();
    let last = bytes.iter().rposition(|&b| b == b':')?;
    let job_id = parse_u64(&bytes[last + 1..])?;
    let second = bytes[..last].iter().rposition(|&b| b == b':')?;
    let run_id = parse_u64(&bytes[second + 1..last])?;
    if second == 0 {
        return None;
    }
    Some(JobRef {
        repo: value[..second].to_string(),
        run_id,
        job_id,
    })
}

/// What `str::parse::<u64>` accepts: an optional `+`, then one or more ASCII digits, no
/// overflow.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    let digits = digits.strip_prefix(b"+").unwrap_or(digits);
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Tags every instance gets at launch.
pub fn at_launch(
    prefix: &str,
    owner: &RunnerOwner,
    launched_for: Option<(u64, u32)>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    tags.insert(PREFIX.to_string(), prefix.to_string());
    tags.insert(OWNER.to_string(), owner.tag_value().to_string());
    match launched_for {
        Some((job, attempt)) => {
            let mut job_id = String::with_capacity(20);
            crate::naming::push_decimal(&mut job_id, job);
            let mut run_attempt = String::with_capacity(10);
            crate::naming::push_decimal(&mut run_attempt, u64::from(attempt));
            tags.insert(LAUNCHED_FOR.to_string(), job_id);
            tags.insert(RUN_ATTEMPT.to_string(), run_attempt);
        }
        None => {
            tags.insert(LAUNCHED_FOR.to_string(), POOL.to_string());
        }
    }
    tags
}

pub fn one(key: &str, value: impl Into<String>) -> BTreeMap<String, String> {
    BTreeMap::from([(key.to_string(), value.into())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_refs_parse_as_rsplitn_and_str_parse_did() {
        let reference = |value: &str| -> Option<JobRef> {
            let mut parts = value.rsplitn(3, ':');
            let job_id = parts.next()?.parse().ok()?;
            let run_id = parts.next()?.parse().ok()?;
            let repo = parts.next()?.to_string();
            if repo.is_empty() {
                return None;
            }
            Some(JobRef {
                repo,
                run_id,
                job_id,
            })
        };
        let fields = [
            "",
            "0",
            "7",
            "+7",
            "+",
            "-1",
            "18446744073709551615",
            "18446744073709551616",
            "00042",
            "4 2",
            "x",
            "é",
            "1:2",
            "a:b",
        ];
        for repo in ["", "octo/hello", "a:b", ":", "é/ü"] {
            for run in fields {
                for job in fields {
                    let value = format!("{repo}:{run}:{job}");
                    assert_eq!(parse_job_ref(&value), reference(&value), "{value:?}");
                    assert_eq!(parse_job_ref(job), reference(job), "{job:?}");
                }
            }
        }
        let value = job_ref_value(&JobRef {
            repo: "octo/hello".into(),
            run_id: 5,
            job_id: 9,
        });
        assert_eq!(parse_job_ref(&value), reference(&value));
        assert!(parse_job_ref(&value).is_some());
    }

    #[test]
    fn launch_tags_parse_back() {
        let owner = RunnerOwner::Repo("octo/hello".into());
        let written = at_launch("p", &owner, Some((7, 2)));
        let read = parse(written.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(read.owner, Some(owner));
        assert_eq!(read.launched_for, Some(7));
        assert_eq!(read.run_attempt, Some(2));
        let pool = at_launch("p", &RunnerOwner::Org("octo".into()), None);
        let read = parse(pool.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(read.launched_for, None);
        assert_eq!(read.owner, Some(RunnerOwner::Org("octo".into())));
    }

    #[test]
    fn render_is_the_inverse_of_parse() {
        let t = InstanceTags {
            owner: Some(RunnerOwner::Org("octo".into())),
            launched_for: Some(5),
            run_attempt: Some(2),
            orphan_since: Some(Timestamp(1_000)),
            current_job: Some(JobRef {
                repo: "octo/x".into(),
                run_id: 1,
                job_id: 2,
            }),
            interrupted_at: Some(Timestamp(2_000)),
            deregister_pending: None,
        };
        let raw = render(&t);
        assert_eq!(parse(raw.iter().map(|(k, v)| (k.as_str(), v.as_str()))), t);
        let empty = InstanceTags::default();
        assert_eq!(
            parse(render(&empty).iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            empty
        );
    }

    #[test]
    fn a_tag_applied_over_parsed_tags_reads_as_a_full_parse() {
        let owner = RunnerOwner::Repo("octo/hello".into());
        let mut raw = at_launch("p", &owner, Some((7, 2)));
        let mut tags = parse(raw.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for (k, v) in [
            (CURRENT_JOB, "octo/hello:5:9"),
            (OWNER, ""),
            (ORPHAN_SINCE, "2026-01-01T00:00:00Z"),
            (LAUNCHED_FOR, "x"),
        ] {
            apply(&mut tags, k, v);
            raw.insert(k.to_string(), v.to_string());
            assert_eq!(
                tags,
                parse(raw.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                "{k}"
            );
        }
    }

    #[test]
    fn unparsable_values_are_absent() {
        let read = parse([
            (ORPHAN_SINCE, "soon"),
            (CURRENT_JOB, "x:y"),
            (LAUNCHED_FOR, "-1"),
        ]);
        assert_eq!(read, InstanceTags::default());
    }

    #[test]
    fn job_refs_round_trip_with_colons_in_nothing_but_separators() {
        let j = JobRef {
            repo: "octo/hello".into(),
            run_id: 5,
            job_id: 9,
        };
        assert_eq!(parse_job_ref(&job_ref_value(&j)), Some(j));
    }
}
