//! `cargo xtask demo`: peapod's main job end to end, on a machine with no registry.
//!
//! Builds the busybox image from the host's busybox-static, imports it, runs containers from
//! it and shows each command with its output. When `docker-registry` is installed, a local
//! registry takes the image (`push`) and gives it back under a `docker.io/…` name through a
//! `registries.conf` mirror. Everything happens in a private temp `--root`/`--runroot`,
//! removed at the end even when a step fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::shell::{self, quote};
use crate::{Opts, install};

const IMG: &str = "localhost/busybox";

/// One step of the demo: a peapod command, or a pause so the container produces output.
enum Step {
    Peapod(Vec<String>),
    Sleep(Duration),
    /// Fetch a URL from the host, retrying for a few seconds, and show the body.
    Fetch(String),
    /// Show a file the demo wrote.
    Show(String, String),
}

/// The registry steps: push to the local registry, then run the image back by a
/// `docker.io/…` name that registries.conf mirrors to it.
fn registry_steps(addr: &str, conf: &Path, conf_text: &str) -> Vec<Step> {
    let p = |args: &[&str]| Step::Peapod(args.iter().map(|a| (*a).to_owned()).collect());
    let local = format!("{addr}/peapod/busybox");
    vec![
        p(&["push", "--tls-verify=false", IMG, &local]),
        Step::Show(conf.display().to_string(), conf_text.to_owned()),
        p(&["rmi", IMG]),
        p(&[
            "run",
            "--rm",
            "docker.io/peapod/busybox",
            "echo",
            "hello from the registry",
        ]),
        p(&["images", "--digests"]),
        p(&["rmi", "docker.io/peapod/busybox"]),
        p(&["pull", "docker.io/peapod/busybox"]),
        p(&["tag", "docker.io/peapod/busybox", IMG]),
    ]
}

fn steps(tar: &Path, pod_port: u16) -> Vec<Step> {
    let p = |args: &[&str]| Step::Peapod(args.iter().map(|a| (*a).to_owned()).collect());
    vec![
        p(&["import", &tar.to_string_lossy(), IMG]),
        p(&["images"]),
        p(&["run", "--rm", IMG, "echo", "hello from peapod"]),
        p(&[
            "run",
            "-d",
            "--name",
            "demo-web",
            IMG,
            "sh",
            "-c",
            "echo serving; while true; do date; sleep 1; done",
        ]),
        p(&["ps"]),
        Step::Sleep(Duration::from_secs(2)),
        p(&["logs", "demo-web"]),
        p(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.Pid}}",
            "demo-web",
        ]),
        p(&["stop", "-t", "2", "demo-web"]),
        p(&["ps", "-a"]),
        p(&["rm", "demo-web"]),
        // Networking: a user network with DNS, a published port, name resolution.
        p(&["network", "create", "demo-net"]),
        p(&[
            "run",
            "-d",
            "--name",
            "demo-httpd",
            "--network",
            "demo-net",
            "-p",
            "127.0.0.1::80",
            IMG,
            "sh",
            "-c",
            "mkdir -p /www && echo hello over the network > /www/index && exec httpd -f -p 80 -h /www",
        ]),
        p(&["port", "demo-httpd"]),
        Step::Sleep(Duration::from_secs(1)),
        p(&[
            "run",
            "--rm",
            "--network",
            "demo-net",
            IMG,
            "wget",
            "-qO-",
            "http://demo-httpd/index",
        ]),
        p(&["rm", "-f", "-t", "0", "demo-httpd"]),
        p(&["network", "rm", "demo-net"]),
        // A pod: the backend serves on an unpublished port; the frontend fetches it over
        // localhost and serves the result on the pod's published port.
        p(&[
            "pod",
            "create",
            "--name",
            "demo-pod",
            "-p",
            &format!("127.0.0.1:{pod_port}:8080"),
        ]),
        p(&[
            "run",
            "-d",
            "--pod",
            "demo-pod",
            "--name",
            "demo-backend",
            IMG,
            "sh",
            "-c",
            "mkdir -p /www && echo hello from the backend > /www/index && exec httpd -f -p 3000 -h /www",
        ]),
        p(&[
            "run",
            "-d",
            "--pod",
            "demo-pod",
            "--name",
            "demo-frontend",
            IMG,
            "sh",
            "-c",
            "mkdir -p /www && until wget -qO /www/index http://localhost:3000/index; do sleep 0.2; done && exec httpd -f -p 8080 -h /www",
        ]),
        Step::Fetch(format!("http://127.0.0.1:{pod_port}/index")),
        p(&["pod", "ps"]),
        p(&["ps", "--pod"]),
        p(&["pod", "rm", "-f", "demo-pod"]),
        p(&["rmi", IMG]),
    ]
}

