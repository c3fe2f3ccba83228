//! `flotilla prices fetch`: spot price history (EC2 `DescribeSpotPriceHistory`) and on-demand
//! prices (Price List `GetProducts`) for one region, OS and list of instance types, written in
//! formats the price loaders read (`docs/formats.md`):
//!
//! - `spot-price-history-{region}-{os}.json`: `aws ec2 describe-spot-price-history` JSON
//!   (`{"SpotPriceHistory": [...]}`), every page of the answer, sorted by type, zone and time;
//! - `on-demand-{region}-{os}.csv`: `region,instance_type,usd_per_hour`.
//!
//! EC2 is asked in `--region`; the Price List API is served from us-east-1 whatever the region, and
//! filtered by the region's location name (`EU (Ireland)`), `instanceType`, `operatingSystem`,
//! `tenancy` Shared, `preInstalledSw` NA and `capacitystatus` Used. Endpoints, credentials and
//! retries come from the usual AWS configuration (`AWS_PROFILE`, `AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL_PRICING`, ...).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::primitives::DateTime;
use aws_sdk_ec2::types::{InstanceType, RiProductDescription};
use aws_sdk_pricing::types::{Filter, FilterType};
use flotilla_core::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::{error_chain, now, thousands, write_atomic};
use crate::prices::PriceOs;

/// AWS keeps 90 days of spot price history.
pub const MAX_DAYS: u32 = 90;

/// The region the Price List API is served from.
pub const PRICING_REGION: &str = "us-east-1";

/// Options of one price fetch.
#[derive(Debug, Clone)]
pub struct PricesFetch {
    pub region: String,
    pub instance_types: Vec<String>,
    pub days: u32,
    pub os: PriceOs,
    pub out_dir: PathBuf,
}

/// What a price fetch wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PricesSummary {
    pub spot_file: PathBuf,
    pub on_demand_file: PathBuf,
    pub spot_points: u64,
    pub spot_pages: u64,
    /// (type, zone) series with at least one point.
    pub spot_series: u64,
    pub on_demand_pages: u64,
    /// Instance type → USD per hour.
    pub on_demand: BTreeMap<String, f64>,
    /// Requested types without a spot price, and without an on-demand price.
    pub no_spot: Vec<String>,
    pub no_on_demand: Vec<String>,
    pub notes: Vec<String>,
}

/// The Price List `location` of a region code (`None` for a region not in the table).
pub fn location_of(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-east-1" => "US East (N. Virginia)",
        "us-east-2" => "US East (Ohio)",
        "us-west-1" => "US West (N. California)",
        "us-west-2" => "US West (Oregon)",
        "af-south-1" => "Africa (Cape Town)",
        "ap-east-1" => "Asia Pacific (Hong Kong)",
        "ap-south-1" => "Asia Pacific (Mumbai)",
        "ap-south-2" => "Asia Pacific (Hyderabad)",
        "ap-southeast-1" => "Asia Pacific (Singapore)",
        "ap-southeast-2" => "Asia Pacific (Sydney)",
        "ap-southeast-3" => "Asia Pacific (Jakarta)",
        "ap-southeast-4" => "Asia Pacific (Melbourne)",
        "ap-southeast-5" => "Asia Pacific (Malaysia)",
        "ap-southeast-7" => "Asia Pacific (Thailand)",
        "ap-northeast-1" => "Asia Pacific (Tokyo)",
        "ap-northeast-2" => "Asia Pacific (Seoul)",
        "ap-northeast-3" => "Asia Pacific (Osaka)",
        "ca-central-1" => "Canada (Central)",
        "ca-west-1" => "Canada West (Calgary)",
        "eu-central-1" => "EU (Frankfurt)",
        "eu-central-2" => "EU (Zurich)",
        "eu-west-1" => "EU (Ireland)",
        "eu-west-2" => "EU (London)",
        "eu-west-3" => "EU (Paris)",
        "eu-south-1" => "EU (Milan)",
        "eu-south-2" => "EU (Spain)",
        "eu-north-1" => "EU (Stockholm)",
        "il-central-1" => "Israel (Tel Aviv)",
        "me-south-1" => "Middle East (Bahrain)",
        "me-central-1" => "Middle East (UAE)",
        "mx-central-1" => "Mexico (Central)",
        "sa-east-1" => "South America (Sao Paulo)",
        "us-gov-west-1" => "AWS GovCloud (US-West)",
        "us-gov-east-1" => "AWS GovCloud (US-East)",
        _ => return None,
    })
}

