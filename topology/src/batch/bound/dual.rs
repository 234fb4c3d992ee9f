//! The best multipliers for the Lagrangian bound, from the configuration LP.
//!
//! The smallest `UB(z)` over all `z` is the value of the LP relaxation of the configuration
//! formulation (Lagrangian duality: each class's GPUs choose among their patterns, the demand rows
//! are relaxed): maximize the weighted instances of the patterns chosen, at most `n_c` patterns per
//! class, at most `demand_d` instances of each request. Its optimal duals on the demand rows are
//! the best `z`. The LP has a column per pattern and split of its instances among requests, far too
//! many to write out, so it is solved by column generation: a few columns first, then, at the LP's
//! duals, each class's best pattern (the Lagrangian's own step) enters where it is worth more than
//! the class's dual, until none is. The master LP keeps its tableau between rounds (`lp::Tableau`):
//! the columns that enter start from the last optimum, which stays feasible, so a round takes a few
//! pivots instead of solving the master anew. The answer only proposes multipliers: the caller
//! evaluates `UB(z)` on integers at them, so a rounding here can make the bound weaker, never
//! wrong.
//!
//! The same LP with lower limits on what some requests place (`Side`: a plan's counts at
//! the higher priority levels) bounds a lower level among the plans that meet them
//! (`lp_bound`): big-M keeps the origin feasible, and a multiplier per side joins `z`.
//! Requests the LP cannot tell apart share a demand row (`alike_rows`).

use super::super::lp;
use super::{Classes, SCALE, floor, lagrangian, priced};

/// Rounds of column generation at most (each goes on with the master LP from its last
/// optimum).
const ROUNDS: usize = 16;

/// Rounds at most where there are sides: the LP starts far from meeting them (their
/// multipliers at the penalty), and on random fleets of 20 GPUs 16 rounds left the bound of
/// a lower level up to 8 instances above what 32 reach.
const SIDE_ROUNDS: usize = 48;

/// Rows at most (requests that count, classes and sides): past them, the dense simplex costs
/// more than the bound gains.
const ROWS: usize = 96;

/// Rows at most where there are sides: the conditional bound is solved once per level and
/// counts above it, so a larger LP pays (on random fleets of 50 to 200 GPUs, 256 rows took
/// the lower levels' bounds 19 % closer to the plans at 3 % more time).
const SIDE_ROWS: usize = 256;

/// Columns at most: past them, the multipliers found so far answer.
const COLUMNS: usize = 2_048;

/// Pivots at most per solve of the master LP (a round past them ends the search).
const PIVOTS: usize = 1_000;

/// Multipliers `z` (scaled by `SCALE`, each within `[0, w_d]`) that make `UB(z)` as small as
/// the configuration LP allows, starting from the columns the patterns best at each of
/// `seeds` give; `None` where the LP cannot be solved within its limits.
pub(super) fn lp_multipliers(
    classes: &Classes,
    demand: &[u32],
    w: &[i64],
    seeds: &[&[i64]],
    reached: u64,
) -> Option<(u64, Vec<i64>)> {
    lp_bound(classes, demand, w, &[], seeds, reached).map(|(ub, z, _)| (ub, z))
}

/// A lower limit on what a plan places of some requests: at least `at_least` instances of
/// those `counts` marks.
#[derive(Debug, Clone)]
pub(super) struct Side {
    pub(super) counts: Vec<bool>,
    pub(super) at_least: u64,
}

impl Side {
    /// Whether the side counts request `d`.
    fn includes(&self, d: usize) -> bool {
        self.counts.get(d) == Some(&true)
    }
}

/// The penalty per instance short of a [`Side`] in the LP (the most its multiplier may be):
/// far above what one instance is worth, so the LP meets every side it can.
const PENALTY: i32 = 64;

