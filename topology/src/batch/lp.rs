//! A small dense simplex for the per-class pattern LPs: maximize `c·x` subject to `A x <= b`,
//! `x >= 0`, with `b >= 0` (so the origin is a feasible start). Bland's rule, so it cannot
//! cycle; a bounded number of pivots. Its answer only steers the packer, never the bound, so
//! floating point is fine here.

/// Pivots at most.
const MAX_PIVOTS: usize = 5_000;

const EPS: f64 = 1e-9;

/// An optimal `x`, or `None` past the pivot limit or for an unbounded problem.
pub(crate) fn maximize(c: &[f64], a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    solve(c, a, b).map(|s| s.x)
}

/// An optimal vertex and its reduced costs.
pub(crate) struct Solution {
    /// The optimal `x`.
    pub(crate) x: Vec<f64>,
    /// Per column, how much its objective coefficient would have to rise before it could
    /// enter an optimal basis (`yᵀA_j − c_j`, never negative at the optimum): 0 for every
    /// column of some optimal vertex.
    pub(crate) reduced: Vec<f64>,
}

/// [`maximize`], with the reduced costs.
pub(crate) fn solve(c: &[f64], a: &[Vec<f64>], b: &[f64]) -> Option<Solution> {
    let (m, n) = (b.len(), c.len());
    let width = n + m + 1;
    // Rows 0..m: constraints with slacks; row m: the objective (negated reduced costs). One
    // flat table, row after row.
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
    let mut basis: Vec<usize> = (n..n + m).collect();
    for _ in 0..MAX_PIVOTS {
        let obj = &t[m * width..];
        // Entering: the first column with a negative objective entry (Bland).
        let Some(e) = (0..n + m).find(|&j| obj[j] < -EPS) else {
            let mut x = vec![0.0; n];
            for (i, &bv) in basis.iter().enumerate() {
                if bv < n {
                    x[bv] = t[i * width + width - 1];
                }
            }
            return Some(Solution {
                x,
                reduced: obj[..n].to_vec(),
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
        let (_, l, _) = leave?;
        // The pivot row apart from the others, which each lose a multiple of it.
        let (before, rest) = t.split_at_mut(l * width);
        let (row, after) = rest.split_at_mut(width);
        let pivot = row[e];
        for v in row.iter_mut() {
            *v /= pivot;
        }
        let row: &[f64] = row;
        for r in before
            .chunks_exact_mut(width)
            .chain(after.chunks_exact_mut(width))
        {
            if r[e].abs() > EPS {
                let f = r[e];
                for (v, &p) in r.iter_mut().zip(row) {
                    *v -= f * p;
                }
            }
        }
        basis[l] = e;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_textbook_problem() {
        // max 3x + 5y, x <= 4, 2y <= 12, 3x + 2y <= 18: x = 2, y = 6.
        let x = maximize(
            &[3.0, 5.0],
            &[vec![1.0, 0.0], vec![0.0, 2.0], vec![3.0, 2.0]],
            &[4.0, 12.0, 18.0],
        )
        .unwrap();
        assert!(
            (x[0] - 2.0).abs() < 1e-9 && (x[1] - 6.0).abs() < 1e-9,
            "{x:?}"
        );
    }

    #[test]
    fn reduced_costs() {
        // max x + y, x + y <= 1: both columns reach an optimum (reduced cost 0); with
        // max x + 2y only y does, and x would need 1 more.
        let s = solve(&[1.0, 1.0], &[vec![1.0, 1.0]], &[1.0]).unwrap();
        assert!(s.reduced.iter().all(|r| r.abs() < 1e-9), "{:?}", s.reduced);
        let s = solve(&[1.0, 2.0], &[vec![1.0, 1.0]], &[1.0]).unwrap();
        assert!((s.reduced[0] - 1.0).abs() < 1e-9 && s.reduced[1].abs() < 1e-9);
        assert!((s.x[1] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn degenerate_and_empty() {
        assert_eq!(maximize(&[1.0], &[vec![1.0]], &[0.0]).unwrap(), [0.0]);
        assert!(
            maximize(&[1.0], &[vec![-1.0]], &[1.0]).is_none(),
            "unbounded"
        );
    }
}
