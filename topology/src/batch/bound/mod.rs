//! The bound on the optimum, certified by Lagrangian duality so that it cannot lie.
//!
//! GPUs fall into classes: the same model, the same in-use instances (which no plan touches)
//! and the same requests they may serve. On one GPU of a class, what serves requests is a
//! *pattern*: a multiset of the eligible profiles that fits beside the in-use instances (free
//! instances can always be destroyed, so every pattern is open to every plan). For weights
//! `w` on the requests (1 for those that count, 0 for the others) and any multipliers
//! `z >= 0`, every plan places at most
//!
//! ```text
//! UB(z) = sum_d demand_d * z_d + sum_classes n_c * max_pattern sum_slots count_s * max(0, max_{d takes s} (w_d - z_d))
//! ```
//!
//! weighted instances: add `z_d * (demand_d - placed_d) >= 0` to the plan's value and bound
//! each GPU's share by its best pattern. This holds for *any* `z`, so the search for a good
//! `z` may be crude: the bound stays valid. It is a subgradient method; where its steps run
//! out above what the plan places, the duals of the configuration LP (solved by column
//! generation, in `dual`) give the best `z` there is, as the smallest `UB(z)` is that LP's
//! value. The arithmetic is on integers (`z` in 1/1024 steps), so no rounding can make it
//! lie.
//!
//! The same sum gives two more bounds:
//! - *What the optimum places of a lower priority.* Where the plan places at every higher
//!   level all that level's bound allows, the optimum places exactly that much there; with
//!   a multiplier on each of those levels' counts, the level's bound may assume it
//!   (`optimum_by_priority`). The best such multipliers are the duals of the configuration
//!   LP with those counts as rows (`dual::lp_bound`).
//! - *The fewest GPUs.* A plan uses every GPU with in-use instances and some others, and each
//!   GPU adds at most its best pattern's worth to the sum: so a plan placing `n` needs as many
//!   others, the most worth first, as bring the sum to `n` (`min_gpus_used`, beside the
//!   counts by instances, memory and compute). Where that leaves room, the configuration LP
//!   with a cost of one per GPU used and `n` as a row gives its own multipliers
//!   (`dual::fewest_gpus`).
//!
//! The modules: `search` (the subgradient search for `z`, and when the LP takes over),
//! `dual` (the configuration LP by column generation), `conditional` (a lower level's bound on
//! the optimum, given the counts above it), `gpus` (the bounds on GPUs used, and the bound by
//! memory and compute slices).

mod conditional;
mod dual;
mod gpus;
mod search;

use gpus::{min_gpus, min_gpus_by_lp, min_gpus_by_value, resources};
use search::{Search, bound_and_prices, bound_for};

use std::cell::{OnceCell, RefCell};

use super::Bound;
use super::FastMap;
use super::context::Ctx;
use super::patterns::{Pattern, shared_patterns};
use gpupart_profiles::ModelKey;

/// The scale of weights and multipliers: `z = k / SCALE`.
const SCALE: i64 = 1024;

/// Subgradient steps at most, per bound.
const STEPS: usize = 80;

/// Priority levels that get Lagrangian and resource bounds of their own, at most: the
/// highest `LAGRANGIAN_LEVELS - 1` and the lowest (which counts every level).
const LAGRANGIAN_LEVELS: usize = 8;

/// The multipliers tried on the higher levels' constraints when a level's bound may assume
/// the optimum's counts above it (see `Ctx::optimum_bound`), smallest first.
const CONDITIONAL_MULTIPLIERS: [i64; 6] = [1, 2, 4, 8, 16, 32];

/// What makes GPUs alike for the bound: the in-use occupancy and the (request, profile slot)
/// pairs they may serve.
type ClassKey = ((ModelKey, u32, u128), Vec<(usize, usize)>);

