//! `peapod-netsetup forward`: published ports of a container whose network is userspace
//! (slirp4netns, pasta), the role of Podman's rootlessport. It binds every host port in the
//! caller's network namespace first (so a taken or privileged port fails before the container
//! runs), then moves into the container's network namespace: each accepted connection is
//! answered by a connection to `127.0.0.1:PORT` made there.
//!
//! Protocol with the engine: fd 4 is the ready pipe (`1` once every port listens and the namespace is joined, or `E` and a message);
//! `--exit-fd 3`, when given, is the exit pipe: its write end is held by the container's
//! monitor, end of file means the container is gone and the forwarder exits. Without it the
//! forwarder runs until it is killed (a pod's network, which the engine tears down).
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// One published port: `PROTO:HOST_IP:HOST_PORT:CONTAINER_PORT` on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub proto: String,
    pub host: SocketAddr,
    pub container_port: u16,
}

impl Forward {
    /// Parses `tcp:0.0.0.0:8080:80` (an IPv6 host address in brackets: `tcp:[::1]:8080:80`).
    pub fn parse(spec: &str) -> Result<Forward, String> {
        let bad = || format!("invalid port forward {spec:?}: want PROTO:HOST_IP:HOST_PORT:PORT");
        let (proto, rest) = spec.split_once(':').ok_or_else(bad)?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
        let host: SocketAddr = host.parse().map_err(|_| bad())?;
        let container_port = port.parse().map_err(|_| bad())?;
        if proto != "tcp" {
            return Err(format!("port forward {spec:?}: only tcp is forwarded"));
        }
        Ok(Forward {
            proto: proto.to_string(),
            host,
            container_port,
        })
    }

    /// The form [`Forward::parse`] reads.
    pub fn to_arg(&self) -> String {
        format!("{}:{}:{}", self.proto, self.host, self.container_port)
    }
}

/// The first port a user without privileges may bind (`net.ipv4.ip_unprivileged_port_start`).
pub fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1024)
}

/// Podman's rootlessport words for a privileged port, else the bind error as Go prints it.
pub fn bind_error(f: &Forward, e: &std::io::Error) -> String {
    let port = f.host.port();
    let start = unprivileged_port_start();
    let family = if f.host.is_ipv4() { "4" } else { "6" };
    let shown = if f.host.ip().is_unspecified() {
        format!(":{port}")
    } else {
        f.host.to_string()
    };
    let why = match e.kind() {
        std::io::ErrorKind::AddrInUse => "address already in use".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    let listen = format!("listen {}{family} {shown}: bind: {why}", f.proto);
    if e.kind() == std::io::ErrorKind::PermissionDenied && port < start {
        return format!(
            "rootlessport cannot expose privileged port {port}, you can add 'net.ipv4.ip_unprivileged_port_start={port}' to /etc/sysctl.conf (currently {start}), or choose a larger port number (>= {start}): {listen}"
        );
    }
    format!("cannot listen on the TCP port {port}: {listen}")
}

/// Takes an inherited descriptor.
fn inherited(fd: RawFd) -> OwnedFd {
    // SAFETY: the engine starts us with `fd` open for us alone (dup2 in its pre_exec);
    // nothing else in this process owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Runs the forwarder; returns only on a failure before it is ready (already reported on
/// the ready pipe).
pub fn run(netns: &Path, forwards: &[Forward], exit_fd: Option<RawFd>, ready_fd: RawFd) -> i32 {
    let mut ready = std::fs::File::from(inherited(ready_fd));
    let exit = exit_fd.map(|fd| std::fs::File::from(inherited(fd)));
    match prepare(netns, forwards) {
        Ok(listeners) => {
            let _ = ready.write_all(b"1");
            drop(ready);
            for (l, port) in listeners {
                std::thread::spawn(move || accept_loop(l, port));
            }
            match exit {
                // Blocks until the monitor holding the other end is gone.
                Some(mut exit) => {
                    let mut b = [0u8; 16];
                    while matches!(exit.read(&mut b), Ok(n) if n > 0) {}
                    0
                }
                // Until teardown kills us.
                None => loop {
                    std::thread::park();
                },
            }
        }
        Err(msg) => {
            let _ = ready.write_all(format!("E{msg}").as_bytes());
            1
        }
    }
}

/// Binds every host port here, then joins the container's network namespace.
fn prepare(netns: &Path, forwards: &[Forward]) -> Result<Vec<(TcpListener, u16)>, String> {
    let mut listeners = Vec::new();
    for f in forwards {
        let l = TcpListener::bind(f.host).map_err(|e| bind_error(f, &e))?;
        listeners.push((l, f.container_port));
    }
    let ns = std::fs::File::open(netns)
        .map_err(|e| format!("opening network namespace {}: {e}", netns.display()))?;
    // Still one thread: the whole process moves; the listeners stay in the host's namespace,
    // sockets made from now on are the container's.
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("joining network namespace {}: {e}", netns.display()))?;
    Ok(listeners)
}

fn accept_loop(l: TcpListener, port: u16) {
    for client in l.incoming() {
        let Ok(client) = client else { continue };
        std::thread::spawn(move || {
            let target = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
            if let Ok(server) = TcpStream::connect(target) {
                splice(client, server);
            }
        });
    }
}

/// Copies both ways until each side has said all it will.
fn splice(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let _ = a.set_nodelay(true);
    let _ = b.set_nodelay(true);
    let up = std::thread::spawn(move || copy_half(a2, b2));
    copy_half(b, a);
    let _ = up.join();
}

/// One direction, with a buffer large enough for loopback speeds (std's copy uses 8 KiB
/// between two sockets).
fn copy_half(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip() {
        for s in [
            "tcp:0.0.0.0:8080:80",
            "tcp:127.0.0.1:1:65535",
            "tcp:[::1]:8080:80",
        ] {
            assert_eq!(Forward::parse(s).unwrap().to_arg(), s);
        }
        assert!(Forward::parse("udp:0.0.0.0:53:53").is_err());
        assert!(Forward::parse("tcp:8080:80").is_err());
        assert!(Forward::parse("tcp:0.0.0.0:x:80").is_err());
    }

    #[test]
    fn a_privileged_port_names_the_sysctl() {
        let f = Forward::parse("tcp:0.0.0.0:80:80").unwrap();
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let msg = bind_error(&f, &e);
        if unprivileged_port_start() > 80 {
            assert!(
                msg.contains("net.ipv4.ip_unprivileged_port_start=80"),
                "{msg}"
            );
        }
        let e = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        assert!(bind_error(&f, &e).ends_with("listen tcp4 :80: bind: address already in use"));
    }
}
