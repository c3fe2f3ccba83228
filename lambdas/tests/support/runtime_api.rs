//! A small Lambda Runtime API (one invocation), and running a built `bootstrap` under it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use super::{World, REGION};

/// A one-invocation Lambda Runtime API.
pub struct RuntimeApi {
    pub addr: String,
    state: Arc<Mutex<RtState>>,
    notify: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct RtState {
    event: Option<Vec<u8>>,
    first_next: Option<Instant>,
    response: Option<Vec<u8>>,
    error: Option<Vec<u8>>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    pub async fn start(event: Vec<u8>) -> RuntimeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(RtState {
            event: Some(event),
            ..RtState::default()
        }));
        let notify = Arc::new(tokio::sync::Notify::new());
        let (st, nt) = (state.clone(), notify.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (st, nt) = (st.clone(), nt.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (st, nt) = (st.clone(), nt.clone());
                        async move { Ok::<_, hyper::Error>(serve(req, st, nt).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        RuntimeApi {
            addr,
            state,
            notify,
            task,
        }
    }

    /// Waits for the bootstrap's answer (response or error).
    pub async fn answer(&self, timeout: Duration) -> Result<serde_json::Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let s = self.state.lock().unwrap();
                if let Some(r) = &s.response {
                    return Ok(serde_json::from_slice(r).unwrap());
                }
                if let Some(e) = &s.error {
                    return Err(String::from_utf8_lossy(e).into_owned());
                }
            }
            if Instant::now() > deadline {
                return Err("no answer from the bootstrap".into());
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), self.notify.notified()).await;
        }
    }

    pub fn first_next(&self) -> Option<Instant> {
        self.state.lock().unwrap().first_next
    }
}

async fn serve(
    req: Request<Incoming>,
    st: Arc<Mutex<RtState>>,
    nt: Arc<tokio::sync::Notify>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    if path.ends_with("/runtime/invocation/next") {
        let event = {
            let mut s = st.lock().unwrap();
            s.first_next.get_or_insert_with(Instant::now);
            s.event.take()
        };
        match event {
            Some(e) => {
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis()
                    + 30_000;
                return Response::builder()
                    .status(200)
                    .header("lambda-runtime-aws-request-id", "req-bootstrap-1")
                    .header("lambda-runtime-deadline-ms", deadline.to_string())
                    .header(
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:flotilla",
                    )
                    .header(
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000",
                    )
                    .body(Full::new(Bytes::from(e)))
                    .unwrap();
            }
            // One invocation only: the next poll waits until the test kills the process.
            None => std::future::pending::<()>().await,
        }
    }
    {
        let mut s = st.lock().unwrap();
        if path.ends_with("/response") {
            s.response = Some(body.to_vec());
        } else if path.ends_with("/error") {
            s.error = Some(body.to_vec());
        }
    }
    nt.notify_waiters();
    Response::builder()
        .status(202)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}

pub fn bootstrap_env(w: &World, handler: &str, runtime_api: &str) -> HashMap<String, String> {
    let mut env = w.env.clone();
    env.insert("FLOTILLA_HANDLER".into(), handler.into());
    env.insert("LOG_LEVEL".into(), "info".into());
    for (k, v) in [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_ENDPOINT_URL", w.proxy.url.as_str()),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_LAMBDA_FUNCTION_NAME", "flotilla"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "stream"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "group"),
    ] {
        env.insert(k.into(), v.into());
    }
    env
}

pub async fn run_bootstrap(
    bin: &str,
    env: HashMap<String, String>,
    api: &RuntimeApi,
) -> (Result<serde_json::Value, String>, Duration, String) {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bin)
        .env_clear()
        .envs(env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bootstrap starts");
    let answer = api.answer(Duration::from_secs(30)).await;
    let ready = api.first_next().map(|t| t - started).unwrap_or_default();
    child.start_kill().ok();
    let out = child.wait_with_output().await.unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (answer, ready, logs)
}
