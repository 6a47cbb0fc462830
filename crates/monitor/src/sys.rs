//! The few raw system calls nix has no safe wrapper for. Everything `unsafe` in the
//! monitor lives here; each block says why it is sound.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::unistd::ForkResult;

/// fork(2). Called only while the monitor is single-threaded (it never starts threads).
pub fn fork() -> nix::Result<ForkResult> {
    // SAFETY: the monitor has exactly one thread, so the child cannot inherit a lock held
    // by another thread; the child continues running ordinary Rust code.
    unsafe { nix::unistd::fork() }
}

/// Take ownership of a file descriptor the kernel just handed us (accept4, SCM_RIGHTS) or
/// that our caller passed us by number (`_OCI_SYNCPIPE`…).
pub fn own_fd(raw: RawFd) -> OwnedFd {
    // SAFETY: `raw` is a valid open descriptor that nothing else in this process owns:
    // either just returned by the kernel, or inherited and named to us exactly once.
    unsafe { OwnedFd::from_raw_fd(raw) }
}

/// Take ownership of a descriptor inherited from our caller (named by `_OCI_SYNCPIPE`…)
/// after checking it is open, and mark it close-on-exec.
pub fn inherited_fd(raw: RawFd) -> nix::Result<OwnedFd> {
    // SAFETY: F_SETFD on a plain integer is harmless whether or not it is open: it either
    // sets the flag or fails with EBADF, and takes no pointer.
    let r = unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) };
    nix::errno::Errno::result(r)?;
    Ok(own_fd(raw))
}

/// Close every descriptor ≥ 3 except those in `keep` (conmon's `close_other_fds`): fds
/// leaked to us by the caller, e.g. Podman's reserved host ports.
pub fn close_fds_except(keep: &[RawFd]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && !keep.contains(fd))
        .collect();
    // The read_dir fd is closed by now (the iterator was consumed and dropped).
    for fd in fds {
        // SAFETY: closing an fd nothing in this process owns as an OwnedFd (callers keep
        // every fd they still use in `keep`); an already closed fd just gives EBADF.
        unsafe {
            libc::close(fd);
        }
    }
}

/// Now in local time (glibc's `localtime_r`, which reads `TZ` or `/etc/localtime` as
/// conmon's GLib does); UTC when the zone cannot be read.
pub fn local_now() -> crate::log::LocalTime {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    // SAFETY: `tm` is plain old data for which all zero bytes are a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `secs` and writes only into `tm`, both ours and alive for the
    // call; it returns null (leaving `tm` as it was) on failure.
    let mut ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
    if !ok {
        // SAFETY: as above.
        ok = !unsafe { libc::gmtime_r(&secs, &mut tm) }.is_null();
    }
    if !ok {
        tm.tm_year = 70;
        tm.tm_mday = 1;
    }
    crate::log::LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
        nanos: now.subsec_nanos(),
        offset: tm.tm_gmtoff as i32,
    }
}

/// Unmap the pages of this process's executable file mappings (ours and the shared
/// libraries'): private, read-only and executable, they are clean copies of the files'
/// pages in the page cache, so nothing is lost and the kernel maps each back on its next
/// use. What ran once (at startup) stops counting in the resident set.
pub fn release_code_pages() {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        // `start-end perms offset dev inode path`
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(range), Some(perms), Some(path)) = (f.first(), f.get(1), f.get(5)) else {
            continue;
        };
        if *perms != "r-xp" || !path.starts_with('/') {
            continue;
        }
        let Some((Ok(start), Ok(end))) = range
            .split_once('-')
            .map(|(a, b)| (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)))
        else {
            continue;
        };
        // SAFETY: [start, end) is a private, read-only, executable mapping of a file, so its
        // pages were never written: MADV_DONTNEED drops clean copies that the next access
        // reads back from the file. No Rust object lives in it.
        unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                end.saturating_sub(start),
                libc::MADV_DONTNEED,
            );
        }
    }
}

nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);

/// Set a terminal's window size.
pub fn set_winsize(fd: &impl AsRawFd, rows: u16, cols: u16) -> nix::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which lives for the call.
    unsafe { tiocswinsz(fd.as_raw_fd(), &ws) }.map(drop)
}

/// What the runtime child does between fork and exec.
pub struct ChildSetup {
    /// Restore this `oom_score_adj` (the monitor lowered its own).
    pub oom_score_adj: Option<String>,
    /// Block on this fd (the start pipe) until one read returns: exec-attach's second
    /// handshake.
    pub wait_fd: Option<RawFd>,
}

/// Make `cmd` die with the monitor (PDEATHSIG SIGKILL) and run `setup` in the child.
pub fn prepare_child(cmd: &mut Command, setup: ChildSetup) {
    let ChildSetup {
        oom_score_adj,
        wait_fd,
    } = setup;
    // SAFETY: the closure runs in the forked child of a single-threaded process, so it may
    // allocate; it only calls prctl, open/write on /proc and read(2).
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            if let Some(adj) = &oom_score_adj {
                let _ = std::fs::write("/proc/self/oom_score_adj", adj);
            }
            if let Some(fd) = wait_fd {
                let mut b = [0u8; 256];
                loop {
                    let n = libc::read(fd, b.as_mut_ptr().cast(), b.len());
                    if n >= 0
                        || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                    {
                        break;
                    }
                }
            }
            Ok(())
        });
    }
}
