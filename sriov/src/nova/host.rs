//! `nova.conf` from what the vGPU manager made on a host: each interface's sections.

use super::pci::{NovaVgpuVfs, nova_pci_conf};
use super::{NovaMdevType, nova_conf};
use crate::vgpu::{GpuVgpus, VgpuSlot, VgpuTypeId};
use crate::{Error, PciAddress, Sysfs, VgpuInterface};

/// The `nova.conf` sections for the vGPUs on `views` (from [`crate::vgpu::inventory()`]):
/// for mdev GPUs, `[devices] enabled_mdev_types` and per type its `device_addresses` (the
/// parents carrying it) and `max_instances` (how many were made: Nova then offers no more of
/// it, though each VF reports one instance); for vendor-VFIO GPUs, `[pci] device_spec` per VF
/// and an `alias` per type. Reads each VF's IDs from `sysfs`.
///
/// # Errors
/// [`Error::Nova`] when there is no vGPU, or Nova would refuse the result; sysfs errors.
pub fn nova_conf_for_host(sysfs: &Sysfs, views: &[GpuVgpus]) -> Result<String, Error> {
    let mut mdev: Vec<NovaMdevType> = Vec::new();
    // (type name, its VFs as (address, vendor, product)).
    type Vfs = Vec<(PciAddress, u16, u16)>;
    let mut pci: Vec<(String, Vfs)> = Vec::new();
    for view in views {
        for v in &view.vgpus {
            match (view.interface, &v.slot, &v.type_id) {
                (Some(VgpuInterface::Mdev), VgpuSlot::Mdev { parent, .. }, VgpuTypeId::Mdev(t)) => {
                    match mdev.iter_mut().find(|m| m.mdev_type == *t) {
                        Some(m) => {
                            if !m.addresses.contains(parent) {
                                m.addresses.push(*parent);
                            }
                            m.max_instances = Some(m.max_instances.unwrap_or(0) + 1);
                        }
                        None => mdev.push(NovaMdevType::new(t, &[*parent]).max_instances(1)),
                    }
                }
                (_, VgpuSlot::Vf(vf), _) => {
                    let name = v.type_name.clone().unwrap_or_else(|| v.type_id.to_string());
                    let d = sysfs.device(*vf)?;
                    let entry = (*vf, d.vendor, d.device);
                    match pci.iter_mut().find(|(n, _)| *n == name) {
                        Some((_, list)) => list.push(entry),
                        None => pci.push((name, vec![entry])),
                    }
                }
                _ => {}
            }
        }
    }
    for m in &mut mdev {
        m.addresses.sort_unstable();
    }
    for (_, vfs) in &mut pci {
        vfs.sort_unstable();
    }
    if mdev.is_empty() && pci.is_empty() {
        return Err(Error::Nova {
            reason: "no vGPU on the host to offer".to_owned(),
        });
    }
    let mut out = String::new();
    if !mdev.is_empty() {
        out.push_str(&nova_conf(&mdev)?);
    }
    if !pci.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        let groups: Vec<NovaVgpuVfs> = pci
            .iter()
            .map(|(n, vfs)| NovaVgpuVfs::for_type(n, vfs))
            .collect();
        out.push_str(&nova_pci_conf(&groups)?);
    }
    Ok(out)
}
