//! # gpupart-sriov
//!
//! Typed PCI sysfs access for SR-IOV: PCI addresses, physical and virtual functions, VF driver
//! binding and mediated devices.
//!
//! This crate is being built (see the project's sriov issue). It holds, so far, the family's one
//! PCI address type, [`PciAddress`], which the topology crate uses too.
//!
//! ```
//! use gpupart_sriov::PciAddress;
//! let a: PciAddress = "0000:81:00.0".parse()?;
//! assert_eq!((a.bus(), a.device(), a.function()), (0x81, 0, 0));
//! // NVML writes an 8-digit domain; the kernel's form is printed.
//! let b: PciAddress = "00000000:81:00.0".parse()?;
//! assert_eq!(b.to_string(), "0000:81:00.0");
//! # Ok::<(), gpupart_sriov::Error>(())
//! ```
#![forbid(unsafe_code)]

mod address;

pub use address::PciAddress;

/// Errors of the SR-IOV crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PCI address string is malformed.
    #[error("invalid PCI address {input:?}: {reason}; expected DDDD:BB:DD.F (e.g. 0000:81:00.0)")]
    InvalidPciAddress {
        /// The input.
        input: String,
        /// What was wrong.
        reason: &'static str,
    },
}
