//! The packer's LPs: per class (the mix of patterns for its GPUs) and over all classes at
//! once (the configuration LP), each solved by the small simplex and rounded down to whole
//! GPUs.

use gpupart_profiles::GpuInstanceProfile;

use super::FastMap;
use super::greedy::Greedy;
use super::patterns::Patterns;
use crate::Occupancy;

impl Greedy<'_, '_> {
    /// The LP columns of a class like GPU `g` on `base`: its patterns over the profiles
    /// requests still ask for (`rem`), each request's takers per profile slot (highest
    /// priority first), and each pattern's worth. `None` where nothing is asked.
    fn columns(&mut self, g: usize, base: &Occupancy, rem: &[u32]) -> Option<Columns> {
        let model = base.model();
        let elig = &self.ctx.eligible[g];
        let mut takers: Vec<Vec<usize>> = vec![Vec::new(); model.profiles.len()];
        for &(r, p) in elig.iter() {
            if rem[r] == 0 {
                continue;
            }
            if let Some(s) = model.profiles.iter().position(|q| q == p) {
                takers[s].push(r);
            }
        }
        for t in &mut takers {
            t.sort_by_key(|&r| (core::cmp::Reverse(self.ctx.requests[r].priority), r));
        }
        let slot_mask = takers
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .fold(0u64, |m, (s, _)| m | 1 << (s % 64));
        if slot_mask == 0 {
            return None;
        }
        let patterns = self.patterns_for(base, slot_mask);
        // An instance is worth its best taker's priority weight (`Ctx::lp_weight`); a hair
        // more for a fuller GPU breaks ties towards fewer GPUs.
        let weight: Vec<f64> = takers
            .iter()
            .map(|t| t.first().map_or(0.0, |&r| self.ctx.lp_weight(r)))
            .collect();
        let (mem, comp) = (
            f64::from(model.memory_slices),
            f64::from(model.compute_slices),
        );
        let value: Vec<f64> = patterns
            .iter()
            .map(|p| {
                p.counts
                    .iter()
                    .enumerate()
                    .map(|(s, &c)| {
                        let q = &model.profiles[s];
                        f64::from(c)
                            * (weight[s]
                                + 1e-3
                                    * (f64::from(q.memory_slices) / mem
                                        + f64::from(q.compute_slices) / comp))
                    })
                    .sum()
            })
            .collect();
        Some(Columns {
            model,
            patterns,
            takers,
            weights: weight,
            value,
        })
    }

    /// The GPUs of a class of `n` GPUs like `g`, filled by the LP's choice of patterns for the
    /// demand left (`rem`), rounded down: per GPU, (request, count) and the creations. Empty
    /// where the LP does not apply or gives nothing.
    pub(super) fn lp_mix(
        &mut self,
        g: usize,
        base: &Occupancy,
        rem: &[u32],
        n: usize,
    ) -> Vec<Filled> {
        let Some(cols) = self.columns(g, base, rem) else {
            return Vec::new();
        };
        let slots: Vec<usize> = (0..cols.takers.len())
            .filter(|&s| !cols.takers[s].is_empty())
            .collect();
        let mut a = vec![vec![1.0; cols.patterns.len()]];
        let mut b = vec![n as f64];
        for &s in &slots {
            a.push(
                cols.patterns
                    .iter()
                    .map(|p| f64::from(p.counts[s]))
                    .collect(),
            );
            b.push(cols.takers[s].iter().map(|&r| f64::from(rem[r])).sum());
        }
        let Some(x) = super::lp::maximize(&cols.value, &a, &b, super::lp::Rule::Bland) else {
            return Vec::new();
        };
        let mut left = rem.to_vec();
        round(&cols, &x, n, &mut left)
    }

