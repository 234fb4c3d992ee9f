//! The real backend: libnvidia-ml through nvml-wrapper, and nvml-wrapper-sys for the calls the
//! wrapper lacks or gets wrong. This is the crate's only module with `unsafe` code; every block
//! says why it is sound. Symbols are taken from the `Result` fields of the loaded library, so
//! an old driver without a function gives `FUNCTION_NOT_FOUND`, never a panic.
#![allow(unsafe_code)]

use std::ffi::c_uint;
use std::ptr;

use gpupart_profiles::Placement;
use nvml_wrapper::Nvml;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper_sys::bindings::{
    nvmlComputeInstance_t, nvmlComputeInstanceInfo_t, nvmlComputeInstanceProfileInfo_t,
    nvmlDevice_t, nvmlGpuInstance_t, nvmlGpuInstanceInfo_t, nvmlGpuInstancePlacement_t,
    nvmlProcessInfo_t, nvmlReturn_t,
};

use crate::Error;
use crate::backend::{
    Backend, ComputeInstanceInfo, GpuInfo, GpuInstanceInfo, MAX_PROFILE_INDEX, MigActivation,
    MigMode, NvmlCode, ProfileInfo,
};

const SUCCESS: nvmlReturn_t = 0;
const INSUFFICIENT_SIZE: nvmlReturn_t = 7;
/// `NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED`
const ENGINE_SHARED: c_uint = 0;

/// NVML through libnvidia-ml, loaded at run time.
pub struct NvmlBackend {
    nvml: Nvml,
}

impl core::fmt::Debug for NvmlBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NvmlBackend").finish_non_exhaustive()
    }
}

/// nvml-wrapper's error as the NVML code it stands for; a code the wrapper does not name
/// keeps its number (`UnexpectedVariant`), never `0` (which is `NVML_SUCCESS`).
#[allow(deprecated)] // ALREADY_INITIALIZED is deprecated in NVML, but still a code
fn wrap(gpu: Option<u32>, op: &'static str, e: NvmlError) -> Error {
    let raw = match e {
        NvmlError::Uninitialized => 1,
        NvmlError::InvalidArg => 2,
        NvmlError::NotSupported => 3,
        NvmlError::NoPermission => 4,
        NvmlError::AlreadyInitialized => 5,
        NvmlError::NotFound => 6,
        NvmlError::InsufficientSize(_) => 7,
        NvmlError::InsufficientPower => 8,
        NvmlError::DriverNotLoaded => 9,
        NvmlError::Timeout => 10,
        NvmlError::IrqIssue => 11,
        NvmlError::LibraryNotFound => 12,
        NvmlError::FunctionNotFound | NvmlError::FailedToLoadSymbol(_) => 13,
        NvmlError::CorruptedInfoROM => 14,
        NvmlError::GpuLost => 15,
        NvmlError::ResetRequired => 16,
        NvmlError::OperatingSystem => 17,
        NvmlError::LibRmVersionMismatch => 18,
        NvmlError::InUse => 19,
        NvmlError::InsufficientMemory => 20,
        NvmlError::NoData => 21,
        NvmlError::VgpuEccNotSupported => 22,
        NvmlError::UnexpectedVariant(n) => n,
        NvmlError::LibloadingError(_) => {
            return Error::LibraryNotFound {
                detail: e.to_string(),
            };
        }
        _ => 999,
    };
    Error::Nvml {
        gpu,
        op,
        code: NvmlCode::from_raw(raw),
    }
}

fn check(gpu: u32, op: &'static str, rc: nvmlReturn_t) -> Result<(), Error> {
    if rc == SUCCESS {
        Ok(())
    } else {
        Err(Error::Nvml {
            gpu: Some(gpu),
            op,
            code: NvmlCode::from_raw(rc),
        })
    }
}

fn sym<'a, T, E>(gpu: u32, op: &'static str, s: Result<&'a T, &E>) -> Result<&'a T, Error> {
    s.map_err(|_| Error::Nvml {
        gpu: Some(gpu),
        op,
        code: NvmlCode::FunctionNotFound,
    })
}

impl NvmlBackend {
    /// Loads libnvidia-ml and initializes NVML.
    ///
    /// # Errors
    /// [`Error::LibraryNotFound`] when the library is not on this machine (no NVIDIA driver);
    /// [`Error::Nvml`] when initialization fails (e.g. the driver is not loaded).
    #[doc(alias = "nvmlInit_v2")]
    pub fn init() -> Result<Self, Error> {
        let nvml = Nvml::init().map_err(|e| wrap(None, "init", e))?;
        Ok(NvmlBackend { nvml })
    }

