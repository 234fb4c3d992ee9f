//! A simulated NVML: multi-GPU nodes that refuse what the driver refuses.
//!
//! Real profile IDs and placements from the catalog; INSUFFICIENT_RESOURCES on overlap, spent
//! compute slices or a profile's instance limit; INVALID_ARGUMENT for a start that is not a
//! legal placement; IN_USE for a GPU instance with compute instances or processes, and for
//! MIG mode changes while instances exist; MIG mode pending until [`SimulatedNvml::reset`] on
//! GPUs that need a reset; NOT_SUPPORTED on boards without MIG. Deterministic, with fault
//! injection.
//!
//! [`SimGpu`] (one GPU) is in `gpu`; the [`Backend`](crate::backend::Backend) calls are in
//! `backend`.

mod backend;
mod gpu;

use gpu::SimGi;
pub use gpu::SimGpu;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use gpupart_profiles::{GpuModel, catalog};

use crate::Error;
use crate::backend::NvmlCode;

/// The operations faults can be injected into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SimOp {
    /// `nvmlDeviceSetMigMode`
    SetMigMode,
    /// `nvmlDeviceCreateGpuInstanceWithPlacement`
    CreateGpuInstance,
    /// `nvmlGpuInstanceDestroy`
    DestroyGpuInstance,
    /// `nvmlGpuInstanceCreateComputeInstance`
    CreateComputeInstance,
    /// `nvmlComputeInstanceDestroy`
    DestroyComputeInstance,
}

#[derive(Debug, Default)]
struct Faults {
    calls: BTreeMap<SimOp, u64>,
    any_calls: u64,
    nth_any: Vec<(u64, NvmlCode)>,
    nth: Vec<(SimOp, u64, NvmlCode)>,
    random: Option<(u64, u32)>,
}

#[derive(Debug, Default)]
struct State {
    gpus: Vec<SimGpu>,
    faults: Faults,
    mutations: u64,
    /// The simulated sysfs that shares the GPUs (one driver serves NVML and sysfs on a host).
    sysfs: Option<gpupart_sriov::SimulatedSysfs>,
}

/// The GPU instances `g` would have, as the vGPU manager sees them (`None`: MIG off).
fn vgpu_view(
    g: &SimGpu,
    current: bool,
    without: Option<u32>,
) -> Option<Vec<gpupart_sriov::sim::SimGpuInstance>> {
    let model = g.model?;
    current.then(|| {
        g.instances
            .iter()
            .filter(|(id, _)| Some(**id) != without)
            .map(|(id, gi)| gpupart_sriov::sim::SimGpuInstance {
                id: *id,
                profile: model.profiles[gi.profile_slot].name.to_string(),
            })
            .collect()
    })
}

/// Tells the linked sysfs what GPU `g` now has; `false` when its vGPU manager refuses (a vGPU
/// runs on a GPU instance that would go, or vGPUs of the other kind are there).
fn sync_sysfs(
    sysfs: Option<&gpupart_sriov::SimulatedSysfs>,
    g: &SimGpu,
    current: bool,
    without: Option<u32>,
) -> bool {
    let (Some(sysfs), Some(pci)) = (sysfs, g.pci) else {
        return true;
    };
    match sysfs.set_mig(pci, vgpu_view(g, current, without)) {
        Ok(()) => true,
        // A GPU the sysfs does not have.
        Err(e) => e.raw_os_error() != Some(gpupart_sriov::io::errno::EBUSY),
    }
}

/// The simulated NVML. Clones share the node.
#[derive(Debug, Clone, Default)]
pub struct SimulatedNvml {
    state: Arc<Mutex<State>>,
}

fn nvml(gpu: u32, op: &'static str, code: NvmlCode) -> Error {
    Error::Nvml {
        gpu: Some(gpu),
        op,
        code,
    }
}

