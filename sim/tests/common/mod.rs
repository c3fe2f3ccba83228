//! Scaffolding the fetcher tests share (`fetch_github.rs`, `fetch_prices.rs`).

use std::path::{Path, PathBuf};
use std::process::Output;

/// A scratch folder, removed when the test passes (kept for a look when it fails).
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// An empty `$TMPDIR/flotilla-{kind}-{name}-{pid}`.
pub fn scratch(kind: &str, name: &str) -> Scratch {
    let d = std::env::temp_dir().join(format!("flotilla-{kind}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Scratch(d)
}

/// A finished command's stdout and stderr as text.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
