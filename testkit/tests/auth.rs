//! GitHub App JWT → installation token → bearer; personal tokens; the 401/403/404 answers.
mod common;
use common::*;
use flotilla_testkit::client::request;
use flotilla_testkit::*;
use std::time::Duration;

#[tokio::test]
async fn app_jwt_then_installation_token_then_runners() {
    let env = env().await;
    let app: serde_json::Value = env.app_client().get("/app", None::<&()>).await.unwrap();
    assert_eq!(app["id"], env.app.app_id);
    assert_eq!(app["slug"], "flotilla");

    let inst = env.installation_client();
    let runners = inst
        .actions()
        .list_org_self_hosted_runners(ORG)
        .send()
        .await
        .unwrap();
    assert_eq!(runners.total_count, Some(0));

    let reqs = env.gh.requests();
    let token_calls: Vec<_> = reqs
        .iter()
        .filter(|r| r.route == "/app/installations/{installation_id}/access_tokens")
        .collect();
    assert_eq!(token_calls.len(), 1, "octocrab exchanged the JWT once");
    assert_eq!(token_calls[0].status, 201);
    assert_eq!(
        token_calls[0].identity.as_deref(),
        Some(format!("app:{}", env.app.app_id).as_str())
    );
    let list = reqs
        .iter()
        .find(|r| r.route == "/orgs/{org}/actions/runners")
        .unwrap();
    assert_eq!(
        list.identity.as_deref(),
        Some(format!("installation:{}", env.installation_id).as_str())
    );
    env.assert_valid();
}

