//! Terminals, attach and exec, driven as a user at a real terminal would (a pty from the
//! test), and without a terminal as scripts do.

use std::time::Duration;

use crate::pty::PtyChild;
use crate::util::{IMG, TestEnv, name};

const T: Duration = Duration::from_secs(20);
/// ctrl-p, ctrl-q: Podman's default detach keys.
const DETACH: &[u8] = b"\x10\x11";

#[test]
fn run_it_detach_attach_resize_and_exit_code() {
    let env = TestEnv::new("tty");
    env.import_busybox();
    let c = name("tty");

    let mut run = PtyChild::spawn(
        env.peapod(&["run", "-it", "--name", &c, IMG, "sh"])
            .command(),
        33,
        101,
    );
    run.expect("# ", T);
    run.send(b"echo $((6*7))\r");
    run.expect("42", T);
    // The window size came from our terminal.
    run.send(b"stty size\r");
    run.expect("33 101", T);
    run.send(DETACH);
    let st = run.wait(T);
    assert_eq!(st.code(), Some(0), "detaching should exit 0");
    assert_eq!(
        env.status(&c),
        "running",
        "detaching must not stop the container"
    );

    // Come back with attach; the size follows the new terminal, then its resizes.
    let mut att = PtyChild::spawn(env.peapod(&["attach", &c]).command(), 24, 80);
    att.send(b"stty size\r");
    att.expect("24 80", T);
    att.resize(40, 120);
    std::thread::sleep(Duration::from_millis(300));
    att.send(b"stty size\r");
    att.expect("40 120", T);
    att.send(b"echo still-$((1+1))\r");
    att.expect("still-2", T);
    att.send(b"exit 5\r");
    let st = att.wait(T);
    assert_eq!(
        st.code(),
        Some(5),
        "attach returns the container's exit code"
    );
    assert_eq!(env.inspect(&c, "{{.State.ExitCode}}"), "5");
    env.ok(&["rm", &c]);
    env.assert_no_mounts();
}

#[test]
fn custom_detach_keys_and_start_ai() {
    let env = TestEnv::new("ttykeys");
    env.import_busybox();
    let c = name("keys");
    env.ok(&["create", "-it", "--name", &c, IMG, "sh"]);
    let mut start = PtyChild::spawn(
        env.peapod(&["start", "-ai", "--detach-keys", "ctrl-a,x", &c])
            .command(),
        24,
        80,
    );
    start.send(b"echo $((7*6))\r");
    start.expect("42", T);
    // The default keys are now plain input (the shell is still there to answer); ctrl-a
    // then x detaches.
    start.send(b"\x10\x11");
    start.send(b"echo still-$((2+2))\r");
    start.expect("still-4", T);
    start.send(b"\x01x");
    assert_eq!(start.wait(T).code(), Some(0));
    assert_eq!(env.status(&c), "running");
    let bad = env.run(&["attach", "--detach-keys", "ctrl-", &c]);
    bad.assert_error(125, &["detach keys", "ctrl-"]);
    env.ok(&["rm", "-f", "-t", "0", &c]);
}

#[test]
fn run_i_and_t_without_a_terminal() {
    let env = TestEnv::new("notty");
    env.import_busybox();
    // -i: our stdin reaches the container; its EOF closes the container's stdin.
    let out = env
        .peapod(&["run", "--rm", "-i", IMG, "sh", "-c", "cat; echo done"])
        .stdin("from-stdin\n")
        .output()
        .success();
    assert_eq!(out, "from-stdin\ndone\n");
    // -t: a terminal inside even when we have none; output keeps its line discipline.
    let out = env.run(&["run", "--rm", "-t", IMG, "sh", "-c", "tty; exit 3"]);
    assert_eq!(out.code(), 3);
    assert!(
        out.stdout.starts_with("/dev/pts/"),
        "tty inside run -t printed {:?}",
        out.stdout
    );
}

