//! ResourceSlices for a node: counter sets in slices of their own (at most 8 sets each, at
//! most 32 counters a set), devices in slices of at most 64 (the limit once a device consumes
//! counters), each device consuming from one counter set, every name a DNS label; checked by
//! [`validate`] before anything is returned. [`republish`] names the slices a change touches.

use std::collections::{BTreeMap, BTreeSet};

use gpupart_mig::state::GpuState;
use gpupart_profiles::ProfileName;
use gpupart_topology::Fleet;
use k8s_openapi::api::resource::v1::{
    Counter, CounterSet, Device, DeviceAttribute, DeviceCapacity, DeviceCounterConsumption,
    ResourcePool, ResourceSlice, ResourceSliceSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::Error;
use crate::counters::{Counters, consume};
use crate::devices::{
    AttrValue, CounterSetSpec, DRIVER, DeviceSpec, NodeInfo, gpu_counter_set, gpu_devices,
};
use crate::order::{Order, arrange};

/// The API's limits (`resource.k8s.io/v1`, Kubernetes 1.34–1.37).
pub mod limits {
    /// Devices in a slice.
    pub const DEVICES: usize = 128;
    /// Devices in a slice once any device consumes counters or has taints.
    pub const DEVICES_WITH_COUNTERS: usize = 64;
    /// Counter sets in a slice.
    pub const COUNTER_SETS: usize = 8;
    /// Counters in a counter set, and in one consumption.
    pub const COUNTERS: usize = 32;
    /// Counter consumptions of a device.
    pub const CONSUMPTIONS: usize = 2;
    /// Attributes and capacities of a device, together.
    pub const ATTRIBUTES_AND_CAPACITIES: usize = 32;
}

/// How a node's slices are made.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SliceOptions {
    /// The node's name (`spec.nodeName`, and the pool's name).
    pub node: String,
    /// The pool's generation.
    pub generation: i64,
    /// The device order.
    pub order: Order,
    /// The profiles the workload asks for (gpupart's order keeps room for these); `None`:
    /// every profile.
    pub expected: Option<Vec<ProfileName>>,
}

impl SliceOptions {
    /// Slices for node `node`, generation 1, gpupart's order.
    #[must_use]
    pub fn new(node: &str) -> Self {
        SliceOptions {
            node: node.to_owned(),
            generation: 1,
            order: Order::Gpupart,
            expected: None,
        }
    }

    /// In `order`.
    #[must_use]
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Generation `g`.
    #[must_use]
    pub fn generation(mut self, g: i64) -> Self {
        self.generation = g;
        self
    }

    /// Keeping room for `profiles`.
    #[must_use]
    pub fn expected(mut self, profiles: Vec<ProfileName>) -> Self {
        self.expected = Some(profiles);
        self
    }
}

fn quantity(v: u64) -> Quantity {
    Quantity(v.to_string())
}

fn counters_k8s(c: &Counters) -> BTreeMap<String, Counter> {
    c.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Counter {
                    value: quantity(*v),
                },
            )
        })
        .collect()
}

fn attribute(v: &AttrValue) -> DeviceAttribute {
    let mut a = DeviceAttribute::default();
    match v {
        AttrValue::Str(s) => a.string = Some(s.clone()),
        AttrValue::Int(i) => a.int = Some(*i),
        AttrValue::Version(s) => a.version = Some(s.clone()),
    }
    a
}

fn device_k8s(d: &DeviceSpec, set: &str) -> Device {
    Device {
        name: d.name.clone(),
        attributes: Some(
            d.attributes
                .iter()
                .map(|(k, v)| (k.clone(), attribute(v)))
                .collect(),
        ),
        capacity: (!d.capacity.is_empty()).then(|| {
            d.capacity
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        DeviceCapacity {
                            value: quantity(*v),
                            ..DeviceCapacity::default()
                        },
                    )
                })
                .collect()
        }),
        consumes_counters: (!d.consumes.is_empty()).then(|| {
            vec![DeviceCounterConsumption {
                counter_set: set.to_owned(),
                counters: counters_k8s(&d.consumes),
            }]
        }),
        ..Device::default()
    }
}

