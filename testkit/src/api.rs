//! GitHub REST handlers (the 29 paths of the OpenAPI subset), the release/runner download route,
//! and the webhook poster.
use crate::clock::{parse_rfc3339, rfc3339, Millis};
use crate::render;
use crate::server::{error_response, github_pipeline, json_response, AppState, ReqJson};
use crate::webhook::Delivery;
use crate::world::*;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Extension, Router};
use serde_json::{json, Value};
use std::collections::BTreeMap;

type Q = Query<BTreeMap<String, String>>;
type Reply = ApiResult<(u16, Option<Value>, Vec<(String, String)>)>;

fn ok(status: u16, v: Value) -> Reply {
    Ok((status, Some(v), vec![]))
}

fn run(st: &AppState, f: impl FnOnce(&mut World) -> Reply) -> Response {
    let r = {
        let mut g = st.lock();
        f(&mut g.world)
    };
    match r {
        Ok((status, body, headers)) => json_response(status, body.as_ref(), &headers),
        Err(e) => error_response(&e),
    }
}

pub(crate) fn router(st: AppState) -> Router {
    let gh = Router::new()
        .route("/app", get(get_app))
        .route(
            "/app/installations/{installation_id}/access_tokens",
            post(create_installation_token),
        )
        .route("/installation/repositories", get(installation_repos))
        .route(
            "/orgs/{org}/actions/runner-groups",
            get(list_groups).post(create_group),
        )
        .route("/orgs/{org}/actions/runners", get(org_list_runners))
        .route("/orgs/{org}/actions/runners/downloads", get(downloads_org))
        .route(
            "/orgs/{org}/actions/runners/generate-jitconfig",
            post(org_jit),
        )
        .route(
            "/orgs/{org}/actions/runners/registration-token",
            post(org_registration_token),
        )
        .route(
            "/orgs/{org}/actions/runners/remove-token",
            post(org_remove_token),
        )
        .route(
            "/orgs/{org}/actions/runners/{runner_id}",
            get(org_get_runner).delete(org_delete_runner),
        )
        .route(
            "/orgs/{org}/actions/runners/{runner_id}/labels",
            get(org_labels_get)
                .post(org_labels_add)
                .put(org_labels_set)
                .delete(org_labels_clear),
        )
        .route(
            "/orgs/{org}/actions/runners/{runner_id}/labels/{name}",
            axum::routing::delete(org_labels_remove),
        )
        .route("/orgs/{org}/installation", get(org_installation))
        .route("/users/{username}/installation", get(user_installation))
        .route("/orgs/{org}/repos", get(org_repos).post(create_repo))
        .route("/rate_limit", get(rate_limit))
        .route("/repos/{owner}/{repo}/actions/jobs/{job_id}", get(get_job))
        .route(
            "/repos/{owner}/{repo}/actions/jobs/{job_id}/rerun",
            post(rerun_job),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runners",
            get(repo_list_runners),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runners/downloads",
            get(downloads_repo),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runners/generate-jitconfig",
            post(repo_jit),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runners/registration-token",
            post(repo_registration_token),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runners/remove-token",
            post(repo_remove_token),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runners/{runner_id}",
            get(repo_get_runner).delete(repo_delete_runner),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runners/{runner_id}/labels",
            get(repo_labels_get)
                .post(repo_labels_add)
                .put(repo_labels_set)
                .delete(repo_labels_clear),
        )
        .route(
            "/repos/{owner}/{repo}/actions/runners/{runner_id}/labels/{name}",
            axum::routing::delete(repo_labels_remove),
        )
        .route("/repos/{owner}/{repo}/actions/runs", get(list_runs))
        .route(
            "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
            get(list_jobs),
        )
        .route("/repos/{owner}/{repo}/installation", get(repo_installation))
        .route("/repos/{owner}/{repo}/releases/latest", get(latest_release))
        .fallback(|| async { error_response(&ApiError::not_found()) })
        .layer(middleware::from_fn_with_state(st.clone(), github_pipeline))
        .with_state(st.clone());
    let downloads = Router::new()
        .route(
            "/{owner}/{repo}/releases/download/{tag}/{filename}",
            get(download_asset),
        )
        .with_state(st.clone());
    let base_path = st.base_path.clone();
    let root = Router::new()
        .merge(crate::control::router(st))
        .merge(downloads);
    if base_path.is_empty() {
        root.merge(gh)
    } else {
        // GHES: the REST API under /api/v3; anything else under it is the API's 404.
        root.nest(&base_path, gh)
    }
}

