//! Joining the pause process's user and mount namespaces from a running `peapod`.
//!
//! Podman does this in a C constructor before the Go runtime starts threads, and re-execs
//! itself. We need neither: `peapod` is single-threaded until its command runs, so it joins
//! in place (setns refuses a user namespace to a multithreaded process; that is checked
//! first and said plainly). Joining a mount namespace moves the working directory to the
//! namespace's root, so it is restored by path afterwards, as Podman does.
//!
//! The environment tells every process started from here (the monitor, its exit command,
//! an `unshare` shell, a nested `peapod`) that it already runs inside: `setenv` is the only
//! `unsafe` here, sound because no other thread exists yet.
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use nix::sched::{CloneFlags, setns};

use super::RootlessError;
use crate::error::Result;

/// Enters the user and mount namespaces of process `pid`.
pub(super) fn join(pid: i32) -> Result<()> {
    check_single_threaded()?;
    let cwd = std::env::current_dir().ok();
    let proc = Path::new("/proc").join(pid.to_string()).join("ns");
    let open = |kind: &str| {
        File::open(proc.join(kind))
            .map_err(|e| RootlessError::Join(format!("opening {}: {e}", proc.join(kind).display())))
    };
    let (user, mnt) = (open("user")?, open("mnt")?);
    setns(&user, CloneFlags::CLONE_NEWUSER)
        .map_err(|e| RootlessError::Join(format!("joining the user namespace of {pid}: {e}")))?;
    setns(&mnt, CloneFlags::CLONE_NEWNS)
        .map_err(|e| RootlessError::Join(format!("joining the mount namespace of {pid}: {e}")))?;
    if let Some(cwd) = cwd {
        std::env::set_current_dir(&cwd).map_err(|e| {
            RootlessError::Join(format!(
                "returning to the working directory {} in the user's mount namespace: {e}",
                cwd.display()
            ))
        })?;
    }
    Ok(())
}

fn check_single_threaded() -> Result<()> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(1);
    if threads > 1 {
        return Err(RootlessError::Join(format!(
            "the process has {threads} threads and the kernel lets only a single-threaded one enter a user namespace"
        ))
        .into());
    }
    Ok(())
}

/// Sets environment variables for this process and its children.
pub(super) fn export(vars: &[(&str, String)]) {
    if check_single_threaded().is_err() {
        // Never reached from `enter` (it checked already); refuse to race other threads.
        tracing::warn!("not exporting the rootless environment from a multithreaded process");
        return;
    }
    for (k, v) in vars {
        // SAFETY: the process is single-threaded (checked above), so no other thread can
        // read the environment while it changes.
        unsafe { std::env::set_var(k, v) };
    }
}

/// Whether the namespace file at `path` (a network namespace, say) belongs to the user
/// namespace this process is in or one below it: only those can be joined from here. The
/// kernel answers `NS_GET_USERNS` with EPERM for a namespace owned outside our scope.
pub fn namespace_is_ours(path: &Path) -> std::io::Result<bool> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // linux/nsfs.h: _IO(0xb7, 0x1).
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    let f = File::open(path)?;
    // SAFETY: `f` is a live descriptor; NS_GET_USERNS takes no argument and returns a new
    // descriptor or -1.
    let fd = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_USERNS as _) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EPERM) => Ok(false),
            _ => Err(e),
        };
    }
    // SAFETY: the ioctl returned a fresh descriptor that nothing else owns.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(true)
}
