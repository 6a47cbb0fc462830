//! `cargo xtask test`: stage-install, then run every test (unit and end-to-end) against the
//! staged binaries.

use anyhow::{Result, bail};

use crate::install;
use crate::shell;

pub fn main(args: &[String]) -> Result<()> {
    let prefix = install::stage()?;
    // peapod-pause's binary is linked without a C runtime (see crates/pause/build.rs), so
    // its test-harness build cannot run: test its library and integration tests instead.
    // --no-fail-fast: one failing test binary must not hide the results of the others.
    let runs: [&[&str]; 2] = [
        &[
            "test",
            "--workspace",
            "--exclude",
            "peapod-pause",
            "--all-targets",
            "--no-fail-fast",
        ],
        &[
            "test",
            "-p",
            "peapod-pause",
            "--lib",
            "--tests",
            "--no-fail-fast",
        ],
    ];
    // Packages named by the caller (`-p peapod-tests -- FILTER`): one run of just those;
    // the two runs above would each take them, so every test ran twice.
    let picked = args
        .iter()
        .any(|a| a == "-p" || a == "--package" || a.starts_with("--package="));
    let one: [&[&str]; 1] = [&["test", "--no-fail-fast"]];
    let runs: &[&[&str]] = if picked { &one } else { &runs };
    let mut failed = Vec::new();
    for &run in runs {
        let mut cmd = shell::cargo();
        cmd.args(run)
            .args(args)
            .env("PEAPOD_PREFIX", &prefix)
            .env("PATH", shell::full_path());
        eprintln!(
            "running: PEAPOD_PREFIX={} {}",
            prefix.display(),
            shell::display(&cmd)
        );
        let status = cmd.status()?;
        if !status.success() {
            failed.push(format!("{} ({status})", run.join(" ")));
        }
    }
    if !failed.is_empty() {
        bail!("tests failed: {}", failed.join("; "));
    }
    Ok(())
}
