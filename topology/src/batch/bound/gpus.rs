//! The bounds on GPUs used, and the resource bound on instances: what the memory and
//! compute slices left, and the Lagrangian's worth per GPU, allow.

use super::dual::{Side, fewest_gpus};
use super::{Classes, SCALE, priced};

/// The fewest GPUs any plan that places `placed` instances uses, by the configuration LP
/// with a cost per GPU used (see [`fewest_gpus`]): every GPU with in-use instances, and the
/// others the LP's multipliers prove (the search stops at the plan's `used`). Kept per
/// demand and count; `None` past the LP's limits.
pub(super) fn min_gpus_by_lp(
    classes: &Classes,
    demand: &[u32],
    placed: u64,
    used: u32,
) -> Option<u32> {
    let key = (demand.to_vec(), placed);
    if let Some(&n) = classes.fewest.borrow().get(&key) {
        return n;
    }
    let side = Side {
        counts: vec![true; demand.len()],
        at_least: placed,
    };
    let others = u64::from(used.saturating_sub(classes.fixed_gpus));
    let n = fewest_gpus(classes, demand, &[side], others)
        .map(|n| u32::try_from(u64::from(classes.fixed_gpus) + n).unwrap_or(u32::MAX));
    classes.fewest.borrow_mut().insert(key, n);
    n
}

/// The fewest GPUs any plan that places `placed` instances uses, by the Lagrangian with
/// weights `w` and multipliers `z`: such a plan uses every GPU with in-use instances and some
/// set of the others, and places at most `sum_d demand_d * z_d` plus the best pattern's worth
/// on each GPU it uses. So it needs at least as many of the others as it takes, the most
/// worth first, to bring that sum to `placed`.
pub(super) fn min_gpus_by_value(
    classes: &Classes,
    demand: &[u32],
    w: &[i64],
    z: &[i64],
    placed: u64,
) -> u32 {
    let mut sum = priced(demand, z);
    let mut others: Vec<(i64, u64)> = Vec::new();
    let mut best = Vec::new();
    for c in &classes.lagrange {
        let (top, _) = c.best_pattern(w, z, &mut best);
        sum += i128::from(c.fixed) * i128::from(top);
        if c.n > c.fixed && top > 0 {
            others.push((top, c.n - c.fixed));
        }
    }
    others.sort_unstable_by(|a, b| b.cmp(a));
    let need = i128::from(placed) * i128::from(SCALE);
    let mut more = 0u64;
    for (top, n) in others {
        if sum >= need {
            break;
        }
        // GPUs of this class it takes: enough to reach `need`, at most all of them.
        let short = need - sum;
        let take = u64::try_from((short + i128::from(top) - 1) / i128::from(top))
            .unwrap_or(u64::MAX)
            .min(n);
        more += take;
        sum += i128::from(take) * i128::from(top);
    }
    // No set of GPUs reaches it (the plan would not exist): the count of them all is a bound.
    u32::try_from(u64::from(classes.fixed_gpus) + more).unwrap_or(u32::MAX)
}

