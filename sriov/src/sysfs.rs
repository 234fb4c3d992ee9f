//! Typed access to PCI sysfs: devices, SR-IOV, VF binding, mdev and NVIDIA's vGPU interface.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::io::{RealFs, SysfsIo, errno};
use crate::mdev::{MdevType, MdevUuid, VgpuInterface};
use crate::parse::{self, CpuList, ValueError, VgpuType};
use crate::sim::SimulatedSysfs;
use crate::{Error, PciAddress};

/// NVIDIA's PCI vendor ID.
pub const NVIDIA_VENDOR: u16 = 0x10de;

/// What the kernel reports about one PCI function.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct PciDevice {
    /// The address.
    pub address: PciAddress,
    /// `vendor`.
    pub vendor: u16,
    /// `device`.
    pub device: u16,
    /// `subsystem_vendor`, where present.
    pub subsystem_vendor: Option<u16>,
    /// `subsystem_device`, where present.
    pub subsystem_device: Option<u16>,
    /// `class` (24 bits: class, subclass, programming interface).
    pub class: u32,
    /// The bound driver (`driver` link), if any.
    pub driver: Option<String>,
    /// `numa_node` (`None` for `-1` or absent).
    pub numa_node: Option<u32>,
    /// `local_cpulist` (empty where absent).
    pub local_cpus: CpuList,
    /// The IOMMU group (`iommu_group` link), if any.
    pub iommu_group: Option<u32>,
    /// SR-IOV state, when the function is a physical function with the capability.
    pub sriov: Option<SriovInfo>,
    /// The physical function (`physfn` link), when this is a VF.
    pub physfn: Option<PciAddress>,
}

impl PciDevice {
    /// Whether this is an NVIDIA GPU as `sriov-manage -e ALL` selects them: vendor 0x10de,
    /// class 0x0300 (VGA) or 0x0302 (3D controller), function 0.
    #[must_use]
    pub fn is_nvidia_gpu(&self) -> bool {
        self.vendor == NVIDIA_VENDOR
            && matches!(self.class >> 8, 0x0300 | 0x0302)
            && self.address.function() == 0
            && self.physfn.is_none()
    }
}

/// SR-IOV attributes of a physical function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SriovInfo {
    /// `sriov_totalvfs`.
    pub total_vfs: u16,
    /// `sriov_numvfs`.
    pub num_vfs: u16,
    /// `sriov_offset` (routing-ID offset of VF 0).
    pub offset: u16,
    /// `sriov_stride`.
    pub stride: u16,
    /// `sriov_vf_device` (printed by the kernel as hex without `0x`).
    pub vf_device: u16,
    /// `sriov_drivers_autoprobe`.
    pub drivers_autoprobe: bool,
}

/// How [`Sysfs::enable_vfs`] may act and how long it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnableOptions {
    /// When VFs are enabled already and a different non-zero count is asked, write 0 first.
    /// That removes every VF and whatever uses them, so it is off unless asked.
    pub allow_disruption: bool,
    /// With autoprobe on, also wait until every VF has a driver.
    pub wait_for_drivers: bool,
    /// How long to wait for the VFs (and their drivers) to appear or go.
    pub timeout: Duration,
    /// Time between polls.
    pub poll: Duration,
}

impl Default for EnableOptions {
    fn default() -> Self {
        EnableOptions {
            allow_disruption: false,
            wait_for_drivers: true,
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(10),
        }
    }
}

impl EnableOptions {
    /// Allow writing 0 first when a different count is enabled.
    #[must_use]
    pub fn allow_disruption(mut self, allow: bool) -> Self {
        self.allow_disruption = allow;
        self
    }

    /// Whether to wait for VF drivers when autoprobe is on.
    #[must_use]
    pub fn wait_for_drivers(mut self, wait: bool) -> Self {
        self.wait_for_drivers = wait;
        self
    }

    /// The timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// What [`Sysfs::enable_vfs`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VfReport {
    /// The physical function.
    pub pf: PciAddress,
    /// VFs asked for.
    pub requested: u16,
    /// VFs enabled now (re-read; a driver may enable fewer than asked and still succeed).
    pub enabled: u16,
    /// Whether anything was written (`false` when the count was already right).
    pub changed: bool,
    /// The VFs, by index.
    pub vfs: Vec<PciAddress>,
}

