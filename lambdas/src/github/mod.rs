//! [`crate::ports::GitHub`] with octocrab, as a GitHub App.
//!
//! - The App's JWT finds the installation of an owner (cached), an installation client mints and
//!   caches its token (octocrab refreshes it); both caches live as long as the warm Lambda.
//! - GHES: the base URL is `FLOTILLA_GITHUB_API_URL` (`https://HOST/api/v3`).
//! - Rate limits: 429, or 403 with `x-ratelimit-remaining: 0`, waits `retry-after` (or until
//!   `x-ratelimit-reset`) when that is at most [`RetryPolicy::max_wait`], then retries; 5xx and
//!   transport errors retry with a short backoff; at most [`RetryPolicy::attempts`] tries. The last
//!   `x-ratelimit-remaining` seen is kept for the metric.

mod client;
mod wire;

pub use client::{GitHubClient, RetryPolicy};
pub use wire::asset_name;
