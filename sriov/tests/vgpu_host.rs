#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The vGPU host manager on both simulated interfaces: plans with explicit slots, apply with
//! rollback at every write, idempotence, the owner guard, reconciliation, and every refusal.

use gpupart_sriov::io::errno;
use gpupart_sriov::sim::SimGpuInstance;
use gpupart_sriov::vgpu::{
    ApplyOptions, GpuInstanceRef, GpuSpec, HostState, Owner, VgpuOp, VgpuSlot, apply, claim,
    inventory, plan, reconcile, release,
};
use gpupart_sriov::{EnableOptions, Error, PciAddress, SimulatedSysfs, Sysfs, VgpuInterface};

fn opts() -> ApplyOptions {
    ApplyOptions::default().lock_path(None)
}

/// An H100 host (vendor interface) or an A100 host (mdev) with `vfs` VFs on GPU 0.
fn host(h100: bool, vfs: u16) -> (SimulatedSysfs, Sysfs, PciAddress) {
    let sim = if h100 {
        SimulatedSysfs::h100_host(2)
    } else {
        SimulatedSysfs::gpu_host(2)
    };
    let sysfs = Sysfs::simulated(sim.clone());
    let gpu = sysfs.nvidia_gpus().unwrap()[0].address;
    sysfs
        .enable_vfs(gpu, vfs, &EnableOptions::default())
        .unwrap();
    (sim, sysfs, gpu)
}

fn snapshot(sysfs: &Sysfs) -> Vec<String> {
    inventory(sysfs, &HostState::default())
        .unwrap()
        .into_iter()
        .flat_map(|g| g.vgpus)
        .map(|v| v.to_string())
        .collect()
}

fn gi(id: u32, profile: &str, start: u8) -> SimGpuInstance {
    let _ = start;
    SimGpuInstance {
        id,
        profile: profile.to_owned(),
    }
}

#[test]
fn vendor_interface_plan_is_explicit_and_apply_is_idempotent() {
    let (sim, sysfs, gpu) = host(true, 8);
    let view = &inventory(&sysfs, &HostState::default()).unwrap()[0];
    assert_eq!(view.interface, Some(VgpuInterface::NvidiaVendor));
    let want = [GpuSpec::new(gpu)
        .vgpus("NVIDIA H100XM-20C", 3)
        .memory_mib(80 * 1024)
        .gpu_instances(Vec::new())];
    let mut state = HostState::default();
    let p = plan(&sysfs, &want, &state).unwrap();
    let placements: Vec<_> = p
        .ops
        .iter()
        .map(|o| match o {
            VgpuOp::Create(v) => (v.slot, v.placement_id),
            other => panic!("nothing but creations: {other}"),
        })
        .collect();
    let vfs = sysfs.virtual_functions(gpu).unwrap();
    assert_eq!(
        placements,
        [
            (VgpuSlot::Vf(vfs[0]), Some(0)),
            (VgpuSlot::Vf(vfs[1]), Some(20)),
            (VgpuSlot::Vf(vfs[2]), Some(40))
        ]
    );
    // A dry run writes nothing.
    let writes = sim.writes().len();
    let r = apply(&sysfs, &want, &mut state, &opts().dry_run(true)).unwrap();
    assert_eq!((r.performed, sim.writes().len()), (0, writes));
    let r = apply(&sysfs, &want, &mut state, &opts()).unwrap();
    assert_eq!(r.performed, 3);
    assert_eq!(sysfs.vgpu_placement(vfs[2]).unwrap(), Some(40));
    assert_eq!(state.vgpus.len(), 3);
    assert_eq!(
        state.vgpus[0].vgpu.type_name.as_deref(),
        Some("NVIDIA H100XM-20C")
    );
    // Again: nothing to do, nothing written.
    let writes = sim.writes().len();
    let r = apply(&sysfs, &want, &mut state, &opts()).unwrap();
    assert_eq!((r.performed, sim.writes().len()), (0, writes));
    // Fewer: the highest slots go.
    let fewer = [GpuSpec::new(gpu)
        .vgpus("H100XM-20C", 1)
        .memory_mib(80 * 1024)];
    apply(&sysfs, &fewer, &mut state, &opts()).unwrap();
    assert_eq!(snapshot(&sysfs).len(), 1);
    assert_eq!(sysfs.current_vgpu_type(vfs[0]).unwrap(), Some(1006));
}

