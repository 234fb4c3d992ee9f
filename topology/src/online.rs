//! Online placement: one request at a time into a live fleet, and release.
//!
//! GPUs in the same state (model, occupied slices, instances per profile, MIG mode, NUMA node)
//! share a bucket; the best start for a profile in a state is computed once and cached. A
//! placement takes the candidate that loses the least *room*, where a state's room is the sum,
//! over the model's profiles (or those the workload asks for, [`Online::expect`]), of the
//! placements still open to it, each weighted by the square of its memory slices, so large
//! profiles keep somewhere to go. Ties go to the fuller GPU
//! (best fit), then to the lower position: the choice is deterministic.

use std::collections::{BTreeSet, HashMap};

use gpupart_profiles::{ModelKey, ProfileName};

use crate::fleet::{Fleet, Instance};
use crate::{Error, Occupancy};

type StateKey = (ModelKey, u32, u128, bool, Option<u32>);

#[derive(Debug, Clone)]
struct Bucket {
    occ: Occupancy,
    mig: bool,
    numa: Option<u32>,
    gpus: BTreeSet<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Choice {
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
    choices: HashMap<(usize, usize), Option<Choice>>,
    /// The profiles whose room counts; `None`: every profile of the model.
    expected: Option<Vec<ProfileName>>,
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
        let before = room(occ, expected);
        for (k, &pl) in model.profiles[slot].placements.iter().enumerate() {
            if occ.refusal(slot, pl).is_some() {
                continue;
            }
            let mut after = occ.clone();
            after.push(slot, pl);
            let loss = before - room(&after, expected).min(before);
            keyed.push((
                (loss, after.free_memory_slices(), pos, k),
                (gpu.index, pl.start),
            ));
        }
    }
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, v)| v).collect()
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
            bucket_of: HashMap::new(),
            by_model: HashMap::new(),
            choices: HashMap::new(),
            expected: None,
        };
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
        self.choices.clear();
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

    fn choice(&mut self, b: usize, slot: usize) -> Option<Choice> {
        if let Some(c) = self.choices.get(&(b, slot)) {
            return *c;
        }
        let occ = &self.buckets[b].occ;
        let profile = &occ.model().profiles[slot];
        let expected = self.expected.as_deref();
        let before = room(occ, expected);
        let mut best: Option<Choice> = None;
        for &pl in profile.placements {
            if occ.refusal(slot, pl).is_some() {
                continue;
            }
            let mut after = occ.clone();
            after.push(slot, pl);
            let c = Choice {
                start: pl.start,
                loss: before - room(&after, expected).min(before),
                free_after: after.free_memory_slices(),
            };
            if best.is_none_or(|x| (c.loss, c.free_after) < (x.loss, x.free_after)) {
                best = Some(c);
            }
        }
        self.choices.insert((b, slot), best);
        best
    }

    /// Places one instance of `profile` (on a GPU of NUMA node `numa_node` if given) and marks
    /// it in use.
    ///
    /// # Errors
    /// [`Error::NoRoom`] when no GPU can take it now; [`Error::NoSuchProfile`] when no GPU it
    /// may use has the profile at all (retrying cannot help).
    pub fn place(
        &mut self,
        profile: &ProfileName,
        numa_node: Option<u32>,
    ) -> Result<Placed, Error> {
        let mut best: Option<(u64, u32, usize, usize, u8)> = None;
        // Whether any GPU could ever take it (MIG on, the NUMA node, a model with it).
        let mut eligible = false;
        let models: Vec<ModelKey> = self.by_model.keys().copied().collect();
        for m in models {
            let buckets = self.by_model.get(&m).cloned().unwrap_or_default();
            let Some(b0) = buckets.first() else { continue };
            let model = self.buckets[*b0].occ.model();
            let Some(slot) = model.profiles.iter().position(|p| p.name == *profile) else {
                continue;
            };
            for b in buckets {
                let bucket = &self.buckets[b];
                if !bucket.mig || numa_node.is_some_and(|n| bucket.numa != Some(n)) {
                    continue;
                }
                let Some(&g) = bucket.gpus.first() else {
                    continue;
                };
                eligible = true;
                let Some(c) = self.choice(b, slot) else {
                    continue;
                };
                let cand = (c.loss, c.free_after, g, slot, c.start);
                if best.is_none_or(|x| (cand.0, cand.1, cand.2) < (x.0, x.1, x.2)) {
                    best = Some(cand);
                }
            }
        }
        let Some((_, _, g, slot, start)) = best else {
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
        r
    }
}

#[cfg(test)]
mod ranking_tests {
    use super::*;
    use gpupart_profiles::catalog::A100_40GB;
    use proptest::prelude::*;

