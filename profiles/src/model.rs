//! GPU models, GPU instance profiles, compute instance profiles and placements, with the
//! `const fn` checks that make a wrong catalog entry a compile error.

use core::fmt;
use core::str::FromStr;

use crate::{Error, ProfileName};

/// A PCI device ID as NVML and mig-parted write it: device in the upper 16 bits, vendor in the
/// lower 16 (`0x20B010DE` is device `0x20B0` of vendor `0x10DE`, NVIDIA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PciDeviceId(u32);

impl PciDeviceId {
    /// From the combined 32-bit form (`0x20B010DE`).
    #[must_use]
    pub const fn from_combined(raw: u32) -> Self {
        PciDeviceId(raw)
    }

    /// From a vendor and a device ID.
    #[must_use]
    pub const fn new(vendor: u16, device: u16) -> Self {
        PciDeviceId(((device as u32) << 16) | vendor as u32)
    }

    /// The combined 32-bit form.
    #[must_use]
    pub const fn combined(self) -> u32 {
        self.0
    }

    /// The device part (`0x20B0`).
    #[must_use]
    pub const fn device(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The vendor part (`0x10DE`).
    #[must_use]
    pub const fn vendor(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
}

impl fmt::Display for PciDeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08X}", self.0)
    }
}

impl FromStr for PciDeviceId {
    type Err = Error;

    /// Parses `0x20B010DE` (prefix `0x` or `0X`, 8 hex digits, any case), as mig-parted's
    /// `device-filter` writes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || Error::InvalidPciId {
            input: crate::text::cut(s),
            expected: "0x followed by 8 hexadecimal digits, e.g. 0x20B010DE",
        };
        let hex = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .ok_or_else(bad)?;
        if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u32::from_str_radix(hex, 16)
            .map(PciDeviceId)
            .map_err(|_| bad())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for PciDeviceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for PciDeviceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// GPU architecture of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Architecture {
    /// Ampere (GA100).
    Ampere,
    /// Hopper (GH100).
    Hopper,
    /// Blackwell (GB100, GB110, GB202).
    Blackwell,
}

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

/// A legal position of a GPU instance: `start` and `size` in memory-slice units, as NVML's
/// `nvmlGpuInstancePlacement_t` and `nvidia-smi mig -lgipp` (`{0,2,4}:2`) give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Placement {
    /// First memory slice.
    pub start: u8,
    /// Number of memory slices.
    pub size: u8,
}

impl Placement {
    /// A placement of `size` slices from `start`.
    #[must_use]
    pub const fn new(start: u8, size: u8) -> Self {
        Placement { start, size }
    }

    /// One past the last slice.
    #[must_use]
    pub const fn end(self) -> u16 {
        self.start as u16 + self.size as u16
    }

    /// The slices as a bit mask (bit `i` = memory slice `i`); slices past 31 are dropped.
    #[must_use]
    pub const fn mask(self) -> u32 {
        let mut m = 0u32;
        let mut i = self.start as u32;
        while i < self.end() as u32 && i < 32 {
            m |= 1 << i;
            i += 1;
        }
        m
    }

    /// Whether two placements share a slice.
    #[must_use]
    pub const fn overlaps(self, other: Placement) -> bool {
        (self.start as u16) < other.end() && (other.start as u16) < self.end()
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.start, self.size)
    }
}

/// A compute instance profile inside a GPU instance profile (`1c.3g.20gb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ComputeInstanceProfile {
    /// The name, e.g. `1c.3g.20gb` (or `3g.20gb` for the one that spans the whole instance).
    pub name: ProfileName,
    /// NVML's compute instance profile index.
    pub nvml_index: NvmlCiProfileIndex,
    /// Compute slices.
    pub compute_slices: u8,
    /// Instances that fit into one GPU instance.
    pub max_instances: u8,
    /// Streaming multiprocessors, where read from a real driver.
    pub sms: Option<u16>,
}

