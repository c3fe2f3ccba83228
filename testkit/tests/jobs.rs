//! Jobs: assignment by labels (and job stealing) through the agent API, ephemeral runners, lost
//! runners, re-runs, scheduled runs, the runs list for the trace fetcher.
mod common;
use common::*;
use flotilla_testkit::client::request;
use flotilla_testkit::*;
use serde_json::json;
use std::time::Duration;

/// An agent talking to `/_testkit/agent/...` over HTTP, as an out-of-process emulator would.
struct Agent {
    base: String,
    id: u64,
    auth: String,
}

impl Agent {
    async fn register(env: &Env, name: &str, labels: &[&str], ephemeral: bool) -> Agent {
        let token = env.gh.mint_installation_token(env.installation_id).unwrap();
        let reg = request(
            "POST",
            &env.url("/orgs/acme/actions/runners/registration-token"),
            &[("authorization", &format!("Bearer {token}"))],
            None,
        )
        .await
        .unwrap();
        assert_eq!(reg.status, 201);
        let s = request(
            "POST",
            &env.url("/_testkit/agent/register"),
            &[],
            Some(&json!({"token": reg.json["token"], "name": name, "labels": labels, "ephemeral": ephemeral})),
        )
        .await
        .unwrap();
        assert_eq!(s.status, 200, "{}", s.text);
        Agent {
            base: env.gh.base_url(),
            id: s.json["runner_id"].as_u64().unwrap(),
            auth: format!("Bearer {}", s.json["credentials"].as_str().unwrap()),
        }
    }
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> client::HttpReply {
        request(
            method,
            &format!("{}/_testkit/agent/runners/{}{}", self.base, self.id, path),
            &[("authorization", &self.auth)],
            body.as_ref(),
        )
        .await
        .unwrap()
    }
    async fn online(&self) {
        assert_eq!(self.call("POST", "/online", None).await.status, 200);
    }
    /// The assigned job's (id, name), if any.
    async fn poll(&self) -> Option<(u64, String)> {
        let r = self.call("GET", "/job", None).await;
        match r.status {
            204 => None,
            200 => Some((
                r.json["id"].as_u64().unwrap(),
                r.json["name"].as_str().unwrap().into(),
            )),
            s => panic!("poll answered {s}: {}", r.text),
        }
    }
    async fn complete(&self, job: u64, conclusion: &str) -> serde_json::Value {
        let r = self
            .call(
                "POST",
                &format!("/jobs/{job}/complete"),
                Some(json!({"conclusion": conclusion})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json
    }
}

#[tokio::test]
async fn jobs_go_to_runners_whose_labels_cover_them_and_can_be_stolen() {
    let env = env().await;
    // The GPU runner has been idle longest: it also matches the plain job and takes it.
    let gpu = Agent::register(&env, "gpu-1", &["GPU"], false).await;
    gpu.online().await;
    let plain = Agent::register(&env, "plain-1", &[], false).await;
    env.gh.advance(Duration::from_secs(5));
    plain.online().await;

    let run = env
        .gh
        .add_run(&RunSpec::new(
            "acme/widgets",
            vec![
                JobSpec::queued("lint", &["self-hosted", "LINUX"]),
                JobSpec::queued("train", &["self-hosted", "gpu"]),
            ],
        ))
        .unwrap();
    // lint (queued first) → longest-idle matching runner = gpu-1: the GPU job's runner was stolen.
    assert_eq!(gpu.poll().await.map(|j| j.1), Some("lint".into()));
    assert_eq!(
        plain.poll().await,
        None,
        "plain-1 cannot take `train` (no gpu label)"
    );
    let train = env
        .gh
        .jobs_of_run(run)
        .into_iter()
        .find(|j| j.name == "train")
        .unwrap();
    assert_eq!(train.state, JobState::Queued);

    let (lint_id, _) = gpu.poll().await.unwrap();
    let out = gpu.complete(lint_id, "success").await;
    assert_eq!(out["runner_removed"], false);
    // Now the GPU runner is free again and picks up train.
    assert_eq!(gpu.poll().await.map(|j| j.1), Some("train".into()));
    let log: Vec<(String, String)> = env
        .gh
        .assignments()
        .into_iter()
        .map(|a| (a.job_name, a.runner_name))
        .collect();
    assert_eq!(
        log,
        [
            ("lint".to_string(), "gpu-1".to_string()),
            ("train".into(), "gpu-1".into())
        ]
    );

    // The API shows the job on its runner.
    let inst = env.installation_client();
    let job: serde_json::Value = inst
        .get(
            format!("/repos/acme/widgets/actions/jobs/{}", train.id),
            None::<&()>,
        )
        .await
        .unwrap();
    assert_eq!(job["status"], "in_progress");
    assert_eq!(job["runner_name"], "gpu-1");
    assert_eq!(job["runner_group_name"], "Default");
    let runner = inst
        .actions()
        .get_org_runner(ORG, gpu.id.into())
        .await
        .unwrap();
    assert!(runner.busy);
    env.assert_valid();
}

#[tokio::test]
async fn repo_runners_only_serve_their_repo_and_group_visibility_applies() {
    let env = env().await;
    env.gh
        .add_runner_group(&RunnerGroupSpec {
            org: ORG.into(),
            name: "only-gadgets".into(),
            visibility: Some("selected".into()),
            selected_repositories: vec!["gadgets".into()],
            ..Default::default()
        })
        .unwrap();
    let restricted = env
        .gh
        .add_runner(&RunnerSpec {
            org: Some(ORG.into()),
            name: "g".into(),
            runner_group: Some("only-gadgets".into()),
            online: true,
            ..Default::default()
        })
        .unwrap();
    let repo_runner = env
        .gh
        .add_runner(&RunnerSpec {
            repo: Some("acme/gadgets".into()),
            name: "rr".into(),
            online: true,
            ..Default::default()
        })
        .unwrap();
    let j = env
        .gh
        .queue_job("acme/widgets", "build", &["self-hosted"])
        .unwrap();
    assert_eq!(
        env.gh.job(j).unwrap().state,
        JobState::Queued,
        "no runner may serve widgets"
    );
    let j2 = env
        .gh
        .queue_job("acme/gadgets", "build", &["self-hosted"])
        .unwrap();
    let j3 = env
        .gh
        .queue_job("acme/gadgets", "test", &["self-hosted"])
        .unwrap();
    let assigned: Vec<Option<u64>> = [j2, j3]
        .iter()
        .map(|j| env.gh.job(*j).unwrap().runner_id)
        .collect();
    assert!(assigned.contains(&Some(restricted)) && assigned.contains(&Some(repo_runner)));
    env.assert_valid();
}

#[tokio::test]
async fn ephemeral_runners_leave_after_one_job() {
    let env = env().await;
    let eph = Agent::register(&env, "eph-1", &["spot"], true).await;
    eph.online().await;
    env.gh.queue_job("acme/widgets", "a", &["spot"]).unwrap();
    env.gh.queue_job("acme/widgets", "b", &["spot"]).unwrap();
    let (job, name) = eph.poll().await.unwrap();
    assert_eq!(name, "a");
    let out = eph.complete(job, "success").await;
    assert_eq!(out["runner_removed"], true);
    assert!(env.gh.runner(eph.id).is_none());
    let r = eph.call("GET", "/job", None).await;
    assert_eq!(r.status, 404, "the agent learns it was removed");
    let b = env.gh.jobs().into_iter().find(|j| j.name == "b").unwrap();
    assert_eq!(b.state, JobState::Queued, "job b waits for another runner");
    env.assert_valid();
}

#[tokio::test]
async fn a_runner_that_goes_offline_mid_job_fails_it_after_the_timeout() {
    crypto();
    let gh = FakeGitHub::start(FakeGitHubOptions {
        runner_lost_timeout: Duration::from_secs(300),
        clock: Some(Clock::frozen(1_800_000_000_000)),
        ..FakeGitHubOptions::strict()
    })
    .await
    .unwrap();
    gh.add_repo(ORG, REPO);
    let rid = gh
        .add_runner(&RunnerSpec {
            org: Some(ORG.into()),
            name: "doomed".into(),
            online: true,
            ..Default::default()
        })
        .unwrap();
    let job = gh
        .queue_job("acme/widgets", "build", &["self-hosted"])
        .unwrap();
    assert_eq!(gh.job(job).unwrap().state, JobState::InProgress);
    gh.set_runner_online(rid, false).unwrap();
    gh.advance(Duration::from_secs(299));
    assert_eq!(gh.job(job).unwrap().state, JobState::InProgress);
    gh.advance(Duration::from_secs(1));
    let j = gh.job(job).unwrap();
    assert_eq!(j.state, JobState::Completed);
    assert_eq!(j.conclusion.as_deref(), Some("failure"));
    let r = gh.runner(rid).unwrap();
    assert!(!r.busy && !r.online);
    assert_eq!(
        gh.run(j.run_id).unwrap().conclusion.as_deref(),
        Some("failure")
    );
    // Back online in time: nothing fails.
    gh.set_runner_online(rid, true).unwrap();
    let job2 = gh
        .queue_job("acme/widgets", "build2", &["self-hosted"])
        .unwrap();
    gh.set_runner_online(rid, false).unwrap();
    gh.advance(Duration::from_secs(200));
    gh.set_runner_online(rid, true).unwrap();
    gh.advance(Duration::from_secs(200));
    assert_eq!(gh.job(job2).unwrap().state, JobState::InProgress);
    gh.assert_no_validation_failures();
}

#[tokio::test]
async fn rerun_rules() {
    let env = env().await;
    let now = env.gh.clock().now_ms();
    let ts = |ms: i64| clock::rfc3339(ms);
    let run = env
        .gh
        .add_run(
            &RunSpec::new(
                "acme/widgets",
                vec![
                    JobSpec::completed(
                        "build",
                        &["self-hosted"],
                        "failure",
                        &ts(now - 500_000),
                        &ts(now - 400_000),
                    ),
                    JobSpec::completed(
                        "test",
                        &["self-hosted"],
                        "skipped",
                        &ts(now - 400_000),
                        &ts(now - 400_000),
                    )
                    .needs(&["build"]),
                    JobSpec::completed(
                        "lint",
                        &["self-hosted"],
                        "success",
                        &ts(now - 500_000),
                        &ts(now - 450_000),
                    ),
                ],
            )
            .created_at(&ts(now - 600_000)),
        )
        .unwrap();
    let jobs = env.gh.jobs_of_run(run);
    let build = jobs.iter().find(|j| j.name == "build").unwrap().id;
    let inst = env.installation_client();
    inst.workflows(ORG, REPO)
        .rerun_job(build.into())
        .await
        .unwrap();

    let view = env.gh.run(run).unwrap();
    assert_eq!(view.run.run_attempt, 2);
    assert_eq!(view.status, "queued");
    let latest: serde_json::Value = inst
        .get(
            format!("/repos/acme/widgets/actions/runs/{run}/jobs"),
            None::<&()>,
        )
        .await
        .unwrap();
    let mut rows: Vec<(String, String, u64)> = latest["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["name"].as_str().unwrap().into(),
                j["status"].as_str().unwrap().into(),
                j["run_attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    // build re-queued as attempt 2; test (needs build) waits, so it is not listed yet; lint kept.
    assert_eq!(
        rows,
        [
            ("build".to_string(), "queued".to_string(), 2),
            ("lint".into(), "completed".into(), 1)
        ]
    );
    let all: serde_json::Value = inst
        .get(
            format!("/repos/acme/widgets/actions/runs/{run}/jobs?filter=all"),
            None::<&()>,
        )
        .await
        .unwrap();
    // build#1, test#1 (skipped), lint#1, build#2; test#2 waits for build#2 and is not listed yet.
    assert_eq!(all["total_count"], 4);

    // The run is not completed: another rerun is refused.
    let err = inst
        .workflows(ORG, REPO)
        .rerun_job(build.into())
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(403));
    assert_eq!(gh_message(&err), "This workflow is already running");

    // A runner takes build#2; success queues its dependent test#2.
    let rid = env
        .gh
        .add_runner(&RunnerSpec {
            org: Some(ORG.into()),
            name: "r".into(),
            online: true,
            ..Default::default()
        })
        .unwrap();
    let b2 = env.gh.assigned_job(rid).unwrap();
    assert_eq!((b2.name.as_str(), b2.run_attempt), ("build", 2));
    env.gh.complete_job(b2.id, "success").unwrap();
    let t2 = env.gh.assigned_job(rid).unwrap();
    assert_eq!((t2.name.as_str(), t2.run_attempt), ("test", 2));
    env.gh.complete_job(t2.id, "success").unwrap();
    let view = env.gh.run(run).unwrap();
    assert_eq!(
        (view.status.as_str(), view.conclusion.as_deref()),
        ("completed", Some("success"))
    );
    assert_eq!(view.run.reruns, 1);
    env.assert_valid();
}

#[tokio::test]
async fn a_run_can_be_rerun_at_most_50_times() {
    let env = env().await;
    let now = env.gh.clock().now_ms();
    let run = env
        .gh
        .add_run(&RunSpec::new(
            "acme/widgets",
            vec![JobSpec::completed(
                "flaky",
                &["self-hosted"],
                "failure",
                &clock::rfc3339(now - 1000),
                &clock::rfc3339(now),
            )],
        ))
        .unwrap();
    let inst = env.installation_client();
    for attempt in 1..=MAX_RERUNS_PER_RUN {
        let latest = env
            .gh
            .jobs_of_run(run)
            .into_iter()
            .find(|j| !j.superseded)
            .unwrap();
        assert_eq!(latest.run_attempt, attempt);
        inst.workflows(ORG, REPO)
            .rerun_job(latest.id.into())
            .await
            .unwrap();
        let next = env
            .gh
            .jobs_of_run(run)
            .into_iter()
            .find(|j| !j.superseded)
            .unwrap();
        env.gh.complete_job(next.id, "failure").unwrap();
    }
    let latest = env
        .gh
        .jobs_of_run(run)
        .into_iter()
        .find(|j| !j.superseded)
        .unwrap();
    assert_eq!(latest.run_attempt, 51);
    let err = inst
        .workflows(ORG, REPO)
        .rerun_job(latest.id.into())
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(403));
    assert_eq!(gh_message(&err), "This workflow run cannot be retried");
    let reruns = env
        .gh
        .stats()
        .endpoint("POST", "/repos/{owner}/{repo}/actions/jobs/{job_id}/rerun");
    assert_eq!(reruns, 51);
    env.assert_valid();
}

#[tokio::test]
async fn runs_older_than_30_days_cannot_be_rerun() {
    let env = env().await;
    let old = env.gh.clock().now_ms() - 31 * 86_400_000;
    let run = env
        .gh
        .add_run(
            &RunSpec::new(
                "acme/widgets",
                vec![JobSpec::completed(
                    "x",
                    &[],
                    "failure",
                    &clock::rfc3339(old),
                    &clock::rfc3339(old + 1000),
                )],
            )
            .created_at(&clock::rfc3339(old)),
        )
        .unwrap();
    let job = env.gh.jobs_of_run(run)[0].id;
    let err = env
        .installation_client()
        .workflows(ORG, REPO)
        .rerun_job(job.into())
        .await
        .unwrap_err();
    assert_eq!(gh_status(&err), Some(403));
    assert!(gh_message(&err).contains("over a month ago"));
    env.assert_valid();
}

#[tokio::test]
async fn scheduled_runs_appear_and_queue_at_their_time() {
    crypto();
    let t0 = 1_800_000_000_000;
    let gh = FakeGitHub::start(FakeGitHubOptions {
        clock: Some(Clock::frozen(t0)),
        ..FakeGitHubOptions::strict()
    })
    .await
    .unwrap();
    gh.add_repo(ORG, REPO);
    let mut hooks = gh.subscribe_webhooks();
    let run = gh
        .add_run(
            &RunSpec::new(
                "acme/widgets",
                vec![JobSpec::queued("later", &["self-hosted"])],
            )
            .created_at(&clock::rfc3339(t0 + 60_000)),
        )
        .unwrap();
    assert!(hooks.try_recv().is_err(), "nothing before its time");
    assert!(!gh.run(run).unwrap().run.visible);
    gh.advance(Duration::from_secs(60));
    let first = hooks.try_recv().unwrap();
    assert_eq!(
        (first.event.as_str(), first.action.as_str()),
        ("workflow_run", "requested")
    );
    let queued = hooks.try_recv().unwrap();
    assert_eq!(
        (queued.event.as_str(), queued.action.as_str()),
        ("workflow_job", "queued")
    );
    assert_eq!(
        queued.payload()["workflow_job"]["created_at"],
        clock::rfc3339(t0 + 60_000)
    );
    gh.assert_no_validation_failures();
}

#[tokio::test]
async fn runs_list_filters_by_created_and_status_and_paginates() {
    let env = env().await;
    env.gh.add_personal_token("ghp_fetch", "fetcher");
    let day = 86_400_000i64;
    let base = clock::parse_rfc3339("2026-09-01T00:00:00Z").unwrap();
    for i in 0..50i64 {
        let t = base + i * day / 2; // two runs a day, Sep 1 .. Sep 25
        env.gh
            .add_run(
                &RunSpec::new(
                    "acme/widgets",
                    vec![JobSpec::completed(
                        "job",
                        &["self-hosted"],
                        if i % 5 == 0 { "failure" } else { "success" },
                        &clock::rfc3339(t + 1000),
                        &clock::rfc3339(t + 60_000),
                    )],
                )
                .created_at(&clock::rfc3339(t)),
            )
            .unwrap();
    }
    let c = env.token_client("ghp_fetch");
    let get = |q: &'static str| {
        let c = c.clone();
        let params: Vec<(String, String)> = q
            .split('&')
            .map(|kv| kv.split_once('=').unwrap())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        async move {
            let v: serde_json::Value = c
                .get("/repos/acme/widgets/actions/runs", Some(&params))
                .await
                .unwrap();
            v
        }
    };
    let v = get("created=2026-09-03..2026-09-04&per_page=100").await;
    assert_eq!(v["total_count"], 4);
    let v = get("created=>=2026-09-20").await;
    assert_eq!(v["total_count"], 12, "Sep 20 .. Sep 25, two a day");
    let v = get("created=<2026-09-02").await;
    assert_eq!(v["total_count"], 2);
    let v = get("status=failure&per_page=100").await;
    assert_eq!(v["total_count"], 10);
    assert!(v["workflow_runs"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["conclusion"] == "failure"));
    let v = get("status=completed&per_page=7&page=8").await;
    assert_eq!(
        v["workflow_runs"].as_array().unwrap().len(),
        1,
        "50 = 7×7 + 1"
    );
    let v = get("per_page=3").await;
    let times: Vec<&str> = v["workflow_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["created_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2026-09-25T12:00:00Z",
            "2026-09-25T00:00:00Z",
            "2026-09-24T12:00:00Z"
        ],
        "newest first"
    );
    // jobs of a run carry what the trace needs.
    let run_id = v["workflow_runs"][0]["id"].as_u64().unwrap();
    let jobs: serde_json::Value = c
        .get(
            format!("/repos/acme/widgets/actions/runs/{run_id}/jobs"),
            None::<&()>,
        )
        .await
        .unwrap();
    let j = &jobs["jobs"][0];
    assert_eq!(j["labels"], json!(["self-hosted"]));
    assert_eq!(j["started_at"], "2026-09-25T12:00:01Z");
    assert_eq!(j["completed_at"], "2026-09-25T12:01:00Z");
    // octocrab's typed models parse the same pages.
    let typed = c
        .workflows(ORG, REPO)
        .list_all_runs()
        .per_page(100u8)
        .send()
        .await
        .unwrap();
    assert_eq!(typed.items.len(), 50);
    let typed_jobs = c
        .workflows(ORG, REPO)
        .list_jobs(run_id.into())
        .send()
        .await
        .unwrap();
    assert_eq!(typed_jobs.items[0].name, "job");
    let bad = request(
        "GET",
        &env.url("/repos/acme/widgets/actions/runs?created=yesterday"),
        &[("authorization", "token ghp_fetch")],
        None,
    )
    .await
    .unwrap();
    assert_eq!(bad.status, 422);
    env.assert_valid();
}

#[test]
fn created_qualifier_parsing() {
    let d = |s| clock::parse_rfc3339(s).unwrap();
    assert_eq!(
        parse_created("2026-09-03"),
        Some((
            Some(d("2026-09-03T00:00:00Z")),
            Some(d("2026-09-04T00:00:00Z"))
        ))
    );
    assert_eq!(
        parse_created(">2026-09-03"),
        Some((Some(d("2026-09-04T00:00:00Z")), None))
    );
    assert_eq!(
        parse_created("<=2026-09-03"),
        Some((None, Some(d("2026-09-04T00:00:00Z"))))
    );
    assert_eq!(
        parse_created("2026-09-03T10:00:00Z..*"),
        Some((Some(d("2026-09-03T10:00:00Z")), None))
    );
    assert_eq!(
        parse_created("*..2026-09-03T10:00:00+02:00"),
        Some((None, Some(d("2026-09-03T08:00:01Z"))))
    );
    assert_eq!(parse_created("soon"), None);
}
