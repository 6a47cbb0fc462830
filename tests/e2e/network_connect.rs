//! `network connect` / `disconnect` on a running container, `--disable-dns`, static MACs.

use std::time::Duration;

use crate::util::{IMG, TestEnv, free_port, http_get, name, wait_until};

/// A unique subnet (10.236.N.0/24; pods.rs has 10.234) and bridge name, `k` in 0..5.
fn subnet(k: u32) -> (String, String) {
    let n = (std::process::id() % 50) * 5 + k;
    (
        format!("10.236.{}.0/24", n % 250 + 1),
        format!("ppc{}x{k}", std::process::id() % 10000),
    )
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let env = TestEnv::new("net-connect");
    env.import_busybox();
    let (s1, b1) = subnet(0);
    let (s2, b2) = subnet(1);
    let front = name("front");
    let quiet = name("quiet");
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &s1,
        "--interface-name",
        &b1,
        &front,
    ]);
    env.ok(&[
        "network",
        "create",
        "--disable-dns",
        "--subnet",
        &s2,
        "--interface-name",
        &b2,
        &quiet,
    ]);
    let srv = name("srv");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &srv,
        "--network",
        &front,
        "--mac-address",
        "92:d0:c6:0a:29:33",
        IMG,
        "sh",
        "-c",
        "mkdir -p /www && echo hello > /www/index && exec httpd -f -p 80 -h /www",
    ]);
    assert_eq!(
        env.inspect(&srv, "{{.NetworkSettings.MacAddress}}"),
        "92:d0:c6:0a:29:33"
    );
    let c = name("client");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "--network",
        &quiet,
        IMG,
        "sleep",
        "1000",
    ]);
    // On the DNS-less network the server's name does not resolve, and the two networks do
    // not route to each other.
    let out = env.run(&[
        "exec",
        &c,
        "wget",
        "-T",
        "2",
        "-qO-",
        &format!("http://{srv}/index"),
    ]);
    assert_ne!(out.code(), 0, "{out:?}");
    // Connected live: a second interface, the name resolves through front's DNS, and the
    // client's own hosts file gained its new address.
    env.ok(&["network", "connect", "--alias", "cli", &front, &c]);
    let addrs = env.ok(&["exec", &c, "ip", "-4", "-o", "addr"]);
    assert!(addrs.contains("eth1"), "{addrs}");
    let front_ip = env.inspect(
        &c,
        &format!("{{{{(index .NetworkSettings.Networks \"{front}\").IPAddress}}}}"),
    );
    assert!(addrs.contains(&front_ip), "{front_ip} not in {addrs}");
    let hosts = env.ok(&["exec", &c, "cat", "/etc/hosts"]);
    assert!(hosts.contains(&front_ip), "{hosts}");
    let out = env.ok(&["exec", &c, "wget", "-qO-", &format!("http://{srv}/index")]);
    assert_eq!(out, "hello\n");
    // And the server finds the client by its alias.
    let out = env.ok(&["exec", &srv, "nslookup", "cli"]);
    assert!(out.contains(&front_ip), "{out}");
    env.run(&["network", "connect", &front, &c])
        .assert_error(125, &["already connected"]);
    // Disconnected: the interface and the hosts line go, the other network stays.
    env.ok(&["network", "disconnect", &front, &c]);
    let addrs = env.ok(&["exec", &c, "ip", "-4", "-o", "addr"]);
    assert!(!addrs.contains("eth1"), "{addrs}");
    assert!(addrs.contains("eth0"), "{addrs}");
    assert!(
        !env.ok(&["exec", &c, "cat", "/etc/hosts"])
            .contains(&front_ip)
    );
    env.run(&["network", "disconnect", &front, &c])
        .assert_error(125, &["not connected"]);
    // Connected again: a new address (the next after the last handed out, as Podman's
    // IPAM), in the hosts file and on the interface.
    env.ok(&["network", "connect", &front, &c]);
    let again = env.inspect(
        &c,
        &format!("{{{{(index .NetworkSettings.Networks \"{front}\").IPAddress}}}}"),
    );
    assert_ne!(
        again, front_ip,
        "the address let go was handed straight back"
    );
    assert!(
        env.ok(&["exec", &c, "ip", "-4", "-o", "addr"])
            .contains(&again)
    );
    assert!(env.ok(&["exec", &c, "cat", "/etc/hosts"]).contains(&again));
    env.ok(&["rm", "-af", "-t", "0"]);
    env.ok(&["network", "rm", &front, &quiet]);
    env.assert_no_processes();
}

