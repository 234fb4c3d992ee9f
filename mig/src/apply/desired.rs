//! The desired state of GPUs: which GPU instances, where, with which compute instances.

use gpupart_profiles::ProfileName;
use gpupart_topology::batch::Plan;

use crate::Error;
use crate::state::GpuState;

/// One GPU instance wanted: profile, optional explicit start, compute instances (by default
/// one spanning the whole instance, as `nvidia-smi mig -cgi … -C` makes).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DesiredInstance {
    /// GPU instance profile.
    pub profile: ProfileName,
    /// Start slice; `None` lets the solver choose.
    pub start: Option<u8>,
    /// Compute instance profiles (`3g.20gb` for the full one, `1c.3g.20gb`, …).
    pub compute: Vec<ProfileName>,
}

impl DesiredInstance {
    /// An instance of `profile` with one full compute instance, start chosen by the solver.
    #[must_use]
    pub fn new(profile: ProfileName) -> Self {
        DesiredInstance {
            profile,
            start: None,
            compute: vec![profile],
        }
    }

    /// At an explicit start slice.
    #[must_use]
    pub fn at(mut self, start: u8) -> Self {
        self.start = Some(start);
        self
    }

    /// With these compute instances instead.
    #[must_use]
    pub fn with_compute(mut self, compute: Vec<ProfileName>) -> Self {
        self.compute = compute;
        self
    }
}

/// What one GPU should be.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DesiredGpu {
    /// NVML index.
    pub gpu: u32,
    /// MIG mode.
    pub mig_enabled: bool,
    /// GPU instances (ignored with MIG off).
    pub instances: Vec<DesiredInstance>,
}

impl DesiredGpu {
    /// GPU `gpu` with MIG `mig_enabled` and these instances.
    #[must_use]
    pub fn new(gpu: u32, mig_enabled: bool, instances: Vec<DesiredInstance>) -> Self {
        DesiredGpu {
            gpu,
            mig_enabled,
            instances,
        }
    }

    /// Exactly what `state` holds (explicit starts and compute instances): the target of a
    /// rollback.
    #[must_use]
    pub fn from_state(state: &GpuState) -> Self {
        DesiredGpu {
            gpu: state.info.index,
            mig_enabled: state.mig.is_some_and(|m| m.pending),
            instances: state
                .instances
                .iter()
                .map(|x| DesiredInstance {
                    profile: x.profile.name,
                    start: Some(x.placement.start),
                    compute: x.compute.iter().map(|(_, c)| c.name).collect(),
                })
                .collect(),
        }
    }
}

/// The desired state that carries out a solver's plan on the GPUs it was made for (`current`,
/// read from the backend; the plan names GPUs by their NVML index, as [`DesiredGpu`] does):
/// each changed GPU keeps what it holds (with its compute instances) but what the plan
/// destroys, and gets each creation at the plan's explicit start with one full compute
/// instance.
///
/// ```
/// use gpupart_mig::apply::{ApplyOptions, apply, desired_from_plan};
/// use gpupart_mig::state::read_all;
/// use gpupart_mig::SimulatedNvml;
/// use gpupart_topology::Fleet;
/// use gpupart_topology::batch::{Request, SolveOptions, solve};
///
/// let node = SimulatedNvml::hgx_h100();
/// let current = read_all(&node)?;
/// let fleet = Fleet::new(current.iter().map(|g| g.to_topology()).collect::<Result<_, _>>()?)?;
/// let plan = solve(&fleet, &[Request::parse("3g.40gb", 3)?], &SolveOptions::default().enable_mig(true));
/// let desired = desired_from_plan(&current, &plan)?;
/// apply(&node, &desired, &ApplyOptions::default().lock_path(None))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::NoSuchGpu`] when the plan names a GPU `current` lacks.
pub fn desired_from_plan(current: &[GpuState], plan: &Plan) -> Result<Vec<DesiredGpu>, Error> {
    plan.changes
        .iter()
        .map(|c| {
            let state = current
                .iter()
                .find(|s| s.info.index == c.gpu)
                .ok_or(Error::NoSuchGpu { gpu: c.gpu })?;
            let mut d = DesiredGpu::from_state(state);
            d.mig_enabled = true;
            d.instances
                .retain(|i| !c.destroy.iter().any(|x| Some(x.start) == i.start));
            d.instances.extend(
                c.create
                    .iter()
                    .map(|x| DesiredInstance::new(x.profile.name).at(x.placement.start)),
            );
            Ok(d)
        })
        .collect()
}