#[tokio::test]
async fn installation_token_shape_and_expiry() {
    let env = env().await;
    let jwt = sign_app_jwt(
        env.app.app_id,
        &env.app.private_key_pem,
        chrono_now() - 60,
        chrono_now() + 540,
    );
    let before = env.gh.clock().now_ms();
    let r = request(
        "POST",
        &env.url(&format!(
            "/app/installations/{}/access_tokens",
            env.installation_id
        )),
        &[("authorization", &format!("Bearer {jwt}"))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 201);
    let token = r.json["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("ghs_") && token.len() == 40, "{token}");
    let expires = r.json["expires_at"].as_str().unwrap();
    let exp_ms = clock::parse_rfc3339(expires).unwrap();
    let after = env.gh.clock().now_ms();
    assert!(
        exp_ms >= (before + 3_600_000) / 1000 * 1000 && exp_ms <= after + 3_600_000,
        "expires one hour after minting"
    );

    let auth = format!("token {token}");
    let ok = request(
        "GET",
        &env.url("/installation/repositories"),
        &[("authorization", &auth)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json["total_count"], 2);

    env.gh.advance(Duration::from_secs(3601));
    let expired = request(
        "GET",
        &env.url("/installation/repositories"),
        &[("authorization", &auth)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(expired.status, 401);
    assert_eq!(expired.json["message"], "Bad credentials");
    env.assert_valid();
}

fn chrono_now() -> i64 {
    clock::system_now_ms() / 1000
}

#[tokio::test]
async fn bad_credentials_are_401_with_githubs_message() {
    let env = env().await;
    let err = env
        .token_client("ghp_not_a_real_token")
        .actions()
        .list_org_self_hosted_runners(ORG)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(401));
    assert_eq!(gh_message(&err), "Bad credentials");

    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runners"),
        &[("authorization", "Bearer nope")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json["documentation_url"], "https://docs.github.com/rest");
    assert!(
        r.header("x-ratelimit-limit").is_some(),
        "rate headers on 401 too"
    );

    let anon = request("GET", &env.url("/orgs/acme/actions/runners"), &[], None)
        .await
        .unwrap();
    assert_eq!(anon.status, 401);
    assert_eq!(anon.json["message"], "Requires authentication");
    env.assert_valid();
}

#[tokio::test]
async fn jwt_signature_expiry_and_horizon_are_checked() {
    let env = env().await;
    let now = chrono_now();
    let url = env.url("/app");
    let call = |jwt: String| {
        let url = url.clone();
        async move {
            request(
                "GET",
                &url,
                &[("authorization", &format!("Bearer {jwt}"))],
                None,
            )
            .await
            .unwrap()
        }
    };
    let good = call(sign_app_jwt(
        env.app.app_id,
        &env.app.private_key_pem,
        now - 60,
        now + 540,
    ))
    .await;
    assert_eq!(good.status, 200);

    let other_key = generate_rsa_key_pair();
    let forged = call(sign_app_jwt(
        env.app.app_id,
        &other_key.private_pem,
        now - 60,
        now + 540,
    ))
    .await;
    assert_eq!(forged.status, 401);
    assert_eq!(
        forged.json["message"],
        "A JSON web token could not be decoded"
    );

    let expired = call(sign_app_jwt(
        env.app.app_id,
        &env.app.private_key_pem,
        now - 700,
        now - 100,
    ))
    .await;
    assert_eq!(expired.status, 401);
    assert!(expired.json["message"]
        .as_str()
        .unwrap()
        .starts_with("'Expiration time' claim ('exp') must be"));

    let too_far = call(sign_app_jwt(
        env.app.app_id,
        &env.app.private_key_pem,
        now,
        now + 3600,
    ))
    .await;
    assert_eq!(too_far.status, 401);
    assert_eq!(
        too_far.json["message"],
        "'Expiration time' claim ('exp') is too far in the future"
    );

    let unknown_app = call(sign_app_jwt(
        424242,
        &env.app.private_key_pem,
        now - 60,
        now + 540,
    ))
    .await;
    assert_eq!(unknown_app.status, 401);

    let garbage = call("eyJhbGciOiJSUzI1NiJ9.e30.c2ln".into()).await;
    assert_eq!(garbage.status, 401);
    env.assert_valid();
}

#[tokio::test]
async fn endpoints_demand_the_right_credential_and_permission() {
    let env = env().await;
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    let inst_auth = format!("Bearer {token}");
    // An installation token cannot call JWT-only endpoints.
    let r = request(
        "GET",
        &env.url("/app"),
        &[("authorization", &inst_auth)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401);
    // A JWT cannot call installation endpoints.
    let now = chrono_now();
    let jwt = sign_app_jwt(
        env.app.app_id,
        &env.app.private_key_pem,
        now - 60,
        now + 540,
    );
    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runners"),
        &[("authorization", &format!("Bearer {jwt}"))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
    // An org the installation is not on.
    env.gh.add_org("other");
    let r = request(
        "GET",
        &env.url("/orgs/other/actions/runners"),
        &[("authorization", &inst_auth)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.json["message"], "Resource not accessible by integration");
    // A private repo of another account is invisible (404).
    env.gh.add_repo("other", "secret");
    let r = request(
        "GET",
        &env.url("/repos/other/secret/actions/runs"),
        &[("authorization", &inst_auth)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 404);
    // An installation without `actions: write` cannot re-run jobs.
    let ro = env
        .gh
        .add_installation(&InstallationSpec {
            app_id: env.app.app_id,
            account: "other".into(),
            permissions: [("actions".to_string(), "read".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        })
        .unwrap();
    let ro_token = env.gh.mint_installation_token(ro).unwrap();
    let run = env
        .gh
        .add_run(
            &RunSpec::new(
                "other/secret",
                vec![JobSpec::completed(
                    "build",
                    &["self-hosted"],
                    "failure",
                    "2026-01-01T00:00:00Z",
                    "2026-01-01T00:01:00Z",
                )],
            )
            .created_at(&clock::rfc3339(env.gh.clock().now_ms() - 60_000)),
        )
        .unwrap();
    let job = env.gh.jobs_of_run(run)[0].id;
    let r = request(
        "POST",
        &env.url(&format!("/repos/other/secret/actions/jobs/{job}/rerun")),
        &[("authorization", &format!("Bearer {ro_token}"))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 403);
    let r = request(
        "GET",
        &env.url(&format!("/repos/other/secret/actions/jobs/{job}")),
        &[("authorization", &format!("Bearer {ro_token}"))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "read is enough to get the job");
    env.assert_valid();
}

#[tokio::test]
async fn personal_tokens_work_for_the_trace_fetcher() {
    let env = env().await;
    env.gh.add_personal_token("ghp_trace", "alice");
    let runs: serde_json::Value = env
        .token_client("ghp_trace")
        .get("/repos/acme/widgets/actions/runs", None::<&()>)
        .await
        .unwrap();
    assert_eq!(runs["total_count"], 0);
    assert_eq!(env.gh.stats().by_identity.get("user:alice"), Some(&1));
    env.assert_valid();
}
