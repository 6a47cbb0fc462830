//! What the kernel tests share: namespaces made with `ip netns add` (a test tool only; the
//! product never runs `ip`), test networks `10.231.N.0/24` on bridges `pptestN`, the built
//! binary run with netavark's command line, cleanup guards, DNS queries from a namespace.
#![allow(dead_code)] // each test file uses its own part of it

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_peapod-netsetup");

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if peapod_tests::skip_unless($crate::common::is_root(), "root") {
            return;
        }
    };
}

pub fn sh(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"))
}

pub fn sh_ok(cmd: &str, args: &[&str]) -> String {
    let o = sh(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A named network namespace (`/run/netns/NAME`), deleted on drop.
pub struct Netns {
    pub name: String,
    pub path: String,
}

impl Netns {
    pub fn new(name: &str) -> Netns {
        let _ = sh("ip", &["netns", "del", name]);
        sh_ok("ip", &["netns", "add", name]);
        Netns {
            name: name.to_string(),
            path: format!("/run/netns/{name}"),
        }
    }

    pub fn exec(&self, args: &[&str]) -> String {
        let mut a = vec!["netns", "exec", &self.name];
        a.extend_from_slice(args);
        sh_ok("ip", &a)
    }

    /// Serve `reply` on TCP `port` inside the namespace until `stop` is dropped... or the
    /// test ends; each connection gets the reply and is closed.
    pub fn serve(&self, addr: SocketAddr, reply: &'static str) {
        let path = self.path.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let l = TcpListener::bind(addr).unwrap();
            tx.send(()).unwrap();
            for mut c in l.incoming().flatten() {
                let _ = c.write_all(reply.as_bytes());
            }
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("listener in the namespace");
    }

    /// Connect from inside the namespace; the reply, or the error text.
    pub fn connect(&self, addr: SocketAddr) -> Result<String, String> {
        let path = self.path.clone();
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            fetch(addr)
        })
        .join()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh("ip", &["netns", "del", &self.name]);
    }
}

pub fn fetch(addr: SocketAddr) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Serve on the host (to test container → gateway traffic).
pub fn serve_host(addr: SocketAddr, reply: &'static str) {
    let l = TcpListener::bind(addr).unwrap();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(reply.as_bytes());
        }
    });
}

/// One test network: `10.231.N.0/24` on bridge `pptestN`.
pub struct TestNet {
    pub n: u8,
    pub internal: bool,
    pub dns: bool,
}

impl TestNet {
    pub fn bridge(&self) -> String {
        format!("pptest{}", self.n)
    }
    pub fn name(&self) -> String {
        format!("ppt{}", self.n)
    }
    pub fn id(&self) -> String {
        format!(
            "{:08x}{}",
            0xa0000000u32 + u32::from(self.n),
            "0".repeat(56)
        )
    }
    pub fn ip(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 231, self.n, host)
    }
    pub fn chain(&self) -> String {
        format!("nv_{}_10_231_{}_0_nm24", &self.id()[..8], self.n)
    }
    pub fn info(&self) -> Value {
        json!({
            "name": self.name(), "id": self.id(), "driver": "bridge",
            "network_interface": self.bridge(),
            "created": "2026-11-21T00:00:00Z",
            "subnets": [{"subnet": format!("10.231.{}.0/24", self.n), "gateway": self.ip(1).to_string()}],
            "ipv6_enabled": false, "internal": self.internal, "dns_enabled": self.dns,
            "ipam_options": {"driver": "host-local"}
        })
    }
    pub fn options(&self, ctr: &str, host: u8, ports: Value) -> Value {
        json!({
            "container_id": ctr, "container_name": format!("name-{ctr}"),
            "port_mappings": ports,
            "networks": {self.name(): {"interface_name": "eth0", "static_ips": [self.ip(host).to_string()],
                                       "aliases": [format!("alias-{ctr}")]}},
            "network_info": {self.name(): self.info()}
        })
    }

    /// Lines of `ip link`, `ip addr` and `nft list ruleset` that belong to this network.
    pub fn footprint(&self) -> Vec<String> {
        let marks = [
            self.bridge(),
            format!("10.231.{}.", self.n),
            self.id()[..8].to_string(),
        ];
        let mut out = Vec::new();
        for text in [
            sh_ok("ip", &["-o", "link"]),
            sh_ok("ip", &["-o", "addr"]),
            sh_ok("nft", &["list", "ruleset"]),
        ] {
            out.extend(
                text.lines()
                    .filter(|l| marks.iter().any(|m| l.contains(m.as_str())))
                    .map(str::to_string),
            );
        }
        out
    }

    pub fn ports_on_bridge(&self) -> usize {
        std::fs::read_dir(format!("/sys/class/net/{}/brif", self.bridge()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// Run the binary: (exit ok, stdout JSON).
pub fn netsetup(config: &std::path::Path, cmd: &str, netns: &str, input: &Value) -> (bool, Value) {
    netsetup_with(config, &[cmd], netns, input)
}

/// [`netsetup`] with the command's own flags after it (`["teardown", "--netns-released"]`).
pub fn netsetup_with(
    config: &std::path::Path,
    cmd: &[&str],
    netns: &str,
    input: &Value,
) -> (bool, Value) {
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "--rootless=false"])
        .args(cmd)
        .arg(netns)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = if stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout:?}"))
    };
    (out.status.success(), value)
}