fn os_name(os: PriceOs) -> &'static str {
    match os {
        PriceOs::Linux => "linux",
        PriceOs::Windows => "windows",
    }
}

/// The spot `ProductDescription`s of an OS (VPC and classic names).
fn product_descriptions(os: PriceOs) -> [&'static str; 2] {
    match os {
        PriceOs::Linux => ["Linux/UNIX", "Linux/UNIX (Amazon VPC)"],
        PriceOs::Windows => ["Windows", "Windows (Amazon VPC)"],
    }
}

/// The Price List `operatingSystem` and the `operation` of the plain (no SQL, no BYOL) product.
fn price_list_os(os: PriceOs) -> (&'static str, &'static str) {
    match os {
        PriceOs::Linux => ("Linux", "RunInstances"),
        PriceOs::Windows => ("Windows", "RunInstances:0002"),
    }
}

/// The two output paths in `out_dir`.
pub fn output_paths(out_dir: &Path, region: &str, os: PriceOs) -> (PathBuf, PathBuf) {
    let os = os_name(os);
    (
        out_dir.join(format!("spot-price-history-{region}-{os}.json")),
        out_dir.join(format!("on-demand-{region}-{os}.csv")),
    )
}

/// A short, plain description of an SDK failure: rejected credentials, missing credentials, an
/// unreachable endpoint, or the service's error code and message.
fn describe_sdk_error<E, R>(what: &str, service: &str, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let chain = error_chain(err);
    match err {
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("unknown error");
            let message = err.message().unwrap_or("");
            let auth = [
                "AuthFailure",
                "UnrecognizedClientException",
                "InvalidClientTokenId",
                "SignatureDoesNotMatch",
                "IncompleteSignature",
                "ExpiredToken",
                "ExpiredTokenException",
                "InvalidAccessKeyId",
            ];
            let denied = [
                "UnauthorizedOperation",
                "AccessDenied",
                "AccessDeniedException",
            ];
            if auth.contains(&code) {
                format!(
                    "{what}: AWS rejected the credentials ({code}: {message}); check AWS_PROFILE, \
                     or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN"
                )
            } else if denied.contains(&code) {
                format!(
                    "{what}: the credentials are not allowed to call it ({code}: {message}); \
                     the fetcher needs ec2:DescribeSpotPriceHistory and pricing:GetProducts"
                )
            } else {
                format!("{what}: {service} answered {code}: {message}")
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            if chain.to_ascii_lowercase().contains("credential") {
                no_credentials(what, &chain)
            } else {
                format!(
                    "{what}: cannot reach the {service} endpoint ({chain}); check the network, \
                     the region, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_{} if set",
                    service.to_ascii_uppercase()
                )
            }
        }
        _ if chain.to_ascii_lowercase().contains("credential") => no_credentials(what, &chain),
        _ => format!("{what}: {chain}"),
    }
}

fn no_credentials(what: &str, chain: &str) -> String {
    format!(
        "{what}: no usable AWS credentials ({chain}); set AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY, or run where an instance/task role is available"
    )
}

/// One point of spot price history, as the AWS CLI writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SpotPoint {
    availability_zone: String,
    instance_type: String,
    product_description: String,
    spot_price: String,
    timestamp: String,
    #[serde(skip)]
    millis: i64,
}

async fn sdk_config(region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        )
        .load()
        .await
}

