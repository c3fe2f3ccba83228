//! `aws ec2 describe-spot-price-history` JSON.

use flotilla_core::Timestamp;
use serde::{Deserialize, Deserializer};

use super::{keep_row, Batch, PriceFormat, PriceLoad, PriceOs};
use crate::load::{json_values, parse_price, LoadError};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Response {
    spot_price_history: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Row {
    availability_zone: String,
    instance_type: String,
    product_description: String,
    #[serde(deserialize_with = "price")]
    spot_price: f64,
    timestamp: Timestamp,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrText {
    Num(f64),
    Text(String),
}

/// `"0.241800"` (as AWS writes it) or a number; finite and non-negative.
fn price<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let text = match NumOrText::deserialize(d)? {
        NumOrText::Num(n) => n.to_string(),
        NumOrText::Text(t) => t,
    };
    parse_price(&text).map_err(serde::de::Error::custom)
}

pub(super) fn parse(
    text: &str,
    source: &str,
    region: &str,
    os: PriceOs,
) -> Result<(Batch, PriceLoad), LoadError> {
    let responses: Vec<(usize, Response)> = json_values(text, source)?;
    if responses.is_empty() {
        return Err(LoadError::whole(
            source,
            "no describe-spot-price-history response found",
        ));
    }
    let mut load = PriceLoad::new(source, PriceFormat::SpotHistoryJson);
    let mut batch = Batch::default();
    for (_, r) in responses {
        for row in r.spot_price_history {
            load.rows_read += 1;
            if !keep_row(
                &mut load,
                region,
                os,
                &row.availability_zone,
                &row.product_description,
            ) {
                continue;
            }
            load.rows_used += 1;
            batch.spot.push((
                row.instance_type,
                row.availability_zone,
                row.timestamp.0,
                row.spot_price,
            ));
        }
    }
    Ok((batch, load))
}
