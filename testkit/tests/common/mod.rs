//! Shared setup for the integration tests: a strict fake, an org with repos, a GitHub App
//! installed on it, and octocrab clients built the way the Lambdas build theirs.
#![allow(dead_code)]
use flotilla_testkit::*;
use octocrab::Octocrab;

pub const ORG: &str = "acme";
pub const REPO: &str = "widgets";

/// Install the one rustls crypto provider (aws-lc-rs), once per test process.
pub fn crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

pub struct Env {
    pub gh: FakeGitHubHandle,
    pub app: TestApp,
    pub installation_id: u64,
}

impl Env {
    /// Octocrab authenticated as the App (JWT).
    pub fn app_client(&self) -> Octocrab {
        Octocrab::builder()
            .base_uri(self.gh.base_url())
            .unwrap()
            .app(
                self.app.app_id.into(),
                jsonwebtoken::EncodingKey::from_rsa_pem(self.app.private_key_pem.as_bytes())
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    /// Octocrab authenticated as the installation (JWT → installation token, cached).
    pub fn installation_client(&self) -> Octocrab {
        self.app_client()
            .installation(self.installation_id.into())
            .unwrap()
    }

    /// Octocrab with a plain token.
    pub fn token_client(&self, token: &str) -> Octocrab {
        Octocrab::builder()
            .base_uri(self.gh.base_url())
            .unwrap()
            .personal_token(token.to_string())
            .build()
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.gh.base_url(), path)
    }

    /// Every response so far matched GitHub's OpenAPI description.
    pub fn assert_valid(&self) {
        self.gh.assert_no_validation_failures();
    }
}

/// A strict fake (every response validated; drift fails the test) with `acme/widgets`,
/// `acme/gadgets`, an app `flotilla` installed on `acme`.
pub async fn env() -> Env {
    crypto();
    let gh = FakeGitHub::start(FakeGitHubOptions::strict())
        .await
        .unwrap();
    gh.add_org(ORG);
    gh.add_repo(ORG, REPO);
    gh.add_repo(ORG, "gadgets");
    let app = gh.add_test_app("flotilla");
    let installation_id = gh.install_app(app.app_id, ORG);
    Env {
        gh,
        app,
        installation_id,
    }
}

/// The status of an octocrab error, if it is a GitHub error.
pub fn gh_status(e: &octocrab::Error) -> Option<u16> {
    match e {
        octocrab::Error::GitHub { source, .. } => Some(source.status_code.as_u16()),
        _ => None,
    }
}

/// The message of an octocrab GitHub error.
pub fn gh_message(e: &octocrab::Error) -> String {
    match e {
        octocrab::Error::GitHub { source, .. } => source.message.clone(),
        other => format!("not a GitHub error: {other}"),
    }
}
