//! # gpupart-mig
//!
//! MIG mode and GPU/compute instances through NVML, a faithful simulator, and safe
//! declarative apply.
//!
//! - [`Backend`]: what gpupart asks of NVML; [`NvmlBackend`] (libnvidia-ml, loaded at run
//!   time; no driver → [`Error::LibraryNotFound`]) and [`SimulatedNvml`] implement it.
//! - [`state`]: what each GPU holds now, tied to the catalog.
//! - [`profiles_table`]: the profiles the driver offers, as `nvidia-smi mig -lgip/-lgipp`.
//! - [`apply`]: desired state → minimal ordered operations with explicit placements →
//!   run, re-read after each step, roll back on failure, serialized by a lock file.
//! - [`config`]: NVIDIA mig-parted's v1 format.
//! - [`conformance`]: read-only questions put to any backend, to hold the simulator to a
//!   real driver.
//!
//! ```
//! use gpupart_mig::apply::{ApplyOptions, DesiredGpu, DesiredInstance, apply};
//! use gpupart_mig::{Backend, SimulatedNvml};
//!
//! let node = SimulatedNvml::hgx_h100(); // MIG off; Hopper switches without a reset
//! let want = DesiredGpu::new(0, true, vec![
//!     DesiredInstance::new("3g.40gb".parse()?),
//!     DesiredInstance::new("4g.40gb".parse()?),
//! ]);
//! let opts = ApplyOptions::default().lock_path(None);
//! let report = apply(&node, &[want.clone()], &opts)?;
//! assert!(report.resets_needed.is_empty());
//! assert_eq!(node.gpu_instances(0)?.len(), 2);
//! // The same desired state again: nothing to do.
//! assert_eq!(apply(&node, &[want], &opts)?.performed, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]

pub mod apply;
pub mod backend;
pub mod config;
pub mod conformance;
mod nvml;
pub mod profiles_table;
#[cfg(feature = "serde")]
mod ser;
pub mod sim;
pub mod state;
pub mod vgpu;

use std::path::PathBuf;
use std::sync::Arc;

pub use backend::{
    Backend, ComputeInstanceInfo, GpuInfo, GpuInstanceInfo, MAX_PROFILE_INDEX, MigActivation,
    MigMode, NvmlCode, ProfileInfo,
};
pub use nvml::NvmlBackend;
pub use sim::{SimGpu, SimOp, SimulatedNvml};

use gpupart_profiles::ProfileName;

