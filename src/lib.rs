//! # gpupart
//!
//! Partition NVIDIA data-center GPUs on Linux hosts. This facade re-exports the family:
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`profiles`] | `gpupart-profiles` | compile-time-checked catalog of MIG GPU models and profiles, profile-name grammar |
//! | [`topology`] | `gpupart-topology` | node → GPU → slice model and the placement solver |
//! | [`mig`] | `gpupart-mig` | MIG mode and instances through NVML, simulated backend, declarative apply |
//! | [`sriov`] | `gpupart-sriov` | PCI sysfs: SR-IOV virtual functions, driver binding, mdev |
//!
//! ```
//! use gpupart::profiles::{catalog, ProfileName};
//!
//! let a100 = catalog::model_by_pci_device_id(0x20B0_10DE, None).expect("A100-SXM4-40GB is known");
//! let name: ProfileName = "3g.20gb".parse()?;
//! let profile = a100.profile_by_name(&name).expect("3g.20gb exists on an A100-40GB");
//! assert_eq!(profile.nvml_id(), Some(9));
//! # Ok::<(), gpupart::profiles::Error>(())
//! ```
#![forbid(unsafe_code)]

pub use gpupart_mig as mig;
pub use gpupart_profiles as profiles;
pub use gpupart_sriov as sriov;
pub use gpupart_topology as topology;

// The README's examples are compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