/// A GPU instance profile of one GPU model (`3g.20gb` on an A100-40GB).
///
/// Two profiles are equal when every field is (compared by address first: the catalog's
/// profiles are compared often, and the same entry is equal at once).
// Equality is the derived field-by-field one with shortcuts, so the derived hash agrees.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Debug, Clone, Copy, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct GpuInstanceProfile {
    /// The name, e.g. `3g.20gb`.
    pub name: ProfileName,
    /// NVML profile ID (`nvmlGpuInstanceProfileInfo_t::id`, e.g. 19 for `1g.5gb`); `None` where
    /// no source available here gives it.
    pub nvml_id: Option<u32>,
    /// NVML profile index (`NVML_GPU_INSTANCE_PROFILE_*`).
    pub nvml_index: NvmlGiProfileIndex,
    /// Compute slices (GPCs).
    pub compute_slices: u8,
    /// Memory slices (the placement size).
    pub memory_slices: u8,
    /// Memory in MiB as NVML reports it (`memorySizeMB`); depends on the driver, so only set
    /// where read from a real driver (see the golden data).
    pub memory_mib: Option<u32>,
    /// Streaming multiprocessors.
    pub sms: Option<u16>,
    /// Copy engines.
    pub copy_engines: Option<u8>,
    /// Video decoders (NVDEC).
    pub decoders: Option<u8>,
    /// Video encoders (NVENC).
    pub encoders: Option<u8>,
    /// JPEG decoders (NVJPG).
    pub jpeg: Option<u8>,
    /// Optical flow accelerators (OFA).
    pub ofa: Option<u8>,
    /// Whether the instance supports peer-to-peer (NVML `isP2pSupported`), where known.
    pub p2p: Option<bool>,
    /// Most instances of this profile on one GPU.
    pub max_instances: u8,
    /// Every legal placement.
    pub placements: &'static [Placement],
    /// Compute instance profiles of this GPU instance profile.
    pub compute_profiles: &'static [ComputeInstanceProfile],
}

impl PartialEq for GpuInstanceProfile {
    fn eq(&self, other: &Self) -> bool {
        // Every field by name, so a field added later cannot be left out of the comparison.
        let GpuInstanceProfile {
            name,
            nvml_id,
            nvml_index,
            compute_slices,
            memory_slices,
            memory_mib,
            sms,
            copy_engines,
            decoders,
            encoders,
            jpeg,
            ofa,
            p2p,
            max_instances,
            placements,
            compute_profiles,
        } = self;
        core::ptr::eq(self, other)
            || (*name == other.name
                && *nvml_id == other.nvml_id
                && *nvml_index == other.nvml_index
                && *compute_slices == other.compute_slices
                && *memory_slices == other.memory_slices
                && *memory_mib == other.memory_mib
                && *sms == other.sms
                && *copy_engines == other.copy_engines
                && *decoders == other.decoders
                && *encoders == other.encoders
                && *jpeg == other.jpeg
                && *ofa == other.ofa
                && *p2p == other.p2p
                && *max_instances == other.max_instances
                && (core::ptr::eq(*placements, other.placements)
                    || *placements == other.placements)
                && (core::ptr::eq(*compute_profiles, other.compute_profiles)
                    || *compute_profiles == other.compute_profiles))
    }
}

/// Hardware figures of a profile, for the builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Engines {
    /// Streaming multiprocessors.
    pub sms: Option<u16>,
    /// Copy engines.
    pub copy_engines: Option<u8>,
    /// Video decoders.
    pub decoders: Option<u8>,
    /// Video encoders.
    pub encoders: Option<u8>,
    /// JPEG decoders.
    pub jpeg: Option<u8>,
    /// Optical flow accelerators.
    pub ofa: Option<u8>,
}

impl Engines {
    /// No figure known.
    pub const UNKNOWN: Engines = Engines {
        sms: None,
        copy_engines: None,
        decoders: None,
        encoders: None,
        jpeg: None,
        ofa: None,
    };

    /// Copy engines, decoders, encoders, JPEG and OFA known; SMs unknown.
    #[must_use]
    pub const fn units(ce: u8, dec: u8, enc: u8, jpeg: u8, ofa: u8) -> Engines {
        Engines {
            sms: None,
            copy_engines: Some(ce),
            decoders: Some(dec),
            encoders: Some(enc),
            jpeg: Some(jpeg),
            ofa: Some(ofa),
        }
    }

