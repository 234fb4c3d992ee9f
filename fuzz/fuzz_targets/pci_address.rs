//! PCI addresses: parsing never panics; every accepted address prints in the kernel's form,
//! which parses back to the same value.
#![no_main]

use gpupart_sriov::PciAddress;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(address) = text.parse::<PciAddress>() {
        let printed = address.to_string();
        assert_eq!(printed.parse::<PciAddress>().ok(), Some(address));
        assert!(address.device() < 0x20 && address.function() < 8);
    }
});
