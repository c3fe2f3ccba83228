//! End-to-end scenarios: the handlers against moto (behind the fault proxy) and the fake GitHub,
//! each ending with the invariant check (no running instance without a runner or pending boot,
//! no SSM token of a terminated instance, no job left without a runner that could take it).
//! Needs `FLOTILLA_MOTO_URL` (lambdas/tests/run.sh); skipped loudly without it.

mod support;

use flotilla_core::naming;
use flotilla_lambdas::contract::Function;
use flotilla_lambdas::handlers;
use flotilla_lambdas::ports::Aws;
use flotilla_testkit::{FaultSpec, JobState};
use serde_json::json;
use support::*;

const MINUTE: i64 = 60_000;

fn ephemeral_org() -> serde_json::Value {
    json!({
        "enable_ephemeral_runners": true,
        "enable_organization_runners": true,
        "runners_maximum_count": 5,
        "instance_types": ["m5.large", "c5.large"],
    })
}

fn reusable_repo() -> serde_json::Value {
    json!({
        "enable_ephemeral_runners": false,
        "enable_organization_runners": false,
        "runners_maximum_count": 5,
        "minimum_running_time_in_minutes": 5,
        "instance_types": ["m5.large", "c5.large"],
    })
}

/// Queue a job at GitHub, deliver its webhook, drain the queue through scale-up with every
/// message delivered twice. Answers the job id.
async fn queue_and_scale(w: &World, webhook: &Ctx, scale_up: &Ctx, rx: &mut Rx) -> u64 {
    let job =
        w.gh.queue_job(REPO, "build", &["self-hosted", "linux"])
            .unwrap();
    let statuses = w.deliver_webhooks(webhook, rx).await;
    assert!(
        statuses
            .iter()
            .any(|(e, a, s)| e == "workflow_job" && a == "queued" && *s == 201),
        "queued webhook enqueued: {statuses:?}"
    );
    let msgs = w.receive(10).await;
    assert_eq!(msgs.len(), 1, "one message on the build queue");
    // The first delivery and a duplicate of it (SQS is at-least-once).
    let failed = w.scale_up(scale_up, vec![msgs[0].clone()]).await;
    assert!(failed.is_empty(), "{failed:?}");
    let failed = w.scale_up(scale_up, vec![msgs[0].clone()]).await;
    assert!(
        failed.is_empty(),
        "the duplicate is discarded, not retried: {failed:?}"
    );
    job
}

type Rx = tokio::sync::mpsc::UnboundedReceiver<flotilla_testkit::Delivery>;

