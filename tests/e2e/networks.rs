//! Networks and published ports, checked as a user would: traffic between containers, from
//! the host to published ports, and the kernel left as it was. Traffic only goes to this
//! machine: loopback, the host's own address and the containers these tests made.
//!
//! Tests run in parallel and share the host's kernel: each uses its own network (a unique
//! subnet and bridge name) and compares only kernel state carrying its own names.

use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::util::{IMG, TestEnv, free_port, http_get, name, wait_until};

/// A unique subnet (10.233.N.0/24) and bridge name for this test.
fn unique_net() -> (String, String) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = (std::process::id() % 100) * 2 + NEXT.fetch_add(1, Ordering::Relaxed);
    let n = n % 250 + 1;
    (
        format!("10.233.{n}.0/24"),
        format!("ppe{}x{n}", std::process::id() % 1000),
    )
}

/// The host's own (non-loopback) IPv4 address.
fn host_ip() -> Ipv4Addr {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .expect("ip");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("podman") && !l.contains(" ppe") && !l.contains("pptest"))
        .find_map(|l| {
            let cidr = l.split_whitespace().nth(3)?;
            cidr.split('/').next()?.parse().ok()
        })
        .expect("the host has a global IPv4 address")
}

/// Kernel state with our names in it: links, addresses, nft rules.
fn kernel_state(needles: &[&str]) -> String {
    let mut out = String::new();
    for args in [&["-o", "link"][..], &["-o", "addr"][..]] {
        let o = Command::new("ip").args(args).output().unwrap();
        out.push_str(&String::from_utf8_lossy(&o.stdout));
    }
    let o = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    out.push_str(&String::from_utf8_lossy(&o.stdout));
    out.lines()
        .filter(|l| needles.iter().any(|n| l.contains(n)))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A busybox httpd serving /www with an `index` file saying `body`.
fn httpd_script(body: &str, port: u16) -> String {
    format!("mkdir -p /www && echo {body} > /www/index && exec httpd -f -p {port} -h /www")
}

#[test]
fn containers_reach_each_other_by_ip_and_name() {
    let env = TestEnv::new("net-dns");
    env.import_busybox();
    let (subnet, bridge) = unique_net();
    let net = name("n");
    let before = kernel_state(&[&bridge, &subnet[..subnet.len() - 4]]);
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
        &net,
    ]);
    let b = name("b");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &b,
        "--network",
        &net,
        "--network-alias",
        "web",
        IMG,
        "sh",
        "-c",
        &httpd_script("from-b", 80),
    ]);
    let ip = env.inspect(&b, "{{.NetworkSettings.IPAddress}}");
    assert!(
        ip.starts_with(&subnet[..subnet.len() - 4]),
        "{ip} not in {subnet}"
    );
    assert_eq!(
        env.inspect(
            &b,
            &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}")
        ),
        ip
    );
    for target in [ip.as_str(), b.as_str(), "web"] {
        let out = env.ok(&[
            "run",
            "--rm",
            "--network",
            &net,
            IMG,
            "wget",
            "-qO-",
            &format!("http://{target}/index"),
        ]);
        assert_eq!(out, "from-b\n", "fetching from {target}");
    }
    // The default network has no DNS: names do not resolve there, addresses still route.
    let out = env.run(&[
        "run",
        "--rm",
        IMG,
        "wget",
        "-T",
        "3",
        "-qO-",
        &format!("http://{b}/index"),
    ]);
    assert_ne!(
        out.code(),
        0,
        "{b} should not resolve on the default network"
    );

    env.ok(&["rm", "-f", "-t", "0", &b]);
    env.ok(&["network", "rm", &net]);
    assert_eq!(
        kernel_state(&[&bridge, &subnet[..subnet.len() - 4]]),
        before
    );
    env.assert_no_processes();
}

#[test]
fn internal_networks_stay_on_the_bridge() {
    let env = TestEnv::new("net-internal");
    env.import_busybox();
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(b"host-here\n");
        }
    });
    let host = host_ip();
    let (subnet, bridge) = unique_net();
    let inner = name("internal");
    env.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
        &inner,
    ]);
    assert_eq!(
        env.ok(&["network", "inspect", "-f", "{{.Internal}}", &inner]),
        "true\n"
    );
    let probe = format!("nc -w 3 {host} {port}");
    // From the default network the host answers…
    let out = env.run(&["run", "--rm", IMG, "sh", "-c", &probe]);
    assert_eq!(out.stdout, "host-here\n", "{out:?}");
    // …from the internal one it does not; containers on it still reach each other.
    let out = env.run(&["run", "--rm", "--network", &inner, IMG, "sh", "-c", &probe]);
    assert_ne!(
        out.stdout, "host-here\n",
        "an internal network reached the host: {out:?}"
    );
    let s = name("srv");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &s,
        "--network",
        &inner,
        IMG,
        "sh",
        "-c",
        &httpd_script("inside", 80),
    ]);
    let ip = env.inspect(&s, "{{.NetworkSettings.IPAddress}}");
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        &inner,
        IMG,
        "wget",
        "-qO-",
        &format!("http://{ip}/index"),
    ]);
    assert_eq!(out, "inside\n");
    env.ok(&["rm", "-f", "-t", "0", &s]);
    env.ok(&["network", "rm", &inner]);
}

