//! The advisory lock that serializes appliers on a host.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::Error;

/// An advisory lock held while applying.
#[derive(Debug)]
pub struct ApplyLock {
    _file: File,
}

/// Takes the advisory lock at `path`, waiting for another applier to finish.
///
/// # Errors
/// [`Error::Lock`] when the file cannot be opened or locked.
pub fn lock(path: &Path) -> Result<ApplyLock, Error> {
    let err = |source| Error::Lock {
        path: path.to_path_buf(),
        source: std::sync::Arc::new(source),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(err)?;
    file.lock().map_err(err)?;
    Ok(ApplyLock { _file: file })
}

