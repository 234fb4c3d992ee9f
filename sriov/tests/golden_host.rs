#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The read-only runs on a real passthrough H100 (`sriov/golden/`) against the code: a
//! simulated sysfs with the same facts gives the same doctor findings, word for word.

use gpupart_sriov::sim::SimDevice;
use gpupart_sriov::{EnableOptions, Error, Finding, SimulatedSysfs, Sysfs};

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!("{}/golden/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn passthrough_h100_doctor() {
    let gpu = "0000:00:06.0".parse().unwrap();
    let sysfs = Sysfs::simulated(
        SimulatedSysfs::new().with_iommu(false).with_device(
            SimDevice::new(gpu, 0x10de, 0x2330, 0x030200)
                .driver("nvidia")
                .numa(None, "0-15"),
        ),
    );
    let findings = sysfs.doctor().unwrap();
    assert_eq!(
        findings,
        [
            Finding::NoIommu,
            Finding::NoSriovCapability(gpu),
            Finding::Vgpu(None)
        ]
    );
    let text = golden("quickstart-real-h100-passthrough.txt");
    for f in &findings {
        assert!(text.contains(&f.to_string()), "the real run printed: {f}");
    }
    let e = sysfs
        .enable_vfs(gpu, 1, &EnableOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::NoSriov { .. }));
    assert!(golden("sriov-enable-real-h100-passthrough.txt").contains(&e.to_string()));
}
