//! Local improvement of a plan that leaves instances out: small sets of GPUs are solved again
//! exactly (the `exact` search over just those GPUs) with what they serve now and what is
//! left unplaced in one pot; a set's new outcome replaces the old one only where the
//! objective's value grows, so the plan only gets better. The sets are drawn from the GPUs
//! that may host something unplaced, the most wasteful first, with partners from a fixed
//! pseudo-random sequence (plans stay deterministic).

use gpupart_profiles::ModelKey;

use super::FastMap;
use super::context::{Ctx, Realization};
use super::patterns::{Pattern, shared_patterns};
use crate::Occupancy;

/// Work for one set (options weighed, as for the exact search).
const SET_BUDGET: u64 = 4_000;

/// Fills of one GPU weighed per step of a set's search, the fullest first.
const OPTIONS: usize = 64;

/// Gains between two refreshes of the host lists.
const REFRESH: u32 = 32;

/// Hosts kept in order of waste (the rest in any order).
const HEAD: usize = 64;

/// The most wasteful GPUs of all kept as partners.
const TOP: usize = 16;

/// Improves `choice` (one entry per GPU, `None` for untouched) for `demand` within `work`
/// options weighed in all, giving up after `patience` sets in a row without a gain; stops
/// early once every priority level places what `bound` (per level, highest first,
/// cumulative: the certified bound) allows, as no plan places more. Returns whether it
/// changed anything.
pub(super) fn improve(
    ctx: &Ctx<'_>,
    choice: &mut Vec<Option<Realization>>,
    demand: &[u32],
    bound: &[u64],
    mut work: u64,
    patience: u32,
) -> bool {
    let gpus = ctx.fleet.gpus();
    choice.resize(gpus.len(), None);
    let mut rem = remaining(choice, demand);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // splitmix64: a fixed sequence, so the plan is the same on every run.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut stale = 0u32;
    let mut patterns = FastMap::default();
    let mut maximal = FastMap::default();
    let mut wasted: Vec<u32> = (0..gpus.len()).map(|g| waste(ctx, choice, g)).collect();
    // Per request, the GPUs that may serve it.
    let mut by_request: Vec<Vec<usize>> = vec![Vec::new(); demand.len()];
    for (g, elig) in ctx.eligible.iter().enumerate() {
        for &(r, _) in elig {
            by_request[r].push(g);
        }
    }
    // GPUs that may host something left out, the most room wasted first: made again only
    // when the plan changes.
    let mut hosts: Vec<(u32, usize)> = Vec::new();
    // The requests left out, and the GPUs that waste the most room of all (where what a set
    // moves out may go).
    let mut open: Vec<usize> = Vec::new();
    let mut top: Vec<usize> = Vec::new();
    let mut fresh = false;
    let mut gains = 0u32;
    let pick = |n: usize, x: u64| usize::try_from(x % n.max(1) as u64).unwrap_or(0);
    while work > 0 && stale < patience && !reached(ctx, &rem, demand, bound) {
        if !fresh {
            hosts = (0..gpus.len())
                .filter(|&g| ctx.eligible[g].iter().any(|(r, _)| rem[*r] > 0))
                .map(|g| (wasted[g], g))
                .collect();
            // Only the first ones need their order (seeds in turn, partners among the most
            // wasteful): a partial sort keeps a refresh linear in the fleet.
            let by_waste = |a: &(u32, usize), b: &(u32, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
            let head = hosts.len().min(HEAD);
            if head > 0 && head < hosts.len() {
                hosts.select_nth_unstable_by(head - 1, by_waste);
            }
            hosts[..head].sort_unstable_by(by_waste);
            open = (0..rem.len())
                .filter(|&r| rem[r] > 0 && !by_request[r].is_empty())
                .collect();
            let mut all: Vec<(u32, usize)> = (0..gpus.len())
                .filter(|&g| !ctx.eligible[g].is_empty() && wasted[g] > 0)
                .map(|g| (wasted[g], g))
                .collect();
            let keep = all.len().min(TOP);
            if keep > 0 && keep < all.len() {
                all.select_nth_unstable_by(keep - 1, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            }
            top = all[..keep].iter().map(|&(_, g)| g).collect();
            fresh = true;
        }
        if hosts.is_empty() || open.is_empty() {
            return gains > 0;
        }
        let size = 2 + (stale % 3) as usize;
        // Seeds: the hosts by waste in turn, and every other time a GPU that may take a
        // request left out, the requests in turn (one with few GPUs to go to gets its turn).
        let seed_request = open[(stale as usize / 2) % open.len()];
        let seed = if stale.is_multiple_of(2) {
            hosts[(stale as usize / 2) % hosts.len().min(HEAD)].1
        } else {
            let takers = &by_request[seed_request];
            (0..3)
                .map(|_| takers[pick(takers.len(), next())])
                .max_by_key(|&g| (wasted[g], core::cmp::Reverse(g)))
                .unwrap_or(takers[0])
        };
        let mut set = vec![seed];
        for _ in 0..4 * size {
            if set.len() == size {
                break;
            }
            // Partners: among the most wasteful hosts, any host, the most wasteful GPUs of
            // all, a GPU the seed's request may use, or a GPU that may take what a GPU of the
            // set serves or may serve (where its instances could move to make room).
            let g = match next() % 5 {
                0 => hosts[pick(hosts.len().min(2 * size + 2), next())].1,
                1 => hosts[pick(hosts.len(), next())].1,
                2 if !top.is_empty() => top[pick(top.len(), next())],
                3 => {
                    let takers = &by_request[seed_request];
                    takers[pick(takers.len(), next())]
                }
                _ => {
                    let from = set[pick(set.len(), next())];
                    let mut asks: Vec<usize> = ctx.eligible[from]
                        .iter()
                        .map(|(r, _)| *r)
                        .filter(|&r| rem[r] > 0)
                        .collect();
                    if let Some(real) = &choice[from] {
                        asks.extend(real.create.iter().map(|c| c.request));
                        asks.extend(real.reuse.iter().map(|(r, _)| *r));
                    }
                    if asks.is_empty() {
                        continue;
                    }
                    let takers = &by_request[asks[pick(asks.len(), next())]];
                    if takers.is_empty() {
                        continue;
                    }
                    // The most wasteful of three drawn.
                    (0..3)
                        .map(|_| takers[pick(takers.len(), next())])
                        .max_by_key(|&g| (wasted[g], core::cmp::Reverse(g)))
                        .unwrap_or(takers[0])
                }
            };
            if !set.contains(&g) {
                set.push(g);
            }
        }
        set.sort_unstable();
        let mut pot = rem.clone();
        let mut before = vec![0u64; ctx.levels.len()];
        for &g in &set {
            if let Some(real) = &choice[g] {
                for c in &real.create {
                    pot[c.request] += 1;
                    before[ctx.level(c.request)] += 1;
                }
                for (r, _) in &real.reuse {
                    pot[*r] += 1;
                    before[ctx.level(*r)] += 1;
                }
            }
        }
        let budget = SET_BUDGET.min(work);
        let mut sub = Sub::new(
            ctx,
            set.clone(),
            &pot,
            before.clone(),
            &mut patterns,
            &mut maximal,
            budget,
        );
        let local: Vec<u32> = sub.reqs.iter().map(|&r| pot[r]).collect();
        let found = sub.best(0, &local);
        work -= budget - sub.budget;
        let better = match found {
            Some(Some(v)) if v > before => {
                let wants = sub.wants(&local);
                let reals: Option<Vec<Realization>> = set
                    .iter()
                    .zip(&wants)
                    .map(|(&g, w)| ctx.realize(g, w))
                    .collect();
                reals.is_some_and(|reals| {
                    // What is left: the pot less what the set serves now.
                    for (&g, real) in set.iter().zip(reals) {
                        for c in &real.create {
                            pot[c.request] -= 1;
                        }
                        for (r, _) in &real.reuse {
                            pot[*r] -= 1;
                        }
                        let touched = !real.create.is_empty()
                            || !real.reuse.is_empty()
                            || !real.destroy.is_empty();
                        choice[g] = touched.then_some(real);
                        wasted[g] = waste(ctx, choice, g);
                    }
                    true
                })
            }
            _ => false,
        };
        if better {
            // The lists are made again when a request starts or stops being left out, and
            // every `REFRESH` gains (the waste they order by drifts): linear in the fleet,
            // so not after every gain.
            let changed = rem.iter().zip(&pot).any(|(a, b)| (*a == 0) != (*b == 0));
            rem = pot;
            stale = 0;
            gains += 1;
            if changed || gains.is_multiple_of(REFRESH) {
                fresh = false;
            }
        } else {
            stale += 1;
        }
    }
    gains > 0
}

/// Whether `choice` places, at every level, what `bound` allows (or all that is asked).
pub(super) fn at_bound(
    ctx: &Ctx<'_>,
    choice: &[Option<Realization>],
    demand: &[u32],
    bound: &[u64],
) -> bool {
    reached(ctx, &remaining(choice, demand), demand, bound)
}

/// Whether every level places what the bound allows (or all that is asked).
fn reached(ctx: &Ctx<'_>, rem: &[u32], demand: &[u32], bound: &[u64]) -> bool {
    let mut placed = vec![0u64; ctx.levels.len()];
    for (r, (&d, &left)) in demand.iter().zip(rem).enumerate() {
        placed[ctx.level(r)] += u64::from(d - left);
    }
    let mut cumulative = 0u64;
    placed.iter().zip(bound).all(|(&p, &b)| {
        cumulative += p;
        cumulative >= b
    }) || rem.iter().all(|&c| c == 0)
}

/// What `demand` still asks after `choice`.
fn remaining(choice: &[Option<Realization>], demand: &[u32]) -> Vec<u32> {
    let mut rem = demand.to_vec();
    for r in choice.iter().flatten() {
        for c in &r.create {
            rem[c.request] = rem[c.request].saturating_sub(1);
        }
        for (q, _) in &r.reuse {
            rem[*q] = rem[*q].saturating_sub(1);
        }
    }
    rem
}

/// Memory and compute slices GPU `g` leaves unused after `choice`.
fn waste(ctx: &Ctx<'_>, choice: &[Option<Realization>], g: usize) -> u32 {
    let gpu = &ctx.fleet.gpus()[g];
    let Some(r) = &choice[g] else {
        let occ = gpu.occupancy();
        return occ.free_memory_slices()
            + u32::from(gpu.model.compute_slices.saturating_sub(occ.compute_used()));
    };
    let mut occ = Occupancy::new(gpu.model);
    for x in gpu.instances().iter().filter(|x| !r.destroy.contains(x)) {
        let _ = occ.add(x.profile, x.start);
    }
    for c in &r.create {
        let _ = occ.add(c.profile, c.placement.start);
    }
    occ.free_memory_slices()
        + u32::from(gpu.model.compute_slices.saturating_sub(occ.compute_used()))
}

/// The packing patterns of one base occupancy over some profile slots, with a set of them for
/// asking whether one more instance of a slot still fits.
type PatternSet = std::rc::Rc<(Vec<Pattern>, FastSet<Vec<u8>>)>;

type FastSet<K> = rustc_hash::FxHashSet<K>;

/// The exact search over a few GPUs for the instances placed alone (per priority level,
/// highest first): free instances count as gone (any plan may destroy them; `realize` then
/// keeps and reuses what it can), and each GPU only takes *maximal* fills, which loses
/// nothing: one more instance placed now is never worth less than the room it takes later.
struct Sub<'c, 'a> {
    ctx: &'c Ctx<'a>,
    set: Vec<usize>,
    /// The requests in play (global indices); the search works on their local indices.
    reqs: Vec<usize>,
    /// Per GPU of the set: its in-use instances alone, and per profile slot the groups of
    /// local requests that may take it there (requests with the same constraints in one
    /// group, highest priority first).
    bases: Vec<Occupancy>,
    slots: Vec<Vec<(usize, Vec<Vec<usize>>)>>,
    levels: Vec<usize>,
    /// Per state: its best, or `None` where no completion beats `before`.
    memo: FastMap<(usize, Vec<u32>), Option<Step>>,
    patterns: &'c mut FastMap<(ModelKey, u32, u128, u64), PatternSet>,
    maximal: &'c mut FastMap<MaximalKey, std::rc::Rc<Vec<Vec<u8>>>>,
    budget: u64,
    /// The pot at the first GPU (local), and what the set places now per level: only
    /// states from which more can be placed are searched.
    root: Vec<u32>,
    before: Vec<u64>,
    /// Per position of the set: the most instances the GPUs from there on hold, and the
    /// memory and compute they leave free (in 1/840 of a GPU).
    room: Vec<(u64, u64, u64)>,
    /// Per local request: the least memory and compute one instance takes on the set's
    /// GPUs; the local requests by each, smallest first.
    units: Vec<(u64, u64)>,
    by_memory: Vec<usize>,
    by_compute: Vec<usize>,
}

/// A GPU in this many parts: memory and compute slices of every model divide it.
const PARTS: u64 = 840;

/// The best per-level count from one step of the search on, and the fill it starts with.
type Step = (Vec<u64>, Vec<(usize, u32)>);

/// A base occupancy and, per profile slot asked, how many instances may be placed at most.
type MaximalKey = ((ModelKey, u32, u128), Vec<(usize, u8)>);

impl<'c, 'a> Sub<'c, 'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        ctx: &'c Ctx<'a>,
        set: Vec<usize>,
        pot: &[u32],
        before: Vec<u64>,
        patterns: &'c mut FastMap<(ModelKey, u32, u128, u64), PatternSet>,
        maximal: &'c mut FastMap<MaximalKey, std::rc::Rc<Vec<Vec<u8>>>>,
        budget: u64,
    ) -> Self {
        let gpus = ctx.fleet.gpus();
        let mut reqs: Vec<usize> = set
            .iter()
            .flat_map(|&g| ctx.eligible[g].iter().map(|(r, _)| *r))
            .filter(|&r| pot[r] > 0)
            .collect();
        reqs.sort_unstable();
        reqs.dedup();
        let local = |r: usize| reqs.binary_search(&r).ok();
        let mut bases = Vec::with_capacity(set.len());
        let mut slots = Vec::with_capacity(set.len());
        for &g in &set {
            let gpu = &gpus[g];
            let mut base = Occupancy::new(gpu.model);
            for x in gpu.instances().iter().filter(|x| x.in_use) {
                let _ = base.add(x.profile, x.start);
            }
            let mut per_slot: Vec<(usize, Vec<Vec<usize>>)> = Vec::new();
            for &(r, p) in &ctx.eligible[g] {
                let (Some(l), Some(s)) = (local(r), base.profile_slot(p)) else {
                    continue;
                };
                let at = match per_slot.iter().position(|(q, _)| *q == s) {
                    Some(i) => i,
                    None => {
                        per_slot.push((s, Vec::new()));
                        per_slot.len() - 1
                    }
                };
                let req = &ctx.requests[r];
                let groups = &mut per_slot[at].1;
                match groups.iter().position(|grp| {
                    let o = &ctx.requests[reqs[grp[0]]];
                    o.model == req.model && o.gpus == req.gpus && o.numa_node == req.numa_node
                }) {
                    Some(i) => groups[i].push(l),
                    None => groups.push(vec![l]),
                }
            }
            for (_, groups) in &mut per_slot {
                for grp in groups.iter_mut() {
                    grp.sort_by_key(|&l| (ctx.level(reqs[l]), l));
                }
            }
            per_slot.sort_by_key(|(s, _)| *s);
            bases.push(base);
            slots.push(per_slot);
        }
        let levels = reqs.iter().map(|&r| ctx.level(r)).collect();
        let mut units = vec![(u64::MAX, u64::MAX); reqs.len()];
        for (k, &g) in set.iter().enumerate() {
            let model = gpus[g].model;
            for (s, groups) in &slots[k] {
                let p = &model.profiles[*s];
                let mem =
                    u64::from(p.memory_slices) * PARTS / u64::from(model.memory_slices.max(1));
                let comp =
                    u64::from(p.compute_slices) * PARTS / u64::from(model.compute_slices.max(1));
                for &l in groups.iter().flatten() {
                    units[l] = (units[l].0.min(mem), units[l].1.min(comp));
                }
            }
        }
        let mut by_memory: Vec<usize> = (0..reqs.len()).collect();
        by_memory.sort_by_key(|&l| (units[l].0, l));
        let mut by_compute = by_memory.clone();
        by_compute.sort_by_key(|&l| (units[l].1, l));
        let root = reqs.iter().map(|&r| pot[r]).collect();
        let mut sub = Sub {
            ctx,
            set,
            reqs,
            bases,
            slots,
            levels,
            memo: FastMap::default(),
            patterns,
            maximal,
            budget,
            root,
            before,
            room: Vec::new(),
            units,
            by_memory,
            by_compute,
        };
        let mut room = vec![(0u64, 0u64, 0u64); sub.set.len() + 1];
        for k in (0..sub.set.len()).rev() {
            let base = sub.bases[k].clone();
            let model = base.model();
            let slot_mask = sub.slots[k]
                .iter()
                .fold(0u64, |m, (s, _)| m | 1 << (s % 64));
            let cap = if slot_mask == 0 {
                0
            } else {
                sub.pattern_set(k, slot_mask)
                    .0
                    .iter()
                    .map(|p| p.counts.iter().map(|&c| u64::from(c)).sum::<u64>())
                    .max()
                    .unwrap_or(0)
            };
            let mem = (u64::from(base.free_memory_slices()) * PARTS)
                .div_ceil(u64::from(model.memory_slices.max(1)));
            let comp = (u64::from(model.compute_slices.saturating_sub(base.compute_used()))
                * PARTS)
                .div_ceil(u64::from(model.compute_slices.max(1)));
            let after = room[k + 1];
            room[k] = (after.0 + cap, after.1 + mem, after.2 + comp);
        }
        sub.room = room;
        sub
    }

    /// Per level, the most the GPUs from position `k` on can place of `rem`: no more than is
    /// left, than they hold, and than fits, smallest first, in their free memory and compute.
    fn optimistic(&self, k: usize, rem: &[u32]) -> Vec<u64> {
        let (cap, mem, comp) = self.room[k];
        let fill = |order: &[usize], room: u64, unit: &dyn Fn(usize) -> u64, level: usize| {
            let mut room = room;
            let mut n = 0u64;
            for &l in order {
                if rem[l] == 0 || self.levels[l] != level {
                    continue;
                }
                let u = unit(l);
                let want = u64::from(rem[l]);
                let take = room.checked_div(u).map_or(want, |fit| want.min(fit));
                n += take;
                room -= take * u;
                if take < want {
                    break;
                }
            }
            n
        };
        let mut out = vec![0u64; self.ctx.levels.len()];
        for (level, o) in out.iter_mut().enumerate() {
            let left: u64 = rem
                .iter()
                .enumerate()
                .filter(|&(l, _)| self.levels[l] == level)
                .map(|(_, &c)| u64::from(c))
                .sum();
            let by_mem = fill(&self.by_memory, mem, &|l| self.units[l].0, level);
            let by_comp = fill(&self.by_compute, comp, &|l| self.units[l].1, level);
            *o = left.min(cap).min(by_mem).min(by_comp);
        }
        out
    }

    /// Whether a plan from position `k` with `rem` left may place more than the set does now.
    fn viable(&self, k: usize, rem: &[u32]) -> bool {
        let mut reach = self.optimistic(k, rem);
        for (l, (&d, &left)) in self.root.iter().zip(rem).enumerate() {
            reach[self.levels[l]] += u64::from(d - left);
        }
        reach > self.before
    }

    fn pattern_set(&mut self, k: usize, slot_mask: u64) -> PatternSet {
        let (m, mask, packed) = self.bases[k].signature();
        let base = &self.bases[k];
        self.patterns
            .entry((m, mask, packed, slot_mask))
            .or_insert_with(|| {
                let list = shared_patterns(base, (m, mask, packed, slot_mask));
                let set = list.iter().map(|p| p.counts.clone()).collect();
                std::rc::Rc::new((list, set))
            })
            .clone()
    }

    /// Every maximal fill of GPU `k` of the set under `rem` (local (request, count)).
    fn options(&mut self, k: usize, rem: &[u32]) -> Vec<Vec<(usize, u32)>> {
        let caps: Vec<(usize, u32)> = self.slots[k]
            .iter()
            .map(|(s, groups)| (*s, groups.iter().flatten().map(|&l| rem[l]).sum()))
            .collect();
        let slot_mask = caps
            .iter()
            .filter(|(_, c)| *c > 0)
            .fold(0u64, |m, (s, _)| m | 1 << (s % 64));
        if slot_mask == 0 {
            return vec![Vec::new()];
        }
        // The maximal patterns under these caps: the same for every GPU of the same base,
        // so shared by every set and step of this improvement.
        let (m, mask, packed) = self.bases[k].signature();
        let cap_key: Vec<(usize, u8)> = caps
            .iter()
            .map(|&(s, c)| (s, u8::try_from(c.min(64)).unwrap_or(64)))
            .collect();
        let key = ((m, mask, packed), cap_key);
        let maximal = if let Some(found) = self.maximal.get(&key) {
            found.clone()
        } else {
            let set = self.pattern_set(k, slot_mask);
            let mut probe = Vec::new();
            let list: Vec<Vec<u8>> = set
                .0
                .iter()
                .filter(|p| caps.iter().all(|&(s, c)| u32::from(p.counts[s]) <= c))
                .filter(|p| {
                    caps.iter().all(|&(s, c)| {
                        if c == 0 || u32::from(p.counts[s]) >= c {
                            return true;
                        }
                        probe.clone_from(&p.counts);
                        probe[s] += 1;
                        !set.1.contains(&probe)
                    })
                })
                .map(|p| p.counts.clone())
                .collect();
            let list = std::rc::Rc::new(list);
            self.maximal.insert(key, list.clone());
            list
        };
        let mut out = Vec::new();
        for p in maximal.iter() {
            // Split each slot's instances among its groups, every way.
            let mut wants: Vec<Vec<(usize, u32)>> = vec![Vec::new()];
            for (s, groups) in &self.slots[k] {
                let n = u32::from(p[*s]);
                if n == 0 {
                    continue;
                }
                let mut next = Vec::new();
                for w in &wants {
                    split(groups, rem, n, 0, w, &mut next);
                }
                wants = next;
                if wants.len() > 256 {
                    wants.truncate(256);
                }
            }
            out.extend(wants);
        }
        if out.is_empty() {
            out.push(Vec::new());
        }
        // The fullest fills first (higher priorities weigh more), and only the first
        // `OPTIONS`: a neighbourhood to search, not a proof.
        if out.len() > OPTIONS {
            let levels = &self.levels;
            let worth = |w: &Vec<(usize, u32)>| -> u64 {
                w.iter()
                    .map(|&(l, c)| u64::from(c) << (8 * (3usize.saturating_sub(levels[l])).min(7)))
                    .sum()
            };
            out.sort_by_cached_key(|w| core::cmp::Reverse(worth(w)));
            out.truncate(OPTIONS);
        }
        out
    }

    /// The best per-level count of instances GPUs `k..` of the set place under `rem`:
    /// `Some(None)` where no plan from here places more than the set does now, `None` once
    /// the budget is spent.
    fn best(&mut self, k: usize, rem: &[u32]) -> Option<Option<Vec<u64>>> {
        let zero = vec![0u64; self.ctx.levels.len()];
        if k == self.set.len() {
            return Some(self.viable(k, rem).then_some(zero));
        }
        let key = (k, rem.to_vec());
        if let Some(found) = self.memo.get(&key) {
            return Some(found.as_ref().map(|(v, _)| v.clone()));
        }
        if !self.viable(k, rem) {
            self.memo.insert(key, None);
            return Some(None);
        }
        let mut best: Option<Step> = None;
        let mut next = rem.to_vec();
        for want in self.options(k, rem) {
            self.budget = self.budget.checked_sub(1)?;
            next.copy_from_slice(rem);
            let mut v = zero.clone();
            for &(l, c) in &want {
                next[l] -= c;
                v[self.levels[l]] += u64::from(c);
            }
            let Some(rest) = self.best(k + 1, &next)? else {
                continue;
            };
            for (a, b) in v.iter_mut().zip(rest) {
                *a += b;
            }
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, want));
            }
        }
        let value = best.as_ref().map(|(v, _)| v.clone());
        self.memo.insert(key, best);
        Some(value)
    }

    /// The fills of the best plan (after `best(0, rem)`), as global (request, count) per GPU.
    fn wants(&self, rem: &[u32]) -> Vec<Vec<(usize, u32)>> {
        let mut rem = rem.to_vec();
        let mut out = Vec::with_capacity(self.set.len());
        for k in 0..self.set.len() {
            let want = self
                .memo
                .get(&(k, rem.clone()))
                .and_then(|found| found.as_ref().map(|(_, w)| w.clone()))
                .unwrap_or_default();
            for &(l, c) in &want {
                rem[l] -= c;
            }
            let mut global: Vec<(usize, u32)> =
                want.iter().map(|&(l, c)| (self.reqs[l], c)).collect();
            global.sort_unstable();
            out.push(global);
        }
        out
    }
}

