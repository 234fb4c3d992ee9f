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
//! Small problems (up to [`SolveOptions::exact_gpu_limit`] GPUs) are first cut into parts that
//! no request joins (every GPU a request may use lies in one part: a fleet of several models
//! asked for profiles only one model has, say); each part is solved on its own, as the
//! objective is a sum over GPUs. Each is solved exactly by a dynamic program over GPUs and
//! remaining demand, within a work budget, cut below what the packer (below) places. The
//! search first gets a share of the budget (half on up to four GPUs, an eighth above); where
//! that is not enough, the packer's plan (below) answers if the bound proves it optimal in
//! instances placed, per priority level, and GPUs used ([`Plan::proven`]), and only
//! otherwise does the search go on with the rest: first, where the plan may be short at some
//! level, a search that counts the instances of that level and those above alone (far quicker:
//! ties need no further look) gives a better start or proves the plan's counts there; then the
//! search over the whole objective. A fleet in parts carries the sum of its parts' bounds on
//! the optimum. Larger problems, or those over the budget, are solved by grouping identical
//! GPUs into classes and packing each class with the mix of per-GPU patterns the configuration
//! LP chooses (rounded down, the rest by the best pattern repeated); where that leaves
//! instances out and the certified bound says more may fit, a local improvement re-solves small
//! sets of GPUs exactly with what they serve and what is left, until the bound is reached or no
//! set gains. On fleets of up to 256 GPUs, where the plan may be short at a priority level
//! above the lowest, the packer and the improvement run again on the demand of that level and
//! the ones above alone, and that plan, its lower levels filled by the improvement, replaces
//! the first where it is better (the lexicographic objective puts a higher level's instance
//! before any number of lower ones, and a packer that weighs every level at once may trade one
//! away). Where the bound still leaves room at some level after that, the improvement runs once
//! more on the plan itself, four times as patient, and where room is still left, once more from
//! there, twice as patient again: the bound is close to the optimum (below), so what it leaves
//! is mostly there to find. Last, where free instances are left unused or the bound allows fewer
//! GPUs, a consolidation moves creations onto free instances of their profile and empties the GPUs
//! that create the fewest instances into those reconfigured anyway (each move kept only where the
//! objective's value grows). The plan then carries a bound that shows its distance from the
//! optimum: a Lagrangian bound whose multipliers a subgradient search finds and, where its steps
//! run out short of the plan, the duals of the configuration LP (solved by column generation), so
//! that it is that LP's value wherever the LP is small enough to solve; a lower priority level's
//! bound on the optimum takes the higher levels' counts as rows of that LP where the plan reaches
//! their bounds (`bound`).
//!
//! The modules: `strategy` (the order above: parts, exact search, packer, improvement,
//! repair, the pass by levels), `context` (one GPU's outcome and the objective's value), the
//! exact search (`exact`), the search by levels (`repair`), the class-based packer (`greedy`)
//! over per-GPU patterns (`patterns`) and its LPs (`mix`, `lp`), the local improvement and
//! the consolidation (`improve`), the bound (`bound`), and the plan the solver answers with
//! (`plan`).

mod bound;
mod context;
mod exact;
mod greedy;
mod improve;
pub(crate) mod lp;
mod mix;
pub(crate) mod patterns;
mod plan;
mod repair;
mod room;
mod strategy;
#[cfg(test)]
mod testing;

pub use plan::{Bound, Creation, GpuChange, Objective, Plan, Reuse, Unplaced, UnplacedReason};

/// The solver's internal tables (keys are small integers and slices of them, never outside
/// input): rustc's FxHash.
type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

use gpupart_profiles::{GpuModel, ProfileName};

