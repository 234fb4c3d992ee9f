//! Applies a named configuration of NVIDIA's default mig-parted file to a simulated DGX A100
//! (8 x A100-SXM4-40GB, MIG on) and prints the result like `nvidia-smi mig -lgi` / `-lci`.
//!
//! ```text
//! cargo run --example apply_config                  # all-balanced
//! cargo run --example apply_config -- all-3g.20gb [--file my-config.yaml]
//! ```
use gpupart::mig::apply::{ApplyOptions, apply};
use gpupart::mig::config::{MigPartedConfig, assert_config, desired_state};
use gpupart::mig::state::{lci_table, lgi_table, read_all};
use gpupart::mig::{SimGpu, SimulatedNvml};
use gpupart::profiles::catalog::A100_40GB;

const DEFAULT: &str = include_str!("../mig/fixtures/mig-parted-config-default.yaml");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args
        .iter()
        .find(|a| !a.starts_with("--") && !a.ends_with(".yaml"))
        .map_or("all-balanced", String::as_str);
    let text = match args.iter().position(|a| a == "--file") {
        Some(i) => std::fs::read_to_string(args.get(i + 1).ok_or("--file needs a path")?)?,
        None => DEFAULT.to_owned(),
    };
    let config = MigPartedConfig::parse(&text)?;
    let node = SimulatedNvml::new(
        (0..8)
            .map(|_| SimGpu::new(&A100_40GB).mig_enabled())
            .collect(),
    );
    let gpus = read_all(&node)?;
    let desired = desired_state(&config, name, &gpus)?;
    println!("config {name:?}: validated on {} GPUs", desired.len());
    let lock = std::env::temp_dir().join("gpupart-example-mig.lock");
    let report = apply(
        &node,
        &desired,
        &ApplyOptions::default().lock_path(Some(lock)),
    )?;
    println!("{} NVML operations performed", report.performed);
    let after = read_all(&node)?;
    print!("{}", lgi_table(&after));
    print!("{}", lci_table(&after));
    assert_config(&config, name, &after)?;
    println!("assert: the GPUs match {name:?}");
    Ok(())
}
