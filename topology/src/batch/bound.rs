//! The bound on the optimum.

use super::Bound;
use super::FastMap;
use super::context::Ctx;
use crate::{Occupancy, solve_gpu};
use gpupart_profiles::ModelKey;

/// What the fleet can hold at most, whatever the plan.
#[derive(Debug, Clone, Copy)]
pub(super) struct Capacity {
    pub(super) max_placed: u64,
    pub(super) fixed_gpus: u32,
    pub(super) free_on_fixed: u64,
    pub(super) free_compute_on_fixed: u64,
    pub(super) max_slices: u64,
    pub(super) max_compute: u64,
}

impl<'a> Ctx<'a> {
    /// A relaxation: per request, at most the instances that fit on its eligible GPUs one
    /// profile at a time (free instances destroyed); overall, at most the smallest instances
    /// that fit in the memory and compute slices not held by in-use instances.
    pub(super) fn bound(
        &self,
        demand: &[u32],
        (placed_memory, placed_compute): (u64, u64),
    ) -> Bound {
        let c = *self.capacity.get_or_init(|| self.capacity(demand));
        let extra = placed_memory.saturating_sub(c.free_on_fixed);
        let extra_compute = placed_compute.saturating_sub(c.free_compute_on_fixed);
        let need = if c.max_slices == 0 || c.max_compute == 0 {
            0
        } else {
            extra
                .div_ceil(c.max_slices)
                .max(extra_compute.div_ceil(c.max_compute))
        };
        Bound {
            max_placed: c.max_placed,
            min_gpus_used: c.fixed_gpus + u32::try_from(need).unwrap_or(u32::MAX),
        }
    }

    pub(super) fn capacity(&self, demand: &[u32]) -> Capacity {
        let mut cap_cache: FastMap<((ModelKey, u32, u128), usize), u32> = FastMap::default();
        let mut per_request_cap = vec![0u64; demand.len()];
        let mut free_memory = 0u64;
        let mut free_compute = 0u64;
        let mut fixed_gpus = 0u32;
        let mut free_on_fixed = 0u64;
        let mut max_slices = 0u64;
        let mut max_compute = 0u64;
        let mut free_compute_on_fixed = 0u64;
        for (g, gpu) in self.fleet.gpus().iter().enumerate() {
            // What stays whatever the plan does: the in-use instances.
            let owned;
            let fixed = if gpu.instances().iter().all(|x| x.in_use) {
                gpu.occupancy()
            } else {
                let mut o = Occupancy::new(gpu.model);
                for x in gpu.instances().iter().filter(|x| x.in_use) {
                    let _ = o.add(x.profile, x.start);
                }
                owned = o;
                &owned
            };
            let mem = u64::from(fixed.free_memory_slices());
            max_slices = max_slices.max(u64::from(gpu.model.memory_slices));
            max_compute = max_compute.max(u64::from(gpu.model.compute_slices));
            if fixed.instances().is_empty() {
                // nothing fixed
            } else {
                fixed_gpus += 1;
                free_on_fixed += mem;
                free_compute_on_fixed += u64::from(gpu.model.compute_slices - fixed.compute_used());
            }
            if self.eligible[g].is_empty() {
                continue;
            }
            free_memory += mem;
            free_compute += u64::from(gpu.model.compute_slices - fixed.compute_used());
            for &(r, p) in &self.eligible[g] {
                // Keyed by everything that decides what fits: the in-use profiles too, not
                // only their slices (an in-use `+me` instance takes the media extensions).
                let key = (fixed.signature(), r);
                let cap = *cap_cache.entry(key).or_insert_with(|| {
                    let mut n = 0u32;
                    let mut list = Vec::new();
                    while n < demand[r] {
                        list.push(p);
                        if solve_gpu(fixed, &list).is_none() {
                            break;
                        }
                        n += 1;
                    }
                    n
                });
                per_request_cap[r] += u64::from(cap);
            }
        }
        // (size, how many) per request, by the smallest footprint over the eligible models.
        let mut items: Vec<((u64, u64), u64)> = Vec::new();
        let mut ub1 = 0u64;
        for (r, &d) in demand.iter().enumerate() {
            let n = u64::from(d).min(per_request_cap[r]);
            ub1 += n;
            let size = self
                .eligible
                .iter()
                .flat_map(|e| {
                    e.iter()
                        .filter(|(i, _)| *i == r)
                        .map(|(_, p)| (u64::from(p.memory_slices), u64::from(p.compute_slices)))
                })
                .min();
            if let Some(s) = size {
                items.push((s, n));
            }
        }
        // One resource at a time, the most instances fit when the smallest go first: each is
        // an upper bound, and so is the smaller of the two.
        let most = |mut sizes: Vec<(u64, u64)>, capacity: u64| -> u64 {
            sizes.sort_unstable();
            let (mut left, mut n) = (capacity, 0u64);
            for (size, count) in sizes {
                let take = left.checked_div(size).map_or(count, |fit| count.min(fit));
                n += take;
                left -= take * size;
                if take < count {
                    break;
                }
            }
            n
        };
        let ub2 = most(
            items.iter().map(|&((m, _), n)| (m, n)).collect(),
            free_memory,
        )
        .min(most(
            items.iter().map(|&((_, c), n)| (c, n)).collect(),
            free_compute,
        ));
        Capacity {
            max_placed: ub1.min(ub2),
            fixed_gpus,
            free_on_fixed,
            free_compute_on_fixed,
            max_slices,
            max_compute,
        }
    }
}
