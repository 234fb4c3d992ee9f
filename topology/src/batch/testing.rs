//! Fixtures the batch solver's unit tests share: a fleet of A100-40GBs with instances, and
//! requests from tuples that proptest draws.

use core::ops::Range;

use gpupart_profiles::catalog::A100_40GB;
use proptest::prelude::*;

use super::Request;
use crate::{Fleet, Gpu};

/// A100-40GB profiles, by the index the tuples below name them.
const NAMES: [&str; 7] = [
    "1g.5gb",
    "1g.10gb",
    "2g.10gb",
    "3g.20gb",
    "4g.20gb",
    "7g.40gb",
    "1g.5gb+me",
];

/// A100-40GBs (NUMA node: index mod 2) with `(profile, start, in use)` instances each; an
/// instance that does not land is left out (the fleet is whatever fits).
pub(super) fn fleet(gpus: &[Vec<(usize, u8, bool)>]) -> Fleet {
    let list = gpus
        .iter()
        .enumerate()
        .map(|(i, xs)| {
            let i = u32::try_from(i).unwrap();
            let mut g = Gpu::new(i, &A100_40GB).with_numa_node(i % 2);
            for &(p, start, in_use) in xs {
                let _ = g.add(NAMES[p], start, in_use);
            }
            g
        })
        .collect();
    Fleet::new(list).unwrap()
}

/// Requests from `(profile, count, NUMA node (2 and above: any), priority)`.
pub(super) fn requests(asks: &[(usize, u32, u8, u8)]) -> Vec<Request> {
    asks.iter()
        .map(|&(p, n, numa, prio)| {
            let r = Request::parse(NAMES[p], n).unwrap().with_priority(prio);
            if numa < 2 {
                r.on_numa_node(u32::from(numa))
            } else {
                r
            }
        })
        .collect()
}

/// Instances for [`fleet`]: `gpus` GPUs (a count in the range), each with up to two.
pub(super) fn arb_gpus(gpus: Range<usize>) -> impl Strategy<Value = Vec<Vec<(usize, u8, bool)>>> {
    prop::collection::vec(
        prop::collection::vec((0..NAMES.len(), 0u8..7, any::<bool>()), 0..3),
        gpus,
    )
}

/// Asks for [`requests`]: `entries` of them (a count in the range), each of a count in
/// `counts` and a priority in `levels`.
pub(super) fn arb_asks(
    entries: Range<usize>,
    counts: Range<u32>,
    levels: Range<u8>,
) -> impl Strategy<Value = Vec<(usize, u32, u8, u8)>> {
    prop::collection::vec((0..NAMES.len(), counts, 0u8..3, levels), entries)
}

/// Per request of [`requests`] (up to eight), a set of GPU indices to tie it to, or none: up
/// to four of 0 to 8, so some repeat and some are past a small fleet.
pub(super) fn arb_sets() -> impl Strategy<Value = Vec<Option<Vec<u32>>>> {
    prop::collection::vec(prop::option::of(prop::collection::vec(0u32..9, 0..5)), 8)
}

/// `reqs`, each tied to its set of [`arb_sets`] where it has one.
pub(super) fn tied(reqs: Vec<Request>, sets: &[Option<Vec<u32>>]) -> Vec<Request> {
    reqs.into_iter()
        .zip(sets.iter().chain(core::iter::repeat(&None)))
        .map(|(r, set)| match set {
            Some(set) => r.on_gpus(set),
            None => r,
        })
        .collect()
}
