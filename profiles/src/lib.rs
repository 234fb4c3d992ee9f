//! # gpupart-profiles
//!
//! A compile-time-checked catalog of NVIDIA's MIG-capable GPU models and their MIG profiles,
//! and NVIDIA's profile-name grammar.
//!
//! - [`ProfileName`] parses and prints `1g.5gb`, `1c.3g.20gb`, `1g.5gb+me`, `1g.10gb+me.all`,
//!   `1g.24gb-me`, `1g.24gb+gfx`.
//! - [`catalog`] holds every board of NVIDIA's default mig-parted configuration as `const`
//!   data; [`GpuModel::assert_valid`] runs on each in a `const _: () = …`, so a wrong entry is a
//!   compile error.
//! - [`model`] holds the catalog's types: models and boards, GPU and compute instance
//!   profiles, placements, PCI device IDs and NVML's profile indices.
//! - [`typed`] gives each model its own type, so an A100 profile cannot be put into an H100
//!   layout.
//! - [`Occupancy`] is the one rule for whether an instance may go where it asks, used by
//!   typed layouts, the solvers and the simulators.
//! - [`text`] quotes outside input in messages, cut to 80 characters.
//!
//! ```
//! use gpupart_profiles::{catalog, ProfileName, Placement};
//!
//! // A GPU found at run time, by its PCI device ID:
//! let model = catalog::model_by_pci_device_id(0x20B0_10DE, None)?;
//! assert_eq!(model.name, "A100-40GB");
//! let p = model.profile_by_str("3g.20gb")?;
//! assert_eq!((p.nvml_id, p.compute_slices, p.memory_slices), (Some(9), 3, 4));
//! assert_eq!(p.placements, &[Placement::new(0, 4), Placement::new(4, 4)]);
//! let by_id = model.profile_by_nvml_id(19)?;
//! assert_eq!(by_id.name, "1g.5gb".parse::<ProfileName>()?);
//! # Ok::<(), gpupart_profiles::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod catalog;
pub mod checks;
pub mod model;
pub mod name;
pub mod occupancy;
pub mod text;
pub mod typed;

pub use model::{
    Architecture, Board, ComputeInstanceProfile, Engines, GpuInstanceProfile, GpuModel, ModelKey,
    NvmlCiProfileIndex, NvmlGiProfileIndex, PciDeviceId, Placement,
};
pub use name::{Attributes, NameError, NameErrorKind, ProfileName};
pub use occupancy::Occupancy;

/// Errors of the profile catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A profile name does not follow NVIDIA's grammar.
    #[error("invalid MIG profile name {input:?}: {kind} at byte {position}")]
    InvalidProfileName {
        /// The input.
        input: String,
        /// Byte offset of the offending character.
        position: usize,
        /// What was wrong.
        kind: NameErrorKind,
    },
    /// A PCI ID string is malformed.
    #[error("invalid PCI ID {input:?}: expected {expected}")]
    InvalidPciId {
        /// The input.
        input: String,
        /// What was expected.
        expected: &'static str,
    },
    /// No model has this catalog name.
    #[error("unknown GPU model {name:?}: expected one of the catalog's names (e.g. A100-40GB)")]
    UnknownModel {
        /// The name asked for.
        name: String,
    },
    /// No model has a board with this PCI device ID.
    #[error("no MIG-capable GPU model with PCI device ID {id} in the catalog")]
    UnknownPciDeviceId {
        /// The ID asked for.
        id: PciDeviceId,
    },
    /// No model has a board with this NVML name.
    #[error("no MIG-capable GPU model named {name:?} by NVML in the catalog")]
    UnknownNvmlName {
        /// The name asked for.
        name: String,
    },
    /// The model has no profile of this name.
    #[error("profile {profile} does not exist on {model}")]
    UnknownProfile {
        /// The model's catalog name.
        model: &'static str,
        /// The profile asked for.
        profile: String,
    },
    /// The model has no profile with this NVML profile ID.
    #[error("no profile with NVML profile ID {id} on {model}")]
    UnknownNvmlProfileId {
        /// The model's catalog name.
        model: &'static str,
        /// The ID asked for.
        id: u32,
    },
    /// The profile does not belong to the GPU's model.
    #[error("{profile} is not a profile of {model}")]
    ForeignProfile {
        /// The GPU's model (catalog name).
        model: &'static str,
        /// The profile.
        profile: ProfileName,
    },
    /// A placement is not legal for the profile, or overlaps an instance already placed.
    #[error("profile {profile} cannot be placed at slice {start} on {model}: {reason}")]
    IllegalPlacement {
        /// The model's catalog name.
        model: &'static str,
        /// The profile.
        profile: ProfileName,
        /// The start slice asked for.
        start: u8,
        /// Why not.
        reason: &'static str,
    },
}
