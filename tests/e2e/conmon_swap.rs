//! The monitor is swappable both ways: the real `podman` 4.3 runs containers through
//! `peapod-monitor` (`podman --conmon <prefix>/libexec/peapod/peapod-monitor`), and `peapod`
//! runs them through Debian's real conmon (`peapod --conmon /usr/bin/conmon`). Each side is
//! checked with the assertions a user would make, plus proof that the monitor in use really
//! is the one we named: Podman silently falls back to `/usr/bin/conmon` when the monitor it
//! was given fails its `--version` check, so every test reads `/proc/<ConmonPid>/exe`.
//!
//! Podman runs in a private world ([`crate::podman::PodmanEnv`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::podman::PodmanEnv;
use crate::util::{IMG, TestEnv, assert_no_process_mentioning, lines, name, prefix, wait_until};

/// Debian's conmon.
const CONMON: &str = "/usr/bin/conmon";

/// Our monitor in the staging prefix.
fn our_monitor() -> PathBuf {
    let path = prefix().join("libexec/peapod/peapod-monitor");
    assert!(
        path.is_file(),
        "{} not found: stage the binaries with `cargo xtask test` (or set PEAPOD_PREFIX)",
        path.display()
    );
    path.canonicalize()
        .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", path.display()))
}

/// Asserts that process `pid` (a container's ConmonPid) runs the binary `exe`.
#[track_caller]
fn assert_monitor_exe(pid: &str, exe: &Path) {
    let pid: i32 = pid
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ConmonPid {pid:?} is not a number"));
    assert!(pid > 0, "ConmonPid is {pid}: no monitor recorded");
    let link = format!("/proc/{pid}/exe");
    let actual = std::fs::read_link(&link)
        .unwrap_or_else(|e| panic!("cannot read {link} (is the monitor running?): {e}"));
    let want = exe.canonicalize().unwrap_or_else(|_| exe.to_path_buf());
    assert_eq!(
        actual,
        want,
        "the container's monitor (pid {pid}) runs {}, expected {}",
        actual.display(),
        want.display()
    );
}

/// No container mount is left under `dir`. Podman's overlay driver may keep its own graph
/// root (`root/overlay`) bind-mounted on itself between commands: that one is the store's,
/// not a container's, and the env's cleanup removes it.
#[track_caller]
fn assert_no_container_mounts(dir: &Path) {
    let store = dir.join("root/overlay");
    let left: Vec<PathBuf> = peapod_tests::mounts_under(dir)
        .expect("reading mountinfo")
        .into_iter()
        .filter(|m| *m != store)
        .collect();
    assert!(
        left.is_empty(),
        "mounts left under {}: {left:?}",
        dir.display()
    );
}

/// A private Podman world whose `--conmon` is our monitor.
fn podman_env(test: &str) -> Option<PodmanEnv> {
    PodmanEnv::new(test, Some(our_monitor()), "")
}

/// The monitor the env's podman was given.
fn monitor(env: &PodmanEnv) -> &Path {
    env.conmon
        .as_deref()
        .expect("a podman env with our monitor")
}

/// Podman reports our monitor as its conmon (it did not fall back to /usr/bin/conmon).
fn assert_uses_our_monitor(env: &PodmanEnv) {
    let path = env.ok(&["info", "--format", "{{.Host.Conmon.Path}}"]);
    assert_eq!(
        Path::new(path.trim()),
        monitor(env),
        "podman is not using the monitor given with --conmon (did its --version check \
         fail?)"
    );
}

#[test]
fn podman_runs_containers_through_peapod_monitor() {
    let Some(env) = podman_env("podman-monitor") else {
        return;
    };
    env.import_busybox();
    assert_uses_our_monitor(&env);

    // Foreground runs: output through the attach socket, exit code through the exit file.
    let out = env.ok(&["run", "--rm", "--network", "none", IMG, "echo", "hi"]);
    assert_eq!(out, "hi\n");
    env.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMG,
        "sh",
        "-c",
        "exit 3",
    ])
    .assert_code(3);

    // Detached, with logs.
    let n = name("pm");
    env.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &n,
        IMG,
        "sh",
        "-c",
        "echo up; sleep 1000",
    ]);
    assert_monitor_exe(&env.inspect(&n, "{{.State.ConmonPid}}"), monitor(&env));
    wait_until(
        "`podman logs` to show `up`",
        Duration::from_secs(10),
        || env.run(&["logs", &n]).stdout == "up\n",
    );

    // exec: environment, exit code, working dir, tty.
    let out = env
        .run(&["exec", "-e", "X=y", &n, "sh", "-c", "echo $X; exit 4"])
        .assert_code(4);
    assert_eq!(out.stdout, "y\n", "{out:?}");
    assert_eq!(env.ok(&["exec", "-w", "/tmp", &n, "pwd"]), "/tmp\n");
    let tty = env.ok(&["exec", "-t", &n, "tty"]);
    assert!(
        tty.trim().starts_with("/dev/pts/"),
        "exec -t should give the process a pts, tty printed {tty:?}"
    );

    // stop: busybox sh as pid 1 ignores SIGTERM, so podman kills it after 2 s.
    env.ok(&["stop", "-t", "2", &n]);
    assert_eq!(env.inspect(&n, "{{.State.ExitCode}}"), "137");
    env.ok(&["rm", &n]);
    assert_eq!(lines(&env.ok(&["ps", "-a", "-q"])), Vec::<String>::new());
    assert_no_container_mounts(&env.dir);
    assert_no_process_mentioning(&env.dir);
}

