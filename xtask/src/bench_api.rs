//! The API service beside podman's, in the same run: `docker run --rm IMG true` through
//! `peapod system service` and through `podman system service` (in turns, so both meet the
//! same load), and requests per second of `GET /containers/json` with 100 containers in
//! each store (one connection a request, sequential, for a fixed time).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::{Ctx, IMG, PodmanStore, ratio, time_one, verdict};
use crate::shell::{self, median, ms};

const DOCKER: &str = "/usr/local/bin/docker";
const CONTAINERS: usize = 100;
const LIST_FOR: Duration = Duration::from_secs(3);

/// A service process, stopped when dropped.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

fn start(mut cmd: Command, sock: &Path) -> Result<Service> {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start `{}`", shell::display(&cmd)))?;
    let service = Service(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(sock).is_err() {
        if Instant::now() > deadline {
            bail!("no service answered on {}", sock.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(service)
}

fn docker(sock: &Path, config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(DOCKER);
    c.env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .env("DOCKER_CONFIG", config)
        .args(args);
    c
}

/// `GET /v1.41/containers/json?all=1` over a fresh connection: the number of containers.
fn list_once(sock: &Path) -> Result<usize> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(
        b"GET /v1.41/containers/json?all=1 HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
    )?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    let text = String::from_utf8_lossy(&body);
    if !text.starts_with("HTTP/1.1 200") {
        bail!("{}", text.lines().next().unwrap_or_default());
    }
    Ok(text.matches("\"Id\"").count())
}

/// Requests answered in [`LIST_FOR`], each checked to list `want` containers.
fn list_rate(sock: &Path, want: usize) -> Result<f64> {
    let got = list_once(sock)?;
    if got < want {
        bail!("the list has {got} containers, not {want}");
    }
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < LIST_FOR {
        list_once(sock)?;
        n += 1;
    }
    Ok(f64::from(n) / start.elapsed().as_secs_f64())
}

pub(crate) fn api_service(ctx: &Ctx) -> Result<()> {
    if !Path::new(DOCKER).is_file() {
        println!("   the docker CLI ({DOCKER}) is not installed: skipped");
        return Ok(());
    }
    let Some(podman) = shell::which("podman") else {
        println!("   podman: not installed, skipped");
        return Ok(());
    };
    let dir: PathBuf = ctx.dir.join("api");
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("docker-config");
    let ours_sock = dir.join("peapod.sock");
    let theirs_sock = dir.join("podman.sock");
    let store = PodmanStore::new(ctx, &podman)?;
    let uri = |p: &Path| format!("unix://{}", p.display());
    let _ours = start(
        ctx.peapod
            .command(&["system", "service", "--time", "0", &uri(&ours_sock)]),
        &ours_sock,
    )?;
    let _theirs = start(
        store.command(&["system", "service", "--time", "0", &uri(&theirs_sock)]),
        &theirs_sock,
    )?;
    let run = ["run", "--rm", IMG, "true"];
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..=ctx.runs {
        let a = time_one(docker(&ours_sock, &config, &run), "docker run via peapod")?;
        let b = time_one(docker(&theirs_sock, &config, &run), "docker run via podman")?;
        if i > 0 {
            ours.push(a);
            theirs.push(b);
        }
    }
    let (a, b) = (median(&ours), median(&theirs));
    println!(
        "   median of {} `docker run --rm {IMG} true`, in turns",
        ctx.runs
    );
    println!("   through peapod system service     {:>10}", ms(a));
    println!(
        "   through podman system service     {:>10}   peapod/podman = {:.2}x  (target <= 0.5x: {})",
        ms(b),
        ratio(a, b),
        verdict(ratio(a, b) <= 0.5)
    );

    for _ in 0..CONTAINERS {
        ctx.peapod.quiet(&["create", IMG, "true"])?;
        let out = store.command(&["create", IMG, "true"]).output()?;
        if !out.status.success() {
            bail!(
                "podman create failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    let listed = (|| -> Result<(f64, f64)> {
        Ok((
            list_rate(&ours_sock, CONTAINERS)?,
            list_rate(&theirs_sock, CONTAINERS)?,
        ))
    })();
    let _ = ctx.peapod.quiet(&["rm", "-a", "-f", "-t", "0"]);
    let (r_ours, r_theirs) = listed?;
    println!(
        "   GET /containers/json?all=1 with {CONTAINERS} containers, one connection a request, {} s each",
        LIST_FOR.as_secs()
    );
    println!("   peapod                            {r_ours:>8.0} req/s");
    println!(
        "   podman                            {r_theirs:>8.0} req/s   peapod/podman = {:.2}x  (target >= 3x: {})",
        r_ours / r_theirs.max(f64::MIN_POSITIVE),
        verdict(r_ours >= 3.0 * r_theirs)
    );
    Ok(())
}
