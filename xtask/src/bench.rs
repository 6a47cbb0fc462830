//! `cargo xtask bench`: benchmarks, not tests. They print numbers beside their targets and
//! never fail on a missed target; they fail only when something could not be measured.
//!
//! Structured as a list of sections; later issues append theirs to [`SECTIONS`].

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::demo::Peapod;
use crate::shell::{self, median, ms};
use crate::{Opts, install};

pub(crate) const IMG: &str = "localhost/busybox";

/// What every section gets.
pub(crate) struct Ctx {
    pub(crate) peapod: Peapod,
    /// The bench's temp dir (the peapod root is inside it).
    pub(crate) dir: PathBuf,
    /// The busybox rootfs tarball.
    pub(crate) tar: PathBuf,
    pub(crate) runs: usize,
    containers: usize,
}

type Section = (&'static str, fn(&Ctx) -> Result<()>);

const SECTIONS: &[Section] = &[
    ("run --rm latency (--network none)", run_latency),
    (
        "run --rm latency on the default network",
        run_latency_bridge,
    ),
    (
        "download through a published port vs the container's address",
        port_throughput,
    ),
    (
        "rootless run --rm latency: peapod vs podman",
        crate::bench_rootless::run_latency,
    ),
    (
        "rootless download through a published port: peapod's forwarder vs podman's rootlessport",
        crate::bench_rootless::port_throughput,
    ),
    ("ps -a over many containers", ps_scaling),
    (
        "monitor memory: peapod-monitor vs conmon",
        crate::bench_memory::monitor_memory,
    ),
    (
        "pause process: peapod-pause vs catatonit -P",
        crate::bench_memory::pause_footprint,
    ),
    (
        "pull of ~200 MB in 5 layers: peapod vs podman vs skopeo",
        crate::bench_pull::pull_speed,
    ),
    (
        "build: 6 steps with a 50 MB COPY, uncached and cached: peapod vs podman",
        crate::bench_build::build_speed,
    ),
    (
        "API service: docker run and container lists through peapod's socket vs podman's",
        crate::bench_api::api_service,
    ),
];

pub fn main(args: &[String]) -> Result<()> {
    let opts = Opts::parse(args, &["--runs", "--containers", "--only"], &["--no-build"])?;
    // `--only WORD`: the sections whose title contains WORD.
    let only = opts.value("--only").map(str::to_owned);
    let runs = opts.number("--runs", 20)?;
    let containers = opts.number("--containers", 1000)?;
    let prefix = if opts.flag("--no-build") {
        install::staged()?
    } else {
        install::stage()?
    };
    let tar = peapod_tests::busybox_rootfs_tar().context("building the busybox image")?;
    let dir = tempfile::Builder::new()
        .prefix("peapod-bench-")
        .tempdir_in("/tmp")
        .context("cannot create a temp dir")?
        .keep();
    let ctx = Ctx {
        peapod: Peapod::new(prefix.join("bin/peapod"), &dir),
        dir: dir.clone(),
        tar,
        runs,
        containers,
    };
    let mut failed = Vec::new();
    match ctx
        .peapod
        .quiet(&[OsStr::new("import"), ctx.tar.as_os_str(), OsStr::new(IMG)])
    {
        Err(e) => failed.push(format!("importing the busybox image: {e:#}")),
        Ok(_) => {
            for (name, section) in SECTIONS {
                if only.as_deref().is_some_and(|w| !name.contains(w)) {
                    continue;
                }
                println!("\n== {name}");
                if let Err(e) = section(&ctx) {
                    println!("   FAILED: {e:#}");
                    failed.push(format!("{name}: {e:#}"));
                }
            }
        }
    }
    ctx.peapod.cleanup(&dir);
    if !failed.is_empty() {
        bail!(
            "some sections could not be measured:\n  {}",
            failed.join("\n  ")
        );
    }
    Ok(())
}

/// Times `n` runs of `make()` after one untimed warm-up; each run must succeed.
pub(crate) fn time_runs(
    n: usize,
    what: &str,
    mut make: impl FnMut(usize) -> Command,
) -> Result<Vec<Duration>> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..=n {
        let mut cmd = make(i);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
        let took = start.elapsed();
        if !out.status.success() {
            bail!(
                "`{}` failed ({}): {}",
                shell::display(&cmd),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        if i > 0 {
            samples.push(took);
        }
    }
    Ok(samples)
}

/// Times one run of `cmd`, which must succeed.
pub(crate) fn time_one(mut cmd: Command, what: &str) -> Result<Duration> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            shell::display(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

/// `run --rm IMG true` with `--network NETWORK` (None: each engine's default), `n` times
/// each after one warm-up, peapod and podman in turns so both see the same load (other
/// builds and tests share this machine): their medians. Podman's is `None` when it is not
/// installed or could not be set up (said on stdout).
fn latency_in_turns(ctx: &Ctx, network: Option<&str>) -> Result<(Duration, Option<Duration>)> {
    let mut args = vec!["run", "--rm"];
    if let Some(n) = network {
        args.extend(["--network", n]);
    }
    args.extend([IMG, "true"]);
    let podman = match shell::which("podman") {
        None => {
            println!("   podman: not installed, skipped");
            None
        }
        Some(p) => match PodmanStore::new(ctx, &p) {
            Ok(store) => Some(store),
            Err(e) => {
                println!("   podman: could not measure: {e:#}");
                None
            }
        },
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..=ctx.runs {
        let took = time_one(ctx.peapod.command(&args), "peapod run")?;
        if i > 0 {
            ours.push(took);
        }
        if let Some(store) = &podman {
            let took = time_one(store.command(&args), "podman run")?;
            if i > 0 {
                theirs.push(took);
            }
        }
    }
    Ok((median(&ours), podman.map(|_| median(&theirs))))
}

fn run_latency(ctx: &Ctx) -> Result<()> {
    let n = ctx.runs;
    println!(
        "   median wall time of {n} runs (after one warm-up), container command `true`, \
         peapod and podman in turns"
    );
    let (peapod, podman) = latency_in_turns(ctx, Some("none"))?;
    println!("   peapod run --rm --network none   {:>10}", ms(peapod));
    match runc_latency(ctx) {
        Ok(runc) => println!(
            "   runc run (same rootfs)           {:>10}   peapod/runc = {:.2}x  (target <= 3x: {})",
            ms(runc),
            ratio(peapod, runc),
            verdict(ratio(peapod, runc) <= 3.0)
        ),
        Err(e) => println!("   runc run: could not measure: {e:#}"),
    }
    if let Some(p) = podman {
        println!(
            "   podman run --rm --network none   {:>10}   peapod/podman = {:.2}x",
            ms(p),
            ratio(peapod, p)
        );
    }
    Ok(())
}

fn run_latency_bridge(ctx: &Ctx) -> Result<()> {
    let n = ctx.runs;
    println!(
        "   median wall time of {n} runs, `true` on the default network (a veth on podman0, \
         an address, nftables rules, all torn down again), peapod and podman in turns"
    );
    let (peapod, podman) = latency_in_turns(ctx, None)?;
    println!("   peapod run --rm                  {:>10}", ms(peapod));
    if let Some(p) = podman {
        println!(
            "   podman run --rm (netavark)       {:>10}   peapod/podman = {:.2}x  (target <= 0.33x: {})",
            ms(p),
            ratio(peapod, p),
            verdict(ratio(peapod, p) <= 1.0 / 3.0)
        );
    }
    Ok(())
}

/// Downloads a 256 MiB file from busybox httpd in a container, once through a port
/// published on 127.0.0.1 (DNAT) and once from the container's own address: the cost of
/// the published path.
fn port_throughput(ctx: &Ctx) -> Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let name = format!("bench-web-{}", std::process::id());
    ctx.peapod.quiet(&[
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        &format!("127.0.0.1:{port}:80"),
        IMG,
        "sh",
        "-c",
        "mkdir -p /www && dd if=/dev/zero of=/www/big bs=1M count=256 2>/dev/null && \
         exec httpd -f -p 80 -h /www",
    ])?;
    let result = (|| -> Result<()> {
        let ip = ctx
            .peapod
            .quiet(&[
                "inspect",
                "--format",
                "{{.NetworkSettings.IPAddress}}",
                &name,
            ])?
            .trim()
            .to_string();
        let fetch = |addr: &str| -> Result<f64> {
            let mut best: f64 = 0.0;
            for _ in 0..3 {
                let start = Instant::now();
                let bytes = download(addr)?;
                let secs = start.elapsed().as_secs_f64();
                if bytes != 256 << 20 {
                    bail!("got {bytes} bytes from {addr}, expected 256 MiB");
                }
                best = best.max(bytes as f64 / secs / (1 << 20) as f64);
            }
            Ok(best)
        };
        // The file is written before httpd starts: wait until it answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        while download(&format!("{ip}:80")).is_err() {
            if Instant::now() > deadline {
                bail!("the benchmark's httpd did not come up");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let direct = fetch(&format!("{ip}:80"))?;
        let published = fetch(&format!("127.0.0.1:{port}"))?;
        let cost = (1.0 - published / direct) * 100.0;
        println!("   best of 3 downloads of 256 MiB");
        println!("   from the container's address {ip}:80   {direct:>8.0} MiB/s");
        println!(
            "   through 127.0.0.1:{port} (published)  {published:>8.0} MiB/s   cost {cost:.1} %  (target < 10 %: {})",
            verdict(cost < 10.0)
        );
        Ok(())
    })();
    let _ = ctx.peapod.quiet(&["rm", "-f", "-t", "0", &name]);
    result
}

/// HTTP GET /big from `addr`; the body's length.
pub(crate) fn download(addr: &str) -> Result<u64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr.parse()?, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(b"GET /big HTTP/1.0\r\n\r\n")?;
    let mut buf = vec![0u8; 1 << 20];
    let mut header: Vec<u8> = Vec::new();
    let mut in_body = false;
    let mut body = 0u64;
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if in_body {
            body += n as u64;
            continue;
        }
        header.extend_from_slice(&buf[..n]);
        if let Some(end) = header.windows(4).position(|w| w == b"\r\n\r\n") {
            in_body = true;
            body = (header.len() - end - 4) as u64;
        } else if header.len() > 65536 {
            bail!("no end of the HTTP header from {addr}");
        }
    }
    Ok(body)
}

pub(crate) fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// A runc bundle of the busybox rootfs whose process is `true`.
fn runc_bundle(ctx: &Ctx, runtime: &Path) -> Result<PathBuf> {
    let bundle = ctx.dir.join("runc-bundle");
    let rootfs = bundle.join("rootfs");
    fs::create_dir_all(&rootfs)?;
    let file =
        fs::File::open(&ctx.tar).with_context(|| format!("cannot open {}", ctx.tar.display()))?;
    let mut archive = tar::Archive::new(file);
    archive.set_preserve_permissions(true);
    archive
        .unpack(&rootfs)
        .with_context(|| format!("cannot unpack the rootfs into {}", rootfs.display()))?;
    shell::run(Command::new(runtime).arg("spec").current_dir(&bundle))?;
    let path = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&path)?)
        .with_context(|| format!("cannot parse {}", path.display()))?;
    spec["process"]["args"] = serde_json::json!(["true"]);
    spec["process"]["terminal"] = serde_json::json!(false);
    if let Some(rlimits) = spec["process"]["rlimits"].as_array() {
        spec["process"]["rlimits"] = serde_json::Value::Array(clamp_rlimits(rlimits));
    }
    fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(bundle)
}

