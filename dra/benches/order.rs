#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Device order as policy, measured: on the churn traces of the topology bench
//! (`benches/support/churn.rs`: Poisson arrivals of a profile mix, exponential lifetimes, 1,000
//! A100-40GB), acceptance and stranded capacity of the scheduler's first fit over gpupart's
//! order against first fit over NVIDIA's order, with the allocator model of
//! `gpupart_dra::allocator` (upstream's `allocateOne`: slices and devices in order, first
//! match whose counters fit). The fleet is 125 nodes of 8 GPUs; a request goes to the first
//! node, in a fixed order, whose pool can take it (both orders alike), then to the device the
//! allocator picks there. gpupart's order is republished on the node after every allocation
//! and release; the table counts the slices each republish rewrites. `gpupart online` (the
//! fleet-wide online placement, no DRA) is the reference.
//!
//! `cargo bench -p gpupart-dra --bench order` prints the full table; under `cargo test` or
//! `cargo bench -- --test` a small trace checks that it runs.

use std::collections::HashMap;

use gpupart_dra::NodeInfo;
use gpupart_dra::allocator::{Allocator, mig_profile};
use gpupart_dra::devices::{DeviceKind, DeviceSpec, gpu_devices};
use gpupart_dra::order::{Order, arrange};
use gpupart_dra::slices::{SliceOptions, assemble, fleet_of, limits};
use gpupart_mig::SimulatedNvml;
use gpupart_mig::apply::{ApplyOptions, DesiredGpu, apply};
use gpupart_mig::state::read_all;
use gpupart_profiles as profiles;
use gpupart_profiles::ProfileName;
use gpupart_topology::{Fleet, Online, solve_gpu};

#[allow(dead_code)]
#[path = "../../benches/support/churn.rs"]
mod churn;
use churn::{ALIBABA_MIX, Event, HALF_MIX, LARGE_MIX, MIX, churn_trace, mix_profiles};

/// One node: its devices, its allocator, its occupancy.
struct Node {
    devices: Vec<DeviceSpec>,
    by_name: HashMap<String, usize>,
    alloc: Allocator,
    fleet: Fleet,
    /// The device names per published slice (for counting republished slices).
    slices: Vec<Vec<String>>,
}

fn empty_node(
    gpus: u32,
) -> (
    Vec<gpupart_dra::devices::CounterSetSpec>,
    Vec<DeviceSpec>,
    Fleet,
) {
    let nvml = SimulatedNvml::new(
        (0..gpus)
            .map(|_| gpupart_mig::SimGpu::new(&profiles::catalog::A100_40GB))
            .collect(),
    );
    let all: Vec<DesiredGpu> = (0..gpus)
        .map(|g| DesiredGpu::new(g, true, Vec::new()))
        .collect();
    let opts = ApplyOptions::default().lock_path(None);
    for g in apply(&nvml, &all, &opts).unwrap().resets_needed {
        nvml.reset(g).unwrap();
    }
    let gpus = read_all(&nvml).unwrap();
    let sets = gpus
        .iter()
        .filter_map(gpupart_dra::devices::gpu_counter_set)
        .collect();
    let devices = gpus
        .iter()
        .flat_map(|g| gpu_devices(g, &NodeInfo::default()))
        .collect();
    (sets, devices, fleet_of(&gpus).unwrap())
}

fn chunked(groups: &[Vec<DeviceSpec>]) -> Vec<Vec<String>> {
    groups
        .iter()
        .flat_map(|g| {
            g.chunks(limits::DEVICES_WITH_COUNTERS)
                .map(|c| c.iter().map(|d| d.name.clone()).collect())
        })
        .collect()
}

impl Node {
    fn new(order: Order, expected: &[ProfileName], gpus: u32) -> Self {
        let (sets, devices, fleet) = empty_node(gpus);
        let groups = arrange(devices.clone(), &fleet, order, Some(expected));
        let slices = assemble(&sets, &groups, &SliceOptions::new("node").order(order)).unwrap();
        let by_name = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect();
        Node {
            alloc: Allocator::new(&slices),
            slices: chunked(&groups),
            devices,
            by_name,
            fleet,
        }
    }

