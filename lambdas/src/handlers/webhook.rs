//! The webhook: API Gateway HTTP API (payload 2.0) and function URL events, which share the
//! fields read here. Base64 bodies are decoded before the policy checks the signature over the
//! exact bytes; the secret and the config come from SSM, cached while warm.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine;
use flotilla_core::observation::{Secret, WebhookDelivery};
use flotilla_core::webhook::parse_event;
use flotilla_core::webhook::WebhookEvent;
use flotilla_core::Observation;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::metrics::{self, Unit};
use crate::perform::{Inputs, Invocation};
use crate::ports::{Aws, GitHub};
use crate::shell;

/// The fields of an API Gateway v2 / function URL request that the webhook reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    #[serde(default)]
    pub headers: HashMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    #[serde(default)]
    pub request_context: RequestContext,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    #[serde(default)]
    pub request_id: Option<String>,
}

impl HttpRequest {
    /// A header, by case-insensitive name (API Gateway lowercases them; a test event may not).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .or_else(|| {
                self.headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .map(String::as_str)
    }
}

/// The answer, in the shape both API Gateway v2 and function URLs take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    pub status_code: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub is_base64_encoded: bool,
}

impl HttpResponse {
    pub fn new(status: u16, message: &str) -> HttpResponse {
        HttpResponse {
            status_code: status,
            headers: HashMap::from([("content-type".to_string(), "application/json".to_string())]),
            body: serde_json::json!({ "message": message }).to_string(),
            is_base64_encoded: false,
        }
    }

    pub fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

pub async fn handle<A: Aws, G: GitHub>(
    ctx: &Context<A, G>,
    request: &HttpRequest,
) -> Result<HttpResponse, crate::context::Error> {
    let now = ctx.now();
    let raw = request.body.as_deref().unwrap_or("");
    let body: Cow<'_, [u8]> = if request.is_base64_encoded {
        match base64::engine::general_purpose::STANDARD.decode(raw) {
            Ok(b) => Cow::Owned(b),
            // Not a policy question: the bytes GitHub signed cannot be recovered.
            Err(_) => return Ok(HttpResponse::new(400, "body is not valid base64")),
        }
    } else {
        Cow::Borrowed(raw.as_bytes())
    };
    let (config, secret) = futures::try_join!(ctx.config(), ctx.webhook_secret())?;
    let event = request.header("x-github-event");
    let delivery_id = request.header("x-github-delivery");
    let observation = Observation::Webhook(WebhookDelivery {
        event: event.map(str::to_string),
        delivery_id: delivery_id.map(str::to_string),
        signature_256: request.header("x-hub-signature-256").map(str::to_string),
        content_type: request.header("content-type").map(str::to_string),
        body: Cow::Borrowed(&body),
        secret: Secret(secret.as_str().to_string()),
    });
    let invocation = Invocation::new(
        ctx,
        &config,
        now,
        Inputs {
            body: Some(&body),
            delivery_id,
            ..Inputs::default()
        },
    );
    let trace = shell::run(&config, &observation, now, &invocation, ctx.concurrency).await;
    let effects = invocation.into_effects();
    // The last Respond is the answer; a refused Enqueue comes back as the policy's 503.
    let (status, message) = effects
        .response
        .unwrap_or((500, "the policy gave no answer".to_string()));
    if trace
        .commands
        .iter()
        .any(|c| matches!(c, flotilla_core::Command::ArchiveJobEvent { action, .. } if action == "in_progress"))
    {
        time_to_start(ctx, &body, now.millis());
    }
    tracing::info!(
        request_id = request.request_context.request_id.as_deref().unwrap_or(""),
        delivery_id = delivery_id.unwrap_or(""),
        event = event.unwrap_or(""),
        status,
        commands = trace.commands.len(),
        "webhook answered"
    );
    if let Some(remaining) = ctx.github.rate_limit_remaining() {
        ctx.metrics.emit(
            metrics::RATE_LIMIT_REMAINING,
            Unit::Count,
            remaining as f64,
            &[],
            now.millis(),
        );
    }
    Ok(HttpResponse::new(status, &message))
}

/// Queued → in_progress, from the payload (verified by then: the policy archived it).
fn time_to_start<A: Aws, G: GitHub>(ctx: &Context<A, G>, body: &[u8], now_ms: i64) {
    if let Ok(WebhookEvent::WorkflowJob(job)) = parse_event("workflow_job", body) {
        if let (Some(created), Some(started)) = (job.created_at, job.started_at) {
            let seconds = started.since(created) as f64 / 1000.0;
            if seconds >= 0.0 {
                ctx.metrics
                    .emit(metrics::TIME_TO_START, Unit::Seconds, seconds, &[], now_ms);
            }
        }
    }
}