#[test]
fn mdev_interface_makes_mdevs_on_vf_parents() {
    let (_, sysfs, gpu) = host(false, 4);
    let view = &inventory(&sysfs, &HostState::default()).unwrap()[0];
    assert_eq!(view.interface, Some(VgpuInterface::Mdev));
    assert_eq!(view.slots.len(), 4);
    let want = [GpuSpec::new(gpu).vgpus("A100-10C", 4).memory_mib(40 * 1024)];
    let mut state = HostState::default();
    let r = apply(&sysfs, &want, &mut state, &opts()).unwrap();
    assert_eq!(r.performed, 4);
    let mdevs = sysfs.mdevs().unwrap();
    assert_eq!(mdevs.len(), 4);
    assert!(mdevs.iter().all(|m| m.mdev_type == "nvidia-700"));
    // One per VF; the fifth would not fit on a 40 GB card.
    let five = [GpuSpec::new(gpu).vgpus("A100-10C", 5).memory_mib(40 * 1024)];
    let e = plan(&sysfs, &five, &state).unwrap_err();
    assert!(
        e.to_string().contains("MiB of time-sliced framebuffer"),
        "{e}"
    );
    assert_eq!(plan(&sysfs, &want, &state).unwrap().ops.len(), 0);
}

#[test]
fn mig_backed_types_take_named_gpu_instances() {
    for h100 in [true, false] {
        let (sim, sysfs, gpu) = host(h100, 4);
        let (ty, profile) = if h100 {
            ("H100XM-3-40C", "3g.40gb")
        } else {
            ("A100-3-20C", "3g.20gb")
        };
        sim.set_mig(gpu, Some(vec![gi(1, profile, 0), gi(2, profile, 4)]))
            .unwrap();
        let gis = vec![
            GpuInstanceRef::new(2, profile, 4),
            GpuInstanceRef::new(1, profile, 0),
        ];
        let want = [GpuSpec::new(gpu).vgpus(ty, 2).gpu_instances(gis.clone())];
        let mut state = HostState::default();
        let r = apply(&sysfs, &want, &mut state, &opts()).unwrap();
        assert_eq!(r.performed, 2, "h100 {h100}");
        if h100 {
            let got: Vec<_> = state.vgpus.iter().map(|v| v.vgpu.gpu_instance_id).collect();
            assert_eq!(got, [Some(1), Some(2)]);
            assert_eq!(state.vgpus[1].gi_start, Some(4));
        }
        // A third needs a third GPU instance.
        let three = [GpuSpec::new(gpu).vgpus(ty, 3).gpu_instances(gis)];
        let e = plan(&sysfs, &three, &state).unwrap_err();
        assert!(e.to_string().contains("need as many GPU instances"), "{e}");
        // MIG cannot go from under them.
        assert!(sim.set_mig(gpu, None).is_err());
    }
}

/// A scenario: the host kind, what is there first, what is asked, and the GPU instances.
struct Scenario {
    h100: bool,
    first: GpuSpec,
    then: GpuSpec,
    mig: Option<Vec<SimGpuInstance>>,
}

fn scenarios(gpu: PciAddress) -> Vec<Scenario> {
    let h100_gis = vec![
        GpuInstanceRef::new(1, "3g.40gb", 0),
        GpuInstanceRef::new(2, "3g.40gb", 4),
        GpuInstanceRef::new(3, "1g.10gb", 3),
    ];
    let sim_gis = |g: &[GpuInstanceRef]| {
        g.iter()
            .map(|x| gi(x.id, &x.profile, x.start))
            .collect::<Vec<_>>()
    };
    vec![
        // Time-sliced, placements written: one 80C replaced by two 40C.
        Scenario {
            h100: true,
            first: GpuSpec::new(gpu)
                .vgpus("H100XM-80C", 1)
                .memory_mib(80 * 1024),
            then: GpuSpec::new(gpu)
                .vgpus("H100XM-40C", 2)
                .memory_mib(80 * 1024),
            mig: None,
        },
        // MIG-backed, GPU instances written: a 1g.10gb one replaced by two 3g.40gb ones.
        Scenario {
            h100: true,
            first: GpuSpec::new(gpu)
                .vgpus("H100XM-1-10C", 1)
                .gpu_instances(h100_gis.clone()),
            then: GpuSpec::new(gpu)
                .vgpus("H100XM-3-40C", 2)
                .gpu_instances(h100_gis.clone()),
            mig: Some(sim_gis(&h100_gis)),
        },
        // mdev: one 40C replaced by two 20C.
        Scenario {
            h100: false,
            first: GpuSpec::new(gpu).vgpus("A100-40C", 1),
            then: GpuSpec::new(gpu).vgpus("A100-20C", 2),
            mig: None,
        },
    ]
}

