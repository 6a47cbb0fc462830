//! The per-user pause process: `peapod-pause --userns`, which holds a user namespace and a
//! mount namespace for as long as the user has anything in them (Podman's `catatonit -P`).
//!
//! Its pid is in `$XDG_RUNTIME_DIR/peapod/pause.pid`, under the flock `pause.lock` beside
//! it, whatever `--runroot` says: the namespaces are the user's, not a store's. A pid is
//! believed only when that process is still a `peapod-pause` of this user in a user
//! namespace of its own, so a stale file after a reboot or a reused pid is never joined.
//!
//! Spawning one: the pause leaves our session and unshares (see `peapod_pause`'s
//! `--userns` handshake); we write its mappings from outside, then let it go on. Anything
//! that fails before that ends it (the go pipe closes), and it is reaped before we return:
//! a failed start leaves no process.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::subid::{IdMap, parse_map};
use super::{RootlessError, RootlessUser};
use crate::error::{IoContext, Result};

/// The fds `peapod-pause --userns` expects its handshake pipes on.
const READY_FD: i32 = 3;
const GO_FD: i32 = 4;

/// Where the pid file and its lock live: `$XDG_RUNTIME_DIR/peapod`.
pub(super) struct PauseFiles {
    pub dir: PathBuf,
}

impl PauseFiles {
    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("pause.pid")
    }

    /// The pid the file names, when that process is this user's pause process.
    pub fn live_pid(&self, uid: u32) -> Option<i32> {
        let text = std::fs::read_to_string(self.pid_file()).ok()?;
        let pid: i32 = text.trim().parse().ok()?;
        is_pause_of(pid, uid).then_some(pid)
    }

    /// Records `pid`: written aside, then renamed over the file.
    pub fn write_pid(&self, pid: i32) -> Result<()> {
        let tmp = self.dir.join("pause.pid.tmp");
        std::fs::write(&tmp, format!("{pid}\n")).ctx("writing", &tmp)?;
        std::fs::rename(&tmp, self.pid_file()).ctx("writing", self.pid_file())
    }
}

/// `pid` runs `peapod-pause`, belongs to `uid`, and sits in a user namespace other than ours.
fn is_pause_of(pid: i32, uid: u32) -> bool {
    let proc = proc_dir(pid);
    let comm = std::fs::read_to_string(proc.join("comm")).unwrap_or_default();
    let owner = std::fs::metadata(&proc).map(|m| m.uid()).ok();
    comm.trim() == "peapod-pause"
        && owner == Some(uid)
        && !is_zombie(pid)
        && ns_link(pid, "user").is_some_and(|ns| Some(ns) != ns_link_self("user"))
}

fn proc_dir(pid: i32) -> PathBuf {
    Path::new("/proc").join(pid.to_string())
}

/// `user:[4026531837]`: which namespace of `kind` a process is in.
fn ns_link(pid: i32, kind: &str) -> Option<PathBuf> {
    std::fs::read_link(proc_dir(pid).join("ns").join(kind)).ok()
}

fn ns_link_self(kind: &str) -> Option<PathBuf> {
    std::fs::read_link(Path::new("/proc/self/ns").join(kind)).ok()
}

fn is_zombie(pid: i32) -> bool {
    let stat = std::fs::read_to_string(proc_dir(pid).join("stat")).unwrap_or_default();
    match stat.rfind(')') {
        Some(i) => matches!(stat[i + 1..].trim_start().chars().next(), Some('Z' | 'X')),
        None => true,
    }
}

/// The uid and gid maps of the namespace `pid` is in.
pub(super) fn live_maps(pid: i32) -> Option<(Vec<IdMap>, Vec<IdMap>)> {
    let read = |f: &str| std::fs::read_to_string(proc_dir(pid).join(f)).ok();
    Some((parse_map(&read("uid_map")?), parse_map(&read("gid_map")?)))
}

/// Whether any process but the pause (and us) is in its user namespace: a monitor, a
/// container, another peapod command, an `unshare` shell. Processes we may not inspect
/// (a container's, running as a subordinate id) always have a monitor we may.
pub(super) fn in_use(pause: i32) -> bool {
    let Some(ns) = ns_link(pause, "user") else {
        return false;
    };
    let me = std::process::id() as i32;
    pids().any(|pid| pid != pause && pid != me && ns_link(pid, "user").as_ref() == Some(&ns))
}

fn pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
}

