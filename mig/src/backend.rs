//! The backend trait: what gpupart asks of NVML, implemented by the real library and by the
//! simulator.

use gpupart_profiles::{NvmlGiProfileIndex, Placement};
use gpupart_sriov::PciAddress;

use crate::Error;

/// An NVML return code that is not success (`nvmlReturn_t`), by nvml.h's names. A code this
/// enum does not name keeps its number ([`NvmlCode::Other`]).
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NvmlCode {
    /// `NVML_ERROR_UNINITIALIZED` (1)
    Uninitialized,
    /// `NVML_ERROR_INVALID_ARGUMENT` (2)
    InvalidArgument,
    /// `NVML_ERROR_NOT_SUPPORTED` (3)
    NotSupported,
    /// `NVML_ERROR_NO_PERMISSION` (4)
    NoPermission,
    /// `NVML_ERROR_ALREADY_INITIALIZED` (5)
    AlreadyInitialized,
    /// `NVML_ERROR_NOT_FOUND` (6)
    NotFound,
    /// `NVML_ERROR_INSUFFICIENT_SIZE` (7)
    InsufficientSize,
    /// `NVML_ERROR_INSUFFICIENT_POWER` (8)
    InsufficientPower,
    /// `NVML_ERROR_DRIVER_NOT_LOADED` (9)
    DriverNotLoaded,
    /// `NVML_ERROR_TIMEOUT` (10)
    Timeout,
    /// `NVML_ERROR_IRQ_ISSUE` (11)
    IrqIssue,
    /// `NVML_ERROR_LIBRARY_NOT_FOUND` (12)
    LibraryNotFound,
    /// `NVML_ERROR_FUNCTION_NOT_FOUND` (13): the driver's library lacks the call.
    FunctionNotFound,
    /// `NVML_ERROR_CORRUPTED_INFOROM` (14)
    CorruptedInforom,
    /// `NVML_ERROR_GPU_IS_LOST` (15)
    GpuLost,
    /// `NVML_ERROR_RESET_REQUIRED` (16)
    ResetRequired,
    /// `NVML_ERROR_OPERATING_SYSTEM` (17)
    OperatingSystem,
    /// `NVML_ERROR_LIB_RM_VERSION_MISMATCH` (18)
    LibRmVersionMismatch,
    /// `NVML_ERROR_IN_USE` (19)
    InUse,
    /// `NVML_ERROR_MEMORY` (20)
    Memory,
    /// `NVML_ERROR_NO_DATA` (21)
    NoData,
    /// `NVML_ERROR_INSUFFICIENT_RESOURCES` (23)
    InsufficientResources,
    /// `NVML_ERROR_ARGUMENT_VERSION_MISMATCH` (25)
    ArgumentVersionMismatch,
    /// `NVML_ERROR_NOT_READY` (27)
    NotReady,
    /// `NVML_ERROR_GPU_NOT_FOUND` (28)
    GpuNotFound,
    /// `NVML_ERROR_INVALID_STATE` (29)
    InvalidState,
    /// `NVML_ERROR_UNKNOWN` (999)
    Unknown,
    /// Any other code, by its number.
    Other(u32),
}

/// The codes this crate names, with their numbers.
const CODES: [(u32, NvmlCode); 27] = [
    (1, NvmlCode::Uninitialized),
    (2, NvmlCode::InvalidArgument),
    (3, NvmlCode::NotSupported),
    (4, NvmlCode::NoPermission),
    (5, NvmlCode::AlreadyInitialized),
    (6, NvmlCode::NotFound),
    (7, NvmlCode::InsufficientSize),
    (8, NvmlCode::InsufficientPower),
    (9, NvmlCode::DriverNotLoaded),
    (10, NvmlCode::Timeout),
    (11, NvmlCode::IrqIssue),
    (12, NvmlCode::LibraryNotFound),
    (13, NvmlCode::FunctionNotFound),
    (14, NvmlCode::CorruptedInforom),
    (15, NvmlCode::GpuLost),
    (16, NvmlCode::ResetRequired),
    (17, NvmlCode::OperatingSystem),
    (18, NvmlCode::LibRmVersionMismatch),
    (19, NvmlCode::InUse),
    (20, NvmlCode::Memory),
    (21, NvmlCode::NoData),
    (23, NvmlCode::InsufficientResources),
    (25, NvmlCode::ArgumentVersionMismatch),
    (27, NvmlCode::NotReady),
    (28, NvmlCode::GpuNotFound),
    (29, NvmlCode::InvalidState),
    (999, NvmlCode::Unknown),
];

