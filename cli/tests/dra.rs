#![allow(clippy::expect_used, clippy::unwrap_used)]
//! `gpupart dra slices` run as a binary on a simulated node.

mod common;
use common::{gpupart, run};

#[test]
fn slices_as_yaml_and_json_and_bad_input() {
    let (rc, out, err) =
        run(gpupart().args(["--sim", "hgx-h100", "dra", "slices", "--node", "n1"]));
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("kind: ResourceSlice"), "{out}");
    assert!(out.contains("name: gpu-0-counter-set"), "{out}");
    let (rc, out, err) = run(gpupart().args([
        "--sim", "hgx-h100", "--json", "dra", "slices", "--order", "nvidia",
    ]));
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
    let (rc, _, err) =
        run(gpupart().args(["--sim", "hgx-h100", "dra", "slices", "--claimed", "0-4"]));
    assert_eq!(rc, 2);
    assert!(err.contains("GPU:START"), "{err}");
}
