//! A small dense simplex for the per-class pattern LPs and the bound's configuration LP: maximize
//! `c·x` subject to `A x <= b`, `x >= 0`, with `b >= 0` (so the origin is a feasible start). A
//! [`Tableau`] keeps its basis, so that the configuration LP's column generation adds columns and
//! goes on from the last optimum. Bland's rule, or Dantzig's for the large LPs (see [`Rule`]);
//! neither cycles, and the pivots are bounded. Its answers steer the packer and propose the bound's
//! multipliers, which the bound then evaluates on integers: floating point is fine here.

/// Pivots at most.
const MAX_PIVOTS: usize = 5_000;

/// Pivots Bland's rule gets first under [`Rule::BlandFirst`].
const BLAND_FIRST: usize = 1_500;

const EPS: f64 = 1e-9;

/// Degenerate pivots in a row before Dantzig's rule gives way to Bland's for good.
const STALL: usize = 50;

/// How the entering column is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// The first column that improves (Bland's rule): cannot cycle, but may take very many
    /// pivots on large LPs.
    Bland,
    /// The column that improves the most per unit (Dantzig's rule), and Bland's once `STALL`
    /// pivots in a row leave the objective where it was (so it cannot cycle either): far
    /// fewer pivots on large LPs, at another optimal vertex where there are several.
    Dantzig,
    /// Bland's within `BLAND_FIRST` pivots, and where that is not enough, Dantzig's: the
    /// vertex Bland's rule finds where it finds one soon, an answer soon where it would not.
    BlandFirst,
}

/// An optimal `x` by `rule`, or `None` past the pivot limit or for an unbounded problem.
pub(crate) fn maximize(c: &[f64], a: &[Vec<f64>], b: &[f64], rule: Rule) -> Option<Vec<f64>> {
    solve(c, a, b, rule).map(|s| s.x)
}

/// An optimal vertex and its reduced costs.
pub(crate) struct Solution {
    /// The optimal `x`.
    pub(crate) x: Vec<f64>,
    /// Per column, how much its objective coefficient would have to rise before it could
    /// enter an optimal basis (`yᵀA_j − c_j`, never negative at the optimum): 0 for every
    /// column of some optimal vertex.
    pub(crate) reduced: Vec<f64>,
    /// Per row, its dual price (`y`, never negative at the optimum): what one more unit of
    /// the row's right-hand side is worth.
    pub(crate) dual: Vec<f64>,
}

/// [`maximize`], with the reduced costs.
pub(crate) fn solve(c: &[f64], a: &[Vec<f64>], b: &[f64], rule: Rule) -> Option<Solution> {
    match rule {
        Rule::Bland => pivot(c, a, b, Rule::Bland, MAX_PIVOTS),
        Rule::Dantzig => pivot(c, a, b, Rule::Dantzig, MAX_PIVOTS),
        Rule::BlandFirst => pivot(c, a, b, Rule::Bland, BLAND_FIRST)
            .or_else(|| pivot(c, a, b, Rule::Dantzig, MAX_PIVOTS)),
    }
}

/// The simplex by `rule` (Bland or Dantzig), within `limit` pivots, from the origin.
fn pivot(c: &[f64], a: &[Vec<f64>], b: &[f64], rule: Rule, limit: usize) -> Option<Solution> {
    let (m, n) = (b.len(), c.len());
    let width = n + m + 1;
    let mut t = vec![0.0; (m + 1) * width];
    for i in 0..m {
        let row = &mut t[i * width..(i + 1) * width];
        row[..n].copy_from_slice(&a[i]);
        row[n + i] = 1.0;
        row[width - 1] = b[i];
    }
    for j in 0..n {
        t[m * width + j] = -c[j];
    }
    let mut tableau = Tableau {
        m,
        n,
        t,
        basis: (n..n + m).collect(),
    };
    tableau.iterate(rule, limit)
}

