//! The rootless sections of `cargo xtask bench` (issue 16), beside rootless Podman in the
//! same run: `run --rm IMG true` as an unprivileged user (target: at most half of
//! podman's time), and a download through a published port of a rootless container
//! (peapod-netsetup's forwarder against Podman's rootlessport; target: at least podman's
//! throughput).
//!
//! Both run as the test user `peapod-rl` (the one the rootless e2e tests use, with a
//! subordinate id range; `.ci/run` makes it) through `runuser -u peapod-rl -- env -i …`, each
//! engine with its own store and runtime directory in a fresh temp dir; the staged binaries
//! are copied there so the user can run them. What either leaves (pause processes, rootless
//! mounts, files owned by the user's ids) is scrubbed afterwards.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::{Ctx, download, ratio, time_runs, verdict};
use crate::shell::{self, median, ms};

const USER: &str = "peapod-rl";
const IMG: &str = "localhost/busybox";
const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

/// One engine's rootless world: the user, a runtime dir, a store, and the program.
struct Rootless {
    home: PathBuf,
    dir: PathBuf,
    program: PathBuf,
    /// Extra environment (podman's containers.conf).
    env: Vec<(String, String)>,
}

impl Rootless {
    /// A fresh dir under /tmp owned by the user, for `program` (copied into it when
    /// `copy_from` names a staged prefix: peapod's binaries and helpers).
    fn new(tag: &str, program: &Path, copy_from: Option<&Path>) -> Result<Rootless> {
        let (uid, gid, home) = lookup(USER).with_context(|| {
            format!(
                "no user {USER}: the rootless e2e tests and .ci/run make it (with a \
                 subordinate id range)"
            )
        })?;
        if !fs::read_to_string("/etc/subuid")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next() == Some(USER))
        {
            bail!("{USER} has no range in /etc/subuid (the rootless e2e tests give it one)");
        }
        let dir = PathBuf::from(format!("/tmp/peapod-bench-rl-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let xdg = dir.join("xdg");
        fs::create_dir_all(&xdg)?;
        let mut program = program.to_path_buf();
        if let Some(prefix) = copy_from {
            for sub in ["bin", "libexec/peapod"] {
                fs::create_dir_all(dir.join(sub))?;
            }
            for p in [
                "bin/peapod",
                "libexec/peapod/peapod-monitor",
                "libexec/peapod/peapod-netsetup",
                "libexec/peapod/peapod-pause",
            ] {
                fs::copy(prefix.join(p), dir.join(p)).with_context(|| format!("copying {p}"))?;
            }
            program = dir.join("bin/peapod");
        }
        for d in walk_dirs(&dir) {
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
        }
        fs::set_permissions(&xdg, fs::Permissions::from_mode(0o700))?;
        for p in [&dir, &xdg] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))?;
        }
        Ok(Rootless {
            home,
            dir,
            program,
            env: Vec::new(),
        })
    }

    /// `PROGRAM --root R --runroot RR ARGS` as the user, with a clean environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut argv: Vec<OsString> = ["-u", USER, "--", "env", "-i"]
            .iter()
            .map(OsString::from)
            .collect();
        let mut vars = vec![
            ("HOME".to_string(), self.home.display().to_string()),
            ("USER".to_string(), USER.to_string()),
            ("LOGNAME".to_string(), USER.to_string()),
            ("PATH".to_string(), PATH.to_string()),
            (
                "XDG_RUNTIME_DIR".to_string(),
                self.dir.join("xdg").display().to_string(),
            ),
        ];
        vars.extend(self.env.iter().cloned());
        argv.extend(vars.iter().map(|(k, v)| OsString::from(format!("{k}={v}"))));
        argv.push(self.program.clone().into());
        argv.extend([
            "--root".into(),
            self.dir.join("root").into_os_string(),
            "--runroot".into(),
            self.dir.join("runroot").into_os_string(),
        ]);
        argv.extend(args.iter().map(OsString::from));
        let mut cmd = Command::new("runuser");
        cmd.args(argv).stdin(Stdio::null());
        cmd
    }

    /// Runs `args`; its stdout; an error with its stderr when it fails.
    fn quiet(&self, args: &[&str]) -> Result<String> {
        let mut cmd = self.command(args);
        let out = cmd
            .output()
            .with_context(|| format!("cannot run {}", shell::display(&cmd)))?;
        if !out.status.success() {
            bail!(
                "`{}` failed ({}): {}",
                shell::display(&cmd),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Imports the busybox rootfs (read from a copy the user can read) as [`IMG`].
    fn import(&self, tar: &Path) -> Result<()> {
        let copy = self.dir.join("busybox.tar");
        fs::copy(tar, &copy)?;
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o644))?;
        self.quiet(&["import", &copy.to_string_lossy(), IMG])
            .map(drop)
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        let _ = self
            .command(&["rm", "-af", "-t", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for e in peapod_tests::scrub_dir(&self.dir) {
            eprintln!("rootless bench cleanup: {e}");
        }
    }
}

fn walk_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = fs::read_dir(&out[i]) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    out.push(e.path());
                }
            }
        }
        i += 1;
    }
    out
}

/// uid, gid and home of `name`.
fn lookup(name: &str) -> Option<(u32, u32, PathBuf)> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let f: Vec<&str> = line.split(':').collect();
    (f.len() >= 6).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?, PathBuf::from(f[5]))))?
}

