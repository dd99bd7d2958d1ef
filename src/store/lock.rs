//! The delivery lock: a file lock beside the database that one process holds
//! while it delivers, so that `pollhook run` and `pollhook poll` never send
//! the same event at the same time, and two daemons never share one state.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Held while this process may deliver; released when dropped.
#[derive(Debug)]
pub struct DeliveryLock {
    _file: File,
    pub path: PathBuf,
}

impl DeliveryLock {
    /// Takes the lock of the database at `state` for `holder` (such as
    /// `run` or `poll`), or returns the holder's description when another
    /// process has it.
    pub fn try_acquire(
        state: &Path,
        holder: &str,
    ) -> std::io::Result<Result<DeliveryLock, String>> {
        let path = lock_path(state);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0)?;
                file.rewind()?;
                writeln!(file, "{holder} {}", std::process::id())?;
                Ok(Ok(DeliveryLock { _file: file, path }))
            }
            Err(TryLockError::WouldBlock) => {
                let mut owner = String::new();
                file.read_to_string(&mut owner)?;
                Ok(Err(owner.trim().to_owned()))
            }
            Err(TryLockError::Error(error)) => Err(error),
        }
    }
}

/// Returns the lock file of the database at `state`: the same path with
/// `.lock` added.
pub fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_release() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let first = DeliveryLock::try_acquire(&state, "run").unwrap();
        assert!(first.is_ok());
        let refused = DeliveryLock::try_acquire(&state, "poll").unwrap();
        assert_eq!(refused.unwrap_err(), format!("run {}", std::process::id()));
        drop(first);
        assert!(DeliveryLock::try_acquire(&state, "poll").unwrap().is_ok());
    }
}
