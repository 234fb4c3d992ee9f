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
    // The SR-IOV simulator models A100 (mdev) and H100 (vendor interface) hosts.
    let (rc, _, err) = run(gpupart().args(["--sim", "mixed", "sriov", "list"]));
    assert_eq!(rc, 2);
    assert!(err.contains("mixed"), "{err}");
    let (rc, _, err) = run(gpupart().args(["--sim", "gpu-host:999", "sriov", "list"]));
    assert_eq!(rc, 2);
    assert!(err.contains("gpu-host:999"), "{err}");
    // A sysfs root that is not one.
    let (rc, _, err) = run(gpupart().args(["--sysfs", "/nonexistent-sysfs", "sriov", "list"]));
    assert_eq!(rc, 1);
    assert!(err.contains("/nonexistent-sysfs"), "{err}");
}

/// A sequence on one simulated H100 host: VFs, a vGPU type on one of them (the vendor
/// interface), MIG refused under it and allowed once it is cleared, and the state file
/// refusing what the simulator refuses.
#[test]
fn vfs_vgpus_and_mig_in_one_state_file() {
    let dir = scratch("sriov-state");
    let st = dir.join("host.json");
    let (rc, _, err) = on_state(
        &st,
        Some("hgx-h100"),
        &["sriov", "enable", "--pf", "0000:07:00.0", "--vfs", "4"],
    );
    assert_eq!(rc, 0, "{err}");
    let (rc, out, _) = on_state(&st, None, &["--json", "vgpu", "types"]);
    assert_eq!(rc, 0);
    let types: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = types[0]["type"].as_str().unwrap().to_owned();
    assert_eq!(types[0]["device"], "0000:07:00.4");
    assert_eq!(types[0]["interface"], "nvidia-vendor");
    let (rc, _, err) = on_state(
        &st,
        None,
        &["vgpu", "set", "--vf", "0000:07:00.4", "--type", "123456"],
    );
    assert_eq!(rc, 2);
    assert!(err.contains("123456"), "{err}");
    let (rc, _, err) = on_state(
        &st,
        None,
        &["vgpu", "set", "--vf", "0000:07:00.4", "--type", &first],
    );
    assert_eq!(rc, 0, "{err}");
    let (rc, out, _) = on_state(&st, None, &["--json", "vgpu", "types"]);
    assert_eq!(rc, 0);
    let types: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        types
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["device"] == "0000:07:00.4"
                && t["current"] == true
                && t["type"] == first.as_str()),
        "{out}"
    );
    // MIG cannot go on under a time-sliced vGPU (the vGPU manager refuses, NVML says IN_USE).
    let f = default_config().display().to_string();
    let (rc, _, err) = on_state(&st, None, &["mig", "apply", "-f", &f, "-c", "all-3g.40gb"]);
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("IN_USE"), "{err}");
    // Cleared, MIG goes on, and the host file keeps the SR-IOV side.
    let (rc, _, err) = on_state(
        &st,
        None,
        &["vgpu", "set", "--vf", "0000:07:00.4", "--type", "none"],
    );
    assert_eq!(rc, 0, "{err}");
    let (rc, _, err) = on_state(&st, None, &["mig", "apply", "-f", &f, "-c", "all-3g.40gb"]);
    assert_eq!(rc, 0, "{err}");
    let (rc, out, _) = on_state(&st, None, &["sriov", "list"]);
    assert_eq!(rc, 0);
    assert!(out.contains("4/32"), "{out}");
    // A different count while VFs are enabled is refused; allowed with the disruption.
    let (rc, _, _) = on_state(
        &st,
        None,
        &["sriov", "enable", "--pf", "0000:07:00.0", "--vfs", "2"],
    );
    assert_eq!(rc, 2);
    let (rc, _, err) = on_state(
        &st,
        None,
        &[
            "sriov",
            "enable",
            "--pf",
            "0000:07:00.0",
            "--vfs",
            "2",
            "--allow-disruption",
        ],
    );
    assert_eq!(rc, 0, "{err}");
    // A forged SR-IOV state (more VFs than the GPU has) is refused as the kernel would.
    let text = std::fs::read_to_string(&st).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["sriov"]["gpus"][0]["num_vfs"] = serde_json::json!(99);
    std::fs::write(&st, v.to_string()).unwrap();
    let (rc, _, err) = on_state(&st, None, &["sriov", "list"]);
    assert_eq!(rc, 2);
    assert!(err.contains("99"), "{err}");
}