#[test]
fn published_ports_reach_the_container_and_nothing_else() {
    let env = TestEnv::new("net-publish");
    env.import_busybox();
    let (subnet, bridge) = unique_net();
    let net = name("pub");
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
        &net,
    ]);
    let published = free_port();
    let unpublished = free_port();
    let c = name("web");
    // Two servers inside: port 80 published, port 81 not.
    env.ok(&[
        "run", "-d", "--name", &c, "--network", &net, "-p", &format!("{published}:80"), IMG, "sh",
        "-c",
        "mkdir -p /www && echo published > /www/index && httpd -p 81 -h /www && exec httpd -f -p 80 -h /www",
    ]);
    wait_until(
        "the published port to answer",
        Duration::from_secs(10),
        || http_get(&format!("127.0.0.1:{published}"), "/index").as_deref() == Some("published\n"),
    );
    let host = host_ip();
    assert_eq!(
        http_get(&format!("{host}:{published}"), "/index").as_deref(),
        Some("published\n"),
        "the host's own address"
    );
    // Port 81 listens inside but is not published: nothing on the host's loopback.
    assert_eq!(
        http_get(&format!("127.0.0.1:{unpublished}"), "/index"),
        None
    );
    assert_eq!(http_get("127.0.0.1:81", "/index"), None);
    // The views.
    assert_eq!(
        env.ok(&["port", &c]),
        format!("80/tcp -> 0.0.0.0:{published}\n")
    );
    assert_eq!(
        env.ok(&["port", &c, "80"]),
        format!("0.0.0.0:{published}\n")
    );
    let ps = env.ok(&[
        "ps",
        "--format",
        "{{.Ports}}",
        "--filter",
        &format!("name={c}"),
    ]);
    assert_eq!(ps, format!("0.0.0.0:{published}->80/tcp\n"));
    assert_eq!(
        env.inspect(&c, "{{json .HostConfig.PortBindings}}"),
        format!("{{\"80/tcp\":[{{\"HostIp\":\"\",\"HostPort\":\"{published}\"}}]}}")
    );
    // A container reaches its own published port through the host (hairpin).
    let out = env.ok(&[
        "exec",
        &c,
        "wget",
        "-qO-",
        &format!("http://{host}:{published}/index"),
    ]);
    assert_eq!(out, "published\n");
    // The port is taken now: a second container asking for it fails to start.
    let d = name("dup");
    env.run(&[
        "run",
        "--name",
        &d,
        "--network",
        &net,
        "-p",
        &format!("{published}:80"),
        IMG,
        "true",
    ])
    .assert_error(126, &[&published.to_string(), "already in use"]);
    // As Podman: a start that failed leaves the container created, holding nothing.
    assert_eq!(env.status(&d), "created");
    env.ok(&["rm", &d]);
    // A random host port (-p 80) and a range.
    let r = name("rand");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &r,
        "--network",
        &net,
        "-p",
        "80",
        IMG,
        "sh",
        "-c",
        &httpd_script("random", 80),
    ]);
    let hp: u16 = env
        .ok(&["port", &r, "80/tcp"])
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    wait_until("the random port to answer", Duration::from_secs(10), || {
        http_get(&format!("127.0.0.1:{hp}"), "/index").as_deref() == Some("random\n")
    });
    env.ok(&["rm", "-f", "-t", "0", &c, &r]);
    env.ok(&["network", "rm", &net]);
    assert_eq!(http_get(&format!("127.0.0.1:{published}"), "/index"), None);
}

#[test]
fn concurrent_starts_get_distinct_addresses() {
    let env = TestEnv::new("net-concurrent");
    env.import_busybox();
    let (subnet, bridge) = unique_net();
    let net = name("many");
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
        &net,
    ]);
    let names: Vec<String> = (0..20).map(|_| name("c")).collect();
    std::thread::scope(|s| {
        for n in &names {
            let env = &env;
            let net = &net;
            s.spawn(move || {
                env.ok(&[
                    "run",
                    "-d",
                    "--name",
                    n,
                    "--network",
                    net,
                    IMG,
                    "sleep",
                    "1000",
                ]);
            });
        }
    });
    let mut ips: Vec<String> = names
        .iter()
        .map(|n| env.inspect(n, "{{.NetworkSettings.IPAddress}}"))
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 20, "addresses: {ips:?}");
    env.ok(&["rm", "-af", "-t", "0"]);
    env.ok(&["network", "rm", &net]);
}

