//! The fleet batch solver.
//!
//! Objective, compared lexicographically:
//! 1. the most instances placed, higher priorities first;
//! 2. in-use instances are never touched (a hard rule); the most requests served by free
//!    instances that exist already;
//! 3. the fewest GPUs reconfigured (any instance created or destroyed, or MIG enabled);
//! 4. the fewest GPUs used (holding any instance afterwards);
//! 5. the fewest free instances destroyed (what is not asked to change, stays);
//! 6. the most room kept for large profiles: per GPU 2 if the model's full-GPU profile still
//!    fits, 1 if its half-GPU profile (`4g` on an A100) does.
//!
//! Requests are first gathered into demands: identical entries are one, and so are entries
//! for one profile at one priority that may use the same GPUs of the fleet (see [`solve`]).
//! Any number of priority levels may be asked for; the packer's LPs weigh up to eight of them
//! apart, the bound and the searches every one.
//!
//! Small problems (up to [`SolveOptions::exact_gpu_limit`] GPUs) are first cut into parts
//! that no request joins (every GPU a request may use lies in one part: a fleet of several
//! models asked for profiles only one model has, say); each part is solved on its own, as the
//! objective is a sum over GPUs. Each is solved exactly by a
//! dynamic program over GPUs and remaining demand, within a work budget. Above four GPUs the
//! search first gets a share of the budget; where that is not enough, the packer's plan
//! (below) answers if the bound proves it optimal in instances placed, per priority level,
//! and GPUs used ([`Plan::proven`]), and only otherwise does the search go on with the rest.
//! Larger problems, or those over the budget, are solved by grouping identical GPUs into
//! classes and packing each class with the mix of per-GPU patterns the configuration LP
//! chooses (rounded down, the rest by the best pattern repeated); where that leaves instances
//! out and the certified bound says more may fit, a local improvement re-solves small sets of
//! GPUs exactly with what they serve and what is left, until the bound is reached or no set
//! gains. Last, where free instances are left unused or the bound allows fewer GPUs, a
//! consolidation moves creations onto free instances of their profile and empties the GPUs
//! that create the fewest instances into those reconfigured anyway (each move kept only where
//! the objective's value grows). The plan then carries a bound that shows its distance from
//! the optimum.
//!
//! The modules: `context` (one GPU's outcome and the objective's value), the exact search
//! (`exact`), the class-based packer (`greedy`) over per-GPU patterns (`patterns`) and its
//! LPs (`mix`, `lp`), the local improvement and the consolidation (`improve`), the bound
//! (`bound`), and the plan
//! the solver answers with (`plan`).

mod bound;
mod context;
mod exact;
mod greedy;
mod improve;
pub(crate) mod lp;
mod mix;
pub(crate) mod patterns;
mod plan;
mod room;

pub use plan::{Bound, Creation, GpuChange, Objective, Plan, Reuse, Unplaced, UnplacedReason};

/// The solver's internal tables (keys are small integers and slices of them, never outside
/// input): rustc's FxHash.
type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

use gpupart_profiles::{GpuModel, ProfileName};

use crate::Error;
use crate::fleet::{Fleet, Gpu};
use context::{Ctx, Realization};
use exact::Exact;
use greedy::{Greedy, Mode};

/// A request: `count` instances of `profile`, optionally limited to a model, a set of GPUs or
/// a NUMA node, with a priority (higher first).
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// The GPU instance profile (`3g.20gb`); the name is resolved on each GPU's model.
    pub profile: ProfileName,
    /// How many instances.
    pub count: u32,
    /// Only GPUs of this model (catalog name).
    pub model: Option<&'static str>,
    /// Only these GPUs (by [`Gpu::index`]).
    pub gpus: Option<Vec<u32>>,
    /// Only GPUs on this NUMA node.
    pub numa_node: Option<u32>,
    /// Priority: higher is placed first.
    pub priority: u8,
}

impl Request {
    /// `count` instances of `profile`.
    #[must_use]
    pub fn new(profile: ProfileName, count: u32) -> Self {
        Request {
            profile,
            count,
            model: None,
            gpus: None,
            numa_node: None,
            priority: 0,
        }
    }

    /// `count` instances of the profile named `name`.
    ///
    /// # Errors
    /// [`Error::InvalidProfileName`] when `name` does not parse.
    pub fn parse(name: &str, count: u32) -> Result<Self, Error> {
        let profile = name.parse().map_err(|reason| Error::InvalidProfileName {
            input: name.chars().take(80).collect(),
            reason,
        })?;
        Ok(Request::new(profile, count))
    }

