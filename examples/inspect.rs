//! Lists GPUs, MIG mode (current/pending) and the GPU instance profile table with placements,
//! from NVML when a GPU is there, else from the simulator. Read-only: it changes nothing.
//!
//! ```text
//! cargo run --example inspect            # NVML, or the simulator without a driver
//! cargo run --example inspect -- --sim   # the simulator
//! ```
use gpupart::mig::state::model_of;
use gpupart::mig::{Backend, Error, NvmlBackend, SimulatedNvml};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Error> {
    let force_sim = std::env::args().any(|a| a == "--sim");
    let real = if force_sim {
        None
    } else {
        Some(NvmlBackend::init())
    };
    let backend: Box<dyn Backend> = match real {
        Some(Ok(nvml)) if nvml.gpu_count()? > 0 => {
            println!("source: NVML, driver {}", nvml.driver_version()?);
            Box::new(nvml)
        }
        other => {
            if let Some(Err(e)) = other {
                println!("({e}; using the simulator)");
            }
            println!("source: simulator (2 x A100-40GB, 2 x H100-80GB, 1 x L4)");
            Box::new(SimulatedNvml::mixed())
        }
    };
    for gpu in 0..backend.gpu_count()? {
        let info = backend.gpu(gpu)?;
        println!(
            "\nGPU {gpu}: {}  PCI {}  ID 0x{:08X}{}",
            info.name,
            info.pci.map_or("-".to_owned(), |p| p.to_string()),
            info.pci_device_id,
            info.pci_subsystem_id
                .map_or(String::new(), |s| format!("/0x{s:08X}"))
        );
        let model = model_of(&info);
        println!(
            "  catalog model: {}",
            model.map_or("(not in the catalog)", |m| m.name)
        );
        match backend.mig_mode(gpu) {
            Ok(m) => println!(
                "  MIG mode: current {}, pending {}{}",
                on(m.current),
                on(m.pending),
                if m.reset_pending() {
                    " (a GPU reset makes the pending mode current)"
                } else {
                    ""
                }
            ),
            Err(Error::Nvml {
                code: gpupart::mig::NvmlCode::NotSupported,
                ..
            }) => {
                println!("  MIG mode: not supported");
                continue;
            }
            Err(e) => return Err(e),
        }
        println!(
            "  {:<4} {:>3}  {:<13} {:>4} {:>4} {:>8} {:>3} {:>3} {:>3} {:>3} {:>3} {:>4}  placements",
            "idx", "ID", "profile", "inst", "SMs", "MiB", "CE", "DEC", "ENC", "JPG", "OFA", "P2P"
        );
        // Every profile index the driver has (from 0 until INVALID_ARGUMENT), the catalog's or
        // newer ones.
        for p in backend.gpu_instance_profiles(gpu)? {
            let name = model
                .and_then(|m| m.profile_by_nvml_id(p.id).ok())
                .map_or("?".to_owned(), |c| c.name.to_string());
            let placements = backend.possible_placements(gpu, p.id)?;
            let size = placements.first().map_or(0, |pl| pl.size);
            let starts: Vec<String> = placements.iter().map(|pl| pl.start.to_string()).collect();
            println!(
                "  {:<4} {:>3}  {:<13} {:>4} {:>4} {:>8} {:>3} {:>3} {:>3} {:>3} {:>3} {:>4}  {{{}}}:{size}",
                p.index,
                p.id,
                name,
                p.instance_count,
                p.multiprocessor_count,
                p.memory_mib,
                p.copy_engine_count,
                p.decoder_count,
                p.encoder_count,
                p.jpeg_count,
                p.ofa_count,
                if p.p2p { "yes" } else { "no" },
                starts.join(",")
            );
        }
        for gi in backend.gpu_instances(gpu).unwrap_or_default() {
            println!(
                "  GPU instance {} profile {} at {}",
                gi.id, gi.profile_id, gi.placement
            );
        }
    }
    Ok(())
}

fn on(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}
