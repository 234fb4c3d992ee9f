//! What the topology benches share: the baselines written here ((a) first fit, (b) HAMi's
//! rule, (b') HAMi's chart defaults, (c) brute force), the seeded churn traces and their
//! quality figures. Included by `benches/topology.rs` (pure Rust, in the root workspace) and by
//! `benches/baselines/benches/milp.rs` (the MILP and LP baselines, which need HiGHS: its own
//! workspace, so that the README's commands build no C++).
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::Instant;

use gpupart::profiles;
use gpupart::profiles::catalog::A100_40GB;
use gpupart::profiles::{GpuInstanceProfile, ProfileName};
use gpupart::topology::batch::Request;
use gpupart::topology::online::{Estimate, Load};
use gpupart::topology::{Fleet, Gpu, Occupancy, Online, solve_gpu};

// ---- baselines -----------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    FirstFit,
    /// HAMi's start rule, GPUs in order.
    Hami,
    /// HAMi's start rule with its chart's default GPU choice: the most used node of 8 GPUs
    /// first (binpack), in it the least used GPU first (spread).
    HamiDefaults,
}

/// HAMi's usage score of a GPU (or, summed, of a node): the share of compute plus the share
/// of memory taken.
pub(crate) fn usage(g: &Gpu) -> f64 {
    let o = g.occupancy();
    f64::from(o.compute_used()) / f64::from(g.model.compute_slices)
        + f64::from(o.memory_mask().count_ones()) / f64::from(g.model.memory_slices)
}

