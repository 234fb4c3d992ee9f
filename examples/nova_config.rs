//! The `nova.conf` text for vGPU types on a host's VFs, for both of NVIDIA's interfaces:
//! an A100 host under mdev (`[devices]`, `[mdev_*]`: Nova makes the mdevs on the VFs it is
//! given) and an H100 host under the vendor-specific VFIO framework (`[pci] device_spec` and
//! `alias` for VFs whose vGPU type the vGPU manager set). Simulated hosts.
//!
//! ```text
//! cargo run --example nova_config
//! ```
use gpupart::sriov::nova::{NovaMdevType, nova_conf, nova_conf_for_host};
use gpupart::sriov::vgpu::{ApplyOptions, GpuSpec, HostState, apply, inventory};
use gpupart::sriov::{EnableOptions, SimulatedSysfs, Sysfs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // mdev: half the GPUs' VFs for the 10 GB type, half for the 20 GB type.
    let sysfs = Sysfs::simulated(SimulatedSysfs::gpu_host(4));
    let mut by_type: Vec<(String, Vec<_>)> = Vec::new();
    for (i, gpu) in sysfs.nvidia_gpus()?.iter().enumerate() {
        let report = sysfs.enable_vfs(gpu.address, 4, &EnableOptions::default())?;
        let want = if i % 2 == 0 {
            "NVIDIA A100-10C"
        } else {
            "NVIDIA A100-20C"
        };
        for vf in report.vfs {
            let t = sysfs
                .mdev_types(vf)?
                .into_iter()
                .find(|t| t.name.as_deref() == Some(want))
                .ok_or("type not offered")?;
            match by_type.iter_mut().find(|(k, _)| *k == t.id) {
                Some((_, v)) => v.push(vf),
                None => by_type.push((t.id, vec![vf])),
            }
        }
    }
    let types: Vec<NovaMdevType> = by_type
        .iter()
        .map(|(t, addrs)| {
            NovaMdevType::new(t, addrs)
                .mdev_class(&format!("CUSTOM_{}", t.to_uppercase().replace('-', "_")))
        })
        .collect();
    println!("# A100 host, mdev");
    print!("{}", nova_conf(&types)?);

    // Vendor-specific VFIO: the vGPU manager sets the types, Nova passes the VFs through.
    let sysfs = Sysfs::simulated(SimulatedSysfs::h100_host(2));
    let mut specs = Vec::new();
    for (i, gpu) in sysfs.nvidia_gpus()?.iter().enumerate() {
        sysfs.enable_vfs(gpu.address, 4, &EnableOptions::default())?;
        let t = if i == 0 { "H100XM-20C" } else { "H100XM-40C" };
        let n = if i == 0 { 4 } else { 2 };
        specs.push(GpuSpec::new(gpu.address).vgpus(t, n).memory_mib(80 * 1024));
    }
    let mut state = HostState::default();
    apply(
        &sysfs,
        &specs,
        &mut state,
        &ApplyOptions::default().lock_path(None),
    )?;
    println!("\n# H100 host, vendor-specific VFIO");
    print!(
        "{}",
        nova_conf_for_host(&sysfs, &inventory(&sysfs, &state)?)?
    );
    Ok(())
}
