#![allow(clippy::expect_used, clippy::unwrap_used)]
//! For every MIG model of the catalog and any occupancy, the devices whose counters still fit
//! are exactly the placements gpupart's one placement rule allows; and the same through the
//! published slices and the allocator model.

use gpupart_dra::allocator::Allocator;
use gpupart_dra::counters::{consume, fits, gpu_counters, mig_consumption};
use gpupart_dra::slices::{node_slices, validate};
use gpupart_dra::{NodeInfo, SliceOptions};
use gpupart_mig::SimulatedNvml;
use gpupart_mig::apply::{ApplyOptions, DesiredGpu, DesiredInstance, apply};
use gpupart_mig::state::read_all;
use gpupart_profiles::{Occupancy, catalog};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn counters_fit_exactly_where_gpupart_allows(
        model in 0..catalog::MODELS.len(),
        picks in prop::collection::vec((0usize..64, 0usize..16), 0..12),
    ) {
        let model = catalog::MODELS[model];
        let mut occ = Occupancy::new(model);
        let mut left = gpu_counters(model);
        // A random legal occupancy: each pick tries a (profile, placement) and keeps it where
        // the rule allows.
        for (p, k) in picks {
            let slot = p % model.profiles.len();
            let profile = &model.profiles[slot];
            let pl = profile.placements[k % profile.placements.len()];
            if occ.refusal(slot, pl).is_none() {
                occ.push(slot, pl);
                consume(&mut left, &mig_consumption(model, profile, pl));
            }
        }
        for (slot, profile) in model.profiles.iter().enumerate() {
            for &pl in profile.placements {
                let legal = occ.refusal(slot, pl).is_none();
                let fit = fits(&left, &mig_consumption(model, profile, pl));
                prop_assert_eq!(
                    fit, legal,
                    "{} {}@{} on {:?}: counters say {}, the rule {:?}",
                    model.name, profile.name, pl.start, occ.instances(), fit, occ.refusal(slot, pl)
                );
            }
        }
    }
}

/// Through the published objects: with instances made on a simulated H100 node and claimed,
/// the allocator model can allocate exactly the devices whose placement gpupart allows.
#[test]
fn allocator_over_published_slices_agrees_with_the_rule() {
    let nvml = SimulatedNvml::hgx_h100();
    let opts = ApplyOptions::default().lock_path(None);
    let want = vec![
        DesiredInstance::new("3g.40gb".parse().unwrap()).at(4),
        DesiredInstance::new("1g.10gb".parse().unwrap()).at(0),
    ];
    apply(&nvml, &[DesiredGpu::new(0, true, want)], &opts).unwrap();
    let gpus = read_all(&nvml).unwrap();
    // Both instances came through DRA: their devices are allocated, the counters whole.
    let slices = node_slices(
        &gpus,
        &NodeInfo::default(),
        &[(0, 4), (0, 0)],
        &SliceOptions::new("n"),
    )
    .unwrap();
    validate(&slices).unwrap();
    let mut alloc = Allocator::new(&slices);
    alloc.mark_allocated("gpu-0-mig-3g40gb-9-4");
    alloc.mark_allocated("gpu-0-mig-1g10gb-19-0");
    let occ = gpus[0].to_topology().unwrap();
    let model = occ.model;
    for (slot, p) in model.profiles.iter().enumerate() {
        for &pl in p.placements {
            let name = gpupart_dra::devices::mig_device_name(0, p, pl.start).unwrap();
            let legal = occ.occupancy().refusal(slot, pl).is_none();
            assert_eq!(alloc.can_allocate(&name), legal, "{name}");
        }
    }
    assert!(
        !alloc.can_allocate("gpu-0"),
        "the full GPU needs every counter"
    );
    assert!(alloc.can_allocate("gpu-1"));
}
