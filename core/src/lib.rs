//! Flotilla's scaling policy, sans-I/O.
//!
//! ```text
//! observation (trigger + what the shell saw) + config ──decide──▶ commands
//! outcome of a command's I/O                          ──on_outcome──▶ more commands
//! ```
//! The core reads no clock (time is an argument), does no I/O, spawns nothing and draws no
//! randomness. A Lambda forgets everything between invocations, so whatever the policy must
//! remember lives in instance tags ([`tags`]) and SSM parameters ([`naming`]) and comes back in
//! the next [`Observation`]. The simulator builds the same observations from its world.
//!
//! Shell loop, the same in every Lambda and in the simulator:
//! ```
//! use flotilla_core::{decide, on_outcome, Command, Config, Observation, Outcome, Timestamp};
//! fn run(config: &Config, obs: &Observation, now: Timestamp, perform: impl Fn(&Command) -> Option<Outcome>) {
//!     let mut pending: std::collections::VecDeque<Command> = decide(config, obs, now).into();
//!     while let Some(cmd) = pending.pop_front() {
//!         if let Some(outcome) = perform(&cmd) {
//!             pending.extend(on_outcome(config, obs, &outcome, now));
//!         }
//!     }
//! }
//! ```

pub mod command;
pub mod config;
pub mod cron;
pub mod id_index;
pub mod labels;
pub mod model;
pub mod naming;
pub mod observation;
pub mod outcome;
pub mod policy;
pub mod tags;
pub mod time;
pub mod webhook;

pub use command::Command;
pub use config::Config;
pub use model::Fleet;
pub use observation::Observation;
pub use outcome::Outcome;
pub use policy::{decide, on_outcome};
pub use time::Timestamp;
