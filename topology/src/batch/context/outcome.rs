//! One GPU's outcome for what it is to serve: which free instances it keeps (reusing
//! those that match), which it destroys, where it creates the rest, keeping room for the
//! largest profile it can; and the objective's value of outcomes.

use gpupart_profiles::{GpuInstanceProfile, GpuModel, ModelKey, Placement};
use smallvec::SmallVec;

use super::{Ctx, Realization, Value};
use crate::batch::{Creation, FastMap};
use crate::fleet::Instance;
use crate::{Occupancy, solve_gpu};

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
pub(super) type PlaceKey = ((ModelKey, u32, u128), SmallVec<[u8; 16]>);

/// [`Ctx::realize`]'s key: the model, MIG mode, the instances (slot, start, in use) and
/// the demand (request, count, the request's slot on the GPU).
pub(super) type RealizeKey = (
    ModelKey,
    bool,
    SmallVec<[(u8, u8, bool); 8]>,
    SmallVec<[(usize, u32, Option<u8>); 8]>,
);

/// What [`place_with_room`] answers: the placements and the room, if the profiles fit.
pub(super) type Placed = Option<(Vec<Placement>, u8)>;

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
    /// The room left on `occ` (2 full, 1 half, 0), cached by signature.
    pub(in crate::batch) fn room_of(&self, occ: &Occupancy) -> u8 {
        let key = occ.signature();
        if let Some(&r) = self.room_cache.borrow().get(&key) {
            return r;
        }
        let r = place_with_room(occ, &[]).map_or(0, |(_, r)| r);
        self.room_cache.borrow_mut().insert(key, r);
        r
    }

    /// [`place_with_room`], memoized by the occupancy's signature and the profiles.
    pub(in crate::batch) fn place(
        &self,
        occ: &Occupancy,
        creates: &[&'static GpuInstanceProfile],
    ) -> Placed {
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

    /// The best outcome on GPU `g` that serves exactly `want` (request, count): which free
    /// instances to keep (reusing the matching ones), which to destroy, where to create.
    pub(in crate::batch) fn realize(&self, g: usize, want: &[(usize, u32)]) -> Option<Realization> {
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

    pub(in crate::batch) fn value(&self, r: &Realization) -> Value {
        let mut v = self.zero();
        self.value_into(r, &mut v);
        v
    }

    /// The value of nothing: no instances at any level, and nothing else.
    pub(in crate::batch) fn zero(&self) -> Value {
        Value {
            placed: smallvec::smallvec![0; self.levels.len()],
            ..Value::default()
        }
    }

    pub(in crate::batch) fn total(&self, choice: &[Option<Realization>]) -> Value {
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
    pub(super) fn value_into(&self, r: &Realization, total: &mut Value) {
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

    pub(in crate::batch) fn placed(&self, choice: &[Option<Realization>]) -> u64 {
        choice
            .iter()
            .flatten()
            .map(|r| (r.create.len() + r.reuse.len()) as u64)
            .sum()
    }

    pub(in crate::batch) fn idle(&self, g: usize) -> Realization {
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
}
