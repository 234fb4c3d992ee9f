//! Solver inputs: an arbitrary fleet (A100s and H100s with existing instances, in use or not,
//! NUMA nodes) and arbitrary requests. The plan must apply to the fleet (only legal
//! placements, no overlap), leave in-use instances alone, account for every request, and be
//! the same when solved again.
#![no_main]

use gpupart_profiles::catalog::{A100_40GB, H100_SXM_80GB};
use gpupart_topology::batch::{Request, SolveOptions, solve};
use gpupart_topology::{Fleet, Gpu};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 10] = ["1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb", "2g.20gb", "3g.40gb", "1g.5gb+me", "7g.80gb"];

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let Some(n_gpus) = next() else { return };
    let n_gpus = usize::from(n_gpus % 12) + 1;
    let mut gpus = Vec::new();
    for i in 0..n_gpus {
        let b = next().unwrap_or(0);
        let model = if b & 1 == 0 { &A100_40GB } else { &H100_SXM_80GB };
        // Indices unlike positions: plans name GPUs by index.
        let mut g = Gpu::new(u32::try_from(3 * i + 1).unwrap_or(0), model).with_mig(b & 2 == 0);
        if b & 4 != 0 {
            g = g.with_numa_node(u32::from(b >> 7));
        }
        for _ in 0..(b >> 3) % 4 {
            let p = next().unwrap_or(0);
            let _ = g.add(NAMES[usize::from(p) % NAMES.len()], (p >> 4) % 8, p & 8 != 0);
        }
        gpus.push(g);
    }
    let fleet = Fleet::new(gpus).expect("distinct indices");
    let mut requests = Vec::new();
    for _ in 0..usize::from(next().unwrap_or(0) % 5) {
        let p = next().unwrap_or(0);
        let c = next().unwrap_or(0);
        let mut r = Request::parse(NAMES[usize::from(p) % NAMES.len()], u32::from(c % 9)).expect("valid names").with_priority(p >> 6);
        if c & 0x80 != 0 {
            r = r.on_numa_node(u32::from(c >> 6 & 1));
        }
        if p & 0x20 != 0 {
            r = r.on_gpus(&[1, 3 * u32::from(c % 4) + 1]);
        }
        requests.push(r);
    }
    let heuristic = next().unwrap_or(0) & 1 == 1;
    let options = if heuristic { SolveOptions::default().heuristic_only() } else { SolveOptions::default() };
    let plan = solve(&fleet, &requests, &options);
    assert_eq!(plan, solve(&fleet, &requests, &options), "deterministic");
    let mut after = fleet.clone();
    plan.apply_to(&mut after).expect("the plan applies");
    for (g, before) in fleet.gpus().iter().enumerate() {
        for x in before.instances().iter().filter(|x| x.in_use) {
            assert!(after.gpus()[g].instances().contains(x), "in-use instance touched");
        }
    }
    let mut served = vec![0u32; requests.len()];
    for c in &plan.changes {
        for x in &c.create {
            served[x.request] += 1;
        }
        for x in &c.reuse {
            served[x.request] += 1;
        }
    }
    for u in &plan.unplaced {
        served[u.request] += u.count;
    }
    for (r, req) in requests.iter().enumerate() {
        assert_eq!(served[r], req.count);
    }
    assert!(plan.bound.max_placed >= plan.objective.placed);
});