/// A monitor of this user still running in a user namespace of this runtime dir while no
/// pause process holds it (the pause was killed): its pid, so the namespaces its
/// containers live in are joined again instead of a new, empty pair being made.
pub(super) fn orphaned_monitor(uid: u32, runtime_dir: &Path) -> Option<i32> {
    let mine = ns_link_self("user");
    let wanted = {
        let mut v = b"XDG_RUNTIME_DIR=".to_vec();
        v.extend_from_slice(runtime_dir.as_os_str().as_encoded_bytes());
        v
    };
    pids().find(|&pid| {
        let proc = proc_dir(pid);
        let comm = std::fs::read_to_string(proc.join("comm")).unwrap_or_default();
        matches!(comm.trim(), "peapod-monitor" | "conmon")
            && std::fs::metadata(&proc).is_ok_and(|m| m.uid() == uid)
            && !is_zombie(pid)
            && ns_link(pid, "user").is_some_and(|ns| Some(ns) != mine)
            && std::fs::read(proc.join("environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == wanted.as_slice()))
    })
}

/// Ends the pause process `pid` (not our child: it is reaped by whoever adopted it) and
/// waits until it is gone.
pub(super) fn stop(pid: i32) {
    let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
    let start = Instant::now();
    while proc_dir(pid).exists() && !is_zombie(pid) {
        if start.elapsed() > Duration::from_secs(2) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if start.elapsed() > Duration::from_secs(5) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts `peapod-pause --userns`, maps it with `uids`/`gids`, and returns its pid. On any
/// failure it has exited and been reaped.
pub(super) fn spawn_userns(
    pause_bin: &Path,
    user: &RootlessUser,
    uids: &[IdMap],
    gids: &[IdMap],
) -> Result<i32> {
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let mut cmd = Command::new(pause_bin);
    cmd.arg("--userns");
    let (ready_fd, go_fd) = (ready_w.as_raw_fd(), go_r.as_raw_fd());
    // SAFETY: the closure runs in the forked child before exec and only calls dup2, which
    // is async-signal-safe, on fds this process owns. dup2 clears close-on-exec on the
    // targets, so exactly fds 3 and 4 (besides the null stdio) reach the pause process.
    unsafe {
        cmd.pre_exec(move || {
            let r = libc::fcntl(ready_fd, libc::F_DUPFD_CLOEXEC, 10);
            let g = libc::fcntl(go_fd, libc::F_DUPFD_CLOEXEC, 10);
            if r < 0 || g < 0 || libc::dup2(r, READY_FD) < 0 || libc::dup2(g, GO_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = spawn_detached(&mut cmd, pause_bin)?;
    drop((ready_w, go_r));
    let pid = child.id() as i32;
    // On any failure `go` is dropped unwritten: the pause sees end of file and exits.
    let result = wait_until_unshared(File::from(ready_r)).and_then(|()| {
        super::idmap::write(pid, user, uids, gids)?;
        File::from(go_w)
            .write_all(b"1")
            .ctx("releasing the pause process", pause_bin)
    });
    if result.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    result.map(|()| pid)
}

/// Reads the pause's report from `ready`: Ok once it is in its new namespaces.
fn wait_until_unshared(mut ready: File) -> Result<()> {
    let mut said = Vec::new();
    let mut buf = [0u8; 16];
    loop {
        let n = ready.read(&mut buf).unwrap_or(0);
        said.extend_from_slice(&buf[..n]);
        if n == 0 || said.first() == Some(&b'1') {
            break;
        }
    }
    match said.first() {
        Some(b'1') => Ok(()),
        Some(b'E') => {
            let errno = std::str::from_utf8(&said[1..])
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
                .unwrap_or(0);
            Err(RootlessError::Unshare(std::io::Error::from_raw_os_error(errno)).into())
        }
        _ => Err(RootlessError::Pause("it exited before entering its namespaces".into()).into()),
    }
}

/// Starts a plain `peapod-pause` in the namespaces this process is in now (after joining
/// an orphaned monitor's): the new holder of those namespaces.
pub(super) fn spawn_holder(pause_bin: &Path) -> Result<i32> {
    let mut cmd = Command::new(pause_bin);
    // SAFETY: setsid is async-signal-safe and touches nothing of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    spawn_detached(&mut cmd, pause_bin).map(|c| c.id() as i32)
}

/// Spawns with null stdio (the pause outlives us and must not hold the caller's pipes).
fn spawn_detached(cmd: &mut Command, bin: &Path) -> Result<std::process::Child> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .current_dir("/")
        .spawn()
        .map_err(|e| RootlessError::Pause(format!("starting {}: {e}", bin.display())).into())
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| RootlessError::Pause(format!("creating a pipe: {e}")).into())
}