pub fn main(args: &[String]) -> Result<()> {
    let opts = Opts::parse(args, &[], &["--installed"])?;
    let peapod = if opts.flag("--installed") {
        crate::host::ensure(true)?;
        shell::which("peapod")
            .context("no `peapod` on PATH: run `cargo xtask install` first, or drop --installed")?
    } else {
        install::stage()?.join("bin/peapod")
    };
    let tar = peapod_tests::busybox_rootfs_tar().context("building the busybox image")?;
    let tmp = tempfile::Builder::new()
        .prefix("peapod-demo-")
        .tempdir_in("/tmp")
        .context("cannot create a temp dir")?
        .keep();
    let demo = Peapod::new(peapod, &tmp);
    println!(
        "# every `peapod` below runs as `{} --root {} --runroot {}`",
        demo.program.display(),
        demo.root.display(),
        demo.runroot.display()
    );
    let pod_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port for the pod")?
        .port();
    let mut all = steps(&tar, pod_port);
    // The registry steps go before the last `rmi`.
    let _registry = if peapod_tests::registry::available() {
        let reg = peapod_tests::registry::Registry::start(
            &tmp.join("registry"),
            &peapod_tests::registry::RegistryOptions::default(),
        )
        .context("starting the local registry")?;
        let conf_text = format!(
            "[[registry]]\nprefix = \"docker.io/peapod\"\nlocation = \"docker.io/peapod\"\n[[registry.mirror]]\nlocation = \"{}/peapod\"\ninsecure = true\n",
            reg.addr
        );
        std::fs::write(&demo.registries_conf, &conf_text)?;
        let at = all.len() - 1;
        all.splice(
            at..at,
            registry_steps(&reg.addr, &demo.registries_conf, &conf_text),
        );
        Some(reg)
    } else {
        println!("# docker-registry is not installed: the registry steps are skipped");
        None
    };
    let result = run_steps(&demo, &all);
    println!("# cleaning up");
    demo.cleanup(&tmp);
    result
}

fn run_steps(demo: &Peapod, steps: &[Step]) -> Result<()> {
    for step in steps {
        match step {
            Step::Sleep(d) => std::thread::sleep(*d),
            Step::Show(path, text) => {
                println!("\n$ cat {path}   # CONTAINERS_REGISTRIES_CONF");
                print!("{text}");
            }
            Step::Fetch(url) => {
                println!("\n$ curl {url}");
                print!("{}", fetch(url)?);
            }
            Step::Peapod(args) => {
                let shown: Vec<String> = args
                    .iter()
                    .map(|a| quote(std::ffi::OsStr::new(a)))
                    .collect();
                println!("\n$ peapod {}", shown.join(" "));
                let status = demo.show(args)?;
                if !status.success() {
                    bail!("step `peapod {}` failed: {status}", shown.join(" "));
                }
            }
        }
    }
    println!("\ndemo finished: every step succeeded");
    Ok(())
}

/// GET an `http://HOST:PORT/PATH` URL from the host, retrying for ten seconds while the
/// server comes up; the body.
fn fetch(url: &str) -> Result<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").context("an http:// URL")?;
    let (addr, path) = rest.split_once('/').unwrap_or((rest, ""));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(addr)?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            write!(s, "GET /{path} HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(resp) if resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200") => {
                return Ok(resp
                    .split_once("\r\n\r\n")
                    .map(|(_, b)| b.to_string())
                    .unwrap_or_default());
            }
            _ if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            Ok(resp) => bail!("{url} answered {:?}", resp.lines().next().unwrap_or("")),
            Err(e) => bail!("cannot fetch {url}: {e}"),
        }
    }
}

/// A peapod with its private root, for the demo and the bench.
pub struct Peapod {
    pub program: PathBuf,
    pub root: PathBuf,
    pub runroot: PathBuf,
    /// Passed as `CONTAINERS_REGISTRIES_CONF` (a missing file is an empty configuration).
    pub registries_conf: PathBuf,
}

impl Peapod {
    pub fn new(program: PathBuf, dir: &Path) -> Peapod {
        Peapod {
            program,
            root: dir.join("root"),
            runroot: dir.join("runroot"),
            registries_conf: dir.join("registries.conf"),
        }
    }

    /// `peapod --root R --runroot RR <args>`, not yet run.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(args)
            .env("PATH", shell::full_path())
            .env("CONTAINERS_REGISTRIES_CONF", &self.registries_conf)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs with stdout/stderr shown, at most 60 s.
    pub fn show(&self, args: &[String]) -> Result<std::process::ExitStatus> {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let mut child = self
            .command(args)
            .spawn()
            .with_context(|| format!("cannot run {}", self.program.display()))?;
        shell::wait_timeout(&mut child, Duration::from_secs(60))
            .with_context(|| format!("peapod {}", args.join(" ")))
    }

    /// Runs quietly; returns stdout when it succeeds.
    pub fn quiet<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String> {
        let mut cmd = self.command(args);
        let shown = shell::display(&cmd);
        let out = cmd
            .output()
            .with_context(|| format!("cannot run `{shown}`"))?;
        if !out.status.success() {
            bail!(
                "`{shown}` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Removes every container and image, then whatever is left under `dir` (mounts,
    /// processes, runtime containers) and `dir` itself. Reports problems, never fails.
    pub fn cleanup(&self, dir: &Path) {
        if let Err(e) = self.quiet(&["rm", "-af", "-t", "0"]) {
            eprintln!("cleanup: {e:#}");
        }
        let _ = self.quiet(&["rmi", "-af"]);
        for e in peapod_tests::scrub_dir(dir) {
            eprintln!("cleanup: {e}");
        }
    }
}