/// The A100 host is an mdev host: VFs are mdev parents, `vgpu set` makes an mdev, the state
/// file keeps it, and MIG-backed types become available once GPU instances exist.
#[test]
fn mdev_vgpus_on_an_a100_host() {
    let dir = scratch("sriov-mdev");
    let st = dir.join("host.json");
    let (rc, _, err) = on_state(
        &st,
        Some("gpu-host:2"),
        &["sriov", "enable", "--pf", "0000:07:00.0", "--vfs", "2"],
    );
    assert_eq!(rc, 0, "{err}");
    let (rc, out, _) = on_state(&st, None, &["--json", "vgpu", "types"]);
    assert_eq!(rc, 0);
    let types: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = types.as_array().unwrap();
    assert!(rows.iter().all(|t| t["interface"] == "mdev"), "{out}");
    let ten = rows
        .iter()
        .find(|t| t["name"] == "NVIDIA A100-10C" && t["device"] == "0000:07:00.4")
        .unwrap();
    assert_eq!(ten["available"], 1);
    let (rc, out, err) = on_state(
        &st,
        None,
        &[
            "vgpu",
            "set",
            "--vf",
            "0000:07:00.4",
            "--type",
            "nvidia-700",
        ],
    );
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("nvidia-700"), "{out}");
    // Kept in the state file: the VF has no room left, its sibling still has.
    let (rc, out, _) = on_state(&st, None, &["--json", "vgpu", "types"]);
    assert_eq!(rc, 0);
    let types: serde_json::Value = serde_json::from_str(&out).unwrap();
    let avail = |dev: &str| {
        types
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "nvidia-700" && t["device"] == dev)
            .unwrap()["available"]
            .clone()
    };
    assert_eq!(avail("0000:07:00.4"), 0);
    assert_eq!(avail("0000:07:00.5"), 1);
    // Another size beside it is refused (one time-sliced type per GPU).
    let (rc, _, err) = on_state(
        &st,
        None,
        &[
            "vgpu",
            "set",
            "--vf",
            "0000:07:00.5",
            "--type",
            "nvidia-701",
        ],
    );
    assert_eq!(rc, 1, "{err}");
    let (rc, out, err) = on_state(
        &st,
        None,
        &["vgpu", "set", "--vf", "0000:07:00.4", "--type", "none"],
    );
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("1 mdev(s) removed"), "{out}");
}

#[test]
fn nova_conf_for_mapped_types() {
    let (rc, out, err) = run(gpupart().args([
        "vgpu",
        "nova-conf",
        "--map",
        "nvidia-471=0000:07:00.4,0000:07:00.5",
        "--map",
        "nvidia-472=0000:0f:00.4",
        "--max-instances",
        "1",
    ]));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.starts_with("[devices]\nenabled_mdev_types = nvidia-471, nvidia-472\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "[mdev_nvidia-471]\ndevice_addresses = 0000:07:00.4,0000:07:00.5\nmax_instances = 1\n"
        ),
        "{out}"
    );
    for (map, needle) in [
        ("bad name=0000:07:00.4", "bad name"),
        ("nvidia-471", "TYPE=ADDR"),
        ("nvidia-471=07:00.4", "07:00.4"),
    ] {
        let (rc, _, err) = run(gpupart().args(["vgpu", "nova-conf", "--map", map]));
        assert_eq!(rc, 2, "{map}");
        assert!(err.contains(needle), "{map}: {err}");
    }
    // The same address under two types is refused, as Nova refuses it.
    let (rc, _, _) = run(gpupart().args([
        "vgpu",
        "nova-conf",
        "--map",
        "a=0000:07:00.4",
        "--map",
        "b=0000:07:00.4",
    ]));
    assert_eq!(rc, 2);
}

