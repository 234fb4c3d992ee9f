//! The host a command works on: NVML, or a simulated node whose state can live in a file so
//! that a sequence of commands sees one host.

use std::path::{Path, PathBuf};

use gpupart_mig::{Backend, NvmlBackend, NvmlCode, SimulatedNvml};
use serde::{Deserialize, Serialize};

use crate::args::{Cli, SimHost};
use crate::failure::Failure;
use crate::input::read_limited;

/// The most a state file may hold; a larger one is refused before it is read.
const MAX_STATE_BYTES: u64 = 1 << 20;
/// The state file's format version.
const STATE_VERSION: u32 = 1;

/// An opened host.
pub(crate) enum Host {
    /// libnvidia-ml.
    Nvml(Box<NvmlBackend>),
    /// A simulated node, saved to `state` (when given) after each command.
    Sim {
        /// The node.
        nvml: SimulatedNvml,
        /// Its preset.
        preset: SimHost,
        /// Where its state lives.
        state: Option<PathBuf>,
        /// The SR-IOV side of the simulated host, as the file keeps it (see `sriov_state`).
        sriov: Option<serde_json::Value>,
        /// The simulated sysfs, linked to `nvml`, holding `sriov`.
        sysfs: Option<gpupart_sriov::Sysfs>,
    },
}

/// A simulated host as kept in a state file: the preset and what each GPU holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedHost {
    version: u32,
    host: String,
    gpus: Vec<Option<SavedGpu>>,
    /// The SR-IOV simulator's state, kept by `gpupart sriov|vgpu` (`crate::sriov_state`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sriov: Option<serde_json::Value>,
}

/// One MIG-capable GPU (`None` in the list: a GPU without MIG).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedGpu {
    mig_current: bool,
    mig_pending: bool,
    instances: Vec<SavedInstance>,
}

/// A GPU instance: NVML profile ID, start slice, compute instance profile indices.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedInstance {
    profile_id: u32,
    start: u8,
    compute: Vec<u32>,
}

fn preset_name(p: SimHost) -> String {
    p.to_string()
}

fn preset_by_name(name: &str) -> Option<SimHost> {
    SimHost::parse(name).ok()
}

fn build(p: SimHost) -> SimulatedNvml {
    match p {
        SimHost::DgxA100 => SimulatedNvml::dgx_a100(),
        SimHost::HgxH100 => SimulatedNvml::hgx_h100(),
        SimHost::Mixed => SimulatedNvml::mixed(),
        SimHost::GpuHost(n) => SimulatedNvml::new(
            (0..n)
                .map(|_| gpupart_mig::SimGpu::new(&gpupart_profiles::catalog::A100_40GB))
                .collect(),
        ),
    }
}

/// The simulated sysfs of `preset` (A100 hosts under mdev, the H100 host under NVIDIA's
/// vendor interface; none for `mixed`), linked to `nvml` as one driver serves both, with the
/// SR-IOV state `saved` replayed through the calls a user makes.
fn linked_sysfs(
    preset: SimHost,
    nvml: &SimulatedNvml,
    saved: Option<&serde_json::Value>,
) -> Result<Option<gpupart_sriov::Sysfs>, Failure> {
    use gpupart_sriov::SimulatedSysfs;
    let sim = match preset {
        SimHost::DgxA100 => SimulatedSysfs::gpu_host(8),
        SimHost::GpuHost(n) => SimulatedSysfs::gpu_host(n),
        SimHost::HgxH100 => SimulatedSysfs::h100_host(8),
        SimHost::Mixed => return Ok(None),
    };
    nvml.link_sysfs(&sim);
    let sysfs = gpupart_sriov::Sysfs::simulated(sim);
    if let Some(v) = saved {
        crate::sriov_state::replay(&sysfs, v).map_err(|f| f.context("sim state"))?;
    }
    Ok(Some(sysfs))
}

