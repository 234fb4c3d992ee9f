//! NVIDIA mig-parted's v1 configuration format: read, validate against GPUs, turn into a
//! desired state, assert, export.
//!
//! YAML goes through `serde-saphyr`: serde_yaml is unmaintained; of the maintained choices,
//! serde_yaml_ng and serde_norway are forks that keep the unsafe-libyaml C translation, while
//! serde-saphyr is a pure-Rust parser (saphyr) with no unsafe code of its own, budgets
//! against hostile input (alias bombs, depth), and serde support for both directions.

use std::collections::BTreeMap;

use gpupart_profiles::ProfileName;
use gpupart_topology::{Occupancy, solve_gpu};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::apply::{DesiredGpu, DesiredInstance, unplaceable_reason};
use crate::state::GpuState;

/// A mig-parted configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MigPartedConfig {
    /// `v1`.
    pub version: String,
    /// Named configurations.
    #[serde(rename = "mig-configs")]
    pub mig_configs: BTreeMap<String, Vec<ConfigEntry>>,
}

/// `device-filter`: one PCI ID or several, each `0xDDDDVVVV` with an optional subsystem ID
/// after a comma.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DeviceFilter {
    /// One ID.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// `devices`: `all` or a list of indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Devices {
    /// `all` (the only string allowed).
    All(AllDevices),
    /// Indices.
    List(Vec<u32>),
}

/// The literal `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllDevices {
    /// `all`
    #[serde(rename = "all")]
    All,
}

/// One entry of a named configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfigEntry {
    /// Which boards.
    #[serde(
        rename = "device-filter",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub device_filter: Option<DeviceFilter>,
    /// Which GPUs.
    pub devices: Devices,
    /// MIG on or off.
    #[serde(rename = "mig-enabled")]
    pub mig_enabled: bool,
    /// Profile name → count.
    #[serde(
        rename = "mig-devices",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub mig_devices: BTreeMap<String, u32>,
}

impl MigPartedConfig {
    /// Parses YAML.
    ///
    /// # Errors
    /// [`Error::Config`] naming what is wrong.
    pub fn parse(yaml: &str) -> Result<Self, Error> {
        let c: MigPartedConfig = serde_saphyr::from_str(yaml).map_err(|e| Error::Config {
            reason: format!("not a mig-parted config: {e}"),
        })?;
        if c.version != "v1" {
            return Err(Error::Config {
                reason: format!("version {:?}; only v1 is known", c.version),
            });
        }
        Ok(c)
    }

    /// Prints YAML.
    ///
    /// # Errors
    /// [`Error::Config`] when serialization fails.
    pub fn to_yaml(&self) -> Result<String, Error> {
        serde_saphyr::to_string(self).map_err(|e| Error::Config {
            reason: format!("cannot write YAML: {e}"),
        })
    }

    /// The named configuration.
    ///
    /// # Errors
    /// [`Error::Config`] when there is none by that name.
    pub fn config(&self, name: &str) -> Result<&[ConfigEntry], Error> {
        self.mig_configs
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| Error::Config {
                reason: format!(
                    "no configuration {name:?}; there are {}",
                    self.mig_configs.len()
                ),
            })
    }
}

fn parse_id(s: &str) -> Option<u32> {
    let h = s
        .trim()
        .strip_prefix("0x")
        .or_else(|| s.trim().strip_prefix("0X"))?;
    u32::from_str_radix(h, 16).ok()
}

impl ConfigEntry {
    /// Whether the entry applies to `gpu`.
    ///
    /// # Errors
    /// [`Error::Config`] for a device filter that is not a PCI ID.
    pub fn matches(&self, gpu: &GpuState) -> Result<bool, Error> {
        let index_ok = match &self.devices {
            Devices::All(_) => true,
            Devices::List(v) => v.contains(&gpu.info.index),
        };
        let filters: Vec<&String> = match &self.device_filter {
            None => return Ok(index_ok),
            Some(DeviceFilter::One(s)) => vec![s],
            Some(DeviceFilter::Many(v)) => v.iter().collect(),
        };
        let mut any = false;
        for f in filters {
            let mut parts = f.split(',');
            let dev = parts
                .next()
                .and_then(parse_id)
                .ok_or_else(|| Error::Config {
                    reason: format!("device-filter {f:?} is not 0xDDDDVVVV[,0xSSSSVVVV]"),
                })?;
            let sub = match parts.next() {
                Some(s) => Some(parse_id(s).ok_or_else(|| Error::Config {
                    reason: format!("device-filter {f:?}: bad subsystem ID"),
                })?),
                None => None,
            };
            if dev == gpu.info.pci_device_id
                && sub.is_none_or(|s| Some(s) == gpu.info.pci_subsystem_id)
            {
                any = true;
            }
        }
        Ok(index_ok && any)
    }
}

