#![allow(clippy::expect_used, clippy::unwrap_used)]
//! MIG-backed vGPUs end to end on simulated hosts (NVML and sysfs linked, as one driver serves
//! both), the vGPU manager's guard on GPU instances, and restore after a reboot.

use gpupart_mig::apply::{ApplyOptions, DesiredGpu, apply};
use gpupart_mig::vgpu::{VgpuHostOptions, mig_backed, restore};
use gpupart_mig::{Error, NvmlCode, SimulatedNvml};
use gpupart_sriov::vgpu::{HostState, VgpuWant, inventory};
use gpupart_sriov::{EnableOptions, SimulatedSysfs, Sysfs};

fn node(h100: bool) -> (SimulatedNvml, SimulatedSysfs, Sysfs) {
    let (nvml, host) = if h100 {
        (SimulatedNvml::hgx_h100(), SimulatedSysfs::h100_host(8))
    } else {
        (SimulatedNvml::dgx_a100(), SimulatedSysfs::gpu_host(8))
    };
    nvml.link_sysfs(&host);
    let sysfs = Sysfs::simulated(host.clone());
    (nvml, host, sysfs)
}

fn vgpus(sysfs: &Sysfs, state: &HostState) -> Vec<String> {
    inventory(sysfs, state)
        .unwrap()
        .into_iter()
        .flat_map(|g| g.vgpus)
        .map(|v| {
            format!(
                "{} {:?} {:?}",
                v.slot.device(),
                v.type_name,
                v.gpu_instance_id
            )
        })
        .collect()
}

#[test]
fn a100_mdev_host_from_nothing_to_mig_backed_vgpus() {
    let (nvml, _, sysfs) = node(false);
    for g in sysfs.nvidia_gpus().unwrap().iter().take(2) {
        sysfs
            .enable_vfs(g.address, 4, &EnableOptions::default())
            .unwrap();
    }
    let wants = [
        (0, vec![VgpuWant::new("NVIDIA A100-3-20C", 2)]),
        (
            1,
            vec![
                VgpuWant::new("A100-1-5C", 3),
                VgpuWant::new("A100-2-10C", 1),
            ],
        ),
    ];
    let mut state = HostState::default();
    let opts = VgpuHostOptions::without_locks();
    // The A100 needs a reset for MIG mode: the first call stops there, never resetting.
    let r = mig_backed(&nvml, &sysfs, &wants, &mut state, &opts).unwrap();
    assert_eq!(
        (r.mig.resets_needed.clone(), r.vgpu.is_none()),
        (vec![0, 1], true)
    );
    nvml.reset(0).unwrap();
    nvml.reset(1).unwrap();
    let r = mig_backed(&nvml, &sysfs, &wants, &mut state, &opts).unwrap();
    assert_eq!(r.vgpu.unwrap().performed, 6);
    assert_eq!(sysfs.mdevs().unwrap().len(), 6);
    assert_eq!(state.mig.len(), 2);
    // Again: nothing to do.
    let r = mig_backed(&nvml, &sysfs, &wants, &mut state, &opts).unwrap();
    assert_eq!((r.mig.performed, r.vgpu.unwrap().performed), (0, 0));
    // A GPU instance under a vGPU cannot be destroyed: NVML says IN_USE, apply rolls back.
    let e = apply(
        &nvml,
        &[DesiredGpu::new(0, true, Vec::new())],
        &ApplyOptions::default().lock_path(None),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("IN_USE") || e.to_string().contains("in use"),
        "{e}"
    );
    // A type whose profile the A100-40GB lacks is refused before anything changes.
    let e = mig_backed(
        &nvml,
        &sysfs,
        &[(2, vec![VgpuWant::new("A100-3-40C", 1)])],
        &mut state,
        &opts,
    )
    .unwrap_err();
    assert!(matches!(e, Error::UnknownProfile { .. }), "{e}");
}

#[test]
fn h100_vendor_host_names_gpu_instances_and_restores_after_a_reboot() {
    let (nvml, _, sysfs) = node(true);
    let pf = sysfs.nvidia_gpus().unwrap()[3].address;
    sysfs.enable_vfs(pf, 8, &EnableOptions::default()).unwrap();
    let wants = [(
        3,
        vec![
            VgpuWant::new("H100XM-1-10C", 3),
            VgpuWant::new("H100XM-2-20C", 2),
        ],
    )];
    let mut state = HostState::default();
    let opts = VgpuHostOptions::without_locks();
    let r = mig_backed(&nvml, &sysfs, &wants, &mut state, &opts).unwrap();
    assert_eq!(r.vgpu.unwrap().performed, 5);
    assert!(state.vgpus.iter().all(|v| v.gi_start.is_some()));
    let before = vgpus(&sysfs, &state);
    let text = state.to_text();

    // Reboot: VFs, GPU instances and vGPU types are gone.
    let (nvml, _, sysfs) = node(true);
    let mut state = HostState::parse(&text).unwrap();
    let r = restore(&nvml, &sysfs, &mut state, &opts).unwrap();
    assert_eq!(r.vgpu.unwrap().performed, 5);
    let after = vgpus(&sysfs, &state);
    assert_eq!(after.len(), before.len());
    // Same slots and types; GPU instances at the recorded starts.
    let strip = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|s| s.rsplit_once(' ').unwrap().0.to_owned())
            .collect()
    };
    assert_eq!(strip(&after), strip(&before));
    // Idempotent: a second restore does nothing.
    let r = restore(&nvml, &sysfs, &mut state, &opts).unwrap();
    assert_eq!((r.mig.performed, r.vgpu.unwrap().performed), (0, 0));
}

#[test]
fn mig_mode_cannot_go_on_under_time_sliced_vgpus() {
    let (nvml, _, sysfs) = node(true);
    let pf = sysfs.nvidia_gpus().unwrap()[0].address;
    sysfs.enable_vfs(pf, 2, &EnableOptions::default()).unwrap();
    let mut state = HostState::default();
    let opts = VgpuHostOptions::without_locks();
    mig_backed(
        &nvml,
        &sysfs,
        &[(0, vec![VgpuWant::new("H100XM-40C", 2)])],
        &mut state,
        &opts,
    )
    .unwrap();
    let e = apply(
        &nvml,
        &[DesiredGpu::new(0, true, Vec::new())],
        &ApplyOptions::default().lock_path(None),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&NvmlCode::InUse.name()), "{text}");
}

/// Counts no GPU can hold are refused before anything is planned, whatever their size.
#[test]
fn absurd_counts_are_refused_at_once() {
    let (nvml, _, sysfs) = node(true);
    let pf = sysfs.nvidia_gpus().unwrap()[0].address;
    sysfs.enable_vfs(pf, 4, &EnableOptions::default()).unwrap();
    let mut state = HostState::default();
    let opts = VgpuHostOptions::without_locks();
    for wants in [
        vec![VgpuWant::new("H100XM-3-40C", u32::MAX)],
        vec![
            VgpuWant::new("H100XM-1-10C", u32::MAX),
            VgpuWant::new("H100XM-1-10C", u32::MAX),
        ],
        vec![
            VgpuWant::new("H100XM-4C", u32::MAX),
            VgpuWant::new("H100XM-4C", u32::MAX),
        ],
    ] {
        let e = mig_backed(&nvml, &sysfs, &[(0, wants)], &mut state, &opts).unwrap_err();
        assert!(matches!(e, Error::Sriov(_)), "{e}");
    }
    assert_eq!(nvml.mutations(), 0, "nothing was changed");
}