fn prepared(s: &Scenario) -> (SimulatedSysfs, Sysfs, HostState) {
    let (sim, sysfs, gpu) = host(s.h100, 4);
    if let Some(g) = &s.mig {
        sim.set_mig(gpu, Some(g.clone())).unwrap();
    }
    let mut state = HostState::default();
    apply(&sysfs, std::slice::from_ref(&s.first), &mut state, &opts()).unwrap();
    (sim, sysfs, state)
}

#[test]
fn every_write_can_fail_and_the_host_is_left_as_it_was() {
    let gpu = gpupart_sriov::sim::gpu_address(0).unwrap();
    for (k, s) in scenarios(gpu).iter().enumerate() {
        // How many writes the change takes, on a twin host.
        let (probe, probe_sysfs, mut st) = prepared(s);
        let n0 = probe.writes().len();
        apply(
            &probe_sysfs,
            std::slice::from_ref(&s.then),
            &mut st,
            &opts(),
        )
        .unwrap();
        let writes = probe.writes().len() - n0;
        assert!(writes >= 3, "scenario {k}: {writes} writes");
        for nth in 0..writes {
            let (sim, sysfs, mut state) = prepared(s);
            let before = snapshot(&sysfs);
            sim.inject_write_fault("", errno::EIO, u32::try_from(nth).unwrap());
            let e = apply(&sysfs, std::slice::from_ref(&s.then), &mut state, &opts()).unwrap_err();
            match &e {
                Error::VgpuApplyFailed { rollback_error, .. } => {
                    assert!(rollback_error.is_none(), "scenario {k}, write {nth}: {e}");
                }
                other => panic!("scenario {k}, write {nth}: {other}"),
            }
            assert_eq!(snapshot(&sysfs), before, "scenario {k}, write {nth}: {e}");
            // And the change goes through once the fault is gone.
            apply(&sysfs, std::slice::from_ref(&s.then), &mut state, &opts()).unwrap();
            // (mdev UUIDs are fresh each time: compare where and what.)
            let shape = |sysfs: &Sysfs| {
                let mut v: Vec<String> = inventory(sysfs, &HostState::default())
                    .unwrap()
                    .into_iter()
                    .flat_map(|g| g.vgpus)
                    .map(|v| {
                        format!(
                            "{} {} {:?} {:?}",
                            v.slot.device(),
                            v.type_id,
                            v.gpu_instance_id,
                            v.placement_id
                        )
                    })
                    .collect();
                v.sort();
                v
            };
            assert_eq!(shape(&sysfs), shape(&probe_sysfs), "scenario {k}");
        }
    }
}

