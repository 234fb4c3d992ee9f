//! The search for the Lagrangian bound's multipliers: a subgradient method, kept per demand
//! and weights so that later calls go on where it stopped, and once its steps run out short
//! of the plan, the configuration LP's duals (`dual`).

use super::{Classes, SCALE, STEPS, dual, floor, lagrangian};

/// The smallest `floor(UB(z))` found, at least `reached` (what a plan reached proves no
/// better bound exists, so the search stops there).
pub(super) fn bound_for(
    classes: &Classes,
    demand: &[u32],
    w: &[i64],
    reached: u64,
    lp: bool,
) -> u64 {
    bound_and_prices(classes, demand, w, reached, lp).0
}

/// [`bound_for`] with the multipliers that gave it (scaled by `SCALE`): the price of one more
/// instance of each request, which steers a packer towards the patterns the bound favours.
///
/// The search is kept per demand and weights in `classes` (plans of one fleet ask for the
/// same bounds again and again): a later call takes the bound found so far where it is no
/// more than its `reached` or the search has ended, and otherwise goes on with the search
/// where it stopped (its steps aimed at the first call's `reached`).
pub(super) fn bound_and_prices(
    classes: &Classes,
    demand: &[u32],
    w: &[i64],
    reached: u64,
    lp: bool,
) -> (u64, Vec<i64>) {
    let key = (demand.to_vec(), w.to_vec());
    let mut found = classes.found.borrow_mut();
    let search = found
        .entry(key)
        .or_insert_with(|| Search::new(classes, demand, w, reached));
    search.run(classes, demand, w, reached, lp);
    (search.best, search.best_z.clone())
}

/// A subgradient search for the smallest Lagrangian bound, which may stop once its bound
/// reaches what a plan places and go on later; where its steps run out short of that, the
/// configuration LP's duals, once (see [`dual`]).
#[derive(Debug, Clone)]
pub(super) struct Search {
    /// The smallest `floor(UB(z))` so far, and its multipliers.
    best: u64,
    best_z: Vec<i64>,
    /// The multipliers of the next step.
    z: Vec<f64>,
    step_scale: f64,
    last: f64,
    /// Steps made.
    steps: usize,
    /// What the steps aim at (scaled by `SCALE`): the first caller's `reached`.
    target: f64,
    /// Whether the search has ended (all its steps made, or a step left nothing to move).
    ended: bool,
    /// The multipliers of every step: the configuration LP's first columns are the
    /// patterns best at them.
    path: Vec<Vec<i64>>,
    /// Whether the LP's multipliers were tried.
    lp_done: bool,
}

impl Search {
    /// The search's start: the better of z = 0 (the fleet's capacity) and z = w (the demand
    /// itself).
    fn new(classes: &Classes, demand: &[u32], w: &[i64], reached: u64) -> Self {
        let zero = vec![0i64; demand.len()];
        let (ub0, _) = lagrangian(classes, demand, w, &zero);
        let (ubw, _) = lagrangian(classes, demand, w, w);
        let (best_z, z) = if ub0 <= ubw {
            (zero, vec![0.0; demand.len()])
        } else {
            (w.to_vec(), w.iter().map(|&x| x as f64).collect())
        };
        Search {
            best: floor(ub0).min(floor(ubw)),
            best_z,
            z,
            step_scale: 1.0,
            last: f64::MAX,
            steps: 0,
            target: reached as f64 * SCALE as f64,
            ended: false,
            path: Vec::new(),
            lp_done: false,
        }
    }

    /// Steps until the bound is no more than `reached` or the search ends; where its steps
    /// run out short of `reached` (and `lp`), once, the LP's multipliers.
    fn run(&mut self, classes: &Classes, demand: &[u32], w: &[i64], reached: u64, lp: bool) {
        self.step(classes, demand, w, reached);
        if lp && !self.lp_done && self.steps >= STEPS && self.best > reached {
            self.lp_done = true;
            // The subgradient stops short of the best multipliers; the configuration LP's
            // duals are the best (within rounding).
            let zero = vec![0i64; demand.len()];
            let mut seeds: Vec<&[i64]> = vec![&zero, &self.best_z, w];
            seeds.extend(self.path.iter().map(Vec::as_slice));
            if let Some((ub, z)) = dual::lp_multipliers(classes, demand, w, &seeds, reached)
                && ub < self.best
            {
                self.best = ub;
                self.best_z = z;
            }
        }
    }

    /// The subgradient's steps until the bound is no more than `reached` or they end.
    fn step(&mut self, classes: &Classes, demand: &[u32], w: &[i64], reached: u64) {
        while self.best > reached && !self.ended {
            if self.steps >= STEPS {
                self.ended = true;
                break;
            }
            self.steps += 1;
            // z stays within [0, SCALE]: the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation)]
            let zi: Vec<i64> = self.z.iter().map(|&v| v.round() as i64).collect();
            let (ub, used) = lagrangian(classes, demand, w, &zi);
            self.path.push(zi.clone());
            if floor(ub) < self.best {
                self.best = floor(ub);
                self.best_z = zi;
            }
            if self.best <= reached {
                break;
            }
            let g: Vec<f64> = demand
                .iter()
                .zip(&used)
                .zip(w)
                .map(|((&d, &u), &wd)| {
                    if wd == 0 {
                        0.0
                    } else {
                        f64::from(d) - u as f64
                    }
                })
                .collect();
            let norm: f64 = g.iter().map(|x| x * x).sum();
            if norm == 0.0 {
                self.ended = true;
                break;
            }
            let ubf = ub as f64;
            if ubf >= self.last {
                self.step_scale *= 0.7;
            }
            self.last = ubf;
            let theta = self.step_scale * (ubf - self.target).max(SCALE as f64) / norm;
            for ((zd, gd), &wd) in self.z.iter_mut().zip(&g).zip(w) {
                *zd = (*zd - theta * gd).clamp(0.0, wd.max(0) as f64);
            }
        }
    }
}