async fn spot_history(
    conf: &SdkConfig,
    f: &PricesFetch,
    start: Timestamp,
    end: Timestamp,
    log: &mut dyn FnMut(&str),
) -> Result<(Vec<SpotPoint>, u64), String> {
    let ec2 = aws_sdk_ec2::Client::new(conf);
    let what = format!("EC2 DescribeSpotPriceHistory in {}", f.region);
    let mut pages = ec2
        .describe_spot_price_history()
        .set_instance_types(Some(
            f.instance_types
                .iter()
                .map(|t| InstanceType::from(t.as_str()))
                .collect(),
        ))
        .set_product_descriptions(Some(
            product_descriptions(f.os)
                .iter()
                .map(|p| p.to_string())
                .collect(),
        ))
        .start_time(DateTime::from_millis(start.millis()))
        .end_time(DateTime::from_millis(end.millis()))
        .max_results(1000)
        .into_paginator()
        .send();
    let mut points = Vec::new();
    let mut n_pages = 0u64;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe_sdk_error(&what, "EC2", &e))?;
        n_pages += 1;
        for p in page.spot_price_history() {
            let (Some(az), Some(ty), Some(price), Some(ts)) = (
                p.availability_zone(),
                p.instance_type(),
                p.spot_price(),
                p.timestamp(),
            ) else {
                continue;
            };
            let Ok(millis) = ts.to_millis() else {
                continue;
            };
            points.push(SpotPoint {
                availability_zone: az.to_string(),
                instance_type: ty.as_str().to_string(),
                product_description: p
                    .product_description()
                    .map(RiProductDescription::as_str)
                    .unwrap_or("")
                    .to_string(),
                spot_price: price.to_string(),
                timestamp: Timestamp(millis).to_rfc3339(),
                millis,
            });
        }
        log(&format!(
            "spot price history: page {n_pages}, {} points",
            thousands(points.len() as u64)
        ));
    }
    points.sort_by(|a, b| {
        (
            &a.instance_type,
            &a.availability_zone,
            a.millis,
            &a.product_description,
        )
            .cmp(&(
                &b.instance_type,
                &b.availability_zone,
                b.millis,
                &b.product_description,
            ))
    });
    points.dedup();
    Ok((points, n_pages))
}

/// One on-demand offer read from a Price List product.
#[derive(Debug, Clone, PartialEq)]
struct Offer {
    instance_type: String,
    usd_per_hour: f64,
    operation: String,
    license_model: String,
}

/// Reads a Price List entry (a JSON string: `product.attributes` and
/// `terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD`). Entries that are not a plain
/// on-demand compute instance of the OS, shared tenancy, no pre-installed software and used
/// capacity are `None`, whatever the server's filtering did.
fn read_offer(text: &str, os: PriceOs) -> Result<Option<Offer>, String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("a PriceList entry is not JSON: {e}"))?;
    let attrs = v
        .pointer("/product/attributes")
        .and_then(Value::as_object)
        .ok_or("a PriceList entry has no product.attributes")?;
    let attr = |k: &str| attrs.get(k).and_then(Value::as_str).unwrap_or("");
    let (os_attr, _) = price_list_os(os);
    if attr("operatingSystem") != os_attr
        || attr("tenancy") != "Shared"
        || attr("preInstalledSw") != "NA"
        || attr("capacitystatus") != "Used"
        || attr("instanceType").is_empty()
    {
        return Ok(None);
    }
    let mut price = None;
    if let Some(terms) = v.pointer("/terms/OnDemand").and_then(Value::as_object) {
        for term in terms.values() {
            let Some(dims) = term.get("priceDimensions").and_then(Value::as_object) else {
                continue;
            };
            for d in dims.values() {
                let unit = d.get("unit").and_then(Value::as_str).unwrap_or("");
                let usd = d
                    .pointer("/pricePerUnit/USD")
                    .and_then(Value::as_str)
                    .and_then(|s| s.trim().parse::<f64>().ok());
                if let (true, Some(usd)) = (unit.eq_ignore_ascii_case("Hrs"), usd) {
                    if usd.is_finite() && usd > 0.0 {
                        price = Some(usd);
                    }
                }
            }
        }
    }
    Ok(price.map(|usd_per_hour| Offer {
        instance_type: attr("instanceType").to_string(),
        usd_per_hour,
        operation: attr("operation").to_string(),
        license_model: attr("licenseModel").to_string(),
    }))
}

/// The on-demand price of a type among its offers: licence-included over bring-your-own-licence,
/// the plain `RunInstances` operation of the OS over others, then the lowest.
fn choose(offers: &[Offer], os: PriceOs) -> Option<(f64, Option<String>)> {
    let (_, plain_op) = price_list_os(os);
    let rank = |o: &Offer| {
        (
            o.license_model
                .to_ascii_lowercase()
                .contains("bring your own"),
            o.operation != plain_op,
        )
    };
    let best_rank = offers.iter().map(rank).min()?;
    let best: Vec<&Offer> = offers.iter().filter(|o| rank(o) == best_rank).collect();
    let price = best
        .iter()
        .map(|o| o.usd_per_hour)
        .fold(f64::INFINITY, f64::min);
    let distinct = best.iter().any(|o| (o.usd_per_hour - price).abs() > 1e-12);
    let note = distinct.then(|| {
        format!(
            "{}: {} on-demand offers with different prices; the lowest, {price}, is used",
            offers[0].instance_type,
            best.len()
        )
    });
    Some((price, note))
}