/// One finding of [`Sysfs::doctor`].
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

/// The sysfs file an error is about.
fn error_path(e: &Error) -> Option<PathBuf> {
    match e {
        Error::Io { path, .. } | Error::Value { path, .. } => Some(path.clone()),
        _ => None,
    }
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

/// A mediated device.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mdev {
    /// Its UUID.
    pub uuid: MdevUuid,
    /// The parent device.
    pub parent: PciAddress,
    /// The type directory name.
    pub mdev_type: String,
}

/// PCI sysfs under a root (`/sys` on a host). Every path is built from typed values.
#[derive(Clone)]
pub struct Sysfs {
    io: Arc<dyn SysfsIo>,
    label: PathBuf,
}

impl core::fmt::Debug for Sysfs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sysfs").field("root", &self.label).finish()
    }
}

fn dev_path(a: PciAddress) -> PathBuf {
    PathBuf::from(format!("bus/pci/devices/{a}"))
}

fn last_component(p: &Path) -> Option<String> {
    p.file_name().map(|s| s.to_string_lossy().into_owned())
}

impl Sysfs {
    /// The host's `/sys`.
    #[must_use]
    pub fn system() -> Self {
        Self::at("/sys")
    }

    /// A sysfs tree under `root`.
    #[must_use]
    pub fn at(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Sysfs {
            io: Arc::new(RealFs::new(root.clone())),
            label: root,
        }
    }

    /// The simulator.
    #[must_use]
    pub fn simulated(sim: SimulatedSysfs) -> Self {
        Sysfs {
            io: Arc::new(sim),
            label: PathBuf::from("/sys"),
        }
    }

    /// Any I/O implementation; `label` is the root shown in errors.
    #[must_use]
    pub fn with_io(io: Arc<dyn SysfsIo>, label: impl Into<PathBuf>) -> Self {
        Sysfs {
            io,
            label: label.into(),
        }
    }

