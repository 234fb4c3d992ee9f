#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Real-world mig-parted configurations (`tests/corpus/`, origins and mig-parted's verdicts
//! in `tests/corpus/ORIGINS.md`): gpupart gives the same verdict on each, and every
//! configuration of a valid file validates on the node it was written for.

use gpupart_mig::config::{MigPartedConfig, desired_state};
use gpupart_mig::state::read_all;
use gpupart_mig::{SimGpu, SimulatedNvml};
use gpupart_profiles::catalog;

/// mig-parted's verdict: `Ok(configurations)` or `Err(what its refusal says)`.
fn verdicts() -> Vec<(&'static str, &'static str, Result<usize, &'static str>)> {
    vec![
        (
            "default",
            include_str!("../fixtures/mig-parted-config-default.yaml"),
            Ok(81),
        ),
        (
            "nvidia-examples-config",
            include_str!("corpus/nvidia-examples-config.yaml"),
            Ok(7),
        ),
        (
            "nvidia-examples-dgx-station-80gb-config",
            include_str!("corpus/nvidia-examples-dgx-station-80gb-config.yaml"),
            Ok(9),
        ),
        (
            "nvidia-systemd-config",
            include_str!("corpus/nvidia-systemd-config.yaml"),
            Ok(13),
        ),
        (
            "nvidia-systemd-config-hopper-prerelease",
            include_str!("corpus/nvidia-systemd-config-hopper-prerelease.yaml"),
            Ok(6),
        ),
        (
            "user-mig-parted-157-a30",
            include_str!("corpus/user-mig-parted-157-a30.yaml"),
            Ok(2),
        ),
        (
            "user-mig-parted-100-fragment",
            include_str!("corpus/user-mig-parted-100-fragment.yaml"),
            Err("missing version"),
        ),
        (
            "user-gpu-operator-1273",
            include_str!("corpus/user-gpu-operator-1273.yaml"),
            Ok(2),
        ),
        (
            "user-gpu-operator-281",
            include_str!("corpus/user-gpu-operator-281.yaml"),
            Ok(1),
        ),
    ]
}

#[test]
fn gpupart_gives_mig_parteds_verdict_on_every_file() {
    for (name, text, verdict) in verdicts() {
        match (MigPartedConfig::parse(text), verdict) {
            (Ok(c), Ok(n)) => assert_eq!(c.mig_configs.len(), n, "{name}"),
            (Err(e), Err(why)) => assert!(e.to_string().contains(why), "{name}: {e}"),
            (got, want) => panic!("{name}: gpupart {got:?}, mig-parted {want:?}"),
        }
    }
}

/// Every configuration of `file` validates on `node` (as mig-parted would apply it there).
fn all_validate(file: &str, node: &SimulatedNvml) {
    let cfg = MigPartedConfig::parse(file).unwrap();
    let gpus = read_all(node).unwrap();
    for name in cfg.mig_configs.keys() {
        desired_state(&cfg, name, &gpus).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_configuration_validates_on_the_node_it_was_written_for() {
    // examples/config.yaml: a DGX A100 (8 x A100-SXM4-40GB).
    all_validate(
        include_str!("corpus/nvidia-examples-config.yaml"),
        &SimulatedNvml::dgx_a100(),
    );
    // The DGX Station A100 80GB: four A100-80GB and a display GPU without MIG.
    let mut station: Vec<SimGpu> = (0..4)
        .map(|_| SimGpu::new(&catalog::A100_80GB).with_pci_device_id(0x20B2_10DE))
        .collect();
    station.insert(3, SimGpu::without_mig("NVIDIA DGX Display", 0x1FB0_10DE));
    all_validate(
        include_str!("corpus/nvidia-examples-dgx-station-80gb-config.yaml"),
        &SimulatedNvml::new(station),
    );
    // The user's two A30s.
    all_validate(
        include_str!("corpus/user-mig-parted-157-a30.yaml"),
        &SimulatedNvml::new(vec![
            SimGpu::new(&catalog::A30_24GB),
            SimGpu::new(&catalog::A30_24GB),
        ]),
    );
    // An A100-80GB node.
    all_validate(
        include_str!("corpus/user-gpu-operator-1273.yaml"),
        &SimulatedNvml::new(vec![SimGpu::new(&catalog::A100_80GB)]),
    );
    all_validate(
        include_str!("corpus/user-gpu-operator-281.yaml"),
        &SimulatedNvml::dgx_a100(),
    );
    // The pre-release Hopper file: its profiles exist on no shipped board, and gpupart says so.
    let cfg = MigPartedConfig::parse(include_str!(
        "corpus/nvidia-systemd-config-hopper-prerelease.yaml"
    ))
    .unwrap();
    let gpus = read_all(&SimulatedNvml::hgx_h100()).unwrap();
    let err = desired_state(&cfg, "all-8g.80gb", &gpus)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no profile 8g.80gb"), "{err}");
}
