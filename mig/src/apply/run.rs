//! Running a plan: each operation re-read for its effect, a failed run rolled back.

use std::path::PathBuf;
use std::time::Duration;

use super::lock::{DEFAULT_LOCK_WAIT, lock};
use super::plan::check_distinct;
use super::{DesiredGpu, Op, plan};
use crate::backend::{Backend, MigActivation};
use crate::state::{GpuState, read_gpu};
use crate::{Error, NvmlCode};

/// How [`apply`] acts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Plan and report, change nothing.
    pub dry_run: bool,
    /// Destroy in-use instances too (the driver may still refuse while processes run).
    pub force: bool,
    /// The advisory lock file that serializes appliers on a host; `None`: no lock.
    pub lock_path: Option<PathBuf>,
    /// How long to wait for another applier's lock (`Duration::ZERO`: try once); default
    /// [`DEFAULT_LOCK_WAIT`].
    pub lock_wait: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            dry_run: false,
            force: false,
            lock_path: Some(PathBuf::from("/run/lock/gpupart-mig.lock")),
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

    /// Force.
    #[must_use]
    pub fn force(mut self, on: bool) -> Self {
        self.force = on;
        self
    }

    /// How long to wait for the lock (`Duration::ZERO`: try once).
    #[must_use]
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Lock file path (`None`: no lock).
    #[must_use]
    pub fn lock_path(mut self, path: Option<PathBuf>) -> Self {
        self.lock_path = path;
        self
    }
}

/// What [`apply`] did.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ApplyReport {
    /// The operations planned (all of them in a dry run).
    pub ops: Vec<Op>,
    /// How many were performed.
    pub performed: usize,
    /// GPUs that need a reset for their pending MIG mode (never done here).
    pub resets_needed: Vec<u32>,
    /// What the driver said of each MIG mode change (`activationStatus`), with the action
    /// each calls for ([`MigActivation::action`]).
    pub activations: Vec<(u32, MigActivation)>,
    /// GPUs whose mode change waits for their processes to stop (`IN_USE`): idle them and
    /// apply again; a reset does not help.
    pub retry_when_idle: Vec<u32>,
    /// The GPUs afterwards.
    pub after: Vec<GpuState>,
}

/// Runs one operation and checks its effect; a MIG mode change gives the driver's activation
/// status.
fn run_op(backend: &dyn Backend, op: &Op) -> Result<Option<MigActivation>, Error> {
    let gi_id = |gpu: u32, start: u8| -> Result<u32, Error> {
        backend
            .gpu_instances(gpu)?
            .into_iter()
            .find(|g| g.placement.start == start)
            .map(|g| g.id)
            .ok_or(Error::Verify {
                gpu,
                what: format!("no GPU instance at {start}"),
            })
    };
    match *op {
        Op::SetMigMode { gpu, enabled } => {
            let activation = backend.set_mig_mode(gpu, enabled)?;
            let m = backend.mig_mode(gpu)?;
            if m.pending != enabled {
                return Err(Error::Verify {
                    gpu,
                    what: format!("MIG mode pending {} after setting {enabled}", m.pending),
                });
            }
            return Ok(Some(activation));
        }
        Op::DestroyComputeInstance { gpu, gi_start, ci } => {
            let gi = gi_id(gpu, gi_start)?;
            backend.destroy_compute_instance(gpu, gi, ci)?;
            if backend
                .compute_instances(gpu, gi)?
                .iter()
                .any(|c| c.id == ci)
            {
                return Err(Error::Verify {
                    gpu,
                    what: format!("compute instance {ci} still there"),
                });
            }
        }
        Op::DestroyGpuInstance { gpu, start, .. } => {
            let gi = gi_id(gpu, start)?;
            backend.destroy_gpu_instance(gpu, gi)?;
            if backend
                .gpu_instances(gpu)?
                .iter()
                .any(|g| g.placement.start == start)
            {
                return Err(Error::Verify {
                    gpu,
                    what: format!("GPU instance at {start} still there"),
                });
            }
        }
        Op::CreateGpuInstance {
            gpu,
            profile,
            start,
        } => {
            // The catalog's ID where known; else the driver's, as mig-parted reads it
            // (`nvmlDeviceGetGpuInstanceProfileInfo` by profile index).
            let id = match profile.nvml_id {
                Some(id) => id,
                None => backend
                    .profile_info(gpu, profile.nvml_index)?
                    .map(|info| info.id)
                    .ok_or(Error::Nvml {
                        gpu: Some(gpu),
                        op: "get GPU instance profile info",
                        code: NvmlCode::NotSupported,
                    })?,
            };
            backend.create_gpu_instance(gpu, id, start)?;
            if !backend
                .gpu_instances(gpu)?
                .iter()
                .any(|g| g.placement.start == start && g.profile_id == id)
            {
                return Err(Error::Verify {
                    gpu,
                    what: format!("{} at {start} missing after create", profile.name),
                });
            }
        }
        Op::CreateComputeInstance {
            gpu,
            gi_start,
            profile,
        } => {
            let gi = gi_id(gpu, gi_start)?;
            let before = backend.compute_instances(gpu, gi)?.len();
            backend.create_compute_instance(gpu, gi, profile.nvml_index.as_u32())?;
            if backend.compute_instances(gpu, gi)?.len() != before + 1 {
                return Err(Error::Verify {
                    gpu,
                    what: format!("compute instance {} missing after create", profile.name),
                });
            }
        }
    }
    Ok(None)
}

