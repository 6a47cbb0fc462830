//! The name server of `dns_enabled` networks (what aardvark-dns does for netavark).
//!
//! State lives in aardvark's format under `<config>/aardvark-dns/`: one file per network,
//! line 1 `<listen ip,...>[ <upstream,...>]` (the bridge gateways), then one line per
//! container `<id> <v4,...> <v6,...> <name,alias,...>[ <upstream,...>]`. `setup` adds the
//! container's line and starts the server (`peapod-netsetup dns-server`, a daemon writing
//! `aardvark.pid`) or sends it SIGHUP; `teardown` removes the line and sends SIGHUP, or
//! SIGTERM when no container is left. Callers hold the global netsetup lock while editing.
//!
//! The server answers A/AAAA for the names of the networks whose gateway the query reached
//! (so a container sees only its own networks), with or without the `dns.podman` domain;
//! other names are forwarded over UDP as aardvark-dns does: to the asking container's own
//! servers (its `--dns`, the last field of its line, found by the query's source address),
//! else to the network's upstreams, else to the host's `/etc/resolv.conf` name servers minus
//! loopback ones (they are unreachable from a container's point of view and would loop). UDP and TCP on `<gateway>:53`
//! (`NETAVARK_DNS_PORT` overrides the port). No PTR records yet.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{RData, Record, RecordType};

use crate::error::Error;
use crate::types::DNS_SEARCH_DOMAIN;

mod server;
pub use server::serve;

/// Name of the pid file in the DNS config dir.
pub const PID_FILE: &str = "aardvark.pid";
/// The edit count: bumped by every edit that asks the server to reload (edits are made
/// under the global netsetup lock, one at a time).
pub const GENERATION_FILE: &str = ".generation";
/// What the server has loaded: the edit count as it read it when its last reload began. An
/// edit waits for it to reach its own count, so its names answer when the setup returns
/// (peapod's addition; aardvark-dns reloads unobserved).
pub const LOADED_FILE: &str = ".loaded";
const TTL: u32 = 60;

/// One container line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Container id.
    pub id: String,
    /// IPv4 addresses.
    pub v4: Vec<IpAddr>,
    /// IPv6 addresses.
    pub v6: Vec<IpAddr>,
    /// Names: the container name, then aliases.
    pub names: Vec<String>,
    /// Container-level upstreams.
    pub upstreams: Vec<IpAddr>,
}

/// One network file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetFile {
    /// Addresses the server listens on (the gateways).
    pub listen: Vec<IpAddr>,
    /// Network-level upstreams.
    pub upstreams: Vec<IpAddr>,
    /// Containers.
    pub entries: Vec<Entry>,
}

fn ips(field: &str) -> Vec<IpAddr> {
    field
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

impl NetFile {
    /// Parse aardvark's format (unknown or broken lines are skipped).
    pub fn parse(text: &str) -> NetFile {
        let mut lines = text.lines();
        let mut out = NetFile::default();
        if let Some(first) = lines.next() {
            let mut f = first.split(' ');
            out.listen = ips(f.next().unwrap_or(""));
            out.upstreams = ips(f.next().unwrap_or(""));
        }
        for line in lines {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() < 4 || f[0].is_empty() {
                continue;
            }
            out.entries.push(Entry {
                id: f[0].to_string(),
                v4: ips(f[1]),
                v6: ips(f[2]),
                names: f[3]
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect(),
                upstreams: f.get(4).map(|s| ips(s)).unwrap_or_default(),
            });
        }
        out
    }

    /// Write aardvark's format.
    pub fn render(&self) -> String {
        let mut out = join(&self.listen);
        if !self.upstreams.is_empty() {
            out.push(' ');
            out.push_str(&join(&self.upstreams));
        }
        out.push('\n');
        for e in &self.entries {
            out.push_str(&format!(
                "{} {} {} {}",
                e.id,
                join(&e.v4),
                join(&e.v6),
                e.names.join(",")
            ));
            if !e.upstreams.is_empty() {
                out.push(' ');
                out.push_str(&join(&e.upstreams));
            }
            out.push('\n');
        }
        out
    }
}

fn io_err(what: String) -> impl FnOnce(io::Error) -> Error {
    move |e| Error::io(what, e)
}

/// Add (or replace) a container on a network's file.
pub fn add_entry(
    dir: &Path,
    network: &str,
    listen: &[IpAddr],
    upstreams: &[IpAddr],
    entry: Entry,
) -> Result<(), Error> {
    fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let path = dir.join(network);
    let mut file = fs::read_to_string(&path)
        .map(|t| NetFile::parse(&t))
        .unwrap_or_default();
    file.listen = listen.to_vec();
    file.upstreams = upstreams.to_vec();
    file.entries.retain(|e| e.id != entry.id);
    file.entries.push(entry);
    write_atomic(&path, &file.render())
}

/// Remove a container from a network's file; the file goes with its last container.
pub fn remove_entry(dir: &Path, network: &str, id: &str) -> Result<(), Error> {
    let path = dir.join(network);
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(());
    };
    let mut file = NetFile::parse(&text);
    file.entries.retain(|e| e.id != id);
    if file.entries.is_empty() {
        return match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::io(format!("removing {}", path.display()), e))
            }
            _ => Ok(()),
        };
    }
    write_atomic(&path, &file.render())
}

