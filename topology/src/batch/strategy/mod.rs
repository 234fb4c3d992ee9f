//! How a fleet is solved: cut into parts no request joins, each searched exactly where it
//! is small enough, else (or where the search runs out of budget) packed by the class-based
//! packer, improved locally, repaired level by level (by the exact search where it covers
//! the fleet, else by the packer on the higher levels' demand alone), improved again at
//! length where the bound still leaves room, and consolidated (see the module docs of
//! `batch` for the order and why).
//!
//! The packer's side (its starts, the local improvement of them, the pass by levels, the
//! long improvement and the consolidation) is [`packed`].

mod packed;

use super::context::{Ctx, Realization};
use super::exact::Exact;
use super::greedy::{Greedy, Mode};
use super::{Plan, Request, SolveOptions, repair};
use crate::fleet::Fleet;
pub(super) use packed::CONSOLIDATE_WORK;
use packed::{
    IMPROVE_PATIENCE, IMPROVE_WORK, LEVEL_PASS_GPUS, by_packed_levels, improved_long,
    pack_and_improve,
};

pub(super) fn solve_demands(fleet: &Fleet, requests: &[Request], options: &SolveOptions) -> Plan {
    let ctx = Ctx::new(fleet, requests, options);
    let demand: Vec<u32> = requests.iter().map(|r| r.count).collect();
    if fleet.gpus().len() <= options.exact_gpu_limit {
        let parts = parts(&ctx);
        let covered: usize = parts.iter().map(Vec::len).sum();
        if parts.len() > 1 || covered < fleet.gpus().len() {
            // No request joins two parts, and every term of the objective is a sum over
            // GPUs: the optimum is each part's optimum, and solving the parts one by one is
            // as exact as solving them together, at a fraction of the states. GPUs no request
            // may use are in no part: they stay as they are.
            if let Some(((choice, exact), optimum)) =
                solve_parts(fleet, requests, options, &demand, &parts)
            {
                let mut plan = ctx.plan(&choice, &demand, exact);
                for ((_, b), &o) in plan.bound.optimum_by_priority.iter_mut().zip(&optimum) {
                    *b = (*b).min(o);
                }
                return plan;
            }
        }
    }
    match choose(&ctx, &demand, options.exact_gpu_limit, options.exact_budget) {
        (_, Some(plan)) => plan,
        ((choice, exact), None) => ctx.plan(&choice, &demand, exact),
    }
}

/// Every GPU's outcome (`None` for untouched), and whether the exact search proved it.
type Chosen = (Vec<Option<Realization>>, bool);

/// Each part solved on its own (a fleet of its GPUs) with a share of the exact search's
/// budget by its size (among the GPUs of all parts); `None` where a part's fleet cannot be
/// made. With it, per level, the sum of the parts' bounds on what their optimum places at
/// that level or above: the optimum of the whole is the sum of the parts' optima (the
/// objective is a sum over GPUs, and no request joins two parts), so the sum bounds it.
fn solve_parts(
    fleet: &Fleet,
    requests: &[Request],
    options: &SolveOptions,
    demand: &[u32],
    parts: &[Vec<usize>],
) -> Option<(Chosen, Vec<u64>)> {
    let gpus = fleet.gpus();
    let all = u64::try_from(parts.iter().map(Vec::len).sum::<usize>())
        .ok()?
        .max(1);
    let mut choice = vec![None; gpus.len()];
    let mut exact = true;
    let mut optimum: Vec<u64> = Vec::new();
    for part in parts {
        let sub = Fleet::new(part.iter().map(|&g| gpus[g].clone()).collect()).ok()?;
        let ctx = Ctx::new(&sub, requests, options);
        let share = u64::try_from(part.len()).ok()?;
        let budget = options.exact_budget.saturating_mul(share) / all;
        let ((outcomes, proved), plan) = choose(&ctx, demand, options.exact_gpu_limit, budget);
        // The part's bound on its optimum, level by level (every part has the requests'
        // levels): its exact plan's counts, or its plan's bound.
        let bound: Vec<u64> = match plan.filter(|_| !proved) {
            Some(plan) => plan.bound.optimum_levels(),
            None => ctx
                .total(&outcomes)
                .placed
                .iter()
                .scan(0u64, |sum, &n| {
                    *sum += n;
                    Some(*sum)
                })
                .collect(),
        };
        optimum.resize(bound.len().max(optimum.len()), 0);
        for (o, b) in optimum.iter_mut().zip(&bound) {
            *o = o.saturating_add(*b);
        }
        exact &= proved;
        for (&g, real) in part.iter().zip(outcomes) {
            choice[g] = real;
        }
    }
    Some(((choice, exact), optimum))
}

