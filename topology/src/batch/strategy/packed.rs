//! The packer's side of the solver: its plans as starts, the local improvement of the best
//! of them, the pass by levels past the exact search, the long improvement where the bound
//! still leaves room, and the consolidation.

use super::super::context::{self, Ctx, Realization};
use super::super::greedy::{Greedy, Mode};
use super::super::{Plan, improve, repair};

/// The class-based packer, then the local improvement where the packer leaves instances out:
/// every GPU's outcome and the plan (`first`: the packer's plan by size, if made already;
/// `second`: whether the improvement has its second round).
pub(super) fn pack_and_improve(
    ctx: &Ctx<'_>,
    demand: &[u32],
    greedy: &mut Greedy<'_, '_>,
    first: Option<Vec<Option<Realization>>>,
    second: bool,
) -> (Vec<Option<Realization>>, Plan) {
    // Pack by size first (fewest GPUs when everything fits); if something is left over, also
    // pack by count (most instances when capacity binds), by the LP's mix of patterns per
    // class and over all classes at once, letting GPUs give up free instances nobody asked
    // for, and by the patterns the bound's prices favour. Every such plan is a start for the
    // local improvement.
    greedy.mode = Mode::Size;
    let choice = match first {
        Some(p) => p,
        None => greedy.run(demand.to_vec()),
    };
    let asked: u64 = demand.iter().map(|&d| u64::from(d)).sum();
    if ctx.placed(&choice) >= asked {
        let plan = ctx.plan(&choice, demand, false);
        return consolidated(ctx, demand, choice, plan);
    }
    let starts = packed_starts(ctx, demand, greedy, choice);
    let (best, plan) = match improve_best(ctx, starts, demand, second) {
        (best, Some(plan)) => (best, plan),
        (best, None) => {
            let plan = ctx.plan(&best, demand, false);
            (best, plan)
        }
    };
    consolidated(ctx, demand, best, plan)
}

/// The packer's plans besides `first` (its plan by size), best first (see [`Starts`]): by
/// count, by the LP's mix per class and over all classes at once, letting GPUs give up free
/// instances nobody asked for where there are any, and by the bound's prices.
fn packed_starts(
    ctx: &Ctx<'_>,
    demand: &[u32],
    greedy: &mut Greedy<'_, '_>,
    first: Vec<Option<Realization>>,
) -> Vec<(context::Value, Vec<Option<Realization>>)> {
    let mut starts = Starts::default();
    starts.push(ctx, first);
    for mode in [Mode::Count, Mode::Lp, Mode::GlobalLp] {
        greedy.mode = mode;
        starts.push(ctx, greedy.run(demand.to_vec()));
    }
    if ctx
        .fleet
        .gpus()
        .iter()
        .any(|g| g.instances().iter().any(|x| !x.in_use))
    {
        // Free instances crowd the fleet: let each GPU give them up for its pattern.
        greedy.destroy_free = true;
        for mode in [Mode::Size, Mode::Lp, Mode::GlobalLp] {
            greedy.mode = mode;
            starts.push(ctx, greedy.run(demand.to_vec()));
        }
        greedy.destroy_free = false;
    }
    let classes = ctx.classes(&ctx.classes);
    greedy.prices = ctx.prices(classes, demand);
    greedy.mode = Mode::Priced;
    starts.push(ctx, greedy.run(demand.to_vec()));
    starts.0
}

