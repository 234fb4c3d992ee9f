#![allow(clippy::expect_used, clippy::unwrap_used)]
//! mig-parted configuration files: mig-parted's verdicts (strict parsing, with line, column
//! and suggestions), subsystem filters, `Nc.Mg.Xgb` keys, bounded work for any count, and
//! reports of what matches nothing. Each case of the compatibility issue is a test here.

use gpupart_mig::apply::{ApplyOptions, DesiredGpu, DesiredInstance, apply};
use gpupart_mig::config::{
    ConfigWarning, DeviceId, MigPartedConfig, assert_config, desired_state, export, validate,
};
use gpupart_mig::state::read_all;
use gpupart_mig::{Backend, Error, SimGpu, SimulatedNvml};
use gpupart_profiles::{ProfileName, catalog};

fn no_lock() -> ApplyOptions {
    ApplyOptions::default().lock_path(None)
}

fn refusal(yaml: &str) -> String {
    match MigPartedConfig::parse(yaml) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn one_entry(body: &str) -> String {
    format!("version: v1\nmig-configs:\n  mine:\n    - devices: all\n{body}")
}

#[test]
fn a_misspelt_key_is_refused_with_its_place_and_the_right_one() {
    // Applied as "MIG on, no instances", this emptied a GPU holding four instances.
    let yaml = one_entry("      mig-enabled: true\n      mig-device:\n        \"1g.5gb\": 7\n");
    let msg = refusal(&yaml);
    assert!(msg.contains("\"mig-device\""), "{msg}");
    assert!(msg.contains("did you mean \"mig-devices\"?"), "{msg}");
    assert!(msg.contains("line 6, column 7"), "{msg}");
    let yaml = one_entry("      mig-enable: true\n      mig-devices: {}\n");
    let msg = refusal(&yaml);
    assert!(msg.contains("did you mean \"mig-enabled\"?"), "{msg}");
    let yaml = one_entry("      mig-enabled: false\n      extra-key: 1\n");
    let msg = refusal(&yaml);
    assert!(msg.contains("unexpected field \"extra-key\""), "{msg}");
    let msg =
        refusal("version: v1\nmig-config:\n  a:\n    - devices: all\n      mig-enabled: false\n");
    assert!(msg.contains("did you mean \"mig-configs\"?"), "{msg}");
}

#[test]
fn the_gpu_a_typo_would_have_emptied_stays_as_it_is() {
    let node = SimulatedNvml::new(vec![SimGpu::new(&catalog::A100_40GB).mig_enabled()]);
    let want = [DesiredGpu::new(
        0,
        true,
        ["2g.10gb", "1g.5gb", "1g.5gb", "3g.20gb"]
            .iter()
            .map(|p| DesiredInstance::new(p.parse().unwrap()))
            .collect(),
    )];
    apply(&node, &want, &no_lock()).unwrap();
    let yaml = one_entry("      mig-enabled: true\n      mig-device:\n        \"1g.5gb\": 7\n");
    assert!(MigPartedConfig::parse(&yaml).is_err());
    assert_eq!(node.gpu_instances(0).unwrap().len(), 4);
}

#[test]
fn what_mig_parted_refuses_is_refused() {
    let cases = [
        (
            "      mig-enabled: true\n",
            "missing required field mig-devices",
        ),
        (
            "      mig-enabled: false\n      mig-devices:\n        \"1g.5gb\": 1\n",
            "MIG devices included when mig-enabled is false",
        ),
        (
            "      mig-enabled: true\n      mig-devices:\n        \"1g.5gb\": \"7\"\n",
            "the string \"7\"; expected an integer (write it without quotes)",
        ),
        (
            "      mig-enabled: true\n      mig-devices:\n        \"1g.5gb\": -1\n",
            "invalid count -1",
        ),
        (
            "      mig-enabled: true\n      mig-devices:\n        \"1g.5gb\": 0\n",
            "all counts for all MIG profiles are 0",
        ),
        (
            "      mig-enabled: true\n      mig-devices:\n        \"0g.5gb\": 1\n",
            "error validating values in mig-devices",
        ),
        (
            "      mig-enabled: \"true\"\n      mig-devices: {}\n",
            "expected true or false",
        ),
        (
            "      device-filter: 0x233010DE\n      mig-enabled: false\n",
            "quote it: \"0x233010DE\"",
        ),
    ];
    for (body, why) in cases {
        let msg = refusal(&one_entry(body));
        assert!(msg.contains(why), "{body:?}: {msg}");
        assert!(msg.contains("line "), "{body:?}: no line in {msg}");
    }
    let msg = refusal("version: v1\nmig-configs:\n  empty: []\n");
    assert!(
        msg.contains("at least one entry in \"empty\" is required"),
        "{msg}"
    );
    let msg = refusal("version: v1\nmig-configs: {}\n");
    assert!(msg.contains("at least one entry in mig-configs"), "{msg}");
    // No mig-configs at all (found by the fuzzer: it parsed, and printed what did not).
    let msg = refusal("version: v1\n");
    assert!(msg.contains("missing mig-configs"), "{msg}");
    let msg = refusal("mig-configs:\n  a:\n    - devices: all\n      mig-enabled: false\n");
    assert!(msg.contains("missing version"), "{msg}");
    let msg =
        refusal("version: v2\nmig-configs:\n  a:\n    - devices: all\n      mig-enabled: false\n");
    assert!(msg.contains("unknown version \"v2\""), "{msg}");
    let msg =
        refusal("version: v1\nmig-configs:\n  a:\n    - devices: some\n      mig-enabled: false\n");
    assert!(msg.contains("invalid string input for devices"), "{msg}");
    let msg = refusal("version: v1\nmig-configs:\n  a:\n    - mig-enabled: false\n");
    assert!(msg.contains("missing required field devices"), "{msg}");
}

#[test]
fn what_mig_parted_accepts_is_accepted() {
    for body in [
        "      mig-enabled: true\n      mig-devices: {}\n",
        "      mig-enabled: true\n      mig-devices:\n",
        "      mig-enabled: false\n      mig-devices: {}\n",
        "      mig-enabled: false\n",
        "      mig-enabled: true\n      mig-devices:\n        \"1g.5gb\": 0\n        \"2g.10gb\": 1\n",
        "      device-filter: \"\"\n      mig-enabled: false\n",
        "      device-filter: [\"0x20B010DE\", \"0x233010DE:0x16C010DE\"]\n      mig-enabled: false\n",
        "      mig-enabled: true\n      mig-devices:\n        \"1c.3g.20gb\": 2\n        \"1g.10gb+me\": 1\n",
    ] {
        MigPartedConfig::parse(&one_entry(body)).unwrap_or_else(|e| panic!("{body:?}: {e}"));
    }
}

#[test]
fn subsystem_filters_use_mig_parteds_colon_form() {
    let id: DeviceId = "0x233010DE:0x16C010DE".parse().unwrap();
    assert!(id.matches(0x2330_10DE, Some(0x16C0_10DE)));
    assert!(!id.matches(0x2330_10DE, Some(0x16C1_10DE)));
    assert!(!id.matches(0x2330_10DE, None));
    let primary: DeviceId = "0x233010DE".parse().unwrap();
    assert!(primary.matches(0x2330_10DE, Some(0x16C1_10DE)) && primary.matches(0x2330_10DE, None));
    assert_eq!(id.to_string(), "0x233010DE:0x16C010DE");
    let comma = "0x233010DE,0x16C010DE"
        .parse::<DeviceId>()
        .unwrap_err()
        .to_string();
    assert!(comma.contains("after a colon, not a comma"), "{comma}");
    assert!("0x233010DE:0x16C010DE:extra".parse::<DeviceId>().is_err());
    let msg = refusal(&one_entry(
        "      device-filter: \"0x233010DE,0x16C010DE\"\n      mig-enabled: false\n",
    ));
    assert!(
        msg.contains("colon, not a comma") && msg.contains("line 5"),
        "{msg}"
    );

    // On a node: the sibling subsystem is not matched, the primary-only filter matches both.
    let node = SimulatedNvml::new(vec![
        SimGpu::new(&catalog::H100_SXM_80GB).with_pci_subsystem_id(0x16C0_10DE),
        SimGpu::new(&catalog::H100_SXM_80GB).with_pci_subsystem_id(0x16C1_10DE),
    ]);
    let gpus = read_all(&node).unwrap();
    let cfg = MigPartedConfig::parse(
        "version: v1\nmig-configs:\n  sub:\n    - device-filter: \"0x233010DE:0x16C010DE\"\n      devices: all\n      mig-enabled: true\n      mig-devices: {}\n  any:\n    - device-filter: \"0x233010DE\"\n      devices: all\n      mig-enabled: true\n      mig-devices: {}\n",
    )
    .unwrap();
    let sub: Vec<u32> = desired_state(&cfg, "sub", &gpus)
        .unwrap()
        .iter()
        .map(|d| d.gpu)
        .collect();
    assert_eq!(sub, [0]);
    let any: Vec<u32> = desired_state(&cfg, "any", &gpus)
        .unwrap()
        .iter()
        .map(|d| d.gpu)
        .collect();
    assert_eq!(any, [0, 1]);
}

#[test]
fn compute_instance_keys_create_that_compute_instance() {
    let node = SimulatedNvml::new(vec![SimGpu::new(&catalog::A100_40GB).mig_enabled()]);
    let cfg = MigPartedConfig::parse(&one_entry(
        "      mig-enabled: true\n      mig-devices:\n        \"1c.3g.20gb\": 2\n",
    ))
    .unwrap();
    let gpus = read_all(&node).unwrap();
    let desired = desired_state(&cfg, "mine", &gpus).unwrap();
    apply(&node, &desired, &no_lock()).unwrap();
    let state = read_all(&node).unwrap();
    assert_eq!(state[0].instances.len(), 2);
    for x in &state[0].instances {
        assert_eq!(x.profile.name.to_string(), "3g.20gb");
        let ci: Vec<String> = x.compute.iter().map(|(_, c)| c.name.to_string()).collect();
        assert_eq!(
            ci,
            ["1c.3g.20gb"],
            "one 1-slice compute instance per GPU instance"
        );
    }
    assert_config(&cfg, "mine", &state).unwrap();
    // Exported as written.
    let out = export(&state, "now");
    assert_eq!(out.mig_configs["now"][0].mig_devices["1c.3g.20gb"], 2);
    // Full compute instances do not pass for 1c ones.
    let full = MigPartedConfig::parse(&one_entry(
        "      mig-enabled: true\n      mig-devices:\n        \"3g.20gb\": 2\n",
    ))
    .unwrap();
    assert!(matches!(
        assert_config(&full, "mine", &state),
        Err(Error::Mismatch { .. })
    ));
    let unknown = MigPartedConfig::parse(&one_entry(
        "      mig-enabled: true\n      mig-devices:\n        \"4c.3g.20gb\": 1\n",
    ));
    assert!(
        unknown.is_err(),
        "a compute profile larger than its GPU instance is no name"
    );
}

#[test]
fn huge_counts_cost_nothing_and_short_messages() {
    let node = SimulatedNvml::new(vec![SimGpu::new(&catalog::A100_40GB).mig_enabled()]);
    let gpus = read_all(&node).unwrap();
    for count in [1_000_000u64, 100_000_000, 4_294_967_295] {
        let cfg = MigPartedConfig::parse(&one_entry(&format!(
            "      mig-enabled: true\n      mig-devices:\n        \"1g.5gb\": {count}\n"
        )))
        .unwrap();
        let err = desired_state(&cfg, "mine", &gpus).unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
        assert!(err.contains("holds at most 7"), "{err}");
    }
    let msg = refusal(&one_entry(
        "      mig-enabled: true\n      mig-devices:\n        \"1g.5gb\": 99999999999\n",
    ));
    assert!(msg.contains("over 4294967295"), "{msg}");
    // A huge key is quoted cut short.
    let long = "x".repeat(100_000);
    let msg = refusal(&one_entry(&format!(
        "      mig-enabled: true\n      mig-devices:\n        \"{long}\": 1\n"
    )));
    assert!(msg.len() < 600, "{} bytes", msg.len());
    // A file past the limit is not read at all.
    let big = format!(
        "{}\n{}",
        one_entry("      mig-enabled: false\n"),
        "#".repeat(5 << 20)
    );
    assert!(refusal(&big).contains("at most"));
}

#[test]
fn what_matches_nothing_is_reported() {
    let node = SimulatedNvml::dgx_a100();
    let gpus = read_all(&node).unwrap();
    let cfg = MigPartedConfig::parse(
        "version: v1\nmig-configs:\n  far:\n    - devices: [99999]\n      mig-enabled: false\n  other-board:\n    - device-filter: \"0x233010DE\"\n      devices: all\n      mig-enabled: false\n  mixed:\n    - device-filter: \"0x233010DE\"\n      devices: all\n      mig-enabled: false\n    - devices: all\n      mig-enabled: false\n",
    )
    .unwrap();
    let v = validate(&cfg, "far", &gpus).unwrap();
    assert!(
        v.warnings
            .iter()
            .any(|w| matches!(w, ConfigWarning::NoSuchDevice { index: 99999, .. }))
    );
    let err = desired_state(&cfg, "far", &gpus).unwrap_err().to_string();
    assert!(
        err.contains("names GPU 99999") && err.contains("line 4"),
        "{err}"
    );
    let err = desired_state(&cfg, "other-board", &gpus)
        .unwrap_err()
        .to_string();
    assert!(err.contains("applies to any GPU"), "{err}");
    // An entry for another board beside one that applies: a warning, not an error.
    let v = validate(&cfg, "mixed", &gpus).unwrap();
    assert_eq!(v.warnings.len(), 1);
    assert!(v.warnings[0].to_string().contains("entry 1 of \"mixed\""));
    assert_eq!(desired_state(&cfg, "mixed", &gpus).unwrap().len(), 8);
    // A short device ID is refused where it stands.
    let msg = refusal(&one_entry(
        "      device-filter: \"0x2330\"\n      mig-enabled: false\n",
    ));
    assert!(
        msg.contains("8 hex digits") && msg.contains("line 5"),
        "{msg}"
    );
}

#[test]
fn a_misspelt_configuration_name_gets_the_closest_one() {
    let cfg = MigPartedConfig::parse(
        "version: v1\nmig-configs:\n  all-balanced:\n    - devices: all\n      mig-enabled: false\n  all-disabled:\n    - devices: all\n      mig-enabled: false\n",
    )
    .unwrap();
    let err = cfg.config("all-balance").unwrap_err().to_string();
    assert!(err.contains("did you mean \"all-balanced\"?"), "{err}");
}

#[test]
fn every_catalog_model_can_be_simulated_and_applied_or_says_which_id_is_unknown() {
    for model in catalog::models() {
        let node = SimulatedNvml::new(vec![SimGpu::new(model).mig_enabled()]);
        for p in model.profiles {
            let want = [DesiredGpu::new(0, true, vec![DesiredInstance::new(p.name)])];
            match (p.nvml_id, apply(&node, &want, &no_lock())) {
                (Some(_), Ok(_)) => {
                    let s = read_all(&node).unwrap();
                    assert_eq!(s[0].instances[0].profile.name, p.name, "{}", model.name);
                }
                (None, Err(e)) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains("no NVML profile ID") && msg.contains(&p.name.to_string()),
                        "{}: {msg}",
                        model.name
                    );
                }
                (id, r) => panic!("{} {}: id {id:?}, apply {r:?}", model.name, p.name),
            }
            apply(&node, &[DesiredGpu::new(0, true, vec![])], &no_lock()).unwrap();
        }
    }
    let n: ProfileName = "3g.90gb".parse().unwrap();
    let b200 = catalog::B200_180GB.profile_by_name(&n).unwrap();
    assert_eq!(b200.nvml_id, Some(9));
}