/// Validates configuration `name` against `gpus` (every profile exists on each GPU it
/// applies to; the counts can be placed, by the solver) and returns the desired state of the
/// GPUs it applies to. GPUs no entry applies to are left out (mig-parted leaves them alone).
///
/// # Errors
/// [`Error::Config`] for an unknown name; [`Error::NotMigCapable`], [`Error::UnknownProfile`],
/// [`Error::Unplaceable`] with the reason (e.g. `3g.20gb + 3g.20gb + 1g.5gb cannot be placed
/// on a A100-40GB: they need 9 memory slices and 8 are free`).
pub fn desired_state(
    config: &MigPartedConfig,
    name: &str,
    gpus: &[GpuState],
) -> Result<Vec<DesiredGpu>, Error> {
    let entries = config.config(name)?;
    let mut out = Vec::new();
    for g in gpus {
        let mut chosen = None;
        for e in entries {
            if e.matches(g)? {
                chosen = Some(e);
            }
        }
        let Some(e) = chosen else { continue };
        let gpu = g.info.index;
        if !e.mig_enabled {
            if g.mig.is_some() {
                out.push(DesiredGpu::new(gpu, false, Vec::new()));
            }
            continue;
        }
        let model = g
            .model
            .filter(|_| g.mig.is_some())
            .ok_or_else(|| Error::NotMigCapable {
                gpu,
                name: g.info.name.clone(),
            })?;
        let mut instances = Vec::new();
        let mut profiles = Vec::new();
        for (pname, &count) in &e.mig_devices {
            let parsed: ProfileName = pname.parse().map_err(|_| Error::UnknownProfile {
                gpu,
                model: model.name,
                profile: pname.clone(),
            })?;
            let p = model
                .profile_by_name(&parsed)
                .map_err(|_| Error::UnknownProfile {
                    gpu,
                    model: model.name,
                    profile: pname.clone(),
                })?;
            for _ in 0..count {
                instances.push(DesiredInstance::new(p.name));
                profiles.push(p);
            }
        }
        let occ = Occupancy::new(model);
        if solve_gpu(&occ, &profiles).is_none() {
            return Err(Error::Unplaceable {
                gpu,
                model: model.name,
                reason: format!("config {name:?}: {}", unplaceable_reason(&occ, &profiles)),
            });
        }
        out.push(DesiredGpu::new(gpu, true, instances));
    }
    Ok(out)
}

/// Checks that `gpus` are as configuration `name` says: MIG mode (current), and GPU instances
/// by profile with one full compute instance each.
///
/// # Errors
/// [`Error::Mismatch`] for the first GPU that differs; those of [`desired_state`].
pub fn assert_config(config: &MigPartedConfig, name: &str, gpus: &[GpuState]) -> Result<(), Error> {
    for d in desired_state(config, name, gpus)? {
        let Some(g) = gpus.iter().find(|g| g.info.index == d.gpu) else {
            continue;
        };
        let mut want: Vec<String> = d.instances.iter().map(|i| i.profile.to_string()).collect();
        let mut have: Vec<String> = g
            .instances
            .iter()
            .map(|i| i.profile.name.to_string())
            .collect();
        want.sort();
        have.sort();
        let on = g.mig.is_some_and(|m| m.current);
        let full_ci = g
            .instances
            .iter()
            .all(|x| x.compute.len() == 1 && x.compute[0].1.name == x.profile.name);
        if on != d.mig_enabled || (d.mig_enabled && (want != have || !full_ci)) {
            return Err(Error::Mismatch {
                gpu: d.gpu,
                expected: format!("MIG {} {want:?}", if d.mig_enabled { "on" } else { "off" }),
                found: g.summary(),
            });
        }
    }
    Ok(())
}

/// The current state of `gpus` as a mig-parted configuration named `name`, one entry per GPU.
#[must_use]
pub fn export(gpus: &[GpuState], name: &str) -> MigPartedConfig {
    let mut entries = Vec::new();
    for g in gpus {
        let Some(m) = g.mig else { continue };
        let mut devices = BTreeMap::new();
        for x in &g.instances {
            *devices.entry(x.profile.name.to_string()).or_insert(0) += 1;
        }
        entries.push(ConfigEntry {
            device_filter: Some(DeviceFilter::One(format!("0x{:08X}", g.info.pci_device_id))),
            devices: Devices::List(vec![g.info.index]),
            mig_enabled: m.current,
            mig_devices: devices,
        });
    }
    let mut mig_configs = BTreeMap::new();
    mig_configs.insert(name.to_owned(), entries);
    MigPartedConfig {
        version: "v1".to_owned(),
        mig_configs,
    }
}
