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

/// One error for programs that use several crates of the family: each crate's error converts
/// into it with `?`, and its message is the crate's own (which names the cause).
///
/// ```
/// use gpupart::sriov::{SimulatedSysfs, Sysfs};
/// use gpupart::topology::batch::Request;
///
/// fn plan() -> gpupart::Result<usize> {
///     let gpus = Sysfs::simulated(SimulatedSysfs::gpu_host(2)).nvidia_gpus()?; // sriov
///     let request = Request::parse("3g.20gb", 2)?;                             // topology
///     let profile = gpupart::profiles::catalog::A100_40GB.profile_by_name(&request.profile)?;
///     Ok(gpus.len() * usize::from(profile.max_instances))
/// }
/// assert_eq!(plan()?, 4);
/// let err = gpupart::topology::batch::Request::parse("0g.5gb", 1).map_err(gpupart::Error::from);
/// assert!(err.unwrap_err().to_string().contains("0g.5gb"));
/// # Ok::<(), gpupart::Error>(())
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the catalog and profile names.
    #[error(transparent)]
    Profiles(#[from] gpupart_profiles::Error),
    /// From the topology model and the solvers.
    #[error(transparent)]
    Topology(#[from] gpupart_topology::Error),
    /// From MIG through NVML, apply and mig-parted configurations.
    #[error(transparent)]
    Mig(#[from] gpupart_mig::Error),
    /// From PCI sysfs, SR-IOV and vGPU.
    #[error(transparent)]
    Sriov(#[from] gpupart_sriov::Error),
}

/// `Result` with the family's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

// The README's examples are compiled and run as doc tests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