/// Level by level, for fleets past the exact search: where the plan may place fewer than
/// the optimum at a priority level above the lowest, the packer and the improvement again on
/// the demand of that level and the ones above alone (the lower levels' set aside), which
/// no lower level's instances then distract. Where that places at least as much at those
/// levels as the plan, it is a new start: the improvement and the consolidation fill it
/// with the lower levels, and it replaces the plan where it is better on the whole
/// objective, so the plan never gets worse. At most [`LEVEL_PASSES`] levels: those that may
/// be short, the highest first, and where the lowest level may be short, the others above
/// it (a start made without the lowest level's demand leaves it other room).
pub(super) fn by_packed_levels(
    ctx: &Ctx<'_>,
    demand: &[u32],
    greedy: &mut Greedy<'_, '_>,
    mut choice: Vec<Option<Realization>>,
    plan: Plan,
) -> (Vec<Option<Realization>>, Plan) {
    let bound = plan.bound.optimum_levels();
    let mut changed = false;
    let mut passes = 0usize;
    let levels = ctx.levels.len();
    let placed = ctx.total(&choice).placed;
    // The levels above the lowest where the plan may be short, highest first; where the
    // lowest may be, then the others above it, lowest first: a start that sets the levels
    // below aside leaves them other room.
    let mut short: Vec<usize> = (0..levels.saturating_sub(1))
        .filter(|&l| !repair::reached(&bound, &placed, l))
        .collect();
    if levels >= 2 && !repair::reached(&bound, &placed, levels - 1) {
        for l in (0..levels - 1).rev() {
            if !short.contains(&l) {
                short.push(l);
            }
        }
    }
    for level in short {
        let placed = ctx.total(&choice).placed;
        if (level..levels).all(|l| repair::reached(&bound, &placed, l)) {
            // An earlier pass found what the bound allows here and below.
            continue;
        }
        if passes == LEVEL_PASSES {
            break;
        }
        passes += 1;
        let restricted = repair::restricted(ctx, demand, level);
        let (start, _) = pack_and_improve(ctx, &restricted, greedy, None, false);
        // A start that places as much at those levels as the plan is worth filling too: it
        // leaves the lower levels other room.
        if ctx.total(&start).placed.get(..=level) < placed.get(..=level) {
            continue;
        }
        let rounds = (IMPROVE_PATIENCE, SECOND_PATIENCE);
        changed |= repair::fill(
            ctx,
            demand,
            &bound,
            start,
            &mut choice,
            IMPROVE_WORK,
            rounds,
        );
    }
    if changed {
        let plan = ctx.plan(&choice, demand, false);
        return (choice, plan);
    }
    (choice, plan)
}

/// Where the bound still leaves room at some level, a longer improvement of the plan itself
/// (see [`LONG_PATIENCE`]), where that leaves room too a longer one still from its result
/// (see [`LONGER`]), then the consolidation: the bound is close to the optimum (the
/// configuration LP's, where its multipliers are found), so what it leaves is mostly there
/// to find, and the first improvement gives up on many starts before it finds it.
pub(super) fn improved_long(
    ctx: &Ctx<'_>,
    demand: &[u32],
    mut choice: Vec<Option<Realization>>,
    mut plan: Plan,
) -> (Vec<Option<Realization>>, Plan) {
    let mut changed = false;
    // The second starts where the first stopped, so it only adds to what the first found.
    for times in [1, LONGER] {
        if plan.gap().0 == 0 {
            break;
        }
        let mut bound = plan.bound.optimum_levels();
        let rounds = (LONG_PATIENCE * times, LONG_PATIENCE * times);
        let work = LONG_WORK * u64::from(times);
        if improve::improve(ctx, &mut choice, demand, &mut bound, work, rounds) {
            changed = true;
            plan = ctx.plan(&choice, demand, false);
        }
    }
    if changed {
        return consolidated(ctx, demand, choice, plan);
    }
    (choice, plan)
}

/// `choice` with more free instances reused where some are left, and fewer GPUs touched
/// where the bound leaves room for fewer GPUs used (see [`improve::consolidate`]); and its
/// plan (`plan`, made for `choice`, where nothing moved).
fn consolidated(
    ctx: &Ctx<'_>,
    demand: &[u32],
    mut choice: Vec<Option<Realization>>,
    plan: Plan,
) -> (Vec<Option<Realization>>, Plan) {
    let reuse = plan.objective.reused < ctx.reuse_bound(demand);
    if (reuse || plan.gap().1 > 0)
        && improve::consolidate(ctx, &mut choice, CONSOLIDATE_WORK, reuse)
    {
        let plan = ctx.plan(&choice, demand, false);
        return (choice, plan);
    }
    (choice, plan)
}