impl NvmlCode {
    /// The code for a raw `nvmlReturn_t` (which must not be `NVML_SUCCESS`); an unnamed one
    /// keeps its number.
    #[must_use]
    pub fn from_raw(code: u32) -> Self {
        CODES
            .iter()
            .find(|(n, _)| *n == code)
            .map_or(NvmlCode::Other(code), |(_, c)| *c)
    }

    /// The raw `nvmlReturn_t`.
    #[must_use]
    pub fn raw(self) -> u32 {
        match self {
            NvmlCode::Other(n) => n,
            named => CODES
                .iter()
                .find(|(_, c)| *c == named)
                .map_or(999, |(n, _)| *n),
        }
    }

    /// nvml.h's name (`NVML_ERROR_IN_USE`), or `nvmlReturn_t N` for an unnamed one.
    #[must_use]
    pub fn name(self) -> String {
        let s = match self {
            NvmlCode::Uninitialized => "UNINITIALIZED",
            NvmlCode::InvalidArgument => "INVALID_ARGUMENT",
            NvmlCode::NotSupported => "NOT_SUPPORTED",
            NvmlCode::NoPermission => "NO_PERMISSION",
            NvmlCode::AlreadyInitialized => "ALREADY_INITIALIZED",
            NvmlCode::NotFound => "NOT_FOUND",
            NvmlCode::InsufficientSize => "INSUFFICIENT_SIZE",
            NvmlCode::InsufficientPower => "INSUFFICIENT_POWER",
            NvmlCode::DriverNotLoaded => "DRIVER_NOT_LOADED",
            NvmlCode::Timeout => "TIMEOUT",
            NvmlCode::IrqIssue => "IRQ_ISSUE",
            NvmlCode::LibraryNotFound => "LIBRARY_NOT_FOUND",
            NvmlCode::FunctionNotFound => "FUNCTION_NOT_FOUND",
            NvmlCode::CorruptedInforom => "CORRUPTED_INFOROM",
            NvmlCode::GpuLost => "GPU_IS_LOST",
            NvmlCode::ResetRequired => "RESET_REQUIRED",
            NvmlCode::OperatingSystem => "OPERATING_SYSTEM",
            NvmlCode::LibRmVersionMismatch => "LIB_RM_VERSION_MISMATCH",
            NvmlCode::InUse => "IN_USE",
            NvmlCode::Memory => "MEMORY",
            NvmlCode::NoData => "NO_DATA",
            NvmlCode::InsufficientResources => "INSUFFICIENT_RESOURCES",
            NvmlCode::ArgumentVersionMismatch => "ARGUMENT_VERSION_MISMATCH",
            NvmlCode::NotReady => "NOT_READY",
            NvmlCode::GpuNotFound => "GPU_NOT_FOUND",
            NvmlCode::InvalidState => "INVALID_STATE",
            NvmlCode::Unknown => "UNKNOWN",
            NvmlCode::Other(n) => return format!("nvmlReturn_t {n}"),
        };
        format!("NVML_ERROR_{s}")
    }
}

