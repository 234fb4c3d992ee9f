//! sysfs attribute values: every parser takes any text without panicking; CPU lists and mdev
//! UUIDs that parse print back to text that parses to the same value.
#![no_main]

use gpupart_sriov::parse::{
    class_code, creatable_vgpu_types, current_vgpu_type, decimal, driver_name, hex_u16_bare,
    hex_u16_prefixed, mdev_type_name, numa_node, switch,
};
use gpupart_sriov::{CpuList, MdevUuid};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = (hex_u16_prefixed(text), hex_u16_bare(text), class_code(text), decimal(text));
    let _ = (numa_node(text), switch(text), current_vgpu_type(text));
    if let Ok(name) = driver_name(text) {
        assert!(!name.contains('/') && name != "." && name != "..");
    }
    if let Ok(name) = mdev_type_name(text) {
        assert!(!name.contains('/') && name != "." && name != "..");
    }
    if let Ok(types) = creatable_vgpu_types(text) {
        for t in types {
            assert!(!t.name.is_empty());
        }
    }
    if let Ok(list) = text.parse::<CpuList>() {
        let again: CpuList = list.to_string().parse().expect("printed CPU lists parse");
        assert_eq!(again, list);
    }
    if let Ok(u) = text.parse::<MdevUuid>() {
        assert_eq!(u.to_string().parse::<MdevUuid>().ok(), Some(u));
    }
});
