//! Planning, a pure function of the current and desired states: the minimal ordered NVML
//! operations, each creation with an explicit placement from the exact solver.

use gpupart_profiles::{GpuInstanceProfile, GpuModel, ProfileName};
use gpupart_topology::{Occupancy, solve_gpu};

use super::DesiredGpu;
use crate::Error;
use crate::state::GpuState;

/// One NVML mutation. GPU instances are named by their start slice, which is unique on a GPU.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// Set MIG mode (pending until a reset where the driver needs one).
    SetMigMode {
        /// GPU.
        gpu: u32,
        /// On or off.
        enabled: bool,
    },
    /// Destroy a compute instance.
    DestroyComputeInstance {
        /// GPU.
        gpu: u32,
        /// The GPU instance's start.
        gi_start: u8,
        /// Compute instance ID.
        ci: u32,
    },
    /// Destroy a GPU instance.
    DestroyGpuInstance {
        /// GPU.
        gpu: u32,
        /// Its profile.
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::gi_profile"))]
        profile: &'static GpuInstanceProfile,
        /// Its start.
        start: u8,
    },
    /// Create a GPU instance at an explicit start.
    CreateGpuInstance {
        /// GPU.
        gpu: u32,
        /// Profile.
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::gi_profile"))]
        profile: &'static GpuInstanceProfile,
        /// Start.
        start: u8,
    },
    /// Create a compute instance.
    CreateComputeInstance {
        /// GPU.
        gpu: u32,
        /// The GPU instance's start.
        gi_start: u8,
        /// Compute profile.
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::ci_profile"))]
        profile: &'static gpupart_profiles::ComputeInstanceProfile,
    },
}

impl core::fmt::Display for Op {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Op::SetMigMode { gpu, enabled } => write!(
                f,
                "GPU {gpu}: set MIG mode {}",
                if *enabled { "on" } else { "off" }
            ),
            Op::DestroyComputeInstance { gpu, gi_start, ci } => write!(
                f,
                "GPU {gpu}: destroy compute instance {ci} of the GPU instance at {gi_start}"
            ),
            Op::DestroyGpuInstance {
                gpu,
                profile,
                start,
            } => write!(f, "GPU {gpu}: destroy {} at {start}", profile.name),
            Op::CreateGpuInstance {
                gpu,
                profile,
                start,
            } => write!(f, "GPU {gpu}: create {} at {start}", profile.name),
            Op::CreateComputeInstance {
                gpu,
                gi_start,
                profile,
            } => write!(
                f,
                "GPU {gpu}: create compute instance {} in the GPU instance at {gi_start}",
                profile.name
            ),
        }
    }
}

/// The operations for a desired state, and the GPUs that need a reset first.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Changes {
    /// Ordered operations.
    pub ops: Vec<Op>,
    /// GPUs whose MIG mode is pending until a reset; their instance operations wait.
    pub resets_needed: Vec<u32>,
}

fn resolve(
    model: &'static GpuModel,
    gpu: u32,
    name: &ProfileName,
) -> Result<&'static GpuInstanceProfile, Error> {
    model
        .profile_by_name(name)
        .map_err(|_| Error::UnknownProfile {
            gpu,
            model: model.name,
            profile: name.to_string(),
        })
}

