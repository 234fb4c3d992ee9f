//! # gpupart-sriov
//!
//! Typed PCI sysfs for SR-IOV: PCI addresses, physical and virtual functions, enabling VFs by
//! the kernel's exact contract, VF driver binding, mediated devices, NVIDIA's vendor vGPU
//! interface, a host doctor and Nova's `nova.conf`.
//!
//! Parsing ([`parse`]) is separate from I/O: [`Sysfs`] builds every path from typed values
//! under a root (`/sys`, a directory, or [`SimulatedSysfs`], which follows the kernel's rules).
//!
//! ```
//! use gpupart_sriov::{EnableOptions, PciAddress, SimulatedSysfs, Sysfs};
//! let sysfs = Sysfs::simulated(SimulatedSysfs::gpu_host(2));
//! let gpu = sysfs.nvidia_gpus()?[0].address;
//! assert_eq!(gpu, "0000:07:00.0".parse::<PciAddress>()?);
//! // `echo 4 > sriov_numvfs`, done right: checked, re-read, waited for.
//! let report = sysfs.enable_vfs(gpu, 4, &EnableOptions::default())?;
//! assert_eq!((report.enabled, report.vfs.len()), (4, 4));
//! assert_eq!(sysfs.device(report.vfs[0])?.physfn, Some(gpu));
//! // A different count while VFs are enabled is EBUSY in the kernel: refused up front.
//! assert!(sysfs.enable_vfs(gpu, 2, &EnableOptions::default()).is_err());
//! # Ok::<(), gpupart_sriov::Error>(())
//! ```
#![forbid(unsafe_code)]

/// `TryFrom<String>` by `FromStr` and `From<T> for String` by `Display`: the string form
/// serde uses for the crate's parsed values (`#[serde(try_from = "String", into = "String")]`).
macro_rules! string_form {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = $crate::ValueError;
            fn try_from(s: String) -> Result<Self, $crate::ValueError> {
                s.parse()
            }
        }

        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.to_string()
            }
        }
    };
}

mod address;
pub mod io;
pub mod lock;
pub mod mdev;
pub mod nova;
pub mod parse;
pub mod sim;
mod sysfs;
pub mod vgpu;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use address::PciAddress;
pub use mdev::{MdevType, MdevUuid, VgpuInterface};
pub use parse::{CpuList, ValueError, VgpuType};
pub use sim::SimulatedSysfs;
pub use sysfs::{
    EnableOptions, Finding, Mdev, NVIDIA_VENDOR, PciDevice, SriovInfo, Sysfs, VfReport,
    errno_meaning,
};

