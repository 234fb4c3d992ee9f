#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The simulated sysfs refuses what NVIDIA's driver and the kernel refuse, for any host size;
//! the doctor reports a damaged attribute and goes on; errors say why.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use gpupart_sriov::sim::{SimGpuInstance, gpu_address, h100_80gb_vgpu_types};
use gpupart_sriov::{EnableOptions, Error, Finding, PciAddress, SimulatedSysfs, Sysfs};
use proptest::prelude::*;

fn host_with_vfs(
    gpus: u16,
    vfs: u16,
) -> (SimulatedSysfs, Sysfs, Vec<(PciAddress, Vec<PciAddress>)>) {
    let sim = SimulatedSysfs::h100_host(gpus);
    let sysfs = Sysfs::simulated(sim.clone());
    let mut out = Vec::new();
    for g in sysfs.nvidia_gpus().unwrap() {
        let r = sysfs
            .enable_vfs(g.address, vfs, &EnableOptions::default())
            .unwrap();
        out.push((g.address, r.vfs));
    }
    (sim, sysfs, out)
}

fn type_id(name: &str) -> u32 {
    h100_80gb_vgpu_types()
        .iter()
        .find(|t| t.name() == format!("NVIDIA H100XM-{name}"))
        .unwrap()
        .id()
}

#[test]
fn any_host_size_has_distinct_valid_addresses() {
    for n in [0u16, 8, 9, 65, 200] {
        let sysfs = Sysfs::simulated(SimulatedSysfs::gpu_host(n));
        let gpus = sysfs.nvidia_gpus().unwrap();
        assert_eq!(gpus.len(), usize::from(n), "gpu_host({n})");
        let distinct: BTreeSet<PciAddress> = gpus.iter().map(|g| g.address).collect();
        assert_eq!(distinct.len(), usize::from(n));
    }
    let all: BTreeSet<PciAddress> = (0..5000).filter_map(gpu_address).collect();
    assert_eq!(all.len(), 5000);
    assert_eq!(gpu_address(gpupart_sriov::sim::MAX_SIMULATED_GPUS), None);
}

#[test]
fn time_sliced_vgpus_fit_the_card_and_share_one_size() {
    let (_, sysfs, gpus) = host_with_vfs(1, 16);
    let vfs = &gpus[0].1;
    let t20 = type_id("40C");
    // Two 40C fill an 80 GB card; the third VF is offered nothing time-sliced of that size.
    sysfs.set_vgpu_type(vfs[0], Some(t20)).unwrap();
    sysfs.set_vgpu_type(vfs[1], Some(t20)).unwrap();
    let offered: Vec<u32> = sysfs
        .creatable_vgpu_types(vfs[2])
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert!(!offered.contains(&t20), "{offered:?}");
    assert!(matches!(
        sysfs.set_vgpu_type(vfs[2], Some(t20)),
        Err(Error::VgpuTypeNotCreatable { .. })
    ));
    // Another size beside them is refused too (one size per GPU).
    sysfs.set_vgpu_type(vfs[1], None).unwrap();
    let t10 = type_id("20C");
    assert!(
        sysfs
            .creatable_vgpu_types(vfs[2])
            .unwrap()
            .iter()
            .all(|t| t.id == t20)
    );
    assert!(sysfs.set_vgpu_type(vfs[2], Some(t10)).is_err());
    // MIG-backed types are not offered with MIG off.
    assert!(
        sysfs
            .creatable_vgpu_types(vfs[3])
            .unwrap()
            .iter()
            .all(|t| !t.name.contains("-3-40C"))
    );
}

#[test]
fn mig_backed_vgpus_take_free_gpu_instances_of_their_profile() {
    let (sim, sysfs, gpus) = host_with_vfs(1, 16);
    let (pf, vfs) = (&gpus[0].0, &gpus[0].1);
    let t3 = type_id("3-40C");
    assert!(sysfs.set_vgpu_type(vfs[0], Some(t3)).is_err(), "MIG off");
    let gi = |id, p: &str| SimGpuInstance {
        id,
        profile: p.to_owned(),
    };
    sim.set_mig(*pf, Some(vec![gi(1, "3g.40gb"), gi(2, "3g.40gb")]))
        .unwrap();
    // Time-sliced types go with MIG on.
    assert!(
        sysfs
            .creatable_vgpu_types(vfs[0])
            .unwrap()
            .iter()
            .all(|t| t.id != type_id("4C"))
    );
    sysfs.set_vgpu_type(vfs[0], Some(t3)).unwrap();
    sysfs.set_vgpu_type(vfs[1], Some(t3)).unwrap();
    assert!(
        sysfs.set_vgpu_type(vfs[2], Some(t3)).is_err(),
        "both GPU instances taken"
    );
    assert!(sysfs.creatable_vgpu_types(vfs[2]).unwrap().is_empty());
    // MIG cannot go away under them.
    assert!(sim.set_mig(*pf, None).is_err());
    sysfs.set_vgpu_type(vfs[0], None).unwrap();
    sysfs.set_vgpu_type(vfs[1], None).unwrap();
    sim.set_mig(*pf, None).unwrap();
}

