#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Running the built `gpupart` binary.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// NVIDIA's default mig-parted configuration (origin in mig/fixtures/ORIGINS.md).
pub fn default_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mig/fixtures/mig-parted-config-default.yaml")
}

/// A fresh, empty scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gpupart-cli-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The binary, with no gpupart or mig-parted variables inherited from the caller.
pub fn gpupart() -> Command {
    command(Path::new(env!("CARGO_BIN_EXE_gpupart")))
}

/// The binary under another path (a symlink named `nvidia-mig-parted`).
pub fn command(bin: &Path) -> Command {
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("MIG_PARTED_") || k.starts_with("GPUPART_") {
            c.env_remove(k);
        }
    }
    c
}

/// A symlink named `nvidia-mig-parted` to the binary, in `dir`.
pub fn mig_parted_link(dir: &Path) -> PathBuf {
    let link = dir.join("nvidia-mig-parted");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gpupart"), &link).unwrap();
    link
}

/// Runs and returns (status, stdout, stderr).
pub fn run(c: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// `gpupart --sim-state STATE [--sim HOST] ARGS…`.
pub fn on_state(state: &Path, sim: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut c = gpupart();
    c.arg("--sim-state").arg(state);
    if let Some(s) = sim {
        c.args(["--sim", s]);
    }
    c.args(args);
    run(&mut c)
}