/// Every way to give `n` instances of one slot to its `groups` (within what each asks in
/// `rem`), appended to `base` into `out`; within a group the highest priority takes first.
fn split(
    groups: &[Vec<usize>],
    rem: &[u32],
    n: u32,
    at: usize,
    base: &[(usize, u32)],
    out: &mut Vec<Vec<(usize, u32)>>,
) {
    if n == 0 {
        out.push(base.to_vec());
        return;
    }
    let Some(group) = groups.get(at) else { return };
    let cap: u32 = group.iter().map(|&l| rem[l]).sum();
    let rest_cap: u32 = groups[at + 1..].iter().flatten().map(|&l| rem[l]).sum();
    // This group takes `t`, the later groups the rest.
    for t in (n.saturating_sub(rest_cap)..=n.min(cap)).rev() {
        let mut w = base.to_vec();
        let mut left = t;
        for &l in group {
            let take = left.min(rem[l]);
            if take > 0 {
                w.push((l, take));
                left -= take;
            }
        }
        split(groups, rem, n - t, at + 1, &w, out);
    }
}

#[cfg(test)]
mod tests {
    use gpupart_profiles::catalog::A100_40GB;
    use proptest::prelude::*;

    use super::*;
    use crate::batch::greedy::{Greedy, Mode};
    use crate::batch::{Request, SolveOptions};
    use crate::{Fleet, Gpu};