fn subscribe(w: &World) -> Rx {
    w.gh.set_webhook(flotilla_testkit::seed::WebhookSpec {
        url: None,
        secret: Some(WEBHOOK_SECRET.into()),
        events: Some(vec!["workflow_job".into(), "workflow_run".into()]),
    });
    w.gh.subscribe_webhooks()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_ephemeral_jit_job_runs_and_everything_is_cleaned_up() {
    let Some(moto) = moto_url("org_ephemeral_jit") else {
        return;
    };
    let w = World::new("orgeph", &moto, ephemeral_org()).await;
    let (webhook, scale_up, scale_down) = (
        w.ctx(Function::Webhook),
        w.ctx(Function::ScaleUp),
        w.ctx(Function::ScaleDown),
    );
    let mut rx = subscribe(&w);
    let job = queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;

    let live = w.live_instances().await;
    assert_eq!(
        live.len(),
        1,
        "exactly one instance for the job despite the duplicate"
    );
    let inst = &live[0];
    assert_eq!(inst.tags.launched_for, Some(job));
    assert_eq!(inst.tags.owner, Some(w.runner_owner()));
    let calls = w.proxy.calls();
    assert_eq!(calls.len(), 1, "CreateFleet once: {calls:?}");
    assert_eq!(calls[0].capacity_type.as_deref(), Some("spot"));
    assert_eq!(
        calls[0].instance_types.len(),
        2 * w.subnets.len(),
        "subnets x types"
    );
    w.check_invariants("after launch").await;
    w.assert_tokens_tagged("JIT config").await;

    // The instance boots with its JIT config; GitHub gives it the job.
    let runners = w.boot().await;
    assert_eq!(runners.len(), 1);
    assert!(
        w.token_parameters().await.is_empty(),
        "the instance deleted its token"
    );
    assert_eq!(w.gh.job(job).unwrap().state, JobState::InProgress);
    let statuses = w.deliver_webhooks(&webhook, &mut rx).await;
    assert!(
        statuses
            .iter()
            .any(|(_, a, s)| a == "in_progress" && *s == 200),
        "{statuses:?}"
    );
    let tagged = w.live_instances().await;
    assert_eq!(
        tagged[0].tags.current_job.as_ref().map(|j| j.job_id),
        Some(job),
        "in_progress tagged the instance with its job"
    );
    assert!(
        !w.metric_lines("TimeToStart").is_empty(),
        "time-to-start metric"
    );
    w.check_invariants("job running").await;

    // Done: the ephemeral runner leaves, its instance shuts down; scale-down finds nothing to do.
    w.finish_jobs("success").await;
    w.deliver_webhooks(&webhook, &mut rx).await;
    let out = handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(w.live_instances().await.is_empty(), "{out}");
    w.check_invariants("after the job").await;
    // The archive has the job's events.
    let listed = w
        .direct
        .s3
        .list_objects_v2()
        .bucket(&w.bucket)
        .send()
        .await
        .unwrap();
    assert!(
        listed.contents().len() >= 3,
        "queued, in_progress, completed archived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repo_reusable_registration_token_runner_is_scaled_down_when_idle() {
    let Some(moto) = moto_url("repo_reusable") else {
        return;
    };
    let w = World::new("reporeu", &moto, reusable_repo()).await;
    let (webhook, scale_up, scale_down) = (
        w.ctx(Function::Webhook),
        w.ctx(Function::ScaleUp),
        w.ctx(Function::ScaleDown),
    );
    let mut rx = subscribe(&w);
    let job = queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;
    assert_eq!(w.live_instances().await.len(), 1);
    w.assert_tokens_tagged("registration token").await;
    w.boot().await;
    assert_eq!(w.gh.job(job).unwrap().state, JobState::InProgress);
    w.deliver_webhooks(&webhook, &mut rx).await;
    w.finish_jobs("success").await;
    w.deliver_webhooks(&webhook, &mut rx).await;
    let runner =
        w.gh.runners()
            .into_iter()
            .next()
            .expect("reusable runner stays");
    assert!(runner.online && !runner.busy);

    // Young: kept.
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert_eq!(
        w.live_instances().await.len(),
        1,
        "younger than the minimum running time"
    );
    w.check_invariants("idle but young").await;
    // Past the minimum running time: deregistered, then terminated.
    scale_down.advance_clock(6 * MINUTE);
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(w.live_instances().await.is_empty());
    assert!(
        w.gh.runners().is_empty(),
        "runner deregistered before termination"
    );
    w.check_invariants("scaled down").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicate_deliveries_launch_once() {
    let Some(moto) = moto_url("concurrent_duplicates") else {
        return;
    };
    let w = World::new("dups", &moto, ephemeral_org()).await;
    let scale_up = w.ctx(Function::ScaleUp);
    let webhook = w.ctx(Function::Webhook);
    let mut rx = subscribe(&w);
    w.gh.queue_job(REPO, "a", &["self-hosted", "linux"])
        .unwrap();
    w.gh.queue_job(REPO, "b", &["self-hosted", "linux", "x64"])
        .unwrap();
    w.deliver_webhooks(&webhook, &mut rx).await;
    let msgs = w.receive(10).await;
    assert_eq!(msgs.len(), 2);
    // Two invocations see the same two messages at the same time.
    let ev1 = World::sqs_event(msgs.clone());
    let ev2 = World::sqs_event(msgs.clone());
    let (a, b) = tokio::join!(
        handlers::scale_up::handle(&scale_up, ev1),
        handlers::scale_up::handle(&scale_up, ev2)
    );
    assert!(a.unwrap().batch_item_failures.is_empty());
    assert!(b.unwrap().batch_item_failures.is_empty());
    assert_eq!(
        w.live_instances().await.len(),
        2,
        "one instance per job, not per delivery"
    );
    w.scale_up(&scale_up, msgs).await;
    w.check_invariants("after duplicates").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_capacity_on_one_type_launches_another() {
    let Some(moto) = moto_url("capacity_one_type") else {
        return;
    };
    let w = World::new("cap1", &moto, ephemeral_org()).await;
    w.proxy.set_faults(Faults {
        exhausted: vec![("spot".into(), "m5.large".into())],
        ..Faults::default()
    });
    let (webhook, scale_up) = (w.ctx(Function::Webhook), w.ctx(Function::ScaleUp));
    let mut rx = subscribe(&w);
    queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;
    let live = w.live_instances().await;
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].instance_type, "c5.large", "the type with capacity");
    let errs = w.metric_lines("LaunchErrors");
    assert!(
        errs.iter()
            .any(|l| l["ErrorCode"] == "InsufficientInstanceCapacity"),
        "{errs:?}"
    );
    w.boot().await;
    w.check_invariants("one type short").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_capacity_on_all_spot_types_fails_over_to_on_demand() {
    let Some(moto) = moto_url("capacity_all_spot") else {
        return;
    };
    let mut cfg = ephemeral_org();
    cfg["enable_runner_on_demand_failover_for_errors"] = json!(["InsufficientInstanceCapacity"]);
    let w = World::new("capall", &moto, cfg).await;
    w.proxy.set_faults(Faults {
        exhausted: vec![("spot".into(), "*".into())],
        ..Faults::default()
    });
    let (webhook, scale_up) = (w.ctx(Function::Webhook), w.ctx(Function::ScaleUp));
    let mut rx = subscribe(&w);
    queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;
    let calls = w.proxy.calls();
    let fresh: Vec<_> = calls.iter().filter(|c| !c.replayed).collect();
    assert_eq!(fresh.len(), 2, "spot, then on-demand: {calls:?}");
    assert_eq!(fresh[0].capacity_type.as_deref(), Some("spot"));
    assert_eq!(fresh[1].capacity_type.as_deref(), Some("on-demand"));
    assert_ne!(
        fresh[0].client_token, fresh[1].client_token,
        "failover not blocked by idempotency"
    );
    let live = w.live_instances().await;
    assert_eq!(live.len(), 1);
    w.boot().await;
    w.check_invariants("failed over").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insufficient_capacity_without_failover_retries_through_the_queue() {
    let Some(moto) = moto_url("capacity_retry") else {
        return;
    };
    let w = World::new("capq", &moto, ephemeral_org()).await;
    w.proxy.set_faults(Faults {
        exhausted: vec![("spot".into(), "*".into())],
        ..Faults::default()
    });
    let (webhook, scale_up) = (w.ctx(Function::Webhook), w.ctx(Function::ScaleUp));
    let mut rx = subscribe(&w);
    let job =
        w.gh.queue_job(REPO, "build", &["self-hosted", "linux"])
            .unwrap();
    w.deliver_webhooks(&webhook, &mut rx).await;
    let msgs = w.receive(10).await;
    let failed = w.scale_up(&scale_up, msgs.clone()).await;
    assert_eq!(failed.len(), 1, "left on the queue");
    assert!(w.live_instances().await.is_empty());
    let claim = naming::launch_claim_parameter(&w.prefix, job, 1);
    assert!(
        w.direct
            .get_parameter(&claim, false)
            .await
            .unwrap()
            .is_none(),
        "claim released so the retry may launch"
    );
    w.check_invariants("waiting for capacity").await;
    // Capacity is back; the retry launches.
    w.proxy.set_faults(Faults::default());
    w.release_retried(&msgs).await;
    let msgs = w.receive(10).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        msgs[0]
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str),
        Some("2")
    );
    assert!(w.scale_up(&scale_up, msgs).await.is_empty());
    assert_eq!(w.live_instances().await.len(), 1);
    w.boot().await;
    w.check_invariants("capacity back").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limit_exceeded_goes_back_to_the_queue() {
    let Some(moto) = moto_url("request_limit") else {
        return;
    };
    let w = World::new("throttle", &moto, ephemeral_org()).await;
    w.proxy.set_faults(Faults {
        throttle_create_fleet: 100,
        ..Faults::default()
    });
    let (webhook, scale_up) = (w.ctx(Function::Webhook), w.ctx(Function::ScaleUp));
    let mut rx = subscribe(&w);
    w.gh.queue_job(REPO, "build", &["self-hosted", "linux"])
        .unwrap();
    w.deliver_webhooks(&webhook, &mut rx).await;
    let msgs = w.receive(10).await;
    let failed = w.scale_up(&scale_up, msgs.clone()).await;
    assert_eq!(failed.len(), 1);
    let errs = w.metric_lines("LaunchErrors");
    assert!(
        errs.iter()
            .any(|l| l["ErrorCode"] == "RequestLimitExceeded"),
        "{errs:?}"
    );
    assert!(w.live_instances().await.is_empty());
    w.check_invariants("throttled").await;
    w.proxy.set_faults(Faults::default());
    w.release_retried(&msgs).await;
    assert!(w.scale_up(&scale_up, w.receive(10).await).await.is_empty());
    assert_eq!(w.live_instances().await.len(), 1);
    w.boot().await;
    w.check_invariants("after throttling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_5xx_and_429_are_retried_within_bounds() {
    let Some(moto) = moto_url("github_errors") else {
        return;
    };
    let w = World::new("gherr", &moto, reusable_repo()).await;
    let (webhook, scale_up) = (w.ctx(Function::Webhook), w.ctx(Function::ScaleUp));
    let mut rx = subscribe(&w);
    // One 502 on the job check, one 429 (retry-after 1 s) on the registration token.
    w.gh.inject_fault(
        FaultSpec::new("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}")
            .status(502)
            .times(1),
    );
    w.gh.inject_fault(
        FaultSpec::new(
            "POST",
            "/repos/{owner}/{repo}/actions/runners/registration-token",
        )
        .status(429)
        .retry_after(1)
        .times(1),
    );
    queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;
    assert_eq!(
        w.live_instances().await.len(),
        1,
        "launched despite the transient errors"
    );
    let ids = w.boot().await;
    assert_eq!(ids.len(), 1, "the token survived the 429");
    w.check_invariants("after transient errors").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_check_failing_fails_open() {
    let Some(moto) = moto_url("fail_open") else {
        return;
    };
    let w = World::new("failopen", &moto, reusable_repo()).await;
    let (webhook, scale_up) = (w.ctx(Function::Webhook), w.ctx(Function::ScaleUp));
    let mut rx = subscribe(&w);
    w.gh.inject_fault(
        FaultSpec::new("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}").status(500),
    );
    queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;
    assert_eq!(
        w.live_instances().await.len(),
        1,
        "GitHub down: launch anyway"
    );
    w.gh.clear_faults();
    w.boot().await;
    w.check_invariants("failed open").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jit_failure_after_launch_terminates_and_retries() {
    let Some(moto) = moto_url("jit_failure") else {
        return;
    };
    let w = World::new("jitfail", &moto, ephemeral_org()).await;
    let (webhook, scale_up) = (w.ctx(Function::Webhook), w.ctx(Function::ScaleUp));
    let mut rx = subscribe(&w);
    w.gh.inject_fault(
        FaultSpec::new("POST", "/orgs/{org}/actions/runners/generate-jitconfig").status(500),
    );
    let job =
        w.gh.queue_job(REPO, "build", &["self-hosted", "linux"])
            .unwrap();
    w.deliver_webhooks(&webhook, &mut rx).await;
    let msgs = w.receive(10).await;
    let failed = w.scale_up(&scale_up, msgs.clone()).await;
    assert_eq!(failed.len(), 1, "the job goes back to the queue");
    assert!(
        w.live_instances().await.is_empty(),
        "the unprovisionable instance is terminated"
    );
    assert!(w.token_parameters().await.is_empty());
    let claim = naming::launch_claim_parameter(&w.prefix, job, 1);
    assert!(w
        .direct
        .get_parameter(&claim, false)
        .await
        .unwrap()
        .is_none());
    w.check_invariants("after JIT failure").await;
    // GitHub recovers: the retry launches and provisions.
    w.gh.clear_faults();
    w.release_retried(&msgs).await;
    assert!(w.scale_up(&scale_up, w.receive(10).await).await.is_empty());
    assert_eq!(w.boot().await.len(), 1);
    w.check_invariants("after recovery").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_never_registers_is_tagged_then_terminated_and_its_token_swept() {
    let Some(moto) = moto_url("never_registers") else {
        return;
    };
    // Registration tokens: GitHub lists no runner until the instance registers.
    let w = World::new("orphan", &moto, reusable_repo()).await;
    let (webhook, scale_up, scale_down) = (
        w.ctx(Function::Webhook),
        w.ctx(Function::ScaleUp),
        w.ctx(Function::ScaleDown),
    );
    let mut rx = subscribe(&w);
    queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;
    let id = w.live_instances().await[0].id.clone();
    // Never boots. Within its boot time: left alone.
    let out = handlers::scale_down::handle(&scale_down).await.unwrap();
    let live = w.live_instances().await;
    assert_eq!(live.len(), 1, "{out}");
    assert!(live[0].tags.orphan_since.is_none(), "{out}");
    // Past the boot time: tagged orphan.
    scale_down.advance_clock(6 * MINUTE);
    let out = handlers::scale_down::handle(&scale_down).await.unwrap();
    let live = w.live_instances().await;
    assert_eq!(live.len(), 1, "{out}");
    assert!(live[0].tags.orphan_since.is_some(), "tagged orphan: {out}");
    // Next cycle: terminated; the cycle after sweeps its token.
    scale_down.advance_clock(5 * MINUTE);
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(
        w.live_instances().await.is_empty(),
        "orphan {id} terminated"
    );
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(
        w.token_parameters().await.is_empty(),
        "token of the terminated instance swept"
    );
    // GitHub still has the job queued but its message was consumed by the orphan's launch:
    // without `job_retry` nothing re-enqueues it (with it, the policy relaunches by itself:
    // `job_retry_relaunches_for_a_job_whose_instance_never_registered`). Re-delivered by hand
    // here, it launches again.
    w.check_invariants_allowing_requeue(&scale_up).await;
}

/// The same orphan as above, with `job_retry` on: the policy keeps the job's message for a check
/// and, finding the job still queued and its instance gone, launches again by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_retry_relaunches_for_a_job_whose_instance_never_registered() {
    let Some(moto) = moto_url("job_retry_orphan") else {
        return;
    };
    let mut cfg = reusable_repo();
    cfg["job_retry"] = json!({
        "enable": true, "delay_in_seconds": 150, "delay_backoff": 1, "max_attempts": 2
    });
    let w = World::new("retryorphan", &moto, cfg).await;
    let (webhook, scale_up, scale_down) = (
        w.ctx(Function::Webhook),
        w.ctx(Function::ScaleUp),
        w.ctx(Function::ScaleDown),
    );
    let mut rx = subscribe(&w);
    let job =
        w.gh.queue_job(REPO, "build", &["self-hosted", "linux"])
            .unwrap();
    let statuses = w.deliver_webhooks(&webhook, &mut rx).await;
    assert!(
        statuses.iter().any(|(_, a, s)| a == "queued" && *s == 201),
        "{statuses:?}"
    );
    let first = w.receive(10).await;
    assert_eq!(first.len(), 1);
    let failed = w.scale_up(&scale_up, first.clone()).await;
    assert_eq!(
        failed,
        vec![first[0].message_id.clone().unwrap()],
        "job_retry keeps the message for a check"
    );
    let live = w.live_instances().await;
    assert_eq!(live.len(), 1);
    let orphan = live[0].id.clone();

    // The instance never boots: tagged orphan past its boot time, terminated, its token swept.
    scale_down.advance_clock(6 * MINUTE);
    handlers::scale_down::handle(&scale_down).await.unwrap();
    scale_down.advance_clock(5 * MINUTE);
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(
        w.live_instances().await.is_empty(),
        "orphan {orphan} terminated"
    );
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(w.token_parameters().await.is_empty(), "token swept");
    assert_eq!(w.gh.job(job).unwrap().state, JobState::Queued);

    // The check comes back after its delay (moto's visibility runs in real time: released by
    // hand; the scale-up clock moves past the delay): the job is still queued and nothing is
    // coming up for it, so the policy launches again, with a ClientToken of this delivery.
    scale_up.advance_clock(3 * MINUTE);
    w.release_retried(&first).await;
    let check = w.receive(10).await;
    assert_eq!(check.len(), 1, "the job's message is back");
    assert_eq!(
        check[0]
            .attributes
            .get("ApproximateReceiveCount")
            .map(String::as_str),
        Some("2")
    );
    let failed = w.scale_up(&scale_up, check.clone()).await;
    assert_eq!(failed.len(), 1, "another check is kept (max_attempts 2)");
    let live = w.live_instances().await;
    assert_eq!(live.len(), 1, "relaunched by the policy: {live:?}");
    assert_ne!(live[0].id, orphan);
    assert_eq!(live[0].tags.launched_for, Some(job));
    let fleet_calls = w.proxy.calls();
    assert_eq!(fleet_calls.len(), 2, "{fleet_calls:?}");
    assert!(
        fleet_calls.iter().all(|c| !c.replayed),
        "each launch has its own ClientToken: {fleet_calls:?}"
    );
    w.assert_tokens_tagged("relaunch").await;
    assert_eq!(w.boot().await.len(), 1);
    assert_eq!(w.gh.job(job).unwrap().state, JobState::InProgress);

    // The last check finds the job running and lets the message go.
    scale_up.advance_clock(3 * MINUTE);
    w.release_retried(&check).await;
    let last = w.receive(10).await;
    assert_eq!(last.len(), 1);
    assert!(w.scale_up(&scale_up, last).await.is_empty());
    assert_eq!(w.live_instances().await.len(), 1, "no third launch");
    w.check_invariants("relaunched by job_retry").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jit_instance_that_never_connects_is_removed_after_its_boot_time() {
    let Some(moto) = moto_url("never_connects") else {
        return;
    };
    // JIT: GitHub lists the runner (offline) from generate-jitconfig on.
    let w = World::new("jitorphan", &moto, ephemeral_org()).await;
    let (webhook, scale_up, scale_down) = (
        w.ctx(Function::Webhook),
        w.ctx(Function::ScaleUp),
        w.ctx(Function::ScaleDown),
    );
    let mut rx = subscribe(&w);
    queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;
    assert_eq!(
        w.gh.runners().len(),
        1,
        "the JIT runner is listed before it connects"
    );
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert_eq!(w.live_instances().await.len(), 1, "booting: kept");
    scale_down.advance_clock(6 * MINUTE);
    let out = handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(w.live_instances().await.is_empty(), "removed: {out}");
    assert!(w.gh.runners().is_empty(), "its offline runner deregistered");
    scale_down.advance_clock(2 * MINUTE);
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(w.token_parameters().await.is_empty(), "token swept");
    w.check_invariants_allowing_requeue(&scale_up).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_busy_between_check_and_delete_is_kept() {
    let Some(moto) = moto_url("busy_between") else {
        return;
    };
    let w = World::new("busy", &moto, reusable_repo()).await;
    let (webhook, scale_up, scale_down) = (
        w.ctx(Function::Webhook),
        w.ctx(Function::ScaleUp),
        w.ctx(Function::ScaleDown),
    );
    let mut rx = subscribe(&w);
    queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;
    w.boot().await;
    w.finish_jobs("success").await;
    w.deliver_webhooks(&webhook, &mut rx).await;
    // Scale-down sees the runner idle; by the time it deletes it, it took a job: GitHub says 422.
    w.gh.inject_fault(
        FaultSpec::new(
            "DELETE",
            "/repos/{owner}/{repo}/actions/runners/{runner_id}",
        )
        .status(422)
        .times(1),
    );
    scale_down.advance_clock(6 * MINUTE);
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert_eq!(w.live_instances().await.len(), 1, "kept: it is busy");
    assert_eq!(w.gh.runners().len(), 1);
    w.check_invariants("busy kept").await;
    // Next cycle it is idle for real: removed.
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(w.live_instances().await.is_empty());
    w.check_invariants("removed later").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interruption_during_a_job_deregisters_and_reruns_it() {
    let Some(moto) = moto_url("interruption") else {
        return;
    };
    let w = World::new("interrupt", &moto, reusable_repo()).await;
    let (webhook, scale_up, scale_down, watcher) = (
        w.ctx(Function::Webhook),
        w.ctx(Function::ScaleUp),
        w.ctx(Function::ScaleDown),
        w.ctx(Function::TerminationWatcher),
    );
    let mut rx = subscribe(&w);
    let job = queue_and_scale(&w, &webhook, &scale_up, &mut rx).await;
    w.boot().await;
    w.deliver_webhooks(&webhook, &mut rx).await; // in_progress: instance tagged with the job
    let inst = w.live_instances().await.remove(0);
    assert!(inst.tags.current_job.is_some());
    let run_id = w.gh.job(job).unwrap().run_id;

    // Two-minute warning while the job runs.
    let warning = json!({
        "version": "0", "id": "e1", "source": "aws.ec2",
        "detail-type": "EC2 Spot Instance Interruption Warning",
        "detail": {"instance-id": inst.id, "instance-action": "terminate"},
    });
    let out = handlers::termination_watcher::handle(&watcher, warning)
        .await
        .unwrap();
    let tagged = w.live_instances().await.remove(0);
    assert!(tagged.tags.interrupted_at.is_some(), "{out}");
    assert!(
        tagged.tags.deregister_pending.is_some(),
        "GitHub refused (busy): marked: {out}"
    );
    let record = naming::interrupted_job_parameter(&w.prefix, run_id, job);
    assert!(w
        .direct
        .get_parameter(&record, false)
        .await
        .unwrap()
        .is_some());
    assert!(!w.metric_lines("Interruptions").is_empty());
    w.check_invariants("interrupted").await;

    // EC2 reclaims it; the runner drops offline; the job fails; the run completes.
    w.direct
        .terminate_instances(std::slice::from_ref(&inst.id))
        .await
        .unwrap();
    let gone = json!({
        "version": "0", "id": "e2", "source": "aws.ec2",
        "detail-type": "EC2 Instance State-change Notification",
        "detail": {"instance-id": inst.id, "state": "terminated"},
    });
    handlers::termination_watcher::handle(&watcher, gone)
        .await
        .unwrap();
    let runner = w.gh.runners().remove(0);
    w.gh.set_runner_online(runner.id, false).unwrap();
    w.gh.complete_job(job, "failure").unwrap();
    w.gh.tick();
    let mut statuses = w.deliver_webhooks(&webhook, &mut rx).await;
    assert!(
        statuses
            .iter()
            .any(|(e, a, s)| e == "workflow_run" && a == "completed" && *s == 200),
        "{statuses:?}"
    );
    // Re-run: a new attempt of the job is queued at GitHub, and the record is forgotten.
    let attempts: Vec<_> = w.gh.jobs_of_run(run_id);
    assert!(
        attempts
            .iter()
            .any(|j| j.run_attempt == 2 && j.state == JobState::Queued),
        "job re-run: {attempts:?}"
    );
    assert!(w
        .direct
        .get_parameter(&record, false)
        .await
        .unwrap()
        .is_none());
    // Scale-down removes the offline runner whose instance is gone.
    handlers::scale_down::handle(&scale_down).await.unwrap();
    assert!(w.gh.runners().is_empty(), "offline runner deregistered");
    // The re-run's queued webhook (emitted while the completed one was handled) goes through
    // the normal path.
    statuses.extend(w.deliver_webhooks(&webhook, &mut rx).await);
    assert!(
        statuses.iter().any(|(_, a, s)| a == "queued" && *s == 201),
        "{statuses:?}"
    );
    assert!(w.scale_up(&scale_up, w.receive(10).await).await.is_empty());
    w.boot().await;
    w.check_invariants("after re-run").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_tops_up_and_never_exceeds_the_maximum() {
    let Some(moto) = moto_url("pool") else { return };
    let mut cfg = ephemeral_org();
    cfg["pool_runner_owner"] = json!(ORG);
    cfg["runners_maximum_count"] = json!(3);
    cfg["pool_config"] = json!([{"schedule_expression": "rate(5 minutes)", "size": 2}]);
    // JIT configs (the ephemeral default): the booting instances' offline JIT runners count as
    // booting, so the second tick launches nothing.
    let w = World::new("pool", &moto, cfg).await;
    let pool = w.ctx(Function::Pool);
    let out = handlers::pool::handle(&pool, json!({})).await.unwrap();
    assert_eq!(w.live_instances().await.len(), 2, "{out}");
    assert!(w
        .live_instances()
        .await
        .iter()
        .all(|i| i.tags.launched_for.is_none()));
    let out = handlers::pool::handle(&pool, json!({})).await.unwrap();
    assert_eq!(
        w.live_instances().await.len(),
        2,
        "booting instances count as ready: {out} {:?}",
        w.live_instances().await
    );
    // The input Terraform's pool schedules send.
    handlers::pool::handle(&pool, json!({"pool_size": 9}))
        .await
        .unwrap();
    assert_eq!(
        w.live_instances().await.len(),
        3,
        "capped by runners_maximum_count"
    );
    assert_eq!(w.boot().await.len(), 3);
    w.check_invariants("pool").await;
}

impl World {
    /// The orphan case: its job's message was consumed, so the job needs a new delivery; in
    /// production the queued webhook's message is gone but GitHub still has the job queued.
    /// The invariant holds once the job is re-enqueued and scaled up.
    async fn check_invariants_allowing_requeue(&self, scale_up: &Ctx) {
        // The orphan's launch claim is past its in-flight window by now.
        scale_up.advance_clock(11 * MINUTE);
        // A new message of the same job attempt gets a ClientToken of its own (the token names
        // the message and its delivery), so EC2 launches anew instead of answering with the
        // first, now terminated, instance. The proxy keeps its idempotency record to prove it.
        for j in self.gh.jobs() {
            if j.state == JobState::Queued {
                let run = self.gh.run(j.run_id).unwrap();
                let body = serde_json::json!({
                    "job_id": j.id, "run_id": j.run_id, "run_attempt": j.run_attempt,
                    "repo": {"owner": ORG, "name": "widgets", "owner_type": "Organization"},
                    "installation_id": self.installation_id,
                    "labels": j.labels,
                });
                let _ = run;
                self.direct
                    .sqs
                    .send_message()
                    .queue_url(&self.queue_url)
                    .message_body(body.to_string())
                    .send()
                    .await
                    .unwrap();
            }
        }
        let msgs = self.receive(10).await;
        self.scale_up(scale_up, msgs).await;
        self.check_invariants("orphan replaced").await;
    }
}
