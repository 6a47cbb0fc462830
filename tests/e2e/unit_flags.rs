//! `run` flags for systemd units. `--sdnotify=container` as a `Type=notify` unit sees it:
//! the runtime proxies systemd's socket into the container, `run -d` returns only once the
//! container has sent `READY=1`, which reaches systemd's socket, followed by the monitor's
//! pid as `MAINPID`. `--cgroups=split`: the container's cgroup goes under the cgroup of the
//! process that starts it (the unit's).

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
    // Asked for, and by default (Podman's default is `container` too).
    for mode in [Some("--sdnotify=container"), None] {
        let c = name("notify");
        let started = Instant::now();
        let mut args = vec!["run", "-d", "--name", &c];
        args.extend(mode);
        let bind = format!("{}:/sd_notify:ro", notify.display());
        args.extend([
            "-v",
            &bind,
            IMG,
            "sh",
            "-c",
            "sleep 2; /sd_notify READY=1; exec sleep 1000",
        ]);
        let out = env.peapod(&args).env("NOTIFY_SOCKET", &sock_path).output();
        assert_eq!(out.code(), 0, "{out:?}");
        // `run -d` waited for the container's own READY=1.
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "{mode:?}: {:?}",
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
        assert!(got.starts_with("READY=1"), "{mode:?}: {got}");
        // Inside, the socket is runc's proxy.
        assert!(
            env.ok(&["exec", &c, "ls", "-l", "/run/notify/notify.sock"])
                .starts_with('s'),
            "a socket"
        );
        env.ok(&["rm", "-f", "-t", "0", &c]);
    }
}

#[test]
fn cgroups_split_puts_the_container_under_the_starters_cgroup() {
    let env = TestEnv::new("cgroups-split");
    env.import_busybox();
    // Where a unit's processes would be: a cgroup of our own in the unified hierarchy.
    let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(std::path::Path::new)
        .find(|p| p.join("cgroup.procs").exists())
        .expect("a cgroup v2 (or hybrid unified) hierarchy");
    let unit = name("pp-split");
    let dir = unified.join(&unit);
    std::fs::create_dir(&dir).unwrap();
    let c = name("split");
    let peapod = env.peapod(&[
        "run",
        "-d",
        "--name",
        &c,
        "--cgroups=split",
        IMG,
        "sleep",
        "1000",
    ]);
    let out = in_cgroup(&dir, peapod.command());
    assert!(out.status.success(), "{out:?}");
    let id = env.inspect(&c, "{{.Id}}");
    let pid = env.inspect(&c, "{{.State.Pid}}");
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!("/{unit}/libpod-payload-{id}");
    assert!(
        cgroups
            .lines()
            .all(|l| l.ends_with(&want) || l.starts_with("0::")),
        "{cgroups}"
    );
    env.ok(&["rm", "-f", "-t", "0", &c]);
    // The container's cgroup went with it, in every hierarchy.
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let leftover = h.path().join(want.trim_start_matches('/'));
        assert!(!leftover.exists(), "{} left", leftover.display());
    }
    // The starter's cgroup (runc made it in the v1 hierarchies too) once the monitor has
    // left it, as systemd would.
    crate::util::wait_until("the starter's cgroup empty", Duration::from_secs(5), || {
        for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
            let _ = std::fs::remove_dir(h.path().join(&unit));
        }
        let _ = std::fs::remove_dir(&dir);
        !dir.exists()
    });
    // From the root cgroup (a shell outside any unit), Podman's refusal, before anything.
    let out = in_cgroup(
        unified,
        env.peapod(&["run", "--rm", "--cgroups=split", IMG, "true"])
            .command(),
    );
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("could not find cgroup mount in \"/proc/self/cgroup\""),
        "{out:?}"
    );
    assert_eq!(env.ok(&["ps", "-aq"]).trim(), "");
}

/// Runs `cmd` from the cgroup `dir` of the unified hierarchy (a shell moves itself there,
/// then execs it), as systemd starts a unit's process in the unit's cgroup.
fn in_cgroup(dir: &std::path::Path, cmd: std::process::Command) -> std::process::Output {
    let script = format!("echo $$ > {}/cgroup.procs && exec \"$@\"", dir.display());
    std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .output()
        .unwrap()
}
