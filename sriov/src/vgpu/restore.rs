//! Making a recorded host again after a reboot, in two halves around the MIG layout (which
//! `gpupart-mig` makes in between): the VFs, then the vGPUs at their recorded slots.

use super::inventory::inventory;
use super::plan::{VgpuOp, VgpuPlan};
use super::state::HostState;
use crate::{EnableOptions, Error, PciAddress, Sysfs, VfReport};

/// Enables the VFs the state records on each GPU (nothing where they are enabled already).
///
/// # Errors
/// As [`Sysfs::enable_vfs`] (a GPU with a different number of VFs enabled is refused).
pub fn restore_vfs(sysfs: &Sysfs, state: &HostState) -> Result<Vec<VfReport>, Error> {
    state
        .vfs
        .iter()
        .map(|&(pf, n)| sysfs.enable_vfs(pf, n, &EnableOptions::default()))
        .collect()
}

/// The plan that makes every recorded vGPU again at its slot: vGPUs already there are kept,
/// a MIG-backed one goes on the GPU instance that `gi_at(gpu, start)` names now (instances
/// come back at the same start under new IDs).
///
/// # Errors
/// [`Error::VgpuPlan`] when a recorded slot holds another vGPU, or a MIG-backed vGPU's GPU
/// instance is not there.
pub fn restore_plan(
    sysfs: &Sysfs,
    state: &HostState,
    gi_at: &dyn Fn(PciAddress, u8) -> Option<u32>,
) -> Result<VgpuPlan, Error> {
    let now: Vec<_> = inventory(sysfs, state)?
        .into_iter()
        .flat_map(|g| g.vgpus)
        .collect();
    let mut plan = VgpuPlan::default();
    for r in &state.vgpus {
        let mut v = r.vgpu.clone();
        if let Some(start) = r.gi_start {
            v.gpu_instance_id = Some(gi_at(v.gpu, start).ok_or_else(|| Error::VgpuPlan {
                gpu: v.gpu,
                reason: format!(
                    "{}: no GPU instance at start {start} for {}",
                    v.slot, v.type_id
                ),
            })?);
            plan.gi_starts
                .push((v.gpu, v.gpu_instance_id.unwrap_or(0), start));
        }
        match now.iter().find(|h| h.slot.device() == v.slot.device()) {
            Some(h) if h.slot == v.slot && h.type_id == v.type_id => plan.kept.push(h.clone()),
            Some(h) if matches!(h.slot, super::VgpuSlot::Vf(_)) || h.slot == v.slot => {
                return Err(Error::VgpuPlan {
                    gpu: v.gpu,
                    reason: format!(
                        "{} holds {} where the state records {}",
                        h.slot, h.type_id, v.type_id
                    ),
                });
            }
            _ => plan.ops.push(VgpuOp::Create(v)),
        }
    }
    Ok(plan)
}
