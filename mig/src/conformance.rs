//! A conformance suite of read-only scenarios: the same questions put to any [`Backend`], and
//! the answers written down in one line each, so that the simulator's answers can be held to a
//! real driver's (golden data in `mig/golden/conformance-*.txt`, recorded on real GPUs with
//! MIG disabled).
//!
//! Every call here only reads: no MIG mode change, no instance created or destroyed.

use crate::backend::{Backend, MAX_PROFILE_INDEX};
use crate::{Error, NvmlCode};

/// One question and the backend's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The call, with its arguments (`gpu_instance_profile_info(gpu 0, index 7)`).
    pub call: String,
    /// The answer: the value, or the NVML code's name.
    pub answer: String,
}

fn answer<T>(r: Result<T, Error>, show: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => show(v),
        Err(Error::Nvml { code, .. }) => code.name(),
        Err(e) => format!("error: {e}"),
    }
}

/// A profile ID no driver uses, for the "unknown profile" questions.
const NO_SUCH_PROFILE_ID: u32 = 999;

/// Asks `backend` every read-only question about GPU `gpu` and about the index past the last
/// GPU: identity (without UUID and PCI address, which differ per host), MIG mode, every GPU
/// instance profile index until the driver ends the enumeration, each profile's placements
/// and remaining capacity, an unknown profile ID, the GPU instances, compute instances of an
/// absent GPU instance, and processes.
///
/// # Errors
/// Never: every answer, an error too, is an observation.
#[must_use]
pub fn run(backend: &dyn Backend, gpu: u32) -> Vec<Observation> {
    let mut out = Vec::new();
    let mut ask = |call: String, answer: String| out.push(Observation { call, answer });
    let count = backend.gpu_count();
    ask(
        "gpu_count()".to_owned(),
        answer(count.clone(), |n| n.to_string()),
    );
    ask(
        format!("gpu(gpu {gpu})"),
        answer(backend.gpu(gpu), |g| {
            format!(
                "name {:?}, device 0x{:08X}, subsystem {}",
                g.name,
                g.pci_device_id,
                g.pci_subsystem_id
                    .map_or_else(|| "none".to_owned(), |s| format!("0x{s:08X}"))
            )
        }),
    );
    if let Ok(n) = count {
        ask(
            "gpu(past the last)".to_owned(),
            answer(backend.gpu(n), |g| g.name),
        );
        ask(
            "mig_mode(past the last)".to_owned(),
            answer(backend.mig_mode(n), |m| format!("{m:?}")),
        );
    }
    ask(
        format!("mig_mode(gpu {gpu})"),
        answer(backend.mig_mode(gpu), |m| {
            format!("current {}, pending {}", m.current, m.pending)
        }),
    );
    let mut ids = Vec::new();
    for index in 0..MAX_PROFILE_INDEX {
        let r = backend.gpu_instance_profile_info(gpu, index);
        let end = matches!(
            r,
            Err(Error::Nvml {
                code: NvmlCode::InvalidArgument,
                ..
            })
        );
        if let Ok(p) = &r {
            ids.push(p.id);
        }
        ask(
            format!("gpu_instance_profile_info(gpu {gpu}, index {index})"),
            answer(r, |p| {
                format!(
                    "id {}, slices {}, instances {}, SMs {}, CE {}, DEC {}, ENC {}, JPEG {}, OFA {}, MiB {}, P2P {}",
                    p.id,
                    p.slice_count,
                    p.instance_count,
                    p.multiprocessor_count,
                    p.copy_engine_count,
                    p.decoder_count,
                    p.encoder_count,
                    p.jpeg_count,
                    p.ofa_count,
                    p.memory_mib,
                    p.p2p
                )
            }),
        );
        if end {
            break;
        }
    }
    ids.push(NO_SUCH_PROFILE_ID);
    for id in ids {
        ask(
            format!("possible_placements(gpu {gpu}, profile {id})"),
            answer(backend.possible_placements(gpu, id), |v| {
                let s: Vec<String> = v.iter().map(ToString::to_string).collect();
                format!("[{}]", s.join(" "))
            }),
        );
        ask(
            format!("remaining_capacity(gpu {gpu}, profile {id})"),
            answer(backend.remaining_capacity(gpu, id), |n| n.to_string()),
        );
    }
    ask(
        format!("gpu_instances(gpu {gpu})"),
        answer(backend.gpu_instances(gpu), |v| {
            format!("{} instances", v.len())
        }),
    );
    ask(
        format!("compute_instances(gpu {gpu}, gpu instance 1)"),
        answer(backend.compute_instances(gpu, 1), |v| {
            format!("{} instances", v.len())
        }),
    );
    ask(
        format!("processes(gpu {gpu}, gpu instance 1)"),
        answer(backend.processes(gpu, 1), |v| {
            format!("{} processes", v.len())
        }),
    );
    out
}

/// The observations as text, one `call => answer` a line.
#[must_use]
pub fn render(observations: &[Observation]) -> String {
    observations
        .iter()
        .map(|o| format!("{} => {}\n", o.call, o.answer))
        .collect()
}
