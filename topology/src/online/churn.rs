//! The long-run bound under churn: the admission LP's value averaged over the random number
//! of requests alive at a time, a tighter bound than the LP's value at the mean.
//!
//! Give every request its lifetime whether it is admitted or not: at any instant, `N_k`
//! requests of profile *k* are alive, and in the steady state of Poisson arrivals the `N_k` are
//! independent Poisson variables of mean `E_k` (the offered instances, whatever the lifetimes'
//! distribution). A placer that does not choose by lifetime has at most `N_k` of them in
//! service, and what it has in service fits the fleet; so what it has in service, counted
//! `1 / mean_life` each, is at most `V(N)`, the admission LP's value with `N` in place of
//! `E`. Its long-run acceptance is therefore at most `E[V(N)]` over the total rate. The LP's
//! value is concave in `E`, so `E[V(N)] <= V(E)`: the fluid bound ([`Admission::bound`])
//! never beats this one, and the two differ most where the fleet is just full, where a burst
//! of requests above capacity loses some whatever the placer does.
//!
//! `E[V(N)]` is estimated by sampling `N`; the estimate comes with its standard error.

use super::admission::{Admission, Lp};
use crate::batch::lp;
use crate::rng::SplitMix;

/// An estimate of a mean from samples.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Estimate {
    /// The sample mean.
    pub mean: f64,
    /// Its standard error (the samples' standard deviation over the root of their number).
    pub std_error: f64,
    /// Samples drawn (those whose LP did not settle are left out).
    pub samples: u32,
}

impl Estimate {
    /// The mean plus `z` standard errors: an upper limit at the confidence that `z` gives
    /// (3: about 99.9 %).
    #[must_use]
    pub fn upper(&self, z: f64) -> f64 {
        self.mean + z * self.std_error
    }
}

impl Admission {
    /// The long-run share of requests that no placer can beat under churn (see
    /// [`crate::online::churn`]), from `samples` draws of the requests alive, seeded by
    /// `seed` (deterministic).
    #[must_use]
    pub fn bound_under_churn(&self, samples: u32, seed: u64) -> Estimate {
        let mut rng = SplitMix(seed);
        let (mut sum, mut sq, mut n) = (0.0, 0.0, 0u32);
        let mut rhs = self.lp.rhs.clone();
        for _ in 0..samples {
            for (share, &row) in self.shares.iter().zip(&self.lp.offered) {
                rhs[row] = poisson(&mut rng, share.offered);
            }
            let Some(v) = value(&self.lp, &rhs) else {
                continue;
            };
            // Not capped at 1 per sample: with more requests alive than on average, the
            // sample's value is above the rate, and capping it would bias the mean down.
            let share = if self.rate > 0.0 { v / self.rate } else { 1.0 };
            sum += share;
            sq += share * share;
            n += 1;
        }
        if n == 0 {
            return Estimate {
                mean: self.bound(),
                std_error: 0.0,
                samples: 0,
            };
        }
        let mean = sum / f64::from(n);
        let var = (sq / f64::from(n) - mean * mean).max(0.0);
        Estimate {
            mean,
            std_error: (var / f64::from(n)).sqrt(),
            samples: n,
        }
    }
}

/// The LP's optimal value with `rhs`.
fn value(lp: &Lp, rhs: &[f64]) -> Option<f64> {
    lp::maximize(&lp.obj, &lp.rows, rhs, lp::Rule::Bland).map(|x| lp.value(&x))
}

/// The largest mean drawn exactly.
const EXACT: f64 = 10_000.0;

