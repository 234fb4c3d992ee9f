//! `gpupart mig checkpoint|restore`: the exact MIG state of a node in a file: each GPU's
//! identity (index and UUID), MIG mode, and GPU instances at their placements with their
//! compute instances, so that a restore brings back the same placements, not only the same
//! counts.

use std::path::Path;

use gpupart_mig::apply::{DesiredGpu, DesiredInstance};
use gpupart_mig::state::GpuState;
use gpupart_profiles::ProfileName;
use gpupart_profiles::text::quote;
use serde::{Deserialize, Serialize};

use crate::failure::Failure;
use crate::input::read_limited;

/// The format's version.
const VERSION: u32 = 1;
/// The most a checkpoint may hold.
const MAX_BYTES: u64 = 1 << 20;

/// A checkpoint file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Checkpoint {
    version: u32,
    gpus: Vec<SavedGpu>,
}

/// One MIG-capable GPU.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedGpu {
    gpu: u32,
    uuid: String,
    mig_enabled: bool,
    instances: Vec<SavedInstance>,
}

/// One GPU instance.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedInstance {
    profile: String,
    start: u8,
    compute: Vec<String>,
}

/// Writes the MIG-capable GPUs of `gpus` to `path`.
pub(crate) fn write(gpus: &[GpuState], path: &Path) -> Result<(), Failure> {
    let saved = Checkpoint {
        version: VERSION,
        gpus: gpus
            .iter()
            .filter(|g| g.mig.is_some())
            .map(|g| {
                let d = DesiredGpu::from_state(g);
                SavedGpu {
                    gpu: g.info.index,
                    uuid: g.info.uuid.clone(),
                    mig_enabled: d.mig_enabled,
                    instances: d
                        .instances
                        .iter()
                        .map(|i| SavedInstance {
                            profile: i.profile.to_string(),
                            start: i.start.unwrap_or_default(),
                            compute: i.compute.iter().map(ToString::to_string).collect(),
                        })
                        .collect(),
                }
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&saved)
        .map_err(|e| Failure::Failed(format!("cannot write the checkpoint: {e}")))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| Failure::Failed(format!("cannot write {}: {e}", path.display())))
}

/// Reads a checkpoint.
pub(crate) fn read(path: &Path) -> Result<Checkpoint, Failure> {
    let bad = |m: String| Failure::Input(format!("checkpoint {}: {m}", path.display()));
    let text = read_limited(path, MAX_BYTES).map_err(bad)?;
    from_text(&text).map_err(bad)
}

/// A checkpoint's text.
pub(crate) fn from_text(text: &str) -> Result<Checkpoint, String> {
    let c: Checkpoint = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if c.version != VERSION {
        return Err(format!("version {} (expected {VERSION})", c.version));
    }
    Ok(c)
}

fn profile(name: &str, gpu: u32) -> Result<ProfileName, Failure> {
    name.parse().map_err(|e| {
        Failure::Input(format!(
            "checkpoint GPU {gpu}: profile {}: {e}",
            quote(name)
        ))
    })
}

impl Checkpoint {
    /// The desired state it records, for this node's GPUs: each GPU must be there with the
    /// same UUID (a checkpoint of another node, or of GPUs since renumbered, is refused).
    pub(crate) fn desired(&self, gpus: &[GpuState]) -> Result<Vec<DesiredGpu>, Failure> {
        let mut out: Vec<DesiredGpu> = Vec::new();
        for s in &self.gpus {
            let Some(g) = gpus.iter().find(|g| g.info.index == s.gpu) else {
                return Err(Failure::Input(format!(
                    "checkpoint names GPU {}, which this node lacks ({} GPUs)",
                    s.gpu,
                    gpus.len()
                )));
            };
            if g.info.uuid != s.uuid {
                return Err(Failure::Input(format!(
                    "checkpoint GPU {} is {}, but GPU {} here is {}: a checkpoint of another node or another numbering",
                    s.gpu,
                    quote(&s.uuid),
                    s.gpu,
                    g.info.uuid
                )));
            }
            if out.iter().any(|d| d.gpu == s.gpu) {
                return Err(Failure::Input(format!(
                    "checkpoint names GPU {} twice",
                    s.gpu
                )));
            }
            let mut instances = Vec::new();
            for i in &s.instances {
                let compute = i
                    .compute
                    .iter()
                    .map(|c| profile(c, s.gpu))
                    .collect::<Result<Vec<_>, _>>()?;
                instances.push(
                    DesiredInstance::new(profile(&i.profile, s.gpu)?)
                        .at(i.start)
                        .with_compute(compute),
                );
            }
            out.push(DesiredGpu::new(s.gpu, s.mig_enabled, instances));
        }
        Ok(out)
    }
}