/// The order in which a rule tries the GPUs.
pub(crate) fn gpu_order(fleet: &Fleet, rule: Rule) -> Vec<usize> {
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

/// Places one instance by `rule`: the GPU's index and the start.
pub(crate) fn place_rule(fleet: &mut Fleet, name: &ProfileName, rule: Rule) -> Option<(u32, u8)> {
    for g in gpu_order(fleet, rule) {
        let index = fleet.gpus()[g].index;
        let gpu = fleet.gpu_mut(index).unwrap();
        let Some(p) = gpu.profile(name) else { continue };
        let high_first = rule != Rule::FirstFit && matches!(p.compute_slices, 1 | 3);
        let starts: Vec<u8> = if high_first {
            p.placements.iter().rev().map(|pl| pl.start).collect()
        } else {
            p.placements.iter().map(|pl| pl.start).collect()
        };
        for s in starts {
            if gpu.add_instance(p, s, true).is_ok() {
                return Some((index, s));
            }
        }
    }
    None
}

pub(crate) fn batch_rule(fleet: &Fleet, reqs: &[Request], rule: Rule) -> (u64, usize) {
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
pub(crate) fn brute_force(fleet: &Fleet, reqs: &[Request]) -> (u64, usize) {
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

// ---- the churn trace: its own file, shared with `dra/benches/order.rs` ------------------------

mod churn;
pub(crate) use churn::*;
mod sweep;
pub(crate) use sweep::*;
mod families;
pub(crate) use families::*;

#[derive(Clone, Copy)]
pub(crate) enum Policy {
    Ours,
    /// gpupart told the workload's loads: admission from the long-run LP (`Online::admit`).
    Admitted,
    Rule(Rule),
}

/// The policies of the churn tables, in their column order.
pub(crate) const POLICIES: [(&str, Policy); 5] = [
    ("gpupart online", Policy::Ours),
    ("gpupart admit", Policy::Admitted),
    ("(a) first fit", Policy::Rule(Rule::FirstFit)),
    ("(b) HAMi rule", Policy::Rule(Rule::Hami)),
    ("(b') HAMi dflt", Policy::Rule(Rule::HamiDefaults)),
];

pub(crate) struct Quality {
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
    pub(crate) fn at_saturation(&self) -> f64 {
        self.saturated.0 as f64 / self.saturated.1.max(1) as f64
    }
    pub(crate) fn slices_at_saturation(&self) -> f64 {
        self.saturated_slices.0 as f64 / self.saturated_slices.1.max(1) as f64
    }
}

/// The maximal multisets of `profiles` that one empty A100 can hold (counts per profile),
/// each checked by the exact one-GPU solver.
pub(crate) fn configurations(profiles: &[&'static GpuInstanceProfile]) -> Vec<Vec<u8>> {
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

pub(crate) fn run_trace(
    mix: &[(&str, f64)],
    trace: &[Event],
    gpus: u32,
    load: f64,
    policy: Policy,
) -> Quality {
    let names: Vec<ProfileName> = mix.iter().map(|(n, _)| n.parse().unwrap()).collect();
    let profiles = mix_profiles(mix);
    let mut online = Online::new(Fleet::uniform(&A100_40GB, gpus));
    // The scheduler knows which profiles its workload asks for.
    online.expect(&names);
    if matches!(policy, Policy::Admitted) {
        // ... and, told the loads, how often each comes (lifetimes have mean 1).
        online.admit(&trace_loads(mix, gpus, load)).unwrap();
    }
    let mut fleet = Fleet::uniform(&A100_40GB, gpus);
    let mut held: HashMap<usize, (u32, u8)> = HashMap::new();
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
                    Policy::Ours | Policy::Admitted => online
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
                        Policy::Ours | Policy::Admitted => online.fleet(),
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
                        Policy::Ours | Policy::Admitted => {
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

pub(crate) fn request_mix(total: u32) -> Vec<Request> {
    // 10 % 7g, 20 % 3g, 20 % 2g, 10 % 4g, 10 % 1g.10gb, 30 % 1g.5gb.
    MIX.iter()
        .map(|(n, w)| Request::parse(n, (f64::from(total) * w).round() as u32).unwrap())
        .collect()
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

pub(crate) fn gain(a: f64, b: f64) -> String {
    format!("{:+.2}%", 100.0 * (a / b - 1.0))
}

/// The long-run acceptance bound of a mix on `gpus` A100s at a load (an LP).
pub(crate) type BoundFn<'a> = &'a dyn Fn(&[(&str, f64)], u32, f64) -> f64;

/// The loads of a churn trace's mix on `gpus` A100s at `load` (lifetimes have mean 1).
pub(crate) fn trace_loads(mix: &[(&str, f64)], gpus: u32, load: f64) -> Vec<Load> {
    let rate = arrival_rate(mix, gpus, load);
    mix.iter()
        .map(|(n, w)| Load::new(n.parse().unwrap(), w * rate, 1.0).unwrap())
        .collect()
}

/// The long-run acceptance bounds of a mix on `gpus` A100s at a load, from gpupart's own
/// configuration LP (`Online::admit`): the fluid bound (`Admission::bound`) and the tighter
/// bound under churn (`Admission::bound_under_churn`, 2,000 samples: its mean and standard
/// error).
pub(crate) fn admission_bound(mix: &[(&str, f64)], gpus: u32, load: f64) -> (f64, Estimate) {
    let mut online = Online::new(Fleet::uniform(&A100_40GB, gpus));
    let a = online.admit(&trace_loads(mix, gpus, load)).unwrap();
    (a.bound(), a.bound_under_churn(2000, 7))
}

/// A reference no placer reaches, to split the gap to the bound: every instance in service
/// may move at every arrival, so a request is accepted whenever it and the instances in
/// service fit the fleet together (fluidly: the configuration LP of `Online::admit` with the
/// counts in service as loads, which also lets GPUs be shared fractionally), with the same
/// caps as gpupart admit. Acceptance at saturation. What it leaves below the bound is lost
/// to the admission rule, whatever the placement; what gpupart leaves below it is lost to
/// placing without moving instances.
pub(crate) fn repacking_reference(
    mix: &[(&str, f64)],
    trace: &[Event],
    gpus: u32,
    load: f64,
) -> f64 {
    let names: Vec<ProfileName> = mix.iter().map(|(n, _)| n.parse().unwrap()).collect();
    let mut online = Online::new(Fleet::uniform(&A100_40GB, gpus));
    let caps: Vec<Option<u32>> = {
        let a = online.admit(&trace_loads(mix, gpus, load)).unwrap();
        names.iter().map(|n| a.cap(n)).collect()
    };
    let mut alive = vec![0u32; mix.len()];
    let mut held: HashMap<usize, usize> = HashMap::new();
    let total = trace
        .iter()
        .filter(|e| matches!(e, Event::Arrive { .. }))
        .count();
    let (mut arrivals, mut saturated) = (0usize, (0u64, 0u64));
    for e in trace {
        match *e {
            Event::Arrive { id, kind } => {
                arrivals += 1;
                let mut fits = caps[kind].is_none_or(|c| alive[kind] < c);
                if fits {
                    alive[kind] += 1;
                    let loads: Vec<Load> = names
                        .iter()
                        .zip(&alive)
                        .map(|(p, &n)| Load::new(*p, f64::from(n), 1.0).unwrap())
                        .collect();
                    let a = online.admit(&loads).unwrap();
                    fits = a.accepted >= a.rate * (1.0 - 1e-9);
                    alive[kind] -= 1;
                }
                if fits {
                    alive[kind] += 1;
                    held.insert(id, kind);
                }
                if arrivals > total / 5 {
                    saturated.1 += 1;
                    saturated.0 += u64::from(fits);
                }
            }
            Event::Depart { id } => {
                if let Some(k) = held.remove(&id) {
                    alive[k] -= 1;
                }
            }
        }
    }
    saturated.0 as f64 / saturated.1.max(1) as f64
}

/// One churn trace on 1,000 A100s under every policy, printed as a table with the long-run
/// bound from gpupart's LP; `check` is the same bound from another LP solver where the
/// caller has one (HiGHS, in the baselines' workspace), printed beside it.
pub(crate) fn churn_scenario(
    title: &str,
    mix: &[(&str, f64)],
    load: f64,
    per_kind: bool,
    check: Option<BoundFn<'_>>,
) {
    println!(
        "\n== churn trace: 1,000 A100-40GB, 60,000 arrivals, {title}, offered load {load}, seed 7 =="
    );
    let trace = churn_trace(mix, 7, 1000, 60_000, load);
    let mut rows = Vec::new();
    for (name, policy) in POLICIES {
        let t = Instant::now();
        let q = run_trace(mix, &trace, 1000, load, policy);
        rows.push((name, q, t.elapsed()));
    }
    let (bound, churn) = admission_bound(mix, 1000, load);
    // The true bound under churn is never above the fluid one; the estimate can be, by noise.
    let under = churn.mean.min(bound);
    let t = Instant::now();
    let reference = repacking_reference(mix, &trace, 1000, load);
    let reference_time = t.elapsed();
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
    let s: Vec<f64> = rows.iter().map(|(_, q, _)| q.at_saturation()).collect();
    let w: Vec<f64> = rows
        .iter()
        .map(|(_, q, _)| q.slices_at_saturation())
        .collect();
    for (k, who) in [(0, "gpupart online"), (1, "gpupart admit")] {
        println!(
            "at saturation, {who} vs (a) {}, vs (b) {}, vs (b') {} (slices: {}, {}, {})",
            gain(s[k], s[2]),
            gain(s[k], s[3]),
            gain(s[k], s[4]),
            gain(w[k], w[2]),
            gain(w[k], w[3]),
            gain(w[k], w[4]),
        );
    }
    println!(
        "{:<16} {:>9} {:>11} {:>13}   (no policy that does not know lifetimes accepts more in the long run){}",
        "bound",
        "",
        "",
        pct(bound),
        check
            .map(|f| format!("; HiGHS: {}", pct(f(mix, 1000, load))))
            .unwrap_or_default()
    );
    println!(
        "{:<16} {:>9} {:>11} {:>13}   (± {:.3}%: the same LP over the requests alive at a time, 2,000 samples)",
        "bound, churn",
        "",
        "",
        pct(churn.mean),
        100.0 * churn.std_error
    );
    println!(
        "{:<16} {:>9} {:>11} {:>13}   (every instance moved at will, the same caps: {:.1}% of the bound under churn; gpupart admit {:.1}% of it; {:.0?})",
        "repacking ref.",
        "",
        "",
        pct(reference),
        100.0 * reference / under,
        100.0 * s[1] / reference,
        reference_time
    );
    println!(
        "the bound vs (a) {}, vs (b) {}: the most any policy could gain; gpupart reaches {:.1}% of the bound, {:.1}% when told the loads ({:.1}% and {:.1}% of the bound under churn)",
        gain(bound, s[2]),
        gain(bound, s[3]),
        100.0 * s[0] / bound,
        100.0 * s[1] / bound,
        100.0 * s[0] / under,
        100.0 * s[1] / under
    );
}
