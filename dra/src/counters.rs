//! KEP-4815 counters for one GPU, as NVIDIA's DRA driver names them
//! (`cmd/gpu-kubelet-plugin/partitions.go`): one counter set `gpu-<minor>-counter-set` per
//! GPU with a counter per capacity dimension (`multiprocessors`, `copy-engines`, `decoders`,
//! `encoders`, `jpeg-engines`, `ofa-engines`, `memory`, each the largest any profile has) and
//! one `memory-slice-<i>` counter of 1 per memory slice; a MIG device consumes its profile's
//! engines and memory and the memory slices of its placement.
//!
//! gpupart adds the counters of its one placement rule — `compute-slices`, `media-extensions`
//! (1: one media-extension instance a GPU) and `instances-<profile>` for each profile whose
//! instance limit can bind — and sizes the engine and memory counters so that they never
//! refuse what the GPU allows (NVIDIA's largest-profile totals where the catalog's data make
//! them so). Then the devices whose counters still fit are exactly the placements gpupart's
//! rule allows (`tests/counters.rs` checks it for every model of the catalog and any
//! occupancy). Counters are the driver's own business: DeviceClasses and claims select on
//! attributes, so the extra counters change nothing for them.

use std::collections::BTreeMap;

use gpupart_profiles::{GpuInstanceProfile, GpuModel, Placement};

/// The counters of one counter set or consumption, by name.
pub type Counters = BTreeMap<String, u64>;

/// The name of memory slice `i`'s counter.
#[must_use]
pub fn memory_slice_counter(i: u8) -> String {
    format!("memory-slice-{i}")
}

/// The counter set of GPU `minor` (`gpu-<minor>-counter-set`).
#[must_use]
pub fn counter_set_name(minor: u32) -> String {
    format!("gpu-{minor}-counter-set")
}

/// A profile's memory in bytes: the catalog's measured MiB, or the profile's share of the
/// card's nominal memory by memory slices where the catalog has no measurement.
#[must_use]
pub fn profile_memory_bytes(model: &GpuModel, p: &GpuInstanceProfile) -> u64 {
    let mib = p.memory_mib.map_or_else(
        || {
            u64::from(model.memory_gb) * 1024 * u64::from(p.memory_slices)
                / u64::from(model.memory_slices.max(1))
        },
        u64::from,
    );
    mib * 1024 * 1024
}

/// What a profile has of each capacity dimension (NVIDIA's capacity names, camel case), for
/// the device's `capacity`.
#[must_use]
pub fn capacities(model: &GpuModel, p: &GpuInstanceProfile) -> BTreeMap<&'static str, u64> {
    let mut c = BTreeMap::new();
    let mut put = |k: &'static str, v: Option<u64>| {
        if let Some(v) = v {
            c.insert(k, v);
        }
    };
    put("multiprocessors", p.sms.map(u64::from));
    put("copyEngines", p.copy_engines.map(u64::from));
    put("decoders", p.decoders.map(u64::from));
    put("encoders", p.encoders.map(u64::from));
    put("jpegEngines", p.jpeg.map(u64::from));
    put("ofaEngines", p.ofa.map(u64::from));
    put("memory", Some(profile_memory_bytes(model, p)));
    c
}

/// A capacity name as a counter name (`copyEngines` → `copy-engines`), as NVIDIA's driver
/// derives it.
#[must_use]
pub fn counter_name(capacity: &str) -> String {
    let mut out = String::with_capacity(capacity.len() + 4);
    for ch in capacity.chars() {
        if ch.is_ascii_uppercase() {
            out.push('-');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The counter of a profile's instance limit, for profiles whose limit can bind (fewer
/// instances allowed than it has placements).
#[must_use]
pub fn instance_counter(p: &GpuInstanceProfile) -> Option<String> {
    (usize::from(p.max_instances) < p.placements.len()).then(|| {
        format!(
            "instances-{}",
            crate::devices::profile_token(&p.name.to_string())
        )
    })
}

/// The counters a GPU of `model` offers: each capacity dimension at the largest value any
/// profile has (NVIDIA's rule) or, where larger, what no set of instances can exceed (so
/// engines never refuse what the GPU allows); its compute slices; its one set of media
/// extensions; the instance limit of each profile whose limit can bind; one counter per
/// memory slice.
#[must_use]
pub fn gpu_counters(model: &GpuModel) -> Counters {
    let mut out = Counters::new();
    let c_total = u64::from(model.compute_slices);
    let m_total = u64::from(model.memory_slices);
    for p in model.profiles {
        for (k, v) in capacities(model, p) {
            // Instances share compute slices (memory by memory slices): v per slice of the
            // profile, times the GPU's slices, bounds any sum.
            let (per, total) = if k == "memory" {
                (u64::from(p.memory_slices.max(1)), m_total)
            } else {
                (u64::from(p.compute_slices.max(1)), c_total)
            };
            let bound = (total * v).div_ceil(per);
            let e = out.entry(counter_name(k)).or_insert(0);
            *e = (*e).max(v).max(bound);
        }
        if let Some(name) = instance_counter(p) {
            out.insert(name, u64::from(p.max_instances));
        }
    }
    out.insert("compute-slices".to_owned(), c_total);
    out.insert("media-extensions".to_owned(), 1);
    for i in 0..model.memory_slices {
        out.insert(memory_slice_counter(i), 1);
    }
    out
}

/// The counters a MIG device of `p` at `placement` consumes.
#[must_use]
pub fn mig_consumption(model: &GpuModel, p: &GpuInstanceProfile, placement: Placement) -> Counters {
    let mut out: Counters = capacities(model, p)
        .into_iter()
        .map(|(k, v)| (counter_name(k), v))
        .collect();
    out.insert("compute-slices".to_owned(), u64::from(p.compute_slices));
    if p.name.attributes().has_media_extensions() {
        out.insert("media-extensions".to_owned(), 1);
    }
    if let Some(name) = instance_counter(p) {
        out.insert(name, 1);
    }
    for i in placement.start..placement.start.saturating_add(placement.size) {
        out.insert(memory_slice_counter(i), 1);
    }
    out
}

/// Whether `want` fits in what is `left`.
#[must_use]
pub fn fits(left: &Counters, want: &Counters) -> bool {
    want.iter()
        .all(|(k, v)| left.get(k).copied().unwrap_or(0) >= *v)
}

/// `left` less `used` (saturating).
pub fn consume(left: &mut Counters, used: &Counters) {
    for (k, v) in used {
        if let Some(x) = left.get_mut(k) {
            *x = x.saturating_sub(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpupart_profiles::catalog;

    #[test]
    fn names_as_nvidia_derives_them() {
        assert_eq!(counter_name("copyEngines"), "copy-engines");
        assert_eq!(counter_name("jpegEngines"), "jpeg-engines");
        assert_eq!(counter_name("memory"), "memory");
        assert_eq!(counter_set_name(3), "gpu-3-counter-set");
        let c = gpu_counters(&catalog::A100_40GB);
        assert_eq!(c["multiprocessors"], 98);
        assert_eq!(c["memory-slice-7"], 1);
        assert_eq!(c["instances-1g5gb-me"], 1);
        assert!(c.len() <= 32, "{}", c.len());
    }
}
