//! Runners through octocrab: pagination, JIT configs, registration tokens, labels, deletes.
mod common;
use common::*;
use flotilla_testkit::client::request;
use flotilla_testkit::*;

fn seed_runners(env: &Env, n: usize) {
    for i in 0..n {
        env.gh
            .add_runner(&RunnerSpec {
                org: Some(ORG.into()),
                name: format!("runner-{i:03}"),
                labels: vec!["linux-large".into()],
                online: i % 2 == 0,
                ..Default::default()
            })
            .unwrap();
    }
}

#[tokio::test]
async fn list_runners_paginates_like_github() {
    let env = env().await;
    seed_runners(&env, 75);
    let inst = env.installation_client();
    let page1 = inst
        .actions()
        .list_org_self_hosted_runners(ORG)
        .per_page(30u8)
        .send()
        .await
        .unwrap();
    assert_eq!(page1.total_count, Some(75));
    assert_eq!(page1.items.len(), 30);
    assert!(page1.next.is_some());
    // Walk the pages by number: see `octocrab_drops_credentials_on_absolute_link_urls`.
    let mut all = page1.items.clone();
    for page in 2u32.. {
        let p = inst
            .actions()
            .list_org_self_hosted_runners(ORG)
            .per_page(30u8)
            .page(page)
            .send()
            .await
            .unwrap();
        all.extend(p.items);
        if p.next.is_none() {
            assert_eq!(page, 3);
            break;
        }
    }
    assert_eq!(all.len(), 75);
    let mut names: Vec<_> = all.iter().map(|r| r.name.clone()).collect();
    names.dedup();
    assert_eq!(names.len(), 75, "no duplicates across pages");
    let online = all.iter().filter(|r| r.status == "online").count();
    assert_eq!(online, 38);
    let labels: Vec<_> = all[0].labels.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(labels, ["self-hosted", "Linux", "X64", "linux-large"]);

    // The raw Link header: next and last, with per_page kept.
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runners?per_page=20&page=2"),
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await
    .unwrap();
    let link = r.header("link").unwrap();
    assert!(link.contains("per_page=20&page=3>; rel=\"next\""), "{link}");
    assert!(link.contains("per_page=20&page=4>; rel=\"last\""), "{link}");
    assert!(link.contains("per_page=20&page=1>; rel=\"prev\""), "{link}");
    assert!(link.contains("rel=\"first\""), "{link}");
    assert_eq!(r.json["runners"].as_array().unwrap().len(), 20);
    // per_page is capped at 100; default 30.
    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runners?per_page=500"),
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.json["runners"].as_array().unwrap().len(), 75);
    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runners"),
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.json["runners"].as_array().unwrap().len(), 30);
    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runners?name=runner-007"),
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.json["total_count"], 1);
    env.assert_valid();
}

/// Pins a client pitfall the trace fetcher must work around: octocrab 0.54 sends credentials
/// only to api.github.com or to relative routes, and GitHub's `Link` URLs are absolute, so
/// `get_page` / `all_pages` against any other host (GHES, this fake) go out unauthenticated.
/// Page with `page=N` (or strip the origin from the link) instead.
#[tokio::test]
async fn octocrab_drops_credentials_on_absolute_link_urls() {
    let env = env().await;
    seed_runners(&env, 40);
    let inst = env.installation_client();
    let page1 = inst
        .actions()
        .list_org_self_hosted_runners(ORG)
        .per_page(30u8)
        .send()
        .await
        .unwrap();
    let next = page1.next.clone().unwrap();
    assert!(
        next.to_string().starts_with(&env.gh.base_url()),
        "GitHub's links are absolute"
    );
    let err = inst.all_pages(page1).await.unwrap_err();
    assert_eq!(gh_status(&err), Some(401));
    assert_eq!(gh_message(&err), "Requires authentication");
    // The same URL, made relative, is fine.
    let rel = format!("{}?{}", next.path(), next.query().unwrap());
    let v: serde_json::Value = inst.get(rel, None::<&()>).await.unwrap();
    assert_eq!(v["runners"].as_array().unwrap().len(), 10);
    env.assert_valid();
}