// ------------------------------------------------------------------ helpers

fn parse_id(s: &str) -> ApiResult<u64> {
    s.parse().map_err(|_| ApiError::not_found())
}

/// `per_page` (default 30, max 100) and `page` (default 1), and GitHub's `Link` header.
fn paginate<T: Clone>(
    w: &World,
    path: &str,
    q: &BTreeMap<String, String>,
    items: &[T],
) -> (Vec<T>, Vec<(String, String)>) {
    let per_page = q
        .get("per_page")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(30)
        .min(100);
    let page = q
        .get("page")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let last = items.len().div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let link_for = |p: usize| {
        let mut params: Vec<String> = q
            .iter()
            .filter(|(k, _)| k.as_str() != "page" && k.as_str() != "per_page")
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        params.push(format!("per_page={per_page}"));
        params.push(format!("page={p}"));
        format!("<{}{}?{}>", w.base_url, path, params.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_for(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_for(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_for(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_for(1)));
    }
    let headers = if links.is_empty() {
        vec![]
    } else {
        vec![("link".to_string(), links.join(", "))]
    };
    (items[start..end].to_vec(), headers)
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn org_scope(w: &World, p: &Principal, org: &str) -> ApiResult<Scope> {
    let o = w.org_exists(org)?;
    w.check_org_access(p, org)?;
    Ok(Scope::Org(o))
}

fn repo_of(w: &World, p: &Principal, owner: &str, repo: &str) -> ApiResult<Repo> {
    let r = w.find_repo(owner, repo).ok_or_else(ApiError::not_found)?;
    w.check_repo_access(p, r)?;
    Ok(r.clone())
}

fn repo_scope(w: &World, p: &Principal, owner: &str, repo: &str) -> ApiResult<Scope> {
    Ok(Scope::Repo(repo_of(w, p, owner, repo)?.id))
}

fn body_labels(body: &Option<Value>) -> ApiResult<Vec<String>> {
    body.as_ref()
        .and_then(|b| b.get("labels"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .ok_or_else(|| ApiError::simple_422("Invalid request.\n\n\"labels\" wasn't supplied."))
}

// ------------------------------------------------------------------ app, installations

async fn get_app(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    run(&st, |w| match p {
        Principal::App { app_id } => ok(200, render::app(w, app_id)),
        _ => Err(ApiError::new(401, "A JSON web token could not be decoded")),
    })
}

async fn create_installation_token(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(ReqJson(body)): Extension<ReqJson>,
    Path(id): Path<String>,
) -> Response {
    run(&st, |w| {
        let Principal::App { app_id } = p else {
            return Err(ApiError::new(401, "A JSON web token could not be decoded"));
        };
        let id = parse_id(&id)?;
        let inst = w
            .installations
            .get(&id)
            .filter(|i| i.app_id == app_id)
            .cloned()
            .ok_or_else(ApiError::not_found)?;
        if inst.suspended {
            return Err(ApiError::new(403, "This installation has been suspended"));
        }
        let reachable = w.installation_repo_ids(&inst);
        let mut narrowed: Option<Vec<u64>> = None;
        let body = body.unwrap_or(Value::Null);
        let bad_repo = || {
            ApiError::validation(vec![json!({"resource": "Installation", "code": "invalid",
                "message": "There is at least one repository that does not exist or is not accessible to the parent installation."})])
        };
        if let Some(names) = body.get("repositories").and_then(Value::as_array) {
            let mut ids = Vec::new();
            for n in names.iter().filter_map(Value::as_str) {
                let r = w.find_repo(&inst.account, n).ok_or_else(bad_repo)?;
                if !reachable.contains(&r.id) {
                    return Err(bad_repo());
                }
                ids.push(r.id);
            }
            narrowed = Some(ids);
        }
        if let Some(ids) = body.get("repository_ids").and_then(Value::as_array) {
            let mut v = narrowed.take().unwrap_or_default();
            for id in ids.iter().filter_map(Value::as_u64) {
                if !reachable.contains(&id) {
                    return Err(bad_repo());
                }
                if !v.contains(&id) {
                    v.push(id);
                }
            }
            narrowed = Some(v);
        }
        let permissions = match body.get("permissions").and_then(Value::as_object) {
            Some(m) => {
                let want: BTreeMap<String, String> = m
                    .iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect();
                if !permissions_cover(&inst.permissions, &want) {
                    return Err(ApiError::validation(vec![
                        json!({"resource": "Installation", "code": "invalid",
                        "message": "The permissions requested are not granted to this installation."}),
                    ]));
                }
                want
            }
            None => inst.permissions.clone(),
        };
        let (token, expires_at) =
            w.mint_installation_token(id, narrowed.clone(), permissions.clone());
        let mut v = json!({
            "token": token,
            "expires_at": rfc3339(expires_at),
            "permissions": permissions,
            "repository_selection": if narrowed.is_some() || inst.repo_ids.is_some() { "selected" } else { "all" },
        });
        if let Some(ids) = narrowed {
            let repos: Vec<Value> = ids
                .iter()
                .filter_map(|i| w.repos.get(i))
                .map(|r| render::repository(w, r))
                .collect();
            v["repositories"] = Value::Array(repos);
        }
        ok(201, v)
    })
}

async fn installation_repos(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Q,
) -> Response {
    run(&st, |w| {
        let Principal::Installation {
            installation_id,
            repo_ids,
            ..
        } = &p
        else {
            return Err(ApiError::new(403, "You must authenticate with an installation access token in order to list repositories for an installation."));
        };
        let inst = w
            .installations
            .get(installation_id)
            .cloned()
            .ok_or_else(ApiError::not_found)?;
        let ids = repo_ids
            .clone()
            .unwrap_or_else(|| w.installation_repo_ids(&inst));
        let repos: Vec<Value> = ids
            .iter()
            .filter_map(|i| w.repos.get(i))
            .map(|r| render::repository(w, r))
            .collect();
        let (page, headers) = paginate(w, "/installation/repositories", &q, &repos);
        Ok((
            200,
            Some(json!({
                "total_count": repos.len(),
                "repositories": page,
                "repository_selection": if inst.repo_ids.is_some() || repo_ids.is_some() { "selected" } else { "all" },
            })),
            headers,
        ))
    })
}

async fn org_installation(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(org): Path<String>,
) -> Response {
    run(&st, |w| {
        let Principal::App { app_id } = p else {
            return Err(ApiError::new(401, "A JSON web token could not be decoded"));
        };
        // GitHub answers 404 here for a user account (that is `/users/{username}/installation`).
        if !w.account(&org).is_some_and(|a| a.is_org) {
            return Err(ApiError::not_found());
        }
        let inst = w
            .installations
            .values()
            .find(|i| i.app_id == app_id && i.account.eq_ignore_ascii_case(&org))
            .ok_or_else(ApiError::not_found)?;
        ok(200, render::installation(w, inst))
    })
}

/// `GET /users/{username}/installation` (JWT): the App's installation on a user account. Not in
/// the OpenAPI subset of `../shared/data/github/`, so its answers are not validated; the body is
/// the same installation object as the org and repo forms.
async fn user_installation(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(username): Path<String>,
) -> Response {
    run(&st, |w| {
        let Principal::App { app_id } = p else {
            return Err(ApiError::new(401, "A JSON web token could not be decoded"));
        };
        if w.account(&username).is_none_or(|a| a.is_org) {
            return Err(ApiError::not_found());
        }
        let inst = w
            .installations
            .values()
            .find(|i| i.app_id == app_id && i.account.eq_ignore_ascii_case(&username))
            .ok_or_else(ApiError::not_found)?;
        ok(200, render::installation(w, inst))
    })
}

async fn repo_installation(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let Principal::App { app_id } = p else {
            return Err(ApiError::new(401, "A JSON web token could not be decoded"));
        };
        let r = w.find_repo(&owner, &repo).ok_or_else(ApiError::not_found)?;
        let inst = w
            .installations
            .values()
            .find(|i| {
                i.app_id == app_id
                    && i.account.eq_ignore_ascii_case(&r.owner)
                    && w.installation_repo_ids(i).contains(&r.id)
            })
            .ok_or_else(ApiError::not_found)?;
        ok(200, render::installation(w, inst))
    })
}

// ------------------------------------------------------------------ repos

async fn org_repos(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(org): Path<String>,
    Query(q): Q,
) -> Response {
    run(&st, |w| {
        w.org_exists(&org)?;
        let mut repos: Vec<&Repo> = w
            .repos
            .values()
            .filter(|r| r.owner.eq_ignore_ascii_case(&org))
            .filter(|r| w.check_repo_access(&p, r).is_ok())
            .collect();
        repos.sort_by_key(|r| std::cmp::Reverse((r.created_at, r.id)));
        let items: Vec<Value> = repos.iter().map(|r| render::repository(w, r)).collect();
        let (page, headers) = paginate(w, &format!("/orgs/{org}/repos"), &q, &items);
        Ok((200, Some(Value::Array(page)), headers))
    })
}

async fn create_repo(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(ReqJson(body)): Extension<ReqJson>,
    Path(org): Path<String>,
) -> Response {
    run(&st, |w| {
        w.org_exists(&org)?;
        w.check_org_access(&p, &org)?;
        let body = body.unwrap_or(Value::Null);
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::simple_422("Invalid request.\n\n\"name\" wasn't supplied."))?;
        if w.find_repo(&org, name).is_some() {
            return Err(ApiError {
                status: 422,
                body: json!({"message": "Repository creation failed.", "errors": [{"resource": "Repository", "code": "custom", "field": "name", "message": "name already exists on this account"}], "documentation_url": DOCS, "status": "422"}),
                headers: vec![],
            });
        }
        let private = body
            .get("private")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || body.get("visibility").and_then(Value::as_str) == Some("private");
        let id = w.add_repo(&crate::seed::RepoSpec {
            owner: org.clone(),
            name: name.into(),
            private,
            id: None,
        })?;
        let r = w.repos[&id].clone();
        let mut v = render::repository(w, &r);
        v["organization"] = render::simple_user(w, &r.owner, false);
        ok(201, v)
    })
}

// ------------------------------------------------------------------ runner groups

async fn list_groups(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(org): Path<String>,
    Query(q): Q,
) -> Response {
    run(&st, |w| {
        let Scope::Org(o) = org_scope(w, &p, &org)? else {
            unreachable!()
        };
        let visible_to = match q.get("visible_to_repository") {
            Some(name) => Some(
                w.find_repo(&o, name)
                    .cloned()
                    .ok_or_else(ApiError::not_found)?,
            ),
            None => None,
        };
        let mut groups: Vec<&RunnerGroup> = w.groups.iter().filter(|g| g.org == o).collect();
        groups.sort_by_key(|g| g.id);
        let items: Vec<Value> = groups
            .into_iter()
            .filter(|g| match &visible_to {
                Some(r) => match g.visibility.as_str() {
                    "selected" => g.selected_repo_ids.contains(&r.id),
                    "private" => r.private,
                    _ => true,
                },
                None => true,
            })
            .map(|g| render::runner_group(w, g))
            .collect();
        let (page, headers) =
            paginate(w, &format!("/orgs/{org}/actions/runner-groups"), &q, &items);
        Ok((
            200,
            Some(json!({"total_count": items.len(), "runner_groups": page})),
            headers,
        ))
    })
}

async fn create_group(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(ReqJson(body)): Extension<ReqJson>,
    Path(org): Path<String>,
) -> Response {
    run(&st, |w| {
        let Scope::Org(o) = org_scope(w, &p, &org)? else {
            unreachable!()
        };
        let body = body.unwrap_or(Value::Null);
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::simple_422("Invalid request.\n\n\"name\" wasn't supplied."))?;
        let selected: Vec<String> = body
            .get("selected_repository_ids")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_u64)
                    .filter_map(|id| w.repos.get(&id))
                    .map(|r| r.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let id = w.add_group(&crate::seed::RunnerGroupSpec {
            org: o.clone(),
            name: name.into(),
            visibility: body
                .get("visibility")
                .and_then(Value::as_str)
                .map(str::to_string),
            selected_repositories: selected,
            allows_public_repositories: body
                .get("allows_public_repositories")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })?;
        if let Some(ids) = body.get("runners").and_then(Value::as_array) {
            for rid in ids.iter().filter_map(Value::as_u64) {
                if let Some(r) = w
                    .runners
                    .get_mut(&rid)
                    .filter(|r| r.scope == Scope::Org(o.clone()))
                {
                    r.group_id = id;
                }
            }
        }
        let g = w.group(&o, id).unwrap().clone();
        ok(201, render::runner_group(w, &g))
    })
}

// ------------------------------------------------------------------ runners (shared)

fn list_runners(w: &World, scope: &Scope, path: &str, q: &BTreeMap<String, String>) -> Reply {
    let items: Vec<Value> = w
        .runners
        .values()
        .filter(|r| &r.scope == scope)
        .filter(|r| q.get("name").is_none_or(|n| &r.name == n))
        .map(|r| render::runner(w, r))
        .collect();
    let (page, headers) = paginate(w, path, q, &items);
    Ok((
        200,
        Some(json!({"total_count": items.len(), "runners": page})),
        headers,
    ))
}

fn jit(w: &mut World, scope: Scope, body: Option<Value>) -> Reply {
    let (id, encoded) = w.generate_jit(scope, &body.unwrap_or(Value::Null))?;
    let r = w.runners[&id].clone();
    w.tick();
    ok(
        201,
        json!({"runner": render::runner(w, &r), "encoded_jit_config": encoded}),
    )
}

fn runner_token(w: &mut World, scope: Scope, remove: bool) -> Reply {
    let (token, expires_at) = w.mint_runner_token(scope, remove);
    ok(
        201,
        json!({"token": token, "expires_at": rfc3339(expires_at)}),
    )
}

fn labels_reply(labels: Vec<RunnerLabel>) -> Reply {
    ok(200, json!({"total_count": labels.len(), "labels": labels}))
}

macro_rules! scoped {
    (org, $w:ident, $p:ident, $org:ident) => {
        org_scope($w, &$p, &$org)?
    };
}

async fn org_list_runners(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(org): Path<String>,
    Query(q): Q,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        list_runners(w, &s, &format!("/orgs/{org}/actions/runners"), &q)
    })
}

