//! A fault-injecting HTTP proxy in front of moto, for what moto never does: CreateFleet `Errors`
//! (InsufficientInstanceCapacity for one instance type or all of a capacity type), throttling
//! (`RequestLimitExceeded`), and ClientToken idempotency. Everything else passes through.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What to break.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// (capacity type `spot`/`on-demand` or `*`, instance type or `*`) with no capacity.
    pub exhausted: Vec<(String, String)>,
    /// Answer this many CreateFleet calls with HTTP 503 `RequestLimitExceeded`.
    pub throttle_create_fleet: u32,
}

/// One CreateFleet the proxy saw.
#[derive(Clone, Debug)]
pub struct FleetCall {
    pub client_token: Option<String>,
    pub capacity_type: Option<String>,
    pub instance_types: Vec<String>,
    /// Answered from the ClientToken cache.
    pub replayed: bool,
    /// Status answered.
    pub status: u16,
    pub launched: usize,
}

#[derive(Default)]
pub struct ProxyState {
    pub faults: Mutex<Faults>,
    tokens: Mutex<HashMap<String, (u16, Bytes)>>,
    pub calls: Mutex<Vec<FleetCall>>,
    pub requests: AtomicUsize,
}

pub struct Proxy {
    pub url: String,
    pub state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState::default());
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let upstream = upstream.trim_end_matches('/').to_string();
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (client, upstream, st) = (client.clone(), upstream.clone(), st.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (client, upstream, st) = (client.clone(), upstream.clone(), st.clone());
                        async move { Ok::<_, hyper::Error>(handle(req, client, &upstream, &st).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Proxy {
            url: format!("http://{addr}"),
            state,
            task,
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.lock().unwrap() = faults;
    }

    pub fn forget_client_tokens(&self) {
        self.state.tokens.lock().unwrap().clear();
    }

    pub fn calls(&self) -> Vec<FleetCall> {
        self.state.calls.lock().unwrap().clone()
    }
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn forward(
    parts: &http::request::Parts,
    body: Bytes,
    client: &HttpClient,
    upstream: &str,
) -> (u16, HashMap<String, String>, Bytes) {
    let uri = format!(
        "{upstream}{}",
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut req = Request::builder().method(parts.method.clone()).uri(uri);
    for (k, v) in parts.headers.iter() {
        if k == http::header::HOST || k == http::header::CONTENT_LENGTH {
            continue;
        }
        req = req.header(k, v);
    }
    let req = req.body(Full::new(body)).unwrap();
    match client.request(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .filter(|(k, _)| {
                    *k != http::header::CONTENT_LENGTH && *k != http::header::TRANSFER_ENCODING
                })
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            (status, headers, bytes)
        }
        Err(e) => (502, HashMap::new(), Bytes::from(format!("proxy: {e}"))),
    }
}

fn respond(status: u16, headers: HashMap<String, String>, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r.body(Full::new(body)).unwrap()
}

async fn handle(
    req: Request<Incoming>,
    client: HttpClient,
    upstream: &str,
    st: &ProxyState,
) -> Response<Full<Bytes>> {
    st.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let form = parse_form(&body);
    if form
        .iter()
        .any(|(k, v)| k == "Action" && v == "CreateFleet")
    {
        return create_fleet(&parts, form, client, upstream, st).await;
    }
    let (status, headers, bytes) = forward(&parts, body, &client, upstream).await;
    respond(status, headers, bytes)
}

fn xml_headers() -> HashMap<String, String> {
    HashMap::from([("content-type".to_string(), "text/xml".to_string())])
}

async fn create_fleet(
    parts: &http::request::Parts,
    form: Vec<(String, String)>,
    client: HttpClient,
    upstream: &str,
    st: &ProxyState,
) -> Response<Full<Bytes>> {
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let token = get("ClientToken");
    let capacity = get("TargetCapacitySpecification.DefaultTargetCapacityType");
    // Overrides: LaunchTemplateConfigs.1.Overrides.N.<Field>
    let mut overrides: Vec<(u32, Vec<(String, String)>)> = Vec::new();
    let mut rest = Vec::new();
    for (k, v) in &form {
        if let Some(tail) = k.strip_prefix("LaunchTemplateConfigs.1.Overrides.") {
            let (n, field) = tail.split_once('.').unwrap();
            let n: u32 = n.parse().unwrap();
            match overrides.iter_mut().find(|(i, _)| *i == n) {
                Some((_, fields)) => fields.push((field.to_string(), v.clone())),
                None => overrides.push((n, vec![(field.to_string(), v.clone())])),
            }
        } else {
            rest.push((k.clone(), v.clone()));
        }
    }
    overrides.sort_by_key(|(n, _)| *n);
    let type_of = |fields: &Vec<(String, String)>| {
        fields
            .iter()
            .find(|(f, _)| f == "InstanceType")
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let instance_types: Vec<String> = overrides.iter().map(|(_, f)| type_of(f)).collect();
    let mut call = FleetCall {
        client_token: token.clone(),
        capacity_type: capacity.clone(),
        instance_types: instance_types.clone(),
        replayed: false,
        status: 200,
        launched: 0,
    };
    if let Some(t) = &token {
        if let Some((status, bytes)) = st.tokens.lock().unwrap().get(t).cloned() {
            call.replayed = true;
            call.status = status;
            call.launched = bytes_count(&bytes);
            st.calls.lock().unwrap().push(call);
            return respond(status, xml_headers(), bytes);
        }
    }
    let faults = st.faults.lock().unwrap().clone();
    if faults.throttle_create_fleet > 0 {
        st.faults.lock().unwrap().throttle_create_fleet -= 1;
        call.status = 503;
        st.calls.lock().unwrap().push(call);
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>proxy-throttle</RequestID></Response>";
        return respond(503, xml_headers(), Bytes::from(body));
    }
    let cap = capacity.clone().unwrap_or_else(|| "on-demand".into());
    let exhausted = |t: &str| {
        faults
            .exhausted
            .iter()
            .any(|(c, ty)| (c == "*" || *c == cap) && (ty == "*" || ty == t))
    };
    let (kept, dropped): (Vec<_>, Vec<_>) = overrides
        .into_iter()
        .partition(|(_, f)| !exhausted(&type_of(f)));
    let mut dropped_types: Vec<String> = dropped.iter().map(|(_, f)| type_of(f)).collect();
    dropped_types.dedup();
    let errors: String = dropped_types
        .iter()
        .map(|t| {
            format!(
                "<item><launchTemplateAndOverrides><overrides><instanceType>{t}</instanceType></overrides></launchTemplateAndOverrides><lifecycle>{cap}</lifecycle><errorCode>InsufficientInstanceCapacity</errorCode><errorMessage>We currently do not have sufficient {t} capacity in the Availability Zone you requested.</errorMessage></item>"
            )
        })
        .collect();
    let (status, bytes) = if kept.is_empty() {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CreateFleetResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>proxy</requestId><fleetId>fleet-proxy-{}</fleetId><errorSet>{errors}</errorSet><fleetInstanceSet/></CreateFleetResponse>",
            st.requests.load(Ordering::Relaxed)
        );
        (200, Bytes::from(body))
    } else {
        let mut new_form = rest;
        for (i, (_, fields)) in kept.iter().enumerate() {
            for (f, v) in fields {
                new_form.push((
                    format!("LaunchTemplateConfigs.1.Overrides.{}.{f}", i + 1),
                    v.clone(),
                ));
            }
        }
        let (status, _, bytes) = forward(
            parts,
            Bytes::from(encode_form(&new_form)),
            &client,
            upstream,
        )
        .await;
        let bytes = if errors.is_empty() || status != 200 {
            bytes
        } else {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Bytes::from(text.replacen(
                "</CreateFleetResponse>",
                &format!("<errorSet>{errors}</errorSet></CreateFleetResponse>"),
                1,
            ))
        };
        (status, bytes)
    };
    call.status = status;
    call.launched = bytes_count(&bytes);
    if let Some(t) = token {
        if status == 200 {
            st.tokens.lock().unwrap().insert(t, (status, bytes.clone()));
        }
    }
    st.calls.lock().unwrap().push(call);
    respond(status, xml_headers(), bytes)
}

/// Instance ids in a CreateFleet answer.
fn bytes_count(b: &Bytes) -> usize {
    String::from_utf8_lossy(b).matches(">i-").count()
}

pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

pub fn encode_form(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish()
}
