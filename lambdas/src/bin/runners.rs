//! `runners.zip`'s bootstrap: scale-up, scale-down, pool or termination watcher, selected by
//! `FLOTILLA_HANDLER`.
#![recursion_limit = "512"]
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), flotilla_lambdas::context::Error> {
    flotilla_lambdas::runtime::runners_main().await
}
