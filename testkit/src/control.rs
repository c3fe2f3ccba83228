//! The control surface over HTTP (`/_testkit/...`, JSON), for out-of-process programs: seeding,
//! inspection, faults, limits, clock, webhooks, and the runner-agent side of GitHub.
//!
//! Not GitHub's API: not rate-limited, not counted, not validated.
use crate::clock::{parse_rfc3339, rfc3339};
use crate::seed::*;
use crate::server::{error_response, json_response, AppState};
use crate::world::*;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

fn reply<T: Serialize>(r: ApiResult<T>) -> Response {
    match r {
        Ok(v) => json_response(
            200,
            Some(&serde_json::to_value(v).unwrap_or(Value::Null)),
            &[],
        ),
        Err(e) => error_response(&e),
    }
}

fn world<T>(st: &AppState, f: impl FnOnce(&mut World) -> ApiResult<T>) -> ApiResult<T> {
    let mut g = st.lock();
    g.world.tick();
    f(&mut g.world)
}

pub(crate) fn router(st: AppState) -> Router {
    Router::new()
        .route("/_testkit/state", get(state))
        .route("/_testkit/seed", post(seed))
        .route("/_testkit/orgs", post(add_org))
        .route("/_testkit/users", post(add_user))
        .route("/_testkit/repos", post(add_repo))
        .route("/_testkit/apps", post(add_app))
        .route("/_testkit/installations", post(add_installation))
        .route("/_testkit/installations/{id}/token", post(mint_token))
        .route("/_testkit/tokens", post(add_token))
        .route("/_testkit/runner-groups", post(add_group))
        .route("/_testkit/runners", post(add_runner))
        .route("/_testkit/runs", post(add_run))
        .route("/_testkit/releases", post(add_release))
        .route("/_testkit/jobs/{id}/complete", post(complete_job))
        .route("/_testkit/assignments", get(assignments))
        .route(
            "/_testkit/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_testkit/latency", post(set_latency))
        .route("/_testkit/rate-limit", post(set_rate_limit))
        .route("/_testkit/rate-limit/{identity}", get(get_rate_window))
        .route("/_testkit/secondary-limit", post(set_secondary))
        .route("/_testkit/stats", get(stats).delete(reset_stats))
        .route("/_testkit/requests", get(requests))
        .route("/_testkit/clock", get(clock).post(set_clock))
        .route("/_testkit/webhook", post(set_webhook))
        .route("/_testkit/webhook/deliveries", get(deliveries))
        .route("/_testkit/validation-failures", get(validation_failures))
        .route("/_testkit/agent/register", post(agent_register))
        .route("/_testkit/agent/jit", post(agent_jit))
        .route("/_testkit/agent/remove", post(agent_remove))
        .route("/_testkit/agent/runners/{id}/online", post(agent_online))
        .route("/_testkit/agent/runners/{id}/offline", post(agent_offline))
        .route("/_testkit/agent/runners/{id}/job", get(agent_job))
        .route(
            "/_testkit/agent/runners/{id}/jobs/{job_id}/complete",
            post(agent_complete),
        )
        .with_state(st)
}

#[derive(Deserialize)]
struct Login {
    login: String,
    #[serde(default)]
    id: Option<u64>,
}

#[derive(Serialize)]
struct Id {
    id: u64,
}

async fn state(State(st): State<AppState>) -> Response {
    reply(world(&st, |w| Ok(w.snapshot())))
}

async fn seed(State(st): State<AppState>, Json(s): Json<Seed>) -> Response {
    reply(world(&st, |w| w.apply_seed(&s).map(|_| json!({}))))
}

async fn add_org(State(st): State<AppState>, Json(l): Json<Login>) -> Response {
    reply(world(&st, |w| {
        Ok(Id {
            id: w.ensure_account(&l.login, true, l.id).id,
        })
    }))
}

async fn add_user(State(st): State<AppState>, Json(l): Json<Login>) -> Response {
    reply(world(&st, |w| {
        Ok(Id {
            id: w.ensure_account(&l.login, false, l.id).id,
        })
    }))
}

async fn add_repo(State(st): State<AppState>, Json(s): Json<RepoSpec>) -> Response {
    reply(world(&st, |w| {
        Ok(Id {
            id: w.add_repo(&s)?,
        })
    }))
}

async fn add_app(State(st): State<AppState>, Json(s): Json<AppSpec>) -> Response {
    reply(world(&st, |w| Ok(Id { id: w.add_app(&s)? })))
}

