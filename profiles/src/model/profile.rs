//! Placements of GPU instances, and the GPU and compute instance profiles of a model with
//! their `const` builders.

use core::fmt;

use super::{NvmlCiProfileIndex, NvmlGiProfileIndex};
use crate::ProfileName;

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