async fn repo_list_runners(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        list_runners(w, &s, &format!("/repos/{owner}/{repo}/actions/runners"), &q)
    })
}

async fn downloads_org(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(org): Path<String>,
) -> Response {
    run(&st, |w| {
        scoped!(org, w, p, org);
        ok(200, render::runner_downloads(w))
    })
}

async fn downloads_repo(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        repo_scope(w, &p, &owner, &repo)?;
        ok(200, render::runner_downloads(w))
    })
}

async fn org_jit(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(ReqJson(body)): Extension<ReqJson>,
    Path(org): Path<String>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        jit(w, s, body)
    })
}

async fn repo_jit(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(ReqJson(body)): Extension<ReqJson>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        jit(w, s, body)
    })
}

async fn org_registration_token(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(org): Path<String>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        runner_token(w, s, false)
    })
}

async fn org_remove_token(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(org): Path<String>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        runner_token(w, s, true)
    })
}

async fn repo_registration_token(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        runner_token(w, s, false)
    })
}

async fn repo_remove_token(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        runner_token(w, s, true)
    })
}

async fn org_get_runner(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        let r = w.runner_in_scope(&s, parse_id(&id)?)?;
        ok(200, render::runner(w, r))
    })
}

async fn repo_get_runner(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        let r = w.runner_in_scope(&s, parse_id(&id)?)?;
        ok(200, render::runner(w, r))
    })
}

