//! The `main` of each zip's `bootstrap`: one rustls crypto provider, JSON logs, clients built
//! once per cold start, then the Lambda Runtime API loop.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

use crate::aws::AwsClients;
use crate::context::{AppGitHub, Context, Error};
use crate::contract::{self, Function};
use crate::github::{GitHubClient, RetryPolicy};
use crate::handlers;
use crate::handlers::webhook::HttpRequest;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// aws-lc-rs for both aws-sdk and octocrab; installing a second provider would panic at run time.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The handler `FLOTILLA_HANDLER` selects within `zip`.
pub fn selected(zip: &str) -> Result<Function, Error> {
    Ok(contract::selected_handler(
        std::env::var(contract::HANDLER).ok().as_deref(),
        zip,
    )?)
}

type Runners = Context<AwsClients, AppGitHub<AwsClients>>;

async fn context(function: Function) -> Result<(Settings, Arc<Runners>), Error> {
    let settings = Settings::for_function(function)?;
    crate::logging::init(&settings.log_level, std::io::stdout);
    let aws = AwsClients::from_env().await;
    let github = AppGitHub::new(aws.clone(), &settings, RetryPolicy::default());
    let metrics = Metrics::stdout(settings.metrics_namespace().to_string(), function.name());
    let ctx = Context::new(function, settings.clone(), aws, github, metrics);
    Ok((settings, Arc::new(ctx)))
}

fn span(function: Function, request_id: &str) -> tracing::Span {
    tracing::info_span!("invocation", function = function.name(), request_id = %request_id)
}

/// `webhook.zip`.
pub async fn webhook_main() -> Result<(), Error> {
    install_crypto_provider();
    let function = selected("webhook.zip")?;
    let (_, ctx) = context(function).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<HttpRequest>| {
        let ctx = ctx.clone();
        async move {
            let span = span(function, &event.context.request_id);
            handlers::webhook::handle(&ctx, &event.payload)
                .instrument(span)
                .await
        }
    }))
    .await
}

/// `runners.zip`: scale-up, scale-down, pool, termination watcher.
pub async fn runners_main() -> Result<(), Error> {
    install_crypto_provider();
    let function = selected("runners.zip")?;
    let (_, ctx) = context(function).await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move {
            ctx.set_function_arn(&event.context.invoked_function_arn);
            let span = span(function, &event.context.request_id);
            dispatch(&ctx, function, event.payload)
                .instrument(span)
                .await
        }
    }))
    .await
}

async fn dispatch(ctx: &Runners, function: Function, payload: Value) -> Result<Value, Error> {
    let result = match function {
        Function::ScaleUp => {
            let event: SqsEvent = serde_json::from_value(payload)?;
            serde_json::to_value(handlers::scale_up::handle(ctx, event).await?)?
        }
        Function::ScaleDown => handlers::scale_down::handle(ctx).await?,
        Function::Pool => handlers::pool::handle(ctx, payload).await?,
        Function::TerminationWatcher => handlers::termination_watcher::handle(ctx, payload).await?,
        other => return Err(format!("{other} is not in runners.zip").into()),
    };
    Ok(result)
}

/// `runner-binaries-syncer.zip`.
pub async fn syncer_main() -> Result<(), Error> {
    install_crypto_provider();
    let function = selected("runner-binaries-syncer.zip")?;
    let settings = Settings::for_function(function)?;
    crate::logging::init(&settings.log_level, std::io::stdout);
    let aws = AwsClients::from_env().await;
    let api = settings
        .github_api_url
        .clone()
        .unwrap_or_else(|| "https://api.github.com".into());
    let github = Arc::new(GitHubClient::anonymous(&api, RetryPolicy::default())?);
    let settings = Arc::new(settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (settings, aws, github) = (settings.clone(), aws.clone(), github.clone());
        async move {
            let span = span(function, &event.context.request_id);
            handlers::runner_binaries_syncer::handle(&settings, &aws, &github)
                .instrument(span)
                .await
        }
    }))
    .await
}
