//! The simulated NVML's [`Backend`] calls: each checks what the driver checks and refuses
//! with its code.

use std::collections::BTreeMap;

use gpupart_profiles::Placement;

use super::{SimGi, SimOp, SimulatedNvml, gpu_mut, gpu_ref, mig_model, nvml, sync_sysfs};
use crate::Error;
use crate::backend::{
    Backend, ComputeInstanceInfo, GpuInfo, GpuInstanceInfo, MigActivation, MigMode, NvmlCode,
    ProfileInfo,
};

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
