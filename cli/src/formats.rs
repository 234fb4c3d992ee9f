//! The command's own file formats, checked from text as the commands read them: a requests
//! file and a fleet file (`gpupart solve -f`, `--fleet`), a hooks file (`-k`), a checkpoint
//! (`mig checkpoint|restore -f`) and a simulated host's state (`--sim-state`). Any text is
//! taken without panicking; a refusal says what is wrong. For fuzzing, and for tools that
//! check a file before handing it over.

use std::path::Path;

/// Checks a requests file's text (`json`: as JSON, otherwise YAML); how many requests.
///
/// # Errors
/// What is wrong, naming the value.
pub fn check_requests(text: &str, json: bool) -> Result<usize, String> {
    let name = Path::new(if json { "f.json" } else { "f.yaml" });
    crate::solve::requests_from_text(name, text).map(|r| r.len())
}

/// Checks a fleet file's text; how many GPUs.
///
/// # Errors
/// What is wrong, naming the GPU and the value.
pub fn check_fleet(text: &str, json: bool) -> Result<usize, String> {
    let name = Path::new(if json { "f.json" } else { "f.yaml" });
    crate::solve::fleet_from_text(name, text).map(|f| f.gpus().len())
}

/// Checks a hooks file's text.
///
/// # Errors
/// What is wrong.
pub fn check_hooks(text: &str) -> Result<(), String> {
    crate::hooks::Hooks::from_text(text).map(|_| ())
}

/// Checks a checkpoint's text.
///
/// # Errors
/// What is wrong.
pub fn check_checkpoint(text: &str) -> Result<(), String> {
    crate::checkpoint::from_text(text).map(|_| ())
}

/// Checks a simulated host's state (its NVML side, replayed into a fresh simulator, which
/// refuses a state no host reaches).
///
/// # Errors
/// What is wrong.
pub fn check_sim_state(text: &str) -> Result<(), String> {
    crate::host::load_text(text)
        .map(|_| ())
        .map_err(|f| f.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_and_bad_text() {
        assert_eq!(
            check_requests("- profile: 3g.20gb\n  count: 2\n", false),
            Ok(1)
        );
        assert!(check_requests("[{\"profile\": \"3g.20xb\", \"count\": 1}]", true).is_err());
        assert!(check_fleet("- index: 0\n  model: a100-40gb\n", false).is_ok());
        assert!(check_hooks("version: v2\n").is_err());
        assert!(check_checkpoint("{}").is_err());
        assert!(check_sim_state("{\"version\": 1, \"host\": \"nope\", \"gpus\": []}").is_err());
    }
}
