//! What a GPU holds now, read through a [`Backend`] and tied to the catalog.

use gpupart_profiles::{ComputeInstanceProfile, GpuInstanceProfile, GpuModel, Placement, catalog};

use crate::Error;
use crate::backend::{Backend, GpuInfo, MigMode, NvmlCode};

/// A GPU instance as it is now.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstanceState {
    /// NVML's GPU instance ID.
    pub id: u32,
    /// Its profile.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::gi_profile"))]
    pub profile: &'static GpuInstanceProfile,
    /// Its placement.
    pub placement: Placement,
    /// Its compute instances: (ID, profile).
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::compute_list"))]
    pub compute: Vec<(u32, &'static ComputeInstanceProfile)>,
    /// Processes running in it.
    pub processes: Vec<u32>,
}

impl InstanceState {
    /// Whether processes run in it (then it is never destroyed without force).
    #[must_use]
    pub fn in_use(&self) -> bool {
        !self.processes.is_empty()
    }
}

/// A GPU as it is now.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GpuState {
    /// Identity.
    pub info: GpuInfo,
    /// The catalog model, when the board is MIG-capable and known.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::ser::model"))]
    pub model: Option<&'static GpuModel>,
    /// MIG mode; `None` when the GPU does not support MIG.
    pub mig: Option<MigMode>,
    /// GPU instances (empty with MIG off), by start slice.
    pub instances: Vec<InstanceState>,
}

impl GpuState {
    /// A one-line summary: `GPU 0 A100-40GB MIG on: 3g.20gb@0[3g.20gb] 1g.5gb@4[1g.5gb]`.
    #[must_use]
    pub fn summary(&self) -> String {
        let mode = match self.mig {
            None => "MIG not supported".to_owned(),
            Some(m) if m.reset_pending() => format!(
                "MIG {} (pending {} after reset)",
                if m.current { "on" } else { "off" },
                if m.pending { "on" } else { "off" }
            ),
            Some(m) => format!("MIG {}", if m.current { "on" } else { "off" }),
        };
        let mut s = format!(
            "GPU {} {} {mode}",
            self.info.index,
            self.model.map_or(self.info.name.as_str(), |m| m.name)
        );
        if !self.instances.is_empty() {
            s.push(':');
        }
        for x in &self.instances {
            let cis: Vec<String> = x.compute.iter().map(|(_, c)| c.name.to_string()).collect();
            s.push_str(&format!(
                " {}@{}[{}]{}",
                x.profile.name,
                x.placement.start,
                cis.join(","),
                if x.in_use() { "*" } else { "" }
            ));
        }
        s
    }

    /// The topology model of this GPU (in-use instances marked), for the solver.
    ///
    /// # Errors
    /// [`Error::NotMigCapable`] when the GPU has no catalog model.
    pub fn to_topology(&self) -> Result<gpupart_topology::Gpu, Error> {
        let model = self.model.ok_or(Error::NotMigCapable {
            gpu: self.info.index,
            name: self.info.name.clone(),
        })?;
        let mut g = gpupart_topology::Gpu::new(self.info.index, model)
            .with_mig(self.mig.is_some_and(|m| m.current));
        g.uuid = Some(self.info.uuid.clone());
        g.pci = self.info.pci;
        for x in &self.instances {
            g.add_instance(x.profile, x.placement.start, x.in_use())
                .map_err(|refusal| Error::Topology {
                    gpu: self.info.index,
                    refusal,
                })?;
        }
        Ok(g)
    }
}

/// The catalog model of a GPU, by PCI device (and subsystem) ID, then by NVML name.
#[must_use]
pub fn model_of(info: &GpuInfo) -> Option<&'static GpuModel> {
    catalog::model_by_pci_device_id(info.pci_device_id, info.pci_subsystem_id)
        .ok()
        .or_else(|| catalog::model_by_nvml_name(&info.name).ok())
}

