//! The checkpoint directory's lock: one job at a time may use a checkpoint directory. Two jobs
//! writing the same `chk-N` and committing each other's staged files would lose output.
//!
//! The lock is an advisory `flock` on `<checkpoint-dir>/_lock`, held by process 0 of the job for
//! as long as the job runs; the operating system releases it when the process ends, however it
//! ends, so a crash never leaves a stale lock behind. The file names the holder (process id,
//! host and start time) for the error a second job gets.
//!
//! Checkpoints on an object store have no shared lock: the lock is then taken in the local
//! directory of [`local_dir`], which keeps a second job on the same machine out, and the
//! create-only manifests make a job on another machine fail at its first checkpoint instead of
//! overwriting one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::storage::local_dir;
use crate::error::{Error, Result};
use crate::time::Clock;

/// The lock file's name in the checkpoint directory.
pub const LOCK_FILE: &str = "_lock";

/// Holds the lock until dropped.
#[derive(Debug)]
pub(crate) struct DirectoryLock {
    _file: File,
}

impl DirectoryLock {
    /// Takes the lock of checkpoint directory `dir` (created if missing), or fails naming the
    /// job that holds it.
    pub(crate) fn acquire(root: &Path) -> Result<DirectoryLock> {
        let io = |what: &str, path: &Path, error| Error::io(format!("{what} {}", path.display()), error);
        let dir = &local_dir(root);
        std::fs::create_dir_all(dir).map_err(|error| io("creating", dir, error))?;
        let path: PathBuf = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|error| io("opening", &path, error))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Config(format!(
                    "checkpoint directory {} is in use by another job ({}); stop it or use another \
                     --checkpoint-dir",
                    root.display(),
                    if holder.is_empty() { "holder unknown" } else { holder }
                )));
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(io("locking", &path, error)),
        }
        let holder = format!(
            "pid {} on host {}, started at {} ms since the epoch\n",
            std::process::id(),
            host_name(),
            crate::time::SystemClock.now_ms()
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(holder.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|error| io("writing", &path, error))?;
        Ok(DirectoryLock { _file: file })
    }
}

/// This machine's name, for telling the user which job holds a lock.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "(unknown)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_naming_the_first_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirectoryLock::acquire(dir.path()).unwrap();
        let error = DirectoryLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("in use by another job") && error.contains(&format!("pid {}", std::process::id())),
            "{error}"
        );
        drop(first);
        DirectoryLock::acquire(dir.path()).unwrap();
    }
}
