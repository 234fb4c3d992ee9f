//! `gpupart sriov …`: SR-IOV virtual functions, their drivers and a host check, on a sysfs
//! root (`/sys` by default) or the simulated GPU host.

use gpupart_sriov::{EnableOptions, PciAddress, SimulatedSysfs, Sysfs};
use serde_json::json;

use crate::args::{Cli, SimHost, SriovCommand};
use crate::failure::Failure;
use crate::host::Host;
use crate::output::print_json;
use crate::sriov_state;

/// A sysfs to work on, and the simulated host whose state file keeps it (with `--sim-state`).
pub(crate) struct SriovHost {
    sysfs: Sysfs,
    host: Option<Host>,
}

impl std::ops::Deref for SriovHost {
    type Target = Sysfs;
    fn deref(&self) -> &Sysfs {
        &self.sysfs
    }
}

impl SriovHost {
    /// Writes the simulated host's SR-IOV state back to its file (nothing otherwise).
    pub(crate) fn save(self) -> Result<(), Failure> {
        if let Some(mut host) = self.host {
            host.set_sriov(sriov_state::snapshot(&self.sysfs)?);
            host.save()?;
        }
        Ok(())
    }
}

fn simulated(preset: SimHost) -> Result<Sysfs, Failure> {
    match preset {
        SimHost::DgxA100 => Ok(Sysfs::simulated(SimulatedSysfs::gpu_host(8))),
        SimHost::GpuHost(n) => Ok(Sysfs::simulated(SimulatedSysfs::gpu_host(n))),
        SimHost::HgxH100 => Ok(Sysfs::simulated(SimulatedSysfs::h100_host(8))),
        other => Err(Failure::Input(format!(
            "--sim {other}: the SR-IOV simulator models A100 hosts under mdev (dgx-a100, gpu-host:N) and H100 hosts under NVIDIA's vendor interface (hgx-h100)"
        ))),
    }
}

/// The sysfs the arguments name: `--sysfs ROOT`, or a simulated host (kept in `--sim-state`
/// beside its MIG state).
pub(crate) fn open(cli: &Cli) -> Result<SriovHost, Failure> {
    if cli.sim_state.is_some() {
        let host = Host::open(cli)?;
        let Some((preset, _)) = host.sim() else {
            return Err(Failure::Input(
                "--sim-state needs a simulated host".to_owned(),
            ));
        };
        let sysfs = match host.simulated_sysfs() {
            Some(s) => s.clone(),
            None => simulated(preset)?,
        };
        return Ok(SriovHost {
            sysfs,
            host: Some(host),
        });
    }
    let sysfs = match cli.sim {
        None => Sysfs::at(&cli.sysfs),
        Some(preset) => simulated(preset)?,
    };
    Ok(SriovHost { sysfs, host: None })
}

pub(crate) fn address(s: &str) -> Result<PciAddress, Failure> {
    s.parse::<PciAddress>().map_err(Failure::from)
}

/// Runs a `gpupart sriov` command.
pub(crate) fn run(cli: &Cli, c: &SriovCommand) -> Result<(), Failure> {
    let sysfs = open(cli)?;
    let result = run_on(cli, c, &sysfs);
    sysfs.save()?;
    result
}

