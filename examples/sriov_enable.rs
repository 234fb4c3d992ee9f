//! `echo 1 > /sys/bus/pci/devices/<PF>/sriov_numvfs`, done right: checked against the kernel's
//! rules first, re-read afterwards, and waited for.
//!
//! ```text
//! cargo run --example sriov_enable                      # a simulated 8-GPU host
//! cargo run --example sriov_enable -- --sysfs /sys --pf 0000:81:00.0 [--vfs N] [--allow-disruption]
//! ```
use gpupart::sriov::{EnableOptions, PciAddress, SimulatedSysfs, Sysfs};

fn main() {
    if let Err(e) = run() {
        // The message names the cause; there is no chain to walk.
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let sysfs = match value("--sysfs") {
        Some(root) => Sysfs::at(root),
        None => {
            println!(
                "(simulated host: 8 x A100-SXM4-40GB; use --sysfs /sys --pf ADDR on a real one)"
            );
            Sysfs::simulated(SimulatedSysfs::gpu_host(8))
        }
    };
    let vfs: u16 = value("--vfs").map_or(Ok(1), |v| v.parse())?;
    let options =
        EnableOptions::default().allow_disruption(args.iter().any(|a| a == "--allow-disruption"));
    let pf: PciAddress = match value("--pf") {
        Some(p) => p.parse()?,
        None => sysfs
            .nvidia_gpus()?
            .first()
            .map(|g| g.address)
            .ok_or("no NVIDIA GPU found; pass --pf")?,
    };
    let dev = sysfs.device(pf)?;
    println!(
        "{pf}: {:04x}:{:04x} driver {} numa {:?} cpus {}",
        dev.vendor,
        dev.device,
        dev.driver.as_deref().unwrap_or("-"),
        dev.numa_node,
        dev.local_cpus
    );
    let report = sysfs.enable_vfs(pf, vfs, &options)?;
    println!(
        "asked {} VFs, {} enabled{}",
        report.requested,
        report.enabled,
        if report.changed {
            ""
        } else {
            " (already so: nothing written)"
        }
    );
    for (i, vf) in report.vfs.iter().enumerate() {
        let d = sysfs.device(*vf)?;
        println!(
            "  virtfn{i} -> {vf}  driver {}  iommu group {}",
            d.driver.as_deref().unwrap_or("-"),
            d.iommu_group.map_or("-".to_owned(), |g| g.to_string())
        );
    }
    Ok(())
}
