//! `gpupart vgpu …`: the vGPU types a host offers (mdev or NVIDIA's vendor interface), a
//! VF's type, and nova.conf.

use gpupart_profiles::text::quote;
use gpupart_sriov::nova::{NovaMdevType, nova_conf};
use gpupart_sriov::{PciAddress, Sysfs, VgpuInterface};
use serde_json::json;

use crate::args::{Cli, VgpuCommand};
use crate::failure::Failure;
use crate::output::print_json;
use crate::sriov::{address, open};

/// Runs a `gpupart vgpu` command.
pub(crate) fn run(cli: &Cli, c: &VgpuCommand) -> Result<(), Failure> {
    match c {
        VgpuCommand::Apply { .. }
        | VgpuCommand::Restore { .. }
        | VgpuCommand::Reconcile { .. }
        | VgpuCommand::Claim { .. }
        | VgpuCommand::Release { .. } => crate::vgpu_host::run(cli, c),
        VgpuCommand::Types => {
            let sysfs = open(cli)?;
            let result = types(cli, &sysfs);
            sysfs.save()?;
            result
        }
        VgpuCommand::Set { vf, type_id } => {
            // One opening of the host: an mdev parent gets an mdev, a VF its vendor type.
            let sysfs = open(cli)?;
            let vf = address(vf)?;
            if sysfs.mdev_parents()?.contains(&vf) {
                let result = set_mdev(&sysfs, vf, type_id);
                sysfs.save()?;
                let what = result?;
                if !cli.json {
                    println!("{vf}: {what}");
                }
                return Ok(());
            }
            let id = if type_id == "none" {
                None
            } else {
                Some(type_id.parse::<u32>().map_err(|_| {
                    Failure::Input(format!(
                        "vGPU type {} (expected a type ID from `gpupart vgpu types`, or none)",
                        quote(type_id)
                    ))
                })?)
            };
            let result = sysfs.set_vgpu_type(vf, id);
            sysfs.save()?;
            result?;
            if !cli.json {
                println!(
                    "{vf}: vGPU type {}",
                    id.map_or_else(|| "cleared".to_owned(), |i| i.to_string())
                );
            }
            Ok(())
        }
        VgpuCommand::NovaConf {
            maps,
            max_instances,
        } => {
            let mut types = Vec::new();
            for m in maps {
                let (name, addrs) = m.split_once('=').ok_or_else(|| {
                    Failure::Input(format!("--map {} (expected TYPE=ADDR[,ADDR…])", quote(m)))
                })?;
                let addrs = addrs
                    .split(',')
                    .filter(|a| !a.is_empty())
                    .map(address)
                    .collect::<Result<Vec<PciAddress>, _>>()?;
                let mut t = NovaMdevType::new(name, &addrs);
                if let Some(n) = max_instances {
                    t = t.max_instances(*n);
                }
                types.push(t);
            }
            let text = nova_conf(&types).map_err(|e| Failure::Input(e.to_string()))?;
            print!("{text}");
            Ok(())
        }
    }
}

/// `vgpu set` on an mdev parent: `none` removes its mdevs, a type directory makes one (with a
/// fresh UUID derived from the parent and the time).
fn set_mdev(sysfs: &Sysfs, parent: PciAddress, type_id: &str) -> Result<String, Failure> {
    let mine: Vec<_> = sysfs
        .mdevs()?
        .into_iter()
        .filter(|m| m.parent == parent)
        .collect();
    if type_id == "none" {
        for m in &mine {
            sysfs.remove_mdev(m.uuid)?;
        }
        return Ok(format!("{} mdev(s) removed", mine.len()));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let raw = (nanos << 48)
        ^ (u128::from(parent.bus()) << 40)
        ^ (u128::from(parent.device()) << 32)
        ^ (u128::from(parent.function()) << 24)
        ^ (mine.len() as u128);
    // Version 4, RFC 4122 variant.
    let raw = (raw & !(0xf << 76)) | (0x4 << 76);
    let raw = (raw & !(0x3 << 62)) | (0x2 << 62);
    let uuid = gpupart_sriov::MdevUuid::from_u128(raw);
    sysfs.create_mdev(parent, type_id, uuid)?;
    Ok(format!("mdev {uuid} of type {type_id}"))
}

fn types(cli: &Cli, sysfs: &Sysfs) -> Result<(), Failure> {
    let mut rows = Vec::new();
    match sysfs.vgpu_interface()? {
        None => {}
        Some(VgpuInterface::Mdev) => {
            for parent in sysfs.mdev_parents()? {
                for t in sysfs.mdev_types(parent)? {
                    rows.push(json!({
                        "interface": "mdev",
                        "device": parent.to_string(),
                        "type": t.id,
                        "name": t.name,
                        "available": t.available_instances,
                    }));
                }
            }
        }
        Some(_) => {
            for gpu in sysfs.nvidia_gpus()? {
                let vfs = match &gpu.sriov {
                    Some(s) if s.num_vfs > 0 => sysfs.virtual_functions(gpu.address)?,
                    _ => Vec::new(),
                };
                for vf in vfs {
                    let Ok(creatable) = sysfs.creatable_vgpu_types(vf) else {
                        continue;
                    };
                    let current = sysfs.current_vgpu_type(vf)?;
                    for t in creatable {
                        rows.push(json!({
                            "interface": "nvidia-vendor",
                            "device": vf.to_string(),
                            "type": t.id.to_string(),
                            "name": t.name,
                            "current": current == Some(t.id),
                        }));
                    }
                    if let Some(id) = current {
                        rows.push(json!({
                            "interface": "nvidia-vendor",
                            "device": vf.to_string(),
                            "type": id.to_string(),
                            "name": null,
                            "current": true,
                        }));
                    }
                }
            }
        }
    }
    if cli.json {
        print_json(&rows);
    } else if rows.is_empty() {
        println!(
            "no vGPU types: no mdev parents, and no VF with nvidia/creatable_vgpu_types (enable VFs first)"
        );
    } else {
        println!("{:<14} {:<14} {:<12} NAME", "INTERFACE", "DEVICE", "TYPE");
        for r in &rows {
            println!(
                "{:<14} {:<14} {:<12} {}",
                r["interface"].as_str().unwrap_or_default(),
                r["device"].as_str().unwrap_or_default(),
                r["type"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or("-")
            );
        }
    }
    Ok(())
}
