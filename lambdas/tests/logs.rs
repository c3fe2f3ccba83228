//! Logs never carry a secret: every log line of a webhook delivery, a JIT-config launch, a
//! registration-token launch and an interruption is captured and grepped for the webhook
//! secret, the App key, the JIT configs and tokens stored for the instances, and bearer tokens.
//! Needs moto (`FLOTILLA_MOTO_URL`).

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use flotilla_core::naming;
use flotilla_lambdas::contract::Function;
use flotilla_lambdas::handlers;
use flotilla_lambdas::ports::Aws;
use serde_json::json;
use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_secret_token_or_jit_config() {
    let Some(moto) = moto_url("logs") else { return };
    let captured = Captured::default();
    let sink = captured.clone();
    flotilla_lambdas::logging::init("trace", move || sink.clone());

    let mut secrets: Vec<String> = vec![WEBHOOK_SECRET.to_string()];
    for config in [
        json!({"enable_ephemeral_runners": true, "enable_organization_runners": true}),
        json!({"enable_ephemeral_runners": false}),
    ] {
        let w = World::new("logs", &moto, config).await;
        // Key material: every line of the PEM body.
        secrets.extend(
            w.app
                .private_key_pem
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 20)
                .map(str::to_string),
        );
        let (webhook, scale_up, watcher) = (
            w.ctx(Function::Webhook),
            w.ctx(Function::ScaleUp),
            w.ctx(Function::TerminationWatcher),
        );
        w.gh.set_webhook(flotilla_testkit::seed::WebhookSpec {
            url: None,
            secret: Some(WEBHOOK_SECRET.into()),
            events: None,
        });
        let mut rx = w.gh.subscribe_webhooks();
        let job =
            w.gh.queue_job(REPO, "build", &["self-hosted", "linux"])
                .unwrap();
        w.deliver_webhooks(&webhook, &mut rx).await;
        // A bad signature is logged too.
        let mut bad = World::api_gateway_event("workflow_job", b"{}", "wrong-secret");
        bad.headers.insert("x-github-delivery".into(), "bad".into());
        let resp = handlers::webhook::handle(&webhook, &bad).await.unwrap();
        assert_eq!(resp.status_code, 401);
        let msgs = w.receive(10).await;
        assert!(w.scale_up(&scale_up, msgs).await.is_empty());
        for inst in w.live_instances().await {
            let p = w
                .direct
                .get_parameter(&naming::token_parameter(&w.prefix, &inst.id), true)
                .await
                .unwrap()
                .expect("credential stored");
            assert!(p.value.len() > 8);
            secrets.push(p.value);
        }
        let installation_token = w.gh.mint_installation_token(w.installation_id).unwrap();
        secrets.push(installation_token);
        w.boot().await;
        w.deliver_webhooks(&webhook, &mut rx).await;
        let inst = w.live_instances().await.remove(0);
        handlers::termination_watcher::handle(
            &watcher,
            json!({"detail-type": "EC2 Spot Instance Interruption Warning", "detail": {"instance-id": inst.id}}),
        )
        .await
        .unwrap();
        let _ = job;
    }

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.len() > 20,
        "logs were captured ({} lines)",
        lines.len()
    );
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.get("level").is_some(), "{l}");
    }
    assert!(
        text.contains("job enqueued")
            && text.contains("launched")
            && text.contains("runner credential stored")
    );
    assert!(
        text.contains("instance_ids") && text.contains("job_id"),
        "ids are logged"
    );
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret leaked into the logs: {}…",
            &s[..s.len().min(6)]
        );
    }
    for marker in [
        "ghs_",
        "Bearer ",
        "BEGIN RSA",
        "BEGIN PRIVATE",
        "encoded_jit_config",
    ] {
        assert!(!text.contains(marker), "{marker} in the logs");
    }
}
