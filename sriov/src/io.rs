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
    /// I/O error.
    pub const EIO: i32 = 5;
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
    /// The processes that hold the device at `device` (`bus/pci/devices/<vf>` or
    /// `bus/mdev/devices/<uuid>`) open through VFIO, as a running VM does: every process
    /// with a file descriptor on the device's group (`/dev/vfio/<iommu group>`) or its
    /// VFIO character device (`/dev/vfio/devices/vfioN`).
    ///
    /// # Errors
    /// When the processes cannot be read (then nobody can tell the device is free).
    fn vfio_holders(&self, device: &Path) -> io::Result<Vec<u32>>;
}

/// Which of `fds` — (process id, the target of one of its `/proc/<pid>/fd/N` links) — point
/// at one of `targets`; each process once, in ascending order.
#[must_use]
pub fn holders_of(targets: &[PathBuf], fds: impl IntoIterator<Item = (u32, PathBuf)>) -> Vec<u32> {
    let mut out: Vec<u32> = fds
        .into_iter()
        .filter(|(_, t)| targets.contains(t))
        .map(|(pid, _)| pid)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The real file system under a root directory (`/sys`, or a copy of a sysfs tree), with
/// the process table beside it (`/proc` for `/sys`; `<dir>/proc` for `<dir>/sys`).
#[derive(Debug, Clone)]
pub struct RealFs {
    root: PathBuf,
    proc: PathBuf,
}

impl RealFs {
    /// Files under `root`; processes under the `proc` directory beside it.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let proc = root
            .parent()
            .map_or_else(|| PathBuf::from("/proc"), |p| p.join("proc"));
        RealFs { root, proc }
    }

    /// Files under `root`, processes under `proc`.
    #[must_use]
    pub fn with_proc(root: impl Into<PathBuf>, proc: impl Into<PathBuf>) -> Self {
        RealFs {
            root: root.into(),
            proc: proc.into(),
        }
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

    fn vfio_holders(&self, device: &Path) -> io::Result<Vec<u32>> {
        let dev = self.root.join(device);
        let mut targets = Vec::new();
        match std::fs::read_link(dev.join("iommu_group")) {
            Ok(g) => {
                if let Some(n) = g.file_name() {
                    targets.push(Path::new("/dev/vfio").join(n));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if let Ok(names) = self.read_dir(&device.join("vfio-dev")) {
            for n in names {
                targets.push(Path::new("/dev/vfio/devices").join(n));
            }
        }
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let mut fds = Vec::new();
        for entry in std::fs::read_dir(&self.proc)? {
            let entry = entry?;
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            // A process may end, or hide its descriptors from us, while we look.
            let Ok(dir) = std::fs::read_dir(entry.path().join("fd")) else {
                continue;
            };
            for fd in dir.flatten() {
                if let Ok(t) = std::fs::read_link(fd.path()) {
                    fds.push((pid, t));
                }
            }
        }
        Ok(holders_of(&targets, fds))
    }
}
