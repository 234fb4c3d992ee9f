//! The exact search: a dynamic program over GPUs (all of them, or a subset in a given order)
//! and the demand left, within a work budget.

use super::FastMap;
use super::context::{Ctx, Realization, Value};

/// (request, count) served on one GPU.
pub(super) type Want = Vec<(usize, u32)>;

pub(super) struct Exact<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    /// The GPUs searched, in order (positions into the fleet).
    pub(super) order: Vec<usize>,
    pub(super) memo: FastMap<(usize, Vec<u32>), (Value, Want)>,
    pub(super) real_memo: FastMap<(usize, Want), Option<Realization>>,
    pub(super) budget: u64,
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
        }
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
                match self.realize(g, &w)? {
                    Some(_) => {
                        out.push(w.clone());
                        stack.push((k + 1, w));
                    }
                    None => break,
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
        for want in self.options(g, rem)? {
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
