//! gpupart-mig: MIG mode and GPU/compute instances through NVML (real backend) and a simulated
//! backend, with declarative, transactional apply.
//!
//! This crate is being built (see the project's mig issue); for now it only re-exports the
//! topology model it builds on.
#![forbid(unsafe_code)]

pub use gpupart_topology as topology;