fn write_atomic(path: &Path, text: &str) -> Result<(), Error> {
    let tmp = path.with_extension("peapod-tmp");
    fs::write(&tmp, text).map_err(io_err(format!("writing {}", tmp.display())))?;
    fs::rename(&tmp, path).map_err(io_err(format!("renaming to {}", path.display())))
}

/// The network files of the directory (not the pid, lock, temporary or marker files).
fn network_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| {
            !(name == PID_FILE
                || name.starts_with('.')
                || name.contains(".peapod-tmp")
                || name.ends_with(".lock"))
        })
        .collect()
}

/// Every network file of the directory, by network name.
pub fn load(dir: &Path) -> BTreeMap<String, NetFile> {
    let mut out = BTreeMap::new();
    for (name, path) in network_files(dir) {
        if let Ok(text) = fs::read_to_string(path) {
            out.insert(name, NetFile::parse(&text));
        }
    }
    out
}

/// A counter kept in `file` of `dir`; 0 when there is none.
fn counter(dir: &Path, file: &str) -> u64 {
    fs::read_to_string(dir.join(file))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// Writes a counter atomically (a reader never sees half of it).
fn write_counter(dir: &Path, file: &str, n: u64) {
    let tmp = dir.join(format!("{file}.tmp"));
    if fs::write(&tmp, n.to_string()).is_ok() {
        let _ = fs::rename(&tmp, dir.join(file));
    }
}

/// The edit count, as the server reads it before a reload.
pub fn generation(dir: &Path) -> u64 {
    counter(dir, GENERATION_FILE)
}

/// After a reload that began at edit count `generation`: say so.
pub fn mark_loaded(dir: &Path, generation: u64) {
    write_counter(dir, LOADED_FILE, generation);
}

/// Counts this edit, tells the server to reload and waits (at most 2 s) until a reload
/// that began after the edit has finished.
fn reload_and_wait(dir: &Path, pid: i32) -> Result<(), Error> {
    let edit = generation(dir) + 1;
    write_counter(dir, GENERATION_FILE, edit);
    signal(pid, nix::sys::signal::Signal::SIGHUP)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while counter(dir, LOADED_FILE) < edit && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Ok(())
}

/// The pid of the running server, if there is one (and it is really ours).
pub fn running_pid(dir: &Path) -> Option<i32> {
    let pid: i32 = fs::read_to_string(dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline);
    cmdline.contains("dns-server").then_some(pid)
}

fn signal(pid: i32, sig: nix::sys::signal::Signal) -> Result<(), Error> {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)
        .map_err(|e| Error::io(format!("signalling the DNS server (pid {pid})"), e.into()))
}

