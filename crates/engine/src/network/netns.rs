//! Network namespaces as files: a new namespace is pinned by bind-mounting its nsfs handle
//! onto a file under the runroot, as `ip netns add` and Podman do, so it outlives any one
//! process (a pod's members join the file, not `/proc/<pid>/ns/net`).

use std::path::Path;

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};

use crate::error::{Error, IoContext, Result};

/// Create a new network namespace pinned at `path` (with `lo` up).
pub fn create(path: &Path) -> Result<()> {
    pin_new(path, CloneFlags::CLONE_NEWNET, "net")
}

/// Create a new namespace of `flag`'s kind (`net`, `ipc`, `uts`, …) pinned at `path`. A new
/// network namespace gets `lo` up (the runtime does that only in namespaces it makes).
pub fn pin_new(path: &Path, flag: CloneFlags, kind: &'static str) -> Result<()> {
    let target = path.to_path_buf();
    pin(path, move || {
        // unshare moves only the calling thread: do it in a thread of its own, bind its
        // namespace to the file, and let the thread end.
        std::thread::spawn(move || -> Result<()> {
            unshare(flag).map_err(|e| Error::other(format!("creating a {kind} namespace: {e}")))?;
            if kind == "net" {
                super::lo::loopback_up()?;
            }
            bind(&format!("/proc/thread-self/ns/{kind}"), &target)
        })
        .join()
        .map_err(|_| Error::other("the thread creating a namespace panicked"))?
    })
}

/// Pin the `kind` namespace of process `pid` at `path` (replacing an older pin there).
pub fn pin_process(pid: i32, kind: &str, path: &Path) -> Result<()> {
    remove(path)?;
    let source = format!("/proc/{pid}/ns/{kind}");
    pin(path, || bind(&source, path))
}

/// Make the empty file `path` and have `make` bind a namespace onto it; no file is left
/// when that fails.
fn pin(path: &Path, make: impl FnOnce() -> Result<()>) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).ctx("creating", dir)?;
    }
    std::fs::File::create(path).ctx("creating", path)?;
    let result = make();
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

fn bind(source: &str, target: &Path) -> Result<()> {
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::other(format!("pinning {source} at {}: {e}", target.display())))
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
    // A pod's shared /dev/shm is a directory (see `mount_shm`); a namespace pin a file.
    let removed = if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", path, e)),
    }
}

/// A pod's shared `/dev/shm`: a tmpfs mounted at the directory `path` as Podman mounts a
/// container's (`mode=1777,size=65536k`, nosuid, noexec, nodev), bind-mounted by every
/// member sharing the pod's ipc namespace. Released by [`remove`].
pub fn mount_shm(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).ctx("creating", path)?;
    mount(
        Some("shm"),
        path,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
        Some("mode=1777,size=65536k"),
    )
    .map_err(|e| {
        Error::other(format!(
            "mounting the pod's /dev/shm at {}: {e}",
            path.display()
        ))
    })
}
