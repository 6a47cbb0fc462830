//! peapod-netsetup against the real kernel (root only): namespaces made with `ip netns add`
//! (a test tool only; the product never runs `ip`), the built binary run with netavark's
//! command line, the result checked with the kernel and with real TCP traffic.
//!
//! Every test owns a unique subnet `10.231.N.0/24`, bridge `pptestN`, network id starting
//! with `N`, and host ports `41N0..`, so the tests run in parallel and never touch podman0
//! or Docker. Guards tear down and delete what a failed test leaves.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_peapod-netsetup");

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! require_root {
    () => {
        if peapod_tests::skip_unless(is_root(), "root") {
            return;
        }
    };
}

fn sh(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"))
}

fn sh_ok(cmd: &str, args: &[&str]) -> String {
    let o = sh(cmd, args);
    assert!(
        o.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A named network namespace (`/run/netns/NAME`), deleted on drop.
struct Netns {
    name: String,
    path: String,
}

impl Netns {
    fn new(name: &str) -> Netns {
        let _ = sh("ip", &["netns", "del", name]);
        sh_ok("ip", &["netns", "add", name]);
        Netns {
            name: name.to_string(),
            path: format!("/run/netns/{name}"),
        }
    }

    fn exec(&self, args: &[&str]) -> String {
        let mut a = vec!["netns", "exec", &self.name];
        a.extend_from_slice(args);
        sh_ok("ip", &a)
    }

    /// Serve `reply` on TCP `port` inside the namespace until `stop` is dropped... or the
    /// test ends; each connection gets the reply and is closed.
    fn serve(&self, addr: SocketAddr, reply: &'static str) {
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
    fn connect(&self, addr: SocketAddr) -> Result<String, String> {
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

fn fetch(addr: SocketAddr) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Serve on the host (to test container → gateway traffic).
fn serve_host(addr: SocketAddr, reply: &'static str) {
    let l = TcpListener::bind(addr).unwrap();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(reply.as_bytes());
        }
    });
}

/// One test network: `10.231.N.0/24` on bridge `pptestN`.
struct TestNet {
    n: u8,
    internal: bool,
    dns: bool,
}

impl TestNet {
    fn bridge(&self) -> String {
        format!("pptest{}", self.n)
    }
    fn name(&self) -> String {
        format!("ppt{}", self.n)
    }
    fn id(&self) -> String {
        format!(
            "{:08x}{}",
            0xa0000000u32 + u32::from(self.n),
            "0".repeat(56)
        )
    }
    fn ip(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 231, self.n, host)
    }
    fn chain(&self) -> String {
        format!("nv_{}_10_231_{}_0_nm24", &self.id()[..8], self.n)
    }
    fn info(&self) -> Value {
        json!({
            "name": self.name(), "id": self.id(), "driver": "bridge",
            "network_interface": self.bridge(),
            "created": "2026-11-21T00:00:00Z",
            "subnets": [{"subnet": format!("10.231.{}.0/24", self.n), "gateway": self.ip(1).to_string()}],
            "ipv6_enabled": false, "internal": self.internal, "dns_enabled": self.dns,
            "ipam_options": {"driver": "host-local"}
        })
    }
    fn options(&self, ctr: &str, host: u8, ports: Value) -> Value {
        json!({
            "container_id": ctr, "container_name": format!("name-{ctr}"),
            "port_mappings": ports,
            "networks": {self.name(): {"interface_name": "eth0", "static_ips": [self.ip(host).to_string()],
                                       "aliases": [format!("alias-{ctr}")]}},
            "network_info": {self.name(): self.info()}
        })
    }

    /// Lines of `ip link`, `ip addr` and `nft list ruleset` that belong to this network.
    fn footprint(&self) -> Vec<String> {
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

    fn ports_on_bridge(&self) -> usize {
        std::fs::read_dir(format!("/sys/class/net/{}/brif", self.bridge()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

/// Run the binary: (exit ok, stdout JSON).
fn netsetup(config: &std::path::Path, cmd: &str, netns: &str, input: &Value) -> (bool, Value) {
    let mut child = Command::new(BIN)
        .args([
            "--config",
            config.to_str().unwrap(),
            "--rootless=false",
            cmd,
            netns,
        ])
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
struct Cleanup {
    config: tempfile::TempDir,
    done: Vec<(String, Value)>,
    bridge: String,
}

impl Cleanup {
    fn new(net: &TestNet) -> Cleanup {
        Cleanup {
            config: tempfile::tempdir().unwrap(),
            done: Vec::new(),
            bridge: net.bridge(),
        }
    }
    fn setup(&mut self, ns: &Netns, input: &Value) -> Value {
        self.done.push((ns.path.clone(), input.clone()));
        let (ok, out) = netsetup(self.config.path(), "setup", &ns.path, input);
        assert!(ok, "setup failed: {out}");
        out
    }
    fn teardown(&mut self, ns: &Netns, input: &Value) {
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
fn host_address() -> Option<Ipv4Addr> {
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

fn sa(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

#[test]
fn setup_publish_and_teardown() {
    require_root!();
    let net = TestNet {
        n: 201,
        internal: false,
        dns: false,
    };
    let before = net.footprint();
    assert!(
        before.is_empty(),
        "leftovers from an earlier run: {before:?}"
    );
    let ns = Netns::new("ppt-publish");
    let mut c = Cleanup::new(&net);
    let input = net.options(
        "ctr201a",
        2,
        json!([{"host_ip": "", "container_port": 80, "host_port": 42010, "range": 1, "protocol": "tcp"},
               {"host_ip": "", "container_port": 90, "host_port": 42012, "range": 2, "protocol": "tcp,udp"}]),
    );
    let out = c.setup(&ns, &input);

    // The status block, netavark-shaped.
    let st = &out[net.name()];
    let eth0 = &st["interfaces"]["eth0"];
    assert_eq!(eth0["subnets"][0]["ipnet"], "10.231.201.2/24", "{out}");
    assert_eq!(eth0["subnets"][0]["gateway"], "10.231.201.1", "{out}");
    let mac = eth0["mac_address"].as_str().unwrap();
    assert_eq!(mac.len(), 17, "{out}");

    // The kernel agrees: veth on the bridge, eth0 with the address and MAC, default route.
    assert_eq!(net.ports_on_bridge(), 1);
    let addr = ns.exec(&["ip", "-o", "addr", "show", "dev", "eth0"]);
    assert!(addr.contains("10.231.201.2/24"), "{addr}");
    let link = ns.exec(&["ip", "-o", "link", "show", "dev", "eth0"]);
    assert!(link.contains(mac) && link.contains("UP"), "{link}");
    let lo = ns.exec(&["ip", "-o", "link", "show", "dev", "lo"]);
    assert!(lo.contains("UP"), "{lo}");
    let route = ns.exec(&["ip", "route", "show", "default"]);
    assert!(route.contains("via 10.231.201.1 dev eth0"), "{route}");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/conf/pptest201/route_localnet")
            .unwrap()
            .trim(),
        "1"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "1"
    );

    // Container → gateway.
    serve_host(sa(net.ip(1), 42019), "gateway");
    assert_eq!(ns.connect(sa(net.ip(1), 42019)).as_deref(), Ok("gateway"));

    // Published ports: 127.0.0.1, the host's own address, the gateway address.
    ns.serve(sa(Ipv4Addr::UNSPECIFIED, 80), "port80");
    ns.serve(sa(Ipv4Addr::UNSPECIFIED, 91), "port91");
    assert_eq!(
        fetch(sa(Ipv4Addr::LOCALHOST, 42010)).as_deref(),
        Ok("port80")
    );
    assert_eq!(
        fetch(sa(Ipv4Addr::LOCALHOST, 42013)).as_deref(),
        Ok("port91")
    );
    if let Some(h) = host_address() {
        assert_eq!(fetch(sa(h, 42010)).as_deref(), Ok("port80"), "via {h}");
    }
    assert_eq!(fetch(sa(net.ip(1), 42010)).as_deref(), Ok("port80"));
    // The container directly, without NAT.
    assert_eq!(fetch(sa(net.ip(2), 80)).as_deref(), Ok("port80"));
    // An unpublished port is not forwarded.
    assert!(fetch(sa(Ipv4Addr::LOCALHOST, 42011)).is_err());
    // Hairpin: the container reaches its own published port through the host.
    assert_eq!(ns.connect(sa(net.ip(1), 42010)).as_deref(), Ok("port80"));
    if let Some(h) = host_address() {
        assert_eq!(ns.connect(sa(h, 42010)).as_deref(), Ok("port80"));
    }

    let rules = sh_ok("nft", &["list", "table", "inet", "peapod"]);
    assert!(rules.contains(&net.chain()), "{rules}");
    assert!(rules.contains("dnat ip to 10.231.201.2:80"), "{rules}");
    assert!(rules.contains("udp dport 42013"), "{rules}");

    c.teardown(&ns, &input);
    assert!(
        ns.exec(&["ip", "-o", "link"])
            .lines()
            .all(|l| !l.contains("eth0")),
        "eth0 left in the namespace"
    );
    assert_eq!(net.footprint(), before);
    assert!(fetch(sa(Ipv4Addr::LOCALHOST, 42010)).is_err());
    // Teardown again: still fine.
    c.teardown(&ns, &input);
    assert_eq!(net.footprint(), before);
}

#[test]
fn second_setup_of_the_same_container_is_refused_and_harmless() {
    require_root!();
    let net = TestNet {
        n: 208,
        internal: false,
        dns: false,
    };
    let before = net.footprint();
    let ns = Netns::new("ppt-twice");
    let mut c = Cleanup::new(&net);
    let input = net.options(
        "ctr208",
        2,
        json!([{"host_ip": "", "container_port": 80, "host_port": 42080, "range": 1, "protocol": "tcp"}]),
    );
    c.setup(&ns, &input);
    let footprint = net.footprint();
    let (ok, out) = netsetup(c.config.path(), "setup", &ns.path, &input);
    assert!(!ok, "{out}");
    assert!(
        out["error"].as_str().unwrap().contains("already exists"),
        "{out}"
    );
    // The first setup is untouched.
    assert_eq!(net.footprint(), footprint);
    ns.serve(sa(Ipv4Addr::UNSPECIFIED, 80), "still");
    assert_eq!(
        fetch(sa(Ipv4Addr::LOCALHOST, 42080)).as_deref(),
        Ok("still")
    );
    c.teardown(&ns, &input);
    assert_eq!(net.footprint(), before);
}

#[test]
fn two_containers_share_a_bridge() {
    require_root!();
    let net = TestNet {
        n: 202,
        internal: false,
        dns: false,
    };
    let before = net.footprint();
    assert!(before.is_empty(), "leftovers: {before:?}");
    let a = Netns::new("ppt-two-a");
    let b = Netns::new("ppt-two-b");
    let mut c = Cleanup::new(&net);
    let ia = net.options(
        "ctr202a",
        2,
        json!([{"host_ip": "127.0.0.1", "container_port": 80, "host_port": 42020, "range": 1, "protocol": "tcp"}]),
    );
    let ib = net.options(
        "ctr202b",
        3,
        json!([{"host_ip": "127.0.0.1", "container_port": 80, "host_port": 42021, "range": 1, "protocol": "tcp"}]),
    );
    c.setup(&a, &ia);
    c.setup(&b, &ib);
    assert_eq!(net.ports_on_bridge(), 2);
    a.serve(sa(Ipv4Addr::UNSPECIFIED, 80), "A");
    b.serve(sa(Ipv4Addr::UNSPECIFIED, 80), "B");
    assert_eq!(a.connect(sa(net.ip(3), 80)).as_deref(), Ok("B"));
    assert_eq!(b.connect(sa(net.ip(2), 80)).as_deref(), Ok("A"));
    assert_eq!(fetch(sa(Ipv4Addr::LOCALHOST, 42020)).as_deref(), Ok("A"));
    assert_eq!(fetch(sa(Ipv4Addr::LOCALHOST, 42021)).as_deref(), Ok("B"));
    // B reaches A's published port through the host's loopback-bound publish? No: 127.0.0.1
    // in B is B's own loopback. Through the gateway it is not published (host_ip 127.0.0.1).
    assert!(b.connect(sa(net.ip(1), 42020)).is_err());

    // A leaves: its rules and veth go, the network stays for B.
    c.teardown(&a, &ia);
    assert_eq!(net.ports_on_bridge(), 1);
    let rules = sh_ok("nft", &["list", "table", "inet", "peapod"]);
    assert!(!rules.contains("ctr202a"), "{rules}");
    assert!(
        rules.contains("ctr202b") && rules.contains(&net.chain()),
        "{rules}"
    );
    assert!(fetch(sa(Ipv4Addr::LOCALHOST, 42020)).is_err());
    assert_eq!(fetch(sa(Ipv4Addr::LOCALHOST, 42021)).as_deref(), Ok("B"));

    // B leaves: nothing of the network is left.
    c.teardown(&b, &ib);
    assert_eq!(net.footprint(), before);
}

#[test]
fn internal_network_has_no_route_out_and_no_nat() {
    require_root!();
    let net = TestNet {
        n: 203,
        internal: true,
        dns: false,
    };
    let before = net.footprint();
    let ns = Netns::new("ppt-internal");
    let mut c = Cleanup::new(&net);
    let input = net.options(
        "ctr203",
        2,
        json!([{"host_ip": "", "container_port": 80, "host_port": 42030, "range": 1, "protocol": "tcp"}]),
    );
    c.setup(&ns, &input);
    let route = ns.exec(&["ip", "route", "show", "default"]);
    assert!(
        route.trim().is_empty(),
        "internal network got a default route: {route}"
    );
    let rules = sh_ok("nft", &["list", "ruleset"]);
    assert!(
        !rules.contains("10.231.203."),
        "internal network got rules: {rules}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/conf/pptest203/forwarding")
            .unwrap()
            .trim(),
        "0"
    );
    // The gateway is still reachable on the link.
    serve_host(sa(net.ip(1), 42039), "gw");
    assert_eq!(ns.connect(sa(net.ip(1), 42039)).as_deref(), Ok("gw"));
    c.teardown(&ns, &input);
    assert_eq!(net.footprint(), before);
}

#[test]
fn bad_input_is_an_error_json_and_touches_nothing() {
    require_root!();
    let net = TestNet {
        n: 204,
        internal: false,
        dns: false,
    };
    let ns = Netns::new("ppt-bad");
    let config = tempfile::tempdir().unwrap();
    // An address outside the subnet.
    let mut input = net.options("ctr204", 2, json!(null));
    input["networks"][net.name()]["static_ips"] = json!(["10.9.9.9"]);
    let (ok, out) = netsetup(config.path(), "setup", &ns.path, &input);
    assert!(!ok);
    let msg = out["error"].as_str().unwrap();
    assert!(msg.contains("10.9.9.9"), "{msg}");
    // Not JSON at all.
    let (ok, out) = netsetup(config.path(), "setup", &ns.path, &json!("nonsense"));
    assert!(!ok && out["error"].is_string(), "{out}");
    // Not a namespace.
    let input = net.options("ctr204", 2, json!(null));
    let (ok, out) = netsetup(config.path(), "setup", "/etc/hostname", &input);
    assert!(!ok && out["error"].is_string(), "{out}");
    assert!(net.footprint().is_empty(), "{:?}", net.footprint());
}

#[test]
fn failure_on_second_network_undoes_the_first() {
    require_root!();
    let good = TestNet {
        n: 205,
        internal: false,
        dns: false,
    };
    let before = good.footprint();
    let ns = Netns::new("ppt-rollback");
    let _c = Cleanup::new(&good);
    // The second network's "bridge" is an existing veth: setup must fail there.
    let dummy = "pptest206";
    let _ = sh("ip", &["link", "del", dummy]);
    sh_ok(
        "ip",
        &[
            "link",
            "add",
            dummy,
            "type",
            "veth",
            "peer",
            "name",
            "pptest206p",
        ],
    );
    struct DelLink(&'static str);
    impl Drop for DelLink {
        fn drop(&mut self) {
            let _ = sh("ip", &["link", "del", self.0]);
        }
    }
    let _dummy = DelLink(dummy);
    let mut input = good.options("ctr205", 2, json!(null));
    let bad = TestNet {
        n: 206,
        internal: false,
        dns: false,
    };
    input["networks"]["zz-bad"] =
        json!({"interface_name": "eth1", "static_ips": [bad.ip(2).to_string()]});
    let mut info = bad.info();
    info["name"] = json!("zz-bad");
    input["network_info"]["zz-bad"] = info;
    let config = tempfile::tempdir().unwrap();
    let (ok, out) = netsetup(config.path(), "setup", &ns.path, &input);
    assert!(!ok, "{out}");
    assert!(
        out["error"].as_str().unwrap().contains("not a bridge"),
        "{out}"
    );
    assert_eq!(good.footprint(), before);
    let links = ns.exec(&["ip", "-o", "link"]);
    assert!(
        !links.contains("eth0") && !links.contains("eth1"),
        "{links}"
    );
    // The rollback (and a teardown after it) leave the user's interface alone.
    assert!(
        std::path::Path::new("/sys/class/net").join(dummy).exists(),
        "the rollback deleted {dummy}, an interface that is not ours"
    );
    let (_, out) = netsetup(config.path(), "teardown", &ns.path, &input);
    assert!(
        std::path::Path::new("/sys/class/net").join(dummy).exists(),
        "teardown deleted {dummy}: {out}"
    );
}

/// One DNS query over UDP (or TCP) from inside `ns`.
fn dns_query(ns: &Netns, server: Ipv4Addr, name: &str, tcp: bool) -> Result<Message, String> {
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

fn a_records(m: &Message) -> Vec<Ipv4Addr> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn dns_answers_names_and_forwards_the_rest() {
    require_root!();
    let net = TestNet {
        n: 207,
        internal: false,
        dns: true,
    };
    let before = net.footprint();
    let a = Netns::new("ppt-dns-a");
    let b = Netns::new("ppt-dns-b");
    let mut c = Cleanup::new(&net);

    // A fake upstream on this host for the network's own DNS servers.
    let upstream = UdpSocket::bind("127.0.0.77:53").unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = upstream.recv_from(&mut buf) {
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut r = Message::new();
            r.set_id(q.id()).set_message_type(MessageType::Response);
            r.add_query(q.queries()[0].clone());
            r.add_answer(Record::from_rdata(
                q.queries()[0].name().clone(),
                30,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 99))),
            ));
            let _ = upstream.send_to(&r.to_vec().unwrap(), from);
        }
    });

    let with_upstream = |mut v: Value| {
        v["network_info"][net.name()]["network_dns_servers"] = json!(["127.0.0.77"]);
        v
    };
    let ia = with_upstream(net.options("ctr207a", 2, json!(null)));
    let ib = with_upstream(net.options("ctr207b", 3, json!(null)));
    let out = c.setup(&a, &ia);
    assert_eq!(
        out[net.name()]["dns_server_ips"],
        json!(["10.231.207.1"]),
        "{out}"
    );
    assert_eq!(
        out[net.name()]["dns_search_domains"],
        json!(["dns.podman"]),
        "{out}"
    );
    let pid: i32 = std::fs::read_to_string(c.config.path().join("aardvark-dns/aardvark.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    c.setup(&b, &ib);
    let gw = net.ip(1);

    // Names and aliases, with and without the domain, over UDP and TCP.
    let m = dns_query(&b, gw, "name-ctr207a.", false).unwrap();
    assert_eq!(a_records(&m), vec![net.ip(2)]);
    let m = dns_query(&b, gw, "alias-ctr207a.dns.podman.", true).unwrap();
    assert_eq!(a_records(&m), vec![net.ip(2)]);
    let m = dns_query(&a, gw, "NAME-ctr207b.dns.podman.", false).unwrap();
    assert_eq!(a_records(&m), vec![net.ip(3)]);
    let m = dns_query(&a, gw, "nobody.dns.podman.", false).unwrap();
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    // Anything else goes to the network's upstream.
    let m = dns_query(&a, gw, "example.test.", false).unwrap();
    assert_eq!(a_records(&m), vec![Ipv4Addr::new(192, 0, 2, 99)]);

    // A leaves: its name goes, the server stays for B.
    c.teardown(&a, &ia);
    let m = dns_query(&b, gw, "name-ctr207a.dns.podman.", false).unwrap();
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    assert!(alive(pid));
    // B leaves: the server exits.
    c.teardown(&b, &ib);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "DNS server {pid} still running");
    assert_eq!(net.footprint(), before);
}

#[test]
fn teardown_after_the_namespace_is_gone_still_cleans_the_host() {
    require_root!();
    let net = TestNet {
        n: 209,
        internal: false,
        dns: true,
    };
    let before = net.footprint();
    let ns = Netns::new("ppt-gone");
    let mut c = Cleanup::new(&net);
    let input = net.options(
        "ctr209",
        2,
        json!([{"host_ip": "", "container_port": 80, "host_port": 42090, "range": 1, "protocol": "tcp"}]),
    );
    c.setup(&ns, &input);
    let pid: i32 = std::fs::read_to_string(c.config.path().join("aardvark-dns/aardvark.pid"))
        .expect("the network has DNS: its server runs")
        .trim()
        .parse()
        .unwrap();
    let path = ns.path.clone();
    drop(ns);
    assert!(!std::path::Path::new(&path).exists());
    // The kernel destroys a namespace (and its veth ends) asynchronously.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while net.ports_on_bridge() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(net.ports_on_bridge(), 0);
    let (ok, out) = netsetup(c.config.path(), "teardown", &path, &input);
    assert!(ok, "{out}");
    c.done.clear();
    assert_eq!(net.footprint(), before);
    // The pid file goes before the signal: watch the process itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "DNS server {pid} left running");
}