/// GPUs alike for the bound.
#[derive(Debug, Clone)]
pub(super) struct Class {
    /// How many GPUs.
    n: u64,
    /// Whether its GPUs hold in-use instances (then every plan uses them).
    fixed: bool,
    /// The most instances one GPU of the class can hold for the requests.
    cap: u64,
    /// Per request it may take: the share of one GPU's memory and compute slices an
    /// instance of it takes here.
    share: Vec<(usize, f64, f64)>,
    /// The share of the GPU's memory and compute slices the in-use instances leave.
    free: (f64, f64),
    /// The memory and compute slices the in-use instances leave.
    free_slices: (u64, u64),
    /// Its entry in [`Classes::lagrange`].
    lagrange: usize,
    /// Per request it may take: its profile's memory and compute slices here, and the most
    /// instances of it alone one GPU of the class holds.
    alone: Vec<(usize, u64, u64, u64)>,
}

/// GPUs alike for the Lagrangian: the same requests may take the same slots, and the same
/// patterns are maximal.
#[derive(Debug, Clone)]
struct LagrangeClass {
    /// How many GPUs.
    n: u64,
    /// How many of them hold in-use instances.
    fixed: u64,
    /// Per profile slot some request may take here (in slot order), those requests.
    takers: Vec<Vec<usize>>,
    /// The maximal patterns (none fits one more instance of these slots), as counts per
    /// slot of `takers`, one row after another: the Lagrangian's best pattern is among them,
    /// as its worths are never negative.
    maximal: Vec<u8>,
}

/// The classes of a fleet for a set of requests.
#[derive(Debug, Clone, Default)]
pub(super) struct Classes {
    classes: Vec<Class>,
    /// The classes as the Lagrangian sees them: those with the same takers and maximal
    /// patterns are one.
    lagrange: Vec<LagrangeClass>,
    /// GPUs with in-use instances, eligible or not.
    fixed_gpus: u32,
    /// The Lagrangian bounds' searches so far, by demand and weights (see
    /// [`bound_and_prices`]).
    found: RefCell<FastMap<SearchKey, Search>>,
    /// The conditional bounds so far, by demand, level and the counts above it (see
    /// `Ctx::conditional_bound`).
    conditional: RefCell<FastMap<ConditionalKey, Option<u64>>>,
    /// The fewest GPUs by the LP so far, by demand and instances placed (see
    /// `gpus::min_gpus_by_lp`).
    fewest: RefCell<FastMap<FewestKey, Option<u32>>>,
}

/// What a Lagrangian bound's search is for: the demand and the weights.
type SearchKey = (Vec<u32>, Vec<i64>);

/// What a fewest-GPUs bound by the LP is for: the demand and the instances placed.
type FewestKey = (Vec<u32>, u64);

/// What a conditional bound is for: the demand, the level, and the counts at the levels
/// above it (each of that level or higher).
type ConditionalKey = (Vec<u32>, u8, Vec<u64>);

impl Classes {
    /// The classes as the Lagrangian sees them, of the GPUs with in-use instances alone.
    fn fixed_only(&self) -> Classes {
        Classes {
            classes: Vec::new(),
            lagrange: self
                .lagrange
                .iter()
                .filter(|c| c.fixed > 0)
                .map(|c| LagrangeClass {
                    n: c.fixed,
                    ..c.clone()
                })
                .collect(),
            fixed_gpus: self.fixed_gpus,
            found: RefCell::default(),
            conditional: RefCell::default(),
            fewest: RefCell::default(),
        }
    }
}

