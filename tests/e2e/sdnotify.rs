//! `--sdnotify=container` as a `Type=notify` unit sees it: the runtime proxies systemd's
//! socket into the container, `run -d` returns only once the container has sent
//! `READY=1`, which reaches systemd's socket, followed by the monitor's pid as `MAINPID`.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::util::{IMG, TestEnv, name, static_fixture};

#[test]
fn sdnotify_container_passes_the_containers_ready_on() {
    let Some(notify) = static_fixture("sd_notify") else {
        return;
    };
    let env = TestEnv::new("sdnotify-ctr");
    env.import_busybox();
    let sock_path = env.dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let c = name("notify");
    let started = Instant::now();
    let out = env
        .peapod(&[
            "run",
            "-d",
            "--name",
            &c,
            "--sdnotify=container",
            "-v",
            &format!("{}:/sd_notify:ro", notify.display()),
            IMG,
            "sh",
            "-c",
            "sleep 2; /sd_notify READY=1; exec sleep 1000",
        ])
        .env("NOTIFY_SOCKET", &sock_path)
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    // `run -d` waited for the container's own READY=1.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // runc passes the container's READY=1 on (with the container's pid); then the
    // monitor's pid comes last, as the one systemd watches.
    let monitor = env.inspect(&c, "{{.State.ConmonPid}}");
    let mut got = String::new();
    let mut buf = [0u8; 512];
    while !got.trim_end().ends_with(&format!("MAINPID={monitor}")) {
        let n = sock.recv(&mut buf).unwrap_or_else(|e| panic!("{got}: {e}"));
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
        got.push('\n');
    }
    assert!(got.starts_with("READY=1"), "{got}");
    // Inside, the socket is runc's proxy.
    assert!(
        env.ok(&["exec", &c, "ls", "-l", "/run/notify/notify.sock"])
            .starts_with('s'),
        "a socket"
    );
    env.ok(&["rm", "-f", "-t", "0", &c]);
}