async fn org_delete_runner(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        w.delete_runner(&s, parse_id(&id)?)?;
        Ok((204, None, vec![]))
    })
}

async fn repo_delete_runner(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        w.delete_runner(&s, parse_id(&id)?)?;
        Ok((204, None, vec![]))
    })
}

async fn org_labels_get(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        labels_reply(w.runner_in_scope(&s, parse_id(&id)?)?.labels.clone())
    })
}

async fn repo_labels_get(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        labels_reply(w.runner_in_scope(&s, parse_id(&id)?)?.labels.clone())
    })
}

fn label_edit(w: &mut World, s: Scope, id: &str, op: impl FnOnce() -> ApiResult<LabelOp>) -> Reply {
    let id = parse_id(id)?;
    w.runner_in_scope(&s, id)?;
    let op = op()?;
    labels_reply(w.edit_labels(&s, id, op)?)
}

async fn org_labels_add(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(ReqJson(body)): Extension<ReqJson>,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        label_edit(w, s, &id, || Ok(LabelOp::Add(body_labels(&body)?)))
    })
}

async fn org_labels_set(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(ReqJson(body)): Extension<ReqJson>,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        label_edit(w, s, &id, || Ok(LabelOp::Set(body_labels(&body)?)))
    })
}

async fn org_labels_clear(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((org, id)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        label_edit(w, s, &id, || Ok(LabelOp::Clear))
    })
}

