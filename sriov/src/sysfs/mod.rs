//! Typed access to PCI sysfs under any root, one kernel object a module:
//! [`device`](PciDevice) (functions and the NVIDIA GPUs), [`vfs`](EnableOptions) (SR-IOV by the
//! kernel's contract), binding, the [`doctor`](Finding), mdev and NVIDIA's vGPU interfaces.
//! This module holds [`Sysfs`] itself and its reading and writing helpers.

mod bind;
mod device;
mod doctor;
mod mdev;
mod vfs;
mod vgpu;

pub use device::{PciDevice, SriovInfo};
pub use doctor::Finding;
pub use mdev::Mdev;
pub use vfs::{EnableOptions, VfReport};

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::io::{RealFs, SysfsIo, errno};
use crate::mdev::{MdevType, MdevUuid, VgpuInterface};
use crate::parse::{self, CpuList, ValueError, VgpuType};
use crate::sim::SimulatedSysfs;
use crate::{Error, PciAddress};

/// NVIDIA's PCI vendor ID.
pub const NVIDIA_VENDOR: u16 = 0x10de;

/// PCI sysfs under a root (`/sys` on a host). Every path is built from typed values.
#[derive(Clone)]
pub struct Sysfs {
    io: Arc<dyn SysfsIo>,
    label: PathBuf,
}

impl core::fmt::Debug for Sysfs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sysfs").field("root", &self.label).finish()
    }
}

fn dev_path(a: PciAddress) -> PathBuf {
    PathBuf::from(format!("bus/pci/devices/{a}"))
}

fn last_component(p: &Path) -> Option<String> {
    p.file_name().map(|s| s.to_string_lossy().into_owned())
}

impl Sysfs {
    /// The host's `/sys`.
    #[must_use]
    pub fn system() -> Self {
        Self::at("/sys")
    }

    /// A sysfs tree under `root`.
    #[must_use]
    pub fn at(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        Sysfs {
            io: Arc::new(RealFs::new(root.clone())),
            label: root,
        }
    }

    /// The simulator.
    #[must_use]
    pub fn simulated(sim: SimulatedSysfs) -> Self {
        Sysfs {
            io: Arc::new(sim),
            label: PathBuf::from("/sys"),
        }
    }

    /// Any I/O implementation; `label` is the root shown in errors.
    #[must_use]
    pub fn with_io(io: Arc<dyn SysfsIo>, label: impl Into<PathBuf>) -> Self {
        Sysfs {
            io,
            label: label.into(),
        }
    }

    /// The root shown in paths of errors.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.label
    }

    fn full(&self, rel: &Path) -> PathBuf {
        self.label.join(rel)
    }

    fn io_err(&self, rel: &Path, e: io::Error) -> Error {
        Error::Io {
            path: self.full(rel),
            io: Arc::new(e),
        }
    }

    fn read(&self, rel: &Path) -> Result<String, Error> {
        self.io.read(rel).map_err(|e| self.io_err(rel, e))
    }

    fn read_opt(&self, rel: &Path) -> Result<Option<String>, Error> {
        match self.io.read(rel) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_err(rel, e)),
        }
    }

    fn parsed<T>(&self, rel: &Path, f: impl Fn(&str) -> Result<T, ValueError>) -> Result<T, Error> {
        let text = self.read(rel)?;
        f(&text).map_err(|problem| Error::Value {
            path: self.full(rel),
            problem,
        })
    }

    fn parsed_opt<T>(
        &self,
        rel: &Path,
        f: impl Fn(&str) -> Result<T, ValueError>,
    ) -> Result<Option<T>, Error> {
        match self.read_opt(rel)? {
            None => Ok(None),
            Some(text) => f(&text).map(Some).map_err(|problem| Error::Value {
                path: self.full(rel),
                problem,
            }),
        }
    }

    fn link_name(&self, rel: &Path) -> Result<Option<String>, Error> {
        match self.io.read_link(rel) {
            Ok(t) => Ok(last_component(&t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_err(rel, e)),
        }
    }

    fn link_address(&self, rel: &Path) -> Result<Option<PciAddress>, Error> {
        match self.link_name(rel)? {
            None => Ok(None),
            Some(name) => name.parse().map(Some).map_err(|_| Error::Value {
                path: self.full(rel),
                problem: ValueError {
                    value: name,
                    expected: "a link to a PCI device",
                },
            }),
        }
    }

    fn write(&self, rel: &Path, value: &str) -> Result<(), Error> {
        self.io.write(rel, value).map_err(|e| Error::Write {
            path: self.full(rel),
            value: value.to_owned(),
            errno: e.raw_os_error().unwrap_or(0),
            meaning: errno_meaning(e.raw_os_error()),
        })
    }
}

/// A person's reading of an errno from a sysfs write.
#[must_use]
pub fn errno_meaning(code: Option<i32>) -> &'static str {
    match code {
        Some(errno::EPERM | errno::EACCES) => "permission denied: run as root",
        Some(errno::ENOENT) => "no such attribute, or no driver to act on it",
        Some(errno::EINVAL) => "the kernel refused the value as invalid",
        Some(errno::ERANGE) => "the value is out of range",
        Some(errno::EBUSY) => "the device is busy",
        Some(errno::ENOMEM) => "out of memory or MMIO space (try the kernel parameter pci=realloc)",
        Some(errno::EEXIST) => "it exists already",
        Some(errno::ENODEV | errno::ENXIO) => "no such device, or the driver does not take it",
        _ => "the write failed",
    }
}