    /// The root shown in paths of errors.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.label
    }

    fn full(&self, rel: &Path) -> PathBuf {
        self.label.join(rel)
    }

    fn io_err(&self, rel: &Path, e: io::Error) -> Error {
        Error::Io {
            path: self.full(rel),
            io: Arc::new(e),
        }
    }

    fn read(&self, rel: &Path) -> Result<String, Error> {
        self.io.read(rel).map_err(|e| self.io_err(rel, e))
    }

    fn read_opt(&self, rel: &Path) -> Result<Option<String>, Error> {
        match self.io.read(rel) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_err(rel, e)),
        }
    }

    fn parsed<T>(&self, rel: &Path, f: impl Fn(&str) -> Result<T, ValueError>) -> Result<T, Error> {
        let text = self.read(rel)?;
        f(&text).map_err(|problem| Error::Value {
            path: self.full(rel),
            problem,
        })
    }

    fn parsed_opt<T>(
        &self,
        rel: &Path,
        f: impl Fn(&str) -> Result<T, ValueError>,
    ) -> Result<Option<T>, Error> {
        match self.read_opt(rel)? {
            None => Ok(None),
            Some(text) => f(&text).map(Some).map_err(|problem| Error::Value {
                path: self.full(rel),
                problem,
            }),
        }
    }

    fn link_name(&self, rel: &Path) -> Result<Option<String>, Error> {
        match self.io.read_link(rel) {
            Ok(t) => Ok(last_component(&t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_err(rel, e)),
        }
    }

    fn link_address(&self, rel: &Path) -> Result<Option<PciAddress>, Error> {
        match self.link_name(rel)? {
            None => Ok(None),
            Some(name) => name.parse().map(Some).map_err(|_| Error::Value {
                path: self.full(rel),
                problem: ValueError {
                    value: name,
                    expected: "a link to a PCI device",
                },
            }),
        }
    }

    fn write(&self, rel: &Path, value: &str) -> Result<(), Error> {
        self.io.write(rel, value).map_err(|e| Error::Write {
            path: self.full(rel),
            value: value.to_owned(),
            errno: e.raw_os_error().unwrap_or(0),
            meaning: errno_meaning(e.raw_os_error()),
        })
    }

    /// Every PCI function (`bus/pci/devices`), sorted by address.
    ///
    /// # Errors
    /// [`Error::Io`] when the directory cannot be read; entries that are not PCI addresses are
    /// skipped.
    pub fn pci_devices(&self) -> Result<Vec<PciAddress>, Error> {
        let rel = Path::new("bus/pci/devices");
        let names = self.io.read_dir(rel).map_err(|e| self.io_err(rel, e))?;
        let mut v: Vec<PciAddress> = names.iter().filter_map(|n| n.parse().ok()).collect();
        v.sort_unstable();
        Ok(v)
    }

    /// What the kernel reports about the function at `address`.
    ///
    /// # Errors
    /// [`Error::NoSuchDevice`] when it is not there; [`Error::Io`] or [`Error::Value`] when
    /// an attribute cannot be read or parsed.
    pub fn device(&self, address: PciAddress) -> Result<PciDevice, Error> {
        let d = dev_path(address);
        if !self.io.exists(&d) {
            return Err(Error::NoSuchDevice { address });
        }
        Ok(PciDevice {
            address,
            vendor: self.parsed(&d.join("vendor"), parse::hex_u16_prefixed)?,
            device: self.parsed(&d.join("device"), parse::hex_u16_prefixed)?,
            subsystem_vendor: self
                .parsed_opt(&d.join("subsystem_vendor"), parse::hex_u16_prefixed)?,
            subsystem_device: self
                .parsed_opt(&d.join("subsystem_device"), parse::hex_u16_prefixed)?,
            class: self.parsed(&d.join("class"), parse::class_code)?,
            driver: self.link_name(&d.join("driver"))?,
            numa_node: self
                .parsed_opt(&d.join("numa_node"), parse::numa_node)?
                .flatten(),
            local_cpus: self
                .parsed_opt(&d.join("local_cpulist"), |s| s.parse::<CpuList>())?
                .unwrap_or_default(),
            iommu_group: self
                .link_name(&d.join("iommu_group"))?
                .and_then(|g| g.parse().ok()),
            sriov: self.sriov(address)?,
            physfn: self.link_address(&d.join("physfn"))?,
        })
    }

    /// The SR-IOV attributes of `pf`, or `None` when it has no SR-IOV capability.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Value`] when an attribute cannot be read or parsed.
    pub fn sriov(&self, pf: PciAddress) -> Result<Option<SriovInfo>, Error> {
        let d = dev_path(pf);
        let count = |s: &str| {
            parse::decimal(s).and_then(|v| {
                u16::try_from(v).map_err(|_| ValueError {
                    value: s.trim().to_owned(),
                    expected: "a count below 65536",
                })
            })
        };
        let Some(total_vfs) = self.parsed_opt(&d.join("sriov_totalvfs"), count)? else {
            return Ok(None);
        };
        Ok(Some(SriovInfo {
            total_vfs,
            num_vfs: self.parsed(&d.join("sriov_numvfs"), count)?,
            offset: self.parsed(&d.join("sriov_offset"), count)?,
            stride: self.parsed(&d.join("sriov_stride"), count)?,
            vf_device: self.parsed(&d.join("sriov_vf_device"), parse::hex_u16_bare)?,
            drivers_autoprobe: self.parsed(&d.join("sriov_drivers_autoprobe"), parse::switch)?,
        }))
    }

    /// The VFs of `pf` from its `virtfnN` links, by index, stopping at the first missing one.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Value`] when a link cannot be read or does not name a PCI
    /// device.
    pub fn virtual_functions(&self, pf: PciAddress) -> Result<Vec<PciAddress>, Error> {
        let d = dev_path(pf);
        let mut v = Vec::new();
        for k in 0..=u16::MAX {
            match self.link_address(&d.join(format!("virtfn{k}")))? {
                Some(a) => v.push(a),
                None => break,
            }
        }
        Ok(v)
    }

    /// NVIDIA GPUs: vendor 0x10de, class 0x0300 or 0x0302, function 0, not a VF.
    ///
    /// # Errors
    /// As [`Sysfs::pci_devices`] and [`Sysfs::device`].
    pub fn nvidia_gpus(&self) -> Result<Vec<PciDevice>, Error> {
        let mut out = Vec::new();
        for a in self.pci_devices()? {
            if a.function() != 0 {
                continue;
            }
            let vendor = self.read(&dev_path(a).join("vendor"))?;
            if parse::hex_u16_prefixed(&vendor).ok() != Some(NVIDIA_VENDOR) {
                continue;
            }
            let dev = self.device(a)?;
            if dev.is_nvidia_gpu() {
                out.push(dev);
            }
        }
        Ok(out)
    }

    /// Enables `count` VFs on `pf`, following the kernel's contract (`sriov_numvfs_store` in
    /// `drivers/pci/iov.c`): what can be checked is checked before writing; an equal count is
    /// a no-op; a different non-zero count while VFs are enabled is refused unless
    /// [`EnableOptions::allow_disruption`], and then 0 is written first. After the write the
    /// count is re-read (a driver may enable fewer and still succeed), and the call waits until
    /// every `virtfnN` link, and with autoprobe on every VF's driver, is there.
    ///
    /// # Errors
    /// [`Error::NoSuchDevice`], [`Error::NoSriov`], [`Error::TooManyVfs`] (ERANGE),
    /// [`Error::NoDriver`] / [`Error::NoSriovConfigure`] (ENOENT), [`Error::VfsEnabled`]
    /// (EBUSY), [`Error::MmioExhausted`] (ENOMEM), [`Error::Write`] for other errnos
    /// (EACCES/EPERM when not root), [`Error::Timeout`] when the VFs do not appear in time.
    #[doc(alias = "sriov_numvfs")]
    pub fn enable_vfs(
        &self,
        pf: PciAddress,
        count: u16,
        options: &EnableOptions,
    ) -> Result<VfReport, Error> {
        let dev = self.device(pf)?;
        let info = dev.sriov.ok_or(Error::NoSriov { address: pf })?;
        if count > info.total_vfs {
            return Err(Error::TooManyVfs {
                address: pf,
                requested: count,
                total: info.total_vfs,
            });
        }
        if count == info.num_vfs {
            return Ok(VfReport {
                pf,
                requested: count,
                enabled: count,
                changed: false,
                vfs: self.virtual_functions(pf)?,
            });
        }
        if dev.driver.is_none() {
            return Err(Error::NoDriver { address: pf });
        }
        if count != 0 && info.num_vfs != 0 {
            if !options.allow_disruption {
                return Err(Error::VfsEnabled {
                    address: pf,
                    enabled: info.num_vfs,
                    requested: count,
                });
            }
            self.write_numvfs(pf, 0, dev.driver.as_deref())?;
            self.wait(
                pf,
                options,
                |s| Ok(s.virtual_functions(pf)?.is_empty()),
                "VFs to go",
            )?;
        }
        self.write_numvfs(pf, count, dev.driver.as_deref())?;
        let enabled = self.sriov(pf)?.map_or(0, |s| s.num_vfs);
        let want_drivers = info.drivers_autoprobe && options.wait_for_drivers && count > 0;
        self.wait(
            pf,
            options,
            |s| {
                let vfs = s.virtual_functions(pf)?;
                if vfs.len() != usize::from(enabled) {
                    return Ok(false);
                }
                if want_drivers {
                    for vf in vfs {
                        if s.link_name(&dev_path(vf).join("driver"))?.is_none() {
                            return Ok(false);
                        }
                    }
                }
                Ok(true)
            },
            if want_drivers {
                "VFs and their drivers"
            } else {
                "VF links"
            },
        )?;
        Ok(VfReport {
            pf,
            requested: count,
            enabled,
            changed: true,
            vfs: self.virtual_functions(pf)?,
        })
    }

    /// Disables every VF of `pf` (writes 0; the kernel takes about a second) and waits until
    /// the links are gone.
    ///
    /// # Errors
    /// As [`Sysfs::enable_vfs`].
    pub fn disable_vfs(&self, pf: PciAddress, options: &EnableOptions) -> Result<VfReport, Error> {
        self.enable_vfs(pf, 0, options)
    }

    fn write_numvfs(&self, pf: PciAddress, count: u16, driver: Option<&str>) -> Result<(), Error> {
        let rel = dev_path(pf).join("sriov_numvfs");
        self.io
            .write(&rel, &format!("{count}\n"))
            .map_err(|e| match e.raw_os_error() {
                Some(errno::ERANGE) => Error::TooManyVfs {
                    address: pf,
                    requested: count,
                    total: self.sriov(pf).ok().flatten().map_or(0, |s| s.total_vfs),
                },
                Some(errno::ENOENT) => match driver {
                    Some(d) => Error::NoSriovConfigure {
                        address: pf,
                        driver: d.to_owned(),
                    },
                    None => Error::NoDriver { address: pf },
                },
                Some(errno::EBUSY) => Error::VfsEnabled {
                    address: pf,
                    enabled: self.sriov(pf).ok().flatten().map_or(0, |s| s.num_vfs),
                    requested: count,
                },
                Some(errno::ENOMEM) => Error::MmioExhausted {
                    address: pf,
                    requested: count,
                },
                code => Error::Write {
                    path: self.full(&rel),
                    value: count.to_string(),
                    errno: code.unwrap_or(0),
                    meaning: errno_meaning(code),
                },
            })
    }

    fn wait(
        &self,
        pf: PciAddress,
        options: &EnableOptions,
        done: impl Fn(&Self) -> Result<bool, Error>,
        what: &'static str,
    ) -> Result<(), Error> {
        let start = Instant::now();
        loop {
            if done(self)? {
                return Ok(());
            }
            if start.elapsed() >= options.timeout {
                return Err(Error::Timeout {
                    address: pf,
                    waiting_for: what,
                    after: options.timeout,
                });
            }
            std::thread::sleep(options.poll);
        }
    }

    /// Sets `sriov_drivers_autoprobe` of `pf`: whether VFs enabled from now on get a driver
    /// by themselves. It does not touch VFs that exist already.
    ///
    /// # Errors
    /// [`Error::NoSriov`] when `pf` has no SR-IOV capability; [`Error::Write`].
    pub fn set_drivers_autoprobe(&self, pf: PciAddress, on: bool) -> Result<(), Error> {
        if self.sriov(pf)?.is_none() {
            return Err(Error::NoSriov { address: pf });
        }
        self.write(
            &dev_path(pf).join("sriov_drivers_autoprobe"),
            if on { "1" } else { "0" },
        )
    }

    /// Unbinds `device` from its driver; returns the driver it had.
    ///
    /// # Errors
    /// [`Error::NoSuchDevice`]; [`Error::Write`].
    pub fn unbind(&self, device: PciAddress) -> Result<Option<String>, Error> {
        if !self.io.exists(&dev_path(device)) {
            return Err(Error::NoSuchDevice { address: device });
        }
        let Some(driver) = self.link_name(&dev_path(device).join("driver"))? else {
            return Ok(None);
        };
        let driver = parse::driver_name(&driver)
            .map_err(|problem| Error::Value {
                path: self.full(&dev_path(device).join("driver")),
                problem,
            })?
            .to_owned();
        self.write(
            &Path::new("bus/pci/drivers").join(&driver).join("unbind"),
            &device.to_string(),
        )?;
        Ok(Some(driver))
    }

    /// Binds `device` to `driver` (e.g. `vfio-pci`) the way the kernel documents for drivers
    /// that do not list the device: unbind it from its current driver, set `driver_override`,
    /// then `drivers_probe`. Checks that the driver is loaded first, and that the device got it.
    ///
    /// # Errors
    /// [`Error::InvalidName`] for a driver name with characters outside `[A-Za-z0-9_-]`;
    /// [`Error::NoSuchDriver`] when it is not loaded; [`Error::BindFailed`] when the device
    /// ends up without it; [`Error::Write`].
    pub fn bind(&self, device: PciAddress, driver: &str) -> Result<(), Error> {
        let driver = parse::driver_name(driver).map_err(|e| Error::InvalidName {
            kind: "driver",
            value: e.value,
            expected: e.expected,
        })?;
        if !self.io.exists(&Path::new("bus/pci/drivers").join(driver)) {
            return Err(Error::NoSuchDriver {
                driver: driver.to_owned(),
            });
        }
        let current = self.device(device)?.driver;
        if current.as_deref() == Some(driver) {
            return Ok(());
        }
        if current.is_some() {
            self.unbind(device)?;
        }
        self.write(&dev_path(device).join("driver_override"), driver)?;
        self.write(Path::new("bus/pci/drivers_probe"), &device.to_string())?;
        let now = self.link_name(&dev_path(device).join("driver"))?;
        if now.as_deref() != Some(driver) {
            return Err(Error::BindFailed {
                address: device,
                driver: driver.to_owned(),
                bound: now,
            });
        }
        Ok(())
    }

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

    /// Which vGPU interface the host offers: mdev parents present → [`VgpuInterface::Mdev`];
    /// a VF (or GPU) with `nvidia/creatable_vgpu_types` → [`VgpuInterface::NvidiaVendor`].
    ///
    /// # Errors
    /// [`Error::Io`] when `bus/pci/devices` cannot be read.
    pub fn vgpu_interface(&self) -> Result<Option<VgpuInterface>, Error> {
        if !self.mdev_parents()?.is_empty() {
            return Ok(Some(VgpuInterface::Mdev));
        }
        for a in self.pci_devices()? {
            if self
                .io
                .exists(&dev_path(a).join("nvidia/creatable_vgpu_types"))
            {
                return Ok(Some(VgpuInterface::NvidiaVendor));
            }
        }
        Ok(None)
    }

    /// mdev parents (`class/mdev_bus`).
    ///
    /// # Errors
    /// [`Error::Io`] other than a missing directory (no parents then).
    pub fn mdev_parents(&self) -> Result<Vec<PciAddress>, Error> {
        let rel = Path::new("class/mdev_bus");
        match self.io.read_dir(rel) {
            Ok(names) => Ok(names.iter().filter_map(|n| n.parse().ok()).collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.io_err(rel, e)),
        }
    }

    /// The mdev types `parent` offers.
    ///
    /// # Errors
    /// [`Error::NotMdevParent`]; [`Error::Io`]/[`Error::Value`].
    pub fn mdev_types(&self, parent: PciAddress) -> Result<Vec<MdevType>, Error> {
        let base = dev_path(parent).join("mdev_supported_types");
        let names = self
            .io
            .read_dir(&base)
            .map_err(|_| Error::NotMdevParent { address: parent })?;
        let mut out = Vec::new();
        for id in names {
            if parse::mdev_type_name(&id).is_err() {
                continue;
            }
            let t = base.join(&id);
            let devices = self
                .io
                .read_dir(&t.join("devices"))
                .unwrap_or_default()
                .iter()
                .filter_map(|u| u.parse().ok())
                .collect();
            out.push(MdevType {
                name: self.read_opt(&t.join("name"))?.map(|s| s.trim().to_owned()),
                description: self
                    .read_opt(&t.join("description"))?
                    .map(|s| s.trim().to_owned()),
                available_instances: self.parsed(&t.join("available_instances"), parse::decimal)?,
                device_api: self.read(&t.join("device_api"))?.trim().to_owned(),
                devices,
                id,
            });
        }
        Ok(out)
    }

    /// Creates an mdev of `mdev_type` on `parent` named `uuid`.
    ///
    /// # Errors
    /// [`Error::InvalidName`]; [`Error::NoSuchMdevType`]; [`Error::MdevExists`] when the UUID
    /// is taken anywhere (checked first; the kernel answers EEXIST too);
    /// [`Error::NoMdevRoom`] when `available_instances` is 0; [`Error::Write`].
    pub fn create_mdev(
        &self,
        parent: PciAddress,
        mdev_type: &str,
        uuid: MdevUuid,
    ) -> Result<(), Error> {
        let ty = parse::mdev_type_name(mdev_type).map_err(|e| Error::InvalidName {
            kind: "mdev type",
            value: e.value,
            expected: e.expected,
        })?;
        let types = self.mdev_types(parent)?;
        let t = types
            .iter()
            .find(|t| t.id == ty)
            .ok_or_else(|| Error::NoSuchMdevType {
                parent,
                mdev_type: ty.to_owned(),
            })?;
        if self
            .io
            .exists(&Path::new("bus/mdev/devices").join(uuid.to_string()))
        {
            return Err(Error::MdevExists { uuid });
        }
        if t.available_instances == 0 {
            return Err(Error::NoMdevRoom {
                parent,
                mdev_type: ty.to_owned(),
            });
        }
        let rel = dev_path(parent)
            .join("mdev_supported_types")
            .join(ty)
            .join("create");
        self.io
            .write(&rel, &uuid.to_string())
            .map_err(|e| match e.raw_os_error() {
                Some(errno::EEXIST) => Error::MdevExists { uuid },
                code => Error::Write {
                    path: self.full(&rel),
                    value: uuid.to_string(),
                    errno: code.unwrap_or(0),
                    meaning: errno_meaning(code),
                },
            })
    }

    /// Removes the mdev `uuid`.
    ///
    /// # Errors
    /// [`Error::NoSuchMdev`]; [`Error::Write`].
    pub fn remove_mdev(&self, uuid: MdevUuid) -> Result<(), Error> {
        let d = Path::new("bus/mdev/devices").join(uuid.to_string());
        if !self.io.exists(&d) {
            return Err(Error::NoSuchMdev { uuid });
        }
        self.write(&d.join("remove"), "1")
    }

    /// Every mdev (`bus/mdev/devices`), with parent and type.
    ///
    /// # Errors
    /// [`Error::Io`]/[`Error::Value`] when a link cannot be read.
    pub fn mdevs(&self) -> Result<Vec<Mdev>, Error> {
        let base = Path::new("bus/mdev/devices");
        let names = self.io.read_dir(base).unwrap_or_default();
        let mut out = Vec::new();
        for n in names {
            let Ok(uuid) = n.parse::<MdevUuid>() else {
                continue;
            };
            let dir = self
                .io
                .read_link(&base.join(&n))
                .map_err(|e| self.io_err(&base.join(&n), e))?;
            let parent = dir
                .parent()
                .and_then(last_component)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| Error::Value {
                    path: self.full(&base.join(&n)),
                    problem: ValueError {
                        value: dir.display().to_string(),
                        expected: "a link into a PCI parent",
                    },
                })?;
            let mdev_type = self
                .link_name(&base.join(&n).join("mdev_type"))?
                .unwrap_or_default();
            out.push(Mdev {
                uuid,
                parent,
                mdev_type,
            });
        }
        Ok(out)
    }

    /// NVIDIA's vendor interface: the vGPU types `vf` can take now.
    ///
    /// # Errors
    /// [`Error::NoVendorVgpu`] when `vf` has no `nvidia/creatable_vgpu_types`.
    pub fn creatable_vgpu_types(&self, vf: PciAddress) -> Result<Vec<VgpuType>, Error> {
        let rel = dev_path(vf).join("nvidia/creatable_vgpu_types");
        match self.parsed_opt(&rel, parse::creatable_vgpu_types)? {
            Some(v) => Ok(v),
            None => Err(Error::NoVendorVgpu { address: vf }),
        }
    }

    /// NVIDIA's vendor interface: the vGPU type `vf` has (`None` for 0).
    ///
    /// # Errors
    /// [`Error::NoVendorVgpu`].
    pub fn current_vgpu_type(&self, vf: PciAddress) -> Result<Option<u32>, Error> {
        let rel = dev_path(vf).join("nvidia/current_vgpu_type");
        self.parsed_opt(&rel, parse::current_vgpu_type)?
            .ok_or(Error::NoVendorVgpu { address: vf })
    }

    /// NVIDIA's vendor interface: gives `vf` the vGPU type `id` (checked against
    /// `creatable_vgpu_types` first), or clears it with `None`.
    ///
    /// # Errors
    /// [`Error::VgpuTypeNotCreatable`]; [`Error::NoVendorVgpu`]; [`Error::Write`].
    pub fn set_vgpu_type(&self, vf: PciAddress, id: Option<u32>) -> Result<(), Error> {
        if let Some(id) = id {
            let types = self.creatable_vgpu_types(vf)?;
            if !types.iter().any(|t| t.id == id) {
                return Err(Error::VgpuTypeNotCreatable {
                    address: vf,
                    id,
                    creatable: types.iter().map(|t| t.id).collect(),
                });
            }
        } else {
            self.current_vgpu_type(vf)?;
        }
        self.write(
            &dev_path(vf).join("nvidia/current_vgpu_type"),
            &id.unwrap_or(0).to_string(),
        )
    }
}

/// A person's reading of an errno from a sysfs write.
#[must_use]
pub fn errno_meaning(code: Option<i32>) -> &'static str {
    match code {
        Some(errno::EPERM | errno::EACCES) => "permission denied: run as root",
        Some(errno::ENOENT) => "no such attribute, or no driver to act on it",
        Some(errno::EINVAL) => "the kernel refused the value as invalid",
        Some(errno::ERANGE) => "the value is out of range",
        Some(errno::EBUSY) => "the device is busy",
        Some(errno::ENOMEM) => "out of memory or MMIO space (try the kernel parameter pci=realloc)",
        Some(errno::EEXIST) => "it exists already",
        Some(errno::ENODEV | errno::ENXIO) => "no such device, or the driver does not take it",
        _ => "the write failed",
    }
}
