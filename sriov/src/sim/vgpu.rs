//! NVIDIA's vGPU placement rules, as the host driver enforces them on a physical GPU, for both
//! interfaces the simulator offers (mdev types and the vendor `current_vgpu_type`):
//!
//! - a type has a per-GPU instance limit (`max_instances`);
//! - time-sliced vGPUs on one physical GPU are all of one size at a time, unless the GPU is in
//!   mixed-size mode; their framebuffers sum to at most the card's memory;
//! - MIG-backed types need MIG on and a free GPU instance of their profile, one vGPU per GPU
//!   instance; time-sliced and MIG-backed vGPUs never share a physical GPU;
//! - what a VF can still be (`creatable_vgpu_types`) and how many more of a type a parent
//!   takes (`available_instances`) shrink as siblings are used.

use super::{SimDevice, SimMdevType, State};
use crate::PciAddress;

/// A vGPU type as the simulated driver knows it: what it is called and what it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimVgpuType {
    pub(super) id: u32,
    pub(super) name: String,
    pub(super) framebuffer_mib: u64,
    pub(super) max_per_gpu: u32,
    pub(super) mig_profile: Option<String>,
}

impl SimVgpuType {
    /// A time-sliced type: `framebuffer_mib` of the card's memory, at most `max_per_gpu` on
    /// one physical GPU.
    #[must_use]
    pub fn time_sliced(id: u32, name: &str, framebuffer_mib: u64, max_per_gpu: u32) -> Self {
        SimVgpuType {
            id,
            name: name.to_owned(),
            framebuffer_mib,
            max_per_gpu,
            mig_profile: None,
        }
    }

    /// A MIG-backed type: one vGPU on a GPU instance of `profile` (`3g.20gb`).
    #[must_use]
    pub fn mig_backed(
        id: u32,
        name: &str,
        framebuffer_mib: u64,
        max_per_gpu: u32,
        profile: &str,
    ) -> Self {
        SimVgpuType {
            id,
            name: name.to_owned(),
            framebuffer_mib,
            max_per_gpu,
            mig_profile: Some(profile.to_owned()),
        }
    }

    /// Its ID (what `current_vgpu_type` takes).
    #[must_use]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Its name (`NVIDIA A100-3-20C`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The GPU instance profile it needs, for a MIG-backed type.
    #[must_use]
    pub fn mig_profile(&self) -> Option<&str> {
        self.mig_profile.as_deref()
    }
}

/// A GPU instance of a simulated physical GPU in MIG mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimGpuInstance {
    /// Its ID (what a MIG-backed vGPU names in `gpu_instance_id`).
    pub id: u32,
    /// Its profile (`3g.20gb`).
    pub profile: String,
}

/// Why a vGPU cannot go on a physical GPU now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The type's per-GPU limit is reached.
    Limit,
    /// Another size of time-sliced vGPU is there (and the GPU is not in mixed-size mode).
    OtherSize,
    /// The framebuffer would exceed the card's memory, or no aligned placement is free.
    Memory,
    /// A MIG-backed type with MIG off, or a time-sliced one with MIG on.
    MigMode,
    /// No free GPU instance of the type's profile (or the one asked for is not).
    NoGpuInstance,
    /// The placement asked for is not aligned to the type's size, past the card, or taken.
    Placement,
}

/// Where a vGPU is asked to go (`nvidia/gpu_instance_id`, `nvidia/placement_id` written
/// before the type); `None`: the driver chooses.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Want {
    pub(super) gpu_instance: Option<u32>,
    pub(super) placement: Option<u32>,
}

/// Where a vGPU goes: its GPU instance (MIG-backed) or framebuffer placement (time-sliced).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Fit {
    pub(super) gpu_instance: Option<u32>,
    pub(super) placement: Option<u32>,
}

/// One GiB, the simulator's placement unit: a time-sliced vGPU of N GiB of framebuffer
/// occupies placements `[p, p + N)` with `p` a multiple of N, within the card's memory.
const PLACEMENT_UNIT_MIB: u64 = 1024;

/// A type's size in placement units (at least 1).
fn units(t: &SimVgpuType) -> u64 {
    t.framebuffer_mib.div_ceil(PLACEMENT_UNIT_MIB).max(1)
}

/// One vGPU on a physical GPU: its type and where it sits.
struct Used<'a> {
    ty: &'a SimVgpuType,
    gpu_instance: Option<u32>,
    placement: Option<u32>,
}

