#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The library against the simulated sysfs: discovery, binding, mdev, NVIDIA's vendor vGPU
//! interface, the doctor, and a property test of enable/disable sequences.

use gpupart_sriov::io::errno;
use gpupart_sriov::sim::{SimDevice, SimDriver, SimMdevType, SimSriov};
use gpupart_sriov::{
    EnableOptions, Error, Finding, MdevUuid, PciAddress, SimulatedSysfs, Sysfs, VgpuInterface,
};
use proptest::prelude::*;

fn a(s: &str) -> PciAddress {
    s.parse().unwrap()
}

#[test]
fn discovers_nvidia_gpus_and_numa() {
    let sysfs = Sysfs::simulated(SimulatedSysfs::gpu_host(8));
    let gpus = sysfs.nvidia_gpus().unwrap();
    assert_eq!(gpus.len(), 8, "the NVMe disk is not a GPU");
    let g = &gpus[4];
    assert_eq!(g.address, a("0000:87:00.0"));
    assert_eq!((g.vendor, g.device, g.class), (0x10de, 0x20b0, 0x030200));
    assert_eq!(g.numa_node, Some(1));
    assert_eq!(g.local_cpus.to_string(), "64-127,192-255");
    assert_eq!(g.driver.as_deref(), Some("nvidia"));
    assert_eq!(g.sriov.unwrap().total_vfs, 16);
}

#[test]
fn fewer_vfs_than_asked_is_reported() {
    let pf = a("0000:81:00.0");
    let sim = SimulatedSysfs::new()
        .with_driver(
            SimDriver::new("nvidia")
                .sriov_configure()
                .ids(&[(0x10de, 0xffff)]),
        )
        .with_device(
            SimDevice::new(pf, 0x10de, 0x2335, 0x030200)
                .driver("nvidia")
                .sriov(SimSriov::new(16, 4, 1, 0x2335).driver_enables_at_most(3)),
        );
    let sysfs = Sysfs::simulated(sim);
    let r = sysfs.enable_vfs(pf, 8, &EnableOptions::default()).unwrap();
    assert_eq!((r.requested, r.enabled, r.vfs.len()), (8, 3, 3));
}

