//! `webhook.zip`'s bootstrap.
#![recursion_limit = "512"]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), flotilla_lambdas::context::Error> {
    flotilla_lambdas::runtime::webhook_main().await
}
