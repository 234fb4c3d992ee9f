//! NVIDIA mig-parted's v1 configuration format: read strictly (mig-parted's verdicts, with
//! line and column), validate against GPUs, turn into a desired state, assert, export.
//!
//! - [`MigPartedConfig::parse`]: the rules of upstream `api/spec/v1` (see the `parse` module
//!   source for each, and where gpupart is stricter).
//! - [`validate`] / [`desired_state`]: a named configuration against the node's GPUs: every
//!   profile exists on the GPU's model, counts are within the model's limits before anything
//!   is expanded, the instances can be placed (by the solver); entries and device indices
//!   that match no GPU are reported (warnings in [`validate`], errors in [`desired_state`],
//!   which apply uses).
//! - [`assert_config`], [`export`].
//!
//! YAML goes through `serde-saphyr`: serde_yaml is unmaintained; of the maintained choices,
//! serde_yaml_ng and serde_norway are forks that keep the unsafe-libyaml C translation, while
//! serde-saphyr is a pure-Rust parser (saphyr) with no unsafe code of its own, budgets
//! against hostile input (alias bombs, depth), and serde support for both directions.

mod device_id;
mod export;
mod parse;
mod raw;

use std::collections::BTreeMap;
use std::fmt;

use gpupart_profiles::text::quote;
use gpupart_profiles::{GpuInstanceProfile, ProfileName};
use gpupart_topology::{Occupancy, solve_gpu};
use serde::{Deserialize, Serialize};

pub use device_id::{DeviceId, DeviceIdError};
pub use export::{export, generate};
pub use parse::MAX_CONFIG_BYTES;

use crate::Error;
use crate::apply::{DesiredGpu, DesiredInstance, unplaceable_reason};
use crate::state::GpuState;

/// Where something stands in a configuration file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceLocation {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl SourceLocation {
    fn from_saphyr(l: &serde_saphyr::Location) -> Option<Self> {
        let line = u32::try_from(l.line()).ok().filter(|&n| n > 0)?;
        let column = u32::try_from(l.column()).unwrap_or(u32::MAX);
        Some(SourceLocation { line, column })
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A mig-parted configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MigPartedConfig {
    /// `v1`.
    pub version: String,
    /// Named configurations.
    #[serde(rename = "mig-configs")]
    pub mig_configs: BTreeMap<String, Vec<ConfigEntry>>,
}

impl PartialEq for MigPartedConfig {
    /// Equal when the contents are; where each entry stood in a file does not count.
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version && self.mig_configs == other.mig_configs
    }
}

impl Eq for MigPartedConfig {}

/// `device-filter`: one PCI ID or several, each `0xDDDDVVVV` with an optional subsystem ID
/// after a colon (`0x233010DE:0x16C010DE`), as mig-parted writes them (see [`DeviceId`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DeviceFilter {
    /// One ID.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl DeviceFilter {
    /// The filter's strings.
    #[must_use]
    pub fn ids(&self) -> &[String] {
        match self {
            DeviceFilter::One(s) => std::slice::from_ref(s),
            DeviceFilter::Many(v) => v,
        }
    }
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Profile name (`1g.5gb`, `1c.3g.20gb`, `1g.10gb+me`) → count.
    #[serde(rename = "mig-devices", default)]
    pub mig_devices: BTreeMap<String, u32>,
    /// Where the entry starts in the file it was read from.
    #[serde(skip)]
    pub location: Option<SourceLocation>,
}

impl PartialEq for ConfigEntry {
    /// Equal when the contents are; where the entry stood in a file does not count.
    fn eq(&self, other: &Self) -> bool {
        self.device_filter == other.device_filter
            && self.devices == other.devices
            && self.mig_enabled == other.mig_enabled
            && self.mig_devices == other.mig_devices
    }
}

impl Eq for ConfigEntry {}

impl MigPartedConfig {
    fn empty() -> Self {
        MigPartedConfig {
            version: String::new(),
            mig_configs: BTreeMap::new(),
        }
    }

    /// Parses YAML strictly: the files upstream mig-parted accepts are accepted and those it
    /// refuses are refused (unknown keys, missing required fields, `mig-devices` with MIG off
    /// or missing with MIG on, strings where numbers belong, invalid profile names, negative
    /// or all-zero counts, empty configurations), plus a few that can only be mistakes (see
    /// the `parse` module docs).
    ///
    /// # Errors
    /// [`Error::Config`] naming the key or value, its line and column, and for a misspelt key
    /// the closest valid one.
    pub fn parse(yaml: &str) -> Result<Self, Error> {
        parse::parse(yaml)
    }

    /// Prints YAML.
    ///
    /// # Errors
    /// [`Error::Config`] when serialization fails.
    pub fn to_yaml(&self) -> Result<String, Error> {
        serde_saphyr::to_string(self).map_err(|e| Error::Config {
            reason: format!("cannot write YAML: {e}"),
            at: None,
        })
    }

