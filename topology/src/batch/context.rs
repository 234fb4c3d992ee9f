//! One GPU's outcome (what it reuses, destroys and creates), the objective as a comparable
//! value, and the context every part of the solver shares: the fleet, the requests, which GPU
//! may serve which request.

use gpupart_profiles::{GpuInstanceProfile, GpuModel, ModelKey, Placement, ProfileName};
use smallvec::SmallVec;

use super::bound::Classes;
use super::{
    Creation, FastMap, GpuChange, Objective, Plan, Request, Reuse, SolveOptions, Unplaced,
    UnplacedReason,
};
use crate::fleet::{Fleet, Gpu, Instance};
use crate::{Occupancy, solve_gpu};

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
    /// [`place_with_room`] by the occupancy's signature and the profiles' slots (GPUs alike
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

/// What [`Request::admits`] and the profile look-up read of a GPU for requests that name no
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

pub(super) fn half_profile(model: &'static GpuModel) -> Option<&'static GpuInstanceProfile> {
    let full = model.profiles.iter().map(|p| p.memory_slices).max()?;
    model
        .profiles
        .iter()
        .filter(|p| p.name.attributes().is_empty() && p.memory_slices < full)
        .max_by_key(|p| (p.memory_slices, p.compute_slices))
}

pub(super) fn full_profile(model: &'static GpuModel) -> Option<&'static GpuInstanceProfile> {
    model
        .profiles
        .iter()
        .filter(|p| p.name.attributes().is_empty())
        .max_by_key(|p| (p.memory_slices, p.compute_slices))
}

/// Entries of [`Ctx::place`]'s memo at most.
const PLACE_CACHE: usize = 1 << 16;

/// [`Ctx::place`]'s key: an occupancy's signature and the profiles' slots, in order.
type PlaceKey = ((ModelKey, u32, u128), SmallVec<[u8; 16]>);

/// [`Ctx::realize`]'s key: the model, MIG mode, the instances (slot, start, in use) and
/// the demand (request, count, the request's slot on the GPU).
type RealizeKey = (
    ModelKey,
    bool,
    SmallVec<[(u8, u8, bool); 8]>,
    SmallVec<[(usize, u32, Option<u8>); 8]>,
);

/// What [`place_with_room`] answers: the placements and the room, if the profiles fit.
type Placed = Option<(Vec<Placement>, u8)>;

/// `profile`'s slot on `occ`'s model, if it has one that fits a `u8` (the caches' keys).
fn small_slot(occ: &Occupancy, profile: &GpuInstanceProfile) -> Option<u8> {
    occ.profile_slot(profile).and_then(|s| u8::try_from(s).ok())
}

/// The value `cache` holds for `key`, or `make`'s, then kept; the cache is emptied when it
/// reaches `PLACE_CACHE` entries, so it stays bounded.
fn remembered<K: Eq + std::hash::Hash, V: Clone>(
    cache: &std::cell::RefCell<FastMap<K, V>>,
    key: K,
    make: impl FnOnce() -> V,
) -> V {
    if let Some(v) = cache.borrow().get(&key) {
        return v.clone();
    }
    let v = make();
    let mut cache = cache.borrow_mut();
    if cache.len() >= PLACE_CACHE {
        cache.clear();
    }
    cache.insert(key, v.clone());
    v
}

/// Places `creates` on `occ`, keeping room for the largest profile it can: returns the
/// placements (in `creates` order) and the room (2 full, 1 half, 0).
pub(super) fn place_with_room(
    occ: &Occupancy,
    creates: &[&'static GpuInstanceProfile],
) -> Option<(Vec<Placement>, u8)> {
    let model = occ.model();
    for (extra, room) in [(full_profile(model), 2), (half_profile(model), 1)] {
        let Some(extra) = extra else { continue };
        let mut with = Vec::with_capacity(creates.len() + 1);
        with.extend_from_slice(creates);
        with.push(extra);
        if let Some(sol) = solve_gpu(occ, &with) {
            return Some((sol[..creates.len()].iter().map(|x| x.1).collect(), room));
        }
    }
    solve_gpu(occ, creates).map(|sol| (sol.iter().map(|x| x.1).collect(), 0))
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
            for &index in r.gpus.iter().flatten() {
                if let Some(at) = fleet.position(index)
                    && named[at].last() != Some(&i)
                {
                    named[at].push(i);
                }
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

    /// The room left on `occ` (2 full, 1 half, 0), cached by signature.
    pub(super) fn room_of(&self, occ: &Occupancy) -> u8 {
        let key = occ.signature();
        if let Some(&r) = self.room_cache.borrow().get(&key) {
            return r;
        }
        let r = place_with_room(occ, &[]).map_or(0, |(_, r)| r);
        self.room_cache.borrow_mut().insert(key, r);
        r
    }

    /// [`place_with_room`], memoized by the occupancy's signature and the profiles.
    pub(super) fn place(&self, occ: &Occupancy, creates: &[&'static GpuInstanceProfile]) -> Placed {
        let Some(slots) = creates
            .iter()
            .map(|p| small_slot(occ, p))
            .collect::<Option<SmallVec<[u8; 16]>>>()
        else {
            return place_with_room(occ, creates);
        };
        remembered(&self.place_cache, (occ.signature(), slots), || {
            place_with_room(occ, creates)
        })
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

    /// The best outcome on GPU `g` that serves exactly `want` (request, count): which free
    /// instances to keep (reusing the matching ones), which to destroy, where to create.
    pub(super) fn realize(&self, g: usize, want: &[(usize, u32)]) -> Option<Realization> {
        let gpu = &self.fleet.gpus()[g];
        let slot = |p: &GpuInstanceProfile| small_slot(gpu.occupancy(), p);
        let instances: Option<SmallVec<[(u8, u8, bool); 8]>> = gpu
            .instances()
            .iter()
            .map(|x| slot(x.profile).map(|s| (s, x.start, x.in_use)))
            .collect();
        let Some(instances) = instances else {
            return self.realize_afresh(g, want);
        };
        let demand = want
            .iter()
            .map(|&(r, c)| {
                let s = self.profile_on(g, r).and_then(slot);
                (r, c, s)
            })
            .collect();
        let key = (gpu.model.key(), gpu.mig_enabled, instances, demand);
        remembered(&self.realize_cache, key, || self.realize_afresh(g, want))
    }

    /// Request `r`'s profile on GPU `g`'s model, where `g` admits it (the lists are in
    /// request order).
    pub(super) fn profile_on(&self, g: usize, r: usize) -> Option<&'static GpuInstanceProfile> {
        let list = self.eligible.get(g)?;
        let at = list.binary_search_by_key(&r, |&(i, _)| i).ok()?;
        list.get(at).map(|&(_, p)| p)
    }

    /// [`Ctx::realize`] without its memo.
    fn realize_afresh(&self, g: usize, want: &[(usize, u32)]) -> Option<Realization> {
        let gpu = &self.fleet.gpus()[g];
        let enable_mig = !gpu.mig_enabled;
        let free: Vec<Instance> = gpu
            .instances()
            .iter()
            .filter(|x| !x.in_use)
            .copied()
            .collect();
        let fixed = gpu.in_use_occupancy();
        let profile_of = |r: usize| self.profile_on(g, r);
        let mut best: Option<(Value, u32, Realization)> = None;
        let n_free = u32::try_from(free.len()).ok()?;
        let asked: u32 = want.iter().map(|&(_, c)| c).sum();
        let asked = usize::try_from(asked).unwrap_or(0).min(64);
        // One outcome made per mask, in buffers reused from mask to mask (the best one so
        // far swapped out, its buffers in for the next).
        let mut cur = Realization {
            reuse: Vec::with_capacity(free.len()),
            destroy: Vec::with_capacity(free.len()),
            create: Vec::with_capacity(asked),
            room: 0,
            enable_mig: false,
            instances_after: 0,
        };
        let mut rem: Vec<(usize, u32)> = Vec::with_capacity(want.len());
        let mut creates_req = Vec::with_capacity(asked);
        let mut creates = Vec::with_capacity(asked);
        for mask in (0..(1u32 << n_free)).rev() {
            rem.clear();
            rem.extend_from_slice(want);
            cur.reuse.clear();
            cur.destroy.clear();
            cur.create.clear();
            let mut occ = fixed.clone();
            for (k, x) in free.iter().enumerate() {
                if mask & (1 << k) == 0 {
                    cur.destroy.push(*x);
                    continue;
                }
                occ.add(x.profile, x.start).ok()?;
                if let Some(slot) = rem
                    .iter_mut()
                    .find(|(r, c)| *c > 0 && profile_of(*r) == Some(x.profile))
                {
                    slot.1 -= 1;
                    cur.reuse.push((slot.0, *x));
                }
            }
            creates_req.clear();
            creates.clear();
            for &(r, c) in &rem {
                let p = profile_of(r)?;
                for _ in 0..c {
                    creates_req.push(r);
                    creates.push(p);
                }
            }
            let Some((placements, room)) = self.place(&occ, &creates) else {
                continue;
            };
            cur.create
                .extend(creates_req.iter().zip(&creates).zip(&placements).map(
                    |((&request, &profile), &placement)| Creation {
                        request,
                        profile,
                        placement,
                    },
                ));
            cur.instances_after = gpu.instances().len() - cur.destroy.len() + cur.create.len();
            cur.room = room;
            cur.enable_mig = enable_mig && !creates.is_empty();
            let v = self.value(&cur);
            // Ties: keep more instances (masks are tried from all-kept down).
            match &mut best {
                Some((b, m, real)) if v > *b => {
                    *b = v;
                    *m = mask;
                    std::mem::swap(real, &mut cur);
                }
                Some(_) => {}
                None => best = Some((v, mask, cur.clone())),
            }
        }
        best.map(|(_, _, r)| r)
    }

    pub(super) fn value(&self, r: &Realization) -> Value {
        let mut v = self.zero();
        self.value_into(r, &mut v);
        v
    }

    /// The value of nothing: no instances at any level, and nothing else.
    pub(super) fn zero(&self) -> Value {
        Value {
            placed: smallvec::smallvec![0; self.levels.len()],
            ..Value::default()
        }
    }

    pub(super) fn total(&self, choice: &[Option<Realization>]) -> Value {
        let mut total = self.zero();
        for g in 0..self.fleet.gpus().len() {
            match choice.get(g).and_then(Option::as_ref) {
                Some(r) => self.value_into(r, &mut total),
                None => self.value_into(&self.idle(g), &mut total),
            }
        }
        total
    }

    /// Adds `r`'s value to `total`.
    fn value_into(&self, r: &Realization, total: &mut Value) {
        for c in &r.create {
            total.placed[self.level(c.request)] += 1;
        }
        for (req, _) in &r.reuse {
            total.placed[self.level(*req)] += 1;
        }
        let reconf = r.enable_mig || !r.create.is_empty() || !r.destroy.is_empty();
        total.reused += r.reuse.len() as u64;
        total.neg_reconf -= i64::from(reconf);
        total.neg_used -= i64::from(r.instances_after > 0);
        total.room += u64::from(r.room);
        total.neg_destroyed -= r.destroy.len() as i64;
    }

    pub(super) fn placed(&self, choice: &[Option<Realization>]) -> u64 {
        choice
            .iter()
            .flatten()
            .map(|r| (r.create.len() + r.reuse.len()) as u64)
            .sum()
    }

    pub(super) fn idle(&self, g: usize) -> Realization {
        // Keep everything: always legal.
        let gpu = &self.fleet.gpus()[g];
        let room = self.room_of(gpu.occupancy());
        Realization {
            reuse: Vec::new(),
            destroy: Vec::new(),
            create: Vec::new(),
            room: if gpu.mig_enabled || !gpu.instances().is_empty() {
                room
            } else {
                2
            },
            enable_mig: false,
            instances_after: gpu.instances().len(),
        }
    }

    pub(super) fn plan(&self, choice: &[Option<Realization>], demand: &[u32], exact: bool) -> Plan {
        let mut changes = Vec::new();
        let mut total = self.zero();
        let mut placed_per_request = vec![0u32; demand.len()];
        for (g, _) in self.fleet.gpus().iter().enumerate() {
            let idle;
            let r = match choice.get(g).and_then(Option::as_ref) {
                Some(r) => r,
                None => {
                    idle = self.idle(g);
                    &idle
                }
            };
            self.value_into(r, &mut total);
            for c in &r.create {
                placed_per_request[c.request] += 1;
            }
            for (req, _) in &r.reuse {
                placed_per_request[*req] += 1;
            }
            if !r.create.is_empty() || !r.destroy.is_empty() || !r.reuse.is_empty() || r.enable_mig
            {
                let mut create = r.create.clone();
                create.sort_by_key(|c| (c.placement.start, c.request));
                changes.push(GpuChange {
                    gpu: self.fleet.gpus()[g].index,
                    enable_mig: r.enable_mig,
                    destroy: r.destroy.clone(),
                    create,
                    reuse: r
                        .reuse
                        .iter()
                        .map(|&(request, instance)| Reuse { request, instance })
                        .collect(),
                });
            }
        }
        let unplaced = (0..demand.len())
            .filter(|&i| placed_per_request[i] < demand[i])
            .map(|i| Unplaced {
                request: i,
                count: demand[i] - placed_per_request[i],
                reason: self.reason(i),
            })
            .collect();
        let objective = Objective {
            placed: total.placed.iter().sum(),
            reused: total.reused,
            gpus_reconfigured: u32::try_from(-total.neg_reconf).unwrap_or(u32::MAX),
            gpus_used: u32::try_from(-total.neg_used).unwrap_or(u32::MAX),
            room: u32::try_from(total.room).unwrap_or(u32::MAX),
            destroyed: u64::try_from(-total.neg_destroyed).unwrap_or(u64::MAX),
            placed_by_priority: self
                .levels
                .iter()
                .zip(&total.placed)
                .scan(0u64, |sum, (&level, &n)| {
                    *sum += n;
                    Some((level, *sum))
                })
                .collect(),
        };
        let classes = self.classes(&self.classes);
        let placed = (&total.placed[..], &placed_per_request[..]);
        // The exact search's plan proves the optimum's counts itself: the bound's LP would
        // only cost time there.
        let mut bound = self.certified_bound(classes, demand, placed, objective.gpus_used, !exact);
        if exact {
            // The exact search's plan is the optimum: what it places at each level is what
            // the optimum does.
            for ((_, b), &(_, p)) in bound
                .optimum_by_priority
                .iter_mut()
                .zip(&objective.placed_by_priority)
            {
                *b = (*b).min(p);
            }
        }
        if exact && self.levels.len() <= 1 {
            // One priority: the exact search's optimum is itself the most any plan places.
            bound.max_placed = bound.max_placed.min(objective.placed);
            for (_, b) in &mut bound.max_placed_by_priority {
                *b = (*b).min(objective.placed);
            }
        }
        Plan {
            changes,
            unplaced,
            objective,
            bound,
            exact,
        }
    }

    /// Why `request` would go unplaced: no GPU's model has its profile, no GPU it may use,
    /// or no room (made once for every request).
    pub(super) fn reason(&self, request: usize) -> UnplacedReason {
        let reasons = self.reasons.get_or_init(|| {
            let mut eligible = vec![false; self.requests.len()];
            for elig in &self.eligible {
                for &(r, _) in elig.iter() {
                    eligible[r] = true;
                }
            }
            (0..self.requests.len())
                .map(|r| {
                    if eligible[r] {
                        UnplacedReason::NoRoom
                    } else if self.has_profile(r) {
                        UnplacedReason::NoEligibleGpu
                    } else {
                        UnplacedReason::NoSuchProfile
                    }
                })
                .collect()
        });
        reasons
            .get(request)
            .copied()
            .unwrap_or(UnplacedReason::NoRoom)
    }

    /// Whether some GPU's model (of the model `request` asks for, if any) has its profile.
    fn has_profile(&self, request: usize) -> bool {
        let r = &self.requests[request];
        self.fleet
            .gpus()
            .iter()
            .any(|g| r.model.is_none_or(|m| m == g.model.name) && g.profile(&r.profile).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpupart_profiles::catalog::A100_40GB;

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
