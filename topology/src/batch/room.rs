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

    /// How the most that GPUs with `room` can add to `done` (per priority level, highest
    /// first) compares with `target`, lexicographically: the levels are weighed in turn, and
    /// where a level can at best tie, the room left for the levels below is what its
    /// instances leave at the least (as many instances, and the smallest memory and compute
    /// of its demands left), since any plan that ties there places them all.
    pub(super) fn reach_against(
        &self,
        room: (u64, u64, u64),
        rem: &[u32],
        done: impl Fn(usize) -> u64,
        target: &[u64],
    ) -> core::cmp::Ordering {
        let mut room = room;
        for (level, &t) in target.iter().enumerate() {
            let most = self.optimistic_at(level, room, rem);
            let reach = done(level) + most;
            if reach != t {
                return reach.cmp(&t);
            }
            if level + 1 < target.len() {
                room = self.after(level, most, room, rem);
            }
        }
        core::cmp::Ordering::Equal
    }

    /// `room` less what `n` instances of the level's demands left take at the least.
    fn after(&self, level: usize, n: u64, room: (u64, u64, u64), rem: &[u32]) -> (u64, u64, u64) {
        // The least of one resource `n` instances take: the smallest first.
        let least = |order: Option<&Vec<(usize, u64)>>| {
            let mut left = n;
            let mut used = 0u64;
            for &(d, u) in order.into_iter().flatten() {
                if left == 0 {
                    break;
                }
                let take = left.min(u64::from(rem[d]));
                used = used.saturating_add(take.saturating_mul(u));
                left -= take;
            }
            used
        };
        (
            room.0.saturating_sub(n),
            room.1.saturating_sub(least(self.by_memory.get(level))),
            room.2.saturating_sub(least(self.by_compute.get(level))),
        )
    }

    /// The most instances of one priority level (0 for a level with no demands) of `rem`
    /// that GPUs with `room` (as [`suffix_sums`] gives) can place: no more than are left,
    /// than they hold, and than fit, smallest first, in their free memory and in their free
    /// compute.
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

#[cfg(test)]
mod tests {
    use super::*;
    use core::cmp::Ordering;
    use gpupart_profiles::catalog::A100_40GB;

    #[test]
    fn a_tie_above_leaves_its_room_to_the_levels_below() {
        let one_g = A100_40GB.profile_by_str("1g.5gb").unwrap();
        let seven_g = A100_40GB.profile_by_str("7g.40gb").unwrap();
        let empty = Occupancy::new(&A100_40GB);
        let slots = [one_g, seven_g]
            .iter()
            .filter_map(|p| empty.profile_slot(p))
            .fold(0u64, |m, s| m | 1 << s);
        // Demand 0 (level 0): one 7g; demand 1 (level 1): seven 1g; one empty A100.
        let sizes = Sizes::new(
            vec![0, 1],
            vec![share(seven_g, &A100_40GB), share(one_g, &A100_40GB)],
        );
        let empty = room(&empty, slots);
        let rem = [1, 7];
        let none = |_: usize| 0;
        // The 7g must be placed to tie at level 0, and then no 1g fits beside it.
        assert_eq!(sizes.optimistic_at(1, empty, &rem), 7);
        assert_eq!(
            sizes.reach_against(empty, &rem, none, &[1, 1]),
            Ordering::Less
        );
        assert_eq!(
            sizes.reach_against(empty, &rem, none, &[1, 0]),
            Ordering::Equal
        );
        // Below the 7g's count, level 0 decides alone.
        assert_eq!(
            sizes.reach_against(empty, &rem, none, &[0, 7]),
            Ordering::Greater
        );
        // Counts already placed add to what the room holds.
        assert_eq!(
            sizes.reach_against(empty, &rem, |l| l as u64, &[1, 1]),
            Ordering::Equal
        );
    }
}
