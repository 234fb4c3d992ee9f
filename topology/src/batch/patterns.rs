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
/// `base`, within the model's compute slices, instance limits and media extensions. All but
/// the overlap depend on the counts alone; the overlap on which memory slices are taken. So
/// the counts are chosen slot by slot, each with the set of memory masks its instances can
/// leave: a multiset fits where that set is not empty, and many ways to place the same
/// instances are one mask. Models with more than 8 memory slices (none in the catalog) walk
/// the sets of placements instead ([`by_placements`]).
pub(crate) fn enumerate_patterns(base: &Occupancy, slot_mask: u64) -> Vec<Pattern> {
    let model = base.model();
    if model.memory_slices > 8 {
        return by_placements(base, slot_mask);
    }
    let slots: Vec<usize> = (0..model.profiles.len())
        .filter(|s| slot_mask & (1 << (s % 64)) != 0)
        .collect();
    let mut held = vec![0u8; model.profiles.len()];
    for (p, _) in base.instances() {
        if let Some(s) = base.profile_slot(p) {
            held[s] = held[s].saturating_add(1);
        }
    }
    let mut walk = ByMasks {
        model,
        placements: slots
            .iter()
            .map(|&s| {
                model.profiles[s]
                    .placements
                    .iter()
                    .map(|p| p.mask())
                    .collect()
            })
            .collect(),
        slots,
        held,
        counts: vec![0; model.profiles.len()],
        out: Vec::new(),
    };
    let mut masks = Masks::default();
    masks.insert(base.memory_mask());
    walk.from(
        0,
        masks,
        u32::from(base.compute_used()),
        base.media_used(),
        false,
    );
    let mut out = walk.out;
    out.sort_unstable();
    out.into_iter().map(|counts| Pattern { counts }).collect()
}

/// A set of memory masks of a model with at most 8 memory slices.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Masks([u64; 4]);

impl Masks {
    fn insert(&mut self, mask: u32) {
        let m = mask as usize & 0xff;
        self.0[m / 64] |= 1 << (m % 64);
    }

    fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }

    /// The masks one more instance at one of `placements` (their masks) leaves.
    fn grow(&self, placements: &[u32]) -> Masks {
        let mut next = Masks::default();
        for (w, &word) in (0u32..).zip(&self.0) {
            let mut bits = word;
            while bits != 0 {
                let m = w * 64 + bits.trailing_zeros();
                bits &= bits - 1;
                for &p in placements {
                    if m & p == 0 {
                        next.insert(m | p);
                    }
                }
            }
        }
        next
    }
}

/// The walk of [`enumerate_patterns`] over the counts, slot by slot.
struct ByMasks {
    model: &'static gpupart_profiles::GpuModel,
    /// The profile slots asked for, in order.
    slots: Vec<usize>,
    /// Per asked slot, its placements' memory masks.
    placements: Vec<Vec<u32>>,
    /// Per profile slot, the instances `base` holds.
    held: Vec<u8>,
    counts: Vec<u8>,
    out: Vec<Vec<u8>>,
}

impl ByMasks {
    /// Every count from the `i`-th asked slot on, with `masks` what the counts so far can
    /// leave, `compute` the compute slices and `media` the media extensions they take.
    fn from(&mut self, i: usize, mut masks: Masks, mut compute: u32, mut media: bool, any: bool) {
        let Some(&slot) = self.slots.get(i) else {
            if any {
                self.out.push(self.counts.clone());
            }
            return;
        };
        let profile = &self.model.profiles[slot];
        let has_media = profile.name.attributes().has_media_extensions();
        let mut k = 0u8;
        loop {
            self.from(i + 1, masks, compute, media, any || k > 0);
            // Each instance takes a placement of its own (as the walk over placements counts
            // them, also where a placement would take no memory slice).
            if self.held[slot].saturating_add(k) >= profile.max_instances
                || usize::from(k) >= self.placements[i].len()
                || compute + u32::from(profile.compute_slices)
                    > u32::from(self.model.compute_slices)
                || (media && has_media)
            {
                break;
            }
            let next = masks.grow(&self.placements[i]);
            if next.is_empty() {
                break;
            }
            masks = next;
            compute += u32::from(profile.compute_slices);
            media |= has_media;
            k += 1;
            self.counts[slot] = k;
        }
        self.counts[slot] = 0;
    }
}

/// [`enumerate_patterns`] by a walk over the sets of placements (each set once: its
/// placements in a fixed order), one check a step: for any number of memory slices.
fn by_placements(base: &Occupancy, slot_mask: u64) -> Vec<Pattern> {
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
    fn both_walks_find_what_the_search_does_in_its_order() {
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
            for _ in 0..150 {
                let mut base = Occupancy::new(model);
                for _ in 0..(next() % 5) {
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
                let placements: Vec<Vec<u8>> = by_placements(&base, mask)
                    .into_iter()
                    .map(|p| p.counts)
                    .collect();
                assert_eq!(walk, placements, "{} {mask:b}", model.name);
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
