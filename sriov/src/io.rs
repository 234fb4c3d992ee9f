//! The I/O under [`crate::Sysfs`]: five operations on paths relative to a sysfs root, so the
//! same code runs against the real `/sys`, a copy of one in a directory, or the simulator.

use std::io;
use std::path::{Path, PathBuf};

/// Linux errno values the kernel's sysfs handlers return (`include/uapi/asm-generic/errno-base.h`).
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// No such device or address.
    pub const ENXIO: i32 = 6;
    /// Out of memory (here: MMIO space for the VF BARs is short).
    pub const ENOMEM: i32 = 12;
    /// Permission denied.
    pub const EACCES: i32 = 13;
    /// Device or resource busy.
    pub const EBUSY: i32 = 16;
    /// File exists.
    pub const EEXIST: i32 = 17;
    /// No such device.
    pub const ENODEV: i32 = 19;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Result out of range.
    pub const ERANGE: i32 = 34;
}

/// File operations under a sysfs root. Paths are relative (`bus/pci/devices/0000:81:00.0/vendor`)
/// and built by [`crate::Sysfs`] from typed values only.
pub trait SysfsIo: Send + Sync {
    /// Reads a whole attribute.
    ///
    /// # Errors
    /// The operating system's error, e.g. `ENOENT`.
    fn read(&self, path: &Path) -> io::Result<String>;
    /// Writes an attribute in one `write(2)`, as `echo` does.
    ///
    /// # Errors
    /// The errno the kernel's store handler returned.
    fn write(&self, path: &Path, value: &str) -> io::Result<()>;
    /// The target of a symbolic link (`driver`, `physfn`, `virtfn0`, `iommu_group`).
    ///
    /// # Errors
    /// `ENOENT` when there is no such link.
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;
    /// Names in a directory, sorted.
    ///
    /// # Errors
    /// `ENOENT` when there is no such directory.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether something exists at `path`.
    fn exists(&self, path: &Path) -> bool;
}

/// The real file system under a root directory (`/sys`, or a copy of a sysfs tree).
#[derive(Debug, Clone)]
pub struct RealFs {
    root: PathBuf,
}

impl RealFs {
    /// Files under `root`.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RealFs { root: root.into() }
    }

    /// The root.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl SysfsIo for RealFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(self.root.join(path))
    }

    fn write(&self, path: &Path, value: &str) -> io::Result<()> {
        use std::io::Write;
        // One write(2) of the whole value: sysfs store handlers see exactly what `echo` gives.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.root.join(path))?;
        f.write_all(value.as_bytes())
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(self.root.join(path))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.root.join(path))? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> bool {
        // symlink_metadata: a dangling link still counts as there.
        std::fs::symlink_metadata(self.root.join(path)).is_ok()
    }
}
