#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]
//! The placement solver against the exact MILP, solved by HiGHS (C++, one thread) and by
//! microlp (pure Rust), and the churn tables with the long-run acceptance bound that no policy
//! can beat (an LP solved by HiGHS, see `fluid_bound`). Its own workspace, so that the
//! README's commands never build C++: `cd benches/baselines && cargo bench` (needs cmake and
//! libclang). The baselines written in Rust are shared with the root bench
//! (`benches/support/`).

#[path = "../../support/mod.rs"]
mod support;

use std::time::Instant;

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use gpupart::profiles::catalog::A100_40GB;
use gpupart::topology::Fleet;
use gpupart::topology::batch::{Request, SolveOptions, solve};
use support::*;

/// The exact MILP: binary x[g][p][s] per legal placement, memory slices and compute slices per
/// GPU, counts per request, y[g] for GPUs used; maximize placed - 0.001 * used.
/// `None` when the time limit passes with no solution; the flag says whether it is optimal.
fn milp(fleet: &Fleet, reqs: &[Request], limit: std::time::Duration) -> Option<(u64, usize, bool)> {
    use microlp::{ComparisonOp, OptimizationDirection, Problem};
    let mut pb = Problem::new(OptimizationDirection::Maximize);
    pb.set_time_limit(limit);
    let mut per_req: Vec<Vec<microlp::Variable>> = vec![Vec::new(); reqs.len()];
    let mut ys = Vec::new();
    for gpu in fleet.gpus() {
        let y = pb.add_binary_var(-0.001);
        ys.push(y);
        let mut slice_vars: Vec<Vec<(microlp::Variable, f64)>> = vec![Vec::new(); 8];
        let mut compute: Vec<(microlp::Variable, f64)> = Vec::new();
        let mut all = Vec::new();
        for (r, req) in reqs.iter().enumerate() {
            let p = gpu.profile(&req.profile).unwrap();
            for pl in p.placements {
                let x = pb.add_binary_var(1.0);
                per_req[r].push(x);
                for s in pl.start..pl.start + pl.size {
                    slice_vars[usize::from(s)].push((x, 1.0));
                }
                compute.push((x, f64::from(p.compute_slices)));
                all.push(x);
            }
        }
        for v in slice_vars.iter().filter(|v| !v.is_empty()) {
            pb.add_constraint(v.as_slice(), ComparisonOp::Le, 1.0);
        }
        pb.add_constraint(compute.as_slice(), ComparisonOp::Le, 7.0);
        for x in all {
            pb.add_constraint([(x, 1.0), (y, -1.0)], ComparisonOp::Le, 0.0);
        }
    }
    for (r, req) in reqs.iter().enumerate() {
        let v: Vec<(microlp::Variable, f64)> = per_req[r].iter().map(|x| (*x, 1.0)).collect();
        pb.add_constraint(v.as_slice(), ComparisonOp::Le, f64::from(req.count));
    }
    let outcome = pb.solve().expect("the MILP is well formed");
    let optimal = outcome.is_optimal();
    let sol = outcome.into_solution().ok()?;
    let placed: f64 = per_req.iter().flatten().map(|x| sol[*x]).sum();
    let used = ys.iter().filter(|y| sol[**y] > 0.5).count();
    Some((placed.round() as u64, used, optimal))
}

/// The exact MILP for any fleet, with HiGHS: what the solver's objective puts first, the
/// instances placed (weighted 1000 per priority level, so higher priorities come first), on
/// GPUs as they are: in-use instances stay (their slices, compute slices, instance counts and
/// media extensions are taken), free ones may go (they are not modelled: every placement not
/// under an in-use instance is open), each request only on the GPUs it may use. Binary
/// `x[g][r][placement]`; per GPU: each memory slice once, compute slices, each profile's
/// instance limit, one media-extension instance. `None` when the time limit passes with no
/// solution; the flag says whether it is proven optimal. Returns the instances placed.
fn milp_general(fleet: &Fleet, reqs: &[Request], limit_s: f64) -> Option<(u64, bool)> {
    milp_levels(fleet, reqs, limit_s).map(|(v, ok)| (v.iter().sum(), ok))
}