/// Errors of the MIG crate.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An NVML call failed.
    #[error("NVML {op} failed{}: {code}", gpu.map(|g| format!(" on GPU {g}")).unwrap_or_default())]
    Nvml {
        /// The GPU.
        gpu: Option<u32>,
        /// The operation.
        op: &'static str,
        /// NVML's code.
        code: NvmlCode,
    },
    /// libnvidia-ml could not be loaded.
    #[error("libnvidia-ml could not be loaded (is the NVIDIA driver installed?): {detail}")]
    LibraryNotFound {
        /// The loader's message.
        detail: String,
    },
    /// No GPU with that index.
    #[error("no GPU {gpu}")]
    NoSuchGpu {
        /// The index.
        gpu: u32,
    },
    /// A desired state names a GPU twice.
    #[error("GPU {gpu} is named twice in the desired state; name each GPU once")]
    DuplicateGpu {
        /// The GPU.
        gpu: u32,
    },
    /// The GPU has no MIG (or is not in the catalog).
    #[error("GPU {gpu} ({name}) does not support MIG or is not in the catalog")]
    NotMigCapable {
        /// The GPU.
        gpu: u32,
        /// Its name.
        name: String,
    },
    /// The simulator was asked for a profile whose NVML profile ID no published source gives
    /// (the catalog's `nvml_id` is `None`); it invents none. A real GPU's driver gives it.
    #[error(
        "GPU {gpu} ({model}): the catalog has no NVML profile ID for {profile} (no published driver output shows one), and the simulator does not invent one; on a real GPU the driver gives it"
    )]
    NoNvmlIdInCatalog {
        /// The GPU.
        gpu: u32,
        /// Its model.
        model: &'static str,
        /// The profile.
        profile: ProfileName,
    },
    /// The driver reported a profile ID the catalog lacks.
    #[error("GPU {gpu} ({model}) reports profile ID {id}, which the catalog lacks")]
    UnknownProfileId {
        /// The GPU.
        gpu: u32,
        /// Its model.
        model: &'static str,
        /// The ID.
        id: u32,
    },
    /// No such profile on the GPU's model.
    #[error("GPU {gpu} ({model}) has no profile {profile}")]
    UnknownProfile {
        /// The GPU.
        gpu: u32,
        /// Its model.
        model: &'static str,
        /// The name.
        profile: String,
    },
    /// The instances cannot be placed.
    #[error("GPU {gpu} ({model}): {reason}")]
    Unplaceable {
        /// The GPU.
        gpu: u32,
        /// Its model.
        model: &'static str,
        /// Why.
        reason: String,
    },
    /// An in-use instance would be destroyed.
    #[error(
        "GPU {gpu}: {profile} at {start} is in use by processes {processes:?}; refusing to destroy it without force"
    )]
    InUse {
        /// The GPU.
        gpu: u32,
        /// The profile.
        profile: ProfileName,
        /// Its start.
        start: u8,
        /// The processes.
        processes: Vec<u32>,
    },
    /// The topology model refused an instance.
    #[error("GPU {gpu}: the driver reports a layout the catalog's rules refuse: {refusal}")]
    Topology {
        /// The GPU.
        gpu: u32,
        /// Why (in the message, not in `source()`).
        refusal: gpupart_topology::Error,
    },
    /// The device did not show an operation's effect.
    #[error("GPU {gpu}: re-reading after the operation: {what}")]
    Verify {
        /// The GPU.
        gpu: u32,
        /// What was wrong.
        what: String,
    },
    /// The vGPU manager (sysfs) refused or failed.
    #[error(transparent)]
    Sriov(#[from] gpupart_sriov::Error),
    /// The lock file could not be opened, locked or written.
    #[error("cannot lock {}: {io}", path.display())]
    Lock {
        /// The path.
        path: PathBuf,
        /// The OS error (in the message, not in `source()`).
        io: Arc<std::io::Error>,
    },
    /// Another applier held the lock for longer than the wait allowed.
    #[error("another applier holds {}{}; gave up after {waited:?} (ApplyOptions::lock_wait)", path.display(), holder.map(|p| format!(" (process {p})")).unwrap_or_default())]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long it waited.
        waited: std::time::Duration,
        /// The holder's process id, as the lock file names it.
        holder: Option<u32>,
    },
    /// Applying failed at an operation.
    #[error("apply failed at step {step} ({op}): {cause}; {}; the GPUs now: {}", rollback_error.as_ref().map_or_else(|| "rolled back to the state before".to_owned(), |e| format!("ROLLBACK FAILED: {e}")), now.join(" | "))]
    ApplyFailed {
        /// 1-based step.
        step: usize,
        /// The operation.
        op: String,
        /// What failed (in the message, not in `source()`: the message names it once).
        cause: Box<Error>,
        /// Whether every GPU is back to where it started.
        rolled_back: bool,
        /// Why the rollback failed, where it did.
        rollback_error: Option<Box<Error>>,
        /// What each GPU holds now.
        now: Vec<String>,
    },
    /// A configuration is malformed or names nothing.
    #[error("mig-parted config{}: {reason}", at.map(|l| format!(" ({l})")).unwrap_or_default())]
    Config {
        /// Why, naming the key or value.
        reason: String,
        /// Where in the file, when the reason is about one place in it.
        at: Option<config::SourceLocation>,
    },
    /// A GPU does not match a configuration.
    #[error("GPU {gpu} does not match: expected {expected}, found {found}")]
    Mismatch {
        /// The GPU.
        gpu: u32,
        /// What the configuration says.
        expected: String,
        /// What the GPU holds.
        found: String,
    },
}