/// Lowers each rlimit to the current hard limit (this host refuses to raise one even to
/// root); drops those we cannot read.
fn clamp_rlimits(rlimits: &[serde_json::Value]) -> Vec<serde_json::Value> {
    use nix::sys::resource::{Resource, getrlimit};
    let resource = |name: &str| -> Option<Resource> {
        Some(match name {
            "RLIMIT_NOFILE" => Resource::RLIMIT_NOFILE,
            "RLIMIT_NPROC" => Resource::RLIMIT_NPROC,
            "RLIMIT_CORE" => Resource::RLIMIT_CORE,
            "RLIMIT_STACK" => Resource::RLIMIT_STACK,
            "RLIMIT_MEMLOCK" => Resource::RLIMIT_MEMLOCK,
            "RLIMIT_AS" => Resource::RLIMIT_AS,
            "RLIMIT_DATA" => Resource::RLIMIT_DATA,
            "RLIMIT_FSIZE" => Resource::RLIMIT_FSIZE,
            "RLIMIT_CPU" => Resource::RLIMIT_CPU,
            _ => return None,
        })
    };
    rlimits
        .iter()
        .filter_map(|r| {
            let kind = r["type"].as_str()?;
            let (_, cur_hard) = getrlimit(resource(kind)?).ok()?;
            let hard = r["hard"].as_u64()?.min(cur_hard);
            let soft = r["soft"].as_u64()?.min(hard);
            Some(serde_json::json!({"type": kind, "hard": hard, "soft": soft}))
        })
        .collect()
}

