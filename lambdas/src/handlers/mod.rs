//! One module per function of the contract.

pub mod pool;
pub mod runner_binaries_syncer;
pub mod scale_down;
pub mod scale_up;
pub mod termination_watcher;
pub mod webhook;