    /// The driver version (`nvmlSystemGetDriverVersion`).
    ///
    /// # Errors
    /// NVML's error.
    #[doc(alias = "nvmlSystemGetDriverVersion")]
    pub fn driver_version(&self) -> Result<String, Error> {
        self.nvml
            .sys_driver_version()
            .map_err(|e| wrap(None, "get driver version", e))
    }

    fn device(&self, gpu: u32, op: &'static str) -> Result<nvmlDevice_t, Error> {
        let d = self
            .nvml
            .device_by_index(gpu)
            .map_err(|e| wrap(Some(gpu), op, e))?;
        // SAFETY: `handle` only hands out the raw handle; it stays valid while `self.nvml` is
        // initialized, which outlives every use below (all within `&self` methods).
        Ok(unsafe { d.handle() })
    }

    fn gpu_instance(
        &self,
        gpu: u32,
        gi: u32,
        op: &'static str,
    ) -> Result<nvmlGpuInstance_t, Error> {
        let dev = self.device(gpu, op)?;
        let lib = self.nvml.lib();
        let f = sym(gpu, op, lib.nvmlDeviceGetGpuInstanceById.as_ref())?;
        let mut h: nvmlGpuInstance_t = ptr::null_mut();
        // SAFETY: `dev` is a valid device handle; `h` is a valid out-pointer for one handle.
        check(gpu, op, unsafe { f(dev, gi, &mut h) })?;
        Ok(h)
    }

    fn profile_ids(&self, gpu: u32) -> Result<Vec<(u32, u32)>, Error> {
        // (profile ID, max instances) for every profile the GPU has, the catalog's or not.
        Ok(self
            .gpu_instance_profiles(gpu)?
            .iter()
            .map(|p| (p.id, p.instance_count))
            .collect())
    }

    /// The compute instance profile at `index` of GPU instance `gi`: `Ok(Some((id,
    /// instance count)))`, `Ok(None)` where the GPU instance lacks it (NOT_SUPPORTED), `Err`
    /// with INVALID_ARGUMENT past the last index.
    fn ci_profile(
        &self,
        gpu: u32,
        gi: nvmlGpuInstance_t,
        index: u32,
        op: &'static str,
    ) -> Result<Option<(u32, u32)>, Error> {
        let lib = self.nvml.lib();
        let f = sym(
            gpu,
            op,
            lib.nvmlGpuInstanceGetComputeInstanceProfileInfo.as_ref(),
        )?;
        // SAFETY: an all-zero bit pattern is valid for this plain C struct of integers.
        let mut info: nvmlComputeInstanceProfileInfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `gi` is a valid GPU instance handle; `info` is a valid out-pointer.
        let rc = unsafe { f(gi, index, ENGINE_SHARED, &mut info) };
        match NvmlCode::from_raw(rc) {
            _ if rc == SUCCESS => Ok(Some((info.id, info.instanceCount))),
            NvmlCode::NotSupported => Ok(None),
            code => Err(Error::Nvml {
                gpu: Some(gpu),
                op,
                code,
            }),
        }
    }