fn run_on(cli: &Cli, c: &SriovCommand, sysfs: &Sysfs) -> Result<(), Failure> {
    match c {
        SriovCommand::Doctor => {
            let findings = sysfs.doctor()?;
            if cli.json {
                let list: Vec<_> = findings
                    .iter()
                    .map(|f| json!({"problem": f.is_problem(), "finding": f.to_string()}))
                    .collect();
                print_json(&list);
            } else {
                for f in &findings {
                    println!("{} {f}", if f.is_problem() { "PROBLEM" } else { "ok     " });
                }
            }
            let problems = findings.iter().filter(|f| f.is_problem()).count();
            if problems > 0 {
                return Err(Failure::Mismatch(format!(
                    "the doctor found {problems} problem(s)"
                )));
            }
            Ok(())
        }
        SriovCommand::List => {
            let gpus = sysfs.nvidia_gpus()?;
            let mut rows = Vec::new();
            for g in &gpus {
                let vfs = match &g.sriov {
                    Some(s) if s.num_vfs > 0 => sysfs.virtual_functions(g.address)?,
                    _ => Vec::new(),
                };
                let mut vf_rows = Vec::new();
                for vf in vfs {
                    let d = sysfs.device(vf)?;
                    vf_rows.push(json!({"address": vf.to_string(), "driver": d.driver}));
                }
                rows.push(json!({
                    "address": g.address.to_string(),
                    "device": format!("{:04x}", g.device),
                    "driver": g.driver,
                    "numa_node": g.numa_node,
                    "sriov": g.sriov.as_ref().map(|s| json!({
                        "total_vfs": s.total_vfs,
                        "num_vfs": s.num_vfs,
                        "drivers_autoprobe": s.drivers_autoprobe,
                    })),
                    "vfs": vf_rows,
                }));
            }
            if cli.json {
                print_json(&rows);
            } else {
                println!(
                    "{:<14} {:<6} {:<10} {:>5} {:>9}  VFS",
                    "GPU", "DEVICE", "DRIVER", "NUMA", "VFS/TOTAL"
                );
                for (g, r) in gpus.iter().zip(&rows) {
                    let (num, total) = g
                        .sriov
                        .as_ref()
                        .map_or((0, 0), |s| (s.num_vfs, s.total_vfs));
                    let vfs: Vec<String> = r["vfs"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| {
                            format!(
                                "{}({})",
                                v["address"].as_str().unwrap_or_default(),
                                v["driver"].as_str().unwrap_or("-")
                            )
                        })
                        .collect();
                    println!(
                        "{:<14} {:<6} {:<10} {:>5} {:>9}  {}",
                        g.address,
                        format!("{:04x}", g.device),
                        g.driver.as_deref().unwrap_or("-"),
                        g.numa_node
                            .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                        format!("{num}/{total}"),
                        vfs.join(" ")
                    );
                }
            }
            Ok(())
        }
        SriovCommand::Enable {
            pf,
            vfs,
            allow_disruption,
        } => {
            let options = EnableOptions::default().allow_disruption(*allow_disruption);
            crate::output::progress(&format!(
                "enabling {vfs} VFs on {pf} and waiting for them and their drivers"
            ));
            let report = sysfs.enable_vfs(address(pf)?, *vfs, &options)?;
            print_report(cli.json, &report)
        }
        SriovCommand::Disable {
            pf,
            allow_disruption,
        } => {
            let options = EnableOptions::default().allow_disruption(*allow_disruption);
            let report = sysfs.disable_vfs(address(pf)?, &options)?;
            print_report(cli.json, &report)
        }
        SriovCommand::Bind { vf, driver } => {
            sysfs.bind(address(vf)?, driver)?;
            if !cli.json {
                println!("{vf} bound to {driver}");
            }
            Ok(())
        }
        SriovCommand::Autoprobe { pf, state } => {
            sysfs.set_drivers_autoprobe(address(pf)?, state == "on")?;
            if !cli.json {
                println!("{pf}: sriov_drivers_autoprobe {state}");
            }
            Ok(())
        }
    }
}

fn print_report(json: bool, r: &gpupart_sriov::VfReport) -> Result<(), Failure> {
    if json {
        let v = json!({
            "pf": r.pf.to_string(),
            "requested": r.requested,
            "enabled": r.enabled,
            "changed": r.changed,
            "vfs": r.vfs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        print_json(&v);
    } else {
        println!(
            "{}: {} VFs enabled (asked {}){}",
            r.pf,
            r.enabled,
            r.requested,
            if r.changed { "" } else { ", nothing to change" }
        );
        for vf in &r.vfs {
            println!("  {vf}");
        }
    }
    Ok(())
}
