//! The AWS Spot Instance Advisor feed: `spot_advisor[region][os][type] = {"s": savings %, "r":
//! bucket index}` and `ranges[]` (`{"index", "label", "max"}`) naming the buckets.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Batch, InterruptionBucket, PriceFormat, PriceLoad, PriceOs, SpotAdvice};
use crate::load::{json_error, LoadError};

#[derive(Deserialize)]
struct Feed {
    ranges: Vec<Range>,
    spot_advisor: BTreeMap<String, BTreeMap<String, BTreeMap<String, Entry>>>,
}

#[derive(Deserialize)]
struct Range {
    index: u8,
    label: String,
    #[serde(default)]
    max: Option<f64>,
}

#[derive(Deserialize)]
struct Entry {
    s: f64,
    r: u8,
}

/// `<5%` → (0, 5); `5-10%` → (5, 10); `>20%` → (20, 100); `None` otherwise.
fn bounds_of(label: &str) -> Option<(f64, f64)> {
    let l = label.trim().trim_end_matches('%').trim();
    if let Some(x) = l.strip_prefix('<') {
        return Some((0.0, x.trim().parse().ok()?));
    }
    if let Some(x) = l.strip_prefix('>') {
        return Some((x.trim().parse().ok()?, 100.0));
    }
    let (a, b) = l.split_once('-')?;
    Some((
        a.trim().parse().ok()?,
        b.trim().trim_end_matches('%').parse().ok()?,
    ))
}

pub(super) fn parse(
    text: &str,
    source: &str,
    region: &str,
    os: PriceOs,
) -> Result<(Batch, PriceLoad), LoadError> {
    let feed: Feed = serde_json::from_str(text).map_err(|e| json_error(source, 1, &e))?;
    // Buckets by index, bounds from the labels (the feed's own `max` — 5, 11, 16, 22, 100 — is
    // only used when a label cannot be read).
    let mut ranges: Vec<&Range> = feed.ranges.iter().collect();
    ranges.sort_by_key(|r| r.index);
    let mut buckets: BTreeMap<u8, InterruptionBucket> = BTreeMap::new();
    let mut prev_upper = 0.0;
    for r in ranges {
        let (lower_pct, upper_pct) =
            bounds_of(&r.label).unwrap_or((prev_upper, r.max.unwrap_or(100.0)));
        prev_upper = upper_pct;
        buckets.insert(
            r.index,
            InterruptionBucket {
                index: r.index,
                label: r.label.clone(),
                lower_pct,
                upper_pct,
            },
        );
    }
    let mut load = PriceLoad::new(source, PriceFormat::SpotAdvisorJson);
    let mut batch = Batch::default();
    let Some(by_os) = feed.spot_advisor.get(region) else {
        load.notes
            .push(format!("{source} has no spot-advisor data for {region}"));
        return Ok((batch, load));
    };
    for (os_key, types) in by_os {
        if os_key != os.advisor_key() {
            load.other_os += types.len() as u64;
            continue;
        }
        for (ty, e) in types {
            load.rows_read += 1;
            let Some(bucket) = buckets.get(&e.r) else {
                *load
                    .skipped
                    .entry("interruption bucket index not in `ranges`".to_string())
                    .or_insert(0) += 1;
                continue;
            };
            if !e.s.is_finite() {
                *load
                    .skipped
                    .entry("savings not a finite number".to_string())
                    .or_insert(0) += 1;
                continue;
            }
            load.rows_used += 1;
            batch.advice.push((
                ty.clone(),
                SpotAdvice {
                    savings_pct: e.s,
                    bucket: bucket.clone(),
                },
            ));
        }
    }
    let others: u64 = feed
        .spot_advisor
        .iter()
        .filter(|(r, _)| r.as_str() != region)
        .flat_map(|(_, by_os)| by_os.values())
        .map(|t| t.len() as u64)
        .sum();
    load.other_region = others;
    Ok((batch, load))
}

#[cfg(test)]
mod tests {
    use super::bounds_of;

    #[test]
    fn labels_give_bounds() {
        assert_eq!(bounds_of("<5%"), Some((0.0, 5.0)));
        assert_eq!(bounds_of("5-10%"), Some((5.0, 10.0)));
        assert_eq!(bounds_of(">20%"), Some((20.0, 100.0)));
        assert_eq!(bounds_of("lots"), None);
    }
}
