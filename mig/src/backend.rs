//! The backend trait: what gpupart asks of NVML, implemented by the real library and by the
//! simulator.

use gpupart_profiles::{NvmlGiProfileIndex, Placement};
use gpupart_sriov::PciAddress;

use crate::Error;

/// An NVML return code that is not success (`nvmlReturn_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NvmlCode {
    /// `NVML_ERROR_UNINITIALIZED`
    Uninitialized,
    /// `NVML_ERROR_INVALID_ARGUMENT`
    InvalidArgument,
    /// `NVML_ERROR_NOT_SUPPORTED`
    NotSupported,
    /// `NVML_ERROR_NO_PERMISSION`
    NoPermission,
    /// `NVML_ERROR_NOT_FOUND`
    NotFound,
    /// `NVML_ERROR_INSUFFICIENT_SIZE`
    InsufficientSize,
    /// `NVML_ERROR_GPU_IS_LOST`
    GpuLost,
    /// `NVML_ERROR_RESET_REQUIRED`
    ResetRequired,
    /// `NVML_ERROR_IN_USE`
    InUse,
    /// `NVML_ERROR_INSUFFICIENT_RESOURCES`
    InsufficientResources,
    /// `NVML_ERROR_FUNCTION_NOT_FOUND`: the driver's library lacks the call.
    FunctionNotFound,
    /// Any other code.
    Other(u32),
}

impl NvmlCode {
    /// The code for a raw `nvmlReturn_t` (which must not be `NVML_SUCCESS`).
    #[must_use]
    pub fn from_raw(code: u32) -> Self {
        match code {
            1 => NvmlCode::Uninitialized,
            2 => NvmlCode::InvalidArgument,
            3 => NvmlCode::NotSupported,
            4 => NvmlCode::NoPermission,
            6 => NvmlCode::NotFound,
            7 => NvmlCode::InsufficientSize,
            13 => NvmlCode::FunctionNotFound,
            15 => NvmlCode::GpuLost,
            16 => NvmlCode::ResetRequired,
            19 => NvmlCode::InUse,
            23 => NvmlCode::InsufficientResources,
            other => NvmlCode::Other(other),
        }
    }
}

impl core::fmt::Display for NvmlCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            NvmlCode::Uninitialized => "NVML is not initialized",
            NvmlCode::InvalidArgument => "invalid argument",
            NvmlCode::NotSupported => "not supported",
            NvmlCode::NoPermission => "no permission (run as root)",
            NvmlCode::NotFound => "not found",
            NvmlCode::InsufficientSize => "buffer too small",
            NvmlCode::GpuLost => "the GPU fell off the bus",
            NvmlCode::ResetRequired => "a GPU reset is required",
            NvmlCode::InUse => "in use",
            NvmlCode::InsufficientResources => "insufficient resources",
            NvmlCode::FunctionNotFound => "the driver's NVML lacks this function",
            NvmlCode::Other(c) => return write!(f, "NVML error {c}"),
        };
        f.write_str(s)
    }
}

/// A GPU as NVML describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuInfo {
    /// NVML index.
    pub index: u32,
    /// `nvmlDeviceGetName`.
    pub name: String,
    /// `nvmlDeviceGetUUID`.
    pub uuid: String,
    /// PCI address.
    pub pci: Option<PciAddress>,
    /// PCI device ID with vendor (`0x20B010DE`).
    pub pci_device_id: u32,
    /// PCI subsystem ID, where reported.
    pub pci_subsystem_id: Option<u32>,
}

/// MIG mode: current and pending (after the next GPU reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigMode {
    /// On now.
    pub current: bool,
    /// On after the next reset.
    pub pending: bool,
}

impl MigMode {
    /// MIG mode `current`, pending `pending`.
    #[must_use]
    pub fn new(current: bool, pending: bool) -> Self {
        MigMode { current, pending }
    }

    /// Whether a reset is needed for the pending mode to take effect.
    #[must_use]
    pub fn reset_pending(&self) -> bool {
        self.current != self.pending
    }
}

/// A GPU instance profile as the driver reports it (`nvmlGpuInstanceProfileInfo_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProfileInfo {
    /// The profile index asked for.
    pub index: NvmlGiProfileIndex,
    /// The profile ID.
    pub id: u32,
    /// Memory slices.
    pub slice_count: u32,
    /// Most instances.
    pub instance_count: u32,
    /// SMs.
    pub multiprocessor_count: u32,
    /// Copy engines.
    pub copy_engine_count: u32,
    /// Decoders.
    pub decoder_count: u32,
    /// Encoders.
    pub encoder_count: u32,
    /// JPEG.
    pub jpeg_count: u32,
    /// OFA.
    pub ofa_count: u32,
    /// Memory (MiB).
    pub memory_mib: u64,
    /// P2P.
    pub p2p: bool,
}