/// Applies `desired`: takes the lock, reads the GPUs, plans, runs each operation and re-reads
/// the device after it. On a failure it rolls every touched GPU back to the state it started
/// from; where that fails too, the error says exactly what each GPU holds now. MIG mode
/// changes that need a reset are reported, never done. Applying the same desired state twice
/// performs no operation the second time.
///
/// # Errors
/// Those of [`plan`]; [`Error::Lock`]; [`Error::ApplyFailed`] with the failing operation,
/// its cause, whether the rollback succeeded and the GPUs' state now.
pub fn apply(
    backend: &dyn Backend,
    desired: &[DesiredGpu],
    options: &ApplyOptions,
) -> Result<ApplyReport, Error> {
    // Bad input is refused before the lock or any NVML call that changes something.
    check_distinct(desired)?;
    let count = backend.gpu_count()?;
    if let Some(d) = desired.iter().find(|d| d.gpu >= count) {
        return Err(Error::NoSuchGpu { gpu: d.gpu });
    }
    let _lock = options
        .lock_path
        .as_deref()
        .map(|path| lock(path, options.lock_wait))
        .transpose()?;
    let gpus: Vec<u32> = desired.iter().map(|d| d.gpu).collect();
    let read = |gs: &[u32]| -> Result<Vec<GpuState>, Error> {
        gs.iter().map(|&g| read_gpu(backend, g)).collect()
    };
    let original = read(&gpus)?;
    let mut report = ApplyReport::default();
    // Two rounds: MIG modes first; where a mode took effect at once, the instances next.
    for round in 0..2 {
        // The first round plans from the state just read; the second re-reads after it.
        let current = if round == 0 {
            original.clone()
        } else {
            read(&gpus)?
        };
        let changes = plan(&current, desired, options.force)?;
        report.resets_needed = changes.resets_needed.clone();
        if changes.ops.is_empty() {
            break;
        }
        report.ops.extend(changes.ops.iter().copied());
        if options.dry_run {
            break;
        }
        for op in &changes.ops {
            match run_op(backend, op) {
                Ok(activation) => {
                    if let (Op::SetMigMode { gpu, .. }, Some(a)) = (op, activation) {
                        report.activations.push((*gpu, a));
                    }
                }
                Err(cause) => {
                    let rollback_error = rollback(backend, &original).err().map(Box::new);
                    let now = read(&gpus)
                        .map(|s| s.iter().map(GpuState::summary).collect())
                        .unwrap_or_else(|e| vec![format!("cannot read the GPUs: {e}")]);
                    return Err(Error::ApplyFailed {
                        step: report.performed + 1,
                        op: op.to_string(),
                        cause: Box::new(cause),
                        rolled_back: rollback_error.is_none(),
                        rollback_error,
                        now,
                    });
                }
            }
            report.performed += 1;
        }
    }
    // A mode change the driver could not activate for busy processes needs them stopped,
    // not a reset.
    report.retry_when_idle = report
        .activations
        .iter()
        .filter(|(_, a)| *a == MigActivation::RetryWhenIdle)
        .map(|(g, _)| *g)
        .collect();
    report
        .resets_needed
        .retain(|g| !report.retry_when_idle.contains(g));
    report.after = read(&gpus)?;
    Ok(report)
}

fn rollback(backend: &dyn Backend, original: &[GpuState]) -> Result<(), Error> {
    let target: Vec<DesiredGpu> = original.iter().map(DesiredGpu::from_state).collect();
    let gpus: Vec<u32> = original.iter().map(|s| s.info.index).collect();
    for _ in 0..2 {
        let current: Vec<GpuState> = gpus
            .iter()
            .map(|&g| read_gpu(backend, g))
            .collect::<Result<_, _>>()?;
        let changes = plan(&current, &target, false)?;
        if changes.ops.is_empty() {
            return Ok(());
        }
        for op in &changes.ops {
            run_op(backend, op)?;
        }
    }
    Ok(())
}