    /// The same with the SM count known.
    #[must_use]
    pub const fn with_sms(self, sms: u16) -> Engines {
        Engines {
            sms: Some(sms),
            ..self
        }
    }
}

impl GpuInstanceProfile {
    /// Starts a profile from its name, NVML ID and index, slice counts, instance limit and
    /// placements. Figures not given stay `None`.
    #[must_use]
    pub const fn new(
        name: &'static str,
        nvml_id: Option<u32>,
        nvml_index: NvmlGiProfileIndex,
        memory_slices: u8,
        max_instances: u8,
        placements: &'static [Placement],
    ) -> Self {
        let name = ProfileName::from_static(name);
        GpuInstanceProfile {
            name,
            nvml_id,
            nvml_index,
            compute_slices: name.gpu_slices(),
            memory_slices,
            memory_mib: None,
            sms: None,
            copy_engines: None,
            decoders: None,
            encoders: None,
            jpeg: None,
            ofa: None,
            p2p: None,
            max_instances,
            placements,
            compute_profiles: &[],
        }
    }

    /// Sets the hardware figures.
    #[must_use]
    pub const fn engines(self, e: Engines) -> Self {
        GpuInstanceProfile {
            sms: e.sms,
            copy_engines: e.copy_engines,
            decoders: e.decoders,
            encoders: e.encoders,
            jpeg: e.jpeg,
            ofa: e.ofa,
            ..self
        }
    }

    /// Sets the memory in MiB and P2P support as read from a real driver.
    #[must_use]
    pub const fn measured(self, memory_mib: u32, p2p: bool) -> Self {
        GpuInstanceProfile {
            memory_mib: Some(memory_mib),
            p2p: Some(p2p),
            ..self
        }
    }

    /// Overrides the compute slices (only for tests of the checks; the name sets them).
    #[must_use]
    pub const fn with_compute_slices(self, compute_slices: u8) -> Self {
        GpuInstanceProfile {
            compute_slices,
            ..self
        }
    }

    /// Sets the compute instance profiles.
    #[must_use]
    pub const fn compute(self, compute_profiles: &'static [ComputeInstanceProfile]) -> Self {
        GpuInstanceProfile {
            compute_profiles,
            ..self
        }
    }

    /// The NVML profile ID, if known.
    #[must_use]
    pub const fn nvml_id(&self) -> Option<u32> {
        self.nvml_id
    }

    /// Whether `placement` is one of this profile's legal placements.
    #[must_use]
    pub fn allows(&self, placement: Placement) -> bool {
        self.placements.contains(&placement)
    }

    /// The legal placement that starts at `start`, if any.
    #[must_use]
    pub fn placement_at(&self, start: u8) -> Option<Placement> {
        self.placements.iter().copied().find(|p| p.start == start)
    }

    /// The compute instance profile with this name (`1c.3g.20gb`, or `3g.20gb` / `3c.3g.20gb`
    /// for the full one).
    #[must_use]
    pub fn compute_profile(&self, name: &ProfileName) -> Option<&'static ComputeInstanceProfile> {
        let slices = name.compute_slices().unwrap_or(name.gpu_slices());
        if !name.gpu_instance().const_eq(&self.name) {
            return None;
        }
        self.compute_profiles
            .iter()
            .find(|c| c.compute_slices == slices)
    }
}

impl ComputeInstanceProfile {
    /// A compute instance profile of `compute_slices` inside `gpu_instance` (its name), holding
    /// `max_instances`.
    ///
    /// # Panics
    /// At compile time, when NVML has no compute instance profile of that many slices.
    #[must_use]
    pub const fn new(gpu_instance: ProfileName, compute_slices: u8, max_instances: u8) -> Self {
        let nvml_index = match NvmlCiProfileIndex::for_slices(compute_slices) {
            Some(i) => i,
            None => panic!("NVML has no compute instance profile of that many slices"),
        };
        let name = if compute_slices == gpu_instance.gpu_slices() {
            gpu_instance
        } else {
            match gpu_instance.with_compute(compute_slices) {
                Some(name) => name,
                None => panic!("a compute instance profile is larger than its GPU instance"),
            }
        };
        ComputeInstanceProfile {
            name,
            nvml_index,
            compute_slices,
            max_instances,
            sms: None,
        }
    }
}

