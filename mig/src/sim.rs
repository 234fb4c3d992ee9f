//! A simulated NVML: multi-GPU nodes that refuse what the driver refuses.
//!
//! Real profile IDs and placements from the catalog; INSUFFICIENT_RESOURCES on overlap, spent
//! compute slices or a profile's instance limit; INVALID_ARGUMENT for a start that is not a
//! legal placement; IN_USE for a GPU instance with compute instances or processes, and for
//! MIG mode changes while instances exist; MIG mode pending until [`SimulatedNvml::reset`] on
//! GPUs that need a reset; NOT_SUPPORTED on boards without MIG. Deterministic, with fault
//! injection.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use gpupart_profiles::{GpuModel, Placement, catalog};
use gpupart_sriov::PciAddress;
use gpupart_topology::Occupancy;

use crate::Error;
use crate::backend::{
    Backend, ComputeInstanceInfo, GpuInfo, GpuInstanceInfo, MigActivation, MigMode, NvmlCode,
    ProfileInfo,
};

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

/// One simulated GPU.
#[derive(Debug, Clone)]
pub struct SimGpu {
    name: String,
    model: Option<&'static GpuModel>,
    pci_device_id: u32,
    pci_subsystem_id: Option<u32>,
    pci: Option<PciAddress>,
    mode: MigMode,
    needs_reset: bool,
    /// Processes run outside MIG: a mode change cannot unbind the device.
    busy: bool,
    instances: BTreeMap<u32, SimGi>,
}

#[derive(Debug, Clone)]
struct SimGi {
    profile_slot: usize,
    placement: Placement,
    compute: BTreeMap<u32, u32>,
    processes: Vec<u32>,
}

impl SimGpu {
    /// A MIG-capable GPU of `model` (its first board), MIG off, mode changes pending until a
    /// reset.
    #[must_use]
    pub fn new(model: &'static GpuModel) -> Self {
        let board = model.boards.first();
        SimGpu {
            name: board
                .and_then(|b| b.nvml_name)
                .map_or_else(|| format!("NVIDIA {}", model.name), str::to_owned),
            model: Some(model),
            pci_device_id: board.map_or(0, |b| b.pci_device_id.combined()),
            pci_subsystem_id: board
                .and_then(|b| b.pci_subsystem_id)
                .map(|id| id.combined()),
            pci: None,
            mode: MigMode::new(false, false),
            needs_reset: true,
            busy: false,
            instances: BTreeMap::new(),
        }
    }

    /// A GPU without MIG (NVML answers NOT_SUPPORTED), e.g. `NVIDIA L4`, 0x27B810DE.
    #[must_use]
    pub fn without_mig(name: &str, pci_device_id: u32) -> Self {
        SimGpu {
            name: name.to_owned(),
            model: None,
            pci_device_id,
            pci_subsystem_id: None,
            pci: None,
            mode: MigMode::new(false, false),
            needs_reset: true,
            busy: false,
            instances: BTreeMap::new(),
        }
    }

    /// Reports this PCI device ID (another board of the same model).
    #[must_use]
    pub fn with_pci_device_id(mut self, id: u32) -> Self {
        self.pci_device_id = id;
        self
    }

    /// Reports this PCI subsystem ID (`0x16C010DE`: subsystem device, then vendor).
    #[must_use]
    pub fn with_pci_subsystem_id(mut self, id: u32) -> Self {
        self.pci_subsystem_id = Some(id);
        self
    }

    /// MIG on from the start.
    #[must_use]
    pub fn mig_enabled(mut self) -> Self {
        self.mode = MigMode::new(true, true);
        self
    }

    /// Whether a MIG mode change waits for a reset (A100: yes; on Hopper an idle GPU switches
    /// at once).
    #[must_use]
    pub fn mode_needs_reset(mut self, needs: bool) -> Self {
        self.needs_reset = needs;
        self
    }

    /// Processes run on the GPU outside MIG, so NVML cannot unbind it to change the mode
    /// (`activationStatus` IN_USE) until they stop.
    #[must_use]
    pub fn busy(mut self, busy: bool) -> Self {
        self.busy = busy;
        self
    }

    /// The PCI address.
    #[must_use]
    pub fn at(mut self, pci: PciAddress) -> Self {
        self.pci = Some(pci);
        self
    }

