//! Online placement: one request at a time into a live fleet, and release.
//!
//! GPUs in the same state (model, occupied slices, instances per profile, MIG mode, NUMA node)
//! share a bucket; the best start for a profile in a state is computed once and cached. A
//! placement takes the candidate that loses the least *room*, where a state's room is the sum,
//! over the model's profiles (or those the workload asks for, [`Online::expect`]), of the
//! placements still open to it, each weighted by the square of its memory slices, so large
//! profiles keep somewhere to go. Ties go to the fuller GPU
//! (best fit), then to the lower position: the choice is deterministic.
//!
//! Told the workload's loads (how often each profile is asked for and how long it stays,
//! [`Online::admit`]), the placer also follows the long-run optimum of the [`Admission`]
//! LP: it holds back profiles that crowd out more than they bring ([`Error::Withheld`]) and
//! prefers placements that keep a GPU on the optimum's configurations. The LP's value is the
//! long-run bound on what any placer accepts ([`Admission::bound`]); averaged over the random
//! number of requests alive at a time it is a tighter one ([`Admission::bound_under_churn`],
//! see [`churn`]).

mod admission;
pub mod churn;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use rustc_hash::FxHashMap as HashMap;

pub use admission::{Admission, Load, Share};
pub use churn::Estimate;

use gpupart_profiles::{ModelKey, Placement, ProfileName};

use crate::fleet::{Fleet, Instance};
use crate::{Error, Occupancy};

type StateKey = (ModelKey, u32, u128, bool, Option<u32>);

#[derive(Debug, Clone)]
struct Bucket {
    occ: Occupancy,
    mig: bool,
    numa: Option<u32>,
    gpus: BTreeSet<usize>,
    /// Per profile slot of the model, the best start in this state once worked out
    /// ([`choice`]); emptied when what counts as room changes.
    choices: Vec<Option<Option<Choice>>>,
}

#[derive(Debug, Clone, Copy)]
struct Choice {
    /// Off the admission's plan ([`Admission`]): the GPU could no longer grow into a
    /// configuration that a long-run optimum uses.
    off_plan: bool,
    start: u8,
    loss: u64,
    free_after: u32,
}

/// Where [`Online::place`] put an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Placed {
    /// The GPU ([`crate::Gpu::index`]).
    pub gpu: u32,
    /// The instance (in use).
    pub instance: Instance,
}

/// A fleet that takes requests one at a time.
#[derive(Debug, Clone)]
pub struct Online {
    fleet: Fleet,
    buckets: Vec<Bucket>,
    bucket_of: HashMap<StateKey, usize>,
    gpu_bucket: Vec<usize>,
    by_model: HashMap<ModelKey, Vec<usize>>,
    /// The profiles whose room counts; `None`: every profile of the model.
    expected: Option<Vec<ProfileName>>,
    /// The admission in force, if any ([`Online::admit`]).
    admission: Option<Admission>,
    /// In-use instances per profile name, over the fleet.
    in_service: HashMap<ProfileName, u32>,
}

fn key_of(occ: &Occupancy, mig: bool, numa: Option<u32>) -> StateKey {
    let (model, mask, packed) = occ.signature();
    (model, mask, packed, mig, numa)
}

/// The room of a state (see the module docs), over the `expected` profiles if given.
fn room(occ: &Occupancy, expected: Option<&[ProfileName]>) -> u64 {
    let model = occ.model();
    let mut total = 0u64;
    for (slot, p) in model.profiles.iter().enumerate() {
        if expected.is_some_and(|e| !e.contains(&p.name)) {
            continue;
        }
        let w = u64::from(p.memory_slices) * u64::from(p.memory_slices);
        for &pl in p.placements {
            if occ.refusal(slot, pl).is_none() {
                total += w;
            }
        }
    }
    total
}

/// Every place an instance of `profile` could go in `fleet` now, in the order
/// [`Online::place`] prefers them: least room lost (over `expected` profiles, or every
/// profile), then the fuller GPU, then the lower GPU position, then the placement's order in
/// the catalog. The first is what `place` would pick (NUMA aside); a DRA driver publishes its
/// devices in this order so that the scheduler's first fit picks the same
/// (`gpupart-dra`). Each entry: (GPU index, start).
#[must_use]
pub fn ranking(
    fleet: &Fleet,
    profile: &ProfileName,
    expected: Option<&[ProfileName]>,
) -> Vec<(u32, u8)> {
    // (room lost, free slices after, GPU position, placement order) → (GPU index, start).
    type Keyed = ((u64, u32, usize, usize), (u32, u8));
    let mut keyed: Vec<Keyed> = Vec::new();
    for (pos, gpu) in fleet.gpus().iter().enumerate() {
        if !gpu.mig_enabled {
            continue;
        }
        let occ = gpu.occupancy();
        let model = occ.model();
        let Some(slot) = model.profiles.iter().position(|p| p.name == *profile) else {
            continue;
        };
        for (k, pl, after, loss) in outcomes(occ, slot, expected) {
            keyed.push((
                (loss, after.free_memory_slices(), pos, k),
                (gpu.index, pl.start),
            ));
        }
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, v)| v).collect()
}

