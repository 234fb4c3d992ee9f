//! What GPUs can still hold, for the cuts of the exact searches (`exact`, and the
//! improvement's search over one set): instances, and memory and compute in parts of a GPU
//! so that models of different sizes add up.

use gpupart_profiles::{GpuInstanceProfile, GpuModel};

use super::patterns::shared_patterns;
use crate::Occupancy;

/// A GPU in this many parts: memory and compute slices of every model divide it.
const PARTS: u64 = 840;

/// The memory and compute one instance of `p` takes on `model`, in parts (rounded down, so
/// never more than it takes).
pub(super) fn share(p: &GpuInstanceProfile, model: &GpuModel) -> (u64, u64) {
    (
        u64::from(p.memory_slices) * PARTS / u64::from(model.memory_slices.max(1)),
        u64::from(p.compute_slices) * PARTS / u64::from(model.compute_slices.max(1)),
    )
}

/// What a GPU can still hold beside `base`: the most instances of the profile slots in
/// `slot_mask` (its largest pattern), and the memory and compute left free, in parts
/// (rounded up, so never less than is free).
pub(super) fn room(base: &Occupancy, slot_mask: u64) -> (u64, u64, u64) {
    let model = base.model();
    let most = if slot_mask == 0 {
        0
    } else {
        let (m, mask, packed) = base.signature();
        shared_patterns(base, (m, mask, packed, slot_mask))
            .iter()
            .map(|p| p.counts.iter().map(|&c| u64::from(c)).sum::<u64>())
            .max()
            .unwrap_or(0)
    };
    let memory = (u64::from(base.free_memory_slices()) * PARTS)
        .div_ceil(u64::from(model.memory_slices.max(1)));
    let compute = (u64::from(model.compute_slices.saturating_sub(base.compute_used())) * PARTS)
        .div_ceil(u64::from(model.compute_slices.max(1)));
    (most, memory, compute)
}

/// Per position of a list of rooms, the sum of the rooms from there on (one entry more, the
/// empty sum).
pub(super) fn suffix_sums(rooms: &[(u64, u64, u64)]) -> Vec<(u64, u64, u64)> {
    let mut sums = vec![(0u64, 0u64, 0u64); rooms.len() + 1];
    for (k, r) in rooms.iter().enumerate().rev() {
        let after = sums[k + 1];
        sums[k] = (after.0 + r.0, after.1 + r.1, after.2 + r.2);
    }
    sums
}

/// The demands of a search: each one's priority level and the least memory and compute one
/// instance takes on any GPU it may use, and the demands by each, smallest first.
pub(super) struct Sizes {
    level: Vec<usize>,
    share: Vec<(u64, u64)>,
    by_memory: Vec<usize>,
    by_compute: Vec<usize>,
}

impl Sizes {
    /// Per demand, its level and least share (`(u64::MAX, u64::MAX)` where it fits nowhere).
    pub(super) fn new(level: Vec<usize>, share: Vec<(u64, u64)>) -> Self {
        let mut by_memory: Vec<usize> = (0..share.len()).collect();
        by_memory.sort_by_key(|&d| (share[d].0, d));
        let mut by_compute = by_memory.clone();
        by_compute.sort_by_key(|&d| (share[d].1, d));
        Sizes {
            level,
            share,
            by_memory,
            by_compute,
        }
    }

    /// The demand's priority level.
    pub(super) fn level(&self, demand: usize) -> usize {
        self.level[demand]
    }

    /// Per priority level (of `levels`), the most instances of `rem` GPUs with `room` (as
    /// [`suffix_sums`] gives) can place: no more than are left, than they hold, and than fit,
    /// smallest first, in their free memory and in their free compute.
    pub(super) fn optimistic(&self, levels: usize, room: (u64, u64, u64), rem: &[u32]) -> Vec<u64> {
        let mut out = Vec::with_capacity(levels);
        self.optimistic_into(levels, room, rem, &mut out);
        out
    }

    /// [`Sizes::optimistic`] into `out` (its contents replaced), for callers that ask often.
    pub(super) fn optimistic_into(
        &self,
        levels: usize,
        room: (u64, u64, u64),
        rem: &[u32],
        out: &mut Vec<u64>,
    ) {
        let (most, memory, compute) = room;
        let fill = |order: &[usize], free: u64, unit: &dyn Fn(usize) -> u64, level: usize| {
            let mut free = free;
            let mut n = 0u64;
            for &d in order {
                if rem[d] == 0 || self.level[d] != level {
                    continue;
                }
                let u = unit(d);
                let want = u64::from(rem[d]);
                let take = free.checked_div(u).map_or(want, |fit| want.min(fit));
                n += take;
                free -= take * u;
                if take < want {
                    break;
                }
            }
            n
        };
        out.clear();
        out.resize(levels, 0);
        for (level, o) in out.iter_mut().enumerate() {
            let left: u64 = rem
                .iter()
                .enumerate()
                .filter(|&(d, _)| self.level[d] == level)
                .map(|(_, &c)| u64::from(c))
                .sum();
            let by_memory = fill(&self.by_memory, memory, &|d| self.share[d].0, level);
            let by_compute = fill(&self.by_compute, compute, &|d| self.share[d].1, level);
            *o = left.min(most).min(by_memory).min(by_compute);
        }
    }
}