async fn on_demand(
    conf: &SdkConfig,
    f: &PricesFetch,
    log: &mut dyn FnMut(&str),
) -> Result<(BTreeMap<String, f64>, u64, Vec<String>), String> {
    let pconf = aws_sdk_pricing::config::Builder::from(conf)
        .region(Region::new(PRICING_REGION))
        .build();
    let pricing = aws_sdk_pricing::Client::from_conf(pconf);
    let (os_attr, _) = price_list_os(f.os);
    let mut notes = Vec::new();
    let region_filter = match location_of(&f.region) {
        Some(loc) => ("location", loc.to_string()),
        None => {
            notes.push(format!(
                "{} is not in the table of Price List location names: filtered by regionCode",
                f.region
            ));
            ("regionCode", f.region.clone())
        }
    };
    let term = |field: &str, value: &str| {
        Filter::builder()
            .r#type(FilterType::TermMatch)
            .field(field)
            .value(value)
            .build()
            .map_err(|e| format!("building a Price List filter: {e}"))
    };
    let mut prices = BTreeMap::new();
    let mut n_pages = 0u64;
    for ty in &f.instance_types {
        let what = format!("Price List GetProducts (AmazonEC2, {ty}, {})", f.region);
        let filters = vec![
            term(region_filter.0, &region_filter.1)?,
            term("instanceType", ty)?,
            term("operatingSystem", os_attr)?,
            term("tenancy", "Shared")?,
            term("preInstalledSw", "NA")?,
            term("capacitystatus", "Used")?,
        ];
        let mut pages = pricing
            .get_products()
            .service_code("AmazonEC2")
            .format_version("aws_v1")
            .set_filters(Some(filters))
            .max_results(100)
            .into_paginator()
            .send();
        let mut offers = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| describe_sdk_error(&what, "Pricing", &e))?;
            n_pages += 1;
            for entry in page.price_list() {
                if let Some(o) = read_offer(entry, f.os).map_err(|e| format!("{what}: {e}"))? {
                    if o.instance_type == *ty {
                        offers.push(o);
                    }
                }
            }
        }
        match choose(&offers, f.os) {
            Some((price, note)) => {
                log(&format!("on-demand {ty}: {price} USD/h"));
                prices.insert(ty.clone(), price);
                notes.extend(note);
            }
            None => log(&format!("on-demand {ty}: no product found")),
        }
    }
    Ok((prices, n_pages, notes))
}