async fn add_installation(State(st): State<AppState>, Json(s): Json<InstallationSpec>) -> Response {
    reply(world(&st, |w| {
        Ok(Id {
            id: w.add_installation(&s)?,
        })
    }))
}

async fn mint_token(State(st): State<AppState>, Path(id): Path<u64>) -> Response {
    reply(world(&st, |w| {
        let inst = w
            .installations
            .get(&id)
            .cloned()
            .ok_or_else(ApiError::not_found)?;
        let (token, exp) = w.mint_installation_token(id, None, inst.permissions);
        Ok(json!({"token": token, "expires_at": rfc3339(exp)}))
    }))
}

async fn add_token(State(st): State<AppState>, Json(s): Json<TokenSpec>) -> Response {
    reply(world(&st, |w| {
        w.add_pat(&s);
        Ok(json!({}))
    }))
}

async fn add_group(State(st): State<AppState>, Json(s): Json<RunnerGroupSpec>) -> Response {
    reply(world(&st, |w| {
        Ok(Id {
            id: w.add_group(&s)?,
        })
    }))
}

async fn add_runner(State(st): State<AppState>, Json(s): Json<RunnerSpec>) -> Response {
    reply(world(&st, |w| {
        Ok(Id {
            id: w.seed_runner(&s)?,
        })
    }))
}

async fn add_run(State(st): State<AppState>, Json(s): Json<RunSpec>) -> Response {
    reply(world(&st, |w| {
        let id = w.add_run(&s)?;
        let jobs: Vec<u64> = w
            .jobs
            .values()
            .filter(|j| j.run_id == id)
            .map(|j| j.id)
            .collect();
        Ok(json!({"id": id, "job_ids": jobs}))
    }))
}

async fn add_release(State(st): State<AppState>, Json(s): Json<ReleaseSpec>) -> Response {
    reply(world(&st, |w| {
        Ok(Id {
            id: w.add_release(&s)?,
        })
    }))
}

#[derive(Deserialize)]
struct Conclusion {
    conclusion: String,
}

async fn complete_job(
    State(st): State<AppState>,
    Path(id): Path<u64>,
    Json(c): Json<Conclusion>,
) -> Response {
    reply(world(&st, |w| {
        Ok(json!({"runner_removed": w.complete_job(id, &c.conclusion)?}))
    }))
}

async fn assignments(State(st): State<AppState>) -> Response {
    reply(world(&st, |w| Ok(w.assignments.clone())))
}

async fn list_faults(State(st): State<AppState>) -> Response {
    reply::<_>(Ok(st.lock().traffic.faults.clone()))
}

async fn add_fault(State(st): State<AppState>, Json(f): Json<FaultSpec>) -> Response {
    reply(Ok(Id {
        id: st.lock().traffic.add_fault(f),
    }))
}

async fn clear_faults(State(st): State<AppState>) -> Response {
    st.lock().traffic.faults.clear();
    reply(Ok(json!({})))
}

#[derive(Deserialize)]
struct Latency {
    ms: u64,
}

async fn set_latency(State(st): State<AppState>, Json(l): Json<Latency>) -> Response {
    st.lock().traffic.latency_ms = l.ms;
    reply(Ok(json!({})))
}

#[derive(Deserialize)]
struct RateLimitReq {
    #[serde(default)]
    identity: Option<String>,
    limit: u32,
}

async fn set_rate_limit(State(st): State<AppState>, Json(r): Json<RateLimitReq>) -> Response {
    let mut g = st.lock();
    match r.identity {
        Some(id) => {
            g.traffic.limit_overrides.insert(id, r.limit);
        }
        None => g.traffic.default_limit = r.limit,
    }
    reply(Ok(json!({})))
}

async fn get_rate_window(State(st): State<AppState>, Path(identity): Path<String>) -> Response {
    reply::<_>(Ok(st.lock().traffic.windows.get(&identity).cloned()))
}

async fn set_secondary(
    State(st): State<AppState>,
    Json(s): Json<Option<SecondaryLimit>>,
) -> Response {
    st.lock().traffic.secondary = s;
    reply(Ok(json!({})))
}

async fn stats(State(st): State<AppState>) -> Response {
    reply(Ok(st.lock().traffic.summary()))
}

async fn reset_stats(State(st): State<AppState>) -> Response {
    st.lock().traffic.records.clear();
    reply(Ok(json!({})))
}

async fn requests(State(st): State<AppState>) -> Response {
    reply(Ok(st.lock().traffic.records.clone()))
}