#[test]
fn the_doctor_reports_a_damaged_attribute_and_goes_on() {
    let root = scratch("doctor");
    for (bus, numa, total, num) in [
        (0x07, "0", "16", "0"),
        (0x0f, "garbage", "16", "0"),
        (0x47, "0", "65536", "0"),
        (0x4e, "0", "16", "40"),
    ] {
        let d = root.join(format!("bus/pci/devices/0000:{bus:02x}:00.0"));
        fs::create_dir_all(&d).unwrap();
        let w = |n: &str, s: &str| fs::write(d.join(n), format!("{s}\n")).unwrap();
        w("vendor", "0x10de");
        w("device", "0x20b0");
        w("class", "0x030200");
        w("numa_node", numa);
        w("sriov_totalvfs", total);
        w("sriov_numvfs", num);
        w("sriov_offset", "4");
        w("sriov_stride", "1");
        w("sriov_vf_device", "20b0");
        w("sriov_drivers_autoprobe", "1");
    }
    fs::create_dir_all(root.join("kernel/iommu_groups/1")).unwrap();
    let findings = Sysfs::at(&root).doctor().unwrap();
    let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|f| f.starts_with("0000:07:00.0: SR-IOV ready")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|f| f.contains("0000:0f:00.0")
            && f.contains("numa_node")
            && f.contains("\"garbage\"")),
        "{text:#?}"
    );
    assert!(
        text.iter().any(|f| f.contains("0000:47:00.0")
            && f.contains("sriov_totalvfs")
            && f.contains("65536")),
        "{text:#?}"
    );
    assert!(
        findings.iter().any(|f| matches!(
            f,
            Finding::ImpossibleVfCount {
                num_vfs: 40,
                total_vfs: 16,
                ..
            }
        )),
        "{text:#?}"
    );
    assert!(!text.iter().any(|f| f.contains("40 of 16")));
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn errors_name_their_cause_once_and_quote_briefly() {
    let huge = "0".repeat(100 << 20);
    let msg = huge.parse::<PciAddress>().unwrap_err().to_string();
    assert!(msg.len() < 300, "{} bytes", msg.len());
    let root = scratch("errors");
    let sysfs = Sysfs::at(&root);
    let a: PciAddress = "0000:07:00.0".parse().unwrap();
    let msg = sysfs.device(a).unwrap_err().to_string();
    assert!(msg.contains("0000:07:00.0"), "{msg}");
    let d = root.join("bus/pci/devices/0000:07:00.0");
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("vendor"), "garbage\n").unwrap();
    let msg = sysfs.device(a).unwrap_err().to_string();
    assert!(
        msg.contains("vendor") && msg.contains("garbage") && msg.contains("expected"),
        "{msg}"
    );
    assert!(std::error::Error::source(&sysfs.device(a).unwrap_err()).is_none());
    fs::remove_dir_all(&root).unwrap();
}

