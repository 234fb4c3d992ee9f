#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
//! NVML mutations for every transition between pairs of the default mig-parted configs that
//! apply to an A100-40GB, ours against destroy-all-and-recreate (mig-parted's approach), and
//! apply latency on the simulator.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use gpupart::mig::apply::{ApplyOptions, DesiredGpu, apply};
use gpupart::mig::config::{MigPartedConfig, desired_state};
use gpupart::mig::state::read_all;
use gpupart::mig::{SimGpu, SimulatedNvml};
use gpupart::profiles::catalog::A100_40GB;

const DEFAULT: &str = include_str!("../mig/fixtures/mig-parted-config-default.yaml");

fn node(n: usize) -> SimulatedNvml {
    SimulatedNvml::new(
        (0..n)
            .map(|_| SimGpu::new(&A100_40GB).mig_enabled())
            .collect(),
    )
}

fn a100_configs(cfg: &MigPartedConfig) -> Vec<(String, Vec<DesiredGpu>)> {
    let probe = node(1);
    let gpus = read_all(&probe).unwrap();
    cfg.mig_configs
        .keys()
        .filter_map(|name| {
            let d = desired_state(cfg, name, &gpus).ok()?;
            (d.len() == 1 && d[0].mig_enabled).then(|| (name.clone(), d))
        })
        .collect()
}

fn opts() -> ApplyOptions {
    ApplyOptions::default().lock_path(None)
}

fn transitions_table(configs: &[(String, Vec<DesiredGpu>)]) {
    let (mut ours, mut recreate, mut pairs, mut zero) = (0u64, 0u64, 0u64, 0u64);
    for (from_name, from) in configs {
        for (to_name, to) in configs {
            let sim = node(1);
            apply(&sim, from, &opts()).unwrap();
            let before = sim.mutations();
            apply(&sim, to, &opts()).unwrap();
            let ops = sim.mutations() - before;
            // mig-parted: nothing when the GPU already matches (its assert), else destroy every
            // compute and GPU instance and create every one (a full compute instance each).
            let naive = if from_name == to_name {
                0
            } else {
                2 * (from[0].instances.len() + to[0].instances.len()) as u64
            };
            ours += ops;
            recreate += naive;
            pairs += 1;
            zero += u64::from(ops == 0);
        }
    }
    println!(
        "\n== {pairs} transitions between the {} default configs that apply to an A100-40GB ==\n\
         NVML mutations: gpupart {ours} (mean {:.2}), destroy-all-and-recreate {recreate} (mean {:.2}): {:.1}% of the mutations; {zero} transitions need none\n",
        configs.len(),
        ours as f64 / pairs as f64,
        recreate as f64 / pairs as f64,
        100.0 * ours as f64 / recreate as f64
    );
}

fn bench(c: &mut Criterion) {
    let cfg = MigPartedConfig::parse(DEFAULT).unwrap();
    let configs = a100_configs(&cfg);
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test") {
        transitions_table(&configs);
    }
    let eight = node(8);
    let gpus = read_all(&eight).unwrap();
    let balanced = desired_state(&cfg, "all-balanced", &gpus).unwrap();
    let small = desired_state(&cfg, "all-1g.5gb", &gpus).unwrap();
    let mut g = c.benchmark_group("apply_simulator_8xA100");
    g.bench_function(
        "plan + apply all-1g.5gb <-> all-balanced (both directions)",
        |b| {
            b.iter(|| {
                black_box(apply(&eight, &balanced, &opts()).unwrap());
                black_box(apply(&eight, &small, &opts()).unwrap());
            })
        },
    );
    apply(&eight, &balanced, &opts()).unwrap();
    g.bench_function("apply, already there (read + plan, zero operations)", |b| {
        b.iter(|| black_box(apply(&eight, &balanced, &opts()).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
