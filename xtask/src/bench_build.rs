//! The build section of `cargo xtask bench` (its own file: bench.rs is near the size limit).
//!
//! A 6-step Containerfile (FROM, ENV, COPY of a 50 MB tree, RUN, RUN, CMD) built with
//! `--no-cache` (uncached) and again with nothing changed (cached), by `peapod build` and by
//! `podman build --runtime runc` (a fresh --root) in the same run. Targets: uncached at most
//! podman's time, cached at most a third of podman's.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::bench::{Ctx, ratio, verdict};
use crate::shell::{self, median, ms, which};

const FILES: usize = 50;
const FILE_MB: usize = 1;

const CONTAINERFILE: &str = "FROM localhost/busybox\n\
ENV BENCH=1\n\
COPY tree /tree\n\
RUN du -s /tree > /du.txt\n\
RUN echo done > /done.txt\n\
CMD [\"cat\", \"/du.txt\"]\n";

/// Writes the context: the Containerfile and 50 files of 1 MB of pseudo-random bytes.
fn write_context(dir: &Path) -> Result<()> {
    let tree = dir.join("tree");
    std::fs::create_dir_all(&tree)?;
    std::fs::write(dir.join("Containerfile"), CONTAINERFILE)?;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in 0..FILES {
        let mut data = vec![0u8; FILE_MB << 20];
        for chunk in data.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        std::fs::write(tree.join(format!("f{i:02}.bin")), data)?;
    }
    Ok(())
}

/// Median uncached and cached build times of `make(args)`.
fn measure(
    make: &dyn Fn(&[&str]) -> Command,
    ctx_dir: &Path,
    what: &str,
) -> Result<(Duration, Duration)> {
    let c = ctx_dir.to_str().context("a utf-8 context path")?;
    let mut uncached = Vec::new();
    for _ in 0..3 {
        uncached.push(crate::bench::time_one(
            make(&["build", "-q", "--no-cache", "-t", "bench-build", c]),
            what,
        )?);
    }
    crate::bench::time_one(make(&["build", "-q", "-t", "bench-build", c]), what)?;
    let mut cached = Vec::new();
    for _ in 0..5 {
        cached.push(crate::bench::time_one(
            make(&["build", "-q", "-t", "bench-build", c]),
            what,
        )?);
    }
    Ok((median(&uncached), median(&cached)))
}

pub fn build_speed(ctx: &Ctx) -> Result<()> {
    let dir = ctx.dir.join("build");
    let ctx_dir = dir.join("context");
    write_context(&ctx_dir)?;
    let peapod = |args: &[&str]| ctx.peapod.command(args);
    let (pu, pc) = measure(&peapod, &ctx_dir, "peapod build")?;
    println!("   peapod build, uncached: {} (median of 3)", ms(pu));
    println!("   peapod build, cached:   {} (median of 5)", ms(pc));
    let _ = ctx.peapod.command(&["rmi", "-f", "bench-build"]).output();
    let _ = ctx.peapod.command(&["image", "prune", "-f"]).output();
    match which("podman") {
        None => println!("   podman build: not installed, not compared"),
        Some(podman) => {
            let (mu, mc) = podman_times(ctx, &podman, &dir, &ctx_dir)?;
            println!("   podman build, uncached: {} (median of 3)", ms(mu));
            println!("   podman build, cached:   {} (median of 5)", ms(mc));
            let ru = ratio(pu, mu);
            let rc = ratio(pc, mc);
            println!(
                "   uncached peapod / podman: {ru:.2} (target <= 1.00: {})",
                verdict(ru <= 1.0)
            );
            println!(
                "   cached peapod / podman: {rc:.2} (target <= 0.33: {})",
                verdict(rc <= 1.0 / 3.0)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn podman_times(
    ctx: &Ctx,
    podman: &Path,
    dir: &Path,
    ctx_dir: &Path,
) -> Result<(Duration, Duration)> {
    let pdir = dir.join("podman");
    std::fs::create_dir_all(&pdir)?;
    let conf = pdir.join("containers.conf");
    std::fs::write(
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
            pdir.join("networks").display()
        ),
    )?;
    let cmd = |args: &[&str]| {
        let mut c = Command::new(podman);
        c.env("CONTAINERS_CONF", &conf)
            .env("PATH", shell::full_path())
            .arg("--root")
            .arg(pdir.join("r"))
            .arg("--runroot")
            .arg(pdir.join("rr"))
            .arg("--tmpdir")
            .arg(pdir.join("tmp"))
            .arg("--runtime")
            .arg("runc")
            .args(args)
            .stdin(Stdio::null());
        c
    };
    let result = (|| {
        crate::bench::time_one(
            cmd(&["import", &ctx.tar.to_string_lossy(), "localhost/busybox"]),
            "podman import",
        )?;
        measure(&cmd, ctx_dir, "podman build")
    })();
    let _ = cmd(&["rm", "-af", "-t", "0"]).output();
    let _ = cmd(&["rmi", "-af"]).output();
    for e in peapod_tests::scrub_dir(&pdir) {
        eprintln!("podman cleanup: {e}");
    }
    result
}
