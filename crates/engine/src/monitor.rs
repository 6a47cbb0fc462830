//! Spawning the monitor (`peapod-monitor`, or conmon itself) with conmon's command line and
//! speaking its sync-pipe protocol.
//!
//! Like Podman, we pass two `SOCK_SEQPACKET` socket pairs as fds 3 and 4 (`_OCI_SYNCPIPE`,
//! `_OCI_STARTPIPE`), write one byte on the start pipe, and read `{"data": PID}` (or
//! `{"data": -1, "message": …}`) from the sync pipe once the runtime has created the
//! container. The monitor double-forks, so the process we spawn exits at once.
#![allow(unsafe_code)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use peapod_monitor::{ENV_ATTACHPIPE, ENV_STARTPIPE, ENV_SYNCPIPE, SyncMessage};

use crate::error::{Error, Result};
use crate::oci::runtime::command_error_code;

/// Everything the monitor needs for one container.
pub struct MonitorRequest<'a> {
    pub monitor: &'a Path,
    pub runtime: &'a crate::oci::Runtime,
    pub id: &'a str,
    /// conmon's `-u`: the container id, or the exec session id.
    pub uuid: &'a str,
    pub name: &'a str,
    pub bundle: &'a Path,
    pub pidfile: &'a Path,
    pub conmon_pidfile: &'a Path,
    pub exit_dir: &'a Path,
    pub persist_dir: &'a Path,
    /// `k8s-file:PATH`, `none`, `passthrough`, `journald`.
    pub log: String,
    pub log_size_max: Option<u64>,
    /// Only sent when set: conmon before 2.2 does not know `--log-max-files`.
    pub log_max_files: Option<u32>,
    /// conmon's `--no-sync-log`: no fsync of the log when the container exits. For a
    /// container whose log is removed with it (`--rm` and the default log path): syncing a
    /// file about to be deleted only delays the exit file by an fsync.
    pub no_sync_log: bool,
    pub tty: bool,
    pub stdin: bool,
    pub log_level: &'a str,
    /// argv of the exit command; `[0]` is the binary.
    pub exit_command: Vec<String>,
    /// conmon's `--timeout`: kill the container after this many seconds.
    pub timeout: Option<u32>,
    /// Exec mode: run this process spec in the running container instead of creating it.
    pub exec: Option<ExecMode<'a>>,
    /// A descriptor the monitor keeps open (after the pipes) for as long as it lives: the
    /// exit pipe of the container's userspace network helpers (slirp4netns, the forwarder).
    pub hold: Option<RawFd>,
    /// `--preserve-fds N`: our fds 3 … 3+N-1 stay where they are for the runtime to pass
    /// into the container (`--runtime-opt --preserve-fds`); the pipes follow them, as
    /// Podman places them for conmon.
    pub preserve_fds: u32,
    /// peapod-monitor only: the options that schedule healthchecks
    /// (`--health-interval-ms`, `--health-command`, `--health-command-arg`).
    pub health: Vec<String>,
    /// `--sdnotify=container`: systemd's `NOTIFY_SOCKET` is left to the runtime, which proxies
    /// it into the container (runc's `/run/notify/notify.sock`).
    pub notify_socket: bool,
}

/// The descriptors ≥ 3 this process was started with, noted before it opened any.
static INHERITED: std::sync::OnceLock<Vec<RawFd>> = std::sync::OnceLock::new();

/// Notes which descriptors ≥ 3 this process inherited (Podman's `IsFdInherited`): only
/// those may be preserved into a container. Call first thing, before anything is opened.
///
/// Every `peapod` call pays this: one listing of `/proc/self/fd` (a few system calls),
/// not a probe of each possible descriptor.
pub fn note_inherited_fds() {
    use std::os::fd::AsRawFd;
    let open = match nix::dir::Dir::open(
        "/proc/self/fd",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        Ok(mut dir) => {
            let own = dir.as_raw_fd();
            let mut fds: Vec<RawFd> = dir
                .iter()
                .flatten()
                .filter_map(|e| e.file_name().to_str().ok()?.parse::<RawFd>().ok())
                .filter(|fd| *fd >= 3 && *fd != own)
                .collect();
            fds.sort_unstable();
            fds
        }
        // No /proc: probe the usual range.
        Err(_) => (3..256)
            // SAFETY: F_GETFD on a plain integer only reads the flags or fails with EBADF.
            .filter(|fd| unsafe { libc::fcntl(*fd, libc::F_GETFD) } >= 0)
            .collect(),
    };
    let _ = INHERITED.set(open);
}

