//! Online placement for a known workload: 16 A100-40GB, requests for 1g.5gb, 2g.10gb and
//! 7g.40gb arriving faster than the fleet can serve. `Online::admit` solves the long-run
//! LP: its bounds (no placer accepts more in the long run) and the caps it sets; then a seeded
//! stream of arrivals and departures is placed with and without it.
//!
//! ```text
//! cargo run --example admit
//! ```
use gpupart::profiles::ProfileName;
use gpupart::profiles::catalog::A100_40GB;
use gpupart::topology::online::Load;
use gpupart::topology::{Error, Fleet, Online};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Requests per hour and the hours each instance stays: 40 1g, 20 2g and 8 7g in
    // service on average if all were admitted, more than 16 GPUs hold.
    let workload = [
        ("1g.5gb", 20.0, 2.0),
        ("2g.10gb", 10.0, 2.0),
        ("7g.40gb", 2.0, 4.0),
    ];
    let mut loads = Vec::new();
    for (name, rate, hours) in workload {
        loads.push(Load::new(name.parse()?, rate, hours)?);
    }
    let mut admitted = Online::new(Fleet::uniform(&A100_40GB, 16));
    let a = admitted.admit(&loads)?;
    let churn = a.bound_under_churn(2000, 1);
    println!(
        "long-run bound: {:.1} % of requests (fluid), {:.1} % ± {:.1} under churn",
        100.0 * a.bound(),
        100.0 * churn.mean,
        100.0 * churn.std_error
    );
    for s in &a.shares {
        let cap = s.cap.map_or("none".to_string(), |c| c.to_string());
        println!(
            "  {:<8} offered {:>5.1} in service, the optimum keeps {:>5.1}; cap {cap}",
            s.profile.to_string(),
            s.offered,
            s.admitted
        );
    }
    let names: Vec<ProfileName> = loads.iter().map(|l| l.profile).collect();
    let mut plain = Online::new(Fleet::uniform(&A100_40GB, 16));
    plain.expect(&names);
    for (label, online) in [
        ("admit whatever fits", &mut plain),
        ("admitted", &mut admitted),
    ] {
        let (got, total) = run(online, &loads)?;
        println!("{label:>20}: {got} of {total} requests placed");
    }
    Ok(())
}

/// A seeded stream of 4,000 arrivals (Poisson, exponential lifetimes): placed of arrived.
fn run(online: &mut Online, loads: &[Load]) -> Result<(u32, u32), Error> {
    let mut state = 42u64;
    let mut unit = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let rate: f64 = loads.iter().map(|l| l.rate).sum();
    let (mut t, mut got) = (0.0, 0u32);
    let mut live: Vec<(f64, u32, u8)> = Vec::new();
    for _ in 0..4000 {
        t += -(1.0 - unit()).ln() / rate;
        live.sort_by(|a, b| b.0.total_cmp(&a.0));
        while let Some(&(end, gpu, start)) = live.last() {
            if end > t {
                break;
            }
            live.pop();
            online.release(gpu, start)?;
        }
        let mut pick = unit() * rate;
        let load = loads
            .iter()
            .find(|l| {
                pick -= l.rate;
                pick < 0.0
            })
            .unwrap_or(&loads[loads.len() - 1]);
        match online.place(&load.profile, None) {
            Ok(p) => {
                got += 1;
                let life = -(1.0 - unit()).ln() * load.mean_life;
                live.push((t + life, p.gpu, p.instance.start));
            }
            Err(Error::NoRoom { .. } | Error::Withheld { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((got, 4000))
}
