//! Rate limits, fault injection and request accounting.
mod common;
use common::*;
use flotilla_testkit::client::{request, HttpReply};
use flotilla_testkit::*;
use std::time::Duration;

async fn get(env: &Env, token: &str, path: &str) -> HttpReply {
    request(
        "GET",
        &env.url(path),
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await
    .unwrap()
}

fn rate(r: &HttpReply) -> (u32, u32, u32, String) {
    let n = |h: &str| {
        r.header(h)
            .unwrap_or_else(|| panic!("missing {h}"))
            .parse::<u32>()
            .unwrap()
    };
    (
        n("x-ratelimit-limit"),
        n("x-ratelimit-remaining"),
        n("x-ratelimit-used"),
        r.header("x-ratelimit-resource").unwrap().to_string(),
    )
}

#[tokio::test]
async fn every_response_carries_rate_limit_headers() {
    let env = env().await;
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    env.gh.inject_fault(
        FaultSpec::new("GET", "/orgs/acme/actions/runners/1")
            .status(500)
            .times(1),
    );
    let answers = [
        get(&env, &token, "/orgs/acme/actions/runners").await,
        get(&env, &token, "/orgs/acme/actions/runners/99").await,
        get(&env, &token, "/orgs/acme/actions/runners/1").await,
        get(&env, &token, "/no/such/endpoint").await,
        get(&env, "wrong", "/orgs/acme/actions/runners").await,
        get(&env, &token, "/rate_limit").await,
    ];
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 404, 500, 404, 401, 200]);
    for a in &answers {
        let (limit, remaining, used, resource) = rate(a);
        assert_eq!(limit, remaining + used);
        assert_eq!(resource, "core");
        assert!(
            a.header("x-ratelimit-reset")
                .unwrap()
                .parse::<i64>()
                .unwrap()
                > 1_700_000_000
        );
        assert!(a.header("x-github-request-id").is_some());
    }
    // The installation's own budget: 5000, and /rate_limit is free.
    assert_eq!(rate(&answers[0]).0, 5000);
    // Counted: the two 404s and the 200; not the injected 500 (it answers before the limiter).
    assert_eq!(answers[5].json["resources"]["core"]["used"], 3);
    assert_eq!(rate(&answers[5]).2, 3);
    let window = env
        .gh
        .rate_window(&format!("installation:{}", env.installation_id))
        .unwrap();
    assert_eq!((window.limit, window.used), (5000, 3));
    env.assert_valid();
}

#[tokio::test]
async fn exhausting_the_hourly_budget_answers_403_until_the_reset() {
    let env = env().await;
    let identity = format!("installation:{}", env.installation_id);
    env.gh.set_rate_limit(Some(&identity), 3);
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = get(&env, &token, "/repos/acme/widgets/actions/runs").await;
        assert_eq!(r.status, 200);
        remaining.push(rate(&r).1);
    }
    assert_eq!(remaining, [2, 1, 0]);
    let r = get(&env, &token, "/repos/acme/widgets/actions/runs").await;
    assert_eq!(r.status, 403);
    assert_eq!(rate(&r).1, 0);
    assert_eq!(
        r.json["message"],
        format!(
            "API rate limit exceeded for installation ID {}.",
            env.installation_id
        )
    );
    // octocrab sees the same, with the reset time.
    let err = env
        .installation_client()
        .actions()
        .list_org_self_hosted_runners(ORG)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(403));
    match &err {
        octocrab::Error::GitHub { source, .. } => assert!(source.rate_limit_reset.is_some()),
        _ => unreachable!(),
    }
    let stats = env.gh.stats();
    assert_eq!(stats.rate_limited, 2);
    // Another credential has its own budget.
    env.gh.add_personal_token("ghp_other", "bob");
    assert_eq!(
        get(&env, "ghp_other", "/repos/acme/widgets/actions/runs")
            .await
            .status,
        200
    );
    // An hour later the window resets (tokens are re-minted: the old one expired too).
    env.gh.advance(Duration::from_secs(3600));
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    let r = get(&env, &token, "/repos/acme/widgets/actions/runs").await;
    assert_eq!(r.status, 200);
    assert_eq!(rate(&r).1, 2);
    env.assert_valid();
}

#[tokio::test]
async fn secondary_rate_limit_answers_with_retry_after() {
    let env = env().await;
    env.gh.set_secondary_limit(Some(SecondaryLimit {
        max_requests: 2,
        window_secs: 60,
        retry_after_secs: 30,
        status: 429,
    }));
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    assert_eq!(
        get(&env, &token, "/orgs/acme/actions/runners").await.status,
        200
    );
    assert_eq!(
        get(&env, &token, "/orgs/acme/actions/runners").await.status,
        200
    );
    let r = get(&env, &token, "/orgs/acme/actions/runners").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("30"));
    assert!(r.json["message"]
        .as_str()
        .unwrap()
        .starts_with("You have exceeded a secondary rate limit"));
    assert!(rate(&r).1 > 0, "primary budget is not the reason");
    env.gh.advance(Duration::from_secs(60));
    assert_eq!(
        get(&env, &token, "/orgs/acme/actions/runners").await.status,
        200
    );
    env.assert_valid();
}