impl core::fmt::Display for NvmlCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let meaning = match self {
            NvmlCode::Uninitialized => "NVML is not initialized",
            NvmlCode::InvalidArgument => "invalid argument",
            NvmlCode::NotSupported => "not supported",
            NvmlCode::NoPermission => "no permission (run as root)",
            NvmlCode::AlreadyInitialized => "already initialized",
            NvmlCode::NotFound => "not found",
            NvmlCode::InsufficientSize => "buffer too small",
            NvmlCode::InsufficientPower => "insufficient power",
            NvmlCode::DriverNotLoaded => "the NVIDIA kernel driver is not loaded",
            NvmlCode::Timeout => "timed out",
            NvmlCode::IrqIssue => "interrupt problem",
            NvmlCode::LibraryNotFound => "libnvidia-ml not found",
            NvmlCode::FunctionNotFound => "the driver's NVML lacks this function",
            NvmlCode::CorruptedInforom => "corrupted infoROM",
            NvmlCode::GpuLost => "the GPU fell off the bus",
            NvmlCode::ResetRequired => "a GPU reset is required",
            NvmlCode::OperatingSystem => "the operating system refused",
            NvmlCode::LibRmVersionMismatch => {
                "libnvidia-ml and the kernel driver differ in version (a driver upgrade without reboot: reboot or reload the module)"
            }
            NvmlCode::InUse => "in use",
            NvmlCode::Memory => "out of memory",
            NvmlCode::NoData => "no data",
            NvmlCode::InsufficientResources => "insufficient resources",
            NvmlCode::ArgumentVersionMismatch => "structure version mismatch",
            NvmlCode::NotReady => "not ready",
            NvmlCode::GpuNotFound => "GPU not found",
            NvmlCode::InvalidState => "invalid state",
            NvmlCode::Unknown => "unknown error",
            NvmlCode::Other(_) => "an error this library does not know",
        };
        write!(f, "{meaning} ({})", self.name())
    }
}

/// What `nvmlDeviceSetMigMode` reports in `activationStatus`: the call can succeed while the
/// mode did not take effect.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MigActivation {
    /// The mode took effect (or is pending only until the reset NVML performed).
    Activated,
    /// The device could not be unbound because it is busy (`IN_USE`): idle the GPU (stop its
    /// processes) and set the mode again. No reset helps.
    RetryWhenIdle,
    /// The platform does not expose a reset (pass-through in a VM, `RESET_REQUIRED`): a GPU
    /// reset, there a reboot of the VM, makes the pending mode current.
    ResetRequired,
    /// Another activation failure.
    Failed(NvmlCode),
}

impl MigActivation {
    /// From the raw `activationStatus`.
    #[must_use]
    pub fn from_raw(status: u32) -> Self {
        match status {
            0 => MigActivation::Activated,
            19 => MigActivation::RetryWhenIdle,
            16 => MigActivation::ResetRequired,
            other => MigActivation::Failed(NvmlCode::from_raw(other)),
        }
    }

    /// What a person or a node agent does next.
    #[must_use]
    pub fn action(&self) -> &'static str {
        match self {
            MigActivation::Activated => "none",
            MigActivation::RetryWhenIdle => "stop the GPU's processes and set the mode again",
            MigActivation::ResetRequired => {
                "reset the GPU (in a pass-through VM: reboot the VM); gpupart never resets"
            }
            MigActivation::Failed(_) => "see the code; the mode did not change",
        }
    }
}

/// A GPU as NVML describes it.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProfileInfo {
    /// The profile index asked for (`NVML_GPU_INSTANCE_PROFILE_*`; also indices newer than
    /// the catalog knows, see [`ProfileInfo::known_index`]).
    pub index: u32,
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

impl ProfileInfo {
    /// The profile index, where the catalog knows it.
    #[must_use]
    pub fn known_index(&self) -> Option<NvmlGiProfileIndex> {
        NvmlGiProfileIndex::from_u32(self.index)
    }
}

/// The most profile indices enumerated before giving up on reaching `INVALID_ARGUMENT`
/// (nvml.h: enumerate from 0 until it; driver 580 ends at 17 for GPU instance profiles).
pub const MAX_PROFILE_INDEX: u32 = 64;