/// Tears down what a test set up, even when it panics halfway.
pub struct Cleanup {
    pub config: tempfile::TempDir,
    pub done: Vec<(String, Value)>,
    pub bridge: String,
}

impl Cleanup {
    pub fn new(net: &TestNet) -> Cleanup {
        Cleanup {
            config: tempfile::tempdir().unwrap(),
            done: Vec::new(),
            bridge: net.bridge(),
        }
    }
    pub fn setup(&mut self, ns: &Netns, input: &Value) -> Value {
        self.done.push((ns.path.clone(), input.clone()));
        let (ok, out) = netsetup(self.config.path(), "setup", &ns.path, input);
        assert!(ok, "setup failed: {out}");
        out
    }
    pub fn teardown(&mut self, ns: &Netns, input: &Value) {
        self.done.retain(|(p, _)| *p != ns.path);
        let (ok, out) = netsetup(self.config.path(), "teardown", &ns.path, input);
        assert!(ok, "teardown failed: {out}");
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (path, input) in self.done.drain(..).rev() {
            let _ = netsetup(self.config.path(), "teardown", &path, &input);
        }
        if std::path::Path::new(&format!("/sys/class/net/{}", self.bridge)).exists() {
            let _ = sh("ip", &["link", "del", &self.bridge]);
        }
        // A DNS server a failed test left running.
        let pid_file = self.config.path().join("aardvark-dns/aardvark.pid");
        if let Some(pid) = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// A global IPv4 address of this host that is not one of the test bridges.
/// Without one the checks through it are skipped, except in CI, where that fails the test.
pub fn host_address() -> Option<Ipv4Addr> {
    let text = sh_ok("ip", &["-4", "-o", "addr", "show", "scope", "global"]);
    let found = text
        .lines()
        .filter(|l| !l.contains("pptest") && !l.contains("podman") && !l.contains(" pp"))
        .filter_map(|l| l.split_whitespace().nth(3))
        .filter_map(|a| a.split('/').next()?.parse().ok())
        .next();
    if peapod_tests::skip_unless(found.is_some(), "a global IPv4 address on this host") {
        return None;
    }
    found
}

pub fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

/// One DNS query over UDP (or TCP) from inside `ns`.
pub fn dns_query(ns: &Netns, server: Ipv4Addr, name: &str, tcp: bool) -> Result<Message, String> {
    let mut q = Message::new();
    q.set_id(0x5151).set_recursion_desired(true);
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let bytes = q.to_vec().unwrap();
    let path = ns.path.clone();
    std::thread::spawn(move || -> Result<Message, String> {
        let f = std::fs::File::open(&path).unwrap();
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let addr = sa(server, 53);
        let answer = if tcp {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            s.write_all(&(bytes.len() as u16).to_be_bytes()).unwrap();
            s.write_all(&bytes).unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut buf).map_err(|e| e.to_string())?;
            buf
        } else {
            let s = UdpSocket::bind("0.0.0.0:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.send_to(&bytes, addr).map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 4096];
            let (n, _) = s.recv_from(&mut buf).map_err(|e| e.to_string())?;
            buf.truncate(n);
            buf
        };
        Message::from_vec(&answer).map_err(|e| e.to_string())
    })
    .join()
    .unwrap()
}

pub fn a_records(m: &Message) -> Vec<Ipv4Addr> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

pub fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// A name server on `addr` (UDP) answering every A query with `answer`; runs until the test
/// process ends.
pub fn fake_dns(addr: &str, answer: Ipv4Addr) {
    let sock = UdpSocket::bind(addr).unwrap_or_else(|e| panic!("binding {addr}: {e}"));
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut r = Message::new();
            r.set_id(q.id()).set_message_type(MessageType::Response);
            r.add_query(q.queries()[0].clone());
            r.add_answer(Record::from_rdata(
                q.queries()[0].name().clone(),
                30,
                RData::A(A(answer)),
            ));
            let _ = sock.send_to(&r.to_vec().unwrap(), from);
        }
    });
}