/// The host manager at a prompt, on a simulated H100 host and then on a "rebooted" one:
/// apply (MIG layout and vGPUs) → claim → a stale release refused → reconcile → restore.
#[test]
fn vgpu_host_manager_commands_and_restore_after_reboot() {
    let dir = scratch("vgpu-host");
    let st = dir.join("host.json");
    let vs = dir.join("vgpu.state");
    let vs_arg = vs.display().to_string();
    let (rc, _, err) = on_state(
        &st,
        Some("hgx-h100"),
        &["sriov", "enable", "--pf", "0000:07:00.0", "--vfs", "4"],
    );
    assert_eq!(rc, 0, "{err}");
    let apply = [
        "vgpu",
        "apply",
        "--gpu",
        "0",
        "-t",
        "NVIDIA H100XM-3-40C=2",
        "--state-file",
        &vs_arg,
    ];
    let (rc, out, err) = on_state(&st, None, &apply);
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains("vGPU: create 0000:07:00.4 1014 (NVIDIA H100XM-3-40C) on GPU instance"),
        "{out}"
    );
    // Idempotent.
    let (rc, out, _) = on_state(&st, None, &apply);
    assert_eq!(rc, 0);
    assert!(out.contains("nothing to do"), "{out}");
    let (rc, _, err) = on_state(
        &st,
        None,
        &[
            "vgpu",
            "claim",
            "--slot",
            "0000:07:00.4",
            "--owner",
            "vm-1",
            "--state-file",
            &vs_arg,
        ],
    );
    assert_eq!(rc, 0, "{err}");
    let (rc, _, err) = on_state(
        &st,
        None,
        &[
            "vgpu",
            "release",
            "--slot",
            "0000:07:00.4",
            "--owner",
            "vm-2",
            "--state-file",
            &vs_arg,
        ],
    );
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("owned by vm-1"), "{err}");
    let (rc, out, _) = on_state(
        &st,
        None,
        &[
            "--json",
            "vgpu",
            "reconcile",
            "--live",
            "vm-1",
            "--state-file",
            &vs_arg,
        ],
    );
    assert_eq!(rc, 0);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["orphans"].as_array().unwrap().len(), 0, "{out}");
    // Reboot: a fresh host, rebuilt from the vGPU state file alone.
    let st2 = dir.join("rebooted.json");
    let (rc, out, err) = on_state(
        &st2,
        Some("hgx-h100"),
        &["vgpu", "restore", "--state-file", &vs_arg],
    );
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out.matches("vGPU: create").count(), 2, "{out}");
    let (rc, out, _) = on_state(&st2, None, &["--json", "vgpu", "types"]);
    assert_eq!(rc, 0);
    assert!(out.contains("\"current\": true"), "{out}");
    let (rc, out, _) = on_state(&st2, None, &["vgpu", "restore", "--state-file", &vs_arg]);
    assert_eq!(rc, 0);
    assert!(out.contains("nothing to do"), "{out}");
    // Bad input names the value.
    let (rc, _, err) = on_state(
        &st2,
        None,
        &[
            "vgpu",
            "apply",
            "--gpu",
            "0",
            "-t",
            "H100XM-3-40C",
            "--state-file",
            &vs_arg,
        ],
    );
    assert_eq!(rc, 2);
    assert!(err.contains("TYPE=COUNT"), "{err}");
    std::fs::write(&vs, "gpupart-vgpu-state 9\n").unwrap();
    let (rc, _, err) = on_state(&st2, None, &["vgpu", "restore", "--state-file", &vs_arg]);
    assert_eq!(rc, 2);
    assert!(err.contains("line 1"), "{err}");
}