#[tokio::test]
async fn jit_config_creates_an_offline_runner_that_connects_once() {
    let env = env().await;
    let inst = env.installation_client();
    let cfg = inst
        .actions()
        .create_org_jit_runner_config(
            ORG,
            "i-0abc",
            1u64.into(),
            vec![
                "self-hosted".to_string(),
                "linux".to_string(),
                "flotilla".to_string(),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cfg.runner.name, "i-0abc");
    assert_eq!(cfg.runner.status, "offline");
    assert!(!cfg.runner.busy);
    let id = cfg.runner.id.into_inner();
    let runner = env.gh.runner(id).unwrap();
    assert!(runner.ephemeral && runner.jit);
    let kinds: Vec<_> = runner
        .labels
        .iter()
        .map(|l| (l.name.as_str(), l.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("self-hosted", "read-only"),
            ("linux", "read-only"),
            ("flotilla", "custom")
        ]
    );

    // The agent connects with the config: online.
    let session = env.gh.agent_connect_jit(&cfg.encoded_jit_config).unwrap();
    assert_eq!(session.runner_id, id);
    let got = inst.actions().get_org_runner(ORG, id.into()).await.unwrap();
    assert_eq!(got.status, "online");
    // A JIT config works once.
    let again = env
        .gh
        .agent_connect_jit(&cfg.encoded_jit_config)
        .unwrap_err();
    assert_eq!(again.status, 401);

    // Unknown runner group → 404; duplicate name → 409; no labels → 422.
    let e = inst
        .actions()
        .create_org_jit_runner_config(ORG, "x", 99u64.into(), vec!["a".to_string()])
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&e), Some(404));
    let e = inst
        .actions()
        .create_org_jit_runner_config(ORG, "i-0abc", 1u64.into(), vec!["a".to_string()])
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&e), Some(409));
    let e = inst
        .actions()
        .create_org_jit_runner_config(ORG, "y", 1u64.into(), Vec::<String>::new())
        .send()
        .await
        .unwrap_err();
    assert_eq!(gh_status(&e), Some(422));

    // A custom runner group works; repo-scoped JIT too.
    let gid = env
        .gh
        .add_runner_group(&RunnerGroupSpec {
            org: ORG.into(),
            name: "spot".into(),
            ..Default::default()
        })
        .unwrap();
    let cfg = inst
        .actions()
        .create_org_jit_runner_config(ORG, "i-0def", gid.into(), vec!["self-hosted".to_string()])
        .send()
        .await
        .unwrap();
    assert_eq!(
        cfg.runner.runner_group_id.map(|g| g.into_inner()),
        Some(gid)
    );
    let cfg = inst
        .actions()
        .create_repo_jit_runner_config(
            ORG,
            REPO,
            "repo-runner",
            1u64.into(),
            vec!["self-hosted".to_string()],
        )
        .send()
        .await
        .unwrap();
    let r = env.gh.runner(cfg.runner.id.into_inner()).unwrap();
    assert!(matches!(r.scope, Scope::Repo(_)));
    env.assert_valid();
}

#[tokio::test]
async fn deleting_a_busy_runner_is_refused_with_422() {
    let env = env().await;
    let rid = env
        .gh
        .add_runner(&RunnerSpec {
            org: Some(ORG.into()),
            name: "busy-one".into(),
            online: true,
            ..Default::default()
        })
        .unwrap();
    let job = env
        .gh
        .queue_job("acme/widgets", "build", &["self-hosted", "linux"])
        .unwrap();
    assert_eq!(env.gh.assigned_job(rid).map(|j| j.id), Some(job));
    let inst = env.installation_client();
    let err = inst
        .actions()
        .delete_org_runner(ORG, rid.into())
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(422));
    assert_eq!(
        gh_message(&err),
        "Bad request - Runner \"busy-one\" is still running a job\""
    );
    assert!(env.gh.runner(rid).is_some());

    env.gh.complete_job(job, "success").unwrap();
    inst.actions()
        .delete_org_runner(ORG, rid.into())
        .await
        .unwrap();
    assert!(env.gh.runner(rid).is_none());
    let err = inst
        .actions()
        .get_org_runner(ORG, rid.into())
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(404));
    let deletes: Vec<u16> = env
        .gh
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.status)
        .collect();
    assert_eq!(deletes, [422, 204]);
    env.assert_valid();
}

#[tokio::test]
async fn a_seeded_in_progress_job_makes_its_runner_busy() {
    let env = env().await;
    let rid = env
        .gh
        .add_runner(&RunnerSpec {
            org: Some(ORG.into()),
            name: "i-0busy".into(),
            online: true,
            ..Default::default()
        })
        .unwrap();
    let run = env
        .gh
        .add_run(&RunSpec::new(
            "acme/widgets",
            vec![JobSpec {
                name: "long".into(),
                labels: vec!["self-hosted".into()],
                status: Some("in_progress".into()),
                runner_name: Some("i-0busy".into()),
                ..Default::default()
            }],
        ))
        .unwrap();
    let job = env.gh.jobs_of_run(run)[0].clone();
    assert_eq!(job.runner_id, Some(rid));
    assert_eq!(env.gh.runner(rid).unwrap().current_job, Some(job.id));
    let err = env
        .installation_client()
        .actions()
        .delete_org_runner(ORG, rid.into())
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(422));
    env.assert_valid();
}

