//! The fake's clock: the system clock plus an offset, or frozen at a chosen instant.
//!
//! Everything the fake decides by time (token expiry, rate-limit windows, scheduled jobs, the
//! lost-runner timeout, `created_at` stamps) reads this clock, so a test can move time forward
//! instead of sleeping. JWT `iat`/`exp` checks are the exception: they compare against the
//! system clock, because the client minted the JWT from the system clock.
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Current system time in milliseconds since the Unix epoch.
pub fn system_now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Default)]
struct State {
    offset_ms: i64,
    frozen_at: Option<Millis>,
}

/// A shareable clock.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    inner: Arc<Mutex<State>>,
}

impl Clock {
    /// A clock that follows the system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock frozen at `at` (it moves only with [`Clock::advance`] / [`Clock::set`]).
    pub fn frozen(at: Millis) -> Self {
        let c = Self::default();
        c.inner.lock().unwrap().frozen_at = Some(at);
        c
    }

    /// Now, in milliseconds since the epoch.
    pub fn now_ms(&self) -> Millis {
        let s = self.inner.lock().unwrap();
        s.frozen_at.unwrap_or_else(|| system_now_ms() + s.offset_ms)
    }

    /// Move time forward (or backward with a negative amount).
    pub fn advance_ms(&self, ms: i64) {
        let mut s = self.inner.lock().unwrap();
        match s.frozen_at.as_mut() {
            Some(t) => *t += ms,
            None => s.offset_ms += ms,
        }
    }

    /// Move time forward by a duration.
    pub fn advance(&self, d: Duration) {
        self.advance_ms(d.as_millis() as i64);
    }

    /// Freeze the clock at `at`.
    pub fn set(&self, at: Millis) {
        self.inner.lock().unwrap().frozen_at = Some(at);
    }

    /// Let a frozen clock run again from where it stands.
    pub fn unfreeze(&self) {
        let mut s = self.inner.lock().unwrap();
        if let Some(t) = s.frozen_at.take() {
            s.offset_ms = t - system_now_ms();
        }
    }

    /// Whether the clock is frozen.
    pub fn is_frozen(&self) -> bool {
        self.inner.lock().unwrap().frozen_at.is_some()
    }
}

/// Format milliseconds as GitHub does (`2024-05-01T12:00:00Z`, second precision).
pub fn rfc3339(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// Parse an RFC 3339 timestamp into milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_told() {
        let c = Clock::frozen(1_000);
        assert_eq!(c.now_ms(), 1_000);
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now_ms(), 3_000);
        c.set(10);
        assert_eq!(c.now_ms(), 10);
    }

    #[test]
    fn formats_like_github() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2024-05-01T12:00:00Z"),
            Some(1_714_564_800_000)
        );
    }
}
