//! The fleet batch solver.
//!
//! Objective, compared lexicographically:
//! 1. the most instances placed, higher priorities first;
//! 2. in-use instances are never touched (a hard rule); the most requests served by free
//!    instances that exist already;
//! 3. the fewest GPUs reconfigured (any instance created or destroyed, or MIG enabled);
//! 4. the fewest GPUs used (holding any instance afterwards);
//! 5. the fewest free instances destroyed (what is not asked to change, stays);
//! 6. the most room kept for large profiles: per GPU 2 if the model's full-GPU profile still
//!    fits, 1 if its half-GPU profile (`4g` on an A100) does.
//!
//! Small problems (up to [`SolveOptions::exact_gpu_limit`] GPUs) are solved exactly by a
//! dynamic program over GPUs and remaining demand, within a work budget. Larger ones, or those
//! over the budget, are solved by grouping identical GPUs into classes and packing each class
//! with the best per-GPU pattern of profiles, repeated; the plan then carries a bound that
//! shows its distance from the optimum.

/// The solver's internal tables (keys are small integers and slices of them, never outside
/// input): rustc's FxHash.
type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

use gpupart_profiles::{GpuInstanceProfile, GpuModel, ModelKey, Placement, ProfileName};

use crate::fleet::{Fleet, Gpu, Instance};
use crate::{Error, Occupancy, solve_gpu};

/// A request: `count` instances of `profile`, optionally limited to a model, a set of GPUs or
/// a NUMA node, with a priority (higher first).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// The GPU instance profile (`3g.20gb`); the name is resolved on each GPU's model.
    pub profile: ProfileName,
    /// How many instances.
    pub count: u32,
    /// Only GPUs of this model (catalog name).
    pub model: Option<&'static str>,
    /// Only these GPUs (by [`Gpu::index`]).
    pub gpus: Option<Vec<u32>>,
    /// Only GPUs on this NUMA node.
    pub numa_node: Option<u32>,
    /// Priority: higher is placed first.
    pub priority: u8,
}

impl Request {
    /// `count` instances of `profile`.
    #[must_use]
    pub fn new(profile: ProfileName, count: u32) -> Self {
        Request {
            profile,
            count,
            model: None,
            gpus: None,
            numa_node: None,
            priority: 0,
        }
    }

    /// `count` instances of the profile named `name`.
    ///
    /// # Errors
    /// [`Error::InvalidProfileName`] when `name` does not parse.
    pub fn parse(name: &str, count: u32) -> Result<Self, Error> {
        let profile = name.parse().map_err(|reason| Error::InvalidProfileName {
            input: name.chars().take(80).collect(),
            reason,
        })?;
        Ok(Request::new(profile, count))
    }

    /// Only GPUs of `model`.
    #[must_use]
    pub fn on_model(mut self, model: &'static GpuModel) -> Self {
        self.model = Some(model.name);
        self
    }

    /// Only these GPUs (by [`Gpu::index`]).
    #[must_use]
    pub fn on_gpus(mut self, gpus: &[u32]) -> Self {
        self.gpus = Some(gpus.to_vec());
        self
    }

    /// Only GPUs on NUMA node `node`.
    #[must_use]
    pub fn on_numa_node(mut self, node: u32) -> Self {
        self.numa_node = Some(node);
        self
    }

    /// The priority.
    #[must_use]
    pub fn with_priority(mut self, priority: u8) -> Self {
        self.priority = priority;
        self
    }

    fn admits(&self, gpu: &Gpu, enable_mig: bool) -> bool {
        (gpu.mig_enabled || (enable_mig && gpu.instances().is_empty()))
            && self.model.is_none_or(|m| m == gpu.model.name)
            && self.gpus.as_ref().is_none_or(|s| s.contains(&gpu.index))
            && self.numa_node.is_none_or(|n| gpu.numa_node == Some(n))
    }
}

/// How the solver may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SolveOptions {
    /// GPUs with MIG off (and no instances) may be used; the plan then enables MIG there,
    /// which needs a GPU reset on real hardware.
    pub enable_mig: bool,
    /// Fleets up to this many GPUs are solved exactly (within `exact_budget`).
    pub exact_gpu_limit: usize,
    /// Most options (a GPU and what it would serve) the exact search may weigh before it
    /// gives up for the class-based solver.
    pub exact_budget: u64,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            enable_mig: false,
            exact_gpu_limit: 16,
            exact_budget: 20_000,
        }
    }
}

impl SolveOptions {
    /// Allow enabling MIG on idle GPUs with MIG off.
    #[must_use]
    pub fn enable_mig(mut self, on: bool) -> Self {
        self.enable_mig = on;
        self
    }

    /// Never search exactly: always the class-based solver.
    #[must_use]
    pub fn heuristic_only(mut self) -> Self {
        self.exact_gpu_limit = 0;
        self
    }
}

