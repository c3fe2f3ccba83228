//! On-demand prices: CSV with header `region,instance_type,usd_per_hour` (any column order).

use std::collections::BTreeSet;

use super::{Batch, PriceFormat, PriceLoad, PriceOs};
use crate::load::{csv_error, parse_price, LoadError};

pub(super) fn parse(
    text: &str,
    source: &str,
    region: &str,
    _os: PriceOs,
) -> Result<(Batch, PriceLoad), LoadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| csv_error(source, &e))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name)).ok_or_else(|| {
            LoadError::at(
                source,
                1,
                format!("the header has no `{name}` column (expected region,instance_type,usd_per_hour)"),
            )
        })
    };
    let (c_region, c_type, c_price) = (col("region")?, col("instance_type")?, col("usd_per_hour")?);
    let mut load = PriceLoad::new(source, PriceFormat::OnDemandCsv);
    let mut rows: Vec<(String, String, f64)> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_error(source, &e))?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        load.rows_read += 1;
        let get = |c: usize| rec.get(c).map(str::trim).unwrap_or("");
        let (r, ty) = (get(c_region), get(c_type));
        if r.is_empty() || ty.is_empty() {
            return Err(LoadError::at(source, line, "empty region or instance_type"));
        }
        let price = parse_price(get(c_price)).map_err(|e| LoadError::at(source, line, e))?;
        rows.push((r.to_string(), ty.to_string(), price));
    }
    let regions: BTreeSet<&str> = rows.iter().map(|(r, _, _)| r.as_str()).collect();
    let use_region = if regions.contains(region) {
        region.to_string()
    } else if regions.len() == 1 {
        let only = regions
            .iter()
            .next()
            .map(|r| r.to_string())
            .unwrap_or_default();
        load.notes.push(format!(
            "on-demand prices are {only}'s: {source} has none for {region}"
        ));
        only
    } else {
        region.to_string()
    };
    let mut batch = Batch::default();
    for (r, ty, price) in rows {
        if r == use_region {
            load.rows_used += 1;
            batch.on_demand.push((ty, price));
        } else {
            load.other_region += 1;
        }
    }
    Ok((batch, load))
}
