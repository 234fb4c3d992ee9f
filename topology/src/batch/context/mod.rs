//! The context every part of the solver shares: the fleet, the requests, which GPU may serve
//! which request, how requests rank; one GPU's outcome (what it reuses, destroys and creates)
//! and the objective as a comparable value. How an outcome is made and valued is
//! [`outcome`]; how a plan is made of outcomes, [`plan`].

mod outcome;
mod plan;

use gpupart_profiles::{GpuInstanceProfile, ModelKey, ProfileName};
use smallvec::SmallVec;

use super::bound::Classes;
use super::{Creation, FastMap, Request, SolveOptions, UnplacedReason};
use crate::fleet::{Fleet, Gpu, Instance};
use outcome::{PlaceKey, Placed, RealizeKey};

/// One GPU's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Realization {
    pub(super) reuse: Vec<(usize, Instance)>,
    pub(super) destroy: Vec<Instance>,
    pub(super) create: Vec<Creation>,
    pub(super) room: u8,
    pub(super) enable_mig: bool,
    pub(super) instances_after: usize,
}

impl Realization {
    /// Nothing done to `gpu` (yet).
    pub(super) fn unchanged(gpu: &Gpu) -> Self {
        Realization {
            reuse: Vec::new(),
            destroy: Vec::new(),
            create: Vec::new(),
            room: 0,
            enable_mig: false,
            instances_after: gpu.instances().len(),
        }
    }
}

/// Instances placed per priority level, highest first: inline for up to four levels (the
/// exact search makes and adds many values).
pub(super) type Levels = SmallVec<[u64; 4]>;

/// Objective as a comparable value: larger is better.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(super) struct Value {
    pub(super) placed: Levels,
    pub(super) reused: u64,
    pub(super) neg_reconf: i64,
    pub(super) neg_used: i64,
    pub(super) neg_destroyed: i64,
    pub(super) room: u64,
}

impl Value {
    pub(super) fn add(&self, o: &Value) -> Value {
        Value {
            placed: self
                .placed
                .iter()
                .zip(&o.placed)
                .map(|(a, b)| a + b)
                .collect(),
            reused: self.reused + o.reused,
            neg_reconf: self.neg_reconf + o.neg_reconf,
            neg_used: self.neg_used + o.neg_used,
            room: self.room + o.room,
            neg_destroyed: self.neg_destroyed + o.neg_destroyed,
        }
    }
}

pub(super) struct Ctx<'a> {
    pub(super) fleet: &'a Fleet,
    pub(super) requests: &'a [Request],
    pub(super) levels: Vec<u8>,
    /// Per request, the position of its priority in `levels`.
    level_of: Vec<usize>,
    /// Per GPU: (request, the profile on this GPU's model) for every request it admits.
    /// GPUs alike in all that admission reads share one list.
    pub(super) eligible: Vec<Eligible>,
    /// Room of an occupancy, by its signature: identical GPUs are asked once.
    pub(super) room_cache: std::cell::RefCell<FastMap<(ModelKey, u32, u128), u8>>,
    /// [`outcome::place_with_room`] by the occupancy's signature and the profiles' slots (GPUs alike
    /// take the same placements): cleared when it grows past `PLACE_CACHE` entries.
    place_cache: std::cell::RefCell<FastMap<PlaceKey, Placed>>,
    /// [`Ctx::realize`] by what it depends on: the model, MIG mode, the GPU's instances in
    /// order (slot, start, in use) and the demand with each request's slot there. Cleared
    /// when it grows past `PLACE_CACHE` entries.
    realize_cache: std::cell::RefCell<FastMap<RealizeKey, Option<Realization>>>,
    /// The fleet's classes for the bound, built once.
    pub(super) classes: std::cell::OnceCell<Classes>,
    /// What [`Ctx::outranks`] needs, made on first use.
    rank: std::cell::OnceCell<Rank>,
    /// What [`Ctx::reason`] gives, made on first use.
    reasons: std::cell::OnceCell<Vec<UnplacedReason>>,
    /// What [`Ctx::reusable`] gives, made on first use.
    reusable: std::cell::OnceCell<Vec<Vec<(usize, &'static GpuInstanceProfile)>>>,
}

