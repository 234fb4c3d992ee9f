//! `gpupart vgpu apply|restore|reconcile|claim|release`: the vGPU host manager at a prompt,
//! each a library call (`gpupart_mig::vgpu`, `gpupart_sriov::vgpu`) on the node's NVML and
//! sysfs, or on a simulated host where both are linked.

use std::path::Path;

use gpupart_mig::vgpu::{VgpuHostOptions, VgpuHostReport, mig_backed, restore};
use gpupart_profiles::text::quote;
use gpupart_sriov::Sysfs;
use gpupart_sriov::vgpu::{self, HostState, Owner, Vgpu, VgpuSlot, VgpuWant};
use serde_json::json;

use crate::args::{Cli, VgpuCommand};
use crate::failure::Failure;
use crate::host::Host;
use crate::output::print_json;

/// The node's NVML and sysfs: the simulated pair (linked), or the real ones.
fn open(cli: &Cli) -> Result<(Host, Sysfs), Failure> {
    let host = Host::open(cli)?;
    let sysfs = match (&host, host.simulated_sysfs()) {
        (_, Some(s)) => s.clone(),
        (Host::Nvml(_), None) => Sysfs::at(&cli.sysfs),
        (Host::Sim { .. }, None) => {
            return Err(Failure::Input(
                "this simulated host has no sysfs (mixed); use dgx-a100, gpu-host:N or hgx-h100"
                    .to_owned(),
            ));
        }
    };
    Ok((host, sysfs))
}

/// Library options: locks as on the host (none on a simulated one without a state file).
fn options(host: &Host, dry_run: bool) -> VgpuHostOptions {
    let mut o = VgpuHostOptions::default().dry_run(dry_run);
    o.mig.lock_path = host.lock_path();
    o.vgpu.lock_path = match host {
        Host::Nvml(_) => o.vgpu.lock_path.clone(),
        Host::Sim { .. } => host.lock_path().map(|p| p.with_extension("vgpu-lock")),
    };
    o
}

fn load(path: &Path) -> Result<HostState, Failure> {
    HostState::load(path).map_err(|e| Failure::Input(e.to_string()))
}

fn save(state: &HostState, path: &Path, host: &mut Host, sysfs: &Sysfs) -> Result<(), Failure> {
    state.save(path)?;
    save_host(host, sysfs)
}

/// Writes a simulated host back to its state file, its SR-IOV side as the sysfs has it now.
fn save_host(host: &mut Host, sysfs: &Sysfs) -> Result<(), Failure> {
    if host.simulated_sysfs().is_some() {
        host.set_sriov(crate::sriov_state::snapshot(sysfs)?);
    }
    host.save()
}

fn slot(s: &str) -> Result<VgpuSlot, Failure> {
    s.parse().map_err(|e: gpupart_sriov::ValueError| {
        Failure::Input(format!("slot {}: expected {}", quote(s), e.expected))
    })
}

fn owner(s: &str) -> Result<Owner, Failure> {
    s.parse().map_err(|e: gpupart_sriov::ValueError| {
        Failure::Input(format!("owner {}: expected {}", quote(s), e.expected))
    })
}

fn vgpu_json(v: &Vgpu) -> serde_json::Value {
    json!({
        "gpu": v.gpu.to_string(),
        "slot": v.slot.to_string(),
        "type": v.type_id.to_string(),
        "name": v.type_name,
        "gpu_instance_id": v.gpu_instance_id,
        "placement_id": v.placement_id,
    })
}

fn report(cli: &Cli, r: &VgpuHostReport, dry_run: bool) {
    let ops: Vec<String> = r
        .vgpu
        .iter()
        .flat_map(|v| v.plan.ops.iter().map(ToString::to_string))
        .collect();
    if cli.json {
        print_json(&json!({
            "mig_operations": r.mig.ops.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "resets_needed": r.mig.resets_needed,
            "vgpu_operations": ops,
            "kept": r.vgpu.iter().flat_map(|v| v.plan.kept.iter().map(vgpu_json)).collect::<Vec<_>>(),
            "dry_run": dry_run,
        }));
        return;
    }
    for op in &r.mig.ops {
        println!("{}MIG: {op}", if dry_run { "would " } else { "" });
    }
    if !r.mig.resets_needed.is_empty() {
        println!(
            "GPUs {:?} need a reset for their MIG mode (nvidia-smi -r -i N); then run again",
            r.mig.resets_needed
        );
    }
    for op in &ops {
        println!("{}vGPU: {op}", if dry_run { "would " } else { "" });
    }
    if ops.is_empty() && r.mig.ops.is_empty() && r.vgpu.is_some() {
        println!("nothing to do");
    }
}

/// On a simulated host, resets the GPUs a MIG mode change waits for (the simulator's stand-in
/// for `nvidia-smi -r`, as `gpupart mig apply` does there): `Some(true)` to run again. A real
/// GPU is never reset here.
fn reset_simulated(
    host: &Host,
    r: &Result<VgpuHostReport, gpupart_mig::Error>,
    dry_run: bool,
) -> Result<Option<bool>, Failure> {
    let Ok(r) = r else { return Ok(None) };
    if r.mig.resets_needed.is_empty() || matches!(host, Host::Nvml(_)) || r.mig.ops.is_empty() {
        return Ok(None);
    }
    if dry_run {
        return Ok(Some(false));
    }
    for &g in &r.mig.resets_needed {
        host.reset(g)?;
    }
    Ok(Some(true))
}

