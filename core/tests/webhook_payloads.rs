//! Walks `core/docs/webhook-payloads.md` over the real payloads in `../shared/data/webhooks/`.

use std::borrow::Cow;
use std::path::PathBuf;

use flotilla_core::observation::{Secret, WebhookDelivery};
use flotilla_core::webhook::sign;
use flotilla_core::{decide, Command, Config, Observation, Timestamp};

const SECRET: &str = "It's a Secret to Everybody";

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/webhooks");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: {} is missing; the webhook payload table was not checked",
            dir.display()
        );
        None
    }
}

fn config(name: &str) -> Config {
    match name {
        "default" => Config::default(),
        "k8s" => Config::from_json(r#"{"runner_extra_labels": ["k8s"]}"#).unwrap(),
        other => panic!("unknown config {other} in the table"),
    }
}

fn kind(c: &Command) -> String {
    serde_json::to_value(c).unwrap()["command"]
        .as_str()
        .unwrap()
        .to_string()
}

fn status(commands: &[Command]) -> u16 {
    commands
        .iter()
        .rev()
        .find_map(|c| match c {
            Command::Respond { status, .. } => Some(*status),
            _ => None,
        })
        .expect("every webhook decision answers")
}

fn deliver(
    config: &Config,
    event: Option<&str>,
    body: &[u8],
    signature: Option<String>,
    content_type: &str,
) -> Vec<Command> {
    let obs = Observation::Webhook(WebhookDelivery {
        event: event.map(str::to_string),
        delivery_id: Some("d-1".into()),
        signature_256: signature,
        content_type: Some(content_type.into()),
        body: Cow::Borrowed(body),
        secret: Secret(SECRET.into()),
    });
    decide(config, &obs, Timestamp::from_secs(1_757_000_000))
}

#[test]
fn every_payload_gets_its_documented_answer() {
    let Some(dir) = data_dir() else { return };
    let table = include_str!("../docs/webhook-payloads.md");
    let mut rows = 0;
    let mut seen = std::collections::BTreeSet::new();
    for line in table.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 6 || !cells[1].ends_with(".json") {
            continue;
        }
        let (file, cfg, want_status, want_commands) = (cells[1], cells[2], cells[3], cells[4]);
        let body = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let event = file.split('.').next().unwrap();
        let got = deliver(
            &config(cfg),
            Some(event),
            &body,
            Some(sign(SECRET.as_bytes(), &body)),
            "application/json",
        );
        let kinds: Vec<String> = got.iter().map(kind).collect();
        assert_eq!(
            status(&got).to_string(),
            want_status,
            "{file} ({cfg}): {got:?}"
        );
        assert_eq!(kinds.join(", "), want_commands, "{file} ({cfg})");
        rows += 1;
        seen.insert(file.to_string());
    }
    assert!(rows >= 35, "the table lost rows ({rows})");
    // Every payload on disk is in the table.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".json") {
            assert!(
                seen.contains(&name),
                "{name} is not in docs/webhook-payloads.md"
            );
        }
    }
}

#[test]
fn accepted_job_is_enqueued_with_its_labels_and_installation() {
    let Some(dir) = data_dir() else { return };
    let body = std::fs::read(dir.join("workflow_job.queued.6.json")).unwrap();
    let got = deliver(
        &config("k8s"),
        Some("workflow_job"),
        &body,
        Some(sign(SECRET.as_bytes(), &body)),
        "application/json",
    );
    let Command::Enqueue { job, fifo } = &got[1] else {
        panic!("{got:?}")
    };
    assert_eq!(job.labels, vec!["self-hosted", "k8s"]);
    assert_eq!(job.installation_id, Some(23_154_469));
    assert_eq!(job.repo.full_name(), "lineville/elastic-machines-testing");
    assert!(fifo.is_none());
}

#[test]
fn failure_paths_answer_as_documented() {
    let Some(dir) = data_dir() else { return };
    let cfg = config("k8s");
    let body = std::fs::read(dir.join("workflow_job.queued.6.json")).unwrap();
    let good = sign(SECRET.as_bytes(), &body);
    let s = |c: Vec<Command>| status(&c);
    assert_eq!(
        s(deliver(
            &cfg,
            Some("workflow_job"),
            &body,
            Some(good.clone()),
            "application/json"
        )),
        201
    );
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert_eq!(
        s(deliver(
            &cfg,
            Some("workflow_job"),
            &tampered,
            Some(good.clone()),
            "application/json"
        )),
        401
    );
    assert_eq!(
        s(deliver(
            &cfg,
            Some("workflow_job"),
            &body,
            Some(sign(b"wrong", &body)),
            "application/json"
        )),
        401
    );
    assert_eq!(
        s(deliver(
            &cfg,
            Some("workflow_job"),
            &body,
            None,
            "application/json"
        )),
        401
    );
    assert_eq!(
        s(deliver(
            &cfg,
            Some("workflow_job"),
            &body,
            Some(good.clone()),
            "application/x-www-form-urlencoded"
        )),
        415
    );
    let big = vec![b' '; (1 << 20) + 1];
    assert_eq!(
        s(deliver(
            &cfg,
            Some("workflow_job"),
            &big,
            Some(sign(SECRET.as_bytes(), &big)),
            "application/json"
        )),
        413
    );
    assert_eq!(
        s(deliver(
            &cfg,
            None,
            &body,
            Some(good.clone()),
            "application/json"
        )),
        400
    );
    let cut = &body[..body.len() / 2];
    assert_eq!(
        s(deliver(
            &cfg,
            Some("workflow_job"),
            cut,
            Some(sign(SECRET.as_bytes(), cut)),
            "application/json"
        )),
        400
    );
    let obs = Observation::Webhook(WebhookDelivery {
        event: Some("workflow_job".into()),
        delivery_id: None,
        signature_256: Some(good),
        content_type: None,
        body: Cow::Borrowed(&body),
        secret: Secret(String::new()),
    });
    assert_eq!(status(&decide(&cfg, &obs, Timestamp::from_secs(0))), 500);
}
