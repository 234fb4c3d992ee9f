//! The exact search over one set of GPUs: maximal fills only, states cut where the set
//! cannot place more than it does now.

use gpupart_profiles::ModelKey;

use super::super::FastMap;
use super::super::context::Ctx;
use super::super::exact::Options;
use super::super::patterns::{Patterns, shared_patterns};
use super::super::room::{Sizes, room, share, suffix_sums};
use crate::Occupancy;

/// Fills of one GPU weighed per step of a set's search, the fullest first.
const OPTIONS: usize = 64;

/// Ways to split one pattern's instances among the requests that may take them, at most
/// (the first found).
const WANTS: usize = 256;

/// The packing patterns of one base occupancy over some profile slots, and per pattern the
/// slots (as bits) where one more instance still fits: another pattern of the set.
pub(super) type PatternSet = std::rc::Rc<(Patterns, Vec<u64>)>;

type FastSet<K> = rustc_hash::FxHashSet<K>;

/// The exact search over a few GPUs for the instances placed alone (per priority level,
/// highest first): free instances count as gone (any plan may destroy them; `realize` then
/// keeps and reuses what it can), and each GPU only takes *maximal* fills, which loses
/// nothing: one more instance placed now is never worth less than the room it takes later.
pub(super) struct Sub<'c, 'a> {
    ctx: &'c Ctx<'a>,
    set: Vec<usize>,
    /// The requests in play (global indices); the search works on their local indices.
    pub(super) reqs: Vec<usize>,
    /// Per GPU of the set: its in-use instances alone, and per profile slot the groups of
    /// local requests that may take it there (requests with the same constraints in one
    /// group, highest priority first).
    bases: Vec<Occupancy>,
    slots: Vec<Vec<(usize, Vec<Vec<usize>>)>>,
    /// Per state: its best, or `None` where no completion beats `before`.
    /// Per position of the set, keyed by the demand left (looked up without a copy of it).
    memo: Vec<FastMap<Vec<u32>, Option<Step>>>,
    patterns: &'c mut FastMap<(ModelKey, u32, u128, u64), PatternSet>,
    maximal: &'c mut FastMap<MaximalKey, std::rc::Rc<Vec<Vec<u8>>>>,
    pub(super) budget: u64,
    /// The pot at the first GPU (local), and what the set places now per level: only
    /// states from which more can be placed are searched.
    root: Vec<u32>,
    before: Vec<u64>,
    /// Per position of the set, what the GPUs from there on can hold (see [`room`]); per
    /// local request, its level and the least memory and compute one instance takes on the
    /// set's GPUs.
    room: Vec<(u64, u64, u64)>,
    sizes: Sizes,
    /// A buffer for [`Sub::viable`]: per level, what the set serves so far.
    served: Vec<u64>,
    /// Per position of the set, its fills by the demand left of the requests it may serve
    /// (all they depend on), and how many were made.
    fills: Vec<FastMap<Vec<u32>, Fills>>,
    /// A buffer for [`Sub::options`]' key, kept between calls.
    fills_key: Vec<u32>,
    /// Buffers for [`Sub::make_options`] (one pattern's fills, one slot's splits, their
    /// product, a split being made), kept between calls.
    buffers: (Options, Options, Options, Vec<(usize, u32)>),
    /// Nothing at any level: the value past the set's last GPU.
    zero: Value,
    /// Buffers for [`Sub::best`] at each position of the set (the demand left after a fill,
    /// its value, the best value so far), kept between calls: the search makes very many.
    scratch: Vec<(Vec<u32>, Vec<u64>, Vec<u64>)>,
}

/// A GPU's fills to weigh, and how many were made to choose them.
type Fills = std::rc::Rc<(Options, u64)>;

/// A per-level count of instances, shared between the memo and its callers.
pub(super) type Value = std::rc::Rc<[u64]>;

/// The best per-level count from one step of the search on, and the fill it starts with (in
/// the GPU's fills, by index).
type Step = (Value, Fills, usize);

/// A base occupancy and, per profile slot asked, how many instances may be placed at most.
pub(super) type MaximalKey = ((ModelKey, u32, u128), Vec<(usize, u8)>);

