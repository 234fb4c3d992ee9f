#![allow(clippy::expect_used, clippy::unwrap_used)]
//! `gpupart solve`: requests from flags or a file, the plan with its bound, and `--apply`.

mod common;

use common::*;

#[test]
fn solve_prints_the_plan_with_its_bound_and_applies_it() {
    let dir = scratch("solve");
    let st = dir.join("host.json");
    let (rc, out, err) = on_state(
        &st,
        Some("dgx-a100"),
        &["solve", "-r", "3g.20gb=5", "-r", "1g.5gb=7", "--enable-mig"],
    );
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.starts_with("placed 12 (at most 12 possible), on 4 GPUs (at least 4 needed)"),
        "{out}"
    );
    // Nothing was changed by a plan alone.
    let (rc, out, _) = on_state(
        &st,
        None,
        &[
            "--json",
            "solve",
            "-r",
            "2g.10gb=3",
            "--enable-mig",
            "--apply",
        ],
    );
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(
        out.split("\n}\n")
            .next()
            .map(|s| format!("{s}\n}}"))
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v["placed"], 3);
    assert_eq!(v["gap"], serde_json::json!({"placed": 0, "gpus": 0}));
    let (rc, lgi, _) = on_state(&st, None, &["mig", "lgi"]);
    assert_eq!(rc, 0);
    assert_eq!(lgi.matches("MIG 2g.10gb").count(), 3, "{lgi}");
    // Without --enable-mig only GPU 0 (MIG on now) is used, and its free instances are reused.
    let (rc, out, _) = on_state(&st, None, &["solve", "-r", "2g.10gb=2"]);
    assert_eq!(rc, 0);
    assert!(
        out.starts_with("placed 2 (at most 2 possible)") && out.contains("2 reused"),
        "{out}"
    );
}

#[test]
fn requests_from_a_file_and_bad_requests() {
    let dir = scratch("solve-file");
    let yaml = dir.join("req.yaml");
    std::fs::write(&yaml, "- profile: 3g.40gb\n  count: 2\n  model: H100-SXM-80GB\n- profile: 1g.10gb\n  count: 3\n  gpus: [0]\n  priority: 2\n").unwrap();
    let (rc, out, err) = run(gpupart().args([
        "--sim",
        "hgx-h100",
        "solve",
        "--enable-mig",
        "-f",
        yaml.to_str().unwrap(),
    ]));
    assert_eq!(rc, 0, "{err}");
    assert!(out.starts_with("placed 5 (at most 5 possible)"), "{out}");
    let json = dir.join("req.json");
    std::fs::write(&json, r#"[{"profile": "7g.80gb", "count": 9}]"#).unwrap();
    let (rc, out, _) = run(gpupart().args([
        "--sim",
        "hgx-h100",
        "solve",
        "--enable-mig",
        "-f",
        json.to_str().unwrap(),
    ]));
    assert_eq!(rc, 0);
    assert!(out.starts_with("placed 8 (at most 8 possible)"), "{out}");
    // "As many as fit": the largest counts, twice for one profile, place what fits.
    let (rc, out, err) = run(gpupart().args([
        "--sim",
        "hgx-h100",
        "solve",
        "--enable-mig",
        "-r",
        "1g.10gb=4294967295",
        "-r",
        "1g.10gb=4294967295",
        "-r",
        "3g.40gb=4294967295",
    ]));
    assert_eq!(rc, 0, "{err}");
    assert!(out.starts_with("placed 56 (at most 56 possible)"), "{out}");
    for (args, needle) in [
        (vec!["-r", "3g=2"], "3g=2"),
        (vec!["-r", "3g.40gb"], "PROFILE=COUNT"),
        (vec!["-r", "3g.40gb=-1"], "count"),
        (vec!["-r", "3g.40gb=4294967296"], "from 0 to 4294967295"),
        (vec![], "no requests"),
    ] {
        let (rc, _, err) = run(gpupart().args(["--sim", "hgx-h100", "solve"]).args(&args));
        assert_eq!(rc, 2, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    std::fs::write(&yaml, "- profile: 3g.40gb\n  count: 2\n  model: H900\n").unwrap();
    let (rc, _, err) =
        run(gpupart().args(["--sim", "hgx-h100", "solve", "-f", yaml.to_str().unwrap()]));
    assert_eq!(rc, 2);
    assert!(err.contains("H900"), "{err}");
    std::fs::write(&yaml, "- profile: 3g.40gb\n  count: 2\n  colour: red\n").unwrap();
    let (rc, _, err) =
        run(gpupart().args(["--sim", "hgx-h100", "solve", "-f", yaml.to_str().unwrap()]));
    assert_eq!(rc, 2);
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn a_fleet_file_instead_of_the_node() {
    let dir = scratch("fleet");
    let fleet = dir.join("fleet.yaml");
    std::fs::write(
        &fleet,
        "- index: 0\n  model: A100-40GB\n  instances:\n  - {profile: 3g.20gb, start: 4, in_use: true}\n- index: 5\n  model: H100-SXM-80GB\n  mig_enabled: false\n",
    )
    .unwrap();
    let f = fleet.to_str().unwrap();
    // No --sim and no driver needed: the fleet is the file.
    let (rc, out, err) = run(gpupart().args([
        "solve",
        "--fleet",
        f,
        "-r",
        "3g.20gb=2",
        "-r",
        "7g.80gb=1",
        "--enable-mig",
    ]));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains("GPU 0: create 3g.20gb@0")
            && out.contains("GPU 5: enable MIG; create 7g.80gb@0"),
        "{out}"
    );
    assert!(out.contains("not placed: 1 of #0 (no room left)"), "{out}");
    // A fleet plan is a plan only.
    let (rc, _, _) = run(gpupart().args(["solve", "--fleet", f, "-r", "3g.20gb=1", "--apply"]));
    assert_eq!(rc, 2);
    // Instances the catalog's rules refuse, unknown models and fields are bad input.
    for (text, needle) in [
        (
            "- index: 0\n  model: A100-40GB\n  instances:\n  - {profile: 3g.20gb, start: 2}\n",
            "slice 2",
        ),
        ("- index: 0\n  model: Z100\n", "Z100"),
        ("- index: 0\n  model: A100-40GB\n  colour: red\n", "colour"),
        (
            "- index: 0\n  model: A100-40GB\n- index: 0\n  model: A100-40GB\n",
            "0",
        ),
    ] {
        std::fs::write(&fleet, text).unwrap();
        let (rc, _, err) = run(gpupart().args(["solve", "--fleet", f, "-r", "1g.5gb=1"]));
        assert_eq!(rc, 2, "{text}");
        assert!(err.contains(needle), "{text}: {err}");
    }
}
