//! The exact solver for one GPU.

use gpupart_profiles::{GpuInstanceProfile, Placement};

use crate::Occupancy;

/// Finds a legal placement for every profile of `request` on a GPU whose instances are
/// `occupancy`, or proves that none exists (`None`). Exact: it searches every assignment of
/// legal placements, larger profiles first, with identical profiles taken in increasing start
/// order so that no assignment is tried twice. The answer is deterministic: the same input
/// gives the same placements, listed in the order of `request`; among solutions it prefers
/// lower start slices for larger profiles.
///
/// Profiles not of the GPU's model make the request unplaceable.
#[must_use]
pub fn solve_gpu(
    occupancy: &Occupancy,
    request: &[&'static GpuInstanceProfile],
) -> Option<Vec<(&'static GpuInstanceProfile, Placement)>> {
    let model = occupancy.model();
    let mut slots = Vec::with_capacity(request.len());
    for p in request {
        slots.push(occupancy.profile_slot(p)?);
    }
    // Quick bounds before searching.
    let memory: u32 = request.iter().map(|p| u32::from(p.memory_slices)).sum();
    let compute: u32 = request.iter().map(|p| u32::from(p.compute_slices)).sum();
    let media = request
        .iter()
        .filter(|p| p.name.attributes().has_media_extensions())
        .count();
    if memory > occupancy.free_memory_slices()
        || compute + u32::from(occupancy.compute_used()) > u32::from(model.compute_slices)
        || media + usize::from(occupancy.media_used()) > 1
    {
        return None;
    }
    // Larger profiles first (fewer placements, more constrained); ties by catalog order.
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by_key(|&k| {
        let p = &model.profiles[slots[k]];
        (
            core::cmp::Reverse(p.memory_slices),
            core::cmp::Reverse(p.compute_slices),
            slots[k],
            k,
        )
    });
    let sorted: Vec<usize> = order.iter().map(|&k| slots[k]).collect();
    let mut state = occupancy.clone();
    let base = state.instances().len();
    if !search(&mut state, &sorted, 0, None) {
        return None;
    }
    // Report in the caller's order.
    let found = &state.instances()[base..];
    let mut plan = found.to_vec();
    for (position, &k) in order.iter().enumerate() {
        plan[k] = found[position];
    }
    Some(plan)
}

fn search(state: &mut Occupancy, slots: &[usize], i: usize, previous_start: Option<u8>) -> bool {
    let Some(&slot) = slots.get(i) else {
        return true;
    };
    let profile = &state.model().profiles[slot];
    // Identical profiles in a row take increasing starts: the same sets, tried once.
    let min_start = match (i.checked_sub(1).map(|j| slots[j]), previous_start) {
        (Some(prev), Some(start)) if prev == slot => Some(start),
        _ => None,
    };
    for &placement in profile.placements {
        if min_start.is_some_and(|m| placement.start <= m) {
            continue;
        }
        if state.refusal(slot, placement).is_some() {
            continue;
        }
        state.push(slot, placement);
        if search(state, slots, i + 1, Some(placement.start)) {
            return true;
        }
        state.pop(slot);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpupart_profiles::GpuModel;
    use gpupart_profiles::catalog::{A30_24GB, A100_40GB, H100_SXM_80GB, RTX_PRO_6000_BLACKWELL};
    use proptest::prelude::*;

    fn p(model: &'static GpuModel, name: &str) -> &'static GpuInstanceProfile {
        model.profile_by_str(name).unwrap()
    }

    #[test]
    fn the_classic_fragmentation_case() {
        let m = &A100_40GB;
        let mut gpu = Occupancy::new(m);
        gpu.add(p(m, "1g.5gb"), 0).unwrap();
        assert!(
            solve_gpu(&gpu, &[p(m, "4g.20gb")]).is_none(),
            "a 1g at slice 0 blocks every 4g"
        );
        let empty = Occupancy::new(m);
        let plan = solve_gpu(&empty, &[p(m, "4g.20gb"), p(m, "3g.20gb")]).unwrap();
        assert_eq!(
            plan.iter().map(|(_, pl)| pl.start).collect::<Vec<_>>(),
            [0, 4]
        );
        // 3g.20gb x2 plus 1g.5gb: 8 memory slices for 3 + 3 + 1 compute — impossible.
        assert!(solve_gpu(&empty, &[p(m, "3g.20gb"), p(m, "3g.20gb"), p(m, "1g.5gb")]).is_none());
        // Seven 1g.5gb fit; an eighth does not.
        assert!(solve_gpu(&empty, &[p(m, "1g.5gb"); 7]).is_some());
        assert!(solve_gpu(&empty, &[p(m, "1g.5gb"); 8]).is_none());
        // Only one +me.
        assert!(solve_gpu(&empty, &[p(m, "1g.5gb+me"); 2]).is_none());
        // A foreign profile is never placed.
        assert!(solve_gpu(&empty, &[p(&H100_SXM_80GB, "1g.10gb")]).is_none());
    }

    #[test]
    fn refusals_leave_the_occupancy_unchanged() {
        let m = &A100_40GB;
        let mut gpu = Occupancy::new(m);
        gpu.add(p(m, "3g.20gb"), 4).unwrap();
        let before = gpu.clone();
        let e = gpu.add(p(m, "2g.10gb"), 4).unwrap_err();
        assert!(
            e.to_string().contains("2g.10gb") && e.to_string().contains("slice 4"),
            "{e}"
        );
        assert!(gpu.add(p(m, "3g.20gb"), 2).is_err());
        assert!(gpu.add(p(&H100_SXM_80GB, "1g.10gb"), 0).is_err());
        assert_eq!(gpu, before);
    }

    /// Every assignment of legal placements, checked against every rule, independently of the
    /// solver's code.
    fn brute_force(base: &Occupancy, request: &[&'static GpuInstanceProfile]) -> bool {
        fn valid(base: &Occupancy, chosen: &[(&GpuInstanceProfile, Placement)]) -> bool {
            let model = base.model();
            let all: Vec<(&GpuInstanceProfile, Placement)> = base
                .instances()
                .iter()
                .map(|(p, pl)| (*p, *pl))
                .chain(chosen.iter().copied())
                .collect();
            for (i, (_, a)) in all.iter().enumerate() {
                if all[i + 1..].iter().any(|(_, b)| a.overlaps(*b)) {
                    return false;
                }
            }
            let compute: u32 = all.iter().map(|(p, _)| u32::from(p.compute_slices)).sum();
            let media = all
                .iter()
                .filter(|(p, _)| p.name.attributes().has_media_extensions())
                .count();
            let limits = model.profiles.iter().all(|q| {
                all.iter().filter(|(p, _)| *p == q).count() <= usize::from(q.max_instances)
            });
            compute <= u32::from(model.compute_slices) && media <= 1 && limits
        }
        fn go(
            base: &Occupancy,
            request: &[&'static GpuInstanceProfile],
            chosen: &mut Vec<(&'static GpuInstanceProfile, Placement)>,
        ) -> bool {
            let Some((first, rest)) = request.split_first() else {
                return valid(base, chosen);
            };
            if !base.model().profiles.contains(first) {
                return false;
            }
            for &pl in first.placements {
                chosen.push((first, pl));
                if go(base, rest, chosen) {
                    return true;
                }
                chosen.pop();
            }
            false
        }
        go(base, request, &mut Vec::new())
    }

    const MODELS: [&GpuModel; 4] = [
        &A100_40GB,
        &H100_SXM_80GB,
        &A30_24GB,
        &RTX_PRO_6000_BLACKWELL,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn placed_iff_brute_force_finds_a_placement(
            model in 0usize..4,
            existing in prop::collection::vec((0usize..16, 0u8..8), 0..4),
            request in prop::collection::vec(0usize..16, 0..6),
        ) {
            let model = MODELS[model];
            let mut gpu = Occupancy::new(model);
            for (pi, start) in existing {
                let _ = gpu.add(&model.profiles[pi % model.profiles.len()], start);
            }
            let request: Vec<&'static GpuInstanceProfile> =
                request.iter().map(|&i| &model.profiles[i % model.profiles.len()]).collect();
            let solved = solve_gpu(&gpu, &request);
            prop_assert_eq!(solved.is_some(), brute_force(&gpu, &request));
            if let Some(plan) = solved {
                // The plan is legal: applying it one by one succeeds.
                prop_assert_eq!(plan.len(), request.len());
                let mut check = gpu.clone();
                for (profile, placement) in &plan {
                    prop_assert!(check.add(profile, placement.start).is_ok());
                }
                // Same input, same plan.
                prop_assert_eq!(solve_gpu(&gpu, &request), Some(plan));
            }
        }
    }
}
