//! The exact search: a dynamic program over GPUs (all of them, or a subset in a given order)
//! and the demand left, within a work budget.

use gpupart_profiles::{GpuInstanceProfile, ModelKey};

use super::FastMap;
use super::context::{Ctx, Realization, Value};
use super::patterns::shared_patterns;
use crate::{Occupancy, solve_gpu};

/// (request, count) served on one GPU.
pub(super) type Want = Vec<(usize, u32)>;

/// An in-use occupancy's signature and instances per profile slot.
type FitsKey = ((ModelKey, u32, u128), Vec<u32>);

pub(super) struct Exact<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    /// The GPUs searched, in order (positions into the fleet).
    pub(super) order: Vec<usize>,
    pub(super) memo: FastMap<(usize, Vec<u32>), (Value, Want)>,
    pub(super) real_memo: FastMap<(usize, Want), Option<Realization>>,
    pub(super) budget: u64,
    /// Per GPU: its in-use instances alone (free ones may always go).
    bases: FastMap<usize, Occupancy>,
    /// Whether instances (per profile slot) fit beside in-use ones, by the base's signature.
    fits_memo: FastMap<FitsKey, bool>,
    /// Per position of the order: the most instances the GPUs from there on can hold.
    suffix_caps: Option<Vec<u64>>,
}

impl<'c, 'a> Exact<'c, 'a> {
    /// A search over `order` (positions into the fleet) within `budget`.
    pub(super) fn over(ctx: &'c Ctx<'a>, order: Vec<usize>, budget: u64) -> Self {
        Exact {
            ctx,
            order,
            memo: FastMap::default(),
            real_memo: FastMap::default(),
            budget,
            bases: FastMap::default(),
            fits_memo: FastMap::default(),
            suffix_caps: None,
        }
    }

    fn base(&mut self, g: usize) -> &Occupancy {
        let gpu = &self.ctx.fleet.gpus()[g];
        self.bases.entry(g).or_insert_with(|| {
            let mut base = Occupancy::new(gpu.model);
            for x in gpu.instances().iter().filter(|x| x.in_use) {
                let _ = base.add(x.profile, x.start);
            }
            base
        })
    }

