//! Flotilla's scaling policy, sans-I/O.
pub mod time;
pub use time::Timestamp;
