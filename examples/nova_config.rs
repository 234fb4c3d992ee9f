//! The `nova.conf` text for vGPU types on a host's VFs: discovers the GPUs, enables VFs
//! (simulated host by default), picks the types the VFs offer, and prints the sections.
//!
//! ```text
//! cargo run --example nova_config
//! ```
use gpupart::sriov::nova::{NovaMdevType, nova_conf};
use gpupart::sriov::{EnableOptions, SimulatedSysfs, Sysfs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sysfs = Sysfs::simulated(SimulatedSysfs::gpu_host(4));
    let mut by_type: Vec<(String, Vec<_>)> = Vec::new();
    for (i, gpu) in sysfs.nvidia_gpus()?.iter().enumerate() {
        let report = sysfs.enable_vfs(gpu.address, 4, &EnableOptions::default())?;
        // Half the GPUs serve the 10 GB type, half the 20 GB type.
        let want = if i % 2 == 0 {
            "NVIDIA A100-10C"
        } else {
            "NVIDIA A100-20C"
        };
        for vf in report.vfs {
            let types = sysfs.creatable_vgpu_types(vf)?;
            let t = types
                .iter()
                .find(|t| t.name == want)
                .ok_or("type not offered")?;
            let key = format!("nvidia-{}", t.id);
            match by_type.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(vf),
                None => by_type.push((key, vec![vf])),
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
    print!("{}", nova_conf(&types)?);
    Ok(())
}
