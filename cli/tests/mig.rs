#![allow(clippy::expect_used, clippy::unwrap_used)]
//! `gpupart mig` run as a user runs it: the binary, its exit statuses, mig-parted's flags,
//! environment variables and hooks, and a sequence of commands on one simulated host.

mod common;

use common::*;

const APPLIED: &str = "MIG configuration applied successfully";
const ASSERTED: &str = "Selected MIG configuration currently applied";

fn cfg() -> String {
    default_config().display().to_string()
}

#[test]
fn a_sequence_of_commands_sees_one_host() {
    let dir = scratch("sequence");
    let st = dir.join("host.json");
    let f = cfg();
    let (rc, out, err) = on_state(
        &st,
        Some("dgx-a100"),
        &["mig", "apply", "-f", &f, "-c", "all-3g.20gb"],
    );
    assert_eq!((rc, out.trim()), (0, APPLIED), "{err}");
    // Later commands need only the state file.
    let (rc, out, _) = on_state(&st, None, &["mig", "assert", "-f", &f, "-c", "all-3g.20gb"]);
    assert_eq!((rc, out.trim()), (0, ASSERTED));
    let (rc, export, _) = on_state(&st, None, &["mig", "export"]);
    assert_eq!(rc, 0);
    assert!(
        export.contains("current:") && export.contains("3g.20gb: 2"),
        "{export}"
    );
    // The export is a configuration the same host asserts.
    let exported = dir.join("exported.yaml");
    std::fs::write(&exported, &export).unwrap();
    let (rc, _, err) = on_state(
        &st,
        None,
        &[
            "mig",
            "assert",
            "-f",
            exported.to_str().unwrap(),
            "-c",
            "current",
        ],
    );
    assert_eq!(rc, 0, "{err}");
    // Another configuration: planned with explicit placements, then applied.
    let (rc, plan, _) = on_state(&st, None, &["mig", "plan", "-f", &f, "-c", "all-balanced"]);
    assert_eq!(rc, 0);
    assert!(plan.contains("create 2g.10gb at 0"), "{plan}");
    let (rc, out, err) = on_state(&st, None, &["mig", "apply", "-f", &f, "-c", "all-balanced"]);
    assert_eq!((rc, out.trim()), (0, APPLIED), "{err}");
    let (rc, _, err) = on_state(&st, None, &["mig", "assert", "-f", &f, "-c", "all-3g.20gb"]);
    assert_eq!(rc, 1);
    assert!(
        err.contains("Assertion failure: selected configuration not currently applied"),
        "{err}"
    );
    let (rc, lgi, _) = on_state(&st, None, &["mig", "lgi"]);
    assert_eq!(rc, 0);
    assert_eq!(lgi.matches("MIG 1g.5gb").count(), 16, "{lgi}");
    let (rc, lci, _) = on_state(&st, None, &["mig", "lci", "--json"]);
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&lci).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 8);
    // Applying it again changes nothing.
    let (rc, out, _) = on_state(
        &st,
        None,
        &[
            "mig",
            "apply",
            "--dry-run",
            "--json",
            "-f",
            &f,
            "-c",
            "all-balanced",
        ],
    );
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ops"].as_array().unwrap().len(), 0, "{out}");
    let (rc, out, _) = on_state(
        &st,
        None,
        &["--json", "mig", "apply", "-f", &f, "-c", "all-balanced"],
    );
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["performed"].as_u64(), v["after"].as_array().map(Vec::len)),
        (Some(0), Some(8)),
        "{out}"
    );
    // Back to MIG off.
    let (rc, _, err) = on_state(&st, None, &["mig", "apply", "-f", &f, "-c", "all-disabled"]);
    assert_eq!(rc, 0, "{err}");
    let (rc, _, _) = on_state(
        &st,
        None,
        &["mig", "assert", "-f", &f, "-c", "all-disabled"],
    );
    assert_eq!(rc, 0);
}

