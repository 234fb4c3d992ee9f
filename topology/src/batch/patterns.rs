//! Per-GPU patterns: every multiset of the profiles asked for that fits on an occupancy,
//! shared by every solve in the process.

use gpupart_profiles::{GpuInstanceProfile, ModelKey};

use super::FastMap;
use crate::{Occupancy, solve_gpu};

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

/// Every multiset of the profiles in `slot_mask` that fits on `base`.
pub(crate) fn enumerate_patterns(base: &Occupancy, slot_mask: u64) -> Vec<Pattern> {
    let model = base.model();
    let slots: Vec<usize> = (0..model.profiles.len())
        .filter(|s| slot_mask & (1 << (s % 64)) != 0)
        .collect();
    let mut out = Vec::new();
    let mut counts = vec![0u8; model.profiles.len()];
    let mut list: Vec<&'static GpuInstanceProfile> = Vec::new();
    pub(super) fn rec(
        base: &Occupancy,
        slots: &[usize],
        k: usize,
        counts: &mut Vec<u8>,
        list: &mut Vec<&'static GpuInstanceProfile>,
        out: &mut Vec<Pattern>,
    ) {
        let Some(&slot) = slots.get(k) else {
            if !list.is_empty() {
                out.push(Pattern {
                    counts: counts.clone(),
                });
            }
            return;
        };
        let p = &base.model().profiles[slot];
        let mut added = 0;
        loop {
            rec(base, slots, k + 1, counts, list, out);
            list.push(p);
            if solve_gpu(base, list).is_none() {
                list.pop();
                break;
            }
            counts[slot] += 1;
            added += 1;
        }
        for _ in 0..added {
            list.pop();
        }
        counts[slot] = 0;
    }
    rec(base, &slots, 0, &mut counts, &mut list, &mut out);
    out
}
