//! gpupart-sriov: typed PCI sysfs access — PCI addresses, SR-IOV physical and virtual functions,
//! VF driver binding and mediated devices.
//!
//! This crate is being built (see the project's sriov issue); it is empty for now.
#![forbid(unsafe_code)]
