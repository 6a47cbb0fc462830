//! End-to-end tests: the monitor started as Podman starts conmon, against the real runc.
//! They need root and `/usr/sbin/runc`; otherwise each prints "skipped" and why.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, socketpair};
use peapod_monitor::{SyncMessage, log::parse_line};

const RUNC: &str = "/usr/sbin/runc";
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Skip without root or runc, except in CI (`CI` set), where `.ci/run` provides both and a
/// skipped test would pass having tested nothing.
fn skip() -> bool {
    let missing = if !nix::unistd::geteuid().is_root() {
        "root"
    } else if !Path::new(RUNC).exists() {
        RUNC
    } else {
        return false;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{missing} is required in CI"
    );
    eprintln!("skipped: needs {missing}");
    true
}

/// One container under test: its temp dir, bundle, and cleanup of everything on drop.
struct Ctr {
    id: String,
    dir: tempfile::TempDir,
    monitor_pid: Option<i32>,
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = Command::new(RUNC).args(["delete", "-f", &self.id]).output();
        if let Some(pid) = self.monitor_pid {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Ctr {
    fn new(args: &[&str]) -> Ctr {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("pm-test-{}-{n}", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix("pm-test")
            .tempdir()
            .unwrap();
        let ctr = Ctr {
            id,
            dir,
            monitor_pid: None,
        };
        let bundle = ctr.bundle();
        let bin = bundle.join("rootfs/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for applet in ["sh", "echo", "sleep", "cat", "true", "printf"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        let out = Command::new(RUNC)
            .args(["spec", "--bundle"])
            .arg(&bundle)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "runc spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cfg_path = bundle.join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
        cfg["process"]["args"] = serde_json::json!(args);
        cfg["process"]["terminal"] = serde_json::json!(false);
        cfg["linux"]["cgroupsPath"] = serde_json::json!(format!("/{}", ctr.id));
        let (_, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        if let Some(rl) = cfg["process"]["rlimits"].as_array_mut() {
            rl.retain(|r| r["hard"].as_u64().is_some_and(|h| h <= hard));
        }
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
        for d in ["exits", "persist"] {
            std::fs::create_dir_all(ctr.dir.path().join(d)).unwrap();
        }
        ctr
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("b")
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// The argv Podman 4.3 builds, plus `extra`.
    fn monitor_args(&self, extra: &[&str]) -> Vec<String> {
        let d = self.dir.path().display();
        let mut a: Vec<String> = [
            "--api-version",
            "1",
            "-c",
            &self.id,
            "-u",
            &self.id,
            "-r",
            RUNC,
            "-b",
            &self.bundle().display().to_string(),
            "-p",
            &format!("{d}/pidfile"),
            "-n",
            &self.id,
            "--exit-dir",
            &format!("{d}/exits"),
            "--persist-dir",
            &format!("{d}/persist"),
            "--full-attach",
            "-l",
            &format!("k8s-file:{d}/ctr.log"),
            "--log-level",
            "warning",
            "--syslog",
            "--conmon-pidfile",
            &format!("{d}/conmon.pid"),
            "--exit-command",
            "/bin/sh",
            "--exit-command-arg",
            "-c",
            "--exit-command-arg",
            &format!("echo done > {d}/exit-command-ran"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    }

    /// Start the monitor as Podman does; returns our end of the sync pipe after the monitor's
    /// first process has exited (it forks and the parent returns).
    fn start_monitor(&mut self, extra: &[&str]) -> OwnedFd {
        let (sync_ours, sync_theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let (start_ours, start_theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_peapod-monitor"));
        cmd.args(self.monitor_args(extra))
            .env("_OCI_SYNCPIPE", "3")
            .env("_OCI_STARTPIPE", "4");
        let (s, t) = (sync_theirs.as_raw_fd(), start_theirs.as_raw_fd());
        // SAFETY: only async-signal-safe fcntl/dup2 run between fork and exec; they move the
        // two inherited pipe ends to fds 3 and 4 (dup2 clears close-on-exec).
        unsafe {
            cmd.pre_exec(move || {
                let hs = libc::fcntl(s, libc::F_DUPFD_CLOEXEC, 10);
                let ht = libc::fcntl(t, libc::F_DUPFD_CLOEXEC, 10);
                if hs < 0 || ht < 0 || libc::dup2(hs, 3) < 0 || libc::dup2(ht, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().unwrap();
        drop(sync_theirs);
        drop(start_theirs);
        nix::unistd::write(&start_ours, &[0u8]).unwrap();
        let st = child.wait().unwrap();
        assert!(st.success(), "monitor parent exited {st}");
        let pid: i32 = std::fs::read_to_string(self.path("conmon.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        self.monitor_pid = Some(pid);
        sync_ours
    }

    fn runc_start(&self) {
        let out = Command::new(RUNC)
            .args(["start", &self.id])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "runc start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn wait_file(&self, p: &str) -> String {
        let path = self.path(p);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(s) = std::fs::read_to_string(&path)
                && !s.is_empty()
            {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {}",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn monitor_gone(&self) -> bool {
        let pid = self.monitor_pid.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false);
            if !alive {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

fn read_sync(fd: &OwnedFd) -> SyncMessage {
    let mut buf = [0u8; 16384];
    let n = nix::sys::socket::recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
    SyncMessage::parse(std::str::from_utf8(&buf[..n]).unwrap()).unwrap()
}

fn log_records(text: &str) -> Vec<(String, bool, String)> {
    // Split on '\n' only: a tty's "\r" is part of the record's text.
    text.split_terminator('\n')
        .map(|l| {
            let r = parse_line(l).unwrap_or_else(|| panic!("bad log line {l:?}"));
            check_timestamp(r.timestamp);
            (r.stream.as_str().to_string(), r.full, r.text.to_string())
        })
        .collect()
}

/// `YYYY-MM-DDTHH:MM:SS.fffffffff±HH:MM`
fn check_timestamp(ts: &str) {
    let b = ts.as_bytes();
    assert_eq!(b.len(), 35, "timestamp {ts:?}");
    for (i, c) in b.iter().enumerate() {
        let want_digit = !matches!(i, 4 | 7 | 10 | 13 | 16 | 19 | 29 | 32);
        assert_eq!(c.is_ascii_digit(), want_digit, "timestamp {ts:?} at {i}");
    }
    assert_eq!(&ts[19..20], ".");
    assert!(matches!(b[29], b'+' | b'-'), "timestamp {ts:?}");
    assert_eq!(&ts[10..11], "T");
}

#[test]
fn runs_container_logs_and_exit_command() {
    if skip() {
        return;
    }
    let mut c = Ctr::new(&[
        "sh",
        "-c",
        "echo hello; echo oops >&2; printf partial; exit 3",
    ]);
    let sync = c.start_monitor(&[]);
    let msg = read_sync(&sync);
    assert!(msg.data > 0 && msg.message.is_none(), "{msg:?}");
    c.runc_start();
    let code = c.wait_file(&format!("exits/{}", c.id));
    assert_eq!(code, "3");
    assert_eq!(c.wait_file("persist/exit"), "3");
    assert_eq!(c.wait_file("exit-command-ran"), "done\n");
    let recs = log_records(&std::fs::read_to_string(c.path("ctr.log")).unwrap());
    let stdout: Vec<_> = recs.iter().filter(|r| r.0 == "stdout").collect();
    let stderr: Vec<_> = recs.iter().filter(|r| r.0 == "stderr").collect();
    assert_eq!(stderr, [&("stderr".to_string(), true, "oops".to_string())]);
    let text: String = stdout
        .iter()
        .map(|r| format!("{}{}", r.2, if r.1 { "\n" } else { "" }))
        .collect();
    assert_eq!(text, "hello\npartial");
    assert!(
        !stdout.last().unwrap().1,
        "the trailing piece is a P record"
    );
    assert!(
        c.monitor_gone(),
        "monitor still running after the exit command"
    );
}

#[test]
fn failing_runtime_reports_error_and_exits() {
    if skip() {
        return;
    }
    let mut c = Ctr::new(&["/nonexistent-binary", "arg"]);
    let sync = c.start_monitor(&[]);
    let msg = read_sync(&sync);
    assert_eq!(msg.data, -1, "{msg:?}");
    let text = msg.message.unwrap_or_default();
    assert!(text.contains("nonexistent-binary"), "message {text:?}");
    assert!(
        c.monitor_gone(),
        "monitor left running after a failed create"
    );
    assert!(!c.path(&format!("exits/{}", c.id)).exists());
}

#[test]
fn bad_bundle_reports_error() {
    if skip() {
        return;
    }
    let mut c = Ctr::new(&["true"]);
    std::fs::write(c.bundle().join("config.json"), "{not json").unwrap();
    let sync = c.start_monitor(&[]);
    let msg = read_sync(&sync);
    assert_eq!(msg.data, -1, "{msg:?}");
    assert!(!msg.message.unwrap_or_default().is_empty());
    assert!(c.monitor_gone());
}

fn connect_attach(bundle: &Path) -> OwnedFd {
    let fd = nix::sys::socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let addr = nix::sys::socket::UnixAddr::new(&bundle.join("attach")).unwrap();
    nix::sys::socket::connect(fd.as_raw_fd(), &addr).unwrap();
    fd
}

/// Read packets until the monitor closes the socket; returns (stdout, stderr) bytes.
fn read_attach(fd: &OwnedFd) -> (Vec<u8>, Vec<u8>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut buf = [0u8; 8193];
    loop {
        let n = nix::sys::socket::recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap();
        if n == 0 {
            return (out, err);
        }
        match buf[0] {
            2 => out.extend_from_slice(&buf[1..n]),
            3 => err.extend_from_slice(&buf[1..n]),
            other => panic!("unexpected stream id {other}"),
        }
    }
}

#[test]
fn attach_streams_output_and_forwards_stdin() {
    if skip() {
        return;
    }
    let mut c = Ctr::new(&["sh", "-c", "cat; echo bye >&2"]);
    let sync = c.start_monitor(&["-i"]);
    assert!(read_sync(&sync).data > 0);
    let bundle = c.bundle();
    let mode = std::fs::metadata(bundle.join("attach")).unwrap();
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    assert!(mode.file_type().is_socket());
    assert_eq!(mode.permissions().mode() & 0o777, 0o700);
    assert!(
        std::fs::metadata(bundle.join("ctl"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    let a = connect_attach(&bundle);
    // A second client that only watches (a client that shuts down its write side would
    // close the container's stdin, as with conmon).
    let watcher = connect_attach(&bundle);
    c.runc_start();
    nix::sys::socket::send(a.as_raw_fd(), b"ping\n", MsgFlags::empty()).unwrap();
    nix::sys::socket::send(a.as_raw_fd(), b"pong\n", MsgFlags::empty()).unwrap();
    // Our write side closes: the monitor closes the container's stdin, so cat ends.
    nix::sys::socket::shutdown(a.as_raw_fd(), nix::sys::socket::Shutdown::Write).unwrap();
    let (out, err) = read_attach(&a);
    assert_eq!(String::from_utf8_lossy(&out), "ping\npong\n");
    assert_eq!(String::from_utf8_lossy(&err), "bye\n");
    let (out2, _) = read_attach(&watcher);
    assert_eq!(String::from_utf8_lossy(&out2), "ping\npong\n");
    assert_eq!(c.wait_file(&format!("exits/{}", c.id)), "0");
    let recs = log_records(&std::fs::read_to_string(c.path("ctr.log")).unwrap());
    let texts: Vec<&str> = recs.iter().map(|r| r.2.as_str()).collect();
    assert!(
        texts.contains(&"ping") && texts.contains(&"pong") && texts.contains(&"bye"),
        "{texts:?}"
    );
}

#[test]
fn log_rotation_keeps_every_line() {
    if skip() {
        return;
    }
    let script = "i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done";
    let mut c = Ctr::new(&["sh", "-c", script]);
    let sync = c.start_monitor(&["--log-size-max", "1000", "--log-max-files", "1000"]);
    assert!(read_sync(&sync).data > 0);
    c.runc_start();
    assert_eq!(c.wait_file(&format!("exits/{}", c.id)), "0");
    let log = c.path("ctr.log");
    let mut files = vec![log.clone()];
    for n in 1.. {
        let p = PathBuf::from(format!("{}.{n}", log.display()));
        if !p.exists() {
            break;
        }
        files.push(p);
    }
    assert!(
        files.len() > 5,
        "expected rotation, got {} files",
        files.len()
    );
    let mut lines = Vec::new();
    for f in files.iter().rev() {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            text.len() <= 1000,
            "{} holds {} bytes",
            f.display(),
            text.len()
        );
        lines.extend(log_records(&text).into_iter().map(|r| r.2));
    }
    let want: Vec<String> = (0..200).map(|i| format!("line{i}")).collect();
    assert_eq!(lines, want);
}

#[test]
fn timeout_kills_container() {
    if skip() {
        return;
    }
    let mut c = Ctr::new(&["sleep", "100"]);
    let sync = c.start_monitor(&["-T", "1"]);
    assert!(read_sync(&sync).data > 0);
    c.runc_start();
    assert_eq!(c.wait_file(&format!("exits/{}", c.id)), "-1");
    assert!(c.monitor_gone());
}

#[test]
fn sigterm_is_forwarded_to_the_container() {
    if skip() {
        return;
    }
    let mut c = Ctr::new(&[
        "sh",
        "-c",
        "trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    let sync = c.start_monitor(&[]);
    assert!(read_sync(&sync).data > 0);
    c.runc_start();
    // Wait until the trap is installed (the script printed "ready").
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(c.path("ctr.log"))
        .unwrap_or_default()
        .contains("ready")
    {
        assert!(Instant::now() < deadline, "container never became ready");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = nix::unistd::Pid::from_raw(c.monitor_pid.unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(c.wait_file(&format!("exits/{}", c.id)), "7");
    assert!(c.monitor_gone());
}

#[test]
fn tty_output_reaches_log_and_attach() {
    if skip() {
        return;
    }
    let mut c = Ctr::new(&["sh", "-c", "echo hi-tty; exit 4"]);
    let cfg_path = c.bundle().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = serde_json::json!(true);
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let sync = c.start_monitor(&["-t"]);
    let msg = read_sync(&sync);
    assert!(msg.data > 0, "{msg:?}");
    let a = connect_attach(&c.bundle());
    // Resize through the ctl fifo while the terminal exists (must not disturb anything).
    std::fs::write(c.bundle().join("ctl"), "1 40 100\n").unwrap();
    c.runc_start();
    let (out, err) = read_attach(&a);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "hi-tty\r\n",
        "ONLCR output on stream 2"
    );
    assert!(err.is_empty());
    assert_eq!(c.wait_file(&format!("exits/{}", c.id)), "4");
    let recs = log_records(&std::fs::read_to_string(c.path("ctr.log")).unwrap());
    assert_eq!(recs, [("stdout".to_string(), true, "hi-tty\r".to_string())]);
}

#[test]
fn exec_reports_pid_then_exit_code() {
    if skip() {
        return;
    }
    let mut c = Ctr::new(&["sleep", "100"]);
    let sync = c.start_monitor(&[]);
    assert!(read_sync(&sync).data > 0);
    c.runc_start();
    let container_monitor = c.monitor_pid.take();

    // The exec session, as Podman runs it: its own bundle dir, log driver none.
    let sess = c.path("exec");
    std::fs::create_dir_all(sess.join("exit")).unwrap();
    let spec = serde_json::json!({
        "args": ["sh", "-c", "echo from-exec; exit 5"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "terminal": false,
        "user": {"uid": 0, "gid": 0},
    });
    std::fs::write(
        sess.join("process.json"),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    let s = sess.display().to_string();
    let args = vec![
        "--api-version".to_string(),
        "1".into(),
        "-c".into(),
        c.id.clone(),
        "-u".into(),
        "sess1".into(),
        "-r".into(),
        RUNC.into(),
        "-b".into(),
        s.clone(),
        "-p".into(),
        format!("{s}/exec_pid"),
        "-n".into(),
        c.id.clone(),
        "--exit-dir".into(),
        format!("{s}/exit"),
        "--full-attach".into(),
        "-l".into(),
        "none".into(),
        "--conmon-pidfile".into(),
        format!("{s}/conmon.pid"),
        "-e".into(),
        "--exec-process-spec".into(),
        format!("{s}/process.json"),
    ];
    let (sync_ours, sync_theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peapod-monitor"));
    cmd.args(&args).env("_OCI_SYNCPIPE", "3");
    let raw = sync_theirs.as_raw_fd();
    // SAFETY: only async-signal-safe fcntl/dup2 between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let h = libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 10);
            if h < 0 || libc::dup2(h, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let st = cmd.status().unwrap();
    drop(sync_theirs);
    assert!(st.success());
    c.monitor_pid = std::fs::read_to_string(sess.join("conmon.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok());
    let first = read_sync(&sync_ours);
    assert!(first.data > 0, "{first:?}");
    let second = read_sync(&sync_ours);
    assert_eq!(second, SyncMessage::ok(5));
    assert_eq!(
        std::fs::read_to_string(sess.join(format!("exit/{}", c.id))).unwrap(),
        "5"
    );
    assert!(c.monitor_gone());
    if let Some(p) = container_monitor {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// `podman exec` without `-d`: start byte, fork, attach socket ready on `_OCI_ATTACHPIPE`,
/// the client connects, a second start byte, then the process runs. A process that prints
/// and exits at once (before the event loop ever polls the listener) must still reach the
/// client that connected before it started: Podman's `exec` printed nothing here once.
#[test]
fn exec_attach_client_gets_the_output_of_a_short_process() {
    if skip() {
        return;
    }
    let mut c = Ctr::new(&["sleep", "100"]);
    let sync = c.start_monitor(&[]);
    assert!(read_sync(&sync).data > 0);
    c.runc_start();
    let container_monitor = c.monitor_pid.take();

    let sess = c.path("exec");
    std::fs::create_dir_all(sess.join("exit")).unwrap();
    let spec = serde_json::json!({
        "args": ["sh", "-c", "echo from-exec; echo to-err >&2; exit 4"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "terminal": false,
        "user": {"uid": 0, "gid": 0},
    });
    std::fs::write(
        sess.join("process.json"),
        serde_json::to_vec(&spec).unwrap(),
    )
    .unwrap();
    let s = sess.display().to_string();
    let args = [
        "--api-version",
        "1",
        "-c",
        &c.id,
        "-u",
        "sess2",
        "-r",
        RUNC,
        "-b",
        &s,
        "-p",
        &format!("{s}/exec_pid"),
        "-n",
        &c.id,
        "--exit-dir",
        &format!("{s}/exit"),
        "--full-attach",
        "-l",
        "none",
        "--conmon-pidfile",
        &format!("{s}/conmon.pid"),
        "-e",
        "--exec-attach",
        "--exec-process-spec",
        &format!("{s}/process.json"),
    ];
    let pair = || {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap()
    };
    let (sync_ours, sync_theirs) = pair();
    let (start_ours, start_theirs) = pair();
    let (attach_ours, attach_theirs) = pair();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peapod-monitor"));
    cmd.args(args)
        .env("_OCI_SYNCPIPE", "3")
        .env("_OCI_STARTPIPE", "4")
        .env("_OCI_ATTACHPIPE", "5");
    let raws = [
        sync_theirs.as_raw_fd(),
        start_theirs.as_raw_fd(),
        attach_theirs.as_raw_fd(),
    ];
    // SAFETY: only async-signal-safe fcntl/dup2 between fork and exec; they move the three
    // inherited ends to fds 3, 4 and 5 (dup2 clears close-on-exec).
    unsafe {
        cmd.pre_exec(move || {
            let mut high = [0; 3];
            for (h, raw) in high.iter_mut().zip(raws) {
                *h = libc::fcntl(raw, libc::F_DUPFD_CLOEXEC, 10);
                if *h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (target, h) in (3..).zip(high) {
                if libc::dup2(h, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop((sync_theirs, start_theirs, attach_theirs));
    nix::unistd::write(&start_ours, &[0u8]).unwrap();
    assert!(child.wait().unwrap().success());
    c.monitor_pid = std::fs::read_to_string(sess.join("conmon.pid"))
        .ok()
        .and_then(|p| p.trim().parse().ok());
    // The attach socket is ready: connect, then let the process start.
    assert_eq!(read_sync(&attach_ours), SyncMessage::ok(0));
    let client = connect_attach(&sess);
    nix::unistd::write(&start_ours, &[0u8]).unwrap();
    let pid = read_sync(&sync_ours);
    assert!(pid.data > 0, "{pid:?}");
    let (out, err) = read_attach(&client);
    assert_eq!(String::from_utf8_lossy(&out), "from-exec\n");
    assert_eq!(String::from_utf8_lossy(&err), "to-err\n");
    assert_eq!(read_sync(&sync_ours), SyncMessage::ok(4));
    assert!(c.monitor_gone());
    if let Some(p) = container_monitor {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}