#[test]
fn kernel_errors_become_typed_errors() {
    let pf = a("0000:81:00.0");
    let mk = |s: SimSriov| {
        SimulatedSysfs::new()
            .with_driver(
                SimDriver::new("nvidia")
                    .sriov_configure()
                    .ids(&[(0x10de, 0xffff)]),
            )
            .with_driver(SimDriver::new("plain"))
            .with_device(
                SimDevice::new(pf, 0x10de, 0x2335, 0x030200)
                    .driver("nvidia")
                    .sriov(s),
            )
    };
    let sysfs = Sysfs::simulated(mk(SimSriov::new(16, 4, 1, 0x2335).mmio_for(2)));
    let e = sysfs
        .enable_vfs(pf, 4, &EnableOptions::default())
        .unwrap_err();
    assert!(
        matches!(e, Error::MmioExhausted { requested: 4, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("pci=realloc"));
    let sysfs = Sysfs::simulated(mk(SimSriov::new(16, 4, 1, 0x2335)).as_root(false));
    let e = sysfs
        .enable_vfs(pf, 1, &EnableOptions::default())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Write {
                errno: errno::EACCES,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("run as root"));
    // A driver without sriov_configure.
    let sim = mk(SimSriov::new(16, 4, 1, 0x2335));
    let sysfs = Sysfs::simulated(sim.clone());
    sysfs.bind(pf, "plain").unwrap();
    let e = sysfs
        .enable_vfs(pf, 1, &EnableOptions::default())
        .unwrap_err();
    assert!(
        matches!(e, Error::NoSriovConfigure { ref driver, .. } if driver == "plain"),
        "{e}"
    );
    // Injected fault on the write.
    let sim = mk(SimSriov::new(16, 4, 1, 0x2335));
    sim.inject_write_fault("sriov_numvfs", errno::EBUSY, 0);
    let e = Sysfs::simulated(sim)
        .enable_vfs(pf, 1, &EnableOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::VfsEnabled { .. }), "{e}");
    // Not there / not SR-IOV.
    let sysfs = Sysfs::simulated(SimulatedSysfs::gpu_host(1));
    assert!(matches!(
        sysfs.enable_vfs(a("0000:99:00.0"), 1, &EnableOptions::default()),
        Err(Error::NoSuchDevice { .. })
    ));
    assert!(matches!(
        sysfs.enable_vfs(a("0000:01:00.0"), 1, &EnableOptions::default()),
        Err(Error::NoSriov { .. })
    ));
}

#[test]
fn slow_probe_is_waited_for_and_timeout_is_reported() {
    let sim = SimulatedSysfs::gpu_host(1).with_probe_delay(3);
    let sysfs = Sysfs::simulated(sim);
    let pf = a("0000:07:00.0");
    let r = sysfs.enable_vfs(pf, 2, &EnableOptions::default()).unwrap();
    for vf in &r.vfs {
        assert_eq!(sysfs.device(*vf).unwrap().driver.as_deref(), Some("nvidia"));
    }
    let sim = SimulatedSysfs::gpu_host(1).with_probe_delay(u32::MAX);
    let sysfs = Sysfs::simulated(sim);
    let e = sysfs
        .enable_vfs(
            pf,
            1,
            &EnableOptions::default().timeout(std::time::Duration::from_millis(30)),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
}

#[test]
fn binds_vfs_to_vfio_through_driver_override() {
    let sim = SimulatedSysfs::gpu_host(1);
    let sysfs = Sysfs::simulated(sim.clone());
    let pf = a("0000:07:00.0");
    let r = sysfs.enable_vfs(pf, 2, &EnableOptions::default()).unwrap();
    sysfs.bind(r.vfs[0], "vfio-pci").unwrap();
    assert_eq!(
        sysfs.device(r.vfs[0]).unwrap().driver.as_deref(),
        Some("vfio-pci")
    );
    assert_eq!(
        sysfs.device(r.vfs[1]).unwrap().driver.as_deref(),
        Some("nvidia")
    );
    assert!(matches!(
        sysfs.bind(r.vfs[1], "nouveau"),
        Err(Error::NoSuchDriver { .. })
    ));
    assert!(matches!(
        sysfs.bind(r.vfs[1], "../x"),
        Err(Error::InvalidName { .. })
    ));
    let writes: Vec<String> = sim
        .writes()
        .iter()
        .map(|(p, v)| format!("{}={v}", p.display()))
        .collect();
    assert!(
        writes.contains(&format!(
            "bus/pci/devices/{}/driver_override=vfio-pci",
            r.vfs[0]
        )),
        "{writes:?}"
    );
}

#[test]
fn nvidia_vendor_vgpu_interface() {
    let sysfs = Sysfs::simulated(SimulatedSysfs::h100_host(1));
    assert_eq!(sysfs.vgpu_interface().unwrap(), None, "no VFs yet");
    let r = sysfs
        .enable_vfs(a("0000:07:00.0"), 2, &EnableOptions::default())
        .unwrap();
    assert_eq!(
        sysfs.vgpu_interface().unwrap(),
        Some(VgpuInterface::NvidiaVendor)
    );
    let vf = r.vfs[0];
    let types = sysfs.creatable_vgpu_types(vf).unwrap();
    assert!(types.iter().any(|t| t.name == "NVIDIA H100XM-4C"));
    assert_eq!(sysfs.current_vgpu_type(vf).unwrap(), None);
    assert!(matches!(
        sysfs.set_vgpu_type(vf, Some(1)),
        Err(Error::VgpuTypeNotCreatable { .. })
    ));
    sysfs.set_vgpu_type(vf, Some(types[0].id)).unwrap();
    assert_eq!(sysfs.current_vgpu_type(vf).unwrap(), Some(types[0].id));
    assert!(
        sysfs.creatable_vgpu_types(vf).unwrap().is_empty(),
        "one type per VF"
    );
    sysfs.set_vgpu_type(vf, None).unwrap();
}

#[test]
fn mdev_create_list_remove() {
    let parent = a("0000:3b:00.0");
    let sim = SimulatedSysfs::new().with_device(
        SimDevice::new(parent, 0x10de, 0x1eb8, 0x030200)
            .driver("nvidia")
            .mdev_type(SimMdevType::new("nvidia-222", "GRID T4-1B", 16))
            .mdev_type(SimMdevType::new("nvidia-223", "GRID T4-2B", 8)),
    );
    let sysfs = Sysfs::simulated(sim);
    assert_eq!(sysfs.vgpu_interface().unwrap(), Some(VgpuInterface::Mdev));
    assert_eq!(sysfs.mdev_parents().unwrap(), [parent]);
    let types = sysfs.mdev_types(parent).unwrap();
    assert_eq!(types.len(), 2);
    assert_eq!(types[0].name.as_deref(), Some("GRID T4-1B"));
    let u: MdevUuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001".parse().unwrap();
    sysfs.create_mdev(parent, "nvidia-222", u).unwrap();
    assert!(matches!(
        sysfs.create_mdev(parent, "nvidia-222", u),
        Err(Error::MdevExists { .. })
    ));
    assert!(matches!(
        sysfs.create_mdev(parent, "nvidia-999", MdevUuid::from_u128(2)),
        Err(Error::NoSuchMdevType { .. })
    ));
    assert!(
        matches!(
            sysfs.create_mdev(parent, "nvidia-223", MdevUuid::from_u128(3)),
            Err(Error::NoMdevRoom { .. })
        ),
        "one type per parent"
    );
    let list = sysfs.mdevs().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].uuid, list[0].parent, list[0].mdev_type.as_str()),
        (u, parent, "nvidia-222")
    );
    assert_eq!(sysfs.mdev_types(parent).unwrap()[0].devices, [u]);
    sysfs.remove_mdev(u).unwrap();
    assert!(matches!(
        sysfs.remove_mdev(u),
        Err(Error::NoSuchMdev { .. })
    ));
}

