//! The parts a simulated host is built from: drivers, SR-IOV capabilities, mdev types and PCI
//! functions.

use super::*;

/// A driver the simulated kernel knows.
#[derive(Debug, Clone)]
pub struct SimDriver {
    pub(super) name: String,
    pub(super) sriov_configure: bool,
    pub(super) ids: Vec<(u16, u16)>,
    pub(super) probe_fails: bool,
}

impl SimDriver {
    /// A driver called `name` that binds to no device by ID and cannot configure SR-IOV.
    #[must_use]
    pub fn new(name: &str) -> Self {
        SimDriver {
            name: name.to_owned(),
            sriov_configure: false,
            ids: Vec::new(),
            probe_fails: false,
        }
    }

    /// The driver implements `sriov_configure`.
    #[must_use]
    pub fn sriov_configure(mut self) -> Self {
        self.sriov_configure = true;
        self
    }

    /// The driver's ID table: `(vendor, device)`, device `0xffff` for any.
    #[must_use]
    pub fn ids(mut self, ids: &[(u16, u16)]) -> Self {
        self.ids = ids.to_vec();
        self
    }

    /// The driver's probe of a VF fails (the VF stays unbound), as `nvme` does on a VF with
    /// no secondary controller online.
    #[must_use]
    pub fn probe_fails(mut self) -> Self {
        self.probe_fails = true;
        self
    }

    pub(super) fn matches(&self, vendor: u16, device: u16) -> bool {
        self.ids
            .iter()
            .any(|&(v, d)| v == vendor && (d == 0xffff || d == device))
    }
}

/// SR-IOV capability of a simulated physical function.
#[derive(Debug, Clone)]
pub struct SimSriov {
    pub(super) total_vfs: u16,
    pub(super) offset: u16,
    pub(super) stride: u16,
    pub(super) vf_device: u16,
    /// VFs whose BARs fit in the bridge's MMIO window; more → ENOMEM.
    pub(super) mmio_vfs: u16,
    /// The driver enables at most this many, and still reports success.
    pub(super) driver_limit: Option<u16>,
    pub(super) vf_vgpu_types: Vec<SimVgpuType>,
    pub(super) vf_mdev_types: Vec<SimMdevType>,
}

impl SimSriov {
    /// `total_vfs` VFs at routing-ID offset `offset` and stride `stride`, VF device ID
    /// `vf_device`.
    #[must_use]
    pub fn new(total_vfs: u16, offset: u16, stride: u16, vf_device: u16) -> Self {
        SimSriov {
            total_vfs,
            offset,
            stride,
            vf_device,
            mmio_vfs: total_vfs,
            driver_limit: None,
            vf_vgpu_types: Vec::new(),
            vf_mdev_types: Vec::new(),
        }
    }

    /// Only `n` VFs' BARs fit: asking for more fails with ENOMEM (the `pci=realloc` case).
    #[must_use]
    pub fn mmio_for(mut self, n: u16) -> Self {
        self.mmio_vfs = n;
        self
    }

    /// The PF driver enables at most `n` VFs and still returns success.
    #[must_use]
    pub fn driver_enables_at_most(mut self, n: u16) -> Self {
        self.driver_limit = Some(n);
        self
    }

    /// Each VF is an mdev parent offering these types (an A100's VFs under the mdev
    /// framework: one vGPU per VF, so each type's `max_instances` is 1).
    #[must_use]
    pub fn vf_mdev_types(mut self, types: Vec<SimMdevType>) -> Self {
        self.vf_mdev_types = types;
        self
    }

    /// Each VF offers these vGPU types through NVIDIA's vendor-specific interface.
    #[must_use]
    pub fn vf_vgpu_types(mut self, types: Vec<SimVgpuType>) -> Self {
        self.vf_vgpu_types = types;
        self
    }
}

/// An mdev type a simulated parent offers.
#[derive(Debug, Clone)]
pub struct SimMdevType {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) max_instances: u32,
    pub(super) rules: Option<SimVgpuType>,
}

impl SimMdevType {
    /// Type directory `id` (`nvidia-471`) named `name`, at most `max_instances` on the parent.
    #[must_use]
    pub fn new(id: &str, name: &str, max_instances: u32) -> Self {
        SimMdevType {
            id: id.to_owned(),
            name: name.to_owned(),
            max_instances,
            rules: None,
        }
    }

    /// The vGPU type behind it: its instances then count against the physical GPU's rules
    /// (limits, one size, framebuffer, GPU instances) together with every sibling's.
    #[must_use]
    pub fn vgpu(mut self, rules: SimVgpuType) -> Self {
        self.rules = Some(rules);
        self
    }
}