/// Refuses `--preserve-fds N` unless fds 3 … 3+N-1 were all inherited: an fd of the
/// engine's own must never reach a container.
pub(crate) fn check_preserved(n: u32) -> Result<()> {
    let inherited = INHERITED.get().map(Vec::as_slice).unwrap_or(&[]);
    let last = 2 + n as RawFd;
    match (3..=last).find(|fd| !inherited.contains(fd)) {
        Some(fd) => Err(Error::invalid(format!(
            "file descriptor {fd} is not available - the preserve-fds option requires that all file descriptors between fd 3 and {last}, inclusively, are available"
        ))),
        None => Ok(()),
    }
}

/// conmon's `-e --exec-process-spec SPEC [--exec-attach]`.
pub struct ExecMode<'a> {
    pub process_spec: &'a Path,
    /// The caller attaches before the process starts (the attach-pipe handshake).
    pub attach: bool,
}

pub struct Spawned {
    pub pid: i32,
    pub conmon_pid: i32,
}

/// A monitor that has forked and is waiting for, or running, its container or exec
/// process. Holds our ends of the sync, start and attach pipes.
pub struct Launched {
    sync: OwnedFd,
    start: File,
    attach_pipe: Option<OwnedFd>,
    runtime: PathBuf,
    pub conmon_pid: i32,
}

/// How long the runtime may take to create a container.
const CREATE_TIMEOUT: Duration = Duration::from_secs(240);

/// Spawn the monitor and wait until the runtime has created the container: its pid.
pub fn spawn(req: &MonitorRequest<'_>) -> Result<Spawned> {
    let launched = launch(req)?;
    let pid = launched.read_pid().inspect_err(|_| launched.kill())?;
    Ok(Spawned {
        pid,
        conmon_pid: launched.conmon_pid,
    })
}

