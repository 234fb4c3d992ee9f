#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
//! Online placement under churn: seeded Poisson arrivals with exponential lifetimes on a small
//! fleet, with and without the workload's admission (`Online::admit`).

use gpupart_profiles::ProfileName;
use gpupart_profiles::catalog::A100_40GB;
use gpupart_topology::online::Load;
use gpupart_topology::{Error, Fleet, Online};

/// splitmix64, in [0, 1).
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Accepted arrivals after the first fifth, of those arrived: `mix` of (profile, share),
/// `rate` arrivals per mean lifetime on `gpus` A100s.
fn acceptance(mix: &[(&str, f64)], gpus: u32, rate: f64, arrivals: usize, admit: bool) -> f64 {
    let names: Vec<ProfileName> = mix.iter().map(|(n, _)| n.parse().unwrap()).collect();
    let mut online = Online::new(Fleet::uniform(&A100_40GB, gpus));
    online.expect(&names);
    if admit {
        let loads: Vec<Load> = names
            .iter()
            .zip(mix)
            .map(|(n, (_, w))| Load::new(*n, w * rate, 1.0).unwrap())
            .collect();
        online.admit(&loads).unwrap();
    }
    let mut rng = Rng(7);
    // (departure time, gpu, start), kept sorted by time, latest first.
    let mut live: Vec<(f64, u32, u8)> = Vec::new();
    let (mut t, mut got, mut seen) = (0.0, 0u64, 0u64);
    for i in 0..arrivals {
        t += -(1.0 - rng.unit()).ln() / rate;
        while live.last().is_some_and(|d| d.0 <= t) {
            let (_, g, s) = live.pop().unwrap();
            online.release(g, s).unwrap();
        }
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
        let placed = match online.place(&names[kind], None) {
            Ok(p) => {
                let d = (t + life, p.gpu, p.instance.start);
                let at = live.partition_point(|x| x.0 > d.0);
                live.insert(at, d);
                true
            }
            Err(Error::NoRoom { .. } | Error::Withheld { .. }) => false,
            Err(e) => panic!("{e}"),
        };
        if i >= arrivals / 5 {
            seen += 1;
            got += u64::from(placed);
        }
    }
    got as f64 / seen as f64
}

/// The fluid bound and the upper limit of the bound under churn.
fn bounds(mix: &[(&str, f64)], gpus: u32, rate: f64) -> (f64, f64) {
    let loads: Vec<Load> = mix
        .iter()
        .map(|(n, w)| Load::new(n.parse().unwrap(), w * rate, 1.0).unwrap())
        .collect();
    let mut online = Online::new(Fleet::uniform(&A100_40GB, gpus));
    let a = online.admit(&loads).unwrap();
    (a.bound(), a.bound_under_churn(1000, 1).upper(3.0))
}

#[test]
fn admission_recovers_what_large_profiles_crowd_out() {
    // 1g.5gb and 2g.10gb, 3:1, offered 1.5 times the memory of 60 A100s: seven 1g fill a
    // GPU's compute, so every 2g admitted costs two 1g. Admitting whatever fits stays near
    // 93 % of the long-run bound; the admission keeps no 2g and reaches about 97 % (the rest
    // is the chance of a burst on so small a fleet: 1,000 GPUs reach 99.9 %, see the bench).
    let mix = [("1g.5gb", 0.75), ("2g.10gb", 0.25)];
    let rate = 1.5 * 60.0 * 8.0 / 1.25;
    let (b, churn) = bounds(&mix, 60, rate);
    assert!((b - 0.7292).abs() < 1e-3, "{b}");
    let plain = acceptance(&mix, 60, rate, 20_000, false);
    let admitted = acceptance(&mix, 60, rate, 20_000, true);
    assert!(plain < 0.95 * b, "plain {plain} vs bound {b}");
    assert!(admitted > 0.96 * b, "admitted {admitted} vs bound {b}");
    assert!(
        admitted > plain + 0.02,
        "admitted {admitted} vs plain {plain}"
    );
    // Measured over 16,000 arrivals: within a percent of the long run.
    assert!(
        admitted <= churn + 0.01,
        "{admitted} above the bound under churn {churn}"
    );
}

#[test]
fn admission_never_loses_much_where_everything_is_worth_admitting() {
    // Six profiles at 0.9 of the memory: the optimum takes every profile in full, nothing
    // is capped, and the admission only steers placement towards the plan.
    let mix = [
        ("1g.5gb", 0.30),
        ("1g.10gb", 0.10),
        ("2g.10gb", 0.20),
        ("3g.20gb", 0.20),
        ("4g.20gb", 0.10),
        ("7g.40gb", 0.10),
    ];
    let rate = 0.9 * 60.0 * 8.0 / 2.9;
    let (b, churn) = bounds(&mix, 60, rate);
    let plain = acceptance(&mix, 60, rate, 20_000, false);
    let admitted = acceptance(&mix, 60, rate, 20_000, true);
    assert!(
        admitted >= plain - 0.005,
        "admitted {admitted} vs plain {plain}"
    );
    assert!(churn <= b + 1e-3, "under churn {churn}, fluid {b}");
    assert!(
        admitted <= churn + 0.01,
        "{admitted} above the bound under churn {churn}"
    );
}