    /// One LP over every class at once (the configuration LP), rounded down: per class (in
    /// `classes` order), its GPUs' fills. Columns: per class and pattern, how many GPUs take
    /// it (worth only a hair for fullness); per class, profile slot and request that may take
    /// it, how many instances go to that request (worth the request's priority weight). Rows:
    /// per class its GPUs; per class and slot, no more instances assigned than its patterns
    /// hold; per request its demand. Empty where it would exceed `MAX_COLUMNS` columns.
    ///
    /// Classes with the same columns (the same patterns fit, for the same takers: GPUs whose
    /// instances differ but leave alike room) are one in the LP, so it grows with the kinds of
    /// room, not with the kinds of GPU; each class then takes its members' share of the
    /// merged class's GPUs, in order. Not in the run where free instances count as gone
    /// ([`Greedy::destroy_free`]): there merging placed no more on the whole.
    pub(super) fn global_mix(
        &mut self,
        classes: &[(Vec<usize>, Occupancy)],
        rem: &[u32],
    ) -> Vec<Vec<Filled>> {
        if self.destroy_free {
            // Here merging made plans no better on the whole (on 180 generated fleets of 100
            // to 1,000 GPUs: 2 placed more, 4 fewer), so each class stays its own.
            let cols: Vec<Option<Columns>> = classes
                .iter()
                .map(|(members, base)| self.columns(members[0], base, rem))
                .collect();
            return self.global_mix_over(classes, cols, rem);
        }
        let cols: Vec<Option<Columns>> = classes
            .iter()
            .map(|(members, base)| self.columns(members[0], base, rem))
            .collect();
        let groups = merge_alike(cols);
        let merged: Vec<(Vec<usize>, Occupancy)> = groups
            .iter()
            .map(|(of, _)| {
                let members = of
                    .iter()
                    .flat_map(|&ci| classes[ci].0.iter().copied())
                    .collect();
                (members, classes[of[0]].1.clone())
            })
            .collect();
        let (of, cols): (Vec<Vec<usize>>, Vec<Option<Columns>>) = groups.into_iter().unzip();
        let filled = self.global_mix_over(&merged, cols, rem);
        if filled.is_empty() {
            return Vec::new();
        }
        // Each group's runs, cut among its classes by their sizes, in order.
        let mut out: Vec<Vec<Filled>> = vec![Vec::new(); classes.len()];
        for (of, runs) in of.iter().zip(filled) {
            let mut at = 0usize;
            let mut room = classes[of[0]].0.len();
            for (want, creates, mut times) in runs {
                while times > 0 && at < of.len() {
                    let take = times.min(room);
                    if take > 0 {
                        out[of[at]].push((want.clone(), creates.clone(), take));
                        times -= take;
                        room -= take;
                    }
                    if room == 0 {
                        at += 1;
                        room = of.get(at).map_or(0, |&ci| classes[ci].0.len());
                    }
                }
            }
        }
        out
    }

