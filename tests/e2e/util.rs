//! The harness every e2e test uses (in the style of ripgrep's `tests/util.rs`).
//!
//! [`TestEnv::new`] makes a private temp dir with `root/` and `runroot/`; [`TestEnv::peapod`]
//! builds a command for the *installed* `peapod` (from `$PEAPOD_PREFIX/bin`, staged by
//! `cargo xtask test`) preset with `--root`/`--runroot`; dropping the env removes every
//! container, unmounts, kills stray processes and deletes the dir, even when the test panicked.
//!
//! Every command runs with a timeout: a hung peapod fails the test instead of hanging CI,
//! and a peapod that exits while a daemonized child still holds its stdout (a monitor that
//! did not detach its stdio) is reported as such.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use peapod_tests::{busybox_rootfs_tar, mounts_under, processes_mentioning, scrub_dir};

/// The image every test imports from the busybox tarball.
pub const IMG: &str = "localhost/busybox";

/// How long one peapod command may take before the test fails.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A unique name: `x-<pid>-<n>`.
pub fn name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The staging prefix: `$PEAPOD_PREFIX`, else `<workspace>/target/test-prefix`.
pub fn prefix() -> PathBuf {
    match std::env::var_os("PEAPOD_PREFIX") {
        Some(p) => PathBuf::from(p),
        None => peapod_tests::target_dir().join("test-prefix"),
    }
}

/// True when `s` is a full 64-hex-digit id.
pub fn is_full_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// The image id `import` printed: its last line is `sha256:<64 hex>`, as podman's (libimage
/// returns `"sha256:" + id`). Returns the bare id.
#[track_caller]
pub fn imported_id(stdout: &str) -> String {
    let last = last_line(stdout);
    match last.strip_prefix("sha256:") {
        Some(id) if is_full_id(id) => id.to_owned(),
        _ => panic!("`peapod import` should end with `sha256:<64 hex id>`, printed {stdout:?}"),
    }
}

/// True when `s` is a 12-hex-digit short id.
pub fn is_short_id(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// Polls `check` every 100 ms until it returns true or `timeout` passes; panics naming
/// `what` on timeout.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        if check() {
            return;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// True when `pid` exists and is not a zombie.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the first field after the parenthesised command name.
        Ok(stat) => match stat.rfind(')') {
            Some(i) => !matches!(stat[i + 1..].trim_start().chars().next(), Some('Z' | 'X')),
            None => true,
        },
        Err(_) => false,
    }
}

/// One test's private peapod world.
pub struct TestEnv {
    /// The temp dir holding everything below.
    pub dir: PathBuf,
    /// Passed as `--root`.
    pub root: PathBuf,
    /// Passed as `--runroot`.
    pub runroot: PathBuf,
    /// The staged `peapod` binary.
    pub peapod: PathBuf,
}

