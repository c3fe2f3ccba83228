//! Every operation of GitHub's OpenAPI subset answered once, each answer schema-valid; and the
//! validator itself catches drift.
mod common;
use common::*;
use flotilla_testkit::client::request;
use flotilla_testkit::openapi::Spec;
use flotilla_testkit::*;
use serde_json::json;
use std::collections::BTreeSet;

fn spec_or_skip() -> Option<&'static Spec> {
    let s = Spec::shared();
    if s.is_none() {
        eprintln!("!!! SKIPPED: GitHub OpenAPI description not found under ../shared/data/github");
    }
    s
}

#[tokio::test]
async fn every_operation_answers_schema_valid() {
    let Some(spec) = spec_or_skip() else { return };
    assert_eq!(spec.operations.len(), 39);
    let paths: BTreeSet<&str> = spec.operations.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(paths.len(), 29);

    let env = env().await;
    assert!(env.gh.validation_active());
    env.gh.add_actions_runner_release("2.323.0").unwrap();
    let rid = env
        .gh
        .add_runner(&RunnerSpec {
            org: Some(ORG.into()),
            name: "org-r".into(),
            labels: vec!["x".into()],
            ..Default::default()
        })
        .unwrap();
    let rrid = env
        .gh
        .add_runner(&RunnerSpec {
            repo: Some("acme/widgets".into()),
            name: "repo-r".into(),
            labels: vec!["x".into()],
            ..Default::default()
        })
        .unwrap();
    let now = env.gh.clock().now_ms();
    let run = env
        .gh
        .add_run(&RunSpec::new(
            "acme/widgets",
            vec![JobSpec::completed(
                "build",
                &["self-hosted"],
                "failure",
                &clock::rfc3339(now - 2000),
                &clock::rfc3339(now - 1000),
            )],
        ))
        .unwrap();
    let job = env.gh.jobs_of_run(run)[0].id;
    let t = clock::system_now_ms() / 1000;
    let jwt = format!(
        "Bearer {}",
        sign_app_jwt(env.app.app_id, &env.app.private_key_pem, t - 60, t + 540)
    );
    let tok = format!(
        "Bearer {}",
        env.gh.mint_installation_token(env.installation_id).unwrap()
    );
    let labels = json!({"labels": ["y"]});
    let jit = |n: &str| json!({"name": n, "runner_group_id": 1, "labels": ["self-hosted"]});
    let inst = env.installation_id;
    let calls: Vec<(&str, String, &str, Option<serde_json::Value>, u16)> = vec![
        ("GET", "/app".into(), &jwt, None, 200),
        (
            "POST",
            format!("/app/installations/{inst}/access_tokens"),
            &jwt,
            Some(json!({"repositories": ["widgets"]})),
            201,
        ),
        ("GET", "/orgs/acme/installation".into(), &jwt, None, 200),
        (
            "GET",
            "/repos/acme/widgets/installation".into(),
            &jwt,
            None,
            200,
        ),
        ("GET", "/installation/repositories".into(), &tok, None, 200),
        (
            "GET",
            "/orgs/acme/actions/runner-groups".into(),
            &tok,
            None,
            200,
        ),
        (
            "POST",
            "/orgs/acme/actions/runner-groups".into(),
            &tok,
            Some(json!({"name": "g"})),
            201,
        ),
        ("GET", "/orgs/acme/actions/runners".into(), &tok, None, 200),
        (
            "GET",
            "/orgs/acme/actions/runners/downloads".into(),
            &tok,
            None,
            200,
        ),
        (
            "POST",
            "/orgs/acme/actions/runners/generate-jitconfig".into(),
            &tok,
            Some(jit("j1")),
            201,
        ),
        (
            "POST",
            "/orgs/acme/actions/runners/registration-token".into(),
            &tok,
            None,
            201,
        ),
        (
            "POST",
            "/orgs/acme/actions/runners/remove-token".into(),
            &tok,
            None,
            201,
        ),
        (
            "GET",
            format!("/orgs/acme/actions/runners/{rid}"),
            &tok,
            None,
            200,
        ),
        (
            "GET",
            format!("/orgs/acme/actions/runners/{rid}/labels"),
            &tok,
            None,
            200,
        ),
        (
            "POST",
            format!("/orgs/acme/actions/runners/{rid}/labels"),
            &tok,
            Some(labels.clone()),
            200,
        ),
        (
            "PUT",
            format!("/orgs/acme/actions/runners/{rid}/labels"),
            &tok,
            Some(labels.clone()),
            200,
        ),
        (
            "DELETE",
            format!("/orgs/acme/actions/runners/{rid}/labels/y"),
            &tok,
            None,
            200,
        ),
        (
            "DELETE",
            format!("/orgs/acme/actions/runners/{rid}/labels"),
            &tok,
            None,
            200,
        ),
        (
            "DELETE",
            format!("/orgs/acme/actions/runners/{rid}"),
            &tok,
            None,
            204,
        ),
        ("GET", "/orgs/acme/repos".into(), &tok, None, 200),
        (
            "POST",
            "/orgs/acme/repos".into(),
            &tok,
            Some(json!({"name": "new-repo"})),
            201,
        ),
        ("GET", "/rate_limit".into(), &tok, None, 200),
        (
            "GET",
            format!("/repos/acme/widgets/actions/jobs/{job}"),
            &tok,
            None,
            200,
        ),
        (
            "POST",
            format!("/repos/acme/widgets/actions/jobs/{job}/rerun"),
            &tok,
            None,
            201,
        ),
        (
            "GET",
            "/repos/acme/widgets/actions/runners".into(),
            &tok,
            None,
            200,
        ),
        (
            "GET",
            "/repos/acme/widgets/actions/runners/downloads".into(),
            &tok,
            None,
            200,
        ),
        (
            "POST",
            "/repos/acme/widgets/actions/runners/generate-jitconfig".into(),
            &tok,
            Some(jit("j2")),
            201,
        ),
        (
            "POST",
            "/repos/acme/widgets/actions/runners/registration-token".into(),
            &tok,
            None,
            201,
        ),
        (
            "POST",
            "/repos/acme/widgets/actions/runners/remove-token".into(),
            &tok,
            None,
            201,
        ),
        (
            "GET",
            format!("/repos/acme/widgets/actions/runners/{rrid}"),
            &tok,
            None,
            200,
        ),
        (
            "GET",
            format!("/repos/acme/widgets/actions/runners/{rrid}/labels"),
            &tok,
            None,
            200,
        ),
        (
            "POST",
            format!("/repos/acme/widgets/actions/runners/{rrid}/labels"),
            &tok,
            Some(labels.clone()),
            200,
        ),
        (
            "PUT",
            format!("/repos/acme/widgets/actions/runners/{rrid}/labels"),
            &tok,
            Some(labels.clone()),
            200,
        ),
        (
            "DELETE",
            format!("/repos/acme/widgets/actions/runners/{rrid}/labels/y"),
            &tok,
            None,
            200,
        ),
        (
            "DELETE",
            format!("/repos/acme/widgets/actions/runners/{rrid}/labels"),
            &tok,
            None,
            200,
        ),
        (
            "DELETE",
            format!("/repos/acme/widgets/actions/runners/{rrid}"),
            &tok,
            None,
            204,
        ),
        (
            "GET",
            "/repos/acme/widgets/actions/runs".into(),
            &tok,
            None,
            200,
        ),
        (
            "GET",
            format!("/repos/acme/widgets/actions/runs/{run}/jobs"),
            &tok,
            None,
            200,
        ),
        (
            "GET",
            "/repos/actions/runner/releases/latest".into(),
            "",
            None,
            200,
        ),
    ];
    for (m, p, auth, body, want) in &calls {
        let headers: Vec<(&str, &str)> = if auth.is_empty() {
            vec![]
        } else {
            vec![("authorization", auth)]
        };
        let r = request(m, &env.url(p), &headers, body.as_ref())
            .await
            .unwrap();
        assert_eq!(r.status, *want, "{m} {p}: {}", r.text);
    }
    // Every operation of the description was answered with a documented success.
    let hit: BTreeSet<(String, String)> = env
        .gh
        .requests()
        .into_iter()
        .filter(|r| r.status < 300)
        .map(|r| (r.method, r.route))
        .collect();
    for op in &spec.operations {
        assert!(
            hit.contains(&(op.method.clone(), op.path.clone())),
            "not exercised: {} {}",
            op.method,
            op.path
        );
    }
    // Documented error answers are schema-valid too.
    let errors: Vec<(&str, String, Option<serde_json::Value>, u16)> = vec![
        (
            "POST",
            "/orgs/acme/actions/runners/generate-jitconfig".into(),
            Some(jit("j1")),
            409,
        ),
        (
            "POST",
            "/orgs/acme/actions/runners/generate-jitconfig".into(),
            Some(json!({"name": "z", "runner_group_id": 42, "labels": ["a"]})),
            404,
        ),
        (
            "POST",
            "/orgs/acme/repos".into(),
            Some(json!({"name": "new-repo"})),
            422,
        ),
        (
            "GET",
            "/orgs/acme/actions/runners/424242/labels".into(),
            None,
            404,
        ),
        (
            "POST",
            format!("/repos/acme/widgets/actions/jobs/{job}/rerun"),
            None,
            403,
        ), // run re-running
    ];
    for (m, p, body, want) in &errors {
        let r = request(m, &env.url(p), &[("authorization", &tok)], body.as_ref())
            .await
            .unwrap();
        assert_eq!(r.status, *want, "{m} {p}: {}", r.text);
    }
    env.assert_valid();
}

