//! Work that outlives the command: a grandchild, in a session of its own, with nothing of
//! the caller's but one descriptor.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};

use nix::unistd::{ForkResult, fork};

/// Runs `work` in a detached grandchild and returns `true` once the intermediate child is
/// reaped (the grandchild then runs on, reparented); `false` when no process could be made,
/// and nothing ran. The grandchild keeps only `keep` of this process's descriptors (and
/// /dev/null as stdin, stdout and stderr: a caller that reads this command's output to its
/// end must not wait for it) and ends with `_exit`, running no destructor of this process.
///
/// Call it only while no other thread runs: the children use the heap.
pub fn run_detached(keep: RawFd, work: impl FnOnce()) -> bool {
    // SAFETY: the caller runs no other thread, so the child's heap and locks are consistent.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { child }) => {
            let _ = nix::sys::wait::waitpid(child, None);
            true
        }
        Ok(ForkResult::Child) => {
            let _ = nix::unistd::setsid();
            // SAFETY: as above; this child is single-threaded too. When no grandchild can be
            // made, this child does the work itself (the caller then waits for it).
            match unsafe { fork() } {
                Ok(ForkResult::Parent { .. }) => {}
                Ok(ForkResult::Child) | Err(_) => {
                    keep_only(keep);
                    work();
                }
            }
            // SAFETY: ends this process without running the parent's destructors (a lock
            // guard's unlock among them).
            unsafe { libc::_exit(0) }
        }
        Err(_) => false,
    }
}

/// Points stdin, stdout and stderr at /dev/null and closes every other descriptor but
/// `keep` (a netlink socket opened in a container's namespace would keep that namespace,
/// and the veth in it, alive).
fn keep_only(keep: RawFd) {
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            // SAFETY: dup2 onto this process's standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
    let keep = keep as libc::c_uint;
    // SAFETY: close_range(2) of descriptors this process no longer uses; an empty range
    // (keep == 3) fails with EINVAL and closes nothing.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            keep.saturating_sub(1),
            0 as libc::c_uint,
        );
        libc::syscall(
            libc::SYS_close_range,
            keep + 1,
            libc::c_uint::MAX,
            0 as libc::c_uint,
        );
    }
}
