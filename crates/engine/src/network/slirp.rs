//! `--network slirp4netns[:OPTIONS]`: a userspace network for a container's namespace, by
//! driving Debian's `slirp4netns` exactly as Podman 4 does (tap0 10.0.2.100/24, gateway
//! 10.0.2.2, DNS 10.0.2.3, IPv6 fd00::/64; a ready pipe and an exit pipe). The default
//! network of a rootless container; root may ask for it too.
//!
//! Published ports go through `peapod-netsetup forward` (Podman's rootlessport: the server
//! sees a connection from inside its own namespace), or with `port_handler=slirp4netns`
//! through slirp4netns's API socket (`add_hostfwd`: the server sees the client's address, or
//! the gateway for a client on the host's loopback).
//!
//! Lifetime: both helpers read an exit pipe whose write end only the container's monitor
//! holds (handed to it as fd 6): when the monitor goes, so do they. Each is also a row of
//! the ledger (`Resource::Helper`, recorded before it is started), so every release path
//! kills it by the pid recorded in the owner's run directory; a pod's network outlives any
//! one monitor, so for a pod's namespace that is the only way, and no exit pipe is given.
//!
//! Unsafe code: `pre_exec` to hand the helpers their pipes as fds 3 and 4.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ipnet::Ipv4Net;
use peapod_netsetup::forward::Forward;
use peapod_netsetup::types::{NetAddress, NetInterface, PortMapping, StatusBlock};

use super::ipam::Owner;
use super::setup::PendingSetup;
use crate::Engine;
use crate::container::Container;
use crate::error::{Error, IoContext, Result};
use crate::state::{Holder, Resource};

mod options;
#[allow(unused_imports)]
pub use options::*;

/// The mode's name, and the key of its entry in a container's network status.
pub const SLIRP: &str = "slirp4netns";
const TUN: &str = "/dev/net/tun";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const SLIRP_PID: &str = "slirp4netns.pid";
const FORWARD_PID: &str = "forward.pid";

/// A pipe whose ends are close-on-exec (the child gets its end by dup2).
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::other(format!("creating a pipe: {e}")))
}

/// Starts a helper in a session of its own, with `fds` moved to 3 and 4 (-1: none), no
/// stdin/stdout, stderr into `log`.
fn spawn(mut cmd: Command, fds: [i32; 2], log: &Path) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let log_file = std::fs::File::create(log).ctx("creating", log)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file));
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (fcntl, dup2, setsid) on descriptors we own.
    unsafe {
        cmd.pre_exec(move || {
            let mut moved = [-1; 2];
            for (i, fd) in fds.iter().enumerate() {
                if *fd >= 0 {
                    moved[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
                    if moved[i] < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
            }
            for (i, fd) in moved.iter().enumerate() {
                if *fd >= 0 && libc::dup2(*fd, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            libc::setsid();
            Ok(())
        });
    }
    let name = cmd.get_program().to_string_lossy().into_owned();
    cmd.spawn()
        .map_err(|e| Error::other(format!("starting {name}: {e}")))
}

/// Waits for the helper's ready byte on `ready`: `1`, or `E` and its message; anything
/// else (it died, it hung) is an error with its log.
fn wait_ready(what: &str, child: &mut Child, ready: OwnedFd, log: &Path) -> Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut said = Vec::new();
    let mut file = std::fs::File::from(ready);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(&file),
            PollFlags::POLLIN,
        )];
        let ms =
            PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, ms) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::other(format!("waiting for {what}: {e}"))),
        }
        let mut buf = [0u8; 4096];
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                said.extend_from_slice(&buf[..n]);
                if said.first() == Some(&b'1') {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::other(format!("waiting for {what}: {e}"))),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    if said.first() == Some(&b'E') {
        return Err(Error::invalid(
            String::from_utf8_lossy(&said[1..]).into_owned(),
        ));
    }
    let log_text = std::fs::read_to_string(log).unwrap_or_default();
    Err(Error::other(format!(
        "{what} failed to set up the network: {}",
        if log_text.trim().is_empty() {
            "it exited without a word (or did not answer in time)".to_string()
        } else {
            log_text.trim().replace('\n', "; ")
        }
    )))
}

/// `/dev/net/tun` must be open to the user, or slirp4netns fails deep inside.
pub(super) fn check_tun() -> Result<()> {
    use nix::unistd::{AccessFlags, access};
    access(TUN, AccessFlags::R_OK | AccessFlags::W_OK).map_err(|e| {
        Error::invalid(format!(
            "{TUN} is not accessible ({}): slirp4netns and pasta need it to give the container a network; as root, chmod 0666 {TUN} (or use --network none)",
            e.desc().to_lowercase()
        ))
    })
}