fn scratch(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("gpupart-sriov-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    p
}

/// What the simulated driver must never allow on a physical GPU, whatever was asked of it.
fn check_invariants(sysfs: &Sysfs, pf: PciAddress, vfs: &[PciAddress], mig: &[(u32, &str)]) {
    let types = h100_80gb_vgpu_types();
    let mut used = Vec::new();
    for &vf in vfs {
        if let Some(id) = sysfs.current_vgpu_type(vf).unwrap() {
            used.push(types.iter().find(|t| t.id() == id).unwrap().clone());
        }
    }
    let _ = pf;
    let time_sliced: Vec<_> = used.iter().filter(|t| t.mig_profile().is_none()).collect();
    let mig_backed: Vec<_> = used.iter().filter(|t| t.mig_profile().is_some()).collect();
    assert!(
        time_sliced.is_empty() || mig_backed.is_empty(),
        "both kinds on one GPU"
    );
    if let Some(first) = time_sliced.first() {
        assert!(mig.is_empty(), "time-sliced vGPUs with MIG on");
        assert!(
            time_sliced.iter().all(|t| t.id() == first.id()),
            "two sizes"
        );
        let fb: u64 = time_sliced
            .iter()
            .map(|t| {
                let gb: u64 = t
                    .name()
                    .trim_start_matches("NVIDIA H100XM-")
                    .trim_end_matches('C')
                    .parse()
                    .unwrap();
                gb
            })
            .sum();
        assert!(fb <= 80, "{fb} GB of vGPU framebuffer on an 80 GB card");
    }
    for t in &types {
        let n = used.iter().filter(|u| u.id() == t.id()).count();
        if let Some(p) = t.mig_profile() {
            let gis = mig.iter().filter(|(_, q)| *q == p).count();
            assert!(n <= gis, "{n} x {} on {gis} GPU instances of {p}", t.name());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every sequence of requests the simulator accepts keeps NVIDIA's rules.
    #[test]
    fn accepted_sequences_keep_the_vgpu_rules(
        ops in prop::collection::vec((0usize..16, 0usize..14, 0u8..8), 1..40)
    ) {
        let (sim, sysfs, gpus) = host_with_vfs(1, 16);
        let (pf, vfs) = (gpus[0].0, gpus[0].1.clone());
        let types = h100_80gb_vgpu_types();
        let layouts: [&[(u32, &str)]; 3] = [
            &[],
            &[(1, "3g.40gb"), (2, "3g.40gb")],
            &[(1, "1g.10gb"), (2, "1g.10gb"), (3, "2g.20gb"), (4, "3g.40gb")],
        ];
        let mut mig: &[(u32, &str)] = &[];
        for (vf, ty, action) in ops {
            match action {
                0 => { let _ = sysfs.set_vgpu_type(vfs[vf], None); }
                1 => {
                    let layout = layouts[ty % 3];
                    let gis = layout.iter().map(|&(id, p)| SimGpuInstance { id, profile: p.to_owned() }).collect();
                    let want = if layout.is_empty() { None } else { Some(gis) };
                    if sim.set_mig(pf, want).is_ok() {
                        mig = layout;
                    }
                }
                // Straight to the simulated driver, past the library's own checks.
                2 => {
                    let id = types[ty % types.len()].id();
                    let _ = gpupart_sriov::io::SysfsIo::write(
                        &sim,
                        Path::new(&format!("bus/pci/devices/{}/nvidia/current_vgpu_type", vfs[vf])),
                        &id.to_string(),
                    );
                }
                _ => {
                    let id = types[ty % types.len()].id();
                    let _ = sysfs.set_vgpu_type(vfs[vf], Some(id));
                }
            }
            check_invariants(&sysfs, pf, &vfs, mig);
            // What a free VF is offered can be taken.
            for &v in &vfs {
                if sysfs.current_vgpu_type(v).unwrap().is_none() {
                    for t in sysfs.creatable_vgpu_types(v).unwrap() {
                        prop_assert!(types.iter().any(|x| x.id() == t.id));
                    }
                }
            }
        }
    }
}

#[test]
fn mdev_types_follow_the_physical_gpus_rules() {
    use gpupart_sriov::MdevUuid;
    use gpupart_sriov::sim::{SimDevice, SimMdevType, SimVgpuType};
    let parent: PciAddress = "0000:3b:00.0".parse().unwrap();
    let t20 = SimVgpuType::time_sliced(471, "NVIDIA A100-20C", 20 * 1024, 2);
    let t10 = SimVgpuType::time_sliced(470, "NVIDIA A100-10C", 10 * 1024, 4);
    let sim = SimulatedSysfs::new().with_device(
        SimDevice::new(parent, 0x10de, 0x20f1, 0x030200)
            .driver("nvidia")
            .gpu_memory_mib(40 * 1024)
            .mdev_type(SimMdevType::new("nvidia-471", "NVIDIA A100-20C", 16).vgpu(t20))
            .mdev_type(SimMdevType::new("nvidia-470", "NVIDIA A100-10C", 16).vgpu(t10)),
    );
    let sysfs = Sysfs::simulated(sim);
    let room = |t: &str| {
        sysfs
            .mdev_types(parent)
            .unwrap()
            .into_iter()
            .find(|x| x.id == t)
            .unwrap()
            .available_instances
    };
    assert_eq!(room("nvidia-471"), 2, "two 20 GB vGPUs fill 40 GB");
    assert_eq!(room("nvidia-470"), 4);
    sysfs
        .create_mdev(parent, "nvidia-471", MdevUuid::from_u128(1))
        .unwrap();
    assert_eq!(room("nvidia-471"), 1);
    assert_eq!(room("nvidia-470"), 0, "one size per GPU");
    sysfs
        .create_mdev(parent, "nvidia-471", MdevUuid::from_u128(2))
        .unwrap();
    assert_eq!(room("nvidia-471"), 0);
    assert!(
        sysfs
            .create_mdev(parent, "nvidia-471", MdevUuid::from_u128(3))
            .is_err()
    );
}
