//! The class-based packer: identical GPUs as one class, each class filled with the best
//! per-GPU pattern of profiles, repeated; what is left then goes where free instances nobody
//! asked for can be destroyed.

use gpupart_profiles::{GpuInstanceProfile, ModelKey};

use super::context::{Ctx, Realization, Value, place_with_room};
use super::exact::Exact;
use super::patterns::{Pattern, PatternKey, shared_patterns};
use super::{Creation, FastMap};
use crate::Occupancy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Patterns that fill a GPU best (memory and compute), to use the fewest GPUs.
    Size,
    /// Patterns with the most instances, for when not everything fits.
    Count,
}

pub(super) struct Greedy<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    pub(super) mode: Mode,
    pub(super) patterns: FastMap<PatternKey, Vec<Pattern>>,
}

impl<'c, 'a> Greedy<'c, 'a> {
    pub(super) fn new(ctx: &'c Ctx<'a>, mode: Mode) -> Self {
        Greedy {
            ctx,
            mode,
            patterns: FastMap::default(),
        }
    }

    pub(super) fn run(&mut self, mut rem: Vec<u32>) -> Vec<Option<Realization>> {
        let gpus = self.ctx.fleet.gpus();
        let mut out: Vec<Option<Realization>> = vec![None; gpus.len()];
        // Phase 1: reuse free instances of the right profile, priorities first.
        let mut claimed: Vec<Vec<bool>> = gpus
            .iter()
            .map(|g| vec![false; g.instances().len()])
            .collect();
        let mut order: Vec<usize> = (0..rem.len()).collect();
        order.sort_by_key(|&r| (core::cmp::Reverse(self.ctx.requests[r].priority), r));
        for &r in &order {
            for (g, gpu) in gpus.iter().enumerate() {
                if rem[r] == 0 {
                    break;
                }
                let Some(p) = self.ctx.eligible[g]
                    .iter()
                    .find(|(i, _)| *i == r)
                    .map(|(_, p)| *p)
                else {
                    continue;
                };
                for (k, x) in gpu.instances().iter().enumerate() {
                    if rem[r] > 0 && !x.in_use && !claimed[g][k] && x.profile == p {
                        claimed[g][k] = true;
                        rem[r] -= 1;
                        out[g]
                            .get_or_insert_with(|| Realization::unchanged(gpu))
                            .reuse
                            .push((r, *x));
                    }
                }
            }
        }
        // Phase 2: fill, fullest GPUs first, identical GPUs as one class.
        let mut fill: Vec<usize> = (0..gpus.len())
            .filter(|&g| !self.ctx.eligible[g].is_empty())
            .collect();
        fill.sort_by_key(|&g| {
            let gpu = &gpus[g];
            (
                !gpu.mig_enabled,
                gpu.instances().is_empty(),
                gpu.occupancy().free_memory_slices(),
                g,
            )
        });
        let mut classes: Vec<(Vec<usize>, Occupancy)> = Vec::new();
        let mut class_of: FastMap<(ModelKey, u32, u128, bool, Vec<usize>), usize> =
            FastMap::default();
        for &g in &fill {
            let gpu = &gpus[g];
            let key = {
                let (m, mask, packed) = gpu.occupancy().signature();
                let elig: Vec<usize> = self.ctx.eligible[g].iter().map(|(r, _)| *r).collect();
                (m, mask, packed, gpu.mig_enabled, elig)
            };
            match class_of.get(&key) {
                Some(&c) => classes[c].0.push(g),
                None => {
                    class_of.insert(key, classes.len());
                    classes.push((vec![g], gpu.occupancy().clone()));
                }
            }
        }
        for (members, base) in &classes {
            let g0 = members[0];
            let mut next = 0usize;
            while next < members.len() && rem.iter().any(|&c| c > 0) {
                let Some((want, creates)) = self.best_pattern(g0, base, &rem) else {
                    break;
                };
                let times = want
                    .iter()
                    .map(|&(r, c)| rem[r] / c)
                    .min()
                    .unwrap_or(0)
                    .max(1);
                let times = usize::try_from(times)
                    .unwrap_or(usize::MAX)
                    .min(members.len() - next);
                let profiles: Vec<&'static GpuInstanceProfile> =
                    creates.iter().map(|(_, p)| *p).collect();
                let Some((placements, room)) = place_with_room(base, &profiles) else {
                    break;
                };
                for &g in &members[next..next + times] {
                    let gpu = &gpus[g];
                    let entry = out[g].get_or_insert_with(|| Realization::unchanged(gpu));
                    entry.enable_mig = !gpu.mig_enabled;
                    entry.room = room;
                    entry.instances_after += creates.len();
                    for ((r, p), pl) in creates.iter().zip(&placements) {
                        entry.create.push(Creation {
                            request: *r,
                            profile: p,
                            placement: *pl,
                        });
                    }
                }
                for &(r, c) in &want {
                    rem[r] -= c * u32::try_from(times).unwrap_or(u32::MAX);
                }
                next += times;
            }
        }
        // Phase 3: what is left may fit where free instances nobody asked for can go.
        if rem.iter().any(|&c| c > 0) {
            for g in 0..gpus.len() {
                if out[g].is_some() || gpus[g].instances().iter().all(|x| x.in_use) {
                    continue;
                }
                let mut exact = Exact {
                    ctx: self.ctx,
                    memo: FastMap::default(),
                    real_memo: FastMap::default(),
                    budget: 5_000,
                };
                let Some(options) = exact.options(g, &rem) else {
                    continue;
                };
                let mut best: Option<(Value, Realization)> = None;
                for w in options {
                    if let Some(Some(real)) = exact.realize(g, &w) {
                        let v = self.ctx.value(&real);
                        if best.as_ref().is_none_or(|(b, _)| v > *b) {
                            best = Some((v, real));
                        }
                    }
                }
                if let Some((_, real)) = best.filter(|(_, r)| !r.create.is_empty()) {
                    for c in &real.create {
                        rem[c.request] -= 1;
                    }
                    for (r, _) in &real.reuse {
                        rem[*r] -= 1;
                    }
                    out[g] = Some(real);
                }
                if rem.iter().all(|&c| c == 0) {
                    break;
                }
            }
        }
        // Room for GPUs the phases touched.
        for (g, o) in out.iter_mut().enumerate() {
            if let Some(real) = o.as_mut().filter(|r| r.destroy.is_empty()) {
                let mut occ = gpus[g].occupancy().clone();
                for c in &real.create {
                    let _ = occ.add(c.profile, c.placement.start);
                }
                real.room = self.ctx.room_of(&occ);
            }
        }
        out
    }