#[test]
fn a_failed_rollback_is_reported() {
    let (sim, sysfs, gpu) = host(true, 4);
    let mut state = HostState::default();
    // Second create fails, then undoing the first fails too.
    sim.inject_write_fault("current_vgpu_type", errno::EBUSY, 1);
    sim.inject_write_fault("current_vgpu_type", errno::EBUSY, 0);
    let e = apply(
        &sysfs,
        &[GpuSpec::new(gpu).vgpus("H100XM-40C", 2)],
        &mut state,
        &opts(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("ROLLBACK FAILED"), "{e}");
}

#[test]
fn owners_guard_release_and_a_running_vm_guards_it_too() {
    for h100 in [true, false] {
        let ty = if h100 { "H100XM-40C" } else { "A100-20C" };
        let (sim, sysfs, gpu) = host(h100, 4);
        let mut state = HostState::default();
        apply(
            &sysfs,
            &[GpuSpec::new(gpu).vgpus(ty, 2)],
            &mut state,
            &opts(),
        )
        .unwrap();
        let slots: Vec<VgpuSlot> = state.vgpus.iter().map(|r| r.vgpu.slot).collect();
        let a: Owner = "vm-a".parse().unwrap();
        let b: Owner = "vm-b".parse().unwrap();
        claim(&sysfs, &mut state, slots[0], &a).unwrap();
        assert!(matches!(
            claim(&sysfs, &mut state, slots[0], &b),
            Err(Error::NotOwner { .. })
        ));
        // A stale release by another owner never clears it.
        let e = release(&sysfs, &mut state, slots[0], &b).unwrap_err();
        assert!(e.to_string().contains("owned by vm-a"), "{e}");
        // Nor one nobody claimed.
        assert!(release(&sysfs, &mut state, slots[1], &b).is_err());
        // Apply does not remove an owned vGPU.
        let e = plan(&sysfs, &[GpuSpec::new(gpu)], &state).unwrap_err();
        assert!(matches!(e, Error::NotOwner { asked: None, .. }), "{e}");
        // While the VM holds it open, not even its owner clears it.
        match slots[0] {
            VgpuSlot::Vf(vf) => sim.open_vf(vf),
            VgpuSlot::Mdev { uuid, .. } => sim.open_mdev(uuid),
            _ => unreachable!(),
        }
        let e = release(&sysfs, &mut state, slots[0], &a).unwrap_err();
        assert!(
            matches!(&e, Error::VgpuInUse { pids, .. } if pids == &[4242]),
            "{e}"
        );
        sim.close_all();
        release(&sysfs, &mut state, slots[0], &a).unwrap();
        assert_eq!(snapshot(&sysfs).len(), 1);
        assert!(state.vgpu(&slots[0]).is_none());
    }
}

#[test]
fn reconcile_clears_orphans_but_never_protected_or_open_ones() {
    let (sim, sysfs, gpu) = host(true, 6);
    let mut state = HostState::default();
    apply(
        &sysfs,
        &[GpuSpec::new(gpu).vgpus("H100XM-10C", 4)],
        &mut state,
        &opts(),
    )
    .unwrap();
    let slots: Vec<VgpuSlot> = state.vgpus.iter().map(|r| r.vgpu.slot).collect();
    let live: Owner = "vm-live".parse().unwrap();
    let dead: Owner = "vm-dead".parse().unwrap();
    claim(&sysfs, &mut state, slots[0], &live).unwrap();
    claim(&sysfs, &mut state, slots[1], &dead).unwrap();
    claim(&sysfs, &mut state, slots[2], &dead).unwrap();
    // One vGPU made behind the manager's back, one recorded that is gone.
    let vfs = sysfs.virtual_functions(gpu).unwrap();
    sysfs.set_vgpu_type(vfs[5], Some(1004)).unwrap();
    sysfs.set_vgpu_type(vfs[3], None).unwrap();
    sim.open_vf(vfs[2]);
    let r = reconcile(
        &sysfs,
        &mut state,
        std::slice::from_ref(&live),
        &[VgpuSlot::Vf(vfs[5])],
        false,
    )
    .unwrap();
    assert_eq!(r.orphans.len(), 3, "{r:?}");
    assert!(r.cleared.is_empty());
    assert_eq!(r.stale.len(), 1);
    let r = reconcile(&sysfs, &mut state, &[live], &[VgpuSlot::Vf(vfs[5])], true).unwrap();
    assert_eq!(r.cleared.len(), 1, "{r:?}");
    assert_eq!(r.cleared[0].slot, VgpuSlot::Vf(vfs[1]));
    assert_eq!(r.busy.len(), 1);
    assert_eq!(r.protected.len(), 1);
    assert_eq!(sysfs.current_vgpu_type(vfs[0]).unwrap(), Some(1004));
    assert_eq!(sysfs.current_vgpu_type(vfs[5]).unwrap(), Some(1004));
}

#[test]
fn plans_refuse_what_the_card_refuses_before_any_write() {
    let (sim, sysfs, gpu) = host(true, 4);
    let st = HostState::default();
    let refuse = |spec: GpuSpec, needle: &str| {
        let n = sim.writes().len();
        let e = plan(&sysfs, &[spec], &st).unwrap_err();
        assert!(e.to_string().contains(needle), "{e} (wanted {needle:?})");
        assert_eq!(sim.writes().len(), n);
    };
    refuse(
        GpuSpec::new(gpu).vgpus("H100XM-9C", 1),
        "no vGPU type \"H100XM-9C\"",
    );
    refuse(
        GpuSpec::new(gpu)
            .vgpus("H100XM-20C", 1)
            .vgpus("NVIDIA H100XM-20C", 1),
        "listed twice",
    );
    refuse(
        GpuSpec::new(gpu)
            .vgpus("H100XM-20C", 1)
            .vgpus("H100XM-10C", 1),
        "all of one type",
    );
    refuse(
        GpuSpec::new(gpu)
            .vgpus("H100XM-40C", 3)
            .memory_mib(80 * 1024),
        "time-sliced framebuffer",
    );
    refuse(GpuSpec::new(gpu).vgpus("H100XM-4C", 5), "needs 5 free VFs");
    refuse(
        GpuSpec::new(gpu)
            .vgpus("H100XM-20C", 1)
            .gpu_instances(vec![GpuInstanceRef::new(1, "3g.40gb", 0)]),
        "needs MIG off",
    );
    // MIG-backed types are not offered with MIG off: the first VF is asked.
    let e = plan(&sysfs, &[GpuSpec::new(gpu).vgpus("1014", 1)], &st).unwrap_err();
    assert!(e.to_string().contains("no vGPU type \"1014\""), "{e}");
    let other = sysfs.nvidia_gpus().unwrap()[1].address;
    refuse(
        GpuSpec::new(other).vgpus("H100XM-20C", 1),
        "no vGPU interface",
    );
    let e = plan(&sysfs, &[GpuSpec::new(gpu), GpuSpec::new(gpu)], &st).unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
}

#[test]
fn the_simulated_driver_refuses_what_nvidia_refuses() {
    let (sim, sysfs, gpu) = host(true, 4);
    let vfs = sysfs.virtual_functions(gpu).unwrap();
    // No such GPU instance (MIG off).
    assert!(sysfs.set_vgpu_gpu_instance(vfs[0], Some(1)).is_err());
    // A placement not aligned to the type's size.
    sysfs.set_vgpu_placement(vfs[0], Some(10)).unwrap();
    assert!(sysfs.set_vgpu_type(vfs[0], Some(1006)).is_err());
    sysfs.set_vgpu_placement(vfs[0], Some(20)).unwrap();
    sysfs.set_vgpu_type(vfs[0], Some(1006)).unwrap();
    assert_eq!(sysfs.vgpu_placement(vfs[0]).unwrap(), Some(20));
    // Taken.
    sysfs.set_vgpu_placement(vfs[1], Some(20)).unwrap();
    assert!(sysfs.set_vgpu_type(vfs[1], Some(1006)).is_err());
    // No choice while a vGPU is there; VFs with vGPUs cannot go; an open VF cannot be cleared.
    assert!(sysfs.set_vgpu_placement(vfs[0], Some(0)).is_err());
    assert!(sysfs.disable_vfs(gpu, &EnableOptions::default()).is_err());
    sim.open_vf(vfs[0]);
    assert!(sysfs.set_vgpu_type(vfs[0], None).is_err());
    sim.close_all();
    sysfs.set_vgpu_type(vfs[0], None).unwrap();
    sysfs.disable_vfs(gpu, &EnableOptions::default()).unwrap();
}

#[test]
fn the_state_file_survives_save_and_load() {
    let (_, sysfs, gpu) = host(false, 4);
    let mut state = HostState::default();
    apply(
        &sysfs,
        &[GpuSpec::new(gpu).vgpus("A100-8C", 3)],
        &mut state,
        &opts(),
    )
    .unwrap();
    let slot = state.vgpus[0].vgpu.slot;
    claim(&sysfs, &mut state, slot, &"vm-1".parse().unwrap()).unwrap();
    let dir = std::env::temp_dir().join(format!("gpupart-vgpu-state-{}", std::process::id()));
    let path = dir.join("state");
    state.save(&path).unwrap();
    assert_eq!(HostState::load(&path).unwrap(), state);
    assert_eq!(
        HostState::load(&dir.join("missing")).unwrap(),
        HostState::default()
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(state.vfs, [(gpu, 4)]);
}