async fn org_labels_remove(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((org, id, name)): Path<(String, String, String)>,
) -> Response {
    run(&st, |w| {
        let s = scoped!(org, w, p, org);
        label_edit(w, s, &id, || Ok(LabelOp::Remove(name)))
    })
}

async fn repo_labels_add(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(ReqJson(body)): Extension<ReqJson>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        label_edit(w, s, &id, || Ok(LabelOp::Add(body_labels(&body)?)))
    })
}

async fn repo_labels_set(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(ReqJson(body)): Extension<ReqJson>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        label_edit(w, s, &id, || Ok(LabelOp::Set(body_labels(&body)?)))
    })
}

async fn repo_labels_clear(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo, id)): Path<(String, String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        label_edit(w, s, &id, || Ok(LabelOp::Clear))
    })
}

async fn repo_labels_remove(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo, id, name)): Path<(String, String, String, String)>,
) -> Response {
    run(&st, |w| {
        let s = repo_scope(w, &p, &owner, &repo)?;
        label_edit(w, s, &id, || Ok(LabelOp::Remove(name)))
    })
}

// ------------------------------------------------------------------ rate limit

async fn rate_limit(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Response {
    let (core, now) = {
        let mut g = st.lock();
        let now = g.world.now();
        (g.traffic.window(&p.identity(), now), now)
    };
    let reset = now.div_euclid(1000) + 3600;
    let other = |limit: u32| json!({"limit": limit, "used": 0, "remaining": limit, "reset": reset});
    let core_v = json!({"limit": core.limit, "used": core.used, "remaining": core.remaining(), "reset": core.reset});
    let body = json!({
        "resources": {
            "core": core_v,
            "search": other(30),
            "graphql": other(5000),
            "integration_manifest": other(5000),
            "actions_runner_registration": other(10000),
            "code_search": other(10),
        },
        "rate": core_v,
    });
    json_response(200, Some(&body), &[])
}

// ------------------------------------------------------------------ jobs and runs

async fn get_job(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo, job_id)): Path<(String, String, String)>,
) -> Response {
    run(&st, |w| {
        let r = repo_of(w, &p, &owner, &repo)?;
        let j = w
            .visible_job(parse_id(&job_id)?)
            .filter(|j| w.runs[&j.run_id].repo_id == r.id)
            .ok_or_else(ApiError::not_found)?;
        ok(200, render::job(w, j))
    })
}

