//! What the solver answers: the plan (per GPU what to destroy, create and reuse), what it
//! leaves out and why, its objective values and the bound on the optimum; in words
//! (`Display`) and as the fleet it leaves ([`Plan::layout`]).

use gpupart_profiles::{GpuInstanceProfile, Placement};

use crate::Error;
use crate::fleet::{Fleet, Instance};

/// An instance to create.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Creation {
    /// The request it serves (index into the request list).
    pub request: usize,
    /// The profile.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::gi_profile"))]
    pub profile: &'static GpuInstanceProfile,
    /// The explicit placement.
    pub placement: Placement,
}

/// A free existing instance that serves a request as it is.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reuse {
    /// The request it serves.
    pub request: usize,
    /// The instance.
    pub instance: Instance,
}

/// What the plan does to one GPU.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuChange {
    /// The GPU ([`Gpu::index`](crate::Gpu::index)).
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
    /// Per priority level asked for (highest first): the instances placed of that priority or
    /// higher, to hold against [`Bound::max_placed_by_priority`].
    #[cfg_attr(feature = "serde", serde(default))]
    pub placed_by_priority: Vec<(u8, u64)>,
}

/// Bounds on the optimum, one meaning in every mode: no plan of the fleet places more than
/// `max_placed` instances, none places more than `max_placed_by_priority[k].1` of priority
/// `max_placed_by_priority[k].0` or higher, the optimum (lexicographic: higher priorities
/// first) places no more than `optimum_by_priority[k].1` of that priority or higher, and no
/// plan that places as many instances as this plan uses fewer than `min_gpus_used` GPUs.
/// They are certified (see the `bound` module): they hold whatever the search did, the
/// heuristic's plans and the exact ones alike.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Bound {
    /// Upper bound on instances placed (all priorities).
    pub max_placed: u64,
    /// Lower bound on GPUs used by any plan placing as many instances as this one.
    pub min_gpus_used: u32,
    /// Per priority level present (highest first): an upper bound on the instances of that
    /// priority or higher any plan places.
    pub max_placed_by_priority: Vec<(u8, u64)>,
    /// Per priority level present (highest first): an upper bound on the instances of that
    /// priority or higher that the optimum places, where the optimum places as many as it
    /// can of the highest priority, then of the next, and so on. At the highest level it is
    /// `max_placed_by_priority`'s; below, never above it, and tighter where this plan
    /// places at every higher level all that the optimum can (the optimum then places
    /// exactly that much there, so a plan placing more at this level by placing less above
    /// is no rival). A plan that reaches it at every level places what the optimum does.
    #[cfg_attr(feature = "serde", serde(default))]
    pub optimum_by_priority: Vec<(u8, u64)>,
}

impl Bound {
    /// [`Bound::optimum_by_priority`]'s counts alone, per level (highest first).
    pub(crate) fn optimum_levels(&self) -> Vec<u64> {
        self.optimum_by_priority.iter().map(|&(_, b)| b).collect()
    }
}

