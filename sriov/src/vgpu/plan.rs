//! Planning: the vGPUs wanted per GPU → the operations, with explicit slots, GPU instances
//! and placements, checked against NVIDIA's rules before anything is written.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use super::inventory::{GpuVgpus, inventory};
use super::name::VgpuTypeName;
use super::state::HostState;
use super::types::{GpuInstanceRef, Vgpu, VgpuSlot, VgpuTypeId};
use crate::{Error, MdevUuid, PciAddress, Sysfs, VgpuInterface};

/// So many vGPUs of a type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct VgpuWant {
    /// The type: its name (`NVIDIA A100-3-20C` or `A100-3-20C`), a vendor ID (`705`) or an
    /// mdev type directory (`nvidia-705`).
    pub vgpu_type: String,
    /// How many.
    pub count: u32,
}

impl VgpuWant {
    /// `count` vGPUs of `vgpu_type`.
    #[must_use]
    pub fn new(vgpu_type: &str, count: u32) -> Self {
        VgpuWant {
            vgpu_type: vgpu_type.to_owned(),
            count,
        }
    }
}

/// What one GPU should carry: exactly these vGPUs (others on it are removed, never ones
/// that are owned or open), with what the manager cannot read from sysfs: the GPU instances
/// (from NVML, for MIG-backed types) and the card's memory (for time-sliced placements).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct GpuSpec {
    /// The GPU (its PF).
    pub gpu: PciAddress,
    /// The vGPUs.
    pub vgpus: Vec<VgpuWant>,
    /// Its GPU instances when MIG is on (`Some(vec![])`: MIG off); `None`: unknown, the
    /// driver then chooses GPU instances and nothing is checked against them.
    pub gpu_instances: Option<Vec<GpuInstanceRef>>,
    /// The card's memory in MiB; `None`: unknown, framebuffers are not summed and the driver
    /// chooses placements.
    pub memory_mib: Option<u64>,
}

impl GpuSpec {
    /// GPU `gpu` with no vGPUs.
    #[must_use]
    pub fn new(gpu: PciAddress) -> Self {
        GpuSpec {
            gpu,
            vgpus: Vec::new(),
            gpu_instances: None,
            memory_mib: None,
        }
    }

    /// Adds `count` vGPUs of `vgpu_type`.
    #[must_use]
    pub fn vgpus(mut self, vgpu_type: &str, count: u32) -> Self {
        self.vgpus.push(VgpuWant::new(vgpu_type, count));
        self
    }

    /// The GPU's GPU instances (MIG on) or none (MIG off).
    #[must_use]
    pub fn gpu_instances(mut self, gis: Vec<GpuInstanceRef>) -> Self {
        self.gpu_instances = Some(gis);
        self
    }

    /// The card's memory.
    #[must_use]
    pub fn memory_mib(mut self, mib: u64) -> Self {
        self.memory_mib = Some(mib);
        self
    }
}

/// One write to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum VgpuOp {
    /// Make this vGPU (GPU instance and placement written first where given).
    Create(Vgpu),
    /// Clear this vGPU.
    Remove(Vgpu),
}

impl core::fmt::Display for VgpuOp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VgpuOp::Create(v) => write!(f, "create {v}"),
            VgpuOp::Remove(v) => write!(f, "remove {v}"),
        }
    }
}

/// The operations that make the host what was asked, removals first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct VgpuPlan {
    /// The writes, in order.
    pub ops: Vec<VgpuOp>,
    /// vGPUs that stay as they are.
    pub kept: Vec<Vgpu>,
    /// (GPU, GPU instance ID, start slice) of the GPU instances the plan's vGPUs run on, for
    /// the state file.
    pub gi_starts: Vec<(PciAddress, u32, u8)>,
}

fn refuse(gpu: PciAddress, reason: String) -> Error {
    Error::VgpuPlan { gpu, reason }
}