/// Plans the operations that take `current` to `desired`: instances that already match stay;
/// only what must go is destroyed (compute instances first); creations carry explicit
/// placements, chosen by the exact solver where `desired` leaves them open.
///
/// # Errors
/// [`Error::NoSuchGpu`], [`Error::NotMigCapable`], [`Error::UnknownProfile`],
/// [`Error::Unplaceable`] when the instances cannot all be placed, [`Error::InUse`] when an
/// in-use instance would have to go and `force` is off.
pub fn plan(current: &[GpuState], desired: &[DesiredGpu], force: bool) -> Result<Changes, Error> {
    check_distinct(desired)?;
    let mut out = Changes::default();
    for d in desired {
        let cur = current
            .iter()
            .find(|c| c.info.index == d.gpu)
            .ok_or(Error::NoSuchGpu { gpu: d.gpu })?;
        let not_capable = || Error::NotMigCapable {
            gpu: d.gpu,
            name: cur.info.name.clone(),
        };
        let Some(mode) = cur.mig else {
            if d.mig_enabled {
                return Err(not_capable());
            }
            continue;
        };
        let model = cur.model.ok_or_else(not_capable)?;
        if d.mig_enabled {
            check_limits(model, d)?;
        }
        if !d.mig_enabled {
            destroy_all(cur, d.gpu, force, &mut out.ops)?;
            if mode.pending {
                out.ops.push(Op::SetMigMode {
                    gpu: d.gpu,
                    enabled: false,
                });
            }
            if mode.current {
                out.resets_needed.push(d.gpu);
            }
            continue;
        }
        if !mode.current {
            // Validate now, create once MIG mode is on.
            place(model, d, &[], d.gpu)?;
            if !mode.pending {
                out.ops.push(Op::SetMigMode {
                    gpu: d.gpu,
                    enabled: true,
                });
            }
            out.resets_needed.push(d.gpu);
            continue;
        }
        plan_instances(cur, model, d, force, &mut out.ops)?;
    }
    Ok(out)
}

/// Refuses a desired state that names a GPU twice (before anything runs).
pub(crate) fn check_distinct(desired: &[DesiredGpu]) -> Result<(), Error> {
    for (i, d) in desired.iter().enumerate() {
        if desired[..i].iter().any(|e| e.gpu == d.gpu) {
            return Err(Error::DuplicateGpu { gpu: d.gpu });
        }
    }
    Ok(())
}

/// Refuses more instances of a profile than the model holds, more memory slices than it has,
/// or more compute instances in one GPU instance than its profile holds: before any solver
/// runs, so that no desired state makes work grow.
fn check_limits(model: &'static GpuModel, d: &DesiredGpu) -> Result<(), Error> {
    let over = |reason: String| Error::Unplaceable {
        gpu: d.gpu,
        model: model.name,
        reason,
    };
    let mut slices = 0usize;
    for p in model.profiles {
        let n = d
            .instances
            .iter()
            .filter(|i| i.profile.gpu_instance() == p.name)
            .count();
        if n > usize::from(p.max_instances) {
            return Err(over(format!(
                "{n} x {} asked; a {} holds at most {}",
                p.name, model.name, p.max_instances
            )));
        }
        slices += n * usize::from(p.memory_slices);
    }
    if slices > usize::from(model.memory_slices) {
        return Err(over(format!(
            "the instances need {slices} memory slices; a {} has {}",
            model.name, model.memory_slices
        )));
    }
    for want in &d.instances {
        let limit = usize::from(model.compute_slices);
        if want.compute.len() > limit {
            return Err(over(format!(
                "{} compute instances asked in one {}; at most {limit}",
                want.compute.len(),
                want.profile
            )));
        }
    }
    Ok(())
}

fn destroy_all(cur: &GpuState, gpu: u32, force: bool, ops: &mut Vec<Op>) -> Result<(), Error> {
    for x in &cur.instances {
        destroy(x, gpu, force, ops)?;
    }
    Ok(())
}

fn destroy(
    x: &crate::state::InstanceState,
    gpu: u32,
    force: bool,
    ops: &mut Vec<Op>,
) -> Result<(), Error> {
    if x.in_use() && !force {
        return Err(Error::InUse {
            gpu,
            profile: x.profile.name,
            start: x.placement.start,
            processes: x.processes.clone(),
        });
    }
    for (ci, _) in &x.compute {
        ops.push(Op::DestroyComputeInstance {
            gpu,
            gi_start: x.placement.start,
            ci: *ci,
        });
    }
    ops.push(Op::DestroyGpuInstance {
        gpu,
        profile: x.profile,
        start: x.placement.start,
    });
    Ok(())
}