#[derive(Deserialize)]
struct ClockReq {
    #[serde(default)]
    advance_ms: Option<i64>,
    #[serde(default)]
    set: Option<String>,
    #[serde(default)]
    unfreeze: bool,
}

async fn clock(State(st): State<AppState>) -> Response {
    let g = st.lock();
    let now = g.world.now();
    reply(Ok(
        json!({"now": rfc3339(now), "now_ms": now, "frozen": g.world.clock.is_frozen()}),
    ))
}

async fn set_clock(State(st): State<AppState>, Json(c): Json<ClockReq>) -> Response {
    let mut g = st.lock();
    if let Some(s) = &c.set {
        match parse_rfc3339(s) {
            Some(t) => g.world.clock.set(t),
            None => return error_response(&ApiError::new(400, "bad `set` timestamp")),
        }
    }
    if let Some(ms) = c.advance_ms {
        g.world.clock.advance_ms(ms);
    }
    if c.unfreeze {
        g.world.clock.unfreeze();
    }
    g.world.tick();
    let now = g.world.now();
    reply(Ok(json!({"now": rfc3339(now), "now_ms": now})))
}

async fn set_webhook(State(st): State<AppState>, Json(s): Json<WebhookSpec>) -> Response {
    let mut g = st.lock();
    g.world.webhooks.spec = s;
    g.world.webhooks.enabled = true;
    reply(Ok(json!({})))
}

async fn deliveries(State(st): State<AppState>) -> Response {
    reply(Ok(st.lock().world.webhooks.log.clone()))
}

async fn validation_failures(State(st): State<AppState>) -> Response {
    reply(Ok(st.lock().traffic.validation_failures.clone()))
}

// ------------------------------------------------------------------ agent

fn bearer(h: &HeaderMap) -> String {
    h.get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, t)| t.trim().to_string())
        .unwrap_or_default()
}

async fn agent_register(State(st): State<AppState>, Json(r): Json<AgentRegistration>) -> Response {
    reply(world(&st, |w| w.agent_register(&r)))
}

#[derive(Deserialize)]
struct JitConnect {
    encoded_jit_config: String,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    arch: Option<String>,
}

async fn agent_jit(State(st): State<AppState>, Json(j): Json<JitConnect>) -> Response {
    reply(world(&st, |w| {
        w.agent_connect_jit(&j.encoded_jit_config, j.os.as_deref(), j.arch.as_deref())
    }))
}

#[derive(Deserialize)]
struct RemoveReq {
    token: String,
    runner_id: u64,
}

async fn agent_remove(State(st): State<AppState>, Json(r): Json<RemoveReq>) -> Response {
    reply(world(&st, |w| {
        w.agent_remove(&r.token, r.runner_id).map(|_| json!({}))
    }))
}

async fn agent_online(State(st): State<AppState>, h: HeaderMap, Path(id): Path<u64>) -> Response {
    reply(world(&st, |w| {
        w.agent_auth(id, &bearer(&h))?;
        w.set_online(id, true)?;
        Ok(json!({}))
    }))
}

async fn agent_offline(State(st): State<AppState>, h: HeaderMap, Path(id): Path<u64>) -> Response {
    reply(world(&st, |w| {
        w.agent_auth(id, &bearer(&h))?;
        w.set_online(id, false)?;
        Ok(json!({}))
    }))
}

async fn agent_job(State(st): State<AppState>, h: HeaderMap, Path(id): Path<u64>) -> Response {
    let r = world(&st, |w| {
        w.agent_auth(id, &bearer(&h))?;
        Ok(w.runners[&id]
            .current_job
            .and_then(|j| w.jobs.get(&j))
            .map(|j| crate::render::job(w, j)))
    });
    match r {
        Ok(Some(job)) => json_response(200, Some(&job), &[]),
        Ok(None) => json_response(204, None, &[]),
        Err(e) => error_response(&e),
    }
}

async fn agent_complete(
    State(st): State<AppState>,
    h: HeaderMap,
    Path((id, job_id)): Path<(u64, u64)>,
    Json(c): Json<Conclusion>,
) -> Response {
    reply(world(&st, |w| {
        w.agent_auth(id, &bearer(&h))?;
        if w.runners[&id].current_job != Some(job_id) {
            return Err(ApiError::new(
                409,
                "this job is not assigned to this runner",
            ));
        }
        Ok(json!({"runner_removed": w.complete_job(job_id, &c.conclusion)?}))
    }))
}