impl Host {
    /// Opens the host the arguments name.
    pub(crate) fn open(cli: &Cli) -> Result<Host, Failure> {
        match (&cli.sim_state, cli.sim) {
            (None, None) => NvmlBackend::init().map(|n| Host::Nvml(Box::new(n))).map_err(|e| {
                Failure::Failed(format!(
                    "{e}; to try gpupart without a GPU, pass --sim hgx-h100 (or dgx-a100, mixed)"
                ))
            }),
            (None, Some(preset)) => {
                let nvml = build(preset);
                let sysfs = linked_sysfs(preset, &nvml, None)?;
                Ok(Host::Sim {
                    nvml,
                    preset,
                    state: None,
                    sriov: None,
                    sysfs,
                })
            }
            (Some(path), sim) => {
                if path.exists() {
                    let nvml_preset = load(path)
                        .map_err(|f| f.context(&format!("sim state {}", path.display())))?;
                    if let Some(asked) = sim.filter(|s| *s != nvml_preset.1) {
                        return Err(Failure::Input(format!(
                            "--sim {} differs from the host in {} ({}); drop --sim or use another state file",
                            preset_name(asked),
                            path.display(),
                            preset_name(nvml_preset.1)
                        )));
                    }
                    let sysfs = linked_sysfs(nvml_preset.1, &nvml_preset.0, nvml_preset.2.as_ref())?;
                    Ok(Host::Sim {
                        nvml: nvml_preset.0,
                        preset: nvml_preset.1,
                        state: Some(path.clone()),
                        sriov: nvml_preset.2,
                        sysfs,
                    })
                } else {
                    let preset = sim.ok_or_else(|| {
                        Failure::Input(format!(
                            "sim state {} does not exist; pass --sim HOST to create it",
                            path.display()
                        ))
                    })?;
                    let nvml = build(preset);
                    let sysfs = linked_sysfs(preset, &nvml, None)?;
                    Ok(Host::Sim {
                        nvml,
                        preset,
                        state: Some(path.clone()),
                        sriov: None,
                        sysfs,
                    })
                }
            }
        }
    }

    /// The simulated preset and the SR-IOV state kept for it (`None` for NVML).
    pub(crate) fn sim(&self) -> Option<(SimHost, Option<&serde_json::Value>)> {
        match self {
            Host::Nvml(_) => None,
            Host::Sim { preset, sriov, .. } => Some((*preset, sriov.as_ref())),
        }
    }

    /// The simulated sysfs beside the simulated NVML (linked to it, with the SR-IOV state of
    /// the state file), for presets with one.
    pub(crate) fn simulated_sysfs(&self) -> Option<&gpupart_sriov::Sysfs> {
        match self {
            Host::Sim { sysfs, .. } => sysfs.as_ref(),
            Host::Nvml(_) => None,
        }
    }

    /// Replaces the SR-IOV state kept with a simulated host (written by [`Host::save`]).
    pub(crate) fn set_sriov(&mut self, value: serde_json::Value) {
        if let Host::Sim { sriov, .. } = self {
            *sriov = Some(value);
        }
    }

    /// The NVML interface.
    pub(crate) fn backend(&self) -> &dyn Backend {
        match self {
            Host::Nvml(n) => n.as_ref(),
            Host::Sim { nvml, .. } => nvml,
        }
    }

    /// The lock file for applies: the library's default on a real host, one beside the state
    /// file on a simulated one (none without a state file).
    pub(crate) fn lock_path(&self) -> Option<PathBuf> {
        match self {
            Host::Nvml(_) => gpupart_mig::apply::ApplyOptions::default().lock_path,
            Host::Sim { state, .. } => state.as_ref().map(|p| p.with_extension("lock")),
        }
    }

    /// Resets GPU `gpu` so that its pending MIG mode takes effect. Only the simulator does it
    /// here: gpupart does not reset a real GPU, whose reset is the administrator's call
    /// (`nvidia-smi -r -i N` with its clients stopped).
    pub(crate) fn reset(&self, gpu: u32) -> Result<(), Failure> {
        match self {
            Host::Sim { nvml, .. } => nvml.reset(gpu).map_err(Failure::from),
            Host::Nvml(_) => Err(Failure::Failed(format!(
                "GPU {gpu} needs a reset for its MIG mode to take effect; gpupart does not reset a real GPU: stop its clients, run `nvidia-smi -r -i {gpu}` and apply again (or pass -s/--skip-reset)"
            ))),
        }
    }

    /// Writes a simulated host's state to its file (nothing for NVML or without a file).
    pub(crate) fn save(&self) -> Result<(), Failure> {
        let Host::Sim {
            nvml,
            preset,
            state: Some(path),
            sriov,
            ..
        } = self
        else {
            return Ok(());
        };
        let mut saved = snapshot(nvml, *preset)?;
        saved.sriov.clone_from(sriov);
        let text = serde_json::to_string_pretty(&saved)
            .map_err(|e| Failure::Failed(format!("cannot write the sim state: {e}")))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text + "\n")
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Failure::Failed(format!("cannot write {}: {e}", path.display())))
    }
}