    /// The named configuration.
    ///
    /// # Errors
    /// [`Error::Config`] when there is none by that name, with the closest name there is.
    pub fn config(&self, name: &str) -> Result<&[ConfigEntry], Error> {
        self.mig_configs
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| {
                let hint = match parse::closest(name, self.mig_configs.keys().map(String::as_str)) {
                    Some(c) => format!("; did you mean {c:?}?"),
                    None => format!("; the file has {} configurations", self.mig_configs.len()),
                };
                Error::Config {
                    reason: format!("no configuration {}{hint}", quote(name)),
                    at: None,
                }
            })
    }
}

impl ConfigEntry {
    /// Whether the entry applies to `gpu`: its index is in `devices` and, with a device
    /// filter, one of the filter's IDs matches the GPU (mig-parted's rule: an ID without a
    /// subsystem matches every subsystem).
    #[must_use]
    pub fn matches(&self, gpu: &GpuState) -> bool {
        let index_ok = match &self.devices {
            Devices::All(_) => true,
            Devices::List(v) => v.contains(&gpu.info.index),
        };
        // No filter, or an empty list, matches every board (mig-parted's rule).
        let Some(filter) = self.device_filter.as_ref().filter(|f| !f.ids().is_empty()) else {
            return index_ok;
        };
        index_ok
            && filter.ids().iter().any(|f| {
                f.parse::<DeviceId>()
                    .is_ok_and(|id| id.matches(gpu.info.pci_device_id, gpu.info.pci_subsystem_id))
            })
    }

    /// Where the entry stands, for messages: `entry 2 of "all-balanced" (line 40, column 7)`.
    fn describe(&self, index: usize, config: &str) -> String {
        match self.location {
            Some(l) => format!("entry {} of {} ({l})", index + 1, quote(config)),
            None => format!("entry {} of {}", index + 1, quote(config)),
        }
    }
}

/// What [`validate`] reports besides the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigWarning {
    /// An entry applies to no GPU of the node (its filter is for other boards, or its
    /// device list names none of them). Normal in configurations written for several boards.
    EntryMatchesNothing {
        /// `entry 2 of "all-balanced" (line 40, column 7)`.
        entry: String,
    },
    /// A device list names an index the node does not have.
    NoSuchDevice {
        /// The entry.
        entry: String,
        /// The index.
        index: u32,
        /// How many GPUs the node has.
        gpus: usize,
    },
    /// No entry of the configuration applies to any GPU of the node: applying it does nothing.
    ConfigMatchesNothing {
        /// The configuration.
        config: String,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigWarning::EntryMatchesNothing { entry } => {
                write!(f, "{entry} applies to no GPU of this node")
            }
            ConfigWarning::NoSuchDevice { entry, index, gpus } => write!(
                f,
                "{entry} names GPU {index}, which this node does not have (it has {gpus}: 0 to {})",
                gpus.saturating_sub(1)
            ),
            ConfigWarning::ConfigMatchesNothing { config } => write!(
                f,
                "no entry of configuration {} applies to any GPU of this node",
                quote(config)
            ),
        }
    }
}

/// A configuration checked against a node: the desired state of the GPUs it applies to, and
/// what matched nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Validation {
    /// The desired state (GPUs no entry applies to are left out: mig-parted leaves them alone).
    pub desired: Vec<DesiredGpu>,
    /// Entries and device indices that match nothing.
    pub warnings: Vec<ConfigWarning>,
}

