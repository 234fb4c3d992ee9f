//! Every model of the catalog: look-ups round-trip, invariants hold at run time too, and typed
//! layouts never accept an illegal or overlapping placement.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use gpupart_profiles::typed::{
    Layout, MigModel, TypedProfile, a30_24gb, a100_40gb, h100_sxm_80gb, rtx_pro_6000,
};
use gpupart_profiles::{Error, GpuModel, Placement, ProfileName, catalog};
use proptest::prelude::*;

#[test]
fn every_model_is_valid_and_found_every_way() {
    assert_eq!(catalog::models().len(), 17);
    for model in catalog::models() {
        model.assert_valid();
        assert_eq!(catalog::model_by_name(model.name).unwrap(), *model);
        assert_eq!(
            catalog::model_by_name(&model.name.to_lowercase()).unwrap(),
            *model
        );
        for board in model.boards {
            let found =
                catalog::model_by_pci_device_id(board.pci_device_id.combined(), None).unwrap();
            assert_eq!(found, *model, "{}", board.pci_device_id);
            let reparsed: gpupart_profiles::PciDeviceId =
                board.pci_device_id.to_string().parse().unwrap();
            assert_eq!(reparsed, board.pci_device_id);
            if let Some(name) = board.nvml_name {
                assert_eq!(catalog::model_by_nvml_name(name).unwrap(), *model, "{name}");
            }
        }
        for p in model.profiles {
            let text = p.name.to_string();
            assert_eq!(
                model.profile_by_str(&text).unwrap(),
                p,
                "{} {text}",
                model.name
            );
            assert_eq!(model.profile_by_nvml_index(p.nvml_index).unwrap(), p);
            if let Some(id) = p.nvml_id {
                assert_eq!(model.profile_by_nvml_id(id).unwrap(), p);
            }
            for ci in p.compute_profiles {
                assert_eq!(p.compute_profile(&ci.name), Some(ci), "{}", ci.name);
                let long = p.name.with_compute(ci.compute_slices).unwrap();
                assert_eq!(p.compute_profile(&long), Some(ci), "{long}");
            }
        }
    }
}

#[test]
fn a100_40gb_is_complete() {
    let m = &catalog::A100_40GB;
    let expected = [
        ("1g.5gb", 19, 1, 1, 7, "0:1 1:1 2:1 3:1 4:1 5:1 6:1"),
        ("1g.5gb+me", 20, 1, 1, 1, "0:1 1:1 2:1 3:1 4:1 5:1 6:1"),
        ("1g.10gb", 15, 1, 2, 4, "0:2 2:2 4:2 6:2"),
        ("2g.10gb", 14, 2, 2, 3, "0:2 2:2 4:2"),
        ("3g.20gb", 9, 3, 4, 2, "0:4 4:4"),
        ("4g.20gb", 5, 4, 4, 1, "0:4"),
        ("7g.40gb", 0, 7, 8, 1, "0:8"),
    ];
    assert_eq!(m.profiles.len(), expected.len());
    for (name, id, compute, memory, instances, placements) in expected {
        let p = m.profile_by_str(name).unwrap();
        assert_eq!(p.nvml_id, Some(id), "{name}");
        assert_eq!(
            (p.compute_slices, p.memory_slices, p.max_instances),
            (compute, memory, instances)
        );
        let printed: Vec<String> = p.placements.iter().map(ToString::to_string).collect();
        assert_eq!(printed.join(" "), placements, "{name}");
        assert!(
            p.sms.is_some() && p.copy_engines.is_some() && p.decoders.is_some(),
            "{name}"
        );
    }
    let ci: Vec<String> = m
        .profile_by_str("3g.20gb")
        .unwrap()
        .compute_profiles
        .iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(ci, ["1c.3g.20gb", "2c.3g.20gb", "3g.20gb"]);
}

#[test]
fn find_profile_answers_as_profile_by_name_without_the_error() {
    let names: Vec<ProfileName> = [
        "1g.5gb",
        "1g.10gb",
        "3g.71gb",
        "7g.40gb",
        "1c.3g.20gb",
        "9g.90gb",
    ]
    .iter()
    .map(|n| n.parse().unwrap())
    .collect();
    for model in catalog::MODELS {
        for name in &names {
            assert_eq!(
                model.find_profile(name),
                model.profile_by_name(name).ok(),
                "{} {name}",
                model.name
            );
        }
        for p in model.profiles {
            assert!(core::ptr::eq(model.find_profile(&p.name).unwrap(), p));
        }
    }
}