    fn occupancy(&self) -> Option<Occupancy> {
        let model = self.model?;
        let mut occ = Occupancy::new(model);
        for gi in self.instances.values() {
            occ.add(&model.profiles[gi.profile_slot], gi.placement.start)
                .ok()?;
        }
        Some(occ)
    }
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

/// The GPU instance profile indices driver 580 defines (0 to 16; see the golden data).
const DRIVER_GI_PROFILE_INDICES: u32 = 17;

impl Backend for SimulatedNvml {
    fn gpu_count(&self) -> Result<u32, Error> {
        u32::try_from(self.lock().gpus.len())
            .map_err(|_| nvml(0, "device count", NvmlCode::Other(0)))
    }

    fn gpu(&self, gpu: u32) -> Result<GpuInfo, Error> {
        let s = self.lock();
        let g =
            s.gpus
                .get(gpu as usize)
                .ok_or(nvml(gpu, "get handle", NvmlCode::InvalidArgument))?;
        Ok(GpuInfo {
            index: gpu,
            name: g.name.clone(),
            uuid: format!(
                "GPU-5ea0{gpu:04x}-0000-4000-8000-{:012x}",
                u64::from(gpu) * 0x1111 + 0xa100
            ),
            pci: g.pci,
            pci_device_id: g.pci_device_id,
            pci_subsystem_id: g.pci_subsystem_id,
        })
    }

    fn mig_mode(&self, gpu: u32) -> Result<MigMode, Error> {
        let s = self.lock();
        let g =
            s.gpus
                .get(gpu as usize)
                .ok_or(nvml(gpu, "get MIG mode", NvmlCode::InvalidArgument))?;
        g.model
            .ok_or(nvml(gpu, "get MIG mode", NvmlCode::NotSupported))?;
        Ok(g.mode)
    }

    fn set_mig_mode(&self, gpu: u32, enabled: bool) -> Result<MigActivation, Error> {
        const OP: &str = "set MIG mode";
        let mut s = self.begin(SimOp::SetMigMode, gpu, OP)?;
        let g = gpu_mut(&mut s, gpu, OP)?;
        g.model.ok_or(nvml(gpu, OP, NvmlCode::NotSupported))?;
        if !enabled && !g.instances.is_empty() {
            return Err(nvml(gpu, OP, NvmlCode::InUse));
        }
        // nvml.h's activationStatus: a busy device cannot be unbound (IN_USE: idle it and
        // retry); where no reset is exposed (pass-through) the mode waits for one.
        let activation = if g.busy && g.mode.current != enabled {
            MigActivation::RetryWhenIdle
        } else if g.needs_reset && g.mode.current != enabled {
            MigActivation::ResetRequired
        } else {
            MigActivation::Activated
        };
        if activation == MigActivation::Activated && g.mode.current != enabled {
            let probe = g.clone();
            if !sync_sysfs(s.sysfs.as_ref(), &probe, enabled, None) {
                return Err(nvml(gpu, OP, NvmlCode::InUse));
            }
        }
        let g = gpu_mut(&mut s, gpu, OP)?;
        g.mode.pending = enabled;
        if activation == MigActivation::Activated {
            g.mode.current = enabled;
        }
        s.mutations += 1;
        Ok(activation)
    }

    fn gpu_instance_profile_info(&self, gpu: u32, index: u32) -> Result<ProfileInfo, Error> {
        const OP: &str = "get GPU instance profile info";
        let s = self.lock();
        let g = gpu_ref(&s, gpu, OP)?;
        let model = g.model.ok_or(nvml(gpu, OP, NvmlCode::NotSupported))?;
        // Driver 580 defines profile indices 0 to 16 and answers INVALID_ARGUMENT from 17 on
        // (golden data); an index it defines that the GPU lacks is NOT_SUPPORTED.
        if index >= DRIVER_GI_PROFILE_INDICES {
            return Err(nvml(gpu, OP, NvmlCode::InvalidArgument));
        }
        let Some(p) = model
            .profiles
            .iter()
            .find(|p| p.nvml_index.as_u32() == index)
        else {
            return Err(nvml(gpu, OP, NvmlCode::NotSupported));
        };
        // The simulator answers with the catalog's figures and invents no profile ID.
        let id = p.nvml_id.ok_or(Error::NoNvmlIdInCatalog {
            gpu,
            model: model.name,
            profile: p.name,
        })?;
        Ok(ProfileInfo {
            index,
            id,
            slice_count: u32::from(p.compute_slices),
            instance_count: u32::from(p.max_instances),
            multiprocessor_count: p.sms.map_or(0, u32::from),
            copy_engine_count: p.copy_engines.map_or(0, u32::from),
            decoder_count: p.decoders.map_or(0, u32::from),
            encoder_count: p.encoders.map_or(0, u32::from),
            jpeg_count: p.jpeg.map_or(0, u32::from),
            ofa_count: p.ofa.map_or(0, u32::from),
            memory_mib: u64::from(p.memory_mib.unwrap_or(0)),
            p2p: p.p2p.unwrap_or(false),
        })
    }

