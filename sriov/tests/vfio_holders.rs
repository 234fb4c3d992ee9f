#![allow(clippy::expect_used, clippy::unwrap_used)]
//! Who holds a device open through VFIO, read from a real file tree (sysfs and /proc side by
//! side, as `Sysfs::at("<dir>/sys")` finds them): a group file descriptor, a VFIO character
//! device, a process whose descriptors cannot be read, and nobody.

use std::fs;
use std::os::unix::fs::symlink;

use gpupart_sriov::{PciAddress, Sysfs};

#[test]
fn holders_are_found_by_group_and_by_cdev() {
    let root = std::env::temp_dir().join(format!("gpupart-vfio-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    let dev = |a: &str| root.join("sys/bus/pci/devices").join(a);
    for (a, group) in [
        ("0000:07:00.4", 42),
        ("0000:07:00.5", 43),
        ("0000:07:00.6", 44),
    ] {
        fs::create_dir_all(dev(a)).unwrap();
        fs::create_dir_all(root.join(format!("sys/kernel/iommu_groups/{group}"))).unwrap();
        symlink(
            format!("../../../kernel/iommu_groups/{group}"),
            dev(a).join("iommu_group"),
        )
        .unwrap();
    }
    // 0000:07:00.5 also has a VFIO character device (iommufd).
    fs::create_dir_all(dev("0000:07:00.5").join("vfio-dev/vfio3")).unwrap();
    let fd = |pid: u32, n: u32, target: &str| {
        let d = root.join(format!("proc/{pid}/fd"));
        fs::create_dir_all(&d).unwrap();
        symlink(target, d.join(n.to_string())).unwrap();
    };
    fd(100, 0, "/dev/null");
    fd(100, 7, "/dev/vfio/42"); // QEMU holding the group of .4
    fd(200, 3, "/dev/vfio/devices/vfio3"); // a cdev user of .5
    fd(300, 1, "/dev/vfio/vfio"); // the container, not a device
    fs::create_dir_all(root.join("proc/self")).unwrap(); // not a process id
    let sysfs = Sysfs::at(root.join("sys"));
    let a = |s: &str| s.parse::<PciAddress>().unwrap();
    assert_eq!(
        sysfs.vfio_holders_of_device(a("0000:07:00.4")).unwrap(),
        [100]
    );
    assert_eq!(
        sysfs.vfio_holders_of_device(a("0000:07:00.5")).unwrap(),
        [200]
    );
    assert!(
        sysfs
            .vfio_holders_of_device(a("0000:07:00.6"))
            .unwrap()
            .is_empty()
    );
    // Without a process table nobody can tell: an error, never "free".
    fs::remove_dir_all(root.join("proc")).unwrap();
    assert!(sysfs.vfio_holders_of_device(a("0000:07:00.4")).is_err());
    fs::remove_dir_all(&root).unwrap();
}