    /// [`Greedy::global_mix`] over `classes` with their columns `cols` (one each, in order).
    fn global_mix_over(
        &mut self,
        classes: &[(Vec<usize>, Occupancy)],
        cols: Vec<Option<Columns>>,
        rem: &[u32],
    ) -> Vec<Vec<Filled>> {
        const MAX_COLUMNS: usize = 4_000;
        let mut n_pattern_cols = 0usize;
        let mut links: Vec<(usize, usize)> = Vec::new(); // (class, slot) with takers
        let mut assign: Vec<(usize, usize, usize)> = Vec::new(); // (link, request, class)
        for (ci, c) in cols.iter().enumerate() {
            if let Some(c) = c {
                n_pattern_cols += c.patterns.len();
                for (s, t) in c.takers.iter().enumerate() {
                    if t.is_empty() {
                        continue;
                    }
                    let link = links.len();
                    links.push((ci, s));
                    for &r in t {
                        assign.push((link, r, ci));
                    }
                }
            }
            if n_pattern_cols > MAX_COLUMNS {
                return Vec::new();
            }
        }
        if links.len() != assign.len() && n_pattern_cols + assign.len() > MAX_COLUMNS {
            return Vec::new();
        }
        // Where no profile slot of any class has two takers, the assignment is the pattern
        // itself: a smaller LP (no link rows, no assignment columns).
        let compact = links.len() == assign.len();
        if compact {
            return self.global_compact(classes, &cols, n_pattern_cols, rem);
        }
        let total = n_pattern_cols + assign.len();
        let rows = classes.len() + links.len() + rem.len();
        let mut a = vec![vec![0.0; total]; rows];
        let mut b: Vec<f64> = classes.iter().map(|(m, _)| m.len() as f64).collect();
        b.extend(std::iter::repeat_n(0.0, links.len()));
        b.extend(rem.iter().map(|&r| f64::from(r)));
        let mut value = vec![0.0; total];
        let mut at = 0usize;
        let mut link_of: FastMap<(usize, usize), usize> = FastMap::default();
        for (l, &(ci, s)) in links.iter().enumerate() {
            link_of.insert((ci, s), l);
        }
        for (ci, c) in cols.iter().enumerate() {
            let Some(c) = c else { continue };
            for (k, p) in c.patterns.iter().enumerate() {
                a[ci][at + k] = 1.0;
                // The pattern's own worth is its fullness hair; the instances are worth their
                // request's weight through the assignment columns.
                let hair: f64 = c.value[k]
                    - p.counts
                        .iter()
                        .enumerate()
                        .map(|(s, &n)| f64::from(n) * c.weight(s))
                        .sum::<f64>();
                value[at + k] = hair;
                for (s, &n) in p.counts.iter().enumerate() {
                    if let Some(&l) = link_of.get(&(ci, s)) {
                        a[classes.len() + l][at + k] = -f64::from(n);
                    }
                }
            }
            at += c.patterns.len();
        }
        for (j, &(l, r, _)) in assign.iter().enumerate() {
            let col = n_pattern_cols + j;
            a[classes.len() + l][col] = 1.0;
            a[classes.len() + links.len() + r][col] = 1.0;
            value[col] = self.ctx.lp_weight(r);
        }
        let Some(x) = super::lp::maximize(&value, &a, &b, super::lp::Rule::BlandFirst) else {
            return Vec::new();
        };
        // The LP's assignment, per class and slot: how much each request gets there.
        let mut quota: Vec<Vec<(usize, f64)>> = vec![Vec::new(); links.len()];
        for (j, &(l, r, _)) in assign.iter().enumerate() {
            quota[l].push((r, x[n_pattern_cols + j]));
        }
        let mut left = rem.to_vec();
        let mut out = Vec::with_capacity(classes.len());
        let mut at = 0usize;
        for (ci, ((members, _), c)) in classes.iter().zip(&cols).enumerate() {
            let Some(c) = c else {
                out.push(Vec::new());
                continue;
            };
            let n = c.patterns.len();
            // Takers per slot reordered by the LP's share, largest first.
            let mut c2 = Columns {
                model: c.model,
                patterns: c.patterns.clone(),
                takers: c.takers.clone(),
                weights: c.weights.clone(),
                value: c.value.clone(),
            };
            for (s, t) in c2.takers.iter_mut().enumerate() {
                if let Some(&l) = link_of.get(&(ci, s)) {
                    let share = |r: usize| {
                        quota[l]
                            .iter()
                            .find(|(q, _)| *q == r)
                            .map_or(0.0, |(_, v)| *v)
                    };
                    t.sort_by(|&a, &b| share(b).total_cmp(&share(a)).then(a.cmp(&b)));
                }
            }
            out.push(round(&c2, &x[at..at + n], members.len(), &mut left));
            at += n;
        }
        out
    }

    /// [`Greedy::global_mix`] where every profile slot has one taker: pattern columns credit
    /// their instances straight to the demand rows.
    fn global_compact(
        &self,
        classes: &[(Vec<usize>, Occupancy)],
        cols: &[Option<Columns>],
        total: usize,
        rem: &[u32],
    ) -> Vec<Vec<Filled>> {
        let rows = classes.len() + rem.len();
        let mut a = vec![vec![0.0; total]; rows];
        let mut b: Vec<f64> = classes.iter().map(|(m, _)| m.len() as f64).collect();
        b.extend(rem.iter().map(|&r| f64::from(r)));
        let mut value = Vec::with_capacity(total);
        let mut at = 0usize;
        for (ci, c) in cols.iter().enumerate() {
            let Some(c) = c else { continue };
            for (k, p) in c.patterns.iter().enumerate() {
                a[ci][at + k] = 1.0;
                for (s, &n) in p.counts.iter().enumerate() {
                    if let Some(&r) = c.takers[s].first() {
                        a[classes.len() + r][at + k] += f64::from(n);
                    }
                }
                value.push(c.value[k]);
            }
            at += c.patterns.len();
        }
        let Some(x) = super::lp::maximize(&value, &a, &b, super::lp::Rule::Bland) else {
            return Vec::new();
        };
        let mut left = rem.to_vec();
        let mut out = Vec::with_capacity(classes.len());
        let mut at = 0usize;
        for ((members, _), c) in classes.iter().zip(cols) {
            let Some(c) = c else {
                out.push(Vec::new());
                continue;
            };
            let n = c.patterns.len();
            out.push(round(c, &x[at..at + n], members.len(), &mut left));
            at += n;
        }
        out
    }
}