/// [`milp_general`] per priority level, highest first: the lexicographic optimum.
fn milp_levels(fleet: &Fleet, reqs: &[Request], limit_s: f64) -> Option<(Vec<u64>, bool)> {
    use highs::{HighsModelStatus, RowProblem, Sense};
    let mut levels: Vec<u8> = reqs.iter().map(|r| r.priority).collect();
    levels.sort_unstable();
    levels.dedup();
    let weight = |r: &Request| {
        let rank = levels.iter().position(|&l| l == r.priority).unwrap_or(0);
        1000f64.powi(i32::try_from(rank).unwrap_or(0))
    };
    let mut pb = RowProblem::default();
    let mut n_cols = 0usize;
    let mut per_req: Vec<Vec<(highs::Col, usize)>> = vec![Vec::new(); reqs.len()];
    for gpu in fleet.gpus() {
        let in_use: Vec<_> = gpu.instances().iter().filter(|x| x.in_use).collect();
        let mut taken = 0u32;
        let mut compute_used = 0u32;
        let mut media_used = false;
        for x in &in_use {
            taken |= ((1u32 << x.profile.memory_slices) - 1) << x.start;
            compute_used += u32::from(x.profile.compute_slices);
            media_used |= x.profile.name.attributes().has_media_extensions();
        }
        let mut slices: Vec<Vec<(highs::Col, f64)>> = vec![Vec::new(); 8];
        let mut compute = Vec::new();
        let mut media = Vec::new();
        let mut per_profile: Vec<Vec<(highs::Col, f64)>> =
            vec![Vec::new(); gpu.model.profiles.len()];
        for (r, req) in reqs.iter().enumerate() {
            let admitted = gpu.mig_enabled
                && req.model.is_none_or(|m| m == gpu.model.name)
                && req.gpus.as_ref().is_none_or(|s| s.contains(&gpu.index))
                && req.numa_node.is_none_or(|n| gpu.numa_node == Some(n));
            let Some(p) = gpu.profile(&req.profile).filter(|_| admitted) else {
                continue;
            };
            let slot = gpu.model.profiles.iter().position(|q| q == p).unwrap();
            for pl in p.placements {
                let mask = ((1u32 << pl.size) - 1) << pl.start;
                if mask & taken != 0 {
                    continue;
                }
                let x = pb.add_integer_column(weight(req), 0..=1);
                per_req[r].push((x, n_cols));
                n_cols += 1;
                for s in pl.start..pl.start + pl.size {
                    slices[usize::from(s)].push((x, 1.0));
                }
                compute.push((x, f64::from(p.compute_slices)));
                per_profile[slot].push((x, 1.0));
                if p.name.attributes().has_media_extensions() {
                    media.push((x, 1.0));
                }
            }
        }
        for v in slices.iter().filter(|v| !v.is_empty()) {
            pb.add_row(..=1.0, v);
        }
        if !compute.is_empty() {
            pb.add_row(
                ..=f64::from(u32::from(gpu.model.compute_slices) - compute_used),
                &compute,
            );
        }
        for (slot, v) in per_profile
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
        {
            let p = &gpu.model.profiles[slot];
            let used = in_use.iter().filter(|x| x.profile == p).count() as f64;
            pb.add_row(..=f64::from(p.max_instances) - used, v);
        }
        if !media.is_empty() {
            pb.add_row(..=if media_used { 0.0 } else { 1.0 }, &media);
        }
    }
    for (r, req) in reqs.iter().enumerate() {
        if per_req[r].is_empty() {
            continue;
        }
        let row: Vec<(highs::Col, f64)> = per_req[r].iter().map(|&(c, _)| (c, 1.0)).collect();
        pb.add_row(..=f64::from(req.count), &row);
    }
    let mut model = pb.optimise(Sense::Maximise);
    model.set_option("time_limit", limit_s);
    model.set_option("output_flag", false);
    model.set_option("threads", 1);
    let solved = model.solve();
    let optimal = solved.status() == HighsModelStatus::Optimal;
    let cols = solved.get_solution().columns().to_vec();
    if cols.len() != n_cols {
        return None;
    }
    let mut by_level = vec![0u64; levels.len()];
    for (r, req) in reqs.iter().enumerate() {
        let rank = levels.len() - 1 - levels.iter().position(|&l| l == req.priority).unwrap_or(0);
        let placed: f64 = per_req[r].iter().map(|&(_, i)| cols[i]).sum();
        by_level[rank] += placed.round() as u64;
    }
    Some((by_level, optimal))
}

