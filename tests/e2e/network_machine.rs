//! Bridges and subnets belong to the host: networks made in different `--root`s, at the same
//! time, get their own; a subnet the host already has is skipped, and refused when asked for.
//!
//! These tests let peapod pick subnets from its pool (10.89.0.0/24 up), so they share it with
//! every other store on this machine: they assert only relations (distinct, not
//! overlapping), never a particular subnet. A mutex keeps the two of them from taking each
//! other's probe subnets.

use std::process::Command;
use std::sync::Mutex;

use crate::util::{IMG, TestEnv, name};

static POOL: Mutex<()> = Mutex::new(());

/// An IPv4 CIDR as (network address, prefix length).
fn cidr(s: &str) -> (u32, u32) {
    let (ip, len) = s.split_once('/').expect("a CIDR");
    let ip: std::net::Ipv4Addr = ip.parse().expect("an IPv4 subnet");
    (u32::from(ip), len.parse().expect("a prefix length"))
}

fn overlap(a: &str, b: &str) -> bool {
    let ((a, la), (b, lb)) = (cidr(a), cidr(b));
    let len = la.min(lb);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    a & mask == b & mask
}

/// `(bridge, subnet)` of a network.
fn facts(env: &TestEnv, net: &str) -> (String, String) {
    let out = env.ok(&[
        "network",
        "inspect",
        "--format",
        "{{.NetworkInterface}} {{range .Subnets}}{{.Subnet}}{{end}}",
        net,
    ]);
    let (bridge, subnet) = out.trim().split_once(' ').expect("bridge and subnet");
    (bridge.to_string(), subnet.to_string())
}