/// [`lp_multipliers`] for the plans that meet every one of `sides`: the configuration LP with
/// them as rows, and from its duals the multipliers `z` on the demand and `m_j >= 0` on each
/// side (both scaled by `SCALE`). For every plan that meets the sides,
///
/// ```text
/// sum_d w_d x_d <= sum_d w_d x_d + sum_j m_j (sum_{d in j} x_d - at_least_j)
///               <= UB(w', z) - sum_j m_j at_least_j
/// ```
///
/// with `w'_d = w_d + sum_{j counts d} m_j`: Lagrangian duality again, valid for any `z` and
/// `m`, and evaluated on integers. The sides' rows `>=` are not open at the origin, so each
/// gets a surplus column and its slack is penalized by [`PENALTY`] (big M): the origin is
/// feasible and a side the LP cannot meet leaves its multiplier at the penalty, which only
/// weakens the bound. Returns the bound, `z` and `m`.
pub(super) fn lp_bound(
    classes: &Classes,
    demand: &[u32],
    w: &[i64],
    sides: &[Side],
    seeds: &[&[i64]],
    reached: u64,
) -> Option<(u64, Vec<i64>, Vec<i64>)> {
    generate(classes, demand, w, sides, seeds, i128::from(reached), false)
        .map(|(b, z, m)| (u64::try_from(b.max(0)).unwrap_or(u64::MAX), z, m))
}

/// The fewest GPUs without in-use instances that a plan meeting `sides` places instances on
/// (`None` where the LP cannot be solved within its limits), by the same LP with a cost of
/// one per such GPU used: per class, a row `sum_p x_p - u_c <= fixed_c` and a column `u_c`
/// (the class's GPUs used beyond those with in-use instances, which every plan uses) worth
/// -1. At its duals `z` and `m`, with `w'_d = sum_{j counts d} m_j` (nothing is worth
/// anything but the sides), every plan meeting the sides has
///
/// ```text
/// -used <= sum_d demand_d z_d - sum_j m_j at_least_j
///          + sum_c (fixed_c * best_c + (n_c - fixed_c) * max(0, best_c - 1))
/// ```
///
/// (each GPU without in-use instances either places nothing, or gives at most its best
/// pattern's worth less one), evaluated on integers as the other bounds are. `used` is what
/// the plan uses of them: the search stops once it is proven.
pub(super) fn fewest_gpus(
    classes: &Classes,
    demand: &[u32],
    sides: &[Side],
    used: u64,
) -> Option<u64> {
    let w = vec![0i64; demand.len()];
    let zero = vec![0i64; demand.len()];
    generate(
        classes,
        demand,
        &w,
        sides,
        &[&zero],
        -i128::from(used),
        true,
    )
    .map(|(b, _, _)| u64::try_from((-b).max(0)).unwrap_or(u64::MAX))
}