/// For every configuration of NVIDIA's default file that applies to the node (its
/// `--valid-config` verdict), apply succeeds with mig-parted's line and exit status, assert
/// then holds, and `all-disabled` no longer does; configurations that do not apply are
/// refused as bad input. Checked on a simulated DGX A100 and HGX H100.
#[test]
fn every_default_config_that_applies_gives_mig_parted_verdicts() {
    let f = cfg();
    let text = std::fs::read_to_string(default_config()).unwrap();
    let names: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.trim_end().ends_with(':'))
        .map(|l| l.trim().trim_end_matches(':'))
        .collect();
    assert!(names.len() > 50, "{names:?}");
    for host in ["dgx-a100", "hgx-h100"] {
        let mut applied = 0;
        for name in &names {
            let dir = scratch("verdicts");
            let st = dir.join("host.json");
            let (valid, _, _) = on_state(
                &st,
                Some(host),
                &["mig", "assert", "--valid-config", "-f", &f, "-c", name],
            );
            if valid != 0 {
                assert_eq!(valid, 2, "{host} {name}");
                continue;
            }
            applied += 1;
            let (rc, out, err) = on_state(&st, Some(host), &["mig", "apply", "-f", &f, "-c", name]);
            assert_eq!((rc, out.trim()), (0, APPLIED), "{host} {name}: {err}");
            let (rc, _, err) = on_state(&st, None, &["mig", "assert", "-f", &f, "-c", name]);
            assert_eq!(rc, 0, "{host} {name}: {err}");
            let (rc, _, _) = on_state(
                &st,
                None,
                &["mig", "assert", "-f", &f, "-c", "all-disabled"],
            );
            assert_eq!(rc, i32::from(*name != "all-disabled"), "{host} {name}");
            let _ = std::fs::remove_dir_all(&dir);
        }
        // all-disabled, all-enabled, the A100-40GB or H100-80GB profiles, all-balanced.
        assert!(applied >= 8, "{host}: only {applied} configurations apply");
    }
}

#[test]
fn invoked_as_nvidia_mig_parted_it_takes_that_command_line() {
    let dir = scratch("as-mig-parted");
    let bin = mig_parted_link(&dir);
    let st = dir.join("host.json");
    let f = cfg();
    // Flags from the environment, as MIG Manager passes them.
    let (rc, out, err) = run(command(&bin)
        .args(["apply"])
        .env("GPUPART_SIM", "hgx-h100")
        .env("GPUPART_SIM_STATE", &st)
        .env("MIG_PARTED_CONFIG_FILE", &f)
        .env("MIG_PARTED_SELECTED_CONFIG", "all-1g.10gb"));
    assert_eq!((rc, out.trim()), (0, APPLIED), "{err}");
    let (rc, out, _) = run(command(&bin)
        .args(["-d", "assert", "-f", &f, "-c", "all-1g.10gb"])
        .env("GPUPART_SIM_STATE", &st));
    assert_eq!((rc, out.trim()), (0, ASSERTED));
    let (rc, out, _) = run(command(&bin)
        .args(["assert", "--valid-config", "-f", &f, "-c", "all-3g.40gb"])
        .env("GPUPART_SIM_STATE", &st));
    assert_eq!((rc, out.trim()), (0, "Selected MIG configuration is valid"));
    let (rc, out, _) = run(command(&bin)
        .args(["export", "--output-format", "json", "--config-label", "now"])
        .env("GPUPART_SIM_STATE", &st));
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["mig-configs"]["now"][0]["mig-devices"]["1g.10gb"], 7,
        "{out}"
    );
    // Every failure exits 1 under this name, bad input included (mig-parted's status);
    // under the name gpupart bad input exits 2.
    let (rc, _, err) = run(command(&bin)
        .args(["assert", "-f", &f, "-c", "no-such-config"])
        .env("GPUPART_SIM_STATE", &st));
    assert_eq!(rc, 1, "{err}");
    assert!(err.contains("no-such-config"), "{err}");
    let (rc, _, _) = on_state(
        &st,
        None,
        &["mig", "assert", "-f", &f, "-c", "no-such-config"],
    );
    assert_eq!(rc, 2);
    let (rc, _, _) = run(command(&bin).args(["apply", "--no-such-flag"]));
    assert_eq!(rc, 1);
    let (rc, _, _) = run(gpupart().args(["mig", "apply", "--no-such-flag"]));
    assert_eq!(rc, 2);
}

