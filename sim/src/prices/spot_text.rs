//! Spot history as text, one record per line:
//! - legacy ec2-api-tools: `SPOTINSTANCEPRICE <price> <timestamp> <type> <product> <az>`;
//! - AWS CLI `--output text`: `SPOTPRICEHISTORY <az> <type> <product> <price> <timestamp>`.
//!
//! Fields are tab-separated; when a line has no tabs, whitespace separates them and the product
//! is every word between the fixed fields (product names contain spaces: `Red Hat Enterprise
//! Linux`). Other record types (`NEXTTOKEN`) are skipped and counted.

use super::{keep_row, Batch, PriceFormat, PriceLoad, PriceOs};
use crate::load::{clip, parse_price, LoadError};
use crate::trace::parse_time;

pub(super) fn parse(
    text: &str,
    source: &str,
    region: &str,
    os: PriceOs,
) -> Result<(Batch, PriceLoad), LoadError> {
    let mut format = None;
    let mut load = PriceLoad::new(source, PriceFormat::SpotLegacyText);
    let mut batch = Batch::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let tag = fields.first().copied().unwrap_or("");
        let this = match tag {
            "SPOTINSTANCEPRICE" => PriceFormat::SpotLegacyText,
            "SPOTPRICEHISTORY" => PriceFormat::SpotHistoryCliText,
            _ => {
                *load
                    .skipped
                    .entry(format!("`{}` records", clip(tag)))
                    .or_insert(0) += 1;
                continue;
            }
        };
        if *format.get_or_insert(this) != this {
            return Err(LoadError::at(
                source,
                line_no,
                "SPOTINSTANCEPRICE and SPOTPRICEHISTORY records are mixed in one file",
            ));
        }
        load.rows_read += 1;
        if fields.len() < 6 {
            return Err(LoadError::at(
                source,
                line_no,
                format!(
                    "a {tag} record needs 6 fields, this one has {}",
                    fields.len()
                ),
            ));
        }
        let n = fields.len();
        let product = fields[if this == PriceFormat::SpotLegacyText {
            4..n - 1
        } else {
            3..n - 2
        }]
        .join(" ");
        let (price, time, ty, az) = match this {
            PriceFormat::SpotLegacyText => (fields[1], fields[2], fields[3], fields[n - 1]),
            _ => (fields[n - 2], fields[n - 1], fields[2], fields[1]),
        };
        let price = parse_price(price).map_err(|e| LoadError::at(source, line_no, e))?;
        let t = parse_time(time)
            .map_err(|e| LoadError::at(source, line_no, format!("timestamp: {e}")))?;
        if ty.is_empty() || az.is_empty() {
            return Err(LoadError::at(
                source,
                line_no,
                "empty instance type or availability zone",
            ));
        }
        if !keep_row(&mut load, region, os, az, &product) {
            continue;
        }
        load.rows_used += 1;
        batch
            .spot
            .push((ty.to_string(), az.to_string(), t.0, price));
    }
    match format {
        Some(f) => load.format = f,
        None => {
            return Err(LoadError::whole(
                source,
                "no SPOTINSTANCEPRICE or SPOTPRICEHISTORY record found",
            ))
        }
    }
    Ok((batch, load))
}