/// A Poisson draw of mean `mean`: up to [`EXACT`], a sum of draws of mean at most 16 (Poisson
/// variables add), each by multiplying uniforms (Knuth), exact and in time linear in the mean;
/// above it, the normal approximation (skewness `1/√mean`, under 1 %), so that the time stays
/// bounded whatever the load.
fn poisson(rng: &mut SplitMix, mean: f64) -> f64 {
    const CHUNK: f64 = 16.0;
    if !(mean.is_finite() && mean > 0.0) {
        return 0.0;
    }
    if mean > EXACT {
        // Box–Muller.
        let (u, v) = (rng.unit(), rng.unit());
        let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
        return (mean + z * mean.sqrt()).round().max(0.0);
    }
    let mut left = mean;
    let mut total = 0.0;
    while left > 0.0 {
        let m = left.min(CHUNK);
        left -= m;
        let limit = (-m).exp();
        let mut p = rng.unit();
        while p > limit {
            total += 1.0;
            p *= rng.unit();
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fleet;
    use crate::online::Load;
    use gpupart_profiles::ProfileName;
    use gpupart_profiles::catalog::A100_40GB;
    use proptest::prelude::*;

    fn name(s: &str) -> ProfileName {
        s.parse().unwrap()
    }

    #[test]
    fn one_profile_is_the_expected_minimum_of_alive_and_room() {
        // 4g.20gb alone on 20 A100s: room for 20. With N ~ Poisson(20) alive, no placer has
        // more than min(N, 20) in service: E[min(N, 20)] / 20, from the Poisson weights.
        let a = crate::online::admission::admission(
            &Fleet::uniform(&A100_40GB, 20),
            &[Load::new(name("4g.20gb"), 20.0, 1.0).unwrap()],
        )
        .unwrap();
        let (mut p, mut exact) = ((-20.0f64).exp(), 0.0);
        for n in 0..200u32 {
            if n > 0 {
                p *= 20.0 / f64::from(n);
            }
            exact += p * f64::from(n.min(20));
        }
        exact /= 20.0;
        let e = a.bound_under_churn(4000, 3);
        assert_eq!(e.samples, 4000);
        assert!(
            (e.mean - exact).abs() < 5.0 * e.std_error,
            "{} ± {} vs {exact}",
            e.mean,
            e.std_error
        );
        // About 0.911: a tenth lost to bursts although the fluid bound is 1.
        assert!((exact - 0.911).abs() < 0.002, "{exact}");
        assert!((a.bound() - 1.0).abs() < 1e-9);
        // Ample room: nothing is lost, and a sample with more alive than on average counts
        // in full (no cap per sample, which would bias the mean down).
        let roomy = crate::online::admission::admission(
            &Fleet::uniform(&A100_40GB, 20),
            &[Load::new(name("4g.20gb"), 5.0, 1.0).unwrap()],
        )
        .unwrap()
        .bound_under_churn(4000, 5);
        assert!(
            (roomy.mean - 1.0).abs() < 4.0 * roomy.std_error + 1e-9,
            "{roomy:?}"
        );
        // Deterministic.
        assert_eq!(a.bound_under_churn(50, 9), a.bound_under_churn(50, 9));
    }

    proptest! {
        /// The bound under churn never beats the fluid bound (concavity), beyond its error.
        #[test]
        fn never_above_the_fluid_bound(
            offered in prop::collection::vec(0.0f64..40.0, 3),
            gpus in 1u32..6,
            seed in any::<u64>(),
        ) {
            let names = [name("1g.5gb"), name("3g.20gb"), name("7g.40gb")];
            let loads: Vec<Load> = names
                .iter()
                .zip(&offered)
                .map(|(n, e)| Load::new(*n, *e, 1.0).unwrap())
                .collect();
            let a = crate::online::admission::admission(&Fleet::uniform(&A100_40GB, gpus), &loads)
                .unwrap();
            let e = a.bound_under_churn(200, seed);
            prop_assert!(e.mean <= a.bound() + 4.0 * e.std_error + 1e-9, "{:?} vs {}", e, a.bound());
            prop_assert!(e.mean >= 0.0);
        }
    }

    #[test]
    fn poisson_draws_have_the_mean_and_variance() {
        for mean in [0.3f64, 5.0, 40.0, 900.0, 2e6] {
            let mut rng = SplitMix(mean.to_bits());
            let n = 4000.0;
            let (mut s, mut q) = (0.0, 0.0);
            for _ in 0..4000 {
                let x = poisson(&mut rng, mean);
                s += x;
                q += x * x;
            }
            let m = s / n;
            let v = q / n - m * m;
            // Within 5 standard errors of the mean and 20 % of the variance.
            assert!((m - mean).abs() < 5.0 * (mean / n).sqrt(), "{mean}: {m}");
            assert!((v / mean - 1.0).abs() < 0.2, "{mean}: {v}");
        }
    }
}
