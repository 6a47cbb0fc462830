//! `--sdnotify` and `--cgroups`, as far as a unit from `generate systemd --new` needs them:
//! with `--sdnotify=conmon` the command that starts the container tells systemd
//! (`$NOTIFY_SOCKET`) the monitor's pid and that the service is ready, as Podman does
//! (`MAINPID=…`, `READY=1`); `ignore` tells nothing. With `--sdnotify=container`, as Podman
//! with runc: the runtime gets the socket, proxies it into the container
//! (`/run/notify/notify.sock`, `$NOTIFY_SOCKET` there) and its `start` returns when the
//! container sends `READY=1`, which it passes on; then the monitor's pid is sent as
//! `MAINPID`. It is the default, as Podman's: a `run` under a `Type=notify` unit without
//! `--sdnotify` waits for the container's own `READY=1`.
//!
//! `--cgroups=split` (Podman's, for units): the container's cgroup is
//! `<the starting process's cgroup>/libpod-payload-ID` instead of peapod's own parent, so
//! it stays inside the unit that started it; the monitor stays where it is (as with
//! `no-conmon`); on cgroup v2 the processes of that cgroup move to its `runtime` child
//! first (a v2 cgroup with children may hold no processes). Podman's rule for the own
//! cgroup: the `0::` line, else the longest v1 path, and never the root. The monitor never joins the
//! container's cgroup in peapod, so `--cgroups=no-conmon` is what `enabled` already is.
//!
//! Socket activation (podman#10443): a start under systemd's `LISTEN_FDS` passes
//! `LISTEN_PID=1`, `LISTEN_FDS` and `LISTEN_FDNAMES` into the container, and the listening
//! descriptors (3 …) with them when this process inherited them all.

use std::os::unix::net::{SocketAddr, UnixDatagram};

use super::Container;
use crate::Engine;
use crate::error::{Error, Result};

/// Checks `--sdnotify`; the mode to keep ("" for the default, `container`).
pub fn check_sdnotify(mode: Option<&str>) -> Result<String> {
    match mode.unwrap_or("") {
        "" => Ok(String::new()),
        m @ ("conmon" | "ignore" | "container") => Ok(m.to_string()),
        other => Err(Error::invalid(format!(
            "--sdnotify values must be one of \"container\", \"conmon\", or \"ignore\": invalid argument {other:?}"
        ))),
    }
}

/// Checks `--cgroups`; the mode to keep (`split`, else "").
pub fn check_cgroups(mode: Option<&str>) -> Result<String> {
    match mode.unwrap_or("enabled") {
        "enabled" | "no-conmon" => Ok(String::new()),
        "split" => Ok("split".into()),
        "disabled" => Err(Error::invalid(
            "--cgroups=disabled is not supported by peapod: only enabled, no-conmon and split",
        )),
        other => Err(Error::invalid(format!(
            "invalid cgroup mode {other:?}: must be one of enabled, disabled, no-conmon, split"
        ))),
    }
}

/// The caller's own cgroup as Podman's `GetOwnCgroupDisallowRoot` reads `/proc/self/cgroup`.
pub fn own_cgroup(proc_cgroup: &str) -> Result<String> {
    let mut cgroup = "";
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(_), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::other(format!("cannot parse cgroup line {line:?}")));
        };
        if line.starts_with("0::") {
            cgroup = path;
            break;
        }
        if path.len() > cgroup.len() {
            cgroup = path;
        }
    }
    if cgroup.is_empty() || cgroup == "/" {
        return Err(Error::invalid(
            "could not find cgroup mount in \"/proc/self/cgroup\"",
        ));
    }
    Ok(cgroup.to_string())
}

