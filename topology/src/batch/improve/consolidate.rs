//! Free instances reused and fewer GPUs touched for the same instances, in two passes:
//! - a creation moves to a GPU that holds a free instance of its profile which the plan
//!   leaves unused there;
//! - a GPU that the plan reconfigures gives its creations to GPUs the plan reconfigures
//!   anyway, where they fit beside what those serve, and goes back to as it was (or keeps
//!   only the free instances it reuses).
//!
//! A move is kept only where the objective's value grows, so instances placed never fall.

use super::super::context::{Ctx, Realization, Value};
use super::free_slices;

/// Consolidates `choice` (one entry per GPU, `None` for untouched) within `work` GPU
/// outcomes made in all: first the moves to free instances (`reuse`: whether to try them),
/// then the GPUs that create the fewest instances give theirs away, each creation going to
/// the first GPU that takes it (the ones with the least free memory first, at most `TRIES`
/// of them). Returns whether it changed anything.
pub(in super::super) fn consolidate(
    ctx: &Ctx<'_>,
    choice: &mut [Option<Realization>],
    mut work: u64,
    reuse: bool,
) -> bool {
    let mut changed = reuse && to_free_instances(ctx, choice, &mut work);
    let reconfigured =
        |real: &Realization| real.enable_mig || !real.create.is_empty() || !real.destroy.is_empty();
    let gpus = ctx.fleet.gpus();
    // The GPUs to empty, fewest creations first; where their creations may go, the GPUs
    // the plan reconfigures that have memory left, the least first.
    let mut sources: Vec<(usize, usize)> = Vec::new();
    let mut targets: Vec<(u32, usize)> = Vec::new();
    // Per GPU, the memory slices its outcome in `choice` leaves free (kept up to date as
    // moves are applied): a creation looks at many targets, most of them too full.
    let mut free_of: Vec<u32> = vec![0; choice.len()];
    for (g, real) in choice.iter().enumerate() {
        if let Some(real) = real.as_ref().filter(|real| reconfigured(real)) {
            let (free, _) = free_slices(&gpus[g], real);
            free_of[g] = free;
            if free > 0 {
                targets.push((free, g));
            }
            if !real.create.is_empty() {
                sources.push((real.create.len(), g));
            }
        }
    }
    sources.sort_unstable();
    targets.sort_unstable();
    let targets: Vec<usize> = targets.into_iter().map(|(_, h)| h).collect();
    // Where each target stands in `targets`.
    let mut at: Vec<usize> = vec![usize::MAX; choice.len()];
    for (i, &h) in targets.iter().enumerate() {
        at[h] = i;
    }
    // Whether GPU `h`, its outcome `now` leaving `free` memory slices, could take one more
    // instance of request `r`: reconfigured anyway, eligible, with the memory the profile
    // needs there.
    let fits = |h: usize, now: &Realization, free: u32, r: usize| {
        reconfigured(now)
            && ctx
                .profile_on(h, r)
                .is_some_and(|p| free >= u32::from(p.memory_slices))
    };
    // Per request, the targets (positions in `targets`) that fit it as `choice` stands,
    // made at `epoch` (the number of moves applied): most targets are too full, and
    // sources fail alike until a move changes something.
    let mut takers: Vec<(u64, Vec<usize>)> = vec![(u64::MAX, Vec::new()); ctx.requests.len()];
    let mut epoch = 0u64;
    // What a tried move does: the GPUs it changes and their new outcomes.
    let mut moved: Vec<(usize, Option<Realization>)> = Vec::new();
    let mut changed_at: Vec<usize> = Vec::new();
    for &(_, g) in &sources {
        let Some(real) = choice.get(g).and_then(Option::as_ref) else {
            continue;
        };
        if !reconfigured(real) || real.create.is_empty() {
            continue;
        }
        moved.clear();
        // What stays on `g`: the free instances it reuses.
        let stay = want_of(real, false);
        let mut creations: Vec<usize> = real.create.iter().map(|c| c.request).collect();
        creations.sort_unstable();
        let mut ok = true;
        for &r in &creations {
            let Some(list) = takers.get_mut(r) else {
                ok = false;
                break;
            };
            if list.0 != epoch {
                list.1.clear();
                let fits_at = |&i: &usize| {
                    let h = targets[i];
                    choice
                        .get(h)
                        .and_then(Option::as_ref)
                        .is_some_and(|now| fits(h, now, free_of[h], r))
                };
                match ctx.requests[r].named_positions(ctx.fleet) {
                    // A request tied to GPUs fits only there: those of them that are
                    // targets, in the targets' order.
                    Some(named) => {
                        list.1.extend(
                            named
                                .into_iter()
                                .map(|h| at[h])
                                .filter(|&i| i != usize::MAX),
                        );
                        list.1.sort_unstable();
                        list.1.retain(fits_at);
                    }
                    None => list.1.extend((0..targets.len()).filter(fits_at)),
                }
                list.0 = epoch;
            }
            // The targets a tried move changed, weighed afresh below.
            changed_at.clear();
            changed_at.extend(
                moved
                    .iter()
                    .filter_map(|(m, _)| at.get(*m).copied().filter(|&i| i != usize::MAX)),
            );
            changed_at.sort_unstable();
            let unchanged = |i: usize| !moved.iter().any(|(m, _)| *m == targets[i]);
            let mut found = None;
            let mut tries = 0;
            for i in merged(&list.1, &changed_at, unchanged) {
                if tries >= TRIES {
                    break;
                }
                let h = targets[i];
                if h == g {
                    continue;
                }
                let now = match moved.iter().find(|(m, _)| *m == h) {
                    Some((_, now)) => {
                        let Some(now) = now.as_ref() else {
                            continue;
                        };
                        if !fits(h, now, free_slices(&gpus[h], now).0, r) {
                            continue;
                        }
                        now
                    }
                    None => {
                        let Some(now) = choice.get(h).and_then(Option::as_ref) else {
                            continue;
                        };
                        now
                    }
                };
                tries += 1;
                let mut want = want_of(now, true);
                add(&mut want, r);
                if !spend(&mut work, 1) {
                    return changed;
                }
                if let Some(next) = ctx.realize(h, &want) {
                    found = Some((h, next));
                    break;
                }
            }
            match found {
                Some((h, next)) => set(&mut moved, h, Some(next)),
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        if !spend(&mut work, 1) {
            return changed;
        }
        let Some(emptied) = outcome(ctx, g, &stay) else {
            continue;
        };
        set(&mut moved, g, emptied);
        if gains(ctx, choice, &moved) {
            for (h, next) in &moved {
                if let Some(f) = free_of.get_mut(*h) {
                    *f = next
                        .as_ref()
                        .map_or(0, |real| free_slices(&gpus[*h], real).0);
                }
            }
            apply(choice, moved.drain(..));
            epoch += 1;
            changed = true;
        }
    }
    changed
}

/// Moves creations to GPUs holding a free instance of their profile that the plan leaves
/// unused: per request, each such GPU in turn takes one creation from a GPU that makes one,
/// where the two GPUs' value grows. Counts each GPU outcome made against `work`.
fn to_free_instances(ctx: &Ctx<'_>, choice: &mut [Option<Realization>], work: &mut u64) -> bool {
    let gpus = ctx.fleet.gpus();
    let mut changed = false;
    // Per request, the GPUs that create an instance of it (as the plan was: a GPU a move
    // leaves without one is passed over).
    let mut creators: Vec<Vec<usize>> = vec![Vec::new(); ctx.requests.len()];
    for (g, real) in choice.iter().enumerate() {
        for c in real.iter().flat_map(|real| &real.create) {
            if let Some(list) = creators.get_mut(c.request)
                && list.last() != Some(&g)
            {
                list.push(g);
            }
        }
    }
    for (r, on) in ctx.reusable().iter().enumerate() {
        for &(h, p) in on {
            let free = gpus[h]
                .instances()
                .iter()
                .filter(|x| !x.in_use && core::ptr::eq(x.profile, p))
                .count();
            let reused = choice.get(h).and_then(Option::as_ref).map_or(0, |now| {
                now.reuse
                    .iter()
                    .filter(|(_, x)| core::ptr::eq(x.profile, p))
                    .count()
            });
            if free <= reused {
                continue;
            }
            let sources: Vec<usize> = creators[r]
                .iter()
                .copied()
                .filter(|&g| {
                    g != h
                        && choice
                            .get(g)
                            .and_then(Option::as_ref)
                            .is_some_and(|real| real.create.iter().any(|c| c.request == r))
                })
                .take(TRIES)
                .collect();
            for g in sources {
                let (Some(from), to) = (
                    choice.get(g).and_then(Option::as_ref),
                    choice.get(h).and_then(Option::as_ref),
                ) else {
                    continue;
                };
                let mut want_h = to.map(|t| want_of(t, true)).unwrap_or_default();
                add(&mut want_h, r);
                let mut want_g = want_of(from, true);
                remove(&mut want_g, r);
                // The move alone, or a swap: one instance `h` serves goes to `g` in return.
                let mut swaps: Vec<Option<usize>> = vec![None];
                swaps.extend(
                    want_h
                        .iter()
                        .filter(|&&(q, _)| q != r && ctx.profile_on(g, q).is_some())
                        .map(|&(q, _)| Some(q)),
                );
                let mut done = false;
                for swap in swaps {
                    let (mut h_want, mut g_want) = (want_h.clone(), want_g.clone());
                    if let Some(q) = swap {
                        remove(&mut h_want, q);
                        add(&mut g_want, q);
                    }
                    if !spend(work, 2) {
                        return changed;
                    }
                    let Some(next_h) = ctx.realize(h, &h_want) else {
                        continue;
                    };
                    let Some(next_g) = outcome(ctx, g, &g_want) else {
                        continue;
                    };
                    let moved = [(h, Some(next_h)), (g, next_g)];
                    if gains(ctx, choice, &moved) {
                        apply(choice, moved);
                        changed = true;
                        done = true;
                        break;
                    }
                }
                if done {
                    break;
                }
            }
        }
    }
    changed
}

/// Takes `n` units from `work`: false, and `work` as it was, where fewer are left.
fn spend(work: &mut u64, n: u64) -> bool {
    match work.checked_sub(n) {
        Some(left) => {
            *work = left;
            true
        }
        None => false,
    }
}

/// GPU `g`'s outcome serving `want`: untouched (`None`) for nothing, and `None` outside
/// where `want` does not fit.
fn outcome(ctx: &Ctx<'_>, g: usize, want: &[(usize, u32)]) -> Option<Option<Realization>> {
    if want.is_empty() {
        Some(None)
    } else {
        ctx.realize(g, want).map(Some)
    }
}

/// Gives each GPU of `moved` its new outcome in `choice`.
fn apply(
    choice: &mut [Option<Realization>],
    moved: impl IntoIterator<Item = (usize, Option<Realization>)>,
) {
    for (g, next) in moved {
        if let Some(slot) = choice.get_mut(g) {
            *slot = next;
        }
    }
}

/// Whether the GPUs' new outcomes in `moved` are worth more than their outcomes in
/// `choice` (every other GPU is as it was, so the totals compare as these parts do).
fn gains(
    ctx: &Ctx<'_>,
    choice: &[Option<Realization>],
    moved: &[(usize, Option<Realization>)],
) -> bool {
    let value_of = |real: Option<&Realization>, g: usize| match real {
        Some(r) => ctx.value(r),
        None => ctx.value(&ctx.idle(g)),
    };
    let mut before: Value = ctx.zero();
    let mut after: Value = ctx.zero();
    for (h, next) in moved {
        before = before.add(&value_of(choice.get(*h).and_then(Option::as_ref), *h));
        after = after.add(&value_of(next.as_ref(), *h));
    }
    after > before
}

/// One instance of request `r` fewer in `want` (kept sorted by request).
fn remove(want: &mut Vec<(usize, u32)>, r: usize) {
    if let Ok(i) = want.binary_search_by_key(&r, |&(q, _)| q) {
        want[i].1 -= 1;
        if want[i].1 == 0 {
            want.remove(i);
        }
    }
}

/// The positions of `listed` that are `unchanged` and those of `changed` (both sorted, and
/// apart), in one increasing order.
fn merged<'l>(
    listed: &'l [usize],
    changed: &'l [usize],
    unchanged: impl Fn(usize) -> bool + 'l,
) -> impl Iterator<Item = usize> + 'l {
    let mut a = listed
        .iter()
        .copied()
        .filter(move |&i| unchanged(i))
        .peekable();
    let mut b = changed.iter().copied().peekable();
    core::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x < y => a.next(),
        (Some(_), None) => a.next(),
        _ => b.next(),
    })
}