/// A simplex tableau that keeps its basis between solves: columns added later (column
/// generation) enter at the last vertex found, which stays feasible, so the next solve
/// goes on from there instead of from the origin.
#[derive(Debug, Clone)]
pub(crate) struct Tableau {
    /// Rows (constraints).
    m: usize,
    /// Structural columns.
    n: usize,
    /// Rows `0..m`: the constraints with their slacks; row `m`: the objective (negated
    /// reduced costs). One flat table, row after row, each `n + m + 1` wide: the
    /// structural columns, the slacks, the right-hand side.
    t: Vec<f64>,
    /// Per row, its basic column.
    basis: Vec<usize>,
}

impl Tableau {
    /// No columns yet, the slacks basic: the origin, feasible as `b >= 0`.
    pub(crate) fn new(b: &[f64]) -> Self {
        let m = b.len();
        let width = m + 1;
        let mut t = vec![0.0; (m + 1) * width];
        for (i, &bi) in b.iter().enumerate() {
            t[i * width + i] = 1.0;
            t[i * width + m] = bi;
        }
        Tableau {
            m,
            n: 0,
            t,
            basis: (0..m).collect(),
        }
    }

    /// Structural columns so far.
    pub(crate) fn columns(&self) -> usize {
        self.n
    }

    /// Adds columns, each its objective coefficient and its `m` constraint coefficients,
    /// after the others: each enters the table as the basis sees it (`B⁻¹ a_j`, from the
    /// slacks' columns, which hold `B⁻¹`), its reduced cost `yᵀa_j − c_j`.
    pub(crate) fn add_columns(&mut self, columns: &[(f64, Vec<f64>)]) {
        let (m, n, k) = (self.m, self.n, columns.len());
        let old = n + m + 1;
        let width = old + k;
        // The columns are sparse: their zeros add nothing.
        let sparse: Vec<Vec<(usize, f64)>> = columns
            .iter()
            .map(|(_, a)| {
                a.iter()
                    .enumerate()
                    .filter(|&(_, &v)| v != 0.0)
                    .map(|(r, &v)| (r, v))
                    .collect()
            })
            .collect();
        let mut t = vec![0.0; (m + 1) * width];
        for (old_row, row) in self.t.chunks_exact(old).zip(t.chunks_exact_mut(width)) {
            row[..n].copy_from_slice(&old_row[..n]);
            row[n + k..].copy_from_slice(&old_row[n..]);
            let inverse = &old_row[n..n + m];
            for (entry, a) in row[n..n + k].iter_mut().zip(&sparse) {
                *entry = a.iter().map(|&(r, v)| inverse[r] * v).sum();
            }
        }
        for (entry, (c, _)) in t[m * width + n..m * width + n + k].iter_mut().zip(columns) {
            *entry -= c;
        }
        for bv in &mut self.basis {
            if *bv >= n {
                *bv += k;
            }
        }
        self.t = t;
        self.n += k;
    }

