//! The `/_testkit` control surface over HTTP, and the `fake-github` binary, as out-of-process
//! programs (a Lambda `bootstrap`, a runner-agent emulator) use them.
mod common;
use common::*;
use flotilla_testkit::client::request;
use flotilla_testkit::*;
use serde_json::json;
use std::io::BufRead;

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_serves_a_seeded_state_controlled_over_http() {
    crypto();
    let keys = test_key_pair();
    let seed = json!({
        "orgs": [{"login": "acme"}],
        "repos": [{"owner": "acme", "name": "widgets"}],
        "apps": [{"id": 4242, "slug": "flotilla", "public_key_pem": keys.public_pem}],
        "installations": [{"id": 777, "app_id": 4242, "account": "acme"}],
        "runners": [{"org": "acme", "name": "seeded", "online": true, "labels": ["gpu"]}],
        "runs": [{"repo": "acme/widgets", "jobs": [{"name": "train", "labels": ["self-hosted", "gpu"]}]}]
    });
    let dir = std::env::temp_dir().join(format!("fake-github-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed_path = dir.join("seed.json");
    std::fs::write(&seed_path, seed.to_string()).unwrap();
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_fake-github"))
            .args(["--port", "0", "--strict", "--state"])
            .arg(&seed_path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"));

    // The seeded job went to the seeded runner.
    let state = request("GET", &format!("{base}/_testkit/state"), &[], None)
        .await
        .unwrap();
    assert_eq!(state.json["assignments"][0]["runner_name"], "seeded");

    // octocrab as the app, through the installation.
    let app = octocrab::Octocrab::builder()
        .base_uri(base.clone())
        .unwrap()
        .app(
            4242u64.into(),
            jsonwebtoken::EncodingKey::from_rsa_pem(keys.private_pem.as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let inst = app.installation(777u64.into()).unwrap();
    let runners = inst
        .actions()
        .list_org_self_hosted_runners("acme")
        .send()
        .await
        .unwrap();
    assert_eq!(runners.items[0].name, "seeded");
    assert!(runners.items[0].busy);

    // Faults over HTTP.
    let f = request(
        "POST",
        &format!("{base}/_testkit/faults"),
        &[],
        Some(&json!({"method": "GET", "path": "/orgs/{org}/actions/runners", "status": 503, "times": 4})),
    )
    .await
    .unwrap();
    let fid = f.json["id"].as_u64().unwrap();
    let err = inst
        .actions()
        .list_org_self_hosted_runners("acme")
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(503));
    let stats = request("GET", &format!("{base}/_testkit/stats"), &[], None)
        .await
        .unwrap();
    assert_eq!(stats.json["by_fault"][fid.to_string()], 4);
    assert_eq!(stats.json["by_status"]["503"], 4);

    // The agent side: the job runs to completion; the run completes.
    let state = request("GET", &format!("{base}/_testkit/state"), &[], None)
        .await
        .unwrap();
    let job_id = state.json["assignments"][0]["job_id"].as_u64().unwrap();
    let done = request(
        "POST",
        &format!("{base}/_testkit/jobs/{job_id}/complete"),
        &[],
        Some(&json!({"conclusion": "success"})),
    )
    .await
    .unwrap();
    assert_eq!(done.status, 200);
    let state = request("GET", &format!("{base}/_testkit/state"), &[], None)
        .await
        .unwrap();
    assert_eq!(state.json["runs"][0]["status"], "completed");
    assert_eq!(state.json["runs"][0]["conclusion"], "success");
    let v = request(
        "GET",
        &format!("{base}/_testkit/validation-failures"),
        &[],
        None,
    )
    .await
    .unwrap();
    assert_eq!(v.json, json!([]));
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn control_surface_in_process_over_http() {
    let env = env().await;
    let base = env.gh.base_url();
    let post = |p: &str, b: serde_json::Value| {
        let url = format!("{base}{p}");
        async move { request("POST", &url, &[], Some(&b)).await.unwrap() }
    };
    let r = post(
        "/_testkit/runs",
        json!({"repo": "acme/widgets", "jobs": [{"name": "a", "labels": ["self-hosted"]}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let job = r.json["job_ids"][0].as_u64().unwrap();
    assert_eq!(env.gh.job(job).unwrap().state, JobState::Queued);
    // A JIT runner connected by an emulator over HTTP takes it.
    let tok = env.gh.mint_installation_token(env.installation_id).unwrap();
    let jit = request(
        "POST",
        &env.url("/orgs/acme/actions/runners/generate-jitconfig"),
        &[("authorization", &format!("Bearer {tok}"))],
        Some(&json!({"name": "i-1", "runner_group_id": 1, "labels": ["self-hosted", "linux", "x64"]})),
    )
    .await
    .unwrap();
    let s = post(
        "/_testkit/agent/jit",
        json!({"encoded_jit_config": jit.json["encoded_jit_config"], "os": "linux", "arch": "x64"}),
    )
    .await;
    assert_eq!(s.status, 200, "{}", s.text);
    let rid = s.json["runner_id"].as_u64().unwrap();
    let auth = format!("Bearer {}", s.json["credentials"].as_str().unwrap());
    let polled = request(
        "GET",
        &format!("{base}/_testkit/agent/runners/{rid}/job"),
        &[("authorization", &auth)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(polled.json["id"], job);
    let wrong = request(
        "GET",
        &format!("{base}/_testkit/agent/runners/{rid}/job"),
        &[("authorization", "Bearer nope")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(wrong.status, 401);
    // Clock control over HTTP.
    let before = env.gh.clock().now_ms();
    let c = post("/_testkit/clock", json!({"advance_ms": 3_600_000})).await;
    assert!(c.json["now_ms"].as_i64().unwrap() >= before + 3_600_000);
    // Rate limit over HTTP.
    post(
        "/_testkit/rate-limit",
        json!({"identity": "anonymous", "limit": 1}),
    )
    .await;
    let a = request(
        "GET",
        &env.url("/repos/acme/widgets/releases/latest"),
        &[],
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        a.status, 404,
        "private repo, no release: 404 — and it used the budget"
    );
    let b = request(
        "GET",
        &env.url("/repos/acme/widgets/releases/latest"),
        &[],
        None,
    )
    .await
    .unwrap();
    assert_eq!(b.status, 403);
    assert!(b.json["message"]
        .as_str()
        .unwrap()
        .starts_with("API rate limit exceeded for 127.0.0.1."));
    let w = request(
        "GET",
        &format!("{base}/_testkit/rate-limit/anonymous"),
        &[],
        None,
    )
    .await
    .unwrap();
    assert_eq!(w.json["limit"], 1);
    env.assert_valid();
}