/// Per level (highest priority first), what a plan places.
fn plan_levels(plan: &gpupart::topology::batch::Plan, reqs: &[Request]) -> Vec<u64> {
    let mut levels: Vec<u8> = reqs.iter().map(|r| r.priority).collect();
    levels.sort_unstable_by(|a, b| b.cmp(a));
    levels.dedup();
    let mut out = vec![0u64; levels.len()];
    let rank = |r: usize| {
        levels
            .iter()
            .position(|&l| l == reqs[r].priority)
            .unwrap_or(0)
    };
    for c in &plan.changes {
        for x in &c.create {
            out[rank(x.request)] += 1;
        }
        for x in &c.reuse {
            out[rank(x.request)] += 1;
        }
    }
    out
}

/// `GPUPART_BENCH_FAMILY_SEEDS=N`: every generated family at the sizes in
/// `GPUPART_BENCH_FAMILY_SIZES` (default 20,100) over seeds 1..=N against the lexicographic
/// optimum HiGHS proves (per priority level; 60 s limit, `GPUPART_BENCH_FAMILY_LIMIT`):
/// how often the plan is optimal, how often gpupart proves it so itself (`Plan::proven`: the
/// exact search's word, or the bound met at every level and in GPUs used), the worst
/// shortfall, the bound against the optimum and the time of each.
fn family_sweep(seeds: u64) {
    let sizes: Vec<u32> = std::env::var("GPUPART_BENCH_FAMILY_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![20, 100]);
    let limit: f64 = std::env::var("GPUPART_BENCH_FAMILY_LIMIT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60.0);
    let only: Option<String> = std::env::var("GPUPART_BENCH_FAMILY").ok();
    println!(
        "\n== batch: generated families, seeds 1..={seeds}, against the lexicographic optimum (HiGHS, one thread, {limit} s) =="
    );
    println!(
        "{:<12} {:>5} {:>9} {:>10} {:>10} {:>12} {:>11} {:>12} {:>12} {:>12} {:>9}",
        "family",
        "GPUs",
        "proven",
        "optimal",
        "ours prvn",
        "worst short",
        "bound ok",
        "gpupart p50",
        "gpupart max",
        "HiGHS p50",
        "min ratio"
    );
    for name in FAMILIES.iter().copied().chain(["random"]) {
        if only.as_ref().is_some_and(|o| o != name) || (name == "random" && only.is_none()) {
            continue;
        }
        for &gpus in &sizes {
            let (mut proven, mut optimal, mut bound_ok) = (0, 0, 0);
            // Plans gpupart itself proves optimal (`Plan::proven`), of all seeds.
            let mut ours_proven = 0;
            let mut worst = 0.0f64;
            let mut ours = Vec::new();
            let mut theirs = Vec::new();
            let mut ratio = f64::MAX;
            for seed in 1..=seeds {
                let (fleet, reqs) = family(name, gpus, seed);
                let t = Instant::now();
                let plan = solve(&fleet, &reqs, &SolveOptions::default());
                let o = t.elapsed().as_secs_f64();
                ours_proven += u32::from(plan.proven());
                let t = Instant::now();
                let opt = milp_levels(&fleet, &reqs, limit);
                let h = t.elapsed().as_secs_f64();
                ours.push(o);
                let Some((opt, true)) = opt else { continue };
                theirs.push(h);
                proven += 1;
                let got = plan_levels(&plan, &reqs);
                if got >= opt {
                    optimal += 1;
                    ratio = ratio.min(h / o);
                } else {
                    let total: u64 = opt.iter().sum();
                    let short = opt.iter().sum::<u64>().saturating_sub(got.iter().sum());
                    // Lexicographic: the first level that falls short, as a share of the total.
                    let first = got
                        .iter()
                        .zip(&opt)
                        .find(|(g, o)| g != o)
                        .map_or(0, |(g, o)| o.saturating_sub(*g));
                    let s = 100.0 * (short.max(first)) as f64 / total.max(1) as f64;
                    if s > worst {
                        worst = s;
                    }
                    println!("  {name} {gpus} seed {seed}: placed {got:?}, optimum {opt:?}");
                }
                // Every level's bound, and the bound on the optimum's counts, at or above the
                // optimum's count of that level or higher.
                let holds = |levels: &[(u8, u64)]| {
                    levels
                        .iter()
                        .zip(opt.iter().scan(0, |a, &x| {
                            *a += x;
                            Some(*a)
                        }))
                        .all(|((_, b), o)| *b >= o)
                };
                if plan.bound.max_placed >= opt.iter().sum::<u64>()
                    && holds(&plan.bound.max_placed_by_priority)
                    && holds(&plan.bound.optimum_by_priority)
                {
                    bound_ok += 1;
                } else {
                    println!(
                        "  {name} {gpus} seed {seed}: BOUND BELOW OPTIMUM {:?} vs {opt:?}",
                        plan.bound
                    );
                }
            }
            let med = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
            };
            let max = ours.iter().copied().fold(0.0, f64::max);
            let ratio = if ratio == f64::MAX {
                "-".to_owned()
            } else {
                times(ratio)
            };
            println!(
                "{:<12} {:>5} {:>9} {:>10} {:>10} {:>11.2}% {:>11} {:>10.3}ms {:>10.3}ms {:>10.1}ms {:>9}",
                name,
                gpus,
                proven,
                format!("{optimal}/{proven}"),
                format!("{ours_proven}/{seeds}"),
                worst,
                format!("{bound_ok}/{proven}"),
                1e3 * med(&mut ours),
                1e3 * max,
                1e3 * med(&mut theirs),
                ratio
            );
        }
    }
}

/// The same MILP with HiGHS (C++, through the `highs` crate), one thread. `None` when the
/// time limit passes with no solution; the flag says whether it is proven optimal.
fn milp_highs(fleet: &Fleet, reqs: &[Request], limit_s: f64) -> Option<(u64, usize, bool)> {
    use highs::{HighsModelStatus, RowProblem, Sense};
    let mut pb = RowProblem::default();
    let mut n_cols = 0usize;
    // Per request: (column, its index in the solution).
    let mut per_req: Vec<Vec<(highs::Col, usize)>> = vec![Vec::new(); reqs.len()];
    let mut ys = Vec::new();
    for gpu in fleet.gpus() {
        let y = pb.add_integer_column(-0.001, 0..=1);
        ys.push(n_cols);
        n_cols += 1;
        let mut slices: Vec<Vec<(highs::Col, f64)>> = vec![Vec::new(); 8];
        let mut compute = Vec::new();
        let mut xs = Vec::new();
        for (r, req) in reqs.iter().enumerate() {
            let p = gpu.profile(&req.profile).unwrap();
            for pl in p.placements {
                let x = pb.add_integer_column(1.0, 0..=1);
                per_req[r].push((x, n_cols));
                n_cols += 1;
                for s in pl.start..pl.start + pl.size {
                    slices[usize::from(s)].push((x, 1.0));
                }
                compute.push((x, f64::from(p.compute_slices)));
                xs.push(x);
            }
        }
        for v in slices.iter().filter(|v| !v.is_empty()) {
            pb.add_row(..=1.0, v);
        }
        pb.add_row(..=7.0, &compute);
        for x in xs {
            pb.add_row(..=0.0, [(x, 1.0), (y, -1.0)]);
        }
    }
    for (r, req) in reqs.iter().enumerate() {
        let row: Vec<(highs::Col, f64)> = per_req[r].iter().map(|&(c, _)| (c, 1.0)).collect();
        pb.add_row(..=f64::from(req.count), &row);
    }
    let mut model = pb.optimise(Sense::Maximise);
    model.set_option("time_limit", limit_s);
    model.set_option("output_flag", false);
    model.set_option("threads", 1);
    let solved = model.solve();
    let optimal = solved.status() == HighsModelStatus::Optimal;
    let cols = solved.get_solution().columns().to_vec();
    if cols.len() != n_cols {
        return None;
    }
    let placed: f64 = per_req.iter().flatten().map(|&(_, i)| cols[i]).sum();
    let used = ys.iter().filter(|&&i| cols[i] > 0.5).count();
    Some((placed.round() as u64, used, optimal))
}

/// The long-run acceptance that no placement policy can beat unless it knows lifetimes in
/// advance. Lifetimes are exponential with mean 1 whatever the profile, so by Little's law
/// the mean number of live instances of profile p is its accepted rate a_p. At every instant
/// the live instances fit on the GPUs, so the live counts are a sum of `gpus` one-GPU
/// configurations, and so is their time average: it lies in `gpus` times the convex hull of
/// the configurations. The LP: maximise sum a_p with 0 <= a_p <= offered rate of p and
/// a_p <= sum_c lambda_c * count_p(c), lambda_c >= 0, sum lambda_c <= gpus.
fn fluid_bound(mix: &[(&str, f64)], gpus: u32, load: f64) -> f64 {
    use highs::{RowProblem, Sense};
    let profiles = mix_profiles(mix);
    let configs = configurations(&profiles);
    let rate = arrival_rate(mix, gpus, load);
    let mut pb = RowProblem::default();
    let a: Vec<highs::Col> = mix
        .iter()
        .map(|(_, w)| pb.add_column(1.0, 0.0..=w * rate))
        .collect();
    let lambda: Vec<highs::Col> = configs.iter().map(|_| pb.add_column(0.0, 0.0..)).collect();
    let all: Vec<(highs::Col, f64)> = lambda.iter().map(|&c| (c, 1.0)).collect();
    pb.add_row(..=f64::from(gpus), &all);
    for (k, &ak) in a.iter().enumerate() {
        let mut row = vec![(ak, 1.0)];
        for (c, &l) in configs.iter().zip(&lambda) {
            if c[k] > 0 {
                row.push((l, -f64::from(c[k])));
            }
        }
        pb.add_row(..=0.0, &row);
    }
    let mut model = pb.optimise(Sense::Maximise);
    model.set_option("output_flag", false);
    // One thread, as for the MILP: HiGHS's thread pool is per process, and asking for another
    // size once it runs is an error.
    model.set_option("threads", 1);
    let solved = model.solve();
    assert_eq!(solved.status(), highs::HighsModelStatus::Optimal);
    solved.objective_value() / rate
}

fn quality_table() {
    let bound: BoundFn<'_> = &fluid_bound;
    churn_scenario("mixed profiles", &MIX, 1.3, true, Some(bound));
    churn_scenario("mixed profiles", &MIX, 1.0, false, Some(bound));
    churn_scenario("more 4g and 7g", &LARGE_MIX, 1.3, true, Some(bound));
    churn_scenario(
        "Alibaba GPU v2023 shape",
        &ALIBABA_MIX,
        1.0,
        true,
        Some(bound),
    );
    churn_scenario(
        "Alibaba GPU v2023 shape",
        &ALIBABA_MIX,
        1.2,
        false,
        Some(bound),
    );
    churn_scenario("1g + 2g + 4g", &HALF_MIX, 0.9, true, Some(bound));
    churn_scenario("1g + 2g + 4g", &HALF_MIX, 1.0, false, Some(bound));
    if std::env::var("GPUPART_BENCH_SWEEP").is_ok_and(|v| v == "1") {
        sweep(&[0.9, 1.0, 1.2, 1.5], Some(bound));
    }
    println!(
        "\n== batch: generated families against the exact MILP (HiGHS, one thread, 60 s limit) =="
    );
    println!(
        "{:<12} {:>5} {:>8} {:>8} {:>7} {:>10} {:>10} {:>9}",
        "family", "GPUs", "gpupart", "optimum", "bound", "gpupart", "HiGHS", "speed-up"
    );
    for name in FAMILIES {
        for gpus in [20u32, 100] {
            let (fleet, reqs) = family(name, gpus, 1);
            let t = Instant::now();
            let plan = solve(&fleet, &reqs, &SolveOptions::default());
            let ours = t.elapsed();
            let t = Instant::now();
            let opt = milp_general(&fleet, &reqs, 60.0);
            let theirs = t.elapsed();
            let optimum = match opt {
                Some((p, true)) => p.to_string(),
                Some((p, false)) => format!("{p}?"),
                None => "-".to_owned(),
            };
            println!(
                "{:<12} {:>5} {:>8} {:>8} {:>7} {:>10.2?} {:>10.2?} {:>9}",
                name,
                gpus,
                plan.objective.placed,
                optimum,
                plan.bound.max_placed,
                ours,
                theirs,
                times(theirs.as_secs_f64() / ours.as_secs_f64())
            );
            if let Some((p, true)) = opt {
                assert!(
                    plan.bound.max_placed >= p || reqs.iter().any(|r| r.priority > 0),
                    "{name} {gpus}: the bound {} is below the optimum {p}",
                    plan.bound.max_placed
                );
            }
        }
    }
    println!("\n== batch: the exact MILP ==");
    for gpus in [MILP_GPUS, 6, 10, 100, 1000] {
        let fleet = Fleet::uniform(&A100_40GB, gpus);
        let reqs = request_mix(gpus * 3);
        let t = Instant::now();
        // microlp gets nowhere past 100 GPUs; spare the minute.
        let m = if gpus <= 100 {
            milp(&fleet, &reqs, std::time::Duration::from_secs(20))
        } else {
            None
        };
        let milp_time = t.elapsed();
        let t = Instant::now();
        let plan = solve(&fleet, &reqs, &SolveOptions::default());
        let ours_time = t.elapsed();
        let t = Instant::now();
        let h = milp_highs(&fleet, &reqs, 60.0);
        let highs_time = t.elapsed();
        println!(
            "{gpus} GPUs: MILP (HiGHS) {} in {highs_time:.2?}",
            milp_outcome(h, 60)
        );
        let ours = format!(
            "gpupart placed {} on {} GPUs (exact: {}) in {ours_time:.2?}",
            plan.objective.placed, plan.objective.gpus_used, plan.exact
        );
        if gpus <= 100 {
            println!(
                "{gpus} GPUs: MILP (microlp) {} in {milp_time:.2?}; {ours} ({} faster than microlp, {} than HiGHS)",
                milp_outcome(m, 20),
                times(milp_time.as_secs_f64() / ours_time.as_secs_f64()),
                times(highs_time.as_secs_f64() / ours_time.as_secs_f64())
            );
        } else {
            // microlp gets nowhere past 100 GPUs: it is not run, and no ratio is made up.
            println!(
                "{gpus} GPUs: MILP (microlp) not run past 100 GPUs; {ours} ({} faster than HiGHS)",
                times(highs_time.as_secs_f64() / ours_time.as_secs_f64())
            );
        }
    }
    println!();
}

/// A MILP result in words; `limit_s` is its time limit.
fn milp_outcome(result: Option<(u64, usize, bool)>, limit_s: u32) -> String {
    match result {
        Some((p, u, true)) => format!("optimal: placed {p} on {u} GPUs"),
        Some((p, u, false)) => format!("stopped at the limit: placed {p} on {u} GPUs, unproven"),
        None => format!("no solution within the {limit_s} s limit"),
    }
}

/// The MILP's fleet size (see the closing note for how far microlp gets).
const MILP_GPUS: u32 = 3;

fn bench(c: &mut Criterion) {
    // The quality tables take minutes (the MILPs run to their time limits): only in a real
    // bench run, not in `cargo bench -- --test`; GPUPART_BENCH_TABLES=0 skips them there too.
    let args: Vec<String> = std::env::args().collect();
    let tables = std::env::var("GPUPART_BENCH_TABLES").map_or(true, |v| v != "0");
    if let Some(seeds) = std::env::var("GPUPART_BENCH_FAMILY_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        family_sweep(seeds);
        return;
    }
    if tables && args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test") {
        quality_table();
    }
    let mut g = c.benchmark_group("milp");
    let fm = Fleet::uniform(&A100_40GB, MILP_GPUS);
    let rm = request_mix(MILP_GPUS * 3);
    g.bench_function(
        format!("gpupart, {MILP_GPUS} A100 x {} requests", MILP_GPUS * 3),
        |b| b.iter(|| black_box(solve(&fm, &rm, &SolveOptions::default()))),
    );
    let f100 = Fleet::uniform(&A100_40GB, 100);
    let r100 = request_mix(300);
    g.bench_function("gpupart, 100 A100 x 300 requests", |b| {
        b.iter(|| black_box(solve(&f100, &r100, &SolveOptions::default())))
    });
    g.sample_size(10);
    g.bench_function("(d) MILP (HiGHS), 100 A100 x 300 requests", |b| {
        b.iter(|| black_box(milp_highs(&f100, &r100, 60.0)))
    });
    g.bench_function(
        format!(
            "(d) MILP (microlp), {MILP_GPUS} A100 x {} requests",
            MILP_GPUS * 3
        ),
        |b| b.iter(|| black_box(milp(&fm, &rm, std::time::Duration::from_secs(60)))),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

/// A speed ratio as printed: whole numbers from 10, one decimal from 1, two below (a ratio
/// under one, where gpupart is the slower, must not print as "0x").
fn times(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.0}x")
    } else if ratio >= 1.0 {
        format!("{ratio:.1}x")
    } else {
        format!("{ratio:.2}x")
    }
}
