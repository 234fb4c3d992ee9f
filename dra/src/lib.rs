//! # gpupart-dra
//!
//! Kubernetes Dynamic Resource Allocation for NVIDIA MIG as partitionable devices (KEP-4815,
//! `resource.k8s.io/v1`), from gpupart's own view of a node's GPUs, compatible with NVIDIA's
//! DRA driver (`kubernetes-sigs/dra-driver-nvidia-gpu`, `DynamicMIG`) so that existing
//! DeviceClasses and claims select the devices:
//!
//! - [`counters`]: the counter set of a GPU and what each device consumes.
//! - [`devices`]: the devices of a GPU (full GPU, one per legal profile × placement), their
//!   names and attributes.
//! - [`order`]: device order as policy — NVIDIA's (per GPU, profiles in table order, starts
//!   ascending) or gpupart's (each profile's devices in the order gpupart's online placement
//!   prefers them, so the scheduler's first fit picks what gpupart would).
//! - [`slices`]: ResourceSlices for a node within every API limit, validated in code, and a
//!   minimal republish.
//! - [`allocator`]: a model of the scheduler's allocator (first fit over slices and devices
//!   in order, counters checked), citing the upstream code it follows.
//! - [`prepare`]: prepare/unprepare of allocated MIG devices through NVML, checkpointed, with
//!   rollback, adoption at start, and CDI device entries.
//!
//! Out of scope: the kubelet plugin's gRPC service and talking to an API server.
//!
//! ```
//! use gpupart_dra::{NodeInfo, Order, SliceOptions, node_slices};
//! use gpupart_mig::SimulatedNvml;
//! use gpupart_mig::apply::{ApplyOptions, DesiredGpu, apply};
//! use gpupart_mig::state::read_all;
//!
//! let node = SimulatedNvml::hgx_h100();
//! // MIG devices are published for GPUs in MIG mode.
//! let on: Vec<DesiredGpu> = (0..8).map(|g| DesiredGpu::new(g, true, Vec::new())).collect();
//! apply(&node, &on, &ApplyOptions::default().lock_path(None))?;
//! let gpus = read_all(&node)?;
//! let slices = node_slices(&gpus, &NodeInfo::default(), &[], &SliceOptions::new("node-1").order(Order::Gpupart))?;
//! gpupart_dra::slices::validate(&slices)?;
//! assert!(slices.len() > 1); // counter sets and devices never share a slice
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

k8s_openapi::k8s_if_le_1_33! {
    compile_error!("gpupart-dra needs resource.k8s.io/v1: enable k8s-openapi's v1_34 feature or later in your binary");
}

pub mod allocator;
pub mod counters;
pub mod devices;
pub mod order;
pub mod prepare;
pub mod slices;

pub use devices::{DRIVER, DeviceKind, DeviceSpec, NodeInfo};
pub use order::Order;
pub use slices::{SliceOptions, node_slices};

/// Errors of the DRA crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A generated ResourceSlice breaks an API limit (never published).
    #[error("ResourceSlice {slice}: {what}")]
    Limit {
        /// The slice's name.
        slice: String,
        /// Which limit, with the offending value.
        what: String,
    },
    /// A device name that is not one of ours.
    #[error("device {name:?}: expected {expected}")]
    DeviceName {
        /// The name, cut to 80 characters.
        name: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A claim or device is refused.
    #[error("claim {claim}: {reason}")]
    Claim {
        /// The claim's UID.
        claim: String,
        /// Why.
        reason: String,
    },
    /// The checkpoint file cannot be read, parsed or written.
    #[error("checkpoint {}: {reason}", path.display())]
    Checkpoint {
        /// Its path.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// NVML refused or failed.
    #[error(transparent)]
    Mig(#[from] gpupart_mig::Error),
    /// Placing through gpupart's model failed.
    #[error(transparent)]
    Topology(#[from] gpupart_topology::Error),
    /// Preparing failed, and rolling back too: the device may be half made (the checkpoint
    /// keeps it in flight, so the next start cleans it up).
    #[error("claim {claim}: {cause}; rolling back failed too: {rollback}")]
    RollbackFailed {
        /// The claim's UID.
        claim: String,
        /// What failed first.
        cause: Box<Error>,
        /// What failed in the rollback.
        rollback: Box<Error>,
    },
}