#[test]
fn name_files_publish_all_and_shared_namespaces() {
    let env = TestEnv::new("net-files");
    // An image that EXPOSEs a port, for -P.
    let tar = peapod_tests::busybox_rootfs_tar().unwrap();
    env.ok(&[
        "import",
        "--change",
        "EXPOSE 8080/tcp",
        tar.to_str().unwrap(),
        "localhost/exposing",
    ]);
    env.import_busybox();
    let c = name("files");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "-P",
        "--add-host",
        "db.example:10.1.2.3",
        "--dns",
        "10.0.0.53",
        "--dns-search",
        "corp.example",
        "--dns-option",
        "ndots:2",
        "localhost/exposing",
        "sh",
        "-c",
        "mkdir -p /www && echo exposed > /www/index && exec httpd -f -p 8080 -h /www",
    ]);
    let hosts = env.ok(&["exec", &c, "cat", "/etc/hosts"]);
    assert!(hosts.contains("10.1.2.3\tdb.example"), "{hosts}");
    assert!(hosts.contains("host.containers.internal"), "{hosts}");
    let ip = env.inspect(&c, "{{.NetworkSettings.IPAddress}}");
    assert!(hosts.contains(&format!("{ip}\t")), "{hosts}");
    let resolv = env.ok(&["exec", &c, "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.0.0.53"), "{resolv}");
    assert!(resolv.contains("search corp.example"), "{resolv}");
    assert!(resolv.contains("options ndots:2"), "{resolv}");
    for line in resolv.lines().filter(|l| l.starts_with("nameserver")) {
        assert!(
            !line.contains("127."),
            "a loopback resolver leaked in: {resolv}"
        );
    }
    // -P published the image's EXPOSE on a random host port.
    let port = env.ok(&["port", &c, "8080"]);
    let host_port: u16 = port.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(host_port > 0, "{port}");
    crate::util::wait_until(
        "the -P port to answer",
        std::time::Duration::from_secs(10),
        || {
            let out = std::process::Command::new("curl")
                .args([
                    "-s",
                    "--max-time",
                    "2",
                    &format!("http://127.0.0.1:{host_port}/index"),
                ])
                .output()
                .unwrap();
            out.stdout == b"exposed\n"
        },
    );
    // container:ID shares the network namespace: same address, the server on localhost.
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        &format!("container:{c}"),
        IMG,
        "wget",
        "-qO-",
        "http://127.0.0.1:8080/index",
    ]);
    assert_eq!(out, "exposed\n");
    // --network none: only loopback.
    let out = env.ok(&["run", "--rm", "--network", "none", IMG, "ip", "-o", "link"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    env.ok(&["rm", "-f", "-t", "0", &c]);
}

#[test]
fn ipv6_networks_route_between_containers() {
    let env = TestEnv::new("net-v6");
    env.import_busybox();
    let (s4, bridge) = subnet(3);
    let n = (std::process::id() % 50) * 5 + 3;
    let s6 = format!("fd42:{:x}::/64", n % 250 + 1);
    let net = name("v6");
    env.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &s4,
        "--subnet",
        &s6,
        "--interface-name",
        &bridge,
        &net,
    ]);
    assert_eq!(
        env.ok(&["network", "inspect", "-f", "{{.IPv6Enabled}}", &net]),
        "true\n"
    );
    let srv = name("s6");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &srv,
        "--network",
        &net,
        IMG,
        "sh",
        "-c",
        "mkdir -p /w && echo over-v6 > /w/i && exec httpd -f -p 80 -h /w",
    ]);
    let ip6 = env.inspect(&srv, "{{.NetworkSettings.GlobalIPv6Address}}");
    assert!(ip6.starts_with(&s6[..s6.len() - 4]), "{ip6} not in {s6}");
    assert!(!ip6.ends_with("::1"), "{ip6} is the gateway's address");
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        &net,
        IMG,
        "wget",
        "-qO-",
        &format!("http://[{ip6}]/i"),
    ]);
    assert_eq!(out, "over-v6\n");
    env.ok(&["rm", "-f", "-t", "0", &srv]);
    env.ok(&["network", "rm", &net]);
}