impl<'c, 'a> Sub<'c, 'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        ctx: &'c Ctx<'a>,
        set: Vec<usize>,
        pot: &[u32],
        before: Vec<u64>,
        patterns: &'c mut FastMap<(ModelKey, u32, u128, u64), PatternSet>,
        maximal: &'c mut FastMap<MaximalKey, std::rc::Rc<Vec<Vec<u8>>>>,
        budget: u64,
    ) -> Self {
        let gpus = ctx.fleet.gpus();
        let mut reqs: Vec<usize> = set
            .iter()
            .flat_map(|&g| ctx.eligible[g].iter().map(|(r, _)| *r))
            .filter(|&r| pot[r] > 0)
            .collect();
        reqs.sort_unstable();
        reqs.dedup();
        let local = |r: usize| reqs.binary_search(&r).ok();
        // Per local request, the GPUs of the set it may use (as bits, for sets of up to 64).
        let mut reach = vec![0u64; reqs.len()];
        for (k, &g) in set.iter().enumerate().take(64) {
            for &(r, _) in ctx.eligible[g].iter() {
                if let Some(l) = local(r) {
                    reach[l] |= 1 << k;
                }
            }
        }
        let mut bases = Vec::with_capacity(set.len());
        let mut slots = Vec::with_capacity(set.len());
        for &g in &set {
            let gpu = &gpus[g];
            let base = gpu.in_use_occupancy();
            let mut per_slot: Vec<(usize, Vec<Vec<usize>>)> = Vec::new();
            for &(r, p) in ctx.eligible[g].iter() {
                let (Some(l), Some(s)) = (local(r), base.profile_slot(p)) else {
                    continue;
                };
                let at = match per_slot.iter().position(|(q, _)| *q == s) {
                    Some(i) => i,
                    None => {
                        per_slot.push((s, Vec::new()));
                        per_slot.len() - 1
                    }
                };
                let req = &ctx.requests[r];
                let groups = &mut per_slot[at].1;
                // Requests for one profile that may use the same GPUs of the set are one
                // group: whichever of them an instance serves, the rest of the set can
                // serve the same, so the highest priority may as well take first.
                match groups.iter().position(|grp| {
                    let o = &ctx.requests[reqs[grp[0]]];
                    o.profile == req.profile
                        && if set.len() <= 64 {
                            reach[grp[0]] == reach[l]
                        } else {
                            o.model == req.model
                                && o.gpus == req.gpus
                                && o.numa_node == req.numa_node
                        }
                }) {
                    Some(i) => groups[i].push(l),
                    None => groups.push(vec![l]),
                }
            }
            for (_, groups) in &mut per_slot {
                for grp in groups.iter_mut() {
                    grp.sort_by_key(|&l| (ctx.level(reqs[l]), l));
                }
            }
            per_slot.sort_by_key(|(s, _)| *s);
            bases.push(base);
            slots.push(per_slot);
        }
        let levels: Vec<usize> = reqs.iter().map(|&r| ctx.level(r)).collect();
        let mut least = vec![(u64::MAX, u64::MAX); reqs.len()];
        let mut rooms = Vec::with_capacity(set.len());
        for (k, &g) in set.iter().enumerate() {
            let model = gpus[g].model;
            for (s, groups) in &slots[k] {
                let (memory, compute) = share(&model.profiles[*s], model);
                for &l in groups.iter().flatten() {
                    least[l] = (least[l].0.min(memory), least[l].1.min(compute));
                }
            }
            let slot_mask = slots[k].iter().fold(0u64, |m, (s, _)| m | 1 << (s % 64));
            rooms.push(room(&bases[k], slot_mask));
        }
        let root = reqs.iter().map(|&r| pot[r]).collect();
        let positions = set.len();
        Sub {
            ctx,
            set,
            reqs,
            bases,
            slots,
            sizes: Sizes::new(levels, least),
            memo: (0..positions).map(|_| FastMap::default()).collect(),
            fills: (0..positions).map(|_| FastMap::default()).collect(),
            fills_key: Vec::new(),
            buffers: Default::default(),
            zero: vec![0; ctx.levels.len()].into(),
            patterns,
            maximal,
            budget,
            root,
            before,
            room: suffix_sums(&rooms),
            served: Vec::new(),
            scratch: vec![Default::default(); positions],
        }
    }

    /// Whether a plan from position `k` with `rem` left may place more than the set does now
    /// (per level, highest first): compared level by level, each level's most made only
    /// while the levels above tie, in the room they leave (`Sizes::reach_against`).
    fn viable(&mut self, k: usize, rem: &[u32]) -> bool {
        let served = &mut self.served;
        served.clear();
        served.resize(self.ctx.levels.len(), 0);
        for (l, (&d, &left)) in self.root.iter().zip(rem).enumerate() {
            served[self.sizes.level(l)] += u64::from(d - left);
        }
        self.sizes
            .reach_against(self.room[k], rem, |l| served[l], &self.before)
            .is_gt()
    }

    fn pattern_set(&mut self, k: usize, slot_mask: u64) -> PatternSet {
        let (m, mask, packed) = self.bases[k].signature();
        let base = &self.bases[k];
        self.patterns
            .entry((m, mask, packed, slot_mask))
            .or_insert_with(|| {
                let list = shared_patterns(base, (m, mask, packed, slot_mask));
                let set: FastSet<&[u8]> = list.iter().map(|p| p.counts.as_slice()).collect();
                let mut probe = Vec::new();
                let grows = list
                    .iter()
                    .map(|p| {
                        let mut bits = 0u64;
                        for s in (0..p.counts.len().min(64)).filter(|s| slot_mask >> s & 1 == 1) {
                            probe.clone_from(&p.counts);
                            probe[s] = probe[s].saturating_add(1);
                            if set.contains(probe.as_slice()) {
                                bits |= 1 << s;
                            }
                        }
                        bits
                    })
                    .collect();
                std::rc::Rc::new((list, grows))
            })
            .clone()
    }

    /// [`Sub::make_options`], made once per demand left of the requests GPU `k` may serve.
    fn options(&mut self, k: usize, rem: &[u32]) -> Fills {
        let mut key = std::mem::take(&mut self.fills_key);
        key.clear();
        key.extend(
            self.slots[k]
                .iter()
                .flat_map(|(_, groups)| groups.iter().flatten().map(|&l| rem[l])),
        );
        // Looked up without a copy of the key; copied only when kept.
        let made = match self.fills[k].get(key.as_slice()) {
            Some(found) => found.clone(),
            None => {
                let made = std::rc::Rc::new(self.make_options(k, rem));
                self.fills[k].insert(key.clone(), made.clone());
                made
            }
        };
        self.fills_key = key;
        made
    }

    /// Every maximal fill of GPU `k` of the set under `rem` (local (request, count)), the
    /// fullest `OPTIONS` of them where there are more, and how many were made in all.
    fn make_options(&mut self, k: usize, rem: &[u32]) -> (Options, u64) {
        let caps: Vec<(usize, u32)> = self.slots[k]
            .iter()
            .map(|(s, groups)| (*s, asked(groups.iter().flatten(), rem)))
            .collect();
        let slot_mask = caps
            .iter()
            .filter(|(_, c)| *c > 0)
            .fold(0u64, |m, (s, _)| m | 1 << (s % 64));
        if slot_mask == 0 {
            let mut none = Options::default();
            none.push(&[]);
            return (none, 1);
        }
        // The maximal patterns under these caps: the same for every GPU of the same base,
        // so shared by every set and step of this improvement.
        let (m, mask, packed) = self.bases[k].signature();
        let cap_key: Vec<(usize, u8)> = caps
            .iter()
            .map(|&(s, c)| (s, u8::try_from(c.min(64)).unwrap_or(64)))
            .collect();
        let key = ((m, mask, packed), cap_key);
        let maximal = if let Some(found) = self.maximal.get(&key) {
            found.clone()
        } else {
            let set = self.pattern_set(k, slot_mask);
            // Within the caps, and no slot below its cap where one more still fits.
            let list: Vec<Vec<u8>> = set
                .0
                .iter()
                .zip(&set.1)
                .filter(|(p, _)| caps.iter().all(|&(s, c)| u32::from(p.counts[s]) <= c))
                .filter(|&(p, &grows)| {
                    caps.iter().all(|&(s, c)| {
                        c == 0 || u32::from(p.counts[s]) >= c || s >= 64 || grows >> s & 1 == 0
                    })
                })
                .map(|(p, _)| p.counts.clone())
                .collect();
            let list = std::rc::Rc::new(list);
            self.maximal.insert(key, list.clone());
            list
        };
        let mut out = Options::default();
        let (mut wants, mut splits, mut next, mut base) = std::mem::take(&mut self.buffers);
        for p in maximal.iter() {
            // Split each slot's instances among its groups, every way. The splits of one
            // slot are the same whatever came before, so made once; of the product, only
            // the first `WANTS` are kept, so only they are made.
            wants.clear();
            wants.push(&[]);
            for (s, groups) in &self.slots[k] {
                let n = u32::from(p[*s]);
                if n == 0 {
                    continue;
                }
                splits.clear();
                split(groups, rem, n, 0, &mut base, &mut splits);
                next.clear();
                'product: for w in wants.iter() {
                    for sp in splits.iter() {
                        if next.len() == WANTS {
                            break 'product;
                        }
                        next.push_both(w, sp);
                    }
                }
                core::mem::swap(&mut wants, &mut next);
            }
            for w in wants.iter() {
                out.push(w);
            }
        }
        self.buffers = (wants, splits, next, base);
        let made = out.len() as u64;
        if out.len() == 0 {
            out.push(&[]);
        }
        // The fullest fills first (higher priorities weigh more), and only the first
        // `OPTIONS`: a neighbourhood to search, not a proof.
        if out.len() > OPTIONS {
            let sizes = &self.sizes;
            let worth = |w: &[(usize, u32)]| -> u64 {
                w.iter()
                    .map(|&(l, c)| {
                        u64::from(c) << (8 * (3usize.saturating_sub(sizes.level(l))).min(7))
                    })
                    .sum()
            };
            let mut order: Vec<(core::cmp::Reverse<u64>, usize)> = (0..out.len())
                .map(|i| (core::cmp::Reverse(worth(out.get(i))), i))
                .collect();
            // Stable: fills of equal worth keep the order they were made in.
            order.sort_by_key(|&(w, _)| w);
            let mut kept = Options::default();
            for &(_, i) in order.iter().take(OPTIONS) {
                kept.push(out.get(i));
            }
            out = kept;
        }
        (out, made)
    }

    /// The best per-level count of instances GPUs `k..` of the set place under `rem`:
    /// `Some(None)` where no plan from here places more than the set does now, `None` once
    /// the budget is spent.
    pub(super) fn best(&mut self, k: usize, rem: &[u32]) -> Option<Option<Value>> {
        let levels = self.ctx.levels.len();
        if k == self.set.len() {
            return Some(self.viable(k, rem).then(|| self.zero.clone()));
        }
        if let Some(found) = self.memo[k].get(rem) {
            return Some(found.as_ref().map(|(v, _, _)| v.clone()));
        }
        if !self.viable(k, rem) {
            self.memo[k].insert(rem.to_vec(), None);
            return Some(None);
        }
        // The demand left after a fill, its value, and the best value so far (at `at`).
        let (mut next, mut v, mut best) = std::mem::take(&mut self.scratch[k]);
        next.clear();
        next.extend_from_slice(rem);
        v.clear();
        v.resize(levels, 0);
        best.clear();
        best.resize(levels, 0);
        let mut at: Option<usize> = None;
        let fills = self.options(k, rem);
        let (options, made) = (&fills.0, fills.1);
        // Fills made beyond those weighed are work too (whether made now or before).
        self.budget = self
            .budget
            .checked_sub(made.saturating_sub(options.len() as u64))?;
        for (i, want) in options.iter().enumerate() {
            self.budget = self.budget.checked_sub(1)?;
            next.copy_from_slice(rem);
            v.fill(0);
            for &(l, c) in want {
                next[l] -= c;
                v[self.sizes.level(l)] += u64::from(c);
            }
            let Some(rest) = self.best(k + 1, &next)? else {
                continue;
            };
            for (a, b) in v.iter_mut().zip(rest.iter()) {
                *a += b;
            }
            if at.is_none() || v > best {
                best.copy_from_slice(&v);
                at = Some(i);
            }
        }
        let step: Option<Step> = at.map(|i| (Value::from(best.as_slice()), fills.clone(), i));
        let value = step.as_ref().map(|(v, _, _)| v.clone());
        self.memo[k].insert(rem.to_vec(), step);
        self.scratch[k] = (next, v, best);
        Some(value)
    }

    /// The fills of the best plan (after `best(0, rem)`), as global (request, count) per GPU.
    pub(super) fn wants(&self, rem: &[u32]) -> Vec<Vec<(usize, u32)>> {
        let mut rem = rem.to_vec();
        let mut out = Vec::with_capacity(self.set.len());
        for k in 0..self.set.len() {
            let want = self.memo[k]
                .get(&rem)
                .and_then(|found| found.as_ref().map(|(_, fills, i)| fills.0.get(*i).to_vec()))
                .unwrap_or_default();
            for &(l, c) in &want {
                rem[l] -= c;
            }
            let mut global: Vec<(usize, u32)> =
                want.iter().map(|&(l, c)| (self.reqs[l], c)).collect();
            global.sort_unstable();
            out.push(global);
        }
        out
    }
}

