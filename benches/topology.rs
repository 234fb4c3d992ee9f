#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]
//! The placement solver against baselines written here:
//! (a) first fit: GPUs in order, the lowest free legal start (NVML's default placement, what
//!     mig-parted gets); (b) HAMi's rule: GPUs in order, 1g and 3g from the highest free
//!     slice, others from the lowest; (b') the same rule with HAMi's chart defaults for the
//!     GPU choice (`nodeSchedulerPolicy: binpack`, `gpuSchedulerPolicy: spread`, nodes of 8
//!     GPUs); (c) brute force on a small fleet; (d) the exact MILP, solved by HiGHS (C++, one
//!     thread) and by microlp (pure Rust), up to 1,000 GPUs.
//! Before the timings it prints the quality tables of seeded churn traces on 1,000 A100s,
//! each with the long-run acceptance bound that no policy can beat (see `fluid_bound`).

use std::collections::HashMap;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use gpupart::profiles::catalog::{A100_40GB, H100_SXM_80GB};
use gpupart::profiles::{GpuInstanceProfile, ProfileName};
use gpupart::topology::batch::{Request, SolveOptions, solve};
use gpupart::topology::{Fleet, Gpu, Occupancy, Online, solve_gpu};

// ---- baselines -----------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    FirstFit,
    /// HAMi's start rule, GPUs in order.
    Hami,
    /// HAMi's start rule with its chart's default GPU choice: the most used node of 8 GPUs
    /// first (binpack), in it the least used GPU first (spread).
    HamiDefaults,
}

/// HAMi's usage score of a GPU (or, summed, of a node): the share of compute plus the share
/// of memory taken.
fn usage(g: &Gpu) -> f64 {
    let o = g.occupancy();
    f64::from(o.compute_used()) / f64::from(g.model.compute_slices)
        + f64::from(o.memory_mask().count_ones()) / f64::from(g.model.memory_slices)
}

/// The order in which a rule tries the GPUs.
fn gpu_order(fleet: &Fleet, rule: Rule) -> Vec<usize> {
    let n = fleet.gpus().len();
    if rule != Rule::HamiDefaults {
        return (0..n).collect();
    }
    const NODE: usize = 8;
    let used: Vec<f64> = fleet.gpus().iter().map(usage).collect();
    let mut nodes: Vec<(f64, usize)> = used
        .chunks(NODE)
        .enumerate()
        .map(|(k, node)| (-node.iter().sum::<f64>(), k))
        .collect();
    nodes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut order = Vec::with_capacity(n);
    for (_, k) in nodes {
        let mut gpus: Vec<(f64, usize)> = (k * NODE..(k * NODE + NODE).min(n))
            .map(|g| (used[g], g))
            .collect();
        gpus.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        order.extend(gpus.into_iter().map(|(_, g)| g));
    }
    order
}

fn place_rule(fleet: &mut Fleet, name: &ProfileName, rule: Rule) -> Option<(usize, u8)> {
    for g in gpu_order(fleet, rule) {
        let gpu = fleet.gpu_mut(g).unwrap();
        let Some(p) = gpu.profile(name) else { continue };
        let high_first = rule != Rule::FirstFit && matches!(p.compute_slices, 1 | 3);
        let starts: Vec<u8> = if high_first {
            p.placements.iter().rev().map(|pl| pl.start).collect()
        } else {
            p.placements.iter().map(|pl| pl.start).collect()
        };
        for s in starts {
            if gpu.add_instance(p, s, true).is_ok() {
                return Some((g, s));
            }
        }
    }
    None
}

fn batch_rule(fleet: &Fleet, reqs: &[Request], rule: Rule) -> (u64, usize) {
    let mut f = fleet.clone();
    let mut placed = 0;
    for r in reqs {
        for _ in 0..r.count {
            if place_rule(&mut f, &r.profile, rule).is_some() {
                placed += 1;
            }
        }
    }
    let used = f
        .gpus()
        .iter()
        .filter(|g| !g.instances().is_empty())
        .count();
    (placed, used)
}

