//! Device order as policy. The scheduler's allocator takes the first device, in slice order,
//! that matches a request and whose counters fit; there is no scoring (KEP-4970 is open), so
//! the order a driver publishes is its only lever on fragmentation.
//!
//! - [`Order::Nvidia`]: NVIDIA's driver: per GPU, the full GPU, then the profiles in table
//!   order, starts ascending. First fit then fills GPU 0 slice by slice and spreads small
//!   devices over low starts whatever else they block.
//! - [`Order::Gpupart`]: the full GPUs, then each profile's devices in the order gpupart's
//!   online placement prefers them now ([`gpupart_topology::ranking`]: least room lost for
//!   the profiles the workload asks for, then the fuller GPU, then the lower GPU), the ones
//!   that cannot go now after. After a republish the first fit picks exactly what
//!   [`gpupart_topology::Online::place`] would; each profile's devices go in slices of their
//!   own, so a change of occupancy republishes only the profiles whose order changed.

use std::collections::HashMap;

use gpupart_profiles::ProfileName;
use gpupart_topology::{Fleet, ranking};

use crate::devices::{DeviceKind, DeviceSpec};

/// Which order devices are published in.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Order {
    /// NVIDIA's driver's order.
    Nvidia,
    /// gpupart's online placement's order.
    #[default]
    Gpupart,
}

/// Arranges `devices` (every GPU's, as [`crate::devices::gpu_devices`] gives them) in
/// `order`, as groups each published in slices of its own: one group for NVIDIA's order;
/// for gpupart's, the full GPUs, then one group per profile (by name, first seen first).
/// `fleet` is the node's occupancy now (what is allocated or exists).
#[must_use]
pub fn arrange(
    devices: Vec<DeviceSpec>,
    fleet: &Fleet,
    order: Order,
    expected: Option<&[ProfileName]>,
) -> Vec<Vec<DeviceSpec>> {
    if order == Order::Nvidia {
        return vec![devices];
    }
    let mut full = Vec::new();
    let mut groups: Vec<(ProfileName, Vec<DeviceSpec>)> = Vec::new();
    for d in devices {
        match d.kind {
            DeviceKind::Full => full.push(d),
            DeviceKind::Mig { profile, .. } => {
                match groups.iter_mut().find(|(p, _)| *p == profile.name) {
                    Some((_, g)) => g.push(d),
                    None => groups.push((profile.name, vec![d])),
                }
            }
        }
    }
    let mut out = Vec::new();
    if !full.is_empty() {
        out.push(full);
    }
    for (profile, mut group) in groups {
        let rank: HashMap<(u32, u8), usize> = ranking(fleet, &profile, expected)
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, i))
            .collect();
        group.sort_by_key(|d| {
            let start = match d.kind {
                DeviceKind::Mig { placement, .. } => placement.start,
                DeviceKind::Full => 0,
            };
            (
                rank.get(&(d.gpu, start)).copied().unwrap_or(usize::MAX),
                d.gpu,
                start,
            )
        });
        out.push(group);
    }
    out
}
