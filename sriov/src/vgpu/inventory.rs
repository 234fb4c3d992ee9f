//! What each NVIDIA GPU has now: which vGPU interface it offers, its slots (the VFs, or mdev
//! parents), its vGPUs and the types it knows.

use super::state::HostState;
use super::types::{Vgpu, VgpuSlot, VgpuTypeId};
use crate::{Error, PciAddress, Sysfs, VgpuInterface};

/// One GPU's vGPU view.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct GpuVgpus {
    /// The GPU (its PF).
    pub gpu: PciAddress,
    /// Its interface; `None` when it offers neither (no VFs yet, or no vGPU manager).
    pub interface: Option<VgpuInterface>,
    /// Where vGPUs can live: VFs with the vendor interface, or mdev parents.
    pub slots: Vec<PciAddress>,
    /// Its vGPUs.
    pub vgpus: Vec<Vgpu>,
    /// The types it knows (ID, name): every mdev type of its parents, or every type a free
    /// VF offers now plus the types of its vGPUs as recorded in the state file.
    pub types: Vec<(VgpuTypeId, String)>,
}

impl GpuVgpus {
    /// The name of type `id`, where known.
    #[must_use]
    pub fn type_name(&self, id: &VgpuTypeId) -> Option<&str> {
        self.types
            .iter()
            .find(|(t, _)| t == id)
            .map(|(_, n)| n.as_str())
    }

    /// Slots without a vGPU.
    #[must_use]
    pub fn free_slots(&self) -> Vec<PciAddress> {
        self.slots
            .iter()
            .copied()
            .filter(|s| !self.vgpus.iter().any(|v| v.slot.device() == *s))
            .collect()
    }
}

fn add_type(types: &mut Vec<(VgpuTypeId, String)>, id: VgpuTypeId, name: String) {
    if !types.iter().any(|(t, _)| *t == id) {
        types.push((id, name));
    }
}

/// Every NVIDIA GPU's vGPU view, names of types no free VF offers now taken from `state`.
///
/// # Errors
/// [`Error::Io`] or [`Error::Value`] when an attribute cannot be read or parsed.
pub fn inventory(sysfs: &Sysfs, state: &HostState) -> Result<Vec<GpuVgpus>, Error> {
    let parents = sysfs.mdev_parents()?;
    let mdevs = if parents.is_empty() {
        Vec::new()
    } else {
        sysfs.mdevs()?
    };
    let mut out = Vec::new();
    for g in sysfs.nvidia_gpus()? {
        let pf = g.address;
        let vfs = if g.sriov.is_some() {
            sysfs.virtual_functions(pf)?
        } else {
            Vec::new()
        };
        let mine: Vec<PciAddress> = parents
            .iter()
            .copied()
            .filter(|p| *p == pf || vfs.contains(p))
            .collect();
        let mut view = GpuVgpus {
            gpu: pf,
            interface: None,
            slots: Vec::new(),
            vgpus: Vec::new(),
            types: Vec::new(),
        };
        if !mine.is_empty() {
            view.interface = Some(VgpuInterface::Mdev);
            for &p in &mine {
                for t in sysfs.mdev_types(p)? {
                    let name = t.name.clone().unwrap_or_else(|| t.id.clone());
                    add_type(&mut view.types, VgpuTypeId::Mdev(t.id), name);
                }
            }
            for m in mdevs.iter().filter(|m| mine.contains(&m.parent)) {
                let type_id = VgpuTypeId::Mdev(m.mdev_type.clone());
                view.vgpus.push(Vgpu {
                    gpu: pf,
                    slot: VgpuSlot::Mdev {
                        parent: m.parent,
                        uuid: m.uuid,
                    },
                    type_name: view.type_name(&type_id).map(str::to_owned),
                    type_id,
                    gpu_instance_id: None,
                    placement_id: None,
                });
            }
            view.slots = mine;
        } else {
            for &vf in &vfs {
                let current = match sysfs.current_vgpu_type(vf) {
                    Ok(c) => c,
                    // Bound to another driver (vfio-pci): not a vGPU slot now.
                    Err(Error::NoVendorVgpu { .. }) => continue,
                    Err(e) => return Err(e),
                };
                view.interface = Some(VgpuInterface::NvidiaVendor);
                view.slots.push(vf);
                match current {
                    None => {
                        for t in sysfs.creatable_vgpu_types(vf)? {
                            add_type(&mut view.types, VgpuTypeId::Vendor(t.id), t.name);
                        }
                    }
                    Some(id) => view.vgpus.push(Vgpu {
                        gpu: pf,
                        slot: VgpuSlot::Vf(vf),
                        type_id: VgpuTypeId::Vendor(id),
                        type_name: None,
                        gpu_instance_id: sysfs.vgpu_gpu_instance(vf).ok().flatten(),
                        placement_id: sysfs.vgpu_placement(vf).ok().flatten(),
                    }),
                }
            }
            for r in &state.vgpus {
                if let (VgpuTypeId::Vendor(_), Some(n)) = (&r.vgpu.type_id, &r.vgpu.type_name) {
                    add_type(&mut view.types, r.vgpu.type_id.clone(), n.clone());
                }
            }
            for (id, n) in &state.types {
                add_type(&mut view.types, VgpuTypeId::Vendor(*id), n.clone());
            }
            let names = view.types.clone();
            for v in &mut view.vgpus {
                v.type_name = names
                    .iter()
                    .find(|(t, _)| *t == v.type_id)
                    .map(|(_, n)| n.clone());
            }
        }
        out.push(view);
    }
    Ok(out)
}