    /// The simplex by `rule` from the present basis, within `limit` pivots: an optimal
    /// vertex, or `None` past the limit (the basis stays where it got to) or for an
    /// unbounded problem.
    pub(crate) fn iterate(&mut self, rule: Rule, limit: usize) -> Option<Solution> {
        let (m, n) = (self.m, self.n);
        let width = n + m + 1;
        let t = &mut self.t;
        let basis = &mut self.basis;
        // The pivot row's nonzero entries, (column, value), made anew at each pivot.
        let mut nonzero: Vec<(usize, f64)> = Vec::with_capacity(width);
        // Degenerate pivots in a row (the objective does not move).
        let mut stalled = 0usize;
        for _ in 0..limit {
            let obj = &t[m * width..];
            // Entering: the first column with a negative objective entry (Bland), or the
            // most negative one, ties to the first (Dantzig) until pivots stall.
            let entering = if rule == Rule::Bland || stalled > STALL {
                (0..n + m).find(|&j| obj[j] < -EPS)
            } else {
                let mut best: Option<(f64, usize)> = None;
                for (j, &v) in obj[..n + m].iter().enumerate() {
                    if v < -EPS && best.is_none_or(|(b, _)| v < b) {
                        best = Some((v, j));
                    }
                }
                best.map(|(_, j)| j)
            };
            let Some(e) = entering else {
                let mut x = vec![0.0; n];
                for (i, &bv) in basis.iter().enumerate() {
                    if bv < n {
                        x[bv] = t[i * width + width - 1];
                    }
                }
                return Some(Solution {
                    x,
                    reduced: obj[..n].to_vec(),
                    dual: obj[n..n + m].to_vec(),
                });
            };
            // Leaving: the smallest ratio, ties to the smallest basic variable (Bland).
            let mut leave: Option<(f64, usize, usize)> = None;
            for i in 0..m {
                let te = t[i * width + e];
                if te > EPS {
                    let ratio = t[i * width + width - 1] / te;
                    let better = match leave {
                        None => true,
                        Some((r, _, bv)) => ratio < r - EPS || (ratio <= r + EPS && basis[i] < bv),
                    };
                    if better {
                        leave = Some((ratio, i, basis[i]));
                    }
                }
            }
            let (ratio, l, _) = leave?;
            if ratio <= EPS {
                stalled += 1;
            } else if stalled <= STALL {
                stalled = 0;
            }
            // The pivot row apart from the others, which each lose a multiple of it.
            let (before, rest) = t.split_at_mut(l * width);
            let (row, after) = rest.split_at_mut(width);
            let pivot = row[e];
            // The tableau stays sparse: only the pivot row's nonzero columns change the
            // others (subtracting a multiple of zero leaves an entry as it is), and only they
            // need the division (a zero divided by the positive pivot is the same zero).
            nonzero.clear();
            for (j, v) in row.iter_mut().enumerate() {
                if *v != 0.0 {
                    *v /= pivot;
                    nonzero.push((j, *v));
                }
            }
            // Where the pivot row is dense, the whole row at once (the same arithmetic: an
            // entry less a multiple of zero is the entry).
            let dense = nonzero.len() * 4 > width;
            for r in before
                .chunks_exact_mut(width)
                .chain(after.chunks_exact_mut(width))
            {
                if r[e].abs() > EPS {
                    let f = r[e];
                    if dense {
                        for (v, &p) in r.iter_mut().zip(row.iter()) {
                            *v -= f * p;
                        }
                    } else {
                        for &(j, p) in &nonzero {
                            r[j] -= f * p;
                        }
                    }
                }
            }
            basis[l] = e;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const RULES: [Rule; 2] = [Rule::Bland, Rule::Dantzig];

    #[test]
    fn a_textbook_problem() {
        // max 3x + 5y, x <= 4, 2y <= 12, 3x + 2y <= 18: x = 2, y = 6. Its duals: the first
        // row is slack (0), the others are worth 1.5 and 1 per unit; 12 * 1.5 + 18 * 1 = 36
        // = 3 * 2 + 5 * 6.
        for rule in RULES {
            let s = solve(
                &[3.0, 5.0],
                &[vec![1.0, 0.0], vec![0.0, 2.0], vec![3.0, 2.0]],
                &[4.0, 12.0, 18.0],
                rule,
            )
            .unwrap();
            let x = &s.x;
            assert!(
                (x[0] - 2.0).abs() < 1e-9 && (x[1] - 6.0).abs() < 1e-9,
                "{rule:?}: {x:?}"
            );
            let want = [0.0, 1.5, 1.0];
            assert!(
                s.dual.iter().zip(want).all(|(y, w)| (y - w).abs() < 1e-9),
                "{rule:?}: {:?}",
                s.dual
            );
        }
    }

    #[test]
    fn reduced_costs() {
        // max x + y, x + y <= 1: both columns reach an optimum (reduced cost 0); with
        // max x + 2y only y does, and x would need 1 more.
        for rule in RULES {
            let s = solve(&[1.0, 1.0], &[vec![1.0, 1.0]], &[1.0], rule).unwrap();
            assert!(s.reduced.iter().all(|r| r.abs() < 1e-9), "{:?}", s.reduced);
            let s = solve(&[1.0, 2.0], &[vec![1.0, 1.0]], &[1.0], rule).unwrap();
            assert!((s.reduced[0] - 1.0).abs() < 1e-9 && s.reduced[1].abs() < 1e-9);
            assert!((s.x[1] - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn degenerate_and_empty() {
        for rule in RULES {
            assert_eq!(maximize(&[1.0], &[vec![1.0]], &[0.0], rule).unwrap(), [0.0]);
            assert!(
                maximize(&[1.0], &[vec![-1.0]], &[1.0], rule).is_none(),
                "unbounded"
            );
        }
    }

    proptest! {
        /// On bounded packing LPs (nonnegative data, every column in some row), both rules
        /// reach an optimum of the same value, at a point that keeps every row.
        #[test]
        fn both_rules_reach_the_same_optimum(
            shape in (1usize..8, 1usize..12).prop_flat_map(|(m, n)| (
                prop::collection::vec(prop::collection::vec(0u8..4, n), m),
                prop::collection::vec(0u8..10, m),
                prop::collection::vec(0u8..6, n),
            )),
        ) {
            let (rows, b, c) = shape;
            let mut a: Vec<Vec<f64>> = rows
                .iter()
                .map(|r| r.iter().map(|&v| f64::from(v)).collect())
                .collect();
            // Every column in the first row: the LP is bounded.
            for v in &mut a[0] {
                *v += 1.0;
            }
            let b: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
            let c: Vec<f64> = c.iter().map(|&v| f64::from(v)).collect();
            let value = |x: &[f64]| x.iter().zip(&c).map(|(x, c)| x * c).sum::<f64>();
            let bland = solve(&c, &a, &b, Rule::Bland).unwrap();
            let dantzig = solve(&c, &a, &b, Rule::Dantzig).unwrap();
            prop_assert!((value(&bland.x) - value(&dantzig.x)).abs() < 1e-6);
            for s in [&bland, &dantzig] {
                // The duals are feasible (never negative, every column's reduced cost
                // `yᵀA_j − c_j` never negative) and of the same value (strong duality).
                prop_assert!(s.dual.iter().all(|&y| y >= -1e-9));
                for (j, &cj) in c.iter().enumerate() {
                    let priced: f64 = a.iter().zip(&s.dual).map(|(row, y)| row[j] * y).sum();
                    prop_assert!(priced >= cj - 1e-6);
                }
                let dual: f64 = s.dual.iter().zip(&b).map(|(y, b)| y * b).sum();
                prop_assert!((dual - value(&s.x)).abs() < 1e-6);
            }
            // Half the columns first, the rest added to the optimal tableau: the same value,
            // from the vertex the first solve left.
            let half = c.len() / 2;
            let column = |j: usize| (c[j], a.iter().map(|row| row[j]).collect::<Vec<f64>>());
            let mut tableau = Tableau::new(&b);
            tableau.add_columns(&(0..half).map(column).collect::<Vec<_>>());
            prop_assert!(tableau.iterate(Rule::Dantzig, MAX_PIVOTS).is_some());
            tableau.add_columns(&(half..c.len()).map(column).collect::<Vec<_>>());
            prop_assert_eq!(tableau.columns(), c.len());
            let warm = tableau.iterate(Rule::Dantzig, MAX_PIVOTS).unwrap();
            prop_assert!((value(&warm.x) - value(&dantzig.x)).abs() < 1e-6);
            let dual: f64 = warm.dual.iter().zip(&b).map(|(y, b)| y * b).sum();
            prop_assert!((dual - value(&warm.x)).abs() < 1e-6);
            for x in [&bland.x, &dantzig.x] {
                prop_assert!(x.iter().all(|&v| v >= -1e-9));
                for (row, &limit) in a.iter().zip(&b) {
                    let used: f64 = row.iter().zip(x.iter()).map(|(a, x)| a * x).sum();
                    prop_assert!(used <= limit + 1e-6);
                }
            }
        }
    }
}
