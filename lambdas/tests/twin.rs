//! The digital twin: the production handlers and the simulator on the same trace slice and
//! config, side by side. See `docs/twin.md`.
//!
//! The twin side runs the real webhook, scale-up, scale-down and pool handlers against moto
//! (behind the tests' fault proxy) and the fake GitHub, on a virtual clock; `flotilla-testkit`'s
//! runner agent plays every instance (boot, token, registration, jobs, ephemeral shutdown). The
//! simulator side replays the same jobs with the same config and world settings whose delays
//! match what the twin's loop does. The test fails when the two drift apart beyond the
//! tolerances printed with the tables.
//!
//! Environment: `FLOTILLA_MOTO_URL` (else skipped, loudly), `FLOTILLA_TWIN_JOBS` (slice length,
//! default 80), `FLOTILLA_TWIN_OFFSET` (first linux job of the slice, default 3000),
//! `FLOTILLA_TWIN_SCALE` (virtual seconds per real second to pace the loop; default 0: unpaced),
//! `FLOTILLA_TWIN_VARIANTS` (`reusable,ephemeral,faults`, plus `deployed` when
//! `FLOTILLA_TWIN_TF_OUTPUTS` names the applied default example's `terraform output -json`),
//! `FLOTILLA_TWIN_SEED` (default 1), `FLOTILLA_TWIN_AGENT_SEED` (the agent's own draws instead of
//! the simulator's stream: a statistical comparison, see docs/twin.md).

mod support;
#[path = "twin/mod.rs"]
mod twin_parts;

use support::{moto_url, report};
use twin_parts::{run_variant, Variant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twin_agrees_with_the_simulator() {
    let Some(moto) = moto_url("twin_agrees_with_the_simulator") else {
        return;
    };
    let Some(trace) = twin_parts::trace_path() else {
        report(
            "SKIPPED twin_agrees_with_the_simulator: the trace ../shared/data/traces/bitcoin-core-gha-jobs-2025-09.csv is absent",
        );
        return;
    };
    let variants = std::env::var("FLOTILLA_TWIN_VARIANTS").unwrap_or_else(|_| {
        // The deployed variant runs when the applied example's outputs are given.
        if twin_parts::deployed_outputs().is_some() {
            "reusable,ephemeral,faults,deployed".into()
        } else {
            "reusable,ephemeral,faults".into()
        }
    });
    let mut failures = Vec::new();
    for v in variants.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let variant = match v {
            "reusable" => Variant::Reusable,
            "ephemeral" => Variant::Ephemeral,
            "faults" => Variant::Faults,
            "deployed" => Variant::Deployed,
            other => panic!("FLOTILLA_TWIN_VARIANTS: unknown variant {other}"),
        };
        let outcome = run_variant(&moto, &trace, variant).await;
        report(&outcome.table);
        failures.extend(outcome.failures);
    }
    assert!(
        failures.is_empty(),
        "the twin and the simulator drifted apart or the twin leaked:\n  {}",
        failures.join("\n  ")
    );
}

/// The simulator against itself: how far p50/p95 wait move with the boot and registration draws
/// alone (seeds 1..=20), on the twin's slice and configs. Tells the tolerances' noise floor when
/// the twin runs with independent draws (`FLOTILLA_TWIN_AGENT_SEED`). Opt-in:
/// `FLOTILLA_TWIN_SPREAD=1`; needs no moto.
#[test]
fn simulator_seed_spread() {
    if std::env::var("FLOTILLA_TWIN_SPREAD").map_or(true, |v| v != "1") {
        return;
    }
    let Some(trace) = twin_parts::trace_path() else {
        report("SKIPPED simulator_seed_spread: the trace is absent");
        return;
    };
    for variant in [Variant::Reusable, Variant::Ephemeral] {
        report(&twin_parts::seed_spread(&trace, variant, 20));
    }
}
