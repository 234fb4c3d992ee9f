//! The read-only conformance suite (`gpupart::mig::conformance`) on this host's GPUs through
//! the real NVML, or on a simulated GPU of a catalog model: the same questions, the same
//! layout, so the two can be compared line by line. Never changes a GPU.
//!
//! ```text
//! cargo run --example nvml_conformance                   # every GPU of this host (NVML; the
//!                                                        # simulator where there is no driver)
//! cargo run --example nvml_conformance -- --sim 0x233010DE [--subsystem 0x16C110DE]
//! ```
use gpupart::mig::conformance::{render, run};
use gpupart::mig::{Backend, NvmlBackend, SimGpu, SimulatedNvml};
use gpupart::profiles::catalog;

fn main() {
    if let Err(e) = go() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn hex(s: &str) -> Result<u32, Box<dyn std::error::Error>> {
    Ok(u32::from_str_radix(s.trim_start_matches("0x"), 16)?)
}

fn go() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    if let Some(id) = value("--sim") {
        let id = hex(&id)?;
        let model = catalog::model_by_pci_device_id(id, None)?;
        let mut gpu = SimGpu::new(model).with_pci_device_id(id);
        if let Some(sub) = value("--subsystem") {
            gpu = gpu.with_pci_subsystem_id(hex(&sub)?);
        }
        print!("{}", render(&run(&SimulatedNvml::new(vec![gpu]), 0)));
        return Ok(());
    }
    let nvml = match NvmlBackend::init() {
        Ok(n) => n,
        Err(gpupart::mig::Error::LibraryNotFound { .. }) => {
            // No driver here: the simulator's answers for the recorded H100, as `--sim` gives.
            println!("# no NVIDIA driver on this host: a simulated H100 80GB HBM3 answers");
            let gpu = SimGpu::new(&catalog::H100_SXM_80GB).with_pci_subsystem_id(0x16C1_10DE);
            print!("{}", render(&run(&SimulatedNvml::new(vec![gpu]), 0)));
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    println!("# driver {}", nvml.driver_version()?);
    for gpu in 0..nvml.gpu_count()? {
        print!("{}", render(&run(&nvml, gpu)));
    }
    Ok(())
}