/// Reads GPU `gpu`: identity, MIG mode, instances, compute instances and processes.
///
/// # Errors
/// NVML's errors; [`Error::UnknownProfileId`] when the driver reports a profile the catalog
/// lacks.
pub fn read_gpu(backend: &dyn Backend, gpu: u32) -> Result<GpuState, Error> {
    let info = backend.gpu(gpu)?;
    let model = model_of(&info);
    let mig = match backend.mig_mode(gpu) {
        Ok(m) => Some(m),
        Err(Error::Nvml {
            code: NvmlCode::NotSupported,
            ..
        }) => None,
        Err(e) => return Err(e),
    };
    let mut instances = Vec::new();
    if let (Some(model), Some(true)) = (model, mig.map(|m| m.current)) {
        {
            for gi in backend.gpu_instances(gpu)? {
                let profile = model.profile_by_nvml_id(gi.profile_id).map_err(|_| {
                    Error::UnknownProfileId {
                        gpu,
                        model: model.name,
                        id: gi.profile_id,
                    }
                })?;
                let mut compute = Vec::new();
                for ci in backend.compute_instances(gpu, gi.id)? {
                    let cp = profile
                        .compute_profiles
                        .iter()
                        .find(|c| c.nvml_index.as_u32() == ci.profile_index)
                        .ok_or(Error::UnknownProfileId {
                            gpu,
                            model: model.name,
                            id: ci.profile_index,
                        })?;
                    compute.push((ci.id, cp));
                }
                instances.push(InstanceState {
                    id: gi.id,
                    profile,
                    placement: gi.placement,
                    compute,
                    processes: backend.processes(gpu, gi.id)?,
                });
            }
        }
    }
    instances.sort_by_key(|x| x.placement.start);
    Ok(GpuState {
        info,
        model,
        mig,
        instances,
    })
}

/// Reads every GPU.
///
/// # Errors
/// As [`read_gpu`].
pub fn read_all(backend: &dyn Backend) -> Result<Vec<GpuState>, Error> {
    (0..backend.gpu_count()?)
        .map(|g| read_gpu(backend, g))
        .collect()
}

/// The GPU instances of `gpus` in the layout of `nvidia-smi mig -lgi`.
#[must_use]
pub fn lgi_table(gpus: &[GpuState]) -> String {
    let mut s = String::new();
    s.push_str("+-------------------------------------------------------+\n");
    s.push_str("| GPU instances:                                        |\n");
    s.push_str("| GPU   Name             Profile  Instance   Placement  |\n");
    s.push_str("|                          ID       ID       Start:Size |\n");
    s.push_str("|=======================================================|\n");
    for g in gpus {
        for x in &g.instances {
            s.push_str(&format!(
                "|  {:>2}   MIG {:<13} {:>3}      {:>3}         {}:{}     |\n",
                g.info.index,
                x.profile.name.to_string(),
                x.profile.nvml_id.unwrap_or(0),
                x.id,
                x.placement.start,
                x.placement.size
            ));
        }
    }
    s.push_str("+-------------------------------------------------------+\n");
    s
}

/// The compute instances of `gpus` in the layout of `nvidia-smi mig -lci`.
#[must_use]
pub fn lci_table(gpus: &[GpuState]) -> String {
    let mut s = String::new();
    s.push_str("+--------------------------------------------------------------------+\n");
    s.push_str("| Compute instances:                                                 |\n");
    s.push_str("| GPU     GPU       Name             Profile   Instance   Placement  |\n");
    s.push_str("|       Instance                       ID        ID       Start:Size |\n");
    s.push_str("|         ID                                                         |\n");
    s.push_str("|====================================================================|\n");
    for g in gpus {
        for x in &g.instances {
            let mut offset = 0u8;
            for (id, c) in &x.compute {
                s.push_str(&format!(
                    "|  {:>2}    {:>3}       MIG {:<14} {:>3}       {:>3}        {}:{}     |\n",
                    g.info.index,
                    x.id,
                    c.name.to_string(),
                    c.nvml_index.as_u32(),
                    id,
                    offset,
                    c.compute_slices
                ));
                offset += c.compute_slices;
            }
        }
    }
    s.push_str("+--------------------------------------------------------------------+\n");
    s
}
