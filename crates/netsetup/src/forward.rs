//! `peapod-netsetup forward`: published ports of a container whose network is userspace
//! (slirp4netns, pasta), the role of Podman's rootlessport. It binds every host port in the
//! caller's network namespace first (so a taken or privileged port fails before the container
//! runs), then moves into the container's network namespace: each accepted connection is
//! answered by a connection to `127.0.0.1:PORT` made there; each udp client gets a socket
//! there connected to `127.0.0.1:PORT`, its datagrams relayed both ways.
//!
//! Protocol with the engine: fd 4 is the ready pipe (`1` once every port listens and the namespace is joined, or `E` and a message);
//! `--exit-fd 3`, when given, is the exit pipe: its write end is held by the container's
//! monitor, end of file means the container is gone and the forwarder exits. Without it the
//! forwarder runs until it is killed (a pod's network, which the engine tears down).
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
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
        if proto != "tcp" && proto != "udp" {
            return Err(format!(
                "port forward {spec:?}: only tcp and udp are forwarded"
            ));
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
    format!(
        "cannot listen on the {} port {port}: {listen}",
        f.proto.to_uppercase()
    )
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
                match l {
                    Listener::Tcp(l) => std::thread::spawn(move || accept_loop(l, port)),
                    Listener::Udp(s) => std::thread::spawn(move || udp_loop(s, port)),
                };
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

/// A bound host port.
enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Binds every host port here, then joins the container's network namespace.
fn prepare(netns: &Path, forwards: &[Forward]) -> Result<Vec<(Listener, u16)>, String> {
    let mut listeners = Vec::new();
    for f in forwards {
        let l = if f.proto == "udp" {
            Listener::Udp(UdpSocket::bind(f.host).map_err(|e| bind_error(f, &e))?)
        } else {
            Listener::Tcp(TcpListener::bind(f.host).map_err(|e| bind_error(f, &e))?)
        };
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

/// A udp flow with no datagram either way for this long is forgotten (its socket in the
/// container's namespace closed), as rootlessport does.
const UDP_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Relays datagrams between clients of the host port `host` and `127.0.0.1:PORT` in the
/// container's namespace: one socket there per client address, so each client's answers go
/// back to it. (Threads spawned after the namespace was joined make their sockets there.)
fn udp_loop(host: UdpSocket, port: u16) {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let host = Arc::new(host);
    let flows: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, client) = match host.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let existing = flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&client)
            .cloned();
        let flow = match existing {
            Some(f) => f,
            None => {
                let Some(f) = udp_flow(port) else { continue };
                let f = Arc::new(f);
                flows
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(client, f.clone());
                let (host, flows, back) = (host.clone(), flows.clone(), f.clone());
                std::thread::spawn(move || {
                    udp_answers(&back, &host, client);
                    flows
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&client);
                });
                f
            }
        };
        let _ = flow.send(&buf[..n]);
    }
}

/// A socket in the container's namespace connected to its `127.0.0.1:PORT`.
fn udp_flow(port: u16) -> Option<UdpSocket> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    s.connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    s.set_read_timeout(Some(UDP_IDLE)).ok()?;
    Some(s)
}

