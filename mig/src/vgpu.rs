//! MIG-backed vGPUs end to end: from the vGPUs wanted on a GPU to the MIG layout they need
//! (made through NVML) and the vGPUs on its GPU instances (made through sysfs, with explicit
//! VFs and GPU instance IDs), as one call; and the boot-time restore of a recorded host.
//!
//! A MIG-backed type names its GPU instance profile (`A100-3-20C` runs on a `3g.20gb`,
//! [`VgpuTypeName::gpu_instance_profile`]); its GPU instances are made without compute
//! instances, which the guest makes. GPU instances already there are kept; those a GPU lacks
//! are placed by the solver. Time-sliced types ask for MIG off on their GPU.
//!
//! ```
//! use gpupart_mig::vgpu::{VgpuHostOptions, mig_backed};
//! use gpupart_mig::SimulatedNvml;
//! use gpupart_sriov::vgpu::{HostState, VgpuWant};
//! use gpupart_sriov::{EnableOptions, SimulatedSysfs, Sysfs};
//!
//! // An HGX H100 node: NVML and sysfs simulated, linked as one driver serves both.
//! let nvml = SimulatedNvml::hgx_h100();
//! let host = SimulatedSysfs::h100_host(8);
//! nvml.link_sysfs(&host);
//! let sysfs = Sysfs::simulated(host);
//! let pf = sysfs.nvidia_gpus()?[0].address;
//! sysfs.enable_vfs(pf, 4, &EnableOptions::default())?;
//! let mut state = HostState::default();
//! let want = [(0, vec![VgpuWant::new("NVIDIA H100XM-3-40C", 2)])];
//! let r = mig_backed(&nvml, &sysfs, &want, &mut state, &VgpuHostOptions::without_locks())?;
//! assert_eq!(r.vgpu.as_ref().map(|v| v.performed), Some(2));
//! // Each vGPU runs on its own 3g.40gb GPU instance, named explicitly.
//! assert_eq!(state.vgpus.iter().filter(|v| v.vgpu.gpu_instance_id.is_some()).count(), 2);
//! # Ok::<(), gpupart_mig::Error>(())
//! ```

use gpupart_sriov::vgpu::{
    self as host, GpuInstanceRef, GpuSpec, HostState, VgpuReport, VgpuTypeName, VgpuWant,
};
use gpupart_sriov::{PciAddress, Sysfs};

use crate::Error;
use crate::apply::{ApplyOptions, ApplyReport, DesiredGpu, DesiredInstance, apply};
use crate::backend::Backend;
use crate::state::{GpuState, read_all};

/// Options of [`mig_backed`] and [`restore`]: MIG apply's and the vGPU manager's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct VgpuHostOptions {
    /// For the MIG layout.
    pub mig: ApplyOptions,
    /// For the vGPUs.
    pub vgpu: host::ApplyOptions,
}

impl VgpuHostOptions {
    /// Defaults without lock files (for tests and examples on simulated hosts).
    #[must_use]
    pub fn without_locks() -> Self {
        VgpuHostOptions {
            mig: ApplyOptions::default().lock_path(None),
            vgpu: host::ApplyOptions::default().lock_path(None),
        }
    }

    /// Plan only, on both layers.
    #[must_use]
    pub fn dry_run(mut self, on: bool) -> Self {
        self.mig = self.mig.dry_run(on);
        self.vgpu = self.vgpu.dry_run(on);
        self
    }
}

/// What [`mig_backed`] or [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct VgpuHostReport {
    /// The MIG layer's report.
    pub mig: ApplyReport,
    /// The vGPU layer's report; `None` when GPUs wait for a reset first (the MIG mode change
    /// is pending: reset them, never done here, and call again).
    pub vgpu: Option<VgpuReport>,
}

fn gpu_state(states: &[GpuState], gpu: u32) -> Result<&GpuState, Error> {
    states
        .iter()
        .find(|g| g.info.index == gpu)
        .ok_or(Error::NoSuchGpu { gpu })
}

