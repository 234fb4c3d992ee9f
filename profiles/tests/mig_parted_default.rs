//! Every profile named by NVIDIA's default mig-parted configuration
//! (`mig/fixtures/mig-parted-config-default.yaml`, the repository's one copy; its origin is in
//! `mig/fixtures/README.md`) resolves on the boards its device
//! filters — or, for configurations without a filter, the comment above them — name.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;

use gpupart_profiles::{GpuModel, ProfileName, catalog};
use serde::Deserialize;

const CONFIG: &str = include_str!("../../mig/fixtures/mig-parted-config-default.yaml");

#[derive(Debug, Deserialize)]
struct Spec {
    version: String,
    #[serde(rename = "mig-configs")]
    configs: BTreeMap<String, Vec<Entry>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "device-filter")]
    device_filter: Option<OneOrMany>,
    #[serde(rename = "mig-enabled")]
    mig_enabled: bool,
    #[serde(rename = "mig-devices", default)]
    mig_devices: BTreeMap<String, u32>,
}

/// The catalog models a board name in the configuration's comments stands for.
fn models_for_comment_token(token: &str) -> Vec<&'static GpuModel> {
    use catalog::*;
    match token {
        "A100-40GB" | "A800-40GB" => vec![&A100_40GB],
        "A100-80GB" | "A800-80GB" => vec![&A100_80GB],
        "A30-24GB" => vec![&A30_24GB],
        "H100-80GB" | "H800-80GB" => vec![&H100_SXM_80GB, &H100_PCIE_80GB],
        "H100 NVL" | "H800 NVL" => vec![&H100_NVL_94GB],
        "H100-96GB" | "PG506-96GB" => vec![&H100_96GB],
        "GH200" => vec![&GH200_96GB],
        "GH200 144G HBM3e" => vec![&GH200_144GB],
        "H20" => vec![&H20_96GB],
        "H200-141GB" | "H200 141GB" => vec![&H200_141GB],
        "H200 NVL" => vec![&H200_NVL_141GB],
        "B200" => vec![&B200_180GB],
        "GB200" | "GB200 HGX" => vec![&GB200_186GB],
        "B300" => vec![&B300_269GB],
        "GB300" => vec![&GB300_278GB],
        "RTX PRO 6000 Blackwell" => vec![&RTX_PRO_6000_BLACKWELL],
        other => panic!("comment names a board the test does not know: {other:?}"),
    }
}

/// For each top-level configuration, the board comment that stands above it (comments at
/// two spaces of indentation apply to the configurations below them, up to the next one).
fn comment_scopes(text: &str) -> BTreeMap<String, Vec<&'static GpuModel>> {
    let mut current: Vec<&'static GpuModel> = Vec::new();
    let mut scopes = BTreeMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("  # ") {
            current = comment
                .split(',')
                .flat_map(|t| models_for_comment_token(t.trim()))
                .collect();
        } else if let Some(key) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':'))
            && !key.starts_with(' ')
            && !key.starts_with('-')
        {
            scopes.insert(key.to_owned(), current.clone());
        }
    }
    scopes
}

fn resolves(model: &GpuModel, devices: &BTreeMap<String, u32>) -> Result<(), String> {
    for (name, count) in devices {
        let parsed: ProfileName = name.parse().map_err(|e| format!("{e}"))?;
        let profile = model.profile_by_name(&parsed).map_err(|e| e.to_string())?;
        if *count > u32::from(profile.max_instances) {
            return Err(format!(
                "{count} × {name} exceeds {} instances on {}",
                profile.max_instances, model.name
            ));
        }
    }
    Ok(())
}