#[test]
fn look_up_errors_name_the_value() {
    let e = catalog::model_by_pci_device_id(0x1234_10DE, None).unwrap_err();
    assert!(e.to_string().contains("0x123410DE"), "{e}");
    let e = catalog::model_by_name("Z100").unwrap_err();
    assert!(e.to_string().contains("Z100"), "{e}");
    let e = catalog::model_by_nvml_name("NVIDIA Z100").unwrap_err();
    assert!(e.to_string().contains("NVIDIA Z100"), "{e}");
    let e = catalog::A100_40GB.profile_by_str("1g.10gb+me").unwrap_err();
    assert_eq!(
        e,
        Error::UnknownProfile {
            model: "A100-40GB",
            profile: "1g.10gb+me".into()
        }
    );
    let e = catalog::A100_40GB.profile_by_nvml_id(99).unwrap_err();
    assert!(
        e.to_string().contains("99") && e.to_string().contains("A100-40GB"),
        "{e}"
    );
}

/// Tries every `(profile, start)` in turn on a typed layout and checks every invariant.
fn exercise<M: MigModel>(ops: &[(usize, u8)]) -> Result<(), TestCaseError> {
    let model: &GpuModel = M::MODEL;
    let mut layout = Layout::<M>::new();
    for &(pi, start) in ops {
        let profile = &model.profiles[pi % model.profiles.len()];
        let typed = TypedProfile::<M>::find(&profile.name).unwrap();
        let before = layout.instances().len();
        let mask_before = layout.occupied_mask();
        let legal = profile.placement_at(start);
        match layout.place(typed, start) {
            Ok(placement) => {
                prop_assert_eq!(Some(placement), legal, "only legal placements");
                prop_assert_eq!(mask_before & placement.mask(), 0, "no overlap");
            }
            Err(e) => {
                prop_assert_eq!(layout.instances().len(), before, "refusal changes nothing");
                prop_assert_eq!(layout.occupied_mask(), mask_before);
                let text = e.to_string();
                prop_assert!(text.contains(&profile.name.to_string()), "{}", text);
            }
        }
    }
    // Invariants of the final layout.
    let placed: Vec<Placement> = layout.instances().iter().map(|(_, p)| *p).collect();
    for (i, a) in placed.iter().enumerate() {
        for b in &placed[i + 1..] {
            prop_assert!(!a.overlaps(*b));
        }
    }
    for p in model.profiles {
        let n = layout
            .instances()
            .iter()
            .filter(|(t, _)| t.profile() == p)
            .count();
        prop_assert!(n <= usize::from(p.max_instances));
    }
    let compute: u32 = layout
        .instances()
        .iter()
        .map(|(t, _)| u32::from(t.profile().compute_slices))
        .sum();
    prop_assert!(compute <= u32::from(model.compute_slices));
    Ok(())
}

proptest! {
    #[test]
    fn layouts_only_hold_legal_disjoint_placements(ops in prop::collection::vec((0usize..16, 0u8..9), 0..24)) {
        exercise::<a100_40gb::Model>(&ops)?;
        exercise::<h100_sxm_80gb::Model>(&ops)?;
        exercise::<a30_24gb::Model>(&ops)?;
        exercise::<rtx_pro_6000::Model>(&ops)?;
    }

    #[test]
    fn max_instances_are_reachable_and_not_exceeded(model_index in 0usize..17, profile_index in 0usize..16) {
        let model = catalog::models()[model_index];
        let p = &model.profiles[profile_index % model.profiles.len()];
        // Greedy by start over the legal placements reaches exactly max_instances.
        let mut used = 0u32;
        let mut count = 0u8;
        for pl in p.placements {
            if used & pl.mask() == 0 {
                used |= pl.mask();
                count += 1;
            }
        }
        let media = p.name.attributes().has_media_extensions();
        prop_assert_eq!(if media { 1 } else { count }, p.max_instances, "{} {}", model.name, p.name);
        for pl in p.placements {
            prop_assert_eq!(u32::from(pl.start) % u32::from(pl.size), 0);
            prop_assert!(pl.end() <= u16::from(model.memory_slices));
        }
    }

    #[test]
    fn look_ups_never_panic(id in any::<u32>(), sub in any::<Option<u32>>(), name in ".{0,40}") {
        let _ = catalog::model_by_pci_device_id(id, sub);
        let _ = catalog::model_by_nvml_name(&name);
        let _ = catalog::model_by_name(&name);
        for m in catalog::models() {
            let _ = m.profile_by_str(&name);
            let _ = m.profile_by_nvml_id(id);
        }
        let _ = name.parse::<ProfileName>();
        let _ = name.parse::<gpupart_profiles::PciDeviceId>();
    }
}