#[test]
fn podman_attaches_through_peapod_monitor() {
    let Some(env) = podman_env("podman-attach") else {
        return;
    };
    env.import_busybox();
    let n = name("pa");
    env.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &n,
        IMG,
        "sh",
        "-c",
        "sleep 2; echo late; exit 5",
    ]);
    assert_monitor_exe(&env.inspect(&n, "{{.State.ConmonPid}}"), monitor(&env));
    let out = env.run(&["attach", "--no-stdin", &n]);
    assert!(
        out.stdout.starts_with("late\n"),
        "attach should relay the line printed after it attached:{out:?}"
    );
    // Podman 4.3's attach returns 0 when the container exits (it does not pass the code
    // through, with conmon either); the code is in the container's state.
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(env.inspect(&n, "{{.State.ExitCode}}"), "5");
    env.ok(&["rm", &n]);
    assert_no_container_mounts(&env.dir);
}

#[test]
fn peapod_runs_containers_through_conmon() {
    if peapod_tests::skip_unless(Path::new(CONMON).is_file(), CONMON) {
        return;
    }
    let env = TestEnv::new("peapod-conmon");
    env.import_busybox();
    let with_conmon = |args: &[&str]| {
        let mut argv = vec!["--conmon", CONMON];
        argv.extend_from_slice(args);
        env.run(&argv)
    };

    let out = with_conmon(&["run", "--rm", "--network", "none", IMG, "echo", "hi"]).success();
    assert_eq!(out, "hi\n");
    with_conmon(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMG,
        "sh",
        "-c",
        "exit 3",
    ])
    .assert_code(3);
    with_conmon(&["run", "--rm", "--network", "none", IMG, "true"]).assert_code(0);

    let n = name("pc");
    with_conmon(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &n,
        IMG,
        "sh",
        "-c",
        "echo up; sleep 1000",
    ])
    .success();
    assert_monitor_exe(&env.inspect(&n, "{{.State.ConmonPid}}"), Path::new(CONMON));
    wait_until(
        "`peapod logs` to show `up`",
        Duration::from_secs(10),
        || env.run(&["logs", &n]).stdout == "up\n",
    );
    // exec: conmon's exec mode and its exec-attach handshake.
    let out = with_conmon(&[
        "exec",
        "-e",
        "X=y",
        "-w",
        "/tmp",
        &n,
        "sh",
        "-c",
        "echo $X; pwd; exit 4",
    ]);
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (4, "y\n/tmp\n"),
        "{out:?}"
    );
    let out = with_conmon(&["exec", "-t", &n, "tty"]).success();
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
    with_conmon(&["stop", "-t", "2", &n]).success();
    assert_eq!(env.inspect(&n, "{{.State.ExitCode}}"), "137");
    with_conmon(&["rm", &n]).success();
    assert!(env.names_all().is_empty(), "{n} still listed after rm");

    // attach to a running container: the late line arrives, then its exit code.
    let a = name("pca");
    with_conmon(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &a,
        IMG,
        "sh",
        "-c",
        "sleep 2; echo late; exit 5",
    ])
    .success();
    let out = with_conmon(&["attach", "--no-stdin", &a]);
    assert_eq!((out.code(), out.stdout.as_str()), (5, "late\n"), "{out:?}");
    with_conmon(&["rm", &a]).success();

    // A terminal through conmon: run -it, detach, attach, exit code.
    let t = name("pct");
    let mut run = crate::pty::PtyChild::spawn(
        env.peapod(&["--conmon", CONMON, "run", "-it", "--name", &t, IMG, "sh"])
            .command(),
        30,
        90,
    );
    let long = Duration::from_secs(20);
    run.expect("# ", long);
    run.send(b"echo $((6*7))\r");
    run.expect("42", long);
    run.send(b"stty size\r");
    run.expect("30 90", long);
    run.send(b"\x10\x11");
    assert_eq!(run.wait(long).code(), Some(0));
    assert_monitor_exe(&env.inspect(&t, "{{.State.ConmonPid}}"), Path::new(CONMON));
    let mut att = crate::pty::PtyChild::spawn(
        env.peapod(&["--conmon", CONMON, "attach", &t]).command(),
        24,
        80,
    );
    att.send(b"exit 5\r");
    assert_eq!(att.wait(long).code(), Some(5));
    with_conmon(&["rm", &t]).success();
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn podman_terminal_through_peapod_monitor() {
    let Some(env) = podman_env("podman-tty") else {
        return;
    };
    env.import_busybox();
    let n = name("pt");
    let long = Duration::from_secs(30);
    let mut run = crate::pty::PtyChild::spawn(
        env.podman(&["run", "-it", "--network", "none", "--name", &n, IMG, "sh"])
            .command(),
        30,
        90,
    );
    run.expect("# ", long);
    run.send(b"echo $((6*7))\r");
    run.expect("42", long);
    run.send(b"stty size\r");
    run.expect("30 90", long);
    // Podman's default detach keys, handled by podman; the monitor keeps the terminal.
    // (Typed one key at a time, as a user would.)
    run.send(b"\x10");
    std::thread::sleep(Duration::from_millis(100));
    run.send(b"\x11");
    assert_eq!(run.wait(long).code(), Some(0));
    assert_monitor_exe(&env.inspect(&n, "{{.State.ConmonPid}}"), monitor(&env));
    assert_eq!(env.inspect(&n, "{{.State.Status}}"), "running");
    let mut att = crate::pty::PtyChild::spawn(env.podman(&["attach", &n]).command(), 24, 80);
    // Podman resizes the terminal asynchronously once attached: give it a moment.
    att.send(b"sleep 1; stty size\r");
    att.expect("24 80", long);
    att.send(b"exit 5\r");
    att.wait(long);
    assert_eq!(env.inspect(&n, "{{.State.ExitCode}}"), "5");
    env.ok(&["rm", &n]);
    assert_no_container_mounts(&env.dir);
}
