//! `network connect` / `disconnect` on a running container, `--disable-dns`, static MACs.

use crate::util::{IMG, TestEnv, name};

fn subnet(k: u32) -> (String, String) {
    let n = (std::process::id() % 50) * 5 + k;
    (
        format!("10.234.{}.0/24", n % 250 + 1),
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
    env.ok(&["rm", "-af", "-t", "0"]);
    env.ok(&["network", "rm", &front, &quiet]);
    env.assert_no_processes();
}