#[tokio::test]
async fn registration_and_remove_tokens() {
    let env = env().await;
    let inst = env.installation_client();
    let tok = inst
        .actions()
        .create_org_runner_registration_token(ORG)
        .await
        .unwrap();
    assert_eq!(tok.token.len(), 29);
    let session = env
        .gh
        .agent_register(&AgentRegistration {
            token: tok.token.clone(),
            name: "pool-1".into(),
            labels: vec!["spot".into()],
            ..Default::default()
        })
        .unwrap();
    let r = env.gh.runner(session.runner_id).unwrap();
    assert!(!r.online && !r.ephemeral);
    assert_eq!(r.version.as_deref(), Some("2.323.0"));
    // Same name again: refused unless --replace.
    let dup = env
        .gh
        .agent_register(&AgentRegistration {
            token: tok.token.clone(),
            name: "pool-1".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(dup.status, 409);
    let replaced = env
        .gh
        .agent_register(&AgentRegistration {
            token: tok.token.clone(),
            name: "pool-1".into(),
            replace: true,
            ..Default::default()
        })
        .unwrap();
    assert_ne!(replaced.runner_id, session.runner_id);
    assert!(env.gh.runner(session.runner_id).is_none());

    // Remove token removes; registration tokens expire after an hour.
    let rm = inst
        .actions()
        .create_org_runner_remove_token(ORG)
        .await
        .unwrap();
    let r = request(
        "POST",
        &env.url("/_testkit/agent/remove"),
        &[],
        Some(&serde_json::json!({"token": rm.token, "runner_id": replaced.runner_id})),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(env.gh.runner(replaced.runner_id).is_none());
    env.gh.advance(std::time::Duration::from_secs(3601));
    let late = env
        .gh
        .agent_register(&AgentRegistration {
            token: tok.token,
            name: "late".into(),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(late.status, 404);
    env.assert_valid();
}

#[tokio::test]
async fn custom_labels_can_be_added_set_and_removed() {
    let env = env().await;
    let rid = env
        .gh
        .add_runner(&RunnerSpec {
            repo: Some("acme/widgets".into()),
            name: "r".into(),
            labels: vec!["a".into()],
            ..Default::default()
        })
        .unwrap();
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    let auth = format!("Bearer {token}");
    let base = format!("/repos/acme/widgets/actions/runners/{rid}/labels");
    let call = |m: &'static str, p: String, b: Option<serde_json::Value>| {
        let url = env.url(&p);
        let auth = auth.clone();
        async move {
            request(m, &url, &[("authorization", &auth)], b.as_ref())
                .await
                .unwrap()
        }
    };
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_string())
            .collect()
    };
    let r = call(
        "POST",
        base.clone(),
        Some(serde_json::json!({"labels": ["b", "c"]})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        names(&r.json),
        ["self-hosted", "Linux", "X64", "a", "b", "c"]
    );
    let r = call(
        "PUT",
        base.clone(),
        Some(serde_json::json!({"labels": ["z"]})),
    )
    .await;
    assert_eq!(names(&r.json), ["self-hosted", "Linux", "X64", "z"]);
    let r = call("DELETE", format!("{base}/z"), None).await;
    assert_eq!(names(&r.json), ["self-hosted", "Linux", "X64"]);
    let r = call("DELETE", format!("{base}/Linux"), None).await;
    assert_eq!(r.status, 422, "read-only labels stay");
    let r = call("DELETE", format!("{base}/nope"), None).await;
    assert_eq!(r.status, 404);
    let r = call(
        "POST",
        base.clone(),
        Some(serde_json::json!({"labels": "not-an-array"})),
    )
    .await;
    assert_eq!(
        r.status, 422,
        "request body validated against the description"
    );
    let r = call("DELETE", base.clone(), None).await;
    assert_eq!(r.json["total_count"], 3);
    let r = call("GET", base.clone(), None).await;
    assert_eq!(r.json["total_count"], 3);
    env.assert_valid();
}

#[tokio::test]
async fn runner_groups_and_downloads() {
    let env = env().await;
    let token = env.gh.mint_installation_token(env.installation_id).unwrap();
    let auth = format!("Bearer {token}");
    let r = request(
        "POST",
        &env.url("/orgs/acme/actions/runner-groups"),
        &[("authorization", &auth)],
        Some(&serde_json::json!({"name": "gpu", "visibility": "selected", "selected_repository_ids": []})),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.text);
    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runner-groups"),
        &[("authorization", &auth)],
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.json["total_count"], 2);
    assert_eq!(r.json["runner_groups"][0]["name"], "Default");
    assert_eq!(r.json["runner_groups"][0]["id"], 1);
    let r = request(
        "GET",
        &env.url("/orgs/acme/actions/runners/downloads"),
        &[("authorization", &auth)],
        None,
    )
    .await
    .unwrap();
    let linux = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["os"] == "linux" && a["architecture"] == "x64")
        .unwrap()
        .clone();
    let dl = request("GET", linux["download_url"].as_str().unwrap(), &[], None)
        .await
        .unwrap();
    assert_eq!(dl.status, 200);
    assert_eq!(
        hex_sha256(dl.text.as_bytes()),
        linux["sha256_checksum"].as_str().unwrap()
    );
    env.assert_valid();
}