/// Rootless podman's world: runc, cgroupfs, file events (as the root bench configures it).
fn podman_env(podman: &Path) -> Result<Rootless> {
    let mut rl = Rootless::new("podman", podman, None)?;
    let conf = rl.dir.join("containers.conf");
    fs::write(
        &conf,
        "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
    )?;
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o644))?;
    rl.env
        .push(("CONTAINERS_CONF".into(), conf.display().to_string()));
    Ok(rl)
}

fn peapod_env() -> Result<Rootless> {
    let prefix = crate::install::staged()?;
    Rootless::new("peapod", &prefix.join("bin/peapod"), Some(&prefix))
}

/// `run --rm IMG true` as the user, `n` times after a warm-up (the first run also starts the
/// user's pause process); the median.
fn rootless_latency(rl: &Rootless, n: usize, what: &str) -> Result<Duration> {
    let samples = time_runs(n, what, |_| rl.command(&["run", "--rm", IMG, "true"]))?;
    Ok(median(&samples))
}

pub(crate) fn run_latency(ctx: &Ctx) -> Result<()> {
    let n = ctx.runs;
    println!(
        "   median wall time of {n} runs of `run --rm {IMG} true` as user {USER} (runuser -u \
         {USER} -- env -i …), slirp4netns network (each engine's rootless default)"
    );
    let peapod = {
        let rl = peapod_env()?;
        rl.import(&ctx.tar)?;
        rootless_latency(&rl, n, "rootless peapod run")?
    };
    println!("   peapod run --rm (rootless)       {:>10}", ms(peapod));
    match shell::which("podman") {
        None => println!("   podman: not installed, skipped"),
        Some(podman) => {
            let rl = podman_env(&podman)?;
            rl.import(&ctx.tar)?;
            let p = rootless_latency(&rl, n, "rootless podman run")?;
            println!(
                "   podman run --rm (rootless)       {:>10}   peapod/podman = {:.2}x  (target <= 0.5x: {})",
                ms(p),
                ratio(peapod, p),
                verdict(ratio(peapod, p) <= 0.5)
            );
        }
    }
    Ok(())
}

/// The script of the container that serves 256 MiB on port 80.
const SERVE: &str = "mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=256 2>/dev/null && \
                     exec httpd -f -p 80 -h /www";

/// Starts the container serving 256 MiB on port 80 with `-p 127.0.0.1:PORT:80` in `rl`
/// (its default port handler) and waits until it serves the whole file; the address.
fn start_server(rl: &Rootless) -> Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let publish = format!("127.0.0.1:{port}:80");
    rl.quiet(&[
        "run", "-d", "--name", "web", "-p", &publish, IMG, "sh", "-c", SERVE,
    ])?;
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while download(&addr).map(|b| b != 256 << 20).unwrap_or(true) {
        if Instant::now() > deadline {
            bail!("the rootless httpd did not serve /big on {addr}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(addr)
}

/// One download of 256 MiB from `addr`, in MiB/s.
fn rate(addr: &str) -> Result<f64> {
    let start = Instant::now();
    let bytes = download(addr)?;
    let secs = start.elapsed().as_secs_f64();
    if bytes != 256 << 20 {
        bail!("got {bytes} bytes from {addr}, expected 256 MiB");
    }
    Ok(bytes as f64 / secs / (1 << 20) as f64)
}

/// Downloads taken in turns (peapod's, then podman's), so both see the same machine.
const ROUNDS: usize = 5;

pub(crate) fn port_throughput(ctx: &Ctx) -> Result<()> {
    println!(
        "   256 MiB from busybox httpd in a rootless container through -p 127.0.0.1:PORT:80 \
         (peapod-netsetup's forwarder; podman's rootlessport), {ROUNDS} downloads each taken \
         in turns: best and median"
    );
    let ours_env = peapod_env()?;
    ours_env.import(&ctx.tar)?;
    let ours_addr = start_server(&ours_env)?;
    let podman = shell::which("podman");
    let theirs_env = podman.as_deref().map(podman_env).transpose()?;
    let theirs_addr = match &theirs_env {
        Some(rl) => {
            rl.import(&ctx.tar)?;
            Some(start_server(rl)?)
        }
        None => None,
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours.push(rate(&ours_addr)?);
        if let Some(a) = &theirs_addr {
            theirs.push(rate(a)?);
        }
    }
    let summary = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() - 1], v[v.len() / 2])
    };
    let (ours_best, ours_median) = summary(&mut ours);
    println!(
        "   peapod (forwarder)        best {ours_best:>6.0} MiB/s   median {ours_median:>6.0} MiB/s"
    );
    if theirs.is_empty() {
        println!("   podman: not installed, skipped");
        return Ok(());
    }
    let (theirs_best, theirs_median) = summary(&mut theirs);
    println!(
        "   podman (rootlessport)     best {theirs_best:>6.0} MiB/s   median {theirs_median:>6.0} MiB/s   peapod/podman = {:.2}x best, {:.2}x median  (target >= 1x: {})",
        ours_best / theirs_best,
        ours_median / theirs_median,
        verdict(ours_median >= theirs_median)
    );
    Ok(())
}
