//! Userspace networking: `--network slirp4netns` (the rootless default, root may ask for it),
//! published ports through peapod-netsetup's forwarder or slirp4netns's own, rootless pods,
//! and their bad input. As the test user of `rootless_util` unless the test says root.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::rootless_util::*;
use super::util::{self, IMG, TestEnv};

/// The user namespace link of the env's pause process.
fn userns_of(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/user"))
        .ok()
        .map(|p| p.display().to_string())
}

/// `comm` of every live (not zombie) process in the env's user namespace: its pause
/// process, monitors, containers, slirp4netns, forwarders.
fn procs_in_namespace(env: &UserEnv) -> Vec<String> {
    let Some(ns) = env.pause_pid().and_then(userns_of) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'));
        if !zombie && userns_of(pid).as_deref() == Some(ns.as_str()) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            found.push(comm.trim().to_string());
        }
    }
    found.sort();
    found
}

/// Waits until only the pause process is left in the env's namespace.
fn wait_only_pause(env: &UserEnv) {
    let mut last = Vec::new();
    let ok = (0..100).any(|_| {
        last = procs_in_namespace(env);
        if last == ["peapod-pause"] {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
        false
    });
    assert!(ok, "left in the user's namespace: {last:?}");
}

/// A busybox httpd on port 80 (and `extra` ports) serving `/w`, where `index` says `text`.
fn httpd_cmd(text: &str, verbose: bool) -> String {
    format!(
        "mkdir -p /w && echo {text} > /w/index && echo $(hostname) > /w/hostname && exec httpd -f {}-p 80 -h /w",
        if verbose { "-v " } else { "" }
    )
}

/// Waits until the container's logs contain `what`; they are returned.
fn wait_logs(env: &UserEnv, ctr: &str, what: &str) -> String {
    let mut logs = String::new();
    let found = (0..100).any(|_| {
        // httpd logs to stderr, which `logs` gives back on stderr.
        let out = env.run(&["logs", ctr]);
        logs = format!("{}{}", out.stdout, out.stderr);
        logs.contains(what) || {
            std::thread::sleep(Duration::from_millis(100));
            false
        }
    });
    assert!(found, "{what:?} in the logs of {ctr}:\n{logs}");
    logs
}

/// The host's first global IPv4 address (not loopback), if it has one.
fn host_address() -> Option<String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let cidr = text
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)?;
    Some(cidr.split('/').next()?.to_string())
}

/// Is something listening on `port` of 127.0.0.1?
fn port_taken(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_err()
}

fn prerequisites() -> bool {
    !peapod_tests::skip_unless(Path::new("/usr/bin/slirp4netns").exists(), "slirp4netns")
}

