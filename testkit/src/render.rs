//! GitHub's JSON shapes for the fake's objects (checked against the OpenAPI description by the
//! tests' "validate every response" mode).
use crate::clock::rfc3339;
use crate::world::{Installation, Job, JobState, Release, Repo, Run, Runner, RunnerGroup, World};
use base64::Engine;
use serde_json::{json, Value};

fn node_id(kind: &str, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("0{}:{kind}{id}", kind.len()))
}

/// Simple User (also used for organizations as `owner`).
pub fn simple_user(w: &World, login: &str, _bot: bool) -> Value {
    let acct = w.account(login);
    let id = acct.map(|a| a.id).unwrap_or(1);
    let is_org = acct.map(|a| a.is_org).unwrap_or(false);
    let b = &w.base_url;
    json!({
        "login": login,
        "id": id,
        "node_id": node_id(if is_org { "Organization" } else { "User" }, id),
        "avatar_url": format!("{b}/_avatars/u/{id}?v=4"),
        "gravatar_id": "",
        "url": format!("{b}/users/{login}"),
        "html_url": format!("{b}/{login}"),
        "followers_url": format!("{b}/users/{login}/followers"),
        "following_url": format!("{b}/users/{login}/following{{/other_user}}"),
        "gists_url": format!("{b}/users/{login}/gists{{/gist_id}}"),
        "starred_url": format!("{b}/users/{login}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{b}/users/{login}/subscriptions"),
        "organizations_url": format!("{b}/users/{login}/orgs"),
        "repos_url": format!("{b}/users/{login}/repos"),
        "events_url": format!("{b}/users/{login}/events{{/privacy}}"),
        "received_events_url": format!("{b}/users/{login}/received_events"),
        "type": if is_org { "Organization" } else { "User" },
        "user_view_type": "public",
        "site_admin": false
    })
}

/// Organization object of webhook payloads.
pub fn organization(w: &World, login: &str) -> Value {
    let id = w.account(login).map(|a| a.id).unwrap_or(1);
    let b = &w.base_url;
    json!({
        "login": login, "id": id, "node_id": node_id("Organization", id),
        "url": format!("{b}/orgs/{login}"),
        "repos_url": format!("{b}/orgs/{login}/repos"),
        "events_url": format!("{b}/orgs/{login}/events"),
        "hooks_url": format!("{b}/orgs/{login}/hooks"),
        "issues_url": format!("{b}/orgs/{login}/issues"),
        "members_url": format!("{b}/orgs/{login}/members{{/member}}"),
        "public_members_url": format!("{b}/orgs/{login}/public_members{{/member}}"),
        "avatar_url": format!("{b}/_avatars/u/{id}?v=4"),
        "description": ""
    })
}

