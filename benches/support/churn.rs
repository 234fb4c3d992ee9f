//! The seeded churn traces of the topology bench: Poisson arrivals of a profile mix with
//! exponential lifetimes, on A100-40GB fleets. Shared by `benches/topology.rs` (through
//! `support/mod.rs`) and `dra/benches/order.rs`; the including module names the profiles
//! crate `profiles` (`gpupart::profiles` or `gpupart_profiles`).

use super::profiles::GpuInstanceProfile;
use super::profiles::catalog::A100_40GB;

pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub(crate) const MIX: [(&str, f64); 6] = [
    ("1g.5gb", 0.30),
    ("1g.10gb", 0.10),
    ("2g.10gb", 0.20),
    ("3g.20gb", 0.20),
    ("4g.20gb", 0.10),
    ("7g.40gb", 0.10),
];

#[derive(Clone, Copy)]
pub(crate) enum Event {
    Arrive { id: usize, kind: usize },
    Depart { id: usize },
}

/// The A100 profiles of a mix, in its order.
pub(crate) fn mix_profiles(mix: &[(&str, f64)]) -> Vec<&'static GpuInstanceProfile> {
    mix.iter()
        .map(|(n, _)| A100_40GB.profile_by_str(n).unwrap())
        .collect()
}

/// Arrivals per mean lifetime that offer `load` times the fleet's memory slices.
pub(crate) fn arrival_rate(mix: &[(&str, f64)], gpus: u32, load: f64) -> f64 {
    let mean_slices: f64 = mix_profiles(mix)
        .iter()
        .zip(mix)
        .map(|(p, (_, w))| w * f64::from(p.memory_slices))
        .sum();
    load * f64::from(gpus) * 8.0 / mean_slices
}

/// Poisson arrivals of the mix with exponential lifetimes (mean 1, whatever the profile);
/// offered load `load` times the fleet's memory slices.
pub(crate) fn churn_trace(
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

/// A mix with more whole and half GPUs asked for.
pub(crate) const LARGE_MIX: [(&str, f64); 5] = [
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
pub(crate) const ALIBABA_MIX: [(&str, f64); 5] = [
    ("7g.40gb", 0.74),
    ("4g.20gb", 0.15),
    ("3g.20gb", 0.06),
    ("2g.10gb", 0.04),
    ("1g.5gb", 0.01),
];

/// Small profiles among half GPUs: where the start slice decides most.
pub(crate) const HALF_MIX: [(&str, f64); 3] = [
    ("1g.5gb", 1.0 / 3.0),
    ("2g.10gb", 1.0 / 3.0),
    ("4g.20gb", 1.0 / 3.0),
];