#[test]
fn exec_with_and_without_a_tty() {
    let env = TestEnv::new("exec");
    env.import_busybox();
    let c = name("exec");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "-e",
        "FROM_RUN=r",
        IMG,
        "sleep",
        "1000",
    ]);

    // Output, exit code, env (the container's plus -e) and workdir.
    let out = env.run(&[
        "exec",
        "-e",
        "X=y",
        "-w",
        "/tmp",
        &c,
        "sh",
        "-c",
        "echo $X $FROM_RUN; pwd; exit 4",
    ]);
    assert_eq!(out.code(), 4, "{out:?}");
    assert_eq!(out.stdout, "y r\n/tmp\n");
    let out = env.ok(&["exec", &c, "pwd"]);
    assert_eq!(out, "/\n");
    // stderr stays stderr.
    let out = env.run(&["exec", &c, "sh", "-c", "echo oops >&2"]);
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", "oops\n"));
    // A user from the image's passwd.
    assert_eq!(
        env.ok(&["exec", "-u", "nobody", &c, "id", "-un"]),
        "nobody\n"
    );
    // -i feeds our stdin.
    let out = env
        .peapod(&["exec", "-i", &c, "sh", "-c", "read l; echo got $l"])
        .stdin("line\n")
        .output()
        .success();
    assert_eq!(out, "got line\n");
    // Commands that cannot run: 127 and 126, as Podman.
    env.run(&["exec", &c, "/no/such/cmd"])
        .assert_error(127, &["/no/such/cmd"]);
    env.run(&["exec", &c, "/etc/passwd"]).assert_error(126, &[]);
    // -t without a terminal of ours.
    let out = env.run(&["exec", "-t", &c, "tty"]);
    assert_eq!(out.code(), 0);
    assert!(out.stdout.starts_with("/dev/pts/"), "{out:?}");

    // -it under a real terminal.
    let mut ex = PtyChild::spawn(env.peapod(&["exec", "-it", &c, "sh"]).command(), 30, 90);
    ex.expect("# ", T);
    ex.send(b"stty size; tty\r");
    ex.expect("30 90", T);
    ex.expect("/dev/pts/", T);
    ex.send(b"exit 3\r");
    assert_eq!(ex.wait(T).code(), Some(3));

    // Detached exec: prints the session id, listed in ExecIDs while it runs.
    let sid = env.ok(&["exec", "-d", &c, "sleep", "1000"]);
    let sid = sid.trim();
    assert_eq!(sid.len(), 64, "exec -d printed {sid:?}");
    let ids = env.inspect(&c, "{{range .ExecIDs}}{{.}} {{end}}");
    assert_eq!(ids.trim(), sid);
    // Exec into a stopped container: Podman's error.
    env.ok(&["stop", "-t", "0", &c]);
    assert_eq!(env.inspect(&c, "{{len .ExecIDs}}"), "0");
    env.run(&["exec", &c, "true"]).assert_error(
        125,
        &["can only create exec sessions on running containers"],
    );
    env.ok(&["rm", &c]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn no_host_fd_leaks_into_the_container() {
    let env = TestEnv::new("fds");
    env.import_busybox();
    let c = name("fds");
    // `; :` keeps sh as the process listing (no exec of the last command).
    let script = "ls /proc/$$/fd; :";
    let out = env.ok(&["run", "--rm", IMG, "sh", "-c", script]);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2"]);
    let out = env.ok(&["run", "--rm", "-t", IMG, "sh", "-c", script]);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2"]);
    env.ok(&["run", "-d", "-i", "--name", &c, IMG, "sleep", "1000"]);
    let pid = env.inspect(&c, "{{.State.Pid}}");
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut fds = fds;
    fds.sort();
    assert_eq!(
        fds,
        ["0", "1", "2"],
        "the container's pid 1 holds extra fds"
    );
    let out = env.ok(&["exec", &c, "sh", "-c", script]);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["0", "1", "2"]);
    env.ok(&["rm", "-f", "-t", "0", &c]);
}

#[test]
fn several_attach_clients_at_once() {
    let env = TestEnv::new("attachn");
    env.import_busybox();
    let c = name("multi");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "sleep 2; echo hello-all; sleep 1; exit 6",
    ]);
    let spawn = || {
        let mut cmd = env.peapod(&["attach", "--no-stdin", &c]).command();
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .stdin(std::process::Stdio::null());
        cmd.spawn().unwrap()
    };
    let a = spawn();
    let b = spawn();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello-all\n");
        assert_eq!(out.status.code(), Some(6));
    }
    env.run(&["attach", &c])
        .assert_error(125, &["you can only attach to running containers"]);
    env.ok(&["rm", &c]);
}

/// Spawn `peapod ARGS` with piped stdout/stderr and null stdin.
fn spawn_piped(env: &TestEnv, args: &[&str]) -> std::process::Child {
    let mut cmd = env.peapod(args).command();
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null());
    cmd.spawn().unwrap()
}

