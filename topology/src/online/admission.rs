//! Admission for a known workload: how many instances of each profile an online placer lets in,
//! from the configuration LP of the long run.
//!
//! Requests of profile *k* arrive at `rate` and stay `mean_life` on average, so the workload
//! offers `E_k = rate × mean_life` instances in service (Little's law). Over every way to fill
//! one GPU of each model with the profiles asked for (its *configurations*), the LP
//!
//! ```text
//! maximise   Σ_k a_k / mean_life_k                (instances accepted per unit of time)
//! subject to a_k ≤ E_k                             (no more than is offered)
//!            a_k ≤ Σ_{model m, configuration c} x_{m,c} · c_k
//!            Σ_c x_{m,c} ≤ GPUs of model m with MIG on
//! ```
//!
//! bounds what any placement policy accepts in the long run, as long as it does not choose by
//! lifetime (so the instances it accepts of a profile stay `mean_life` on average): whatever
//! it does, the mean number of instances of each profile in service is what it accepts times
//! their mean life (Little's law), and at every instant those instances fit the fleet, so
//! their means are a mix of configurations. ([`Admission::bound`], solved in floating point
//! by a small simplex; NUMA nodes and in-use instances outside the workload are left out,
//! which can only raise it.)
//!
//! The LP's answer is also a policy, which [`crate::Online::admit`] follows:
//! - **Admission.** A profile that some optimum takes in full is admitted wherever it fits.
//!   One that every optimum takes only in part (a large profile whose room holds several
//!   small ones) is admitted while fewer are in service than the most any optimum keeps
//!   ([`Admission::cap`]); one no optimum keeps is never admitted. Without caps, a placer that
//!   admits whatever fits lets the large profile crowd out several small ones for each one it
//!   takes, and no choice of GPU or start slice wins that back.
//! - **Steering.** The configurations some optimum uses (reduced cost 0) are the *plan*. A
//!   placement that leaves its GPU able to grow into a planned configuration, with its
//!   instances where they sit (the exact one-GPU solver places the rest), comes before one
//!   that does not: of two starts for the same profile on the same GPU, one may keep the
//!   GPU on the plan and the other not. Among those, the placer's usual order (least room
//!   lost, fuller GPU).

use gpupart_profiles::{GpuInstanceProfile, ModelKey, ProfileName};

use crate::batch::{lp, patterns};
use crate::{Error, Fleet, Occupancy};

/// One stream of requests a workload expects: a profile, how often requests for it arrive and
/// how long each instance stays.
///
/// Any unit of time will do, as long as every [`Load`] of a workload uses the same.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Load {
    /// The profile asked for.
    pub profile: ProfileName,
    /// Requests per unit of time.
    pub rate: f64,
    /// The mean time an instance stays, in the same unit.
    pub mean_life: f64,
}

impl Load {
    /// A load of `rate` requests per unit of time for `profile`, each staying `mean_life` on
    /// average.
    ///
    /// # Errors
    /// [`Error::InvalidLoad`] when `rate` is negative or not finite, `mean_life` is not a
    /// finite positive number, or their product overflows.
    pub fn new(profile: ProfileName, rate: f64, mean_life: f64) -> Result<Self, Error> {
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(Error::InvalidLoad {
                profile,
                what: "rate",
                value: rate,
                expected: "a finite number of requests per unit of time, 0 or more",
            });
        }
        if !(mean_life.is_finite() && mean_life > 0.0) {
            return Err(Error::InvalidLoad {
                profile,
                what: "mean life",
                value: mean_life,
                expected: "a finite time above 0",
            });
        }
        if !(rate * mean_life).is_finite() {
            return Err(Error::InvalidLoad {
                profile,
                what: "rate × mean life",
                value: rate * mean_life,
                expected: "a finite number of instances in service",
            });
        }
        Ok(Load {
            profile,
            rate,
            mean_life,
        })
    }

    /// Instances in service that the load offers (`rate × mean_life`).
    #[must_use]
    pub fn offered(&self) -> f64 {
        self.rate * self.mean_life
    }
}