/// One board (PCI device ID) that belongs to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Board {
    /// PCI device ID with vendor (`0x20B010DE`).
    pub pci_device_id: PciDeviceId,
    /// PCI subsystem ID, where the board is told apart by it.
    pub pci_subsystem_id: Option<PciDeviceId>,
    /// Product name (`A100-SXM4-40GB`).
    pub product: &'static str,
    /// The name NVML reports (`nvmlDeviceGetName`), where known exactly.
    pub nvml_name: Option<&'static str>,
}

impl Board {
    /// A board.
    #[must_use]
    pub const fn new(
        pci_device_id: u32,
        product: &'static str,
        nvml_name: Option<&'static str>,
    ) -> Self {
        Board {
            pci_device_id: PciDeviceId::from_combined(pci_device_id),
            pci_subsystem_id: None,
            product,
            nvml_name,
        }
    }
}

/// A MIG-capable GPU model: its boards, slices, memory and profile table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct GpuModel {
    /// Short name used in the catalog and on the command line (`A100-40GB`).
    pub name: &'static str,
    /// Architecture.
    pub architecture: Architecture,
    /// Boards (PCI device IDs) of this model.
    pub boards: &'static [Board],
    /// Compute slices (7 on an A100).
    pub compute_slices: u8,
    /// Memory slices (8 on an A100).
    pub memory_slices: u8,
    /// Memory in GB as marketed and as profile names count it (40 on an A100-40GB).
    pub memory_gb: u16,
    /// Total memory in MiB as NVML reports it, where read from a real driver.
    pub memory_mib: Option<u32>,
    /// GPU instance profiles.
    pub profiles: &'static [GpuInstanceProfile],
}

/// The identity of a model value, for caches keyed by model: two keys are equal exactly when
/// they come from the same `GpuModel` in memory.
///
/// The catalog's models are constants, so two references to one model taken in different
/// places of a program may point at different copies and give different keys. Keys only ever
/// key caches: two keys for one model cost a second entry, never a wrong answer. Where it
/// matters which model two things are, compare the models (`==`) or their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelKey(usize);

impl GpuModel {
    /// The model's identity for caches keyed by model: its address (see [`ModelKey`]).
    #[must_use]
    pub fn key(&'static self) -> ModelKey {
        ModelKey(core::ptr::from_ref(self) as usize)
    }

    /// A model.
    #[must_use]
    pub const fn new(
        name: &'static str,
        architecture: Architecture,
        boards: &'static [Board],
        compute_slices: u8,
        memory_slices: u8,
        memory_gb: u16,
        profiles: &'static [GpuInstanceProfile],
    ) -> Self {
        GpuModel {
            name,
            architecture,
            boards,
            compute_slices,
            memory_slices,
            memory_gb,
            memory_mib: None,
            profiles,
        }
    }

    /// Sets the total memory as read from a real driver.
    #[must_use]
    pub const fn measured_memory(self, memory_mib: u32) -> Self {
        GpuModel {
            memory_mib: Some(memory_mib),
            ..self
        }
    }

