//! `flotilla prices fetch` through the real binary: spot price history from moto (directly, and
//! through a paging proxy that answers moto's list a few items at a time with `NextToken`, and
//! rejects a bad access key as EC2 does), on-demand prices from a fake Price List endpoint
//! answering `GetProducts` in the real `PriceList` JSON shape with `NextToken` paging. The files
//! must load with the price loaders. Missing or rejected credentials and an unreachable endpoint
//! fail with a clear message. Loopback only; moto comes from `sim/tests/fetch.sh`
//! (`FLOTILLA_MOTO_URL`).
#![cfg(feature = "fetch")]

mod common;
use common::{text, Scratch};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use flotilla_core::Timestamp;
use flotilla_sim::prices::{PriceBook, PriceFormat, PriceOs};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BAD_KEY: &str = "AKIDREJECTEDREJECTED";

fn moto_url() -> Option<String> {
    match std::env::var("FLOTILLA_MOTO_URL") {
        Ok(u) if u.starts_with("http://127.0.0.1:") => Some(u),
        _ => {
            assert!(
                std::env::var_os("FLOTILLA_REQUIRE_MOTO").is_none(),
                "FLOTILLA_REQUIRE_MOTO is set but FLOTILLA_MOTO_URL is not http://127.0.0.1:PORT"
            );
            println!(
                "SKIPPED: FLOTILLA_MOTO_URL (http://127.0.0.1:PORT of a moto server) is not set; \
                 run sim/tests/fetch.sh"
            );
            None
        }
    }
}

fn scratch(name: &str) -> Scratch {
    common::scratch("prices", name)
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs `flotilla` with a clean AWS environment plus `envs`.
async fn flotilla(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args(args).kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let none = std::env::temp_dir().join("flotilla-no-such-aws-file");
    cmd.env("AWS_CONFIG_FILE", &none)
        .env("AWS_SHARED_CREDENTIALS_FILE", &none)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "2");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

fn keys(key: &str) -> [(&str, &str); 2] {
    [
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", "testing-secret"),
    ]
}

fn assert_success(o: &Output) -> (String, String) {
    let (out, err) = text(o);
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{out}\nstderr:\n{err}",
        o.status
    );
    (out, err)
}

fn assert_failure(o: &Output) -> String {
    let (out, err) = text(o);
    assert!(
        !o.status.success(),
        "expected a failure\nstdout:\n{out}\nstderr:\n{err}"
    );
    err
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// The access key id of a SigV4 `Authorization` header.
fn access_key(h: &HeaderMap) -> String {
    let auth = header(h, "authorization");
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').next())
        .unwrap_or("")
        .to_string()
}

// ------------------------------------------------------------------ the fake Price List API

/// One product of the Price List in the shape `GetProducts` returns (a JSON document as a string).
fn product(
    attrs: &[(&str, &str)],
    on_demand_usd: &str,
    reserved_usd: &str,
) -> (BTreeMap<String, String>, String) {
    let attributes: BTreeMap<String, String> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sku = format!(
        "SKU{:08X}",
        attributes
            .values()
            .map(|v| v.len() as u32 * 7919)
            .sum::<u32>()
            ^ on_demand_usd.len() as u32
    );
    let doc = json!({
        "product": {
            "productFamily": "Compute Instance",
            "attributes": attributes,
            "sku": sku
        },
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                format!("{sku}.JRTCKXETXF"): {
                    "priceDimensions": {
                        format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": format!("${on_demand_usd} per On Demand Instance Hour"),
                            "appliesTo": [],
                            "rateCode": format!("{sku}.JRTCKXETXF.6YS6EN2CT7"),
                            "beginRange": "0",
                            "pricePerUnit": {"USD": on_demand_usd}
                        }
                    },
                    "sku": sku,
                    "effectiveDate": "2025-09-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF",
                    "termAttributes": {}
                }
            },
            "Reserved": {
                format!("{sku}.4NA7Y494T4"): {
                    "priceDimensions": {
                        format!("{sku}.4NA7Y494T4.6YS6EN2CT7"): {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": "Linux/UNIX (Amazon VPC), Reserved",
                            "appliesTo": [],
                            "rateCode": format!("{sku}.4NA7Y494T4.6YS6EN2CT7"),
                            "beginRange": "0",
                            "pricePerUnit": {"USD": reserved_usd}
                        }
                    },
                    "sku": sku,
                    "effectiveDate": "2025-09-01T00:00:00Z",
                    "offerTermCode": "4NA7Y494T4",
                    "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard", "PurchaseOption": "No Upfront"}
                }
            }
        },
        "version": "20250901000000",
        "publicationDate": "2025-09-01T00:00:00Z"
    });
    (attributes, doc.to_string())
}

