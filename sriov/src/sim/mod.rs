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
mod devices;
mod hosts;
mod kernel;
mod router;
mod vgpu;

use devices::SimMdev;
pub use devices::{SimDevice, SimDriver, SimMdevType, SimSriov};
pub use hosts::{MAX_SIMULATED_GPUS, a100_40gb_vgpu_types, gpu_address, h100_80gb_vgpu_types};
use kernel::vf_address;
pub use vgpu::{SimGpuInstance, SimVgpuType};

fn os(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

#[derive(Debug, Default)]
struct State {
    devices: BTreeMap<PciAddress, SimDevice>,
    drivers: BTreeMap<String, SimDriver>,
    iommu: bool,
    root: bool,
    probe_delay: u32,
    mdevs: BTreeMap<MdevUuid, SimMdev>,
    /// Devices a process holds open through VFIO (`bus/pci/devices/<vf>`,
    /// `bus/mdev/devices/<uuid>`), as a running VM does.
    open: std::collections::BTreeSet<String>,
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

    /// A process (a VM) opens VF `vf` through VFIO, as QEMU does; clearing its vGPU is then
    /// EBUSY and [`crate::io::SysfsIo::vfio_holders`] names the process.
    pub fn open_vf(&self, vf: PciAddress) {
        self.lock().open.insert(format!("bus/pci/devices/{vf}"));
    }

    /// A process (a VM) opens mdev `uuid` through VFIO.
    pub fn open_mdev(&self, uuid: MdevUuid) {
        self.lock().open.insert(format!("bus/mdev/devices/{uuid}"));
    }

    /// Every VM closes its devices.
    pub fn close_all(&self) {
        self.lock().open.clear();
    }

    /// Unbinds a device from its driver behind the library's back (as `rmmod` would).
    pub fn unbind_behind_the_back(&self, address: PciAddress) {
        if let Some(d) = self.lock().devices.get_mut(&address) {
            d.driver = None;
        }
    }
}
