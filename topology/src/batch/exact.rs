//! The exact search: a dynamic program over GPUs (all of them, or a subset in a given order)
//! and the demand left, within a work budget.

use std::rc::Rc;

use gpupart_profiles::{GpuInstanceProfile, ModelKey};

use super::FastMap;
use super::context::{Ctx, Realization, Value};
use super::room::{Sizes, room, share, suffix_sums};
use crate::{Occupancy, solve_gpu};

/// (request, count) served on one GPU.
pub(super) type Want = Vec<(usize, u32)>;

/// A GPU's options: fills, each a list of (request, count), kept one after another in one
/// block (the search makes many, and weighs them in order).
#[derive(Debug, Default)]
pub(super) struct Options {
    flat: Vec<(usize, u32)>,
    /// Where each fill ends in `flat`.
    ends: Vec<usize>,
}

impl Options {
    /// Adds a fill at the end.
    pub(super) fn push(&mut self, want: &[(usize, u32)]) {
        self.flat.extend_from_slice(want);
        self.ends.push(self.flat.len());
    }

    /// Adds a fill at the end: `a` and then `b`.
    pub(super) fn push_both(&mut self, a: &[(usize, u32)], b: &[(usize, u32)]) {
        self.flat.extend_from_slice(a);
        self.flat.extend_from_slice(b);
        self.ends.push(self.flat.len());
    }

    /// Every fill gone, the room kept.
    pub(super) fn clear(&mut self) {
        self.flat.clear();
        self.ends.clear();
    }

    /// How many fills.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Fill `i`.
    pub(super) fn get(&self, i: usize) -> &[(usize, u32)] {
        let start = i.checked_sub(1).map_or(0, |j| self.ends[j]);
        &self.flat[start..self.ends[i]]
    }

    /// The fills in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &[(usize, u32)]> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// An in-use occupancy's signature and instances per profile slot (four bits each).
type FitsKey = ((ModelKey, u32, u128), u128);

/// Profile slots a packed count key holds (four bits each).
const PACKED_SLOTS: usize = 32;

/// Options of one GPU's table made before each further one costs a unit of the budget: the
/// tables of GPUs serving a few requests of each profile stay below it (their fits are what
/// costs), while a GPU that may serve many distinct requests has as many options as ways to
/// pick a handful of them, and without a cost per option would make them all. On 1,400 fleets
/// of 3 to 16 GPUs, 256 leaves every plan and every proof as without the cost.
const FREE_OPTIONS: usize = 256;

/// What the search needs of one GPU again and again (see [`Exact::info`]).
struct GpuInfo {
    signature: (ModelKey, u32, u128),
    entries: Vec<(usize, &'static GpuInstanceProfile, Option<u32>)>,
    /// GPUs of one kind (the same in-use signature and the same requests to serve) have the
    /// same options: their table in [`Exact::options`].
    kind: usize,
}

/// What makes GPUs one kind for their options: the in-use signature and, per request they
/// may serve, the request and where its count sits in a packed key.
type KindKey = ((ModelKey, u32, u128), Vec<(usize, Option<u32>)>);

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

