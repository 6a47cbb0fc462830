//! Network namespaces as files: a new namespace is pinned by bind-mounting its nsfs handle
//! onto a file under the runroot, as `ip netns add` and Podman do, so it outlives any one
//! process (a pod's members join the file, not `/proc/<pid>/ns/net`).

use std::path::Path;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};

use crate::error::{Error, IoContext, Result};

/// Create a new network namespace pinned at `path`.
pub fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ctx("creating", dir)?;
    }
    std::fs::File::create(path).ctx("creating", path)?;
    let target = path.to_path_buf();
    // unshare(CLONE_NEWNET) moves only the calling thread: do it in a thread of its own,
    // bind its namespace to the file, and let the thread end.
    let result = std::thread::spawn(move || -> Result<()> {
        unshare(CloneFlags::CLONE_NEWNET)
            .map_err(|e| Error::other(format!("creating a network namespace: {e}")))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| {
            Error::other(format!(
                "pinning the network namespace at {}: {e}",
                target.display()
            ))
        })
    })
    .join()
    .map_err(|_| Error::other("the thread creating a network namespace panicked"))?;
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Unpin and remove a namespace file (fine if it is already gone).
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => {
            return Err(Error::other(format!(
                "unmounting network namespace {}: {e}",
                path.display()
            )));
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path, e)),
    }
}
