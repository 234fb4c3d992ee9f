//! What the instances on one GPU take, and the one rule for whether another may go where it
//! asks: its placement is legal, its memory slices are free, compute slices are left, the
//! profile's instance limit is not reached and the media extensions are free where it needs
//! them. Typed layouts ([`crate::typed::Layout`]), the solvers and the simulators all ask this.

use crate::Error;
use crate::model::{GpuInstanceProfile, GpuModel, ModelKey, Placement};

/// The resources the GPU instances of one GPU take: memory slices (bit `i` = slice `i`), compute
/// slices, the GPU's one set of media extensions, and instances per profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occupancy {
    model: &'static GpuModel,
    memory_mask: u32,
    compute_used: u8,
    media_used: bool,
    /// Instances per profile, in the order of `model.profiles`.
    per_profile: smallvec::SmallVec<[u8; PROFILES_INLINE]>,
    instances: smallvec::SmallVec<[(&'static GpuInstanceProfile, Placement); INSTANCES_INLINE]>,
}

/// Profiles per model kept inline (a model with more spills to the heap): solvers clone
/// occupancies by the million, and an inline clone is a copy.
const PROFILES_INLINE: usize = 24;

/// Instances kept inline: one a memory slice on every model of the catalog but those with
/// more than 8 slices.
const INSTANCES_INLINE: usize = 8;

impl Occupancy {
    /// An empty GPU of `model`.
    #[must_use]
    pub fn new(model: &'static GpuModel) -> Self {
        Occupancy {
            model,
            memory_mask: 0,
            compute_used: 0,
            media_used: false,
            per_profile: smallvec::smallvec![0; model.profiles.len()],
            instances: smallvec::SmallVec::new(),
        }
    }

    /// The GPU's model.
    #[must_use]
    pub fn model(&self) -> &'static GpuModel {
        self.model
    }

    /// Occupied memory slices.
    #[must_use]
    pub fn memory_mask(&self) -> u32 {
        self.memory_mask
    }

    /// Free memory slices.
    #[must_use]
    pub fn free_memory_slices(&self) -> u32 {
        u32::from(self.model.memory_slices) - self.memory_mask.count_ones()
    }

    /// Compute slices taken.
    #[must_use]
    pub fn compute_used(&self) -> u8 {
        self.compute_used
    }

    /// Whether an instance holds the media extensions (`+me`, `+me.all`).
    #[must_use]
    pub fn media_used(&self) -> bool {
        self.media_used
    }

    /// The instances, in the order they were added.
    #[must_use]
    pub fn instances(&self) -> &[(&'static GpuInstanceProfile, Placement)] {
        &self.instances
    }

    /// What identifies the state for a solver's tables: the model, the occupied slices and
    /// the instances per profile (4 bits each; no profile allows more than 15). Two
    /// occupancies with the same signature take the same placements and hold the same room.
    #[must_use]
    pub fn signature(&self) -> (ModelKey, u32, u128) {
        let packed = self
            .per_profile
            .iter()
            .enumerate()
            .fold(0u128, |acc, (slot, &n)| {
                acc | (u128::from(n & 0xf) << (4 * (slot % 32)))
            });
        (self.model.key(), self.memory_mask, packed)
    }

    /// The position of `profile` in the model's profiles, if it is one of them.
    #[must_use]
    pub fn profile_slot(&self, profile: &GpuInstanceProfile) -> Option<usize> {
        // Names are unique within a model (checked at compile time): compare them first, the
        // whole entry only to make sure it is this model's.
        self.model
            .profiles
            .iter()
            .position(|p| core::ptr::eq(p, profile) || (p.name == profile.name && p == profile))
    }

    /// Why the profile at `slot` cannot take `placement` now, if it cannot; `None` when it
    /// can. `placement` must be one of the profile's legal placements (see [`Occupancy::add`]
    /// for the checked form).
    #[must_use]
    pub fn refusal(&self, slot: usize, placement: Placement) -> Option<&'static str> {
        let profile = &self.model.profiles[slot];
        if self.memory_mask & placement.mask() != 0 {
            return Some("the memory slices are taken");
        }
        if self.per_profile[slot] >= profile.max_instances {
            return Some("the profile's instance limit is reached");
        }
        if self.compute_used + profile.compute_slices > self.model.compute_slices {
            return Some("not enough compute slices are left");
        }
        if self.media_used && profile.name.attributes().has_media_extensions() {
            return Some("the media extensions are taken");
        }
        None
    }

    /// Adds the profile at `slot` at `placement` without checks: for search code that asked
    /// [`Occupancy::refusal`] first. Undo with [`Occupancy::pop`].
    pub fn push(&mut self, slot: usize, placement: Placement) {
        let profile = &self.model.profiles[slot];
        self.memory_mask |= placement.mask();
        self.compute_used += profile.compute_slices;
        self.media_used |= profile.name.attributes().has_media_extensions();
        self.per_profile[slot] += 1;
        self.instances.push((profile, placement));
    }

    /// Removes the instance [`Occupancy::push`] added last (of the profile at `slot`).
    pub fn pop(&mut self, slot: usize) {
        let profile = &self.model.profiles[slot];
        if let Some((_, placement)) = self.instances.pop() {
            self.memory_mask &= !placement.mask();
            self.compute_used -= profile.compute_slices;
            if profile.name.attributes().has_media_extensions() {
                self.media_used = false;
            }
            self.per_profile[slot] -= 1;
        }
    }

    /// Adds an instance of `profile` at memory slice `start`.
    ///
    /// # Errors
    /// [`Error::ForeignProfile`] when `profile` is not one of the model's;
    /// [`Error::IllegalPlacement`] when `start` is not a legal placement of it, or its slices,
    /// compute slices, instance limit or the media extensions are taken. Nothing changes then.
    pub fn add(&mut self, profile: &GpuInstanceProfile, start: u8) -> Result<Placement, Error> {
        let slot = self.profile_slot(profile).ok_or(Error::ForeignProfile {
            model: self.model.name,
            profile: profile.name,
        })?;
        let err = |reason| Error::IllegalPlacement {
            model: self.model.name,
            profile: profile.name,
            start,
            reason,
        };
        let placement = profile
            .placement_at(start)
            .ok_or_else(|| err("not a legal start slice for it"))?;
        if let Some(reason) = self.refusal(slot, placement) {
            return Err(err(reason));
        }
        self.push(slot, placement);
        Ok(placement)
    }
}