/// Starts for the desired instances not kept, next to `kept` (profile, start).
fn place(
    model: &'static GpuModel,
    d: &DesiredGpu,
    kept: &[(&'static GpuInstanceProfile, u8)],
    gpu: u32,
) -> Result<Vec<(usize, &'static GpuInstanceProfile, u8)>, Error> {
    place_subset(
        model,
        d,
        kept,
        &(0..d.instances.len()).collect::<Vec<_>>(),
        gpu,
    )
}

fn place_subset(
    model: &'static GpuModel,
    d: &DesiredGpu,
    kept: &[(&'static GpuInstanceProfile, u8)],
    todo: &[usize],
    gpu: u32,
) -> Result<Vec<(usize, &'static GpuInstanceProfile, u8)>, Error> {
    let mut occ = Occupancy::new(model);
    for (p, s) in kept {
        occ.add(p, *s).map_err(|e| Error::Unplaceable {
            gpu,
            model: model.name,
            reason: e.to_string(),
        })?;
    }
    let mut out = Vec::new();
    let mut open = Vec::new();
    for &i in todo {
        let want = &d.instances[i];
        let p = resolve(model, gpu, &want.profile)?;
        for c in &want.compute {
            p.compute_profile(c).ok_or_else(|| Error::UnknownProfile {
                gpu,
                model: model.name,
                profile: c.to_string(),
            })?;
        }
        match want.start {
            Some(s) => {
                occ.add(p, s).map_err(|e| Error::Unplaceable {
                    gpu,
                    model: model.name,
                    reason: e.to_string(),
                })?;
                out.push((i, p, s));
            }
            None => open.push((i, p)),
        }
    }
    let profiles: Vec<&'static GpuInstanceProfile> = open.iter().map(|(_, p)| *p).collect();
    let sol = solve_gpu(&occ, &profiles).ok_or_else(|| Error::Unplaceable {
        gpu,
        model: model.name,
        reason: unplaceable_reason(&occ, &profiles),
    })?;
    for ((i, p), (_, pl)) in open.iter().zip(sol) {
        out.push((*i, p, pl.start));
    }
    Ok(out)
}

/// Why `profiles` cannot join `occ`, in words.
pub(crate) fn unplaceable_reason(
    occ: &Occupancy,
    profiles: &[&'static GpuInstanceProfile],
) -> String {
    let model = occ.model();
    let names: Vec<String> = profiles.iter().map(|p| p.name.to_string()).collect();
    let mem: u32 = profiles.iter().map(|p| u32::from(p.memory_slices)).sum();
    let comp: u32 = profiles.iter().map(|p| u32::from(p.compute_slices)).sum();
    let free_c = u32::from(model.compute_slices - occ.compute_used());
    let detail = if mem > occ.free_memory_slices() {
        format!(
            "they need {mem} memory slices and {} are free",
            occ.free_memory_slices()
        )
    } else if comp > free_c {
        format!("they need {comp} compute slices and {free_c} are free")
    } else {
        "no set of legal placements holds them all (placement rules or instance limits)".to_owned()
    };
    format!(
        "{} cannot be placed on a {}: {detail}",
        names.join(" + "),
        model.name
    )
}

/// Matches desired instances to existing ones of the same profile (and start, where given),
/// identical compute sets first, then in-use ones, then by start (low or high first).
#[allow(clippy::type_complexity)]
fn match_instances(
    cur: &GpuState,
    model: &'static GpuModel,
    d: &DesiredGpu,
    prefer_high: bool,
) -> Result<(Vec<Option<usize>>, Vec<bool>), Error> {
    let mut matched: Vec<Option<usize>> = vec![None; d.instances.len()];
    let mut taken = vec![false; cur.instances.len()];
    for pass in 0..2 {
        for (i, want) in d.instances.iter().enumerate() {
            if matched[i].is_some() || (pass == 0) != want.start.is_some() {
                continue;
            }
            let p = resolve(model, d.gpu, &want.profile)?;
            let mut want_ci: Vec<ProfileName> = want.compute.clone();
            want_ci.sort_by_key(ToString::to_string);
            let mut best: Option<((bool, bool, usize), usize)> = None;
            for (k, x) in cur.instances.iter().enumerate() {
                if taken[k] || x.profile != p || want.start.is_some_and(|s| s != x.placement.start)
                {
                    continue;
                }
                let mut have: Vec<ProfileName> = x.compute.iter().map(|(_, c)| c.name).collect();
                have.sort_by_key(ToString::to_string);
                let order = if prefer_high { k } else { usize::MAX - k };
                let key = (have == want_ci, x.in_use(), order);
                if best.is_none_or(|(b, _)| key > b) {
                    best = Some((key, k));
                }
            }
            if let Some((_, k)) = best {
                taken[k] = true;
                matched[i] = Some(k);
            }
        }
    }
    Ok((matched, taken))
}

fn plan_instances(
    cur: &GpuState,
    model: &'static GpuModel,
    d: &DesiredGpu,
    force: bool,
    ops: &mut Vec<Op>,
) -> Result<(), Error> {
    let gpu = d.gpu;
    let n = d.instances.len();
    let kept = |taken: &[bool]| -> Vec<(&'static GpuInstanceProfile, u8)> {
        cur.instances
            .iter()
            .zip(taken)
            .filter(|(_, t)| **t)
            .map(|(x, _)| (x.profile, x.placement.start))
            .collect()
    };
    // Keep existing instances where they fit the desired ones: low starts first, then high
    // starts, then (when keeping blocks the rest) only the in-use and explicit ones.
    let mut first_err = None;
    let mut chosen = None;
    for attempt in 0..3 {
        let (mut matched, mut taken) = match_instances(cur, model, d, attempt == 1)?;
        if attempt == 2 {
            for (i, m) in matched.iter_mut().enumerate() {
                if let Some(k) =
                    m.filter(|&k| d.instances[i].start.is_none() && !cur.instances[k].in_use())
                {
                    taken[k] = false;
                    *m = None;
                }
            }
        }
        let todo: Vec<usize> = (0..n).filter(|i| matched[*i].is_none()).collect();
        match place_subset(model, d, &kept(&taken), &todo, gpu) {
            Ok(p) => {
                chosen = Some((matched, taken, p));
                break;
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let Some((matched, taken, placed)) = chosen else {
        return Err(first_err.unwrap_or(Error::Unplaceable {
            gpu,
            model: model.name,
            reason: "no placement".to_owned(),
        }));
    };
    // Destroy what is not kept (compute instances first, all before any creation).
    for (k, x) in cur.instances.iter().enumerate() {
        if !taken[k] {
            destroy(x, gpu, force, ops)?;
        }
    }
    // Kept instances whose compute instances differ: destroy the extra, create the missing.
    let mut ci_creates = Vec::new();
    for (i, m) in matched.iter().enumerate() {
        let Some(k) = *m else { continue };
        let x = &cur.instances[k];
        let mut missing: Vec<ProfileName> = d.instances[i].compute.clone();
        let mut extra = Vec::new();
        for (id, c) in &x.compute {
            match missing.iter().position(|m| *m == c.name) {
                Some(pos) => {
                    missing.remove(pos);
                }
                None => extra.push(*id),
            }
        }
        if !extra.is_empty() && x.in_use() && !force {
            return Err(Error::InUse {
                gpu,
                profile: x.profile.name,
                start: x.placement.start,
                processes: x.processes.clone(),
            });
        }
        for ci in extra {
            ops.push(Op::DestroyComputeInstance {
                gpu,
                gi_start: x.placement.start,
                ci,
            });
        }
        for c in missing {
            let cp = x
                .profile
                .compute_profile(&c)
                .ok_or_else(|| Error::UnknownProfile {
                    gpu,
                    model: model.name,
                    profile: c.to_string(),
                })?;
            ci_creates.push(Op::CreateComputeInstance {
                gpu,
                gi_start: x.placement.start,
                profile: cp,
            });
        }
    }
    ops.extend(ci_creates);
    let mut placed = placed;
    placed.sort_by_key(|(i, _, s)| (*s, *i));
    for (i, p, s) in placed {
        ops.push(Op::CreateGpuInstance {
            gpu,
            profile: p,
            start: s,
        });
        for c in &d.instances[i].compute {
            let cp = p.compute_profile(c).ok_or_else(|| Error::UnknownProfile {
                gpu,
                model: model.name,
                profile: c.to_string(),
            })?;
            ops.push(Op::CreateComputeInstance {
                gpu,
                gi_start: s,
                profile: cp,
            });
        }
    }
    Ok(())
}
