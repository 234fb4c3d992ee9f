//! Catalog look-ups: by profile name, by NVML profile ID and by PCI device ID.
fn main() {}