/// An instance to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Creation {
    /// The request it serves (index into the request list).
    pub request: usize,
    /// The profile.
    pub profile: &'static GpuInstanceProfile,
    /// The explicit placement.
    pub placement: Placement,
}

/// A free existing instance that serves a request as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reuse {
    /// The request it serves.
    pub request: usize,
    /// The instance.
    pub instance: Instance,
}

/// What the plan does to one GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuChange {
    /// The GPU ([`Gpu::index`]).
    pub gpu: u32,
    /// MIG must be enabled first (a reset on real hardware).
    pub enable_mig: bool,
    /// Free instances to destroy.
    pub destroy: Vec<Instance>,
    /// Instances to create, each with its start slice.
    pub create: Vec<Creation>,
    /// Existing instances that serve requests.
    pub reuse: Vec<Reuse>,
}

/// Why instances of a request were not placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnplacedReason {
    /// No GPU of the fleet (of the asked model) has this profile.
    NoSuchProfile,
    /// GPUs with the profile exist, but the request's constraints (GPU set, NUMA node, model,
    /// MIG off) exclude all of them.
    NoEligibleGpu,
    /// The eligible GPUs have no room left (or it went to higher priorities).
    NoRoom,
}

/// Instances of a request that the plan does not place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unplaced {
    /// The request.
    pub request: usize,
    /// How many of its instances.
    pub count: u32,
    /// Why.
    pub reason: UnplacedReason,
}

/// The plan's objective values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Objective {
    /// Instances placed (created or reused).
    pub placed: u64,
    /// Requests served by existing free instances.
    pub reused: u64,
    /// GPUs reconfigured.
    pub gpus_reconfigured: u32,
    /// GPUs holding any instance afterwards.
    pub gpus_used: u32,
    /// Room for large profiles (2 per GPU that can take a full-GPU profile, 1 for half).
    pub room: u32,
    /// Free instances destroyed.
    pub destroyed: u64,
}

/// Bounds on the optimum: no plan places more than `max_placed`, and none placing what this
/// plan places uses fewer than `min_gpus_used` GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Bound {
    /// Upper bound on instances placed.
    pub max_placed: u64,
    /// Lower bound on GPUs used.
    pub min_gpus_used: u32,
}

/// A deterministic plan: per GPU what to destroy and create (with explicit starts), what is
/// not placed and why, the objective and a bound on the optimum.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// GPUs the plan touches or uses for requests, by position.
    pub changes: Vec<GpuChange>,
    /// What is not placed.
    pub unplaced: Vec<Unplaced>,
    /// The objective values.
    pub objective: Objective,
    /// The bound.
    pub bound: Bound,
    /// Whether the exact search proved this plan optimal.
    pub exact: bool,
}

impl Plan {
    /// (instances the optimum may place beyond this plan, GPUs this plan may use beyond the
    /// fewest possible for what it places); `(0, 0)` proves it optimal on both.
    #[must_use]
    pub fn gap(&self) -> (u64, u32) {
        (
            self.bound.max_placed.saturating_sub(self.objective.placed),
            self.objective
                .gpus_used
                .saturating_sub(self.bound.min_gpus_used),
        )
    }

    /// Applies the plan to `fleet` (the one it was made for).
    ///
    /// # Errors
    /// [`Error::NoInstance`] or [`Error::Profile`] when the fleet is not the one the plan
    /// was made for; the fleet may then be partly changed.
    pub fn apply_to(&self, fleet: &mut Fleet) -> Result<(), Error> {
        for c in &self.changes {
            let gpu = fleet.gpu_mut(c.gpu).ok_or(Error::NoGpu { gpu: c.gpu })?;
            if c.enable_mig {
                gpu.mig_enabled = true;
            }
            for d in &c.destroy {
                gpu.remove_instance(d.start)?;
            }
            for x in &c.create {
                gpu.add_instance(x.profile, x.placement.start, false)?;
            }
        }
        Ok(())
    }
}

/// Solves a batch of requests on a fleet. See the module docs for the objective.
#[must_use]
pub fn solve(fleet: &Fleet, requests: &[Request], options: &SolveOptions) -> Plan {
    let ctx = Ctx::new(fleet, requests, options);
    let demand: Vec<u32> = requests.iter().map(|r| r.count).collect();
    let mut exact = false;
    let mut choice: Vec<Option<Realization>> = Vec::new();
    if fleet.gpus().len() <= options.exact_gpu_limit {
        let mut dp = Exact {
            ctx: &ctx,
            memo: FastMap::default(),
            real_memo: FastMap::default(),
            budget: options.exact_budget,
        };
        if dp.best(0, &demand).is_some() {
            choice = dp.reconstruct(&demand);
            exact = true;
        }
    }
    if !exact {
        // Pack by size first (fewest GPUs when everything fits); if something is left over,
        // also pack by count (most instances when capacity binds) and keep the better plan.
        let mut greedy = Greedy::new(&ctx, Mode::Size);
        choice = greedy.run(demand.clone());
        let asked: u64 = demand.iter().map(|&d| u64::from(d)).sum();
        if ctx.placed(&choice) < asked
            && ctx.placed(&choice) < ctx.bound(&demand, (0, 0)).max_placed
        {
            // Same classes, same patterns: only the scoring changes.
            greedy.mode = Mode::Count;
            let by_count = greedy.run(demand.clone());
            if ctx.total(&by_count) > ctx.total(&choice) {
                choice = by_count;
            }
        }
    }
    ctx.plan(&choice, &demand, exact)
}