/// The node's occupancy as gpupart's model sees it.
///
/// # Errors
/// [`Error::Mig`] when a GPU's state does not fit the catalog.
pub fn fleet_of(gpus: &[GpuState]) -> Result<Fleet, Error> {
    let topo: Vec<_> = gpus
        .iter()
        .filter(|g| g.model.is_some())
        .map(GpuState::to_topology)
        .collect::<Result<_, _>>()?;
    Ok(Fleet::new(topo)?)
}

/// The counter sets and the devices of a node, in `opts.order`, grouped for slicing. GPU
/// instances that exist but are not in `claimed` ((GPU, start) of devices allocated through
/// DRA) are foreign: their counters are taken out of the GPU's set, so no device that
/// overlaps them can be allocated.
///
/// # Errors
/// [`Error::Mig`] when a GPU's state does not fit the catalog.
pub fn node_devices(
    gpus: &[GpuState],
    node: &NodeInfo,
    claimed: &[(u32, u8)],
    opts: &SliceOptions,
) -> Result<(Vec<CounterSetSpec>, Vec<Vec<DeviceSpec>>), Error> {
    let mut sets = Vec::new();
    let mut devices = Vec::new();
    for g in gpus {
        if let Some(mut set) = gpu_counter_set(g)
            && let Some(model) = g.model
        {
            // (`gpu_counter_set` is `Some` only for a GPU in MIG mode.)
            for x in &g.instances {
                if !claimed.contains(&(g.info.index, x.placement.start)) {
                    consume(
                        &mut set.counters,
                        &crate::counters::mig_consumption(model, x.profile, x.placement),
                    );
                }
            }
            sets.push(set);
        }
        devices.extend(gpu_devices(g, node));
    }
    let fleet = fleet_of(gpus)?;
    let groups = arrange(devices, &fleet, opts.order, opts.expected.as_deref());
    Ok((sets, groups))
}

/// The node's ResourceSlices: see [`node_devices`]; slices named `<node>-gpu-<n>`, in one
/// pool named after the node, checked by [`validate`].
///
/// # Errors
/// [`Error::Limit`] if a slice would break an API limit; [`Error::Mig`] as
/// [`node_devices`].
pub fn node_slices(
    gpus: &[GpuState],
    node: &NodeInfo,
    claimed: &[(u32, u8)],
    opts: &SliceOptions,
) -> Result<Vec<ResourceSlice>, Error> {
    let (sets, groups) = node_devices(gpus, node, claimed, opts)?;
    assemble(&sets, &groups, opts)
}

/// The slices of counter sets `sets` and device groups `groups` (each group in slices of its
/// own, in order), checked by [`validate`].
///
/// # Errors
/// [`Error::Limit`] if a slice would break an API limit.
pub fn assemble(
    sets: &[CounterSetSpec],
    groups: &[Vec<DeviceSpec>],
    opts: &SliceOptions,
) -> Result<Vec<ResourceSlice>, Error> {
    let mut specs: Vec<ResourceSliceSpec> = Vec::new();
    let pool = |count: i64| ResourcePool {
        name: opts.node.clone(),
        generation: opts.generation,
        resource_slice_count: count,
    };
    for chunk in sets.chunks(limits::COUNTER_SETS) {
        specs.push(ResourceSliceSpec {
            driver: DRIVER.to_owned(),
            node_name: Some(opts.node.clone()),
            pool: pool(0),
            shared_counters: Some(
                chunk
                    .iter()
                    .map(|s| CounterSet {
                        name: s.name.clone(),
                        counters: counters_k8s(&s.counters),
                    })
                    .collect(),
            ),
            ..ResourceSliceSpec::default()
        });
    }
    let set_of: BTreeMap<u32, String> = sets.iter().map(|s| (s.gpu, s.name.clone())).collect();
    for group in groups {
        for chunk in group.chunks(limits::DEVICES_WITH_COUNTERS) {
            specs.push(ResourceSliceSpec {
                driver: DRIVER.to_owned(),
                node_name: Some(opts.node.clone()),
                pool: pool(0),
                devices: Some(
                    chunk
                        .iter()
                        .map(|d| device_k8s(d, set_of.get(&d.gpu).map_or("", String::as_str)))
                        .collect(),
                ),
                ..ResourceSliceSpec::default()
            });
        }
    }
    let count = i64::try_from(specs.len()).unwrap_or(i64::MAX);
    let slices: Vec<ResourceSlice> = specs
        .into_iter()
        .enumerate()
        .map(|(i, mut spec)| {
            spec.pool.resource_slice_count = count;
            ResourceSlice {
                metadata: ObjectMeta {
                    name: Some(format!("{}-gpu-{i:03}", opts.node)),
                    ..ObjectMeta::default()
                },
                spec,
            }
        })
        .collect();
    validate(&slices)?;
    Ok(slices)
}