fn pf_of(g: &GpuState) -> Result<PciAddress, Error> {
    g.info.pci.ok_or_else(|| Error::Verify {
        gpu: g.info.index,
        what: "NVML reports no PCI address, so its VFs cannot be found".to_owned(),
    })
}

/// Records `g`'s MIG layout (profile, start of each GPU instance) as GPU `pf`'s.
fn record_layout(state: &mut HostState, pf: PciAddress, g: &GpuState) {
    state.set_mig(
        pf,
        g.instances
            .iter()
            .map(|x| (x.profile.name.to_string(), x.placement.start))
            .collect(),
    );
}

fn instances_of(g: &GpuState) -> Vec<GpuInstanceRef> {
    g.instances
        .iter()
        .map(|x| GpuInstanceRef::new(x.id, &x.profile.name.to_string(), x.placement.start))
        .collect()
}

/// Gives each listed GPU (NVML index) exactly these vGPUs, making the MIG layout that
/// MIG-backed types need first: MIG on with enough GPU instances of each type's profile (kept
/// where they are, the missing ones placed by the solver, no compute instances), or MIG off
/// for time-sliced types; then the vGPUs through [`host::apply`] with the GPU instances and
/// memory from NVML. `state` records the vGPUs and each GPU's MIG layout for [`restore`].
///
/// # Errors
/// [`Error::NoSuchGpu`]; [`Error::UnknownProfile`] when a type's profile does not exist on
/// the GPU's model; MIG apply's errors; [`Error::Sriov`] for the vGPU layer's refusals (a
/// type name that does not parse, owned or open vGPUs that would go, too few VFs, …).
pub fn mig_backed(
    nvml: &dyn Backend,
    sysfs: &Sysfs,
    wants: &[(u32, Vec<VgpuWant>)],
    state: &mut HostState,
    opts: &VgpuHostOptions,
) -> Result<VgpuHostReport, Error> {
    let before = read_all(nvml)?;
    let mut desired = Vec::new();
    for (gpu, list) in wants {
        let g = gpu_state(&before, *gpu)?;
        let model = g.model.ok_or_else(|| Error::NotMigCapable {
            gpu: *gpu,
            name: g.info.name.clone(),
        })?;
        let mut need: Vec<(&'static gpupart_profiles::GpuInstanceProfile, u32)> = Vec::new();
        let mut time_sliced = false;
        let pf = pf_of(g)?;
        for w in list {
            let name: VgpuTypeName =
                w.vgpu_type
                    .parse()
                    .map_err(|e: gpupart_sriov::ValueError| {
                        Error::Sriov(gpupart_sriov::Error::VgpuPlan {
                            gpu: pf,
                            reason: format!("{:?}: expected {}", e.value, e.expected),
                        })
                    })?;
            match name.gpu_instance_profile() {
                None => time_sliced |= w.count > 0,
                Some(p) => {
                    let profile = model
                        .profile_by_str(&p)
                        .map_err(|_| Error::UnknownProfile {
                            gpu: *gpu,
                            model: model.name,
                            profile: p.clone(),
                        })?;
                    match need.iter_mut().find(|(q, _)| *q == profile) {
                        Some((_, n)) => *n = n.saturating_add(w.count),
                        None => need.push((profile, w.count)),
                    }
                }
            }
        }
        let mig_on = need.iter().any(|(_, n)| *n > 0);
        if mig_on && time_sliced {
            return Err(Error::Sriov(gpupart_sriov::Error::VgpuPlan {
                gpu: pf,
                reason: "time-sliced and MIG-backed vGPUs cannot share a physical GPU".to_owned(),
            }));
        }
        let mut d = DesiredGpu::from_state(g);
        d.mig_enabled = mig_on || (!time_sliced && g.mig.is_some_and(|m| m.pending));
        if time_sliced {
            d.instances.clear();
        }
        for (profile, n) in need {
            // One MIG-backed vGPU a GPU instance: never more than the GPU can hold of them
            // (refused before anything is planned, whatever count is asked).
            if n > u32::from(profile.max_instances) {
                return Err(Error::Sriov(gpupart_sriov::Error::VgpuPlan {
                    gpu: pf,
                    reason: format!(
                        "{n} vGPUs on {} GPU instances asked; a {} holds at most {} of them",
                        profile.name, model.name, profile.max_instances
                    ),
                }));
            }
            let have = g.instances.iter().filter(|x| x.profile == profile).count();
            for _ in have..n as usize {
                d.instances
                    .push(DesiredInstance::new(profile.name).with_compute(Vec::new()));
            }
        }
        desired.push(d);
    }
    let mig = apply(nvml, &desired, &opts.mig)?;
    if !mig.resets_needed.is_empty() || opts.mig.dry_run {
        return Ok(VgpuHostReport { mig, vgpu: None });
    }
    let after = read_all(nvml)?;
    let mut specs = Vec::new();
    for (gpu, list) in wants {
        let g = gpu_state(&after, *gpu)?;
        let pf = pf_of(g)?;
        let mut spec = GpuSpec::new(pf).gpu_instances(instances_of(g));
        // The vGPU manager divides the card's nominal memory (an 80 GB card carries two 40C),
        // not what NVML reports after its own reservation.
        if let Some(m) = g.model {
            spec = spec.memory_mib(u64::from(m.memory_gb) * 1024);
        }
        for w in list {
            spec = spec.vgpus(&w.vgpu_type, w.count);
        }
        specs.push(spec);
        record_layout(state, pf, g);
    }
    let vgpu = host::apply(sysfs, &specs, state, &opts.vgpu)?;
    Ok(VgpuHostReport {
        mig,
        vgpu: Some(vgpu),
    })
}

/// For each GPU instance of GPU `gpu` (NVML index): its ID, profile, and the names of the
/// vGPU types that GPU instances of its profile can back (MIG-backed types whose name says
/// that profile, [`VgpuTypeName::gpu_instance_profile`]) among those the GPU's vGPU interface
/// knows.
///
/// # Errors
/// [`Error::NoSuchGpu`]; NVML and sysfs errors.
pub fn backing_types(
    nvml: &dyn Backend,
    sysfs: &Sysfs,
    state: &HostState,
    gpu: u32,
) -> Result<Vec<(u32, String, Vec<String>)>, Error> {
    let gpus = read_all(nvml)?;
    let g = gpu_state(&gpus, gpu)?;
    let pf = pf_of(g)?;
    let views = host::inventory(sysfs, state)?;
    let types: Vec<&String> = views
        .iter()
        .filter(|v| v.gpu == pf)
        .flat_map(|v| v.types.iter().map(|(_, n)| n))
        .collect();
    Ok(g.instances
        .iter()
        .map(|x| {
            let profile = x.profile.name.to_string();
            let names = types
                .iter()
                .filter(|n| {
                    n.parse::<VgpuTypeName>()
                        .ok()
                        .and_then(|t| t.gpu_instance_profile())
                        .as_deref()
                        == Some(profile.as_str())
                })
                .map(|n| (*n).clone())
                .collect();
            (x.id, profile, names)
        })
        .collect())
}

/// One MIG-backed vGPU on every GPU instance of these GPUs, as the MIG layout stands: for
/// each instance the type of `series` (`C`, `Q`, …) that backs its profile, on a VF of the
/// GPU with that GPU instance named. The layout is not changed.
///
/// # Errors
/// [`Error::Sriov`] when a profile has no backing type of `series`, or the vGPU layer
/// refuses; NVML errors.
pub fn vgpus_for_layout(
    nvml: &dyn Backend,
    sysfs: &Sysfs,
    gpus: &[u32],
    series: &str,
    state: &mut HostState,
    opts: &host::ApplyOptions,
) -> Result<VgpuReport, Error> {
    let all = read_all(nvml)?;
    let mut specs = Vec::new();
    for &gpu in gpus {
        let g = gpu_state(&all, gpu)?;
        let pf = pf_of(g)?;
        let mut spec = GpuSpec::new(pf).gpu_instances(instances_of(g));
        if let Some(m) = g.model {
            spec = spec.memory_mib(u64::from(m.memory_gb) * 1024);
        }
        let mut counts: Vec<(String, u32)> = Vec::new();
        for (_, profile, names) in backing_types(nvml, sysfs, state, gpu)? {
            let name = names
                .iter()
                .find(|n| {
                    n.parse::<VgpuTypeName>()
                        .is_ok_and(|t| t.series.eq_ignore_ascii_case(series))
                })
                .ok_or_else(|| {
                    Error::Sriov(gpupart_sriov::Error::VgpuPlan {
                        gpu: pf,
                        reason: format!(
                            "no {series}-series vGPU type backs a {profile} GPU instance here (backing types: {})",
                            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                        ),
                    })
                })?;
            match counts.iter_mut().find(|(n, _)| n == name) {
                Some((_, c)) => *c += 1,
                None => counts.push((name.clone(), 1)),
            }
        }
        for (name, n) in counts {
            spec = spec.vgpus(&name, n);
        }
        specs.push(spec);
        record_layout(state, pf, g);
    }
    Ok(host::apply(sysfs, &specs, state, opts)?)
}

/// At boot, makes a recorded host again, idempotently: the VFs, each GPU's recorded MIG
/// layout (instances at their recorded starts, kept where present), then every recorded vGPU
/// at its slot, MIG-backed ones on the GPU instance now at their recorded start.
///
/// # Errors
/// [`Error::Sriov`] from the VF and vGPU layers; MIG apply's errors;
/// [`Error::UnknownProfile`] for a recorded profile the GPU does not have.
pub fn restore(
    nvml: &dyn Backend,
    sysfs: &Sysfs,
    state: &mut HostState,
    opts: &VgpuHostOptions,
) -> Result<VgpuHostReport, Error> {
    if !opts.vgpu.dry_run {
        host::restore_vfs(sysfs, state)?;
    }
    let before = read_all(nvml)?;
    let mut desired = Vec::new();
    for m in &state.mig {
        let Some(g) = before.iter().find(|g| g.info.pci == Some(m.gpu)) else {
            return Err(Error::Sriov(gpupart_sriov::Error::VgpuPlan {
                gpu: m.gpu,
                reason: "the state records a MIG layout, but NVML has no GPU here".to_owned(),
            }));
        };
        let model = g.model.ok_or_else(|| Error::NotMigCapable {
            gpu: g.info.index,
            name: g.info.name.clone(),
        })?;
        let mut d = DesiredGpu::from_state(g);
        d.mig_enabled = true;
        for (p, start) in &m.instances {
            let profile = model.profile_by_str(p).map_err(|_| Error::UnknownProfile {
                gpu: g.info.index,
                model: model.name,
                profile: p.clone(),
            })?;
            let there = g
                .instances
                .iter()
                .any(|x| x.profile == profile && x.placement.start == *start);
            if !there {
                d.instances.push(
                    DesiredInstance::new(profile.name)
                        .at(*start)
                        .with_compute(Vec::new()),
                );
            }
        }
        desired.push(d);
    }
    let mig = apply(nvml, &desired, &opts.mig)?;
    if !mig.resets_needed.is_empty() || opts.mig.dry_run {
        return Ok(VgpuHostReport { mig, vgpu: None });
    }
    let after = read_all(nvml)?;
    let gi_at = |pf: PciAddress, start: u8| {
        after
            .iter()
            .find(|g| g.info.pci == Some(pf))
            .and_then(|g| g.instances.iter().find(|x| x.placement.start == start))
            .map(|x| x.id)
    };
    let plan = host::restore_plan(sysfs, state, &gi_at)?;
    let vgpu = host::apply_plan(sysfs, plan, state, &opts.vgpu)?;
    Ok(VgpuHostReport {
        mig,
        vgpu: Some(vgpu),
    })
}