/// Spawn the monitor, let it go (the start byte) and wait for its first process to exit
/// (it double-forks). What follows depends on the mode: see [`Launched`].
pub fn launch(req: &MonitorRequest<'_>) -> Result<Launched> {
    check_preserved(req.preserve_fds)?;
    let (sync_parent, sync_child) = seqpacket_pair()?;
    let (start_parent, start_child) = seqpacket_pair()?;
    let exec_attach = req.exec.as_ref().is_some_and(|e| e.attach);
    let (attach_parent, attach_child) = if exec_attach {
        let (p, c) = seqpacket_pair()?;
        (Some(p), Some(c))
    } else {
        (None, None)
    };

    let mut cmd = Command::new(req.monitor);
    cmd.arg("--api-version").arg("1");
    cmd.arg("-c").arg(req.id).arg("-u").arg(req.uuid);
    cmd.arg("-r").arg(&req.runtime.path);
    for f in &req.runtime.flags {
        cmd.arg("--runtime-arg").arg(f);
    }
    cmd.arg("-b").arg(req.bundle);
    cmd.arg("-p").arg(req.pidfile);
    cmd.arg("-n").arg(req.name);
    cmd.arg("--exit-dir").arg(req.exit_dir);
    cmd.arg("--persist-dir").arg(req.persist_dir);
    cmd.arg("--full-attach");
    cmd.arg("-l").arg(&req.log);
    cmd.arg("--log-level").arg(req.log_level);
    if let Some(max) = req.log_size_max {
        cmd.arg("--log-size-max").arg(max.to_string());
    }
    if let Some(n) = req.log_max_files {
        cmd.arg("--log-max-files").arg(n.to_string());
    }
    if req.no_sync_log {
        cmd.arg("--no-sync-log");
    }
    if req.tty {
        cmd.arg("-t");
    } else if req.stdin {
        cmd.arg("-i");
    }
    if let Some(e) = &req.exec {
        cmd.arg("-e");
        if e.attach {
            cmd.arg("--exec-attach");
        }
        cmd.arg("--exec-process-spec").arg(e.process_spec);
    }
    cmd.arg("--conmon-pidfile").arg(req.conmon_pidfile);
    if let Some(t) = req.timeout {
        cmd.arg("--timeout").arg(t.to_string());
    }
    if let Some((bin, args)) = req.exit_command.split_first() {
        cmd.arg("--exit-command").arg(bin);
        for a in args {
            cmd.arg("--exit-command-arg").arg(a);
        }
    }
    cmd.args(&req.health);
    if req.preserve_fds > 0 {
        let n = req.preserve_fds.to_string();
        cmd.args(["--runtime-opt", "--preserve-fds", "--runtime-opt", &n]);
    }
    // The pipes follow the preserved fds (Podman: `_OCI_SYNCPIPE=preserveFDs+3`).
    let first = 3 + req.preserve_fds as RawFd;
    cmd.env(ENV_SYNCPIPE, first.to_string())
        .env(ENV_STARTPIPE, (first + 1).to_string());
    if exec_attach {
        cmd.env(ENV_ATTACHPIPE, (first + 2).to_string());
    }
    if !req.notify_socket {
        cmd.env_remove("NOTIFY_SOCKET");
    }
    if req.log == "passthrough" {
        // The container gets our own stdio, as Podman passes its to conmon.
        cmd.stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
    } else {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
    }
    let sync_fd = sync_child.as_raw_fd();
    let start_fd = start_child.as_raw_fd();
    let attach_fd = attach_child.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
    let hold_fd = req.hold.unwrap_or(-1);
    let parent = nix::unistd::getpid();
    // Above every fd the child will use, for the moves.
    let scratch = first + 8;
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe syscalls (prctl, getppid, fcntl, dup2, setpgid, _exit) on fds it
    // owns. dup2 clears close-on-exec on the targets, so exactly the preserved fds, the
    // sync and start pipes (and the attach pipe and the held fd) reach the monitor. The parent-death signal kills the monitor's first process if we die before
    // it has forked its long-lived one (which does not inherit it): a start killed that
    // early leaves no monitor behind.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if nix::unistd::getppid() != parent {
                libc::_exit(1);
            }
            let a = libc::fcntl(sync_fd, libc::F_DUPFD_CLOEXEC, scratch);
            let b = libc::fcntl(start_fd, libc::F_DUPFD_CLOEXEC, scratch);
            let c = if attach_fd >= 0 {
                libc::fcntl(attach_fd, libc::F_DUPFD_CLOEXEC, scratch)
            } else {
                0
            };
            let h = if hold_fd >= 0 {
                libc::fcntl(hold_fd, libc::F_DUPFD_CLOEXEC, scratch)
            } else {
                0
            };
            if a < 0 || b < 0 || c < 0 || h < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::dup2(a, first) < 0 || libc::dup2(b, first + 1) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if attach_fd >= 0 && libc::dup2(c, first + 2) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if hold_fd >= 0 && libc::dup2(h, first + 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::other(format!("starting monitor {}: {e}", req.monitor.display())))?;
    drop(sync_child);
    drop(start_child);
    drop(attach_child);

    // Podman would move the monitor into its cgroup here; then it lets it go on.
    let mut start = File::from(start_parent);
    let _ = start.write_all(&[0]);

    let status = child
        .wait()
        .map_err(|e| Error::other(format!("waiting for monitor: {e}")))?;
    if !status.success() {
        // Read stderr only when the first process failed: on success the long-lived
        // grandchild could still hold the pipe (conmon points it at /dev/null, but a
        // monitor that forgot would hang us here).
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        return Err(Error::other(format!(
            "monitor {} failed ({status}): {}",
            req.monitor.display(),
            stderr.trim()
        )));
    }

    let conmon_pid = std::fs::read_to_string(req.conmon_pidfile)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    Ok(Launched {
        sync: sync_parent,
        start,
        attach_pipe: attach_parent,
        runtime: req.runtime.path.clone(),
        conmon_pid,
    })
}