/// A deterministic plan: per GPU what to destroy and create (with explicit starts), what is
/// not placed and why, the objective and a bound on the optimum.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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
    ///
    /// The optimum is lexicographic (the most of the highest priority, then of the next, and
    /// so on), so the first is the most it may place beyond this plan at any priority level
    /// or higher ([`Bound::optimum_by_priority`] against [`Objective::placed_by_priority`]):
    /// `0` proves every level optimal in turn, not only the total. A plan that places as
    /// many instances as possible, but of a lower priority than it could, has a gap; one
    /// that places all the highest priority can and, beside them, as many of the next as
    /// any plan that does, has none, although a plan placing more of the lower priority
    /// alone may exist ([`Bound::max_placed`] tells that one).
    #[must_use]
    pub fn gap(&self) -> (u64, u32) {
        let by_level = self
            .bound
            .optimum_by_priority
            .iter()
            .zip(&self.objective.placed_by_priority)
            .map(|((_, b), (_, p))| b.saturating_sub(*p))
            .max();
        (
            by_level.unwrap_or_else(|| self.bound.max_placed.saturating_sub(self.objective.placed)),
            self.objective
                .gpus_used
                .saturating_sub(self.bound.min_gpus_used),
        )
    }

    /// Whether the plan is proven optimal: the exact search proved it on the whole objective,
    /// or the bound proves it on instances placed (per priority level) and GPUs used
    /// (`gap() == (0, 0)`).
    #[must_use]
    pub fn proven(&self) -> bool {
        self.exact || self.gap() == (0, 0)
    }

    /// Every GPU as the plan leaves it: `fleet` (the one it was made for) with the plan
    /// applied, the original untouched.
    ///
    /// # Errors
    /// As [`Plan::apply_to`].
    pub fn layout(&self, fleet: &Fleet) -> Result<Fleet, Error> {
        let mut after = fleet.clone();
        self.apply_to(&mut after)?;
        Ok(after)
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

impl core::fmt::Display for Plan {
    /// The plan in words: what it places against the bound, then per GPU what it does, then
    /// what it leaves out and why.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (gap_placed, gap_gpus) = self.gap();
        // Proven optimal with more GPUs than the bound: the objective put reuse and fewer
        // reconfigured GPUs first (the bound counts GPUs only), and the line says so.
        let why = if self.exact && self.objective.gpus_used > self.bound.min_gpus_used {
            "; more here to reuse instances and reconfigure fewer GPUs"
        } else {
            ""
        };
        writeln!(
            f,
            "placed {} (at most {} possible), on {} GPUs (at least {} needed{why}), {} reconfigured, {} reused, {} destroyed{}",
            self.objective.placed,
            self.bound.max_placed,
            self.objective.gpus_used,
            self.bound.min_gpus_used,
            self.objective.gpus_reconfigured,
            self.objective.reused,
            self.objective.destroyed,
            if self.exact {
                ", proven optimal".to_owned()
            } else if (gap_placed, gap_gpus) == (0, 0) {
                ", proven optimal in instances placed and GPUs used".to_owned()
            } else {
                format!(", gap ({gap_placed}, {gap_gpus})")
            }
        )?;
        for c in &self.changes {
            write!(f, "GPU {}:", c.gpu)?;
            if c.enable_mig {
                f.write_str(" enable MIG;")?;
            }
            for x in &c.destroy {
                write!(f, " destroy {}@{};", x.profile.name, x.start)?;
            }
            for x in &c.reuse {
                write!(
                    f,
                    " reuse {}@{} for #{};",
                    x.instance.profile.name, x.instance.start, x.request
                )?;
            }
            for x in &c.create {
                write!(
                    f,
                    " create {}@{} for #{};",
                    x.profile.name, x.placement.start, x.request
                )?;
            }
            writeln!(f)?;
        }
        for u in &self.unplaced {
            let why = match u.reason {
                UnplacedReason::NoSuchProfile => "no GPU has the profile",
                UnplacedReason::NoEligibleGpu => "no GPU the request may use has it",
                UnplacedReason::NoRoom => "no room left",
            };
            writeln!(f, "not placed: {} of #{} ({why})", u.count, u.request)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(placed: &[(u8, u64)], bound: &[(u8, u64)], exact: bool) -> Plan {
        let total = |v: &[(u8, u64)]| v.last().map_or(0, |&(_, n)| n);
        Plan {
            changes: Vec::new(),
            unplaced: Vec::new(),
            objective: Objective {
                placed: total(placed),
                placed_by_priority: placed.to_vec(),
                ..Objective::default()
            },
            bound: Bound {
                max_placed: total(bound),
                min_gpus_used: 0,
                max_placed_by_priority: bound.to_vec(),
                optimum_by_priority: bound.to_vec(),
            },
            exact,
        }
    }

    #[test]
    fn the_gap_counts_every_priority_level() {
        // Seven instances placed of the seven possible, but none of priority 1, where one was
        // possible: not proven, whatever the total says.
        let p = plan(&[(1, 0), (0, 7)], &[(1, 1), (0, 7)], false);
        assert_eq!(p.gap(), (1, 0));
        assert!(!p.proven());
        // Every level at its bound: proven by the bound alone.
        let p = plan(&[(1, 1), (0, 6)], &[(1, 1), (0, 6)], false);
        assert_eq!(p.gap(), (0, 0));
        assert!(p.proven());
        // The exact search's word is proof on its own, gap or not.
        let p = plan(&[(1, 1), (0, 1)], &[(1, 1), (0, 7)], true);
        assert_eq!(p.gap(), (6, 0));
        assert!(p.proven());
        // Seven of priority 0 fit alone, but the optimum places the one of priority 1 first,
        // and beside it nothing: no gap, whatever `max_placed` says.
        let mut p = plan(&[(1, 1), (0, 1)], &[(1, 1), (0, 7)], false);
        p.bound.optimum_by_priority = vec![(1, 1), (0, 1)];
        assert_eq!(p.gap(), (0, 0));
        assert!(p.proven());
    }
}