/// A GPU instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuInstanceInfo {
    /// The instance ID.
    pub id: u32,
    /// The profile ID.
    pub profile_id: u32,
    /// Its placement.
    pub placement: Placement,
}

/// A compute instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComputeInstanceInfo {
    /// The instance ID within its GPU instance.
    pub id: u32,
    /// The compute instance profile index (`NVML_COMPUTE_INSTANCE_PROFILE_*`).
    pub profile_index: u32,
}

/// What gpupart needs from NVML. GPUs are named by NVML index, GPU instances by ID.
pub trait Backend: Send + Sync {
    /// Number of GPUs.
    ///
    /// # Errors
    /// NVML's error.
    fn gpu_count(&self) -> Result<u32, Error>;
    /// Identity of GPU `gpu`.
    ///
    /// # Errors
    /// NVML's error.
    fn gpu(&self, gpu: u32) -> Result<GpuInfo, Error>;
    /// MIG mode.
    ///
    /// # Errors
    /// NOT_SUPPORTED on GPUs without MIG.
    fn mig_mode(&self, gpu: u32) -> Result<MigMode, Error>;
    /// Sets the pending MIG mode (and the current one where the driver applies it at once).
    ///
    /// # Errors
    /// NOT_SUPPORTED, NO_PERMISSION, IN_USE.
    fn set_mig_mode(&self, gpu: u32, enabled: bool) -> Result<(), Error>;
    /// The GPU instance profile at `index`, or `None` where the GPU lacks it.
    ///
    /// # Errors
    /// NVML's error other than NOT_SUPPORTED / INVALID_ARGUMENT for a missing profile.
    fn profile_info(
        &self,
        gpu: u32,
        index: NvmlGiProfileIndex,
    ) -> Result<Option<ProfileInfo>, Error>;
    /// Every placement of profile `profile_id` free now.
    ///
    /// # Errors
    /// NVML's error.
    fn possible_placements(&self, gpu: u32, profile_id: u32) -> Result<Vec<Placement>, Error>;
    /// How many more instances of `profile_id` fit now.
    ///
    /// # Errors
    /// NVML's error.
    fn remaining_capacity(&self, gpu: u32, profile_id: u32) -> Result<u32, Error>;
    /// The GPU instances.
    ///
    /// # Errors
    /// NVML's error.
    fn gpu_instances(&self, gpu: u32) -> Result<Vec<GpuInstanceInfo>, Error>;
    /// Creates a GPU instance of `profile_id` at memory slice `start`.
    ///
    /// # Errors
    /// INSUFFICIENT_RESOURCES, INVALID_ARGUMENT, …
    fn create_gpu_instance(
        &self,
        gpu: u32,
        profile_id: u32,
        start: u8,
    ) -> Result<GpuInstanceInfo, Error>;
    /// Destroys GPU instance `gi`.
    ///
    /// # Errors
    /// IN_USE while it has compute instances or processes; NOT_FOUND.
    fn destroy_gpu_instance(&self, gpu: u32, gi: u32) -> Result<(), Error>;
    /// The compute instances of GPU instance `gi`.
    ///
    /// # Errors
    /// NVML's error.
    fn compute_instances(&self, gpu: u32, gi: u32) -> Result<Vec<ComputeInstanceInfo>, Error>;
    /// Creates a compute instance of profile index `profile_index` in `gi`.
    ///
    /// # Errors
    /// INSUFFICIENT_RESOURCES, …
    fn create_compute_instance(
        &self,
        gpu: u32,
        gi: u32,
        profile_index: u32,
    ) -> Result<ComputeInstanceInfo, Error>;
    /// Destroys compute instance `ci` of `gi`.
    ///
    /// # Errors
    /// IN_USE while processes run; NOT_FOUND.
    fn destroy_compute_instance(&self, gpu: u32, gi: u32, ci: u32) -> Result<(), Error>;
    /// Processes running in GPU instance `gi`.
    ///
    /// # Errors
    /// NVML's error.
    fn processes(&self, gpu: u32, gi: u32) -> Result<Vec<u32>, Error>;
}