#[test]
fn the_validator_catches_drift() {
    let Some(spec) = spec_or_skip() else { return };
    let runner = json!({"id": 1, "name": "r", "os": "linux", "status": "online", "busy": false,
        "labels": [{"id": 1, "name": "self-hosted", "type": "read-only"}]});
    let ok = json!({"total_count": 1, "runners": [runner]});
    spec.validate_response("GET", "/orgs/acme/actions/runners", 200, Some(&ok))
        .unwrap();
    let mut missing = ok.clone();
    missing["runners"][0]
        .as_object_mut()
        .unwrap()
        .remove("busy");
    let e = spec
        .validate_response("GET", "/orgs/acme/actions/runners", 200, Some(&missing))
        .unwrap_err();
    assert!(e[0].contains("missing required property `busy`"), "{e:?}");
    let mut wrong_enum = ok.clone();
    wrong_enum["runners"][0]["labels"][0]["type"] = json!("builtin");
    assert!(spec
        .validate_response("GET", "/orgs/acme/actions/runners", 200, Some(&wrong_enum))
        .is_err());
    let mut wrong_type = ok.clone();
    wrong_type["total_count"] = json!("1");
    assert!(spec
        .validate_response("GET", "/orgs/acme/actions/runners", 200, Some(&wrong_type))
        .is_err());
    // Undocumented success status; body on a 204; missing body on a 200.
    assert!(spec
        .validate_response("GET", "/orgs/acme/actions/runners", 201, Some(&ok))
        .is_err());
    assert!(spec
        .validate_response("DELETE", "/orgs/acme/actions/runners/1", 204, Some(&ok))
        .is_err());
    assert!(spec
        .validate_response("GET", "/orgs/acme/actions/runners", 200, None)
        .is_err());
    // Undocumented errors are fine with GitHub's generic error body only.
    spec.validate_response(
        "GET",
        "/orgs/acme/actions/runners",
        404,
        Some(&json!({"message": "Not Found"})),
    )
    .unwrap();
    assert!(spec
        .validate_response(
            "GET",
            "/orgs/acme/actions/runners",
            500,
            Some(&json!({"error": 1}))
        )
        .is_err());
    // Job: nullable conclusion, date-time format.
    let op = spec.find("GET", "/repos/o/r/actions/jobs/1").unwrap();
    assert_eq!(op.operation_id, "actions/get-job-for-workflow-run");
    assert_eq!(
        spec.find("GET", "/orgs/o/actions/runners/downloads")
            .unwrap()
            .operation_id,
        "actions/list-runner-applications-for-org"
    );
    // Request bodies: labels must be a non-empty array.
    assert!(spec
        .validate_request(
            "POST",
            "/orgs/o/actions/runners/generate-jitconfig",
            Some(&json!({"name": "a", "runner_group_id": 1, "labels": []}))
        )
        .is_err());
    spec.validate_request(
        "POST",
        "/orgs/o/actions/runners/generate-jitconfig",
        Some(&json!({"name": "a", "runner_group_id": 1, "labels": ["x"]})),
    )
    .unwrap();
}

#[tokio::test]
async fn request_bodies_are_validated_like_github() {
    let env = env().await;
    if !env.gh.validation_active() {
        eprintln!("!!! SKIPPED: no OpenAPI description");
        return;
    }
    let tok = format!(
        "Bearer {}",
        env.gh.mint_installation_token(env.installation_id).unwrap()
    );
    let r = request(
        "POST",
        &env.url("/orgs/acme/actions/runners/generate-jitconfig"),
        &[("authorization", &tok)],
        Some(&json!({"name": "a", "runner_group_id": "one", "labels": ["x"]})),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 422);
    assert!(r.json["message"]
        .as_str()
        .unwrap()
        .starts_with("Invalid request."));
    let r = request(
        "POST",
        &env.url("/orgs/acme/actions/runners/generate-jitconfig"),
        &[
            ("authorization", &tok),
            ("content-type", "application/json"),
        ],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 422, "the body is required");
    env.assert_valid();
}
