//! peapod-netsetup against the real kernel (root only): namespaces made with `ip netns add`
//! (a test tool only; the product never runs `ip`), the built binary run with netavark's
//! command line, the result checked with the kernel and with real TCP traffic.
//!
//! Every test owns a unique subnet `10.231.N.0/24`, bridge `pptestN`, network id starting
//! with `N`, and host ports `41N0..`, so the tests run in parallel and never touch podman0
//! or Docker. Guards tear down and delete what a failed test leaves.

#[macro_use]
mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use hickory_proto::op::ResponseCode;
use serde_json::{Value, json};

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
    fake_dns("127.0.0.77:53", Ipv4Addr::new(192, 0, 2, 99));
    // And one for container B's own DNS servers (its --dns).
    fake_dns("127.0.0.78:53", Ipv4Addr::new(192, 0, 2, 98));

    let with_upstream = |mut v: Value| {
        v["network_info"][net.name()]["network_dns_servers"] = json!(["127.0.0.77"]);
        v
    };
    let ia = with_upstream(net.options("ctr207a", 2, json!(null)));
    let mut ib = with_upstream(net.options("ctr207b", 3, json!(null)));
    ib["dns_servers"] = json!(["127.0.0.78"]);
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
    // …except for a container with servers of its own: they get its questions.
    let m = dns_query(&b, gw, "example.test.", false).unwrap();
    assert_eq!(a_records(&m), vec![Ipv4Addr::new(192, 0, 2, 98)]);
    let m = dns_query(&b, gw, "example.test.", true).unwrap();
    assert_eq!(a_records(&m), vec![Ipv4Addr::new(192, 0, 2, 98)]);

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

#[test]
fn a_dns_address_someone_else_holds_fails_the_setup_and_undoes_it() {
    require_root!();
    let plain = TestNet {
        n: 214,
        internal: false,
        dns: false,
    };
    let with_dns = TestNet { dns: true, ..plain };
    let before = plain.footprint();
    let a = Netns::new("ppt-dnsbusy-a");
    let b = Netns::new("ppt-dnsbusy-b");
    let mut c = Cleanup::new(&plain);
    // A's setup makes the bridge and its gateway address; then someone else takes
    // gateway:53 before the network's DNS server can.
    let ia = plain.options("ctr214a", 2, json!(null));
    c.setup(&a, &ia);
    let squatter = std::net::UdpSocket::bind(sa(plain.ip(1), 53)).unwrap();
    let ib = with_dns.options("ctr214b", 3, json!(null));
    let (ok, out) = netsetup(c.config.path(), "setup", &b.path, &ib);
    assert!(!ok, "{out}");
    let msg = out["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains("DNS server") && msg.contains(&format!("{}:53", plain.ip(1))),
        "{out}"
    );
    // B's interface is gone again; A still works through the bridge.
    assert!(!b.exec(&["ip", "-o", "link"]).contains("eth0"));
    assert_eq!(plain.ports_on_bridge(), 1);
    drop(squatter);
    c.teardown(&a, &ia);
    assert_eq!(plain.footprint(), before);
}