/// Whether `s` is a DNS label (RFC 1123): 1 to 63 of `[a-z0-9-]`, alphanumeric at both ends.
#[must_use]
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Whether `s` is a DNS subdomain (RFC 1123): at most 253 characters, dot-separated DNS
/// labels.
#[must_use]
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Checks every API limit on one pool's slices: per slice devices or counter sets, not both;
/// at most 128 devices (64 once one consumes counters); at most 8 counter sets of 1 to 32
/// counters; per device at most 2 consumptions (one per set) of at most 32 counters, and at
/// most 32 attributes and capacities; DNS-label names, unique in the pool; every consumed
/// counter set and counter defined in the pool; one pool name, generation and slice count
/// that matches.
///
/// # Errors
/// [`Error::Limit`] naming the slice and the limit.
pub fn validate(slices: &[ResourceSlice]) -> Result<(), Error> {
    let mut sets: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut device_names: BTreeSet<&str> = BTreeSet::new();
    let err = |s: &ResourceSlice, what: String| Error::Limit {
        slice: s.metadata.name.clone().unwrap_or_default(),
        what,
    };
    for s in slices {
        let spec = &s.spec;
        let first = &slices[0].spec.pool;
        for (what, name) in [
            ("slice name", s.metadata.name.as_deref().unwrap_or_default()),
            ("pool name", spec.pool.name.as_str()),
            ("driver", spec.driver.as_str()),
            ("node name", spec.node_name.as_deref().unwrap_or("node")),
        ] {
            if !is_dns_subdomain(name) {
                return Err(err(
                    s,
                    format!(
                        "{what} {:?} is not a DNS subdomain (lower-case letters, digits, '-', '.')",
                        name.chars().take(80).collect::<String>()
                    ),
                ));
            }
        }
        if spec.pool.name != first.name || spec.pool.generation != first.generation {
            return Err(err(
                s,
                "slices of one pool differ in pool name or generation".to_owned(),
            ));
        }
        if usize::try_from(spec.pool.resource_slice_count).ok() != Some(slices.len()) {
            return Err(err(
                s,
                format!(
                    "resourceSliceCount {} for {} slices",
                    spec.pool.resource_slice_count,
                    slices.len()
                ),
            ));
        }
        let devices = spec.devices.as_deref().unwrap_or_default();
        let counter_sets = spec.shared_counters.as_deref().unwrap_or_default();
        if !devices.is_empty() && !counter_sets.is_empty() {
            return Err(err(s, "devices and sharedCounters in one slice".to_owned()));
        }
        if counter_sets.len() > limits::COUNTER_SETS {
            return Err(err(
                s,
                format!("{} counter sets (at most 8)", counter_sets.len()),
            ));
        }
        for c in counter_sets {
            if !is_dns_label(&c.name) {
                return Err(err(
                    s,
                    format!("counter set name {:?} is not a DNS label", c.name),
                ));
            }
            if c.counters.is_empty() || c.counters.len() > limits::COUNTERS {
                return Err(err(
                    s,
                    format!(
                        "counter set {} has {} counters (1 to 32)",
                        c.name,
                        c.counters.len()
                    ),
                ));
            }
            if let Some(k) = c.counters.keys().find(|k| !is_dns_label(k)) {
                return Err(err(s, format!("counter name {k:?} is not a DNS label")));
            }
            if sets
                .insert(&c.name, c.counters.keys().map(String::as_str).collect())
                .is_some()
            {
                return Err(err(
                    s,
                    format!("counter set {} defined twice in the pool", c.name),
                ));
            }
        }
        let with_counters = devices
            .iter()
            .any(|d| d.consumes_counters.is_some() || d.taints.is_some());
        let max = if with_counters {
            limits::DEVICES_WITH_COUNTERS
        } else {
            limits::DEVICES
        };
        if devices.len() > max {
            return Err(err(s, format!("{} devices (at most {max})", devices.len())));
        }
        for d in devices {
            if !is_dns_label(&d.name) {
                return Err(err(
                    s,
                    format!("device name {:?} is not a DNS label", d.name),
                ));
            }
            if !device_names.insert(&d.name) {
                return Err(err(s, format!("device {} twice in the pool", d.name)));
            }
            let n = d.attributes.as_ref().map_or(0, BTreeMap::len)
                + d.capacity.as_ref().map_or(0, BTreeMap::len);
            if n > limits::ATTRIBUTES_AND_CAPACITIES {
                return Err(err(
                    s,
                    format!(
                        "device {} has {n} attributes and capacities (at most 32)",
                        d.name
                    ),
                ));
            }
            let cons = d.consumes_counters.as_deref().unwrap_or_default();
            if cons.len() > limits::CONSUMPTIONS {
                return Err(err(
                    s,
                    format!(
                        "device {} consumes from {} counter sets (at most 2)",
                        d.name,
                        cons.len()
                    ),
                ));
            }
            for (i, c) in cons.iter().enumerate() {
                if cons[..i].iter().any(|o| o.counter_set == c.counter_set) {
                    return Err(err(
                        s,
                        format!("device {} consumes from {} twice", d.name, c.counter_set),
                    ));
                }
                if c.counters.len() > limits::COUNTERS {
                    return Err(err(
                        s,
                        format!(
                            "device {} consumes {} counters (at most 32)",
                            d.name,
                            c.counters.len()
                        ),
                    ));
                }
            }
        }
    }
    // Every consumption names a set and counters the pool defines.
    for s in slices {
        for d in s.spec.devices.as_deref().unwrap_or_default() {
            for c in d.consumes_counters.as_deref().unwrap_or_default() {
                let Some(have) = sets.get(c.counter_set.as_str()) else {
                    return Err(err(
                        s,
                        format!(
                            "device {} consumes from undefined counter set {}",
                            d.name, c.counter_set
                        ),
                    ));
                };
                if let Some(k) = c.counters.keys().find(|k| !have.contains(k.as_str())) {
                    return Err(err(
                        s,
                        format!(
                            "device {} consumes undefined counter {k} of {}",
                            d.name, c.counter_set
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The slices of `new` a driver must write after `old` was published: those whose spec
/// differs from the slice of the same name in `old`, or that `old` lacks (by index in `new`).
#[must_use]
pub fn republish(old: &[ResourceSlice], new: &[ResourceSlice]) -> Vec<usize> {
    let strip = |s: &ResourceSlice| {
        let mut spec = s.spec.clone();
        spec.pool.generation = 0;
        spec
    };
    new.iter()
        .enumerate()
        .filter(|(_, n)| {
            !old.iter()
                .any(|o| o.metadata.name == n.metadata.name && strip(o) == strip(n))
        })
        .map(|(i, _)| i)
        .collect()
}