/// Read lines from `child`'s stdout until one equals `want`; panics after `T`.
fn read_until_line(
    child: &mut std::process::Child,
    want: &str,
) -> std::io::BufReader<std::process::ChildStdout> {
    use std::io::BufRead;
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = want.to_string();
    std::thread::spawn(move || {
        let mut r = std::io::BufReader::new(out);
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = tx.send(None);
                return;
            }
            if line.trim_end() == wanted {
                let _ = tx.send(Some(r));
                return;
            }
        }
    });
    rx.recv_timeout(T)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("never saw the line {want:?}"))
}

#[test]
fn a_client_that_vanishes_does_not_hurt_the_container() {
    let env = TestEnv::new("vanish");
    env.import_busybox();
    let c = name("ticker");
    env.ok(&[
        "run",
        "-d",
        "-i",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.1; done",
    ]);
    for _ in 0..2 {
        let mut att = spawn_piped(&env, &["attach", &c]);
        let _r = read_until_line(&mut att, "tick");
        // Gone without a goodbye, mid-stream.
        att.kill().unwrap();
        att.wait().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(env.status(&c), "running");
    }
    env.ok(&["stop", "-t", "0", &c]);
    env.ok(&["rm", &c]);
    env.assert_no_processes();
}

#[test]
fn signals_are_proxied_unless_told_not_to() {
    let env = TestEnv::new("sigproxy");
    env.import_busybox();
    let script = "trap 'echo got-term; exit 9' TERM; echo ready; while true; do sleep 0.1; done";
    let c = name("trap");
    let mut run = spawn_piped(&env, &["run", "--name", &c, IMG, "sh", "-c", script]);
    let _r = read_until_line(&mut run, "ready");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let st = run.wait().unwrap();
    assert_eq!(
        st.code(),
        Some(9),
        "the container's trap should decide the exit code"
    );
    assert_eq!(env.inspect(&c, "{{.State.ExitCode}}"), "9");

    let d = name("noproxy");
    let mut run = spawn_piped(
        &env,
        &[
            "run",
            "--sig-proxy=false",
            "--name",
            &d,
            IMG,
            "sh",
            "-c",
            script,
        ],
    );
    let _r = read_until_line(&mut run, "ready");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let st = run.wait().unwrap();
    assert_eq!(st.code(), None, "peapod itself should die of the signal");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        env.status(&d),
        "running",
        "the container must not get the signal"
    );
    env.ok(&["rm", "-f", "-t", "0", &c, &d]);
}

#[test]
fn a_full_log_disk_loses_no_attached_output() {
    let env = TestEnv::new("fulldisk");
    env.import_busybox();
    let tiny = env.dir.join("tiny");
    std::fs::create_dir_all(&tiny).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &tiny,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=64k"),
    )
    .unwrap();
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _u = Unmount(tiny.clone());
    let log = tiny.join("ctr.log");
    let out = env.run(&[
        "run",
        "--rm",
        "--log-opt",
        &format!("path={}", log.display()),
        IMG,
        "sh",
        "-c",
        "i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done; exit 4",
    ]);
    assert_eq!(out.code(), 4, "{:?}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        20000,
        "the terminal lost lines when the log disk filled"
    );
    assert_eq!(lines[19999], "line-19999");
    assert!(std::fs::metadata(&log).unwrap().len() <= 64 * 1024);
    env.assert_no_processes();
}

#[test]
fn a_runtime_that_fails_to_create_leaves_no_monitor() {
    let env = TestEnv::new("badrt");
    env.import_busybox();
    // A runtime that refuses `create` and behaves like runc otherwise.
    let rt = env.dir.join("failing-runtime");
    let runc = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("runc");
    std::fs::write(
        &rt,
        format!(
            "#!/bin/sh\nfor a; do [ \"$a\" = create ] && {{ echo 'simulated create failure' >&2; exit 1; }}; done\nexec {runc} \"$@\"\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rt, std::fs::Permissions::from_mode(0o755)).unwrap();
    let c = name("nocreate");
    let out = env.run(&[
        "--runtime",
        rt.to_str().unwrap(),
        "run",
        "--name",
        &c,
        IMG,
        "true",
    ]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr.starts_with("Error: ") && out.stderr.contains("simulated create failure"),
        "{:?}",
        out.stderr
    );
    env.assert_no_processes();
    env.assert_no_mounts();
    // As Podman: the container stays behind, created, holding nothing.
    assert_eq!(env.status(&c), "created");
}