#[test]
fn bad_network_input_leaves_nothing() {
    let env = TestEnv::new("net-bad");
    env.import_busybox();
    let (subnet, bridge) = unique_net();
    let net = name("bad");
    let prefix = &subnet[..subnet.len() - 4];
    let before = kernel_state(&[&bridge, prefix]);
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
        &net,
    ]);
    env.run(&["network", "create", "--subnet", &subnet, &name("overlap")])
        .assert_error(125, &[&subnet, "already used"]);
    env.run(&["network", "create", "--subnet", "10.1.2.0/33", &name("x")])
        .assert_error(125, &["10.1.2.0/33"]);
    env.run(&["network", "create", &net])
        .assert_error(125, &[&net, "already"]);
    env.run(&["run", "--network", "no-such-net", IMG, "true"])
        .assert_error(125, &["no-such-net", "network not found"]);
    env.run(&["run", "--network", &net, "--ip", "10.99.0.5", IMG, "true"])
        .assert_error(125, &["10.99.0.5"]);
    env.run(&["run", "-p", "8080:80/icmp", IMG, "true"])
        .assert_error(125, &["8080:80/icmp"]);
    env.run(&["run", "-p", "70000:80", IMG, "true"])
        .assert_error(125, &["70000"]);
    // A static IP already in use.
    let taken = format!("{prefix}9");
    let a = name("a");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &a,
        "--network",
        &net,
        "--ip",
        &taken,
        IMG,
        "sleep",
        "1000",
    ]);
    let b = name("b");
    env.run(&[
        "run",
        "--name",
        &b,
        "--network",
        &net,
        "--ip",
        &taken,
        IMG,
        "true",
    ])
    .assert_error(126, &[&taken, "already allocated"]);
    // As Podman: a start that failed leaves the container created, holding nothing.
    assert_eq!(env.status(&b), "created");
    env.ok(&["rm", &b]);
    // A port someone else (not peapod) listens on.
    let busy = TcpListener::bind("0.0.0.0:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    env.run(&[
        "run",
        "--name",
        &b,
        "--network",
        &net,
        "-p",
        &format!("{busy_port}:80"),
        IMG,
        "true",
    ])
    .assert_error(126, &[&busy_port, "address already in use"]);
    // As Podman: a start that failed leaves the container created, holding nothing.
    assert_eq!(env.status(&b), "created");
    // In use: rm refuses (exit 2) without -f; a missing one is exit 1.
    env.run(&["network", "rm", &net])
        .assert_error(2, &[&net, "is being used"]);
    env.run(&["network", "rm", "no-such-net"])
        .assert_error(1, &["no-such-net"]);
    env.run(&["network", "rm", "podman"])
        .assert_error(125, &["podman"]);
    env.ok(&["network", "rm", "-f", "-t", "0", &net]);
    assert!(
        env.names_all().is_empty(),
        "network rm -f removes its containers"
    );
    env.run(&["network", "exists", &net]).assert_code(1);
    assert_eq!(kernel_state(&[&bridge, prefix]), before);
    env.assert_no_processes();
    env.assert_no_mounts();
}

/// A name server on `addr:53` (UDP) answering every A question with `answer` (other types:
/// no records), until the test process ends. Enough DNS to answer busybox's nslookup.
fn fake_dns(addr: Ipv4Addr, answer: Ipv4Addr) {
    let sock = std::net::UdpSocket::bind((addr, 53)).expect("binding the fake DNS server");
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            // Header (12 bytes), then the question: labels up to a 0, type, class.
            let Some(end) = buf[12..n].iter().position(|b| *b == 0).map(|z| 12 + z + 5) else {
                continue;
            };
            if end > n {
                continue;
            }
            let is_a = buf[end - 4..end - 2] == [0, 1];
            let mut r = Vec::with_capacity(end + 16);
            r.extend_from_slice(&buf[..2]); // id
            r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(is_a), 0, 0, 0, 0]);
            r.extend_from_slice(&buf[12..end]);
            if is_a {
                // Name (pointer to the question), A, IN, TTL 30, 4 bytes.
                r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4]);
                r.extend_from_slice(&answer.octets());
            }
            let _ = sock.send_to(&r, from);
        }
    });
}

