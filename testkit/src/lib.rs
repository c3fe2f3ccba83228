//! `flotilla-testkit`: loopback test peers for Flotilla.
//!
//! The centrepiece is [`FakeGitHub`], a stateful fake of the GitHub REST API subset a runner
//! autoscaler uses (the 29 paths of `../shared/data/github/openapi-runner-endpoints.json`): GitHub
//! App JWT → installation tokens, self-hosted runners (JIT configs, registration tokens, labels,
//! delete refused with 422 while busy), runner groups, workflow runs and jobs (assignment to
//! runners by labels, job stealing, re-runs), releases, rate limits, pagination, webhooks out,
//! fault injection, request accounting — with every answer checkable against GitHub's OpenAPI
//! description ([`openapi`]).
//!
//! ```no_run
//! # async fn demo() {
//! use flotilla_testkit::*;
//! let gh = FakeGitHub::start(FakeGitHubOptions::strict()).await.unwrap();
//! let app = gh.add_test_app("flotilla");
//! gh.add_repo("acme", "widgets");
//! let installation = gh.install_app(app.app_id, "acme");
//! // octocrab: .base_uri(gh.base_url()).app(app.app_id.into(), EncodingKey::from_rsa_pem(..))
//! # let _ = installation;
//! # }
//! ```
#![warn(missing_docs)]
#![recursion_limit = "512"]

pub mod agent;
mod api;
pub mod client;
pub mod clock;
mod control;
pub mod keys;
pub mod openapi;
mod render;
pub mod seed;
mod server;
pub mod traffic;
pub mod webhook;
pub mod world;

pub use api::parse_created;
pub use clock::{Clock, Millis};
pub use keys::{generate_rsa_key_pair, sign_app_jwt, test_key_pair, KeyPairPem};
pub use seed::*;
pub use server::{FakeGitHub, FakeGitHubHandle, FakeGitHubOptions, RunView, TestApp, Validation};
pub use traffic::{Fault, RequestRecord, StatsSummary};
pub use webhook::{signature_256, Delivery};
pub use world::{
    AgentRegistration, AgentSession, ApiError, Assignment, Job, JobState, Principal, RateWindow,
    Run, Runner, RunnerLabel, Scope, MAX_RERUNS_PER_RUN,
};

/// Lower-case hex SHA-256 of bytes.
pub fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
