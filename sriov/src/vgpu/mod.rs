//! A vGPU host manager over both of NVIDIA's interfaces, detected per GPU: mediated devices
//! (`mdev_supported_types`, the A100 and every pre-Ada host) and the vendor-specific VFIO
//! framework of vGPU 17+ on Linux 6.8+ (`nvidia/current_vgpu_type` on each VF: Ada, Hopper,
//! Blackwell).
//!
//! - [`name`]: vGPU type names parsed (`A100-3-20C` → MIG-backed, on a `3g.20gb`).
//! - [`inventory`](mod@inventory): what each GPU has now — its interface, slots and vGPUs.
//! - [`plan`](plan()): declare the vGPUs wanted per GPU, get the operations with explicit VFs,
//!   mdev UUIDs, GPU instance IDs and placement IDs, validated against the card's rules and
//!   `creatable_vgpu_types` before anything is written.
//! - [`apply`](apply()): carry a plan out under the host lock, re-reading after each write,
//!   rolling back on failure; idempotent, with a dry run.
//! - [`owner`]: claim and release a vGPU by owner (a VM's UUID), refusing a release by
//!   another owner or of a device a running VM holds open; [`reconcile`] orphans at start.
//! - [`state`]: the state file apply writes, from which `restore` re-creates VFs, the MIG
//!   layout (through `gpupart-mig`) and the vGPUs after a reboot.
//!
//! ```
//! use gpupart_sriov::vgpu::{ApplyOptions, GpuSpec, HostState, apply, plan};
//! use gpupart_sriov::{EnableOptions, SimulatedSysfs, Sysfs};
//!
//! let sysfs = Sysfs::simulated(SimulatedSysfs::h100_host(1));
//! let gpu = sysfs.nvidia_gpus()?[0].address;
//! sysfs.enable_vfs(gpu, 8, &EnableOptions::default())?;
//! let want = [GpuSpec::new(gpu).vgpus("H100XM-20C", 4).memory_mib(80 * 1024)];
//! let mut state = HostState::default();
//! let report = apply(&sysfs, &want, &mut state, &ApplyOptions::default().lock_path(None))?;
//! assert_eq!(report.performed, 4);
//! // Idempotent: a second run has nothing to do.
//! assert!(plan(&sysfs, &want, &state)?.ops.is_empty());
//! # Ok::<(), gpupart_sriov::Error>(())
//! ```

mod apply;
pub mod inventory;
pub mod name;
pub mod owner;
mod plan;
mod restore;
pub mod state;
mod types;

pub use apply::{ApplyOptions, VgpuReport, apply, apply_plan};
pub use inventory::{GpuVgpus, inventory};
pub use name::VgpuTypeName;
pub use owner::{ReconcileReport, claim, reconcile, release};
pub use plan::{GpuSpec, VgpuOp, VgpuPlan, VgpuWant, plan, resolve_type};
pub use restore::{restore_plan, restore_vfs};
pub use state::HostState;
pub use types::{GpuInstanceRef, Owner, Vgpu, VgpuSlot, VgpuTypeId};