impl TestEnv {
    /// A fresh env for the test `name`. Panics with instructions when not root or when the
    /// binaries were not staged.
    pub fn new(name: &str) -> TestEnv {
        assert!(
            nix::unistd::geteuid().is_root(),
            "the e2e tests need root (they mount, run containers and touch cgroups): \
             run them as root via `cargo xtask test`"
        );
        let prefix = prefix();
        let peapod = prefix.join("bin/peapod");
        assert!(
            peapod.is_file(),
            "{} not found: run the e2e tests with `cargo xtask test`, which builds and \
             installs peapod into the staging prefix (or set PEAPOD_PREFIX to an install \
             prefix)",
            peapod.display()
        );
        let short: String = name.chars().take(20).collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("pp-{short}-"))
            .tempdir_in("/tmp")
            .expect("cannot create a temp dir under /tmp")
            .keep();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .expect("cannot chmod the temp dir");
        let root = dir.join("root");
        let runroot = dir.join("runroot");
        TestEnv {
            dir,
            root,
            runroot,
            peapod,
        }
    }

    /// A `peapod --root R --runroot RR <args>` command, not yet run.
    pub fn peapod<S: AsRef<OsStr>>(&self, args: &[S]) -> PeapodCmd {
        let mut argv: Vec<OsString> = vec![
            "--root".into(),
            self.root.clone().into(),
            "--runroot".into(),
            self.runroot.clone().into(),
        ];
        argv.extend(args.iter().map(|a| a.as_ref().to_owned()));
        PeapodCmd {
            program: self.peapod.clone(),
            args: argv,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            envs: Vec::new(),
        }
    }

    /// Runs `peapod <args>` and returns its output, whatever the exit code.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.peapod(args).output()
    }

    /// Runs `peapod <args>`, asserts exit 0 and returns stdout.
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        self.run(args).success()
    }

    /// Imports the busybox rootfs tarball as `localhost/busybox`; returns the image id.
    pub fn import_busybox(&self) -> String {
        self.import_busybox_as(IMG)
    }

    /// Imports the busybox rootfs tarball as `reference`; returns the image id.
    pub fn import_busybox_as(&self, reference: &str) -> String {
        let tar = busybox_rootfs_tar().expect("cannot build the busybox rootfs tarball");
        let out = self.ok(&[OsStr::new("import"), tar.as_os_str(), OsStr::new(reference)]);
        imported_id(&out)
    }

    /// `peapod inspect --format FORMAT TARGET`, trimmed; asserts success.
    pub fn inspect(&self, target: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, target])
            .trim()
            .to_owned()
    }

    /// `{{.State.Status}}` of a container.
    pub fn status(&self, ctr: &str) -> String {
        self.inspect(ctr, "{{.State.Status}}")
    }

    /// Waits until `inspect` reports `status` for `ctr`.
    pub fn wait_status(&self, ctr: &str, status: &str, timeout: Duration) {
        let mut last = String::new();
        let start = Instant::now();
        while start.elapsed() < timeout {
            let out = self.run(&["inspect", "--format", "{{.State.Status}}", ctr]);
            last = format!("{out:?}");
            if out.code() == 0 && out.stdout.trim() == status {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("container {ctr} did not reach status {status:?} within {timeout:?}; last: {last}");
    }

    /// Lines of `ps -a --format '{{.Names}}'`.
    pub fn names_all(&self) -> Vec<String> {
        lines(&self.ok(&["ps", "-a", "--format", "{{.Names}}"]))
    }

    /// Full ids from `ps -a -q --no-trunc`.
    pub fn ids_all(&self) -> Vec<String> {
        lines(&self.ok(&["ps", "-a", "-q", "--no-trunc"]))
    }

    /// Asserts no mount exists under this env's dir.
    pub fn assert_no_mounts(&self) {
        assert_no_mounts_under(&self.dir);
    }

    /// Asserts, with a 5 s grace for exit commands still finishing, that no process mentions
    /// this env's dir.
    pub fn assert_no_processes(&self) {
        assert_no_process_mentioning(&self.dir);
    }

    /// Regular files (and symlinks) under the store (`root/`), excluding SQLite's journal
    /// files, which come and go with connections.
    pub fn store_file_count(&self) -> usize {
        fn walk(dir: &Path, n: &mut usize) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let Ok(ft) = e.file_type() else { continue };
                if ft.is_dir() {
                    walk(&e.path(), n);
                } else {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if !(name.ends_with("-wal")
                        || name.ends_with("-shm")
                        || name.ends_with("-journal"))
                    {
                        *n += 1;
                    }
                }
            }
        }
        let mut n = 0;
        walk(&self.root, &mut n);
        n
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Never panic here: this runs while unwinding from a failed assertion too.
        // Pods first: `rm -a` leaves infra containers to their pods.
        let _ = self
            .peapod(&["pod", "rm", "-af", "-t", "0"])
            .timeout(Duration::from_secs(60))
            .try_output();
        if let Err(e) = self
            .peapod(&["rm", "-af", "-t", "0"])
            .timeout(Duration::from_secs(60))
            .try_output()
        {
            eprintln!(
                "cleanup: peapod rm -af failed in {}: {e}",
                self.dir.display()
            );
        }
        for e in scrub_dir(&self.dir) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// Asserts no mount point is at or under `dir`.
pub fn assert_no_mounts_under(dir: &Path) {
    let mounts = mounts_under(dir).expect("cannot read /proc/self/mountinfo");
    assert!(
        mounts.is_empty(),
        "mounts left under {}: {mounts:?}",
        dir.display()
    );
}

/// Asserts that within 5 s no process mentions `dir` (cmdline, environ, cwd or root).
pub fn assert_no_process_mentioning(dir: &Path) {
    let start = Instant::now();
    loop {
        let procs = processes_mentioning(dir);
        if procs.is_empty() {
            return;
        }
        if start.elapsed() > Duration::from_secs(5) {
            panic!("processes left mentioning {}: {procs:#?}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Non-empty trimmed lines.
pub fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The last non-empty line, trimmed.
pub fn last_line(s: &str) -> String {
    lines(s).pop().unwrap_or_default()
}

/// A peapod invocation being built.
pub struct PeapodCmd {
    program: PathBuf,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    envs: Vec<(OsString, OsString)>,
}

impl PeapodCmd {
    /// Feeds `data` on stdin (otherwise stdin is /dev/null).
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(data.into());
        self
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Fails the command after `timeout` instead of the default 60 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The bare command (for tests that give it their own stdio, e.g. a pty).
    pub fn command(self) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)));
        c
    }

    fn display(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$\\{}".contains(c)) {
                s.push_str(&format!(" '{}'", a.replace('\'', r"'\''")));
            } else {
                s.push(' ');
                s.push_str(&a);
            }
        }
        s
    }

    /// Runs it; panics only on a timeout or when peapod cannot be spawned.
    pub fn output(self) -> Output {
        match self.try_output() {
            Ok(out) => out,
            Err(e) => panic!("{e}"),
        }
    }

    /// Runs it; an `Err` says what went wrong (spawn failure, timeout, stdio held open).
    pub fn try_output(self) -> Result<Output, String> {
        let display = self.display();
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        // runc lives in /usr/sbin; make sure it is findable whatever PATH cargo gave us.
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env(
            "PATH",
            format!("{path}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        );
        // The test's own variables last (a test may set PATH).
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot spawn `{display}`: {e}"))?;
        let pid = child.id() as i32;
        if let Some(data) = self.stdin {
            let mut stdin = child.stdin.take().expect("stdin piped");
            std::thread::spawn(move || {
                // peapod may legitimately not read all of it (e.g. it failed early).
                let _ = stdin.write_all(&data);
            });
        }
        let reader = |mut pipe: Box<dyn Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send(buf);
            });
            rx
        };
        let out_rx = reader(Box::new(child.stdout.take().expect("stdout piped")));
        let err_rx = reader(Box::new(child.stderr.take().expect("stderr piped")));
        let (status_tx, status_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = status_tx.send(child.wait());
        });
        let status: ExitStatus = match status_rx.recv_timeout(self.timeout) {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => return Err(format!("cannot wait for `{display}`: {e}")),
            Err(_) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let out = out_rx
                    .recv_timeout(Duration::from_secs(2))
                    .unwrap_or_default();
                let err = err_rx
                    .recv_timeout(Duration::from_secs(2))
                    .unwrap_or_default();
                return Err(format!(
                    "`{display}` did not finish within {:?} (killed)\nstdout: {}\nstderr: {}",
                    self.timeout,
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&err)
                ));
            }
        };
        let grace = Duration::from_secs(10);
        let held = |what: &str| {
            format!(
                "`{display}` exited ({status}) but its {what} stayed open for {grace:?}: a \
                 child it left behind (a monitor?) did not detach from the caller's stdio"
            )
        };
        let stdout = out_rx.recv_timeout(grace).map_err(|_| held("stdout"))?;
        let stderr = err_rx.recv_timeout(grace).map_err(|_| held("stderr"))?;
        Ok(Output {
            command: display,
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed: start.elapsed(),
        })
    }
}