fn hooks_file(dir: &std::path::Path, fail_at: Option<&str>) -> std::path::PathBuf {
    let log = dir.join("hooks.log");
    let mut yaml = String::from("version: v1\nhooks:\n");
    for point in [
        "apply-start",
        "pre-apply-mode",
        "pre-apply-config",
        "apply-exit",
    ] {
        let status = if fail_at == Some(point) { 3 } else { 0 };
        yaml.push_str(&format!(
            "  {point}:\n  - workdir: {dir}\n    command: /bin/sh\n    args: [\"-c\", \"echo {point} $MIG_PARTED_SELECTED_CONFIG $MIG_PARTED_SKIP_RESET $EXTRA >> {log}; exit {status}\"]\n    envs: {{EXTRA: x}}\n",
            dir = dir.display(),
            log = log.display(),
        ));
    }
    let path = dir.join("hooks.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn hooks_run_in_mig_parted_order_with_its_environment() {
    let dir = scratch("hooks");
    let st = dir.join("host.json");
    let hooks = hooks_file(&dir, None);
    let f = cfg();
    let h = hooks.to_str().unwrap();
    let (rc, _, err) = on_state(
        &st,
        Some("dgx-a100"),
        &["mig", "apply", "-f", &f, "-c", "all-2g.10gb", "-k", h],
    );
    assert_eq!(rc, 0, "{err}");
    let log = std::fs::read_to_string(dir.join("hooks.log")).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "apply-start all-2g.10gb false x",
            "pre-apply-mode all-2g.10gb false x",
            "pre-apply-config all-2g.10gb false x",
            "apply-exit all-2g.10gb false x",
        ]
    );
    // Nothing to change: only the start and exit hooks.
    std::fs::remove_file(dir.join("hooks.log")).unwrap();
    let (rc, _, _) = on_state(
        &st,
        None,
        &["mig", "apply", "-f", &f, "-c", "all-2g.10gb", "-k", h],
    );
    assert_eq!(rc, 0);
    let log = std::fs::read_to_string(dir.join("hooks.log")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
    // A failing pre-apply-config hook stops the apply before any change; apply-exit still runs.
    let failing = scratch("hooks-fail");
    let hooks = hooks_file(&failing, Some("pre-apply-config"));
    let (rc, _, err) = on_state(
        &st,
        None,
        &[
            "mig",
            "apply",
            "-f",
            &f,
            "-c",
            "all-3g.20gb",
            "-k",
            hooks.to_str().unwrap(),
        ],
    );
    assert_eq!(rc, 1);
    assert!(err.contains("pre-apply-config"), "{err}");
    let log = std::fs::read_to_string(failing.join("hooks.log")).unwrap();
    assert!(
        log.lines().last().unwrap().starts_with("apply-exit"),
        "{log}"
    );
    let (rc, _, _) = on_state(&st, None, &["mig", "assert", "-f", &f, "-c", "all-2g.10gb"]);
    assert_eq!(rc, 0, "the failed apply changed the host");
    // A hooks file with an unknown point is bad input, refused before anything runs.
    let bad = dir.join("bad-hooks.yaml");
    std::fs::write(&bad, "version: v1\nhooks:\n  pre-apply-modes: []\n").unwrap();
    let (rc, _, err) = on_state(
        &st,
        None,
        &[
            "mig",
            "apply",
            "-f",
            &f,
            "-c",
            "all-3g.20gb",
            "-k",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(rc, 2);
    assert!(err.contains("pre-apply-modes"), "{err}");
}

#[test]
fn skip_reset_and_mode_only() {
    let dir = scratch("reset");
    let st = dir.join("host.json");
    let f = cfg();
    // On an A100 the mode waits for a reset: with -s the devices cannot follow.
    let (rc, _, err) = on_state(
        &st,
        Some("dgx-a100"),
        &["mig", "apply", "-s", "-f", &f, "-c", "all-1g.5gb"],
    );
    assert_eq!(rc, 1);
    assert!(err.contains("pending until a reset"), "{err}");
    // -m -s: the mode only, pending, which is success.
    let (rc, out, err) = on_state(
        &st,
        None,
        &["mig", "apply", "-m", "-s", "-f", &f, "-c", "all-1g.5gb"],
    );
    assert_eq!((rc, out.trim()), (0, APPLIED), "{err}");
    let (rc, json, _) = on_state(&st, None, &["mig", "lgi", "--json"]);
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v[0]["mig"],
        serde_json::json!({"current": false, "pending": true})
    );
    // MIG_PARTED_SKIP_RESET=false and a full apply: reset, then the devices.
    let (rc, _, err) = run(gpupart()
        .args([
            "--sim-state",
            st.to_str().unwrap(),
            "mig",
            "apply",
            "-f",
            &f,
            "-c",
            "all-1g.5gb",
        ])
        .env("MIG_PARTED_SKIP_RESET", "false"));
    assert_eq!(rc, 0, "{err}");
    let (rc, _, _) = on_state(&st, None, &["mig", "assert", "-f", &f, "-c", "all-1g.5gb"]);
    assert_eq!(rc, 0);
}

#[test]
fn bad_input_exits_2_and_names_the_cause() {
    let dir = scratch("bad");
    let st = dir.join("host.json");
    let f = cfg();
    // Missing -c.
    let (rc, _, _) = run(gpupart().args(["--sim", "hgx-h100", "mig", "apply", "-f", &f]));
    assert_eq!(rc, 2);
    // A file that is not there, and one that is not YAML.
    let (rc, _, err) = run(gpupart().args([
        "--sim",
        "hgx-h100",
        "mig",
        "assert",
        "-f",
        "/nonexistent/cfg.yaml",
        "-c",
        "x",
    ]));
    assert_eq!(rc, 2);
    assert!(err.contains("/nonexistent/cfg.yaml"), "{err}");
    let junk = dir.join("junk.yaml");
    std::fs::write(&junk, "version: v1\nmig-configs: [1, 2\n").unwrap();
    let (rc, _, _) = run(gpupart().args([
        "--sim",
        "hgx-h100",
        "mig",
        "assert",
        "-f",
        junk.to_str().unwrap(),
        "-c",
        "x",
    ]));
    assert_eq!(rc, 2);
    // A configuration for other GPUs applies to none of these: refused, nothing changed.
    let (rc, _, err) = on_state(
        &st,
        Some("hgx-h100"),
        &["mig", "apply", "-f", &f, "-c", "all-1g.5gb"],
    );
    assert_eq!(rc, 2, "{err}");
    // --sim-state without --sim for a file that is not there.
    let (rc, _, err) = on_state(&dir.join("none.json"), None, &["mig", "lgi"]);
    assert_eq!(rc, 2);
    assert!(err.contains("--sim"), "{err}");
    // A state file no host could reach: two instances on the same slices.
    let forged = dir.join("forged.json");
    let gpus: Vec<String> = (0..8)
        .map(|i| {
            if i == 0 {
                r#"{"mig_current": true, "mig_pending": true, "instances": [{"profile_id": 9, "start": 0, "compute": []}, {"profile_id": 9, "start": 0, "compute": []}]}"#.to_owned()
            } else {
                r#"{"mig_current": false, "mig_pending": false, "instances": []}"#.to_owned()
            }
        })
        .collect();
    std::fs::write(
        &forged,
        format!(
            r#"{{"version": 1, "host": "hgx-h100", "gpus": [{}]}}"#,
            gpus.join(",")
        ),
    )
    .unwrap();
    let (rc, _, err) = on_state(&forged, None, &["mig", "lgi"]);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("GPU 0"), "{err}");
    // Not a state file at all; another preset than the file's.
    std::fs::write(&forged, "[]").unwrap();
    let (rc, _, _) = on_state(&forged, None, &["mig", "lgi"]);
    assert_eq!(rc, 2);
    let (rc, _, _) = on_state(&st, Some("dgx-a100"), &["mig", "lgi"]);
    assert_eq!(rc, 2);
}