/// Brute force: every assignment of instances to GPUs, each GPU checked by the exact one-GPU
/// solver; the most placed, then the fewest GPUs.
fn brute_force(fleet: &Fleet, reqs: &[Request]) -> (u64, usize) {
    let items: Vec<&'static GpuInstanceProfile> = reqs
        .iter()
        .flat_map(|r| {
            std::iter::repeat_n(
                fleet.gpus()[0].profile(&r.profile).unwrap(),
                r.count as usize,
            )
        })
        .collect();
    let n = fleet.gpus().len();
    let mut assign = vec![0usize; items.len()];
    let mut best = (0u64, 0usize);
    loop {
        let mut ok = true;
        let mut placed = 0;
        let mut used = 0;
        for g in 0..n {
            let list: Vec<_> = items
                .iter()
                .zip(&assign)
                .filter(|(_, a)| **a == g)
                .map(|(p, _)| *p)
                .collect();
            if !list.is_empty() {
                used += 1;
                placed += list.len() as u64;
                ok &= solve_gpu(fleet.gpus()[g].occupancy(), &list).is_some();
            }
        }
        if ok && (placed > best.0 || (placed == best.0 && used < best.1)) {
            best = (placed, used);
        }
        let mut k = 0;
        loop {
            if k == assign.len() {
                return best;
            }
            assign[k] += 1;
            if assign[k] <= n {
                break;
            }
            assign[k] = 0;
            k += 1;
        }
    }
}

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

// ---- the churn trace -----------------------------------------------------------------------------

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const MIX: [(&str, f64); 6] = [
    ("1g.5gb", 0.30),
    ("1g.10gb", 0.10),
    ("2g.10gb", 0.20),
    ("3g.20gb", 0.20),
    ("4g.20gb", 0.10),
    ("7g.40gb", 0.10),
];

#[derive(Clone, Copy)]
enum Event {
    Arrive { id: usize, kind: usize },
    Depart { id: usize },
}

/// The A100 profiles of a mix, in its order.
fn mix_profiles(mix: &[(&str, f64)]) -> Vec<&'static GpuInstanceProfile> {
    mix.iter()
        .map(|(n, _)| A100_40GB.profile_by_str(n).unwrap())
        .collect()
}

/// Arrivals per mean lifetime that offer `load` times the fleet's memory slices.
fn arrival_rate(mix: &[(&str, f64)], gpus: u32, load: f64) -> f64 {
    let mean_slices: f64 = mix_profiles(mix)
        .iter()
        .zip(mix)
        .map(|(p, (_, w))| w * f64::from(p.memory_slices))
        .sum();
    load * f64::from(gpus) * 8.0 / mean_slices
}

/// Poisson arrivals of the mix with exponential lifetimes (mean 1, whatever the profile);
/// offered load `load` times the fleet's memory slices.
fn churn_trace(
    mix: &[(&str, f64)],
    seed: u64,
    gpus: u32,
    arrivals: usize,
    load: f64,
) -> Vec<Event> {
    let mut rng = Rng(seed);
    let rate = arrival_rate(mix, gpus, load);
    let mut t = 0.0;
    let mut timed: Vec<(f64, Event)> = Vec::new();
    for id in 0..arrivals {
        t += -(1.0 - rng.unit()).ln() / rate;
        let u = rng.unit();
        let mut acc = 0.0;
        let mut kind = mix.len() - 1;
        for (k, (_, w)) in mix.iter().enumerate() {
            acc += w;
            if u < acc {
                kind = k;
                break;
            }
        }
        let life = -(1.0 - rng.unit()).ln();
        timed.push((t, Event::Arrive { id, kind }));
        timed.push((t + life, Event::Depart { id }));
    }
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    timed.into_iter().map(|(_, e)| e).collect()
}

#[derive(Clone, Copy)]
enum Policy {
    Ours,
    Rule(Rule),
}