#[test]
fn doctor_speaks_plainly() {
    let sysfs = Sysfs::simulated(SimulatedSysfs::gpu_host(2).with_iommu(false));
    let f = sysfs.doctor().unwrap();
    assert!(f.contains(&Finding::NoIommu));
    assert!(f.iter().any(|x| x.to_string().contains("intel_iommu=on")));
    // A passthrough H100 in a VM: no SR-IOV capability.
    let sysfs =
        Sysfs::simulated(SimulatedSysfs::new().with_device(
            SimDevice::new(a("0000:00:06.0"), 0x10de, 0x2330, 0x030200).driver("nvidia"),
        ));
    let f = sysfs.doctor().unwrap();
    assert!(
        f.contains(&Finding::NoSriovCapability(a("0000:00:06.0"))),
        "{f:?}"
    );
    assert!(f[1].to_string().contains("no SR-IOV capability"));
}

proptest! {
    /// Random enable/disable sequences: the library's answer is what the kernel's rules say,
    /// and afterwards the links match `sriov_numvfs`.
    #[test]
    fn enable_sequences_follow_the_rules(steps in proptest::collection::vec((0u16..20, any::<bool>()), 1..12)) {
        let sysfs = Sysfs::simulated(SimulatedSysfs::gpu_host(1));
        let pf = a("0000:07:00.0");
        let mut current = 0u16;
        for (n, disrupt) in steps {
            let r = sysfs.enable_vfs(pf, n, &EnableOptions::default().allow_disruption(disrupt));
            let expect_ok = n <= 16 && (n == current || n == 0 || current == 0 || disrupt);
            prop_assert_eq!(r.is_ok(), expect_ok, "{} -> {}: {:?}", current, n, r);
            if expect_ok {
                current = n;
            }
            let info = sysfs.sriov(pf).unwrap().unwrap();
            prop_assert_eq!(info.num_vfs, current);
            prop_assert_eq!(sysfs.virtual_functions(pf).unwrap().len(), usize::from(current));
        }
    }
}