#[test]
fn rootless_default_network_is_slirp4netns_as_podman_sets_it_up() {
    if !prerequisites() {
        return;
    }
    let u = users();
    let env = UserEnv::new(&u.rl, "slirp-default");
    env.import_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        IMG,
        "sh",
        "-c",
        "cat /etc/resolv.conf; ip -o addr show tap0; ip route",
    ]);
    assert_eq!(
        out.lines().next(),
        Some("nameserver 10.0.2.3"),
        "slirp4netns's DNS first:\n{out}"
    );
    assert!(
        out.contains("tap0    inet 10.0.2.100/24"),
        "tap0 10.0.2.100/24:\n{out}"
    );
    assert!(out.contains("default via 10.0.2.2 dev tap0"), "{out}");
    // The options reach slirp4netns: another subnet and MTU.
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "slirp4netns:cidr=10.41.0.0/24,mtu=1500,enable_ipv6=false",
        IMG,
        "sh",
        "-c",
        "ip -o addr show tap0; ip -o link show tap0",
    ]);
    assert!(
        out.contains("inet 10.41.0.100/24") && out.contains("mtu 1500"),
        "{out}"
    );
    wait_only_pause(&env);
    let netns = std::fs::read_dir(env.runroot.join("netns"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(netns, 0, "no netns file is left");
}

#[test]
fn rootless_published_ports_answer_on_the_host_and_go_with_the_container() {
    if !prerequisites() {
        return;
    }
    let u = users();
    let env = UserEnv::new(&u.rl, "slirp-ports");
    env.import_busybox();
    let (p1, p2) = (util::free_port(), util::free_port());
    let web = util::name("rlweb");
    let loop_spec = format!("127.0.0.1:{p2}:80");
    let all_spec = format!("{p1}:80");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "-p",
        &all_spec,
        "-p",
        &loop_spec,
        IMG,
        "sh",
        "-c",
        &httpd_cmd("hello-rootless", true),
    ]);
    assert_eq!(
        util::wait_http(&format!("127.0.0.1:{p1}"), "/index").trim(),
        "hello-rootless"
    );
    assert_eq!(
        util::wait_http(&format!("127.0.0.1:{p2}"), "/index").trim(),
        "hello-rootless"
    );
    let ports = env.ok(&["port", &web]);
    assert!(
        ports.contains(&format!("80/tcp -> 0.0.0.0:{p1}")),
        "{ports}"
    );
    // slirp4netns is not a network to inspect, as in Podman 4.3: no `Networks`, no
    // addresses, the mode and the ports.
    let settings = env.ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.NetworkMode}} [{{.NetworkSettings.IPAddress}}] {{json .NetworkSettings.Ports}}",
        &web,
    ]);
    assert_eq!(
        settings.trim(),
        format!(
            "slirp4netns [] {{\"80/tcp\":[{{\"HostIp\":\"\",\"HostPort\":\"{p1}\"}},{{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"{p2}\"}}]}}"
        )
    );
    let json = env.ok(&["inspect", &web]);
    assert!(!json.contains("\"Networks\""), "{json}");
    // The forwarder connects from inside the container's namespace (as rootlessport does).
    wait_logs(&env, &web, "127.0.0.1]:");
    // A monitor that dies takes slirp4netns and the forwarder along (the exit pipe).
    let monitor: i32 = env
        .ok(&["inspect", "--format", "{{.State.ConmonPid}}", &web])
        .trim()
        .parse()
        .unwrap();
    assert!(monitor > 0);
    let before = procs_in_namespace(&env);
    for helper in ["slirp4netns", "peapod-netsetup", "peapod-monitor"] {
        assert!(
            before.iter().any(|p| p == helper),
            "{helper} runs: {before:?}"
        );
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    util::wait_until("the helpers to go", Duration::from_secs(10), || {
        let now = procs_in_namespace(&env);
        !now.iter()
            .any(|p| p == "slirp4netns" || p == "peapod-netsetup")
    });
    assert!(util::http_get(&format!("127.0.0.1:{p1}"), "/index").is_none());
    env.ok(&["rm", "-f", "-t", "0", &web]);
    wait_only_pause(&env);
    assert!(
        !port_taken(p1) && !port_taken(p2),
        "the host ports are free again"
    );
}

#[test]
fn rootless_port_handler_slirp4netns_keeps_the_clients_address() {
    if !prerequisites() {
        return;
    }
    let u = users();
    let env = UserEnv::new(&u.rl, "slirp-handler");
    env.import_busybox();
    let port = util::free_port();
    let web = util::name("rlsrc");
    let spec = format!("{port}:80");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        "slirp4netns:port_handler=slirp4netns",
        "-p",
        &spec,
        IMG,
        "sh",
        "-c",
        &httpd_cmd("via-slirp", true),
    ]);
    assert_eq!(
        util::wait_http(&format!("127.0.0.1:{port}"), "/index").trim(),
        "via-slirp"
    );
    // No forwarder: slirp4netns listens itself.
    assert!(
        !procs_in_namespace(&env)
            .iter()
            .any(|p| p == "peapod-netsetup")
    );
    // From the host's loopback slirp shows its gateway (libslirp's rule); from one of the
    // host's own addresses the server sees that address, not a forwarder's.
    wait_logs(&env, &web, "10.0.2.2]:");
    if let Some(addr) = host_address() {
        assert_eq!(
            util::wait_http(&format!("{addr}:{port}"), "/index").trim(),
            "via-slirp"
        );
        wait_logs(&env, &web, &format!("{addr}]:"));
    }
    env.ok(&["rm", "-f", "-t", "0", &web]);
    wait_only_pause(&env);
    assert!(!port_taken(port));
}