    fn possible_placements(&self, gpu: u32, profile_id: u32) -> Result<Vec<Placement>, Error> {
        const OP: &str = "get possible placements";
        let s = self.lock();
        let g = gpu_ref(&s, gpu, OP)?;
        let model = g.model.ok_or(nvml(gpu, OP, NvmlCode::NotSupported))?;
        let p = model
            .profile_by_nvml_id(profile_id)
            .map_err(|_| nvml(gpu, OP, NvmlCode::InvalidArgument))?;
        // Every legal placement, occupied or not, MIG on or off (nvml.h; golden data).
        Ok(p.placements.to_vec())
    }

    fn remaining_capacity(&self, gpu: u32, profile_id: u32) -> Result<u32, Error> {
        const OP: &str = "get remaining capacity";
        let s = self.lock();
        let g = gpu_ref(&s, gpu, OP)?;
        let model = g.model.ok_or(nvml(gpu, OP, NvmlCode::NotSupported))?;
        let p = model
            .profile_by_nvml_id(profile_id)
            .map_err(|_| nvml(gpu, OP, NvmlCode::InvalidArgument))?;
        // With MIG off the driver answers for an empty GPU (golden data: 7 for 1g.10gb).
        let mut occ = g.occupancy().ok_or(nvml(gpu, OP, NvmlCode::InvalidState))?;
        let mut n = 0;
        'more: loop {
            for pl in p.placements {
                if occ.add(p, pl.start).is_ok() {
                    n += 1;
                    continue 'more;
                }
            }
            break;
        }
        Ok(n)
    }

    fn gpu_instances(&self, gpu: u32) -> Result<Vec<GpuInstanceInfo>, Error> {
        const OP: &str = "get GPU instances";
        let s = self.lock();
        let g = gpu_ref(&s, gpu, OP)?;
        // The driver lists GPU instances with MIG off too: none (conformance golden data).
        let model = g.model.ok_or(nvml(gpu, OP, NvmlCode::NotSupported))?;
        Ok(g.instances
            .iter()
            .map(|(&id, gi)| GpuInstanceInfo {
                id,
                profile_id: model.profiles[gi.profile_slot].nvml_id.unwrap_or(0),
                placement: gi.placement,
            })
            .collect())
    }

    fn create_gpu_instance(
        &self,
        gpu: u32,
        profile_id: u32,
        start: u8,
    ) -> Result<GpuInstanceInfo, Error> {
        const OP: &str = "create GPU instance";
        let mut s = self.begin(SimOp::CreateGpuInstance, gpu, OP)?;
        let g = gpu_mut(&mut s, gpu, OP)?;
        let model = mig_model(g, gpu, OP)?;
        let slot = model
            .profiles
            .iter()
            .position(|p| p.nvml_id == Some(profile_id))
            .ok_or(nvml(gpu, OP, NvmlCode::InvalidArgument))?;
        let p = &model.profiles[slot];
        let placement = p
            .placement_at(start)
            .ok_or(nvml(gpu, OP, NvmlCode::InvalidArgument))?;
        let mut occ = g.occupancy().ok_or(nvml(gpu, OP, NvmlCode::Other(0)))?;
        occ.add(p, start)
            .map_err(|_| nvml(gpu, OP, NvmlCode::InsufficientResources))?;
        let id = (1..)
            .find(|i| !g.instances.contains_key(i))
            .unwrap_or(u32::MAX);
        g.instances.insert(
            id,
            SimGi {
                profile_slot: slot,
                placement,
                compute: BTreeMap::new(),
                processes: Vec::new(),
            },
        );
        let probe = g.clone();
        sync_sysfs(s.sysfs.as_ref(), &probe, probe.mode.current, None);
        s.mutations += 1;
        Ok(GpuInstanceInfo {
            id,
            profile_id,
            placement,
        })
    }