/// Checks configuration `name` against `gpus` and returns the desired state of the GPUs it
/// applies to, with warnings for entries and device indices that match nothing. Where several
/// entries apply to one GPU, the last wins (as in mig-parted).
///
/// For each GPU an entry applies to: every profile exists on its model (`Nc.Mg.Xgb` keys: the
/// compute instance profile too), each count is within the model's instance limit for the
/// profile (checked before anything is expanded, so no count makes work or memory grow), and
/// the instances can be placed together (by the exact one-GPU solver). A `Nc.Mg.Xgb` key asks
/// for GPU instances of `Mg.Xgb`, each holding one compute instance of `Nc` slices, as
/// mig-parted creates them.
///
/// # Errors
/// [`Error::Config`] for an unknown name; [`Error::NotMigCapable`], [`Error::UnknownProfile`],
/// [`Error::Unplaceable`] with the reason (e.g. `3g.20gb + 3g.20gb + 1g.5gb cannot be placed
/// on a A100-40GB: they need 9 memory slices and 8 are free`).
pub fn validate(
    config: &MigPartedConfig,
    name: &str,
    gpus: &[GpuState],
) -> Result<Validation, Error> {
    let entries = config.config(name)?;
    let mut warnings = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if let Devices::List(list) = &e.devices {
            for &index in list {
                if !gpus.iter().any(|g| g.info.index == index) {
                    warnings.push(ConfigWarning::NoSuchDevice {
                        entry: e.describe(i, name),
                        index,
                        gpus: gpus.len(),
                    });
                }
            }
        }
        if !gpus.iter().any(|g| e.matches(g)) {
            warnings.push(ConfigWarning::EntryMatchesNothing {
                entry: e.describe(i, name),
            });
        }
    }
    let mut desired = Vec::new();
    let mut any = false;
    for g in gpus {
        let Some(e) = entries.iter().rev().find(|e| e.matches(g)) else {
            continue;
        };
        any = true;
        let gpu = g.info.index;
        if !e.mig_enabled {
            if g.mig.is_some() {
                desired.push(DesiredGpu::new(gpu, false, Vec::new()));
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
        let mut asked: Vec<(&'static GpuInstanceProfile, ProfileName, u32)> = Vec::new();
        for (pname, &count) in &e.mig_devices {
            let unknown = || Error::UnknownProfile {
                gpu,
                model: model.name,
                profile: pname.clone(),
            };
            let parsed: ProfileName = pname.parse().map_err(|_| unknown())?;
            let p = model.profile_by_name(&parsed).map_err(|_| unknown())?;
            let compute = match parsed.compute_slices() {
                Some(_) => p.compute_profile(&parsed).ok_or_else(unknown)?.name,
                None => p.name,
            };
            if count > u32::from(p.max_instances) {
                return Err(Error::Unplaceable {
                    gpu,
                    model: model.name,
                    reason: format!(
                        "config {}: {count} x {} asked; a {} holds at most {}",
                        quote(name),
                        p.name,
                        model.name,
                        p.max_instances
                    ),
                });
            }
            if count > 0 {
                asked.push((p, compute, count));
            }
        }
        let mut instances = Vec::new();
        let mut profiles = Vec::new();
        for &(p, compute, count) in &asked {
            for _ in 0..count {
                instances.push(DesiredInstance::new(p.name).with_compute(vec![compute]));
                profiles.push(p);
            }
        }
        let occ = Occupancy::new(model);
        if solve_gpu(&occ, &profiles).is_none() {
            return Err(Error::Unplaceable {
                gpu,
                model: model.name,
                reason: format!(
                    "config {}: {}",
                    quote(name),
                    unplaceable_reason(&occ, &profiles)
                ),
            });
        }
        desired.push(DesiredGpu::new(gpu, true, instances));
    }
    if !any {
        warnings.push(ConfigWarning::ConfigMatchesNothing {
            config: name.to_owned(),
        });
    }
    Ok(Validation { desired, warnings })
}

/// [`validate`] for applying: the desired state, where a device index the node lacks, or a
/// configuration that applies to no GPU at all, is an error (an entry written for other
/// boards is not).
///
/// # Errors
/// Those of [`validate`]; [`Error::Config`] for a device index the node lacks or a
/// configuration that applies to no GPU.
pub fn desired_state(
    config: &MigPartedConfig,
    name: &str,
    gpus: &[GpuState],
) -> Result<Vec<DesiredGpu>, Error> {
    let v = validate(config, name, gpus)?;
    if let Some(w) = v.warnings.iter().find(|w| {
        matches!(
            w,
            ConfigWarning::NoSuchDevice { .. } | ConfigWarning::ConfigMatchesNothing { .. }
        )
    }) {
        return Err(Error::Config {
            reason: w.to_string(),
            at: None,
        });
    }
    Ok(v.desired)
}

/// Checks that `gpus` are as configuration `name` says: MIG mode (current), and GPU instances
/// by profile, each with the compute instances the configuration asks for (one spanning the
/// instance for `Mg.Xgb`, one of `N` slices for `Nc.Mg.Xgb`).
///
/// # Errors
/// [`Error::Mismatch`] for the first GPU that differs; those of [`desired_state`].
pub fn assert_config(config: &MigPartedConfig, name: &str, gpus: &[GpuState]) -> Result<(), Error> {
    for d in desired_state(config, name, gpus)? {
        let Some(g) = gpus.iter().find(|g| g.info.index == d.gpu) else {
            continue;
        };
        let mut want: Vec<String> = d
            .instances
            .iter()
            .map(|i| instance_key(i.profile, &i.compute))
            .collect();
        let mut have: Vec<String> = g
            .instances
            .iter()
            .map(|x| {
                let compute: Vec<ProfileName> = x.compute.iter().map(|(_, c)| c.name).collect();
                instance_key(x.profile.name, &compute)
            })
            .collect();
        want.sort();
        have.sort();
        let on = g.mig.is_some_and(|m| m.current);
        if on != d.mig_enabled || (d.mig_enabled && want != have) {
            return Err(Error::Mismatch {
                gpu: d.gpu,
                expected: format!("MIG {} {want:?}", if d.mig_enabled { "on" } else { "off" }),
                found: g.summary(),
            });
        }
    }
    Ok(())
}

/// `3g.20gb[1c.3g.20gb]`: a GPU instance with its compute instances, for comparing.
fn instance_key(profile: ProfileName, compute: &[ProfileName]) -> String {
    let mut c: Vec<String> = compute.iter().map(ToString::to_string).collect();
    c.sort();
    format!("{profile}[{}]", c.join(","))
}
