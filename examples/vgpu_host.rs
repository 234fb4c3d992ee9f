//! The seed's vGPU flow on both kinds of host, simulated: an A100 host under the mdev
//! framework and an H100 host under NVIDIA's vendor-specific VFIO framework (vGPU 17+ on
//! Linux 6.8+). On each: doctor → VFs → MIG layout → MIG-backed vGPUs (one library call) →
//! owner claim and a refused stale release → nova.conf → reboot → restore from the state file.
//!
//! ```text
//! cargo run --example vgpu_host
//! ```
use gpupart::mig::SimulatedNvml;
use gpupart::mig::vgpu::{VgpuHostOptions, mig_backed, restore};
use gpupart::sriov::nova::nova_conf_for_host;
use gpupart::sriov::vgpu::{HostState, Owner, VgpuWant, claim, inventory, reconcile, release};
use gpupart::sriov::{EnableOptions, SimulatedSysfs, Sysfs};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

struct Kind {
    title: &'static str,
    nvml: fn() -> SimulatedNvml,
    sysfs: fn(u16) -> SimulatedSysfs,
    wants: Vec<(u32, Vec<VgpuWant>)>,
}

fn run() -> Result<()> {
    let kinds = [
        Kind {
            title: "DGX A100 (8 x A100-SXM4-40GB), mdev",
            nvml: SimulatedNvml::dgx_a100,
            sysfs: SimulatedSysfs::gpu_host,
            wants: vec![
                (0, vec![VgpuWant::new("NVIDIA A100-3-20C", 2)]),
                (
                    1,
                    vec![
                        VgpuWant::new("NVIDIA A100-2-10C", 1),
                        VgpuWant::new("NVIDIA A100-1-5C", 4),
                    ],
                ),
                (2, vec![VgpuWant::new("NVIDIA A100-10C", 4)]),
            ],
        },
        Kind {
            title: "HGX H100 (8 x H100-SXM5-80GB), vendor-specific VFIO",
            nvml: SimulatedNvml::hgx_h100,
            sysfs: SimulatedSysfs::h100_host,
            wants: vec![
                (0, vec![VgpuWant::new("NVIDIA H100XM-3-40C", 2)]),
                (
                    1,
                    vec![
                        VgpuWant::new("NVIDIA H100XM-1-10C", 3),
                        VgpuWant::new("NVIDIA H100XM-2-20C", 2),
                    ],
                ),
                (2, vec![VgpuWant::new("NVIDIA H100XM-20C", 4)]),
            ],
        },
    ];
    for k in &kinds {
        host(k)?;
    }
    Ok(())
}

fn host(k: &Kind) -> Result<()> {
    println!("\n=== {} ===", k.title);
    let nvml = (k.nvml)();
    let sim = (k.sysfs)(8);
    // One driver serves NVML and sysfs on a host; the two simulators are linked likewise.
    nvml.link_sysfs(&sim);
    let sysfs = Sysfs::simulated(sim);
    let opts = VgpuHostOptions::without_locks();

    println!("[1] doctor");
    for f in sysfs.doctor()?.iter().take(3) {
        println!("  {f}");
    }

    println!("[2] VFs");
    for g in sysfs.nvidia_gpus()?.iter().take(k.wants.len()) {
        let r = sysfs.enable_vfs(g.address, 8, &EnableOptions::default())?;
        println!("  {}: {} VFs", g.address, r.enabled);
    }
    let view = inventory(&sysfs, &HostState::default())?;
    println!("  vGPU interface: {:?}", view[0].interface);

    println!("[3+4] MIG layout and vGPUs, one call per host");
    let mut state = HostState::default();
    let mut r = mig_backed(&nvml, &sysfs, &k.wants, &mut state, &opts)?;
    if !r.mig.resets_needed.is_empty() {
        println!(
            "  MIG mode needs a reset on GPUs {:?} (never done by the library; the simulator's stand-in now)",
            r.mig.resets_needed
        );
        for &g in &r.mig.resets_needed {
            nvml.reset(g)?;
        }
        r = mig_backed(&nvml, &sysfs, &k.wants, &mut state, &opts)?;
    }
    println!("  {} NVML operations", r.mig.performed);
    if let Some(v) = &r.vgpu {
        for op in &v.plan.ops {
            println!("  {op}");
        }
    }

    println!("[5] owners");
    let first = state.vgpus[0].vgpu.slot;
    let vm: Owner = "vm-0f1e2d3c".parse()?;
    let stale: Owner = "vm-previous".parse()?;
    claim(&sysfs, &mut state, first, &vm)?;
    match release(&sysfs, &mut state, first, &stale) {
        Err(e) => println!("  stale release refused: {e}"),
        Ok(()) => return Err("a stale release went through".into()),
    }

    println!("[6] nova.conf");
    let text = nova_conf_for_host(&sysfs, &inventory(&sysfs, &state)?)?;
    for line in text.lines() {
        println!("  {line}");
    }

    println!("[7] reboot and restore from the state file");
    let saved = state.to_text();
    let nvml = (k.nvml)();
    let sim = (k.sysfs)(8);
    nvml.link_sysfs(&sim);
    let sysfs = Sysfs::simulated(sim);
    let mut state = HostState::parse(&saved)?;
    let mut r = restore(&nvml, &sysfs, &mut state, &opts)?;
    if !r.mig.resets_needed.is_empty() {
        for &g in &r.mig.resets_needed {
            nvml.reset(g)?;
        }
        r = restore(&nvml, &sysfs, &mut state, &opts)?;
    }
    let made = r.vgpu.map_or(0, |v| v.performed);
    let rec = reconcile(&sysfs, &mut state, &[vm], &[], false)?;
    println!(
        "  {made} vGPUs made again ({} recorded); orphans after restore: {}",
        state.vgpus.len(),
        rec.orphans.len()
    );
    Ok(())
}