impl SimulatedNvml {
    /// A node of these GPUs; GPUs without an address get the family's simulated layout
    /// ([`gpupart_sriov::sim::gpu_address`]: the DGX A100's buses, then further domains).
    #[must_use]
    pub fn new(gpus: Vec<SimGpu>) -> Self {
        let gpus = gpus
            .into_iter()
            .enumerate()
            .map(|(i, mut g)| {
                if g.pci.is_none() {
                    g.pci = gpupart_sriov::sim::gpu_address(i);
                }
                g
            })
            .collect();
        SimulatedNvml {
            state: Arc::new(Mutex::new(State {
                gpus,
                ..State::default()
            })),
        }
    }

    /// A DGX A100: 8 x A100-SXM4-40GB, MIG off.
    #[must_use]
    pub fn dgx_a100() -> Self {
        Self::new((0..8).map(|_| SimGpu::new(&catalog::A100_40GB)).collect())
    }

    /// An HGX H100 node: 8 x H100-SXM5-80GB, MIG off, mode switches without a reset.
    #[must_use]
    pub fn hgx_h100() -> Self {
        Self::new(
            (0..8)
                .map(|_| SimGpu::new(&catalog::H100_SXM_80GB).mode_needs_reset(false))
                .collect(),
        )
    }

    /// A mixed node: 2 x A100-40GB, 2 x H100-80GB and an L4 without MIG.
    #[must_use]
    pub fn mixed() -> Self {
        Self::new(vec![
            SimGpu::new(&catalog::A100_40GB),
            SimGpu::new(&catalog::A100_40GB),
            SimGpu::new(&catalog::H100_SXM_80GB).mode_needs_reset(false),
            SimGpu::new(&catalog::H100_SXM_80GB).mode_needs_reset(false),
            SimGpu::without_mig("NVIDIA L4", 0x27B8_10DE),
        ])
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Shares the GPUs with a simulated sysfs (matched by PCI address), as one driver serves
    /// NVML and sysfs on a host: GPU instances made or destroyed here become what
    /// MIG-backed vGPU types can use there, and a GPU instance (or MIG mode) that a vGPU
    /// needs cannot go (IN_USE), as the vGPU manager refuses it.
    pub fn link_sysfs(&self, sysfs: &gpupart_sriov::SimulatedSysfs) {
        let mut s = self.lock();
        for g in &s.gpus {
            sync_sysfs(Some(sysfs), g, g.mode.current, None);
        }
        s.sysfs = Some(sysfs.clone());
    }

    /// Resets GPU `gpu` (what `nvidia-smi -r` does): the pending MIG mode becomes current.
    /// Never called by the library.
    ///
    /// # Errors
    /// NOT_FOUND for a GPU that is not there; IN_USE while processes run.
    pub fn reset(&self, gpu: u32) -> Result<(), Error> {
        let mut s = self.lock();
        let g = s
            .gpus
            .get_mut(gpu as usize)
            .ok_or(nvml(gpu, "reset", NvmlCode::NotFound))?;
        if g.instances.values().any(|gi| !gi.processes.is_empty()) {
            return Err(nvml(gpu, "reset", NvmlCode::InUse));
        }
        let after = g.mode.pending;
        let mut probe = g.clone();
        if !after {
            probe.instances.clear();
        }
        if !sync_sysfs(s.sysfs.as_ref(), &probe, after, None) {
            return Err(nvml(gpu, "reset", NvmlCode::InUse));
        }
        let g = s
            .gpus
            .get_mut(gpu as usize)
            .ok_or(nvml(gpu, "reset", NvmlCode::NotFound))?;
        g.mode.current = after;
        if !after {
            g.instances.clear();
        }
        Ok(())
    }

    /// Starts a process `pid` in GPU instance `gi` (the instance is then in use).
    ///
    /// # Errors
    /// NOT_FOUND when there is no such instance.
    pub fn start_process(&self, gpu: u32, gi: u32, pid: u32) -> Result<(), Error> {
        let mut s = self.lock();
        let inst = s
            .gpus
            .get_mut(gpu as usize)
            .and_then(|g| g.instances.get_mut(&gi))
            .ok_or(nvml(gpu, "start process", NvmlCode::NotFound))?;
        inst.processes.push(pid);
        Ok(())
    }

    /// Ends every process in GPU instance `gi`.
    pub fn stop_processes(&self, gpu: u32, gi: u32) {
        if let Some(inst) = self
            .lock()
            .gpus
            .get_mut(gpu as usize)
            .and_then(|g| g.instances.get_mut(&gi))
        {
            inst.processes.clear();
        }
    }

    /// Fails the `n`th (0-based, counted from now) call of `op` with `code`.
    pub fn fail_nth(&self, op: SimOp, n: u64, code: NvmlCode) {
        let mut s = self.lock();
        let base = s.faults.calls.get(&op).copied().unwrap_or(0);
        s.faults.nth.push((op, base + n, code));
    }

    /// Fails the `n`th (0-based, counted from now) mutating call of any kind with `code`.
    pub fn fail_nth_mutation(&self, n: u64, code: NvmlCode) {
        let mut s = self.lock();
        let base = s.faults.any_calls;
        s.faults.nth_any.push((base + n, code));
    }

    /// Fails each mutating call with probability `per_mille`/1000, from `seed`.
    pub fn fail_randomly(&self, seed: u64, per_mille: u32) {
        self.lock().faults.random = Some((seed, per_mille));
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        let mut s = self.lock();
        s.faults.nth.clear();
        s.faults.nth_any.clear();
        s.faults.random = None;
    }

    /// Mutating NVML calls that succeeded so far.
    #[must_use]
    pub fn mutations(&self) -> u64 {
        self.lock().mutations
    }

    /// Takes the node for a mutating call, failing it first if a fault is due.
    fn begin(
        &self,
        op: SimOp,
        gpu: u32,
        name: &'static str,
    ) -> Result<MutexGuard<'_, State>, Error> {
        let mut s = self.lock();
        match Self::fault(&mut s, op) {
            Some(code) => Err(nvml(gpu, name, code)),
            None => Ok(s),
        }
    }