    const NAMES: [&str; 7] = [
        "1g.5gb",
        "1g.10gb",
        "2g.10gb",
        "3g.20gb",
        "4g.20gb",
        "7g.40gb",
        "1g.5gb+me",
    ];

    fn fleet(gpus: &[Vec<(usize, u8, bool)>]) -> Fleet {
        let list = gpus
            .iter()
            .enumerate()
            .map(|(i, xs)| {
                let i = u32::try_from(i).unwrap();
                let mut g = Gpu::new(i, &A100_40GB).with_numa_node(i % 2);
                for &(p, start, in_use) in xs {
                    // Some land, some do not: the fleet is whatever fits.
                    let _ = g.add(NAMES[p], start, in_use);
                }
                g
            })
            .collect();
        Fleet::new(list).unwrap()
    }

    proptest! {
        /// Whatever the packer left, the improvement never lowers the objective's value,
        /// never serves a request more than it asks, never touches an in-use instance, keeps
        /// every request's constraints, and leaves a plan that applies to the fleet.
        #[test]
        fn never_worse_and_always_legal(
            gpus in prop::collection::vec(
                prop::collection::vec((0usize..7, 0u8..7, any::<bool>()), 0..3), 2..9),
            asks in prop::collection::vec((0usize..7, 1u32..6, 0u8..3, 0u8..2), 1..6),
        ) {
            let fleet = fleet(&gpus);
            let reqs: Vec<Request> = asks
                .iter()
                .map(|&(p, n, numa, prio)| {
                    let r = Request::parse(NAMES[p], n).unwrap().with_priority(prio);
                    if numa < 2 { r.on_numa_node(u32::from(numa)) } else { r }
                })
                .collect();
            let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
            let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
            let mut choice = Greedy::new(&ctx, Mode::Size).run(demand.clone());
            let before = ctx.total(&choice);
            let never = vec![u64::MAX; ctx.levels.len()];
            let _ = improve(&ctx, &mut choice, &demand, &never, 50_000, 64);
            prop_assert!(ctx.total(&choice) >= before);
            let plan = ctx.plan(&choice, &demand, false);
            prop_assert!(plan.layout(&fleet).is_ok(), "{plan}");
            let mut served = vec![0u32; reqs.len()];
            for c in &plan.changes {
                let gpu = fleet.gpu(c.gpu).unwrap();
                prop_assert!(c.destroy.iter().all(|x| !x.in_use));
                for r in c.create.iter().map(|x| x.request).chain(c.reuse.iter().map(|x| x.request)) {
                    served[r] += 1;
                    prop_assert!(reqs[r].numa_node.is_none_or(|n| gpu.numa_node == Some(n)));
                }
            }
            for (s, r) in served.iter().zip(&reqs) {
                prop_assert!(*s <= r.count);
            }
            prop_assert!(plan.objective.placed <= plan.bound.max_placed);
        }
    }
}
