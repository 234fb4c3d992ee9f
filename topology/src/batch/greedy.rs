//! The class-based packer: identical GPUs as one class, each class filled with the best
//! per-GPU pattern of profiles, repeated; what is left then goes where free instances nobody
//! asked for can be destroyed.

use gpupart_profiles::{GpuInstanceProfile, ModelKey};

use super::context::{Ctx, Realization, Value};
use super::exact::Exact;
use super::patterns::{PatternKey, Patterns, shared_patterns};
use super::{Creation, FastMap};
use crate::Occupancy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Patterns that fill a GPU best (memory and compute), to use the fewest GPUs.
    Size,
    /// Patterns with the most instances, for when not everything fits.
    Count,
    /// Per class, first the mix of patterns an LP over the class's GPUs and the demand left
    /// chooses (rounded down), then as [`Mode::Size`] for what is left: mixes that no single
    /// repeated pattern reaches (one `+me` and three `1g.10gb` a GPU).
    Lp,
    /// First one LP over all classes at once ([`Greedy::global_mix`]), rounded down, then as
    /// [`Mode::Size`] for what is left.
    GlobalLp,
    /// Patterns by their worth at the bound's prices ([`Greedy::prices`]): the patterns the
    /// certified bound favours, for fleets of many small classes where no one class's LP
    /// sees the whole.
    Priced,
}

pub(super) struct Greedy<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    pub(super) mode: Mode,
    pub(super) patterns: FastMap<PatternKey, Patterns>,
    /// Per request, what one instance is worth in [`Mode::Priced`].
    pub(super) prices: Vec<i64>,
    /// Free instances nobody asked for count as gone: classes are made by the in-use
    /// instances alone, and each GPU's outcome (what to keep, reuse, destroy) is weighed for
    /// the pattern it gets. For fleets crowded with free instances.
    pub(super) destroy_free: bool,
    /// The classes, fullest first, as made without and with `destroy_free` (they depend on
    /// the fleet and the requests alone).
    classes: [Option<std::rc::Rc<Classes>>; 2],
}

/// Classes of identical GPUs: the members (fleet positions) and their common occupancy.
type Classes = Vec<(Vec<usize>, Occupancy)>;

impl<'c, 'a> Greedy<'c, 'a> {
    /// The packing patterns of `base`'s free room over the request slots in `slot_mask`:
    /// memoized in this run, and across runs by [`shared_patterns`].
    pub(super) fn patterns_for(&mut self, base: &Occupancy, slot_mask: u64) -> Patterns {
        let (model, mask, packed) = base.signature();
        let key = (model, mask, packed, slot_mask);
        self.patterns
            .entry(key)
            .or_insert_with(|| shared_patterns(base, key))
            .clone()
    }

    pub(super) fn new(ctx: &'c Ctx<'a>, mode: Mode) -> Self {
        Greedy {
            ctx,
            mode,
            patterns: FastMap::default(),
            prices: Vec::new(),
            destroy_free: false,
            classes: [None, None],
        }
    }

    /// The classes for the present `destroy_free`, made on first use.
    fn classes(&mut self) -> std::rc::Rc<Classes> {
        let at = usize::from(self.destroy_free);
        if let Some(c) = &self.classes[at] {
            return c.clone();
        }
        let gpus = self.ctx.fleet.gpus();
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
        let mut classes: Classes = Vec::new();
        let mut class_of: FastMap<(ModelKey, u32, u128, bool, Vec<usize>), usize> =
            FastMap::default();
        for &g in &fill {
            let gpu = &gpus[g];
            let owned;
            let base = if self.destroy_free {
                owned = gpu.in_use_occupancy();
                &owned
            } else {
                gpu.occupancy()
            };
            let key = {
                let (m, mask, packed) = base.signature();
                let elig: Vec<usize> = self.ctx.eligible[g].iter().map(|(r, _)| *r).collect();
                (m, mask, packed, gpu.mig_enabled, elig)
            };
            match class_of.get(&key) {
                Some(&c) => classes[c].0.push(g),
                None => {
                    class_of.insert(key, classes.len());
                    classes.push((vec![g], base.clone()));
                }
            }
        }
        let c = std::rc::Rc::new(classes);
        self.classes[at] = Some(c.clone());
        c
    }