    fn fault(s: &mut State, op: SimOp) -> Option<NvmlCode> {
        let any = s.faults.any_calls;
        s.faults.any_calls += 1;
        if let Some(i) = s.faults.nth_any.iter().position(|(k, _)| *k == any) {
            let (_, code) = s.faults.nth_any.remove(i);
            s.faults
                .calls
                .entry(op)
                .and_modify(|n| *n += 1)
                .or_insert(1);
            return Some(code);
        }
        let n = s.faults.calls.entry(op).or_insert(0);
        let call = *n;
        *n += 1;
        if let Some(i) = s
            .faults
            .nth
            .iter()
            .position(|(o, k, _)| *o == op && *k == call)
        {
            let (_, _, code) = s.faults.nth.remove(i);
            return Some(code);
        }
        if let Some((seed, per_mille)) = s.faults.random.as_mut() {
            // splitmix64
            *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            if z % 1000 < u64::from(*per_mille) {
                return Some(NvmlCode::Other(999));
            }
        }
        None
    }
}

fn gpu_ref<'a>(s: &'a State, gpu: u32, op: &'static str) -> Result<&'a SimGpu, Error> {
    s.gpus
        .get(gpu as usize)
        .ok_or(nvml(gpu, op, NvmlCode::InvalidArgument))
}

fn gpu_mut<'a>(s: &'a mut State, gpu: u32, op: &'static str) -> Result<&'a mut SimGpu, Error> {
    s.gpus
        .get_mut(gpu as usize)
        .ok_or(nvml(gpu, op, NvmlCode::InvalidArgument))
}

fn mig_model(g: &SimGpu, gpu: u32, op: &'static str) -> Result<&'static GpuModel, Error> {
    let model = g.model.ok_or(nvml(gpu, op, NvmlCode::NotSupported))?;
    if !g.mode.current {
        // The driver refuses instance calls while MIG is off.
        return Err(nvml(gpu, op, NvmlCode::NotSupported));
    }
    Ok(model)
}