/// Kills the helper whose pid is in `file` if it is still that helper (`comm`), and waits a
/// moment for it to be gone.
pub(crate) fn kill_recorded(file: &Path, comm: &str) {
    let Some(pid) = std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    else {
        let _ = std::fs::remove_file(file);
        return;
    };
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let (name, rest) = s.split_once(" (")?.1.rsplit_once(") ")?;
                Some(name.starts_with(&comm[..comm.len().min(15)]) && !rest.starts_with('Z'))
            })
            .unwrap_or(false)
    };
    if alive() {
        let p = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(p, nix::sys::signal::Signal::SIGKILL);
        let deadline = Instant::now() + Duration::from_secs(2);
        // It is usually gone within a millisecond: look again soon, then less often.
        let mut pause = Duration::from_millis(1);
        while Instant::now() < deadline {
            // Our own child (the same command set it up): reap it.
            let _ = nix::sys::wait::waitpid(p, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
            if !alive() {
                break;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        }
    }
    let _ = std::fs::remove_file(file);
}

/// Exit pipes' write ends waiting for their container's monitor, by container id.
static MONITOR_HOLDS: std::sync::Mutex<Vec<(String, OwnedFd)>> = std::sync::Mutex::new(Vec::new());

/// The exit pipe's write end the monitor of container `id` is to hold (see the module docs).
pub(crate) fn take_monitor_fd(id: &str) -> Option<OwnedFd> {
    let mut held = MONITOR_HOLDS.lock().unwrap_or_else(|e| e.into_inner());
    let i = held.iter().position(|(c, _)| c == id)?;
    Some(held.swap_remove(i).1)
}

/// A helper process to start: recorded in the ledger before it exists.
struct HelperStart {
    what: &'static str,
    comm: &'static str,
    cmd: Command,
    /// The exit pipe's read end (fd 3 in the helper), or -1.
    exit_fd: i32,
    pid_file: PathBuf,
    log: PathBuf,
    /// More files its release removes (an API socket).
    files: Vec<PathBuf>,
}

impl Engine {
    /// [`Engine::slirp_setup`] for `c`'s own network (its monitor will hold the exit pipe)
    /// or its pod's (no exit pipe: releasing the pod's resources stops the helpers).
    /// With `overlap`, a container's own slirp4netns without published ports is left to
    /// get ready while the caller goes on: the [`PendingSetup`] returned waits for it.
    pub(crate) fn slirp_setup_for(
        &self,
        c: &mut Container,
        holder: &Holder,
        overlap: bool,
    ) -> Result<Option<PendingSetup>> {
        if super::pasta::is_pasta(&c.config.network_mode) {
            return self.pasta_setup(c, holder).map(|()| None);
        }
        if !matches!(holder, Holder::Container(id) if id == c.id()) {
            return self.slirp_setup(c, holder, None, false);
        }
        let (r, w) = pipe()?;
        let pending = self.slirp_setup(c, holder, Some(&r), overlap)?;
        drop(take_monitor_fd(c.id()));
        MONITOR_HOLDS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((c.id().to_string(), w));
        Ok(pending)
    }

    /// The API socket of the owner's slirp4netns (short: sun_path holds 108 bytes).
    fn slirp_socket(&self, owner: &Owner) -> PathBuf {
        let short: String = owner.id.chars().take(20).collect();
        self.paths
            .runroot
            .join("slirp")
            .join(format!("{short}.sock"))
    }

    /// Starts `h` for `holder` and waits until it says it is ready; the ledger's row makes
    /// every release path (rm, cleanup, pod rm, system check --repair) stop it.
    fn start_helper(&self, holder: &Holder, h: HelperStart) -> Result<()> {
        let row = helper_row(&h);
        self.hold(holder, row, |_| start(h)?.wait())
    }

    /// [`Engine::start_helper`] without waiting for the helper's ready byte: its ledger row
    /// is recorded (not yet confirmed) and the wait returned.
    fn start_helper_pending(&self, holder: &Holder, h: HelperStart) -> Result<PendingSetup> {
        let row = helper_row(&h);
        let seq = self.db.record(holder, &row)?;
        match start(h) {
            Ok(ready) => Ok(PendingSetup::ready(ready, holder.clone(), seq, row)),
            Err(e) => {
                if self.release_one(holder, &row).is_ok() {
                    let _ = self.db.forget(seq);
                }
                Err(e)
            }
        }
    }

    /// Starts slirp4netns (and the port forwarder) for the namespace at `c.state.netns`,
    /// for `holder` (the container, or its pod). `exit` is the exit pipe's read end when the
    /// container's monitor will hold its write end.
    fn slirp_setup(
        &self,
        c: &mut Container,
        holder: &Holder,
        exit: Option<&OwnedFd>,
        overlap: bool,
    ) -> Result<Option<PendingSetup>> {
        let opts = SlirpOptions::from_mode(&c.config.network_mode)?;
        check_tun()?;
        let bin = crate::config::which(SLIRP).ok_or_else(|| {
            Error::invalid(
                "slirp4netns not found in $PATH: install it (Debian: apt-get install slirp4netns) or use --network none",
            )
        })?;
        check_ports(&c.config.network_mode, &c.config.ports)?;
        let owner = self.lease_owner(holder);
        std::fs::create_dir_all(&owner.run_dir).ctx("creating", &owner.run_dir)?;
        let netns = PathBuf::from(&c.state.netns);
        let api = (opts.port_handler == PortHandler::Slirp4netns && !c.config.ports.is_empty())
            .then(|| self.slirp_socket(&owner));
        if let Some(s) = &api {
            let dir = s.parent().expect("a socket in a directory");
            std::fs::create_dir_all(dir).ctx("creating", dir)?;
            let _ = std::fs::remove_file(s);
        }
        let mut cmd = Command::new(&bin);
        cmd.args(opts.args(&netns, api.as_deref(), exit.is_some()));
        let fwd = forwards(&c.config.ports)?;
        let start = HelperStart {
            what: SLIRP,
            comm: SLIRP,
            cmd,
            exit_fd: exit.map(|e| e.as_raw_fd()).unwrap_or(-1),
            pid_file: owner.run_dir.join(SLIRP_PID),
            log: owner.run_dir.join("slirp4netns.log"),
            files: api.iter().cloned().collect(),
        };
        // Without ports nothing here needs slirp4netns ready: the runtime can create the
        // container meanwhile (its tap device is up before anything starts the container).
        let pending = if overlap && fwd.is_empty() {
            Some(self.start_helper_pending(holder, start)?)
        } else {
            self.start_helper(holder, start)?;
            None
        };
        c.state.network_status.insert(SLIRP.into(), opts.status());
        c.state.ports = c.config.ports.clone();
        if fwd.is_empty() {
            return Ok(pending);
        }
        match &api {
            Some(socket) => fwd
                .iter()
                .try_for_each(|f| add_hostfwd(socket, f, opts.guest()))
                .map(|()| None),
            None => {
                let mut cmd = Command::new(self.netsetup_path()?);
                cmd.arg("forward").arg(&netns);
                for f in &fwd {
                    cmd.arg("-p").arg(f.to_arg());
                }
                // Without an exit pipe (a pod's network) it runs until it is released.
                if exit.is_some() {
                    cmd.arg("--exit-fd").arg("3");
                }
                let start = HelperStart {
                    what: "the port forwarder",
                    comm: "peapod-netsetup",
                    cmd,
                    exit_fd: exit.map(|e| e.as_raw_fd()).unwrap_or(-1),
                    pid_file: owner.run_dir.join(FORWARD_PID),
                    log: owner.run_dir.join("forward.log"),
                    files: Vec::new(),
                };
                self.start_helper(holder, start).map(|()| None)
            }
        }
    }
}

/// The ledger row of helper `h`.
fn helper_row(h: &HelperStart) -> Resource {
    let mut files = h.files.clone();
    files.push(h.log.clone());
    Resource::Helper {
        pidfile: h.pid_file.clone(),
        comm: h.comm.to_string(),
        files,
    }
}

/// Spawns helper `h` and records its pid; [`Ready::wait`] waits for its ready byte.
fn start(h: HelperStart) -> Result<Ready> {
    let (ready_r, ready_w) = pipe()?;
    let mut child = spawn(h.cmd, [h.exit_fd, ready_w.as_raw_fd()], &h.log)?;
    drop(ready_w);
    let written = std::fs::write(&h.pid_file, format!("{}\n", child.id()));
    if let Err(e) = written {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::io("writing", &h.pid_file, e));
    }
    Ok(Ready {
        what: h.what,
        child,
        ready: ready_r,
        log: h.log,
    })
}