use crate::Error;
use crate::fleet::{Fleet, Gpu};
use strategy::solve_demands;

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

    /// Where the GPUs the request names stand in `fleet` (each once, in fleet order; GPUs the
    /// fleet lacks left out), if it names any.
    fn named_positions(&self, fleet: &Fleet) -> Option<Vec<usize>> {
        let set = self.gpus.as_ref()?;
        let mut at: Vec<usize> = set.iter().filter_map(|&i| fleet.position(i)).collect();
        at.sort_unstable();
        at.dedup();
        Some(at)
    }

    /// Whether the request may use `gpu`, known to be in its set of GPUs where it has one
    /// (the callers look only there: a set is not searched GPU by GPU).
    fn admits_where_named(&self, gpu: &Gpu, enable_mig: bool) -> bool {
        (gpu.mig_enabled || (enable_mig && gpu.instances().is_empty()))
            && self.model.is_none_or(|m| m == gpu.model.name)
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
    /// gives up for the class-based solver (half of them on up to four GPUs, an eighth
    /// above, then the rest only where the class-based solver's plan is not proven optimal
    /// by the bound; where that plan may be short at some priority level, the search by
    /// levels gets half as many again before).
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

/// Demands for one profile at one priority that may use the same GPUs of `fleet` as one: they
/// differ only in constraints this fleet does not tell apart (a model every GPU is, a NUMA
/// node every GPU it has is on), so any plan serves one as well as the other. Demands that
/// no GPU admits merge too where they go unplaced for the same reason (some GPU of the
/// model they ask for has the profile, or none has): such an entry split in two leaves the
/// plan as it was. The first of them stands for the merged demand, with their
/// entries in order.
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
    // The GPUs a demand naming none may use depend on its profile, model and NUMA node
    // alone: looked up once for each.
    let mut untied: FastMap<UntiedKey, Vec<u32>> = FastMap::default();
    merge_by(demands.iter().zip(members), |d| {
        if alike.get(&(d.profile, d.priority)).is_none_or(|&n| n < 2) {
            return None;
        }
        // Every GPU looked at is in the demand's set where it has one.
        let usable_at = |at: usize| {
            let g = &fleet.gpus()[at];
            (d.admits_where_named(g, options.enable_mig) && g.profile(&d.profile).is_some())
                .then(|| u32::try_from(at).ok())
                .flatten()
        };
        let usable: Vec<u32> = match d.named_positions(fleet) {
            // Only the GPUs it names: the work is its set's size, not the fleet's.
            Some(at) => at.into_iter().filter_map(usable_at).collect(),
            None => untied
                .entry((d.profile, d.model, d.numa_node))
                .or_insert_with(|| (0..fleet.gpus().len()).filter_map(usable_at).collect())
                .clone(),
        };
        let serves = if usable.is_empty() {
            // Why nothing is placed (no eligible GPU, or no GPU of its model has the
            // profile) is told by the demand's own constraints: merged only where alike.
            let has_profile = fleet.gpus().iter().any(|g| {
                d.model.is_none_or(|m| m == g.model.name) && g.profile(&d.profile).is_some()
            });
            Serves::Nowhere { has_profile }
        } else {
            Serves::Gpus(usable)
        };
        Some((d.profile, d.priority, serves))
    })
}

/// What the GPUs a demand naming no GPUs may use depend on: its profile, model and NUMA node.
type UntiedKey = (ProfileName, Option<&'static str>, Option<u32>);

/// Where a demand may be served, as [`merge_interchangeable`] compares demands.
#[derive(PartialEq, Eq, Hash)]
enum Serves {
    /// These GPUs (fleet positions) admit it.
    Gpus(Vec<u32>),
    /// No GPU admits it; `has_profile`: some GPU of the model it asks for has its profile.
    Nowhere { has_profile: bool },
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::testing::{arb_asks, arb_gpus, arb_sets, fleet, requests, tied};
    use super::*;

    /// What may serve a demand, found the plain way: every GPU of the fleet asked.
    fn serves_plainly(fleet: &Fleet, d: &Request) -> Serves {
        let usable: Vec<u32> = fleet
            .gpus()
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                d.admits_where_named(g, false)
                    && d.gpus.as_ref().is_none_or(|s| s.contains(&g.index))
                    && g.profile(&d.profile).is_some()
            })
            .filter_map(|(at, _)| u32::try_from(at).ok())
            .collect();
        if usable.is_empty() {
            let has_profile = fleet.gpus().iter().any(|g| {
                d.model.is_none_or(|m| m == g.model.name) && g.profile(&d.profile).is_some()
            });
            Serves::Nowhere { has_profile }
        } else {
            Serves::Gpus(usable)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Two demands merge exactly where they share profile and priority and the GPUs
        /// they may use (or why none) are the same as asking every GPU finds: the GPUs of a
        /// set looked up from the set, those of an untied demand once per kind.
        #[test]
        fn demands_merge_by_the_gpus_they_may_use(
            gpus in arb_gpus(1..7),
            asks in arb_asks(1..8, 1u32..3, 0..2),
            sets in arb_sets(),
        ) {
            let fleet = fleet(&gpus);
            let reqs = tied(requests(&asks), &sets);
            let (demands, members) = aggregate(&reqs);
            let (_, merged) =
                merge_interchangeable(&fleet, &SolveOptions::default(), &demands, members.clone());
            // The merged demand each entry ends in.
            let mut group = vec![usize::MAX; reqs.len()];
            for (k, entries) in merged.iter().enumerate() {
                for &e in entries {
                    group[e] = k;
                }
            }
            for i in 0..demands.len() {
                for j in i + 1..demands.len() {
                    let (a, b) = (&demands[i], &demands[j]);
                    let alike = a.profile == b.profile
                        && a.priority == b.priority
                        && serves_plainly(&fleet, a) == serves_plainly(&fleet, b);
                    let together = group[members[i][0]] == group[members[j][0]];
                    prop_assert_eq!(together, alike, "demands {} and {}", i, j);
                }
            }
        }
    }
}
