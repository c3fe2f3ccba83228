//! Runner binaries syncer (schedule): the latest actions/runner release asset for the configured
//! OS and architecture into S3, skipped when the object already holds that version. No policy is
//! involved: it mirrors a file.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::context::Error;
use crate::github::{asset_name, GitHubClient};
use crate::ports::Aws;
use crate::settings::Settings;

pub const VERSION_METADATA: &str = "runner-version";

pub async fn handle<A: Aws>(
    settings: &Settings,
    aws: &A,
    github: &GitHubClient,
) -> Result<Value, Error> {
    let bucket = Settings::need(
        &settings.runner_binaries_bucket,
        "FLOTILLA_RUNNER_BINARIES_BUCKET",
    )?;
    let key = Settings::need(
        &settings.runner_binaries_key,
        "FLOTILLA_RUNNER_BINARIES_KEY",
    )?;
    let os = Settings::need(&settings.runner_os, "FLOTILLA_RUNNER_OS")?;
    let arch = Settings::need(
        &settings.runner_architecture,
        "FLOTILLA_RUNNER_ARCHITECTURE",
    )?;
    let release = github.latest_release("actions/runner").await?;
    let name = asset_name(os, arch, &release.tag_name);
    let asset = release
        .assets
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| format!("release {} has no asset {name}", release.tag_name))?;
    let current = aws.head_object(bucket, key).await?;
    if current
        .as_ref()
        .and_then(|m| m.get(VERSION_METADATA))
        .is_some_and(|v| *v == release.tag_name)
    {
        tracing::info!(version = %release.tag_name, bucket, key, "runner binaries current");
        return Ok(json!({"version": release.tag_name, "updated": false}));
    }
    let bytes = github.download(&asset.download_url).await?;
    let size = bytes.len();
    let metadata = BTreeMap::from([
        (VERSION_METADATA.to_string(), release.tag_name.clone()),
        ("asset".to_string(), name.clone()),
    ]);
    aws.put_object(bucket, key, bytes, metadata).await?;
    tracing::info!(version = %release.tag_name, asset = %name, size, bucket, key, "runner binaries mirrored");
    Ok(json!({"version": release.tag_name, "updated": true, "asset": name, "bytes": size}))
}
