//! The churn sweep (`GPUPART_BENCH_SWEEP=1`): every mix of two A100 profiles (1:3, 1:1, 3:1)
//! and of three (equal shares) at the given loads, on 1,000 A100s, 60,000 arrivals each;
//! acceptance at saturation of each policy against the long-run bound. Cells run on every
//! core; the table is printed in cell order.

use super::*;

/// The sweep's mixes.
pub(crate) fn sweep_mixes() -> Vec<Vec<(&'static str, f64)>> {
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
    mixes
}

struct Cell {
    label: String,
    load: f64,
    bound: f64,
    churn: f64,
    check: Option<f64>,
    /// At saturation, per policy of [`POLICIES`].
    r: Vec<f64>,
}

/// Runs the sweep and prints it; `check` is the bound from another LP solver, if any.
pub(crate) fn sweep(loads: &[f64], check: Option<BoundFn<'_>>) {
    let mixes = sweep_mixes();
    let cells: Vec<(Vec<(&str, f64)>, f64)> = loads
        .iter()
        .flat_map(|&l| mixes.iter().map(move |m| (m.clone(), l)))
        .collect();
    println!(
        "\n== sweep: {} mixes x {} loads, 1,000 A100-40GB, 60,000 arrivals each; acceptance at saturation ==",
        mixes.len(),
        loads.len()
    );
    // The bound from the other solver is computed here, in order (HiGHS may not like threads).
    let checks: Vec<Option<f64>> = cells
        .iter()
        .map(|(m, l)| check.map(|f| f(m, 1000, *l)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((mix, load)) = cells.get(i) else {
                        break;
                    };
                    let trace = churn_trace(mix, 7, 1000, 60_000, *load);
                    let r: Vec<f64> = POLICIES
                        .iter()
                        .map(|&(_, p)| run_trace(mix, &trace, 1000, *load, p).at_saturation())
                        .collect();
                    let label: Vec<String> =
                        mix.iter().map(|(n, w)| format!("{n} {w:.2}")).collect();
                    let (bound, churn) = admission_bound(mix, 1000, *load);
                    let cell = Cell {
                        label: label.join(", "),
                        load: *load,
                        bound,
                        // Never above the fluid bound but by the estimate's noise.
                        churn: churn.mean.min(bound),
                        check: checks[i],
                        r,
                    };
                    done.lock().unwrap().push((i, cell));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap();
    done.sort_by_key(|(i, _)| *i);
    println!(
        "{:<44} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>9} {:>7}",
        "mix",
        "load",
        "bound",
        "churn",
        "online",
        "admit",
        "(a)",
        "(b)",
        "(b')",
        "vs (a)",
        "vs (b)",
        "bound/(a)",
        "HiGHS"
    );
    // Per policy (online, admit) and bound (fluid, churn).
    let mut worst = vec![(f64::MAX, String::new()); 4];
    let mut below = [0usize; 4];
    let mut best_possible = (0.0f64, String::new());
    let (mut reach_a, mut reach_b, mut got_a, mut got_b) = (0, 0, 0, 0);
    for (_, c) in &done {
        let r = &c.r;
        println!(
            "{:<44} {:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>9} {:>7}",
            c.label,
            c.load,
            pct(c.bound),
            pct(c.churn),
            pct(r[0]),
            pct(r[1]),
            pct(r[2]),
            pct(r[3]),
            pct(r[4]),
            gain(r[1], r[2]),
            gain(r[1], r[3]),
            gain(c.bound, r[2]),
            c.check.map(pct).unwrap_or_default()
        );
        let at = format!("{} at {}", c.label, c.load);
        for k in 0..4 {
            let share = r[k % 2] / if k < 2 { c.bound } else { c.churn };
            below[k] += usize::from(share < 0.97);
            if share < worst[k].0 {
                worst[k] = (share, at.clone());
            }
        }
        if c.bound / r[2] >= 1.15 {
            reach_a += 1;
            got_a += usize::from(r[1] / r[2] >= 1.15);
        }
        if c.bound / r[3] >= 1.05 {
            reach_b += 1;
            got_b += usize::from(r[1] / r[3] >= 1.05);
        }
        if c.bound / r[2] > best_possible.0 {
            best_possible = (c.bound / r[2], at);
        }
    }
    let n = done.len();
    println!(
        "cells where any policy could reach +15% over (a): {reach_a} of {n} (gpupart admit reaches it in {got_a}); +5% over (b): {reach_b} (reached in {got_b})"
    );
    println!(
        "largest possible gain over (a): {} ({})",
        gain(best_possible.0, 1.0),
        best_possible.1
    );
    for (k, who) in [
        (0, "gpupart online, fluid bound"),
        (1, "gpupart admit, fluid bound"),
        (2, "gpupart online, bound under churn"),
        (3, "gpupart admit, bound under churn"),
    ] {
        println!(
            "{who}: lowest share {:.1}% ({}); cells below 97%: {} of {n}",
            100.0 * worst[k].0,
            worst[k].1,
            below[k]
        );
    }
    if let Some(d) = done
        .iter()
        .filter_map(|(_, c)| c.check.map(|h| (h - c.bound).abs()))
        .reduce(f64::max)
    {
        println!("largest difference between gpupart's bound and HiGHS's: {d:.2e}");
    }
}