    /// Per GPU: its in-use signature and, per request it may serve (in the order of
    /// `ctx.eligible`), the request, its profile and where its count sits in a packed key
    /// (`None` where the profile's slot is past what a key holds).
    fn info(&mut self, g: usize) -> Rc<GpuInfo> {
        if let Some(info) = self.info.get(&g) {
            return Rc::clone(info);
        }
        let base = self.base(g).clone();
        let entries: Vec<(usize, &'static GpuInstanceProfile, Option<u32>)> = self.ctx.eligible[g]
            .iter()
            .map(|&(r, p)| {
                let shift = base
                    .profile_slot(p)
                    .filter(|&s| s < PACKED_SLOTS)
                    .and_then(|s| u32::try_from(4 * s).ok());
                (r, p, shift)
            })
            .collect();
        let signature = base.signature();
        let kind_key: KindKey = (
            signature,
            entries.iter().map(|&(r, _, shift)| (r, shift)).collect(),
        );
        let next = self.kinds.len();
        let kind = *self.kinds.entry(kind_key).or_insert(next);
        let made = Rc::new(GpuInfo {
            signature,
            entries,
            kind,
        });
        self.info.insert(g, Rc::clone(&made));
        made
    }

    /// Whether `want` fits on GPU `g` at all (beside its in-use instances; the free ones may
    /// be destroyed): the same answer as whether [`Exact::realize`] finds an outcome, for a
    /// fraction of the work. `packed`: the want's instances per profile slot, four bits each
    /// (`None` where they do not fit in a key: then the answer is not memoized). `None` once
    /// the budget is spent.
    fn fits(&mut self, g: usize, want: &[(usize, u32)], packed: Option<u128>) -> Option<bool> {
        let signature = self.info(g).signature;
        if let Some(&f) = packed.and_then(|k| self.fits_memo.get(&(signature, k))) {
            return Some(f);
        }
        self.budget = self.budget.checked_sub(1)?;
        let mut profiles = Vec::new();
        for &(r, c) in want {
            let p = self.ctx.profile_on(g, r)?;
            profiles.extend(core::iter::repeat_n(p, c as usize));
        }
        let f = solve_gpu(self.base(g), &profiles).is_some();
        if let Some(k) = packed {
            self.fits_memo.insert((signature, k), f);
        }
        Some(f)
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

    /// Every feasible `want` for GPU `g` under `rem`, in a fixed order: the same for every
    /// `rem` alike on the requests `g` may serve (up to the most instances of each profile a
    /// GPU holds), and for every GPU of its kind, so kept per kind by that. Making them spends
    /// the budget (a unit per fit not known yet, per pair of requests weighed for their rank
    /// and per option past [`FREE_OPTIONS`]; a kept table is free): `None` once it is spent.
    pub(super) fn options(&mut self, g: usize, rem: &[u32]) -> Option<Rc<Options>> {
        let info = self.info(g);
        let key: smallvec::SmallVec<[u8; 32]> = info
            .entries
            .iter()
            .map(|&(r, p, _)| {
                u8::try_from(rem[r].min(u32::from(p.max_instances))).unwrap_or(u8::MAX)
            })
            .collect();
        if let Some(found) = self
            .options_memo
            .get(&info.kind)
            .and_then(|m| m.get(key.as_slice()))
        {
            return Some(Rc::clone(found));
        }
        let made = Rc::new(self.make_options(g, rem)?);
        self.options_memo
            .entry(info.kind)
            .or_default()
            .insert(key.to_vec(), Rc::clone(&made));
        Some(made)
    }

    fn make_options(&mut self, g: usize, rem: &[u32]) -> Option<Options> {
        let groups: Vec<(usize, &'static GpuInstanceProfile, Option<u32>)> = self
            .info(g)
            .entries
            .iter()
            .filter(|(r, _, _)| rem[*r] > 0)
            .copied()
            .collect();
        let mut out = Options {
            flat: Vec::with_capacity(256),
            ends: Vec::with_capacity(64),
        };
        out.push(&[]);
        // Of two requests where one outranks the other (the same profile, a priority at
        // least as high and GPUs it may use among the other's), the lower one is served here
        // only if the higher one is served here in full: one optimum keeps the rule (see
        // `Ctx::outranks`), and only options keeping it are made.
        let ctx = self.ctx;
        // Per group, the requests of the groups before it that outrank it, and those it
        // outranks (a want holds only requests of the groups before). Only requests of one
        // profile rank, so each group is weighed against the earlier ones of its profile,
        // each pair a unit of the budget: a GPU that may serve very many requests of one
        // profile spends it here rather than stall.
        let mut related: Vec<(Vec<usize>, Vec<usize>)> = Vec::with_capacity(groups.len());
        let mut by_profile: Vec<(&GpuInstanceProfile, Vec<usize>)> = Vec::new();
        for &(r, p, _) in &groups {
            let at = match by_profile.iter().position(|(q, _)| *q == p) {
                Some(at) => at,
                None => {
                    by_profile.push((p, Vec::new()));
                    by_profile.len() - 1
                }
            };
            let (mut higher, mut lower) = (Vec::new(), Vec::new());
            for &q in &by_profile[at].1 {
                self.budget = self.budget.checked_sub(1)?;
                if ctx.outranks(q, r) {
                    higher.push(q);
                }
                if ctx.outranks(r, q) {
                    lower.push(q);
                }
            }
            by_profile[at].1.push(r);
            related.push((higher, lower));
        }
        // (next group, the want so far as a position in `out`, its instances per slot packed
        // as in `fits`); entries with no group left to add are not made.
        let mut stack: Vec<(usize, usize, Option<u128>)> = Vec::new();
        if !groups.is_empty() {
            stack.push((0, 0, Some(0)));
        }
        let mut w: Want = Vec::new();
        while let Some((k, at, packed)) = stack.pop() {
            let Some(&(r, _, shift)) = groups.get(k) else {
                continue;
            };
            let more = k + 1 < groups.len();
            let want = out.get(at);
            let (higher, lower) = &related[k];
            // A higher request decided already and not served in full: none of this one.
            let held_back = higher.iter().any(|&q| {
                want.iter()
                    .find(|&&(w, _)| w == q)
                    .is_none_or(|&(_, c)| c < rem[q])
            });
            // A lower request served already: all of this one, or the option is not kept.
            let in_full = lower
                .iter()
                .any(|&q| want.iter().any(|&(w, c)| w == q && c > 0));
            // Count 0 for this group: go on with the next.
            if more && !in_full {
                stack.push((k + 1, at, packed));
            }
            if held_back {
                continue;
            }
            w.clear();
            w.extend_from_slice(want);
            w.push((r, 0));
            for c in 1..=rem[r] {
                if let Some(last) = w.last_mut() {
                    last.1 = c;
                }
                // This group's instances join its slot's count; past four bits, no key.
                let key = packed.zip(shift).and_then(|(p, s)| {
                    let total = ((p >> s) & 0xf) + u128::from(c);
                    (total <= 0xf).then(|| (p & !(0xf << s)) | (total << s))
                });
                if self.fits(g, &w, key)? {
                    if in_full && c < rem[r] {
                        continue;
                    }
                    // Past `FREE_OPTIONS`, every option made is a unit of the budget,
                    // whether its fit was known or not: a GPU that may serve many distinct
                    // requests has very many.
                    if out.len() >= FREE_OPTIONS {
                        self.budget = self.budget.checked_sub(1)?;
                    }
                    out.push(&w);
                    if more {
                        stack.push((k + 1, out.len() - 1, key));
                    }
                } else {
                    break;
                }
            }
        }
        // Fuller options first: among equal plans the lower GPUs get the work.
        let mut order: Vec<usize> = (0..out.len()).collect();
        order.sort_by_cached_key(|&i| {
            core::cmp::Reverse(out.get(i).iter().map(|(_, c)| *c).sum::<u32>())
        });
        let mut sorted = Options {
            flat: Vec::with_capacity(out.flat.len()),
            ends: Vec::with_capacity(out.len()),
        };
        for i in order {
            sorted.push(out.get(i));
        }
        Some(sorted)
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
    use crate::batch::greedy::{Greedy, Mode};
    use crate::batch::testing::{arb_asks, arb_gpus, fleet, requests};
    use crate::batch::{Request, SolveOptions};

    /// A GPU that may serve very many requests of one profile, none outranking another
    /// (each tied to its own set of GPUs), has very many options, though every fit among
    /// them is known after a few: making them spends the budget, so the search gives up in
    /// its budget rather than making them all.
    #[test]
    fn making_options_spends_the_budget() {
        let fleet = fleet(&vec![Vec::new(); 12]);
        let mut reqs = Vec::new();
        for a in 1..12u32 {
            for b in a + 1..12 {
                reqs.push(Request::parse("1g.5gb", 1).unwrap().on_gpus(&[0, a, b]));
            }
        }
        reqs.truncate(20);
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let demand: Vec<u32> = reqs.iter().map(|r| r.count).collect();
        // 20 requests, seven 1g at most: C(20, 0) + … + C(20, 7) = 137,980 ways to fill GPU 0,
        // and eight fits.
        let mut search = Exact::over(&ctx, vec![0], 10_000);
        assert!(search.options(0, &demand).is_none());
        assert_eq!(search.budget, 0);
        // Five of them: C(5, 0) + … + C(5, 5) = 32 options, fewer than are free: the ten
        // pairs weighed for their rank and the fits cost.
        let few: Vec<u32> = (0..demand.len()).map(|r| u32::from(r < 5)).collect();
        let mut search = Exact::over(&ctx, vec![0], 10_000);
        assert_eq!(search.options(0, &few).map(|o| o.len()), Some(32));
        assert!((10_000 - 32..=10_000 - 10).contains(&search.budget));
    }

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
