//! `cargo xtask ci`: what `.ci/run` does once the host's packages are installed.

use std::time::Instant;

use anyhow::{Context, Result};

use crate::shell;

pub fn main(args: &[String]) -> Result<()> {
    crate::Opts::parse(args, &[], &[])?;
    phase("cargo fmt --all --check", || {
        shell::run(shell::cargo().args(["fmt", "--all", "--check"]))
    })?;
    phase("cargo clippy", || {
        shell::run(shell::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    phase("cargo xtask test", || crate::test::main(&[]))?;
    phase("cargo xtask podman-suite", || {
        crate::suite::main(&["--no-build".to_string()])
    })
}

fn phase(name: &str, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let start = Instant::now();
    eprintln!("=== [{} UTC] {name}", shell::utc_now());
    let result = f().with_context(|| format!("phase `{name}`"));
    eprintln!(
        "=== [{} UTC] {name}: {} in {:.0?}",
        shell::utc_now(),
        if result.is_ok() { "ok" } else { "FAILED" },
        start.elapsed()
    );
    result
}
