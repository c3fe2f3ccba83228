//! Flotilla's production Lambdas: thin I/O shells around `flotilla-core`.
//!
//! Each handler observes AWS and GitHub, builds the policy's `Observation`, calls
//! `flotilla_core::decide` / `on_outcome` through [`shell::run`], and performs the returned
//! commands ([`perform`]). Nothing here decides: where the core has no outcome for a failure the
//! shell logs it (see the README for the few places a transport error shapes an answer).
//!
//! | module | job |
//! |---|---|
//! | [`contract`] | `contracts/lambda-env.json`: the only variable names read |
//! | [`settings`] | a function's variables, loaded through the contract |
//! | [`ports`] | the [`ports::Aws`] and [`ports::GitHub`] traits the handlers use |
//! | [`aws`] | aws-sdk-rust: EC2 Fleet, SQS, SSM, S3 |
//! | [`github`] | octocrab as a GitHub App, with bounded rate-limit retries |
//! | [`context`] | what a warm Lambda keeps: clients, cached config and secret |
//! | [`observe`] | the policy's `Fleet` from EC2, GitHub and SSM |
//! | [`shell`] | decide → perform → on_outcome |
//! | [`perform`] | each command as AWS/GitHub calls, and its outcome |
//! | [`handlers`] | one module per function |
//! | [`metrics`], [`logging`] | CloudWatch EMF lines, JSON logs |
//! | [`runtime`] | the `main` of each bootstrap |

pub mod aws;
pub mod clock;
pub mod context;
pub mod contract;
pub mod github;
pub mod handlers;
pub mod logging;
pub mod metrics;
pub mod observe;
pub mod perform;
pub mod ports;
pub mod runtime;
pub mod settings;
pub mod shell;
pub mod stub;
