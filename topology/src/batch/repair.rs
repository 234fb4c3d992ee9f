//! Level by level, for fleets the exact search covers: where a plan may place fewer than the
//! optimum at some priority level, an exact search that counts only the instances of that
//! level and the ones above (the lower levels' demand set aside, and none of the objective's
//! later terms) finds the optimum's counts there. It is far quicker than the search over the
//! whole objective, as ties need no further look. Where it finds more than the plan places,
//! its plan for those levels is a new start, which the local improvement and the
//! consolidation fill with the levels below; where it finds no more, the plan's counts at
//! those levels are the optimum's, and the bound says so.
//!
//! The pass by levels past the exact search (`strategy::by_packed_levels`) finds its starts
//! with the packer instead, and shares the rest with this one: which levels are short,
//! their demand, and how a start is filled and kept.

use super::context::{Ctx, Realization};
use super::exact::Exact;
use super::{Plan, improve};

/// `choice` and its `plan` after the repair, within `budget` (the exact search's units, for
/// all levels together); `improve_work` and `patience` for the improvement of a new start.
pub(super) fn by_levels(
    ctx: &Ctx<'_>,
    demand: &[u32],
    mut choice: Vec<Option<Realization>>,
    plan: Plan,
    budget: u64,
    improve_work: u64,
    patience: u32,
) -> (Vec<Option<Realization>>, Plan) {
    let levels = ctx.levels.len();
    let gpus = ctx.fleet.gpus().len();
    // Per level, the optimum's count at that level or above where a search proved it.
    let mut proven: Vec<Option<u64>> = vec![None; levels];
    let mut bound = plan.bound.optimum_levels();
    let mut budget = budget;
    let mut changed = false;
    for level in 0..levels {
        let placed = ctx.total(&choice).placed;
        if reached(&bound, &placed, level) {
            // The plan places the bound here: nothing to find.
            continue;
        }
        let restricted = restricted(ctx, demand, level);
        let mut search = Exact::over(ctx, (0..gpus).collect(), budget)
            .with_target(&restricted, placed[..=level].to_vec());
        search.counts_only = true;
        let found = search.best(0, &restricted);
        budget = search.budget;
        let Some(Some(best)) = found else {
            // Out of budget: the levels below are no easier.
            break;
        };
        if best.placed[..=level] > placed[..=level] {
            // A start that places more here: the levels below fill around it.
            let start = search.reconstruct(&restricted);
            let rounds = (patience, 0);
            changed |= fill(
                ctx,
                demand,
                &bound,
                start,
                &mut choice,
                improve_work,
                rounds,
            );
        }
        // The optimum places as much at this level or above as this search does.
        let most: u64 = best.placed.iter().take(level + 1).sum();
        proven[level] = Some(most);
        if let Some(b) = bound.get_mut(level) {
            *b = (*b).min(most);
        }
    }
    let mut plan = if changed {
        ctx.plan(&choice, demand, false)
    } else {
        plan
    };
    for ((_, b), p) in plan.bound.optimum_by_priority.iter_mut().zip(&proven) {
        if let Some(p) = p {
            *b = (*b).min(*p);
        }
    }
    (choice, plan)
}

/// Whether `placed` (per level, highest first) places at `level` or above what `bound`
/// (cumulative, per level) allows there: no plan places more.
pub(super) fn reached(bound: &[u64], placed: &[u64], level: usize) -> bool {
    let at_or_above: u64 = placed.iter().take(level + 1).sum();
    bound.get(level).is_some_and(|&b| b <= at_or_above)
}

/// The demand of `level` and the levels above alone (the lower levels' set aside).
pub(super) fn restricted(ctx: &Ctx<'_>, demand: &[u32], level: usize) -> Vec<u32> {
    demand
        .iter()
        .enumerate()
        .map(|(r, &d)| if ctx.level(r) <= level { d } else { 0 })
        .collect()
}