#[test]
fn without_a_driver_or_sim_it_says_so() {
    let (rc, _, err) = run(gpupart().args(["mig", "lgi"]));
    // On a host with a driver this lists its GPUs; without one it suggests --sim.
    if rc != 0 {
        assert_eq!(rc, 1);
        assert!(err.contains("--sim"), "{err}");
    }
}

/// GPU instances as (GPU, profile, start, compute profiles), from `lgi --json`.
fn layout(state: &std::path::Path) -> Vec<(u64, String, u64, Vec<String>)> {
    let (rc, json, err) = on_state(state, None, &["mig", "lgi", "--json"]);
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut out = Vec::new();
    for g in v.as_array().unwrap() {
        for i in g["instances"].as_array().unwrap() {
            let mut compute: Vec<String> = i["compute"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["profile"].as_str().unwrap().to_owned())
                .collect();
            compute.sort();
            out.push((
                g["gpu"].as_u64().unwrap(),
                i["profile"].as_str().unwrap().to_owned(),
                i["start"].as_u64().unwrap(),
                compute,
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn checkpoint_and_restore_keep_placements_and_compute_instances() {
    let dir = scratch("checkpoint");
    let st = dir.join("host.json");
    let custom = dir.join("custom.yaml");
    std::fs::write(
        &custom,
        "version: v1\nmig-configs:\n  mixed-ci:\n  - devices: [0, 1]\n    mig-enabled: true\n    mig-devices:\n      \"1c.3g.20gb\": 1\n      \"2g.10gb\": 1\n      \"1g.5gb\": 1\n",
    )
    .unwrap();
    let c = custom.to_str().unwrap();
    let (rc, _, err) = on_state(
        &st,
        Some("dgx-a100"),
        &["mig", "apply", "-f", c, "-c", "mixed-ci"],
    );
    assert_eq!(rc, 0, "{err}");
    let before = layout(&st);
    assert!(
        before
            .iter()
            .any(|(_, p, _, ci)| p == "3g.20gb" && ci == &["1c.3g.20gb"]),
        "{before:?}"
    );
    let ck = dir.join("checkpoint.json");
    let (rc, _, err) = on_state(
        &st,
        None,
        &["mig", "checkpoint", "-f", ck.to_str().unwrap()],
    );
    assert_eq!(rc, 0, "{err}");
    // Something else entirely, then back.
    let f = cfg();
    let (rc, _, _) = on_state(&st, None, &["mig", "apply", "-f", &f, "-c", "all-1g.5gb"]);
    assert_eq!(rc, 0);
    assert_ne!(layout(&st), before);
    let (rc, out, err) = on_state(&st, None, &["mig", "restore", "-f", ck.to_str().unwrap()]);
    assert_eq!((rc, out.trim()), (0, APPLIED), "{err}");
    assert_eq!(layout(&st), before);
    // A checkpoint of another node (other UUIDs) is refused before anything changes.
    let text = std::fs::read_to_string(&ck)
        .unwrap()
        .replace("GPU-", "GPU-0");
    let other = dir.join("other.json");
    std::fs::write(&other, text).unwrap();
    let (rc, _, err) = on_state(
        &st,
        None,
        &["mig", "restore", "-f", other.to_str().unwrap()],
    );
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("another node"), "{err}");
    assert_eq!(layout(&st), before);
    // A checkpoint that is not there (named by the variable) is bad input.
    let (rc, _, _) = run(gpupart()
        .args(["--sim-state", st.to_str().unwrap(), "mig", "restore"])
        .env("MIG_PARTED_CHECKPOINT_FILE", dir.join("missing.json")));
    assert_eq!(rc, 2);
}

#[test]
fn generated_configs_apply_and_assert() {
    for host in ["dgx-a100", "hgx-h100", "mixed"] {
        let dir = scratch("generate");
        let (rc, yaml, err) = run(gpupart().args(["--sim", host, "mig", "generate-config"]));
        assert_eq!(rc, 0, "{err}");
        let path = dir.join("generated.yaml");
        std::fs::write(&path, &yaml).unwrap();
        let p = path.to_str().unwrap();
        let names: Vec<String> = yaml
            .lines()
            .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && l.trim_end().ends_with(':'))
            .map(|l| l.trim().trim_end_matches(':').to_owned())
            .collect();
        assert!(names.len() >= 8, "{host}: {yaml}");
        let st = dir.join("host.json");
        for name in &names {
            let (rc, _, err) = on_state(&st, Some(host), &["mig", "apply", "-f", p, "-c", name]);
            assert_eq!(rc, 0, "{host} {name}: {err}");
            let (rc, _, err) = on_state(&st, None, &["mig", "assert", "-f", p, "-c", name]);
            assert_eq!(rc, 0, "{host} {name}: {err}");
        }
    }
}

#[test]
fn profile_tables_in_nvidia_smi_layout() {
    let golden = |f: &str| {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../profiles/golden/h100-80gb-hbm3")
                .join(f),
        )
        .unwrap()
    };
    let (rc, out, _) = run(gpupart().args(["--sim", "hgx-h100", "mig", "lgip"]));
    assert_eq!(rc, 0);
    // Eight GPUs, each as the real H100 printed for GPU 0 (the header once).
    let body: String = golden("nvidia-smi-mig-lgip.txt")
        .lines()
        .skip(5)
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(out.starts_with(&golden("nvidia-smi-mig-lgip.txt")), "{out}");
    assert!(
        out.contains(&body.replace("|   0  MIG", "|   7  MIG")),
        "{out}"
    );
    let (rc, out, _) = run(gpupart().args(["--sim", "hgx-h100", "mig", "lgipp"]));
    assert_eq!(rc, 0);
    assert!(
        out.starts_with(&golden("nvidia-smi-mig-lgipp.txt")),
        "{out}"
    );
    assert_eq!(out.lines().count(), 8 * 7);
}

/// Progress lines go to stderr on a terminal only; `GPUPART_PROGRESS` overrides, and stdout
/// never gets them.
#[test]
fn progress_lines_on_stderr_when_asked() {
    let f = cfg();
    let args = [
        "--sim",
        "dgx-a100",
        "mig",
        "apply",
        "-f",
        &f,
        "-c",
        "all-1g.5gb",
    ];
    let (rc, out, err) = run(gpupart().args(args).env("GPUPART_PROGRESS", "always"));
    assert_eq!(rc, 0, "{err}");
    assert!(
        err.contains("gpupart: setting the MIG mode of GPU(s)"),
        "{err}"
    );
    assert!(err.contains("gpupart: resetting GPU 0"), "{err}");
    assert!(!out.contains("gpupart: "), "{out}");
    // A pipe is not a terminal: nothing by default.
    let (rc, _, err) = run(gpupart().args(args).env_remove("GPUPART_PROGRESS"));
    assert_eq!(rc, 0);
    assert!(!err.contains("gpupart: "), "{err}");
    let (_, _, err) = run(gpupart().args(args).env("GPUPART_PROGRESS", "never"));
    assert!(!err.contains("gpupart: "), "{err}");
}