#[tokio::test]
async fn injected_429_with_retry_after_is_seen_and_counted() {
    let env = env().await;
    let inst = env.installation_client();
    inst.actions()
        .list_org_self_hosted_runners(ORG)
        .send()
        .await
        .unwrap(); // token cached
    env.gh.reset_stats();
    // Raw: the fault's status, headers and GitHub-shaped body.
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    let id = env.gh.inject_fault(
        FaultSpec::new("GET", "/orgs/{org}/actions/runners")
            .status(429)
            .retry_after(7)
            .times(1),
    );
    let r = get(&env, &token, "/orgs/acme/actions/runners").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert!(r.header("x-ratelimit-remaining").is_some());
    // octocrab's default retry (3 immediate retries on 429/5xx) rides out two 429s …
    let two = env.gh.inject_fault(
        FaultSpec::new("GET", "/orgs/{org}/actions/runners")
            .status(429)
            .retry_after(1)
            .times(2),
    );
    inst.actions()
        .list_org_self_hosted_runners(ORG)
        .send()
        .await
        .unwrap();
    // … but not five.
    let five = env.gh.inject_fault(
        FaultSpec::new("GET", "/orgs/{org}/actions/runners")
            .status(429)
            .retry_after(1)
            .times(5),
    );
    let err = inst
        .actions()
        .list_org_self_hosted_runners(ORG)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(429));
    let stats = env.gh.stats();
    assert_eq!(stats.by_fault.get(&id), Some(&1));
    assert_eq!(stats.by_fault.get(&two), Some(&2));
    assert_eq!(stats.by_fault.get(&five), Some(&4), "1 try + 3 retries");
    assert_eq!(stats.faults_injected, 7);
    assert_eq!(stats.by_status.get(&429), Some(&7));
    assert_eq!(stats.by_status.get(&200), Some(&1));
    let faults = env.gh.faults();
    assert_eq!(faults.iter().find(|f| f.id == five).unwrap().hits, 4);
    env.assert_valid();
}

#[tokio::test]
async fn server_errors_latency_and_patterns() {
    let env = env().await;
    env.gh.add_personal_token("ghp_t", "t");
    let c = env.token_client("ghp_t");
    // Two 502s on any runs list (glob), then success: octocrab retries through them.
    let f = env.gh.inject_fault(
        FaultSpec::new("GET", "/repos/*/actions/runs")
            .status(502)
            .times(2),
    );
    let v: serde_json::Value = c
        .get("/repos/acme/widgets/actions/runs", None::<&()>)
        .await
        .unwrap();
    assert_eq!(v["total_count"], 0);
    // 422 and 404 with custom bodies.
    env.gh.inject_fault(
        FaultSpec::new("POST", "/orgs/{org}/actions/runners/generate-jitconfig")
            .status(422)
            .body(serde_json::json!({"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest", "errors": ["boom"]}))
            .times(1),
    );
    let err = c
        .actions()
        .create_org_jit_runner_config(ORG, "x", 1u64.into(), vec!["self-hosted".to_string()])
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(422));
    // Latency only: the request proceeds, the fault is counted.
    let slow = env.gh.inject_fault(
        FaultSpec::new("*", "/rate_limit")
            .delay(Duration::from_millis(20))
            .times(1),
    );
    let _: serde_json::Value = c.get("/rate_limit", None::<&()>).await.unwrap();
    let stats = env.gh.stats();
    assert_eq!(stats.by_fault.get(&f), Some(&2));
    assert_eq!(stats.by_fault.get(&slow), Some(&1));
    let rl = env
        .gh
        .requests()
        .into_iter()
        .find(|r| r.route == "/rate_limit")
        .unwrap();
    assert_eq!((rl.status, rl.fault), (200, Some(slow)));
    // Cleared faults stop firing.
    env.gh
        .inject_fault(FaultSpec::new("GET", "/rate_limit").status(503));
    env.gh.clear_faults();
    let _: serde_json::Value = c.get("/rate_limit", None::<&()>).await.unwrap();
    env.assert_valid();
}

#[tokio::test]
async fn requests_are_counted_per_endpoint_and_per_hour() {
    crypto();
    let t0 = 1_800_000_000_000i64; // on an hour boundary
    let gh = FakeGitHub::start(FakeGitHubOptions {
        clock: Some(Clock::frozen(t0)),
        ..FakeGitHubOptions::strict()
    })
    .await
    .unwrap();
    gh.add_repo(ORG, REPO);
    gh.add_personal_token("ghp_c", "counter");
    let c = octocrab::Octocrab::builder()
        .base_uri(gh.base_url())
        .unwrap()
        .personal_token("ghp_c".to_string())
        .build()
        .unwrap();
    for _ in 0..3 {
        let _: serde_json::Value = c
            .get("/repos/acme/widgets/actions/runs", None::<&()>)
            .await
            .unwrap();
    }
    let _: serde_json::Value = c
        .get("/orgs/acme/actions/runners", None::<&()>)
        .await
        .unwrap();
    gh.advance(Duration::from_secs(3600));
    let _: serde_json::Value = c
        .get("/repos/acme/widgets/actions/runs", None::<&()>)
        .await
        .unwrap();
    let s = gh.stats();
    assert_eq!(s.total, 5);
    assert_eq!(s.endpoint("GET", "/repos/{owner}/{repo}/actions/runs"), 4);
    assert_eq!(s.endpoint("get", "/orgs/{org}/actions/runners"), 1);
    let h0 = t0 / 1000;
    assert_eq!(s.by_hour, [(h0, 4), (h0 + 3600, 1)].into_iter().collect());
    let runs = &s.by_endpoint_hour["GET /repos/{owner}/{repo}/actions/runs"];
    assert_eq!(runs, &[(h0, 3), (h0 + 3600, 1)].into_iter().collect());
    assert_eq!(s.by_identity["user:counter"], 5);
    gh.assert_no_validation_failures();
}
