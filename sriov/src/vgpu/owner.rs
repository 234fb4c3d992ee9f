//! Owners: a vGPU is claimed by its owner (a VM's UUID) and released only by it, never while a
//! process holds it open through VFIO; at start, vGPUs nobody owns or expects are orphans.
//!
//! Under the vendor interface a VF's path is reused by every owner in turn, so a late release
//! by a former owner would clear the next owner's vGPU (kernel/hypeman#364 met this): the
//! owner recorded in the [`HostState`] is the guard, and an open VFIO handle (a running VM) is
//! a second one that holds even when the state is lost.

use super::inventory::inventory;
use super::plan::holders;
use super::state::{HostState, RecordedVgpu};
use super::types::{Owner, Vgpu, VgpuSlot};
use crate::{Error, Sysfs};

/// Records `owner` as the owner of the vGPU at `slot`.
///
/// # Errors
/// [`Error::VgpuPlan`] when no vGPU is at `slot`; [`Error::NotOwner`] when another owner
/// holds it (claiming again as the same owner is fine).
pub fn claim(
    sysfs: &Sysfs,
    state: &mut HostState,
    slot: VgpuSlot,
    owner: &Owner,
) -> Result<(), Error> {
    let host = find(sysfs, state, slot)?;
    match state.vgpus.iter_mut().find(|r| r.vgpu.slot == slot) {
        Some(r) => match &r.owner {
            Some(o) if o != owner => {
                return Err(Error::NotOwner {
                    slot,
                    holder: Some(o.to_string()),
                    asked: Some(owner.to_string()),
                });
            }
            _ => r.owner = Some(owner.clone()),
        },
        None => state.vgpus.push(RecordedVgpu {
            vgpu: host,
            gi_start: None,
            owner: Some(owner.clone()),
        }),
    }
    Ok(())
}

fn find(sysfs: &Sysfs, state: &HostState, slot: VgpuSlot) -> Result<Vgpu, Error> {
    inventory(sysfs, state)?
        .into_iter()
        .flat_map(|g| g.vgpus)
        .find(|v| v.slot == slot)
        .ok_or_else(|| Error::VgpuPlan {
            gpu: slot.device(),
            reason: format!("no vGPU at {slot}"),
        })
}

/// Clears the vGPU at `slot` for its owner `owner`, and forgets it.
///
/// # Errors
/// [`Error::NotOwner`] when the state records another owner or none (an unclaimed vGPU is
/// not anyone's to release); [`Error::VgpuInUse`] while a process holds it open;
/// [`Error::Io`] when the processes cannot be read (then it is never cleared); sysfs errors
/// of the write.
pub fn release(
    sysfs: &Sysfs,
    state: &mut HostState,
    slot: VgpuSlot,
    owner: &Owner,
) -> Result<(), Error> {
    match state.owner(&slot) {
        Some(o) if o == owner => {}
        other => {
            return Err(Error::NotOwner {
                slot,
                holder: other.map(ToString::to_string),
                asked: Some(owner.to_string()),
            });
        }
    }
    let pids = holders(sysfs, &slot)?;
    if !pids.is_empty() {
        return Err(Error::VgpuInUse { slot, pids });
    }
    match slot {
        VgpuSlot::Vf(vf) => {
            if sysfs.current_vgpu_type(vf)?.is_some() {
                sysfs.set_vgpu_type(vf, None)?;
            }
        }
        VgpuSlot::Mdev { uuid, .. } => {
            if sysfs.mdevs()?.iter().any(|m| m.uuid == uuid) {
                sysfs.remove_mdev(uuid)?;
            }
        }
    }
    state.vgpus.retain(|r| r.vgpu.slot != slot);
    Ok(())
}

/// What [`reconcile`] found and did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct ReconcileReport {
    /// vGPUs on the host that the state does not record, or whose owner is not live.
    pub orphans: Vec<Vgpu>,
    /// Orphans cleared.
    pub cleared: Vec<Vgpu>,
    /// Orphans left because a process holds them open: (vGPU, process ids).
    pub busy: Vec<(Vgpu, Vec<u32>)>,
    /// Orphans left because they are in the protected set.
    pub protected: Vec<Vgpu>,
    /// State entries whose vGPU is gone from the host (dropped from the state).
    pub stale: Vec<Vgpu>,
}

/// At start: every vGPU on the host that `state` does not record, or records for an owner
/// not in `live`, is an orphan. With `clear`, orphans are cleared — never one in `protected`,
/// never one a process holds open — and dropped from the state; state entries whose vGPU is
/// gone are dropped either way. Unclaimed vGPUs the state records (a pool made by apply) are
/// not orphans.
///
/// # Errors
/// Sysfs errors; [`Error::Io`] when the processes cannot be read (nothing is cleared then).
pub fn reconcile(
    sysfs: &Sysfs,
    state: &mut HostState,
    live: &[Owner],
    protected: &[VgpuSlot],
    clear: bool,
) -> Result<ReconcileReport, Error> {
    let host: Vec<Vgpu> = inventory(sysfs, state)?
        .into_iter()
        .flat_map(|g| g.vgpus)
        .collect();
    let mut report = ReconcileReport::default();
    for r in &state.vgpus {
        if !host.iter().any(|v| v.slot == r.vgpu.slot) {
            report.stale.push(r.vgpu.clone());
        }
    }
    state
        .vgpus
        .retain(|r| host.iter().any(|v| v.slot == r.vgpu.slot));
    for v in host {
        let orphan = match state.vgpu(&v.slot) {
            None => true,
            Some(r) => r.owner.as_ref().is_some_and(|o| !live.contains(o)),
        };
        if !orphan {
            continue;
        }
        report.orphans.push(v.clone());
        if protected.contains(&v.slot) {
            report.protected.push(v);
            continue;
        }
        let pids = holders(sysfs, &v.slot)?;
        if !pids.is_empty() {
            report.busy.push((v, pids));
            continue;
        }
        if clear {
            match v.slot {
                VgpuSlot::Vf(vf) => sysfs.set_vgpu_type(vf, None)?,
                VgpuSlot::Mdev { uuid, .. } => sysfs.remove_mdev(uuid)?,
            }
            state.vgpus.retain(|r| r.vgpu.slot != v.slot);
            report.cleared.push(v);
        }
    }
    Ok(report)
}
