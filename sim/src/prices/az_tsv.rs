//! The AZ-ID TSV without header: `az_id, instance_type, product, price, timestamp`, tab-separated,
//! a row only when a price changes (the step function carries each price forward).

use super::{keep_row, Batch, PriceFormat, PriceLoad, PriceOs};
use crate::load::{parse_price, LoadError};
use crate::trace::parse_time;

pub(super) fn parse(
    text: &str,
    source: &str,
    region: &str,
    os: PriceOs,
) -> Result<(Batch, PriceLoad), LoadError> {
    let mut load = PriceLoad::new(source, PriceFormat::AzIdTsv);
    let mut batch = Batch::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        load.rows_read += 1;
        let f: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [az, ty, product, price, time] = f[..] else {
            return Err(LoadError::at(
                source,
                line_no,
                format!(
                    "expected 5 tab-separated fields (az_id, instance_type, product, price, timestamp), found {}",
                    f.len()
                ),
            ));
        };
        let price = parse_price(price).map_err(|e| LoadError::at(source, line_no, e))?;
        let t = parse_time(time)
            .map_err(|e| LoadError::at(source, line_no, format!("timestamp: {e}")))?;
        if ty.is_empty() || az.is_empty() {
            return Err(LoadError::at(
                source,
                line_no,
                "empty zone or instance type",
            ));
        }
        if !keep_row(&mut load, region, os, az, product) {
            continue;
        }
        load.rows_used += 1;
        batch
            .spot
            .push((ty.to_string(), az.to_string(), t.0, price));
    }
    if load.rows_read == 0 {
        return Err(LoadError::whole(source, "the file has no rows"));
    }
    Ok((batch, load))
}
