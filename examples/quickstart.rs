//! The whole story on one host, on a simulated node by default: 8 x A100-40GB with SR-IOV
//! physical functions in a simulated sysfs and the simulated NVML.
//!
//! Steps: doctor; enable VFs on each GPU; enable MIG mode; solve a mixed request list; apply
//! the plan with explicit placements; a MIG-backed vGPU on every GPU instance (one library
//! call) and the nova.conf text for them.
//!
//! ```text
//! cargo run --example quickstart                 # simulated node
//! cargo run --example quickstart -- --real       # this host: read-only steps only
//! cargo run --example quickstart -- --real --write   # this host, and change it (root)
//! ```
//! `GPUPART_REAL=1` is the same as `--real`.
use std::time::Instant;

use gpupart::mig::apply::{ApplyOptions, DesiredGpu, apply, desired_from_plan};
use gpupart::mig::state::{lci_table, lgi_table, read_all};
use gpupart::mig::vgpu::vgpus_for_layout;
use gpupart::mig::{Backend, NvmlBackend, SimulatedNvml};
use gpupart::sriov::nova::nova_conf_for_host;
use gpupart::sriov::vgpu::{HostState, inventory};
use gpupart::sriov::{EnableOptions, SimulatedSysfs, Sysfs};
use gpupart::topology::Fleet;
use gpupart::topology::batch::{Request, SolveOptions, solve};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let real =
        args.iter().any(|a| a == "--real") || std::env::var("GPUPART_REAL").is_ok_and(|v| v == "1");
    let write = !real || args.iter().any(|a| a == "--write");
    let t0 = Instant::now();
    let step = |n: u32, what: &str| println!("\n[{n}/6 {:>6.1?}] {what}", t0.elapsed());
    let sim_nvml = (!real).then(SimulatedNvml::dgx_a100);
    let sim_sysfs = (!real).then(|| SimulatedSysfs::gpu_host(8));
    // One driver serves NVML and sysfs on a host; the two simulators are linked likewise, so
    // GPU instances made through NVML are what MIG-backed vGPU types can use.
    if let (Some(n), Some(h)) = (&sim_nvml, &sim_sysfs) {
        n.link_sysfs(h);
    }
    let real_nvml = if real {
        Some(NvmlBackend::init()?)
    } else {
        None
    };
    let (sysfs, nvml): (Sysfs, &dyn Backend) = match (&sim_nvml, &real_nvml, &sim_sysfs) {
        (_, Some(n), _) => {
            println!(
                "real host{}",
                if write {
                    ", writing"
                } else {
                    ", read-only (add --write to change it)"
                }
            );
            (Sysfs::system(), n)
        }
        (Some(n), None, Some(host)) => {
            println!(
                "simulated host: 8 x A100-SXM4-40GB, SR-IOV PFs in a simulated sysfs, simulated NVML"
            );
            (Sysfs::simulated(host.clone()), n)
        }
        _ => return Err("no backend".into()),
    };
    let lock = Some(std::env::temp_dir().join("gpupart-quickstart.lock"));

    step(1, "doctor: what this host supports");
    for f in sysfs.doctor()? {
        println!("  {}{f}", if f.is_problem() { "problem: " } else { "" });
    }
    let gpus = read_all(nvml)?;
    for g in &gpus {
        println!("  NVML: {}", g.summary());
    }

    step(2, "enable VFs on each GPU's physical function");
    let mut vfs = Vec::new();
    for g in sysfs.nvidia_gpus()? {
        match (g.sriov, write) {
            (None, _) => println!("  {}: no SR-IOV capability, skipped", g.address),
            (Some(s), false) => println!(
                "  {}: {} of {} VFs enabled (read-only: not changed)",
                g.address, s.num_vfs, s.total_vfs
            ),
            (Some(_), true) => {
                let r = sysfs.enable_vfs(g.address, 8, &EnableOptions::default())?;
                println!(
                    "  {}: {} VFs enabled{}",
                    g.address,
                    r.enabled,
                    if r.changed { "" } else { " (already)" }
                );
                vfs.push((g.address, r.vfs));
            }
        }
    }

    step(3, "enable MIG mode");
    let mig_gpus: Vec<u32> = gpus
        .iter()
        .filter(|g| g.mig.is_some())
        .map(|g| g.info.index)
        .collect();
    if write {
        let want: Vec<DesiredGpu> = mig_gpus
            .iter()
            .map(|&g| DesiredGpu::new(g, true, Vec::new()))
            .collect();
        let r = apply(
            nvml,
            &want,
            &ApplyOptions::default().lock_path(lock.clone()),
        )?;
        if !r.resets_needed.is_empty() {
            println!(
                "  MIG mode is pending on GPUs {:?}: on real hardware a GPU reset is needed now (never done implicitly)",
                r.resets_needed
            );
            let Some(sim) = &sim_nvml else {
                println!("  reset the GPUs (nvidia-smi -r) and run again");
                return Ok(());
            };
            // The simulator's stand-in for `nvidia-smi -r`.
            for &g in &r.resets_needed {
                sim.reset(g)?;
            }
            println!("  (simulated GPUs reset)");
        }
    } else {
        for g in &gpus {
            if let Some(m) = g.mig {
                println!(
                    "  GPU {}: MIG current {}, pending {} (read-only)",
                    g.info.index, m.current, m.pending
                );
            }
        }
    }

    step(4, "solve 4 x 3g.20gb, 6 x 2g.10gb, 10 x 1g.5gb");
    let gpus = read_all(nvml)?;
    let mut fleet = Fleet::new(
        gpus.iter()
            .filter(|g| g.model.is_some())
            .map(|g| g.to_topology())
            .collect::<std::result::Result<_, _>>()?,
    )?;
    fleet.read_numa(&sysfs)?;
    let requests = vec![
        Request::parse("3g.20gb", 4)?,
        Request::parse("2g.10gb", 6)?,
        Request::parse("1g.5gb", 10)?,
    ];
    let plan = solve(&fleet, &requests, &SolveOptions::default());
    let (gap_placed, gap_gpus) = plan.gap();
    println!(
        "  placed {} of 20 on {} GPUs; bound: at most {} placeable, at least {} GPUs; gap ({gap_placed}, {gap_gpus}){}",
        plan.objective.placed,
        plan.objective.gpus_used,
        plan.bound.max_placed,
        plan.bound.min_gpus_used,
        if plan.exact {
            ", optimal (exact search)"
        } else if plan.proven() {
            ", proven optimal in instances placed and GPUs used"
        } else {
            ""
        }
    );
    for u in &plan.unplaced {
        println!(
            "  not placed: {} x {} ({:?})",
            u.count, requests[u.request].profile, u.reason
        );
    }

    step(5, "apply the plan with explicit placements");
    let desired = desired_from_plan(&gpus, &plan)?;
    let r = apply(
        nvml,
        &desired,
        &ApplyOptions::default().dry_run(!write).lock_path(lock),
    )?;
    println!(
        "  {} NVML operations {}",
        r.ops.len(),
        if write {
            "performed"
        } else {
            "planned (dry run)"
        }
    );
    let after = read_all(nvml)?;
    print!("{}", lgi_table(&after));
    print!("{}", lci_table(&after));
    for g in after.iter().filter_map(|g| g.to_topology().ok()) {
        println!("  GPU {}  {}", g.index, g.diagram());
    }

    step(
        6,
        "a MIG-backed vGPU on every GPU instance, and nova.conf for them",
    );
    // One call: for each GPU instance the C-series type that backs its profile, on a VF,
    // with the GPU instance named (the driver chooses it under mdev).
    let mig_gpus: Vec<u32> = after
        .iter()
        .filter(|g| !g.instances.is_empty())
        .map(|g| g.info.index)
        .collect();
    let mut vgpu_state = HostState::default();
    let vgpu_opts = gpupart::sriov::vgpu::ApplyOptions::default()
        .lock_path(None)
        .dry_run(!write);
    match vgpus_for_layout(nvml, &sysfs, &mig_gpus, "C", &mut vgpu_state, &vgpu_opts) {
        Ok(r) => {
            println!(
                "  {} vGPUs {}",
                r.plan.ops.len(),
                if write { "made" } else { "planned (dry run)" }
            );
            let views = inventory(&sysfs, &vgpu_state)?;
            match nova_conf_for_host(&sysfs, &views) {
                Ok(text) => print!("{text}"),
                Err(e) => println!("  no nova.conf: {e}"),
            }
        }
        Err(e) => println!("  no vGPUs: {e}"),
    }
    println!("\ndone in {:.1?}", t0.elapsed());
    Ok(())
}