/// A run of GPUs filled alike: (request, count) and the creations for each, and how many
/// GPUs in a row get them.
pub(super) type Filled = (
    Vec<(usize, u32)>,
    Vec<(usize, &'static GpuInstanceProfile)>,
    usize,
);

/// The classes (by their columns, in order) with the same columns as one: per group, its
/// classes and their columns.
fn merge_alike(cols: Vec<Option<Columns>>) -> Vec<(Vec<usize>, Option<Columns>)> {
    let mut groups: Vec<(Vec<usize>, Option<Columns>)> = Vec::new();
    let mut group_of: FastMap<ColumnsKey, usize> = FastMap::default();
    for (ci, c) in cols.into_iter().enumerate() {
        let Some(c) = c else {
            groups.push((vec![ci], None));
            continue;
        };
        let key = (
            c.model.key(),
            c.patterns.iter().map(|p| p.counts.clone()).collect(),
            c.takers.clone(),
        );
        match group_of.get(&key) {
            Some(&at) => groups[at].0.push(ci),
            None => {
                group_of.insert(key, groups.len());
                groups.push((vec![ci], Some(c)));
            }
        }
    }
    groups
}

/// What makes two classes' columns the same: the model, the patterns' counts and the
/// takers per slot.
type ColumnsKey = (gpupart_profiles::ModelKey, Vec<Vec<u8>>, Vec<Vec<usize>>);

/// A class's LP columns (see [`Greedy::columns`]).
struct Columns {
    model: &'static gpupart_profiles::GpuModel,
    patterns: Patterns,
    takers: Vec<Vec<usize>>,
    /// Per slot, what one instance is worth (its best taker's priority weight).
    weights: Vec<f64>,
    value: Vec<f64>,
}

impl Columns {
    fn weight(&self, slot: usize) -> f64 {
        self.weights[slot]
    }
}

/// Whole GPUs per pattern from an LP solution `x` (one entry per pattern of `cols`), at most
/// `n`, most used patterns first; each GPU's instances go to the takers in priority order,
/// within what they still ask (`left`, updated). GPUs in a row that get the same fill are one
/// run.
fn round(cols: &Columns, x: &[f64], n: usize, left: &mut [u32]) -> Vec<Filled> {
    let mut order: Vec<usize> = (0..cols.patterns.len())
        .filter(|&k| x[k] >= 1.0 - 1e-6)
        .collect();
    order.sort_by(|&i, &j| x[j].total_cmp(&x[i]).then(i.cmp(&j)));
    let mut out: Vec<Filled> = Vec::new();
    let mut used = 0usize;
    for k in order {
        // A pattern's GPU count is far below usize::MAX; floor, never negative.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let mut times = (x[k] + 1e-6).floor() as usize;
        while times > 0 {
            if used == n {
                return out;
            }
            let mut want: Vec<(usize, u32)> = Vec::new();
            let mut creates = Vec::new();
            for (s, &count) in cols.patterns[k].counts.iter().enumerate() {
                let mut c = u32::from(count);
                for &r in &cols.takers[s] {
                    let take = c.min(left[r]);
                    if take > 0 {
                        left[r] -= take;
                        c -= take;
                        want.push((r, take));
                        for _ in 0..take {
                            creates.push((r, &cols.model.profiles[s]));
                        }
                    }
                }
            }
            if want.is_empty() {
                break;
            }
            // The next GPUs get the same fill while every request in it still asks as much
            // (a taker before them that ran out stays out).
            let again = want
                .iter()
                .map(|&(r, c)| usize::try_from(left[r] / c).unwrap_or(usize::MAX))
                .min()
                .unwrap_or(0)
                .min(times - 1)
                .min(n - used - 1);
            for &(r, c) in &want {
                left[r] -= c * u32::try_from(again).unwrap_or(u32::MAX);
            }
            want.sort_unstable();
            out.push((want, creates, 1 + again));
            used += 1 + again;
            times -= 1 + again;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::context::Ctx;
    use super::super::greedy::{Greedy, Mode};
    use super::super::{Request, SolveOptions};
    use super::merge_alike;
    use crate::fleet::{Fleet, Gpu};
    use gpupart_profiles::catalog::A100_40GB;

    fn fleet(starts: &[u8]) -> Fleet {
        let gpus = starts
            .iter()
            .zip(0u32..)
            .map(|(&start, i)| {
                let mut g = Gpu::new(i, &A100_40GB).with_mig(true);
                g.add("1g.5gb", start, true).unwrap();
                g
            })
            .collect();
        Fleet::new(gpus).unwrap()
    }

    #[test]
    fn classes_that_leave_alike_room_are_one_in_the_lp() {
        // An in-use 1g.5gb at slice 0 or at slice 1: two kinds of GPU, but the same patterns
        // fit beside either (two 2g.10gb, at 2 and 4; six 1g.5gb; ...). At slice 6 it leaves
        // room for three 2g.10gb: a class of its own.
        let fleet = fleet(&[0, 0, 1, 1, 6]);
        let reqs = [
            Request::parse("2g.10gb", 12).unwrap(),
            Request::parse("1g.5gb", 3).unwrap(),
        ];
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let mut greedy = Greedy::new(&ctx, Mode::GlobalLp);
        let rem = [12, 3];
        let cols = [0, 2, 4]
            .iter()
            .map(|&g| greedy.columns(g, fleet.gpus()[g].occupancy(), &rem))
            .collect();
        let groups: Vec<Vec<usize>> = merge_alike(cols).into_iter().map(|(of, _)| of).collect();
        assert_eq!(groups, [vec![0, 1], vec![2]]);
    }

    #[test]
    fn lp_weights_keep_levels_apart() {
        let fleet = fleet(&[0]);
        let at = |priorities: &[u8]| -> Vec<f64> {
            let reqs: Vec<Request> = priorities
                .iter()
                .map(|&p| Request::parse("1g.5gb", 1).unwrap().with_priority(p))
                .collect();
            let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
            (0..reqs.len()).map(|r| ctx.lp_weight(r)).collect()
        };
        assert_eq!(at(&[0]), [1.0]);
        assert_eq!(at(&[0, 7]), [1.0, 1e3]);
        assert_eq!(at(&[2, 0, 1]), [1e6, 1.0, 1e3]);
        // Five levels: 16 a level.
        assert_eq!(at(&[0, 9, 3, 5, 1]), [1.0, 65_536.0, 256.0, 4_096.0, 16.0]);
        // Ten levels: the lowest three share the eighth's worth.
        let ten: Vec<u8> = (0..10).rev().collect();
        let w = at(&ten);
        assert_eq!(w[0], 16f64.powi(7));
        assert_eq!(&w[6..], [16.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn a_merged_class_is_shared_among_its_classes_in_order() {
        let fleet = fleet(&[0, 0, 1, 1]);
        let reqs = [Request::parse("2g.10gb", 8).unwrap()];
        let ctx = Ctx::new(&fleet, &reqs, &SolveOptions::default());
        let mut greedy = Greedy::new(&ctx, Mode::GlobalLp);
        let occ = |g: usize| fleet.gpus()[g].occupancy().clone();
        let classes = [(vec![0, 1], occ(0)), (vec![2, 3], occ(2))];
        let fills = greedy.global_mix(&classes, &[8]);
        // Every GPU takes two 2g.10gb (at 2 and 4), two GPUs in each class.
        assert_eq!(fills.len(), 2);
        for runs in &fills {
            assert_eq!(runs.len(), 1, "{runs:?}");
            assert_eq!(runs[0].0, [(0, 2)]);
            assert_eq!(runs[0].2, 2);
        }
    }
}