fn catalogue() -> Vec<(BTreeMap<String, String>, String)> {
    let ec2 = |location: &str,
               region: &str,
               ty: &str,
               os: &str,
               op: &str,
               lic: &str,
               tenancy: &str,
               sw: &str,
               cap: &str,
               usd: &str| {
        product(
            &[
                ("servicecode", "AmazonEC2"),
                ("location", location),
                ("locationType", "AWS Region"),
                ("regionCode", region),
                ("instanceType", ty),
                ("operatingSystem", os),
                ("operation", op),
                ("licenseModel", lic),
                ("tenancy", tenancy),
                ("preInstalledSw", sw),
                ("capacitystatus", cap),
                ("marketoption", "OnDemand"),
                ("vcpu", "2"),
                ("memory", "8 GiB"),
            ],
            usd,
            "0.0670000000",
        )
    };
    let ie = "EU (Ireland)";
    let nv = "US East (N. Virginia)";
    let free = "No License required";
    vec![
        ec2(
            ie,
            "eu-west-1",
            "m5.large",
            "Linux",
            "RunInstances",
            free,
            "Shared",
            "NA",
            "Used",
            "0.1070000000",
        ),
        ec2(
            ie,
            "eu-west-1",
            "c5.large",
            "Linux",
            "RunInstances",
            free,
            "Shared",
            "NA",
            "Used",
            "0.0960000000",
        ),
        // Matches every filter too (a second page for m5.large): another operation, not chosen.
        ec2(
            ie,
            "eu-west-1",
            "m5.large",
            "Linux",
            "RunInstances:SV050",
            free,
            "Shared",
            "NA",
            "Used",
            "0.2500000000",
        ),
        // What the filters must keep out.
        ec2(
            ie,
            "eu-west-1",
            "m5.large",
            "Windows",
            "RunInstances:0002",
            "License Included",
            "Shared",
            "NA",
            "Used",
            "0.1990000000",
        ),
        ec2(
            ie,
            "eu-west-1",
            "m5.large",
            "Linux",
            "RunInstances",
            free,
            "Dedicated",
            "NA",
            "Used",
            "0.1180000000",
        ),
        ec2(
            ie,
            "eu-west-1",
            "m5.large",
            "Linux",
            "RunInstances:0004",
            free,
            "Shared",
            "SQL Std",
            "Used",
            "0.5870000000",
        ),
        ec2(
            ie,
            "eu-west-1",
            "m5.large",
            "Linux",
            "RunInstances",
            free,
            "Shared",
            "NA",
            "UnusedCapacityReservation",
            "0.1070000000",
        ),
        ec2(
            nv,
            "us-east-1",
            "m5.large",
            "Linux",
            "RunInstances",
            free,
            "Shared",
            "NA",
            "Used",
            "0.0960000000",
        ),
        ec2(
            nv,
            "us-east-1",
            "c5.large",
            "Linux",
            "RunInstances",
            free,
            "Shared",
            "NA",
            "Used",
            "0.0850000000",
        ),
    ]
}

#[derive(Clone, Default)]
struct PricingLog {
    /// (X-Amz-Target, request JSON, Authorization header).
    requests: Arc<Mutex<Vec<(String, Value, String)>>>,
}