/// What a finished peapod command produced.
pub struct Output {
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n$ {}\nexit: {} (after {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}\n",
            self.command, self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// The exit code; 128+N when killed by signal N.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| 128 + self.status.signal().unwrap_or(0))
    }

    /// Asserts exit 0; returns stdout.
    #[track_caller]
    pub fn success(self) -> String {
        assert_eq!(self.code(), 0, "expected success:{self:?}");
        self.stdout
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn assert_code(self, code: i32) -> Self {
        assert_eq!(self.code(), code, "expected exit code {code}:{self:?}");
        self
    }

    /// Asserts a failure with `code`, `Error:` on stderr, and each of `needles` in stderr.
    #[track_caller]
    pub fn assert_error(self, code: i32, needles: &[&str]) -> Self {
        assert_eq!(self.code(), code, "expected exit code {code}:{self:?}");
        assert!(
            self.stderr.contains("Error:"),
            "expected `Error:` on stderr:{self:?}"
        );
        for n in needles {
            assert!(self.stderr.contains(n), "expected {n:?} on stderr:{self:?}");
        }
        self
    }
}

impl PeapodCmd {
    /// Any `program` with `args`, run with the same timeout and stdio checks as peapod (the
    /// conmon-swap tests drive the real `podman` through it).
    pub fn program<S: AsRef<OsStr>>(program: impl Into<PathBuf>, args: &[S]) -> PeapodCmd {
        PeapodCmd {
            program: program.into(),
            args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            envs: Vec::new(),
        }
    }
}

/// A TCP port nothing on 127.0.0.1 listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// HTTP GET `path` from `addr` (`IP:PORT`), retried for up to 15 s until it answers; the body.
pub fn wait_http(addr: &str, path: &str) -> String {
    let mut body = None;
    wait_until(
        &format!("an answer from {addr}"),
        Duration::from_secs(15),
        || {
            body = http_get(addr, path);
            body.is_some()
        },
    );
    body.unwrap()
}

/// HTTP GET `path` from `addr` (`IP:PORT`); the body, or None if it cannot connect.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    let addr = addr.parse().ok()?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// `tests/e2e/fixtures/NAME.c` built static (once per content, in the test cache), for
/// containers whose busybox lacks a tool; `None` (skipped, a failure in CI) without gcc.
pub fn static_fixture(name: &str) -> Option<PathBuf> {
    let gcc = crate::podman::find_program("gcc");
    if peapod_tests::skip_unless(gcc.is_some(), &format!("gcc (to build {name})")) {
        return None;
    }
    let src = peapod_tests::workspace_root().join(format!("tests/e2e/fixtures/{name}.c"));
    let text = std::fs::read(&src).unwrap_or_else(|e| panic!("reading {}: {e}", src.display()));
    let hash = text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let cache = peapod_tests::target_dir().join("peapod-test-cache");
    std::fs::create_dir_all(&cache).expect("creating the test cache dir");
    let out = cache.join(format!("{name}-{hash:016x}"));
    if !out.is_file() {
        let tmp = cache.join(format!(".{name}-{}", std::process::id()));
        let built = Command::new(gcc.expect("checked above"))
            .args(["-static", "-O2", "-Wall", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .expect("running gcc");
        assert!(
            built.status.success(),
            "gcc -static failed (is libc6-dev installed?): {}",
            String::from_utf8_lossy(&built.stderr)
        );
        std::fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("moving {name} into place: {e}"));
    }
    Some(out)
}
