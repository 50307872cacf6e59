//! The data directory's lock: the relay holds it for its whole run, and tools that write to a
//! store (import, compact --replace, delete) take it too, so a tool never writes under a
//! running relay and two relays never share a directory. An advisory `flock` on
//! `parrhesia.lock`: the kernel drops it when the process ends, however it ends.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "parrhesia.lock";

/// Held while alive; dropping it releases the directory.
#[derive(Debug)]
pub struct DirectoryLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the directory. Nothing was changed.
    #[error(
        "{path} is in use by another process ({holder}); stop the relay first, or use a command that \
         works through its URL"
    )]
    Held { path: PathBuf, holder: String },
    /// The directory or its lock file could not be opened. Nothing was changed.
    #[error("cannot lock {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl DirectoryLock {
    /// Takes the lock on `directory` (created if needed) without waiting, recording `holder`
    /// (e.g. "parrhesia relay, pid 1234") for whoever is refused next.
    pub fn acquire(directory: &Path, holder: &str) -> Result<DirectoryLock, LockError> {
        let io = |source| LockError::Io { path: directory.to_path_buf(), source };
        std::fs::create_dir_all(directory).map_err(io)?;
        let path = directory.join(LOCK_FILE);
        let mut file = File::options().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = if holder.trim().is_empty() { "unknown".to_string() } else { holder.trim().to_string() };
                return Err(LockError::Held { path: directory.to_path_buf(), holder });
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(io(error)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(format!("{holder}\n").as_bytes()).map_err(io)?;
        Ok(DirectoryLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name_until_it_lets_go() {
        let directory = tempfile::tempdir().unwrap();
        let first = DirectoryLock::acquire(directory.path(), "relay, pid 1").unwrap();
        let refused = DirectoryLock::acquire(directory.path(), "tools").unwrap_err();
        assert!(matches!(&refused, LockError::Held { holder, .. } if holder == "relay, pid 1"), "{refused}");
        drop(first);
        DirectoryLock::acquire(directory.path(), "tools").expect("free again");
    }
}
