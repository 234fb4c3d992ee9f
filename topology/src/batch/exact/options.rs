//! A GPU's options for the exact search: every fill it may take under the demand left,
//! made once per kind of GPU and demand left on what it may serve, and whether a fill fits.

use std::rc::Rc;

use gpupart_profiles::{GpuInstanceProfile, ModelKey};

use super::{Exact, Want};
use crate::solve_gpu;

/// A GPU's options: fills, each a list of (request, count), kept one after another in one
/// block (the search makes many, and weighs them in order).
#[derive(Debug, Default)]
pub(in crate::batch) struct Options {
    flat: Vec<(usize, u32)>,
    /// Where each fill ends in `flat`.
    ends: Vec<usize>,
}

impl Options {
    /// Adds a fill at the end.
    pub(in crate::batch) fn push(&mut self, want: &[(usize, u32)]) {
        self.flat.extend_from_slice(want);
        self.ends.push(self.flat.len());
    }

    /// Adds a fill at the end: `a` and then `b`.
    pub(in crate::batch) fn push_both(&mut self, a: &[(usize, u32)], b: &[(usize, u32)]) {
        self.flat.extend_from_slice(a);
        self.flat.extend_from_slice(b);
        self.ends.push(self.flat.len());
    }

    /// Every fill gone, the room kept.
    pub(in crate::batch) fn clear(&mut self) {
        self.flat.clear();
        self.ends.clear();
    }

    /// How many fills.
    pub(in crate::batch) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Fill `i`.
    pub(in crate::batch) fn get(&self, i: usize) -> &[(usize, u32)] {
        let start = i.checked_sub(1).map_or(0, |j| self.ends[j]);
        &self.flat[start..self.ends[i]]
    }

    /// The fills in order.
    pub(in crate::batch) fn iter(&self) -> impl Iterator<Item = &[(usize, u32)]> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// An in-use occupancy's signature and instances per profile slot (four bits each).
pub(super) type FitsKey = ((ModelKey, u32, u128), u128);

/// Profile slots a packed count key holds (four bits each).
const PACKED_SLOTS: usize = 32;

/// Options of one GPU's table made before each further one costs a unit of the budget: the
/// tables of GPUs serving a few requests of each profile stay below it (their fits are what
/// costs), while a GPU that may serve many distinct requests has as many options as ways to
/// pick a handful of them, and without a cost per option would make them all. On 1,400 fleets
/// of 3 to 16 GPUs, 256 leaves every plan and every proof as without the cost.
const FREE_OPTIONS: usize = 256;

/// What the search needs of one GPU again and again (see [`Exact::info`]).
pub(super) struct GpuInfo {
    signature: (ModelKey, u32, u128),
    entries: Vec<(usize, &'static GpuInstanceProfile, Option<u32>)>,
    /// GPUs of one kind (the same in-use signature and the same requests to serve) have the
    /// same options: their table in [`Exact::options`].
    kind: usize,
}

/// What makes GPUs one kind for their options: the in-use signature and, per request they
/// may serve, the request and where its count sits in a packed key.
pub(super) type KindKey = ((ModelKey, u32, u128), Vec<(usize, Option<u32>)>);

impl Exact<'_, '_> {
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

    /// Every feasible `want` for GPU `g` under `rem`, in a fixed order: the same for every
    /// `rem` alike on the requests `g` may serve (up to the most instances of each profile a
    /// GPU holds), and for every GPU of its kind, so kept per kind by that. Making them spends
    /// the budget (a unit per fit not known yet, per pair of requests weighed for their rank
    /// and per option past [`FREE_OPTIONS`]; a kept table is free): `None` once it is spent.
    pub(in crate::batch) fn options(&mut self, g: usize, rem: &[u32]) -> Option<Rc<Options>> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::context::Ctx;
    use crate::batch::testing::fleet;
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
}
