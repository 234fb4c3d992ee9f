#![allow(clippy::expect_used, clippy::unwrap_used)]
//! `gpupart sriov` on the simulated GPU host: every subcommand and its refusals.

mod common;

use common::*;

fn sim(args: &[&str]) -> (i32, String, String) {
    run(gpupart().args(["--sim", "gpu-host:2", "sriov"]).args(args))
}

#[test]
fn doctor_and_list() {
    let (rc, out, err) = sim(&["doctor"]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains("0000:07:00.0: SR-IOV ready, 0 of 16 VFs enabled"),
        "{out}"
    );
    let (rc, out, _) = run(gpupart().args(["--sim", "gpu-host:2", "--json", "sriov", "list"]));
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["sriov"]["total_vfs"], 16);
    let (rc, out, _) = run(gpupart().args(["--sim", "dgx-a100", "sriov", "list"]));
    assert_eq!(rc, 0);
    assert_eq!(out.lines().count(), 9, "{out}");
}

#[test]
fn enable_disable_bind_autoprobe() {
    let (rc, out, err) = sim(&["enable", "--pf", "0000:07:00.0", "--vfs", "4"]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.starts_with("0000:07:00.0: 4 VFs enabled (asked 4)"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 5, "{out}");
    let (rc, out, _) = run(gpupart().args([
        "--sim",
        "gpu-host:2",
        "--json",
        "sriov",
        "disable",
        "--pf",
        "0000:07:00.0",
    ]));
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["enabled"].as_u64(), v["changed"].as_bool()),
        (Some(0), Some(false))
    );
    let (rc, out, err) = sim(&["autoprobe", "--pf", "0000:07:00.0", "off"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("autoprobe off"), "{out}");
    let (rc, _, err) = sim(&["bind", "--vf", "0000:07:00.0", "--driver", "vfio-pci"]);
    assert_eq!(rc, 0, "{err}");
}

#[test]
fn refusals_are_bad_input_naming_the_value() {
    for (args, needle) in [
        (vec!["enable", "--pf", "0000:07:00.0", "--vfs", "99"], "99"),
        (vec!["enable", "--pf", "07:00", "--vfs", "2"], "07:00"),
        (
            vec!["enable", "--pf", "0000:55:00.0", "--vfs", "2"],
            "0000:55:00.0",
        ),
        (
            vec!["bind", "--vf", "0000:07:00.0", "--driver", "no-such-driver"],
            "no-such-driver",
        ),
        (vec!["autoprobe", "--pf", "0000:07:00.0", "maybe"], "maybe"),
    ] {
        let (rc, _, err) = sim(&args);
        assert_eq!(rc, 2, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // The SR-IOV simulator models A100 hosts only, and keeps no state between commands.
    let (rc, _, err) = run(gpupart().args(["--sim", "hgx-h100", "sriov", "list"]));
    assert_eq!(rc, 2);
    assert!(err.contains("hgx-h100"), "{err}");
    let (rc, _, _) = run(gpupart().args([
        "--sim",
        "gpu-host:2",
        "--sim-state",
        "/tmp/x.json",
        "sriov",
        "list",
    ]));
    assert_eq!(rc, 2);
    let (rc, _, err) = run(gpupart().args(["--sim", "gpu-host:999", "sriov", "list"]));
    assert_eq!(rc, 2);
    assert!(err.contains("gpu-host:999"), "{err}");
    // A sysfs root that is not one.
    let (rc, _, err) = run(gpupart().args(["--sysfs", "/nonexistent-sysfs", "sriov", "list"]));
    assert_eq!(rc, 1);
    assert!(err.contains("/nonexistent-sysfs"), "{err}");
}