/// `start` (a plan for some levels' demand) filled with the rest of `demand` by the
/// improvement (`work`, `rounds`) and the consolidation; it replaces `choice` where its
/// value is higher. Returns whether it did.
pub(super) fn fill(
    ctx: &Ctx<'_>,
    demand: &[u32],
    bound: &[u64],
    mut start: Vec<Option<Realization>>,
    choice: &mut Vec<Option<Realization>>,
    work: u64,
    rounds: (u32, u32),
) -> bool {
    start.resize(ctx.fleet.gpus().len(), None);
    let mut bound = bound.to_vec();
    let _ = improve::improve(ctx, &mut start, demand, &mut bound, work, rounds);
    let _ = improve::consolidate(ctx, &mut start, super::strategy::CONSOLIDATE_WORK, true);
    if ctx.total(&start) > ctx.total(choice) {
        *choice = start;
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::batch::greedy::{Greedy, Mode};
    use crate::batch::testing::{arb_asks, arb_gpus, fleet, requests};
    use crate::batch::{Request, SolveOptions};

    /// Per level, what the optimum places at that level or above (by the exact search with
    /// all the budget it needs), `None` where even that runs out.
    fn optimum(ctx: &Ctx<'_>, demand: &[u32]) -> Option<Vec<u64>> {
        let gpus = ctx.fleet.gpus().len();
        let mut search = Exact::over(ctx, (0..gpus).collect(), 50_000_000);
        let best = search.best(0, demand)??;
        Some(
            best.placed
                .iter()
                .scan(0u64, |sum, &n| {
                    *sum += n;
                    Some(*sum)
                })
                .collect(),
        )
    }

    #[test]
    fn a_plan_short_at_the_top_gets_the_optimum_there_and_below() {
        // Nothing placed yet: the search for the top level finds both 7g, and the rest
        // fills around them.
        let fleet = fleet(&[vec![], vec![], vec![], vec![], vec![]]);
        let reqs = [
            Request::parse("7g.40gb", 2).unwrap().with_priority(1),
            Request::parse("1g.5gb", 10).unwrap(),
        ];
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let demand = [2, 10];
        let choice = vec![None; 5];
        let plan = ctx.plan(&choice, &demand, false);
        assert!(plan.gap().0 > 0);
        let (choice, plan) = by_levels(&ctx, &demand, choice, plan, 20_000, 200_000, 64);
        assert_eq!(plan.objective.placed_by_priority, [(1, 2), (0, 12)]);
        assert_eq!(plan.gap().0, 0);
        assert!(plan.layout(&fleet).is_ok(), "{plan}");
        assert_eq!(ctx.plan(&choice, &demand, false).objective, plan.objective);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// From whatever the packer made (its plain plan, or nothing at all), the search by
        /// levels never lowers the objective's value, leaves a plan that applies, and never
        /// bounds the optimum below what it places, level by level; where it leaves no gap,
        /// the plan places what the optimum does.
        #[test]
        fn the_search_by_levels_only_improves_and_bounds_honestly(
            gpus in arb_gpus(2..7),
            asks in arb_asks(1..5, 1u32..5, 0..3),
            empty in any::<bool>(),
            budget in prop::sample::select(vec![200u64, 2_000, 20_000]),
        ) {
            let fleet = fleet(&gpus);
            let reqs = requests(&asks);
            let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
            let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
            let mut choice = if empty {
                Vec::new()
            } else {
                Greedy::new(&ctx, Mode::Size).run(demand.clone())
            };
            choice.resize(fleet.gpus().len(), None);
            let before = ctx.total(&choice);
            let plan = ctx.plan(&choice, &demand, false);
            let (after, plan) = by_levels(&ctx, &demand, choice, plan, budget, 50_000, 16);
            prop_assert!(ctx.total(&after) >= before);
            prop_assert!(plan.layout(&fleet).is_ok(), "{plan}");
            prop_assert_eq!(&ctx.plan(&after, &demand, false).objective, &plan.objective);
            if let Some(optimum) = optimum(&ctx, &demand) {
                for (&(_, b), &o) in plan.bound.optimum_by_priority.iter().zip(&optimum) {
                    prop_assert!(b >= o, "{:?} against the optimum {:?}", plan.bound, optimum);
                }
                if plan.gap().0 == 0 {
                    let placed: Vec<u64> =
                        plan.objective.placed_by_priority.iter().map(|&(_, n)| n).collect();
                    prop_assert_eq!(placed, optimum);
                }
            }
        }
    }
}
