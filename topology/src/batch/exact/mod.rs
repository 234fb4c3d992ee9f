//! The exact search: a dynamic program over GPUs (all of them, or a subset in a given order)
//! and the demand left, within a work budget.

mod options;

use std::rc::Rc;

use super::FastMap;
use super::context::{Ctx, Realization, Value};
use super::room::{Sizes, room, share, suffix_sums};
use crate::Occupancy;
pub(in crate::batch) use options::Options;
use options::{FitsKey, GpuInfo, KindKey};

/// (request, count) served on one GPU.
pub(super) type Want = Vec<(usize, u32)>;

/// The search's state: its memos, the GPUs' options and what the cuts need, and the budget
/// left.
pub(super) struct Exact<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    /// The GPUs searched, in order (positions into the fleet).
    pub(super) order: Vec<usize>,
    /// Per state (position, demand left): its best value and the fill that starts it, or
    /// `None` where no completion reaches the target.
    /// Per position, keyed by the demand left (looked up without a copy of it).
    pub(super) memo: Vec<FastMap<Vec<u32>, Option<Best>>>,
    /// Per GPU (position in the fleet): each fill's outcome.
    pub(super) real_memo: FastMap<usize, FastMap<Want, Option<Realization>>>,
    /// Per kind of GPU: its options by the demand left on the requests it may serve (see
    /// [`Exact::options`]).
    options_memo: FastMap<usize, FastMap<Vec<u8>, Rc<Options>>>,
    /// The kinds of GPU met so far.
    kinds: FastMap<KindKey, usize>,
    pub(super) budget: u64,
    /// Per GPU: its in-use instances alone (free ones may always go).
    bases: FastMap<usize, Occupancy>,
    /// Whether instances (per profile slot) fit beside in-use ones, by the base's signature.
    fits_memo: FastMap<FitsKey, bool>,
    /// Per GPU, made on first use.
    info: FastMap<usize, Rc<GpuInfo>>,
    /// What the cuts need, made on first use (see [`Exact::cut`]).
    cut: Option<Cut>,
    /// The demand at position 0 and, per priority level, what some plan is known to place:
    /// states from which no plan reaches it are not searched.
    target: Option<(Vec<u32>, Vec<u64>)>,
    /// A buffer for [`Exact::viable`]'s count of what is placed, kept between calls.
    done: Vec<u64>,
    /// Whether values count instances placed alone (per level), not the objective's later
    /// terms.
    pub(super) counts_only: bool,
}

/// A state's best value and the fill that starts it.
pub(super) type Best = (Value, Want);

/// What the cuts need: per position of the order, what the GPUs from there on can hold
/// (see [`room`]); per request, its level and size.
struct Cut {
    room: Vec<(u64, u64, u64)>,
    sizes: Sizes,
}

impl<'c, 'a> Exact<'c, 'a> {
    /// A search over `order` (positions into the fleet) within `budget`.
    pub(super) fn over(ctx: &'c Ctx<'a>, order: Vec<usize>, budget: u64) -> Self {
        Exact {
            ctx,
            memo: order.iter().map(|_| FastMap::default()).collect(),
            order,
            real_memo: FastMap::default(),
            options_memo: FastMap::default(),
            kinds: FastMap::default(),
            budget,
            bases: FastMap::default(),
            fits_memo: FastMap::default(),
            info: FastMap::default(),
            cut: None,
            target: None,
            done: Vec::new(),
            counts_only: false,
        }
    }

    /// Searches only states from which a plan placing at least `target` (per priority
    /// level, highest first; what a known plan places) can be reached from `demand`: the
    /// optimum is one of them.
    pub(super) fn with_target(mut self, demand: &[u32], target: Vec<u64>) -> Self {
        self.target = Some((demand.to_vec(), target));
        self
    }

    /// Raises the target to `target` (per priority level, highest first: what a plan found
    /// since places) where it is more. States already cut stay cut (they cannot reach the
    /// lower target either), and values already memoized are those of real plans that
    /// include every plan reaching the new target, so the search stays exact.
    pub(super) fn raise_target(&mut self, target: &[u64]) {
        if let Some((_, now)) = &mut self.target
            && target > now.as_slice()
        {
            *now = target.to_vec();
        }
    }