/// Repository: the superset of "Minimal Repository", "Repository" and "Full Repository".
pub fn repository(w: &World, r: &Repo) -> Value {
    let b = &w.base_url;
    let full = r.full_name();
    let api = format!("{b}/repos/{full}");
    let html = format!("{b}/{full}");
    let created = rfc3339(r.created_at);
    json!({
        "id": r.id,
        "node_id": node_id("Repository", r.id),
        "name": r.name,
        "full_name": full,
        "owner": simple_user(w, &r.owner, false),
        "private": r.private,
        "visibility": if r.private { "private" } else { "public" },
        "html_url": html,
        "description": null,
        "fork": false,
        "url": api,
        "archive_url": format!("{api}/{{archive_format}}{{/ref}}"),
        "assignees_url": format!("{api}/assignees{{/user}}"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"),
        "branches_url": format!("{api}/branches{{/branch}}"),
        "collaborators_url": format!("{api}/collaborators{{/collaborator}}"),
        "comments_url": format!("{api}/comments{{/number}}"),
        "commits_url": format!("{api}/commits{{/sha}}"),
        "compare_url": format!("{api}/compare/{{base}}...{{head}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "contributors_url": format!("{api}/contributors"),
        "deployments_url": format!("{api}/deployments"),
        "downloads_url": format!("{api}/downloads"),
        "events_url": format!("{api}/events"),
        "forks_url": format!("{api}/forks"),
        "git_commits_url": format!("{api}/git/commits{{/sha}}"),
        "git_refs_url": format!("{api}/git/refs{{/sha}}"),
        "git_tags_url": format!("{api}/git/tags{{/sha}}"),
        "git_url": format!("git://fake-github/{full}.git"),
        "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "keys_url": format!("{api}/keys{{/key_id}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "languages_url": format!("{api}/languages"),
        "merges_url": format!("{api}/merges"),
        "milestones_url": format!("{api}/milestones{{/number}}"),
        "notifications_url": format!("{api}/notifications{{?since,all,participating}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "releases_url": format!("{api}/releases{{/id}}"),
        "ssh_url": format!("git@fake-github:{full}.git"),
        "stargazers_url": format!("{api}/stargazers"),
        "statuses_url": format!("{api}/statuses/{{sha}}"),
        "subscribers_url": format!("{api}/subscribers"),
        "subscription_url": format!("{api}/subscription"),
        "tags_url": format!("{api}/tags"),
        "teams_url": format!("{api}/teams"),
        "trees_url": format!("{api}/git/trees{{/sha}}"),
        "clone_url": format!("{html}.git"),
        "mirror_url": null,
        "hooks_url": format!("{api}/hooks"),
        "svn_url": html,
        "homepage": null,
        "language": null,
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 0,
        "default_branch": "main",
        "open_issues_count": 0,
        "open_issues": 0,
        "is_template": false,
        "topics": [],
        "has_issues": true,
        "has_projects": true,
        "has_wiki": true,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "archived": false,
        "disabled": false,
        "pushed_at": created,
        "created_at": created,
        "updated_at": created,
        "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
        "allow_forking": true,
        "web_commit_signoff_required": false,
        "license": null,
        "network_count": 0,
        "subscribers_count": 0
    })
}

/// A self-hosted runner.
pub fn runner(_w: &World, r: &Runner) -> Value {
    let mut v = json!({
        "id": r.id,
        "runner_group_id": r.group_id,
        "name": r.name,
        "os": r.os,
        "status": if r.online { "online" } else { "offline" },
        "busy": r.busy,
        "ephemeral": r.ephemeral,
        "labels": r.labels,
    });
    if let Some(ver) = &r.version {
        v["version"] = json!(ver);
    }
    v
}

/// A runner group.
pub fn runner_group(w: &World, g: &RunnerGroup) -> Value {
    let b = &w.base_url;
    let mut v = json!({
        "id": g.id,
        "name": g.name,
        "visibility": g.visibility,
        "default": g.default,
        "runners_url": format!("{b}/orgs/{}/actions/runner-groups/{}/runners", g.org, g.id),
        "hosted_runners_url": format!("{b}/orgs/{}/actions/runner-groups/{}/hosted-runners", g.org, g.id),
        "inherited": false,
        "allows_public_repositories": g.allows_public_repositories,
        "restricted_to_workflows": false,
        "selected_workflows": [],
        "workflow_restrictions_read_only": false,
    });
    if g.visibility == "selected" {
        v["selected_repositories_url"] = json!(format!(
            "{b}/orgs/{}/actions/runner-groups/{}/repositories",
            g.org, g.id
        ));
    }
    v
}

/// A workflow job.
pub fn job(w: &World, j: &Job) -> Value {
    let run = &w.runs[&j.run_id];
    let repo = &w.repos[&run.repo_id];
    let b = &w.base_url;
    let full = repo.full_name();
    let steps: Vec<Value> = if j.state == JobState::Completed {
        vec![json!({
            "name": "Set up job", "status": "completed", "conclusion": j.conclusion,
            "number": 1,
            "started_at": j.started_at.map(rfc3339), "completed_at": j.completed_at.map(rfc3339)
        })]
    } else {
        vec![]
    };
    json!({
        "id": j.id,
        "run_id": j.run_id,
        "run_url": format!("{b}/repos/{full}/actions/runs/{}", j.run_id),
        "run_attempt": j.run_attempt,
        "node_id": node_id("CheckRun", j.id),
        "head_sha": run.head_sha,
        "head_branch": run.head_branch,
        "url": format!("{b}/repos/{full}/actions/jobs/{}", j.id),
        "html_url": format!("{b}/{full}/actions/runs/{}/job/{}", j.run_id, j.id),
        "status": j.state.as_str(),
        "conclusion": j.conclusion,
        "created_at": rfc3339(j.created_at),
        "started_at": rfc3339(j.started_at.unwrap_or(j.created_at)),
        "completed_at": j.completed_at.map(rfc3339),
        "name": j.name,
        "steps": steps,
        "check_run_url": format!("{b}/repos/{full}/check-runs/{}", j.id),
        "labels": j.labels,
        "runner_id": j.runner_id,
        "runner_name": j.runner_name,
        "runner_group_id": j.runner_group_id,
        "runner_group_name": j.runner_group_name,
        "workflow_name": run.workflow_name,
    })
}

/// The `check_run` of a GitHub Actions job (same id as the job).
pub fn check_run(w: &World, j: &Job) -> Value {
    let run = &w.runs[&j.run_id];
    let repo = &w.repos[&run.repo_id];
    let b = &w.base_url;
    let full = repo.full_name();
    let suite = run.id + 1_000_000_000;
    let status = match j.state {
        JobState::Completed => "completed",
        JobState::InProgress => "in_progress",
        _ => "queued",
    };
    let app = json!({
        "id": 15368, "slug": "github-actions", "node_id": node_id("App", 15368),
        "name": "GitHub Actions", "description": "Automate your workflow from idea to production",
        "external_url": "https://help.github.com/en/actions", "html_url": format!("{b}/apps/github-actions"),
        "created_at": "2018-07-30T09:30:17Z", "updated_at": "2019-12-10T19:04:12Z",
        "owner": simple_user(w, &repo.owner, false), "permissions": {}, "events": []
    });
    json!({
        "id": j.id,
        "node_id": node_id("CheckRun", j.id),
        "head_sha": run.head_sha,
        "external_id": "",
        "url": format!("{b}/repos/{full}/check-runs/{}", j.id),
        "html_url": format!("{b}/{full}/actions/runs/{}/job/{}", j.run_id, j.id),
        "details_url": format!("{b}/{full}/actions/runs/{}/job/{}", j.run_id, j.id),
        "status": status,
        "conclusion": j.conclusion,
        "started_at": rfc3339(j.started_at.unwrap_or(j.created_at)),
        "completed_at": j.completed_at.map(rfc3339),
        "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                   "annotations_url": format!("{b}/repos/{full}/check-runs/{}/annotations", j.id)},
        "name": j.name,
        "check_suite": {
            "id": suite, "node_id": node_id("CheckSuite", suite), "head_branch": run.head_branch,
            "head_sha": run.head_sha, "status": status, "conclusion": j.conclusion,
            "url": format!("{b}/repos/{full}/check-suites/{suite}"),
            "before": run.head_sha, "after": run.head_sha, "pull_requests": [], "app": app,
            "created_at": rfc3339(run.created_at), "updated_at": rfc3339(run.updated_at)
        },
        "app": app,
        "pull_requests": [],
    })
}

/// A workflow run.
pub fn run(w: &World, r: &Run) -> Value {
    let repo = &w.repos[&r.repo_id];
    let b = &w.base_url;
    let full = repo.full_name();
    let api = format!("{b}/repos/{full}/actions/runs/{}", r.id);
    let (status, conclusion) = w.run_status(r.id);
    let repo_json = repository(w, repo);
    let actor = simple_user(w, &r.actor, false);
    json!({
        "id": r.id,
        "name": r.workflow_name,
        "node_id": node_id("WorkflowRun", r.id),
        "check_suite_id": r.id + 1_000_000_000,
        "check_suite_node_id": node_id("CheckSuite", r.id + 1_000_000_000),
        "head_branch": r.head_branch,
        "head_sha": r.head_sha,
        "path": r.path,
        "display_title": r.workflow_name,
        "run_number": r.run_number,
        "run_attempt": r.run_attempt,
        "event": r.event,
        "status": status,
        "conclusion": conclusion,
        "workflow_id": r.workflow_id,
        "url": api,
        "html_url": format!("{b}/{full}/actions/runs/{}", r.id),
        "pull_requests": [],
        "referenced_workflows": [],
        "created_at": rfc3339(r.created_at),
        "updated_at": rfc3339(r.updated_at),
        "run_started_at": rfc3339(r.run_started_at),
        "actor": actor,
        "triggering_actor": actor,
        "jobs_url": format!("{api}/jobs"),
        "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{b}/repos/{full}/check-suites/{}", r.id + 1_000_000_000),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "previous_attempt_url": if r.run_attempt > 1 { json!(format!("{api}/attempts/{}", r.run_attempt - 1)) } else { Value::Null },
        "workflow_url": format!("{b}/repos/{full}/actions/workflows/{}", r.workflow_id),
        "head_commit": {
            "id": r.head_sha,
            "tree_id": r.head_sha,
            "message": format!("{} #{}", r.workflow_name, r.run_number),
            "timestamp": rfc3339(r.created_at),
            "author": {"name": r.actor, "email": format!("{}@users.noreply.fake-github", r.actor)},
            "committer": {"name": r.actor, "email": format!("{}@users.noreply.fake-github", r.actor)}
        },
        "repository": repo_json,
        "head_repository": repo_json,
        "head_repository_id": repo.id,
    })
}

/// The `workflow` object of `workflow_run` webhooks.
pub fn workflow(w: &World, r: &Run) -> Value {
    let repo = &w.repos[&r.repo_id];
    let b = &w.base_url;
    let full = repo.full_name();
    json!({
        "id": r.workflow_id, "node_id": node_id("Workflow", r.workflow_id), "name": r.workflow_name,
        "path": r.path, "state": "active",
        "created_at": rfc3339(repo.created_at), "updated_at": rfc3339(repo.created_at),
        "url": format!("{b}/repos/{full}/actions/workflows/{}", r.workflow_id),
        "html_url": format!("{b}/{full}/blob/main/{}", r.path),
        "badge_url": format!("{b}/{full}/workflows/{}/badge.svg", r.workflow_name),
    })
}

/// An app installation.
pub fn installation(w: &World, i: &Installation) -> Value {
    let b = &w.base_url;
    let app = &w.apps[&i.app_id];
    let acct = w.account(&i.account);
    json!({
        "id": i.id,
        "account": simple_user(w, &i.account, false),
        "repository_selection": if i.repo_ids.is_some() { "selected" } else { "all" },
        "access_tokens_url": format!("{b}/app/installations/{}/access_tokens", i.id),
        "repositories_url": format!("{b}/installation/repositories"),
        "html_url": format!("{b}/organizations/{}/settings/installations/{}", i.account, i.id),
        "app_id": i.app_id,
        "client_id": app.client_id,
        "target_id": acct.map(|a| a.id).unwrap_or(0),
        "target_type": if acct.map(|a| a.is_org).unwrap_or(true) { "Organization" } else { "User" },
        "permissions": i.permissions,
        "events": ["workflow_job", "workflow_run"],
        "created_at": rfc3339(i.created_at),
        "updated_at": rfc3339(i.created_at),
        "single_file_name": null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "app_slug": app.slug,
        "suspended_by": null,
        "suspended_at": if i.suspended { json!(rfc3339(i.created_at)) } else { Value::Null },
    })
}

/// The authenticated app.
pub fn app(w: &World, app_id: u64) -> Value {
    let a = &w.apps[&app_id];
    let b = &w.base_url;
    json!({
        "id": a.id,
        "slug": a.slug,
        "client_id": a.client_id,
        "node_id": node_id("App", a.id),
        "owner": simple_user(w, &a.owner, false),
        "name": a.name,
        "description": "Flotilla test app",
        "external_url": format!("{b}/apps/{}", a.slug),
        "html_url": format!("{b}/apps/{}", a.slug),
        "created_at": rfc3339(a.created_at),
        "updated_at": rfc3339(a.created_at),
        "permissions": crate::world::default_permissions(),
        "events": ["workflow_job", "workflow_run"],
        "installations_count": w.installations.values().filter(|i| i.app_id == a.id).count(),
    })
}

/// A release with its assets.
pub fn release(w: &World, r: &Release) -> Value {
    let repo = &w.repos[&r.repo_id];
    let b = &w.base_url;
    let full = repo.full_name();
    let api = format!("{b}/repos/{full}/releases/{}", r.id);
    let published = rfc3339(r.published_at);
    let owner = simple_user(w, &repo.owner, false);
    let assets: Vec<Value> = r
        .assets
        .iter()
        .map(|(id, name)| {
            let bytes = World::asset_bytes(name);
            json!({
                "url": format!("{b}/repos/{full}/releases/assets/{id}"),
                "browser_download_url": format!("{}/{full}/releases/download/{}/{name}", w.origin, r.tag_name),
                "id": id,
                "node_id": node_id("ReleaseAsset", *id),
                "name": name,
                "label": null,
                "state": "uploaded",
                "content_type": if name.ends_with(".zip") { "application/zip" } else { "application/gzip" },
                "size": bytes.len(),
                "digest": format!("sha256:{}", crate::hex_sha256(&bytes)),
                "download_count": 0,
                "created_at": published,
                "updated_at": published,
                "uploader": owner,
            })
        })
        .collect();
    json!({
        "url": api,
        "html_url": format!("{b}/{full}/releases/tag/{}", r.tag_name),
        "assets_url": format!("{api}/assets"),
        "upload_url": format!("{b}/uploads/repos/{full}/releases/{}/assets{{?name,label}}", r.id),
        "tarball_url": format!("{b}/repos/{full}/tarball/{}", r.tag_name),
        "zipball_url": format!("{b}/repos/{full}/zipball/{}", r.tag_name),
        "id": r.id,
        "node_id": node_id("Release", r.id),
        "tag_name": r.tag_name,
        "target_commitish": "main",
        "name": r.name,
        "body": null,
        "draft": r.draft,
        "prerelease": r.prerelease,
        "immutable": false,
        "created_at": published,
        "published_at": published,
        "updated_at": published,
        "author": owner,
        "assets": assets,
    })
}

/// `runners/downloads`: the runner application for each OS/architecture.
pub fn runner_downloads(w: &World) -> Value {
    let v = &w.runner_version;
    let apps: Vec<Value> = [
        ("osx", "x64", "tar.gz"),
        ("osx", "arm64", "tar.gz"),
        ("linux", "x64", "tar.gz"),
        ("linux", "arm", "tar.gz"),
        ("linux", "arm64", "tar.gz"),
        ("win", "x64", "zip"),
        ("win", "arm64", "zip"),
    ]
    .iter()
    .map(|(os, arch, ext)| {
        let filename = format!("actions-runner-{os}-{arch}-{v}.{ext}");
        json!({
            "os": os,
            "architecture": arch,
            "download_url": format!("{}/actions/runner/releases/download/v{v}/{filename}", w.origin),
            "filename": filename,
            "sha256_checksum": crate::hex_sha256(&World::asset_bytes(&filename)),
        })
    })
    .collect();
    Value::Array(apps)
}
