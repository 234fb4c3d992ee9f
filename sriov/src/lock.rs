//! The advisory lock that serializes writers on a host (the vGPU manager here, MIG apply in
//! `gpupart-mig`), taken within a deadline.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Error;

/// How long [`lock`] waits for another writer by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// An advisory lock; released when dropped. The file holds the holder's process id, so that
/// a process that cannot take it can say who holds it.
#[derive(Debug)]
pub struct HostLock {
    _file: File,
}

/// Takes the advisory lock at `path`, waiting at most `wait` for another writer to finish
/// (`Duration::ZERO`: try once).
///
/// # Errors
/// [`Error::Lock`] when the file cannot be opened, locked or written;
/// [`Error::LockTimeout`] naming the path and, where the file says, the holder's process id,
/// when another process still holds it after `wait`.
pub fn lock(path: &Path, wait: Duration) -> Result<HostLock, Error> {
    let err = |io| Error::Lock {
        path: path.to_path_buf(),
        io: Arc::new(io),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(err)?;
    let deadline = Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::Error(e)) => return Err(err(e)),
            Err(TryLockError::WouldBlock) if Instant::now() >= deadline => {
                return Err(Error::LockTimeout {
                    path: path.to_path_buf(),
                    waited: wait,
                    holder: holder(&mut file),
                });
            }
            Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    file.set_len(0).map_err(err)?;
    file.seek(SeekFrom::Start(0)).map_err(err)?;
    writeln!(file, "{}", std::process::id()).map_err(err)?;
    Ok(HostLock { _file: file })
}

/// The process id the lock file names, if it names one.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
