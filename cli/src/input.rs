//! Reading the files a user hands the command: bounded, so that a huge or endless file
//! (`/dev/zero`) is refused instead of read, and parsed as JSON or YAML by its name.

use std::io::Read;
use std::path::Path;

use serde::de::DeserializeOwned;

/// The text of `path`, refused when it holds more than `limit` bytes.
///
/// # Errors
/// The OS error, or `larger than LIMIT bytes`.
pub(crate) fn read_limited(path: &Path, limit: u64) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    file.take(limit + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    Ok(text)
}

/// `text` as JSON when `path` ends in `.json`, as YAML otherwise.
///
/// # Errors
/// The parser's message (with line and column).
pub(crate) fn parse_by_name<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, String> {
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }
}