/// `--cgroups=split` at an init: the container's cgroup under ours (on cgroup v2 our
/// cgroup's processes first move to its `runtime` child, Podman's `MoveUnderCgroupSubtree`).
pub(crate) fn split_cgroup(id: &str) -> Result<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::io("reading", std::path::Path::new("/proc/self/cgroup"), e))?;
    let own = own_cgroup(&text)?;
    if crate::config::cgroup_unified() {
        let dir = std::path::Path::new("/sys/fs/cgroup").join(own.trim_start_matches('/'));
        let runtime = dir.join("runtime");
        std::fs::create_dir_all(&runtime).map_err(|e| Error::io("creating", &runtime, e))?;
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines() {
            // A process gone meanwhile is no failure.
            let _ = std::fs::write(runtime.join("cgroup.procs"), pid);
        }
    }
    Ok(format!("{}/libpod-payload-{id}", own.trim_end_matches('/')))
}

/// A datagram to the socket systemd named (`@name`: an abstract one).
fn notify(socket: &str, message: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let addr = match socket.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())?
        }
        None => SocketAddr::from_pathname(socket)?,
    };
    sock.send_to_addr(message.as_bytes(), &addr)?;
    Ok(())
}

/// The `LISTEN_*` variables of the caller, for the container (`LISTEN_PID` is 1 there).
pub(crate) fn listen_env() -> Vec<String> {
    ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
        .iter()
        .filter_map(|k| {
            let v = std::env::var(k).ok()?;
            Some(if *k == "LISTEN_PID" {
                format!("{k}=1")
            } else {
                format!("{k}={v}")
            })
        })
        .collect()
}

/// How many descriptors go into the container: `--preserve-fds`, else systemd's
/// `LISTEN_FDS` when every one of them was inherited (Podman takes LISTEN_FDS as given;
/// one not inherited would be an fd of ours).
pub(crate) fn preserved_fds(asked: u32) -> u32 {
    if asked > 0 {
        return asked;
    }
    let Some(n) = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    else {
        return 0;
    };
    if n > 0 && crate::monitor::check_preserved(n).is_ok() {
        n
    } else {
        0
    }
}

/// `--sdnotify=container` (Podman's default) under a caller that has systemd's socket.
pub(crate) fn proxied(c: &Container) -> bool {
    matches!(c.config.sdnotify.as_str(), "" | "container")
        && std::env::var_os("NOTIFY_SOCKET").is_some()
}

impl Engine {
    /// After a start: `--sdnotify=conmon` tells systemd, when it asked (`$NOTIFY_SOCKET`);
    /// `container` (the runtime passed the container's READY=1 on) the monitor's pid.
    pub(crate) fn sd_notify_started(&self, c: &Container) {
        let message = match c.config.sdnotify.as_str() {
            "conmon" => format!("MAINPID={}\nREADY=1\n", c.state.conmon_pid),
            "" | "container" => format!("MAINPID={}\n", c.state.conmon_pid),
            _ => return,
        };
        let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
            return;
        };
        let socket = socket.to_string_lossy().into_owned();
        if let Err(e) = notify(&socket, &message) {
            tracing::warn!("notifying systemd at {socket}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cgroup_as_podman_reads_it() {
        // cgroup v2, or the unified line of a hybrid host: that line wins.
        assert_eq!(
            own_cgroup("0::/system.slice/web.service\n").unwrap(),
            "/system.slice/web.service"
        );
        assert_eq!(
            own_cgroup("4:memory:/a/b\n1:name=systemd:/system.slice/x.service\n0::/system.slice/x.service\n")
                .unwrap(),
            "/system.slice/x.service"
        );
        // v1 only: the longest path.
        assert_eq!(own_cgroup("4:memory:/a/bc\n1:cpu:/a\n").unwrap(), "/a/bc");
        // The root is refused, as Podman refuses it.
        assert_eq!(
            own_cgroup("9:name=systemd:/\n4:memory:/x\n0::/\n")
                .unwrap_err()
                .to_string(),
            "could not find cgroup mount in \"/proc/self/cgroup\""
        );
    }
}