    /// Only GPUs of `model`.
    #[must_use]
    pub fn on_model(mut self, model: &'static GpuModel) -> Self {
        self.model = Some(model.name);
        self
    }

    /// Only these GPUs (by [`Gpu::index`]).
    #[must_use]
    pub fn on_gpus(mut self, gpus: &[u32]) -> Self {
        self.gpus = Some(gpus.to_vec());
        self
    }

    /// Only GPUs on NUMA node `node`.
    #[must_use]
    pub fn on_numa_node(mut self, node: u32) -> Self {
        self.numa_node = Some(node);
        self
    }

    /// The priority.
    #[must_use]
    pub fn with_priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    fn admits(&self, gpu: &Gpu, enable_mig: bool) -> bool {
        (gpu.mig_enabled || (enable_mig && gpu.instances().is_empty()))
            && self.model.is_none_or(|m| m == gpu.model.name)
            && self.gpus.as_ref().is_none_or(|s| s.contains(&gpu.index))
            && self.numa_node.is_none_or(|n| gpu.numa_node == Some(n))
    }
}

/// How the solver may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SolveOptions {
    /// GPUs with MIG off (and no instances) may be used; the plan then enables MIG there,
    /// which needs a GPU reset on real hardware.
    pub enable_mig: bool,
    /// Fleets up to this many GPUs are solved exactly (within `exact_budget`).
    pub exact_gpu_limit: usize,
    /// Most options (a GPU and what it would serve) the exact search may weigh before it
    /// gives up for the class-based solver (above four GPUs: an eighth of them, then the
    /// rest only where the class-based solver's plan is not proven optimal by the bound).
    pub exact_budget: u64,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            enable_mig: false,
            exact_gpu_limit: 16,
            exact_budget: 20_000,
        }
    }
}

impl SolveOptions {
    /// Allow enabling MIG on idle GPUs with MIG off.
    #[must_use]
    pub fn enable_mig(mut self, on: bool) -> Self {
        self.enable_mig = on;
        self
    }

    /// Never search exactly: always the class-based solver.
    #[must_use]
    pub fn heuristic_only(mut self) -> Self {
        self.exact_gpu_limit = 0;
        self
    }
}

/// Solves a batch of requests on a fleet. See the module docs for the objective.
///
/// Identical requests (same profile, model, GPU set, NUMA node and priority) are solved as one
/// demand, so time and memory grow with the distinct demands, not with the entries: a
/// scheduler may pass one request per pending pod. So are requests for one profile at one
/// priority whose constraints admit the same GPUs of this fleet (a model every GPU is, a
/// NUMA node all of them are on): no plan can tell them apart. The plan still names each
/// entry; within a demand, earlier entries are served first.
#[must_use]
pub fn solve(fleet: &Fleet, requests: &[Request], options: &SolveOptions) -> Plan {
    let (demands, members) = aggregate(requests);
    let (demands, members) = merge_interchangeable(fleet, options, &demands, members);
    let plan = solve_demands(fleet, &demands, options);
    if demands.len() == requests.len() {
        // No two entries alike: demand i is request i.
        return plan;
    }
    spread(plan, requests, &members)
}

/// Identical entries as one demand each, in order of first appearance, with the entries each
/// stands for.
fn aggregate(requests: &[Request]) -> (Vec<Request>, Vec<Vec<usize>>) {
    merge_by(requests.iter().enumerate().map(|(i, r)| (r, [i])), |r| {
        let gpus = r.gpus.as_ref().map(|g| {
            let mut g = g.clone();
            g.sort_unstable();
            g.dedup();
            g
        });
        Some((r.profile, r.model, gpus, r.numa_node, r.priority))
    })
}

/// Demands for one profile at one priority that may use the same GPUs of `fleet` (and at
/// least one) as one: they differ only in constraints this fleet does not tell apart (a
/// model every GPU is, a NUMA node every GPU it has is on), so any plan serves one as well as
/// the other. The first of them stands for the merged demand, with their entries in order.
fn merge_interchangeable(
    fleet: &Fleet,
    options: &SolveOptions,
    demands: &[Request],
    members: Vec<Vec<usize>>,
) -> (Vec<Request>, Vec<Vec<usize>>) {
    // Only demands that share their profile and priority with another may merge: the GPUs
    // each may use are looked up for those alone.
    let mut alike: FastMap<(ProfileName, u8), usize> = FastMap::default();
    for d in demands {
        *alike.entry((d.profile, d.priority)).or_default() += 1;
    }
    merge_by(demands.iter().zip(members), |d| {
        if alike.get(&(d.profile, d.priority)).is_none_or(|&n| n < 2) {
            return None;
        }
        let usable: Vec<u32> = fleet
            .gpus()
            .iter()
            .enumerate()
            .filter(|(_, g)| d.admits(g, options.enable_mig) && g.profile(&d.profile).is_some())
            .filter_map(|(at, _)| u32::try_from(at).ok())
            .collect();
        // A demand no GPU admits is kept apart: why nothing is placed (no such profile, no
        // eligible GPU) is told by its own constraints.
        (!usable.is_empty()).then_some((d.profile, d.priority, usable))
    })
}

