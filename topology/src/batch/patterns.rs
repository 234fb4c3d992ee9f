//! Per-GPU patterns: every multiset of the profiles asked for that fits on an occupancy,
//! shared by every solve in the process.

use gpupart_profiles::ModelKey;

use super::FastMap;
use crate::Occupancy;

/// A pattern: instances per profile slot of a model, feasible on a class's base occupancy.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) counts: Vec<u8>,
}

/// A list of patterns, shared (read-only) by every table that holds it.
pub(super) type Patterns = std::sync::Arc<Vec<Pattern>>;

/// A model, an occupancy (slices and instances per profile) and the profiles asked for.
pub(super) type PatternKey = (ModelKey, u32, u128, u64);

/// Patterns depend only on the model, the occupancy and the profiles asked for, so they are
/// shared by every solve in the process (a scheduler asks about the same few models again and
/// again). Bounded: cleared when it grows past 4,096 entries.
pub(super) fn shared_patterns(base: &Occupancy, key: PatternKey) -> Patterns {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<FastMap<PatternKey, Patterns>>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return p.clone();
    }
    let patterns = Patterns::new(enumerate_patterns(base, key.3));
    let mut c = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if c.len() >= 4096 {
        c.clear();
    }
    c.insert(key, patterns.clone());
    patterns
}

/// Every multiset of the profiles in `slot_mask` that fits on `base`, in increasing order of
/// the counts (slot by slot).
///
/// A multiset fits when its instances take placements that overlap neither each other nor
/// `base`, within the model's compute slices, instance limits and media extensions: every
/// check is on the set, not on the order the instances come in. So one walk over the sets
/// of placements (each set once: its placements in a fixed order) meets every multiset that
/// fits, one cheap check a step, where asking the one-GPU search of each multiset would
/// search afresh each time.
pub(crate) fn enumerate_patterns(base: &Occupancy, slot_mask: u64) -> Vec<Pattern> {
    let model = base.model();
    let options: Vec<(usize, gpupart_profiles::Placement)> = (0..model.profiles.len())
        .filter(|s| slot_mask & (1 << (s % 64)) != 0)
        .flat_map(|s| model.profiles[s].placements.iter().map(move |&p| (s, p)))
        .collect();
    let mut found: rustc_hash::FxHashSet<Vec<u8>> = rustc_hash::FxHashSet::default();
    let mut counts = vec![0u8; model.profiles.len()];
    let mut occ = base.clone();
    fn walk(
        occ: &mut Occupancy,
        options: &[(usize, gpupart_profiles::Placement)],
        from: usize,
        counts: &mut Vec<u8>,
        found: &mut rustc_hash::FxHashSet<Vec<u8>>,
    ) {
        for (i, &(slot, placement)) in options.iter().enumerate().skip(from) {
            if occ.refusal(slot, placement).is_some() {
                continue;
            }
            occ.push(slot, placement);
            counts[slot] += 1;
            if !found.contains(counts.as_slice()) {
                found.insert(counts.clone());
            }
            walk(occ, options, i + 1, counts, found);
            counts[slot] -= 1;
            occ.pop(slot);
        }
    }
    walk(&mut occ, &options, 0, &mut counts, &mut found);
    let mut out: Vec<Vec<u8>> = found.into_iter().collect();
    out.sort_unstable();
    out.into_iter().map(|counts| Pattern { counts }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve_gpu;
    use gpupart_profiles::GpuInstanceProfile;
    use gpupart_profiles::catalog;

    /// Every multiset, each asked of the one-GPU search (the definition).
    fn by_search(base: &Occupancy, slot_mask: u64) -> Vec<Vec<u8>> {
        let model = base.model();
        let slots: Vec<usize> = (0..model.profiles.len())
            .filter(|s| slot_mask & (1 << (s % 64)) != 0)
            .collect();
        let mut out = Vec::new();
        let mut counts = vec![0u8; model.profiles.len()];
        fn rec(
            base: &Occupancy,
            slots: &[usize],
            k: usize,
            counts: &mut Vec<u8>,
            out: &mut Vec<Vec<u8>>,
        ) {
            let Some(&slot) = slots.get(k) else {
                if counts.iter().any(|&c| c > 0) {
                    out.push(counts.clone());
                }
                return;
            };
            loop {
                rec(base, slots, k + 1, counts, out);
                counts[slot] += 1;
                let list: Vec<&'static GpuInstanceProfile> = counts
                    .iter()
                    .enumerate()
                    .flat_map(|(s, &c)| {
                        std::iter::repeat_n(&base.model().profiles[s], usize::from(c))
                    })
                    .collect();
                if solve_gpu(base, &list).is_none() {
                    break;
                }
            }
            counts[slot] = 0;
        }
        rec(base, &slots, 0, &mut counts, &mut out);
        out
    }

    #[test]
    fn the_walk_over_placements_finds_what_the_search_does_in_its_order() {
        let mut seed = 1u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            seed >> 33
        };
        for model in catalog::MODELS {
            if model.profiles.is_empty() {
                continue;
            }
            for _ in 0..40 {
                let mut base = Occupancy::new(model);
                for _ in 0..(next() % 3) {
                    let at = usize::try_from(next()).unwrap_or(0) % model.profiles.len();
                    let p = &model.profiles[at];
                    let start = u8::try_from(next() % 8).unwrap_or(0);
                    let _ = base.add(p, start);
                }
                let n = model.profiles.len().min(64);
                let mask =
                    (next() | (next() << 31)) & if n == 64 { u64::MAX } else { (1 << n) - 1 };
                let walk: Vec<Vec<u8>> = enumerate_patterns(&base, mask)
                    .into_iter()
                    .map(|p| p.counts)
                    .collect();
                assert_eq!(
                    walk,
                    by_search(&base, mask),
                    "{} {:?} {mask:b}",
                    model.name,
                    base.instances()
                );
            }
        }
    }
}
