//! Fetchers (feature `fetch`): the I/O shells that download a job trace from GitHub
//! ([`github`]) and spot / on-demand prices from AWS ([`aws`]) into the files the loaders read.
//!
//! Unlike the rest of the crate these read the clock and talk to the network; nothing in the
//! simulator or the wasm build depends on them.

pub mod aws;
pub mod github;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use flotilla_core::Timestamp;

/// Installs the aws-lc-rs rustls crypto provider for this process (octocrab and the AWS SDK share
/// it; with two providers compiled in, rustls panics unless one is installed). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Now, from the system clock.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp(ms)
}

/// Which end of a day a date without a time stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEnd {
    /// `2025-09-01` is 2025-09-01T00:00:00Z.
    Start,
    /// `2025-09-01` is 2025-09-01T23:59:59.999Z (the whole day included).
    End,
}

/// A date for `--since` / `--until`: `YYYY-MM-DD` (UTC) or an RFC 3339 time.
pub fn parse_date(text: &str, end: DayEnd) -> Result<Timestamp, String> {
    let t = text.trim();
    if t.len() == 10 && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-' {
        let day = Timestamp::parse_rfc3339(&format!("{t}T00:00:00Z"))
            .map_err(|_| format!("`{t}` is not a date such as 2025-09-01"))?;
        return Ok(match end {
            DayEnd::Start => day,
            DayEnd::End => day.plus_millis(86_400_000 - 1),
        });
    }
    Timestamp::parse_rfc3339(t).map_err(|_| {
        format!("`{t}` is neither a date (2025-09-01) nor an RFC 3339 time (2025-09-01T12:00:00Z)")
    })
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, synced, then renamed
/// over `path`. A failure leaves any previous `path` as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}: {e}", path.display())
    })
}

/// An error and its chain of sources on one line (SDK and HTTP errors say little at the top).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !msg.contains(&s_text) {
            msg.push_str(": ");
            msg.push_str(&s_text);
        }
        source = s.source();
    }
    msg
}

/// `n` with thousands separators (progress lines).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string().into_bytes();
    let groups: Vec<&[u8]> = digits.rchunks(3).rev().collect();
    groups
        .iter()
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(
            parse_date("2025-09-01", DayEnd::Start)
                .unwrap()
                .to_rfc3339(),
            "2025-09-01T00:00:00Z"
        );
        assert_eq!(
            parse_date("2025-09-01", DayEnd::End).unwrap().to_rfc3339(),
            "2025-09-01T23:59:59.999Z"
        );
        assert_eq!(
            parse_date("2025-09-01T12:30:00+02:00", DayEnd::End)
                .unwrap()
                .to_rfc3339(),
            "2025-09-01T10:30:00Z"
        );
        assert!(parse_date("2025-13-01", DayEnd::Start).is_err());
        assert!(parse_date("yesterday", DayEnd::Start).is_err());
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("flotilla-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("out.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(write_atomic(&dir.join("missing/out.txt"), b"x").is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
