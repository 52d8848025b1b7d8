//! One daemon per data dir: an exclusive lock on `daemon.lock`, which also
//! records the holder's pid so a second daemon can say who holds it.

use crate::error::CoreError;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Held for the daemon's lifetime; the lock is released when this is dropped
/// (or when the process dies, so a crash never leaves a stale lock).
#[derive(Debug)]
pub struct DaemonLock {
    file: File,
    path: PathBuf,
}

impl DaemonLock {
    pub fn acquire(path: &Path) -> Result<DaemonLock, CoreError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| CoreError::Internal(format!("opening {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who =
                    if holder.is_empty() { "another process".to_string() } else { format!("pid {holder}") };
                return Err(CoreError::Conflict(format!(
                    "another clauderon daemon ({who}) is already using {}: stop it first, or set CLAUDERON_HOME to use another data dir",
                    path.parent().unwrap_or(path).display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                return Err(CoreError::Internal(format!("locking {}: {e}", path.display())));
            }
        }
        let write_pid = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())?;
            file.sync_all()
        };
        write_pid(&mut file).map_err(|e| CoreError::Internal(format!("writing {}: {e}", path.display())))?;
        Ok(DaemonLock { file, path: path.to_path_buf() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DaemonLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_holder_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.lock");
        let first = DaemonLock::acquire(&path).unwrap();
        let err = DaemonLock::acquire(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        assert!(err.contains("CLAUDERON_HOME"), "{err}");
        drop(first);
        assert!(DaemonLock::acquire(&path).is_ok(), "lock must be free after drop");
    }
}