/// `vgpu claim` (`claim`) or `vgpu release`: one owner's act on one slot.
fn owned(cli: &Cli, s: &str, o: &str, state_file: &Path, claim: bool) -> Result<(), Failure> {
    let (s, o) = (slot(s)?, owner(o)?);
    let (mut host, sysfs) = open(cli)?;
    let mut state = load(state_file)?;
    if claim {
        vgpu::claim(&sysfs, &mut state, s, &o)?;
    } else {
        vgpu::release(&sysfs, &mut state, s, &o)?;
    }
    save(&state, state_file, &mut host, &sysfs)?;
    if !cli.json {
        let what = if claim { "owned by" } else { "released by" };
        println!("{s}: {what} {o}");
    }
    Ok(())
}

/// Runs one of the host manager's commands.
pub(crate) fn run(cli: &Cli, c: &VgpuCommand) -> Result<(), Failure> {
    match c {
        VgpuCommand::Apply {
            gpu,
            types,
            state: file,
            dry_run,
        } => {
            let state_file = &file.state_file;
            let mut wants = Vec::new();
            for t in types {
                let (name, count) = t
                    .rsplit_once('=')
                    .and_then(|(n, c)| Some((n, c.parse::<u32>().ok()?)))
                    .ok_or_else(|| {
                        Failure::Input(format!("--type {} (expected TYPE=COUNT)", quote(t)))
                    })?;
                wants.push(VgpuWant::new(name, count));
            }
            let (mut host, sysfs) = open(cli)?;
            let mut state = load(state_file)?;
            let wants = [(*gpu, wants)];
            let opts = options(&host, *dry_run);
            let mut r = mig_backed(host.backend(), &sysfs, &wants, &mut state, &opts);
            if let Some(again) = reset_simulated(&host, &r, *dry_run)? {
                r = if again {
                    mig_backed(host.backend(), &sysfs, &wants, &mut state, &opts)
                } else {
                    r
                };
            }
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    save_host(&mut host, &sysfs)?;
                    return Err(e.into());
                }
            };
            if !dry_run {
                save(&state, state_file, &mut host, &sysfs)?;
            }
            report(cli, &r, *dry_run);
            Ok(())
        }
        VgpuCommand::Restore { state: file } => {
            let state_file = &file.state_file;
            let (mut host, sysfs) = open(cli)?;
            let mut state = load(state_file)?;
            let opts = options(&host, false);
            let mut r = restore(host.backend(), &sysfs, &mut state, &opts);
            if reset_simulated(&host, &r, false)? == Some(true) {
                r = restore(host.backend(), &sysfs, &mut state, &opts);
            }
            save_host(&mut host, &sysfs)?;
            let r = r?;
            state.save(state_file)?;
            report(cli, &r, false);
            Ok(())
        }
        VgpuCommand::Reconcile {
            state: file,
            live,
            protect,
            clear,
        } => {
            let state_file = &file.state_file;
            let live = live
                .iter()
                .map(|o| owner(o))
                .collect::<Result<Vec<_>, _>>()?;
            let protect = protect
                .iter()
                .map(|s| slot(s))
                .collect::<Result<Vec<_>, _>>()?;
            let (mut host, sysfs) = open(cli)?;
            let mut state = load(state_file)?;
            let r = vgpu::reconcile(&sysfs, &mut state, &live, &protect, *clear)?;
            save(&state, state_file, &mut host, &sysfs)?;
            if cli.json {
                print_json(&json!({
                    "orphans": r.orphans.iter().map(vgpu_json).collect::<Vec<_>>(),
                    "cleared": r.cleared.iter().map(vgpu_json).collect::<Vec<_>>(),
                    "busy": r.busy.iter().map(|(v, p)| json!({"vgpu": vgpu_json(v), "pids": p})).collect::<Vec<_>>(),
                    "protected": r.protected.iter().map(vgpu_json).collect::<Vec<_>>(),
                    "stale": r.stale.iter().map(vgpu_json).collect::<Vec<_>>(),
                }));
            } else {
                for v in &r.orphans {
                    let what = if r.cleared.contains(v) {
                        "cleared"
                    } else if r.protected.contains(v) {
                        "protected, left"
                    } else if r.busy.iter().any(|(b, _)| b == v) {
                        "open by a VM, left"
                    } else {
                        "orphan (pass --clear to clear)"
                    };
                    println!("{v}: {what}");
                }
                for v in &r.stale {
                    println!("{v}: gone from the host, dropped from the state");
                }
                if r.orphans.is_empty() && r.stale.is_empty() {
                    println!("no orphans");
                }
            }
            Ok(())
        }
        VgpuCommand::Claim {
            slot: s,
            owner: o,
            state: file,
        } => owned(cli, s, o, &file.state_file, true),
        VgpuCommand::Release {
            slot: s,
            owner: o,
            state: file,
        } => owned(cli, s, o, &file.state_file, false),
        _ => Err(Failure::Input("not a host manager command".to_owned())),
    }
}