impl<'a> Ctx<'a> {
    /// The fleet's classes, built once.
    pub(super) fn classes<'c>(&self, cell: &'c OnceCell<Classes>) -> &'c Classes {
        cell.get_or_init(|| self.build_classes())
    }

    fn build_classes(&self) -> Classes {
        let mut out = Classes::default();
        let mut index: FastMap<ClassKey, usize> = FastMap::default();
        let mut lagrange_of: FastMap<(Vec<Vec<usize>>, Vec<u8>), usize> = FastMap::default();
        // GPUs with no instance in use and one shared eligibility list (so one model) fall
        // in one class, or in none: keyed by the list, they skip the signature and the key.
        let mut bare: FastMap<usize, Option<usize>> = FastMap::default();
        for (g, gpu) in self.fleet.gpus().iter().enumerate() {
            let is_bare = gpu.instances().iter().all(|x| !x.in_use);
            let list = self.eligible[g].as_ptr().addr();
            if is_bare && let Some(&class) = bare.get(&list) {
                if let Some(c) = class {
                    out.classes[c].n += 1;
                }
                continue;
            }
            let mut remember = |class| {
                if is_bare {
                    bare.insert(list, class);
                }
            };
            let fixed = gpu.in_use_occupancy();
            let has_fixed = !fixed.instances().is_empty();
            out.fixed_gpus += u32::from(has_fixed);
            let elig: Vec<(usize, usize)> = self.eligible[g]
                .iter()
                .filter_map(|&(d, p)| fixed.profile_slot(p).map(|s| (d, s)))
                .collect();
            if elig.is_empty() {
                remember(None);
                continue;
            }
            let key = (fixed.signature(), elig.clone());
            if let Some(&c) = index.get(&key) {
                out.classes[c].n += 1;
                remember(Some(c));
                continue;
            }
            remember(Some(out.classes.len()));
            let slot_mask = elig.iter().fold(0u64, |m, &(_, s)| m | 1 << (s % 64));
            let (model, mask, packed) = fixed.signature();
            let patterns = shared_patterns(&fixed, (model, mask, packed, slot_mask));
            let mut takers = vec![Vec::new(); gpu.model.profiles.len()];
            for &(d, s) in &elig {
                takers[s].push(d);
            }
            let active: Vec<usize> = (0..takers.len())
                .filter(|&s| !takers[s].is_empty())
                .collect();
            let lagrange_key: (Vec<Vec<usize>>, Vec<u8>) = (
                active.iter().map(|&s| takers[s].clone()).collect(),
                maximal_rows(&patterns, &active),
            );
            let lagrange = match lagrange_of.get(&lagrange_key) {
                Some(&l) => l,
                None => {
                    let l = out.lagrange.len();
                    out.lagrange.push(LagrangeClass {
                        n: 0,
                        fixed: 0,
                        takers: lagrange_key.0.clone(),
                        maximal: lagrange_key.1.clone(),
                    });
                    lagrange_of.insert(lagrange_key, l);
                    l
                }
            };
            let cap = patterns
                .iter()
                .map(|p| p.counts.iter().map(|&c| u64::from(c)).sum())
                .max()
                .unwrap_or(0);
            let (mem, comp) = (
                f64::from(gpu.model.memory_slices),
                f64::from(gpu.model.compute_slices),
            );
            let share = elig
                .iter()
                .map(|&(d, slot)| {
                    let p = &gpu.model.profiles[slot];
                    (
                        d,
                        f64::from(p.memory_slices) / mem,
                        f64::from(p.compute_slices) / comp,
                    )
                })
                .collect();
            let free = (
                f64::from(fixed.free_memory_slices()) / mem,
                (comp - f64::from(fixed.compute_used())) / comp,
            );
            let free_slices = (
                u64::from(fixed.free_memory_slices()),
                u64::from(gpu.model.compute_slices - fixed.compute_used()),
            );
            let alone = elig
                .iter()
                .map(|&(d, slot)| {
                    let p = &gpu.model.profiles[slot];
                    let most = patterns
                        .iter()
                        .filter(|q| {
                            q.counts
                                .iter()
                                .enumerate()
                                .all(|(s, &c)| c == 0 || s == slot)
                        })
                        .map(|q| u64::from(q.counts[slot]))
                        .max()
                        .unwrap_or(0);
                    (
                        d,
                        u64::from(p.memory_slices),
                        u64::from(p.compute_slices),
                        most,
                    )
                })
                .collect();
            index.insert(key, out.classes.len());
            out.classes.push(Class {
                n: 1,
                fixed: has_fixed,
                cap,
                share,
                free,
                free_slices,
                alone,
                lagrange,
            });
        }
        for c in &out.classes {
            out.lagrange[c.lagrange].n += c.n;
            if c.fixed {
                out.lagrange[c.lagrange].fixed += c.n;
            }
        }
        out
    }

    /// The certified bound: per priority level, the most instances of that priority or higher
    /// any plan places; overall, the most of any priority; and the fewest GPUs any plan that
    /// places as many instances as the plan uses. `placed.0[k]` is the plan's count at
    /// `self.levels[k]` (highest first), `placed.1` per request, and `gpus_used` its GPUs: a
    /// good plan lets the search stop early.
    pub(super) fn certified_bound(
        &self,
        classes: &Classes,
        demand: &[u32],
        placed: (&[u64], &[u32]),
        gpus_used: u32,
        lp: bool,
    ) -> Bound {
        let (placed_by_level, placed_per_request) = placed;
        let levels = self.levels.len();
        let mut by_priority = Vec::with_capacity(levels);
        // Per level, what the plan places of it or higher.
        let at_or_above: Vec<u64> = (0..levels)
            .scan(0u64, |sum, k| {
                *sum += placed_by_level.get(k).copied().unwrap_or(0);
                Some(*sum)
            })
            .collect();
        let cumulative = at_or_above.last().copied().unwrap_or(0);
        // The Lagrangian and resource bounds for the highest levels and for all of them
        // together; a level between takes the one for all (a bound on every request's
        // instances bounds those of a few) or what is asked, so many levels cost no more
        // than `LAGRANGIAN_LEVELS` bounds.
        let mut skipped = Vec::new();
        // The weights and multipliers of the bound for all levels.
        let mut all_levels: Option<(Vec<i64>, Vec<i64>)> = None;
        for (k, (&level, &reached)) in self.levels.iter().zip(&at_or_above).enumerate() {
            let weights = self.weights_at_or_above(level);
            if k + 1 == levels {
                let (lagrangian, z) = bound_and_prices(classes, demand, &weights, reached, lp);
                all_levels = Some((weights.clone(), z));
                by_priority.push((level, lagrangian.min(resources(classes, demand, &weights))));
            } else if k + 1 < LAGRANGIAN_LEVELS {
                let lagrangian = bound_for(classes, demand, &weights, reached, lp);
                by_priority.push((level, lagrangian.min(resources(classes, demand, &weights))));
            } else {
                // No more than is asked at this level or above.
                let asked: u64 = demand
                    .iter()
                    .zip(&weights)
                    .filter(|&(_, &w)| w > 0)
                    .map(|(&d, _)| u64::from(d))
                    .sum();
                skipped.push(k);
                by_priority.push((level, asked));
            }
        }
        if let Some(&(_, all)) = by_priority.last() {
            for k in skipped {
                by_priority[k].1 = by_priority[k].1.min(all);
            }
        }
        let max_placed = by_priority.last().map_or(0, |&(_, b)| b);
        let optimum_by_priority =
            self.optimum_bound(classes, demand, &at_or_above, &by_priority, lp);
        let mut min_gpus_used = min_gpus(classes, cumulative, placed_per_request);
        if let Some((w, z)) = &all_levels
            && min_gpus_used < gpus_used
        {
            // By the Lagrangian, with the multipliers of the bound on instances placed, and
            // where that does not reach the plan's count, with multipliers that bound what
            // the GPUs with in-use instances alone place.
            min_gpus_used = min_gpus_used.max(min_gpus_by_value(classes, demand, w, z, cumulative));
            if min_gpus_used < gpus_used && classes.lagrange.iter().any(|c| c.n > c.fixed) {
                let fixed = classes.fixed_only();
                let (_, z) = bound_and_prices(&fixed, demand, w, cumulative.saturating_sub(1), lp);
                min_gpus_used =
                    min_gpus_used.max(min_gpus_by_value(classes, demand, w, &z, cumulative));
            }
        }
        if lp
            && min_gpus_used < gpus_used
            && let Some(n) = min_gpus_by_lp(classes, demand, cumulative, gpus_used)
        {
            // By the configuration LP with a cost per GPU used, where the Lagrangian's
            // multipliers for instances leave room.
            min_gpus_used = min_gpus_used.max(n);
        }
        Bound {
            max_placed,
            min_gpus_used,
            max_placed_by_priority: by_priority,
            optimum_by_priority,
        }
    }
}

