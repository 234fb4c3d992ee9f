//! # gpupart-topology
//!
//! The node → GPU → slice model and MIG placement.
//!
//! - [`Fleet`] of [`Gpu`]s: identity (index, UUID, PCI address), model, MIG mode, instances
//!   (in use or free), NUMA node and local CPUs read from sysfs.
//! - [`Occupancy`]: what a GPU's instances take (memory slices as a bit mask, compute slices,
//!   the media extensions, instances per profile).
//! - [`solve_gpu`]: exact for one GPU — explicit legal placements for a multiset of profiles,
//!   or a proof that none exist.
//! - [`solve`]: a batch of requests on a fleet, lexicographic objective, deterministic
//!   [`Plan`] with a bound on the optimum (see [`batch`]).
//! - [`Online`]: one request at a time, fragmentation-aware, and release.
//!
//! ```
//! use gpupart_profiles::catalog::A100_40GB;
//! use gpupart_topology::{Occupancy, solve_gpu};
//!
//! let p = |n: &str| A100_40GB.profile_by_str(n).unwrap();
//! // One 1g.5gb already sits at slice 0: a 4g.20gb no longer fits, 3g + 2g + 1g do.
//! let mut gpu = Occupancy::new(&A100_40GB);
//! gpu.add(p("1g.5gb"), 0)?;
//! assert!(solve_gpu(&gpu, &[p("4g.20gb")]).is_none());
//! let plan = solve_gpu(&gpu, &[p("1g.5gb"), p("3g.20gb"), p("2g.10gb")]).expect("fits");
//! assert_eq!(plan.len(), 3);
//! # Ok::<(), gpupart_topology::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod batch;
pub mod fleet;
pub mod online;
mod rng;
#[cfg(feature = "serde")]
mod ser;
mod single;

pub use batch::{Plan, Request, SolveOptions, solve};
pub use fleet::{Fleet, Gpu, Instance};
pub use gpupart_profiles::Occupancy;
pub use gpupart_sriov::PciAddress;
pub use online::{Online, ranking};
pub use single::solve_gpu;

use gpupart_profiles::ProfileName;

/// Errors of the topology crate.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The catalog's rule refused an instance ([`gpupart_profiles::Error::IllegalPlacement`]
    /// or [`gpupart_profiles::Error::ForeignProfile`]); the message is the rule's own.
    #[error(transparent)]
    Profile(#[from] gpupart_profiles::Error),
    /// A GPU has MIG off, so it holds no instances.
    #[error("GPU {gpu} has MIG mode off")]
    MigDisabled {
        /// The GPU's index.
        gpu: u32,
    },
    /// No such profile on the GPU's model.
    #[error("{model} has no profile {profile:?}")]
    UnknownProfile {
        /// The model.
        model: &'static str,
        /// The name asked for.
        profile: String,
    },
    /// A profile name does not parse.
    #[error("{reason}")]
    InvalidProfileName {
        /// The input, cut to 80 characters.
        input: String,
        /// Why, naming the input (in the message, not in `source()`).
        reason: gpupart_profiles::Error,
    },
    /// No instance starts at that slice.
    #[error("GPU {gpu} has no instance at memory slice {start}")]
    NoInstance {
        /// The GPU's index.
        gpu: u32,
        /// The start slice.
        start: u8,
    },
    /// The fleet has no GPU with that index.
    #[error("the fleet has no GPU {gpu}")]
    NoGpu {
        /// The GPU's index.
        gpu: u32,
    },
    /// Two GPUs of a fleet have the same index.
    #[error("two GPUs of the fleet have index {gpu}; each GPU needs its own")]
    DuplicateGpu {
        /// The index.
        gpu: u32,
    },
    /// The GPU's PCI address is not known, so its sysfs entries cannot be found.
    #[error("GPU {gpu} has no PCI address")]
    NoPciAddress {
        /// The GPU's index.
        gpu: u32,
    },
    /// Reading sysfs failed (the message is sysfs's own).
    #[error(transparent)]
    Sysfs(#[from] Box<gpupart_sriov::Error>),
    /// No GPU can take the instance now (one may, after a release).
    #[error("no GPU has room for a {profile} now")]
    NoRoom {
        /// The profile.
        profile: ProfileName,
    },
    /// No GPU of the fleet that the request may use (MIG on, of the NUMA node asked) has the
    /// profile at all: no release will make room; retrying is pointless.
    #[error("no GPU of the fleet{} has a profile {profile}", numa_node.map(|n| format!(" on NUMA node {n}")).unwrap_or_default())]
    NoSuchProfile {
        /// The profile.
        profile: ProfileName,
        /// The NUMA node asked for.
        numa_node: Option<u32>,
    },
    /// The online placer's admission ([`online::Online::admit`]) holds this profile back:
    /// as many are in service as the long-run optimum keeps, and each more would take the
    /// room of instances that count more. One may be admitted after a release.
    #[error("{profile} is held back: {in_service} in service, the admission cap is {cap}")]
    Withheld {
        /// The profile.
        profile: ProfileName,
        /// Instances of it in use in the fleet.
        in_service: u32,
        /// The cap ([`online::Admission::cap`]).
        cap: u32,
    },
    /// A workload's load ([`online::Load`]) is out of range.
    #[error("the load of {profile} has {what} {value}, expected {expected}")]
    InvalidLoad {
        /// The profile.
        profile: ProfileName,
        /// Which number (`rate` or `mean life`).
        what: &'static str,
        /// The number given.
        value: f64,
        /// What it should be.
        expected: &'static str,
    },
    /// The admission LP for a workload did not settle within its pivot limit (it is small:
    /// one row per profile and model); the placer keeps admitting whatever fits.
    #[error("no admission for a workload of {loads} profiles: the LP did not settle")]
    NoAdmission {
        /// Profiles in the workload.
        loads: usize,
    },
}