#[test]
fn rootless_pod_publishes_its_port_and_members_share_localhost() {
    if !prerequisites() {
        return;
    }
    let u = users();
    let env = UserEnv::new(&u.rl, "slirp-pod");
    env.import_busybox();
    let pod = util::name("rp");
    let port = util::free_port();
    let spec = format!("{port}:80");
    env.ok(&["pod", "create", "--name", &pod, "-p", &spec]);
    env.ok(&[
        "run",
        "-d",
        "--pod",
        &pod,
        "--name",
        &util::name("rweb"),
        IMG,
        "sh",
        "-c",
        &httpd_cmd("pod", false),
    ]);
    assert_eq!(
        util::wait_http(&format!("127.0.0.1:{port}"), "/hostname").trim(),
        pod
    );
    let other = env.ok(&[
        "run",
        "--rm",
        "--pod",
        &pod,
        IMG,
        "wget",
        "-qO-",
        "http://127.0.0.1/hostname",
    ]);
    assert_eq!(other.trim(), pod, "another member reaches it on localhost");
    env.ok(&["pod", "rm", "-f", &pod]);
    wait_only_pause(&env);
    let left: Vec<_> = ["netns", "pods"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(env.runroot.join(d))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "no netns or pod files are left: {left:?}");
    assert!(!port_taken(port));
}

#[test]
fn rootless_ports_bad_input_is_named_and_leaves_nothing() {
    if !prerequisites() {
        return;
    }
    let u = users();
    let env = UserEnv::new(&u.rl, "slirp-bad");
    env.import_busybox();
    env.run(&["run", "--rm", "-p", "80:80", IMG, "true"])
        .assert_error(
            125,
            &["privileged port 80", "net.ipv4.ip_unprivileged_port_start"],
        );
    // A port another user (root here) holds.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let spec = format!("127.0.0.1:{port}:80");
    // Found at start: Podman's 126 for a start that failed.
    env.run(&["run", "--rm", "-p", &spec, IMG, "true"])
        .assert_error(126, &[&format!("port {port}"), "address already in use"]);
    let sctp = format!("{}:53/sctp", util::free_port());
    env.run(&["run", "--rm", "-p", &sctp, IMG, "true"])
        .assert_error(125, &["sctp", "only tcp and udp"]);
    for (opt, word) in [
        ("slirp4netns:port_handler=bogus", "port_handler"),
        ("slirp4netns:mtu=10", "mtu"),
        ("slirp4netns:what=1", "what"),
    ] {
        env.run(&["run", "--rm", "--network", opt, IMG, "true"])
            .assert_error(125, &[word]);
    }
    drop(held);
    assert!(util::lines(&env.ok(&["ps", "-aq"])).is_empty());
    wait_only_pause(&env);
}

/// The udp echo server of `fixtures/udp_echo.c`; `None` (skipped, a failure in CI)
/// without gcc.
fn udp_echo() -> Option<std::path::PathBuf> {
    static BUILT: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| crate::util::static_fixture("udp_echo"))
        .clone()
}

/// `-p HOST:53/udp` rootless goes through peapod-netsetup's forwarder (issue 16): datagrams
/// from the host reach a udp server in the container and its answers come back, to each
/// client its own; after `rm` nothing of it is left and the port is free again.
#[test]
fn rootless_udp_port_goes_through_the_forwarder() {
    if !prerequisites() {
        return;
    }
    let Some(echo) = udp_echo() else {
        return;
    };
    let u = users();
    let env = UserEnv::new(&u.rl, "slirp-udp");
    env.import_busybox();
    // A copy the user can read, in the env's own dir.
    let bin = env.dir.join("udp_echo");
    std::fs::copy(&echo, &bin).unwrap();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let port = util::free_port();
    let ctr = util::name("rludp");
    let spec = format!("127.0.0.1:{port}:53/udp");
    let volume = format!("{}:/udp_echo:ro", bin.display());
    env.ok(&[
        "run",
        "-d",
        "--name",
        &ctr,
        "-p",
        &spec,
        "-v",
        &volume,
        IMG,
        "/udp_echo",
        "53",
    ]);
    let client = || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s.connect(("127.0.0.1", port)).unwrap();
        s
    };
    let ask = |s: &std::net::UdpSocket, msg: &str| -> Option<String> {
        s.send(msg.as_bytes()).ok()?;
        let mut buf = [0u8; 2048];
        let n = s.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    };
    let (a, b) = (client(), client());
    // The server may not listen yet: ask until it answers.
    util::wait_until(
        "the udp echo server to answer",
        Duration::from_secs(30),
        || ask(&a, "ping").as_deref() == Some("echo:ping"),
    );
    for i in 0..5 {
        assert_eq!(ask(&a, &format!("a{i}")), Some(format!("echo:a{i}")));
        assert_eq!(ask(&b, &format!("b{i}")), Some(format!("echo:b{i}")));
    }
    let ports = env.ok(&["port", &ctr]);
    assert!(
        ports.contains(&format!("53/udp -> 127.0.0.1:{port}")),
        "{ports}"
    );
    env.ok(&["rm", "-f", "-t", "0", &ctr]);
    wait_only_pause(&env);
    assert!(
        std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok(),
        "the udp port is free again"
    );
    assert!(ask(&a, "after").is_none(), "nothing answers after rm");
}