/// Requests (each with the entries it stands for) with the same `key` as one demand, in
/// order of first appearance: the first stands for them, its count the sum, their entries
/// in order. A request whose key is `None` stays its own.
fn merge_by<'r, K: core::hash::Hash + Eq, E: IntoIterator<Item = usize>>(
    requests: impl IntoIterator<Item = (&'r Request, E)>,
    mut key: impl FnMut(&Request) -> Option<K>,
) -> (Vec<Request>, Vec<Vec<usize>>) {
    let mut index: FastMap<K, usize> = FastMap::default();
    let mut demands: Vec<Request> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (r, entries) in requests {
        let k = key(r);
        if let Some(&d) = k.as_ref().and_then(|k| index.get(k)) {
            demands[d].count = demands[d].count.saturating_add(r.count);
            members[d].extend(entries);
            continue;
        }
        if let Some(k) = k {
            index.insert(k, demands.len());
        }
        demands.push(r.clone());
        members.push(entries.into_iter().collect());
    }
    for entries in &mut members {
        entries.sort_unstable();
    }
    (demands, members)
}

/// A plan for demands, told in the entries they stand for: each demand's instances go to its
/// entries in order, what it lacks to the last ones.
fn spread(mut plan: Plan, requests: &[Request], members: &[Vec<usize>]) -> Plan {
    // Per demand: the entry being served and how many it has.
    let mut cursor: Vec<(usize, u32)> = vec![(0, 0); members.len()];
    let mut next = |d: usize| -> usize {
        let (k, got) = &mut cursor[d];
        while *k + 1 < members[d].len() && *got >= requests[members[d][*k]].count {
            *k += 1;
            *got = 0;
        }
        *got += 1;
        members[d][*k]
    };
    for c in &mut plan.changes {
        for x in &mut c.create {
            x.request = next(x.request);
        }
        for x in &mut c.reuse {
            x.request = next(x.request);
        }
    }
    let mut unplaced = Vec::new();
    for u in &plan.unplaced {
        let (k, got) = cursor[u.request];
        for (j, &m) in members[u.request].iter().enumerate().skip(k) {
            let had = if j == k { got } else { 0 };
            let short = requests[m].count.saturating_sub(had);
            if short > 0 {
                unplaced.push(Unplaced {
                    request: m,
                    count: short,
                    reason: u.reason,
                });
            }
        }
    }
    unplaced.sort_by_key(|u| u.request);
    plan.unplaced = unplaced;
    plan
}