/// The column generation of [`lp_bound`] and, with `gpus`, of [`fewest_gpus`]: the best
/// bound found (`floor` of the Lagrangian's value, which [`fewest_gpus`] negates), its `z`
/// and `m`; it stops once the bound is no more than `reached`.
fn generate(
    classes: &Classes,
    demand: &[u32],
    w: &[i64],
    sides: &[Side],
    seeds: &[&[i64]],
    reached: i128,
    gpus: bool,
) -> Option<(i128, Vec<i64>, Vec<i64>)> {
    // The demand rows: requests that count, or that a side counts; those alike (see
    // [`alike_rows`]) share one. `rows` holds each row's first request.
    let (rows, row_of, row_demand) = alike_rows(classes, demand, w, sides);
    let classes_n = classes.lagrange.len();
    // With `gpus`, a row per class for the GPUs used beyond those with in-use instances.
    let fixed_row = rows.len() + classes_n + sides.len();
    let height = fixed_row + if gpus { classes_n } else { 0 };
    let limit = if sides.is_empty() { ROWS } else { SIDE_ROWS };
    if height > limit {
        return None;
    }
    // The weights `w'` at side multipliers `m`.
    let weights_at = |m: &[i64]| -> Vec<i64> {
        (0..demand.len())
            .map(|d| {
                let extra: i64 = sides
                    .iter()
                    .zip(m)
                    .filter(|(s, _)| s.includes(d))
                    .map(|(_, &m)| m)
                    .sum();
                w[d] + extra
            })
            .collect()
    };
    // Columns: (class, instances per demand row), and their worth.
    let mut columns: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut seen: rustc_hash::FxHashSet<(usize, Vec<u32>)> = rustc_hash::FxHashSet::default();
    let mut buffer = Vec::new();
    // Each class's best pattern at weights `wt` and multipliers `z` enters where its worth
    // passes `threshold` (per class, scaled), and is not in yet; returns whether one entered.
    let mut price =
        |wt: &[i64], z: &[i64], threshold: &dyn Fn(usize) -> f64, columns: &mut Vec<_>| {
            let mut entered = false;
            for (c, class) in classes.lagrange.iter().enumerate() {
                let (v, Some(row)) = class.best_pattern(wt, z, &mut buffer) else {
                    continue;
                };
                #[allow(clippy::cast_precision_loss)]
                if (v as f64) <= threshold(c) {
                    continue;
                }
                let mut counts = vec![0u32; rows.len()];
                for (&k, &(b, d)) in row.iter().zip(buffer.iter()) {
                    if b > 0 && k > 0 {
                        counts[row_of[d]] += u32::from(k);
                    }
                }
                if seen.insert((c, counts.clone())) {
                    columns.push((c, counts));
                    entered = true;
                }
            }
            entered
        };
    // Seeds at the weights themselves, and where there are sides, at multipliers 1, 8 and
    // the penalty on each: the LP starts far from meeting its sides, and columns good at a
    // high price on them shorten the way.
    let mut seed_weights = vec![w.to_vec()];
    if !sides.is_empty() {
        for m in [1, 8, i64::from(PENALTY)] {
            seed_weights.push(weights_at(&vec![m * SCALE; sides.len()]));
        }
    }
    for wt in &seed_weights {
        for z in seeds {
            price(wt, z, &|_| 0.0, &mut columns);
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let b: Vec<f64> = row_demand
        .iter()
        .map(|&d| d as f64)
        .chain(classes.lagrange.iter().map(|c| c.n as f64))
        .chain(sides.iter().map(|s| s.at_least as f64))
        .chain(
            classes
                .lagrange
                .iter()
                .filter(|_| gpus)
                .map(|c| c.fixed as f64),
        )
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let penalties: f64 = sides
        .iter()
        .map(|s| f64::from(PENALTY) * s.at_least as f64)
        .sum();
    let mut z = vec![0i64; demand.len()];
    let mut m = vec![0i64; sides.len()];
    let mut best: Option<(i128, Vec<i64>, Vec<i64>)> = None;
    // The master LP, kept between rounds: the columns that enter start from its last
    // optimal vertex. The sides' surplus columns come first.
    let mut master = lp::Tableau::new(&b);
    // The columns' worths, as they entered the master.
    let mut worths: Vec<f64> = Vec::new();
    let rounds = if sides.is_empty() {
        ROUNDS
    } else {
        SIDE_ROUNDS
    };
    for _ in 0..rounds {
        if columns.is_empty() || columns.len() > COLUMNS {
            break;
        }
        // The sides' surplus columns and the classes' GPUs used, in the first round alone.
        let extra = sides.len() + if gpus { classes_n } else { 0 };
        let first = if master.columns() == 0 { extra } else { 0 };
        let surplus = (0..first).map(|j| {
            let mut a = vec![0.0; height];
            a[rows.len() + classes_n + j] = -1.0;
            let worth = if j < sides.len() {
                -f64::from(PENALTY)
            } else {
                -1.0
            };
            (worth, a)
        });
        let patterns = columns[master.columns().saturating_sub(extra)..]
            .iter()
            .map(|(class, counts)| {
                let mut a = vec![0.0; height];
                let mut worth = 0.0;
                for (i, &k) in counts.iter().enumerate() {
                    a[i] = f64::from(k);
                    #[allow(clippy::cast_precision_loss)]
                    {
                        worth += f64::from(k) * w[rows[i]] as f64 / SCALE as f64;
                    }
                }
                a[rows.len() + class] = 1.0;
                if gpus {
                    a[fixed_row + class] = 1.0;
                }
                for (j, side) in sides.iter().enumerate() {
                    let n: u32 = counts
                        .iter()
                        .zip(&rows)
                        .filter(|&(_, &d)| side.includes(d))
                        .map(|(&k, _)| k)
                        .sum();
                    a[rows.len() + classes_n + j] = f64::from(n);
                    worth += f64::from(PENALTY) * f64::from(n);
                }
                (worth, a)
            });
        let added: Vec<(f64, Vec<f64>)> = surplus.chain(patterns).collect();
        worths.extend(added.iter().map(|(worth, _)| worth));
        master.add_columns(&added);
        let Some(solution) = master.iterate(lp::Rule::Dantzig, PIVOTS) else {
            break;
        };
        for (j, mj) in m.iter_mut().enumerate() {
            // The side's multiplier is the penalty less its row's dual (within [0, PENALTY]).
            let v = f64::from(PENALTY) - solution.dual[rows.len() + classes_n + j];
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let v = (v * SCALE as f64).round() as i64;
            let top = i64::from(PENALTY) * SCALE;
            *mj = v.clamp(0, top);
        }
        let wm = weights_at(&m);
        for (d, &i) in row_of.iter().enumerate() {
            if i == usize::MAX {
                continue;
            }
            // Within [0, w'_d]: a larger multiplier only adds to the demand's term.
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let v = (solution.dual[i] * SCALE as f64).round() as i64;
            z[d] = v.clamp(0, wm[d]);
        }
        let ub = if gpus {
            cost_bound(classes, demand, &wm, &z, sides, &m)
        } else {
            i128::from(side_bound(classes, demand, &wm, &z, sides, &m))
        };
        if best.as_ref().is_none_or(|(b, _, _)| ub < *b) {
            best = Some((ub, z.clone(), m.clone()));
        }
        // The master LP's value is at most the configuration LP's, which no `UB(z)` goes
        // below: once the best bound's floor is the master's, no round can lower it.
        let value: f64 = solution.x.iter().zip(&worths).map(|(x, c)| x * c).sum();
        let value = value - penalties;
        let value = if gpus { value } else { value.max(0.0) };
        #[allow(clippy::cast_possible_truncation)]
        let value = (value + 1e-6).floor() as i128;
        if best
            .as_ref()
            .is_some_and(|(b, _, _)| *b <= value.max(reached))
        {
            break;
        }
        let duals = &solution.dual[rows.len()..];
        #[allow(clippy::cast_precision_loss)]
        let threshold = |c: usize| {
            let fixed = if gpus {
                duals[fixed_row - rows.len() + c]
            } else {
                0.0
            };
            (duals[c] + fixed) * SCALE as f64 + 0.5
        };
        let mut entered = price(&wm, &z, &threshold, &mut columns);
        // Smoothed towards the best multipliers so far: the duals of a master with few
        // columns swing far, and the patterns best between the two steady the next round.
        if let Some((_, centre, centre_m)) = &best {
            let mid: Vec<i64> = z.iter().zip(centre).map(|(a, b)| (a + b) / 2).collect();
            let mid_m: Vec<i64> = m.iter().zip(centre_m).map(|(a, b)| (a + b) / 2).collect();
            entered |= price(&weights_at(&mid_m), &mid, &threshold, &mut columns);
        }
        if !entered {
            break;
        }
    }
    best
}

/// What makes requests alike in the LP: the weight, the sides that count them, and the
/// (class, slot) pairs they may take.
type RowKey<'t> = (i64, Vec<bool>, &'t [(usize, usize)]);

/// The LP's demand rows: the requests that `w` or a side counts, where requests alike share
/// a row (the same weight, the same sides, and takers of the same slots of the same
/// classes: the LP cannot tell them apart, so one row with their demand summed has the same
/// value, and its dual is theirs). Returns each row's first request, each request's row
/// (`usize::MAX` for none) and each row's demand.
fn alike_rows(
    classes: &Classes,
    demand: &[u32],
    w: &[i64],
    sides: &[Side],
) -> (Vec<usize>, Vec<usize>, Vec<u64>) {
    // Per request, the (class, slot) pairs it may take.
    let mut takes: Vec<Vec<(usize, usize)>> = vec![Vec::new(); demand.len()];
    for (c, class) in classes.lagrange.iter().enumerate() {
        for (s, ds) in class.takers.iter().enumerate() {
            for &d in ds {
                if let Some(t) = takes.get_mut(d) {
                    t.push((c, s));
                }
            }
        }
    }
    let mut rows = Vec::new();
    let mut row_of = vec![usize::MAX; demand.len()];
    let mut row_demand: Vec<u64> = Vec::new();
    let mut index: rustc_hash::FxHashMap<RowKey<'_>, usize> = rustc_hash::FxHashMap::default();
    for (d, t) in takes.iter().enumerate() {
        let on: Vec<bool> = sides.iter().map(|s| s.includes(d)).collect();
        if w[d] <= 0 && !on.contains(&true) {
            continue;
        }
        let row = *index.entry((w[d], on, t)).or_insert_with(|| {
            rows.push(d);
            row_demand.push(0);
            rows.len() - 1
        });
        row_of[d] = row;
        row_demand[row] += u64::from(demand[d]);
    }
    (rows, row_of, row_demand)
}

/// The bound of [`fewest_gpus`] at `z` and `m` (`wm` the weights there): `floor` of what no
/// plan meeting `sides` exceeds in minus the GPUs without in-use instances it uses.
fn cost_bound(
    classes: &Classes,
    demand: &[u32],
    wm: &[i64],
    z: &[i64],
    sides: &[Side],
    m: &[i64],
) -> i128 {
    let mut ub = priced(demand, z);
    let mut best = Vec::new();
    for c in &classes.lagrange {
        let (top, _) = c.best_pattern(wm, z, &mut best);
        ub += i128::from(c.fixed) * i128::from(top)
            + i128::from(c.n - c.fixed) * i128::from((top - SCALE).max(0));
    }
    let met: i128 = sides
        .iter()
        .zip(m)
        .map(|(s, &m)| i128::from(s.at_least) * i128::from(m))
        .sum();
    (ub - met).div_euclid(i128::from(SCALE))
}

/// `floor(UB(w', z) - sum_j m_j at_least_j)` (see [`lp_bound`]): what no plan meeting
/// `sides` places more than (weighted by `w`), with `wm` the weights at the multipliers `m`.
fn side_bound(
    classes: &Classes,
    demand: &[u32],
    wm: &[i64],
    z: &[i64],
    sides: &[Side],
    m: &[i64],
) -> u64 {
    let (ub, _) = lagrangian(classes, demand, wm, z);
    let met: i128 = sides
        .iter()
        .zip(m)
        .map(|(s, &m)| i128::from(s.at_least) * i128::from(m))
        .sum();
    floor(ub - met)
}

#[cfg(test)]
mod tests {
    use std::cell::OnceCell;

    use super::super::super::SolveOptions;
    use super::super::super::context::Ctx;
    use super::super::super::testing::{fleet, requests};
    use super::*;

    /// `f` on the classes of the A100-40GBs `gpus` for the requests `asks` (see `testing`).
    fn with_classes(
        gpus: &[Vec<(usize, u8, bool)>],
        asks: &[(usize, u32, u8, u8)],
        f: impl FnOnce(&Classes),
    ) {
        let fleet = fleet(gpus);
        let reqs = requests(asks);
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let cell = OnceCell::new();
        f(ctx.classes(&cell));
    }

    #[test]
    fn the_lp_closes_what_capacity_and_demand_leave_open() {
        // Two empty A100-40GBs, 1g.5gb x 2 and 7g.40gb x 2. The capacity (z = 0) allows 14,
        // the demand (z = w) 4; the optimum is 3 (a 7g on one GPU, both 1g on the other).
        // The configuration LP gives 2 + 12/7 = 3.7: its multipliers prove 3.
        with_classes(
            &[vec![], vec![]],
            &[(0, 2, 2, 0), (5, 2, 2, 0)],
            |classes| {
                let demand = [2, 2];
                let w = [SCALE, SCALE];
                let zero = [0, 0];
                assert_eq!(floor(lagrangian(classes, &demand, &w, &zero).0), 14);
                assert_eq!(floor(lagrangian(classes, &demand, &w, &w).0), 4);
                let (ub, z) = lp_multipliers(classes, &demand, &w, &[&zero], 0).unwrap();
                assert_eq!(ub, 3);
                assert_eq!(floor(lagrangian(classes, &demand, &w, &z).0), 3);
                assert!(z.iter().zip(&w).all(|(z, w)| (0..=*w).contains(z)));
            },
        );
    }

    #[test]
    fn a_side_row_bounds_the_plans_that_meet_it() {
        // Two empty A100-40GBs, 7g.40gb x 2 at the higher level and 1g.5gb x 14 below. Alone,
        // the lower level's requests fit 14; among the plans that place both 7g (the side),
        // nothing else fits: the conditional LP's multipliers prove 2 in all.
        with_classes(
            &[vec![], vec![]],
            &[(5, 2, 2, 1), (0, 14, 2, 0)],
            |classes| {
                let demand = [2, 14];
                let w = [SCALE, SCALE];
                let zero = [0, 0];
                let (free, _) = lp_multipliers(classes, &demand, &w, &[&zero], 0).unwrap();
                assert_eq!(free, 14);
                let side = Side {
                    counts: vec![true, false],
                    at_least: 2,
                };
                let sides = [side];
                let (ub, z, m) = lp_bound(classes, &demand, &w, &sides, &[&zero], 0).unwrap();
                assert_eq!(ub, 2);
                assert!(m.iter().all(|&m| m >= 0));
                // The bound is the integer evaluation at the multipliers, not the LP's float value.
                let wm = [w[0] + m[0], w[1]];
                assert_eq!(side_bound(classes, &demand, &wm, &z, &sides, &m), 2);
                // A side no plan meets (three 7g on two GPUs): the LP still answers, and its
                // multiplier stops at the penalty.
                let sides = [Side {
                    counts: vec![true, false],
                    at_least: 3,
                }];
                let (_, _, m) = lp_bound(classes, &demand, &w, &sides, &[&zero], 0).unwrap();
                assert!(
                    m.iter()
                        .all(|&m| (0..=i64::from(PENALTY) * SCALE).contains(&m))
                );
            },
        );
    }

    #[test]
    fn requests_the_lp_cannot_tell_apart_share_a_row() {
        // 1g.5gb x 3 and x 4 at two priorities, and 1g.5gb x 2 on NUMA node 1 alone: weighted
        // alike, the first two are one row; a side on the higher priority parts them.
        with_classes(
            &[vec![], vec![]],
            &[(0, 3, 2, 0), (0, 4, 2, 1), (0, 2, 1, 0)],
            |classes| {
                let demand = [3, 4, 2];
                let w = [SCALE; 3];
                let (rows, row_of, row_demand) = alike_rows(classes, &demand, &w, &[]);
                assert_eq!(rows.len(), 2);
                assert_eq!(row_of[0], row_of[1]);
                assert_eq!(row_demand[row_of[0]], 7);
                let side = Side {
                    counts: vec![false, true, false],
                    at_least: 1,
                };
                let (rows, row_of, _) = alike_rows(classes, &demand, &w, &[side]);
                assert_eq!(rows.len(), 3);
                assert_ne!(row_of[0], row_of[1]);
                // Unweighted and on no side: no row.
                let (_, row_of, _) = alike_rows(classes, &demand, &[SCALE, 0, SCALE], &[]);
                assert_eq!(row_of[1], usize::MAX);
            },
        );
    }

    #[test]
    fn the_gpu_cost_lp_counts_the_fewest_gpus() {
        // Three A100-40GBs, the first with an in-use 1g.5gb (every plan uses it, and it holds
        // six more); 1g.5gb x 20 asked. A plan placing 13 uses one more GPU at least; one
        // placing 6, none; one placing all 20 (six there, seven on each other), both.
        with_classes(
            &[vec![(0, 0, true)], vec![], vec![]],
            &[(0, 20, 2, 0)],
            |classes| {
                let side = |n| Side {
                    counts: vec![true],
                    at_least: n,
                };
                assert_eq!(fewest_gpus(classes, &[20], &[side(13)], 0), Some(1));
                assert_eq!(fewest_gpus(classes, &[20], &[side(6)], 0), Some(0));
                assert_eq!(fewest_gpus(classes, &[20], &[side(20)], 0), Some(2));
                // The search stops once the plan's count is proven, never below it.
                assert_eq!(fewest_gpus(classes, &[20], &[side(13)], 2), Some(1));
            },
        );
    }
}