/// What the local requests `locals` still ask in `rem`, in all: saturating, since each may
/// ask up to `u32::MAX`.
fn asked<'l>(locals: impl IntoIterator<Item = &'l usize>, rem: &[u32]) -> u32 {
    locals
        .into_iter()
        .fold(0u32, |sum, &l| sum.saturating_add(rem[l]))
}

/// Every way to give `n` instances of one slot to its `groups` from the `at`-th on (within
/// what each asks in `rem`), each after what `base` holds, into `out`; within a group the
/// highest priority takes first. `base` is as it was when this returns.
fn split(
    groups: &[Vec<usize>],
    rem: &[u32],
    n: u32,
    at: usize,
    base: &mut Vec<(usize, u32)>,
    out: &mut Options,
) {
    if n == 0 {
        out.push(base);
        return;
    }
    let Some(group) = groups.get(at) else { return };
    let cap = asked(group, rem);
    let rest_cap = asked(groups[at + 1..].iter().flatten(), rem);
    let mark = base.len();
    // This group takes `t`, the later groups the rest.
    for t in (n.saturating_sub(rest_cap)..=n.min(cap)).rev() {
        let mut left = t;
        for &l in group {
            let take = left.min(rem[l]);
            if take > 0 {
                base.push((l, take));
                left -= take;
            }
        }
        split(groups, rem, n - t, at + 1, base, out);
        base.truncate(mark);
    }
}