    pub(super) fn run(&mut self, mut rem: Vec<u32>) -> Vec<Option<Realization>> {
        let gpus = self.ctx.fleet.gpus();
        let mut out: Vec<Option<Realization>> = vec![None; gpus.len()];
        // Phase 1: reuse free instances of the right profile, priorities first.
        // The free instances claimed, as (GPU, instance): few GPUs hold any.
        let mut claimed: rustc_hash::FxHashSet<(usize, usize)> = Default::default();
        let mut order: Vec<usize> = (0..rem.len()).collect();
        order.sort_by_key(|&r| (core::cmp::Reverse(self.ctx.requests[r].priority), r));
        if self.destroy_free {
            // Each GPU's outcome reuses what it can when its pattern is chosen.
            order.clear();
        }
        for &r in &order {
            for &(g, p) in &self.ctx.reusable()[r] {
                if rem[r] == 0 {
                    break;
                }
                let gpu = &gpus[g];
                for (k, x) in gpu.instances().iter().enumerate() {
                    if rem[r] == 0 || x.in_use || x.profile != p {
                        continue;
                    }
                    if claimed.insert((g, k)) {
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
        let classes = self.classes();
        let mut global = if self.mode == Mode::GlobalLp {
            self.global_mix(&classes, &rem)
        } else {
            Vec::new()
        };
        // With one LP over all classes, every class takes its share first and only then do
        // the leftovers go round: a class's leftovers must not eat another's share.
        let passes = if self.mode == Mode::GlobalLp { 2 } else { 1 };
        let mut filled = vec![0usize; classes.len()];
        for pass in 0..passes {
            for (ci, (members, base)) in classes.iter().enumerate() {
                let g0 = members[0];
                let mut next = filled[ci];
                let mix = match self.mode {
                    Mode::Lp if members.len() > 1 => self.lp_mix(g0, base, &rem, members.len()),
                    Mode::GlobalLp if pass == 0 => {
                        global.get_mut(ci).map(std::mem::take).unwrap_or_default()
                    }
                    _ => Vec::new(),
                };
                {
                    // Members of a class given the same creations get the same placements.
                    type Placed = Option<(Vec<gpupart_profiles::Placement>, u8)>;
                    let mut last: Option<(Vec<&'static GpuInstanceProfile>, Placed)> = None;
                    for (want, creates, times) in mix {
                        if self.destroy_free {
                            for _ in 0..times {
                                let g = members[next];
                                if let Some(real) = self.ctx.realize(g, &want) {
                                    for &(r, c) in &want {
                                        rem[r] -= c;
                                    }
                                    out[g] = Some(real);
                                }
                                next += 1;
                            }
                            continue;
                        }
                        let profiles: Vec<&'static GpuInstanceProfile> =
                            creates.iter().map(|(_, p)| *p).collect();
                        if last.as_ref().is_none_or(|(l, _)| *l != profiles) {
                            let placed = self.ctx.place(base, &profiles);
                            last = Some((profiles, placed));
                        }
                        let Some((_, Some((placements, room)))) = &last else {
                            break;
                        };
                        for &g in &members[next..next + times] {
                            give(&mut out[g], &gpus[g], &creates, placements, *room);
                        }
                        for &(r, c) in &want {
                            rem[r] -= c * u32::try_from(times).unwrap_or(u32::MAX);
                        }
                        next += times;
                    }
                }
                if passes == 2 && pass == 0 {
                    filled[ci] = next;
                    continue;
                }
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
                    if self.destroy_free {
                        // Each GPU weighs its own free instances for the pattern.
                        let mut served = 0u32;
                        for &g in &members[next..next + times] {
                            if let Some(real) = self.ctx.realize(g, &want) {
                                out[g] = Some(real);
                                served += 1;
                            }
                        }
                        for &(r, c) in &want {
                            rem[r] -= c * served;
                        }
                        next += times;
                        continue;
                    }
                    let profiles: Vec<&'static GpuInstanceProfile> =
                        creates.iter().map(|(_, p)| *p).collect();
                    let Some((placements, room)) = self.ctx.place(base, &profiles) else {
                        break;
                    };
                    for &g in &members[next..next + times] {
                        give(&mut out[g], &gpus[g], &creates, &placements, room);
                    }
                    for &(r, c) in &want {
                        rem[r] -= c * u32::try_from(times).unwrap_or(u32::MAX);
                    }
                    next += times;
                }
            }
        }
        // Phase 3: what is left may fit where free instances nobody asked for can go: on GPUs
        // the phases left alone, and on those they filled around such an instance (what a
        // GPU serves now goes back into the pot, and the GPU is weighed afresh).
        if rem.iter().any(|&c| c > 0) {
            for g in 0..gpus.len() {
                let has_spare = gpus[g].instances().iter().any(|x| {
                    !x.in_use
                        && out[g].as_ref().is_none_or(|r| {
                            !r.reuse.iter().any(|(_, y)| y == x) && !r.destroy.contains(x)
                        })
                });
                if !has_spare {
                    continue;
                }
                let mut pot = rem.clone();
                let mut before = 0usize;
                if let Some(r) = &out[g] {
                    for c in &r.create {
                        pot[c.request] += 1;
                        before += 1;
                    }
                    for (req, _) in &r.reuse {
                        pot[*req] += 1;
                        before += 1;
                    }
                }
                let mut exact = Exact::over(self.ctx, vec![g], 5_000);
                let Some(options) = exact.options(g, &pot) else {
                    continue;
                };
                let mut best: Option<(Value, Realization)> = None;
                for w in options.iter() {
                    if let Some(Some(real)) = exact.realize(g, w) {
                        let v = self.ctx.value(&real);
                        if best.as_ref().is_none_or(|(b, _)| v > *b) {
                            best = Some((v, real));
                        }
                    }
                }
                let Some((_, real)) = best else { continue };
                let served = real.create.len() + real.reuse.len();
                if served <= before || real.create.is_empty() {
                    continue;
                }
                for c in &real.create {
                    pot[c.request] -= 1;
                }
                for (r, _) in &real.reuse {
                    pot[*r] -= 1;
                }
                rem = pot;
                out[g] = Some(real);
                if rem.iter().all(|&c| c == 0) {
                    break;
                }
            }
        }
        // Room for GPUs only the first phase touched (the others' outcomes carry theirs: the
        // placements were chosen with the room kept).
        for (g, o) in out.iter_mut().enumerate() {
            if let Some(real) = o
                .as_mut()
                .filter(|r| r.destroy.is_empty() && r.create.is_empty())
            {
                real.room = self.ctx.room_of(gpus[g].occupancy());
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
        // Per profile slot, the requests with demand left that it may serve, highest
        // priority first (then in request order): whom a pattern's instances there go to.
        let mut takers: Vec<Vec<usize>> = vec![Vec::new(); model.profiles.len()];
        for (r, p) in elig.iter() {
            if let Some(s) = model
                .profiles
                .iter()
                .position(|q| q == *p)
                .filter(|_| rem[*r] > 0)
            {
                slot_mask |= 1 << (s % 64);
                takers[s].push(*r);
            }
        }
        if slot_mask == 0 {
            return None;
        }
        for t in &mut takers {
            t.sort_by_key(|&r| (core::cmp::Reverse(self.ctx.requests[r].priority), r));
        }
        let patterns = self.patterns_for(base, slot_mask);
        let (total_mem, total_comp) = (
            u64::from(model.memory_slices),
            u64::from(model.compute_slices),
        );
        let levels = self.ctx.levels.len();
        // Buffers for the pattern weighed and the best one so far, reused from pattern to
        // pattern: (per level placed, per level size, worth at the prices, want).
        type Weighed = (Vec<u64>, Vec<u64>, u64, Vec<(usize, u32)>);
        let mut cur: Weighed = (vec![0; levels], vec![0; levels], 0, Vec::new());
        let mut best: Option<Weighed> = None;
        for pat in patterns.iter() {
            let (placed, size, worth, want) = &mut cur;
            placed.fill(0);
            size.fill(0);
            *worth = 0;
            want.clear();
            for (slot, &count) in pat.counts.iter().enumerate() {
                let mut left = u32::from(count);
                if left == 0 {
                    continue;
                }
                let p = &model.profiles[slot];
                for &r in takers.get(slot).map_or(&[][..], Vec::as_slice) {
                    let take = left.min(rem[r]);
                    if take > 0 {
                        want.push((r, take));
                        placed[self.ctx.level(r)] += u64::from(take);
                        *worth += u64::from(take)
                            * u64::try_from(self.prices.get(r).copied().unwrap_or(0)).unwrap_or(0);
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
            // By the mode's key; ties to the earlier pattern.
            let better = best.as_ref().is_none_or(|(bp, bs, bw, _)| {
                let order = match self.mode {
                    Mode::Size | Mode::Lp | Mode::GlobalLp => {
                        size.as_slice().cmp(bs).then(placed.as_slice().cmp(bp))
                    }
                    Mode::Count => placed.as_slice().cmp(bp).then(size.as_slice().cmp(bs)),
                    Mode::Priced => (*worth).cmp(bw).then(size.as_slice().cmp(bs)),
                };
                order.is_gt()
            });
            if better {
                match &mut best {
                    Some(b) => std::mem::swap(b, &mut cur),
                    None => best = Some(cur.clone()),
                }
            }
        }
        let (_, _, _, mut want) = best?;
        want.sort_unstable();
        let mut creates = Vec::new();
        for &(r, c) in &want {
            let p = self.ctx.profile_on(g, r)?;
            for _ in 0..c {
                creates.push((r, p));
            }
        }
        Some((want, creates))
    }
}

/// Gives GPU `gpu` the creations of a pattern at `placements` (in `creates` order), with the
/// room they leave.
fn give(
    out: &mut Option<Realization>,
    gpu: &crate::Gpu,
    creates: &[(usize, &'static GpuInstanceProfile)],
    placements: &[gpupart_profiles::Placement],
    room: u8,
) {
    let entry = out.get_or_insert_with(|| Realization::unchanged(gpu));
    entry.create.reserve_exact(creates.len());
    entry.enable_mig = !gpu.mig_enabled;
    entry.room = room;
    entry.instances_after += creates.len();
    for ((r, p), pl) in creates.iter().zip(placements) {
        entry.create.push(Creation {
            request: *r,
            profile: p,
            placement: *pl,
        });
    }
}