/// What one GPU admits: (request, its profile on the GPU's model), in request order.
pub(super) type Eligible = std::rc::Rc<[(usize, &'static GpuInstanceProfile)]>;

/// What [`Request::admits_where_named`] and the profile look-up read of a GPU for requests that name no
/// GPUs: the model, whether MIG is on or may be enabled there, and the NUMA node. GPUs with
/// one key admit the same such requests with the same profiles.
type AdmitKey = (usize, bool, Option<u32>);

/// Per request, what [`Ctx::outranks`] compares: where the fleet has at most 64 GPUs, the
/// GPUs it may use as a bit mask; on larger fleets, a number for its kind (requests alike in
/// all but priority share one).
enum Rank {
    Reach(Vec<u64>),
    Kin(Vec<usize>),
}

impl<'a> Ctx<'a> {
    pub(super) fn new(fleet: &'a Fleet, requests: &'a [Request], options: &SolveOptions) -> Self {
        let mut levels: Vec<u8> = requests.iter().map(|r| r.priority).collect();
        levels.sort_unstable_by(|a, b| b.cmp(a));
        levels.dedup();
        let level_of = requests
            .iter()
            .map(|r| levels.iter().position(|&l| l == r.priority).unwrap_or(0))
            .collect();
        let gpus = fleet.gpus();
        // Requests tied to GPUs by index, per GPU they name (each once, in request order):
        // only those GPUs look at them, so the work is the sets' sizes, not requests × GPUs.
        let mut named: Vec<Vec<usize>> = vec![Vec::new(); gpus.len()];
        for (i, r) in requests.iter().enumerate() {
            for at in r.named_positions(fleet).into_iter().flatten() {
                named[at].push(i);
            }
        }
        // Every GPU a request is looked at for is in its set, where it has one.
        let admitted = |g: &Gpu, i: usize| {
            let r = &requests[i];
            r.admits_where_named(g, options.enable_mig)
                .then(|| g.profile(&r.profile).map(|p| (i, p)))
                .flatten()
        };
        // The other requests per kind of GPU: GPUs alike in all that admission reads share
        // one list, and a GPU no tied request names keeps it.
        let mut shared: FastMap<AdmitKey, Eligible> = FastMap::default();
        let eligible = gpus
            .iter()
            .zip(&named)
            .map(|(g, tied)| {
                let key = (
                    core::ptr::from_ref(g.model) as usize,
                    g.mig_enabled || (options.enable_mig && g.instances().is_empty()),
                    g.numa_node,
                );
                let untied = shared
                    .entry(key)
                    .or_insert_with(|| {
                        (0..requests.len())
                            .filter(|&i| requests[i].gpus.is_none())
                            .filter_map(|i| admitted(g, i))
                            .collect()
                    })
                    .clone();
                if tied.is_empty() {
                    return untied;
                }
                let mut list: Vec<(usize, &'static GpuInstanceProfile)> = untied.to_vec();
                list.extend(tied.iter().filter_map(|&i| admitted(g, i)));
                list.sort_unstable_by_key(|&(i, _)| i);
                list.into()
            })
            .collect();
        Ctx {
            fleet,
            requests,
            levels,
            level_of,
            eligible,
            room_cache: std::cell::RefCell::new(FastMap::default()),
            place_cache: std::cell::RefCell::new(FastMap::default()),
            realize_cache: std::cell::RefCell::new(FastMap::default()),
            classes: std::cell::OnceCell::new(),
            rank: std::cell::OnceCell::new(),
            reasons: std::cell::OnceCell::new(),
            reusable: std::cell::OnceCell::new(),
        }
    }

    /// Per request, the GPUs it may use that hold a free instance (in fleet order), with
    /// its profile there: where a free instance may be reused for it.
    pub(super) fn reusable(&self) -> &[Vec<(usize, &'static GpuInstanceProfile)>] {
        self.reusable.get_or_init(|| {
            let mut out = vec![Vec::new(); self.requests.len()];
            for (g, gpu) in self.fleet.gpus().iter().enumerate() {
                if gpu.instances().iter().all(|x| x.in_use) {
                    continue;
                }
                for &(r, p) in self.eligible[g].iter() {
                    out[r].push((g, p));
                }
            }
            out
        })
    }

    /// The most requests of `demand` any plan serves with free instances that exist: no more
    /// than the free instances some request may take, and per request no more than it asks
    /// or than the free instances of its profile on GPUs it may use.
    pub(super) fn reuse_bound(&self, demand: &[u32]) -> u64 {
        let mut per_request = vec![0u64; demand.len()];
        let mut instances = 0u64;
        for (r, on) in self.reusable().iter().enumerate() {
            for &(g, p) in on {
                per_request[r] += self.fleet.gpus()[g]
                    .instances()
                    .iter()
                    .filter(|x| !x.in_use && core::ptr::eq(x.profile, p))
                    .count() as u64;
            }
        }
        for (g, gpu) in self.fleet.gpus().iter().enumerate() {
            instances += gpu
                .instances()
                .iter()
                .filter(|x| {
                    !x.in_use
                        && self.eligible[g]
                            .iter()
                            .any(|&(r, p)| demand[r] > 0 && core::ptr::eq(p, x.profile))
                })
                .count() as u64;
        }
        let asked: u64 = per_request
            .iter()
            .zip(demand)
            .map(|(&n, &d)| n.min(u64::from(d)))
            .sum();
        asked.min(instances)
    }

    /// Whether request `a` comes before request `b` on any GPU that may serve both: the same
    /// profile, a priority at least as high, and no GPU `a` may use that `b` may not (ties
    /// go to the first request). Of two such requests, an optimum exists in which `b` is
    /// served on a GPU only where `a` is served there in full: in a plan that does
    /// otherwise, an instance of `b` on that GPU and one of `a` placed later (or not at all)
    /// swap requests (`b` may use every GPU `a` may), for a plan as good or better.
    pub(super) fn outranks(&self, a: usize, b: usize) -> bool {
        let (ra, rb) = (&self.requests[a], &self.requests[b]);
        if a == b || ra.profile != rb.profile || ra.priority < rb.priority {
            return false;
        }
        let rank = self.rank.get_or_init(|| self.make_rank());
        match rank {
            Rank::Reach(reach) => {
                let (ma, mb) = (reach[a], reach[b]);
                ma & !mb == 0 && (ra.priority > rb.priority || ma != mb || a < b)
            }
            Rank::Kin(kin) => kin[a] == kin[b] && ra.priority > rb.priority,
        }
    }

    fn make_rank(&self) -> Rank {
        if self.eligible.len() <= 64 {
            let mut reach = vec![0u64; self.requests.len()];
            for (g, elig) in self.eligible.iter().enumerate() {
                for &(r, _) in elig.iter() {
                    reach[r] |= 1 << g;
                }
            }
            return Rank::Reach(reach);
        }
        type Kind<'r> = (
            ProfileName,
            Option<&'static str>,
            Option<&'r [u32]>,
            Option<u32>,
        );
        let mut kinds: FastMap<Kind<'_>, usize> = FastMap::default();
        Rank::Kin(
            self.requests
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    *kinds
                        .entry((r.profile, r.model, r.gpus.as_deref(), r.numa_node))
                        .or_insert(i)
                })
                .collect(),
        )
    }

    pub(super) fn level(&self, request: usize) -> usize {
        self.level_of.get(request).copied().unwrap_or(0)
    }

    /// What one instance of `request` is worth in the packer's LPs, by its priority level.
    /// Up to three levels, 1000 a level. With more, 16 a level, for up to eight levels (the
    /// lower ones share the eighth's worth): a GPU holds at most eight instances, so giving up
    /// one instance for more of a lower level never pays, and the largest worth (16⁷) keeps
    /// the LP well within `f64`. The improvement and the bound go by every level.
    pub(super) fn lp_weight(&self, request: usize) -> f64 {
        let levels = self.levels.len();
        let (tiers, base) = if levels <= 3 {
            (levels.max(1), 1000f64)
        } else {
            (levels.min(8), 16f64)
        };
        let tier = self.level(request).min(tiers - 1);
        base.powi(i32::try_from(tiers - 1 - tier).unwrap_or(0))
    }

    /// Request `r`'s profile on GPU `g`'s model, where `g` admits it (the lists are in
    /// request order).
    pub(super) fn profile_on(&self, g: usize, r: usize) -> Option<&'static GpuInstanceProfile> {
        let list = self.eligible.get(g)?;
        let at = list.binary_search_by_key(&r, |&(i, _)| i).ok()?;
        list.get(at).map(|&(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::testing::{arb_asks, arb_gpus, arb_sets, fleet, requests, tied};
    use gpupart_profiles::catalog::A100_40GB;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Each GPU's list is every request that may use it, with its profile there, in
        /// request order: built from the sets that tied requests name (duplicates and GPUs
        /// the fleet lacks among them), it is what asking each request of each GPU gives.
        #[test]
        fn eligibility_is_what_each_request_admits(
            gpus in arb_gpus(1..7),
            asks in arb_asks(1..8, 1u32..3, 0..2),
            sets in arb_sets(),
            enable_mig in any::<bool>(),
        ) {
            let mut fleet_gpus = fleet(&gpus).gpus().to_vec();
            // Some GPUs with MIG off (those without instances only).
            for g in fleet_gpus.iter_mut().filter(|g| g.index % 3 == 2) {
                if g.instances().is_empty() {
                    *g = g.clone().with_mig(false);
                }
            }
            let fleet = Fleet::new(fleet_gpus).unwrap();
            let reqs = tied(requests(&asks), &sets);
            let options = SolveOptions::default().enable_mig(enable_mig);
            let ctx = Ctx::new(&fleet, &reqs, &options);
            for (g, gpu) in fleet.gpus().iter().enumerate() {
                let expected: Vec<(usize, &'static GpuInstanceProfile)> = reqs
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| {
                        (gpu.mig_enabled || (enable_mig && gpu.instances().is_empty()))
                            && r.model.is_none_or(|m| m == gpu.model.name)
                            && r.gpus.as_ref().is_none_or(|s| s.contains(&gpu.index))
                            && r.numa_node.is_none_or(|n| gpu.numa_node == Some(n))
                    })
                    .filter_map(|(i, r)| gpu.profile(&r.profile).map(|p| (i, p)))
                    .collect();
                prop_assert_eq!(&ctx.eligible[g][..], &expected[..]);
                for (i, _) in reqs.iter().enumerate() {
                    let want = expected.iter().find(|(j, _)| *j == i).map(|&(_, p)| p);
                    prop_assert_eq!(ctx.profile_on(g, i), want);
                }
            }
        }
    }

    #[test]
    fn reuse_is_bounded_by_the_free_instances_each_request_may_take() {
        // GPU 0: two free 1g.5gb and a free 2g.10gb; GPU 1: a free 1g.5gb and one in use.
        let mut gpus = vec![Gpu::new(0, &A100_40GB), Gpu::new(1, &A100_40GB)];
        gpus[0].add("1g.5gb", 0, false).unwrap();
        gpus[0].add("1g.5gb", 1, false).unwrap();
        gpus[0].add("2g.10gb", 2, false).unwrap();
        gpus[1].add("1g.5gb", 0, false).unwrap();
        gpus[1].add("1g.5gb", 1, true).unwrap();
        let fleet = Fleet::new(gpus).unwrap();
        let options = SolveOptions::default();
        let requests = [
            // At most the three free 1g.5gb.
            Request::parse("1g.5gb", 5).unwrap(),
            // Only GPU 1, which has no free 2g.10gb.
            Request::parse("2g.10gb", 1).unwrap().on_gpus(&[1]),
            // No free instance of its profile.
            Request::parse("3g.20gb", 1).unwrap(),
        ];
        let ctx = Ctx::new(&fleet, &requests, &options);
        assert_eq!(ctx.reuse_bound(&[5, 1, 1]), 3);
        // No more than asked.
        assert_eq!(ctx.reuse_bound(&[2, 1, 1]), 2);
        assert_eq!(ctx.reuse_bound(&[0, 1, 1]), 0);
        // The 2g.10gb on any GPU: the free one on GPU 0 counts.
        let requests = [Request::parse("2g.10gb", 2).unwrap()];
        let ctx = Ctx::new(&fleet, &requests, &options);
        assert_eq!(ctx.reuse_bound(&[2]), 1);
    }
}
