//! The H100 SXM5 80GB and H200 entries equal what the real driver reported, field by field.
//!
//! `profiles/golden/<board>/nvml.json` was recorded read-only (MIG mode disabled) with
//! `tools/golden/record_nvml.py` on 2026-11-24, driver 580.159.04, NVML 13.580.159.04; the
//! directory also holds `nvidia-smi mig -lgip` / `-lgipp` output of the same machines.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use gpupart_profiles::{GpuModel, NvmlGiProfileIndex, Placement, ProfileName, catalog};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Dump {
    driver_version: String,
    devices: Vec<Device>,
}

#[derive(Debug, Deserialize)]
struct Device {
    name: String,
    pci_device_id: String,
    memory_total_bytes: u64,
    profiles: Vec<ProfileEntry>,
}

#[derive(Debug, Deserialize)]
struct ProfileEntry {
    profile_index: u32,
    info_v: Option<Info>,
    placements: Option<Vec<[u8; 2]>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Info {
    id: u32,
    name: String,
    slice_count: u8,
    instance_count: u8,
    multiprocessor_count: u16,
    copy_engine_count: u8,
    decoder_count: u8,
    encoder_count: u8,
    jpeg_count: u8,
    ofa_count: u8,
    #[serde(rename = "memorySizeMB")]
    memory_size_mb: u32,
    is_p2p_supported: u8,
}

fn check(dir: &str, expected_model: &GpuModel) {
    let path = format!("{}/golden/{dir}/nvml.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("golden data is in the repo");
    let dump: Dump = serde_json::from_str(&text).expect("golden JSON parses");
    assert_eq!(dump.driver_version, "580.159.04");
    assert_eq!(dump.devices.len(), 1);
    let dev = &dump.devices[0];
    let id: gpupart_profiles::PciDeviceId = dev.pci_device_id.parse().expect("valid");
    let model = catalog::model_by_pci_device_id(id.combined(), None).expect("known board");
    assert_eq!(
        model.name, expected_model.name,
        "{} maps to the model",
        dev.pci_device_id
    );
    assert_eq!(model, expected_model);
    let by_name = catalog::model_by_nvml_name(&dev.name).expect("known NVML name");
    assert_eq!(by_name, expected_model);
    assert_eq!(
        model.memory_mib.map(u64::from),
        Some(dev.memory_total_bytes / (1024 * 1024)),
        "total memory"
    );

    let mut seen = 0;
    for entry in &dev.profiles {
        let index = NvmlGiProfileIndex::from_u32(entry.profile_index);
        let Some(info) = &entry.info_v else {
            // NOT_SUPPORTED on this board: the catalog must not have a profile at that index.
            if let Some(index) = index {
                assert!(
                    model.profile_by_nvml_index(index).is_none(),
                    "{dir}: {index:?}"
                );
            }
            continue;
        };
        seen += 1;
        let name = ProfileName::from_nvml_name(&info.name).expect("driver names parse");
        let p = model
            .profile_by_name(&name)
            .expect("every driver profile is in the catalog");
        let what = format!("{dir} {name}");
        assert_eq!(p.nvml_id, Some(info.id), "{what}: id");
        assert_eq!(Some(p.nvml_index), index, "{what}: index");
        assert_eq!(p.compute_slices, info.slice_count, "{what}: slices");
        assert_eq!(p.max_instances, info.instance_count, "{what}: instances");
        assert_eq!(p.sms, Some(info.multiprocessor_count), "{what}: SMs");
        assert_eq!(p.copy_engines, Some(info.copy_engine_count), "{what}: CE");
        assert_eq!(p.decoders, Some(info.decoder_count), "{what}: DEC");
        assert_eq!(p.encoders, Some(info.encoder_count), "{what}: ENC");
        assert_eq!(p.jpeg, Some(info.jpeg_count), "{what}: JPEG");
        assert_eq!(p.ofa, Some(info.ofa_count), "{what}: OFA");
        assert_eq!(p.memory_mib, Some(info.memory_size_mb), "{what}: memory");
        assert_eq!(p.p2p, Some(info.is_p2p_supported != 0), "{what}: P2P");
        let placements: Vec<Placement> = entry
            .placements
            .as_ref()
            .expect("placements recorded")
            .iter()
            .map(|[s, n]| Placement::new(*s, *n))
            .collect();
        assert_eq!(p.placements, placements.as_slice(), "{what}: placements");
        assert_eq!(p.memory_slices, placements[0].size, "{what}: memory slices");
    }
    assert_eq!(
        seen,
        model.profiles.len(),
        "{dir}: the catalog has no profile the driver lacks"
    );
}

#[test]
fn h100_sxm5_80gb_matches_the_driver() {
    check("h100-80gb-hbm3", &catalog::H100_SXM_80GB);
}

#[test]
fn h200_matches_the_driver() {
    check("h200-141gb", &catalog::H200_141GB);
}

#[test]
fn nvidia_smi_lgipp_agrees_with_the_catalog() {
    // `GPU  0 Profile ID 15 Placements: {0,2,4,6}:2`
    for (dir, model) in [
        ("h100-80gb-hbm3", &catalog::H100_SXM_80GB),
        ("h200-141gb", &catalog::H200_141GB),
    ] {
        let path = format!(
            "{}/golden/{dir}/nvidia-smi-mig-lgipp.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path).expect("golden text");
        let mut lines = 0;
        for line in text.lines().filter(|l| l.contains("Profile ID")) {
            let (head, tail) = line.split_once(':').expect("colon");
            let id: u32 = head
                .split_whitespace()
                .nth(4)
                .expect("id")
                .parse()
                .expect("number");
            let tail = tail.trim();
            let (starts, size) = tail
                .trim_start_matches('{')
                .split_once("}:")
                .expect("{..}:n");
            let size: u8 = size.parse().expect("size");
            let expected: Vec<Placement> = starts
                .split(',')
                .map(|s| Placement::new(s.parse().expect("start"), size))
                .collect();
            let p = model.profile_by_nvml_id(id).expect("known id");
            assert_eq!(p.placements, expected.as_slice(), "{dir} profile {id}");
            lines += 1;
        }
        assert_eq!(lines, model.profiles.len());
    }
}
