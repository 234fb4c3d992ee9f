#![allow(clippy::expect_used, clippy::unwrap_used)]
//! `gpupart dra slices` run as a binary on a simulated node.

mod common;
use common::{default_config, gpupart, on_state, run, scratch};

/// A simulated HGX H100 in a state file, MIG on everywhere (mig-parted's all-enabled).
fn mig_enabled_h100(name: &str) -> std::path::PathBuf {
    let st = scratch(name).join("node.json");
    let f = default_config().display().to_string();
    let (rc, _, err) = on_state(
        &st,
        Some("hgx-h100"),
        &["mig", "apply", "-f", &f, "-c", "all-enabled"],
    );
    assert_eq!(rc, 0, "{err}");
    st
}

#[test]
fn slices_as_yaml_and_json_and_bad_input() {
    // MIG off: the full GPUs only, no counters.
    let (rc, out, err) = run(gpupart().args(["--sim", "hgx-h100", "--json", "dra", "slices"]));
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{out}");
    assert!(!out.contains("counter-set"), "{out}");
    // MIG on (mig-parted's all-enabled): counter sets and MIG devices.
    let st = mig_enabled_h100("dra");
    let (rc, out, err) = on_state(&st, None, &["dra", "slices", "--node", "n1"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("kind: ResourceSlice"), "{out}");
    assert!(out.contains("name: gpu-0-counter-set"), "{out}");
    assert!(out.contains("name: gpu-0-mig-1g10gb-19-0"), "{out}");
    let (rc, out, err) = on_state(&st, None, &["--json", "dra", "slices", "--order", "nvidia"]);
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let slices = v.as_array().unwrap();
    assert!(
        slices
            .iter()
            .all(|s| s["apiVersion"] == "resource.k8s.io/v1")
    );
    let devices: usize = slices
        .iter()
        .map(|s| s["spec"]["devices"].as_array().map_or(0, Vec::len))
        .sum();
    assert!(devices > 8, "{devices}");
    let (rc, _, err) = on_state(&st, None, &["dra", "slices", "--claimed", "0-4"]);
    assert_eq!(rc, 2);
    assert!(err.contains("GPU:START"), "{err}");
}

/// A reader that goes away (`gpupart … | head`) ends the command quietly with 141, as a
/// process killed by SIGPIPE, never with a panic's message.
#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    use std::process::Stdio;
    let st = mig_enabled_h100("dra-pipe");
    let mut child = gpupart()
        .arg("--sim-state")
        .arg(&st)
        .args(["dra", "slices"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    out.read_exact(&mut first).unwrap();
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