    /// The pattern that serves the most of `rem` (priorities first, then memory slices, then
    /// room) on a GPU of this class, as (request, count) and the creations.
    #[allow(clippy::type_complexity)]
    pub(super) fn best_pattern(
        &mut self,
        g: usize,
        base: &Occupancy,
        rem: &[u32],
    ) -> Option<(Vec<(usize, u32)>, Vec<(usize, &'static GpuInstanceProfile)>)> {
        let model = base.model();
        let elig = &self.ctx.eligible[g];
        let mut slot_mask = 0u64;
        for (r, p) in elig {
            if let Some(s) = model
                .profiles
                .iter()
                .position(|q| q == *p)
                .filter(|_| rem[*r] > 0)
            {
                slot_mask |= 1 << (s % 64);
            }
        }
        if slot_mask == 0 {
            return None;
        }
        let (_, mask, packed) = base.signature();
        let patterns = self
            .patterns
            .entry((model.key(), mask, packed, slot_mask))
            .or_insert_with(|| shared_patterns(base, (model.key(), mask, packed, slot_mask)))
            .clone();
        let (total_mem, total_comp) = (
            u64::from(model.memory_slices),
            u64::from(model.compute_slices),
        );
        let mut best: Option<((Vec<u64>, Vec<u64>, usize), Vec<(usize, u32)>)> = None;
        for (pi, pat) in patterns.iter().enumerate() {
            let mut want: Vec<(usize, u32)> = Vec::new();
            let mut placed = vec![0u64; self.ctx.levels.len()];
            let mut size = vec![0u64; self.ctx.levels.len()];
            for (slot, &count) in pat.counts.iter().enumerate() {
                let mut left = u32::from(count);
                if left == 0 {
                    continue;
                }
                let p = &model.profiles[slot];
                let mut takers: Vec<usize> = elig
                    .iter()
                    .filter(|(r, q)| *q == p && rem[*r] > 0)
                    .map(|(r, _)| *r)
                    .collect();
                takers.sort_by_key(|&r| (core::cmp::Reverse(self.ctx.requests[r].priority), r));
                for r in takers {
                    let take = left.min(rem[r]);
                    if take > 0 {
                        want.push((r, take));
                        placed[self.ctx.level(r)] += u64::from(take);
                        // Share of the GPU taken, memory and compute weighted alike.
                        size[self.ctx.level(r)] += u64::from(take)
                            * (u64::from(p.memory_slices) * total_comp
                                + u64::from(p.compute_slices) * total_mem);
                        left -= take;
                    }
                }
            }
            if want.is_empty() {
                continue;
            }
            let key = match self.mode {
                Mode::Size => (size, placed, usize::MAX - pi),
                Mode::Count => (placed, size, usize::MAX - pi),
            };
            if best.as_ref().is_none_or(|(k, _)| key > *k) {
                best = Some((key, want));
            }
        }
        let (_, mut want) = best?;
        want.sort_unstable();
        let mut creates = Vec::new();
        for &(r, c) in &want {
            let p = elig.iter().find(|(i, _)| *i == r).map(|(_, p)| *p)?;
            for _ in 0..c {
                creates.push((r, p));
            }
        }
        Some((want, creates))
    }
}
