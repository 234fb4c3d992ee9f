//! Packs a mixed request list onto a simulated 8 x A100-40GB node and prints the plan: a
//! table of (GPU, profile, start slice), a slice diagram per GPU, and the bound.
//!
//! ```text
//! cargo run --example pack
//! ```
use gpupart::profiles::catalog::A100_40GB;
use gpupart::topology::batch::{Request, SolveOptions, solve};
use gpupart::topology::{Fleet, Gpu};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Two GPUs already hold instances: GPU 1 an in-use 1g.5gb at slice 0 (it never moves) and
    // a free 3g.20gb at 4; GPU 6 a free 7g.40gb nobody asked for.
    let mut gpus: Vec<Gpu> = (0..8).map(|i| Gpu::new(i, &A100_40GB)).collect();
    gpus[1].add("1g.5gb", 0, true)?;
    gpus[1].add("3g.20gb", 4, false)?;
    gpus[6].add("7g.40gb", 0, false)?;
    let mut fleet = Fleet::new(gpus)?;
    let requests = vec![
        Request::parse("3g.20gb", 4)?,
        Request::parse("4g.20gb", 2)?.with_priority(1),
        Request::parse("2g.10gb", 6)?,
        Request::parse("1g.5gb", 10)?,
        Request::parse("1g.10gb", 2)?,
    ];
    println!("requests:");
    for (i, r) in requests.iter().enumerate() {
        println!(
            "  #{i}: {} x {} (priority {})",
            r.count, r.profile, r.priority
        );
    }
    println!("\nbefore:");
    for g in fleet.gpus() {
        println!("  GPU {}  {}", g.index, g.diagram());
    }
    let plan = solve(&fleet, &requests, &SolveOptions::default());
    println!(
        "\n{:<5} {:<9} {:<10} {:>5}  request",
        "GPU", "action", "profile", "start"
    );
    for c in &plan.changes {
        for d in &c.destroy {
            println!(
                "{:<5} {:<9} {:<10} {:>5}",
                c.gpu,
                "destroy",
                d.profile.name.to_string(),
                d.start
            );
        }
        for r in &c.reuse {
            println!(
                "{:<5} {:<9} {:<10} {:>5}  #{}",
                c.gpu,
                "reuse",
                r.instance.profile.name.to_string(),
                r.instance.start,
                r.request
            );
        }
        for x in &c.create {
            println!(
                "{:<5} {:<9} {:<10} {:>5}  #{}",
                c.gpu,
                "create",
                x.profile.name.to_string(),
                x.placement.start,
                x.request
            );
        }
    }
    for u in &plan.unplaced {
        println!(
            "not placed: {} x request #{} ({:?})",
            u.count, u.request, u.reason
        );
    }
    plan.apply_to(&mut fleet)?;
    println!("\nafter (digit = compute slices of a free instance, # = in use, . = free slice):");
    for g in fleet.gpus() {
        println!("  GPU {}  {}", g.index, g.diagram());
    }
    let o = &plan.objective;
    let (placed_gap, gpu_gap) = plan.gap();
    println!(
        "\nplaced {} of {}; reused {}; GPUs reconfigured {}, used {}; room {}; destroyed {}",
        o.placed,
        requests.iter().map(|r| u64::from(r.count)).sum::<u64>(),
        o.reused,
        o.gpus_reconfigured,
        o.gpus_used,
        o.room,
        o.destroyed
    );
    println!(
        "bound: at most {} placeable, at least {} GPUs for what is placed; gap ({placed_gap}, {gpu_gap}){}",
        plan.bound.max_placed,
        plan.bound.min_gpus_used,
        if plan.exact {
            "; optimal (exact search)"
        } else if plan.proven() {
            "; proven optimal in instances placed and GPUs used"
        } else {
            ""
        }
    );
    Ok(())
}
