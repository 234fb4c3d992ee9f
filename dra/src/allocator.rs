//! A model of the Kubernetes scheduler's DRA allocator for one device per request, as
//! `k8s.io/dynamic-resource-allocation/structured/internal/incubating/allocator_incubating.go`
//! does it (Kubernetes 1.34–1.36): `Allocate` gathers the node's pools (`GatherPools`), then
//! `allocateOne` walks each pool's slices and each slice's devices in the order they are
//! listed and takes the first device that matches the request's selectors, is not allocated
//! already, and — the device consuming counters — passes `checkAvailableCounters`: every
//! counter it consumes is still available in its counter set, after what allocated devices
//! consume. There is no scoring: the first fit is the choice. Selectors are a predicate here
//! (a DeviceClass's CEL `device.attributes["gpu.nvidia.com"].profile == "3g.20gb"`, say).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::resource::v1::{Device, ResourceSlice};

use crate::counters::Counters;

/// A device in slice order: its name, the device, what it consumes (counter set, counters).
type Listed = (String, Device, Vec<(String, Counters)>);

/// The allocator's view of one node's pool.
#[derive(Debug, Clone)]
pub struct Allocator {
    /// Devices in slice order, with the counters each consumes: (name, device, consumed
    /// (counter set, counters)).
    devices: Vec<Listed>,
    /// What each counter set has left after the allocated devices.
    left: BTreeMap<String, Counters>,
    allocated: BTreeSet<String>,
}

/// A Kubernetes quantity as a whole number: digits with an optional binary (`Ki` … `Ei`) or
/// decimal (`k` … `E`) suffix; `None` for anything else (fractions, exponents, overflow).
#[must_use]
pub fn quantity(q: &str) -> Option<u64> {
    let q = q.trim();
    let digits = q.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 20 {
        return None;
    }
    let (num, suffix) = q.split_at(digits);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Counters as numbers. A counter set's quantity that is not a whole number counts as 0 (it
/// offers nothing); a consumption's counts as more than any set has (it never fits): the
/// model never lets through what it cannot read.
fn parse_counters(
    c: &BTreeMap<String, k8s_openapi::api::resource::v1::Counter>,
    offered: bool,
) -> Counters {
    c.iter()
        .map(|(k, v)| {
            let n = quantity(&v.value.0).unwrap_or(if offered { 0 } else { u64::MAX });
            (k.clone(), n)
        })
        .collect()
}

impl Allocator {
    /// The pool `slices` publish, in their order, nothing allocated.
    #[must_use]
    pub fn new(slices: &[ResourceSlice]) -> Self {
        let mut devices = Vec::new();
        let mut sets = BTreeMap::new();
        for s in slices {
            for c in s.spec.shared_counters.as_deref().unwrap_or_default() {
                sets.insert(c.name.clone(), parse_counters(&c.counters, true));
            }
            for d in s.spec.devices.as_deref().unwrap_or_default() {
                let cons = d
                    .consumes_counters
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(|c| (c.counter_set.clone(), parse_counters(&c.counters, false)))
                    .collect();
                devices.push((d.name.clone(), d.clone(), cons));
            }
        }
        Allocator {
            devices,
            left: sets,
            allocated: BTreeSet::new(),
        }
    }

    /// Takes (or, with `back`, gives back) what device `name` consumes from its sets
    /// (`checkAvailableCounters`' arithmetic: a set's counters less what allocated devices
    /// consume).
    fn account(&mut self, name: &str, back: bool) {
        let Some((_, _, cons)) = self.devices.iter().find(|(n, _, _)| n == name) else {
            return;
        };
        for (set, counters) in cons {
            if let Some(l) = self.left.get_mut(set) {
                for (k, v) in counters {
                    if let Some(x) = l.get_mut(k) {
                        *x = if back {
                            x.saturating_add(*v)
                        } else {
                            x.saturating_sub(*v)
                        };
                    }
                }
            }
        }
    }

    fn fits(&self, left: &BTreeMap<String, Counters>, cons: &[(String, Counters)]) -> bool {
        cons.iter().all(|(set, counters)| {
            left.get(set)
                .is_some_and(|l| crate::counters::fits(l, counters))
        })
    }

    /// Whether device `name` could be allocated now (not allocated, counters available).
    #[must_use]
    pub fn can_allocate(&self, name: &str) -> bool {
        self.devices
            .iter()
            .find(|(n, _, _)| n == name)
            .is_some_and(|(n, _, cons)| !self.allocated.contains(n) && self.fits(&self.left, cons))
    }

    /// Allocates the first device, in slice order, that `select` accepts and whose counters
    /// fit; its name.
    pub fn allocate(&mut self, select: &dyn Fn(&Device) -> bool) -> Option<String> {
        let found = self
            .devices
            .iter()
            .find(|(n, d, cons)| {
                !self.allocated.contains(n) && select(d) && self.fits(&self.left, cons)
            })
            .map(|(n, _, _)| n.clone())?;
        self.mark_allocated(&found);
        Some(found)
    }

    /// Puts the devices in the order `names` gives (a republish that only reorders, as
    /// gpupart's order does when occupancy changes); devices not named keep their relative
    /// order after the named ones.
    pub fn reorder(&mut self, names: &[String]) {
        let pos: BTreeMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let mut devices = std::mem::take(&mut self.devices);
        devices.sort_by_key(|(n, _, _)| pos.get(n.as_str()).copied().unwrap_or(usize::MAX));
        self.devices = devices;
    }

    /// Marks `name` allocated (a claim allocated before), whether or not it fits.
    pub fn mark_allocated(&mut self, name: &str) {
        if self.allocated.insert(name.to_owned()) {
            self.account(name, false);
        }
    }

    /// Frees `name` (its claim was deallocated).
    pub fn release(&mut self, name: &str) -> bool {
        let was = self.allocated.remove(name);
        if was {
            self.account(name, true);
        }
        was
    }

    /// The allocated devices.
    #[must_use]
    pub fn allocated(&self) -> &BTreeSet<String> {
        &self.allocated
    }
}

/// A selector for MIG devices of `profile` (`type == "mig"`, `profile == …`), as a DeviceClass
/// and a claim's CEL would select them.
pub fn mig_profile(profile: &str) -> impl Fn(&Device) -> bool + '_ {
    move |d: &Device| {
        let attr = |k: &str| {
            d.attributes
                .as_ref()
                .and_then(|a| a.get(k))
                .and_then(|v| v.string.as_deref())
        };
        attr("type") == Some("mig") && attr("profile") == Some(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::quantity;

    #[test]
    fn quantities() {
        assert_eq!(quantity("7"), Some(7));
        assert_eq!(quantity("80Gi"), Some(80 << 30));
        assert_eq!(quantity("2k"), Some(2000));
        for bad in [
            "",
            "1.5",
            "1e3",
            "Gi",
            "-1",
            "99999999999999999999Ei",
            "1Xi",
        ] {
            assert_eq!(quantity(bad), None, "{bad}");
        }
    }
}