    /// What the cuts need: per position of the order, what the GPUs from there on can hold
    /// for the requests they may serve, beside their in-use instances; per request, the least
    /// memory and compute one instance takes on any GPU it may use.
    fn make_cut(&mut self) -> Cut {
        let gpus = self.ctx.fleet.gpus();
        let mut rooms = Vec::with_capacity(self.order.len());
        for k in 0..self.order.len() {
            let g = self.order[k];
            let base = self.base(g).clone();
            let model = base.model();
            let slot_mask = self.ctx.eligible[g]
                .iter()
                .filter_map(|(_, p)| model.profiles.iter().position(|q| q == *p))
                .fold(0u64, |m, s| m | 1 << (s % 64));
            rooms.push(room(&base, slot_mask));
        }
        let mut least = vec![(u64::MAX, u64::MAX); self.ctx.requests.len()];
        for (g, elig) in self.ctx.eligible.iter().enumerate() {
            for &(r, p) in elig.iter() {
                let (memory, compute) = share(p, gpus[g].model);
                least[r] = (least[r].0.min(memory), least[r].1.min(compute));
            }
        }
        let levels = (0..least.len()).map(|r| self.ctx.level(r)).collect();
        Cut {
            room: suffix_sums(&rooms),
            sizes: Sizes::new(levels, least),
        }
    }

    /// `f` of the cuts' facts, made on first use.
    fn with_cut<T>(&mut self, f: impl FnOnce(&Cut) -> T) -> T {
        let cut = match self.cut.take() {
            Some(cut) => cut,
            None => self.make_cut(),
        };
        let out = f(&cut);
        self.cut = Some(cut);
        out
    }

    /// Whether `want` on the GPU before position `k`, with at most what the GPUs from `k` on
    /// can place of what it leaves (`rem`), places fewer than `placed` (per level, highest
    /// first; [`Sizes::reach_against`]: level by level, each made only while the levels
    /// above tie, and in the room they leave).
    fn below(&mut self, k: usize, rem: &[u32], want: &[(usize, u32)], placed: &[u64]) -> bool {
        let ctx = self.ctx;
        let counts_only = self.counts_only;
        self.with_cut(|cut| {
            let here = |level: usize| -> u64 {
                want.iter()
                    .filter(|&&(r, _)| ctx.level(r) == level)
                    .map(|&(_, c)| u64::from(c))
                    .sum()
            };
            let levels = placed.len().min(ctx.levels.len());
            let reach = cut
                .sizes
                .reach_against(cut.room[k], rem, here, &placed[..levels]);
            // Counting instances alone, a tie gains nothing either.
            if counts_only {
                reach.is_le()
            } else {
                reach.is_lt()
            }
        })
    }

    /// Whether, from position `k` with `rem` left, a plan may still reach the target.
    fn viable(&mut self, k: usize, rem: &[u32]) -> bool {
        let Some((root, target)) = self.target.take() else {
            return true;
        };
        let mut done = std::mem::take(&mut self.done);
        done.clear();
        done.resize(self.ctx.levels.len(), 0);
        for (r, (&d, &left)) in root.iter().zip(rem).enumerate() {
            done[self.ctx.level(r)] += u64::from(d - left);
        }
        let viable = self.with_cut(|cut| {
            cut.sizes
                .reach_against(cut.room[k], rem, |l| done[l], &target)
                .is_ge()
        });
        self.target = Some((root, target));
        self.done = done;
        viable
    }

    fn base(&mut self, g: usize) -> &Occupancy {
        let gpu = &self.ctx.fleet.gpus()[g];
        self.bases
            .entry(g)
            .or_insert_with(|| gpu.in_use_occupancy())
    }

    pub(super) fn realize(
        &mut self,
        g: usize,
        want: &[(usize, u32)],
    ) -> Option<Option<Realization>> {
        self.outcome(g, want).cloned()
    }

    /// The value of [`Exact::realize`]'s outcome (none where `want` does not fit), without a
    /// copy of the outcome.
    fn realized_value(&mut self, g: usize, want: &[(usize, u32)]) -> Option<Option<Value>> {
        let ctx = self.ctx;
        self.outcome(g, want)
            .map(|r| r.as_ref().map(|r| ctx.value(r)))
    }

    /// `want`'s outcome on GPU `g`, made once (a unit of the budget) and kept; `None` once the
    /// budget is spent.
    fn outcome(&mut self, g: usize, want: &[(usize, u32)]) -> Option<&Option<Realization>> {
        if !self.real_memo.get(&g).is_some_and(|m| m.contains_key(want)) {
            self.budget = self.budget.checked_sub(1)?;
            let r = self.ctx.realize(g, want);
            self.real_memo
                .entry(g)
                .or_default()
                .insert(want.to_vec(), r);
        }
        self.real_memo.get(&g).and_then(|m| m.get(want))
    }