/// `s` cut to 80 characters.
fn cut(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The type `want` names on `view`: a vendor ID, an mdev type directory, or a name (with or
/// without its `NVIDIA `/`GRID ` prefix, any case).
///
/// # Errors
/// [`Error::VgpuPlan`] naming the type and the types the GPU knows.
pub fn resolve_type(view: &GpuVgpus, want: &str) -> Result<(VgpuTypeId, String), Error> {
    let w = want.trim();
    let found = if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) {
        view.types
            .iter()
            .find(|(t, _)| matches!(t, VgpuTypeId::Vendor(id) if id.to_string() == w))
    } else if let Some(t) = view
        .types
        .iter()
        .find(|(t, _)| matches!(t, VgpuTypeId::Mdev(d) if d == w))
    {
        Some(t)
    } else {
        let parsed: Option<VgpuTypeName> = w.parse().ok();
        view.types.iter().find(|(_, n)| {
            n.eq_ignore_ascii_case(w)
                || parsed
                    .as_ref()
                    .is_some_and(|p| n.parse::<VgpuTypeName>().is_ok_and(|q| q.same_type(p)))
        })
    };
    found.cloned().ok_or_else(|| {
        let known: Vec<&str> = view
            .types
            .iter()
            .map(|(_, n)| n.as_str())
            .take(12)
            .collect();
        refuse(
            view.gpu,
            format!(
                "no vGPU type {:?} here; expected one of: {}",
                cut(w),
                if known.is_empty() {
                    "(none offered now)".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        )
    })
}

/// A fresh random (version 4) UUID for a new mdev.
fn new_uuid(a: u64, b: u64) -> MdevUuid {
    let word = |k: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(a);
        h.write_u64(b);
        h.write_u64(k);
        h.finish()
    };
    let v = (u128::from(word(1)) << 64) | u128::from(word(2));
    let v = (v & !(0xf << 76)) | (0x4 << 76);
    let v = (v & !(0x3 << 62)) | (0x2 << 62);
    MdevUuid::from_u128(v)
}

/// What one wanted type is on this GPU.
struct Wanted {
    id: VgpuTypeId,
    name: String,
    parsed: Option<VgpuTypeName>,
    count: u32,
    kept: u32,
}

impl Wanted {
    fn mig_profile(&self) -> Option<String> {
        self.parsed
            .as_ref()
            .and_then(VgpuTypeName::gpu_instance_profile)
    }

    fn framebuffer_gb(&self) -> Option<u32> {
        self.parsed.as_ref().map(|p| p.framebuffer_gb)
    }
}

/// The operations that give each GPU of `specs` exactly its vGPUs, read from the host now
/// (`state` names owners and the types no free VF offers). Nothing is written.
///
/// # Errors
/// [`Error::VgpuPlan`] naming the GPU and the rule: an unknown type, a GPU listed twice or
/// without a vGPU interface, time-sliced and MIG-backed types on one GPU, two time-sliced
/// types (NVIDIA's equal-size mode), framebuffers beyond the card, too few free GPU
/// instances of a profile, placements or VFs; [`Error::NotOwner`] and [`Error::VgpuInUse`]
/// when a vGPU that would go is owned or open; [`Error::VgpuTypeNotCreatable`] when the
/// first VF of a type is not offered it now; sysfs errors.
pub fn plan(sysfs: &Sysfs, specs: &[GpuSpec], state: &HostState) -> Result<VgpuPlan, Error> {
    plan_on(sysfs, &inventory(sysfs, state)?, specs, state)
}

/// [`plan`] over an inventory already read (`inv`, from [`inventory`] with `state`).
pub(super) fn plan_on(
    sysfs: &Sysfs,
    inv: &[GpuVgpus],
    specs: &[GpuSpec],
    state: &HostState,
) -> Result<VgpuPlan, Error> {
    let mut out = VgpuPlan::default();
    let mut creates = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        if specs[..i].iter().any(|s| s.gpu == spec.gpu) {
            return Err(refuse(spec.gpu, "listed twice".to_owned()));
        }
        let view = inv.iter().find(|v| v.gpu == spec.gpu).ok_or_else(|| {
            refuse(
                spec.gpu,
                "no NVIDIA GPU physical function at this address".to_owned(),
            )
        })?;
        plan_gpu(sysfs, view, spec, state, &mut out, &mut creates, i)?;
    }
    out.ops.extend(creates);
    Ok(out)
}

#[allow(clippy::too_many_lines)]
fn plan_gpu(
    sysfs: &Sysfs,
    view: &GpuVgpus,
    spec: &GpuSpec,
    state: &HostState,
    out: &mut VgpuPlan,
    creates: &mut Vec<VgpuOp>,
    salt: usize,
) -> Result<(), Error> {
    let gpu = spec.gpu;
    let total: u64 = spec.vgpus.iter().map(|w| u64::from(w.count)).sum();
    let Some(interface) = view.interface else {
        if total == 0 {
            return Ok(());
        }
        return Err(refuse(
            gpu,
            "offers no vGPU interface (no mdev parent, no VF with nvidia/current_vgpu_type): enable VFs first, with NVIDIA's vGPU manager loaded".to_owned(),
        ));
    };
    // The wanted types.
    let mut wanted: Vec<Wanted> = Vec::new();
    for w in &spec.vgpus {
        let (id, name) = resolve_type(view, &w.vgpu_type)?;
        if wanted.iter().any(|x| x.id == id) {
            return Err(refuse(gpu, format!("type {name} is listed twice")));
        }
        wanted.push(Wanted {
            parsed: name.parse().ok(),
            id,
            name,
            count: w.count,
            kept: 0,
        });
    }
    // Keep what is wanted (owned and open vGPUs first), remove the rest if allowed.
    // (processes holding it open, the vGPU), each read once.
    let mut existing: Vec<(Vec<u32>, &Vgpu)> = Vec::new();
    for v in &view.vgpus {
        existing.push((holders(sysfs, &v.slot)?, v));
    }
    existing.sort_by_key(|(pids, v)| (state.owner(&v.slot).is_none() && pids.is_empty(), v.slot));
    let mut kept: Vec<&Vgpu> = Vec::new();
    let mut removed: Vec<&Vgpu> = Vec::new();
    for (pids, v) in existing {
        match wanted
            .iter_mut()
            .find(|w| w.id == v.type_id && w.kept < w.count)
        {
            Some(w) => {
                w.kept += 1;
                kept.push(v);
            }
            None => {
                if let Some(o) = state.owner(&v.slot) {
                    return Err(Error::NotOwner {
                        slot: v.slot,
                        holder: Some(o.to_string()),
                        asked: None,
                    });
                }
                if !pids.is_empty() {
                    return Err(Error::VgpuInUse { slot: v.slot, pids });
                }
                removed.push(v);
            }
        }
    }
    // NVIDIA's rules on the final set.
    let kept_type =
        |v: &Vgpu| -> Option<VgpuTypeName> { v.type_name.as_deref().and_then(|n| n.parse().ok()) };
    let mig_backed_final = wanted
        .iter()
        .any(|w| w.count > 0 && w.mig_profile().is_some());
    let time_sliced: Vec<&Wanted> = wanted
        .iter()
        .filter(|w| w.count > 0 && w.mig_profile().is_none())
        .collect();
    if mig_backed_final && !time_sliced.is_empty() {
        return Err(refuse(
            gpu,
            format!(
                "time-sliced ({}) and MIG-backed vGPUs cannot share a physical GPU",
                time_sliced[0].name
            ),
        ));
    }
    if time_sliced.len() > 1 {
        return Err(refuse(
            gpu,
            format!(
                "time-sliced vGPUs on one GPU are all of one type (NVIDIA's equal-size mode); asked {} and {}",
                time_sliced[0].name, time_sliced[1].name
            ),
        ));
    }
    if let Some(mem) = spec.memory_mib {
        let fb: u64 = wanted
            .iter()
            .filter(|w| w.mig_profile().is_none())
            .map(|w| {
                u64::from(w.count)
                    .saturating_mul(u64::from(w.framebuffer_gb().unwrap_or(0)))
                    .saturating_mul(1024)
            })
            .fold(0u64, u64::saturating_add);
        if fb > mem {
            return Err(refuse(
                gpu,
                format!(
                    "{} MiB of time-sliced framebuffer asked on a card of {mem} MiB",
                    fb
                ),
            ));
        }
    }
    let gis = spec.gpu_instances.as_deref();
    if let Some(g) = gis
        && !time_sliced.is_empty()
        && !g.is_empty()
    {
        return Err(refuse(
            gpu,
            format!(
                "MIG is on ({} GPU instances); time-sliced {} needs MIG off",
                g.len(),
                time_sliced[0].name
            ),
        ));
    }
    // Slots: free ones and those freed by removals, lowest first.
    let mut free: Vec<PciAddress> = view.free_slots();
    for v in &removed {
        let d = v.slot.device();
        if !view
            .vgpus
            .iter()
            .any(|o| o.slot.device() == d && !removed.contains(&o))
        {
            free.push(d);
        }
    }
    free.sort_unstable();
    free.dedup();
    let needed: u64 = wanted.iter().map(|w| u64::from(w.count - w.kept)).sum();
    if needed > free.len() as u64 {
        return Err(refuse(
            gpu,
            format!(
                "needs {needed} free {} for new vGPUs, {} free: enable more VFs",
                if interface == VgpuInterface::Mdev {
                    "mdev parents"
                } else {
                    "VFs"
                },
                free.len()
            ),
        ));
    }
    // GPU instances in use by kept vGPUs, placements taken by them.
    let mut used_gis: Vec<u32> = kept.iter().filter_map(|v| v.gpu_instance_id).collect();
    let mut taken: Vec<(u64, u64)> = kept
        .iter()
        .filter_map(|v| {
            let p = u64::from(v.placement_id?);
            Some((p, p + u64::from(kept_type(v)?.framebuffer_gb)))
        })
        .collect();
    let mut next_slot = free.into_iter();
    let mut first_of_type = true;
    for w in &wanted {
        let new = w.count - w.kept;
        if new == 0 {
            continue;
        }
        let profile = w.mig_profile();
        if let (Some(profile), Some(g)) = (&profile, gis) {
            let of_profile: Vec<&GpuInstanceRef> =
                g.iter().filter(|x| x.profile == *profile).collect();
            let kept_here = u32::try_from(
                kept.iter()
                    .filter(|v| {
                        kept_type(v).and_then(|t| t.gpu_instance_profile()) == Some(profile.clone())
                    })
                    .count(),
            )
            .unwrap_or(u32::MAX);
            if u64::from(kept_here) + u64::from(new) > of_profile.len() as u64 {
                return Err(refuse(
                    gpu,
                    format!(
                        "{} x {} need as many GPU instances of {profile}; the GPU has {} ({} in use)",
                        w.count,
                        w.name,
                        of_profile.len(),
                        kept_here
                    ),
                ));
            }
        }
        for _ in 0..new {
            let Some(slot_dev) = next_slot.next() else {
                return Err(refuse(gpu, "ran out of free slots".to_owned()));
            };
            let mut v = Vgpu {
                gpu,
                slot: VgpuSlot::Vf(slot_dev),
                type_id: w.id.clone(),
                type_name: Some(w.name.clone()),
                gpu_instance_id: None,
                placement_id: None,
            };
            match interface {
                VgpuInterface::Mdev => {
                    v.slot = VgpuSlot::Mdev {
                        parent: slot_dev,
                        uuid: new_uuid(salt as u64, creates.len() as u64),
                    };
                    // The first parent must have room for the type now.
                    if first_of_type && removed.is_empty() {
                        let room = sysfs
                            .mdev_types(slot_dev)?
                            .into_iter()
                            .find(|t| VgpuTypeId::Mdev(t.id.clone()) == w.id)
                            .map_or(0, |t| t.available_instances);
                        if room == 0 {
                            return Err(refuse(
                                gpu,
                                format!(
                                    "mdev parent {slot_dev} has no room for {} now (available_instances 0)",
                                    w.name
                                ),
                            ));
                        }
                    }
                }
                _ => {
                    if let (Some(profile), Some(g)) = (&profile, gis) {
                        let mut cands: Vec<&GpuInstanceRef> = g
                            .iter()
                            .filter(|x| x.profile == *profile && !used_gis.contains(&x.id))
                            .collect();
                        cands.sort_by_key(|x| x.id);
                        let gi = cands.first().ok_or_else(|| {
                            refuse(
                                gpu,
                                format!("no free GPU instance of {profile} left for {}", w.name),
                            )
                        })?;
                        used_gis.push(gi.id);
                        v.gpu_instance_id = Some(gi.id);
                        out.gi_starts.push((gpu, gi.id, gi.start));
                    }
                    if let (None, Some(mem), Some(fb)) =
                        (&profile, spec.memory_mib, w.framebuffer_gb())
                    {
                        let size = u64::from(fb.max(1));
                        let units = mem / 1024;
                        let mut start = 0;
                        let mut chosen = None;
                        while start + size <= units {
                            if taken.iter().all(|&(a, b)| start + size <= a || b <= start) {
                                chosen = Some(start);
                                break;
                            }
                            start += size;
                        }
                        let p = chosen.ok_or_else(|| {
                            refuse(
                                gpu,
                                format!("no free placement of {} GB left for {}", fb, w.name),
                            )
                        })?;
                        taken.push((p, p + size));
                        v.placement_id = u32::try_from(p).ok();
                    }
                    // The first VF must be offered the type now (later ones follow the
                    // model above, and each write is checked again).
                    if first_of_type
                        && removed.is_empty()
                        && let VgpuTypeId::Vendor(id) = w.id
                    {
                        let offered = sysfs.creatable_vgpu_types(slot_dev)?;
                        if !offered.iter().any(|t| t.id == id) {
                            return Err(Error::VgpuTypeNotCreatable {
                                address: slot_dev,
                                id,
                                creatable: offered.iter().map(|t| t.id).collect(),
                            });
                        }
                    }
                }
            }
            first_of_type = false;
            creates.push(VgpuOp::Create(v));
        }
        first_of_type = true;
    }
    for v in &kept {
        if let (Some(gi), Some(g)) = (v.gpu_instance_id, gis)
            && let Some(x) = g.iter().find(|x| x.id == gi)
        {
            out.gi_starts.push((gpu, gi, x.start));
        }
    }
    out.ops
        .extend(removed.into_iter().cloned().map(VgpuOp::Remove));
    out.kept.extend(kept.into_iter().cloned());
    Ok(())
}

/// The processes holding `slot` open through VFIO.
pub(super) fn holders(sysfs: &Sysfs, slot: &VgpuSlot) -> Result<Vec<u32>, Error> {
    match *slot {
        VgpuSlot::Vf(a) => sysfs.vfio_holders_of_device(a),
        VgpuSlot::Mdev { uuid, .. } => sysfs.vfio_holders_of_mdev(uuid),
    }
}
