//! NVML's profile indices: the arguments NVML takes for a GPU instance profile and a
//! compute instance profile (not the profile IDs it answers with).

/// NVML's GPU instance profile index (`NVML_GPU_INSTANCE_PROFILE_*`): the argument of
/// `nvmlDeviceGetGpuInstanceProfileInfo`. The profile *ID* (e.g. 19) is what NVML returns for it
/// on a given GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
#[repr(u8)]
pub enum NvmlGiProfileIndex {
    /// `NVML_GPU_INSTANCE_PROFILE_1_SLICE` (0).
    Slice1 = 0,
    /// `NVML_GPU_INSTANCE_PROFILE_2_SLICE` (1).
    Slice2 = 1,
    /// `NVML_GPU_INSTANCE_PROFILE_3_SLICE` (2).
    Slice3 = 2,
    /// `NVML_GPU_INSTANCE_PROFILE_4_SLICE` (3).
    Slice4 = 3,
    /// `NVML_GPU_INSTANCE_PROFILE_7_SLICE` (4).
    Slice7 = 4,
    /// `NVML_GPU_INSTANCE_PROFILE_8_SLICE` (5).
    Slice8 = 5,
    /// `NVML_GPU_INSTANCE_PROFILE_6_SLICE` (6).
    Slice6 = 6,
    /// `NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1` (7): one slice with media extensions (`+me`).
    Slice1Rev1 = 7,
    /// `NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1` (8): two slices with media extensions (`+me`).
    Slice2Rev1 = 8,
    /// `NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2` (9): one compute slice, two memory slices.
    Slice1Rev2 = 9,
    /// `NVML_GPU_INSTANCE_PROFILE_1_SLICE_GFX` (10).
    Slice1Gfx = 10,
    /// `NVML_GPU_INSTANCE_PROFILE_2_SLICE_GFX` (11).
    Slice2Gfx = 11,
    /// `NVML_GPU_INSTANCE_PROFILE_4_SLICE_GFX` (12).
    Slice4Gfx = 12,
    /// `NVML_GPU_INSTANCE_PROFILE_1_SLICE_NO_ME` (13).
    Slice1NoMe = 13,
    /// `NVML_GPU_INSTANCE_PROFILE_2_SLICE_NO_ME` (14).
    Slice2NoMe = 14,
    /// `NVML_GPU_INSTANCE_PROFILE_1_SLICE_ALL_ME` (15).
    Slice1AllMe = 15,
    /// `NVML_GPU_INSTANCE_PROFILE_2_SLICE_ALL_ME` (16).
    Slice2AllMe = 16,
}

impl NvmlGiProfileIndex {
    /// Every index, in NVML's numeric order.
    pub const ALL: [NvmlGiProfileIndex; 17] = [
        Self::Slice1,
        Self::Slice2,
        Self::Slice3,
        Self::Slice4,
        Self::Slice7,
        Self::Slice8,
        Self::Slice6,
        Self::Slice1Rev1,
        Self::Slice2Rev1,
        Self::Slice1Rev2,
        Self::Slice1Gfx,
        Self::Slice2Gfx,
        Self::Slice4Gfx,
        Self::Slice1NoMe,
        Self::Slice2NoMe,
        Self::Slice1AllMe,
        Self::Slice2AllMe,
    ];

    /// The numeric value NVML uses.
    #[must_use]
    pub const fn as_u32(self) -> u32 {
        self as u32
    }

    /// From NVML's numeric value; `None` past the known range.
    #[must_use]
    pub const fn from_u32(v: u32) -> Option<Self> {
        if (v as usize) < Self::ALL.len() {
            Some(Self::ALL[v as usize])
        } else {
            None
        }
    }

    /// The C constant's name, e.g. `NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1`.
    #[must_use]
    pub const fn nvml_constant(self) -> &'static str {
        match self {
            Self::Slice1 => "NVML_GPU_INSTANCE_PROFILE_1_SLICE",
            Self::Slice2 => "NVML_GPU_INSTANCE_PROFILE_2_SLICE",
            Self::Slice3 => "NVML_GPU_INSTANCE_PROFILE_3_SLICE",
            Self::Slice4 => "NVML_GPU_INSTANCE_PROFILE_4_SLICE",
            Self::Slice7 => "NVML_GPU_INSTANCE_PROFILE_7_SLICE",
            Self::Slice8 => "NVML_GPU_INSTANCE_PROFILE_8_SLICE",
            Self::Slice6 => "NVML_GPU_INSTANCE_PROFILE_6_SLICE",
            Self::Slice1Rev1 => "NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1",
            Self::Slice2Rev1 => "NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1",
            Self::Slice1Rev2 => "NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2",
            Self::Slice1Gfx => "NVML_GPU_INSTANCE_PROFILE_1_SLICE_GFX",
            Self::Slice2Gfx => "NVML_GPU_INSTANCE_PROFILE_2_SLICE_GFX",
            Self::Slice4Gfx => "NVML_GPU_INSTANCE_PROFILE_4_SLICE_GFX",
            Self::Slice1NoMe => "NVML_GPU_INSTANCE_PROFILE_1_SLICE_NO_ME",
            Self::Slice2NoMe => "NVML_GPU_INSTANCE_PROFILE_2_SLICE_NO_ME",
            Self::Slice1AllMe => "NVML_GPU_INSTANCE_PROFILE_1_SLICE_ALL_ME",
            Self::Slice2AllMe => "NVML_GPU_INSTANCE_PROFILE_2_SLICE_ALL_ME",
        }
    }
}

/// NVML's compute instance profile index (`NVML_COMPUTE_INSTANCE_PROFILE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
#[repr(u8)]
pub enum NvmlCiProfileIndex {
    /// `NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE` (0).
    Slice1 = 0,
    /// `NVML_COMPUTE_INSTANCE_PROFILE_2_SLICE` (1).
    Slice2 = 1,
    /// `NVML_COMPUTE_INSTANCE_PROFILE_3_SLICE` (2).
    Slice3 = 2,
    /// `NVML_COMPUTE_INSTANCE_PROFILE_4_SLICE` (3).
    Slice4 = 3,
    /// `NVML_COMPUTE_INSTANCE_PROFILE_7_SLICE` (4).
    Slice7 = 4,
    /// `NVML_COMPUTE_INSTANCE_PROFILE_8_SLICE` (5).
    Slice8 = 5,
    /// `NVML_COMPUTE_INSTANCE_PROFILE_6_SLICE` (6).
    Slice6 = 6,
}

impl NvmlCiProfileIndex {
    /// The index for a compute instance of `slices` compute slices, if NVML has one.
    #[must_use]
    pub const fn for_slices(slices: u8) -> Option<Self> {
        match slices {
            1 => Some(Self::Slice1),
            2 => Some(Self::Slice2),
            3 => Some(Self::Slice3),
            4 => Some(Self::Slice4),
            6 => Some(Self::Slice6),
            7 => Some(Self::Slice7),
            8 => Some(Self::Slice8),
            _ => None,
        }
    }

    /// The numeric value NVML uses.
    #[must_use]
    pub const fn as_u32(self) -> u32 {
        self as u32
    }
}
