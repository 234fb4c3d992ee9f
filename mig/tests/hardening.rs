#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Bad input is refused before anything runs, the lock has a deadline, the simulator lays out
//! any number of GPUs, and errors name their cause.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use gpupart_mig::apply::{ApplyOptions, DesiredGpu, DesiredInstance, apply, lock, plan};
use gpupart_mig::state::read_all;
use gpupart_mig::{Backend, Error, NvmlCode, SimGpu, SimOp, SimulatedNvml};
use gpupart_profiles::catalog;

fn n(s: &str) -> gpupart_profiles::ProfileName {
    s.parse().unwrap()
}

fn no_lock() -> ApplyOptions {
    ApplyOptions::default().lock_path(None)
}

#[test]
fn every_simulated_gpu_has_its_own_address() {
    let node = SimulatedNvml::new((0..12).map(|_| SimGpu::new(&catalog::A100_40GB)).collect());
    let addresses: BTreeSet<String> = (0..12)
        .map(|g| node.gpu(g).unwrap().pci.unwrap().to_string())
        .collect();
    assert_eq!(addresses.len(), 12, "{addresses:?}");
}

#[test]
fn a_gpu_named_twice_is_refused_before_anything_runs() {
    let node = SimulatedNvml::new(vec![SimGpu::new(&catalog::A100_40GB).mig_enabled()]);
    let want = [
        DesiredGpu::new(0, true, vec![DesiredInstance::new(n("3g.20gb"))]),
        DesiredGpu::new(0, true, vec![DesiredInstance::new(n("7g.40gb"))]),
    ];
    let err = apply(&node, &want, &no_lock()).unwrap_err();
    assert!(matches!(err, Error::DuplicateGpu { gpu: 0 }), "{err}");
    assert!(node.gpu_instances(0).unwrap().is_empty(), "nothing ran");
    let state = read_all(&node).unwrap();
    assert!(matches!(
        plan(&state, &want, false),
        Err(Error::DuplicateGpu { .. })
    ));
}

#[test]
fn an_unknown_gpu_index_is_no_such_gpu() {
    let node = SimulatedNvml::dgx_a100();
    let err = apply(&node, &[DesiredGpu::new(8, true, vec![])], &no_lock()).unwrap_err();
    assert!(matches!(err, Error::NoSuchGpu { gpu: 8 }), "{err}");
}

#[test]
fn more_instances_than_the_model_holds_are_refused_at_once() {
    let node = SimulatedNvml::new(vec![SimGpu::new(&catalog::A100_40GB).mig_enabled()]);
    let many = vec![DesiredInstance::new(n("1g.5gb")); 100_000];
    let t = Instant::now();
    let err = apply(&node, &[DesiredGpu::new(0, true, many)], &no_lock()).unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5));
    let msg = err.to_string();
    assert!(
        msg.contains("100000 x 1g.5gb") && msg.contains("at most 7"),
        "{msg}"
    );
    let slices = vec![
        DesiredInstance::new(n("4g.20gb")),
        DesiredInstance::new(n("3g.20gb")),
        DesiredInstance::new(n("1g.10gb")),
    ];
    let msg = apply(&node, &[DesiredGpu::new(0, true, slices)], &no_lock())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("10 memory slices"), "{msg}");
}

#[test]
fn the_lock_has_a_deadline_and_names_its_holder() {
    let path = std::env::temp_dir().join(format!("gpupart-lock-test-{}", std::process::id()));
    let held = lock(&path, Duration::ZERO).unwrap();
    // Try once: refused at once.
    let t = Instant::now();
    let err = lock(&path, Duration::ZERO).unwrap_err();
    assert!(t.elapsed() < Duration::from_millis(500));
    let msg = err.to_string();
    assert!(
        matches!(err, Error::LockTimeout { holder: Some(p), .. } if p == std::process::id()),
        "{msg}"
    );
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains(&format!("process {}", std::process::id())),
        "{msg}"
    );
    // A short deadline: waits about that long, then gives up.
    let t = Instant::now();
    let node = SimulatedNvml::dgx_a100();
    let opts = ApplyOptions::default()
        .lock_path(Some(path.clone()))
        .lock_wait(Duration::from_millis(200));
    assert!(matches!(
        apply(&node, &[DesiredGpu::new(0, false, vec![])], &opts),
        Err(Error::LockTimeout { .. })
    ));
    assert!(t.elapsed() >= Duration::from_millis(200));
    drop(held);
    apply(&node, &[DesiredGpu::new(0, false, vec![])], &opts).unwrap();
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_failed_apply_says_why_in_its_message() {
    let node = SimulatedNvml::new(vec![SimGpu::new(&catalog::A100_40GB).mig_enabled()]);
    node.fail_nth(SimOp::CreateGpuInstance, 0, NvmlCode::InsufficientResources);
    let want = [DesiredGpu::new(
        0,
        true,
        vec![DesiredInstance::new(n("3g.20gb"))],
    )];
    let err = apply(&node, &want, &no_lock()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("create GPU instance") && msg.contains("rolled back"),
        "{msg}"
    );
    assert!(
        std::error::Error::source(&err).is_none(),
        "the cause is named once, in the message"
    );
}