/// One profile's share in an [`Admission`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Share {
    /// The profile.
    pub profile: ProfileName,
    /// Instances in service that its load offers.
    pub offered: f64,
    /// Instances in service that the long-run optimum keeps.
    pub admitted: f64,
    /// At most this many in service (`None`: every request that fits is admitted).
    pub cap: Option<u32>,
}

/// What an online placer admits for a known workload, and the long-run bound it comes from
/// (see the module docs).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Admission {
    /// Per profile of the workload, in the order first given.
    pub shares: Vec<Share>,
    /// Requests per unit of time, all profiles together.
    pub rate: f64,
    /// Requests accepted per unit of time at the long-run optimum.
    pub accepted: f64,
    /// Per model, the configurations some optimum uses (reduced cost 0), as counts per share.
    plan: Vec<(ModelKey, Vec<Vec<u32>>)>,
    /// The LP itself, for [`Admission::bound_under_churn`].
    pub(super) lp: Lp,
}

/// The admission LP: maximise `obj · x` subject to `rows · x <= rhs`, `x >= 0`; the
/// offered instances of share `i` are `rhs[offered[i]]`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Lp {
    pub(super) obj: Vec<f64>,
    pub(super) rows: Vec<Vec<f64>>,
    pub(super) rhs: Vec<f64>,
    pub(super) offered: Vec<usize>,
}

impl Lp {
    /// The objective's value at `x`.
    pub(super) fn value(&self, x: &[f64]) -> f64 {
        self.obj.iter().zip(x).map(|(c, v)| c * v).sum()
    }
}

impl Admission {
    /// The long-run share of requests that no placement policy can beat, from 0 to 1 (1 for a
    /// workload that asks for nothing).
    #[must_use]
    pub fn bound(&self) -> f64 {
        if self.rate > 0.0 {
            (self.accepted / self.rate).min(1.0)
        } else {
            1.0
        }
    }

    /// The cap on instances of `profile` in service, if it has one.
    #[must_use]
    pub fn cap(&self, profile: &ProfileName) -> Option<u32> {
        self.shares
            .iter()
            .find(|s| s.profile == *profile)
            .and_then(|s| s.cap)
    }

    /// Whether a GPU in state `after` (a placement just made in it) can still grow into a
    /// configuration that some long-run optimum uses: the configuration holds at least the
    /// instances `after` holds, and the ones it adds fit beside them where they are (the
    /// exact one-GPU solver; a 2g at slice 4 leaves no room for a 3g and another 2g, though
    /// a 2g at slice 0 does). A GPU with an instance of a profile outside the workload, or of
    /// a model the plan does not cover, is always on the plan.
    pub(super) fn on_plan(&self, after: &Occupancy) -> bool {
        let model = after.model();
        let Some((_, configs)) = self.plan.iter().find(|(m, _)| *m == model.key()) else {
            return true;
        };
        let mut counts = vec![0u32; self.shares.len()];
        for (p, _) in after.instances() {
            match self.shares.iter().position(|s| s.profile == p.name) {
                Some(i) => counts[i] += 1,
                None => return true,
            }
        }
        // The share's profile on this model (every planned share has one).
        let on_model: Vec<Option<&'static GpuInstanceProfile>> = self
            .shares
            .iter()
            .map(|s| model.profiles.iter().find(|p| p.name == s.profile))
            .collect();
        configs.iter().any(|c| {
            if c.iter().zip(&counts).any(|(have, want)| have < want) {
                return false;
            }
            let mut more = Vec::new();
            for ((&have, &want), p) in c.iter().zip(&counts).zip(&on_model) {
                let Some(p) = p else {
                    return have == want;
                };
                more.extend(std::iter::repeat_n(*p, (have - want) as usize));
            }
            more.is_empty() || crate::solve_gpu(after, &more).is_some()
        })
    }

    /// The profiles whose room a placement should keep: those admitted at all.
    pub(super) fn admitted_profiles(&self) -> Vec<ProfileName> {
        self.shares
            .iter()
            .filter(|s| s.cap != Some(0))
            .map(|s| s.profile)
            .collect()
    }
}

/// A profile's share below which it counts as taken in full (the LP is solved in floating
/// point).
const FULL: f64 = 1e-6;

/// A configuration's reduced cost up to which some optimum may use it.
const ON_PLAN: f64 = 1e-7;