/// After an edit: start the server, tell it to reload, or stop it when nothing is left.
pub fn sync_server(dir: &Path, port: u16) -> Result<(), Error> {
    let empty = load(dir).values().all(|n| n.entries.is_empty());
    if empty {
        // No server from now on: its counters go too.
        for f in [GENERATION_FILE, LOADED_FILE] {
            let _ = fs::remove_file(dir.join(f));
        }
    }
    match (running_pid(dir), empty) {
        (Some(pid), true) => {
            let _ = fs::remove_file(dir.join(PID_FILE));
            signal(pid, nix::sys::signal::Signal::SIGTERM)?;
            // Wait (briefly) until it has let go of <gateway>:53: a setup right after this
            // teardown starts a new server that must be able to bind there.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
            while Path::new(&format!("/proc/{pid}")).exists()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Ok(())
        }
        (Some(pid), false) => reload_and_wait(dir, pid),
        (None, true) => Ok(()),
        (None, false) => start(dir, port),
    }
}

fn start(dir: &Path, port: u16) -> Result<(), Error> {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(io_err("finding our own binary".into()))?;
    let _ = fs::remove_file(dir.join(PID_FILE));
    let mut child = std::process::Command::new(exe)
        .arg("dns-server")
        .arg("--config")
        .arg(dir)
        .arg("--port")
        .arg(port.to_string())
        .stdin(std::process::Stdio::null())
        // Read only if it fails at start (its error JSON); closed once it runs.
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(io_err("starting the DNS server".into()))?;
    // Ready when it has written its pid file (after binding).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if running_pid(dir) == Some(child.id() as i32) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut out = String::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_string(&mut out);
            }
            let why = serde_json::from_str::<crate::types::ErrorOutput>(&out)
                .map(|e| e.error)
                .unwrap_or_else(|_| status.to_string());
            return Err(Error::Invalid(format!(
                "the DNS server could not start: {why}"
            )));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Invalid(
                "the DNS server did not get ready in 5s".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host's name servers from `/etc/resolv.conf`, minus loopback ones.
pub fn host_upstreams(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some("nameserver")).then(|| f.next()).flatten()
        })
        .filter_map(|s| s.split('%').next()?.parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_loopback())
        .collect()
}

/// What the server knows: the network files.
#[derive(Debug, Default)]
pub struct Records {
    nets: BTreeMap<String, NetFile>,
}

/// One question, with where it came from and where it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The address it reached (a gateway): which networks' names it sees.
    pub listen: IpAddr,
    /// The sender: a container whose own DNS servers may apply.
    pub src: IpAddr,
    /// The name asked for.
    pub name: &'a str,
    /// A, AAAA, ...
    pub qtype: RecordType,
}

/// How a name resolved.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Ours: these addresses (possibly none of the asked type).
    Local(Vec<IpAddr>),
    /// In our domain but unknown.
    NxDomain,
    /// Not ours: ask these upstreams.
    Forward(Vec<IpAddr>),
}

impl Records {
    /// Records from network files.
    pub fn new(nets: BTreeMap<String, NetFile>) -> Records {
        Records { nets }
    }

    /// Resolve `name` of type `qtype` for a query from `src` received on `listen`. A name not
    /// ours goes, as aardvark-dns sends it, to the asking container's own DNS servers (its
    /// `--dns`), else to its network's, else to the host's (`host`).
    pub fn resolve(&self, q: &Query<'_>, host: &[IpAddr]) -> Answer {
        let name = q.name.trim_end_matches('.').to_ascii_lowercase();
        let suffix = format!(".{DNS_SEARCH_DOMAIN}");
        let (short, in_domain) = match name.strip_suffix(&suffix) {
            Some(s) => (s.to_string(), true),
            None => (name.clone(), false),
        };
        let nets: Vec<&NetFile> = self
            .nets
            .values()
            .filter(|n| n.listen.contains(&q.listen))
            .collect();
        let mut found = false;
        let mut out = Vec::new();
        for n in &nets {
            for e in &n.entries {
                if e.names.iter().any(|x| x.eq_ignore_ascii_case(&short)) {
                    found = true;
                    let src = if q.qtype == RecordType::AAAA {
                        &e.v6
                    } else {
                        &e.v4
                    };
                    for ip in src {
                        if !out.contains(ip) {
                            out.push(*ip);
                        }
                    }
                }
            }
        }
        if found {
            return Answer::Local(out);
        }
        if in_domain || name == DNS_SEARCH_DOMAIN {
            return Answer::NxDomain;
        }
        Answer::Forward(self.upstreams(&nets, q.src, host))
    }