    fn profile_of(&self, g: usize, r: usize) -> Option<&'static GpuInstanceProfile> {
        self.ctx.eligible[g]
            .iter()
            .find(|(i, _)| *i == r)
            .map(|(_, p)| *p)
    }

    /// Whether `want` fits on GPU `g` at all (beside its in-use instances; the free ones may
    /// be destroyed): the same answer as whether [`Exact::realize`] finds an outcome, for a
    /// fraction of the work. `None` once the budget is spent.
    fn fits(&mut self, g: usize, want: &[(usize, u32)]) -> Option<bool> {
        let mut profiles = Vec::new();
        for &(r, c) in want {
            let p = self.profile_of(g, r)?;
            for _ in 0..c {
                profiles.push(p);
            }
        }
        let base = self.base(g).clone();
        let mut counts = vec![0u32; base.model().profiles.len()];
        for p in &profiles {
            counts[base.profile_slot(p)?] += 1;
        }
        let key = (base.signature(), counts);
        if let Some(&f) = self.fits_memo.get(&key) {
            return Some(f);
        }
        self.budget = self.budget.checked_sub(1)?;
        let f = solve_gpu(&base, &profiles).is_some();
        self.fits_memo.insert(key, f);
        Some(f)
    }

    /// Per position of the order, the most instances GPUs from there on can hold for the
    /// requests they may serve (their largest pattern each).
    fn suffix_caps(&mut self) -> Vec<u64> {
        if let Some(c) = &self.suffix_caps {
            return c.clone();
        }
        let mut caps = vec![0u64; self.order.len() + 1];
        for k in (0..self.order.len()).rev() {
            let g = self.order[k];
            let base = self.base(g).clone();
            let model = base.model();
            let slot_mask = self.ctx.eligible[g]
                .iter()
                .filter_map(|(_, p)| model.profiles.iter().position(|q| q == *p))
                .fold(0u64, |m, s| m | 1 << (s % 64));
            let (m, mask, packed) = base.signature();
            let cap = if slot_mask == 0 {
                0
            } else {
                shared_patterns(&base, (m, mask, packed, slot_mask))
                    .iter()
                    .map(|p| p.counts.iter().map(|&c| u64::from(c)).sum::<u64>())
                    .max()
                    .unwrap_or(0)
            };
            caps[k] = caps[k + 1] + cap;
        }
        self.suffix_caps = Some(caps.clone());
        caps
    }

    pub(super) fn realize(
        &mut self,
        g: usize,
        want: &[(usize, u32)],
    ) -> Option<Option<Realization>> {
        let key = (g, want.to_vec());
        if let Some(r) = self.real_memo.get(&key) {
            return Some(r.clone());
        }
        if self.budget == 0 {
            return None;
        }
        self.budget -= 1;
        let r = self.ctx.realize(g, want);
        self.real_memo.insert(key, r.clone());
        Some(r)
    }

    /// Every feasible `want` for GPU `g` under `rem`, in a fixed order.
    pub(super) fn options(&mut self, g: usize, rem: &[u32]) -> Option<Vec<Vec<(usize, u32)>>> {
        let groups: Vec<usize> = self.ctx.eligible[g]
            .iter()
            .map(|(r, _)| *r)
            .filter(|&r| rem[r] > 0)
            .collect();
        let mut out = vec![Vec::new()];
        let mut stack: Vec<(usize, Vec<(usize, u32)>)> = vec![(0, Vec::new())];
        while let Some((k, want)) = stack.pop() {
            let Some(&r) = groups.get(k) else { continue };
            // Count 0 for this group: go on with the next.
            stack.push((k + 1, want.clone()));
            for c in 1..=rem[r] {
                let mut w = want.clone();
                w.push((r, c));
                if self.fits(g, &w)? {
                    out.push(w.clone());
                    stack.push((k + 1, w));
                } else {
                    break;
                }
            }
        }
        // Fuller options first: among equal plans the lower GPUs get the work.
        out.sort_by_key(|w| core::cmp::Reverse(w.iter().map(|(_, c)| *c).sum::<u32>()));
        Some(out)
    }

    /// The best value of the GPUs from position `k` of the order on, serving at most `rem`.
    pub(super) fn best(&mut self, k: usize, rem: &[u32]) -> Option<Value> {
        let Some(&g) = self.order.get(k) else {
            return Some(Value {
                placed: vec![0; self.ctx.levels.len()],
                ..Value::default()
            });
        };
        let key = (k, rem.to_vec());
        if let Some((v, _)) = self.memo.get(&key) {
            return Some(v.clone());
        }
        let mut best: Option<(Value, Vec<(usize, u32)>)> = None;
        let levels = self.ctx.levels.len();
        let cap_after = self.suffix_caps()[k + 1];
        let mut left_by_level = vec![0u64; levels];
        for (r, &c) in rem.iter().enumerate() {
            left_by_level[self.ctx.level(r)] += u64::from(c);
        }
        for want in self.options(g, rem)? {
            // An option that cannot place as many (per level, highest first) as the best
            // one found here, even if every later GPU held all it can of what is left, is
            // not weighed: the state's best stays the same.
            if let Some((b, _)) = &best {
                let mut optimistic = vec![0u64; levels];
                let mut left = left_by_level.clone();
                for &(r, c) in &want {
                    let l = self.ctx.level(r);
                    optimistic[l] += u64::from(c);
                    left[l] -= u64::from(c);
                }
                for (o, l) in optimistic.iter_mut().zip(&left) {
                    *o += (*l).min(cap_after);
                }
                if optimistic < b.placed {
                    continue;
                }
            }
            // Every option weighed counts against the budget, memoized or not.
            self.budget = self.budget.checked_sub(1)?;
            let real = match self.realize(g, &want)? {
                Some(r) => r,
                None => continue,
            };
            let mut next = rem.to_vec();
            for &(r, c) in &want {
                next[r] -= c;
            }
            let v = self.ctx.value(&real).add(&self.best(k + 1, &next)?);
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, want));
            }
        }
        let (v, want) = best?;
        self.memo.insert(key, (v.clone(), want));
        Some(v)
    }

    /// Each GPU of the order's outcome in the best plan found for `demand` (after
    /// [`Exact::best`] from position 0).
    pub(super) fn reconstruct(&mut self, demand: &[u32]) -> Vec<Option<Realization>> {
        let mut rem = demand.to_vec();
        let mut out = Vec::new();
        for (k, &g) in self.order.iter().enumerate() {
            let want = self
                .memo
                .get(&(k, rem.clone()))
                .map(|(_, w)| w.clone())
                .unwrap_or_default();
            let real = self
                .real_memo
                .get(&(g, want.clone()))
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