async fn rerun_job(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo, job_id)): Path<(String, String, String)>,
) -> Response {
    run(&st, |w| {
        let r = repo_of(w, &p, &owner, &repo)?;
        let id = parse_id(&job_id)?;
        if w.visible_job(id)
            .is_none_or(|j| w.runs[&j.run_id].repo_id != r.id)
        {
            return Err(ApiError::not_found());
        }
        w.rerun_job(id)?;
        ok(201, json!({}))
    })
}

/// Parse GitHub's `created` search qualifier into `[from, to)` in milliseconds.
pub fn parse_created(s: &str) -> Option<(Option<Millis>, Option<Millis>)> {
    fn bound(s: &str) -> Option<(Millis, Millis)> {
        let s = s.trim();
        if s.len() == 10 {
            let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            let start = d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
            return Some((start, start + 86_400_000));
        }
        if let Some(t) = parse_rfc3339(s) {
            return Some((t, t + 1000));
        }
        let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok()?;
        let t = t.and_utc().timestamp_millis();
        Some((t, t + 1000))
    }
    let s = s.trim();
    if let Some((a, b)) = s.split_once("..") {
        let from = if a == "*" { None } else { Some(bound(a)?.0) };
        let to = if b == "*" { None } else { Some(bound(b)?.1) };
        return Some((from, to));
    }
    if let Some(rest) = s.strip_prefix(">=") {
        return Some((Some(bound(rest)?.0), None));
    }
    if let Some(rest) = s.strip_prefix("<=") {
        return Some((None, Some(bound(rest)?.1)));
    }
    if let Some(rest) = s.strip_prefix('>') {
        return Some((Some(bound(rest)?.1), None));
    }
    if let Some(rest) = s.strip_prefix('<') {
        return Some((None, Some(bound(rest)?.0)));
    }
    let (a, b) = bound(s)?;
    Some((Some(a), Some(b)))
}

