//! The GPU instance profiles a driver offers, in the layouts of `nvidia-smi mig -lgip` and
//! `-lgipp`, read through a [`Backend`] (the instances themselves: [`crate::state::lgi_table`]
//! and [`crate::state::lci_table`]).

use gpupart_profiles::GpuModel;

use crate::Error;
use crate::backend::{Backend, ProfileInfo};
use crate::state::model_of;

const RULE: &str =
    "+-------------------------------------------------------------------------------+\n";

/// The driver's profiles in nvidia-smi's order: by slices, then memory, then index.
fn profiles(backend: &dyn Backend, gpu: u32) -> Result<Vec<ProfileInfo>, Error> {
    let mut all = backend.gpu_instance_profiles(gpu)?;
    all.sort_by_key(|p| (p.slice_count, p.memory_mib, p.index));
    Ok(all)
}

/// The profile's catalog name on `model`, or `id N` for one the catalog lacks.
fn name(model: Option<&GpuModel>, p: &ProfileInfo) -> String {
    model
        .and_then(|m| m.profile_by_nvml_id(p.id).ok())
        .map_or_else(|| format!("id {}", p.id), |x| x.name.to_string())
}

/// `nvidia-smi mig -lgip` for `gpus`: per profile its ID, free and total instances, memory,
/// P2P and engines, as the driver reports them.
///
/// # Errors
/// NVML's errors.
#[doc(alias = "nvmlDeviceGetGpuInstanceProfileInfo")]
pub fn lgip_table(backend: &dyn Backend, gpus: &[u32]) -> Result<String, Error> {
    let mut s = String::from(RULE);
    s.push_str(
        "| GPU instance profiles:                                                        |\n",
    );
    s.push_str(
        "| GPU   Name               ID    Instances   Memory     P2P    SM    DEC   ENC  |\n",
    );
    s.push_str(
        "|                                Free/Total   GiB              CE    JPEG  OFA  |\n",
    );
    s.push_str(
        "|===============================================================================|\n",
    );
    for &gpu in gpus {
        let model = model_of(&backend.gpu(gpu)?);
        for p in profiles(backend, gpu)? {
            let free = backend.remaining_capacity(gpu, p.id)?;
            // Memory in GiB as the driver's MiB, two decimals (nvidia-smi's rounding).
            #[allow(clippy::cast_precision_loss)]
            let gib = p.memory_mib as f64 / 1024.0;
            s.push_str(&format!(
                "|{gpu:>4}  MIG {:<16}{:>2}     {:<11}{:<11}{:<7}{:<7}{:<6}{:<4}|\n",
                name(model, &p),
                p.id,
                format!("{free}/{}", p.instance_count),
                format!("{gib:.2}"),
                if p.p2p { "Yes" } else { "No" },
                p.multiprocessor_count,
                p.decoder_count,
                p.encoder_count,
            ));
            s.push_str(&format!(
                "|{:61}{:>3}{:<5}{:<6}{:<4}|\n",
                "", p.copy_engine_count, "", p.jpeg_count, p.ofa_count,
            ));
            s.push_str(RULE);
        }
    }
    Ok(s)
}

/// `nvidia-smi mig -lgipp` for `gpus`: every legal placement of each profile.
///
/// # Errors
/// NVML's errors.
#[doc(alias = "nvmlDeviceGetGpuInstancePossiblePlacements_v2")]
pub fn lgipp_table(backend: &dyn Backend, gpus: &[u32]) -> Result<String, Error> {
    let mut s = String::new();
    for &gpu in gpus {
        for p in profiles(backend, gpu)? {
            let placements = backend.possible_placements(gpu, p.id)?;
            let starts: Vec<String> = placements.iter().map(|x| x.start.to_string()).collect();
            let size = placements.first().map_or(0, |x| x.size);
            s.push_str(&format!(
                "GPU {gpu:>2} Profile ID {:>2} {}: {{{}}}:{size}\n",
                p.id,
                if placements.len() == 1 {
                    "Placement "
                } else {
                    "Placements"
                },
                starts.join(","),
            ));
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimulatedNvml;

    use crate::SimGpu;
    use gpupart_profiles::catalog;

    /// The simulated H100 and H200 print what the real ones printed (profiles/golden,
    /// driver 580.159.04, MIG off).
    #[test]
    fn simulated_gpus_match_the_real_driver_output() {
        for (model, dir) in [
            (&catalog::H100_SXM_80GB, "h100-80gb-hbm3"),
            (&catalog::H200_141GB, "h200-141gb"),
        ] {
            let node = SimulatedNvml::new(vec![SimGpu::new(model)]);
            let golden = |f: &str| {
                std::fs::read_to_string(
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("../profiles/golden")
                        .join(dir)
                        .join(f),
                )
                .unwrap()
            };
            assert_eq!(
                lgip_table(&node, &[0]).unwrap(),
                golden("nvidia-smi-mig-lgip.txt"),
                "{dir}"
            );
            assert_eq!(
                lgipp_table(&node, &[0]).unwrap(),
                golden("nvidia-smi-mig-lgipp.txt"),
                "{dir}"
            );
        }
    }
}
