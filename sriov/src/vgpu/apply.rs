//! Carrying a plan out: under the host lock, each write re-read for its effect, a failed run
//! rolled back to where it started.

use std::path::PathBuf;
use std::time::Duration;

use super::plan::{GpuSpec, VgpuOp, VgpuPlan, holders, plan_on};
use super::state::{HostState, RecordedVgpu};
use super::types::{Vgpu, VgpuSlot, VgpuTypeId};
use crate::lock::{DEFAULT_LOCK_WAIT, lock};
use crate::{Error, Sysfs};

/// How [`apply`] acts.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// The advisory lock file that serializes writers on a host; `None`: no lock.
    pub lock_path: Option<PathBuf>,
    /// How long to wait for another writer's lock.
    pub lock_wait: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            dry_run: false,
            lock_path: Some(PathBuf::from("/run/lock/gpupart-vgpu.lock")),
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }
}

impl ApplyOptions {
    /// Dry run.
    #[must_use]
    pub fn dry_run(mut self, on: bool) -> Self {
        self.dry_run = on;
        self
    }

    /// Lock file path (`None`: no lock).
    #[must_use]
    pub fn lock_path(mut self, path: Option<PathBuf>) -> Self {
        self.lock_path = path;
        self
    }

    /// How long to wait for the lock.
    #[must_use]
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct VgpuReport {
    /// The plan (all of it performed unless a dry run).
    pub plan: VgpuPlan,
    /// Operations performed.
    pub performed: usize,
    /// Whether it was a dry run.
    pub dry_run: bool,
}

/// The host lock for a run that writes (none for a dry run or without a lock path).
fn host_lock(opts: &ApplyOptions) -> Result<Option<crate::lock::HostLock>, Error> {
    match (&opts.lock_path, opts.dry_run) {
        (Some(p), false) => lock(p, opts.lock_wait).map(Some),
        _ => Ok(None),
    }
}

/// Gives each GPU of `specs` exactly its vGPUs: [`plan`](super::plan()), then [`apply_plan`]; `state` is
/// updated with what the GPUs carry afterwards (owners kept), for the caller to
/// [`save`](HostState::save).
///
/// # Errors
/// As [`plan`](super::plan()) and [`apply_plan`].
pub fn apply(
    sysfs: &Sysfs,
    specs: &[GpuSpec],
    state: &mut HostState,
    opts: &ApplyOptions,
) -> Result<VgpuReport, Error> {
    let _lock = host_lock(opts)?;
    // One reading of the host: the types it offers now are remembered, then planned on.
    let inv = super::inventory::inventory(sysfs, state)?;
    state.learn_types(&inv);
    let p = plan_on(sysfs, &inv, specs, state)?;
    let gpus: Vec<_> = specs.iter().map(|s| s.gpu).collect();
    run(sysfs, p, state, opts.dry_run, &gpus)
}

/// Carries out `plan` (made by [`plan`](super::plan()), or read from a state file by a restore): checks
/// again that every slot is as the plan expects, then writes, re-reading each effect; on a
/// failure undoes what was done, in reverse.
///
/// # Errors
/// [`Error::VgpuPlan`] when the host changed since the plan; [`Error::VgpuApplyFailed`]
/// naming the step, the cause and whether the rollback succeeded.
pub fn apply_plan(
    sysfs: &Sysfs,
    plan: VgpuPlan,
    state: &mut HostState,
    opts: &ApplyOptions,
) -> Result<VgpuReport, Error> {
    let _lock = host_lock(opts)?;
    let mut gpus: Vec<_> = plan
        .ops
        .iter()
        .map(|o| match o {
            VgpuOp::Create(v) | VgpuOp::Remove(v) => v.gpu,
        })
        .chain(plan.kept.iter().map(|v| v.gpu))
        .collect();
    gpus.sort_unstable();
    gpus.dedup();
    run(sysfs, plan, state, opts.dry_run, &gpus)
}

fn run(
    sysfs: &Sysfs,
    plan: VgpuPlan,
    state: &mut HostState,
    dry_run: bool,
    gpus: &[crate::PciAddress],
) -> Result<VgpuReport, Error> {
    precheck(sysfs, &plan)?;
    if dry_run {
        return Ok(VgpuReport {
            plan,
            performed: 0,
            dry_run,
        });
    }
    let mut done: Vec<&VgpuOp> = Vec::new();
    for (i, op) in plan.ops.iter().enumerate() {
        if let Err(cause) = perform(sysfs, op) {
            let mut rollback_error = None;
            for d in done.iter().rev() {
                let undo = match d {
                    VgpuOp::Create(v) => VgpuOp::Remove(v.clone()),
                    VgpuOp::Remove(v) => VgpuOp::Create(v.clone()),
                };
                if let Err(e) = perform(sysfs, &undo) {
                    rollback_error = Some(Box::new(e));
                    break;
                }
            }
            return Err(Error::VgpuApplyFailed {
                step: i + 1,
                op: op.to_string(),
                cause: Box::new(cause),
                rollback_error,
            });
        }
        done.push(op);
    }
    record(sysfs, state, &plan, gpus)?;
    Ok(VgpuReport {
        performed: plan.ops.len(),
        plan,
        dry_run,
    })
}

/// Every slot as the plan expects: a create's slot free, a removal's vGPU there.
fn precheck(sysfs: &Sysfs, plan: &VgpuPlan) -> Result<(), Error> {
    let changed = |v: &Vgpu, what: &str| Error::VgpuPlan {
        gpu: v.gpu,
        reason: format!("{} {what} since the plan was made", v.slot),
    };
    let removed: Vec<&VgpuSlot> = plan
        .ops
        .iter()
        .filter_map(|o| match o {
            VgpuOp::Remove(v) => Some(&v.slot),
            VgpuOp::Create(_) => None,
        })
        .collect();
    // The mdevs that exist, read once for every creation.
    let mdevs: Vec<_> = sysfs.mdevs()?.into_iter().map(|m| m.uuid).collect();
    for op in &plan.ops {
        match op {
            VgpuOp::Create(v) => match v.slot {
                VgpuSlot::Vf(vf) => {
                    if sysfs.current_vgpu_type(vf)?.is_some() && !removed.contains(&&v.slot) {
                        return Err(changed(v, "has a vGPU"));
                    }
                }
                VgpuSlot::Mdev { uuid, .. } => {
                    if mdevs.contains(&uuid) {
                        return Err(changed(v, "exists"));
                    }
                }
            },
            VgpuOp::Remove(v) => {
                if !present(sysfs, v)? {
                    return Err(changed(v, "is gone"));
                }
                let pids = holders(sysfs, &v.slot)?;
                if !pids.is_empty() {
                    return Err(Error::VgpuInUse { slot: v.slot, pids });
                }
            }
        }
    }
    Ok(())
}

/// Whether `v` is on the host as described (type; GPU instance and placement where given).
fn present(sysfs: &Sysfs, v: &Vgpu) -> Result<bool, Error> {
    Ok(match (&v.slot, &v.type_id) {
        (VgpuSlot::Vf(vf), VgpuTypeId::Vendor(id)) => {
            sysfs.current_vgpu_type(*vf)? == Some(*id)
                && (v.gpu_instance_id.is_none()
                    || sysfs.vgpu_gpu_instance(*vf)? == v.gpu_instance_id)
                && (v.placement_id.is_none() || sysfs.vgpu_placement(*vf)? == v.placement_id)
        }
        (VgpuSlot::Mdev { parent, uuid }, VgpuTypeId::Mdev(t)) => sysfs
            .mdevs()?
            .iter()
            .any(|m| m.uuid == *uuid && m.parent == *parent && m.mdev_type == *t),
        _ => false,
    })
}

fn verify(sysfs: &Sysfs, v: &Vgpu, want_present: bool) -> Result<(), Error> {
    let there = if want_present {
        present(sysfs, v)?
    } else {
        match v.slot {
            VgpuSlot::Vf(vf) => sysfs.current_vgpu_type(vf)?.is_some(),
            VgpuSlot::Mdev { uuid, .. } => sysfs.mdevs()?.iter().any(|m| m.uuid == uuid),
        }
    };
    if there == want_present {
        Ok(())
    } else {
        Err(Error::VgpuVerify {
            slot: v.slot,
            what: if want_present {
                format!("expected {v}, found something else")
            } else {
                "the vGPU is still there".to_owned()
            },
        })
    }
}

/// One operation, re-read; a create that fails half-way is cleared before returning.
fn perform(sysfs: &Sysfs, op: &VgpuOp) -> Result<(), Error> {
    match op {
        VgpuOp::Create(v) => match (&v.slot, &v.type_id) {
            (VgpuSlot::Vf(vf), VgpuTypeId::Vendor(id)) => {
                let r = (|| {
                    if v.gpu_instance_id.is_some() {
                        sysfs.set_vgpu_gpu_instance(*vf, v.gpu_instance_id)?;
                    }
                    if v.placement_id.is_some() {
                        sysfs.set_vgpu_placement(*vf, v.placement_id)?;
                    }
                    sysfs.set_vgpu_type(*vf, Some(*id))?;
                    verify(sysfs, v, true)
                })();
                if r.is_err() {
                    // Leave the VF as it was: no type, no pending choice.
                    if sysfs.current_vgpu_type(*vf).ok().flatten().is_some() {
                        let _ = sysfs.set_vgpu_type(*vf, None);
                    }
                    if v.gpu_instance_id.is_some() {
                        let _ = sysfs.set_vgpu_gpu_instance(*vf, None);
                    }
                    if v.placement_id.is_some() {
                        let _ = sysfs.set_vgpu_placement(*vf, None);
                    }
                }
                r
            }
            (VgpuSlot::Mdev { parent, uuid }, VgpuTypeId::Mdev(t)) => {
                sysfs.create_mdev(*parent, t, *uuid)?;
                verify(sysfs, v, true)
            }
            _ => Err(Error::VgpuPlan {
                gpu: v.gpu,
                reason: format!("{} cannot take type {}", v.slot, v.type_id),
            }),
        },
        VgpuOp::Remove(v) => {
            match v.slot {
                VgpuSlot::Vf(vf) => sysfs.set_vgpu_type(vf, None)?,
                VgpuSlot::Mdev { uuid, .. } => sysfs.remove_mdev(uuid)?,
            }
            verify(sysfs, v, false)
        }
    }
}

/// The state after a successful run: each of `gpus`' vGPUs as the host has them now (owners
/// and names kept), their GPU instances' starts, and the VFs enabled.
fn record(
    sysfs: &Sysfs,
    state: &mut HostState,
    plan: &VgpuPlan,
    gpus: &[crate::PciAddress],
) -> Result<(), Error> {
    let now = super::inventory::inventory(sysfs, state)?;
    let old = std::mem::take(&mut state.vgpus);
    let mut vgpus: Vec<RecordedVgpu> = old
        .iter()
        .filter(|r| !gpus.contains(&r.vgpu.gpu))
        .cloned()
        .collect();
    for view in now.iter().filter(|v| gpus.contains(&v.gpu)) {
        for v in &view.vgpus {
            let before = old
                .iter()
                .find(|r| r.vgpu.slot == v.slot && r.vgpu.type_id == v.type_id);
            let mut v = v.clone();
            if v.type_name.is_none() {
                v.type_name = before.and_then(|r| r.vgpu.type_name.clone()).or_else(|| {
                    plan.ops.iter().find_map(|o| match o {
                        VgpuOp::Create(c) if c.slot == v.slot => c.type_name.clone(),
                        _ => None,
                    })
                });
            }
            let gi_start = v.gpu_instance_id.and_then(|gi| {
                plan.gi_starts
                    .iter()
                    .find(|(g, id, _)| *g == v.gpu && *id == gi)
                    .map(|(_, _, s)| *s)
                    .or_else(|| before.and_then(|r| r.gi_start))
            });
            vgpus.push(RecordedVgpu {
                owner: before.and_then(|r| r.owner.clone()),
                gi_start,
                vgpu: v,
            });
        }
        let vfs = sysfs.device(view.gpu)?.sriov.map_or(0, |s| s.num_vfs);
        state.vfs.retain(|(p, _)| *p != view.gpu);
        if vfs > 0 {
            state.vfs.push((view.gpu, vfs));
            state.vfs.sort_unstable();
        }
    }
    state.vgpus = vgpus;
    Ok(())
}
