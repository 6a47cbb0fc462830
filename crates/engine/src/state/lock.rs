//! Per-object locks: `flock(2)` on a file under `<runroot>/locks/`.
//!
//! flock locks die with their holder, so a crashed `peapod` never leaves an object locked.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, IoContext, Result};

/// A held lock; released on drop.
pub struct Lock {
    _flock: Flock<File>,
    path: PathBuf,
}

impl Lock {
    /// Take the exclusive lock named `name` in `dir`, waiting for it.
    pub fn acquire(dir: &Path, name: &str) -> Result<Lock> {
        std::fs::create_dir_all(dir).ctx("creating lock directory", dir)?;
        let path = dir.join(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ctx("opening lock", &path)?;
        let flock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::other(format!("locking {}: {e}", path.display())))?;
        Ok(Lock {
            _flock: flock,
            path,
        })
    }

    /// Take the lock named `name` in `dir` only if nobody holds it: `None` when it is held
    /// (by another process, or through another handle of this one).
    pub fn try_acquire(dir: &Path, name: &str) -> Result<Option<Lock>> {
        std::fs::create_dir_all(dir).ctx("creating lock directory", dir)?;
        let path = dir.join(name);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ctx("opening lock", &path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(flock) => Ok(Some(Lock {
                _flock: flock,
                path,
            })),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(Error::other(format!("locking {}: {e}", path.display()))),
        }
    }

    /// Remove the lock file (the object is gone). The lock is still held until drop.
    pub fn remove_file(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_not_taken_twice_even_by_its_own_process() {
        let t = tempfile::tempdir().unwrap();
        let held = Lock::acquire(t.path(), "x").unwrap();
        assert!(Lock::try_acquire(t.path(), "x").unwrap().is_none());
        drop(held);
        let again = Lock::try_acquire(t.path(), "x").unwrap();
        assert!(again.is_some());
    }
}
