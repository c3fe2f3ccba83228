//! What every loader shares: the error type (file, line, reason) and reading a source as text.
//!
//! No loader panics on any input: every problem becomes a [`LoadError`] that names the source
//! (a file path or a name given by the caller), the 1-based line when one applies, and the reason
//! in plain words.

use std::fmt;
use std::path::Path;

/// A load failure: which source, which line (1-based; `None` when the problem is the whole source,
/// e.g. the file could not be read), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub source: String,
    pub line: Option<usize>,
    pub reason: String,
}

impl LoadError {
    pub fn new(source: &str, line: Option<usize>, reason: impl Into<String>) -> Self {
        LoadError {
            source: source.to_string(),
            line,
            reason: reason.into(),
        }
    }
    pub fn at(source: &str, line: usize, reason: impl Into<String>) -> Self {
        Self::new(source, Some(line), reason)
    }
    pub fn whole(source: &str, reason: impl Into<String>) -> Self {
        Self::new(source, None, reason)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}, line {}: {}", self.source, line, self.reason),
            None => write!(f, "{}: {}", self.source, self.reason),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads a file as bytes; the error names the file.
pub fn read_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|e| {
        LoadError::whole(
            &path.display().to_string(),
            format!("cannot read the file: {e}"),
        )
    })
}

/// Bytes as UTF-8 text without a leading byte-order mark; invalid UTF-8 is an error naming the line.
pub fn text_of<'a>(bytes: &'a [u8], source: &str) -> Result<&'a str, LoadError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        LoadError::at(source, line, "the text is not valid UTF-8")
    })
}

/// A serde_json error as a load error. `line_base` is the line the parsed text starts on (1 for a
/// whole file; the JSONL line for one line of JSONL).
pub(crate) fn json_error(source: &str, line_base: usize, e: &serde_json::Error) -> LoadError {
    let line = line_base + e.line().saturating_sub(1);
    let what = match e.classify() {
        serde_json::error::Category::Eof => "the JSON ends too early",
        serde_json::error::Category::Syntax => "the JSON is malformed",
        serde_json::error::Category::Data => "a JSON value does not fit",
        serde_json::error::Category::Io => "the JSON could not be read",
    };
    // serde_json's message ends with " at line L column C"; keep the column, drop its line (ours
    // is the file's).
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    LoadError::at(
        source,
        line,
        format!("{what} (column {}): {msg}", e.column()),
    )
}

/// Every JSON value of type `T` in `text`: a JSON array of them, or values one after another
/// (JSONL, or pretty-printed objects concatenated). Each comes with the line it starts on.
pub(crate) fn json_values<T: serde::de::DeserializeOwned>(
    text: &str,
    source: &str,
) -> Result<Vec<(usize, T)>, LoadError> {
    let start = text.len() - text.trim_start().len();
    let body = &text[start..];
    let base = line_of_offset(text, start);
    let mut out = Vec::new();
    if body.starts_with('[') {
        let list: Vec<T> = serde_json::from_str(body).map_err(|e| json_error(source, base, &e))?;
        out.extend(list.into_iter().map(|v| (base, v)));
        return Ok(out);
    }
    let mut stream = serde_json::Deserializer::from_str(body).into_iter::<T>();
    loop {
        let offset = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(v)) => {
                let rest = body.get(offset..).unwrap_or("");
                let ws = rest.len() - rest.trim_start().len();
                out.push((base + line_of_offset(body, offset + ws) - 1, v));
            }
            Some(Err(e)) => return Err(json_error(source, base, &e)),
        }
    }
    Ok(out)
}

/// A csv error as a load error.
pub(crate) fn csv_error(source: &str, e: &csv::Error) -> LoadError {
    let line = e.position().map(|p| p.line() as usize);
    let reason = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("this row has {len} fields but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "the text is not valid UTF-8".to_string(),
        _ => format!("malformed CSV: {e}"),
    };
    LoadError::new(source, line.or(Some(1)), reason)
}

/// The 1-based line number of a byte offset in `text`.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses a price such as `0.0370`: a finite, non-negative number.
pub(crate) fn parse_price(text: &str) -> Result<f64, String> {
    let t = text.trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Ok(_) => Err(format!("price `{t}` is not a finite non-negative number")),
        Err(_) => Err(format!("price `{t}` is not a number")),
    }
}

/// Shortens text quoted in a message so an error about a 1 MB line stays readable.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let s: String = text.chars().take(MAX).collect();
        format!("{s}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_source_line_and_reason() {
        let e = LoadError::at("a.csv", 3, "bad time");
        assert_eq!(e.to_string(), "a.csv, line 3: bad time");
        assert_eq!(
            LoadError::whole("a.csv", "empty").to_string(),
            "a.csv: empty"
        );
    }

    #[test]
    fn invalid_utf8_names_its_line() {
        let e = text_of(b"ok\nok\n\xff\n", "x").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(text_of(b"\xEF\xBB\xBFhi", "x").unwrap(), "hi");
    }

    #[test]
    fn prices_must_be_finite_and_non_negative() {
        assert_eq!(parse_price(" 0.0370 "), Ok(0.037));
        assert!(parse_price("NaN").is_err());
        assert!(parse_price("-1").is_err());
        assert!(parse_price("inf").is_err());
        assert!(parse_price("abc").is_err());
    }
}