/// A simulated mdev.
#[derive(Debug, Clone)]
pub(super) struct SimMdev {
    pub(super) parent: PciAddress,
    pub(super) mdev_type: String,
    /// The GPU instance a MIG-backed one runs on.
    pub(super) gpu_instance: Option<u32>,
    /// The framebuffer placement a time-sliced one occupies.
    pub(super) placement: Option<u32>,
}

/// A simulated PCI function.
#[derive(Debug, Clone)]
pub struct SimDevice {
    pub(super) address: PciAddress,
    pub(super) vendor: u16,
    pub(super) device: u16,
    pub(super) subsystem: (u16, u16),
    pub(super) class: u32,
    pub(super) numa_node: Option<u32>,
    pub(super) cpulist: String,
    pub(super) iommu_group: Option<u32>,
    pub(super) driver: Option<String>,
    pub(super) driver_override: Option<String>,
    pub(super) sriov: Option<SimSriov>,
    pub(super) num_vfs: u16,
    pub(super) autoprobe: bool,
    pub(super) physfn: Option<PciAddress>,
    pub(super) mdev_types: Vec<SimMdevType>,
    pub(super) vgpu_types: Vec<SimVgpuType>,
    pub(super) current_vgpu: u32,
    /// The GPU instance a MIG-backed vendor vGPU runs on.
    pub(super) gpu_instance: Option<u32>,
    /// The framebuffer placement a time-sliced vendor vGPU occupies.
    pub(super) placement: Option<u32>,
    /// `nvidia/gpu_instance_id` as written before a type (the GPU instance to use).
    pub(super) want_gpu_instance: Option<u32>,
    /// `nvidia/placement_id` as written before a type (the placement to use).
    pub(super) want_placement: Option<u32>,
    /// The card's memory, for a physical GPU.
    pub(super) gpu_memory_mib: u64,
    /// MIG mode and GPU instances, for a physical GPU (`None`: MIG off).
    pub(super) mig: Option<Vec<SimGpuInstance>>,
    /// Time-sliced vGPUs of several sizes may share the GPU.
    pub(super) mixed_vgpu_sizes: bool,
    /// Reads of `driver` still to come before an asynchronous probe completes.
    pub(super) probe_pending: u32,
}

impl SimDevice {
    /// A function at `address` with these IDs and class (`0x030200`).
    #[must_use]
    pub fn new(address: PciAddress, vendor: u16, device: u16, class: u32) -> Self {
        SimDevice {
            address,
            vendor,
            device,
            subsystem: (vendor, 0),
            class,
            numa_node: None,
            cpulist: String::new(),
            iommu_group: None,
            driver: None,
            driver_override: None,
            sriov: None,
            num_vfs: 0,
            autoprobe: true,
            physfn: None,
            mdev_types: Vec::new(),
            vgpu_types: Vec::new(),
            current_vgpu: 0,
            gpu_instance: None,
            placement: None,
            want_gpu_instance: None,
            want_placement: None,
            gpu_memory_mib: 0,
            mig: None,
            mixed_vgpu_sizes: false,
            probe_pending: 0,
        }
    }

    /// Subsystem vendor and device.
    #[must_use]
    pub fn subsystem(mut self, vendor: u16, device: u16) -> Self {
        self.subsystem = (vendor, device);
        self
    }

    /// NUMA node and `local_cpulist`.
    #[must_use]
    pub fn numa(mut self, node: Option<u32>, cpulist: &str) -> Self {
        self.numa_node = node;
        self.cpulist = cpulist.to_owned();
        self
    }

    /// IOMMU group.
    #[must_use]
    pub fn iommu_group(mut self, group: u32) -> Self {
        self.iommu_group = Some(group);
        self
    }

    /// Bound to `driver`.
    #[must_use]
    pub fn driver(mut self, driver: &str) -> Self {
        self.driver = Some(driver.to_owned());
        self
    }

    /// SR-IOV capability.
    #[must_use]
    pub fn sriov(mut self, sriov: SimSriov) -> Self {
        self.sriov = Some(sriov);
        self
    }

    /// Offers an mdev type (the device becomes an mdev parent).
    #[must_use]
    pub fn mdev_type(mut self, t: SimMdevType) -> Self {
        self.mdev_types.push(t);
        self
    }

    /// A physical GPU with this much memory (the sum of its time-sliced vGPUs' framebuffers).
    #[must_use]
    pub fn gpu_memory_mib(mut self, mib: u64) -> Self {
        self.gpu_memory_mib = mib;
        self
    }

    /// MIG on with these GPU instances (MIG-backed vGPU types need a free one).
    #[must_use]
    pub fn mig(mut self, instances: Vec<SimGpuInstance>) -> Self {
        self.mig = Some(instances);
        self
    }

    /// Time-sliced vGPUs of different sizes may share this GPU (NVIDIA's mixed-size mode).
    #[must_use]
    pub fn mixed_vgpu_sizes(mut self, on: bool) -> Self {
        self.mixed_vgpu_sizes = on;
        self
    }
}