    /// The best value of the GPUs from position `k` of the order on, serving at most `rem`:
    /// `Some(None)` where no plan from here reaches the target, `None` once the budget is
    /// spent.
    pub(super) fn best(&mut self, k: usize, rem: &[u32]) -> Option<Option<Value>> {
        let Some(&g) = self.order.get(k) else {
            return Some(self.viable(k, rem).then(|| self.ctx.zero()));
        };
        if let Some(found) = self.memo[k].get(rem) {
            return Some(found.as_ref().map(|(v, _)| v.clone()));
        }
        if !self.viable(k, rem) {
            self.memo[k].insert(rem.to_vec(), None);
            return Some(None);
        }
        // The best value found here and the option (by position) that gives it.
        let mut best: Option<(Value, usize)> = None;
        let mut next = rem.to_vec();
        let options = self.options(g, rem)?;
        for (at, want) in options.iter().enumerate() {
            next.copy_from_slice(rem);
            for &(r, c) in want {
                next[r] -= c;
            }
            // An option that cannot place as many (per level, highest first) as the best
            // one found here, even if the later GPUs placed all they might of what is left,
            // is not weighed: the state's best stays the same.
            if let Some((b, _)) = &best
                && self.below(k + 1, &next, want, &b.placed)
            {
                continue;
            }
            // Every option weighed counts against the budget, memoized or not.
            self.budget = self.budget.checked_sub(1)?;
            let here = if self.counts_only {
                // Every option fits (see `make_options`).
                let mut v = self.ctx.zero();
                for &(r, c) in want {
                    v.placed[self.ctx.level(r)] += u64::from(c);
                }
                v
            } else {
                let Some(here) = self.realized_value(g, want)? else {
                    continue;
                };
                here
            };
            let Some(rest) = self.best(k + 1, &next)? else {
                continue;
            };
            let v = here.add(&rest);
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, at));
            }
        }
        let value = best.as_ref().map(|(v, _)| v.clone());
        let best = best.map(|(v, at)| (v, options.get(at).to_vec()));
        self.memo[k].insert(rem.to_vec(), best);
        Some(value)
    }

    /// Each GPU of the order's outcome in the best plan found for `demand` (after
    /// [`Exact::best`] from position 0).
    pub(super) fn reconstruct(&mut self, demand: &[u32]) -> Vec<Option<Realization>> {
        let mut rem = demand.to_vec();
        let mut out = Vec::new();
        for (k, &g) in self.order.iter().enumerate() {
            let want = self.memo[k]
                .get(&rem)
                .and_then(|found| found.as_ref().map(|(_, w)| w.clone()))
                .unwrap_or_default();
            let real = self
                .real_memo
                .get(&g)
                .and_then(|m| m.get(&want))
                .cloned()
                .flatten()
                .or_else(|| self.ctx.realize(g, &want));
            for &(r, c) in &want {
                rem[r] -= c;
            }
            out.push(real);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::batch::SolveOptions;
    use crate::batch::greedy::{Greedy, Mode};
    use crate::batch::testing::{arb_asks, arb_gpus, fleet, requests};

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// A search cut short, its target then raised to what the packer's plan places and
        /// given the budget to finish, finds the optimum of a search with neither, and
        /// rebuilds a plan of that value: what it memoized under the lower target stays
        /// sound.
        #[test]
        fn a_raised_target_keeps_the_search_exact(
            gpus in arb_gpus(2..6),
            asks in arb_asks(1..5, 1u32..5, 0..3),
            first in prop::sample::select(vec![0u64, 20, 200, 2_000]),
        ) {
            let fleet = fleet(&gpus);
            let reqs = requests(&asks);
            let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
            let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
            let all: Vec<usize> = (0..fleet.gpus().len()).collect();
            let Some(Some(optimum)) = Exact::over(&ctx, all.clone(), 5_000_000).best(0, &demand)
            else {
                return Ok(());
            };
            let packed = ctx.total(&Greedy::new(&ctx, Mode::Size).run(demand.clone()));
            let mut search = Exact::over(&ctx, all, first)
                .with_target(&demand, vec![0; ctx.levels.len()]);
            let _ = search.best(0, &demand);
            search.raise_target(&packed.placed);
            search.budget = 5_000_000;
            prop_assert_eq!(search.best(0, &demand), Some(Some(optimum.clone())));
            prop_assert_eq!(ctx.total(&search.reconstruct(&demand)), optimum);
        }
    }
}
