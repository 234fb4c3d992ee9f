//! # gpupart
//!
//! Partition NVIDIA data-center GPUs on Linux hosts: a compile-time-checked catalog of MIG
//! profiles, an exact placement solver, MIG through NVML with safe declarative apply, and
//! SR-IOV, VF binding and vGPU through sysfs. Each part is its own crate; this facade gives
//! them one path each, one error ([`enum@Error`]) and this map.
//!
//! ## Where things live
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`profiles`] | `gpupart-profiles` | the catalog of MIG models and profiles, the profile-name grammar, the one placement rule |
//! | [`topology`] | `gpupart-topology` | node → GPU → slice model, the placement solvers |
//! | [`mig`] | `gpupart-mig` | MIG mode and instances through NVML (real and simulated), declarative apply, mig-parted configs |
//! | [`sriov`] | `gpupart-sriov` | PCI sysfs: SR-IOV virtual functions, driver binding, mdev and NVIDIA's vGPU interface, Nova |
//! | — | `gpupart-cli` | the `gpupart` binary over all of them: `gpupart mig …` (a drop-in for nvidia-mig-parted), `solve`, `sriov`, `vgpu`, `dra`; see the README |
//! | — | `gpupart-dra` | Kubernetes DRA partitionable devices for MIG (KEP-4815): ResourceSlices in NVIDIA's names and gpupart's order, prepare/unprepare; its own crate (it names a Kubernetes version through k8s-openapi, which the binary picks) |
//!
//! **Profiles** — [`profiles::catalog`] (every board, [`profiles::catalog::model_by_pci_device_id`]),
//! [`profiles::ProfileName`] (the grammar), [`profiles::model`] (the catalog's types),
//! [`profiles::Occupancy`] (may this instance go here?), [`profiles::typed`] (a model per type),
//! [`profiles::checks`] (what the compiler checks), [`profiles::text`] (quoting input).
//!
//! **Topology** — [`topology::fleet`] ([`topology::Fleet`], [`topology::Gpu`]: GPUs by their
//! NVML index), [`topology::batch`] (the fleet solver: [`topology::batch::solve`],
//! [`topology::batch::Plan`], its bound), [`topology::online`] (one instance at a time;
//! [`topology::Online::admit`] for a known workload, with its long-run bound),
//! [`topology::solve_gpu`] (the exact one-GPU solver).
//!
//! **MIG** — [`mig::backend`] (the [`mig::Backend`] trait: [`mig::NvmlBackend`],
//! [`mig::SimulatedNvml`]), [`mig::state`] (what each GPU holds: [`mig::state::read_all`],
//! `nvidia-smi`-style tables), [`mig::apply`] (desired state → plan → apply with rollback:
//! [`mig::apply::apply`], [`mig::apply::desired_from_plan`]), [`mig::config`] (mig-parted v1
//! files with mig-parted's verdicts), [`mig::conformance`] (the simulator held to a real
//! driver), [`mig::sim`].
//!
//! **SR-IOV** — [`sriov::Sysfs`] (under any root: enable VFs by the kernel's contract, bind,
//! the doctor, mdev, NVIDIA's vendor vGPU interface), [`sriov::parse`] (every sysfs value,
//! apart from I/O), [`sriov::io`] (the I/O seam), [`sriov::sim`] (a simulated host that refuses
//! what the kernel and NVIDIA's driver refuse), [`sriov::nova`] (nova.conf for mdev and
//! vendor-VFIO hosts), [`sriov::vgpu`] (the vGPU host manager over both interfaces: plan,
//! apply with rollback, owners, reconcile, the state file) with [`mig::vgpu`] (MIG-backed
//! vGPUs end to end, restore at boot), [`sriov::lock`] (the host lock both take).
//!
//! ```
//! use gpupart::profiles::{catalog, ProfileName};
//!
//! let a100 = catalog::model_by_pci_device_id(0x20B0_10DE, None)?;
//! let name: ProfileName = "3g.20gb".parse()?;
//! let profile = a100.profile_by_name(&name)?;
//! assert_eq!(profile.nvml_id(), Some(9));
//! # Ok::<(), gpupart::Error>(())
//! ```
#![forbid(unsafe_code)]

#[doc(inline)]
pub use gpupart_mig as mig;
#[doc(inline)]
pub use gpupart_profiles as profiles;
#[doc(inline)]
pub use gpupart_sriov as sriov;
#[doc(inline)]
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
