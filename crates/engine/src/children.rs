//! The helpers the engine runs and waits for (the network helper, the OCI runtime's
//! `start`/`kill`/`delete`/`state`) die with it.
//!
//! A `peapod` killed half-way through a command must not leave a helper that finishes its
//! part after the next command released everything: a network setup adding rules and
//! interfaces to a namespace already torn down, a `runtime start` running a container whose
//! start was already repaired. Whatever part a helper made before it died is covered by the
//! ledger's record, made before the helper ran.
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Have `cmd`'s process get SIGKILL when this thread's process dies (the thread that spawns
/// it must wait for it, as every caller does).
pub(crate) fn die_with_parent(cmd: &mut Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: runs in the forked child before exec and only makes async-signal-safe
    // syscalls (prctl, getppid, _exit); it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the prctl: then nobody is waiting for us.
            if nix::unistd::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}