/// What the simulated node holds, read through NVML's interface.
fn snapshot(nvml: &SimulatedNvml, preset: SimHost) -> Result<SavedHost, Failure> {
    let mut gpus = Vec::new();
    for gpu in 0..nvml.gpu_count()? {
        let mode = match nvml.mig_mode(gpu) {
            Ok(m) => m,
            Err(gpupart_mig::Error::Nvml {
                code: NvmlCode::NotSupported,
                ..
            }) => {
                gpus.push(None);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut instances = Vec::new();
        for gi in nvml.gpu_instances(gpu)? {
            let compute = nvml
                .compute_instances(gpu, gi.id)?
                .into_iter()
                .map(|c| c.profile_index)
                .collect();
            instances.push(SavedInstance {
                profile_id: gi.profile_id,
                start: gi.placement.start,
                compute,
            });
        }
        gpus.push(Some(SavedGpu {
            mig_current: mode.current,
            mig_pending: mode.pending,
            instances,
        }));
    }
    Ok(SavedHost {
        version: STATE_VERSION,
        host: preset_name(preset),
        gpus,
        sriov: None,
    })
}

/// Reads a state file and rebuilds its node through NVML's interface, so that the simulator
/// refuses a state no host could reach.
#[allow(clippy::type_complexity)]
fn load(path: &Path) -> Result<(SimulatedNvml, SimHost, Option<serde_json::Value>), Failure> {
    let text = read_limited(path, MAX_STATE_BYTES).map_err(|m| {
        Failure::Input(if m.starts_with("larger") {
            format!("{m}; not a gpupart state file")
        } else {
            m
        })
    })?;
    load_text(&text)
}

/// A state file's text, replayed into a fresh simulated node (its SR-IOV side is replayed
/// when a sysfs is opened).
#[allow(clippy::type_complexity)]
pub(crate) fn load_text(
    text: &str,
) -> Result<(SimulatedNvml, SimHost, Option<serde_json::Value>), Failure> {
    let saved: SavedHost =
        serde_json::from_str(text).map_err(|e| Failure::Input(format!("not a state file: {e}")))?;
    if saved.version != STATE_VERSION {
        return Err(Failure::Input(format!(
            "version {} (expected {STATE_VERSION})",
            saved.version
        )));
    }
    let preset = preset_by_name(&saved.host).ok_or_else(|| {
        Failure::Input(format!(
            "host {} (expected dgx-a100, hgx-h100, mixed or gpu-host:N)",
            gpupart_profiles::text::quote(&saved.host)
        ))
    })?;
    let nvml = build(preset);
    let count = nvml.gpu_count()?;
    if saved.gpus.len() != count as usize {
        return Err(Failure::Input(format!(
            "{} GPUs (expected {count} for {})",
            saved.gpus.len(),
            preset_name(preset)
        )));
    }
    for (gpu, g) in (0..count).zip(&saved.gpus) {
        let Some(g) = g else { continue };
        replay(&nvml, gpu, g).map_err(|f| f.context(&format!("GPU {gpu}")))?;
    }
    Ok((nvml, preset, saved.sriov))
}

fn replay(nvml: &SimulatedNvml, gpu: u32, g: &SavedGpu) -> Result<(), Failure> {
    let refuse = |e: gpupart_mig::Error| Failure::Input(e.to_string());
    if g.mig_current {
        nvml.set_mig_mode(gpu, true).map_err(refuse)?;
        if !nvml.mig_mode(gpu).map_err(refuse)?.current {
            nvml.reset(gpu).map_err(refuse)?;
        }
    }
    if g.mig_pending != g.mig_current {
        nvml.set_mig_mode(gpu, g.mig_pending).map_err(refuse)?;
    }
    if !g.mig_current && !g.instances.is_empty() {
        return Err(Failure::Input("GPU instances with MIG off".to_owned()));
    }
    for i in &g.instances {
        let gi = nvml
            .create_gpu_instance(gpu, i.profile_id, i.start)
            .map_err(refuse)?;
        for &c in &i.compute {
            nvml.create_compute_instance(gpu, gi.id, c)
                .map_err(refuse)?;
        }
    }
    Ok(())
}
