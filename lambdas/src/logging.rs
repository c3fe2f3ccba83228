//! JSON logs with `tracing`. Nothing here ever formats a secret: values that could hold one
//! (`Secret`, [`crate::ports::RunnerCredential`], [`crate::ports::Parameter`]) print redacted,
//! and the handlers log names, ids and error messages only.

use tracing_subscriber::fmt::MakeWriter;

/// The `LOG_LEVEL` value as a filter (the contract's enum; anything else is `info`).
pub fn level(value: &str) -> tracing::Level {
    match value {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    }
}

/// Installs the JSON subscriber writing to `writer` (stdout in Lambda).
pub fn init<W>(log_level: &str, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::util::SubscriberInitExt;
    let _ = subscriber(log_level, writer).try_init();
}

/// The JSON subscriber [`init`] installs, not installed (the benchmark scopes it to its thread).
/// Only our crates log below `warn`: the SDKs' debug output would carry request bodies.
pub fn subscriber<W>(log_level: &str, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    let max = level(log_level);
    let ours = filter_fn(move |meta| {
        let target = meta.target();
        let own = target.starts_with("flotilla") || target.starts_with("lambda_runtime");
        if own {
            *meta.level() <= max
        } else {
            *meta.level() <= tracing::Level::WARN
        }
    });
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .flatten_event(true)
        .with_writer(writer)
        .with_filter(ours);
    tracing_subscriber::registry().with(layer)
}
