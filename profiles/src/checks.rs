//! The compile-time checks, proven: each kind of catalog mistake fails the build.
//!
//! The model below is valid and compiles; each example after it changes one thing and must fail
//! with `E0080` (an error in evaluating a constant), which is how a wrong catalog entry shows up
//! in `cargo build`.
//!
//! ```
//! use gpupart_profiles::{GpuModel, GpuInstanceProfile, ComputeInstanceProfile, ProfileName,
//!     Placement, Board, Architecture, NvmlGiProfileIndex::*};
//! const fn pl(s: u8, n: u8) -> Placement { Placement::new(s, n) }
//! const GI1: ProfileName = ProfileName::from_static("1g.5gb");
//! const MODEL: GpuModel = GpuModel::new(
//!     "TEST-20GB", Architecture::Ampere, &[Board::new(0x000110DE, "test", None)], 4, 4, 20,
//!     &[
//!         GpuInstanceProfile::new("1g.5gb", Some(1), Slice1, 1, 4, &[pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)])
//!             .compute(&[ComputeInstanceProfile::new(GI1, 1, 1)]),
//!         GpuInstanceProfile::new("2g.10gb", Some(2), Slice2, 2, 2, &[pl(0, 2), pl(2, 2)]),
//!     ],
//! );
//! const _: () = MODEL.assert_valid();
//! ```
//!
//! A placement outside the model's memory slices:
//! ```compile_fail,E0080
//! use gpupart_profiles::{GpuModel, GpuInstanceProfile, ComputeInstanceProfile, ProfileName,
//!     Placement, Board, Architecture, NvmlGiProfileIndex::*};
//! const fn pl(s: u8, n: u8) -> Placement { Placement::new(s, n) }
//! const GI1: ProfileName = ProfileName::from_static("1g.5gb");
//! const MODEL: GpuModel = GpuModel::new(
//!     "TEST-20GB", Architecture::Ampere, &[Board::new(0x000110DE, "test", None)], 4, 4, 20,
//!     &[
//!         GpuInstanceProfile::new("1g.5gb", Some(1), Slice1, 1, 4, &[pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)])
//!             .compute(&[ComputeInstanceProfile::new(GI1, 1, 1)]),
//!         GpuInstanceProfile::new("2g.10gb", Some(2), Slice2, 2, 3, &[pl(0, 2), pl(2, 2), pl(4, 2)]),
//!     ],
//! );
//! const _: () = MODEL.assert_valid();
//! ```
//!
//! A placement not aligned to its size:
//! ```compile_fail,E0080
//! use gpupart_profiles::{GpuModel, GpuInstanceProfile, ComputeInstanceProfile, ProfileName,
//!     Placement, Board, Architecture, NvmlGiProfileIndex::*};
//! const fn pl(s: u8, n: u8) -> Placement { Placement::new(s, n) }
//! const GI1: ProfileName = ProfileName::from_static("1g.5gb");
//! const MODEL: GpuModel = GpuModel::new(
//!     "TEST-20GB", Architecture::Ampere, &[Board::new(0x000110DE, "test", None)], 4, 4, 20,
//!     &[
//!         GpuInstanceProfile::new("1g.5gb", Some(1), Slice1, 1, 4, &[pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)])
//!             .compute(&[ComputeInstanceProfile::new(GI1, 1, 1)]),
//!         GpuInstanceProfile::new("2g.10gb", Some(2), Slice2, 2, 1, &[pl(1, 2)]),
//!     ],
//! );
//! const _: () = MODEL.assert_valid();
//! ```
//!
//! Max instances that differ from the largest set of non-overlapping placements:
//! ```compile_fail,E0080
//! use gpupart_profiles::{GpuModel, GpuInstanceProfile, ComputeInstanceProfile, ProfileName,
//!     Placement, Board, Architecture, NvmlGiProfileIndex::*};
//! const fn pl(s: u8, n: u8) -> Placement { Placement::new(s, n) }
//! const GI1: ProfileName = ProfileName::from_static("1g.5gb");
//! const MODEL: GpuModel = GpuModel::new(
//!     "TEST-20GB", Architecture::Ampere, &[Board::new(0x000110DE, "test", None)], 4, 4, 20,
//!     &[
//!         GpuInstanceProfile::new("1g.5gb", Some(1), Slice1, 1, 3, &[pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)])
//!             .compute(&[ComputeInstanceProfile::new(GI1, 1, 1)]),
//!         GpuInstanceProfile::new("2g.10gb", Some(2), Slice2, 2, 2, &[pl(0, 2), pl(2, 2)]),
//!     ],
//! );
//! const _: () = MODEL.assert_valid();
//! ```
//!
//! Two profiles with the same NVML profile ID:
//! ```compile_fail,E0080
//! use gpupart_profiles::{GpuModel, GpuInstanceProfile, ComputeInstanceProfile, ProfileName,
//!     Placement, Board, Architecture, NvmlGiProfileIndex::*};
//! const fn pl(s: u8, n: u8) -> Placement { Placement::new(s, n) }
//! const GI1: ProfileName = ProfileName::from_static("1g.5gb");
//! const MODEL: GpuModel = GpuModel::new(
//!     "TEST-20GB", Architecture::Ampere, &[Board::new(0x000110DE, "test", None)], 4, 4, 20,
//!     &[
//!         GpuInstanceProfile::new("1g.5gb", Some(1), Slice1, 1, 4, &[pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)])
//!             .compute(&[ComputeInstanceProfile::new(GI1, 1, 1)]),
//!         GpuInstanceProfile::new("2g.10gb", Some(1), Slice2, 2, 2, &[pl(0, 2), pl(2, 2)]),
//!     ],
//! );
//! const _: () = MODEL.assert_valid();
//! ```
//!
//! A name whose `Ng` differs from the compute slices:
//! ```compile_fail,E0080
//! use gpupart_profiles::{GpuModel, GpuInstanceProfile, ComputeInstanceProfile, ProfileName,
//!     Placement, Board, Architecture, NvmlGiProfileIndex::*};
//! const fn pl(s: u8, n: u8) -> Placement { Placement::new(s, n) }
//! const GI1: ProfileName = ProfileName::from_static("1g.5gb");
//! const MODEL: GpuModel = GpuModel::new(
//!     "TEST-20GB", Architecture::Ampere, &[Board::new(0x000110DE, "test", None)], 4, 4, 20,
//!     &[
//!         GpuInstanceProfile::new("1g.5gb", Some(1), Slice1, 1, 4, &[pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)]).with_compute_slices(2)
//!             .compute(&[ComputeInstanceProfile::new(GI1, 1, 1)]),
//!         GpuInstanceProfile::new("2g.10gb", Some(2), Slice2, 2, 2, &[pl(0, 2), pl(2, 2)]),
//!     ],
//! );
//! const _: () = MODEL.assert_valid();
//! ```
//!
//! A name whose `Mgb` does not match the memory share (a 1/4 of 20 GB is 5 GB):
//! ```compile_fail,E0080
//! use gpupart_profiles::{GpuModel, GpuInstanceProfile, ComputeInstanceProfile, ProfileName,
//!     Placement, Board, Architecture, NvmlGiProfileIndex::*};
//! const fn pl(s: u8, n: u8) -> Placement { Placement::new(s, n) }
//! const GI1: ProfileName = ProfileName::from_static("1g.5gb");
//! const MODEL: GpuModel = GpuModel::new(
//!     "TEST-20GB", Architecture::Ampere, &[Board::new(0x000110DE, "test", None)], 4, 4, 20,
//!     &[
//!         GpuInstanceProfile::new("1g.6gb", Some(1), Slice1, 1, 4, &[pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)])
//!             .compute(&[ComputeInstanceProfile::new(GI1, 1, 1)]),
//!         GpuInstanceProfile::new("2g.10gb", Some(2), Slice2, 2, 2, &[pl(0, 2), pl(2, 2)]),
//!     ],
//! );
//! const _: () = MODEL.assert_valid();
//! ```
//!
//! A `+me` profile with more than one instance:
//! ```compile_fail,E0080
//! use gpupart_profiles::{GpuModel, GpuInstanceProfile, ComputeInstanceProfile, ProfileName,
//!     Placement, Board, Architecture, NvmlGiProfileIndex::*};
//! const fn pl(s: u8, n: u8) -> Placement { Placement::new(s, n) }
//! const GI1: ProfileName = ProfileName::from_static("1g.5gb");
//! const MODEL: GpuModel = GpuModel::new(
//!     "TEST-20GB", Architecture::Ampere, &[Board::new(0x000110DE, "test", None)], 4, 4, 20,
//!     &[
//!         GpuInstanceProfile::new("1g.5gb+me", Some(1), Slice1, 1, 4, &[pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)])
//!             .compute(&[ComputeInstanceProfile::new(GI1, 1, 1)]),
//!         GpuInstanceProfile::new("2g.10gb", Some(2), Slice2, 2, 2, &[pl(0, 2), pl(2, 2)]),
//!     ],
//! );
//! const _: () = MODEL.assert_valid();
//! ```
//!
//! A compute instance profile larger than its GPU instance:
//! ```compile_fail,E0080
//! use gpupart_profiles::{GpuModel, GpuInstanceProfile, ComputeInstanceProfile, ProfileName,
//!     Placement, Board, Architecture, NvmlGiProfileIndex::*};
//! const fn pl(s: u8, n: u8) -> Placement { Placement::new(s, n) }
//! const GI1: ProfileName = ProfileName::from_static("1g.5gb");
//! const MODEL: GpuModel = GpuModel::new(
//!     "TEST-20GB", Architecture::Ampere, &[Board::new(0x000110DE, "test", None)], 4, 4, 20,
//!     &[
//!         GpuInstanceProfile::new("1g.5gb", Some(1), Slice1, 1, 4, &[pl(0, 1), pl(1, 1), pl(2, 1), pl(3, 1)])
//!             .compute(&[ComputeInstanceProfile::new(GI1, 2, 1)]),
//!         GpuInstanceProfile::new("2g.10gb", Some(2), Slice2, 2, 2, &[pl(0, 2), pl(2, 2)]),
//!     ],
//! );
//! const _: () = MODEL.assert_valid();
//! ```
//!
//! A malformed profile name in a constant:
//! ```compile_fail,E0080
//! const P: gpupart_profiles::ProfileName = gpupart_profiles::ProfileName::from_static("1g.5gb+foo");
//! ```