fn runc_latency(ctx: &Ctx) -> Result<Duration> {
    let runc = shell::which("runc").context("runc is not installed")?;
    let bundle = runc_bundle(ctx, &runc)?;
    let base = format!("peapod-bench-{}", std::process::id());
    let samples = time_runs(ctx.runs, "runc run", |i| {
        let mut cmd = Command::new(&runc);
        cmd.args(["run", "--bundle"])
            .arg(&bundle)
            .arg(format!("{base}-{i}"));
        cmd
    });
    // `runc run` deletes the container when it exits; make sure of it even after a failure.
    for i in 0..=ctx.runs {
        let _ = Command::new(&runc)
            .args(["delete", "-f", &format!("{base}-{i}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    Ok(median(&samples?))
}

/// A podman store of the bench's own (root, runroot, containers.conf, network dir) with the
/// busybox image imported; emptied and removed on drop.
pub(crate) struct PodmanStore {
    podman: PathBuf,
    dir: PathBuf,
    conf: PathBuf,
}

impl PodmanStore {
    pub(crate) fn new(ctx: &Ctx, podman: &Path) -> Result<PodmanStore> {
        let dir = ctx.dir.join("podman");
        fs::create_dir_all(&dir)?;
        let conf = dir.join("containers.conf");
        fs::write(
            &conf,
            format!(
                "[containers]\n\
                 default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\n\
                 [engine]\n\
                 runtime = \"runc\"\n\
                 cgroup_manager = \"cgroupfs\"\n\
                 events_logger = \"file\"\n\n\
                 [network]\n\
                 network_config_dir = \"{}\"\n",
                dir.join("networks").display()
            ),
        )?;
        let store = PodmanStore {
            podman: podman.to_path_buf(),
            dir,
            conf,
        };
        let out = store
            .command(&["import", &ctx.tar.to_string_lossy(), IMG])
            .output()
            .context("cannot run podman import")?;
        if !out.status.success() {
            bail!(
                "podman import failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(store)
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.podman);
        c.env("CONTAINERS_CONF", &self.conf)
            .env("PATH", shell::full_path())
            .arg("--root")
            .arg(self.dir.join("r"))
            .arg("--runroot")
            .arg(self.dir.join("rr"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .args(args)
            .stdin(Stdio::null());
        c
    }
}

impl Drop for PodmanStore {
    fn drop(&mut self) {
        let _ = self.command(&["rm", "-af", "-t", "0"]).output();
        let _ = self.command(&["rmi", "-af"]).output();
        for e in peapod_tests::scrub_dir(&self.dir) {
            eprintln!("podman cleanup: {e}");
        }
    }
}

/// Creates containers with `peapod create` over two parallel workers until there are
/// `target` in total.
fn create_containers(ctx: &Ctx, have: usize, target: usize) -> Result<()> {
    let todo = target.saturating_sub(have);
    let halves = [todo / 2, todo - todo / 2];
    std::thread::scope(|s| {
        let workers: Vec<_> = halves
            .iter()
            .map(|&count| {
                s.spawn(move || -> Result<()> {
                    for _ in 0..count {
                        ctx.peapod
                            .quiet(&["create", "--network", "none", IMG, "true"])?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("a create worker panicked"))
    })
}

fn ps_scaling(ctx: &Ctx) -> Result<()> {
    let max = ctx.containers;
    let mut checkpoints = vec![max / 4, max / 2, max];
    checkpoints.retain(|&c| c > 0);
    checkpoints.dedup();
    println!("   median of 10 runs of `peapod ps -a`; target: under 50 ms at 1000, linear growth");
    let mut have = 0;
    let mut results = Vec::new();
    for count in checkpoints {
        let start = Instant::now();
        create_containers(ctx, have, count)?;
        have = count;
        let created_in = start.elapsed();
        let listed = ctx.peapod.quiet(&["ps", "-a", "-q"])?.lines().count();
        if listed != count {
            bail!("ps -a -q lists {listed} containers, expected {count}");
        }
        let samples = time_runs(10, "peapod ps -a", |_| ctx.peapod.command(&["ps", "-a"]))?;
        let m = median(&samples);
        results.push((count, m));
        println!(
            "   {count:>5} containers: ps -a {:>10}  ({:.3} ms per container; created in {:.1?})",
            ms(m),
            m.as_secs_f64() * 1000.0 / count as f64,
            created_in
        );
    }
    if let Some(&(count, m)) = results.last() {
        if count >= 1000 {
            println!(
                "   at {count}: {} (target < 50 ms: {})",
                ms(m),
                verdict(m < Duration::from_millis(50))
            );
        }
        if let (Some(&(c0, m0)), true) = (results.first(), results.len() > 1) {
            // Linear: time per container should not grow much with the count.
            let growth = (m.as_secs_f64() / count as f64) / (m0.as_secs_f64() / c0 as f64);
            println!(
                "   per-container cost at {count} vs {c0}: {growth:.2}x (linear or better: <= ~1.2x; {})",
                verdict(growth <= 1.2)
            );
        }
    }
    let start = Instant::now();
    ctx.peapod.quiet(&["rm", "-af", "-t", "0"])?;
    println!("   removed {have} containers in {:.1?}", start.elapsed());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rlimits_are_clamped_to_the_hard_limit() {
        use nix::sys::resource::{Resource, getrlimit};
        let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        let input = vec![
            serde_json::json!({"type": "RLIMIT_NOFILE", "hard": u64::MAX, "soft": u64::MAX}),
            serde_json::json!({"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}),
            serde_json::json!({"type": "RLIMIT_CORE", "hard": 0, "soft": 0}),
        ];
        let out = clamp_rlimits(&input);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0]["hard"].as_u64(), Some(hard));
        assert!(out[0]["soft"].as_u64().unwrap() <= hard);
        assert_eq!(out[1]["hard"].as_u64(), Some(0));
    }
}
