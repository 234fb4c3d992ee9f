//! Writing configurations: the node's state as one ([`export`]), and one configuration per
//! profile its GPUs offer ([`generate`]).

use std::collections::BTreeMap;

use gpupart_profiles::GpuModel;

use super::{AllDevices, ConfigEntry, DeviceFilter, DeviceId, Devices, MigPartedConfig};
use crate::state::GpuState;

/// The current state of `gpus` as a mig-parted configuration named `name`, one entry per GPU.
/// A GPU instance holding one compute instance smaller than itself is written as
/// `Nc.Mg.Xgb`; one holding the full compute instance (or several, which mig-parted cannot
/// express) as `Mg.Xgb`.
#[must_use]
pub fn export(gpus: &[GpuState], name: &str) -> MigPartedConfig {
    let mut entries = Vec::new();
    for g in gpus {
        let Some(m) = g.mig else { continue };
        let mut devices = BTreeMap::new();
        for x in &g.instances {
            let key = match x.compute.as_slice() {
                [(_, c)] => c.name,
                _ => x.profile.name,
            };
            *devices.entry(key.to_string()).or_insert(0) += 1;
        }
        entries.push(ConfigEntry {
            device_filter: Some(DeviceFilter::One(
                DeviceId::new(g.info.pci_device_id, None).to_string(),
            )),
            devices: Devices::List(vec![g.info.index]),
            mig_enabled: m.current,
            mig_devices: devices,
            location: None,
        });
    }
    let mut mig_configs = BTreeMap::new();
    mig_configs.insert(name.to_owned(), entries);
    MigPartedConfig {
        version: "v1".to_owned(),
        mig_configs,
    }
}

/// A configuration file for the node's GPUs, as `nvidia-mig-parted generate-config` writes
/// one: `all-disabled`, `all-enabled` (for each MIG board of the node), and for every GPU
/// instance profile of the node's models
/// `all-<profile>` with as many instances of it as fit on one GPU at once (for each model that
/// has it, under its device ID). GPUs without MIG are left out.
#[must_use]
pub fn generate(gpus: &[GpuState]) -> MigPartedConfig {
    let all = |enabled: bool| ConfigEntry {
        device_filter: None,
        devices: Devices::All(AllDevices::All),
        mig_enabled: enabled,
        mig_devices: BTreeMap::new(),
        location: None,
    };
    let mut mig_configs = BTreeMap::new();
    mig_configs.insert("all-disabled".to_owned(), vec![all(false)]);
    // Each board once, in the order the node shows them.
    let mut boards: Vec<(u32, &'static GpuModel)> = Vec::new();
    for g in gpus {
        if let Some(model) = g.model.filter(|_| g.mig.is_some())
            && !boards.iter().any(|(id, _)| *id == g.info.pci_device_id)
        {
            boards.push((g.info.pci_device_id, model));
        }
    }
    for &(id, _) in &boards {
        // Per board, so that a GPU without MIG on the node is not asked to enable it.
        let mut entry = all(true);
        entry.device_filter = Some(DeviceFilter::One(DeviceId::new(id, None).to_string()));
        mig_configs
            .entry("all-enabled".to_owned())
            .or_insert_with(Vec::new)
            .push(entry);
    }
    for (id, model) in boards {
        for p in model.profiles {
            let count = most_at_once(model, p);
            if count == 0 {
                continue;
            }
            let entries: &mut Vec<ConfigEntry> =
                mig_configs.entry(format!("all-{}", p.name)).or_default();
            entries.push(ConfigEntry {
                device_filter: Some(DeviceFilter::One(DeviceId::new(id, None).to_string())),
                devices: Devices::All(AllDevices::All),
                mig_enabled: true,
                mig_devices: BTreeMap::from([(p.name.to_string(), count)]),
                location: None,
            });
        }
    }
    MigPartedConfig {
        version: "v1".to_owned(),
        mig_configs,
    }
}

/// How many instances of `p` one GPU of `model` holds at once: its placements taken in
/// order while they overlap nothing taken, within the compute slices and the instance limit.
fn most_at_once(model: &GpuModel, p: &gpupart_profiles::GpuInstanceProfile) -> u32 {
    let mut taken: Vec<gpupart_profiles::Placement> = Vec::new();
    let mut placements = p.placements.to_vec();
    placements.sort_by_key(|x| x.start);
    for x in placements {
        let compute = (taken.len() + 1) * usize::from(p.compute_slices);
        if taken.len() < usize::from(p.max_instances)
            && compute <= usize::from(model.compute_slices)
            && !taken.iter().any(|t| t.overlaps(x))
        {
            taken.push(x);
        }
    }
    u32::try_from(taken.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimulatedNvml;
    use crate::config::{assert_config, desired_state};
    use crate::state::read_all;

    /// Every generated configuration is one the node can take; the instances of
    /// `all-<profile>` fill the GPU as far as the profile allows.
    #[test]
    fn generated_configs_apply_on_their_node() {
        for node in [
            SimulatedNvml::dgx_a100(),
            SimulatedNvml::hgx_h100(),
            SimulatedNvml::mixed(),
        ] {
            let gpus = read_all(&node).unwrap();
            let c = generate(&gpus);
            assert!(c.mig_configs.contains_key("all-enabled"));
            for name in c.mig_configs.keys() {
                let d = desired_state(&c, name, &gpus).unwrap();
                assert!(!d.is_empty(), "{name}");
            }
            assert_eq!(
                c.mig_configs["all-1g.10gb"][0].mig_devices.values().next(),
                Some(&if gpus[0].info.name.contains("A100") {
                    4
                } else {
                    7
                })
            );
            assert!(assert_config(&c, "all-disabled", &gpus).is_ok());
        }
    }
}
