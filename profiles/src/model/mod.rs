//! GPU models, GPU instance profiles, compute instance profiles and placements, with the
//! `const fn` checks that make a wrong catalog entry a compile error.
//!
//! - [`pci`]: PCI device IDs and architectures;
//! - [`nvml_index`]: NVML's profile indices for GPU and compute instances;
//! - [`profile`]: placements and the GPU and compute instance profiles;
//! - here: boards and GPU models.

pub mod nvml_index;
pub mod pci;
pub mod profile;

pub use nvml_index::{NvmlCiProfileIndex, NvmlGiProfileIndex};
pub use pci::{Architecture, PciDeviceId};
pub use profile::{ComputeInstanceProfile, Engines, GpuInstanceProfile, Placement};

use crate::{Error, ProfileName};

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
