//! `teardown --netns-released` against the real kernel (root only): the container's veth is
//! not deleted but taken off the bridge (or goes off it with the bridge), its rules go as
//! always, and the kernel destroys the pair when the namespace goes. Without the flag the
//! teardown is netavark's (kernel.rs).

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// The host end of the veth whose peer is `eth0` in `ns`: its `ip link` name.
fn host_end(ns: &Netns) -> String {
    let iflink = ns.exec(&["cat", "/sys/class/net/eth0/iflink"]);
    let index: u32 = iflink.trim().parse().expect("eth0's iflink");
    let out = sh_ok("ip", &["-o", "link"]);
    out.lines()
        .find_map(|l| {
            let mut f = l.split(": ");
            let i: u32 = f.next()?.trim().parse().ok()?;
            let name = f.next()?.split('@').next()?;
            (i == index).then(|| name.to_string())
        })
        .expect("the host end of eth0")
}

fn gone_within(link: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !std::path::Path::new("/sys/class/net").join(link).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn released_teardown_leaves_the_veth_to_the_namespace() {
    require_root!();
    let net = TestNet {
        n: 215,
        internal: false,
        dns: false,
    };
    let before = net.footprint();
    assert!(before.is_empty(), "leftovers: {before:?}");
    let a = Netns::new("ppt-rel-a");
    let b = Netns::new("ppt-rel-b");
    let mut c = Cleanup::new(&net);
    let port = json!([{"host_ip": "127.0.0.1", "container_port": 80, "host_port": 42150, "range": 1, "protocol": "tcp"}]);
    let ia = net.options("ctr215a", 2, json!([]));
    let ib = net.options("ctr215b", 3, port);
    c.setup(&a, &ia);
    c.setup(&b, &ib);
    assert_eq!(net.ports_on_bridge(), 2);
    let veth_b = host_end(&b);

    // B goes beside A: its veth is off the bridge at once, its rules are gone, A keeps
    // its port; B's namespace still holds its interface until it goes.
    c.done.retain(|(p, _)| *p != b.path);
    let (ok, out) = netsetup_with(
        c.config.path(),
        &["teardown", "--netns-released"],
        &b.path,
        &ib,
    );
    assert!(ok, "teardown failed: {out}");
    assert_eq!(net.ports_on_bridge(), 1, "only A's port is left");
    let master = std::path::Path::new("/sys/class/net")
        .join(&veth_b)
        .join("master");
    assert!(!master.exists(), "{veth_b} is still on a bridge");
    let rules = sh_ok("nft", &["list", "table", "inet", "peapod"]);
    assert!(
        !rules.contains("ctr215b") && !rules.contains("42150"),
        "{rules}"
    );
    assert!(
        rules.contains(&net.chain()),
        "A's network lost its rules: {rules}"
    );
    b.exec(&["ip", "link", "show", "eth0"]);
    // Through the gateway to the host: A still gets there, B no longer does (a listener
    // inside a namespace would keep it alive, so the host listens).
    let gw = sa(net.ip(1), 42151);
    serve_host(gw, "host");
    assert_eq!(a.connect(gw).as_deref(), Ok("host"), "A lost its gateway");
    assert!(b.connect(gw).is_err(), "B still reaches the host");
    drop(b);
    assert!(
        gone_within(&veth_b, Duration::from_secs(2)),
        "{veth_b} outlived its namespace by 2 s"
    );

    // A goes last: the bridge goes with its port, and nothing of the network is left once
    // A's namespace goes.
    let veth_a = host_end(&a);
    c.done.clear();
    let (ok, out) = netsetup_with(
        c.config.path(),
        &["teardown", "--netns-released"],
        &a.path,
        &ia,
    );
    assert!(ok, "teardown failed: {out}");
    // The bridge is deleted by a detached process that holds the global lock until it is
    // gone: the next command that takes the lock finds it gone.
    sh_ok("flock", &["/run/lock/peapod-netsetup.lock", "true"]);
    assert!(
        !std::path::Path::new("/sys/class/net")
            .join(net.bridge())
            .exists(),
        "the bridge is left"
    );
    drop(a);
    assert!(
        gone_within(&veth_a, Duration::from_secs(2)),
        "{veth_a} outlived its namespace by 2 s"
    );
    assert_eq!(net.footprint(), before);
}
