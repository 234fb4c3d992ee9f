//! The SR-IOV side of a simulated host in its state file: per GPU the VF count, the
//! autoprobe switch, its driver, and per VF its driver and vGPU type. Restored through the
//! same `Sysfs` calls a user makes, so that the simulator refuses a state no host reaches.

use gpupart_sriov::{EnableOptions, PciAddress, Sysfs};
use serde::{Deserialize, Serialize};

use gpupart_profiles::text::quote;

use crate::failure::Failure;

/// The SR-IOV state of a simulated host.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedSriov {
    gpus: Vec<SavedPf>,
}

/// One GPU (physical function).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedPf {
    pf: String,
    driver: Option<String>,
    num_vfs: u16,
    drivers_autoprobe: bool,
    vfs: Vec<SavedVf>,
}

/// One VF.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedVf {
    driver: Option<String>,
    /// Vendor interface: the type, and the GPU instance or placement it sits at.
    vgpu_type: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gpu_instance: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    placement: Option<u32>,
    /// mdev: the VF's mediated devices, (type, UUID).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mdevs: Vec<(String, String)>,
}

/// What the simulated sysfs holds now.
pub(crate) fn snapshot(sysfs: &Sysfs) -> Result<serde_json::Value, Failure> {
    let mut gpus = Vec::new();
    for g in sysfs.nvidia_gpus()? {
        let Some(info) = g.sriov else { continue };
        let mut vfs = Vec::new();
        if info.num_vfs > 0 {
            let mdevs = sysfs.mdevs()?;
            for vf in sysfs.virtual_functions(g.address)? {
                let vgpu_type = sysfs.current_vgpu_type(vf).ok().flatten();
                let on = |v: Option<u32>| vgpu_type.and(v);
                vfs.push(SavedVf {
                    driver: sysfs.device(vf)?.driver,
                    vgpu_type,
                    gpu_instance: on(sysfs.vgpu_gpu_instance(vf).ok().flatten()),
                    placement: on(sysfs.vgpu_placement(vf).ok().flatten()),
                    mdevs: mdevs
                        .iter()
                        .filter(|m| m.parent == vf)
                        .map(|m| (m.mdev_type.clone(), m.uuid.to_string()))
                        .collect(),
                });
            }
        }
        gpus.push(SavedPf {
            pf: g.address.to_string(),
            driver: g.driver,
            num_vfs: info.num_vfs,
            drivers_autoprobe: info.drivers_autoprobe,
            vfs,
        });
    }
    serde_json::to_value(SavedSriov { gpus })
        .map_err(|e| Failure::Failed(format!("cannot write the SR-IOV state: {e}")))
}

fn set_driver(sysfs: &Sysfs, device: PciAddress, want: Option<&str>) -> Result<(), Failure> {
    if sysfs.device(device)?.driver.as_deref() == want {
        return Ok(());
    }
    match want {
        None => sysfs.unbind(device).map(|_| ()).map_err(Failure::from),
        Some(d) => sysfs.bind(device, d).map_err(Failure::from),
    }
}

/// Brings a fresh simulated sysfs to `value`.
pub(crate) fn replay(sysfs: &Sysfs, value: &serde_json::Value) -> Result<(), Failure> {
    let saved =
        SavedSriov::deserialize(value).map_err(|e| Failure::Input(format!("sriov: {e}")))?;
    for p in &saved.gpus {
        let context = format!("sriov {}", quote(&p.pf));
        let pf: PciAddress =
            p.pf.parse()
                .map_err(|e: gpupart_sriov::Error| Failure::Input(e.to_string()))?;
        let step =
            |r: Result<(), Failure>| r.map_err(|f| Failure::Input(f.to_string()).context(&context));
        step(set_driver(sysfs, pf, p.driver.as_deref()))?;
        if p.num_vfs > 0 {
            step(
                sysfs
                    .enable_vfs(pf, p.num_vfs, &EnableOptions::default())
                    .map(|_| ())
                    .map_err(Failure::from),
            )?;
            let vfs = sysfs.virtual_functions(pf)?;
            if vfs.len() != p.vfs.len() {
                return Err(Failure::Input(format!(
                    "{context}: {} VFs listed for {} enabled",
                    p.vfs.len(),
                    vfs.len()
                )));
            }
            for (vf, s) in vfs.iter().zip(&p.vfs) {
                step(set_driver(sysfs, *vf, s.driver.as_deref()))?;
                if let Some(t) = s.vgpu_type {
                    let set = || -> Result<(), gpupart_sriov::Error> {
                        if s.gpu_instance.is_some() {
                            sysfs.set_vgpu_gpu_instance(*vf, s.gpu_instance)?;
                        }
                        if s.placement.is_some() {
                            sysfs.set_vgpu_placement(*vf, s.placement)?;
                        }
                        sysfs.set_vgpu_type(*vf, Some(t))
                    };
                    step(set().map_err(Failure::from))?;
                }
                for (t, u) in &s.mdevs {
                    let uuid = u.parse().map_err(|e: gpupart_sriov::ValueError| {
                        Failure::Input(format!(
                            "{context}: mdev {}: expected {}",
                            quote(u),
                            e.expected
                        ))
                    })?;
                    step(sysfs.create_mdev(*vf, t, uuid).map_err(Failure::from))?;
                }
            }
        }
        step(
            sysfs
                .set_drivers_autoprobe(pf, p.drivers_autoprobe)
                .map_err(Failure::from),
        )?;
    }
    Ok(())
}
