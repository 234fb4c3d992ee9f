//! The vGPU manager's outside input: its state file, vGPU type names, slots and owners. Any
//! text is taken without panicking; what parses prints back to text that parses to the same
//! value.
#![no_main]

use gpupart_sriov::parse::signed_id;
use gpupart_sriov::vgpu::{HostState, Owner, VgpuSlot, VgpuTypeName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = signed_id(text);
    if let Ok(st) = HostState::parse(text) {
        let again = HostState::parse(&st.to_text()).expect("a printed state parses");
        assert_eq!(again, st);
    }
    // The state file's header on any text, so the line parsers are reached.
    let with_header = format!("gpupart-vgpu-state 1\n{text}");
    if let Ok(st) = HostState::parse(&with_header) {
        assert_eq!(HostState::parse(&st.to_text()).ok(), Some(st));
    }
    if let Ok(t) = text.parse::<VgpuTypeName>() {
        assert_eq!(t.to_string().parse::<VgpuTypeName>().ok(), Some(t));
    }
    if let Ok(s) = text.parse::<VgpuSlot>() {
        assert_eq!(s.to_string().parse::<VgpuSlot>().ok(), Some(s));
    }
    if let Ok(o) = text.parse::<Owner>() {
        assert!(!o.as_str().contains(char::is_whitespace));
    }
});