    /// Where to forward for a container at `src`: its own servers, else its network's (or,
    /// for a sender we do not know, every network's here), else the host's.
    fn upstreams(&self, nets: &[&NetFile], src: IpAddr, host: &[IpAddr]) -> Vec<IpAddr> {
        let asker = nets.iter().find_map(|n| {
            n.entries
                .iter()
                .find(|e| e.v4.contains(&src) || e.v6.contains(&src))
                .map(|e| (*n, e))
        });
        let ups: Vec<IpAddr> = match asker {
            Some((_, e)) if !e.upstreams.is_empty() => e.upstreams.clone(),
            Some((n, _)) => n.upstreams.clone(),
            None => nets.iter().flat_map(|n| n.upstreams.clone()).collect(),
        };
        if ups.is_empty() { host.to_vec() } else { ups }
    }

    /// Every address to listen on.
    pub fn listen(&self) -> HashSet<IpAddr> {
        self.nets
            .values()
            .filter(|n| !n.entries.is_empty())
            .flat_map(|n| n.listen.clone())
            .collect()
    }

    fn is_empty(&self) -> bool {
        self.nets.values().all(|n| n.entries.is_empty())
    }
}

/// Answer one DNS message from `src` received on `listen`; `None` to drop it.
pub fn handle(
    records: &Records,
    (listen, src): (IpAddr, IpAddr),
    query: &[u8],
    host: &[IpAddr],
) -> Option<Vec<u8>> {
    let req = Message::from_vec(query).ok()?;
    if req.message_type() != MessageType::Query {
        return None;
    }
    let mut resp = Message::new();
    resp.set_id(req.id())
        .set_message_type(MessageType::Response)
        .set_op_code(req.op_code())
        .set_recursion_desired(req.recursion_desired())
        .set_recursion_available(true);
    let Some(q) = req.queries().first() else {
        resp.set_response_code(ResponseCode::FormErr);
        return resp.to_vec().ok();
    };
    resp.add_query(q.clone());
    let name = q.name().to_ascii();
    let asked = Query {
        listen,
        src,
        name: &name,
        qtype: q.query_type(),
    };
    match records.resolve(&asked, host) {
        Answer::Local(ips) => {
            resp.set_authoritative(true);
            for ip in ips {
                let rdata = match (ip, q.query_type()) {
                    (IpAddr::V4(v4), RecordType::A) => RData::A(A(v4)),
                    (IpAddr::V6(v6), RecordType::AAAA) => RData::AAAA(AAAA(v6)),
                    _ => continue,
                };
                resp.add_answer(Record::from_rdata(q.name().clone(), TTL, rdata));
            }
            resp.to_vec().ok()
        }
        Answer::NxDomain => {
            resp.set_authoritative(true)
                .set_response_code(ResponseCode::NXDomain);
            resp.to_vec().ok()
        }
        Answer::Forward(ups) => {
            if let Some(answer) = forward(query, req.id(), &ups) {
                return Some(answer);
            }
            resp.set_response_code(ResponseCode::ServFail);
            resp.to_vec().ok()
        }
    }
}

fn forward(query: &[u8], id: u16, upstreams: &[IpAddr]) -> Option<Vec<u8>> {
    for up in upstreams {
        let bind: SocketAddr = match up {
            IpAddr::V4(_) => "0.0.0.0:0".parse().ok()?,
            IpAddr::V6(_) => "[::]:0".parse().ok()?,
        };
        let Ok(sock) = UdpSocket::bind(bind) else {
            continue;
        };
        let _ = sock.set_read_timeout(Some(Duration::from_secs(3)));
        if sock.send_to(query, SocketAddr::new(*up, 53)).is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            if from.ip() == *up && n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