/// The subnet's `.1` address with its prefix.
fn first_host(subnet: &str) -> String {
    let (ip, len) = cidr(subnet);
    format!("{}/{len}", std::net::Ipv4Addr::from(ip + 1))
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A veth pair on the host (this kernel may lack the dummy driver), both ends up or down;
/// deleted on drop, even when the test fails.
struct HostLink(String);

impl HostLink {
    fn new(name: &str, up: bool) -> HostLink {
        let _ = Command::new("ip").args(["link", "del", name]).output();
        let peer = format!("{name}p");
        ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
        if up {
            ip(&["link", "set", &peer, "up"]);
            ip(&["link", "set", name, "up"]);
        }
        HostLink(name.to_string())
    }
}

impl Drop for HostLink {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

#[test]
fn two_roots_creating_networks_at_once_get_their_own() {
    let _pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let a = TestEnv::new("mach-a");
    let b = TestEnv::new("mach-b");
    std::thread::scope(|s| {
        s.spawn(|| a.import_busybox());
        s.spawn(|| b.import_busybox());
    });
    // Three networks per root, all six created at the same time.
    let nets: Vec<(&TestEnv, String)> = [&a, &a, &a, &b, &b, &b]
        .into_iter()
        .map(|env| (env, name("mach")))
        .collect();
    std::thread::scope(|s| {
        for (env, net) in &nets {
            s.spawn(move || env.ok(&["network", "create", net]));
        }
    });
    let got: Vec<(String, String)> = nets.iter().map(|(env, n)| facts(env, n)).collect();
    for (i, (bi, si)) in got.iter().enumerate() {
        for (bj, sj) in &got[i + 1..] {
            assert_ne!(bi, bj, "two networks got one bridge: {got:?}");
            assert!(!overlap(si, sj), "two networks got one subnet: {got:?}");
        }
    }

    // DNS works in both roots: a container finds a server of its own network by name.
    let (net_a, net_b) = (&nets[0].1, &nets[3].1);
    let (srv_a, srv_b) = (name("srv-a"), name("srv-b"));
    for (env, net, srv) in [(&a, net_a, &srv_a), (&b, net_b, &srv_b)] {
        env.ok(&[
            "run",
            "-d",
            "--name",
            srv,
            "--network",
            net,
            IMG,
            "sh",
            "-c",
            &format!("mkdir -p /w && echo {srv} > /w/index && exec httpd -f -p 80 -h /w"),
        ]);
    }
    for (env, net, srv) in [(&a, net_a, &srv_a), (&b, net_b, &srv_b)] {
        let out = env.ok(&[
            "run",
            "--rm",
            "--network",
            net,
            IMG,
            "wget",
            "-qO-",
            &format!("http://{srv}/index"),
        ]);
        assert_eq!(out, format!("{srv}\n"), "{srv} by name in its own root");
    }
    // The other root's container is not on this network: its name is unknown here, and its
    // address is not on this link (reached, if at all, through the gateway like any other
    // routed host: Podman does not isolate networks unless asked to, see network_options).
    let ip_b = b.inspect(&srv_b, "{{.NetworkSettings.IPAddress}}");
    let gw_a = a.ok(&[
        "network",
        "inspect",
        "--format",
        "{{range .Subnets}}{{.Gateway}}{{end}}",
        net_a,
    ]);
    let out = a.run(&[
        "run",
        "--rm",
        "--network",
        net_a,
        IMG,
        "sh",
        "-c",
        &format!("nslookup {srv_b}; ip route get {ip_b}"),
    ]);
    assert!(out.stdout.contains("NXDOMAIN"), "{out:?}");
    assert!(
        out.stdout
            .contains(&format!("{ip_b} via {} dev eth0", gw_a.trim())),
        "{ip_b} should be off-link for root A's network:{out:?}"
    );

    // Asking root A for root B's subnet or bridge explicitly: Podman's refusals.
    let (bridge_b, subnet_b) = facts(&b, net_b);
    a.run(&["network", "create", "--subnet", &subnet_b, &name("x")])
        .assert_error(
            125,
            &[&format!(
                "subnet {subnet_b} is already used on the host or by another config"
            )],
        );
    a.run(&[
        "network",
        "create",
        "--interface-name",
        &bridge_b,
        &name("x"),
    ])
    .assert_error(125, &[&format!("bridge name {bridge_b} already in use")]);
    // Removed in B, the subnet is free for A.
    b.ok(&["rm", "-f", "-t", "0", &srv_b]);
    b.ok(&["network", "rm", net_b]);
    let again = name("again");
    a.ok(&["network", "create", "--subnet", &subnet_b, &again]);
    assert_eq!(facts(&a, &again).1, subnet_b);

    a.ok(&["rm", "-af", "-t", "0"]);
    for (env, n) in nets.iter().skip(1).filter(|(_, n)| n != net_b) {
        env.ok(&["network", "rm", n]);
    }
    a.ok(&["network", "rm", net_a, &again]);
}

#[test]
fn subnets_on_host_interfaces_are_skipped_and_refused() {
    let _pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let env = TestEnv::new("mach-host");
    // The two subnets the pool hands out next: take them, give them back, and put them on
    // the host at once: one as a down interface's address (no route), one as a route only.
    let (p1, p2) = (name("probe"), name("probe"));
    env.ok(&["network", "create", &p1]);
    env.ok(&["network", "create", &p2]);
    let (s1, s2) = (facts(&env, &p1).1, facts(&env, &p2).1);
    env.ok(&["network", "rm", &p1, &p2]);
    let tag = std::process::id() % 10000;
    let with_address = HostLink::new(&format!("ppda{tag}"), false);
    ip(&["addr", "add", &first_host(&s1), "dev", &with_address.0]);
    let with_route = HostLink::new(&format!("ppdr{tag}"), true);
    ip(&["route", "add", &s2, "dev", &with_route.0]);

    let n = name("auto");
    env.ok(&["network", "create", &n]);
    let got = facts(&env, &n).1;
    assert!(
        !overlap(&got, &s1) && !overlap(&got, &s2),
        "{got} given though the host has {s1} (an address) and {s2} (a route)"
    );
    for taken in [&s1, &s2] {
        env.run(&["network", "create", "--subnet", taken, &name("x")])
            .assert_error(
                125,
                &[&format!(
                    "subnet {taken} is already used on the host or by another config"
                )],
            );
    }
    assert!(
        !env.ok(&["network", "ls", "--format", "{{.Name}}"])
            .contains("x-"),
        "a refused network was written"
    );
    // The host lets go: the subnet can be had again.
    drop(with_address);
    let mine = name("mine");
    env.ok(&["network", "create", "--subnet", &s1, &mine]);
    env.ok(&["network", "rm", &n, &mine]);
}
