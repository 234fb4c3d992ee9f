#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]
//! The placement solver against baselines written here, all pure Rust:
//! (a) first fit: GPUs in order, the lowest free legal start (NVML's default placement, what
//!     mig-parted gets); (b) HAMi's rule: GPUs in order, 1g and 3g from the highest free
//!     slice, others from the lowest; (b') the same rule with HAMi's chart defaults for the
//!     GPU choice (`nodeSchedulerPolicy: binpack`, `gpuSchedulerPolicy: spread`, nodes of 8
//!     GPUs); (c) brute force on a small fleet.
//! Before the timings it prints the quality tables of seeded churn traces on 1,000 A100s.
//! The MILP baselines (HiGHS, microlp) and the long-run acceptance bound need an LP solver
//! built from C++: they live in their own workspace, `benches/baselines/`.

mod support;

use std::time::Instant;

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use gpupart::profiles::ProfileName;
use gpupart::profiles::catalog::A100_40GB;
use gpupart::topology::batch::{Request, SolveOptions, solve};
use gpupart::topology::{Fleet, Online};
use support::*;

fn quality_table() {
    churn_scenario("mixed profiles", &MIX, 1.3, true, None);
    churn_scenario("mixed profiles", &MIX, 1.0, false, None);
    churn_scenario("more 4g and 7g", &LARGE_MIX, 1.3, true, None);
    churn_scenario("Alibaba GPU v2023 shape", &ALIBABA_MIX, 1.0, true, None);
    churn_scenario("Alibaba GPU v2023 shape", &ALIBABA_MIX, 1.2, false, None);
    churn_scenario("1g + 2g + 4g", &HALF_MIX, 0.9, true, None);
    churn_scenario("1g + 2g + 4g", &HALF_MIX, 1.0, false, None);
    if std::env::var("GPUPART_BENCH_SWEEP").is_ok_and(|v| v == "1") {
        sweep(&[0.9, 1.0, 1.2, 1.5], None);
    }
    println!(
        "\n== batch: generated families; placed against the certified bound (the optimum lies between) =="
    );
    println!(
        "{:<12} {:>6} {:>9} {:>9} {:>8} {:>6} {:>10}",
        "family", "GPUs", "placed", "bound", "gap", "GPUs+", "time"
    );
    for name in FAMILIES {
        for gpus in [20u32, 100, 1000, 10_000] {
            let (fleet, reqs) = family(name, gpus, 1);
            let t = Instant::now();
            let plan = solve(&fleet, &reqs, &SolveOptions::default());
            let time = t.elapsed();
            let (gp, gg) = plan.gap();
            println!(
                "{:<12} {:>6} {:>9} {:>9} {:>7.3}% {:>6} {:>10.2?}",
                name,
                gpus,
                plan.objective.placed,
                plan.bound.max_placed,
                100.0 * gp as f64 / plan.bound.max_placed.max(1) as f64,
                gg,
                time
            );
        }
    }
    println!("\n== batch: GPUs used and placed ==");
    for gpus in [100u32, 1000] {
        let fleet = Fleet::uniform(&A100_40GB, gpus);
        let reqs = request_mix(gpus * 3);
        let plan = solve(&fleet, &reqs, &SolveOptions::default());
        let ff = batch_rule(&fleet, &reqs, Rule::FirstFit);
        let hami = batch_rule(&fleet, &reqs, Rule::Hami);
        println!(
            "{gpus} GPUs, {} instances asked: gpupart placed {} on {} GPUs (bound: <= {} placed, >= {} GPUs); first fit {} on {}; HAMi {} on {}",
            reqs.iter().map(|r| r.count).sum::<u32>(),
            plan.objective.placed,
            plan.objective.gpus_used,
            plan.bound.max_placed,
            plan.bound.min_gpus_used,
            ff.0,
            ff.1,
            hami.0,
            hami.1
        );
    }
    println!();
}