/// Filters that make GitHub cap the runs list at 1,000 results.
const CAPPING_FILTERS: &[&str] = &[
    "actor",
    "branch",
    "check_suite_id",
    "created",
    "event",
    "head_sha",
    "status",
];

async fn list_runs(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    run(&st, |w| {
        let r = repo_of(w, &p, &owner, &repo)?;
        let created = match q.get("created") {
            Some(c) => Some(parse_created(c).ok_or_else(|| {
                ApiError::validation(vec![
                    json!({"resource": "WorkflowRun", "field": "created", "code": "invalid"}),
                ])
            })?),
            None => None,
        };
        let mut runs: Vec<&Run> = w
            .runs
            .values()
            .filter(|run| run.repo_id == r.id && run.visible)
            .filter(|run| match created {
                Some((from, to)) => {
                    from.is_none_or(|f| run.created_at >= f)
                        && to.is_none_or(|t| run.created_at < t)
                }
                None => true,
            })
            .filter(|run| q.get("branch").is_none_or(|b| &run.head_branch == b))
            .filter(|run| q.get("event").is_none_or(|e| &run.event == e))
            .filter(|run| q.get("head_sha").is_none_or(|s| &run.head_sha == s))
            .filter(|run| {
                q.get("actor")
                    .is_none_or(|a| run.actor.eq_ignore_ascii_case(a))
            })
            .filter(|run| match q.get("status") {
                Some(s) => {
                    let (status, conclusion) = w.run_status(run.id);
                    status == s || conclusion.as_deref() == Some(s.as_str())
                }
                None => true,
            })
            .collect();
        runs.sort_by_key(|run| std::cmp::Reverse((run.created_at, run.id)));
        let total = runs.len();
        if CAPPING_FILTERS.iter().any(|f| q.contains_key(*f)) {
            runs.truncate(1000);
        }
        let items: Vec<Value> = runs.iter().map(|run| render::run(w, run)).collect();
        let (page, headers) = paginate(
            w,
            &format!("/repos/{owner}/{repo}/actions/runs"),
            &q,
            &items,
        );
        Ok((
            200,
            Some(json!({"total_count": total, "workflow_runs": page})),
            headers,
        ))
    })
}

