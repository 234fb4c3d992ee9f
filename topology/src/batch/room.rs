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
    /// Per level: its demands with their least memory, smallest first.
    by_memory: Vec<Vec<(usize, u64)>>,
    /// Per level: its demands with their least compute, smallest first.
    by_compute: Vec<Vec<(usize, u64)>>,
}

impl Sizes {
    /// Per demand, its level and least share (`(u64::MAX, u64::MAX)` where it fits nowhere).
    pub(super) fn new(level: Vec<usize>, share: Vec<(u64, u64)>) -> Self {
        let levels = level.iter().max().map_or(0, |&l| l + 1);
        let mut order: Vec<usize> = (0..share.len()).collect();
        order.sort_by_key(|&d| (share[d].0, d));
        let mut by_memory = vec![Vec::new(); levels];
        for &d in &order {
            by_memory[level[d]].push((d, share[d].0));
        }
        order.sort_by_key(|&d| (share[d].1, d));
        let mut by_compute = vec![Vec::new(); levels];
        for &d in &order {
            by_compute[level[d]].push((d, share[d].1));
        }
        Sizes {
            level,
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
    /// smallest first, in their free memory and in their free compute; into `out` (its
    /// contents replaced), for callers that ask often.
    pub(super) fn optimistic_into(
        &self,
        levels: usize,
        room: (u64, u64, u64),
        rem: &[u32],
        out: &mut Vec<u64>,
    ) {
        out.clear();
        out.extend((0..levels).map(|level| self.optimistic_at(level, room, rem)));
    }

    /// [`Sizes::optimistic_into`] at one priority level (0 for a level with no demands).
    pub(super) fn optimistic_at(&self, level: usize, room: (u64, u64, u64), rem: &[u32]) -> u64 {
        let (most, memory, compute) = room;
        // Smallest first into `free`: how many of the level's demands left fit.
        let fill = |order: &[(usize, u64)], free: u64| {
            let mut free = free;
            let mut n = 0u64;
            for &(d, u) in order {
                if rem[d] == 0 {
                    continue;
                }
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
        let (Some(mem), Some(cmp)) = (self.by_memory.get(level), self.by_compute.get(level)) else {
            return 0;
        };
        let left: u64 = mem.iter().map(|&(d, _)| u64::from(rem[d])).sum();
        let by_memory = fill(mem, memory);
        let by_compute = fill(cmp, compute);
        left.min(most).min(by_memory).min(by_compute)
    }
}