/// Each legal place for the profile at `slot` on `occ` now: the placement's position among
/// the profile's placements, the placement, the state after it, and the room it loses (over
/// `expected` profiles, or every profile).
fn outcomes<'o>(
    occ: &'o Occupancy,
    slot: usize,
    expected: Option<&'o [ProfileName]>,
) -> impl Iterator<Item = (usize, Placement, Occupancy, u64)> + 'o {
    let before = room(occ, expected);
    occ.model().profiles[slot]
        .placements
        .iter()
        .enumerate()
        .filter(move |&(_, &pl)| occ.refusal(slot, pl).is_none())
        .map(move |(k, &pl)| {
            let mut after = occ.clone();
            after.push(slot, pl);
            let loss = before - room(&after, expected).min(before);
            (k, pl, after, loss)
        })
}

/// The best start for the profile at `slot` in `bucket`'s state, worked out once per state
/// and slot: off the admission's plan last, then the least room lost, then the fewest free
/// slices after.
fn choice(
    bucket: &mut Bucket,
    slot: usize,
    expected: Option<&[ProfileName]>,
    admission: Option<&Admission>,
) -> Option<Choice> {
    if let Some(&Some(c)) = bucket.choices.get(slot) {
        return c;
    }
    let mut best: Option<Choice> = None;
    for (_, pl, after, loss) in outcomes(&bucket.occ, slot, expected) {
        let c = Choice {
            off_plan: admission.is_some_and(|a| !a.on_plan(&after)),
            start: pl.start,
            loss,
            free_after: after.free_memory_slices(),
        };
        if best
            .is_none_or(|x| (c.off_plan, c.loss, c.free_after) < (x.off_plan, x.loss, x.free_after))
        {
            best = Some(c);
        }
    }
    if bucket.choices.len() <= slot {
        bucket.choices.resize(slot + 1, None);
    }
    bucket.choices[slot] = Some(best);
    best
}

impl Online {
    /// The profiles whose room counts (`None`: every profile), as [`Online::expect`] set.
    #[must_use]
    pub fn expected(&self) -> Option<&[ProfileName]> {
        self.expected.as_deref()
    }

    /// Takes over `fleet`.
    #[must_use]
    pub fn new(fleet: Fleet) -> Self {
        let mut me = Online {
            gpu_bucket: vec![usize::MAX; fleet.gpus().len()],
            fleet,
            buckets: Vec::new(),
            bucket_of: HashMap::default(),
            by_model: HashMap::default(),
            expected: None,
            admission: None,
            in_service: HashMap::default(),
        };
        for x in me.fleet.gpus().iter().flat_map(|g| g.instances()) {
            if x.in_use {
                *me.in_service.entry(x.profile.name).or_default() += 1;
            }
        }
        for g in 0..me.fleet.gpus().len() {
            me.file(g);
        }
        me
    }

    /// Keeps room only for `profiles` from now on: the profiles the workload asks for. By
    /// default every profile of each model counts, so a placement also spares profiles that
    /// nobody asks for (a 7g in a fleet that only runs 1g and 2g instances).
    pub fn expect(&mut self, profiles: &[ProfileName]) {
        self.expected = Some(profiles.to_vec());
        for b in &mut self.buckets {
            b.choices.clear();
        }
    }

    /// Admits the workload `loads` from now on (see [`Admission`]): solves its long-run
    /// configuration LP over the fleet, caps the profiles that every optimum takes only in
    /// part, and keeps room only for the profiles it admits (as [`Online::expect`]). Returns
    /// the admission, with the long-run bound ([`Admission::bound`]).
    ///
    /// # Errors
    /// [`Error::NoSuchProfile`] for a profile no GPU with MIG on has;
    /// [`Error::NoAdmission`] if the LP does not settle. Either way the placer is unchanged.
    pub fn admit(&mut self, loads: &[Load]) -> Result<&Admission, Error> {
        let admission = admission::admission(&self.fleet, loads)?;
        self.expect(&admission.admitted_profiles());
        Ok(self.admission.insert(admission))
    }

    /// The admission in force ([`Online::admit`]).
    #[must_use]
    pub fn admission(&self) -> Option<&Admission> {
        self.admission.as_ref()
    }

    /// Instances of `profile` in use in the fleet now.
    #[must_use]
    pub fn in_service(&self, profile: &ProfileName) -> u32 {
        self.in_service.get(profile).copied().unwrap_or(0)
    }

