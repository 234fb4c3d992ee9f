//! The `gpupart` command's own file formats (requests and fleet files in JSON and YAML, hooks
//! files, checkpoints, simulated host states): any text is checked without panicking.
#![no_main]

use gpupart_cli::formats::{
    check_checkpoint, check_fleet, check_hooks, check_requests, check_sim_state,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for json in [true, false] {
        let _ = check_requests(text, json);
        let _ = check_fleet(text, json);
    }
    let _ = check_hooks(text);
    let _ = check_checkpoint(text);
    let _ = check_sim_state(text);
});