impl<'a> Ctx<'a> {
    /// The weights that count the requests of priority `level` or higher (`SCALE` each) and
    /// no others.
    fn weights_at_or_above(&self, level: u8) -> Vec<i64> {
        self.requests
            .iter()
            .map(|r| if r.priority >= level { SCALE } else { 0 })
            .collect()
    }

    /// What one more instance of each request is worth on the margin (0 to `SCALE`): `SCALE`
    /// less the multiplier of the best all-priorities bound, searched to its end (no plan
    /// yet to stop at). The search is the certified bound's own for the same demand, so
    /// the plans' bounds later take what it found instead of searching (and solving the
    /// LP) again.
    pub(super) fn prices(&self, classes: &Classes, demand: &[u32]) -> Vec<i64> {
        let w = vec![SCALE; demand.len()];
        let (_, z) = bound_and_prices(classes, demand, &w, 0, true);
        z.iter().map(|&z| SCALE - z).collect()
    }
}

/// `sum_d demand_d * z_d`: the demand at the multipliers' prices, the Lagrangian's first term.
fn priced(demand: &[u32], z: &[i64]) -> i128 {
    demand
        .iter()
        .zip(z)
        .map(|(&d, &z)| i128::from(d) * i128::from(z))
        .sum()
}

/// UB(z) scaled by `SCALE`, and how many instances of each request the best patterns give.
fn lagrangian(classes: &Classes, demand: &[u32], w: &[i64], z: &[i64]) -> (i128, Vec<u64>) {
    let mut ub = priced(demand, z);
    let mut used = vec![0u64; demand.len()];
    let mut best: Vec<(i64, usize)> = Vec::new();
    for c in &classes.lagrange {
        let top = c.best_pattern(w, z, &mut best);
        ub += i128::from(c.n) * i128::from(top.0);
        if let Some(row) = top.1 {
            for (&n, &(b, d)) in row.iter().zip(&best) {
                if b > 0 {
                    used[d] += c.n * u64::from(n);
                }
            }
        }
    }
    (ub, used)
}