#[test]
fn dns_forwards_each_container_to_its_own_servers() {
    let env = TestEnv::new("net-dns-fwd");
    env.import_busybox();
    let (subnet, bridge) = unique_net();
    let net = name("fwd");
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
        &net,
    ]);
    // Two servers on the host's loopback: a container cannot reach them itself (its
    // 127.0.0.0/8 is its own), only the network's responder, running on the host, can.
    let tag = (std::process::id() % 250) as u8;
    let servers = [
        (Ipv4Addr::new(127, 77, tag, 1), Ipv4Addr::new(192, 0, 2, 11)),
        (Ipv4Addr::new(127, 77, tag, 2), Ipv4Addr::new(192, 0, 2, 22)),
    ];
    for (at, answer) in servers {
        fake_dns(at, answer);
    }
    let gateway = format!("{}1", &subnet[..subnet.len() - 4]);
    for (at, answer) in servers {
        let out = env.ok(&[
            "run",
            "--rm",
            "--network",
            &net,
            "--dns",
            &at.to_string(),
            IMG,
            "sh",
            "-c",
            "cat /etc/resolv.conf; nslookup made-up.peapod.test",
        ]);
        // The responder is the one nameserver; it forwarded to this container's own.
        let nameservers: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("nameserver"))
            .collect();
        assert_eq!(nameservers, [format!("nameserver {gateway}")], "{out}");
        assert!(
            out.contains(&format!("Address: {answer}")),
            "{at} should answer {answer}:\n{out}"
        );
        for (_, other) in servers.iter().filter(|(a, _)| *a != at) {
            assert!(
                !out.contains(&other.to_string()),
                "asked the wrong server:\n{out}"
            );
        }
    }
    env.ok(&["network", "rm", &net]);
}

#[test]
fn one_host_port_on_two_addresses() {
    let env = TestEnv::new("net-port-ips");
    env.import_busybox();
    let port = free_port();
    let host = host_ip();
    // The same port, published by two containers on two different host addresses: both
    // work, each for its own address (netavark allows it).
    for (who, ip) in [
        ("loop", "127.0.0.1".to_string()),
        ("host", host.to_string()),
    ] {
        env.ok(&[
            "run",
            "-d",
            "--name",
            &name(who),
            "-p",
            &format!("{ip}:{port}:80"),
            IMG,
            "sh",
            "-c",
            &httpd_script(who, 80),
        ]);
    }
    for (who, ip) in [
        ("loop", "127.0.0.1".to_string()),
        ("host", host.to_string()),
    ] {
        wait_until(
            &format!("{who} on {ip}:{port}"),
            Duration::from_secs(10),
            || http_get(&format!("{ip}:{port}"), "/index").as_deref() == Some(&format!("{who}\n")),
        );
    }
    // Every address, or one of the two again: taken.
    for spec in [format!("{port}:80"), format!("127.0.0.1:{port}:80")] {
        let n = name("third");
        env.run(&["run", "--name", &n, "-p", &spec, IMG, "true"])
            .assert_error(126, &[&port.to_string(), "already in use"]);
        // As Podman: a start that failed leaves the container created, holding nothing.
        assert_eq!(env.status(&n), "created");
    }
    env.ok(&["rm", "-af", "-t", "0"]);
    assert_eq!(http_get(&format!("127.0.0.1:{port}"), "/index"), None);
}

/// peapod-netsetup drives nftables through libnftables in its own process; with
/// `PEAPOD_NFT_EXEC` set it runs `nft` instead (the path taken where the library cannot be
/// opened). Both make the same rules: a published port answers, and every rule, link and
/// address goes with the container and its network.
#[test]
fn published_port_through_the_nft_process() {
    let env = TestEnv::new("net-nft-exec");
    env.import_busybox();
    let (subnet, bridge) = unique_net();
    let prefix = &subnet[..subnet.len() - 4];
    let before = kernel_state(&[&bridge, prefix]);
    let net = name("nftexec");
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
        &net,
    ]);
    let port = free_port();
    let c = name("web");
    let exec = |args: &[&str]| {
        env.peapod(args)
            .env("PEAPOD_NFT_EXEC", "1")
            .output()
            .success()
    };
    exec(&[
        "run",
        "-d",
        "--name",
        &c,
        "--network",
        &net,
        "-p",
        &format!("{port}:80"),
        IMG,
        "sh",
        "-c",
        &httpd_script("through-nft", 80),
    ]);
    wait_until(
        "the published port to answer",
        Duration::from_secs(10),
        || http_get(&format!("127.0.0.1:{port}"), "/index").as_deref() == Some("through-nft\n"),
    );
    let rules = kernel_state(&[&format!("dport {port}")]);
    assert!(!rules.is_empty(), "no nft rule for port {port}");
    exec(&["rm", "-f", "-t", "0", &c]);
    assert_eq!(http_get(&format!("127.0.0.1:{port}"), "/index"), None);
    assert_eq!(kernel_state(&[&format!("dport {port}")]), "");
    env.ok(&["network", "rm", &net]);
    assert_eq!(kernel_state(&[&bridge, prefix]), before);
}