#[test]
fn published_ports_follow_a_connected_network() {
    let env = TestEnv::new("net-connect-ports");
    env.import_busybox();
    let (s1, b1) = subnet(2);
    let (s2, b2) = subnet(4);
    let (first, second) = (name("first"), name("second"));
    for (s, b, n) in [(&s1, &b1, &first), (&s2, &b2, &second)] {
        env.ok(&["network", "create", "--subnet", s, "--interface-name", b, n]);
    }
    let port = free_port();
    let web = name("web");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        &first,
        "-p",
        &format!("{port}:80"),
        IMG,
        "sh",
        "-c",
        "mkdir -p /w && echo published > /w/index && exec httpd -f -p 80 -h /w",
    ]);
    let url = format!("127.0.0.1:{port}");
    wait_until("the published port", Duration::from_secs(10), || {
        http_get(&url, "/index").as_deref() == Some("published\n")
    });
    // Connected to a second network, then cut from the first: the port now reaches the
    // container through its address on the second one.
    env.ok(&["network", "connect", &second, &web]);
    env.ok(&["network", "disconnect", &first, &web]);
    let ip2 = env.inspect(
        &web,
        &format!("{{{{(index .NetworkSettings.Networks \"{second}\").IPAddress}}}}"),
    );
    assert!(ip2.starts_with(&s2[..s2.len() - 4]), "{ip2} not in {s2}");
    assert_eq!(
        http_get(&url, "/index").as_deref(),
        Some("published\n"),
        "the published port died with the first network"
    );
    assert_eq!(env.ok(&["port", &web, "80"]), format!("0.0.0.0:{port}\n"));
    env.ok(&["rm", "-f", "-t", "0", &web]);
    assert_eq!(http_get(&url, "/index"), None);
    env.ok(&["network", "rm", &first, &second]);
}

/// `network reload`: a published port whose firewall rule was removed behind peapod's back
/// answers again, with the same address and MAC; `--all` passes over containers it cannot
/// reload; a stopped container is refused by name.
#[test]
fn network_reload_restores_removed_rules() {
    let env = TestEnv::new("net-reload");
    env.import_busybox();
    let port = free_port();
    let web = name("reload");
    let id = env
        .ok(&[
            "run",
            "-d",
            "--name",
            &web,
            "-p",
            &format!("{port}:80"),
            IMG,
            "sh",
            "-c",
            "mkdir -p /w && echo reloaded > /w/i && exec httpd -f -p 80 -h /w",
        ])
        .trim()
        .to_string();
    let addr = format!("127.0.0.1:{port}");
    wait_until("the port to serve", Duration::from_secs(10), || {
        http_get(&addr, "/i").is_some_and(|b| b == "reloaded\n")
    });
    let before = env.inspect(
        &web,
        "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.MacAddress}}",
    );
    // Delete this container's DNAT rule (only its own: the table is shared).
    let table = std::process::Command::new("nft")
        .args(["-a", "list", "table", "inet", "peapod"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    let mut chain = "";
    let mut gone = false;
    for line in table.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("chain ") {
            // `NAME { # handle N`
            chain = rest.split_whitespace().next().unwrap_or("");
        } else if l.contains(&format!("dport {port} "))
            && l.contains("dnat ip to")
            && l.contains(&id)
        {
            let handle = l.rsplit("# handle ").next().unwrap();
            let out = std::process::Command::new("nft")
                .args(["delete", "rule", "inet", "peapod", chain, "handle", handle])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            gone = true;
        }
    }
    assert!(gone, "no DNAT rule for port {port} of {id} in\n{table}");
    assert!(
        http_get(&addr, "/i").is_none_or(|b| b != "reloaded\n"),
        "the port still answered without its rule"
    );
    assert_eq!(env.ok(&["network", "reload", &web]).trim(), id);
    assert_eq!(
        env.inspect(
            &web,
            "{{.NetworkSettings.IPAddress}} {{.NetworkSettings.MacAddress}}"
        ),
        before
    );
    wait_until("the port to serve again", Duration::from_secs(10), || {
        http_get(&addr, "/i").is_some_and(|b| b == "reloaded\n")
    });
    // --all: a stopped container is passed over; named, it is refused.
    let stopped = name("stopped");
    env.ok(&["create", "--name", &stopped, IMG, "true"]);
    env.ok(&["network", "reload", "--all"]);
    env.run(&["network", "reload", &stopped])
        .assert_error(125, &["network is not configured, refusing to reload"]);
    env.ok(&["rm", "-af", "-t", "0"]);
}
