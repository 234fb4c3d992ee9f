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

use super::super::lp;
use super::{Classes, SCALE, floor, lagrangian};

/// Rounds of column generation at most (each goes on with the master LP from its last
/// optimum).
const ROUNDS: usize = 16;

/// Rows at most (requests that count, and classes): past them, the dense simplex costs more
/// than the bound gains.
const ROWS: usize = 96;

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
    // The demand rows: requests that count.
    let rows: Vec<usize> = (0..demand.len()).filter(|&d| w[d] > 0).collect();
    let mut row_of = vec![usize::MAX; demand.len()];
    for (i, &d) in rows.iter().enumerate() {
        row_of[d] = i;
    }
    let classes_n = classes.lagrange.len();
    let height = rows.len() + classes_n;
    if height > ROWS {
        return None;
    }
    // Columns: (class, instances per demand row), and their worth.
    let mut columns: Vec<(usize, Vec<u32>)> = Vec::new();
    let mut seen: rustc_hash::FxHashSet<(usize, Vec<u32>)> = rustc_hash::FxHashSet::default();
    let mut buffer = Vec::new();
    // Each class's best pattern at `z` enters where its worth passes `threshold` (per class,
    // scaled), and is not in yet; returns whether one entered.
    let mut price = |z: &[i64], threshold: &dyn Fn(usize) -> f64, columns: &mut Vec<_>| {
        let mut entered = false;
        for (c, class) in classes.lagrange.iter().enumerate() {
            let (v, Some(row)) = class.best_pattern(w, z, &mut buffer) else {
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
    for z in seeds {
        price(z, &|_| 0.0, &mut columns);
    }
    #[allow(clippy::cast_precision_loss)]
    let b: Vec<f64> = rows
        .iter()
        .map(|&d| f64::from(demand[d]))
        .chain(classes.lagrange.iter().map(|c| c.n as f64))
        .collect();
    let mut z = vec![0i64; demand.len()];
    let mut best: Option<(u64, Vec<i64>)> = None;
    // The master LP, kept between rounds: the columns that enter start from its last
    // optimal vertex.
    let mut master = lp::Tableau::new(&b);
    // The columns' worths, as they entered the master.
    let mut worths: Vec<f64> = Vec::new();
    for _ in 0..ROUNDS {
        if columns.is_empty() || columns.len() > COLUMNS {
            break;
        }
        let added: Vec<(f64, Vec<f64>)> = columns[master.columns()..]
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
                (worth, a)
            })
            .collect();
        worths.extend(added.iter().map(|(worth, _)| worth));
        master.add_columns(&added);
        let Some(solution) = master.iterate(lp::Rule::Dantzig, PIVOTS) else {
            break;
        };
        for (i, &d) in rows.iter().enumerate() {
            // Within [0, w_d]: a larger multiplier only adds to the demand's term.
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            let v = (solution.dual[i] * SCALE as f64).round() as i64;
            z[d] = v.clamp(0, w[d]);
        }
        let (ub, _) = lagrangian(classes, demand, w, &z);
        if best.as_ref().is_none_or(|(b, _)| floor(ub) < *b) {
            best = Some((floor(ub), z.clone()));
        }
        // The master LP's value is at most the configuration LP's, which no `UB(z)` goes
        // below: once the best bound's floor is the master's, no round can lower it.
        let value: f64 = solution.x.iter().zip(&worths).map(|(x, c)| x * c).sum();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let value = (value + 1e-6).floor().max(0.0) as u64;
        if best.as_ref().is_some_and(|(b, _)| *b <= value.max(reached)) {
            break;
        }
        let duals = &solution.dual[rows.len()..];
        #[allow(clippy::cast_precision_loss)]
        let threshold = |c: usize| duals[c] * SCALE as f64 + 0.5;
        let mut entered = price(&z, &threshold, &mut columns);
        // Smoothed towards the best multipliers so far: the duals of a master with few
        // columns swing far, and the patterns best between the two steady the next round.
        if let Some((_, centre)) = &best {
            let mid: Vec<i64> = z.iter().zip(centre).map(|(a, b)| (a + b) / 2).collect();
            entered |= price(&mid, &threshold, &mut columns);
        }
        if !entered {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use std::cell::OnceCell;

    use super::super::super::SolveOptions;
    use super::super::super::context::Ctx;
    use super::super::super::testing::{fleet, requests};
    use super::*;

    #[test]
    fn the_lp_closes_what_capacity_and_demand_leave_open() {
        // Two empty A100-40GBs, 1g.5gb x 2 and 7g.40gb x 2. The capacity (z = 0) allows 14,
        // the demand (z = w) 4; the optimum is 3 (a 7g on one GPU, both 1g on the other).
        // The configuration LP gives 2 + 12/7 = 3.7: its multipliers prove 3.
        let fleet = fleet(&[vec![], vec![]]);
        let reqs = requests(&[(0, 2, 2, 0), (5, 2, 2, 0)]);
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let cell = OnceCell::new();
        let classes = ctx.classes(&cell);
        let demand = [2, 2];
        let w = [SCALE, SCALE];
        let zero = [0, 0];
        assert_eq!(floor(lagrangian(classes, &demand, &w, &zero).0), 14);
        assert_eq!(floor(lagrangian(classes, &demand, &w, &w).0), 4);
        let (ub, z) = lp_multipliers(classes, &demand, &w, &[&zero], 0).unwrap();
        assert_eq!(ub, 3);
        assert_eq!(floor(lagrangian(classes, &demand, &w, &z).0), 3);
        assert!(z.iter().zip(&w).all(|(z, w)| (0..=*w).contains(z)));
    }
}