    /// Every compute instance profile of `gi`, indices from 0 until INVALID_ARGUMENT:
    /// (index, profile ID, instance count).
    fn ci_profiles(
        &self,
        gpu: u32,
        gi: nvmlGpuInstance_t,
        op: &'static str,
    ) -> Result<Vec<(u32, u32, u32)>, Error> {
        let mut out = Vec::new();
        for index in 0..MAX_PROFILE_INDEX {
            match self.ci_profile(gpu, gi, index, op) {
                Ok(Some((id, count))) => out.push((index, id, count)),
                Ok(None) => {}
                Err(Error::Nvml {
                    code: NvmlCode::InvalidArgument,
                    ..
                }) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn ci_handles(
        &self,
        gpu: u32,
        gi: nvmlGpuInstance_t,
        op: &'static str,
    ) -> Result<Vec<(nvmlComputeInstance_t, u32, u32)>, Error> {
        // (handle, CI id, profile index)
        let lib = self.nvml.lib();
        let list = sym(gpu, op, lib.nvmlGpuInstanceGetComputeInstances.as_ref())?;
        let info_f = sym(gpu, op, lib.nvmlComputeInstanceGetInfo_v2.as_ref())?;
        let mut out = Vec::new();
        for (index, id, instances) in self.ci_profiles(gpu, gi, op)? {
            // nvml.h: the array must hold the profile's `instanceCount` handles.
            let cap = instances.max(1);
            let mut handles: Vec<nvmlComputeInstance_t> = vec![ptr::null_mut(); cap as usize];
            let mut count: c_uint = 0;
            // SAFETY: `handles` holds `instanceCount` handles, the size nvml.h requires of the
            // array for this profile; NVML writes at most that many and sets `count`.
            check(gpu, op, unsafe {
                list(gi, id, handles.as_mut_ptr(), &mut count)
            })?;
            handles.truncate((count as usize).min(cap as usize));
            for h in handles {
                // SAFETY: all-zero is valid for this C struct (pointers become null).
                let mut info: nvmlComputeInstanceInfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: `h` was returned by NVML just now; `info` is a valid out-pointer.
                check(gpu, op, unsafe { info_f(h, &mut info) })?;
                out.push((h, info.id, index));
            }
        }
        Ok(out)
    }
}

impl Backend for NvmlBackend {
    #[doc(alias = "nvmlDeviceGetCount_v2")]
    fn gpu_count(&self) -> Result<u32, Error> {
        self.nvml
            .device_count()
            .map_err(|e| wrap(None, "get device count", e))
    }

    fn gpu(&self, gpu: u32) -> Result<GpuInfo, Error> {
        let d = self
            .nvml
            .device_by_index(gpu)
            .map_err(|e| wrap(Some(gpu), "get handle", e))?;
        let pci = d
            .pci_info()
            .map_err(|e| wrap(Some(gpu), "get PCI info", e))?;
        Ok(GpuInfo {
            index: gpu,
            name: d.name().map_err(|e| wrap(Some(gpu), "get name", e))?,
            uuid: d.uuid().map_err(|e| wrap(Some(gpu), "get UUID", e))?,
            pci: pci.bus_id.parse().ok(),
            pci_device_id: pci.pci_device_id,
            pci_subsystem_id: pci.pci_sub_system_id,
        })
    }

    #[doc(alias = "nvmlDeviceGetMigMode")]
    fn mig_mode(&self, gpu: u32) -> Result<MigMode, Error> {
        let d = self
            .nvml
            .device_by_index(gpu)
            .map_err(|e| wrap(Some(gpu), "get handle", e))?;
        let m = d
            .mig_mode()
            .map_err(|e| wrap(Some(gpu), "get MIG mode", e))?;
        Ok(MigMode::new(m.current == 1, m.pending == 1))
    }

    #[doc(alias = "nvmlDeviceSetMigMode")]
    fn set_mig_mode(&self, gpu: u32, enabled: bool) -> Result<MigActivation, Error> {
        let d = self
            .nvml
            .device_by_index(gpu)
            .map_err(|e| wrap(Some(gpu), "get handle", e))?;
        let status = d
            .set_mig_mode(enabled)
            .map_err(|e| wrap(Some(gpu), "set MIG mode", e))?;
        Ok(MigActivation::from_raw(status))
    }

    #[doc(alias = "nvmlDeviceGetGpuInstanceProfileInfo")]
    fn gpu_instance_profile_info(&self, gpu: u32, index: u32) -> Result<ProfileInfo, Error> {
        let d = self
            .nvml
            .device_by_index(gpu)
            .map_err(|e| wrap(Some(gpu), "get handle", e))?;
        match d.profile_info(index) {
            Ok(p) => Ok(ProfileInfo {
                index,
                id: p.id,
                slice_count: p.slice_count,
                instance_count: p.instance_count,
                multiprocessor_count: p.multiprocessor_count,
                copy_engine_count: p.copy_engine_count,
                decoder_count: p.decoder_count,
                encoder_count: p.encoder_count,
                jpeg_count: p.jpeg_count,
                ofa_count: p.ofa_count,
                memory_mib: p.memory_size_mb,
                p2p: p.is_p2p_supported,
            }),
            Err(e) => Err(wrap(Some(gpu), "get GPU instance profile info", e)),
        }
    }

    /// nvml-wrapper 0.13's `Device::possible_placements` never sets the Vec's length and so
    /// always returns nothing; this calls the function itself.
    #[doc(alias = "nvmlDeviceGetGpuInstancePossiblePlacements_v2")]
    fn possible_placements(&self, gpu: u32, profile_id: u32) -> Result<Vec<Placement>, Error> {
        const OP: &str = "get possible placements";
        let dev = self.device(gpu, OP)?;
        let f = sym(
            gpu,
            OP,
            self.nvml
                .lib()
                .nvmlDeviceGetGpuInstancePossiblePlacements_v2
                .as_ref(),
        )?;
        let mut count: c_uint = 0;
        // SAFETY: a null buffer with count 0 asks for the count only, as NVML documents.
        let rc = unsafe { f(dev, profile_id, ptr::null_mut(), &mut count) };
        if rc != SUCCESS && rc != INSUFFICIENT_SIZE {
            check(gpu, OP, rc)?;
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![nvmlGpuInstancePlacement_t { start: 0, size: 0 }; count as usize];
        // SAFETY: `buf` holds `count` initialized placements; NVML writes at most `count` and
        // updates `count` to the number written.
        check(gpu, OP, unsafe {
            f(dev, profile_id, buf.as_mut_ptr(), &mut count)
        })?;
        buf.truncate(count as usize);
        Ok(buf
            .iter()
            .filter_map(|p| {
                Some(Placement::new(
                    u8::try_from(p.start).ok()?,
                    u8::try_from(p.size).ok()?,
                ))
            })
            .collect())
    }

    #[doc(alias = "nvmlDeviceGetGpuInstanceRemainingCapacity")]
    fn remaining_capacity(&self, gpu: u32, profile_id: u32) -> Result<u32, Error> {
        const OP: &str = "get remaining capacity";
        let dev = self.device(gpu, OP)?;
        let f = sym(
            gpu,
            OP,
            self.nvml
                .lib()
                .nvmlDeviceGetGpuInstanceRemainingCapacity
                .as_ref(),
        )?;
        let mut count: c_uint = 0;
        // SAFETY: `dev` is valid; `count` is a valid out-pointer.
        check(gpu, OP, unsafe { f(dev, profile_id, &mut count) })?;
        Ok(count)
    }

    #[doc(alias = "nvmlDeviceGetGpuInstances")]
    fn gpu_instances(&self, gpu: u32) -> Result<Vec<GpuInstanceInfo>, Error> {
        const OP: &str = "get GPU instances";
        let dev = self.device(gpu, OP)?;
        let lib = self.nvml.lib();
        let list = sym(gpu, OP, lib.nvmlDeviceGetGpuInstances.as_ref())?;
        let info_f = sym(gpu, OP, lib.nvmlGpuInstanceGetInfo.as_ref())?;
        let mut out = Vec::new();
        for (profile_id, max) in self.profile_ids(gpu)? {
            let mut handles: Vec<nvmlGpuInstance_t> = vec![ptr::null_mut(); max.max(1) as usize];
            let mut count: c_uint = 0;
            // SAFETY: nvml.h requires `gpuInstances` to hold the profile's `instanceCount`
            // handles; `handles` holds exactly that many (`max`, from the profile info), so
            // NVML writes within it; `count` receives the number written.
            check(gpu, OP, unsafe {
                list(dev, profile_id, handles.as_mut_ptr(), &mut count)
            })?;
            handles.truncate(count as usize);
            for h in handles {
                // SAFETY: all-zero is valid for this C struct (the device pointer becomes null).
                let mut info: nvmlGpuInstanceInfo_t = unsafe { std::mem::zeroed() };
                // SAFETY: `h` was just returned by NVML; `info` is a valid out-pointer.
                check(gpu, OP, unsafe { info_f(h, &mut info) })?;
                out.push(GpuInstanceInfo {
                    id: info.id,
                    profile_id: info.profileId,
                    placement: Placement::new(
                        u8::try_from(info.placement.start).unwrap_or(u8::MAX),
                        u8::try_from(info.placement.size).unwrap_or(u8::MAX),
                    ),
                });
            }
        }
        out.sort_by_key(|g| g.id);
        Ok(out)
    }

    #[doc(alias = "nvmlDeviceCreateGpuInstanceWithPlacement")]
    fn create_gpu_instance(
        &self,
        gpu: u32,
        profile_id: u32,
        start: u8,
    ) -> Result<GpuInstanceInfo, Error> {
        const OP: &str = "create GPU instance";
        // The placement's size is the profile's: read it off the legal placements. A start
        // that is none of them is an invalid argument, as the driver would say; an occupied
        // one is left to the driver (INSUFFICIENT_RESOURCES).
        let legal = self.possible_placements(gpu, profile_id)?;
        let placement = legal
            .iter()
            .find(|p| p.start == start)
            .copied()
            .ok_or(Error::Nvml {
                gpu: Some(gpu),
                op: OP,
                code: NvmlCode::InvalidArgument,
            })?;
        let dev = self.device(gpu, OP)?;
        let lib = self.nvml.lib();
        let f = sym(
            gpu,
            OP,
            lib.nvmlDeviceCreateGpuInstanceWithPlacement.as_ref(),
        )?;
        let info_f = sym(gpu, OP, lib.nvmlGpuInstanceGetInfo.as_ref())?;
        let raw = nvmlGpuInstancePlacement_t {
            start: c_uint::from(placement.start),
            size: c_uint::from(placement.size),
        };
        let mut h: nvmlGpuInstance_t = ptr::null_mut();
        // SAFETY: `dev` is valid, `raw` lives across the call, `h` is a valid out-pointer.
        check(gpu, OP, unsafe { f(dev, profile_id, &raw, &mut h) })?;
        // SAFETY: all-zero is valid for this C struct.
        let mut info: nvmlGpuInstanceInfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `h` was just created by NVML; `info` is a valid out-pointer.
        check(gpu, OP, unsafe { info_f(h, &mut info) })?;
        Ok(GpuInstanceInfo {
            id: info.id,
            profile_id,
            placement,
        })
    }

    #[doc(alias = "nvmlGpuInstanceDestroy")]
    fn destroy_gpu_instance(&self, gpu: u32, gi: u32) -> Result<(), Error> {
        const OP: &str = "destroy GPU instance";
        let h = self.gpu_instance(gpu, gi, OP)?;
        let f = sym(gpu, OP, self.nvml.lib().nvmlGpuInstanceDestroy.as_ref())?;
        // SAFETY: `h` is a valid GPU instance handle just looked up by ID.
        check(gpu, OP, unsafe { f(h) })
    }

    #[doc(alias = "nvmlGpuInstanceGetComputeInstances")]
    fn compute_instances(&self, gpu: u32, gi: u32) -> Result<Vec<ComputeInstanceInfo>, Error> {
        const OP: &str = "get compute instances";
        let h = self.gpu_instance(gpu, gi, OP)?;
        let mut v: Vec<ComputeInstanceInfo> = self
            .ci_handles(gpu, h, OP)?
            .into_iter()
            .map(|(_, id, profile_index)| ComputeInstanceInfo { id, profile_index })
            .collect();
        v.sort_by_key(|c| c.id);
        Ok(v)
    }

    #[doc(alias = "nvmlGpuInstanceCreateComputeInstance")]
    fn create_compute_instance(
        &self,
        gpu: u32,
        gi: u32,
        profile_index: u32,
    ) -> Result<ComputeInstanceInfo, Error> {
        const OP: &str = "create compute instance";
        let h = self.gpu_instance(gpu, gi, OP)?;
        let (id, _) = self
            .ci_profile(gpu, h, profile_index, OP)?
            .ok_or(Error::Nvml {
                gpu: Some(gpu),
                op: OP,
                code: NvmlCode::NotSupported,
            })?;
        let lib = self.nvml.lib();
        let f = sym(gpu, OP, lib.nvmlGpuInstanceCreateComputeInstance.as_ref())?;
        let info_f = sym(gpu, OP, lib.nvmlComputeInstanceGetInfo_v2.as_ref())?;
        let mut ci: nvmlComputeInstance_t = ptr::null_mut();
        // SAFETY: `h` is a valid GPU instance handle; `ci` is a valid out-pointer.
        check(gpu, OP, unsafe { f(h, id, &mut ci) })?;
        // SAFETY: all-zero is valid for this C struct.
        let mut info: nvmlComputeInstanceInfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `ci` was just created by NVML; `info` is a valid out-pointer.
        check(gpu, OP, unsafe { info_f(ci, &mut info) })?;
        Ok(ComputeInstanceInfo {
            id: info.id,
            profile_index,
        })
    }

    #[doc(alias = "nvmlComputeInstanceDestroy")]
    fn destroy_compute_instance(&self, gpu: u32, gi: u32, ci: u32) -> Result<(), Error> {
        const OP: &str = "destroy compute instance";
        let h = self.gpu_instance(gpu, gi, OP)?;
        let (handle, _, _) = self
            .ci_handles(gpu, h, OP)?
            .into_iter()
            .find(|(_, id, _)| *id == ci)
            .ok_or(Error::Nvml {
                gpu: Some(gpu),
                op: OP,
                code: NvmlCode::NotFound,
            })?;
        let f = sym(gpu, OP, self.nvml.lib().nvmlComputeInstanceDestroy.as_ref())?;
        // SAFETY: `handle` was just returned by NVML for this GPU instance.
        check(gpu, OP, unsafe { f(handle) })
    }

    /// Processes on the parent device whose `gpuInstanceId` is `gi`: compute processes,
    /// graphics processes (GFX profiles) and MPS clients, each pid once. NVML reports the
    /// instance IDs only to root; without them no process is attributed, so run as root.
    #[doc(alias = "nvmlDeviceGetComputeRunningProcesses_v3")]
    #[doc(alias = "nvmlDeviceGetGraphicsRunningProcesses_v3")]
    #[doc(alias = "nvmlDeviceGetMPSComputeRunningProcesses_v3")]
    fn processes(&self, gpu: u32, gi: u32) -> Result<Vec<u32>, Error> {
        const OP: &str = "get running processes";
        let dev = self.device(gpu, OP)?;
        let lib = self.nvml.lib();
        // Each query in its newest version, then `_v2` (the same `nvmlProcessInfo_v2_t`
        // layout) for drivers before 11.6 that lack `_v3`.
        let queries = [
            (
                lib.nvmlDeviceGetComputeRunningProcesses_v3.as_ref().ok(),
                lib.nvmlDeviceGetComputeRunningProcesses_v2.as_ref().ok(),
            ),
            (
                lib.nvmlDeviceGetGraphicsRunningProcesses_v3.as_ref().ok(),
                lib.nvmlDeviceGetGraphicsRunningProcesses_v2.as_ref().ok(),
            ),
            (
                lib.nvmlDeviceGetMPSComputeRunningProcesses_v3.as_ref().ok(),
                lib.nvmlDeviceGetMPSComputeRunningProcesses_v2.as_ref().ok(),
            ),
        ];
        let mut pids = Vec::new();
        for (v3, v2) in queries {
            let Some(f) = v3.or(v2) else {
                return Err(Error::Nvml {
                    gpu: Some(gpu),
                    op: OP,
                    code: NvmlCode::FunctionNotFound,
                });
            };
            for p in list_processes(gpu, OP, dev, *f)? {
                if p.gpuInstanceId == gi && !pids.contains(&p.pid) {
                    pids.push(p.pid);
                }
            }
        }
        Ok(pids)
    }
}

/// The signature every `nvmlDevice*RunningProcesses_v2/_v3` shares.
type ProcessQuery =
    unsafe extern "C" fn(nvmlDevice_t, *mut c_uint, *mut nvmlProcessInfo_t) -> nvmlReturn_t;

/// Calls a process query with a buffer that grows until NVML's count fits (bounded).
fn list_processes(
    gpu: u32,
    op: &'static str,
    dev: nvmlDevice_t,
    f: ProcessQuery,
) -> Result<Vec<nvmlProcessInfo_t>, Error> {
    let mut cap: c_uint = 64;
    for _ in 0..8 {
        let mut buf = vec![
            nvmlProcessInfo_t {
                pid: 0,
                usedGpuMemory: 0,
                gpuInstanceId: 0,
                computeInstanceId: 0,
            };
            cap as usize
        ];
        let mut count = cap;
        // SAFETY: `buf` holds `count` initialized entries; NVML writes at most `count` and
        // sets `count` to the number written (or needed, with INSUFFICIENT_SIZE).
        let rc = unsafe { f(dev, &mut count, buf.as_mut_ptr()) };
        if rc == INSUFFICIENT_SIZE && count > cap {
            cap = count.saturating_add(16);
            continue;
        }
        check(gpu, op, rc)?;
        buf.truncate((count as usize).min(cap as usize));
        return Ok(buf);
    }
    Err(Error::Nvml {
        gpu: Some(gpu),
        op,
        code: NvmlCode::InsufficientSize,
    })
}
