//! Profile names: parsing never panics, and every accepted name prints back to itself and
//! parses to the same value (also through NVML's `MIG ` prefix).
#![no_main]

use gpupart_profiles::ProfileName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        let _ = ProfileName::parse_bytes(data);
        return;
    };
    if let Ok(name) = text.parse::<ProfileName>() {
        let printed = name.to_string();
        assert_eq!(printed, text, "parse then print is the identity");
        assert_eq!(printed.parse::<ProfileName>().ok(), Some(name));
        assert_eq!(ProfileName::from_nvml_name(&format!("MIG {text}")).ok(), Some(name));
    }
    let _ = text.parse::<gpupart_profiles::PciDeviceId>();
});