/// How much more a profile's instances count when looking for the optimum that keeps most of
/// it (relative to their value; small enough not to trade any of the optimum's value, which
/// is checked).
const TILT: f64 = 1e-6;

/// The admission for `loads` on `fleet`'s GPUs with MIG on.
pub(super) fn admission(fleet: &Fleet, loads: &[Load]) -> Result<Admission, Error> {
    // One entry per profile: rates add, and the mean life is the rate-weighted mean.
    let mut merged: Vec<Load> = Vec::new();
    for l in loads {
        match merged.iter_mut().find(|m| m.profile == l.profile) {
            Some(m) => {
                let offered = m.offered() + l.offered();
                m.rate += l.rate;
                if m.rate > 0.0 {
                    m.mean_life = offered / m.rate;
                }
            }
            None => merged.push(*l),
        }
    }
    // GPUs per model (MIG on).
    let mut models: Vec<(ModelKey, &'static gpupart_profiles::GpuModel, f64)> = Vec::new();
    for g in fleet.gpus().iter().filter(|g| g.mig_enabled) {
        let key = g.model.key();
        match models.iter_mut().find(|m| m.0 == key) {
            Some(m) => m.2 += 1.0,
            None => models.push((key, g.model, 1.0)),
        }
    }
    for l in &merged {
        let known = models
            .iter()
            .any(|(_, m, _)| m.profiles.iter().any(|p| p.name == l.profile));
        if !known {
            return Err(Error::NoSuchProfile {
                profile: l.profile,
                numa_node: None,
            });
        }
    }
    // Columns: a_k, then each model's maximal configurations (counts per load).
    let k = merged.len();
    let mut columns: Vec<(usize, Vec<u32>)> = Vec::new();
    for (mi, (_, model, _)) in models.iter().enumerate() {
        let slot_of: Vec<Option<usize>> = merged
            .iter()
            .map(|l| model.profiles.iter().position(|p| p.name == l.profile))
            .collect();
        let mask = slot_of
            .iter()
            .flatten()
            .fold(0u64, |m, &s| m | 1 << (s % 64));
        if mask == 0 {
            continue;
        }
        let found = patterns::enumerate_patterns(&Occupancy::new(model), mask);
        let configs: Vec<Vec<u32>> = found
            .iter()
            .map(|p| {
                slot_of
                    .iter()
                    .map(|s| s.map_or(0, |s| u32::from(p.counts[s])))
                    .collect()
            })
            .collect();
        for (i, c) in configs.iter().enumerate() {
            let dominated = configs
                .iter()
                .enumerate()
                .any(|(j, d)| j != i && d != c && d.iter().zip(c).all(|(x, y)| x >= y));
            if !dominated {
                columns.push((mi, c.clone()));
            }
        }
    }
    let n = k + columns.len();
    let mut obj = vec![0.0; n];
    for (i, l) in merged.iter().enumerate() {
        obj[i] = 1.0 / l.mean_life;
    }
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut rhs: Vec<f64> = Vec::new();
    let mut offered_rows: Vec<usize> = Vec::new();
    for (i, l) in merged.iter().enumerate() {
        let mut offered = vec![0.0; n];
        offered[i] = 1.0;
        offered_rows.push(rows.len());
        rows.push(offered);
        rhs.push(l.offered());
        let mut fit = vec![0.0; n];
        fit[i] = 1.0;
        for (j, (_, c)) in columns.iter().enumerate() {
            fit[k + j] = -f64::from(c[i]);
        }
        rows.push(fit);
        rhs.push(0.0);
    }
    for (mi, (_, _, count)) in models.iter().enumerate() {
        let mut gpus = vec![0.0; n];
        for (j, (m, _)) in columns.iter().enumerate() {
            if *m == mi {
                gpus[k + j] = 1.0;
            }
        }
        rows.push(gpus);
        rhs.push(*count);
    }
    let settle = || Error::NoAdmission {
        loads: merged.len(),
    };
    let problem = Lp {
        obj,
        rows,
        rhs,
        offered: offered_rows,
    };
    let solution =
        lp::solve(&problem.obj, &problem.rows, &problem.rhs, lp::Rule::Bland).ok_or_else(settle)?;
    let x = solution.x;
    let mut plan: Vec<(ModelKey, Vec<Vec<u32>>)> = Vec::new();
    for (j, (mi, c)) in columns.iter().enumerate() {
        if solution.reduced[k + j] <= ON_PLAN {
            let key = models[*mi].0;
            match plan.iter_mut().find(|(m, _)| *m == key) {
                Some((_, cs)) => cs.push(c.clone()),
                None => plan.push((key, vec![c.clone()])),
            }
        }
    }
    let best = problem.value(&x);
    let mut shares = Vec::with_capacity(k);
    let mut accepted = 0.0;
    for (i, l) in merged.iter().enumerate() {
        let offered = l.offered();
        let admitted = x[i].clamp(0.0, offered);
        accepted += admitted / l.mean_life;
        let full = |a: f64| a >= offered * (1.0 - FULL);
        // Capped only if no optimum takes more of it: where optima tie (a 4g and a 7g that
        // each fill what the other would), which one is held back is arbitrary, and holding
        // either back only loses what the other could have taken.
        let most = if full(admitted) {
            offered
        } else {
            let mut tilted = problem.obj.clone();
            tilted[i] += TILT / l.mean_life;
            match lp::maximize(&tilted, &problem.rows, &problem.rhs, lp::Rule::Bland) {
                // Still an optimum of the first LP (the tilt never trades any of its value).
                Some(y) if problem.value(&y) >= best - FULL * best.abs().max(1.0) => {
                    y[i].clamp(admitted, offered)
                }
                _ => admitted,
            }
        };
        let cap = if full(most) {
            None
        } else {
            // In service, at most the most an optimum keeps: a count, so rounded.
            Some(count(most))
        };
        shares.push(Share {
            profile: l.profile,
            offered,
            admitted,
            cap,
        });
    }
    let rate = merged.iter().map(|l| l.rate).sum();
    Ok(Admission {
        shares,
        rate,
        accepted,
        plan,
        lp: problem,
    })
}

/// `x` rounded to the nearest count (saturating: `as` from a float clamps).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn count(x: f64) -> u32 {
    x.round().clamp(0.0, f64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Gpu;
    use gpupart_profiles::catalog::{A100_40GB, H100_SXM_80GB};
    use proptest::prelude::*;

    fn name(s: &str) -> ProfileName {
        s.parse().unwrap()
    }

    fn load(p: &str, rate: f64) -> Load {
        Load::new(name(p), rate, 1.0).unwrap()
    }

    #[test]
    fn loads_out_of_range_are_refused_by_name() {
        for (rate, life) in [(-1.0, 1.0), (f64::NAN, 1.0), (f64::INFINITY, 1.0)] {
            let e = Load::new(name("1g.5gb"), rate, life).unwrap_err();
            assert!(matches!(e, Error::InvalidLoad { what: "rate", .. }), "{e}");
            assert!(e.to_string().contains("1g.5gb"), "{e}");
        }
        for life in [0.0, -2.0, f64::NAN] {
            let e = Load::new(name("1g.5gb"), 1.0, life).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidLoad {
                        what: "mean life",
                        ..
                    }
                ),
                "{e}"
            );
        }
        assert!(matches!(
            Load::new(name("1g.5gb"), 1e200, 1e200),
            Err(Error::InvalidLoad {
                what: "rate × mean life",
                ..
            })
        ));
        let e = Load::new(name("1g.5gb"), 1.0, 0.0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the load of 1g.5gb has mean life 0, expected a finite time above 0"
        );
    }

    #[test]
    fn a_large_profile_that_crowds_out_small_ones_is_held_back() {
        // Ten A100s; 72 1g.5gb and 24 2g.10gb offered. Seven 1g fill a GPU's compute, and any
        // 2g takes the room of two 1g: the optimum keeps 70 1g and no 2g.
        let fleet = Fleet::uniform(&A100_40GB, 10);
        let a = admission(&fleet, &[load("1g.5gb", 72.0), load("2g.10gb", 24.0)]).unwrap();
        assert_eq!(a.cap(&name("1g.5gb")), Some(70));
        assert_eq!(a.cap(&name("2g.10gb")), Some(0));
        assert!((a.bound() - 70.0 / 96.0).abs() < 1e-9, "{}", a.bound());
        assert_eq!(a.admitted_profiles(), [name("1g.5gb")]);
    }

    #[test]
    fn tied_profiles_are_not_capped() {
        // A 4g.20gb and a 7g.40gb each take a GPU of their own here (no 3g is asked): the
        // optimum may keep any split, so holding either back would only lose.
        let fleet = Fleet::uniform(&A100_40GB, 10);
        let a = admission(&fleet, &[load("4g.20gb", 8.0), load("7g.40gb", 8.0)]).unwrap();
        assert_eq!(a.cap(&name("4g.20gb")), None);
        assert_eq!(a.cap(&name("7g.40gb")), None);
        assert!((a.bound() - 10.0 / 16.0).abs() < 1e-9, "{}", a.bound());
    }

    #[test]
    fn mixed_fleets_duplicates_and_unknown_profiles() {
        // 1g.10gb is an eighth of an A100-40GB's memory but a seventh of an H100's compute: 4
        // fit on the A100, 7 on the H100.
        let fleet = Fleet::new(vec![Gpu::new(0, &A100_40GB), Gpu::new(1, &H100_SXM_80GB)]).unwrap();
        let a = admission(&fleet, &[load("1g.10gb", 6.0), load("1g.10gb", 6.0)]).unwrap();
        assert_eq!(a.shares.len(), 1, "one share per profile");
        assert!((a.shares[0].offered - 12.0).abs() < 1e-9);
        assert_eq!(a.cap(&name("1g.10gb")), Some(11));
        // Rates add; the mean life is their rate-weighted mean.
        let a = admission(
            &fleet,
            &[
                Load::new(name("1g.10gb"), 1.0, 2.0).unwrap(),
                Load::new(name("1g.10gb"), 3.0, 1.0).unwrap(),
            ],
        )
        .unwrap();
        assert!((a.rate - 4.0).abs() < 1e-9 && (a.shares[0].offered - 5.0).abs() < 1e-9);
        assert!(matches!(
            admission(&fleet, &[load("9g.90gb", 1.0)]),
            Err(Error::NoSuchProfile { .. })
        ));
        // MIG off: the GPU does not count.
        let mut off = Gpu::new(2, &A100_40GB);
        off.mig_enabled = false;
        let fleet = Fleet::new(vec![off]).unwrap();
        assert!(matches!(
            admission(&fleet, &[load("1g.5gb", 1.0)]),
            Err(Error::NoSuchProfile { .. })
        ));
        // Nothing asked: nothing to lose.
        let a = admission(&Fleet::uniform(&A100_40GB, 1), &[]).unwrap();
        assert!((a.bound() - 1.0).abs() < 1e-12);
    }

    proptest! {
        /// One profile alone: the bound is what fits (the most instances one GPU takes,
        /// found by the exact one-GPU solver, times the GPUs) over what is offered, and the
        /// cap is what fits when more is offered.
        #[test]
        fn one_profile_bound_is_what_fits(
            h100 in any::<bool>(),
            slot in 0usize..32,
            gpus in 1u32..40,
            offered in 0.0f64..400.0,
            life in 0.1f64..10.0,
        ) {
            let model = if h100 { &H100_SXM_80GB } else { &A100_40GB };
            let p = &model.profiles[slot % model.profiles.len()];
            let mut per_gpu = 0u32;
            let mut list = Vec::new();
            loop {
                list.push(p);
                if crate::solve_gpu(&Occupancy::new(model), &list).is_none() {
                    break;
                }
                per_gpu += 1;
            }
            let fits = f64::from(per_gpu * gpus);
            let fleet = Fleet::uniform(model, gpus);
            let l = Load::new(p.name, offered / life, life).unwrap();
            let a = admission(&fleet, &[l]).unwrap();
            let want = if offered > 0.0 { (fits / offered).min(1.0) } else { 1.0 };
            prop_assert!((a.bound() - want).abs() < 1e-6, "{} vs {}", a.bound(), want);
            if offered > fits * (1.0 + 1e-5) {
                prop_assert_eq!(a.cap(&p.name), Some(per_gpu * gpus));
            } else if offered < fits * (1.0 - 1e-5) {
                prop_assert_eq!(a.cap(&p.name), None);
            }
        }
    }
}
