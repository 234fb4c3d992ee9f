//! The seed's steps on a simulated DGX A100: enable MIG on GPU 0 (pending until a reset, as on
//! a real A100; the simulated reset stands in for `nvidia-smi -r`), create a GPU instance of
//! profile 19 (1g.5gb) with its default compute instance, list them.
//!
//! ```text
//! cargo run --example seed_flow
//! ```
use gpupart::mig::state::{lci_table, lgi_table, read_all};
use gpupart::mig::{Backend, SimulatedNvml};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = SimulatedNvml::dgx_a100();
    println!("1. enable MIG on GPU 0");
    node.set_mig_mode(0, true)?;
    let m = node.mig_mode(0)?;
    println!("   current {}, pending {}", m.current, m.pending);
    if m.reset_pending() {
        println!("   a GPU reset is needed (never done implicitly); resetting the simulated GPU");
        node.reset(0)?;
    }
    println!("2. create a GPU instance of profile 19 at its first free placement");
    let start = node
        .free_placements(0, 19)?
        .first()
        .ok_or("no free placement")?
        .start;
    let gi = node.create_gpu_instance(0, 19, start)?;
    println!("   GPU instance {} at {}", gi.id, gi.placement);
    let ci = node.create_compute_instance(0, gi.id, 0)?;
    println!(
        "   compute instance {} (profile index 0, the full instance)",
        ci.id
    );
    println!("3. list");
    let gpus = read_all(&node)?;
    print!("{}", lgi_table(&gpus[..1]));
    print!("{}", lci_table(&gpus[..1]));
    Ok(())
}