/// A Price List endpoint (AWS JSON 1.1, `AWSPriceListService.GetProducts`) with one product per
/// page; a request signed with [`BAD_KEY`] gets `UnrecognizedClientException`.
async fn fake_pricing() -> (String, PricingLog) {
    let log = PricingLog::default();
    let log2 = log.clone();
    let items = Arc::new(catalogue());
    let handler = move |headers: HeaderMap, body: Bytes| {
        let log = log2.clone();
        let items = items.clone();
        async move {
            let target = header(&headers, "x-amz-target");
            let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            log.requests.lock().unwrap().push((
                target.clone(),
                req.clone(),
                header(&headers, "authorization"),
            ));
            let reply = |status: StatusCode, v: Value| -> Response {
                (
                    status,
                    [("content-type", "application/x-amz-json-1.1")],
                    v.to_string(),
                )
                    .into_response()
            };
            if access_key(&headers) == BAD_KEY {
                return reply(
                    StatusCode::BAD_REQUEST,
                    json!({"__type": "com.amazon.coral.service#UnrecognizedClientException",
                           "message": "The security token included in the request is invalid."}),
                );
            }
            if target != "AWSPriceListService.GetProducts" {
                return reply(
                    StatusCode::BAD_REQUEST,
                    json!({"__type": "UnknownOperationException", "message": target}),
                );
            }
            if req["ServiceCode"] != "AmazonEC2" {
                return reply(
                    StatusCode::OK,
                    json!({"FormatVersion": "aws_v1", "PriceList": []}),
                );
            }
            let filters = req["Filters"].as_array().cloned().unwrap_or_default();
            let matching: Vec<&String> = items
                .iter()
                .filter(|(attrs, _)| {
                    filters.iter().all(|f| {
                        f["Type"] == "TERM_MATCH"
                            && attrs
                                .get(f["Field"].as_str().unwrap_or(""))
                                .map(String::as_str)
                                == f["Value"].as_str()
                    })
                })
                .map(|(_, doc)| doc)
                .collect();
            let start: usize = req["NextToken"]
                .as_str()
                .and_then(|t| t.strip_prefix("page-"))
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let page: Vec<&String> = matching.iter().skip(start).take(1).copied().collect();
            let mut v = json!({"FormatVersion": "aws_v1", "PriceList": page});
            if start + 1 < matching.len() {
                v["NextToken"] = json!(format!("page-{}", start + 1));
            }
            reply(StatusCode::OK, v)
        }
    };
    let url = serve(axum::Router::new().fallback(handler)).await;
    (url, log)
}

// ------------------------------------------------------------------ the EC2 paging proxy

/// Sends a form body to moto (HTTP/1.0, `Connection: close`) with the request's signature
/// headers (moto reads the region from them); answers moto's body.
async fn post_to_moto(moto: &str, headers: &HeaderMap, body: &[u8]) -> String {
    let addr = moto.strip_prefix("http://").unwrap().trim_end_matches('/');
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "POST / HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in ["authorization", "x-amz-date"] {
        let v = header(headers, h);
        if !v.is_empty() {
            req.push_str(&format!("{h}: {v}\r\n"));
        }
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn form(body: &[u8]) -> BTreeMap<String, String> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

#[derive(Clone, Default)]
struct ProxyLog {
    /// The form parameters of every DescribeSpotPriceHistory call.
    calls: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
    /// Items moto answered (the last time it was asked).
    moto_items: Arc<Mutex<usize>>,
}

/// In front of moto: DescribeSpotPriceHistory answers moto's items `page` at a time with a
/// `nextToken` (moto answers everything at once); [`BAD_KEY`] gets EC2's `AuthFailure`.
async fn paging_proxy(moto: String, page: usize) -> (String, ProxyLog) {
    let log = ProxyLog::default();
    let log2 = log.clone();
    let handler = move |headers: HeaderMap, body: Bytes| {
        let log = log2.clone();
        let moto = moto.clone();
        async move {
            let xml = |status: StatusCode, body: String| -> Response {
                (status, [("content-type", "text/xml;charset=UTF-8")], body).into_response()
            };
            if access_key(&headers) == BAD_KEY {
                return xml(
                    StatusCode::UNAUTHORIZED,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>".into(),
                );
            }
            let params = form(&body);
            let answer = post_to_moto(&moto, &headers, &body).await;
            if params.get("Action").map(String::as_str) != Some("DescribeSpotPriceHistory") {
                return xml(StatusCode::OK, answer);
            }
            log.calls.lock().unwrap().push(params.clone());
            let doc = roxmltree::Document::parse(&answer).unwrap();
            let items: Vec<BTreeMap<String, String>> = doc
                .descendants()
                .filter(|n| n.has_tag_name("item"))
                .map(|item| {
                    item.children()
                        .filter(|c| c.is_element())
                        .map(|c| {
                            (
                                c.tag_name().name().to_string(),
                                c.text().unwrap_or("").to_string(),
                            )
                        })
                        .collect()
                })
                .collect();
            *log.moto_items.lock().unwrap() = items.len();
            let start: usize = params
                .get("NextToken")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0);
            let mut out = String::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeSpotPriceHistoryResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId><spotPriceHistorySet>",
            );
            for item in items.iter().skip(start).take(page) {
                out.push_str("<item>");
                for (k, v) in item {
                    out.push_str(&format!("<{k}>{v}</{k}>"));
                }
                out.push_str("</item>");
            }
            out.push_str("</spotPriceHistorySet>");
            if start + page < items.len() {
                out.push_str(&format!("<nextToken>{}</nextToken>", start + page));
            }
            out.push_str("</DescribeSpotPriceHistoryResponse>");
            xml(StatusCode::OK, out)
        }
    };
    let url = serve(axum::Router::new().fallback(handler)).await;
    (url, log)
}