/// A GPU instance.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    /// Sets the pending MIG mode (and the current one where the driver applies it at once),
    /// with the driver's activation status: the call can succeed while the mode did not take
    /// effect.
    ///
    /// # Errors
    /// NOT_SUPPORTED, NO_PERMISSION, IN_USE.
    fn set_mig_mode(&self, gpu: u32, enabled: bool) -> Result<MigActivation, Error>;
    /// `nvmlDeviceGetGpuInstanceProfileInfo` for a raw profile index, answered as the driver
    /// does: NOT_SUPPORTED for an index this GPU lacks, INVALID_ARGUMENT past the last index
    /// the driver defines (the end of enumeration, per nvml.h).
    ///
    /// # Errors
    /// As above; NVML's other errors.
    fn gpu_instance_profile_info(&self, gpu: u32, index: u32) -> Result<ProfileInfo, Error>;
    /// The GPU instance profile at a known `index`, or `None` where the GPU lacks it.
    ///
    /// # Errors
    /// NVML's error other than NOT_SUPPORTED / INVALID_ARGUMENT for a missing profile.
    fn profile_info(
        &self,
        gpu: u32,
        index: NvmlGiProfileIndex,
    ) -> Result<Option<ProfileInfo>, Error> {
        match self.gpu_instance_profile_info(gpu, index.as_u32()) {
            Ok(p) => Ok(Some(p)),
            Err(Error::Nvml {
                code: NvmlCode::NotSupported | NvmlCode::InvalidArgument,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }
    /// Every GPU instance profile the GPU has, enumerating indices from 0 until the driver
    /// answers INVALID_ARGUMENT (at most [`MAX_PROFILE_INDEX`]), so that profiles newer than
    /// the catalog are seen too.
    ///
    /// # Errors
    /// NVML's error other than NOT_SUPPORTED for an index the GPU lacks.
    fn gpu_instance_profiles(&self, gpu: u32) -> Result<Vec<ProfileInfo>, Error> {
        let mut out = Vec::new();
        for index in 0..MAX_PROFILE_INDEX {
            match self.gpu_instance_profile_info(gpu, index) {
                Ok(p) => out.push(p),
                Err(Error::Nvml {
                    code: NvmlCode::NotSupported,
                    ..
                }) => {}
                Err(Error::Nvml {
                    code: NvmlCode::InvalidArgument,
                    ..
                }) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
    /// Every legal placement of profile `profile_id`, occupied ones too: what
    /// `nvmlDeviceGetGpuInstancePossiblePlacements_v2` returns ("regardless of whether MIG is
    /// enabled or not", nvml.h). For the free ones, see [`Backend::free_placements`].
    ///
    /// # Errors
    /// NVML's error (INVALID_ARGUMENT for an unknown profile ID).
    fn possible_placements(&self, gpu: u32, profile_id: u32) -> Result<Vec<Placement>, Error>;
    /// The placements of `profile_id` that overlap no GPU instance now: the legal ones
    /// ([`Backend::possible_placements`]) less those that touch a memory slice an instance
    /// holds. Whether the compute slices and instance limit allow one more is
    /// [`Backend::remaining_capacity`].
    ///
    /// # Errors
    /// Those of the two calls.
    fn free_placements(&self, gpu: u32, profile_id: u32) -> Result<Vec<Placement>, Error> {
        let taken = self.gpu_instances(gpu)?;
        Ok(self
            .possible_placements(gpu, profile_id)?
            .into_iter()
            .filter(|p| !taken.iter().any(|g| g.placement.overlaps(*p)))
            .collect())
    }
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
    /// Processes running in GPU instance `gi`: compute, graphics and MPS clients, each pid
    /// once.
    ///
    /// # Errors
    /// NVML's error.
    fn processes(&self, gpu: u32, gi: u32) -> Result<Vec<u32>, Error>;
}
