//! Flotilla's simulator crate: input loaders (job traces, spot and on-demand prices) and the
//! built-in demo data. Everything here builds for wasm32 with default features off: no clock
//! reads, no OS randomness, deterministic maths (`libm`) and ordered maps.

pub mod demo;
pub mod engine;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod inputs;
pub mod load;
#[cfg(feature = "plot")]
pub mod plot;
pub mod prices;
pub mod report;
pub mod rng;
pub mod settings;
pub mod trace;
pub mod tune;
pub mod world;
