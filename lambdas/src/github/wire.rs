//! GitHub's JSON, only the fields read.

use flotilla_core::model::{Runner, RunnerOwner};
use serde::Deserialize;

use crate::ports::{JobInfo, Release, ReleaseAsset};

#[derive(Deserialize)]
pub struct WireJob {
    pub run_id: u64,
    #[serde(default)]
    pub run_attempt: Option<u32>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub conclusion: Option<String>,
}

impl From<WireJob> for JobInfo {
    fn from(j: WireJob) -> JobInfo {
        JobInfo {
            run_id: j.run_id,
            run_attempt: j.run_attempt.unwrap_or(1),
            labels: j.labels,
            status: j.status,
            conclusion: j.conclusion,
        }
    }
}

#[derive(Deserialize)]
pub struct WireLabel {
    pub name: String,
}

#[derive(Deserialize)]
pub struct WireRunner {
    pub id: u64,
    pub name: String,
    pub status: String,
    pub busy: bool,
    #[serde(default)]
    pub labels: Vec<WireLabel>,
}

#[derive(Deserialize)]
pub struct WireRunners {
    #[serde(default)]
    pub total_count: u64,
    pub runners: Vec<WireRunner>,
}

impl WireRunner {
    pub fn into_runner(self, owner: &RunnerOwner) -> Runner {
        Runner {
            id: self.id,
            name: self.name,
            online: self.status == "online",
            busy: self.busy,
            labels: self
                .labels
                .into_iter()
                .map(|l| l.name.to_ascii_lowercase())
                .collect(),
            owner: owner.clone(),
        }
    }
}

#[derive(Deserialize)]
pub struct WireInstallation {
    pub id: u64,
}

#[derive(Deserialize)]
pub struct WireGroup {
    pub id: u64,
    pub name: String,
}

#[derive(Deserialize)]
pub struct WireGroups {
    pub runner_groups: Vec<WireGroup>,
}

#[derive(Deserialize)]
pub struct WireJit {
    pub encoded_jit_config: String,
}

#[derive(Deserialize)]
pub struct WireToken {
    pub token: String,
}

#[derive(Deserialize)]
pub struct WireAsset {
    pub name: String,
    pub browser_download_url: String,
}

#[derive(Deserialize)]
pub struct WireRelease {
    pub tag_name: String,
    #[serde(default)]
    pub assets: Vec<WireAsset>,
}

impl From<WireRelease> for Release {
    fn from(r: WireRelease) -> Release {
        Release {
            tag_name: r.tag_name,
            assets: r
                .assets
                .into_iter()
                .map(|a| ReleaseAsset {
                    name: a.name,
                    download_url: a.browser_download_url,
                })
                .collect(),
        }
    }
}

/// The actions/runner release asset for an OS and architecture:
/// `actions-runner-linux-x64-2.328.0.tar.gz`, `actions-runner-win-x64-2.328.0.zip`.
pub fn asset_name(os: &str, arch: &str, tag: &str) -> String {
    let version = tag.trim_start_matches('v');
    match os {
        "windows" => format!("actions-runner-win-{arch}-{version}.zip"),
        _ => format!("actions-runner-{os}-{arch}-{version}.tar.gz"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_names_follow_actions_runner() {
        assert_eq!(
            asset_name("linux", "x64", "v2.328.0"),
            "actions-runner-linux-x64-2.328.0.tar.gz"
        );
        assert_eq!(
            asset_name("windows", "x64", "v2.328.0"),
            "actions-runner-win-x64-2.328.0.zip"
        );
        assert_eq!(
            asset_name("linux", "arm64", "2.1.0"),
            "actions-runner-linux-arm64-2.1.0.tar.gz"
        );
    }
}