    /// The profile with this name (the compute prefix, if any, is ignored), if the model
    /// has it: [`GpuModel::profile_by_name`] for callers that expect misses and need no error.
    #[must_use]
    pub fn find_profile(&self, name: &ProfileName) -> Option<&'static GpuInstanceProfile> {
        let gi = name.gpu_instance();
        self.profiles.iter().find(|p| p.name == gi)
    }

    /// The profile with this name (the compute prefix, if any, is ignored).
    ///
    /// # Errors
    /// [`Error::UnknownProfile`] naming the profile and this model.
    pub fn profile_by_name(
        &self,
        name: &ProfileName,
    ) -> Result<&'static GpuInstanceProfile, Error> {
        self.find_profile(name)
            .ok_or_else(|| Error::UnknownProfile {
                model: self.name,
                profile: name.gpu_instance().to_string(),
            })
    }

    /// The profile with this name, parsed first.
    ///
    /// # Errors
    /// [`Error::InvalidProfileName`] or [`Error::UnknownProfile`].
    pub fn profile_by_str(&self, name: &str) -> Result<&'static GpuInstanceProfile, Error> {
        self.profile_by_name(&name.parse()?)
    }

    /// The profile with this NVML profile ID.
    ///
    /// # Errors
    /// [`Error::UnknownNvmlProfileId`] naming the ID and this model.
    pub fn profile_by_nvml_id(&self, id: u32) -> Result<&'static GpuInstanceProfile, Error> {
        self.profiles
            .iter()
            .find(|p| p.nvml_id == Some(id))
            .ok_or(Error::UnknownNvmlProfileId {
                model: self.name,
                id,
            })
    }

    /// The profile with this NVML profile index.
    #[must_use]
    pub fn profile_by_nvml_index(
        &self,
        index: NvmlGiProfileIndex,
    ) -> Option<&'static GpuInstanceProfile> {
        self.profiles.iter().find(|p| p.nvml_index == index)
    }

    /// Panics (a compile error in a `const`) unless the model is consistent. Checked:
    /// - placements lie inside the memory slices, are aligned to their size, and have the
    ///   profile's size; no placement is listed twice;
    /// - a profile's slices fit the model;
    /// - `max_instances` equals the largest set of non-overlapping placements, except that
    ///   profiles with media extensions (`+me`, `+me.all`) are limited to one instance;
    /// - profile names are unique, and NVML profile IDs are unique where known;
    /// - the name's `Ng` equals the compute slices, and its `Mgb` equals the model's memory
    ///   share of the profile's memory slices, rounded half up; a measured memory figure lies
    ///   within 10 % of the name's GB;
    /// - compute instance profiles fit inside their GPU instance.
    ///
    /// ```
    /// const _: () = gpupart_profiles::catalog::A100_40GB.assert_valid();
    /// ```
    pub const fn assert_valid(&self) {
        if self.compute_slices == 0 || self.memory_slices == 0 || self.memory_slices > 32 {
            panic!("a model needs 1 to 32 memory slices and at least one compute slice");
        }
        if self.boards.is_empty() {
            panic!("a model needs at least one board (PCI device ID)");
        }
        let mut i = 0;
        while i < self.profiles.len() {
            let p = &self.profiles[i];
            self.assert_profile_valid(p);
            let mut j = i + 1;
            while j < self.profiles.len() {
                let q = &self.profiles[j];
                if p.name.const_eq(&q.name) {
                    panic!("two profiles of one model have the same name");
                }
                if let (Some(a), Some(b)) = (p.nvml_id, q.nvml_id)
                    && a == b
                {
                    panic!("two profiles of one model have the same NVML profile ID");
                }
                j += 1;
            }
            i += 1;
        }
    }

    const fn assert_profile_valid(&self, p: &GpuInstanceProfile) {
        if p.compute_slices != p.name.gpu_slices() {
            panic!("the name's `Ng` differs from the profile's compute slices");
        }
        if p.name.compute_slices().is_some() {
            panic!("a GPU instance profile name has no compute-instance prefix (`Nc.`)");
        }
        if p.compute_slices == 0 || p.compute_slices > self.compute_slices {
            panic!("a profile has more compute slices than its model");
        }
        if p.memory_slices == 0 || p.memory_slices > self.memory_slices {
            panic!("a profile has more memory slices than its model");
        }
        // The name's GB: the model's GB times the memory share, rounded half up.
        let share = self.memory_gb as u32 * p.memory_slices as u32;
        let expected_gb = (2 * share + self.memory_slices as u32) / (2 * self.memory_slices as u32);
        if p.name.memory_gb() as u32 != expected_gb {
            panic!(
                "the name's `Mgb` does not match the model's memory share of the profile's memory slices"
            );
        }
        if let Some(mib) = p.memory_mib {
            // MiB to GB: * 1.048576 / 1000; compare within 10 %.
            let gb_x1000 = mib as u64 * 1_048_576 / 1_000_000;
            let name_x1000 = p.name.memory_gb() as u64 * 1000;
            if gb_x1000 * 10 < name_x1000 * 9 || gb_x1000 * 10 > name_x1000 * 11 {
                panic!("the measured memory is not within 10% of the name's GB");
            }
        }
        if p.placements.is_empty() {
            panic!("a profile needs at least one placement");
        }
        let mut k = 0;
        while k < p.placements.len() {
            let pl = p.placements[k];
            if pl.size != p.memory_slices {
                panic!("a placement's size differs from the profile's memory slices");
            }
            if pl.end() > self.memory_slices as u16 {
                panic!("a placement lies outside the model's memory slices");
            }
            if !pl.start.is_multiple_of(pl.size) {
                panic!("a placement is not aligned to its size");
            }
            let mut m = k + 1;
            while m < p.placements.len() {
                if p.placements[m].start == pl.start {
                    panic!("a placement is listed twice");
                }
                m += 1;
            }
            k += 1;
        }
        let packable = max_disjoint(p.placements);
        let media = p.name.attributes().has_media_extensions();
        let expected_instances = if media { 1 } else { packable };
        if media && p.max_instances != 1 {
            panic!("a profile with media extensions (`+me`, `+me.all`) is limited to one instance");
        }
        if p.max_instances != expected_instances {
            panic!("max instances differs from the largest set of non-overlapping placements");
        }
        if p.max_instances as u32 * p.compute_slices as u32 > self.compute_slices as u32 && !media {
            panic!("max instances of a profile need more compute slices than the model has");
        }
        let mut c = 0;
        while c < p.compute_profiles.len() {
            let ci = &p.compute_profiles[c];
            if ci.compute_slices == 0 || ci.compute_slices > p.compute_slices {
                panic!("a compute instance profile is larger than its GPU instance");
            }
            if !ci.name.gpu_instance().const_eq(&p.name) {
                panic!("a compute instance profile's name names another GPU instance");
            }
            if ci.max_instances == 0
                || ci.max_instances as u32 * ci.compute_slices as u32 > p.compute_slices as u32
            {
                panic!("compute instances of a profile need more slices than its GPU instance has");
            }
            c += 1;
        }
    }
}