impl LagrangeClass {
    /// The most one GPU of the class is worth with weights `w` and multipliers `z`, and the
    /// maximal pattern worth it (`None` where nothing is worth anything). `best` is a buffer:
    /// per slot, what one instance there is worth at best (0 for nothing), and to which
    /// request.
    fn best_pattern(
        &self,
        w: &[i64],
        z: &[i64],
        best: &mut Vec<(i64, usize)>,
    ) -> (i64, Option<&[u8]>) {
        best.clear();
        for ds in &self.takers {
            best.push(
                ds.iter()
                    .map(|&d| (w[d] - z[d], d))
                    .filter(|&(v, _)| v > 0)
                    .max_by_key(|&(v, d)| (v, core::cmp::Reverse(d)))
                    .unwrap_or((0, usize::MAX)),
            );
        }
        let width = self.takers.len().max(1);
        let mut top: (i64, Option<&[u8]>) = (0, None);
        for row in self.maximal.chunks_exact(width) {
            let v: i64 = row
                .iter()
                .zip(best.iter())
                .map(|(&n, &(b, _))| i64::from(n) * b)
                .sum();
            if v > top.0 {
                top = (v, Some(row));
            }
        }
        top
    }
}

/// The patterns of `patterns` that no other one holds with one more instance of a slot of
/// `slots` (the patterns that fit are closed under taking an instance away, so these are
/// the maximal ones), as rows of counts per slot of `slots`, in their order.
fn maximal_rows(patterns: &[Pattern], slots: &[usize]) -> Vec<u8> {
    let row = |p: &Pattern| -> Vec<u8> {
        slots
            .iter()
            .map(|&s| p.counts.get(s).copied().unwrap_or(0))
            .collect()
    };
    let all: rustc_hash::FxHashSet<Vec<u8>> = patterns.iter().map(row).collect();
    let mut out = Vec::new();
    for p in patterns {
        let mut r = row(p);
        let grows = (0..r.len()).any(|k| {
            r[k] += 1;
            let found = all.contains(&r);
            r[k] -= 1;
            found
        });
        if !grows {
            out.extend_from_slice(&r);
        }
    }
    out
}

/// `floor(ub / SCALE)`, at least 0.
fn floor(ub: i128) -> u64 {
    u64::try_from(ub.max(0) / i128::from(SCALE)).unwrap_or(u64::MAX)
}