/// The best `IMPROVE_STARTS` distinct plans the packer made, best first (equal values in
/// the order they came).
#[derive(Default)]
struct Starts(Vec<(context::Value, Vec<Option<Realization>>)>);

impl Starts {
    fn push(&mut self, ctx: &Ctx<'_>, mut choice: Vec<Option<Realization>>) {
        choice.resize(ctx.fleet.gpus().len(), None);
        let v = ctx.total(&choice);
        if self.0.iter().any(|(w, c)| *w == v && *c == choice) {
            return;
        }
        let at = self.0.partition_point(|(w, _)| *w >= v);
        if at < IMPROVE_STARTS {
            self.0.insert(at, (v, choice));
            self.0.truncate(IMPROVE_STARTS);
        }
    }
}

/// The best plan from `valued` (plans with their value, best first) after the local
/// improvement: each improved in turn, until one reaches the certified bound and reuses
/// every free instance it may, or the rest are too far below the best to catch up (those
/// left are then weighed as they are). Once the best one is at the bound, only starts that
/// reuse more free instances than it are improved. With the plan already made for it where
/// the best is a start left as it was (`second`: whether the improvement has its second
/// round).
fn improve_best(
    ctx: &Ctx<'_>,
    valued: Vec<(context::Value, Vec<Option<Realization>>)>,
    demand: &[u32],
    second: bool,
) -> (Vec<Option<Realization>>, Option<Plan>) {
    let mut best: Option<(context::Value, Vec<Option<Realization>>, Option<Plan>)> = None;
    let reuse_goal = ctx.reuse_bound(demand);
    let mut done = false;
    // Whether the best start so far places what the bound allows at every level.
    let mut at_bound = false;
    // A start further below the best one than the best one is below the bound is not worth
    // improving: it would have to gain more than the optimum can be above the best.
    let mut floor = 0u64;
    for (value, mut choice) in valued {
        if ctx.placed(&choice) < floor {
            // The starts come best first: none after this one is worth improving either.
            done = true;
        }
        // Where the best one is at the bound, a start is improved only where it reuses more
        // free instances than the best one: the improvement counts free instances as gone,
        // so it may keep what a start reuses but hardly adds to it.
        let reuses_less = at_bound
            && best
                .as_ref()
                .is_some_and(|(b, _, _)| value.reused <= b.reused);
        if done || reuses_less {
            // The best one is at the bound and reuses all it may (or at least as much as
            // this start), or the rest are below the floor: a start left as it is may still
            // be better on the objective's later terms.
            if best.as_ref().is_some_and(|(b, _, _)| value > *b) {
                best = Some((value, choice, None));
            }
            continue;
        }
        let first = ctx.plan(&choice, demand, false);
        if best.is_none() {
            let placed = first.objective.placed;
            floor = placed.saturating_sub(first.bound.max_placed.saturating_sub(placed));
        }
        let mut bound = first.bound.optimum_levels();
        let mut first = Some(first);
        if first.as_ref().is_some_and(|f| f.gap().0 > 0) {
            // The best start gets the full patience, the others half: they are there for
            // the neighbourhoods the best one does not reach, found early or not at all.
            let patience = if best.is_none() {
                IMPROVE_PATIENCE
            } else {
                IMPROVE_PATIENCE / 2
            };
            let rounds = (
                patience,
                if second {
                    patience * SECOND_PATIENCE / IMPROVE_PATIENCE
                } else {
                    0
                },
            );
            if improve::improve(ctx, &mut choice, demand, &mut bound, IMPROVE_WORK, rounds) {
                // The plan made before no longer tells this one.
                first = None;
            }
        }
        let v = ctx.total(&choice);
        // At the bound, no start places more; one that reuses more free instances (the
        // objective's next term) is still worth a look.
        let here_at_bound = improve::at_bound(ctx, &choice, demand, &bound);
        done = here_at_bound && v.reused >= reuse_goal;
        if best.as_ref().is_none_or(|(b, _, _)| v > *b) {
            best = Some((v, choice, first));
            at_bound = here_at_bound;
        }
    }
    best.map(|(_, c, p)| (c, p)).unwrap_or_default()
}