/// Runs the fetch; `log` receives progress lines.
pub async fn fetch_prices(
    f: &PricesFetch,
    log: &mut dyn FnMut(&str),
) -> Result<PricesSummary, String> {
    if f.days == 0 || f.days > MAX_DAYS {
        return Err(format!(
            "--days {} must be 1..={MAX_DAYS} (AWS keeps {MAX_DAYS} days of spot price history)",
            f.days
        ));
    }
    if f.instance_types.is_empty() {
        return Err("--instance-types names no type".into());
    }
    if f.region.trim().is_empty() {
        return Err("--region is empty".into());
    }
    std::fs::create_dir_all(&f.out_dir)
        .map_err(|e| format!("cannot create --out-dir {}: {e}", f.out_dir.display()))?;
    let end = now();
    let start = end.minus_millis(i64::from(f.days) * 86_400_000);
    let conf = sdk_config(&f.region).await;
    log(&format!(
        "spot price history of {} in {} ({}), {start} → {end}",
        f.instance_types.join(", "),
        f.region,
        product_descriptions(f.os).join(" / ")
    ));
    let (points, spot_pages) = spot_history(&conf, f, start, end, log).await?;
    log(&format!(
        "on-demand prices from the Price List API ({PRICING_REGION})"
    ));
    let (on_demand, on_demand_pages, notes) = on_demand(&conf, f, log).await?;

    let (spot_file, on_demand_file) = output_paths(&f.out_dir, &f.region, f.os);
    let json = serde_json::json!({ "SpotPriceHistory": points });
    let mut text = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    text.push('\n');
    write_atomic(&spot_file, text.as_bytes())?;
    let mut csv = String::from("region,instance_type,usd_per_hour\n");
    for (ty, usd) in &on_demand {
        let _ = writeln!(csv, "{},{ty},{usd}", f.region);
    }
    write_atomic(&on_demand_file, csv.as_bytes())?;

    let mut series: BTreeMap<(&str, &str), ()> = BTreeMap::new();
    for p in &points {
        series.insert((&p.instance_type, &p.availability_zone), ());
    }
    let no_spot = f
        .instance_types
        .iter()
        .filter(|t| !points.iter().any(|p| &p.instance_type == *t))
        .cloned()
        .collect();
    let no_on_demand = f
        .instance_types
        .iter()
        .filter(|t| !on_demand.contains_key(*t))
        .cloned()
        .collect();
    Ok(PricesSummary {
        spot_file,
        on_demand_file,
        spot_points: points.len() as u64,
        spot_pages,
        spot_series: series.len() as u64,
        on_demand_pages,
        on_demand,
        no_spot,
        no_on_demand,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(attrs: Value, usd: &str) -> String {
        serde_json::json!({
            "product": {"productFamily": "Compute Instance", "attributes": attrs, "sku": "SKU1"},
            "serviceCode": "AmazonEC2",
            "terms": {"OnDemand": {"SKU1.JRTCKXETXF": {
                "priceDimensions": {"SKU1.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": "Hrs", "pricePerUnit": {"USD": usd}, "description": "x"
                }},
                "sku": "SKU1", "offerTermCode": "JRTCKXETXF"
            }}},
            "version": "1", "publicationDate": "2025-09-01T00:00:00Z"
        })
        .to_string()
    }

    fn attrs(os: &str, op: &str, license: &str) -> Value {
        serde_json::json!({
            "instanceType": "m5.large", "operatingSystem": os, "tenancy": "Shared",
            "preInstalledSw": "NA", "capacitystatus": "Used", "operation": op,
            "licenseModel": license, "location": "EU (Ireland)"
        })
    }

    #[test]
    fn offers_are_read_and_chosen() {
        let linux = read_offer(
            &entry(
                attrs("Linux", "RunInstances", "No License required"),
                "0.1070000000",
            ),
            PriceOs::Linux,
        )
        .unwrap()
        .unwrap();
        assert_eq!(linux.usd_per_hour, 0.107);
        // Another OS, or a dedicated host, is not an offer of this fetch.
        assert_eq!(
            read_offer(
                &entry(
                    attrs("Windows", "RunInstances:0002", "License Included"),
                    "0.2"
                ),
                PriceOs::Linux
            )
            .unwrap(),
            None
        );
        let mut a = attrs("Linux", "RunInstances", "No License required");
        a["tenancy"] = "Dedicated".into();
        assert_eq!(read_offer(&entry(a, "0.3"), PriceOs::Linux).unwrap(), None);
        assert!(read_offer("{", PriceOs::Linux).is_err());
        // Windows: licence included beats BYOL; the plain operation beats others.
        let w = |op: &str, lic: &str, usd: &str| {
            read_offer(&entry(attrs("Windows", op, lic), usd), PriceOs::Windows)
                .unwrap()
                .unwrap()
        };
        let offers = vec![
            w("RunInstances:0800", "Bring your own license", "0.096"),
            w("RunInstances:0002", "License Included", "0.188"),
            w("RunInstances:0102", "License Included", "0.5"),
        ];
        assert_eq!(choose(&offers, PriceOs::Windows), Some((0.188, None)));
        assert_eq!(choose(&[], PriceOs::Linux), None);
    }

    #[test]
    fn locations_and_paths() {
        assert_eq!(location_of("eu-west-1"), Some("EU (Ireland)"));
        assert_eq!(location_of("us-east-1"), Some("US East (N. Virginia)"));
        assert_eq!(location_of("xx-nowhere-1"), None);
        let (s, o) = output_paths(Path::new("out"), "eu-west-1", PriceOs::Linux);
        assert_eq!(
            s,
            PathBuf::from("out/spot-price-history-eu-west-1-linux.json")
        );
        assert_eq!(o, PathBuf::from("out/on-demand-eu-west-1-linux.csv"));
    }
}