/// The solver on one fleet (or part), exact up to `limit` GPUs with `budget` for the search:
/// the GPUs' outcomes, whether exact, and the plan where it was made on the way.
fn choose(ctx: &Ctx<'_>, demand: &[u32], limit: usize, budget: u64) -> (Chosen, Option<Plan>) {
    let mut greedy = Greedy::new(ctx, Mode::Size);
    let gpus = ctx.fleet.gpus().len();
    if gpus > limit {
        let (choice, plan) = pack_and_improve(ctx, demand, &mut greedy, None, true);
        let (choice, plan) = if gpus <= LEVEL_PASS_GPUS && plan.gap().0 > 0 {
            let (choice, plan) = by_packed_levels(ctx, demand, &mut greedy, choice, plan);
            improved_long(ctx, demand, choice, plan)
        } else {
            (choice, plan)
        };
        return ((choice, false), Some(plan));
    }
    // What the packer places is a target the exact search needs not look below: states from
    // which no plan reaches it are cut. The search first gets a share of its budget; where
    // that is not enough, the packer's plan with the local improvement answers if the bound
    // proves it optimal (per priority level, and in GPUs used), and only otherwise does the
    // search go on with the rest of its budget.
    let first = greedy.run(demand.to_vec());
    let share = if gpus <= SMALL_FLEET {
        SMALL_FIRST_SHARE
    } else {
        FIRST_SHARE
    };
    let mut dp = Exact::over(ctx, (0..gpus).collect(), budget / share)
        .with_target(demand, ctx.total(&first).placed.to_vec());
    if let Some(Some(_)) = dp.best(0, demand) {
        return ((dp.reconstruct(demand), true), None);
    }
    // The improvement's second round is left out here: the exact search goes on after it.
    let (choice, plan) = pack_and_improve(ctx, demand, &mut greedy, Some(first), false);
    // The bound proves instances placed and GPUs used; where the plan could reuse more free
    // instances (which the objective puts before GPUs used), the search goes on.
    if plan.proven() && plan.objective.reused >= ctx.reuse_bound(demand) {
        return ((choice, false), Some(plan));
    }
    // Where the plan may place fewer than the optimum at some level, the search by levels
    // looks there (counting instances alone): a better plan should the exact search below
    // not finish, or a proof of the plan's counts. (Such a proof leaves the objective's
    // later terms open, so the exact search goes on either way.)
    let (choice, plan) = if plan.gap().0 > 0 {
        repair::by_levels(
            ctx,
            demand,
            choice,
            plan,
            budget / REPAIR_SHARE,
            IMPROVE_WORK,
            IMPROVE_PATIENCE,
        )
    } else {
        (choice, plan)
    };
    dp.budget = budget - budget / share;
    // What the plan places now is a target the rest of the search needs not look below.
    dp.raise_target(&ctx.total(&choice).placed);
    if let Some(Some(_)) = dp.best(0, demand) {
        return ((dp.reconstruct(demand), true), None);
    }
    ((choice, false), Some(plan))
}

/// The fleet's GPUs that may serve a request, in parts that no request joins: every GPU a
/// request may use lies in one part. In order of their lowest GPU, each in fleet order.
fn parts(ctx: &Ctx<'_>) -> Vec<Vec<usize>> {
    fn root(up: &mut [usize], mut x: usize) -> usize {
        while up[x] != x {
            up[x] = up[up[x]];
            x = up[x];
        }
        x
    }
    let gpus = ctx.fleet.gpus().len();
    let mut up: Vec<usize> = (0..gpus).collect();
    let mut first: Vec<Option<usize>> = vec![None; ctx.requests.len()];
    for (g, elig) in ctx.eligible.iter().enumerate() {
        for &(r, _) in elig.iter() {
            match first.get(r).copied().flatten() {
                None => {
                    if let Some(f) = first.get_mut(r) {
                        *f = Some(g);
                    }
                }
                Some(h) => {
                    let (a, b) = (root(&mut up, g), root(&mut up, h));
                    up[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let mut at: Vec<Option<usize>> = vec![None; gpus];
    for g in 0..gpus {
        if ctx.eligible[g].is_empty() {
            continue;
        }
        let r = root(&mut up, g);
        match at[r] {
            Some(i) => parts[i].push(g),
            None => {
                at[r] = Some(parts.len());
                parts.push(vec![g]);
            }
        }
    }
    parts
}
/// Fleets (up to `exact_gpu_limit` GPUs) are first searched with this share of the budget
/// (one part in `FIRST_SHARE`) before the packer's plan is tried against the bound.
const FIRST_SHARE: u64 = 8;

/// Fleets of up to this many GPUs get [`SMALL_FIRST_SHARE`] of the budget first instead.
const SMALL_FLEET: usize = 4;

/// The first share of the budget on fleets of up to [`SMALL_FLEET`] GPUs: half. Their search
/// often finishes where a larger one would run out, and finished it is exact in every term
/// of the objective, where the packer's plan is proven in instances placed and GPUs used
/// alone. On 3,600 fleets of 1 to 4 GPUs (random and the six families), half the budget
/// first kept every plan equal on the whole objective; an eighth (as above) lost the last
/// term (room kept) on 6 of 720 family fleets; searching with the whole budget before the
/// packer, as before, took the most time where the search ran out (random fleets of 1 to 4
/// GPUs: p99 15.8 -> 5.5 ms).
const SMALL_FIRST_SHARE: u64 = 2;

/// The search by levels gets this share of the exact search's budget (one part in
/// `REPAIR_SHARE`), over all its levels.
const REPAIR_SHARE: u64 = 2;