/// The policies of the churn tables, in their column order.
const POLICIES: [(&str, Policy); 4] = [
    ("gpupart online", Policy::Ours),
    ("(a) first fit", Policy::Rule(Rule::FirstFit)),
    ("(b) HAMi rule", Policy::Rule(Rule::Hami)),
    ("(b') HAMi dflt", Policy::Rule(Rule::HamiDefaults)),
];

struct Quality {
    accepted: u64,
    arrivals: u64,
    /// Accepted and arrived after the warm-up (the first fifth of the arrivals): the fleet at
    /// saturation.
    saturated: (u64, u64),
    /// Memory slices asked for and accepted after the warm-up: (accepted, asked).
    saturated_slices: (u64, u64),
    stranded: f64,
    /// Per profile of the mix: (accepted, arrived).
    per_kind: Vec<(u64, u64)>,
}

impl Quality {
    fn at_saturation(&self) -> f64 {
        self.saturated.0 as f64 / self.saturated.1.max(1) as f64
    }
    fn slices_at_saturation(&self) -> f64 {
        self.saturated_slices.0 as f64 / self.saturated_slices.1.max(1) as f64
    }
}

/// The maximal multisets of `profiles` that one empty A100 can hold (counts per profile),
/// each checked by the exact one-GPU solver.
fn configurations(profiles: &[&'static GpuInstanceProfile]) -> Vec<Vec<u8>> {
    fn fits(profiles: &[&'static GpuInstanceProfile], counts: &[u8]) -> bool {
        let list: Vec<&'static GpuInstanceProfile> = profiles
            .iter()
            .zip(counts)
            .flat_map(|(p, &n)| std::iter::repeat_n(*p, usize::from(n)))
            .collect();
        solve_gpu(&Occupancy::new(&A100_40GB), &list).is_some()
    }
    fn walk(
        profiles: &[&'static GpuInstanceProfile],
        counts: &mut Vec<u8>,
        k: usize,
        out: &mut Vec<Vec<u8>>,
    ) {
        if k == profiles.len() {
            let maximal = (0..profiles.len()).all(|j| {
                counts[j] += 1;
                let more = fits(profiles, counts);
                counts[j] -= 1;
                !more
            });
            if maximal {
                out.push(counts.clone());
            }
            return;
        }
        loop {
            walk(profiles, counts, k + 1, out);
            counts[k] += 1;
            if !fits(profiles, counts) {
                counts[k] = 0;
                return;
            }
        }
    }
    let mut out = Vec::new();
    walk(profiles, &mut vec![0; profiles.len()], 0, &mut out);
    out
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

fn run_trace(mix: &[(&str, f64)], trace: &[Event], gpus: u32, policy: Policy) -> Quality {
    let names: Vec<ProfileName> = mix.iter().map(|(n, _)| n.parse().unwrap()).collect();
    let profiles = mix_profiles(mix);
    let mut online = Online::new(Fleet::uniform(&A100_40GB, gpus));
    // The scheduler knows which profiles its workload asks for.
    online.expect(&names);
    let mut fleet = Fleet::uniform(&A100_40GB, gpus);
    let mut held: HashMap<usize, (usize, u8)> = HashMap::new();
    let (mut accepted, mut arrivals) = (0u64, 0u64);
    let mut saturated = (0u64, 0u64);
    let mut saturated_slices = (0u64, 0u64);
    let mut per_kind = vec![(0u64, 0u64); mix.len()];
    let mut recent_rejects: Vec<(u64, usize)> = Vec::new();
    let (mut stranded_sum, mut samples) = (0.0, 0u64);
    let total_arrivals = trace
        .iter()
        .filter(|e| matches!(e, Event::Arrive { .. }))
        .count() as u64;
    for e in trace {
        match *e {
            Event::Arrive { id, kind } => {
                arrivals += 1;
                per_kind[kind].1 += 1;
                let got = match policy {
                    Policy::Ours => online
                        .place(&names[kind], None)
                        .ok()
                        .map(|p| (p.gpu, p.instance.start)),
                    Policy::Rule(r) => place_rule(&mut fleet, &names[kind], r),
                };
                if arrivals > total_arrivals / 5 {
                    saturated.1 += 1;
                    saturated.0 += u64::from(got.is_some());
                    let slices = u64::from(profiles[kind].memory_slices);
                    saturated_slices.1 += slices;
                    saturated_slices.0 += if got.is_some() { slices } else { 0 };
                }
                match got {
                    Some(at) => {
                        accepted += 1;
                        per_kind[kind].0 += 1;
                        held.insert(id, at);
                    }
                    None => recent_rejects.push((arrivals, kind)),
                }
                // Sample stranded capacity after warm-up, every 500 arrivals.
                if arrivals > total_arrivals / 5 && arrivals % 500 == 0 {
                    recent_rejects.retain(|&(a, _)| a + 1000 > arrivals);
                    let mut pending: Vec<usize> = recent_rejects.iter().map(|&(_, k)| k).collect();
                    pending.sort_unstable();
                    pending.dedup();
                    let f = match policy {
                        Policy::Ours => online.fleet(),
                        Policy::Rule(_) => &fleet,
                    };
                    let mut stranded = 0u64;
                    // Nothing waits: nothing is stranded.
                    let waiting = if pending.is_empty() {
                        &[][..]
                    } else {
                        f.gpus()
                    };
                    for g in waiting {
                        let free = u64::from(g.occupancy().free_memory_slices());
                        if free > 0
                            && !pending
                                .iter()
                                .any(|&k| solve_gpu(g.occupancy(), &[profiles[k]]).is_some())
                        {
                            stranded += free;
                        }
                    }
                    stranded_sum += stranded as f64 / (f64::from(gpus) * 8.0);
                    samples += 1;
                }
            }
            Event::Depart { id } => {
                if let Some((g, s)) = held.remove(&id) {
                    match policy {
                        Policy::Ours => {
                            online.release(g, s).unwrap();
                        }
                        Policy::Rule(_) => {
                            fleet.gpu_mut(g).unwrap().remove_instance(s).unwrap();
                        }
                    }
                }
            }
        }
    }
    Quality {
        accepted,
        arrivals,
        saturated,
        saturated_slices,
        stranded: if samples == 0 {
            0.0
        } else {
            stranded_sum / samples as f64
        },
        per_kind,
    }
}

fn request_mix(total: u32) -> Vec<Request> {
    // 10 % 7g, 20 % 3g, 20 % 2g, 10 % 4g, 10 % 1g.10gb, 30 % 1g.5gb.
    MIX.iter()
        .map(|(n, w)| Request::parse(n, (f64::from(total) * w).round() as u32).unwrap())
        .collect()
}

/// A mix with more whole and half GPUs asked for.
const LARGE_MIX: [(&str, f64); 5] = [
    ("1g.5gb", 0.35),
    ("2g.10gb", 0.15),
    ("3g.20gb", 0.15),
    ("4g.20gb", 0.15),
    ("7g.40gb", 0.20),
];

/// A production shape: the GPU tasks of Alibaba's cluster-trace-gpu-v2023
/// (`openb_pod_list_default.csv`; a 222-row sample, rows 2839-3060, plus the sub-1/7 GPU
/// share of its first rows), each mapped to the smallest A100 profile with at least its
/// `gpu_milli` share of compute (1/7 per slice): whole GPUs and 650/810 milli -> 7g,
/// 460-550 -> 4g, 320-350 -> 3g, 220-230 -> 2g, up to 143 -> 1g. Multi-GPU tasks (2 %)
/// are left out: they are gangs of whole GPUs.
const ALIBABA_MIX: [(&str, f64); 5] = [
    ("7g.40gb", 0.74),
    ("4g.20gb", 0.15),
    ("3g.20gb", 0.06),
    ("2g.10gb", 0.04),
    ("1g.5gb", 0.01),
];

/// Small profiles among half GPUs: where the start slice decides most.
const HALF_MIX: [(&str, f64); 3] = [
    ("1g.5gb", 1.0 / 3.0),
    ("2g.10gb", 1.0 / 3.0),
    ("4g.20gb", 1.0 / 3.0),
];

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn gain(a: f64, b: f64) -> String {
    format!("{:+.2}%", 100.0 * (a / b - 1.0))
}

fn churn_scenario(title: &str, mix: &[(&str, f64)], load: f64, per_kind: bool) {
    println!(
        "\n== churn trace: 1,000 A100-40GB, 60,000 arrivals, {title}, offered load {load}, seed 7 =="
    );
    let trace = churn_trace(mix, 7, 1000, 60_000, load);
    let mut rows = Vec::new();
    for (name, policy) in POLICIES {
        let t = Instant::now();
        let q = run_trace(mix, &trace, 1000, policy);
        rows.push((name, q, t.elapsed()));
    }
    let bound = fluid_bound(mix, 1000, load);
    println!(
        "{:<16} {:>9} {:>11} {:>13} {:>10} {:>9} {:>10}",
        "policy", "accepted", "acceptance", "at saturation", "(slices)", "stranded", "trace time"
    );
    for (name, q, time) in &rows {
        println!(
            "{:<16} {:>9} {:>11} {:>13} {:>10} {:>9} {:>9.0?}",
            name,
            q.accepted,
            pct(q.accepted as f64 / q.arrivals as f64),
            pct(q.at_saturation()),
            pct(q.slices_at_saturation()),
            pct(q.stranded),
            time
        );
        if per_kind {
            let parts: Vec<String> = mix
                .iter()
                .zip(&q.per_kind)
                .map(|((n, _), (a, t))| {
                    format!("{n} {:.1}%", 100.0 * *a as f64 / (*t).max(1) as f64)
                })
                .collect();
            println!("                 per profile: {}", parts.join(", "));
        }
    }
    println!(
        "{:<16} {:>9} {:>11} {:>13}   (no policy that does not know lifetimes accepts more in the long run)",
        "bound",
        "",
        "",
        pct(bound)
    );
    let s: Vec<f64> = rows.iter().map(|(_, q, _)| q.at_saturation()).collect();
    let w: Vec<f64> = rows
        .iter()
        .map(|(_, q, _)| q.slices_at_saturation())
        .collect();
    println!(
        "at saturation, gpupart vs (a) {}, vs (b) {}, vs (b') {} (slices: {}, {}, {}); \
         the bound vs (a) {}, vs (b) {}: the most any policy could gain; gpupart reaches {:.1}% of the bound",
        gain(s[0], s[1]),
        gain(s[0], s[2]),
        gain(s[0], s[3]),
        gain(w[0], w[1]),
        gain(w[0], w[2]),
        gain(w[0], w[3]),
        gain(bound, s[1]),
        gain(bound, s[2]),
        100.0 * s[0] / bound
    );
}

/// Every mix of two A100 profiles (1:3, 1:1, 3:1) and of three (equal shares) at the given
/// loads: acceptance at saturation of each policy and the bound (`GPUPART_BENCH_SWEEP=1`).
fn sweep(loads: &[f64]) {
    let names = [
        "1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb",
    ];
    let mut mixes: Vec<Vec<(&str, f64)>> = Vec::new();
    for i in 0..names.len() {
        for j in i + 1..names.len() {
            for w in [0.25, 0.5, 0.75] {
                mixes.push(vec![(names[i], w), (names[j], 1.0 - w)]);
            }
            for k in j + 1..names.len() {
                mixes.push(vec![
                    (names[i], 1.0 / 3.0),
                    (names[j], 1.0 / 3.0),
                    (names[k], 1.0 / 3.0),
                ]);
            }
        }
    }
    println!(
        "\n== sweep: {} mixes x {} loads, 1,000 A100-40GB, 60,000 arrivals each; acceptance at saturation ==",
        mixes.len(),
        loads.len()
    );
    println!(
        "{:<44} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>9}",
        "mix", "load", "bound", "gpupart", "(a)", "(b)", "(b')", "vs (a)", "vs (b)", "bound/(a)"
    );
    let mut worst_vs_bound = (f64::MAX, String::new());
    let mut best_possible = (0.0f64, String::new());
    let (mut reach_a, mut reach_b, mut cells) = (0, 0, 0);
    for &load in loads {
        for mix in &mixes {
            let trace = churn_trace(mix, 7, 1000, 60_000, load);
            let bound = fluid_bound(mix, 1000, load);
            let r: Vec<f64> = POLICIES
                .iter()
                .map(|&(_, p)| run_trace(mix, &trace, 1000, p).at_saturation())
                .collect();
            let label: Vec<String> = mix.iter().map(|(n, w)| format!("{n} {w:.2}")).collect();
            let label = label.join(", ");
            println!(
                "{:<44} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>9}",
                label,
                load,
                pct(bound),
                pct(r[0]),
                pct(r[1]),
                pct(r[2]),
                pct(r[3]),
                gain(r[0], r[1]),
                gain(r[0], r[2]),
                gain(bound, r[1])
            );
            cells += 1;
            reach_a += usize::from(bound / r[1] >= 1.15);
            reach_b += usize::from(bound / r[2] >= 1.05);
            if r[0] / bound < worst_vs_bound.0 {
                worst_vs_bound = (r[0] / bound, format!("{label} at {load}"));
            }
            if bound / r[1] > best_possible.0 {
                best_possible = (bound / r[1], format!("{label} at {load}"));
            }
        }
    }
    println!(
        "cells where any policy could reach +15% over (a): {reach_a} of {cells}; +5% over (b): {reach_b} of {cells}"
    );
    println!(
        "largest possible gain over (a): {} ({}); gpupart's lowest share of the bound: {:.1}% ({})",
        gain(best_possible.0, 1.0),
        best_possible.1,
        100.0 * worst_vs_bound.0,
        worst_vs_bound.1
    );
}

fn quality_table() {
    churn_scenario("mixed profiles", &MIX, 1.3, true);
    churn_scenario("mixed profiles", &MIX, 1.0, false);
    churn_scenario("more 4g and 7g", &LARGE_MIX, 1.3, true);
    churn_scenario("Alibaba GPU v2023 shape", &ALIBABA_MIX, 1.0, true);
    churn_scenario("Alibaba GPU v2023 shape", &ALIBABA_MIX, 1.2, false);
    churn_scenario("1g + 2g + 4g", &HALF_MIX, 0.9, true);
    churn_scenario("1g + 2g + 4g", &HALF_MIX, 1.0, false);
    if std::env::var("GPUPART_BENCH_SWEEP").is_ok_and(|v| v == "1") {
        sweep(&[0.9, 1.0, 1.2, 1.5]);
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
        let m = milp_outcome(m, 20);
        println!(
            "{gpus} GPUs: MILP (microlp) {m} in {milp_time:.2?}; gpupart placed {} on {} GPUs (exact: {}) in {ours_time:.2?} ({:.0}x faster)",
            plan.objective.placed,
            plan.objective.gpus_used,
            plan.exact,
            milp_time.as_secs_f64() / ours_time.as_secs_f64()
        );
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

fn mixed_fleet(n: u32) -> Fleet {
    // A100s and H100s, every tenth GPU holding an in-use 3g instance.
    Fleet::new(
        (0..n)
            .map(|i| {
                let mut g = Gpu::new(
                    i,
                    if i % 2 == 0 {
                        &A100_40GB
                    } else {
                        &H100_SXM_80GB
                    },
                );
                if i % 10 == 0 {
                    let name = if i % 2 == 0 { "3g.20gb" } else { "3g.40gb" };
                    g.add(name, 4, true).unwrap();
                }
                g
            })
            .collect(),
    )
}

fn bench(c: &mut Criterion) {
    // The quality tables take two minutes (the MILPs run to their time limits): only in a
    // real bench run, not in `cargo bench -- --test`.
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
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
