//! Bad per-container input is refused before the kernel is touched: not created and rolled
//! back, never created. `ip monitor` (a test tool only) watches the host and the container's
//! namespace while peapod-netsetup runs; it must see nothing of ours come and go.
//!
//! Uses test networks 212 and 213 (see common/mod.rs for the numbering).

#[macro_use]
mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// `ip -o monitor link address` (in `netns` if given), until [`Monitor::stop`].
struct Monitor(Child);

impl Monitor {
    fn start(netns: Option<&str>) -> Monitor {
        let mut cmd = Command::new("ip");
        if let Some(ns) = netns {
            cmd.args(["-n", ns]);
        }
        let child = cmd
            .args(["-o", "monitor", "link", "address"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ip monitor");
        Monitor(child)
    }

    /// Every event it saw.
    fn stop(mut self) -> String {
        let _ = self.0.kill();
        let mut out = String::new();
        if let Some(mut s) = self.0.stdout.take() {
            let _ = s.read_to_string(&mut out);
        }
        let _ = self.0.wait();
        out
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two networks: `good` is fine; the per-container options on `bad` (sorted after it, so
/// set up second) get broken by each case.
fn two_networks(good: &TestNet, bad: &TestNet) -> Value {
    let mut input = good.options("ctr212", 2, json!(null));
    input["networks"][bad.name()] =
        json!({"interface_name": "eth1", "static_ips": [bad.ip(2).to_string()]});
    input["network_info"][bad.name()] = bad.info();
    input
}

#[test]
fn bad_container_input_never_reaches_the_kernel() {
    require_root!();
    let good = TestNet {
        n: 212,
        internal: false,
        dns: true,
    };
    let bad = TestNet {
        n: 213,
        internal: false,
        dns: false,
    };
    let before = (good.footprint(), bad.footprint());
    let ns = Netns::new("ppt-input");
    let mut c = Cleanup::new(&good);
    let _bad_bridge = Cleanup::new(&bad);
    let per = |key: &str, v: Value| {
        let mut input = two_networks(&good, &bad);
        input["networks"][bad.name()][key] = v;
        input
    };
    let cases: Vec<(&str, Value)> = vec![
        ("invalid static_mac", per("static_mac", json!("92:d0:zz"))),
        (
            "invalid interface_name",
            per("interface_name", json!("eth/1")),
        ),
        ("invalid mtu", per("options", json!({"mtu": "big"}))),
        (
            "invalid host_interface_name",
            per("options", json!({"host_interface_name": "a:b"})),
        ),
        (
            "in none of its subnets",
            per("static_ips", json!(["10.9.9.9"])),
        ),
        (
            "both ask for interface eth0",
            per("interface_name", json!("eth0")),
        ),
        ("invalid protocol", {
            let mut v = two_networks(&good, &bad);
            v["port_mappings"] = json!([{"host_ip": "", "container_port": 80,
                                          "host_port": 42120, "range": 1, "protocol": "icmp"}]);
            v
        }),
        ("would query itself", {
            let mut v = two_networks(&good, &bad);
            v["dns_servers"] = json!([good.ip(1).to_string()]);
            v
        }),
    ];

    let host_events = Monitor::start(None);
    let ns_events = Monitor::start(Some("ppt-input"));
    // Let both subscribe before anything happens.
    std::thread::sleep(Duration::from_millis(300));
    for (why, input) in &cases {
        let (ok, out) = netsetup(c.config.path(), "setup", &ns.path, input);
        assert!(!ok, "{why}: accepted: {out}");
        let msg = out["error"].as_str().unwrap_or_default();
        assert!(msg.contains(why), "expected {why:?} in the error: {out}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let host = host_events.stop();
    let inside = ns_events.stop();
    let ours: Vec<&str> = host
        .lines()
        .filter(|l| l.contains(&good.bridge()) || l.contains(&bad.bridge()))
        .chain(inside.lines().filter(|l| l.contains("eth")))
        .collect();
    assert!(
        ours.is_empty(),
        "bad input touched the kernel (made and removed again):\n{}",
        ours.join("\n")
    );
    assert_eq!((good.footprint(), bad.footprint()), before);
    assert!(
        !c.config
            .path()
            .join("aardvark-dns")
            .join(good.name())
            .exists(),
        "a DNS entry was written"
    );

    // The same request, fixed, works: the checks refused the input, not the setup.
    let input = two_networks(&good, &bad);
    c.setup(&ns, &input);
    c.teardown(&ns, &input);
    assert_eq!((good.footprint(), bad.footprint()), before);
}