    proptest! {
        /// The first of the ranking is where `place` puts the instance.
        #[test]
        fn ranking_leads_with_what_place_picks(ops in prop::collection::vec((0usize..7, any::<bool>()), 1..40)) {
            let mut online = Online::new(Fleet::uniform(&A100_40GB, 4));
            let names: Vec<ProfileName> = A100_40GB.profiles.iter().map(|p| p.name).collect();
            let mut held: Vec<(u32, u8)> = Vec::new();
            for (k, release) in ops {
                if release && !held.is_empty() {
                    let (g, s) = held.remove(k % held.len());
                    online.release(g, s).unwrap();
                    continue;
                }
                let want = names[k % names.len()];
                let first = ranking(online.fleet(), &want, online.expected()).first().copied();
                match online.place(&want, None) {
                    Ok(p) => {
                        prop_assert_eq!(first, Some((p.gpu, p.instance.start)));
                        held.push((p.gpu, p.instance.start));
                    }
                    Err(_) => prop_assert_eq!(first, None),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpupart_profiles::catalog::A100_40GB;

    fn name(s: &str) -> ProfileName {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_room_for_large_profiles() {
        let mut online = Online::new(Fleet::uniform(&A100_40GB, 2));
        // A 1g goes to the top of the GPU, away from slices 0-3 where a 4g starts.
        let a = online.place(&name("1g.5gb"), None).unwrap();
        assert_eq!((a.gpu, a.instance.start), (0, 6));
        // The next 1g goes next to it, on the same GPU (best fit).
        let b = online.place(&name("1g.5gb"), None).unwrap();
        assert_eq!(b.gpu, 0);
        assert!(b.instance.start >= 4);
        // A 4g still fits on GPU 0; the 7g goes to GPU 1.
        let c = online.place(&name("4g.20gb"), None).unwrap();
        assert_eq!((c.gpu, c.instance.start), (0, 0));
        let d = online.place(&name("7g.40gb"), None).unwrap();
        assert_eq!(d.gpu, 1);
        assert!(online.place(&name("7g.40gb"), None).is_err());
        online.release(1, 0).unwrap();
        assert!(online.release(1, 0).is_err());
        assert_eq!(online.place(&name("7g.40gb"), None).unwrap().gpu, 1);
    }

    #[test]
    fn gpus_are_named_by_index_and_missing_profiles_are_not_no_room() {
        use crate::Gpu;
        use gpupart_profiles::catalog::H100_SXM_80GB;
        let fleet = Fleet::new(vec![
            Gpu::new(40, &H100_SXM_80GB).with_numa_node(1),
            Gpu::new(7, &H100_SXM_80GB),
        ])
        .unwrap();
        let mut online = Online::new(fleet);
        let p = online.place(&name("7g.80gb"), Some(1)).unwrap();
        assert_eq!(p.gpu, 40, "the GPU's index, not its position");
        assert!(matches!(
            online.place(&name("7g.80gb"), Some(1)),
            Err(Error::NoRoom { .. })
        ));
        // No GPU of the fleet has these: retrying cannot help.
        for missing in ["7g.40gb", "9g.90gb"] {
            assert!(matches!(
                online.place(&name(missing), None),
                Err(Error::NoSuchProfile { .. })
            ));
        }
        assert!(matches!(
            online.place(&name("1g.10gb"), Some(5)),
            Err(Error::NoSuchProfile {
                numa_node: Some(5),
                ..
            })
        ));
        online.release(40, 0).unwrap();
        assert!(matches!(online.release(1, 0), Err(Error::NoGpu { gpu: 1 })));
        assert!(matches!(
            Fleet::new(vec![
                Gpu::new(3, &H100_SXM_80GB),
                Gpu::new(3, &H100_SXM_80GB)
            ]),
            Err(Error::DuplicateGpu { gpu: 3 })
        ));
    }

    #[test]
    fn room_counts_only_expected_profiles() {
        // By default a 1g keeps away from the slices a 4g or a 7g needs.
        let mut online = Online::new(Fleet::uniform(&A100_40GB, 1));
        assert_eq!(
            online.place(&name("1g.5gb"), None).unwrap().instance.start,
            6
        );
        // A workload of 2g and 1g: the 1g still spares the 2g starts 0, 2 and 4.
        let mut online = Online::new(Fleet::uniform(&A100_40GB, 1));
        online.expect(&[name("1g.5gb"), name("2g.10gb")]);
        assert_eq!(
            online.place(&name("1g.5gb"), None).unwrap().instance.start,
            6
        );
        // Only 1g instances expected: every start loses the same, the lowest wins.
        let mut online = Online::new(Fleet::uniform(&A100_40GB, 1));
        online.place(&name("1g.5gb"), None).unwrap();
        online.expect(&[name("1g.5gb")]);
        assert_eq!(
            online.place(&name("1g.5gb"), None).unwrap().instance.start,
            0
        );
    }
}
