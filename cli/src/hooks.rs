//! nvidia-mig-parted's hooks file: commands run at four points of an apply, each given the
//! apply's flags as environment variables (`MIG_PARTED_CONFIG_FILE`, …), as mig-parted does.
//!
//! ```yaml
//! version: v1
//! hooks:
//!   pre-apply-mode:
//!   - workdir: /etc/nvidia-mig-manager
//!     command: /bin/bash
//!     args: ["-c", "source hooks.sh; stop_driver_services"]
//!     envs: {EXTRA: "1"}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::failure::Failure;
use crate::input::read_limited;

/// The most a hooks file may hold.
const MAX_HOOKS_BYTES: u64 = 1 << 20;

/// The points of an apply at which hooks run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Point {
    /// Before anything.
    ApplyStart,
    /// Before the MIG mode changes (only when it must).
    PreApplyMode,
    /// Before the MIG devices change (only when they must).
    PreApplyConfig,
    /// At the end, whether the apply succeeded or not.
    ApplyExit,
}

impl Point {
    /// The key in the hooks file.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Point::ApplyStart => "apply-start",
            Point::PreApplyMode => "pre-apply-mode",
            Point::PreApplyConfig => "pre-apply-config",
            Point::ApplyExit => "apply-exit",
        }
    }
}

/// A hooks file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Hooks {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    hooks: BTreeMap<String, Vec<Hook>>,
}

/// One command.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hook {
    command: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    envs: BTreeMap<String, String>,
    #[serde(default)]
    workdir: Option<PathBuf>,
}

impl Hooks {
    /// The hooks of `-k FILE`, none without it.
    pub(crate) fn load_opt(path: Option<&Path>) -> Result<Hooks, Failure> {
        path.map_or_else(|| Ok(Hooks::default()), Hooks::load)
    }

    /// Reads and checks a hooks file: version `v1`, only the four known points.
    pub(crate) fn load(path: &Path) -> Result<Hooks, Failure> {
        let bad = |m: String| Failure::Input(format!("hooks file {}: {m}", path.display()));
        let text = read_limited(path, MAX_HOOKS_BYTES).map_err(bad)?;
        Hooks::from_text(&text).map_err(bad)
    }

    /// A hooks file's text, checked: version `v1`, only the four known points.
    pub(crate) fn from_text(text: &str) -> Result<Hooks, String> {
        let bad = |m: String| m;
        let hooks: Hooks = serde_saphyr::from_str(text).map_err(|e| bad(e.to_string()))?;
        if let Some(v) = hooks.version.as_deref().filter(|v| *v != "v1") {
            return Err(bad(format!(
                "version {} (expected v1)",
                gpupart_profiles::text::quote(v)
            )));
        }
        let known = [
            Point::ApplyStart,
            Point::PreApplyMode,
            Point::PreApplyConfig,
            Point::ApplyExit,
        ];
        if let Some(k) = hooks
            .hooks
            .keys()
            .find(|k| !known.iter().any(|p| p.key() == k.as_str()))
        {
            return Err(bad(format!(
                "unknown hook {} (expected apply-start, pre-apply-mode, pre-apply-config or apply-exit)",
                gpupart_profiles::text::quote(k)
            )));
        }
        Ok(hooks)
    }

    /// Runs the commands of `point` in order with `env` (the apply's flags) and each hook's
    /// own `envs`; the first that fails stops them.
    pub(crate) fn run(
        &self,
        point: Point,
        env: &[(&str, String)],
        debug: bool,
    ) -> Result<(), Failure> {
        for hook in self.hooks.get(point.key()).into_iter().flatten() {
            if debug {
                eprintln!(
                    "running {} hook: {} {:?}",
                    point.key(),
                    hook.command,
                    hook.args
                );
            }
            let mut cmd = Command::new(&hook.command);
            cmd.args(&hook.args);
            for (k, v) in env {
                cmd.env(k, v);
            }
            cmd.envs(&hook.envs);
            if let Some(dir) = &hook.workdir {
                cmd.current_dir(dir);
            }
            let status = cmd.status().map_err(|e| {
                Failure::Failed(format!(
                    "error running {} hook {}: {e}",
                    point.key(),
                    gpupart_profiles::text::quote(&hook.command)
                ))
            })?;
            if !status.success() {
                return Err(Failure::Failed(format!(
                    "error running {} hook {}: {status}",
                    point.key(),
                    gpupart_profiles::text::quote(&hook.command)
                )));
            }
        }
        Ok(())
    }
}
