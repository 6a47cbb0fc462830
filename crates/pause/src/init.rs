//! Init mode (`peapod-pause [-g] -- PROGRAM [ARGS…]`), catatonit's main job and what
//! `run --init` mounts into a container at `/run/podman-init`: PID 1 runs the program as its
//! child, forwards every signal it receives to it (to its process group with `-g`), reaps
//! every zombie that is reparented to it, and exits with the program's status (128 + the
//! signal's number when a signal ended it).
//!
//! Unlike pause mode it keeps the working directory and every inherited descriptor
//! (`--preserve-fds`, socket activation): they are the program's.

use crate::sys::{self, Errno, StrArray};
use crate::{report, report_parts};

/// The default search path when the environment has no `PATH` (Go's and musl's).
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The longest path we build for a `PATH` lookup (Linux's `PATH_MAX`).
const PATH_MAX: usize = 4096;

/// Exit status of a wait status, as a shell reports it.
pub fn exit_code(status: i32) -> u8 {
    let sig = status & 0x7f;
    if sig == 0 {
        ((status >> 8) & 0xff) as u8
    } else {
        128u8.wrapping_add(sig as u8)
    }
}

/// Whether a signal is forwarded to the program (all but SIGCHLD, which is ours).
pub fn forwarded(signo: u32) -> bool {
    signo as i32 != libc::SIGCHLD
}

/// `dir/name` with a NUL, in `buf`; None when it does not fit.
pub fn join<'b>(buf: &'b mut [u8; PATH_MAX], dir: &[u8], name: &[u8]) -> Option<&'b [u8]> {
    let dir = if dir.is_empty() { b"." as &[u8] } else { dir };
    let len = dir.len() + 1 + name.len() + 1;
    if len > buf.len() {
        return None;
    }
    buf[..dir.len()].copy_from_slice(dir);
    buf[dir.len()] = b'/';
    buf[dir.len() + 1..dir.len() + 1 + name.len()].copy_from_slice(name);
    buf[len - 1] = 0;
    Some(&buf[..len])
}

/// execvp: a name with a slash is run as it is, any other is looked up in `PATH`. Returns
/// the exit code for the failure (127: not found, 126: found but not runnable).
fn exec(program: StrArray, envp: StrArray) -> u8 {
    let Some(name) = program.get(0) else {
        return 127;
    };
    let mut buf = [0u8; PATH_MAX];
    let mut denied = false;
    let mut last = Errno(libc::ENOENT);
    if name.contains(&b'/') {
        if name.len() + 1 > buf.len() {
            last = Errno(libc::ENAMETOOLONG);
        } else {
            buf[..name.len()].copy_from_slice(name);
            buf[name.len()] = 0;
            last = sys::execve(&buf[..=name.len()], program, envp);
            denied = matches!(last.0, libc::EACCES | libc::ENOEXEC);
        }
    } else if !name.is_empty() {
        let path = envp.var(b"PATH").unwrap_or(DEFAULT_PATH);
        for dir in path.split(|c| *c == b':') {
            let mut candidate = [0u8; PATH_MAX];
            let Some(full) = join(&mut candidate, dir, name) else {
                continue;
            };
            let e = sys::execve(full, program, envp);
            if e.0 == libc::EACCES || e.0 == libc::ENOEXEC {
                denied = true;
            }
            last = e;
        }
    }
    report_parts(&[b"failed to exec '", name, b"'"], last);
    if denied { 126 } else { 127 }
}

/// Runs `program` (with `envp`) as our child and stays its init; `mask` is the signal mask
/// already blocked. Returns our exit code.
pub fn run(program: StrArray, envp: StrArray, group: bool, mask: u64) -> u8 {
    if sys::getpid() != 1
        && let Err(e) = sys::set_child_subreaper()
    {
        report(b"failed to set PR_SET_CHILD_SUBREAPER", e);
        return 1;
    }
    let sfd = match sys::signalfd(mask) {
        Ok(fd) => fd,
        Err(e) => {
            report(b"failed to create signalfd", e);
            return 1;
        }
    };
    let child = match sys::fork() {
        Ok(0) => {
            // The program gets no blocked signal of ours; the signalfd is close-on-exec.
            let _ = sys::block_signals(0);
            if group {
                // Its own process group, which -g signals as a whole.
                let _ = sys::setpgid_self();
            }
            sys::exit(exec(program, envp));
        }
        Ok(pid) => pid,
        Err(e) => {
            report(b"failed to fork", e);
            return 1;
        }
    };
    let target = if group { -child } else { child };
    loop {
        let signo = match sys::read_signal(sfd) {
            Ok(s) => s,
            Err(Errno(libc::EINTR | libc::EAGAIN)) => continue,
            Err(e) => {
                report(b"failed to read signalfd", e);
                return 1;
            }
        };
        if forwarded(signo) {
            // The program may be gone already; the next SIGCHLD tells.
            let _ = sys::kill(target, signo);
            continue;
        }
        loop {
            match sys::reap_one_status() {
                Ok(Some((pid, status))) if pid == child => return exit_code(status),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    report(b"failed to reap children", e);
                    return 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_as_a_shell_reports_them() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(libc::SIGKILL), 137);
        assert_eq!(exit_code(libc::SIGTERM), 143);
    }

    #[test]
    fn every_signal_but_sigchld_is_forwarded() {
        assert!(!forwarded(libc::SIGCHLD as u32));
        for sig in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGHUP,
            libc::SIGUSR1,
            libc::SIGWINCH,
        ] {
            assert!(forwarded(sig as u32), "{sig}");
        }
    }

    #[test]
    fn joins_path_entries() {
        let mut buf = [0u8; PATH_MAX];
        assert_eq!(join(&mut buf, b"/bin", b"sh").unwrap(), b"/bin/sh\0");
        assert_eq!(join(&mut buf, b"", b"sh").unwrap(), b"./sh\0");
        let long = [b'a'; PATH_MAX];
        assert!(join(&mut buf, &long, b"sh").is_none());
    }
}