/// Sets the local improvement tries in a row without a gain before it gives up on a start.
pub(super) const IMPROVE_PATIENCE: u32 = 64;

/// Sets in a row without a gain before the improvement's second round (each set holding one
/// of the GPUs that serve the fewest instances) gives up.
const SECOND_PATIENCE: u32 = 48;

/// Fleets past the exact search and up to this many GPUs get the pass by levels
/// ([`by_packed_levels`]) where the plan may fall short at a level: it costs about one more
/// run of the packer and the improvement per such level (at most [`LEVEL_PASSES`]). On
/// larger fleets one instance is a far smaller share of what a plan places, and that cost
/// is seconds.
pub(super) const LEVEL_PASS_GPUS: usize = 256;

/// Levels the pass by levels runs for, at most (the highest where the plan may be short):
/// each costs about as much as the packer and the improvement on the whole fleet. On 240
/// random fleets of 20 to 200 GPUs three gave the same plans as one pass per level; on 256
/// GPUs with eight levels, they halve the time that one per level takes.
const LEVEL_PASSES: usize = 3;

/// Sets in a row without a gain before the long improvement of the final plan gives up, in
/// each of its two rounds (see [`improved_long`]): four times the first improvement's
/// patience.
const LONG_PATIENCE: u32 = 4 * IMPROVE_PATIENCE;

/// Options the long improvement may weigh in all.
const LONG_WORK: u64 = 8 * IMPROVE_WORK;

/// How many times `LONG_PATIENCE` and `LONG_WORK` the second long improvement gets. Its first
/// round then lasts longer before the second round's sets start. Where the first leaves
/// room, twice found the optimum on random fleets of 20 and 50 GPUs that the first missed
/// by one instance (seeds 60 and 23), and placed more on four of 120 random fleets of 20
/// to 200 GPUs, fewer on none (it starts from the first's plan). It cost 15 to 25 % more
/// time there.
const LONGER: u32 = 2;

/// Starting plans the local improvement works from, at most.
const IMPROVE_STARTS: usize = 3;

/// GPU outcomes the consolidation may make in all (see `improve::consolidate`).
pub(in crate::batch) const CONSOLIDATE_WORK: u64 = 4_000;