fn bench(c: &mut Criterion) {
    // The quality tables take a while: only in a real bench run, not in `cargo bench -- --test`.
    let args: Vec<String> = std::env::args().collect();
    // GPUPART_BENCH_TABLES=0 skips them in a real run too.
    let tables = std::env::var("GPUPART_BENCH_TABLES").map_or(true, |v| v != "0");
    if tables && args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test") {
        quality_table();
    }
    let mut g = c.benchmark_group("batch");
    for gpus in [1_000u32, 10_000] {
        let fleet = Fleet::uniform(&A100_40GB, gpus);
        let reqs = request_mix(gpus);
        g.bench_with_input(
            BenchmarkId::new("gpupart", format!("{gpus} A100 x {gpus} requests")),
            &(),
            |b, ()| b.iter(|| black_box(solve(&fleet, &reqs, &SolveOptions::default()))),
        );
        let mixed = mixed_fleet(gpus);
        let reqs_mixed: Vec<Request> = [
            "1g.10gb", "2g.20gb", "3g.40gb", "1g.5gb", "2g.10gb", "3g.20gb",
        ]
        .iter()
        .map(|n| Request::parse(n, gpus / 6).unwrap())
        .collect();
        g.bench_with_input(
            BenchmarkId::new(
                "gpupart",
                format!("{gpus} mixed A100+H100, partly in use x {gpus} requests"),
            ),
            &(),
            |b, ()| b.iter(|| black_box(solve(&mixed, &reqs_mixed, &SolveOptions::default()))),
        );
    }
    // A scheduler's form: one single-count entry per pending pod.
    for (gpus, entries) in [(10_000u32, 10_000u32), (10_000, 100_000)] {
        let fleet = Fleet::uniform(&A100_40GB, gpus);
        let singles: Vec<Request> = request_mix(entries)
            .into_iter()
            .flat_map(|r| {
                let mut one = r.clone();
                one.count = 1;
                std::iter::repeat_n(one, r.count as usize)
            })
            .collect();
        g.bench_with_input(
            BenchmarkId::new(
                "gpupart",
                format!("{gpus} A100 x {} single-count entries", singles.len()),
            ),
            &(),
            |b, ()| b.iter(|| black_box(solve(&fleet, &singles, &SolveOptions::default()))),
        );
    }
    let fleet = Fleet::uniform(&A100_40GB, 1000);
    let reqs = request_mix(1000);
    g.bench_function("(a) first fit, 1000 A100 x 1000 requests", |b| {
        b.iter(|| black_box(batch_rule(&fleet, &reqs, Rule::FirstFit)))
    });
    g.bench_function("(b) HAMi rule, 1000 A100 x 1000 requests", |b| {
        b.iter(|| black_box(batch_rule(&fleet, &reqs, Rule::Hami)))
    });
    let small = Fleet::uniform(&A100_40GB, 3);
    let small_reqs = vec![
        Request::parse("3g.20gb", 2).unwrap(),
        Request::parse("2g.10gb", 2).unwrap(),
        Request::parse("1g.5gb", 2).unwrap(),
    ];
    assert_eq!(
        brute_force(&small, &small_reqs).0,
        solve(&small, &small_reqs, &SolveOptions::default())
            .objective
            .placed
    );
    g.bench_function("gpupart exact, 3 A100 x 6 requests", |b| {
        b.iter(|| black_box(solve(&small, &small_reqs, &SolveOptions::default())))
    });
    g.bench_function("(c) brute force, 3 A100 x 6 requests", |b| {
        b.iter(|| black_box(brute_force(&small, &small_reqs)))
    });
    g.finish();

    let mut g = c.benchmark_group("online");
    // 10,000 GPUs driven to ~70 % by the mix, then place+release pairs.
    let mut online = Online::new(Fleet::uniform(&A100_40GB, 10_000));
    let names: Vec<ProfileName> = MIX.iter().map(|(n, _)| n.parse().unwrap()).collect();
    let mut rng = Rng(3);
    let mut live = Vec::new();
    for _ in 0..20_000 {
        if let Ok(p) = online.place(&names[(rng.next() % 6) as usize], None) {
            live.push(p);
        }
    }
    g.bench_function("place + release, 10000 A100 at ~70%", |b| {
        let mut k = 0usize;
        b.iter(|| {
            k += 1;
            let p = online.place(&names[k % 6], None);
            if let Ok(p) = p {
                online.release(p.gpu, p.instance.start).unwrap();
            }
        })
    });
    // The same with the workload's admission (caps and the plan's steering): the mix offered
    // at 1.3 times the fleet's memory.
    let mut admitted = Online::new(Fleet::uniform(&A100_40GB, 10_000));
    admitted.admit(&trace_loads(&MIX, 10_000, 1.3)).unwrap();
    for _ in 0..20_000 {
        let _ = admitted.place(&names[(rng.next() % 6) as usize], None);
    }
    g.bench_function("place + release, 10000 A100 at ~70%, admitted", |b| {
        let mut k = 0usize;
        b.iter(|| {
            k += 1;
            let p = admitted.place(&names[k % 6], None);
            if let Ok(p) = p {
                admitted.release(p.gpu, p.instance.start).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