    fn destroy_gpu_instance(&self, gpu: u32, gi: u32) -> Result<(), Error> {
        const OP: &str = "destroy GPU instance";
        let mut s = self.begin(SimOp::DestroyGpuInstance, gpu, OP)?;
        let g = gpu_mut(&mut s, gpu, OP)?;
        mig_model(g, gpu, OP)?;
        let inst = g
            .instances
            .get(&gi)
            .ok_or(nvml(gpu, OP, NvmlCode::NotFound))?;
        if !inst.compute.is_empty() || !inst.processes.is_empty() {
            return Err(nvml(gpu, OP, NvmlCode::InUse));
        }
        let probe = g.clone();
        if !sync_sysfs(s.sysfs.as_ref(), &probe, probe.mode.current, Some(gi)) {
            return Err(nvml(gpu, OP, NvmlCode::InUse));
        }
        let g = gpu_mut(&mut s, gpu, OP)?;
        g.instances.remove(&gi);
        s.mutations += 1;
        Ok(())
    }

    fn compute_instances(&self, gpu: u32, gi: u32) -> Result<Vec<ComputeInstanceInfo>, Error> {
        const OP: &str = "get compute instances";
        let s = self.lock();
        let g = gpu_ref(&s, gpu, OP)?;
        g.model.ok_or(nvml(gpu, OP, NvmlCode::NotSupported))?;
        // No such GPU instance, MIG on or off: NOT_FOUND (conformance golden data).
        let inst = g
            .instances
            .get(&gi)
            .ok_or(nvml(gpu, OP, NvmlCode::NotFound))?;
        Ok(inst
            .compute
            .iter()
            .map(|(&id, &profile_index)| ComputeInstanceInfo { id, profile_index })
            .collect())
    }

    fn create_compute_instance(
        &self,
        gpu: u32,
        gi: u32,
        profile_index: u32,
    ) -> Result<ComputeInstanceInfo, Error> {
        const OP: &str = "create compute instance";
        let mut s = self.begin(SimOp::CreateComputeInstance, gpu, OP)?;
        let g = gpu_mut(&mut s, gpu, OP)?;
        let model = mig_model(g, gpu, OP)?;
        let inst = g
            .instances
            .get_mut(&gi)
            .ok_or(nvml(gpu, OP, NvmlCode::NotFound))?;
        let p = &model.profiles[inst.profile_slot];
        let ci = p
            .compute_profiles
            .iter()
            .find(|c| c.nvml_index.as_u32() == profile_index)
            .ok_or(nvml(gpu, OP, NvmlCode::NotSupported))?;
        let used: u32 = inst
            .compute
            .values()
            .filter_map(|&idx| {
                p.compute_profiles
                    .iter()
                    .find(|c| c.nvml_index.as_u32() == idx)
            })
            .map(|c| u32::from(c.compute_slices))
            .sum();
        let same = inst
            .compute
            .values()
            .filter(|&&i| i == profile_index)
            .count();
        if used + u32::from(ci.compute_slices) > u32::from(p.compute_slices)
            || same >= usize::from(ci.max_instances)
        {
            return Err(nvml(gpu, OP, NvmlCode::InsufficientResources));
        }
        let id = (0..)
            .find(|i| !inst.compute.contains_key(i))
            .unwrap_or(u32::MAX);
        inst.compute.insert(id, profile_index);
        s.mutations += 1;
        Ok(ComputeInstanceInfo { id, profile_index })
    }

    fn destroy_compute_instance(&self, gpu: u32, gi: u32, ci: u32) -> Result<(), Error> {
        const OP: &str = "destroy compute instance";
        let mut s = self.begin(SimOp::DestroyComputeInstance, gpu, OP)?;
        let g = gpu_mut(&mut s, gpu, OP)?;
        mig_model(g, gpu, OP)?;
        let inst = g
            .instances
            .get_mut(&gi)
            .ok_or(nvml(gpu, OP, NvmlCode::NotFound))?;
        if !inst.processes.is_empty() {
            return Err(nvml(gpu, OP, NvmlCode::InUse));
        }
        inst.compute
            .remove(&ci)
            .ok_or(nvml(gpu, OP, NvmlCode::NotFound))?;
        s.mutations += 1;
        Ok(())
    }

    fn processes(&self, gpu: u32, gi: u32) -> Result<Vec<u32>, Error> {
        const OP: &str = "get running processes";
        let s = self.lock();
        let g = gpu_ref(&s, gpu, OP)?;
        // The process queries answer on any GPU, MIG on or off (conformance golden data).
        Ok(g.instances
            .get(&gi)
            .map(|i| i.processes.clone())
            .unwrap_or_default())
    }
}