/// Largest number of pairwise non-overlapping placements (interval scheduling: pick by end).
const fn max_disjoint(placements: &[Placement]) -> u8 {
    let mut count = 0u8;
    let mut frontier = 0u16;
    loop {
        // The placement that starts at or after the frontier and ends first.
        let mut best: Option<Placement> = None;
        let mut i = 0;
        while i < placements.len() {
            let p = placements[i];
            if p.start as u16 >= frontier {
                best = match best {
                    Some(b) if b.end() <= p.end() => Some(b),
                    _ => Some(p),
                };
            }
            i += 1;
        }
        match best {
            Some(b) => {
                count += 1;
                frontier = b.end();
            }
            None => return count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_device_id_round_trip() {
        let id: PciDeviceId = "0x20B010DE".parse().expect("valid");
        assert_eq!((id.device(), id.vendor()), (0x20B0, 0x10DE));
        assert_eq!(id.to_string(), "0x20B010DE");
        assert_eq!(PciDeviceId::new(0x10DE, 0x2330).combined(), 0x2330_10DE);
        assert_eq!(
            "0x233b10de"
                .parse::<PciDeviceId>()
                .expect("lower case")
                .to_string(),
            "0x233B10DE"
        );
        for bad in [
            "",
            "20B010DE",
            "0x20B010D",
            "0x20B010DEE",
            "0xZZB010DE",
            "0x+0B010DE",
        ] {
            let e = bad.parse::<PciDeviceId>().expect_err(bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn max_disjoint_is_interval_scheduling() {
        const P: [Placement; 4] = [
            Placement::new(0, 2),
            Placement::new(2, 2),
            Placement::new(4, 2),
            Placement::new(6, 2),
        ];
        assert_eq!(max_disjoint(&P), 4);
        assert_eq!(
            max_disjoint(&[Placement::new(0, 4), Placement::new(4, 4)]),
            2
        );
        assert_eq!(max_disjoint(&[]), 0);
    }

    #[test]
    fn placement_masks_and_overlap() {
        assert_eq!(Placement::new(4, 4).mask(), 0xF0);
        assert!(Placement::new(0, 4).overlaps(Placement::new(2, 2)));
        assert!(!Placement::new(0, 2).overlaps(Placement::new(2, 2)));
        assert_eq!(Placement::new(0, 8).to_string(), "0:8");
    }
}

#[cfg(test)]
mod check_messages {
    //! The same mistakes as the `compile_fail` examples in [`crate::checks`], run at run time so
    //! that each is shown to fail for its own reason.
    use super::*;
    use crate::model::NvmlGiProfileIndex::{Slice1, Slice2};

    const GI1: ProfileName = ProfileName::from_static("1g.5gb");
    const P1: [Placement; 4] = [
        Placement::new(0, 1),
        Placement::new(1, 1),
        Placement::new(2, 1),
        Placement::new(3, 1),
    ];
    const CI1: [ComputeInstanceProfile; 1] = [ComputeInstanceProfile::new(GI1, 1, 1)];
    // `ComputeInstanceProfile::new` already refuses this; a struct literal gets past it, so that
    // the model check is shown to catch it too.
    const CI2: [ComputeInstanceProfile; 1] = [ComputeInstanceProfile {
        name: GI1,
        nvml_index: NvmlCiProfileIndex::Slice2,
        compute_slices: 2,
        max_instances: 1,
        sms: None,
    }];
    const BOARDS: [Board; 1] = [Board::new(0x0001_10DE, "test", None)];

    fn model(profiles: &'static [GpuInstanceProfile]) -> GpuModel {
        GpuModel::new(
            "TEST-20GB",
            Architecture::Ampere,
            &BOARDS,
            4,
            4,
            20,
            profiles,
        )
    }

    fn one(
        name: &'static str,
        instances: u8,
        ci: &'static [ComputeInstanceProfile],
    ) -> GpuInstanceProfile {
        GpuInstanceProfile::new(name, Some(1), Slice1, 1, instances, &P1).compute(ci)
    }

    fn two(id: u32, instances: u8, placements: &'static [Placement]) -> GpuInstanceProfile {
        GpuInstanceProfile::new("2g.10gb", Some(id), Slice2, 2, instances, placements)
    }

    fn leak(p: Vec<GpuInstanceProfile>) -> &'static [GpuInstanceProfile] {
        Vec::leak(p)
    }

    fn failure(profiles: Vec<GpuInstanceProfile>) -> String {
        let m = model(leak(profiles));
        let err = std::panic::catch_unwind(move || m.assert_valid()).expect_err("must fail");
        err.downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .unwrap_or_default()
    }

    const P2: [Placement; 2] = [Placement::new(0, 2), Placement::new(2, 2)];

    #[test]
    fn the_valid_model_passes() {
        model(leak(vec![one("1g.5gb", 4, &CI1), two(2, 2, &P2)])).assert_valid();
    }

    #[test]
    fn each_mistake_fails_for_its_reason() {
        const OUTSIDE: [Placement; 3] = [
            Placement::new(0, 2),
            Placement::new(2, 2),
            Placement::new(4, 2),
        ];
        const MISALIGNED: [Placement; 1] = [Placement::new(1, 2)];
        let cases: Vec<(Vec<GpuInstanceProfile>, &str)> = vec![
            (vec![one("1g.5gb", 4, &CI1), two(2, 3, &OUTSIDE)], "outside"),
            (
                vec![one("1g.5gb", 4, &CI1), two(2, 1, &MISALIGNED)],
                "aligned",
            ),
            (
                vec![one("1g.5gb", 3, &CI1), two(2, 2, &P2)],
                "max instances",
            ),
            (
                vec![one("1g.5gb", 4, &CI1), two(1, 2, &P2)],
                "same NVML profile ID",
            ),
            (
                vec![
                    one("1g.5gb", 4, &CI1).with_compute_slices(2),
                    two(2, 2, &P2),
                ],
                "`Ng`",
            ),
            (vec![one("1g.6gb", 4, &[]), two(2, 2, &P2)], "`Mgb`"),
            (
                vec![one("1g.5gb+me", 4, &[]), two(2, 2, &P2)],
                "media extensions",
            ),
            (
                vec![one("1g.5gb", 4, &CI2), two(2, 2, &P2)],
                "larger than its GPU instance",
            ),
        ];
        for (profiles, needle) in cases {
            let msg = failure(profiles);
            assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
        }
    }
}
