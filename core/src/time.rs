//! Time as the policy sees it: a plain number handed in by the caller.
//!
//! The core never reads a clock. Every instant is milliseconds since the Unix epoch (UTC), given
//! by the Lambda (from its clock) or by the simulator (from its virtual clock). In JSON an instant
//! is an RFC 3339 string so scenario tables stay readable; integers (milliseconds) are accepted too.

use std::fmt;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

pub const SECOND: i64 = 1_000;
pub const MINUTE: i64 = 60 * SECOND;
pub const HOUR: i64 = 60 * MINUTE;

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub const fn from_secs(s: i64) -> Self {
        Timestamp(s * SECOND)
    }
    pub const fn millis(self) -> i64 {
        self.0
    }
    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn since(self, earlier: Timestamp) -> i64 {
        self.0 - earlier.0
    }
    pub const fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }
    pub const fn minus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_sub(ms))
    }
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        Utc.timestamp_millis_opt(self.0).single()
    }
    /// RFC 3339 with millisecond precision when needed, `Z` for UTC.
    pub fn to_rfc3339(self) -> String {
        match self.to_datetime() {
            Some(dt) => {
                let fmt = if self.0 % SECOND == 0 {
                    SecondsFormat::Secs
                } else {
                    SecondsFormat::Millis
                };
                dt.to_rfc3339_opts(fmt, true)
            }
            None => self.0.to_string(),
        }
    }
    /// Parses RFC 3339 (any offset); the error says what was expected.
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text.trim())
            .map(|dt| Timestamp(dt.timestamp_millis()))
            .map_err(|e| {
                format!("`{text}` is not an RFC 3339 time such as 2025-09-04T17:25:47Z ({e})")
            })
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_rfc3339())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an RFC 3339 time or milliseconds since the Unix epoch")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse_rfc3339(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("timestamp out of range"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let t = Timestamp::parse_rfc3339("2025-09-04T17:25:47Z").unwrap();
        assert_eq!(t.millis(), 1_757_006_747_000);
        assert_eq!(t.to_rfc3339(), "2025-09-04T17:25:47Z");
        let ms = t.plus_millis(250);
        assert_eq!(ms.to_rfc3339(), "2025-09-04T17:25:47.250Z");
        assert_eq!(Timestamp::parse_rfc3339(&ms.to_rfc3339()).unwrap(), ms);
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let t = Timestamp::parse_rfc3339("2025-09-04T19:25:47+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2025-09-04T17:25:47Z");
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
        assert!(serde_json::from_str::<Timestamp>("true").is_err());
    }
}
