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
    vgpu_type: Option<u32>,
}

/// What the simulated sysfs holds now.
pub(crate) fn snapshot(sysfs: &Sysfs) -> Result<serde_json::Value, Failure> {
    let mut gpus = Vec::new();
    for g in sysfs.nvidia_gpus()? {
        let Some(info) = g.sriov else { continue };
        let mut vfs = Vec::new();
        if info.num_vfs > 0 {
            for vf in sysfs.virtual_functions(g.address)? {
                vfs.push(SavedVf {
                    driver: sysfs.device(vf)?.driver,
                    vgpu_type: sysfs.current_vgpu_type(vf).ok().flatten(),
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
                    step(sysfs.set_vgpu_type(*vf, Some(t)).map_err(Failure::from))?;
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
