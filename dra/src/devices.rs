//! A node's devices as NVIDIA's DRA driver (`DynamicMIG`) names and describes them: per GPU
//! one full-GPU device `gpu-<minor>` and one MIG device per legal (profile, placement),
//! `gpu-<minor>-mig-<profile without dots>-<profile ID>-<start>`, with the driver's attributes
//! (`type`, `uuid`/`parentUUID`, `profile`, `productName`, `architecture`, …) so existing
//! DeviceClasses and claims select them, and the counters each consumes.

use std::collections::BTreeMap;

use gpupart_mig::state::GpuState;
use gpupart_profiles::{Architecture, GpuInstanceProfile, GpuModel, Placement};

use crate::counters::{Counters, counter_set_name, gpu_counters, mig_consumption};

/// NVIDIA's DRA driver name: the domain of its attributes.
pub const DRIVER: &str = "gpu.nvidia.com";

/// The standard attribute for a device's PCI bus ID.
pub const PCI_BUS_ID: &str = "resource.kubernetes.io/pciBusID";

/// A device attribute's value.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttrValue {
    /// `string`.
    Str(String),
    /// `int`.
    Int(i64),
    /// `version` (semantic version).
    Version(String),
}

/// A profile by its name (`3g.20gb`), in serialized reports.
#[cfg(feature = "serde")]
fn profile_name<S: serde::Serializer>(
    p: &&'static GpuInstanceProfile,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_str(&p.name)
}

/// What a device is.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceKind {
    /// The whole GPU.
    Full,
    /// A MIG device: a GPU instance of `profile` at `placement`.
    Mig {
        /// Its profile.
        #[cfg_attr(feature = "serde", serde(serialize_with = "profile_name"))]
        profile: &'static GpuInstanceProfile,
        /// Its placement.
        placement: Placement,
    },
}

/// One published device.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceSpec {
    /// Its name (a DNS label).
    pub name: String,
    /// The GPU's NVML index (published as its minor).
    pub gpu: u32,
    /// What it is.
    pub kind: DeviceKind,
    /// Attributes, unqualified names in the driver's domain.
    pub attributes: BTreeMap<String, AttrValue>,
    /// Capacities (NVIDIA's names).
    pub capacity: BTreeMap<String, u64>,
    /// The counters it consumes from its GPU's counter set.
    pub consumes: Counters,
}

/// One GPU's counter set.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CounterSetSpec {
    /// `gpu-<minor>-counter-set`.
    pub name: String,
    /// The GPU's NVML index.
    pub gpu: u32,
    /// Its counters.
    pub counters: Counters,
}

/// What the node says of itself beyond NVML's per-GPU state.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NodeInfo {
    /// The driver version (`580.95.05`), published as a version attribute where given.
    pub driver_version: Option<String>,
    /// The CUDA driver version (`13.0`).
    pub cuda_driver_version: Option<String>,
}

impl NodeInfo {
    /// With the driver and CUDA driver versions.
    #[must_use]
    pub fn versions(driver: &str, cuda: &str) -> Self {
        NodeInfo {
            driver_version: Some(driver.to_owned()),
            cuda_driver_version: Some(cuda.to_owned()),
        }
    }
}

/// A profile name as it appears in a device name: dots dropped, lower case, anything not
/// `[a-z0-9-]` as `-` (`1g.5gb+me` → `1g5gb-me`).
#[must_use]
pub fn profile_token(profile: &str) -> String {
    profile
        .chars()
        .filter(|c| *c != '.')
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_owned()
}

/// The MIG device name NVIDIA's driver gives (profile, placement) on GPU `minor`; `None`
/// for a profile whose NVML profile ID the catalog does not know.
#[must_use]
pub fn mig_device_name(minor: u32, p: &GpuInstanceProfile, start: u8) -> Option<String> {
    let id = p.nvml_id?;
    Some(format!(
        "gpu-{minor}-mig-{}-{id}-{start}",
        profile_token(&p.name.to_string())
    ))
}

/// The full-GPU device name.
#[must_use]
pub fn full_device_name(minor: u32) -> String {
    format!("gpu-{minor}")
}

fn semver(v: &str) -> String {
    // NVIDIA publishes versions as semver: `8.0` → `8.0.0`, `580.95.05` → `580.95.5`.
    let mut parts: Vec<String> = v
        .split('.')
        .take(3)
        .map(|p| p.trim_start_matches('0'))
        .map(|p| {
            if p.is_empty() {
                "0".to_owned()
            } else {
                p.to_owned()
            }
        })
        .collect();
    while parts.len() < 3 {
        parts.push("0".to_owned());
    }
    parts.join(".")
}

fn compute_capability(a: Architecture) -> Option<&'static str> {
    match a {
        Architecture::Ampere => Some("8.0"),
        Architecture::Hopper => Some("9.0"),
        Architecture::Blackwell => Some("10.0"),
        _ => None,
    }
}

