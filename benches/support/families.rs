//! The generated fleets of the solver's quality tables and benches: the six families, the
//! random family for general inputs, and a mixed A100/H100 fleet.

use gpupart::profiles;
use gpupart::profiles::catalog::{A100_40GB, H100_SXM_80GB};
use gpupart::topology::batch::Request;
use gpupart::topology::{Fleet, Gpu};

use super::Rng;

pub(crate) fn mixed_fleet(n: u32) -> Fleet {
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
    .unwrap()
}

/// The generated families of the solver's quality table (seeded, so every run sees the same
/// instances):
/// - `uniform`: empty A100-40GBs, the six plain profiles asked for three per GPU (more than
///   fits);
/// - `occupied`: A100-40GBs up to ~70 % occupied by random instances, half of them in use
///   (never moved), half free (reusable or destroyable); two requests a GPU;
/// - `mixed`: A100-40GB, H100-80GB and H200 in random turns, requests by names each model
///   has (one name, two shapes: `1g.10gb` is one slice on an H100, two on an A100);
/// - `me-heavy`: one `+me` and three `1g.10gb` asked per GPU (only one mix places all);
/// - `singles`: one single-count entry per instance, priorities 0 to 2;
/// - `constrained`: GPUs on NUMA nodes 0 and 1; a third of the requests tied to a node,
///   some to a set of GPUs.
pub(crate) const FAMILIES: [&str; 6] = [
    "uniform",
    "occupied",
    "mixed",
    "me-heavy",
    "singles",
    "constrained",
];

/// `random`, a family beside [`FAMILIES`] for the solver's general inputs: one to three
/// models drawn from the whole catalog; GPUs on NUMA nodes 0 and 1, some with MIG off;
/// random instances (in use or free) on a random share of them; then either up to 25 counted
/// entries or one to four single-count entries a GPU, for any profile of the fleet's models,
/// at up to six priority levels, an eighth each tied to a NUMA node, to a set of GPUs or to a
/// model.
pub(crate) fn random_instance(gpus: u32, seed: u64) -> (Fleet, Vec<Request>) {
    let mut rng = Rng(seed ^ 0x7a4d_0e11);
    let below = |rng: &mut Rng, n: u64| rng.next() % n.max(1);
    let kinds = 1 + below(&mut rng, 3);
    let models: Vec<&'static profiles::GpuModel> = (0..kinds)
        .map(|_| {
            profiles::catalog::MODELS
                [below(&mut rng, profiles::catalog::MODELS.len() as u64) as usize]
        })
        .collect();
    let occupied = below(&mut rng, 100);
    let mut fleet_gpus = Vec::new();
    for i in 0..gpus {
        let model = models[below(&mut rng, kinds) as usize];
        let mut g = Gpu::new(i, model).with_numa_node(below(&mut rng, 2) as u32);
        if below(&mut rng, 100) < occupied {
            for _ in 0..below(&mut rng, 6) {
                let p = &model.profiles[below(&mut rng, model.profiles.len() as u64) as usize];
                let start = below(&mut rng, 8) as u8;
                let _ = g.add(&p.name.to_string(), start, below(&mut rng, 2) == 0);
            }
        }
        if g.instances().is_empty() && below(&mut rng, 8) == 0 {
            g = g.with_mig(false);
        }
        fleet_gpus.push(g);
    }
    let fleet = Fleet::new(fleet_gpus).unwrap();
    let single = below(&mut rng, 3) == 0;
    let entries = if single {
        u64::from(gpus) * (1 + below(&mut rng, 4))
    } else {
        1 + below(&mut rng, 25)
    };
    let levels = 1 + below(&mut rng, 6);
    let mut reqs = Vec::new();
    for _ in 0..entries {
        let model = models[below(&mut rng, kinds) as usize];
        let p = &model.profiles[below(&mut rng, model.profiles.len() as u64) as usize];
        let count = if single {
            1
        } else {
            1 + below(&mut rng, u64::from(gpus) * 3) as u32
        };
        let mut r = Request::parse(&p.name.to_string(), count)
            .unwrap()
            .with_priority(below(&mut rng, levels) as u8);
        match below(&mut rng, 8) {
            0 => r = r.on_numa_node(below(&mut rng, 2) as u32),
            1 => {
                let set: Vec<u32> = (0..1 + below(&mut rng, 4))
                    .map(|_| below(&mut rng, u64::from(gpus)) as u32)
                    .collect();
                r = r.on_gpus(&set);
            }
            2 => r = r.on_model(model),
            _ => {}
        }
        reqs.push(r);
    }
    (fleet, reqs)
}

