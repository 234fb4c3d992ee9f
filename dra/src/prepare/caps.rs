//! What a container gets (a CDI device entry) and where its MIG device nodes come from: the
//! driver's capability files (`/proc/driver/nvidia/capabilities/gpu<M>/mig/gi<G>[/ci<C>]/access`),
//! or the simulated driver's.

use std::path::PathBuf;

use gpupart_mig::backend::Backend;
use serde::{Deserialize, Serialize};

/// One device a container gets, as a CDI `devices[]` entry: its name and its device nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CdiDevice {
    /// `<claim UID>-<device>`, unique per claim and device.
    pub name: String,
    /// `containerEdits.deviceNodes[].path`.
    pub device_nodes: Vec<String>,
}

/// Where the driver says which device node grants access to a MIG instance.
pub trait MigCaps {
    /// The minor of `/dev/nvidia-caps/nvidia-cap<N>` for GPU instance `gi` of GPU `minor`.
    ///
    /// # Errors
    /// When the capability is not there (no such instance).
    fn gi_minor(&self, minor: u32, gi: u32) -> Result<u32, String>;
    /// The same for compute instance `ci` of `gi`.
    ///
    /// # Errors
    /// As [`MigCaps::gi_minor`].
    fn ci_minor(&self, minor: u32, gi: u32, ci: u32) -> Result<u32, String>;
}

/// `DeviceFileMinor: N` of a capability's `access` file.
///
/// # Errors
/// When no such line holds a decimal number.
pub fn parse_access(text: &str) -> Result<u32, String> {
    text.lines()
        .find_map(|l| l.strip_prefix("DeviceFileMinor:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            format!(
                "{:?}: expected a line `DeviceFileMinor: N`",
                text.chars().take(80).collect::<String>()
            )
        })
}

/// The driver's capability files under a procfs root (`/proc`).
#[derive(Debug, Clone)]
pub struct ProcCaps {
    root: PathBuf,
}

impl ProcCaps {
    /// Under `root` (`/proc` on a host).
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ProcCaps { root: root.into() }
    }

    fn read(&self, rel: &str) -> Result<u32, String> {
        let p = self
            .root
            .join("driver/nvidia/capabilities")
            .join(rel)
            .join("access");
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        parse_access(&text).map_err(|e| format!("{}: {e}", p.display()))
    }
}

impl MigCaps for ProcCaps {
    fn gi_minor(&self, minor: u32, gi: u32) -> Result<u32, String> {
        self.read(&format!("gpu{minor}/mig/gi{gi}"))
    }

    fn ci_minor(&self, minor: u32, gi: u32, ci: u32) -> Result<u32, String> {
        self.read(&format!("gpu{minor}/mig/gi{gi}/ci{ci}"))
    }
}

/// The simulated driver's capability files: present exactly for the instances that exist on
/// `nvml`, with minors the simulator numbers (`gi`: 1 + 1000·GPU + 10·GI; `ci`: that + 1 +
/// CI).
pub struct SimCaps<'a> {
    nvml: &'a dyn Backend,
}

impl<'a> SimCaps<'a> {
    /// Over `nvml`.
    #[must_use]
    pub fn new(nvml: &'a dyn Backend) -> Self {
        SimCaps { nvml }
    }
}

impl MigCaps for SimCaps<'_> {
    fn gi_minor(&self, minor: u32, gi: u32) -> Result<u32, String> {
        let gis = self.nvml.gpu_instances(minor).map_err(|e| e.to_string())?;
        if gis.iter().any(|x| x.id == gi) {
            Ok(1 + 1000 * minor + 10 * gi)
        } else {
            Err(format!("gpu{minor}/mig/gi{gi}/access: no such file"))
        }
    }

    fn ci_minor(&self, minor: u32, gi: u32, ci: u32) -> Result<u32, String> {
        let cis = self
            .nvml
            .compute_instances(minor, gi)
            .map_err(|e| e.to_string())?;
        if cis.iter().any(|x| x.id == ci) {
            Ok(2 + 1000 * minor + 10 * gi + ci)
        } else {
            Err(format!("gpu{minor}/mig/gi{gi}/ci{ci}/access: no such file"))
        }
    }
}
