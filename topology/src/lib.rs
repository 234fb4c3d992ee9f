//! gpupart-topology: the node → GPU → slice model, slice occupancy and the MIG placement solver.
//!
//! This crate is being built (see the project's topology issue); for now it only re-exports the
//! profile catalog it builds on.
#![forbid(unsafe_code)]

pub use gpupart_profiles as profiles;