impl State {
    /// The physical GPU a function belongs to: its PF for a VF, itself otherwise.
    pub(super) fn physical(&self, a: PciAddress) -> PciAddress {
        self.devices.get(&a).and_then(|d| d.physfn).unwrap_or(a)
    }

    /// Every vGPU on physical GPU `p`: VFs with a vendor type, mdevs on it or its VFs.
    fn used(&self, p: PciAddress) -> Vec<Used<'_>> {
        let mut out = Vec::new();
        for d in self.devices.values() {
            if d.physfn.unwrap_or(d.address) != p || d.current_vgpu == 0 {
                continue;
            }
            if let Some(ty) = d.vgpu_types.iter().find(|t| t.id == d.current_vgpu) {
                out.push(Used {
                    ty,
                    gpu_instance: d.gpu_instance,
                    placement: d.placement,
                });
            }
        }
        for m in self.mdevs.values() {
            if self.physical(m.parent) != p {
                continue;
            }
            let ty = self
                .devices
                .get(&m.parent)
                .and_then(|d| d.mdev_types.iter().find(|t| t.id == m.mdev_type))
                .and_then(|t| t.rules.as_ref());
            if let Some(ty) = ty {
                out.push(Used {
                    ty,
                    gpu_instance: m.gpu_instance,
                    placement: m.placement,
                });
            }
        }
        out
    }

    /// The free aligned placements for type `t` on physical GPU `p`, lowest first.
    fn free_placements(&self, gpu_memory_mib: u64, used: &[Used<'_>], t: &SimVgpuType) -> Vec<u32> {
        let size = units(t);
        let total = gpu_memory_mib / PLACEMENT_UNIT_MIB;
        let taken: Vec<(u64, u64)> = used
            .iter()
            .filter_map(|u| {
                u.placement
                    .map(|p| (u64::from(p), u64::from(p) + units(u.ty)))
            })
            .collect();
        let mut out = Vec::new();
        let mut start = 0u64;
        while start + size <= total {
            let end = start + size;
            if taken.iter().all(|&(a, b)| end <= a || b <= start)
                && let Ok(p) = u32::try_from(start)
            {
                out.push(p);
            }
            start += size;
        }
        out
    }

    /// Whether one more vGPU of type `t` fits on physical GPU `p` now, and where it goes:
    /// where asked (`want`), else the driver's choice (the lowest free GPU instance of the
    /// profile by ID, the lowest free aligned placement).
    pub(super) fn vgpu_fits(
        &self,
        p: PciAddress,
        t: &SimVgpuType,
        want: Want,
    ) -> Result<Fit, Refusal> {
        let Some(gpu) = self.devices.get(&p) else {
            return Err(Refusal::MigMode);
        };
        let used = self.used(p);
        let same = used.iter().filter(|u| u.ty.id == t.id).count();
        if u32::try_from(same).unwrap_or(u32::MAX) >= t.max_per_gpu {
            return Err(Refusal::Limit);
        }
        match &t.mig_profile {
            None => {
                if gpu.mig.is_some() || used.iter().any(|u| u.ty.mig_profile.is_some()) {
                    return Err(Refusal::MigMode);
                }
                if want.gpu_instance.is_some() {
                    return Err(Refusal::NoGpuInstance);
                }
                if !gpu.mixed_vgpu_sizes && used.iter().any(|u| u.ty.id != t.id) {
                    return Err(Refusal::OtherSize);
                }
                let fb: u64 = used.iter().map(|u| u.ty.framebuffer_mib).sum();
                if fb.saturating_add(t.framebuffer_mib) > gpu.gpu_memory_mib {
                    return Err(Refusal::Memory);
                }
                let free = self.free_placements(gpu.gpu_memory_mib, &used, t);
                let placement = match want.placement {
                    Some(w) if free.contains(&w) => w,
                    Some(_) => return Err(Refusal::Placement),
                    None => *free.first().ok_or(Refusal::Memory)?,
                };
                Ok(Fit {
                    gpu_instance: None,
                    placement: Some(placement),
                })
            }
            Some(profile) => {
                let Some(gis) = &gpu.mig else {
                    return Err(Refusal::MigMode);
                };
                if used.iter().any(|u| u.ty.mig_profile.is_none()) {
                    return Err(Refusal::MigMode);
                }
                if want.placement.is_some() {
                    return Err(Refusal::Placement);
                }
                let mut free: Vec<u32> = gis
                    .iter()
                    .filter(|gi| {
                        gi.profile == *profile
                            && !used.iter().any(|u| u.gpu_instance == Some(gi.id))
                    })
                    .map(|gi| gi.id)
                    .collect();
                free.sort_unstable();
                let gi = match want.gpu_instance {
                    Some(w) if free.contains(&w) => w,
                    Some(_) => return Err(Refusal::NoGpuInstance),
                    None => *free.first().ok_or(Refusal::NoGpuInstance)?,
                };
                Ok(Fit {
                    gpu_instance: Some(gi),
                    placement: None,
                })
            }
        }
    }

    /// How many more vGPUs of type `t` physical GPU `p` takes now.
    pub(super) fn vgpu_room(&self, p: PciAddress, t: &SimVgpuType) -> u32 {
        let Some(gpu) = self.devices.get(&p) else {
            return 0;
        };
        if self.vgpu_fits(p, t, Want::default()).is_err() {
            return 0;
        }
        let used = self.used(p);
        let same = u32::try_from(used.iter().filter(|u| u.ty.id == t.id).count()).unwrap_or(0);
        let by_limit = t.max_per_gpu.saturating_sub(same);
        match (&t.mig_profile, &gpu.mig) {
            (Some(profile), Some(gis)) => {
                let free = gis
                    .iter()
                    .filter(|gi| {
                        gi.profile == *profile
                            && !used.iter().any(|u| u.gpu_instance == Some(gi.id))
                    })
                    .count();
                by_limit.min(u32::try_from(free).unwrap_or(u32::MAX))
            }
            _ => {
                let fb: u64 = used.iter().map(|u| u.ty.framebuffer_mib).sum();
                let left = gpu.gpu_memory_mib.saturating_sub(fb);
                let by_memory = left.checked_div(t.framebuffer_mib).unwrap_or(u64::MAX);
                let by_place = self.free_placements(gpu.gpu_memory_mib, &used, t).len() as u64;
                by_limit.min(u32::try_from(by_memory.min(by_place)).unwrap_or(u32::MAX))
            }
        }
    }

    /// How many more mdevs of type `ty` parent `parent` takes: a parent holds one type at a
    /// time, at most the type's `max_instances` on it, and with the type's vGPU rules no more
    /// than its physical GPU has room for.
    pub(super) fn mdev_available(&self, parent: PciAddress, ty: &SimMdevType) -> u32 {
        let on_parent: Vec<_> = self.mdevs.values().filter(|m| m.parent == parent).collect();
        if on_parent.iter().any(|m| m.mdev_type != ty.id) {
            return 0;
        }
        let by_parent = ty
            .max_instances
            .saturating_sub(u32::try_from(on_parent.len()).unwrap_or(u32::MAX));
        match &ty.rules {
            None => by_parent,
            Some(r) => by_parent.min(self.vgpu_room(self.physical(parent), r)),
        }
    }

    /// The vendor types VF `vf` can take now (none once it has one).
    pub(super) fn creatable<'a>(&self, vf: &'a SimDevice) -> Vec<&'a SimVgpuType> {
        if vf.current_vgpu != 0 {
            return Vec::new();
        }
        let p = self.physical(vf.address);
        vf.vgpu_types
            .iter()
            .filter(|t| self.vgpu_fits(p, t, Want::default()).is_ok())
            .collect()
    }

    /// Whether MIG on physical GPU `p` may change to `mig` now: never while a vGPU holds a
    /// GPU instance that would go, and not on or off under vGPUs of the other kind.
    pub(super) fn mig_change_allowed(&self, p: PciAddress, mig: Option<&[SimGpuInstance]>) -> bool {
        let now = self
            .devices
            .get(&p)
            .and_then(|d| d.mig.as_deref())
            .unwrap_or_default();
        self.used(p).iter().all(|u| match (u.gpu_instance, mig) {
            // The GPU instance stays, as it is.
            (Some(gi), Some(gis)) => now
                .iter()
                .find(|g| g.id == gi)
                .is_some_and(|held| gis.contains(held)),
            (Some(_), None) => false,
            (None, Some(_)) => false,
            (None, None) => true,
        })
    }
}