/// A helper started, its ready byte not yet read.
pub(crate) struct Ready {
    what: &'static str,
    child: Child,
    ready: OwnedFd,
    log: PathBuf,
}

impl Ready {
    pub(crate) fn wait(mut self) -> Result<()> {
        wait_ready(self.what, &mut self.child, self.ready, &self.log)
    }
}

/// One `add_hostfwd` through slirp4netns's API socket.
fn add_hostfwd(socket: &Path, f: &Forward, guest: Ipv4Addr) -> Result<()> {
    let req = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": f.proto,
            "host_addr": f.host.ip().to_string(),
            "host_port": f.host.port(),
            "guest_addr": guest.to_string(),
            "guest_port": f.container_port,
        }
    });
    let fail = |e: String| Error::other(format!("slirp4netns: forwarding port {}: {e}", f.host));
    let mut s = std::os::unix::net::UnixStream::connect(socket)
        .map_err(|e| fail(format!("connecting to {}: {e}", socket.display())))?;
    s.write_all(req.to_string().as_bytes())
        .and_then(|()| s.shutdown(std::net::Shutdown::Write))
        .map_err(|e| fail(e.to_string()))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| fail(e.to_string()))?;
    let v: serde_json::Value =
        serde_json::from_str(&answer).map_err(|_| fail(format!("unexpected answer {answer:?}")))?;
    if let Some(err) = v.get("error") {
        return Err(fail(
            err.get("desc")
                .and_then(|d| d.as_str())
                .unwrap_or(&answer)
                .to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "slirp_tests.rs"]
mod tests;