// ---------------------------------------------------------------------------------------------

/// One GPU's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Realization {
    reuse: Vec<(usize, Instance)>,
    destroy: Vec<Instance>,
    create: Vec<Creation>,
    room: u8,
    enable_mig: bool,
    instances_after: usize,
}

impl Realization {
    /// Nothing done to `gpu` (yet).
    fn unchanged(gpu: &Gpu) -> Self {
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

/// Objective as a comparable value: larger is better.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
struct Value {
    placed: Vec<u64>,
    reused: u64,
    neg_reconf: i64,
    neg_used: i64,
    neg_destroyed: i64,
    room: u64,
}

impl Value {
    fn add_assign(&mut self, o: &Value) {
        for (a, b) in self.placed.iter_mut().zip(&o.placed) {
            *a += b;
        }
        self.reused += o.reused;
        self.neg_reconf += o.neg_reconf;
        self.neg_used += o.neg_used;
        self.room += o.room;
        self.neg_destroyed += o.neg_destroyed;
    }

    fn add(&self, o: &Value) -> Value {
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

struct Ctx<'a> {
    fleet: &'a Fleet,
    requests: &'a [Request],
    levels: Vec<u8>,
    /// Per GPU: (request, the profile on this GPU's model) for every request it admits.
    eligible: Vec<Vec<(usize, &'static GpuInstanceProfile)>>,
    /// Room of an occupancy, by its signature: identical GPUs are asked once.
    room_cache: std::cell::RefCell<FastMap<(ModelKey, u32, u128), u8>>,
    /// The part of the bound that does not depend on the plan, once computed.
    capacity: std::cell::OnceCell<Capacity>,
}

/// What the fleet can hold at most, whatever the plan.
#[derive(Debug, Clone, Copy)]
struct Capacity {
    max_placed: u64,
    fixed_gpus: u32,
    free_on_fixed: u64,
    free_compute_on_fixed: u64,
    max_slices: u64,
    max_compute: u64,
}

fn half_profile(model: &'static GpuModel) -> Option<&'static GpuInstanceProfile> {
    let full = model.profiles.iter().map(|p| p.memory_slices).max()?;
    model
        .profiles
        .iter()
        .filter(|p| p.name.attributes().is_empty() && p.memory_slices < full)
        .max_by_key(|p| (p.memory_slices, p.compute_slices))
}

fn full_profile(model: &'static GpuModel) -> Option<&'static GpuInstanceProfile> {
    model
        .profiles
        .iter()
        .filter(|p| p.name.attributes().is_empty())
        .max_by_key(|p| (p.memory_slices, p.compute_slices))
}

/// Places `creates` on `occ`, keeping room for the largest profile it can: returns the
/// placements (in `creates` order) and the room (2 full, 1 half, 0).
fn place_with_room(
    occ: &Occupancy,
    creates: &[&'static GpuInstanceProfile],
) -> Option<(Vec<Placement>, u8)> {
    let model = occ.model();
    for (extra, room) in [(full_profile(model), 2), (half_profile(model), 1)] {
        let Some(extra) = extra else { continue };
        let mut with = creates.to_vec();
        with.push(extra);
        if let Some(sol) = solve_gpu(occ, &with) {
            return Some((sol[..creates.len()].iter().map(|x| x.1).collect(), room));
        }
    }
    solve_gpu(occ, creates).map(|sol| (sol.iter().map(|x| x.1).collect(), 0))
}

impl<'a> Ctx<'a> {
    fn new(fleet: &'a Fleet, requests: &'a [Request], options: &SolveOptions) -> Self {
        let mut levels: Vec<u8> = requests.iter().map(|r| r.priority).collect();
        levels.sort_unstable_by(|a, b| b.cmp(a));
        levels.dedup();
        let eligible = fleet
            .gpus()
            .iter()
            .map(|g| {
                requests
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.admits(g, options.enable_mig))
                    .filter_map(|(i, r)| g.profile(&r.profile).map(|p| (i, p)))
                    .collect()
            })
            .collect();
        Ctx {
            fleet,
            requests,
            levels,
            eligible,
            room_cache: std::cell::RefCell::new(FastMap::default()),
            capacity: std::cell::OnceCell::new(),
        }
    }

    /// The room left on `occ` (2 full, 1 half, 0), cached by signature.
    fn room_of(&self, occ: &Occupancy) -> u8 {
        let key = occ.signature();
        if let Some(&r) = self.room_cache.borrow().get(&key) {
            return r;
        }
        let r = place_with_room(occ, &[]).map_or(0, |(_, r)| r);
        self.room_cache.borrow_mut().insert(key, r);
        r
    }

    fn level(&self, request: usize) -> usize {
        let p = self.requests[request].priority;
        self.levels.iter().position(|&l| l == p).unwrap_or(0)
    }

    /// The best outcome on GPU `g` that serves exactly `want` (request, count): which free
    /// instances to keep (reusing the matching ones), which to destroy, where to create.
    fn realize(&self, g: usize, want: &[(usize, u32)]) -> Option<Realization> {
        let gpu = &self.fleet.gpus()[g];
        let enable_mig = !gpu.mig_enabled;
        let free: Vec<Instance> = gpu
            .instances()
            .iter()
            .filter(|x| !x.in_use)
            .copied()
            .collect();
        let mut fixed = Occupancy::new(gpu.model);
        for x in gpu.instances().iter().filter(|x| x.in_use) {
            fixed.add(x.profile, x.start).ok()?;
        }
        let profile_of = |r: usize| {
            self.eligible[g]
                .iter()
                .find(|(i, _)| *i == r)
                .map(|(_, p)| *p)
        };
        let mut best: Option<(Value, u32, Realization)> = None;
        let n_free = u32::try_from(free.len()).ok()?;
        for mask in (0..(1u32 << n_free)).rev() {
            let mut rem: Vec<(usize, u32)> = want.to_vec();
            let mut reuse = Vec::new();
            let mut destroy = Vec::new();
            let mut occ = fixed.clone();
            for (k, x) in free.iter().enumerate() {
                if mask & (1 << k) == 0 {
                    destroy.push(*x);
                    continue;
                }
                occ.add(x.profile, x.start).ok()?;
                if let Some(slot) = rem
                    .iter_mut()
                    .find(|(r, c)| *c > 0 && profile_of(*r) == Some(x.profile))
                {
                    slot.1 -= 1;
                    reuse.push((slot.0, *x));
                }
            }
            let mut creates_req = Vec::new();
            let mut creates = Vec::new();
            for &(r, c) in &rem {
                let p = profile_of(r)?;
                for _ in 0..c {
                    creates_req.push(r);
                    creates.push(p);
                }
            }
            let Some((placements, room)) = place_with_room(&occ, &creates) else {
                continue;
            };
            let create: Vec<Creation> = creates_req
                .iter()
                .zip(&creates)
                .zip(&placements)
                .map(|((&request, &profile), &placement)| Creation {
                    request,
                    profile,
                    placement,
                })
                .collect();
            let instances_after = gpu.instances().len() - destroy.len() + create.len();
            let real = Realization {
                reuse,
                destroy,
                create,
                room,
                enable_mig: enable_mig && !creates.is_empty(),
                instances_after,
            };
            let v = self.value(&real);
            // Ties: keep more instances (masks are tried from all-kept down).
            if best.as_ref().is_none_or(|(b, _, _)| v > *b) {
                best = Some((v, mask, real));
            }
        }
        best.map(|(_, _, r)| r)
    }

    fn value(&self, r: &Realization) -> Value {
        let mut placed = vec![0; self.levels.len()];
        for c in &r.create {
            placed[self.level(c.request)] += 1;
        }
        for (req, _) in &r.reuse {
            placed[self.level(*req)] += 1;
        }
        let reconf = r.enable_mig || !r.create.is_empty() || !r.destroy.is_empty();
        Value {
            placed,
            reused: r.reuse.len() as u64,
            neg_reconf: -i64::from(reconf),
            neg_used: -i64::from(r.instances_after > 0),
            room: u64::from(r.room),
            neg_destroyed: -(r.destroy.len() as i64),
        }
    }

    fn total(&self, choice: &[Option<Realization>]) -> Value {
        let mut total = Value {
            placed: vec![0; self.levels.len()],
            ..Value::default()
        };
        for g in 0..self.fleet.gpus().len() {
            let v = match choice.get(g).and_then(Option::as_ref) {
                Some(r) => self.value(r),
                None => self.value(&self.idle(g)),
            };
            total.add_assign(&v);
        }
        total
    }

    fn placed(&self, choice: &[Option<Realization>]) -> u64 {
        choice
            .iter()
            .flatten()
            .map(|r| (r.create.len() + r.reuse.len()) as u64)
            .sum()
    }

    fn idle(&self, g: usize) -> Realization {
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

    fn plan(&self, choice: &[Option<Realization>], demand: &[u32], exact: bool) -> Plan {
        let mut changes = Vec::new();
        let mut total = Value {
            placed: vec![0; self.levels.len()],
            ..Value::default()
        };
        let mut placed_per_request = vec![0u32; demand.len()];
        let mut placed_memory = 0u64;
        let mut placed_compute = 0u64;
        for (g, _) in self.fleet.gpus().iter().enumerate() {
            let idle;
            let r = match choice.get(g).and_then(Option::as_ref) {
                Some(r) => r,
                None => {
                    idle = self.idle(g);
                    &idle
                }
            };
            total.add_assign(&self.value(r));
            for c in &r.create {
                placed_per_request[c.request] += 1;
                placed_memory += u64::from(c.profile.memory_slices);
                placed_compute += u64::from(c.profile.compute_slices);
            }
            for (req, x) in &r.reuse {
                placed_per_request[*req] += 1;
                placed_memory += u64::from(x.profile.memory_slices);
                placed_compute += u64::from(x.profile.compute_slices);
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
        };
        let bound = if exact {
            Bound {
                max_placed: objective.placed,
                min_gpus_used: objective.gpus_used,
            }
        } else {
            self.bound(demand, (placed_memory, placed_compute))
        };
        Plan {
            changes,
            unplaced,
            objective,
            bound,
            exact,
        }
    }

    fn reason(&self, request: usize) -> UnplacedReason {
        let r = &self.requests[request];
        let has_profile =
            self.fleet.gpus().iter().any(|g| {
                r.model.is_none_or(|m| m == g.model.name) && g.profile(&r.profile).is_some()
            });
        if !has_profile {
            UnplacedReason::NoSuchProfile
        } else if !self
            .eligible
            .iter()
            .any(|e| e.iter().any(|(i, _)| *i == request))
        {
            UnplacedReason::NoEligibleGpu
        } else {
            UnplacedReason::NoRoom
        }
    }

    /// A relaxation: per request, at most the instances that fit on its eligible GPUs one
    /// profile at a time (free instances destroyed); overall, at most the smallest instances
    /// that fit in the memory and compute slices not held by in-use instances.
    fn bound(&self, demand: &[u32], (placed_memory, placed_compute): (u64, u64)) -> Bound {
        let c = *self.capacity.get_or_init(|| self.capacity(demand));
        let extra = placed_memory.saturating_sub(c.free_on_fixed);
        let extra_compute = placed_compute.saturating_sub(c.free_compute_on_fixed);
        let need = if c.max_slices == 0 || c.max_compute == 0 {
            0
        } else {
            extra
                .div_ceil(c.max_slices)
                .max(extra_compute.div_ceil(c.max_compute))
        };
        Bound {
            max_placed: c.max_placed,
            min_gpus_used: c.fixed_gpus + u32::try_from(need).unwrap_or(u32::MAX),
        }
    }

    fn capacity(&self, demand: &[u32]) -> Capacity {
        let mut cap_cache: FastMap<((ModelKey, u32, u128), usize), u32> = FastMap::default();
        let mut per_request_cap = vec![0u64; demand.len()];
        let mut free_memory = 0u64;
        let mut free_compute = 0u64;
        let mut fixed_gpus = 0u32;
        let mut free_on_fixed = 0u64;
        let mut max_slices = 0u64;
        let mut max_compute = 0u64;
        let mut free_compute_on_fixed = 0u64;
        for (g, gpu) in self.fleet.gpus().iter().enumerate() {
            // What stays whatever the plan does: the in-use instances.
            let owned;
            let fixed = if gpu.instances().iter().all(|x| x.in_use) {
                gpu.occupancy()
            } else {
                let mut o = Occupancy::new(gpu.model);
                for x in gpu.instances().iter().filter(|x| x.in_use) {
                    let _ = o.add(x.profile, x.start);
                }
                owned = o;
                &owned
            };
            let mem = u64::from(fixed.free_memory_slices());
            max_slices = max_slices.max(u64::from(gpu.model.memory_slices));
            max_compute = max_compute.max(u64::from(gpu.model.compute_slices));
            if fixed.instances().is_empty() {
                // nothing fixed
            } else {
                fixed_gpus += 1;
                free_on_fixed += mem;
                free_compute_on_fixed += u64::from(gpu.model.compute_slices - fixed.compute_used());
            }
            if self.eligible[g].is_empty() {
                continue;
            }
            free_memory += mem;
            free_compute += u64::from(gpu.model.compute_slices - fixed.compute_used());
            for &(r, p) in &self.eligible[g] {
                // Keyed by everything that decides what fits: the in-use profiles too, not
                // only their slices (an in-use `+me` instance takes the media extensions).
                let key = (fixed.signature(), r);
                let cap = *cap_cache.entry(key).or_insert_with(|| {
                    let mut n = 0u32;
                    let mut list = Vec::new();
                    while n < demand[r] {
                        list.push(p);
                        if solve_gpu(fixed, &list).is_none() {
                            break;
                        }
                        n += 1;
                    }
                    n
                });
                per_request_cap[r] += u64::from(cap);
            }
        }
        // (size, how many) per request, by the smallest footprint over the eligible models.
        let mut items: Vec<((u64, u64), u64)> = Vec::new();
        let mut ub1 = 0u64;
        for (r, &d) in demand.iter().enumerate() {
            let n = u64::from(d).min(per_request_cap[r]);
            ub1 += n;
            let size = self
                .eligible
                .iter()
                .flat_map(|e| {
                    e.iter()
                        .filter(|(i, _)| *i == r)
                        .map(|(_, p)| (u64::from(p.memory_slices), u64::from(p.compute_slices)))
                })
                .min();
            if let Some(s) = size {
                items.push((s, n));
            }
        }
        // One resource at a time, the most instances fit when the smallest go first: each is
        // an upper bound, and so is the smaller of the two.
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
        let ub2 = most(
            items.iter().map(|&((m, _), n)| (m, n)).collect(),
            free_memory,
        )
        .min(most(
            items.iter().map(|&((_, c), n)| (c, n)).collect(),
            free_compute,
        ));
        Capacity {
            max_placed: ub1.min(ub2),
            fixed_gpus,
            free_on_fixed,
            free_compute_on_fixed,
            max_slices,
            max_compute,
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// (request, count) served on one GPU.
type Want = Vec<(usize, u32)>;

struct Exact<'c, 'a> {
    ctx: &'c Ctx<'a>,
    memo: FastMap<(usize, Vec<u32>), (Value, Want)>,
    real_memo: FastMap<(usize, Want), Option<Realization>>,
    budget: u64,
}

impl Exact<'_, '_> {
    fn realize(&mut self, g: usize, want: &[(usize, u32)]) -> Option<Option<Realization>> {
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
    fn options(&mut self, g: usize, rem: &[u32]) -> Option<Vec<Vec<(usize, u32)>>> {
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

    fn best(&mut self, g: usize, rem: &[u32]) -> Option<Value> {
        if g == self.ctx.fleet.gpus().len() {
            return Some(Value {
                placed: vec![0; self.ctx.levels.len()],
                ..Value::default()
            });
        }
        let key = (g, rem.to_vec());
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
            let v = self.ctx.value(&real).add(&self.best(g + 1, &next)?);
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, want));
            }
        }
        let (v, want) = best?;
        self.memo.insert(key, (v.clone(), want));
        Some(v)
    }

    fn reconstruct(&mut self, demand: &[u32]) -> Vec<Option<Realization>> {
        let mut rem = demand.to_vec();
        let mut out = Vec::new();
        for g in 0..self.ctx.fleet.gpus().len() {
            let want = self
                .memo
                .get(&(g, rem.clone()))
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

// ---------------------------------------------------------------------------------------------

/// A pattern: instances per profile slot of a model, feasible on a class's base occupancy.
#[derive(Debug, Clone)]
struct Pattern {
    counts: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Patterns that fill a GPU best (memory and compute), to use the fewest GPUs.
    Size,
    /// Patterns with the most instances, for when not everything fits.
    Count,
}

struct Greedy<'c, 'a> {
    ctx: &'c Ctx<'a>,
    mode: Mode,
    patterns: FastMap<PatternKey, Vec<Pattern>>,
}

impl<'c, 'a> Greedy<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, mode: Mode) -> Self {
        Greedy {
            ctx,
            mode,
            patterns: FastMap::default(),
        }
    }

    fn run(&mut self, mut rem: Vec<u32>) -> Vec<Option<Realization>> {
        let gpus = self.ctx.fleet.gpus();
        let mut out: Vec<Option<Realization>> = vec![None; gpus.len()];
        // Phase 1: reuse free instances of the right profile, priorities first.
        let mut claimed: Vec<Vec<bool>> = gpus
            .iter()
            .map(|g| vec![false; g.instances().len()])
            .collect();
        let mut order: Vec<usize> = (0..rem.len()).collect();
        order.sort_by_key(|&r| (core::cmp::Reverse(self.ctx.requests[r].priority), r));
        for &r in &order {
            for (g, gpu) in gpus.iter().enumerate() {
                if rem[r] == 0 {
                    break;
                }
                let Some(p) = self.ctx.eligible[g]
                    .iter()
                    .find(|(i, _)| *i == r)
                    .map(|(_, p)| *p)
                else {
                    continue;
                };
                for (k, x) in gpu.instances().iter().enumerate() {
                    if rem[r] > 0 && !x.in_use && !claimed[g][k] && x.profile == p {
                        claimed[g][k] = true;
                        rem[r] -= 1;
                        out[g]
                            .get_or_insert_with(|| Realization::unchanged(gpu))
                            .reuse
                            .push((r, *x));
                    }
                }
            }
        }
        // Phase 2: fill, fullest GPUs first, identical GPUs as one class.
        let mut fill: Vec<usize> = (0..gpus.len())
            .filter(|&g| !self.ctx.eligible[g].is_empty())
            .collect();
        fill.sort_by_key(|&g| {
            let gpu = &gpus[g];
            (
                !gpu.mig_enabled,
                gpu.instances().is_empty(),
                gpu.occupancy().free_memory_slices(),
                g,
            )
        });
        let mut classes: Vec<(Vec<usize>, Occupancy)> = Vec::new();
        let mut class_of: FastMap<(ModelKey, u32, u128, bool, Vec<usize>), usize> =
            FastMap::default();
        for &g in &fill {
            let gpu = &gpus[g];
            let key = {
                let (m, mask, packed) = gpu.occupancy().signature();
                let elig: Vec<usize> = self.ctx.eligible[g].iter().map(|(r, _)| *r).collect();
                (m, mask, packed, gpu.mig_enabled, elig)
            };
            match class_of.get(&key) {
                Some(&c) => classes[c].0.push(g),
                None => {
                    class_of.insert(key, classes.len());
                    classes.push((vec![g], gpu.occupancy().clone()));
                }
            }
        }
        for (members, base) in &classes {
            let g0 = members[0];
            let mut next = 0usize;
            while next < members.len() && rem.iter().any(|&c| c > 0) {
                let Some((want, creates)) = self.best_pattern(g0, base, &rem) else {
                    break;
                };
                let times = want
                    .iter()
                    .map(|&(r, c)| rem[r] / c)
                    .min()
                    .unwrap_or(0)
                    .max(1);
                let times = usize::try_from(times)
                    .unwrap_or(usize::MAX)
                    .min(members.len() - next);
                let profiles: Vec<&'static GpuInstanceProfile> =
                    creates.iter().map(|(_, p)| *p).collect();
                let Some((placements, room)) = place_with_room(base, &profiles) else {
                    break;
                };
                for &g in &members[next..next + times] {
                    let gpu = &gpus[g];
                    let entry = out[g].get_or_insert_with(|| Realization::unchanged(gpu));
                    entry.enable_mig = !gpu.mig_enabled;
                    entry.room = room;
                    entry.instances_after += creates.len();
                    for ((r, p), pl) in creates.iter().zip(&placements) {
                        entry.create.push(Creation {
                            request: *r,
                            profile: p,
                            placement: *pl,
                        });
                    }
                }
                for &(r, c) in &want {
                    rem[r] -= c * u32::try_from(times).unwrap_or(u32::MAX);
                }
                next += times;
            }
        }
        // Phase 3: what is left may fit where free instances nobody asked for can go.
        if rem.iter().any(|&c| c > 0) {
            for g in 0..gpus.len() {
                if out[g].is_some() || gpus[g].instances().iter().all(|x| x.in_use) {
                    continue;
                }
                let mut exact = Exact {
                    ctx: self.ctx,
                    memo: FastMap::default(),
                    real_memo: FastMap::default(),
                    budget: 5_000,
                };
                let Some(options) = exact.options(g, &rem) else {
                    continue;
                };
                let mut best: Option<(Value, Realization)> = None;
                for w in options {
                    if let Some(Some(real)) = exact.realize(g, &w) {
                        let v = self.ctx.value(&real);
                        if best.as_ref().is_none_or(|(b, _)| v > *b) {
                            best = Some((v, real));
                        }
                    }
                }
                if let Some((_, real)) = best.filter(|(_, r)| !r.create.is_empty()) {
                    for c in &real.create {
                        rem[c.request] -= 1;
                    }
                    for (r, _) in &real.reuse {
                        rem[*r] -= 1;
                    }
                    out[g] = Some(real);
                }
                if rem.iter().all(|&c| c == 0) {
                    break;
                }
            }
        }
        // Room for GPUs the phases touched.
        for (g, o) in out.iter_mut().enumerate() {
            if let Some(real) = o.as_mut().filter(|r| r.destroy.is_empty()) {
                let mut occ = gpus[g].occupancy().clone();
                for c in &real.create {
                    let _ = occ.add(c.profile, c.placement.start);
                }
                real.room = self.ctx.room_of(&occ);
            }
        }
        out
    }

    /// The pattern that serves the most of `rem` (priorities first, then memory slices, then
    /// room) on a GPU of this class, as (request, count) and the creations.
    #[allow(clippy::type_complexity)]
    fn best_pattern(
        &mut self,
        g: usize,
        base: &Occupancy,
        rem: &[u32],
    ) -> Option<(Vec<(usize, u32)>, Vec<(usize, &'static GpuInstanceProfile)>)> {
        let model = base.model();
        let elig = &self.ctx.eligible[g];
        let mut slot_mask = 0u64;
        for (r, p) in elig {
            if let Some(s) = model
                .profiles
                .iter()
                .position(|q| q == *p)
                .filter(|_| rem[*r] > 0)
            {
                slot_mask |= 1 << (s % 64);
            }
        }
        if slot_mask == 0 {
            return None;
        }
        let (_, mask, packed) = base.signature();
        let patterns = self
            .patterns
            .entry((model.key(), mask, packed, slot_mask))
            .or_insert_with(|| shared_patterns(base, (model.key(), mask, packed, slot_mask)))
            .clone();
        let (total_mem, total_comp) = (
            u64::from(model.memory_slices),
            u64::from(model.compute_slices),
        );
        let mut best: Option<((Vec<u64>, Vec<u64>, usize), Vec<(usize, u32)>)> = None;
        for (pi, pat) in patterns.iter().enumerate() {
            let mut want: Vec<(usize, u32)> = Vec::new();
            let mut placed = vec![0u64; self.ctx.levels.len()];
            let mut size = vec![0u64; self.ctx.levels.len()];
            for (slot, &count) in pat.counts.iter().enumerate() {
                let mut left = u32::from(count);
                if left == 0 {
                    continue;
                }
                let p = &model.profiles[slot];
                let mut takers: Vec<usize> = elig
                    .iter()
                    .filter(|(r, q)| *q == p && rem[*r] > 0)
                    .map(|(r, _)| *r)
                    .collect();
                takers.sort_by_key(|&r| (core::cmp::Reverse(self.ctx.requests[r].priority), r));
                for r in takers {
                    let take = left.min(rem[r]);
                    if take > 0 {
                        want.push((r, take));
                        placed[self.ctx.level(r)] += u64::from(take);
                        // Share of the GPU taken, memory and compute weighted alike.
                        size[self.ctx.level(r)] += u64::from(take)
                            * (u64::from(p.memory_slices) * total_comp
                                + u64::from(p.compute_slices) * total_mem);
                        left -= take;
                    }
                }
            }
            if want.is_empty() {
                continue;
            }
            let key = match self.mode {
                Mode::Size => (size, placed, usize::MAX - pi),
                Mode::Count => (placed, size, usize::MAX - pi),
            };
            if best.as_ref().is_none_or(|(k, _)| key > *k) {
                best = Some((key, want));
            }
        }
        let (_, mut want) = best?;
        want.sort_unstable();
        let mut creates = Vec::new();
        for &(r, c) in &want {
            let p = elig.iter().find(|(i, _)| *i == r).map(|(_, p)| *p)?;
            for _ in 0..c {
                creates.push((r, p));
            }
        }
        Some((want, creates))
    }
}

/// A model, an occupancy (slices and instances per profile) and the profiles asked for.
type PatternKey = (ModelKey, u32, u128, u64);

/// Patterns depend only on the model, the occupancy and the profiles asked for, so they are
/// shared by every solve in the process (a scheduler asks about the same few models again and
/// again). Bounded: cleared when it grows past 4,096 entries.
fn shared_patterns(base: &Occupancy, key: PatternKey) -> Vec<Pattern> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<FastMap<PatternKey, Vec<Pattern>>>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(p) = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return p.clone();
    }
    let patterns = enumerate_patterns(base, key.3);
    let mut c = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if c.len() >= 4096 {
        c.clear();
    }
    c.insert(key, patterns.clone());
    patterns
}

/// Every multiset of the profiles in `slot_mask` that fits on `base`.
fn enumerate_patterns(base: &Occupancy, slot_mask: u64) -> Vec<Pattern> {
    let model = base.model();
    let slots: Vec<usize> = (0..model.profiles.len())
        .filter(|s| slot_mask & (1 << (s % 64)) != 0)
        .collect();
    let mut out = Vec::new();
    let mut counts = vec![0u8; model.profiles.len()];
    let mut list: Vec<&'static GpuInstanceProfile> = Vec::new();
    fn rec(
        base: &Occupancy,
        slots: &[usize],
        k: usize,
        counts: &mut Vec<u8>,
        list: &mut Vec<&'static GpuInstanceProfile>,
        out: &mut Vec<Pattern>,
    ) {
        let Some(&slot) = slots.get(k) else {
            if !list.is_empty() {
                out.push(Pattern {
                    counts: counts.clone(),
                });
            }
            return;
        };
        let p = &base.model().profiles[slot];
        let mut added = 0;
        loop {
            rec(base, slots, k + 1, counts, list, out);
            list.push(p);
            if solve_gpu(base, list).is_none() {
                list.pop();
                break;
            }
            counts[slot] += 1;
            added += 1;
        }
        for _ in 0..added {
            list.pop();
        }
        counts[slot] = 0;
    }
    rec(base, &slots, 0, &mut counts, &mut list, &mut out);
    out
}
