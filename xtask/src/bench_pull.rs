//! The pull section of `cargo xtask bench` (its own file: bench.rs is near the size limit).
//!
//! An image of ~200 MB in 5 layers (incompressible data, gzip) is written as an OCI layout
//! and pushed with skopeo to a local `docker-registry`; then, in the same run, each client
//! pulls it into an empty store: `peapod pull`, `podman pull` (fresh --root), and
//! `skopeo copy … oci:` (a directory, no unpacking: a floor for the transfer). Then the
//! re-pull of an image already present. Targets: peapod at most half of podman's time;
//! a re-pull under 50 ms.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::bench::Ctx;
use crate::demo::Peapod;
use crate::shell::{median, ms, which};

const LAYERS: usize = 5;
const LAYER_MB: usize = 40;

/// A tar holding one file of `size` pseudo-random bytes.
fn random_layer(i: usize, size: usize) -> Result<Vec<u8>> {
    let mut data = vec![0u8; size];
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1);
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let mut t = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    t.append_data(&mut h, format!("data/layer-{i}.bin"), &data[..])?;
    Ok(t.into_inner()?)
}

fn timed(mut cmd: Command, what: &str) -> Result<Duration> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(took)
}

pub fn pull_speed(ctx: &Ctx) -> Result<()> {
    if !peapod_tests::registry::available() || which("skopeo").is_none() {
        bail!("docker-registry and skopeo are needed (apt-get install docker-registry skopeo)");
    }
    let dir = ctx.dir.join("pull");
    let reg = peapod_tests::registry::Registry::start(
        &dir.join("registry"),
        &peapod_tests::registry::RegistryOptions::default(),
    )?;
    let name = push_big_image(ctx, &dir, &reg)?;
    let runs = 3;
    let pm = time_peapod(ctx, &dir, &name, runs)?;
    println!(
        "   peapod pull (empty store): {} (median of {runs})",
        ms(pm)
    );
    let mut skopeo = Vec::new();
    for i in 0..runs {
        let out = dir.join(format!("skopeo-{i}"));
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "--quiet", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{}:big", out.display()));
        skopeo.push(timed(cmd, "skopeo copy")?);
        let _ = std::fs::remove_dir_all(&out);
    }
    println!(
        "   skopeo copy to oci: {} (median of {runs})",
        ms(median(&skopeo))
    );
    match which("podman") {
        None => println!("   podman pull: not installed, not compared"),
        Some(podman) => {
            let m = time_podman(&podman, &dir, &name, runs)?;
            println!("   podman pull (empty store): {} (median of {runs})", ms(m));
            let r = crate::bench::ratio(pm, m);
            println!(
                "   peapod / podman: {r:.2} (target <= 0.50: {})",
                crate::bench::verdict(r <= 0.5)
            );
        }
    }
    drop(reg);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Writes the big image as an OCI layout and pushes it with skopeo; returns its name.
fn push_big_image(ctx: &Ctx, dir: &Path, reg: &peapod_tests::registry::Registry) -> Result<String> {
    let mut layout = peapod_tests::oci::Layout::create(&dir.join("layout"))?;
    let mut tars = vec![std::fs::read(&ctx.tar)?];
    for i in 1..LAYERS {
        tars.push(random_layer(i, LAYER_MB << 20)?);
    }
    let img = layout.image(Some("big"), "amd64", &tars, &["sh"])?;
    layout.finish()?;
    drop(tars);
    peapod_tests::registry::skopeo_copy(&layout.dir, "big", &reg.docker("bench/big"), &[])?;
    let size: u64 = img
        .layers
        .iter()
        .map(|d| {
            std::fs::metadata(layout.dir.join("blobs/sha256").join(&d["sha256:".len()..]))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum();
    println!(
        "   image: {} layers, {:.0} MB compressed, from {}",
        img.layers.len(),
        size as f64 / 1e6,
        reg.addr
    );
    Ok(format!("{}/bench/big", reg.addr))
}

/// The median pull into an empty store; prints the re-pull of a present image too.
fn time_peapod(ctx: &Ctx, dir: &Path, name: &str, runs: usize) -> Result<Duration> {
    let mut times = Vec::new();
    for i in 0..runs {
        let root = dir.join(format!("peapod-{i}"));
        let p = Peapod::new(ctx.peapod.program.clone(), &root);
        let pull = || p.command(&["pull", "-q", "--tls-verify=false", name]);
        times.push(timed(pull(), "peapod pull")?);
        if i + 1 == runs {
            let mut again = Vec::new();
            for _ in 0..10 {
                again.push(timed(pull(), "peapod pull (present)")?);
            }
            let m = median(&again);
            println!(
                "   re-pull of a present image: {} (target < 50 ms: {})",
                ms(m),
                crate::bench::verdict(m < Duration::from_millis(50))
            );
        }
        p.cleanup(&root);
    }
    Ok(median(&times))
}

fn time_podman(podman: &Path, dir: &Path, name: &str, runs: usize) -> Result<Duration> {
    let mut times = Vec::new();
    for i in 0..runs {
        let root = dir.join(format!("podman-{i}"));
        times.push(timed(podman_pull(podman, &root, name), "podman pull")?);
        let mut rm = podman_cmd(podman, &root);
        rm.args(["rmi", "-af"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = rm.status();
        for e in peapod_tests::scrub_dir(&root) {
            eprintln!("cleanup: {e}");
        }
    }
    Ok(median(&times))
}

fn podman_cmd(podman: &Path, root: &Path) -> Command {
    let mut c = Command::new(podman);
    c.arg("--root")
        .arg(root.join("root"))
        .arg("--runroot")
        .arg(root.join("runroot"));
    c
}

fn podman_pull(podman: &Path, root: &Path, name: &str) -> Command {
    let mut c = podman_cmd(podman, root);
    c.args(["pull", "-q", "--tls-verify=false", name]);
    c
}