/// One instance of `family` on `gpus` GPUs.
pub(crate) fn family(name: &str, gpus: u32, seed: u64) -> (Fleet, Vec<Request>) {
    use gpupart::profiles::catalog::H200_141GB;
    if name == "random" {
        return random_instance(gpus, seed);
    }
    let mut rng = Rng(seed ^ 0x5eed);
    let a100 = [
        "1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb",
    ];
    let pick =
        |rng: &mut Rng, names: &[&'static str]| names[(rng.next() % names.len() as u64) as usize];
    let mut fleet_gpus: Vec<Gpu> = Vec::new();
    for i in 0..gpus {
        let model: &'static profiles::GpuModel = match name {
            "mixed" => match rng.next() % 3 {
                0 => &A100_40GB,
                1 => &H100_SXM_80GB,
                _ => &H200_141GB,
            },
            _ => &A100_40GB,
        };
        let mut g = Gpu::new(i, model);
        if name == "constrained" {
            g = g.with_numa_node(u32::from(i >= gpus / 2));
        }
        if name == "occupied" {
            // Random instances until ~70 % of the slices would be taken.
            let target = (rng.next() % 6) as u32;
            for _ in 0..12 {
                if g.occupancy().memory_mask().count_ones() >= target {
                    break;
                }
                let p = pick(&mut rng, &a100);
                let start = (rng.next() % 8) as u8;
                let _ = g.add(p, start, rng.next().is_multiple_of(2));
            }
        }
        fleet_gpus.push(g);
    }
    let fleet = Fleet::new(fleet_gpus).unwrap();
    let mut reqs: Vec<Request> = Vec::new();
    match name {
        "uniform" | "occupied" | "constrained" => {
            let per_gpu = if name == "occupied" { 2 } else { 3 };
            let mut counts = [0u32; 6];
            for _ in 0..gpus * per_gpu {
                counts[(rng.next() % 6) as usize] += 1;
            }
            for (k, &c) in counts.iter().enumerate() {
                if c == 0 {
                    continue;
                }
                if name == "constrained" {
                    // Thirds: free, on NUMA node 0, on node 1 (with one tenth on GPU 0 or 1).
                    let third = c / 3;
                    reqs.push(Request::parse(a100[k], c - 2 * third).unwrap());
                    reqs.push(Request::parse(a100[k], third).unwrap().on_numa_node(0));
                    let tied = third / 10;
                    reqs.push(
                        Request::parse(a100[k], third - tied)
                            .unwrap()
                            .on_numa_node(1),
                    );
                    reqs.push(Request::parse(a100[k], tied).unwrap().on_gpus(&[0, 1]));
                } else {
                    reqs.push(Request::parse(a100[k], c).unwrap());
                }
            }
        }
        "mixed" => {
            let names = [
                "1g.10gb", "2g.20gb", "3g.40gb", "1g.18gb", "3g.71gb", "1g.5gb", "3g.20gb",
            ];
            let mut counts = [0u32; 7];
            for _ in 0..gpus * 3 {
                counts[(rng.next() % 7) as usize] += 1;
            }
            for (k, &c) in counts.iter().enumerate() {
                reqs.push(Request::parse(names[k], c).unwrap());
            }
        }
        "me-heavy" => {
            reqs.push(Request::parse("1g.5gb+me", gpus).unwrap());
            reqs.push(Request::parse("1g.10gb", 3 * gpus).unwrap());
        }
        _ => {
            for _ in 0..gpus * 3 {
                let p = pick(&mut rng, &a100);
                let prio = (rng.next() % 3) as u8;
                reqs.push(Request::parse(p, 1).unwrap().with_priority(prio));
            }
        }
    }
    reqs.retain(|r| r.count > 0);
    (fleet, reqs)
}
