#![allow(clippy::expect_used, clippy::unwrap_used)]
//! The catalog against what `examples/inspect` printed on a real H100 and H200
//! (`mig/golden/`), row by row.

use gpupart_profiles::{NvmlGiProfileIndex, catalog};

fn check(file: &str, expected_model: &str) {
    let text =
        std::fs::read_to_string(format!("{}/golden/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    assert!(
        text.starts_with("source: NVML, driver "),
        "recorded from NVML, not the simulator"
    );
    let id_line = text.lines().find(|l| l.starts_with("GPU 0:")).unwrap();
    let id = id_line.split("ID 0x").nth(1).unwrap();
    let (dev, sub) = id.split_once("/0x").unwrap();
    let model = catalog::model_by_pci_device_id(
        u32::from_str_radix(dev, 16).unwrap(),
        Some(u32::from_str_radix(sub.trim(), 16).unwrap()),
    )
    .unwrap();
    assert_eq!(model.name, expected_model);
    assert!(text.contains(&format!("catalog model: {expected_model}")));
    let mut rows = 0;
    for line in text.lines().filter(|l| {
        l.starts_with("  ")
            && l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
    }) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let idx = NvmlGiProfileIndex::from_u32(f[0].parse().unwrap()).unwrap();
        let p = model.profile_by_nvml_id(f[1].parse().unwrap()).unwrap();
        assert_eq!(p.nvml_index, idx, "{line}");
        assert_eq!(p.name.to_string(), f[2], "{line}");
        assert_eq!(p.max_instances.to_string(), f[3], "{line}");
        assert_eq!(p.sms.unwrap().to_string(), f[4], "{line}");
        assert_eq!(p.memory_mib.unwrap().to_string(), f[5], "{line}");
        let engines =
            [p.copy_engines, p.decoders, p.encoders, p.jpeg, p.ofa].map(|x| x.unwrap().to_string());
        assert_eq!(engines.as_slice(), &f[6..11], "{line}");
        assert_eq!(p.p2p.unwrap(), f[11] == "yes", "{line}");
        let starts: Vec<String> = p.placements.iter().map(|pl| pl.start.to_string()).collect();
        assert_eq!(
            format!("{{{}}}:{}", starts.join(","), p.memory_slices),
            f[12],
            "{line}"
        );
        rows += 1;
    }
    assert_eq!(
        rows,
        model.profiles.len(),
        "every profile of {expected_model} was listed"
    );
    // The name NVML reported maps to the same model.
    let name = id_line
        .split("  ")
        .next()
        .unwrap()
        .trim_start_matches("GPU 0: ");
    assert_eq!(
        catalog::model_by_nvml_name(name).unwrap().name,
        expected_model,
        "{name}"
    );
}

#[test]
fn h100_80gb_hbm3() {
    check("inspect-h100-80gb-hbm3.txt", "H100-SXM-80GB");
}

#[test]
fn h200_141gb() {
    check("inspect-h200-141gb.txt", "H200-141GB");
}