/// Sends what the container answers on `flow` back to `client` through the host port,
/// until the flow is idle for [`UDP_IDLE`].
fn udp_answers(flow: &UdpSocket, host: &UdpSocket, client: SocketAddr) {
    let mut buf = vec![0u8; 65536];
    loop {
        match flow.recv(&mut buf) {
            Ok(n) => {
                let _ = host.send_to(&buf[..n], client);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // Idle (the read timed out), or the port refused (nothing listens yet): a later
            // datagram from the client makes a new flow.
            Err(_) => return,
        }
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

/// One direction, until its end of file; then the other side hears ours.
fn copy_half(from: TcpStream, to: TcpStream) {
    if !splice_half(&from, &to) {
        copy_buffered(from, &to);
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// Up to this much moves through the pipe at once.
const SPLICE_CHUNK: usize = 1 << 20;

/// Copies `from` to `to` with splice(2) through a pipe: the bytes go socket → pipe → socket
/// in the kernel and are never copied into this process. False when splice cannot be used
/// (before anything moved): the caller copies instead.
fn splice_half(from: &TcpStream, to: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return false;
    }
    let (pipe_r, pipe_w) = (inherited(fds[0]), inherited(fds[1]));
    // A larger pipe moves more per call (the system's limit for users is 1 MiB by default);
    // failing that, the default 64 KiB works too.
    // SAFETY: F_SETPIPE_SZ on a pipe we own takes an integer, no pointer.
    unsafe {
        libc::fcntl(
            pipe_w.as_raw_fd(),
            libc::F_SETPIPE_SZ,
            SPLICE_CHUNK as libc::c_int,
        )
    };
    let splice = |src: RawFd, dst: RawFd, len: usize| -> isize {
        // SAFETY: splice between descriptors this function keeps open for the call, with no
        // offsets (null pointers: both are a socket or a pipe).
        unsafe {
            libc::splice(
                src,
                std::ptr::null_mut(),
                dst,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE,
            )
        }
    };
    let mut moved = false;
    loop {
        let n = splice(from.as_raw_fd(), pipe_w.as_raw_fd(), SPLICE_CHUNK);
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return moved || !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS));
        }
        if n == 0 {
            return true;
        }
        moved = true;
        let mut left = n as usize;
        while left > 0 {
            let m = splice(pipe_r.as_raw_fd(), to.as_raw_fd(), left);
            if m < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if m <= 0 {
                // The other side is gone: nothing more can be delivered.
                return true;
            }
            left -= m as usize;
        }
    }
}

/// One direction through a buffer large enough for loopback speeds (std's copy uses 8 KiB
/// between two sockets).
fn copy_buffered(mut from: TcpStream, mut to: &TcpStream) {
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
        assert_eq!(
            Forward::parse("udp:0.0.0.0:8053:53").unwrap().to_arg(),
            "udp:0.0.0.0:8053:53"
        );
        assert!(Forward::parse("sctp:0.0.0.0:53:53").is_err());
        assert!(Forward::parse("tcp:8080:80").is_err());
        assert!(Forward::parse("tcp:0.0.0.0:x:80").is_err());
    }

    /// Both ways through [`splice`] between real loopback sockets: every byte arrives in
    /// order, and each side's end of file reaches the other.
    #[test]
    fn splice_copies_both_ways_and_passes_end_of_file() {
        use std::io::{Read, Write};
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let back = TcpListener::bind("127.0.0.1:0").unwrap();
        let (front_addr, back_addr) = (front.local_addr().unwrap(), back.local_addr().unwrap());
        let relay = std::thread::spawn(move || {
            let (a, _) = front.accept().unwrap();
            let b = TcpStream::connect(back_addr).unwrap();
            splice(a, b);
        });
        let server = std::thread::spawn(move || {
            let (mut s, _) = back.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            // 3 MiB back: more than the pipe holds at once.
            let reply: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
            s.write_all(&reply).unwrap();
            got
        });
        let mut client = TcpStream::connect(front_addr).unwrap();
        let sent: Vec<u8> = (0..(1 << 20) + 7).map(|i: u32| (i % 241) as u8).collect();
        client.write_all(&sent).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back_data = Vec::new();
        client.read_to_end(&mut back_data).unwrap();
        assert_eq!(server.join().unwrap(), sent);
        let want: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
        assert!(
            back_data == want,
            "the reply came back altered ({} bytes)",
            back_data.len()
        );
        relay.join().unwrap();
    }

    /// Datagrams of two clients through [`udp_loop`] to a udp echo server: each client gets
    /// its own answers.
    #[test]
    fn udp_flows_answer_each_client() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = server.recv_from(&mut buf) {
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                let _ = server.send_to(&reply, from);
            }
        });
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let front_addr = front.local_addr().unwrap();
        std::thread::spawn(move || udp_loop(front, port));
        let clients: Vec<UdpSocket> = (0..2)
            .map(|_| {
                let c = UdpSocket::bind("127.0.0.1:0").unwrap();
                c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                c.connect(front_addr).unwrap();
                c
            })
            .collect();
        for round in 0..3 {
            for (i, c) in clients.iter().enumerate() {
                let msg = format!("c{i}-r{round}");
                c.send(msg.as_bytes()).unwrap();
                let mut buf = [0u8; 1500];
                let n = c.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], format!("echo:{msg}").as_bytes());
            }
        }
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
