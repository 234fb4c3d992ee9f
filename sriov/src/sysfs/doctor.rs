//! The doctor: what stops SR-IOV and vGPU on a host, one finding per problem.

use super::*;

/// One finding of [`Sysfs::doctor`].
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// `kernel/iommu_groups` is empty: VFs cannot be passed to VMs.
    NoIommu,
    /// No NVIDIA GPU (vendor 0x10de, class 0x0300/0x0302, function 0) was found.
    NoNvidiaGpu,
    /// The GPU has no SR-IOV capability.
    NoSriovCapability(PciAddress),
    /// The GPU has the capability but `sriov_totalvfs` is 0.
    ZeroTotalVfs(PciAddress),
    /// No driver is bound to the GPU, so VFs cannot be enabled (the kernel answers ENOENT).
    NoDriver(PciAddress),
    /// The GPU can have VFs: how many, and how many it has.
    SriovReady {
        /// The GPU.
        gpu: PciAddress,
        /// `sriov_totalvfs`.
        total_vfs: u16,
        /// `sriov_numvfs`.
        num_vfs: u16,
    },
    /// Which vGPU interface the driver offers, if any.
    Vgpu(Option<VgpuInterface>),
    /// `sriov_numvfs` is above `sriov_totalvfs`: no kernel reports that; the tree is damaged
    /// or not the kernel's.
    ImpossibleVfCount {
        /// The GPU.
        gpu: PciAddress,
        /// `sriov_totalvfs`.
        total_vfs: u16,
        /// `sriov_numvfs`.
        num_vfs: u16,
    },
    /// An attribute could not be read or held something unexpected; the rest of the report
    /// goes on without it.
    Unreadable {
        /// The device, where the file belongs to one.
        device: Option<PciAddress>,
        /// The file.
        file: Option<PathBuf>,
        /// What it held (cut short), where it could be read.
        value: Option<String>,
        /// What was expected, or the error.
        reason: String,
    },
}

impl Finding {
    /// The finding for a device whose attribute could not be read or parsed.
    fn unreadable(device: PciAddress, e: &Error) -> Finding {
        let (value, reason) = match e {
            Error::Value { problem, .. } => {
                (Some(problem.value.clone()), problem.expected.to_owned())
            }
            Error::Io { io, .. } => (None, io.to_string()),
            other => (None, other.to_string()),
        };
        Finding::Unreadable {
            device: Some(device),
            file: error_path(e),
            value,
            reason,
        }
    }

    /// Whether this finding stops SR-IOV use.
    #[must_use]
    pub fn is_problem(&self) -> bool {
        !matches!(self, Finding::SriovReady { .. } | Finding::Vgpu(_))
    }
}

impl core::fmt::Display for Finding {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Finding::NoIommu => f.write_str("no IOMMU groups: enable VT-d / AMD-Vi in the firmware and boot with intel_iommu=on (or amd_iommu=on) iommu=pt"),
            Finding::NoNvidiaGpu => f.write_str("no NVIDIA GPU (vendor 0x10de, class 0x0300 or 0x0302, function 0) on this host"),
            Finding::NoSriovCapability(a) => write!(f, "{a}: the GPU has no SR-IOV capability (a passthrough GPU in a VM, or a board without SR-IOV); VFs cannot be made here"),
            Finding::ZeroTotalVfs(a) => write!(f, "{a}: sriov_totalvfs is 0; the firmware or driver offers no VFs"),
            Finding::NoDriver(a) => write!(f, "{a}: no driver is bound; load the NVIDIA driver before enabling VFs"),
            Finding::SriovReady { gpu, total_vfs, num_vfs } => write!(f, "{gpu}: SR-IOV ready, {num_vfs} of {total_vfs} VFs enabled"),
            Finding::Vgpu(None) => f.write_str("no vGPU interface (no mdev parents, no nvidia/creatable_vgpu_types)"),
            Finding::Vgpu(Some(VgpuInterface::Mdev)) => f.write_str("vGPU through mdev (mdev_supported_types)"),
            Finding::Vgpu(Some(VgpuInterface::NvidiaVendor)) => f.write_str("vGPU through NVIDIA's vendor interface (nvidia/creatable_vgpu_types)"),
            Finding::ImpossibleVfCount { gpu, total_vfs, num_vfs } => write!(f, "{gpu}: sriov_numvfs is {num_vfs} but sriov_totalvfs is {total_vfs}; no kernel reports that (a damaged or hand-made sysfs tree)"),
            Finding::Unreadable { device, file, value, reason } => {
                if let Some(d) = device {
                    write!(f, "{d}: ")?;
                }
                match file {
                    Some(p) => write!(f, "cannot use {}", p.display())?,
                    None => f.write_str("cannot read sysfs")?,
                }
                if let Some(v) = value {
                    write!(f, " (it holds {v:?})")?;
                }
                write!(f, ": {reason}; the rest of the report goes on without it")
            }
            #[allow(unreachable_patterns)]
            _ => f.write_str("unknown finding"),
        }
    }
}

/// The sysfs file an error is about.
fn error_path(e: &Error) -> Option<PathBuf> {
    match e {
        Error::Io { path, .. } | Error::Value { path, .. } => Some(path.clone()),
        _ => None,
    }
}

impl Sysfs {
    /// What stops SR-IOV and vGPU on this host, in words a person can act on.
    ///
    /// # Errors
    /// [`Error::Io`] when `bus/pci/devices` cannot be read.
    pub fn doctor(&self) -> Result<Vec<Finding>, Error> {
        let mut out = Vec::new();
        let groups = self
            .io
            .read_dir(Path::new("kernel/iommu_groups"))
            .unwrap_or_default();
        if groups.is_empty() {
            out.push(Finding::NoIommu);
        }
        let mut gpus = 0usize;
        for a in self.pci_devices()? {
            if a.function() != 0 {
                continue;
            }
            // One unreadable attribute is that device's finding; the report goes on.
            let vendor = match self.parsed(&dev_path(a).join("vendor"), parse::hex_u16_prefixed) {
                Ok(v) => v,
                Err(e) => {
                    out.push(Finding::unreadable(a, &e));
                    continue;
                }
            };
            if vendor != NVIDIA_VENDOR {
                continue;
            }
            let g = match self.device(a) {
                Ok(g) if g.is_nvidia_gpu() => g,
                Ok(_) => continue,
                Err(e) => {
                    gpus += 1;
                    out.push(Finding::unreadable(a, &e));
                    continue;
                }
            };
            gpus += 1;
            match g.sriov {
                None => out.push(Finding::NoSriovCapability(g.address)),
                Some(s) if s.total_vfs == 0 => out.push(Finding::ZeroTotalVfs(g.address)),
                Some(s) if s.num_vfs > s.total_vfs => out.push(Finding::ImpossibleVfCount {
                    gpu: g.address,
                    total_vfs: s.total_vfs,
                    num_vfs: s.num_vfs,
                }),
                Some(s) => {
                    if g.driver.is_none() {
                        out.push(Finding::NoDriver(g.address));
                    }
                    out.push(Finding::SriovReady {
                        gpu: g.address,
                        total_vfs: s.total_vfs,
                        num_vfs: s.num_vfs,
                    });
                }
            }
        }
        if gpus == 0 {
            out.push(Finding::NoNvidiaGpu);
        }
        match self.vgpu_interface() {
            Ok(v) => out.push(Finding::Vgpu(v)),
            Err(e) => out.push(Finding::Unreadable {
                device: None,
                file: error_path(&e),
                value: None,
                reason: e.to_string(),
            }),
        }
        Ok(out)
    }
}