impl Launched {
    /// Give up on a monitor that failed us half-way (no pid in time, a broken handshake):
    /// kill it so nothing runs on unwatched; its runtime child dies with it (PDEATHSIG).
    pub fn kill(&self) {
        if self.conmon_pid > 0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.conmon_pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// The first sync message: the pid of the container (or exec) process, or the
    /// runtime's error mapped to Podman's exit codes (126/127 for a command that cannot
    /// be run).
    pub fn read_pid(&self) -> Result<i32> {
        let msg = read_sync(&self.sync, CREATE_TIMEOUT)?;
        if msg.data < 0 {
            let message = msg
                .message
                .unwrap_or_else(|| "container create failed (no message from the monitor)".into());
            let message = crate::oci::runtime::runtime_message(message.as_bytes());
            return Err(match command_error_code(&message) {
                Some(code) => Error::Command {
                    message: format!(
                        "{}: {message}",
                        self.runtime
                            .file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                    ),
                    code,
                },
                // Podman's `define.ExitCode`: a start the runtime refused is 126 too.
                None => Error::Command {
                    message: format!("OCI runtime error: {message}"),
                    code: crate::error::exit::CANNOT_INVOKE,
                },
            });
        }
        Ok(msg.data as i32)
    }

    /// Exec attach: wait until the monitor has its attach socket ready.
    pub fn wait_attach_ready(&self) -> Result<()> {
        let Some(fd) = &self.attach_pipe else {
            return Ok(());
        };
        let msg = read_sync(fd, CREATE_TIMEOUT)?;
        if msg.data < 0 {
            return Err(Error::Runtime(msg.message.unwrap_or_else(|| {
                "the monitor could not set up the exec session's attach socket".into()
            })));
        }
        Ok(())
    }

    /// Exec attach: we are connected; let the process start (the second start byte).
    pub fn begin(&mut self) -> Result<()> {
        self.start
            .write_all(&[0])
            .map_err(|e| Error::other(format!("starting the exec session: {e}")))
    }

    /// Exec: the process's exit code, the monitor's last message. Waits as long as it runs.
    pub fn read_exit(&self) -> Result<i32> {
        let msg = read_sync(&self.sync, Duration::MAX)?;
        if msg.data < 0 && msg.message.is_some() {
            return Err(Error::Runtime(msg.message.unwrap_or_default()));
        }
        Ok(msg.data as i32)
    }
}

fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::other(format!("socketpair: {e}")))
}

/// Read one sync message, waiting at most `timeout`. A closed pipe without a message means
/// the monitor died.
pub fn read_sync(fd: &OwnedFd, timeout: Duration) -> Result<SyncMessage> {
    let mut pfd = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    let ms = if timeout == Duration::MAX {
        PollTimeout::NONE
    } else {
        PollTimeout::try_from(timeout.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::MAX)
    };
    loop {
        match poll(&mut pfd, ms) {
            Ok(0) => return Err(Error::other("timed out waiting for the container monitor")),
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::other(format!("waiting for the monitor: {e}"))),
        }
    }
    let mut buf = vec![0u8; 65536];
    let n = nix::unistd::read(fd, &mut buf)
        .map_err(|e| Error::other(format!("reading the sync pipe: {e}")))?;
    if n == 0 {
        return Err(Error::other(
            "the container monitor exited without reporting the container's pid",
        ));
    }
    let text = String::from_utf8_lossy(&buf[..n]);
    let line = text.lines().next().unwrap_or("");
    SyncMessage::parse(line)
        .map_err(|e| Error::other(format!("bad message from the monitor {line:?}: {e}")))
}

/// Podman's k8s-file log argument.
pub fn log_arg(driver: &str, path: &Path) -> String {
    match driver {
        "k8s-file" | "json-file" | "" => format!("k8s-file:{}", path.display()),
        other => other.to_string(),
    }
}

pub fn default_log_path(bundle: &Path) -> PathBuf {
    bundle.join("ctr.log")
}
