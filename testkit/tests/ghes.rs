//! A GitHub Enterprise Server-shaped fake: the REST API under `/api/v3`
//! (`FakeGitHubOptions::base_path`), control routes and downloads at the origin; and the App's
//! installation on a user account (`GET /users/{username}/installation`).
mod common;
use common::*;
use flotilla_testkit::client::request;
use flotilla_testkit::*;

async fn ghes() -> Env {
    crypto();
    let gh = FakeGitHub::start(FakeGitHubOptions {
        base_path: "api/v3/".into(),
        ..FakeGitHubOptions::strict()
    })
    .await
    .unwrap();
    gh.add_org(ORG);
    gh.add_repo(ORG, REPO);
    let app = gh.add_test_app("flotilla");
    let installation_id = gh.install_app(app.app_id, ORG);
    Env {
        gh,
        app,
        installation_id,
    }
}

#[tokio::test]
async fn the_rest_api_lives_under_the_base_path() {
    let env = ghes().await;
    let origin = env.gh.origin();
    assert_eq!(env.gh.base_url(), format!("{origin}/api/v3"), "normalised");

    // octocrab with a GHES base URI: JWT → installation token → runners and tokens.
    let inst = env.installation_client();
    let runners = inst
        .actions()
        .list_org_self_hosted_runners(ORG)
        .send()
        .await
        .unwrap();
    assert_eq!(runners.total_count, Some(0));
    inst.actions()
        .create_org_runner_registration_token(ORG)
        .await
        .unwrap();
    let reqs = env.gh.requests();
    let list = reqs
        .iter()
        .find(|r| r.route == "/orgs/{org}/actions/runners")
        .expect("recorded under the API's own template");
    assert_eq!(list.path, "/orgs/acme/actions/runners");
    assert_eq!(list.status, 200);
    assert!(reqs.iter().any(
        |r| r.route == "/app/installations/{installation_id}/access_tokens" && r.status == 201
    ));

    // Not at the origin's root; there the API is a 404 (control routes aside).
    let r = request("GET", &format!("{origin}/rate_limit"), &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    let r = request("GET", &env.url("/rate_limit"), &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let r = request("GET", &format!("{origin}/_testkit/state"), &[], None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "control routes at the origin");
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    let auth = format!("Bearer {token}");
    let r = request("GET", &env.url("/nope"), &[("authorization", &auth)], None)
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.json["message"], "Not Found");

    // Faults name the API's templates, with or without a base path (a 404: octocrab would
    // retry through a 5xx).
    env.gh.inject_fault(
        FaultSpec::new("GET", "/orgs/{org}/actions/runners")
            .status(404)
            .times(1),
    );
    let e = inst
        .actions()
        .list_org_self_hosted_runners(ORG)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&e), Some(404));
    env.assert_valid();
}

#[tokio::test]
async fn links_and_urls_carry_the_base_path_and_downloads_the_origin() {
    let env = ghes().await;
    let origin = env.gh.origin();
    for i in 0..45 {
        env.gh
            .add_runner(&RunnerSpec {
                name: format!("r{i}"),
                org: Some(ORG.into()),
                ..Default::default()
            })
            .unwrap();
    }
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    let auth = format!("Bearer {token}");
    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runners?per_page=20"),
        &[("authorization", &auth)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let link = r.header("link").unwrap();
    assert!(
        link.contains(&format!(
            "<{origin}/api/v3/orgs/acme/actions/runners?per_page=20&page=2>; rel=\"next\""
        )),
        "{link}"
    );
    // Runner downloads are served at the origin, where their URLs point.
    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runners/downloads"),
        &[("authorization", &auth)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.json[0]["download_url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with(&format!("{origin}/actions/runner/releases/download/")),
        "{url}"
    );
    let d = request("GET", &url, &[], None).await.unwrap();
    assert_eq!(d.status, 200);
    env.assert_valid();
}

#[tokio::test]
async fn a_bad_base_path_is_refused() {
    let e = FakeGitHub::start(FakeGitHubOptions {
        base_path: "/api/v3?x=1".into(),
        ..FakeGitHubOptions::default()
    })
    .await
    .err()
    .expect("refused");
    assert!(e.to_string().contains("base_path"), "{e}");
}

#[tokio::test]
async fn the_installation_of_a_user_account() {
    let env = env().await;
    env.gh.add_user("octocat");
    env.gh
        .add_repo_spec(&RepoSpec::new("octocat", "hello"))
        .unwrap();
    let user_installation = env.gh.install_app(env.app.app_id, "octocat");
    let app = env.app_client();
    let got: serde_json::Value = app
        .get("/users/octocat/installation", None::<&()>)
        .await
        .unwrap();
    assert_eq!(got["id"], user_installation);
    assert_eq!(got["account"]["login"], "octocat");
    // As on GitHub: the org form does not answer for a user, nor the user form for an org.
    let e = app
        .get::<serde_json::Value, _, _>("/orgs/octocat/installation", None::<&()>)
        .await
        .unwrap_err();
    assert_eq!(gh_status(&e), Some(404));
    let e = app
        .get::<serde_json::Value, _, _>(format!("/users/{ORG}/installation"), None::<&()>)
        .await
        .unwrap_err();
    assert_eq!(gh_status(&e), Some(404));
    let org: serde_json::Value = app
        .get(format!("/orgs/{ORG}/installation"), None::<&()>)
        .await
        .unwrap();
    assert_eq!(org["id"], env.installation_id);
    // JWT only, like the other installation lookups.
    let inst = env.installation_client();
    let e = inst
        .get::<serde_json::Value, _, _>("/users/octocat/installation", None::<&()>)
        .await
        .unwrap_err();
    assert_eq!(gh_status(&e), Some(401));
    env.assert_valid();
}