fn identity(g: &GpuState, model: &GpuModel, node: &NodeInfo) -> BTreeMap<String, AttrValue> {
    let mut a = BTreeMap::new();
    a.insert(
        "productName".to_owned(),
        AttrValue::Str(g.info.name.clone()),
    );
    a.insert("brand".to_owned(), AttrValue::Str("Nvidia".to_owned()));
    a.insert(
        "architecture".to_owned(),
        AttrValue::Str(format!("{:?}", model.architecture)),
    );
    if let Some(cc) = compute_capability(model.architecture) {
        a.insert(
            "cudaComputeCapability".to_owned(),
            AttrValue::Version(semver(cc)),
        );
    }
    if let Some(v) = &node.driver_version {
        a.insert("driverVersion".to_owned(), AttrValue::Version(semver(v)));
    }
    if let Some(v) = &node.cuda_driver_version {
        a.insert(
            "cudaDriverVersion".to_owned(),
            AttrValue::Version(semver(v)),
        );
    }
    if let Some(pci) = g.info.pci {
        a.insert(PCI_BUS_ID.to_owned(), AttrValue::Str(pci.to_string()));
    }
    a
}

/// The catalog model of a GPU whose MIG devices are published: MIG-capable, MIG mode on now
/// (a MIG device cannot be made on a GPU with MIG off, and gpupart never changes the mode
/// behind a claim: that needs a reset).
fn mig_model(g: &GpuState) -> Option<&'static GpuModel> {
    g.model.filter(|_| g.mig.is_some_and(|m| m.current))
}

/// The counter set of a GPU in MIG mode.
#[must_use]
pub fn gpu_counter_set(g: &GpuState) -> Option<CounterSetSpec> {
    let model = mig_model(g)?;
    Some(CounterSetSpec {
        name: counter_set_name(g.info.index),
        gpu: g.info.index,
        counters: gpu_counters(model),
    })
}

/// Every device of GPU `g`: the full GPU, then one per (profile, placement) of its model in
/// the catalog's table order, starts ascending (NVIDIA's order). GPUs without MIG support or
/// with MIG mode off publish the full GPU only, consuming no counters.
#[must_use]
pub fn gpu_devices(g: &GpuState, node: &NodeInfo) -> Vec<DeviceSpec> {
    let minor = g.info.index;
    let Some(model) = mig_model(g) else {
        // A known model with MIG off still says what it is; an unknown board, what NVML says.
        let mut a = g.model.map_or_else(BTreeMap::new, |m| identity(g, m, node));
        if let Some(pci) = g.info.pci {
            a.insert(PCI_BUS_ID.to_owned(), AttrValue::Str(pci.to_string()));
        }
        a.insert("type".to_owned(), AttrValue::Str("gpu".to_owned()));
        a.insert("uuid".to_owned(), AttrValue::Str(g.info.uuid.clone()));
        a.insert("index".to_owned(), AttrValue::Int(i64::from(minor)));
        a.insert("minor".to_owned(), AttrValue::Int(i64::from(minor)));
        a.insert(
            "productName".to_owned(),
            AttrValue::Str(g.info.name.clone()),
        );
        return vec![DeviceSpec {
            name: full_device_name(minor),
            gpu: minor,
            kind: DeviceKind::Full,
            attributes: a,
            capacity: BTreeMap::new(),
            consumes: Counters::new(),
        }];
    };
    let id = identity(g, model, node);
    let all = gpu_counters(model);
    let mut full_attr = id.clone();
    full_attr.insert("type".to_owned(), AttrValue::Str("gpu".to_owned()));
    full_attr.insert("uuid".to_owned(), AttrValue::Str(g.info.uuid.clone()));
    full_attr.insert("index".to_owned(), AttrValue::Int(i64::from(minor)));
    full_attr.insert("minor".to_owned(), AttrValue::Int(i64::from(minor)));
    let mut full_cap: BTreeMap<String, u64> = BTreeMap::new();
    for p in model.profiles {
        for (k, v) in crate::counters::capacities(model, p) {
            let e = full_cap.entry(k.to_owned()).or_insert(0);
            *e = (*e).max(v);
        }
    }
    let mut out = vec![DeviceSpec {
        name: full_device_name(minor),
        gpu: minor,
        kind: DeviceKind::Full,
        attributes: full_attr,
        capacity: full_cap,
        consumes: all,
    }];
    for p in model.profiles {
        for &pl in p.placements {
            let Some(name) = mig_device_name(minor, p, pl.start) else {
                continue;
            };
            let mut a = id.clone();
            a.insert("type".to_owned(), AttrValue::Str("mig".to_owned()));
            a.insert("parentUUID".to_owned(), AttrValue::Str(g.info.uuid.clone()));
            a.insert("profile".to_owned(), AttrValue::Str(p.name.to_string()));
            a.insert("index".to_owned(), AttrValue::Int(i64::from(minor)));
            a.insert("minor".to_owned(), AttrValue::Int(i64::from(minor)));
            a.insert(
                "placementStart".to_owned(),
                AttrValue::Int(i64::from(pl.start)),
            );
            out.push(DeviceSpec {
                name,
                gpu: minor,
                kind: DeviceKind::Mig {
                    profile: p,
                    placement: pl,
                },
                attributes: a,
                capacity: crate::counters::capacities(model, p)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                consumes: mig_consumption(model, p, pl),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpupart_profiles::catalog;

    #[test]
    fn names_as_nvidia_gives_them() {
        let p = catalog::A100_40GB.profile_by_str("1g.5gb").unwrap();
        assert_eq!(mig_device_name(0, p, 6).unwrap(), "gpu-0-mig-1g5gb-19-6");
        let me = catalog::A100_40GB.profile_by_str("1g.5gb+me").unwrap();
        assert_eq!(
            mig_device_name(2, me, 0).unwrap(),
            "gpu-2-mig-1g5gb-me-20-0"
        );
        assert_eq!(semver("580.95.05"), "580.95.5");
        assert_eq!(semver("8.0"), "8.0.0");
    }
}
