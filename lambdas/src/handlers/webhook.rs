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
        // `{"message":"..."}`, as `json!({"message": message}).to_string()` writes it.
        let mut body = String::with_capacity(message.len() + 16);
        body.push_str("{\"message\":");
        body.push_str(&serde_json::to_string(message).unwrap_or_default());
        body.push('}');
        HttpResponse {
            status_code: status,
            headers: HashMap::from([("content-type".to_string(), "application/json".to_string())]),
            body,
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
        match decode_base64(raw) {
            Some(b) => Cow::Owned(b),
            // Not a policy question: the bytes GitHub signed cannot be recovered.
            None => return Ok(HttpResponse::new(400, "body is not valid base64")),
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

/// API Gateway's base64 body. SIMD first (a 15 KB body in about a microsecond); what it refuses
/// the `base64` crate's standard engine decides, so the answer is that engine's: the two agree
/// on what they both accept (padded, canonical), see the test.
fn decode_base64(raw: &str) -> Option<Vec<u8>> {
    match base64_simd::STANDARD.decode_to_vec(raw) {
        Ok(bytes) => Some(bytes),
        Err(_) => base64::engine::general_purpose::STANDARD.decode(raw).ok(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What the SIMD decoder accepts, the `base64` crate accepts with the same bytes (the
    /// fallback then makes the two identical): valid encodings of every length and mutations of
    /// them — other characters, cuts, padding moved, non-zero trailing bits, whitespace.
    #[test]
    fn simd_base64_accepts_only_what_the_base64_crate_accepts() {
        let reference = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).ok();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n\r.*";
        let mut checked = 0;
        for len in 0..300usize {
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let valid = base64::engine::general_purpose::STANDARD.encode(&bytes);
            assert_eq!(decode_base64(&valid).as_deref(), Some(&bytes[..]));
            for _ in 0..40 {
                let mut s = valid.clone().into_bytes();
                match next() % 4 {
                    0 if !s.is_empty() => {
                        let i = next() as usize % s.len();
                        s[i] = alphabet[next() as usize % alphabet.len()];
                    }
                    1 if !s.is_empty() => s.truncate(next() as usize % s.len()),
                    2 => {
                        let i = next() as usize % (s.len() + 1);
                        s.insert(i, alphabet[next() as usize % alphabet.len()]);
                    }
                    _ => {
                        // Flip low bits of the last data character (trailing bits).
                        let data_end = s.iter().rposition(|&c| c != b'=');
                        if let Some(i) = data_end {
                            s[i] = alphabet[(next() as usize) % 64];
                        }
                    }
                }
                let Ok(s) = String::from_utf8(s) else {
                    continue;
                };
                if let Ok(simd) = base64_simd::STANDARD.decode_to_vec(&s) {
                    assert_eq!(Some(simd), reference(&s), "{s:?}");
                }
                assert_eq!(decode_base64(&s), reference(&s), "{s:?}");
                checked += 1;
            }
        }
        assert!(checked > 10_000);
    }
}
