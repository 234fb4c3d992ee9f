//! A plan from every GPU's outcome: its changes, what goes unplaced and why, the objective,
//! and the bound that certifies it.

use super::{Ctx, Realization};
use crate::batch::{GpuChange, Objective, Plan, Reuse, Unplaced, UnplacedReason};

impl<'a> Ctx<'a> {
    pub(in crate::batch) fn plan(
        &self,
        choice: &[Option<Realization>],
        demand: &[u32],
        exact: bool,
    ) -> Plan {
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
    pub(in crate::batch) fn reason(&self, request: usize) -> UnplacedReason {
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
