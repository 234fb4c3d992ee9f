#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The simulator answers the read-only conformance suite as the real driver did (golden data
//! recorded on an H100 80GB HBM3, driver 580.159.04, MIG disabled), and, where this machine
//! has a GPU and its driver, as that driver does now.

use gpupart_mig::conformance::{render, run};
use gpupart_mig::state::read_all;
use gpupart_mig::{Backend, Error, NvmlBackend, SimGpu, SimulatedNvml};
use gpupart_profiles::catalog;

const H100: &str = include_str!("../golden/conformance-h100-80gb-hbm3.txt");

fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn the_simulator_answers_as_the_real_h100_did() {
    let node = SimulatedNvml::new(vec![
        SimGpu::new(&catalog::H100_SXM_80GB).with_pci_subsystem_id(0x16C1_10DE),
    ]);
    let sim = render(&run(&node, 0));
    let real = without_comments(H100);
    for (s, r) in sim.lines().zip(real.lines()) {
        assert_eq!(s, r, "simulator against the real driver");
    }
    assert_eq!(sim.lines().count(), real.lines().count());
}

/// On a host with an NVIDIA driver, the same questions to the real GPUs and to a simulated
/// GPU of the same board; skipped where there is none (CI, this machine).
#[test]
fn the_simulator_answers_as_this_hosts_driver_does() {
    let nvml = match NvmlBackend::init() {
        Ok(n) => n,
        Err(Error::LibraryNotFound { .. } | Error::Nvml { .. }) => {
            eprintln!("no NVIDIA driver here: skipped");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    for state in read_all(&nvml).unwrap() {
        let Some(model) = state.model else { continue };
        let mut g = SimGpu::new(model).with_pci_device_id(state.info.pci_device_id);
        if let Some(sub) = state.info.pci_subsystem_id {
            g = g.with_pci_subsystem_id(sub);
        }
        if state.mig.is_some_and(|m| m.current) || !state.instances.is_empty() {
            eprintln!(
                "GPU {}: MIG is on; the suite compares GPUs with MIG off",
                state.info.index
            );
            continue;
        }
        let sim = render(&run(&SimulatedNvml::new(vec![g]), 0));
        let real = render(&run(&nvml, state.info.index))
            .replace(&format!("gpu {}", state.info.index), "gpu 0");
        assert_eq!(
            sim,
            real.replacen(
                &format!("gpu_count() => {}", nvml.gpu_count().unwrap()),
                "gpu_count() => 1",
                1
            )
        );
    }
}