    /// The fleet as it is now.
    #[must_use]
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// Gives the fleet back.
    #[must_use]
    pub fn into_fleet(self) -> Fleet {
        self.fleet
    }

    fn file(&mut self, g: usize) {
        let gpu = &self.fleet.gpus()[g];
        let key = key_of(gpu.occupancy(), gpu.mig_enabled, gpu.numa_node);
        let b = match self.bucket_of.get(&key) {
            Some(&b) => b,
            None => {
                let b = self.buckets.len();
                self.buckets.push(Bucket {
                    occ: gpu.occupancy().clone(),
                    mig: gpu.mig_enabled,
                    numa: gpu.numa_node,
                    gpus: BTreeSet::new(),
                    choices: Vec::new(),
                });
                self.bucket_of.insert(key, b);
                self.by_model.entry(key.0).or_default().push(b);
                b
            }
        };
        self.buckets[b].gpus.insert(g);
        self.gpu_bucket[g] = b;
    }

    fn unfile(&mut self, g: usize) {
        if let Some(b) = self.buckets.get_mut(self.gpu_bucket[g]) {
            b.gpus.remove(&g);
        }
    }

    /// Places one instance of `profile` (on a GPU of NUMA node `numa_node` if given) and marks
    /// it in use.
    ///
    /// # Errors
    /// [`Error::NoRoom`] when no GPU can take it now; [`Error::NoSuchProfile`] when no GPU it
    /// may use has the profile at all (retrying cannot help); [`Error::Withheld`] when the
    /// admission ([`Online::admit`]) caps the profile and that many are in service.
    pub fn place(
        &mut self,
        profile: &ProfileName,
        numa_node: Option<u32>,
    ) -> Result<Placed, Error> {
        if let Some(cap) = self.admission.as_ref().and_then(|a| a.cap(profile)) {
            let in_service = self.in_service(profile);
            if in_service >= cap {
                return Err(Error::Withheld {
                    profile: *profile,
                    in_service,
                    cap,
                });
            }
        }
        let mut best: Option<(bool, u64, u32, usize, usize, u8)> = None;
        // Whether any GPU could ever take it (MIG on, the NUMA node, a model with it).
        let mut eligible = false;
        let expected = self.expected.as_deref();
        let admission = self.admission.as_ref();
        for buckets in self.by_model.values() {
            let Some(&b0) = buckets.first() else { continue };
            let model = self.buckets[b0].occ.model();
            let Some(slot) = model.profiles.iter().position(|p| p.name == *profile) else {
                continue;
            };
            for &b in buckets {
                let bucket = &mut self.buckets[b];
                if !bucket.mig || numa_node.is_some_and(|n| bucket.numa != Some(n)) {
                    continue;
                }
                let Some(&g) = bucket.gpus.first() else {
                    continue;
                };
                eligible = true;
                let Some(c) = choice(bucket, slot, expected, admission) else {
                    continue;
                };
                let cand = (c.off_plan, c.loss, c.free_after, g, slot, c.start);
                if best.is_none_or(|x| (cand.0, cand.1, cand.2, cand.3) < (x.0, x.1, x.2, x.3)) {
                    best = Some(cand);
                }
            }
        }
        let Some((_, _, _, g, slot, start)) = best else {
            return Err(if eligible {
                Error::NoRoom { profile: *profile }
            } else {
                Error::NoSuchProfile {
                    profile: *profile,
                    numa_node,
                }
            });
        };
        self.unfile(g);
        let gpu = self
            .fleet
            .gpu_at_mut(g)
            .ok_or(Error::NoRoom { profile: *profile })?;
        let p = &gpu.model.profiles[slot];
        let index = gpu.index;
        let added = gpu.add_instance(p, start, true);
        self.file(g);
        added?;
        *self.in_service.entry(*profile).or_default() += 1;
        Ok(Placed {
            gpu: index,
            instance: Instance::new(p, start, true),
        })
    }

    /// Releases the instance at `start` on GPU `gpu` ([`crate::Gpu::index`]).
    ///
    /// # Errors
    /// [`Error::NoGpu`] or [`Error::NoInstance`].
    pub fn release(&mut self, gpu: u32, start: u8) -> Result<Instance, Error> {
        let position = self.fleet.position(gpu).ok_or(Error::NoGpu { gpu })?;
        self.unfile(position);
        let r = self
            .fleet
            .gpu_at_mut(position)
            .ok_or(Error::NoGpu { gpu })?
            .remove_instance(start);
        self.file(position);
        if let Ok(x) = &r
            && x.in_use
            && let Some(n) = self.in_service.get_mut(&x.profile.name)
        {
            *n = n.saturating_sub(1);
        }
        r
    }
}