    /// gpupart's republish: the new order, and how many slices it rewrites.
    fn republish(&mut self, expected: &[ProfileName]) -> usize {
        let groups = arrange(
            self.devices.clone(),
            &self.fleet,
            Order::Gpupart,
            Some(expected),
        );
        let slices = chunked(&groups);
        let changed = slices
            .iter()
            .enumerate()
            .filter(|(i, s)| self.slices.get(*i) != Some(s))
            .count();
        let names: Vec<String> = slices.iter().flatten().cloned().collect();
        self.alloc.reorder(&names);
        self.slices = slices;
        changed
    }

    fn take(&mut self, name: &str, add: bool) {
        let d = &self.devices[self.by_name[name]];
        if let DeviceKind::Mig { profile, placement } = d.kind {
            let gpu = self.fleet.gpu_mut(d.gpu).unwrap();
            if add {
                gpu.add_instance(profile, placement.start, true).unwrap();
            } else {
                gpu.remove_instance(placement.start).unwrap();
            }
        }
    }
}

struct Row {
    accepted: u64,
    arrivals: u64,
    saturated: (u64, u64),
    stranded: f64,
    republished: (u64, u64),
}

#[derive(Clone, Copy, PartialEq)]
enum Policy {
    FirstFit(Order),
    Online,
}

