//! The advisory lock that serializes appliers on a host: `gpupart-sriov`'s one host lock
//! (the vGPU manager takes the same kind), with this crate's errors.

use std::path::Path;
use std::time::Duration;

use crate::Error;

pub use gpupart_sriov::lock::DEFAULT_LOCK_WAIT;

/// An advisory lock held while applying; released when dropped.
pub type ApplyLock = gpupart_sriov::lock::HostLock;

/// Takes the advisory lock at `path`, waiting at most `wait` for another applier to finish
/// (`Duration::ZERO`: try once).
///
/// # Errors
/// [`Error::Lock`] when the file cannot be opened, locked or written;
/// [`Error::LockTimeout`] naming the path and, where the file says, the holder's process id,
/// when another process still holds it after `wait`.
pub fn lock(path: &Path, wait: Duration) -> Result<ApplyLock, Error> {
    gpupart_sriov::lock::lock(path, wait).map_err(|e| match e {
        gpupart_sriov::Error::LockTimeout {
            path,
            waited,
            holder,
        } => Error::LockTimeout {
            path,
            waited,
            holder,
        },
        gpupart_sriov::Error::Lock { path, io } => Error::Lock { path, io },
        other => Error::Lock {
            path: path.to_path_buf(),
            io: std::sync::Arc::new(std::io::Error::other(other.to_string())),
        },
    })
}
