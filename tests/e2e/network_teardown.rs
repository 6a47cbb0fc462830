//! What a container's network teardown leaves in the kernel, as a user would look: the
//! engine's own stop and removal leave the container's veth to the kernel, which destroys
//! it with the namespace (peapod-netsetup `teardown --netns-released`); when `run --rm`
//! returns the veth is off the bridge, and within a second it is gone from the host. A
//! bridge left without a port is deleted by a detached process of the network helper that
//! holds the helper's lock until it is gone, so the next network command (which takes that
//! lock first) finds it gone; `run --rm` does not wait for it.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::leftovers::host_links;
use crate::util::{IMG, TestEnv, name, wait_until};

/// A bridge name of this test's own (the subnet is leased by the engine, machine-wide).
fn unique_bridge() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let k = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("ppt{}x{k}", std::process::id() % 10000)
}

/// The ports of `bridge`, by name.
fn ports(bridge: &str) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(Path::new("/sys/class/net").join(bridge).join("brif"))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
    v.sort();
    v
}

/// `run --rm` on `net`: the host ifindex of its veth's host end, as the container saw it.
fn run_rm_peer(env: &TestEnv, net: &str) -> u64 {
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        net,
        IMG,
        "cat",
        "/sys/class/net/eth0/iflink",
    ]);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("the container's eth0 iflink: {out:?}"))
}

/// `bridge` is gone once the network helper's lock is free: the detached deletion of an
/// empty bridge holds it until the bridge is gone, and every setup takes it first.
fn bridge_gone(bridge: &str, when: &str) {
    let lock = std::process::Command::new("flock")
        .args(["/run/lock/peapod-netsetup.lock", "true"])
        .status()
        .expect("running flock");
    assert!(lock.success(), "flock of the network helper's lock failed");
    assert!(
        !Path::new("/sys/class/net").join(bridge).exists(),
        "bridge {bridge} is still there {when}, with the network helper's lock free"
    );
}

/// The host end of a veth, `peer`, is gone from the host within a second.
#[track_caller]
fn assert_veth_goes(peer: u64, when: &str) {
    let veth = |l: &(u64, String)| l.0 == peer && l.1.starts_with("veth");
    wait_until(
        &format!("{when}: host veth #{peer} gone"),
        Duration::from_secs(1),
        || !host_links().iter().any(veth),
    );
}

#[test]
fn run_rm_leaves_no_veth_and_no_bridge_port() {
    let env = TestEnv::new("net-teardown");
    env.import_busybox();
    let bridge = unique_bridge();
    let net = name("td");
    env.ok(&["network", "create", "--interface-name", &bridge, &net]);

    // Alone on its network: the bridge goes with the container, as netavark removes it.
    let peer = run_rm_peer(&env, &net);
    bridge_gone(&bridge, "after run --rm");
    assert_veth_goes(peer, "alone");

    // Beside a running container: the bridge stays with that container's port only.
    let srv = name("srv");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &srv,
        "--network",
        &net,
        IMG,
        "sleep",
        "100",
    ]);
    let before = ports(&bridge);
    assert_eq!(before.len(), 1, "one port on {bridge}: {before:?}");
    let peer = run_rm_peer(&env, &net);
    assert_eq!(
        ports(&bridge),
        before,
        "the ports of {bridge} when run --rm returned"
    );
    assert_veth_goes(peer, "beside another");
    env.ok(&["rm", "-f", "-t", "0", &srv]);
    bridge_gone(&bridge, "after its last container");
    env.ok(&["network", "rm", &net]);
}