/// Configurations whose profile names no current board uses, with the reason.
/// (`all-1g.24gb.me` was here until the RTX PRO 6000's driver output was found: it lists
/// `MIG 1g.24gb+me  21  1/1`, so that configuration is for that board; see the test below.)
const KNOWN_UNRESOLVED: &[(&str, &str)] = &[
    (
        "all-3g.95gb",
        "a 189 GB Blackwell board (95 = 189/2) whose PCI device ID the configuration never names",
    ),
    ("all-4g.95gb", "the same 189 GB board"),
    ("all-7g.189gb", "the same 189 GB board"),
];

#[test]
fn every_profile_resolves_on_the_boards_it_targets() {
    let text = CONFIG;
    let spec: Spec = serde_saphyr::from_str(text).expect("config-default.yaml parses");
    assert_eq!(spec.version, "v1");
    assert_eq!(spec.configs.len(), 81, "the fixture has 81 configurations");
    let scopes = comment_scopes(text);
    let mut filtered_checks = 0;
    let mut failures = Vec::new();
    let mut pci_ids = std::collections::BTreeSet::new();
    for (config, entries) in &spec.configs {
        for entry in entries {
            if !entry.mig_enabled {
                assert!(
                    entry.mig_devices.is_empty(),
                    "{config}: devices without MIG"
                );
                continue;
            }
            match &entry.device_filter {
                Some(filter) => {
                    let ids = match filter {
                        OneOrMany::One(id) => vec![id.clone()],
                        OneOrMany::Many(ids) => ids.clone(),
                    };
                    for id in ids {
                        let id: gpupart_profiles::PciDeviceId = id.parse().expect("valid ID");
                        pci_ids.insert(id);
                        let model = catalog::model_by_pci_device_id(id.combined(), None)
                            .unwrap_or_else(|e| panic!("{config}: {e}"));
                        if let Err(e) = resolves(model, &entry.mig_devices) {
                            failures.push(format!("{config} on {id}: {e}"));
                        }
                        filtered_checks += 1;
                    }
                }
                None if entry.mig_devices.is_empty() => {}
                None => {
                    let targets = &scopes[config];
                    assert!(!targets.is_empty(), "{config}: no comment names its boards");
                    let ok: Vec<_> = targets
                        .iter()
                        .filter(|m| resolves(m, &entry.mig_devices).is_ok())
                        .collect();
                    let known = KNOWN_UNRESOLVED.iter().any(|(c, _)| c == config);
                    if ok.is_empty() && !known {
                        // The comments are positional: a configuration may sit under the comment
                        // of its neighbours. It must still resolve on some catalog board.
                        let anywhere: Vec<_> = catalog::models()
                            .iter()
                            .filter(|m| resolves(m, &entry.mig_devices).is_ok())
                            .map(|m| m.name)
                            .collect();
                        if anywhere.is_empty() {
                            failures.push(format!("{config}: resolves on no board"));
                        }
                    }
                    if known {
                        assert!(
                            ok.is_empty(),
                            "{config} now resolves: drop it from KNOWN_UNRESOLVED"
                        );
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(
        pci_ids.len(),
        27,
        "the fixture's device filters name 27 PCI device IDs"
    );
    assert!(filtered_checks >= 27);
}

#[test]
fn every_filtered_pci_id_is_in_the_catalog_once() {
    let boards: usize = catalog::models().iter().map(|m| m.boards.len()).sum();
    assert_eq!(boards, 27);
}

#[test]
fn all_1g_24gb_me_is_the_rtx_pro_6000s() {
    let spec: Spec = serde_saphyr::from_str(CONFIG).expect("config-default.yaml parses");
    let entries = &spec.configs["all-1g.24gb.me"];
    let model = &catalog::RTX_PRO_6000_BLACKWELL;
    for entry in entries {
        resolves(model, &entry.mig_devices).expect("1g.24gb+me: 1 resolves on the RTX PRO 6000");
    }
    let p = model.profile_by_str("1g.24gb+me").unwrap();
    assert_eq!(
        (p.nvml_id, p.max_instances, p.sms, p.ofa),
        (Some(21), 1, Some(46), Some(1))
    );
}
