//! peapod driving Debian's real netavark (`--helper-binaries-dir /usr/lib/podman`) passes
//! the same connectivity and published-port checks as with peapod-netsetup. (The other
//! direction, podman driving peapod-netsetup, is crates/netsetup/tests/netavark_swap.rs.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::util::{IMG, TestEnv, name, wait_until};

const NETAVARK_DIR: &str = "/usr/lib/podman";

fn get(addr: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr.parse().ok()?, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /index HTTP/1.0\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

#[test]
fn peapod_runs_networks_through_netavark() {
    let netavark = Path::new(NETAVARK_DIR).join("netavark");
    if peapod_tests::skip_unless(netavark.exists(), &netavark.display().to_string()) {
        return;
    }
    let env = TestEnv::new("netavark-swap");
    env.import_busybox();
    let nv = |args: &[&str]| {
        let mut argv = vec!["--helper-binaries-dir", NETAVARK_DIR];
        argv.extend_from_slice(args);
        env.run(&argv)
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A network of its own: the default one's 10.88.0.0/16 may be another store's bridge
    // at the same moment (tests share the machine), and netavark does not know it.
    let n = std::process::id() % 250 + 1;
    let subnet = format!("10.234.{n}.0/24");
    let net = name("nvnet");
    nv(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &format!("nvb{n}"),
        &net,
    ])
    .success();
    let web = name("nvweb");
    nv(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        &net,
        "-p",
        &format!("127.0.0.1:{port}:80"),
        IMG,
        "sh",
        "-c",
        "mkdir -p /www && echo via-netavark > /www/index && exec httpd -f -p 80 -h /www",
    ])
    .success();
    wait_until(
        "the published port to answer",
        Duration::from_secs(10),
        || get(&format!("127.0.0.1:{port}")).as_deref() == Some("via-netavark\n"),
    );
    // Container to container by address.
    let ip = env.inspect(
        &web,
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
    );
    assert!(ip.starts_with(&format!("10.234.{n}.")), "{ip}");
    let out = nv(&[
        "run",
        "--rm",
        "--network",
        &net,
        IMG,
        "wget",
        "-qO-",
        &format!("http://{ip}/index"),
    ])
    .success();
    assert_eq!(out, "via-netavark\n");
    // Proof that netavark did it: its firewall chains (iptables), not our nft table, carry
    // the container's subnet.
    let rules = std::process::Command::new("iptables-save").output();
    if let Ok(r) = rules {
        let text = String::from_utf8_lossy(&r.stdout);
        assert!(
            text.contains("NETAVARK"),
            "netavark's chains are missing:\n{text}"
        );
    }
    nv(&["rm", "-f", "-t", "0", &web]).success();
    nv(&["network", "rm", &net]).success();
    assert_eq!(get(&format!("127.0.0.1:{port}")), None);
    env.assert_no_processes();
}
