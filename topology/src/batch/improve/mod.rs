//! Local improvement of a plan that leaves instances out: small sets of GPUs are solved again
//! exactly (a search over just those GPUs, in `sub`) with what they serve now and what is
//! left unplaced in one pot; a set's new outcome replaces the old one only where the
//! objective's value grows, so the plan only gets better. The sets are drawn from the GPUs
//! that may host something unplaced, the most wasteful first, with partners from a fixed
//! pseudo-random sequence (plans stay deterministic); a second round adds to each set one
//! of the GPUs that serve the fewest instances, where giving up one large instance may make
//! room for several.
//!
//! `consolidate` works on a plan that places what it can: creations move onto free
//! instances the plan leaves unused, and GPUs reconfigured for a few instances give them to
//! GPUs reconfigured anyway.

mod consolidate;
mod sub;

pub(super) use consolidate::consolidate;

use super::FastMap;
use super::context::{Ctx, Realization};
use crate::rng::SplitMix;
use gpupart_profiles::Placement;
use sub::Sub;

/// Work for one set (options weighed, as for the exact search).
const SET_BUDGET: u64 = 4_000;

/// Gains between two refreshes of the host lists.
const REFRESH: u32 = 32;

/// Hosts kept in order of waste (the rest in any order).
const HEAD: usize = 64;

/// The most wasteful GPUs of all kept as partners.
const TOP: usize = 16;