/// Options the local improvement may weigh in all (see `improve`).
pub(super) const IMPROVE_WORK: u64 = 200_000;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::batch::SolveOptions;
    use crate::batch::testing::{arb_asks, arb_gpus, fleet, requests};

    /// A fleet past the exact search (23 A100-40GBs, some with instances) where the packer and
    /// the improvement place 30 of the top level: on the top level's demand alone, the packer
    /// places 31, and the pass by levels keeps that, filling the level below around it.
    #[test]
    fn the_pass_by_levels_places_more_at_the_top() {
        let gpus: Vec<Vec<(usize, u8, bool)>> = vec![
            vec![(5, 1, true), (5, 6, false)],
            vec![],
            vec![],
            vec![(0, 1, true)],
            vec![],
            vec![],
            vec![(4, 1, true), (3, 1, false)],
            vec![(2, 0, false), (1, 5, false)],
            vec![(4, 1, true), (1, 6, false)],
            vec![(4, 5, false), (3, 3, true)],
            vec![(1, 0, true), (3, 0, false)],
            vec![(4, 6, false), (2, 3, false)],
            vec![(3, 4, true)],
            vec![(6, 3, false)],
            vec![(3, 5, true), (4, 5, false)],
            vec![(2, 2, true)],
            vec![(2, 6, false), (5, 6, false)],
            vec![(5, 4, true)],
            vec![],
            vec![],
            vec![],
            vec![(5, 1, false), (2, 0, true)],
            vec![(2, 0, false), (1, 5, true)],
        ];
        let asks = [
            (0, 39, 2, 1),
            (1, 11, 0, 2),
            (3, 5, 1, 2),
            (3, 10, 0, 0),
            (5, 24, 2, 2),
        ];
        let fleet = fleet(&gpus);
        let reqs = requests(&asks);
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
        let mut greedy = Greedy::new(&ctx, Mode::Size);
        let (choice, plan) = pack_and_improve(&ctx, &demand, &mut greedy, None, true);
        assert_eq!(ctx.total(&choice).placed[0], 30);
        assert_eq!(plan.bound.optimum_by_priority[0], (2, 31));
        let (after, plan) = by_packed_levels(&ctx, &demand, &mut greedy, choice, plan);
        // The top level now reaches its certified bound: proven optimal there.
        assert_eq!(ctx.total(&after).placed[0], 31);
        assert_eq!(plan.objective, ctx.plan(&after, &demand, false).objective);
        assert!(plan.layout(&fleet).is_ok(), "{plan}");
        let solved = crate::batch::solve(&fleet, &reqs, &SolveOptions::default());
        assert_eq!(solved.objective.placed_by_priority[0], (2, 31));
        assert!(solved.layout(&fleet).is_ok(), "{solved}");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// On fleets past the exact search, the pass by levels never lowers the objective's
        /// value, leaves a plan that applies and is the plan of its outcomes, and a bound no
        /// looser than the one it was given and never below what the plan places.
        #[test]
        fn the_pass_by_levels_only_improves(
            gpus in arb_gpus(17..22),
            asks in arb_asks(2..6, 1u32..30, 0..3),
        ) {
            let fleet = fleet(&gpus);
            let reqs = requests(&asks);
            let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
            let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
            let mut greedy = Greedy::new(&ctx, Mode::Size);
            let (choice, plan) = pack_and_improve(&ctx, &demand, &mut greedy, None, true);
            let before = ctx.total(&choice);
            let bound = plan.bound.clone();
            let (after, plan) = by_packed_levels(&ctx, &demand, &mut greedy, choice, plan);
            prop_assert!(ctx.total(&after) >= before);
            prop_assert!(plan.layout(&fleet).is_ok(), "{plan}");
            prop_assert_eq!(&ctx.plan(&after, &demand, false).objective, &plan.objective);
            let placed: Vec<u64> = plan
                .objective
                .placed_by_priority
                .iter()
                .map(|&(_, n)| n)
                .collect();
            for (k, (&(_, b), &(_, was))) in plan
                .bound
                .optimum_by_priority
                .iter()
                .zip(&bound.optimum_by_priority)
                .enumerate()
            {
                prop_assert!(b <= was && b >= placed[k], "{:?} from {:?}", plan.bound, bound);
            }
        }

        /// The long improvement of a plan never places fewer at a level (highest first,
        /// compared as the objective does), leaves a plan that applies and is the plan of
        /// its outcomes, and a bound never below what it places.
        #[test]
        fn the_long_improvement_only_places_more(
            gpus in arb_gpus(17..22),
            // More than the fleet holds, mostly: the plan leaves instances out.
            asks in arb_asks(3..7, 10u32..60, 0..3),
        ) {
            let fleet = fleet(&gpus);
            let reqs = requests(&asks);
            let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
            let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
            let mut greedy = Greedy::new(&ctx, Mode::Size);
            let (choice, plan) = pack_and_improve(&ctx, &demand, &mut greedy, None, true);
            let before = ctx.total(&choice).placed;
            let (after, plan) = improved_long(&ctx, &demand, choice, plan);
            prop_assert!(ctx.total(&after).placed >= before);
            prop_assert!(plan.layout(&fleet).is_ok(), "{plan}");
            prop_assert_eq!(&ctx.plan(&after, &demand, false).objective, &plan.objective);
            for (&(_, b), &(_, n)) in plan
                .bound
                .optimum_by_priority
                .iter()
                .zip(&plan.objective.placed_by_priority)
            {
                prop_assert!(b >= n, "{:?} for {:?}", plan.bound, plan.objective);
            }
        }
    }
}
