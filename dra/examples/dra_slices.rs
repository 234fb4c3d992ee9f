//! A simulated DGX A100 and HGX H100 node printed as ResourceSlice YAML, in gpupart's device
//! order (`--nvidia` for NVIDIA's), as the kubelet plugin would publish them:
//!
//! ```text
//! cargo run -p gpupart-dra --example dra_slices
//! cargo run -p gpupart-dra --example dra_slices -- --nvidia
//! ```
use gpupart_dra::slices::{node_slices, validate};
use gpupart_dra::{NodeInfo, Order, SliceOptions};
use gpupart_mig::SimulatedNvml;
use gpupart_mig::apply::{ApplyOptions, DesiredGpu, DesiredInstance, apply};
use gpupart_mig::state::read_all;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let order = if std::env::args().any(|a| a == "--nvidia") {
        Order::Nvidia
    } else {
        Order::Gpupart
    };
    let info = NodeInfo::versions("580.95.05", "13.0");
    for (node, nvml) in [
        ("dgx-a100", SimulatedNvml::dgx_a100()),
        ("hgx-h100", SimulatedNvml::hgx_h100()),
    ] {
        // MIG on everywhere (DynamicMIG publishes MIG-enabled GPUs); on GPU 0 an instance that
        // DRA did not make: its memory slices come out of GPU 0's counters.
        let opts = ApplyOptions::default().lock_path(None);
        let all: Vec<DesiredGpu> = (0..8)
            .map(|g| DesiredGpu::new(g, true, Vec::new()))
            .collect();
        let r = apply(&nvml, &all, &opts)?;
        for g in r.resets_needed {
            nvml.reset(g)?;
        }
        let foreign = if node == "dgx-a100" {
            "3g.20gb"
        } else {
            "3g.40gb"
        };
        apply(
            &nvml,
            &[DesiredGpu::new(
                0,
                true,
                vec![DesiredInstance::new(foreign.parse()?).at(4)],
            )],
            &opts,
        )?;
        let gpus = read_all(&nvml)?;
        let slices = node_slices(&gpus, &info, &[], &SliceOptions::new(node).order(order))?;
        validate(&slices)?;
        let devices: usize = slices
            .iter()
            .map(|s| s.spec.devices.as_ref().map_or(0, Vec::len))
            .sum();
        println!(
            "# node {node}: {} ResourceSlices, {devices} devices, {order:?} order",
            slices.len()
        );
        for s in &slices {
            println!("---");
            print!("{}", serde_saphyr::to_string(s)?);
        }
    }
    Ok(())
}
