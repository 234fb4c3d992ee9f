#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The kernel's SR-IOV contract (`sriov_numvfs_store` in drivers/pci/iov.c), checked twice:
//! against the simulated sysfs always, and against a real kernel when `GPUPART_REAL_SYSFS`
//! names a sysfs root and `GPUPART_REAL_PF` a PF whose driver can configure SR-IOV (the QEMU
//! VM that `.ci/sriov-vm` boots sets both: an emulated NVMe controller with 4 VFs).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gpupart_sriov::io::{RealFs, SysfsIo, errno};
use gpupart_sriov::sim::{SimDevice, SimDriver, SimSriov};
use gpupart_sriov::{EnableOptions, Error, PciAddress, SimulatedSysfs, Sysfs};

fn opts() -> EnableOptions {
    // The nvme driver's probe of a VF fails in QEMU (no secondary controller online), so do
    // not wait for VF drivers; the link checks still run.
    EnableOptions::default()
        .wait_for_drivers(false)
        .timeout(Duration::from_secs(20))
}

fn raw_errno(io: &dyn SysfsIo, pf: PciAddress, value: &str) -> Option<i32> {
    io.write(
        &Path::new("bus/pci/devices")
            .join(pf.to_string())
            .join("sriov_numvfs"),
        value,
    )
    .err()
    .and_then(|e| e.raw_os_error())
}

/// Every step prints a line; the VM harness looks for the final `CONTRACT OK`.
fn contract(sysfs: &Sysfs, io: &dyn SysfsIo, pf: PciAddress) {
    let step = |s: &str| println!("contract: {s}");
    let dev = sysfs.device(pf).unwrap();
    let info = dev.sriov.expect("the PF has SR-IOV");
    assert_eq!(info.num_vfs, 0, "start with no VFs");
    assert!(info.total_vfs >= 2, "at least 2 VFs");
    let driver = dev.driver.clone().expect("the PF has a driver");
    step(&format!(
        "{pf}: driver {driver}, totalvfs {}, offset {}, stride {}, vf_device {:04x}",
        info.total_vfs, info.offset, info.stride, info.vf_device
    ));

    let r = sysfs.enable_vfs(pf, 2, &opts()).unwrap();
    assert_eq!((r.requested, r.enabled, r.changed), (2, 2, true));
    assert_eq!(sysfs.sriov(pf).unwrap().unwrap().num_vfs, 2, "re-read");
    assert_eq!(r.vfs.len(), 2);
    for vf in &r.vfs {
        let d = sysfs.device(*vf).unwrap();
        assert_eq!(d.physfn, Some(pf), "physfn of {vf}");
        assert_eq!(d.device, info.vf_device, "VF device ID of {vf}");
    }
    step("enable 2: re-read, virtfn and physfn links");

    let again = sysfs.enable_vfs(pf, 2, &opts()).unwrap();
    assert!(!again.changed, "equal count is a no-op");
    assert_eq!(
        raw_errno(io, pf, "2"),
        None,
        "the kernel accepts an equal count"
    );
    step("no-op on equal");

    assert!(matches!(
        sysfs.enable_vfs(pf, 1, &opts()),
        Err(Error::VfsEnabled {
            enabled: 2,
            requested: 1,
            ..
        })
    ));
    assert_eq!(raw_errno(io, pf, "1"), Some(errno::EBUSY));
    step("EBUSY: refused before writing; the kernel says EBUSY too");

    let too_many = info.total_vfs + 1;
    assert!(matches!(
        sysfs.enable_vfs(pf, too_many, &opts()),
        Err(Error::TooManyVfs { .. })
    ));
    assert_eq!(
        raw_errno(io, pf, &too_many.to_string()),
        Some(errno::ERANGE)
    );
    step("ERANGE");

    assert_eq!(raw_errno(io, pf, "many"), Some(errno::EINVAL));
    step("EINVAL");

    let r = sysfs
        .enable_vfs(pf, 1, &opts().allow_disruption(true))
        .unwrap();
    assert_eq!((r.enabled, r.vfs.len()), (1, 1));
    step("change 2 -> 1 with disruption allowed (0 first)");

    let r = sysfs.disable_vfs(pf, &opts()).unwrap();
    assert_eq!((r.enabled, r.vfs.len()), (0, 0));
    assert!(sysfs.virtual_functions(pf).unwrap().is_empty());
    step("disable");

    sysfs.set_drivers_autoprobe(pf, false).unwrap();
    assert!(!sysfs.sriov(pf).unwrap().unwrap().drivers_autoprobe);
    let r = sysfs.enable_vfs(pf, 1, &opts()).unwrap();
    assert_eq!(
        sysfs.device(r.vfs[0]).unwrap().driver,
        None,
        "autoprobe off leaves VFs unbound"
    );
    sysfs.disable_vfs(pf, &opts()).unwrap();
    sysfs.set_drivers_autoprobe(pf, true).unwrap();
    step("autoprobe off: VFs left unbound");

    assert_eq!(sysfs.unbind(pf).unwrap().as_deref(), Some(driver.as_str()));
    assert!(matches!(
        sysfs.enable_vfs(pf, 1, &opts()),
        Err(Error::NoDriver { .. })
    ));
    assert_eq!(raw_errno(io, pf, "1"), Some(errno::ENOENT));
    sysfs.bind(pf, &driver).unwrap();
    assert_eq!(
        sysfs.device(pf).unwrap().driver.as_deref(),
        Some(driver.as_str())
    );
    step("ENOENT without a driver; rebound");
    println!("CONTRACT OK");
}

#[test]
fn simulated_kernel_keeps_the_contract() {
    let pf: PciAddress = "0000:00:04.0".parse().unwrap();
    // What QEMU's `-device nvme,...,sriov_max_vfs=4` shows: vendor 0x1b36, device 0x0010.
    let sim = SimulatedSysfs::new()
        .with_driver(
            SimDriver::new("nvme")
                .sriov_configure()
                .ids(&[(0x1b36, 0x0010)])
                .probe_fails(),
        )
        .with_device(
            SimDevice::new(pf, 0x1b36, 0x0010, 0x010802)
                .driver("nvme")
                .sriov(SimSriov::new(4, 1, 1, 0x0010)),
        );
    let io: Arc<dyn SysfsIo> = Arc::new(sim.clone());
    contract(&Sysfs::with_io(io.clone(), "/sys"), io.as_ref(), pf);
}

#[test]
fn real_kernel_keeps_the_contract() {
    let (Ok(root), Ok(pf)) = (
        std::env::var("GPUPART_REAL_SYSFS"),
        std::env::var("GPUPART_REAL_PF"),
    ) else {
        println!(
            "GPUPART_REAL_SYSFS / GPUPART_REAL_PF not set: the real-kernel run is .ci/sriov-vm's"
        );
        return;
    };
    let pf: PciAddress = pf.parse().unwrap();
    let io: Arc<dyn SysfsIo> = Arc::new(RealFs::new(&root));
    contract(&Sysfs::with_io(io.clone(), root), io.as_ref(), pf);
}

#[test]
fn read_only_discovery_on_this_machine() {
    // This machine's real /sys: discovery must work and must not write anything.
    let sysfs = Sysfs::system();
    let Ok(devices) = sysfs.pci_devices() else {
        println!("no /sys/bus/pci here");
        return;
    };
    for a in devices {
        let d = sysfs.device(a);
        assert!(d.is_ok(), "{a}: {d:?}");
    }
    let findings = sysfs.doctor().unwrap();
    assert!(!findings.is_empty());
    for f in findings {
        println!("doctor: {f}");
    }
}