// ------------------------------------------------------------------ checks

fn spot_items(path: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["SpotPriceHistory"].as_array().unwrap().clone()
}

/// Loads both files the way `flotilla replay --prices` does.
fn load_book(dir: &Path, region: &str, os: PriceOs) -> PriceBook {
    let os_name = match os {
        PriceOs::Linux => "linux",
        PriceOs::Windows => "windows",
    };
    let mut book = PriceBook::new(region, os);
    let spot = book
        .load_file(dir.join(format!("spot-price-history-{region}-{os_name}.json")))
        .unwrap();
    assert_eq!(spot.format, PriceFormat::SpotHistoryJson);
    assert_eq!(spot.other_region + spot.other_os, 0, "{}", spot.describe());
    let od = book
        .load_file(dir.join(format!("on-demand-{region}-{os_name}.csv")))
        .unwrap();
    assert_eq!(od.format, PriceFormat::OnDemandCsv);
    book
}

fn prices_args<'a>(dir: &'a str, region: &'a str, types: &'a str) -> Vec<&'a str> {
    vec![
        "prices",
        "fetch",
        "--region",
        region,
        "--instance-types",
        types,
        "--days",
        "30",
        "--out-dir",
        dir,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_history_from_moto_and_on_demand_from_the_price_list() {
    let Some(moto) = moto_url() else { return };
    let (pricing, plog) = fake_pricing().await;
    let dir = scratch("moto");
    let dir_s = dir.display().to_string();
    let o = flotilla(
        &prices_args(&dir_s, "eu-west-1", "m5.large,c5.large"),
        &[
            keys("AKIDTESTTESTTEST")[0],
            keys("AKIDTESTTESTTEST")[1],
            ("AWS_ENDPOINT_URL", &moto),
            ("AWS_ENDPOINT_URL_PRICING", &pricing),
        ],
    )
    .await;
    let (stdout, _) = assert_success(&o);
    assert!(
        stdout.contains("spot-price-history-eu-west-1-linux.json"),
        "{stdout}"
    );

    // Spot: moto's answer (placeholder prices), every type in every zone, the CLI's JSON shape.
    let items = spot_items(&dir.join("spot-price-history-eu-west-1-linux.json"));
    assert!(!items.is_empty());
    let mut series = std::collections::BTreeSet::new();
    for it in &items {
        let keys: Vec<&str> = it.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "AvailabilityZone",
                "InstanceType",
                "ProductDescription",
                "SpotPrice",
                "Timestamp"
            ]
        );
        assert_eq!(it["SpotPrice"], "0.00001");
        assert!(it["AvailabilityZone"]
            .as_str()
            .unwrap()
            .starts_with("eu-west-1"));
        series.insert((
            it["InstanceType"].as_str().unwrap().to_string(),
            it["AvailabilityZone"].as_str().unwrap().to_string(),
        ));
    }
    let types: std::collections::BTreeSet<&str> = series.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(types, ["c5.large", "m5.large"].into());
    assert_eq!(series.len(), items.len());

    // On-demand: only the plain Linux, shared, no-software, used-capacity products of Ireland.
    let csv = std::fs::read_to_string(dir.join("on-demand-eu-west-1-linux.csv")).unwrap();
    assert_eq!(
        csv,
        "region,instance_type,usd_per_hour\neu-west-1,c5.large,0.096\neu-west-1,m5.large,0.107\n"
    );
    let book = load_book(&dir, "eu-west-1", PriceOs::Linux);
    assert_eq!(book.on_demand_usd_per_hour("m5.large"), Some(0.107));
    assert_eq!(book.on_demand_usd_per_hour("c5.large"), Some(0.096));
    assert_eq!(book.series_count(), series.len());
    let (ty, az) = series.iter().next().unwrap();
    assert_eq!(
        book.spot_price_at(
            ty,
            az,
            Timestamp::parse_rfc3339("2025-09-01T00:00:00Z").unwrap()
        ),
        Some(0.00001)
    );

    // And `flotilla replay --prices` takes both (a pool of those types in eu-west-1).
    let cfg = dir.join("pool.tfvars.json");
    std::fs::write(
        &cfg,
        r#"{"aws_region": "eu-west-1", "instance_types": ["m5.large", "c5.large"]}"#,
    )
    .unwrap();
    let (spot_s, od_s, cfg_s) = (
        dir.join("spot-price-history-eu-west-1-linux.json")
            .display()
            .to_string(),
        dir.join("on-demand-eu-west-1-linux.csv")
            .display()
            .to_string(),
        cfg.display().to_string(),
    );
    let o = flotilla(
        &[
            "replay", "--config", &cfg_s, "--prices", &spot_s, "--prices", &od_s, "--days", "1",
        ],
        &[],
    )
    .await;
    let (stdout, _) = assert_success(&o);
    assert!(
        stdout.contains("(describe-spot-price-history JSON)")
            && stdout.contains("(on-demand CSV")
            && stdout.contains("(eu-west-1)"),
        "{stdout}"
    );

    // The Price List was asked in us-east-1 (whatever --region), with the location filters.
    let reqs = plog.requests.lock().unwrap().clone();
    assert!(!reqs.is_empty());
    for (target, body, auth) in &reqs {
        assert_eq!(target, "AWSPriceListService.GetProducts");
        assert!(auth.contains("/us-east-1/pricing/aws4_request"), "{auth}");
        assert_eq!(body["ServiceCode"], "AmazonEC2");
        let filters: BTreeMap<&str, &str> = body["Filters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["Field"].as_str().unwrap(), f["Value"].as_str().unwrap()))
            .collect();
        assert_eq!(filters["location"], "EU (Ireland)");
        assert_eq!(filters["operatingSystem"], "Linux");
        assert_eq!(filters["tenancy"], "Shared");
        assert_eq!(filters["preInstalledSw"], "NA");
        assert_eq!(filters["capacitystatus"], "Used");
        assert!(["m5.large", "c5.large"].contains(&filters["instanceType"]));
    }
    // One product per page: c5.large has one page, m5.large two (the second asked with the
    // NextToken of the first).
    let pages_of = |ty: &str| {
        reqs.iter()
            .filter(|(_, b, _)| {
                b["Filters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|f| f["Value"] == ty)
            })
            .map(|(_, b, _)| {
                b.get("NextToken")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(pages_of("c5.large"), vec![None]);
    assert_eq!(pages_of("m5.large"), vec![None, Some("page-1".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_history_is_paged_through_next_token() {
    let Some(moto) = moto_url() else { return };
    let (proxy, log) = paging_proxy(moto, 2).await;
    let (pricing, _) = fake_pricing().await;
    let dir = scratch("paging");
    let dir_s = dir.display().to_string();
    let before = Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64,
    );
    let o = flotilla(
        &prices_args(&dir_s, "eu-west-1", "m5.large,c5.large"),
        &[
            keys("AKIDTESTTESTTEST")[0],
            keys("AKIDTESTTESTTEST")[1],
            ("AWS_ENDPOINT_URL_EC2", &proxy),
            ("AWS_ENDPOINT_URL_PRICING", &pricing),
        ],
    )
    .await;
    let (stdout, _) = assert_success(&o);
    let calls = log.calls.lock().unwrap().clone();
    let total = *log.moto_items.lock().unwrap();
    assert!(total >= 4, "moto answered {total} items");
    assert_eq!(calls.len(), total.div_ceil(2), "{calls:#?}");
    assert!(
        stdout.contains(&format!("{} pages", calls.len())),
        "{stdout}"
    );
    assert!(!calls[0].contains_key("NextToken"));
    for (i, c) in calls.iter().enumerate().skip(1) {
        assert_eq!(c.get("NextToken"), Some(&(2 * i).to_string()));
    }
    for c in &calls {
        assert_eq!(c["InstanceType.1"], "c5.large");
        assert_eq!(c["InstanceType.2"], "m5.large");
        assert_eq!(c["ProductDescription.1"], "Linux/UNIX");
        assert_eq!(c["ProductDescription.2"], "Linux/UNIX (Amazon VPC)");
        // StartTime is --days (30) before the end, which is now.
        let start = Timestamp::parse_rfc3339(&c["StartTime"]).unwrap();
        let end = Timestamp::parse_rfc3339(&c["EndTime"]).unwrap();
        assert_eq!(end.since(start), 30 * 86_400_000);
        assert!(end >= before.minus_millis(1_000));
    }
    let items = spot_items(&dir.join("spot-price-history-eu-west-1-linux.json"));
    assert_eq!(items.len(), total, "every page's items, once");
    let book = load_book(&dir, "eu-west-1", PriceOs::Linux);
    assert_eq!(book.series_count(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_fail_with_a_clear_message() {
    let Some(moto) = moto_url() else { return };
    let (proxy, _) = paging_proxy(moto.clone(), 2).await;
    let (pricing, _) = fake_pricing().await;
    let dir = scratch("rejected");
    let dir_s = dir.display().to_string();
    // EC2 rejects the key.
    let o = flotilla(
        &prices_args(&dir_s, "eu-west-1", "m5.large"),
        &[
            keys(BAD_KEY)[0],
            keys(BAD_KEY)[1],
            ("AWS_ENDPOINT_URL_EC2", &proxy),
            ("AWS_ENDPOINT_URL_PRICING", &pricing),
        ],
    )
    .await;
    let err = assert_failure(&o);
    assert!(
        err.contains("EC2 DescribeSpotPriceHistory in eu-west-1"),
        "{err}"
    );
    assert!(
        err.contains("AWS rejected the credentials (AuthFailure"),
        "{err}"
    );
    assert_eq!(o.status.code(), Some(2));
    // The Price List rejects it (EC2 through moto, which accepts any key).
    let o = flotilla(
        &prices_args(&dir_s, "eu-west-1", "m5.large"),
        &[
            keys(BAD_KEY)[0],
            keys(BAD_KEY)[1],
            ("AWS_ENDPOINT_URL_EC2", &moto),
            ("AWS_ENDPOINT_URL_PRICING", &pricing),
        ],
    )
    .await;
    let err = assert_failure(&o);
    assert!(err.contains("Price List GetProducts"), "{err}");
    assert!(
        err.contains("AWS rejected the credentials (UnrecognizedClientException"),
        "{err}"
    );
    // Nothing is written when a fetch fails.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_and_unreachable_endpoints_fail_with_a_clear_message() {
    let dir = scratch("unreachable");
    let dir_s = dir.display().to_string();
    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    // No credentials anywhere.
    let o = flotilla(
        &prices_args(&dir_s, "eu-west-1", "m5.large"),
        &[("AWS_ENDPOINT_URL", &nowhere)],
    )
    .await;
    let err = assert_failure(&o);
    assert!(err.contains("no usable AWS credentials"), "{err}");
    assert!(err.contains("AWS_PROFILE"), "{err}");
    // Credentials, but nothing listening.
    let o = flotilla(
        &prices_args(&dir_s, "eu-west-1", "m5.large"),
        &[
            keys("AKIDTESTTESTTEST")[0],
            keys("AKIDTESTTESTTEST")[1],
            ("AWS_ENDPOINT_URL", &nowhere),
        ],
    )
    .await;
    let err = assert_failure(&o);
    assert!(err.contains("cannot reach the EC2 endpoint"), "{err}");
    assert!(err.contains("AWS_ENDPOINT_URL_EC2"), "{err}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_are_refused_before_any_request() {
    let dir = scratch("args");
    let dir_s = dir.display().to_string();
    let nowhere = format!("http://127.0.0.1:{}", closed_port());
    let env = [("AWS_ENDPOINT_URL", nowhere.as_str())];
    let mut args = prices_args(&dir_s, "eu-west-1", "m5.large");
    args[7] = "91";
    let err = assert_failure(&flotilla(&args, &env).await);
    assert!(err.contains("--days 91 must be 1..=90"), "{err}");
    let mut args = prices_args(&dir_s, "eu-west-1", "m5.large");
    args.extend(["--os", "macos"]);
    let err = assert_failure(&flotilla(&args, &env).await);
    assert!(err.contains("macos"), "{err}");
    let err = assert_failure(
        &flotilla(
            &["prices", "fetch", "--region", "eu-west-1", "--days", "3"],
            &env,
        )
        .await,
    );
    assert!(err.contains("--instance-types"), "{err}");
}