/// A second certificate, by one resource at a time: a request places at most what its
/// eligible GPUs hold of it alone, and all of them together at most what fits in the free
/// memory slices, or compute slices, smallest instances first. Both relax the problem, so
/// each is an upper bound; tight where capacity, not the mix, decides.
pub(super) fn resources(classes: &Classes, demand: &[u32], w: &[i64]) -> u64 {
    let counted = |d: usize| w[d] > 0;
    let mut cap = vec![0u64; demand.len()];
    let mut smallest = vec![(u64::MAX, u64::MAX); demand.len()];
    let (mut mem, mut comp) = (0u64, 0u64);
    for c in &classes.classes {
        if !c.alone.iter().any(|&(d, ..)| counted(d)) {
            continue;
        }
        mem += c.n * c.free_slices.0;
        comp += c.n * c.free_slices.1;
        for &(d, m, k, most) in &c.alone {
            cap[d] += c.n * most;
            smallest[d].0 = smallest[d].0.min(m);
            smallest[d].1 = smallest[d].1.min(k);
        }
    }
    let mut items: Vec<(u64, u64, u64)> = Vec::new();
    let mut by_count = 0u64;
    for d in (0..demand.len()).filter(|&d| counted(d)) {
        let n = u64::from(demand[d]).min(cap[d]);
        by_count += n;
        if n > 0 {
            items.push((smallest[d].0, smallest[d].1, n));
        }
    }
    // The most instances that fit in `capacity` of one resource, smallest first.
    let most = |mut sizes: Vec<(u64, u64)>, capacity: u64| -> u64 {
        sizes.sort_unstable();
        let (mut left, mut n) = (capacity, 0u64);
        for (size, count) in sizes {
            let take = left.checked_div(size).map_or(count, |fit| count.min(fit));
            n += take;
            left -= take * size;
            if take < count {
                break;
            }
        }
        n
    };
    let by_memory = most(items.iter().map(|&(m, _, n)| (m, n)).collect(), mem);
    let by_compute = most(items.iter().map(|&(_, k, n)| (k, n)).collect(), comp);
    by_count.min(by_memory).min(by_compute)
}

/// The fewest GPUs any plan that places as many instances of each request as this one
/// (`placed_per_request`) uses: those with in-use instances (no plan empties them) and enough
/// others for what those cannot hold, counted three ways (instances, memory slices, compute
/// slices; each request at its smallest share of a GPU), the largest count.
pub(super) fn min_gpus(classes: &Classes, placed: u64, placed_per_request: &[u32]) -> u32 {
    let by_count = min_gpus_by_count(classes, placed);
    // The smallest share of a GPU an instance of each request takes anywhere.
    let mut smallest = vec![(f64::MAX, f64::MAX); placed_per_request.len()];
    for c in &classes.classes {
        for &(d, m, k) in &c.share {
            smallest[d].0 = smallest[d].0.min(m);
            smallest[d].1 = smallest[d].1.min(k);
        }
    }
    let (mut mem, mut comp) = (0.0, 0.0);
    for (&n, &(m, k)) in placed_per_request.iter().zip(&smallest) {
        if n > 0 && m < f64::MAX {
            mem += f64::from(n) * m;
            comp += f64::from(n) * k;
        }
    }
    let (mut free_mem, mut free_comp) = (0.0, 0.0);
    for c in classes.classes.iter().filter(|c| c.fixed) {
        free_mem += c.n as f64 * c.free.0;
        free_comp += c.n as f64 * c.free.1;
    }
    // Each further GPU adds at most one whole GPU; a hair less, so that rounding can only
    // lower the count, never raise it past the truth.
    // A share of the fleet's GPUs: far below u64::MAX, and never negative.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let more = |need: f64| (need - 1e-9).max(0.0).ceil() as u64;
    let by_share = u64::from(classes.fixed_gpus) + more(mem - free_mem).max(more(comp - free_comp));
    by_count.max(u32::try_from(by_share).unwrap_or(u32::MAX))
}

/// The GPU count by instances: each GPU holds at most its class's most.
fn min_gpus_by_count(classes: &Classes, placed: u64) -> u32 {
    let on_fixed: u64 = classes
        .classes
        .iter()
        .filter(|c| c.fixed)
        .map(|c| c.n * c.cap)
        .sum();
    let mut need = placed.saturating_sub(on_fixed);
    let mut others: Vec<(u64, u64)> = classes
        .classes
        .iter()
        .filter(|c| !c.fixed && c.cap > 0)
        .map(|c| (c.cap, c.n))
        .collect();
    others.sort_unstable_by(|a, b| b.cmp(a));
    let mut gpus = u64::from(classes.fixed_gpus);
    for (cap, n) in others {
        if need == 0 {
            break;
        }
        let take = need.div_ceil(cap).min(n);
        gpus += take;
        need = need.saturating_sub(take * cap);
    }
    u32::try_from(gpus).unwrap_or(u32::MAX)
}