fn solve_demands(fleet: &Fleet, requests: &[Request], options: &SolveOptions) -> Plan {
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
            if let Some((choice, exact)) = solve_parts(fleet, requests, options, &demand, &parts) {
                return ctx.plan(&choice, &demand, exact);
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
/// made.
fn solve_parts(
    fleet: &Fleet,
    requests: &[Request],
    options: &SolveOptions,
    demand: &[u32],
    parts: &[Vec<usize>],
) -> Option<Chosen> {
    let gpus = fleet.gpus();
    let all = u64::try_from(parts.iter().map(Vec::len).sum::<usize>())
        .ok()?
        .max(1);
    let mut choice = vec![None; gpus.len()];
    let mut exact = true;
    for part in parts {
        let sub = Fleet::new(part.iter().map(|&g| gpus[g].clone()).collect()).ok()?;
        let ctx = Ctx::new(&sub, requests, options);
        let share = u64::try_from(part.len()).ok()?;
        let budget = options.exact_budget.saturating_mul(share) / all;
        let ((outcomes, proved), _) = choose(&ctx, demand, options.exact_gpu_limit, budget);
        exact &= proved;
        for (&g, real) in part.iter().zip(outcomes) {
            choice[g] = real;
        }
    }
    Some((choice, exact))
}

/// The solver on one fleet (or part), exact up to `limit` GPUs with `budget` for the search:
/// the GPUs' outcomes, whether exact, and the plan where it was made on the way.
fn choose(ctx: &Ctx<'_>, demand: &[u32], limit: usize, budget: u64) -> (Chosen, Option<Plan>) {
    let mut greedy = Greedy::new(ctx, Mode::Size);
    let gpus = ctx.fleet.gpus().len();
    let packed = |greedy: &mut Greedy<'_, '_>, first| {
        let (choice, plan) = pack_and_improve(ctx, demand, greedy, first, true);
        ((choice, false), Some(plan))
    };
    if gpus > limit {
        return packed(&mut greedy, None);
    }
    if gpus <= SMALL_FLEET {
        let mut dp = Exact::over(ctx, (0..gpus).collect(), budget);
        if let Some(Some(_)) = dp.best(0, demand) {
            return ((dp.reconstruct(demand), true), None);
        }
        return packed(&mut greedy, None);
    }
    // What the packer places is a target the exact search needs not look below: states from
    // which no plan reaches it are cut. The search first gets a share of its budget; where
    // that is not enough, the packer's plan with the local improvement answers if the bound
    // proves it optimal (per priority level, and in GPUs used), and only otherwise does the
    // search go on with the rest of its budget.
    let first = greedy.run(demand.to_vec());
    let mut dp = Exact::over(ctx, (0..gpus).collect(), budget / FIRST_SHARE)
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
    dp.budget = budget - budget / FIRST_SHARE;
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
        for &(r, _) in elig {
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

/// The class-based packer, then the local improvement where the packer leaves instances out:
/// every GPU's outcome and the plan (`first`: the packer's plan by size, if made already;
/// `second`: whether the improvement has its second round).
fn pack_and_improve(
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
    let mut starts = Starts::default();
    starts.push(ctx, choice);
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
    let (best, plan) = match improve_best(ctx, starts.0, demand, second) {
        (best, Some(plan)) => (best, plan),
        (best, None) => {
            let plan = ctx.plan(&best, demand, false);
            (best, plan)
        }
    };
    consolidated(ctx, demand, best, plan)
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
/// improvement: each improved in turn, until one reaches the certified bound; with the plan
/// already made for it where the best is a start left as it was (`second`: whether the
/// improvement has its second round).
fn improve_best(
    ctx: &Ctx<'_>,
    valued: Vec<(context::Value, Vec<Option<Realization>>)>,
    demand: &[u32],
    second: bool,
) -> (Vec<Option<Realization>>, Option<Plan>) {
    let mut best: Option<(context::Value, Vec<Option<Realization>>, Option<Plan>)> = None;
    // A start further below the best one than the best one is below the bound is not worth
    // improving: it would have to gain more than the optimum can be above the best.
    let mut floor = 0u64;
    for (_, mut choice) in valued {
        if ctx.placed(&choice) < floor {
            break;
        }
        let first = ctx.plan(&choice, demand, false);
        if best.is_none() {
            let placed = first.objective.placed;
            floor = placed.saturating_sub(first.bound.max_placed.saturating_sub(placed));
        }
        let bound: Vec<u64> = first
            .bound
            .optimum_by_priority
            .iter()
            .map(|&(_, b)| b)
            .collect();
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
            if improve::improve(ctx, &mut choice, demand, &bound, IMPROVE_WORK, rounds) {
                // The plan made before no longer tells this one.
                first = None;
            }
        }
        let v = ctx.total(&choice);
        let done = improve::at_bound(ctx, &choice, demand, &bound);
        if best.as_ref().is_none_or(|(b, _, _)| v > *b) {
            best = Some((v, choice, first));
        }
        if done {
            break;
        }
    }
    best.map(|(_, c, p)| (c, p)).unwrap_or_default()
}

/// Fleets this small are searched exactly without first packing them for a target: the
/// search is quicker than the packer there.
const SMALL_FLEET: usize = 4;

/// Larger fleets (up to `exact_gpu_limit`) are first searched with this share of the budget
/// (one part in `FIRST_SHARE`) before the packer's plan is tried against the bound.
const FIRST_SHARE: u64 = 8;

/// Sets the local improvement tries in a row without a gain before it gives up on a start.
const IMPROVE_PATIENCE: u32 = 64;

/// Sets in a row without a gain before the improvement's second round (each set holding one
/// of the GPUs that serve the fewest instances) gives up.
const SECOND_PATIENCE: u32 = 48;

/// Starting plans the local improvement works from, at most.
const IMPROVE_STARTS: usize = 3;

/// GPU outcomes the consolidation may make in all (see `improve::consolidate`).
const CONSOLIDATE_WORK: u64 = 4_000;

/// Options the local improvement may weigh in all (see `improve`).
const IMPROVE_WORK: u64 = 200_000;