/// Improves `choice` (one entry per GPU, `None` for untouched) for `demand` within `work`
/// options weighed in all, giving up after `patience.0` sets in a row without a gain and then
/// after `patience.1` more of a second round, whose sets each hold one of the GPUs serving
/// the fewest instances (a large instance given up may make room for several); stops
/// early once every priority level places what `bound` (per level, highest first,
/// cumulative: the certified bound on the optimum) allows, as no plan places more. Where
/// the plan comes to place all the bound allows on the levels above one, that level's
/// bound is tightened given their counts (`Ctx::tighten`), in `bound` too: the plan may
/// then be done sooner. Returns whether it changed anything.
pub(super) fn improve(
    ctx: &Ctx<'_>,
    choice: &mut Vec<Option<Realization>>,
    demand: &[u32],
    bound: &mut [u64],
    mut work: u64,
    patience: (u32, u32),
) -> bool {
    let (patience, second_patience) = patience;
    let gpus = ctx.fleet.gpus();
    choice.resize(gpus.len(), None);
    let mut rem = remaining(choice, demand);
    // A fixed sequence, so the plan is the same on every run.
    let mut rng = SplitMix(0x9e37_79b9_7f4a_7c15);
    let mut next = move || rng.next_u64();
    let mut stale = 0u32;
    let mut patterns = FastMap::default();
    let mut maximal = FastMap::default();
    // The sets searched since the plan last changed: searched again, one would find what it
    // found then (nothing), so it is passed over at no cost.
    let mut tried: rustc_hash::FxHashSet<Vec<usize>> = rustc_hash::FxHashSet::default();
    let mut wasted: Vec<u32> = (0..gpus.len()).map(|g| waste(ctx, choice, g)).collect();
    // Per request, the GPUs that may serve it.
    let mut by_request: Vec<Vec<usize>> = vec![Vec::new(); demand.len()];
    for (g, elig) in ctx.eligible.iter().enumerate() {
        for &(r, _) in elig.iter() {
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
    // GPUs that serve the fewest instances (one large one, say): where breaking an instance
    // up may make room for several. Seeds of the second round.
    let mut sparse: Vec<usize> = Vec::new();
    // The second round: once `patience` sets in a row gained nothing, up to `second_patience`
    // more seeded by the sparse GPUs, each with a GPU that may take a request left out.
    let mut second = false;
    let mut fresh = false;
    let mut gains = 0u32;
    let pick = |n: usize, x: u64| usize::try_from(x % n.max(1) as u64).unwrap_or(0);
    // The levels at the top that place all their bound allows, when the bound was last
    // tightened: only a plan that meets more of them tightens it further.
    let mut met = usize::MAX;
    // Whether the plan changed since it was last held against the bound.
    let mut moved = true;
    loop {
        if moved {
            moved = false;
            let placed = cumulative(ctx, &rem, demand);
            let now = placed
                .iter()
                .zip(bound.iter())
                .take_while(|(p, b)| p >= b)
                .count();
            if now != met {
                met = now;
                ctx.tighten(demand, &placed, bound);
            }
            if met_all(&placed, &rem, bound) {
                break;
            }
        }
        if work == 0 {
            break;
        }
        if stale >= patience && !second {
            second = true;
            stale = 0;
        }
        if second && stale >= second_patience {
            break;
        }
        if !fresh || (second && sparse.is_empty()) {
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
            if second {
                let mut few: Vec<(usize, usize)> = choice
                    .iter()
                    .enumerate()
                    .filter_map(|(g, real)| {
                        let served = real.as_ref().map_or(0, |r| r.create.len() + r.reuse.len());
                        (served > 0).then_some((served, g))
                    })
                    .collect();
                let keep = few.len().min(TOP);
                if keep > 0 && keep < few.len() {
                    few.select_nth_unstable(keep - 1);
                }
                few.truncate(keep);
                few.sort_unstable();
                sparse = few.into_iter().map(|(_, g)| g).collect();
                if sparse.is_empty() {
                    break;
                }
            }
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
        if second {
            // A sparse GPU, in turn, and the seed above (a GPU a request left out may use).
            let s = sparse[stale as usize % sparse.len()];
            if s != seed {
                set.insert(0, s);
            }
        }
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
        if !tried.insert(set.clone()) {
            stale += 1;
            continue;
        }
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
            Some(Some(v)) if *v > *before => {
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
            moved = true;
            stale = 0;
            gains += 1;
            tried.clear();
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
    met_all(&cumulative(ctx, rem, demand), rem, bound)
}

/// Whether a plan that places `placed` (per level, cumulative) and leaves `rem` places at
/// every level what `bound` allows (or all that is asked).
fn met_all(placed: &[u64], rem: &[u32], bound: &[u64]) -> bool {
    rem.iter().all(|&c| c == 0) || placed.iter().zip(bound).all(|(p, b)| p >= b)
}

/// Per level (highest first), what a plan that leaves `rem` of `demand` places at that level
/// or higher.
fn cumulative(ctx: &Ctx<'_>, rem: &[u32], demand: &[u32]) -> Vec<u64> {
    let mut placed = vec![0u64; ctx.levels.len()];
    for (r, (&d, &left)) in demand.iter().zip(rem).enumerate() {
        placed[ctx.level(r)] += u64::from(d - left);
    }
    let mut sum = 0u64;
    for p in &mut placed {
        sum += *p;
        *p = sum;
    }
    placed
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
    let (memory, compute) = free_slices(gpu, r);
    memory + compute
}

/// Memory and compute slices `gpu` leaves unused after its outcome `r`: what its kept
/// instances and its creations do not take.
fn free_slices(gpu: &crate::Gpu, r: &Realization) -> (u32, u32) {
    // The slices the kept and created instances take (a plan's instances never overlap).
    let mut mask = 0u32;
    let mut compute = 0u32;
    for x in gpu.instances().iter().filter(|x| !r.destroy.contains(x)) {
        mask |= Placement::new(x.start, x.profile.memory_slices).mask();
        compute += u32::from(x.profile.compute_slices);
    }
    for c in &r.create {
        mask |= c.placement.mask();
        compute += u32::from(c.profile.compute_slices);
    }
    (
        u32::from(gpu.model.memory_slices).saturating_sub(mask.count_ones()),
        u32::from(gpu.model.compute_slices).saturating_sub(compute),
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::batch::SolveOptions;
    use crate::batch::greedy::{Greedy, Mode};
    use crate::batch::testing::{arb_asks, arb_gpus, fleet, requests};

    /// Two empty A100s, two `7g.40gb` at priority 1 and fourteen `1g.5gb` at priority 0: the
    /// bound for all levels together allows fourteen, but a plan that places both `7g` (all
    /// any plan places at the top) leaves no room, so given that count the optimum places
    /// two in all. The improvement learns so and is done at once, and the plan's own bound
    /// agrees. (Before it tightened the bound, it searched its sets until its patience ran
    /// out.)
    #[test]
    fn a_met_level_above_tightens_the_bound_below() {
        let fleet = fleet(&[vec![], vec![]]);
        let reqs = requests(&[(5, 2, 2, 1), (0, 14, 2, 0)]);
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
        let mut choice = Greedy::new(&ctx, Mode::Size).run(demand.clone());
        assert_eq!(ctx.total(&choice).placed.as_slice(), &[2, 0]);
        let mut bound = vec![2, 14];
        assert!(!improve(
            &ctx,
            &mut choice,
            &demand,
            &mut bound,
            50_000,
            (64, 64)
        ));
        assert_eq!(bound, vec![2, 2]);
        let plan = ctx.plan(&choice, &demand, false);
        assert_eq!(plan.bound.optimum_levels(), bound);
        assert!(plan.proven());
    }

    proptest! {
        /// Whatever the packer left, the improvement never lowers the objective's value,
        /// never serves a request more than it asks, never touches an in-use instance, keeps
        /// every request's constraints, and leaves a plan that applies to the fleet.
        #[test]
        fn never_worse_and_always_legal(
            gpus in arb_gpus(2..9),
            asks in arb_asks(1..6, 1u32..6, 0..2),
        ) {
            let fleet = fleet(&gpus);
            let reqs = requests(&asks);
            let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
            let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
            let mut choice = Greedy::new(&ctx, Mode::Size).run(demand.clone());
            let before = ctx.total(&choice);
            let mut never = vec![u64::MAX; ctx.levels.len()];
            let _ = improve(&ctx, &mut choice, &demand, &mut never, 50_000, (64, 0));
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

        /// Demands up to `u32::MAX` each (a scheduler's "as many as fit"): the whole solver,
        /// by the packer and the improvement (no exact search) or exactly, never overflows
        /// a sum of demands, serves no request more than it asks and leaves a plan that
        /// applies to the fleet, below its bound.
        #[test]
        fn huge_demands_neither_overflow_nor_overserve(
            gpus in arb_gpus(2..7),
            asks in arb_asks(1..6, (u32::MAX - 3)..u32::MAX, 0..3),
            exact in any::<bool>(),
        ) {
            let fleet = fleet(&gpus);
            let reqs = requests(&asks);
            let options = SolveOptions {
                exact_gpu_limit: if exact { 16 } else { 0 },
                ..SolveOptions::default()
            };
            let plan = crate::batch::solve(&fleet, &reqs, &options);
            prop_assert!(plan.layout(&fleet).is_ok(), "{plan}");
            let mut served = vec![0u64; reqs.len()];
            for c in &plan.changes {
                for r in c.create.iter().map(|x| x.request).chain(c.reuse.iter().map(|x| x.request)) {
                    served[r] += 1;
                }
            }
            for (s, r) in served.iter().zip(&reqs) {
                prop_assert!(*s <= u64::from(r.count));
            }
            prop_assert!(plan.objective.placed <= plan.bound.max_placed);
        }
    }
}