#[test]
fn rootless_pasta_copies_the_hosts_address_and_publishes_ports() {
    if !prerequisites() || peapod_tests::skip_unless(Path::new("/usr/bin/pasta").exists(), "pasta")
    {
        return;
    }
    let u = users();
    let env = UserEnv::new(&u.rl, "pasta");
    env.import_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "pasta",
        IMG,
        "ip",
        "-o",
        "-4",
        "addr",
    ]);
    if let Some(addr) = host_address() {
        assert!(
            out.contains(&format!("inet {addr}/")),
            "the host's {addr}:\n{out}"
        );
    }
    let port = util::free_port();
    let web = util::name("rlpasta");
    let spec = format!("127.0.0.1:{port}:80");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        "pasta",
        "-p",
        &spec,
        IMG,
        "sh",
        "-c",
        &httpd_cmd("via-pasta", false),
    ]);
    assert_eq!(
        util::wait_http(&format!("127.0.0.1:{port}"), "/index").trim(),
        "via-pasta"
    );
    assert!(
        procs_in_namespace(&env)
            .iter()
            .any(|p| p.starts_with("pas")),
        "pasta runs"
    );
    env.ok(&["rm", "-f", "-t", "0", &web]);
    wait_only_pause(&env);
    assert!(!port_taken(port));
}

#[test]
fn rootless_without_dev_net_tun_says_so() {
    if !prerequisites() {
        return;
    }
    let u = users();
    let env = UserEnv::new(&u.rl, "slirp-notun");
    env.import_busybox();
    // Only in a mount namespace of this test (and the pause process it starts there):
    // /dev/net/tun becomes a root-only file.
    let fake = env.dir.join("tun");
    std::fs::write(&fake, "").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // The import started a pause process outside: end it (nothing runs), so the run below
    // starts the user's namespaces anew inside the test's mount namespace.
    let pause = env.pause_pid().expect("a pause process");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pause),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    util::wait_until("the pause process to go", Duration::from_secs(5), || {
        !util::pid_alive(pause)
    });
    let store = env.store_args(&["run", "--rm", IMG, "true"]);
    let argv = env.runuser_argv(&[], &store.iter().map(String::as_str).collect::<Vec<_>>());
    let script = format!(
        "mount --bind {} /dev/net/tun && exec runuser \"$@\"",
        fake.display()
    );
    let mut args: Vec<std::ffi::OsString> =
        ["-m", "--propagation", "private", "sh", "-c", &script, "sh"]
            .iter()
            .map(Into::into)
            .collect();
    args.extend(argv);
    super::util::PeapodCmd::program("unshare", &args)
        .output()
        // A failed start of `run`: 126, as Podman's; with --rm nothing stays.
        .assert_error(126, &["/dev/net/tun", "chmod 0666"]);
    assert!(util::lines(&env.ok(&["ps", "-aq"])).is_empty());
}

#[test]
fn root_can_ask_for_slirp4netns_with_published_ports() {
    if !prerequisites() {
        return;
    }
    let env = TestEnv::new("slirp-root");
    env.import_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "slirp4netns",
        IMG,
        "sh",
        "-c",
        "head -1 /etc/resolv.conf; ip -o addr show tap0",
    ]);
    assert!(out.starts_with("nameserver 10.0.2.3\n"), "{out}");
    assert!(out.contains("inet 10.0.2.100/24"), "{out}");
    let port = util::free_port();
    let web = util::name("rootslirp");
    let spec = format!("{port}:80");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        "slirp4netns",
        "-p",
        &spec,
        IMG,
        "sh",
        "-c",
        &httpd_cmd("root-slirp", false),
    ]);
    assert_eq!(
        util::wait_http(&format!("127.0.0.1:{port}"), "/index").trim(),
        "root-slirp"
    );
    env.ok(&["rm", "-f", "-t", "0", &web]);
    util::assert_no_process_mentioning(&env.dir);
    assert!(!port_taken(port));
}