/// Targets tried per creation, at most.
const TRIES: usize = 32;

/// Sets `h`'s outcome among the moves.
fn set(moved: &mut Vec<(usize, Option<Realization>)>, h: usize, real: Option<Realization>) {
    match moved.iter_mut().find(|(g, _)| *g == h) {
        Some((_, r)) => *r = real,
        None => moved.push((h, real)),
    }
}

/// What `real` serves, as (request, count) sorted by request: its reuses and, with
/// `creations`, what it creates.
fn want_of(real: &Realization, creations: bool) -> Vec<(usize, u32)> {
    let mut want = Vec::new();
    for (r, _) in &real.reuse {
        add(&mut want, *r);
    }
    if creations {
        for c in &real.create {
            add(&mut want, c.request);
        }
    }
    want
}

/// One more instance of request `r` in `want` (kept sorted by request).
fn add(want: &mut Vec<(usize, u32)>, r: usize) {
    match want.binary_search_by_key(&r, |&(q, _)| q) {
        Ok(i) => want[i].1 += 1,
        Err(i) => want.insert(i, (r, 1)),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::batch::greedy::{Greedy, Mode};
    use crate::batch::testing::{arb_asks, arb_gpus, fleet, requests};
    use crate::batch::{Request, SolveOptions};

    #[test]
    fn a_lone_creation_joins_a_gpu_reconfigured_anyway() {
        let fleet = fleet(&[vec![], vec![], vec![]]);
        let reqs = [Request::parse("1g.5gb", 2).unwrap()];
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let mut choice = vec![ctx.realize(0, &[(0, 1)]), ctx.realize(1, &[(0, 1)]), None];
        let before = ctx.total(&choice);
        assert!(consolidate(&ctx, &mut choice, 100, true));
        let after = ctx.total(&choice);
        assert!(after > before);
        assert_eq!(after.placed, before.placed);
        assert_eq!((after.neg_reconf, after.neg_used), (-1, -1));
        assert_eq!(choice.iter().flatten().count(), 1);
    }

    #[test]
    fn a_creation_moves_to_a_free_instance_and_may_swap_for_it() {
        // GPU 0 holds a free 1g.5gb; the plan destroys it for the 7g and creates the 1g
        // on GPU 1. The 1g goes to the free instance, and the 7g to GPU 1 in return.
        let fleet = fleet(&[vec![(0, 0, false)], vec![]]);
        let reqs = [
            Request::parse("7g.40gb", 1).unwrap(),
            Request::parse("1g.5gb", 1).unwrap(),
        ];
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let mut choice = vec![ctx.realize(0, &[(0, 1)]), ctx.realize(1, &[(1, 1)])];
        assert!(choice.iter().all(Option::is_some));
        let before = ctx.total(&choice);
        assert_eq!((before.reused, before.neg_reconf), (0, -2));
        // Without the pass for free instances, nothing moves: no GPU can be emptied.
        assert!(!consolidate(&ctx, &mut choice.clone(), 100, false));
        assert!(consolidate(&ctx, &mut choice, 100, true));
        let after = ctx.total(&choice);
        assert_eq!(after.placed, before.placed);
        assert_eq!((after.reused, after.neg_reconf), (1, -1));
        assert!(
            choice[0]
                .as_ref()
                .is_some_and(|r| r.create.is_empty() && r.reuse.len() == 1)
        );
    }

    #[test]
    fn no_work_no_move() {
        let fleet = fleet(&[vec![], vec![]]);
        let reqs = [Request::parse("1g.5gb", 2).unwrap()];
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let mut choice = vec![ctx.realize(0, &[(0, 1)]), ctx.realize(1, &[(0, 1)])];
        let before = choice.clone();
        assert!(!consolidate(&ctx, &mut choice, 0, true));
        assert_eq!(choice, before);
    }

    proptest! {
        /// Whatever the packer made, the consolidation never lowers the objective's value
        /// nor what it places at any level, never serves a request more than it asks, keeps
        /// every request's constraints, and leaves a plan that applies to the fleet.
        #[test]
        fn consolidation_only_improves(
            gpus in arb_gpus(2..9),
            asks in arb_asks(1..6, 1u32..6, 0..2),
            destroy_free in any::<bool>(),
        ) {
            let fleet = fleet(&gpus);
            let reqs = requests(&asks);
            let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
            let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
            let mut greedy = Greedy::new(&ctx, Mode::Size);
            greedy.destroy_free = destroy_free;
            let mut choice = greedy.run(demand.clone());
            choice.resize(fleet.gpus().len(), None);
            let before = ctx.total(&choice);
            let _ = consolidate(&ctx, &mut choice, 10_000, true);
            let after = ctx.total(&choice);
            prop_assert!(after >= before);
            prop_assert_eq!(&after.placed, &before.placed);
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
        }
    }
}
