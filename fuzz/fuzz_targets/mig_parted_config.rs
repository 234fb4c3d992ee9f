//! mig-parted configurations: parsing any text never panics; a parsed config prints to YAML
//! that parses back equal; validating every named config against a simulated node of an
//! A100-40GB and an H100 never panics, and what validates can be planned.
#![no_main]

use gpupart_mig::apply::plan;
use gpupart_mig::config::{MigPartedConfig, desired_state};
use gpupart_mig::state::read_all;
use gpupart_mig::{SimGpu, SimulatedNvml};
use gpupart_profiles::catalog::{A100_40GB, H100_SXM_80GB};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if text.len() > 16 * 1024 {
        return;
    }
    let Ok(cfg) = MigPartedConfig::parse(text) else { return };
    let yaml = cfg.to_yaml().expect("a parsed config prints");
    assert_eq!(MigPartedConfig::parse(&yaml).expect("printed configs parse"), cfg);
    let node = SimulatedNvml::new(vec![
        SimGpu::new(&A100_40GB).mig_enabled(),
        SimGpu::new(&H100_SXM_80GB).mig_enabled(),
    ]);
    let gpus = read_all(&node).expect("the simulator reads");
    for name in cfg.mig_configs.keys() {
        if let Ok(desired) = desired_state(&cfg, name, &gpus) {
            plan(&gpus, &desired, false).expect("a validated config can be planned");
        }
    }
});
