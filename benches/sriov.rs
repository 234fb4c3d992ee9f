#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
//! Discovery over a sysfs tree of 1,000 PCI functions (written as real files under a temporary
//! directory, read through `Sysfs::at`, and the same host in the simulator). Baseline: reading
//! every attribute of every function, then filtering, as a naive script does.

use std::fs;
use std::path::Path;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use gpupart::sriov::sim::{SimDevice, SimSriov};
use gpupart::sriov::{PciAddress, SimulatedSysfs, Sysfs};

/// 1,000 functions: 64 NVIDIA GPUs with SR-IOV, the rest assorted NICs, disks and bridges.
fn functions() -> Vec<(PciAddress, u16, u16, u32, bool)> {
    let mut v = Vec::new();
    for i in 0..1000u32 {
        let bus = u8::try_from(i / 8).unwrap();
        let function = u8::try_from(i % 8).unwrap();
        let a = PciAddress::new(0, bus, 0, function).unwrap();
        let gpu = function == 0 && i % 16 == 0 && v.len() < 1000;
        if gpu {
            v.push((a, 0x10de, 0x20b0, 0x030200, true));
        } else {
            v.push((a, 0x8086, 0x1572, 0x020000, false));
        }
    }
    v
}

fn write_tree(root: &Path) {
    for (a, vendor, device, class, gpu) in functions() {
        let d = root.join("bus/pci/devices").join(a.to_string());
        fs::create_dir_all(&d).unwrap();
        let w = |n: &str, s: String| fs::write(d.join(n), s).unwrap();
        w("vendor", format!("0x{vendor:04x}\n"));
        w("device", format!("0x{device:04x}\n"));
        w("subsystem_vendor", format!("0x{vendor:04x}\n"));
        w("subsystem_device", "0x0000\n".to_owned());
        w("class", format!("0x{class:06x}\n"));
        w("numa_node", "0\n".to_owned());
        w("local_cpulist", "0-63\n".to_owned());
        if gpu {
            w("sriov_totalvfs", "16\n".to_owned());
            w("sriov_numvfs", "0\n".to_owned());
            w("sriov_offset", "4\n".to_owned());
            w("sriov_stride", "1\n".to_owned());
            w("sriov_vf_device", "20b0\n".to_owned());
            w("sriov_drivers_autoprobe", "1\n".to_owned());
        }
    }
    fs::create_dir_all(root.join("kernel/iommu_groups/1")).unwrap();
}

fn naive(sysfs: &Sysfs) -> usize {
    let mut n = 0;
    for a in sysfs.pci_devices().unwrap() {
        let d = sysfs.device(a).unwrap();
        if d.is_nvidia_gpu() {
            n += 1;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("gpupart-bench-sysfs-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    write_tree(&dir);
    let real = Sysfs::at(&dir);
    assert_eq!(real.nvidia_gpus().unwrap().len(), naive(&real));
    let mut sim = SimulatedSysfs::new();
    for (a, vendor, device, class, gpu) in functions() {
        let mut d = SimDevice::new(a, vendor, device, class).numa(Some(0), "0-63");
        if gpu {
            d = d.sriov(SimSriov::new(16, 4, 1, 0x20b0));
        }
        sim = sim.with_device(d);
    }
    let simulated = Sysfs::simulated(sim);
    let mut g = c.benchmark_group("discovery_1000_functions");
    g.bench_function("files: nvidia_gpus", |b| {
        b.iter(|| black_box(real.nvidia_gpus().unwrap().len()))
    });
    g.bench_function("files: baseline, every attribute of every function", |b| {
        b.iter(|| black_box(naive(&real)))
    });
    g.bench_function("simulator: nvidia_gpus", |b| {
        b.iter(|| black_box(simulated.nvidia_gpus().unwrap().len()))
    });
    g.bench_function("simulator: doctor", |b| {
        b.iter(|| black_box(simulated.doctor().unwrap().len()))
    });
    g.finish();
    let _ = fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
