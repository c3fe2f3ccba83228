//! Outgoing webhooks: `workflow_job` and `workflow_run` deliveries, signed like GitHub's.
use crate::clock::Millis;
use crate::seed::WebhookSpec;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::mpsc::UnboundedSender;

/// One delivery, as GitHub would POST it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    /// `X-GitHub-Delivery` (a GUID).
    pub id: String,
    /// `X-GitHub-Event`.
    pub event: String,
    /// The payload's `action`.
    pub action: String,
    /// The exact bytes sent (what the signature covers), as UTF-8 JSON.
    pub body: String,
    /// All headers sent, lower-case names.
    pub headers: Vec<(String, String)>,
    /// When it was emitted (fake clock).
    pub at: Millis,
    /// HTTP status the target answered (None: not posted, or not yet, or failed).
    pub response_status: Option<u16>,
}

impl Delivery {
    /// Build and sign a delivery.
    pub fn build(
        id: String,
        event: &str,
        action: &str,
        payload: &Value,
        secret: Option<&str>,
        app_id: Option<u64>,
        at: Millis,
    ) -> Self {
        let body = payload.to_string();
        let mut headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("user-agent".into(), "GitHub-Hookshot/fake".into()),
            ("x-github-event".into(), event.to_string()),
            ("x-github-delivery".into(), id.clone()),
            ("x-github-hook-id".into(), "1".into()),
            (
                "x-github-hook-installation-target-type".into(),
                "integration".into(),
            ),
            (
                "x-github-hook-installation-target-id".into(),
                app_id.unwrap_or(0).to_string(),
            ),
        ];
        if let Some(secret) = secret {
            headers.push((
                "x-hub-signature-256".into(),
                signature_256(secret.as_bytes(), body.as_bytes()),
            ));
        }
        Delivery {
            id,
            event: event.to_string(),
            action: action.to_string(),
            body,
            headers,
            at,
            response_status: None,
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The payload as JSON.
    pub fn payload(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`, GitHub's `X-Hub-Signature-256`.
pub fn signature_256(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Where deliveries go: recorded always; sent to subscribers and to the URL poster.
#[derive(Default)]
pub(crate) struct WebhookState {
    pub spec: WebhookSpec,
    pub enabled: bool,
    pub log: Vec<Delivery>,
    pub subscribers: Vec<UnboundedSender<Delivery>>,
    pub poster: Option<UnboundedSender<(usize, Delivery)>>,
}

impl WebhookState {
    pub fn wants(&self, event: &str) -> bool {
        if !self.enabled {
            return false;
        }
        match &self.spec.events {
            Some(list) => list.iter().any(|e| e == event),
            None => event == "workflow_job" || event == "workflow_run",
        }
    }

    pub fn push(&mut self, d: Delivery) {
        self.subscribers.retain(|s| s.send(d.clone()).is_ok());
        let idx = self.log.len();
        if self.spec.url.is_some() {
            if let Some(p) = &self.poster {
                let _ = p.send((idx, d.clone()));
            }
        }
        self.log.push(d);
    }
}
