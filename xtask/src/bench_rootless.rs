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

/// Downloads taken in turns, so both see the same machine; the order flips every round
/// (whichever goes first would otherwise always meet the other's leftovers).
const ROUNDS: usize = 12;

/// One engine's forwarder under measurement: the address it serves, the process holding
/// its listening socket (peapod-netsetup, or podman's rootlessport), its rates and the
/// CPU it spent.
struct Side {
    addr: String,
    pid: Option<u32>,
    rates: Vec<f64>,
    cpu: Duration,
}

impl Side {
    fn new(addr: String) -> Side {
        let port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
        Side {
            pid: port.and_then(listener_pid),
            addr,
            rates: Vec::new(),
            cpu: Duration::ZERO,
        }
    }

    /// One download, with the forwarder's CPU time during it.
    fn take(&mut self) -> Result<()> {
        let before = self.pid.and_then(cpu_time);
        self.rates.push(rate(&self.addr)?);
        if let (Some(b), Some(a)) = (before, self.pid.and_then(cpu_time)) {
            self.cpu += a.saturating_sub(b);
        }
        Ok(())
    }

    /// (best, median) MiB/s.
    fn summary(&self) -> (f64, f64) {
        let mut v = self.rates.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() - 1], v[v.len() / 2])
    }

    /// The forwarder's CPU milliseconds per GiB moved, when its process was found.
    fn cpu_per_gib(&self) -> Option<f64> {
        self.pid?;
        let gib = (self.rates.len() * 256) as f64 / 1024.0;
        Some(self.cpu.as_secs_f64() * 1000.0 / gib)
    }
}

/// The process holding the tcp socket that listens on 127.0.0.1:`port` (in this network
/// namespace): found through the socket's inode in `/proc/net/tcp` and `/proc/*/fd`.
fn listener_pid(port: u16) -> Option<u32> {
    let want = format!("0100007F:{port:04X}");
    let tcp = fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = tcp.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        // local address, remote, state 0A (listen), …, inode at index 9.
        (f.len() > 9 && f[1] == want && f[3] == "0A").then(|| f[9].to_string())
    })?;
    let target = format!("socket:[{inode}]");
    for e in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = fs::read_dir(e.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()))
        {
            return Some(pid);
        }
    }
    None
}

/// User plus system time of process `pid` so far, its finished threads included
/// (`/proc/PID/stat` fields 14 and 15, in clock ticks of 10 ms).
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

pub(crate) fn port_throughput(ctx: &Ctx) -> Result<()> {
    println!(
        "   256 MiB from busybox httpd in a rootless container through -p 127.0.0.1:PORT:80 \
         (peapod-netsetup's forwarder; podman's rootlessport), {ROUNDS} downloads each taken \
         in turns: best and median, and the CPU the forwarding process spent per GiB"
    );
    let ours_env = peapod_env()?;
    ours_env.import(&ctx.tar)?;
    let mut ours = Side::new(start_server(&ours_env)?);
    let podman = shell::which("podman");
    let theirs_env = podman.as_deref().map(podman_env).transpose()?;
    let mut theirs = match &theirs_env {
        Some(rl) => {
            rl.import(&ctx.tar)?;
            Some(Side::new(start_server(rl)?))
        }
        None => None,
    };
    for round in 0..ROUNDS {
        match theirs.as_mut() {
            Some(t) if round % 2 == 1 => {
                t.take()?;
                ours.take()?;
            }
            Some(t) => {
                ours.take()?;
                t.take()?;
            }
            None => ours.take()?,
        }
    }
    let cpu = |s: &Side| match s.cpu_per_gib() {
        Some(ms) => format!("{ms:>5.0} ms CPU/GiB"),
        None => "CPU: process not found".to_string(),
    };
    let (ours_best, ours_median) = ours.summary();
    println!(
        "   peapod (forwarder)        best {ours_best:>6.0} MiB/s   median {ours_median:>6.0} MiB/s   {}",
        cpu(&ours)
    );
    let Some(theirs) = theirs else {
        println!("   podman: not installed, skipped");
        return Ok(());
    };
    let (theirs_best, theirs_median) = theirs.summary();
    println!(
        "   podman (rootlessport)     best {theirs_best:>6.0} MiB/s   median {theirs_median:>6.0} MiB/s   {}",
        cpu(&theirs)
    );
    // The two downloads of a round met the same load from the rest of the machine: the
    // median of the rounds' ratios is the least moved by load that comes and goes.
    let mut paired: Vec<f64> = ours
        .rates
        .iter()
        .zip(&theirs.rates)
        .map(|(o, t)| o / t)
        .collect();
    paired.sort_by(|a, b| a.total_cmp(b));
    let paired = paired[paired.len() / 2];
    println!(
        "   peapod/podman = {:.2}x best, {:.2}x median, {paired:.2}x median of the rounds' ratios  (target >= 1x: {})",
        ours_best / theirs_best,
        ours_median / theirs_median,
        verdict(paired >= 1.0)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The process listening on a loopback port is found (here: this test process), and
    /// a port nothing listens on names none.
    #[test]
    fn listener_of_a_loopback_port_is_found() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert_eq!(listener_pid(port), Some(std::process::id()));
        drop(l);
        assert_eq!(listener_pid(port), None);
    }

    /// The CPU time read for this process grows while it works (under any load: it spins
    /// until the count moves, for up to 10 s).
    #[test]
    fn cpu_time_of_this_process_grows() {
        let pid = std::process::id();
        let before = cpu_time(pid).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut x = 0u64;
        let mut after = before;
        while after < before + Duration::from_millis(20) && Instant::now() < deadline {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            after = cpu_time(pid).unwrap();
        }
        assert!(
            after >= before + Duration::from_millis(20),
            "{before:?} then {after:?}"
        );
    }
}