fn run(mix: &[(&str, f64)], trace: &[Event], (nodes, per_node): (u32, u32), policy: Policy) -> Row {
    let names: Vec<ProfileName> = mix.iter().map(|(n, _)| n.parse().unwrap()).collect();
    let kinds = mix_profiles(mix);
    let order = match policy {
        Policy::FirstFit(o) => o,
        Policy::Online => Order::Nvidia,
    };
    let mut cluster: Vec<Node> = (0..nodes)
        .map(|_| Node::new(order, &names, per_node))
        .collect();
    let mut online = Online::new(Fleet::uniform(
        &profiles::catalog::A100_40GB,
        nodes * per_node,
    ));
    online.expect(&names);
    let mut held: HashMap<usize, (usize, String)> = HashMap::new();
    let mut held_online: HashMap<usize, (u32, u8)> = HashMap::new();
    let total = trace
        .iter()
        .filter(|e| matches!(e, Event::Arrive { .. }))
        .count() as u64;
    let mut row = Row {
        accepted: 0,
        arrivals: 0,
        saturated: (0, 0),
        stranded: 0.0,
        republished: (0, 0),
    };
    let mut recent: Vec<(u64, usize)> = Vec::new();
    let mut samples = 0u64;
    for e in trace {
        match *e {
            Event::Arrive { id, kind } => {
                row.arrivals += 1;
                let got = match policy {
                    Policy::Online => online
                        .place(&names[kind], None)
                        .ok()
                        .map(|p| held_online.insert(id, (p.gpu, p.instance.start)))
                        .is_some(),
                    Policy::FirstFit(_) => {
                        let want = names[kind].to_string();
                        let select = mig_profile(&want);
                        let mut got = false;
                        for (n, node) in cluster.iter_mut().enumerate() {
                            // A node none of whose GPUs can take the profile is skipped
                            // without asking its pool: the counters agree with the rule
                            // exactly (`tests/counters.rs`), so its allocator would find
                            // nothing either. Only a saving of time.
                            if !node.fleet.gpus().iter().any(|g| {
                                let occ = g.occupancy();
                                occ.model().profiles.iter().enumerate().any(|(slot, p)| {
                                    p.name == names[kind]
                                        && p.placements
                                            .iter()
                                            .any(|&pl| occ.refusal(slot, pl).is_none())
                                })
                            }) {
                                continue;
                            }
                            if let Some(dev) = node.alloc.allocate(&select) {
                                node.take(&dev, true);
                                if policy == Policy::FirstFit(Order::Gpupart) {
                                    row.republished.0 += node.republish(&names) as u64;
                                    row.republished.1 += 1;
                                }
                                held.insert(id, (n, dev));
                                got = true;
                                break;
                            }
                        }
                        got
                    }
                };
                if row.arrivals > total / 5 {
                    row.saturated.1 += 1;
                    row.saturated.0 += u64::from(got);
                }
                if got {
                    row.accepted += 1;
                } else {
                    recent.push((row.arrivals, kind));
                }
                if row.arrivals > total / 5 && row.arrivals.is_multiple_of(500) {
                    recent.retain(|&(a, _)| a + 1000 > row.arrivals);
                    let mut pending: Vec<usize> = recent.iter().map(|&(_, k)| k).collect();
                    pending.sort_unstable();
                    pending.dedup();
                    let fleets: Vec<&Fleet> = match policy {
                        Policy::Online => vec![online.fleet()],
                        Policy::FirstFit(_) => cluster.iter().map(|n| &n.fleet).collect(),
                    };
                    let mut stranded = 0u64;
                    if !pending.is_empty() {
                        for f in fleets {
                            for g in f.gpus() {
                                let free = u64::from(g.occupancy().free_memory_slices());
                                if free > 0
                                    && !pending
                                        .iter()
                                        .any(|&k| solve_gpu(g.occupancy(), &[kinds[k]]).is_some())
                                {
                                    stranded += free;
                                }
                            }
                        }
                    }
                    row.stranded += stranded as f64 / f64::from(nodes * per_node * 8);
                    samples += 1;
                }
            }
            Event::Depart { id } => {
                if let Some((g, s)) = held_online.remove(&id) {
                    online.release(g, s).unwrap();
                }
                if let Some((n, dev)) = held.remove(&id) {
                    let node = &mut cluster[n];
                    node.alloc.release(&dev);
                    node.take(&dev, false);
                    if policy == Policy::FirstFit(Order::Gpupart) {
                        row.republished.0 += node.republish(&names) as u64;
                        row.republished.1 += 1;
                    }
                }
            }
        }
    }
    row.stranded /= samples.max(1) as f64;
    row
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn main() {
    // `cargo bench` passes --bench; CI's `cargo bench -- --test` adds --test: a small run.
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    // GPUPART_DRA_SHAPE=NODESxGPUS (default 125x8) and GPUPART_DRA_ARRIVALS (60000): the
    // same trace on another cut of the fleet into nodes.
    let shape = std::env::var("GPUPART_DRA_SHAPE")
        .ok()
        .and_then(|s| {
            let (n, g) = s.split_once('x')?;
            Some((n.parse::<u32>().ok()?, g.parse::<u32>().ok()?))
        })
        .unwrap_or((125, 8));
    let arrivals = std::env::var("GPUPART_DRA_ARRIVALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60_000);
    let ((nodes, per_node), arrivals) = if full {
        (shape, arrivals)
    } else {
        ((2, 8), 400)
    };
    println!(
        "\n== DRA device order: first fit over NVIDIA's order vs gpupart's, {nodes} x {per_node} A100-40GB, {arrivals} arrivals, seed 7 =="
    );
    println!(
        "{:<26} {:<24} {:>10} {:>13} {:>9} {:>16}",
        "trace", "policy", "acceptance", "at saturation", "stranded", "slices/republish"
    );
    for (title, mix, load) in [
        ("mixed profiles, 1.3", &MIX[..], 1.3),
        ("mixed profiles, 1.0", &MIX[..], 1.0),
        ("more 4g and 7g, 1.3", &LARGE_MIX[..], 1.3),
        ("Alibaba v2023 shape, 1.0", &ALIBABA_MIX[..], 1.0),
        ("1g + 2g + 4g, 0.9", &HALF_MIX[..], 0.9),
    ] {
        let trace = churn_trace(mix, 7, nodes * per_node, arrivals, load);
        for (name, policy) in [
            ("first fit, NVIDIA order", Policy::FirstFit(Order::Nvidia)),
            ("first fit, gpupart order", Policy::FirstFit(Order::Gpupart)),
            ("gpupart online (no DRA)", Policy::Online),
        ] {
            let r = run(mix, &trace, (nodes, per_node), policy);
            let rep = if r.republished.1 == 0 {
                "-".to_owned()
            } else {
                format!("{:.2}", r.republished.0 as f64 / r.republished.1 as f64)
            };
            println!(
                "{:<26} {:<24} {:>10} {:>13} {:>9} {:>16}",
                title,
                name,
                pct(r.accepted as f64 / r.arrivals.max(1) as f64),
                pct(r.saturated.0 as f64 / r.saturated.1.max(1) as f64),
                pct(r.stranded),
                rep
            );
        }
    }
}
