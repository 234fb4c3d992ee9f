//! A simulated sysfs that follows the kernel's rules: `sriov_numvfs_store`'s checks and errnos,
//! `virtfnN`/`physfn` links, `sriov_drivers_autoprobe`, `driver_override` and `drivers_probe`,
//! mdev `create`/`remove` (EEXIST on a taken UUID), and NVIDIA's `current_vgpu_type`, with the
//! vGPU driver's placement rules ([`vgpu`](SimVgpuType): per-type limits, one time-sliced size
//! per GPU, framebuffer within the card, MIG-backed types on free GPU instances). Writes need
//! "root" (a switch), and faults can be injected.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::PciAddress;
use crate::io::{SysfsIo, errno};
use crate::mdev::MdevUuid;

mod vgpu;

pub use vgpu::{SimGpuInstance, SimVgpuType};

fn os(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// A driver the simulated kernel knows.
#[derive(Debug, Clone)]
pub struct SimDriver {
    name: String,
    sriov_configure: bool,
    ids: Vec<(u16, u16)>,
    probe_fails: bool,
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

    fn matches(&self, vendor: u16, device: u16) -> bool {
        self.ids
            .iter()
            .any(|&(v, d)| v == vendor && (d == 0xffff || d == device))
    }
}

/// SR-IOV capability of a simulated physical function.
#[derive(Debug, Clone)]
pub struct SimSriov {
    total_vfs: u16,
    offset: u16,
    stride: u16,
    vf_device: u16,
    /// VFs whose BARs fit in the bridge's MMIO window; more → ENOMEM.
    mmio_vfs: u16,
    /// The driver enables at most this many, and still reports success.
    driver_limit: Option<u16>,
    vf_vgpu_types: Vec<SimVgpuType>,
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
    id: String,
    name: String,
    max_instances: u32,
    rules: Option<SimVgpuType>,
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
struct SimMdev {
    parent: PciAddress,
    mdev_type: String,
    /// The GPU instance a MIG-backed one runs on.
    gpu_instance: Option<u32>,
}

/// A simulated PCI function.
#[derive(Debug, Clone)]
pub struct SimDevice {
    address: PciAddress,
    vendor: u16,
    device: u16,
    subsystem: (u16, u16),
    class: u32,
    numa_node: Option<u32>,
    cpulist: String,
    iommu_group: Option<u32>,
    driver: Option<String>,
    driver_override: Option<String>,
    sriov: Option<SimSriov>,
    num_vfs: u16,
    autoprobe: bool,
    physfn: Option<PciAddress>,
    mdev_types: Vec<SimMdevType>,
    vgpu_types: Vec<SimVgpuType>,
    current_vgpu: u32,
    /// The GPU instance a MIG-backed vendor vGPU runs on.
    gpu_instance: Option<u32>,
    /// The card's memory, for a physical GPU.
    gpu_memory_mib: u64,
    /// MIG mode and GPU instances, for a physical GPU (`None`: MIG off).
    mig: Option<Vec<SimGpuInstance>>,
    /// Time-sliced vGPUs of several sizes may share the GPU.
    mixed_vgpu_sizes: bool,
    /// Reads of `driver` still to come before an asynchronous probe completes.
    probe_pending: u32,
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

#[derive(Debug, Default)]
struct State {
    devices: BTreeMap<PciAddress, SimDevice>,
    drivers: BTreeMap<String, SimDriver>,
    iommu: bool,
    root: bool,
    probe_delay: u32,
    mdevs: BTreeMap<MdevUuid, SimMdev>,
    /// (path suffix, errno, remaining writes before it fires)
    faults: Vec<(String, i32, u32)>,
    writes: Vec<(PathBuf, String)>,
}

/// The simulated sysfs. Cloning shares the state, so a test can hold one handle and give the
/// other to [`crate::Sysfs::simulated`].
#[derive(Debug, Clone)]
pub struct SimulatedSysfs {
    state: Arc<Mutex<State>>,
}

impl Default for SimulatedSysfs {
    fn default() -> Self {
        Self::new()
    }
}

/// An A100-SXM4-40GB's memory as the vGPU manager divides it.
const A100_40GB_MIB: u64 = 40 * 1024;

/// The A100-40GB's C-series vGPU types (NVIDIA's vGPU user guide, "A100 PCIe 40GB and
/// A100 HGX 40GB" tables): time-sliced `A100-NC` with N GB of framebuffer, at most 40/N on a
/// GPU, and MIG-backed `A100-G-NC` on a `Gg.Ngb` GPU instance, as many as the GPU has of those.
/// The type IDs are the simulator's own (a driver numbers them per release).
#[must_use]
pub fn a100_40gb_vgpu_types() -> Vec<SimVgpuType> {
    let gib = |n: u64| n * 1024;
    let mut out: Vec<SimVgpuType> = [
        (697, 4u64),
        (698, 5),
        (699, 8),
        (700, 10),
        (701, 20),
        (702, 40),
    ]
    .iter()
    .map(|&(id, gb)| {
        let max = u32::try_from(40 / gb).unwrap_or(1);
        SimVgpuType::time_sliced(id, &format!("NVIDIA A100-{gb}C"), gib(gb), max)
    })
    .collect();
    for (id, g, gb, max) in [
        (703, 1u8, 5u64, 7u32),
        (704, 2, 10, 3),
        (705, 3, 20, 2),
        (706, 4, 20, 1),
        (707, 7, 40, 1),
    ] {
        out.push(SimVgpuType::mig_backed(
            id,
            &format!("NVIDIA A100-{g}-{gb}C"),
            gib(gb),
            max,
            &format!("{g}g.{gb}gb"),
        ));
    }
    out
}

/// The PCI buses of the eight GPUs of a DGX A100, in NVML's index order.
const DGX_GPU_BUSES: [u8; 8] = [0x07, 0x0f, 0x47, 0x4e, 0x87, 0x90, 0xb7, 0xbd];

/// The most GPUs a simulated host lays out: the DGX's eight, then 64 a PCI domain.
pub const MAX_SIMULATED_GPUS: usize = 8 + 64 * 0xffff;

/// The address of GPU `index` on a simulated host, the same in every simulator of the family:
/// the first eight at the DGX A100's buses in domain 0, the rest at device 0 of buses
/// 0xc0-0xff, 64 to a domain, from domain 1. Distinct and valid for every index below
/// [`MAX_SIMULATED_GPUS`]; `None` past it.
///
/// ```
/// use gpupart_sriov::sim::gpu_address;
/// assert_eq!(gpu_address(0).unwrap().to_string(), "0000:07:00.0");
/// assert_eq!(gpu_address(8).unwrap().to_string(), "0001:c0:00.0");
/// assert_ne!(gpu_address(11), gpu_address(12));
/// ```
#[must_use]
pub fn gpu_address(index: usize) -> Option<PciAddress> {
    if let Some(&bus) = DGX_GPU_BUSES.get(index) {
        return PciAddress::new(0, bus, 0, 0).ok();
    }
    let k = index.checked_sub(DGX_GPU_BUSES.len())?;
    let domain = u32::try_from(k / 64 + 1).ok().filter(|&d| d <= 0xffff)?;
    let bus = 0xc0 + u8::try_from(k % 64).ok()?;
    PciAddress::new(domain, bus, 0, 0).ok()
}

impl SimulatedSysfs {
    /// An empty host: IOMMU on, running as root.
    #[must_use]
    pub fn new() -> Self {
        SimulatedSysfs {
            state: Arc::new(Mutex::new(State {
                iommu: true,
                root: true,
                ..State::default()
            })),
        }
    }

    /// A host with `gpus` NVIDIA A100-SXM4-40GB physical functions (16 VFs each, driver
    /// `nvidia` with `sriov_configure`, VFs offering NVIDIA's vendor vGPU types), `vfio-pci`
    /// and an NVMe disk, spread over two NUMA nodes. The examples' default host.
    #[must_use]
    pub fn gpu_host(gpus: u16) -> Self {
        let mut sim = Self::new()
            .with_driver(
                SimDriver::new("nvidia")
                    .sriov_configure()
                    .ids(&[(0x10de, 0xffff)]),
            )
            .with_driver(SimDriver::new("vfio-pci"))
            .with_driver(
                SimDriver::new("nvme")
                    .sriov_configure()
                    .ids(&[(0x144d, 0xffff)]),
            );
        let vgpu = a100_40gb_vgpu_types();
        for (group, i) in (10u32..).zip(0..gpus) {
            // Every u16 count is below MAX_SIMULATED_GPUS.
            let Some(addr) = gpu_address(usize::from(i)) else {
                break;
            };
            let node = u32::from(addr.bus() >= 0x80);
            let cpus = if node == 0 {
                "0-63,128-191"
            } else {
                "64-127,192-255"
            };
            sim = sim.with_device(
                SimDevice::new(addr, 0x10de, 0x20b0, 0x030200)
                    .subsystem(0x10de, 0x134f)
                    .numa(Some(node), cpus)
                    .iommu_group(group)
                    .driver("nvidia")
                    .gpu_memory_mib(A100_40GB_MIB)
                    .sriov(SimSriov::new(16, 4, 1, 0x20b0).vf_vgpu_types(vgpu.clone())),
            );
        }
        if let Ok(nvme) = PciAddress::new(0, 0x01, 0, 0) {
            sim = sim.with_device(
                SimDevice::new(nvme, 0x144d, 0xa80a, 0x010802)
                    .numa(Some(0), "0-63,128-191")
                    .iommu_group(1)
                    .driver("nvme"),
            );
        }
        sim
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the simulated host half-written in a way
        // that matters to a test; keep going with what is there.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a driver.
    #[must_use]
    pub fn with_driver(self, driver: SimDriver) -> Self {
        self.lock().drivers.insert(driver.name.clone(), driver);
        self
    }

    /// Adds a device.
    #[must_use]
    pub fn with_device(self, device: SimDevice) -> Self {
        self.lock().devices.insert(device.address, device);
        self
    }

    /// IOMMU on or off (off: `kernel/iommu_groups` is empty, as without `intel_iommu=on`).
    #[must_use]
    pub fn with_iommu(self, on: bool) -> Self {
        self.lock().iommu = on;
        self
    }

    /// Whether writes succeed as root (`false`: every write fails with EACCES).
    #[must_use]
    pub fn as_root(self, root: bool) -> Self {
        self.lock().root = root;
        self
    }

    /// An asynchronous probe: a VF's `driver` link appears only after `reads` reads of it.
    #[must_use]
    pub fn with_probe_delay(self, reads: u32) -> Self {
        self.lock().probe_delay = reads;
        self
    }

    /// Fails the `nth` (0 = next) write to a path ending in `suffix` with `errno`.
    pub fn inject_write_fault(&self, suffix: &str, errno: i32, nth: u32) {
        self.lock().faults.push((suffix.to_owned(), errno, nth));
    }

    /// Every successful write so far: (path, value).
    #[must_use]
    pub fn writes(&self) -> Vec<(PathBuf, String)> {
        self.lock().writes.clone()
    }

    /// Sets MIG mode and the GPU instances of physical GPU `gpu` (`None`: MIG off), as MIG
    /// tools would on a real host; the vGPU rules follow.
    ///
    /// # Errors
    /// ENOENT for no such device; EBUSY while a vGPU runs on a GPU instance that would go, or
    /// vGPUs of the other kind (time-sliced for MIG on, MIG-backed for MIG off) are there.
    pub fn set_mig(
        &self,
        gpu: PciAddress,
        instances: Option<Vec<SimGpuInstance>>,
    ) -> io::Result<()> {
        let mut s = self.lock();
        if !s.devices.contains_key(&gpu) {
            return Err(os(errno::ENOENT));
        }
        if !s.mig_change_allowed(gpu, instances.as_deref()) {
            return Err(os(errno::EBUSY));
        }
        if let Some(d) = s.devices.get_mut(&gpu) {
            d.mig = instances;
        }
        Ok(())
    }

    /// Unbinds a device from its driver behind the library's back (as `rmmod` would).
    pub fn unbind_behind_the_back(&self, address: PciAddress) {
        if let Some(d) = self.lock().devices.get_mut(&address) {
            d.driver = None;
        }
    }
}

fn parts(path: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s.to_string_lossy().into_owned()),
            _ => return Err(os(errno::ENOENT)),
        }
    }
    Ok(out)
}

fn vf_address(pf: PciAddress, s: &SimSriov, k: u16) -> Option<PciAddress> {
    let rid = (u32::from(pf.bus()) << 8) | (u32::from(pf.device()) << 3) | u32::from(pf.function());
    let vf = rid + u32::from(s.offset) + u32::from(k) * u32::from(s.stride);
    let bus = u8::try_from(vf >> 8).ok()?;
    let device = u8::try_from((vf >> 3) & 0x1f).ok()?;
    let function = u8::try_from(vf & 7).ok()?;
    PciAddress::new(pf.domain(), bus, device, function).ok()
}

impl State {
    fn device(&self, a: &str) -> io::Result<&SimDevice> {
        let addr: PciAddress = a.parse().map_err(|_| os(errno::ENOENT))?;
        self.devices.get(&addr).ok_or_else(|| os(errno::ENOENT))
    }

    fn probe(&mut self, addr: PciAddress) {
        let delay = self.probe_delay;
        let Some(dev) = self.devices.get(&addr) else {
            return;
        };
        if dev.driver.is_some() {
            return;
        }
        let chosen = match &dev.driver_override {
            Some(name) => self.drivers.get(name),
            None => self
                .drivers
                .values()
                .find(|d| d.matches(dev.vendor, dev.device)),
        };
        let is_vf = dev.physfn.is_some();
        let Some(driver) = chosen
            .filter(|d| !(d.probe_fails && is_vf))
            .map(|d| d.name.clone())
        else {
            return;
        };
        if let Some(dev) = self.devices.get_mut(&addr) {
            dev.driver = Some(driver);
            dev.probe_pending = delay;
        }
    }

    fn set_num_vfs(&mut self, pf: PciAddress, value: &str) -> io::Result<()> {
        // kstrtou16(buf, 0, ...): decimal, 0x hex or 0 octal; overflow is ERANGE.
        let t = value.trim_end_matches('\n');
        let parsed = if let Some(h) = t.strip_prefix("0x") {
            u64::from_str_radix(h, 16)
        } else {
            t.parse::<u64>()
        };
        let n = parsed.map_err(|_| os(errno::EINVAL))?;
        let n = u16::try_from(n).map_err(|_| os(errno::ERANGE))?;
        let dev = self.devices.get(&pf).ok_or_else(|| os(errno::ENOENT))?;
        let sriov = dev.sriov.clone().ok_or_else(|| os(errno::ENOENT))?;
        if n > sriov.total_vfs {
            return Err(os(errno::ERANGE));
        }
        if n == dev.num_vfs {
            return Ok(());
        }
        let driver = dev
            .driver
            .as_ref()
            .and_then(|d| self.drivers.get(d))
            .ok_or_else(|| os(errno::ENOENT))?;
        if !driver.sriov_configure {
            return Err(os(errno::ENOENT));
        }
        if n == 0 {
            let old = dev.num_vfs;
            for k in 0..old {
                if let Some(vf) = vf_address(pf, &sriov, k) {
                    self.devices.remove(&vf);
                }
            }
            self.mdevs
                .retain(|_, m| self.devices.contains_key(&m.parent));
            if let Some(d) = self.devices.get_mut(&pf) {
                d.num_vfs = 0;
            }
            return Ok(());
        }
        if dev.num_vfs != 0 {
            return Err(os(errno::EBUSY));
        }
        if n > sriov.mmio_vfs {
            return Err(os(errno::ENOMEM));
        }
        let enabled = sriov.driver_limit.map_or(n, |l| n.min(l));
        let autoprobe = dev.autoprobe;
        let (numa, cpus, group) = (dev.numa_node, dev.cpulist.clone(), dev.iommu_group);
        let next_group = self
            .devices
            .values()
            .filter_map(|d| d.iommu_group)
            .max()
            .unwrap_or(0)
            + 1;
        let mut vfs = Vec::new();
        for k in 0..enabled {
            let vf = vf_address(pf, &sriov, k).ok_or_else(|| os(errno::ENOMEM))?;
            let mut d =
                SimDevice::new(vf, dev.vendor, sriov.vf_device, dev.class).numa(numa, &cpus);
            d.subsystem = dev.subsystem;
            d.physfn = Some(pf);
            d.iommu_group = group.map(|_| next_group + u32::from(k));
            d.vgpu_types = sriov.vf_vgpu_types.clone();
            vfs.push(d);
        }
        for d in vfs {
            let a = d.address;
            self.devices.insert(a, d);
            if autoprobe {
                self.probe(a);
            }
        }
        if let Some(d) = self.devices.get_mut(&pf) {
            d.num_vfs = enabled;
        }
        Ok(())
    }

    fn read(&mut self, p: &[String]) -> io::Result<String> {
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["bus", "pci", "devices", a, attr] => {
                let d = self.device(a)?;
                let hex = |v: u16| format!("0x{v:04x}\n");
                let s = d.sriov.as_ref();
                let sr =
                    |f: &dyn Fn(&SimSriov) -> String| s.map(f).ok_or_else(|| os(errno::ENOENT));
                Ok(match *attr {
                    "vendor" => hex(d.vendor),
                    "device" => hex(d.device),
                    "subsystem_vendor" => hex(d.subsystem.0),
                    "subsystem_device" => hex(d.subsystem.1),
                    "class" => format!("0x{:06x}\n", d.class),
                    "numa_node" => d.numa_node.map_or("-1\n".to_owned(), |n| format!("{n}\n")),
                    "local_cpulist" => format!("{}\n", d.cpulist),
                    "driver_override" => {
                        format!("{}\n", d.driver_override.as_deref().unwrap_or("(null)"))
                    }
                    "sriov_totalvfs" => sr(&|s| format!("{}\n", s.total_vfs))?,
                    "sriov_numvfs" => sr(&|_| format!("{}\n", d.num_vfs))?,
                    "sriov_offset" => sr(&|s| format!("{}\n", s.offset))?,
                    "sriov_stride" => sr(&|s| format!("{}\n", s.stride))?,
                    "sriov_vf_device" => sr(&|s| format!("{:x}\n", s.vf_device))?,
                    "sriov_drivers_autoprobe" => sr(&|_| format!("{}\n", u8::from(d.autoprobe)))?,
                    _ => return Err(os(errno::ENOENT)),
                })
            }
            ["bus", "pci", "devices", a, "nvidia", attr] => {
                let d = self.device(a)?;
                if d.vgpu_types.is_empty() {
                    return Err(os(errno::ENOENT));
                }
                match *attr {
                    "creatable_vgpu_types" => {
                        let mut s = String::from("ID    : vGPU Name\n");
                        for t in self.creatable(d) {
                            s.push_str(&format!("{} : {}\n", t.id, t.name));
                        }
                        Ok(s)
                    }
                    "current_vgpu_type" => Ok(format!("{}\n", d.current_vgpu)),
                    "gpu_instance_id" => Ok(format!(
                        "{}\n",
                        d.gpu_instance
                            .map_or_else(|| "-1".to_owned(), |g| g.to_string())
                    )),
                    _ => Err(os(errno::ENOENT)),
                }
            }
            ["bus", "pci", "devices", a, "mdev_supported_types", t, attr] => {
                let d = self.device(a)?;
                let addr = d.address;
                let ty = d
                    .mdev_types
                    .iter()
                    .find(|x| x.id == *t)
                    .ok_or_else(|| os(errno::ENOENT))?;
                Ok(match *attr {
                    "name" => format!("{}\n", ty.name),
                    "description" => {
                        format!("num_heads=4, frl_config=60, framebuffer={}\n", ty.name)
                    }
                    "device_api" => "vfio-pci\n".to_owned(),
                    "available_instances" => format!("{}\n", self.mdev_available(addr, ty)),
                    _ => return Err(os(errno::ENOENT)),
                })
            }
            ["kernel", "iommu_groups", ..]
            | ["bus", "pci", "devices", ..]
            | ["bus", "pci", "drivers", ..]
            | ["class", ..]
            | ["bus", "mdev", ..] => Err(os(errno::ENOENT)),
            _ => Err(os(errno::ENOENT)),
        }
    }

    fn read_dir(&self, p: &[String]) -> io::Result<Vec<String>> {
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        let mut v: Vec<String> = match p.as_slice() {
            ["bus", "pci", "devices"] => self.devices.keys().map(ToString::to_string).collect(),
            ["bus", "pci", "drivers"] => self.drivers.keys().cloned().collect(),
            ["kernel", "iommu_groups"] => {
                if self.iommu {
                    let mut g: Vec<u32> = self
                        .devices
                        .values()
                        .filter_map(|d| d.iommu_group)
                        .collect();
                    g.sort_unstable();
                    g.dedup();
                    g.iter().map(ToString::to_string).collect()
                } else {
                    Vec::new()
                }
            }
            ["class", "mdev_bus"] => self
                .devices
                .values()
                .filter(|d| !d.mdev_types.is_empty())
                .map(|d| d.address.to_string())
                .collect(),
            ["bus", "mdev", "devices"] => self.mdevs.keys().map(ToString::to_string).collect(),
            ["bus", "pci", "devices", a] => {
                let d = self.device(a)?;
                let mut names: Vec<String> =
                    ["vendor", "device", "class", "numa_node", "local_cpulist"]
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect();
                if d.sriov.is_some() {
                    names.push("sriov_numvfs".to_owned());
                }
                for k in 0..d.num_vfs {
                    names.push(format!("virtfn{k}"));
                }
                names
            }
            ["bus", "pci", "devices", a, "mdev_supported_types"] => {
                let d = self.device(a)?;
                if d.mdev_types.is_empty() {
                    return Err(os(errno::ENOENT));
                }
                d.mdev_types.iter().map(|t| t.id.clone()).collect()
            }
            [
                "bus",
                "pci",
                "devices",
                a,
                "mdev_supported_types",
                t,
                "devices",
            ] => {
                let d = self.device(a)?;
                let addr = d.address;
                if !d.mdev_types.iter().any(|x| x.id == *t) {
                    return Err(os(errno::ENOENT));
                }
                self.mdevs
                    .iter()
                    .filter(|(_, m)| m.parent == addr && m.mdev_type == *t)
                    .map(|(u, _)| u.to_string())
                    .collect()
            }
            _ => return Err(os(errno::ENOENT)),
        };
        v.sort();
        Ok(v)
    }

    fn read_link(&mut self, p: &[String]) -> io::Result<PathBuf> {
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["bus", "pci", "devices", a, link] => {
                let addr = self.device(a)?.address;
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                match *link {
                    "driver" => {
                        if d.probe_pending > 0 {
                            d.probe_pending -= 1;
                            return Err(os(errno::ENOENT));
                        }
                        let name = d.driver.as_ref().ok_or_else(|| os(errno::ENOENT))?;
                        Ok(PathBuf::from(format!("../../../bus/pci/drivers/{name}")))
                    }
                    "physfn" => d
                        .physfn
                        .map(|pf| PathBuf::from(format!("../{pf}")))
                        .ok_or_else(|| os(errno::ENOENT)),
                    "iommu_group" if self.iommu_on() => {
                        let g = self
                            .devices
                            .get(&addr)
                            .and_then(|d| d.iommu_group)
                            .ok_or_else(|| os(errno::ENOENT))?;
                        Ok(PathBuf::from(format!("../../../kernel/iommu_groups/{g}")))
                    }
                    l if l.starts_with("virtfn") => {
                        let k: u16 = l["virtfn".len()..].parse().map_err(|_| os(errno::ENOENT))?;
                        let d = self.devices.get(&addr).ok_or_else(|| os(errno::ENOENT))?;
                        let s = d.sriov.as_ref().ok_or_else(|| os(errno::ENOENT))?;
                        if k >= d.num_vfs {
                            return Err(os(errno::ENOENT));
                        }
                        let vf = vf_address(addr, s, k).ok_or_else(|| os(errno::ENOENT))?;
                        Ok(PathBuf::from(format!("../{vf}")))
                    }
                    _ => Err(os(errno::ENOENT)),
                }
            }
            ["bus", "mdev", "devices", u, "mdev_type"] => {
                let u: MdevUuid = u.parse().map_err(|_| os(errno::ENOENT))?;
                let m = self.mdevs.get(&u).ok_or_else(|| os(errno::ENOENT))?;
                Ok(PathBuf::from(format!(
                    "../../../devices/pci0000:00/{}/mdev_supported_types/{}",
                    m.parent, m.mdev_type
                )))
            }
            ["bus", "mdev", "devices", u] => {
                let u: MdevUuid = u.parse().map_err(|_| os(errno::ENOENT))?;
                let m = self.mdevs.get(&u).ok_or_else(|| os(errno::ENOENT))?;
                Ok(PathBuf::from(format!(
                    "../../../devices/pci0000:00/{}/{u}",
                    m.parent
                )))
            }
            _ => Err(os(errno::ENOENT)),
        }
    }

    fn iommu_on(&self) -> bool {
        self.iommu
    }

    fn write(&mut self, p: &[String], value: &str) -> io::Result<()> {
        if !self.root {
            return Err(os(errno::EACCES));
        }
        let joined = p.join("/");
        if let Some(i) = self
            .faults
            .iter()
            .position(|(s, _, _)| joined.ends_with(s.as_str()))
        {
            if self.faults[i].2 == 0 {
                let (_, e, _) = self.faults.remove(i);
                return Err(os(e));
            }
            self.faults[i].2 -= 1;
        }
        let p: Vec<&str> = p.iter().map(String::as_str).collect();
        let v = value.trim_end_matches('\n');
        match p.as_slice() {
            ["bus", "pci", "devices", a, "sriov_numvfs"] => {
                let addr = self.device(a)?.address;
                self.set_num_vfs(addr, value)
            }
            ["bus", "pci", "devices", a, "sriov_drivers_autoprobe"] => {
                let addr = self.device(a)?.address;
                let on = match v {
                    "0" => false,
                    "1" => true,
                    _ => return Err(os(errno::EINVAL)),
                };
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                if d.sriov.is_none() {
                    return Err(os(errno::ENOENT));
                }
                d.autoprobe = on;
                Ok(())
            }
            ["bus", "pci", "devices", a, "driver_override"] => {
                let addr = self.device(a)?.address;
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                d.driver_override = (!v.is_empty()).then(|| v.to_owned());
                Ok(())
            }
            ["bus", "pci", "devices", a, "nvidia", "current_vgpu_type"] => {
                let addr = self.device(a)?.address;
                let id: u32 = v.parse().map_err(|_| os(errno::EINVAL))?;
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                if d.vgpu_types.is_empty() {
                    return Err(os(errno::ENOENT));
                }
                if id == 0 {
                    d.current_vgpu = 0;
                    d.gpu_instance = None;
                    return Ok(());
                }
                if d.current_vgpu != 0 {
                    return Err(os(errno::EBUSY));
                }
                let Some(ty) = d.vgpu_types.iter().find(|t| t.id == id).cloned() else {
                    return Err(os(errno::EINVAL));
                };
                // The driver's rules for the physical GPU: what `creatable_vgpu_types` offers.
                let gi = self
                    .vgpu_fits(self.physical(addr), &ty)
                    .map_err(|_| os(errno::EINVAL))?;
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENOENT))?;
                d.current_vgpu = id;
                d.gpu_instance = gi;
                Ok(())
            }
            [
                "bus",
                "pci",
                "devices",
                a,
                "mdev_supported_types",
                t,
                "create",
            ] => {
                let addr = self.device(a)?.address;
                let u: MdevUuid = v.parse().map_err(|_| os(errno::EINVAL))?;
                let ty = self
                    .devices
                    .get(&addr)
                    .and_then(|d| d.mdev_types.iter().find(|x| x.id == *t))
                    .ok_or_else(|| os(errno::ENOENT))?;
                if self.mdevs.contains_key(&u) {
                    return Err(os(errno::EEXIST));
                }
                if self.mdev_available(addr, ty) == 0 {
                    return Err(os(errno::EINVAL));
                }
                let gpu_instance = match &ty.rules {
                    Some(r) => self
                        .vgpu_fits(self.physical(addr), r)
                        .map_err(|_| os(errno::EINVAL))?,
                    None => None,
                };
                self.mdevs.insert(
                    u,
                    SimMdev {
                        parent: addr,
                        mdev_type: (*t).to_owned(),
                        gpu_instance,
                    },
                );
                Ok(())
            }
            ["bus", "mdev", "devices", u, "remove"] => {
                let u: MdevUuid = u.parse().map_err(|_| os(errno::ENOENT))?;
                if v != "1" {
                    return Err(os(errno::EINVAL));
                }
                self.mdevs
                    .remove(&u)
                    .map(|_| ())
                    .ok_or_else(|| os(errno::ENOENT))
            }
            ["bus", "pci", "drivers", drv, "unbind"] => {
                let addr: PciAddress = v.parse().map_err(|_| os(errno::ENODEV))?;
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENODEV))?;
                if d.driver.as_deref() != Some(*drv) {
                    return Err(os(errno::ENODEV));
                }
                d.driver = None;
                Ok(())
            }
            ["bus", "pci", "drivers", drv, "bind"] => {
                let addr: PciAddress = v.parse().map_err(|_| os(errno::ENODEV))?;
                let driver = self
                    .drivers
                    .get(*drv)
                    .ok_or_else(|| os(errno::ENOENT))?
                    .clone();
                let d = self
                    .devices
                    .get_mut(&addr)
                    .ok_or_else(|| os(errno::ENODEV))?;
                if d.driver.is_some() {
                    return Err(os(errno::EBUSY));
                }
                let allowed = d
                    .driver_override
                    .as_deref()
                    .map_or_else(|| driver.matches(d.vendor, d.device), |o| o == driver.name);
                if !allowed || (driver.probe_fails && d.physfn.is_some()) {
                    return Err(os(errno::ENODEV));
                }
                d.driver = Some(driver.name);
                Ok(())
            }
            ["bus", "pci", "drivers_probe"] => {
                let addr: PciAddress = v.parse().map_err(|_| os(errno::EINVAL))?;
                if !self.devices.contains_key(&addr) {
                    return Err(os(errno::ENODEV));
                }
                self.probe(addr);
                Ok(())
            }
            _ => Err(os(errno::EACCES)),
        }
        .map(|()| {
            self.writes
                .push((PathBuf::from(p.join("/")), value.to_owned()));
        })
    }

    fn exists(&self, p: &[String]) -> bool {
        let q: Vec<&str> = p.iter().map(String::as_str).collect();
        match q.as_slice() {
            ["sys"] | [] => true,
            ["bus", "pci", "devices", a] => self.device(a).is_ok(),
            ["bus", "pci", "drivers", d] => self.drivers.contains_key(*d),
            ["class", "mdev_bus"] => true,
            ["bus", "mdev", "devices", u] => u
                .parse::<MdevUuid>()
                .is_ok_and(|u| self.mdevs.contains_key(&u)),
            ["bus", "pci", "devices", a, "nvidia"] => {
                self.device(a).is_ok_and(|d| !d.vgpu_types.is_empty())
            }
            ["bus", "pci", "devices", a, "mdev_supported_types"] => {
                self.device(a).is_ok_and(|d| !d.mdev_types.is_empty())
            }
            _ => false,
        }
    }
}

impl SysfsIo for SimulatedSysfs {
    fn read(&self, path: &Path) -> io::Result<String> {
        let p = parts(path)?;
        self.lock().read(&p)
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        let p = parts(path)?;
        self.lock().write(&p, value)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        let p = parts(path)?;
        self.lock().read_link(&p)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let p = parts(path)?;
        self.lock().read_dir(&p)
    }

    fn exists(&self, path: &Path) -> bool {
        parts(path).is_ok_and(|p| {
            let mut s = self.lock();
            s.exists(&p) || s.read(&p).is_ok() || s.read_dir(&p).is_ok()
        })
    }
}