async fn list_jobs(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo, run_id)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    run(&st, |w| {
        let r = repo_of(w, &p, &owner, &repo)?;
        let run_id = parse_id(&run_id)?;
        w.runs
            .get(&run_id)
            .filter(|run| run.repo_id == r.id && run.visible)
            .ok_or_else(ApiError::not_found)?;
        let all = match q.get("filter").map(String::as_str) {
            None | Some("latest") => false,
            Some("all") => true,
            Some(_) => {
                return Err(ApiError::validation(vec![
                    json!({"resource": "WorkflowJob", "field": "filter", "code": "invalid"}),
                ]))
            }
        };
        let items: Vec<Value> = w
            .jobs
            .values()
            .filter(|j| j.run_id == run_id && (all || !j.superseded))
            .filter(|j| w.visible_job(j.id).is_some())
            .map(|j| render::job(w, j))
            .collect();
        let (page, headers) = paginate(
            w,
            &format!("/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
            &q,
            &items,
        );
        Ok((
            200,
            Some(json!({"total_count": items.len(), "jobs": page})),
            headers,
        ))
    })
}

// ------------------------------------------------------------------ releases

async fn latest_release(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    run(&st, |w| {
        let r = repo_of(w, &p, &owner, &repo)?;
        let rel = w
            .releases
            .iter()
            .filter(|x| x.repo_id == r.id && !x.draft && !x.prerelease)
            .max_by_key(|x| (x.published_at, x.id))
            .ok_or_else(ApiError::not_found)?;
        ok(200, render::release(w, rel))
    })
}

async fn download_asset(
    State(st): State<AppState>,
    Path((owner, repo, tag, filename)): Path<(String, String, String, String)>,
) -> Response {
    let g = st.lock();
    let w = &g.world;
    let known_release = w.find_repo(&owner, &repo).is_some_and(|r| {
        w.releases.iter().any(|x| {
            x.repo_id == r.id && x.tag_name == tag && x.assets.iter().any(|(_, n)| n == &filename)
        })
    });
    let runner_download = owner == "actions"
        && repo == "runner"
        && tag == format!("v{}", w.runner_version)
        && filename.contains(&w.runner_version);
    if known_release || runner_download {
        (
            [("content-type", "application/octet-stream")],
            World::asset_bytes(&filename),
        )
            .into_response()
    } else {
        error_response(&ApiError::not_found())
    }
}

// ------------------------------------------------------------------ webhook poster

fn loopback_target(url: &str) -> Option<axum::http::Uri> {
    let uri: axum::http::Uri = url.parse().ok()?;
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let host = uri.host()?;
    let ok = host == "localhost"
        || host == "[::1]"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    ok.then_some(uri)
}

pub(crate) async fn webhook_poster(
    st: AppState,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<(usize, Delivery)>,
) {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    while let Some((idx, d)) = rx.recv().await {
        let url = st.lock().world.webhooks.spec.url.clone();
        let Some(url) = url else { continue };
        let Some(uri) = loopback_target(&url) else {
            eprintln!(
                "fake-github: webhook URL {url} is not an http loopback address; not posting"
            );
            continue;
        };
        let mut req = hyper::Request::post(uri);
        for (k, v) in &d.headers {
            req = req.header(k, v);
        }
        let Ok(req) = req.body(Full::new(bytes::Bytes::from(d.body.clone()))) else {
            continue;
        };
        let status =
            match tokio::time::timeout(std::time::Duration::from_secs(10), client.request(req))
                .await
            {
                Ok(Ok(resp)) => Some(resp.status().as_u16()),
                _ => None,
            };
        if let Some(entry) = st.lock().world.webhooks.log.get_mut(idx) {
            entry.response_status = status;
        }
    }
}