/// Errors of the SR-IOV crate.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PCI address string is malformed.
    #[error("invalid PCI address {input:?}: {reason}; expected DDDD:BB:DD.F (e.g. 0000:81:00.0)")]
    InvalidPciAddress {
        /// The input, cut to 80 characters.
        input: String,
        /// What was wrong.
        reason: &'static str,
    },
    /// A sysfs file could not be read.
    #[error("cannot read {}: {io}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error (in the message, not in `source()`).
        io: Arc<std::io::Error>,
    },
    /// A sysfs file held something unexpected.
    #[error("{}: {problem}", path.display())]
    Value {
        /// The path.
        path: PathBuf,
        /// What was read and what was expected (in the message, not in `source()`).
        problem: ValueError,
    },
    /// A write was refused by the kernel.
    #[error("writing {value:?} to {} failed with errno {errno}: {meaning}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// The value.
        value: String,
        /// The errno.
        errno: i32,
        /// What it means here.
        meaning: &'static str,
    },
    /// No such PCI function.
    #[error("no PCI device {address}")]
    NoSuchDevice {
        /// The address.
        address: PciAddress,
    },
    /// The function has no SR-IOV capability.
    #[error("{address} has no SR-IOV capability (no sriov_totalvfs)")]
    NoSriov {
        /// The address.
        address: PciAddress,
    },
    /// More VFs than `sriov_totalvfs` (the kernel's ERANGE).
    #[error("{address}: {requested} VFs asked, but sriov_totalvfs is {total}")]
    TooManyVfs {
        /// The PF.
        address: PciAddress,
        /// VFs asked for.
        requested: u16,
        /// `sriov_totalvfs`.
        total: u16,
    },
    /// No driver is bound to the PF (the kernel's ENOENT).
    #[error("{address}: no driver is bound, so VFs cannot be configured; load its driver first")]
    NoDriver {
        /// The PF.
        address: PciAddress,
    },
    /// The PF's driver cannot configure SR-IOV (ENOENT from a driver without `sriov_configure`).
    #[error("{address}: driver {driver} does not support configuring SR-IOV")]
    NoSriovConfigure {
        /// The PF.
        address: PciAddress,
        /// Its driver.
        driver: String,
    },
    /// VFs are enabled and a different non-zero count was asked (the kernel's EBUSY).
    #[error(
        "{address}: {enabled} VFs are enabled; changing to {requested} needs 0 first, which removes them (allow the disruption to do it)"
    )]
    VfsEnabled {
        /// The PF.
        address: PciAddress,
        /// VFs enabled now.
        enabled: u16,
        /// VFs asked for.
        requested: u16,
    },
    /// The VF BARs do not fit in the MMIO window (the kernel's ENOMEM).
    #[error(
        "{address}: not enough MMIO space for {requested} VFs; boot with pci=realloc or enable fewer"
    )]
    MmioExhausted {
        /// The PF.
        address: PciAddress,
        /// VFs asked for.
        requested: u16,
    },
    /// VFs (or their drivers) did not appear or go in time.
    #[error("{address}: timed out after {after:?} waiting for {waiting_for}")]
    Timeout {
        /// The PF.
        address: PciAddress,
        /// What was awaited.
        waiting_for: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// A name to be used in a path is not safe.
    #[error("invalid {kind} name {value:?}: expected {expected}")]
    InvalidName {
        /// What kind of name.
        kind: &'static str,
        /// The name.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The driver is not loaded.
    #[error("no driver {driver} is loaded (no /sys/bus/pci/drivers/{driver})")]
    NoSuchDriver {
        /// The driver.
        driver: String,
    },
    /// The device did not end up with the driver.
    #[error("{address}: binding to {driver} failed; the device now has driver {bound:?}")]
    BindFailed {
        /// The device.
        address: PciAddress,
        /// The driver asked for.
        driver: String,
        /// The driver it has.
        bound: Option<String>,
    },
    /// The device is not an mdev parent.
    #[error("{address} is not an mdev parent (no mdev_supported_types)")]
    NotMdevParent {
        /// The device.
        address: PciAddress,
    },
    /// The parent does not offer the type.
    #[error("{parent} offers no mdev type {mdev_type}")]
    NoSuchMdevType {
        /// The parent.
        parent: PciAddress,
        /// The type.
        mdev_type: String,
    },
    /// The UUID is taken.
    #[error("an mdev with UUID {uuid} exists already")]
    MdevExists {
        /// The UUID.
        uuid: MdevUuid,
    },
    /// No mdev with that UUID.
    #[error("no mdev {uuid}")]
    NoSuchMdev {
        /// The UUID.
        uuid: MdevUuid,
    },
    /// `available_instances` is 0.
    #[error("{parent}: no room for another {mdev_type} (available_instances is 0)")]
    NoMdevRoom {
        /// The parent.
        parent: PciAddress,
        /// The type.
        mdev_type: String,
    },
    /// The device has no NVIDIA vendor vGPU interface.
    #[error("{address} has no nvidia/creatable_vgpu_types")]
    NoVendorVgpu {
        /// The device.
        address: PciAddress,
    },
    /// The vGPU type cannot be created on the VF now.
    #[error("{address}: vGPU type {id} is not creatable now; creatable: {creatable:?}")]
    VgpuTypeNotCreatable {
        /// The VF.
        address: PciAddress,
        /// The type asked for.
        id: u32,
        /// The types that are.
        creatable: Vec<u32>,
    },
    /// A vGPU plan cannot be made as asked.
    #[error("{gpu}: {reason}")]
    VgpuPlan {
        /// The GPU.
        gpu: PciAddress,
        /// Which rule refuses it, with the offending value.
        reason: String,
    },
    /// A vGPU is owned by someone other than the one acting on it.
    #[error("{slot}: {}; {} may not clear it", holder.as_ref().map_or_else(|| "claimed by no owner".to_owned(), |h| format!("owned by {h}")), asked.as_ref().map_or_else(|| "an apply".to_owned(), |a| format!("owner {a}")))]
    NotOwner {
        /// The vGPU.
        slot: vgpu::VgpuSlot,
        /// Its recorded owner.
        holder: Option<String>,
        /// Who asked (`None`: an apply that would remove it).
        asked: Option<String>,
    },
    /// A process (a running VM) holds the vGPU open through VFIO.
    #[error("{slot} is open through VFIO by process(es) {pids:?} (a running VM); not cleared")]
    VgpuInUse {
        /// The vGPU.
        slot: vgpu::VgpuSlot,
        /// The processes.
        pids: Vec<u32>,
    },
    /// The host did not show a write's effect.
    #[error("{slot}: re-reading after the write: {what}")]
    VgpuVerify {
        /// The vGPU.
        slot: vgpu::VgpuSlot,
        /// What was wrong.
        what: String,
    },
    /// Applying a vGPU plan failed at an operation.
    #[error("vGPU apply failed at step {step} ({op}): {cause}; {}", rollback_error.as_ref().map_or_else(|| "rolled back to the state before".to_owned(), |e| format!("ROLLBACK FAILED: {e}")))]
    VgpuApplyFailed {
        /// 1-based step.
        step: usize,
        /// The operation.
        op: String,
        /// What failed (in the message, not in `source()`).
        cause: Box<Error>,
        /// Why the rollback failed, where it did.
        rollback_error: Option<Box<Error>>,
    },
    /// A state file line does not parse.
    #[error("vGPU state file line {line}: {value:?}: expected {expected}")]
    State {
        /// 1-based line (0: the file as a whole).
        line: usize,
        /// The offending text, cut to 80 characters.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// The lock file could not be opened, locked or written.
    #[error("cannot lock {}: {io}", path.display())]
    Lock {
        /// The path.
        path: PathBuf,
        /// The OS error (in the message, not in `source()`).
        io: Arc<std::io::Error>,
    },
    /// Another writer held the lock for longer than the wait allowed.
    #[error("another writer holds {}{}; gave up after {waited:?}", path.display(), holder.map(|p| format!(" (process {p})")).unwrap_or_default())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long it waited.
        waited: Duration,
        /// The holder's process id, as the lock file names it.
        holder: Option<u32>,
    },
    /// Nova would refuse this configuration.
    #[error("nova.conf refused: {reason}")]
    Nova {
        /// Why.
        reason: String,
    },
}
