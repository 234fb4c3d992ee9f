//! One simulated GPU: its model, PCI identity, MIG mode and instances.

use std::collections::BTreeMap;

use gpupart_profiles::{GpuModel, Placement};
use gpupart_sriov::PciAddress;
use gpupart_topology::Occupancy;

use crate::backend::MigMode;

/// One simulated GPU.
#[derive(Debug, Clone)]
pub struct SimGpu {
    pub(super) name: String,
    pub(super) model: Option<&'static GpuModel>,
    pub(super) pci_device_id: u32,
    pub(super) pci_subsystem_id: Option<u32>,
    pub(super) pci: Option<PciAddress>,
    pub(super) mode: MigMode,
    pub(super) needs_reset: bool,
    /// Processes run outside MIG: a mode change cannot unbind the device.
    pub(super) busy: bool,
    pub(super) instances: BTreeMap<u32, SimGi>,
}

#[derive(Debug, Clone)]
pub(super) struct SimGi {
    pub(super) profile_slot: usize,
    pub(super) placement: Placement,
    pub(super) compute: BTreeMap<u32, u32>,
    pub(super) processes: Vec<u32>,
}

impl SimGpu {
    /// A MIG-capable GPU of `model` (its first board), MIG off, mode changes pending until a
    /// reset.
    #[must_use]
    pub fn new(model: &'static GpuModel) -> Self {
        let board = model.boards.first();
        SimGpu {
            name: board
                .and_then(|b| b.nvml_name)
                .map_or_else(|| format!("NVIDIA {}", model.name), str::to_owned),
            model: Some(model),
            pci_device_id: board.map_or(0, |b| b.pci_device_id.combined()),
            pci_subsystem_id: board
                .and_then(|b| b.pci_subsystem_id)
                .map(|id| id.combined()),
            pci: None,
            mode: MigMode::new(false, false),
            needs_reset: true,
            busy: false,
            instances: BTreeMap::new(),
        }
    }

    /// A GPU without MIG (NVML answers NOT_SUPPORTED), e.g. `NVIDIA L4`, 0x27B810DE.
    #[must_use]
    pub fn without_mig(name: &str, pci_device_id: u32) -> Self {
        SimGpu {
            name: name.to_owned(),
            model: None,
            pci_device_id,
            pci_subsystem_id: None,
            pci: None,
            mode: MigMode::new(false, false),
            needs_reset: true,
            busy: false,
            instances: BTreeMap::new(),
        }
    }

    /// Reports this PCI device ID (another board of the same model).
    #[must_use]
    pub fn with_pci_device_id(mut self, id: u32) -> Self {
        self.pci_device_id = id;
        self
    }

    /// Reports this PCI subsystem ID (`0x16C010DE`: subsystem device, then vendor).
    #[must_use]
    pub fn with_pci_subsystem_id(mut self, id: u32) -> Self {
        self.pci_subsystem_id = Some(id);
        self
    }

    /// MIG on from the start.
    #[must_use]
    pub fn mig_enabled(mut self) -> Self {
        self.mode = MigMode::new(true, true);
        self
    }

    /// Whether a MIG mode change waits for a reset (A100: yes; on Hopper an idle GPU switches
    /// at once).
    #[must_use]
    pub fn mode_needs_reset(mut self, needs: bool) -> Self {
        self.needs_reset = needs;
        self
    }

    /// Processes run on the GPU outside MIG, so NVML cannot unbind it to change the mode
    /// (`activationStatus` IN_USE) until they stop.
    #[must_use]
    pub fn busy(mut self, busy: bool) -> Self {
        self.busy = busy;
        self
    }

    /// The PCI address.
    #[must_use]
    pub fn at(mut self, pci: PciAddress) -> Self {
        self.pci = Some(pci);
        self
    }

    pub(super) fn occupancy(&self) -> Option<Occupancy> {
        let model = self.model?;
        let mut occ = Occupancy::new(model);
        for gi in self.instances.values() {
            occ.add(&model.profiles[gi.profile_slot], gi.placement.start)
                .ok()?;
        }
        Some(occ)
    }
}
