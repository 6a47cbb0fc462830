//! `cargo xtask podman-suite [--no-build] [--all-known] [FILES...]`: Podman's own system
//! tests (BATS, v4.3.1, in the shared folder's `podman-suite/`) against the staged peapod.
//!
//! The suite's runner writes `failures.txt` ("FILE | test name" per failed test). This
//! command compares it with the project's list of known failures
//! (`.ci/podman-suite-known-failures.txt`, "FILE | test name | reason" per line) and fails
//! when a test that is not on the list failed, or when a file timed out. A listed test that
//! passed is reported, so the list only shrinks: delete its line.
//!
//! The runner isolates storage through `CONTAINERS_STORAGE_CONF`; results go under
//! `target/podman-suite/` because the shared folder may be read-only.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::install;
use crate::shell;

/// The list of tests known to fail, relative to the workspace root.
const KNOWN: &str = ".ci/podman-suite-known-failures.txt";
/// The suite files CI runs (the runner's default set and the files where peapod matches
/// podman), relative to the workspace root.
const FILES: &str = ".ci/podman-suite-files.txt";

/// The files of the CI set: one name per line, `#` comments.
fn ci_files(path: &Path) -> Result<Vec<String>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Where the suite lives: `$PEAPOD_PODMAN_SUITE`, else the shared folder beside the
/// workspace (`../shared/podman-suite`), else the workplace's `/work/shared/podman-suite`.
fn suite_dir() -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = match std::env::var_os("PEAPOD_PODMAN_SUITE") {
        Some(d) => vec![PathBuf::from(d)],
        None => vec![
            shell::workspace_root().join("../shared/podman-suite"),
            PathBuf::from("/work/shared/podman-suite"),
        ],
    };
    match candidates.iter().find(|d| d.join("run.sh").is_file()) {
        Some(d) => Ok(d.clone()),
        None => bail!(
            "Podman's system tests are not at {} (set PEAPOD_PODMAN_SUITE to the folder holding run.sh)",
            candidates
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    }
}

/// One test: (file, description), as the runner's `failures.txt` names it.
type TestId = (String, String);

fn parse_line(line: &str) -> Option<(TestId, Option<String>)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let mut parts = line.splitn(3, " | ");
    let file = parts.next()?.trim().to_string();
    let test = parts.next()?.trim().to_string();
    let reason = parts.next().map(|r| r.trim().to_string());
    Some(((file, test), reason))
}

/// The known failures; every line must give a reason.
fn known_failures(path: &Path) -> Result<BTreeSet<TestId>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let Some((id, reason)) = parse_line(line) else {
            continue;
        };
        if reason.as_deref().is_none_or(str::is_empty) {
            bail!(
                "{}:{}: a known failure needs a reason (FILE | test | reason)",
                path.display(),
                n + 1
            );
        }
        out.insert(id);
    }
    Ok(out)
}

/// The tests that ran, per file, from the TAP streams: (passed, failed) ids.
fn ran_tests(results: &Path) -> Result<(BTreeSet<TestId>, BTreeSet<TestId>)> {
    let mut passed = BTreeSet::new();
    let mut failed = BTreeSet::new();
    for entry in fs::read_dir(results)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(file) = name.strip_suffix(".tap") else {
            continue;
        };
        for line in fs::read_to_string(&path)?.lines() {
            // "ok 3 name", "ok 4 name # skip reason", "not ok 5 name"
            let (ok, rest) = if let Some(r) = line.strip_prefix("not ok ") {
                (false, r)
            } else if let Some(r) = line.strip_prefix("ok ") {
                (true, r)
            } else {
                continue;
            };
            let Some((_, desc)) = rest.split_once(' ') else {
                continue;
            };
            if ok && desc.contains(" # skip") {
                continue;
            }
            let id = (file.to_string(), desc.trim_end().to_string());
            if ok {
                passed.insert(id);
            } else {
                failed.insert(id);
            }
        }
    }
    Ok((passed, failed))
}

/// A store of this checkout's own for the suite (`--root`/`--runroot` through peapod's
/// `PEAPOD_ROOT`/`PEAPOD_RUNROOT`; a test's own `--root` still wins). Every test's setup
/// removes all containers, pods and images but the test image: in the default store it
/// would take those of anyone else on the machine (another checkout's suite run, a
/// user's). The runner's private storage.conf is for Podman's storage, which peapod's
/// store is not. The run root is short, under /run: attach sockets live there.
fn private_store() -> Result<(PathBuf, PathBuf)> {
    let ws = shell::workspace_root();
    let key: u32 = ws.to_string_lossy().bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    let root = shell::target_dir().join("podman-suite-store");
    let runroot = PathBuf::from(format!("/run/peapod-suite-{key:08x}"));
    fs::create_dir_all(&root)?;
    fs::create_dir_all(&runroot)?;
    Ok((root, runroot))
}

/// The suite runs peapod installed as `podman` (a link in the target dir, never on PATH):
/// it names the program it drives `podman` in the help and error texts it compares, which
/// cobra and peapod take from argv[0].
fn podman_link(peapod: &Path) -> Result<PathBuf> {
    let dir = shell::target_dir().join("podman-suite-cli");
    fs::create_dir_all(&dir)?;
    let link = dir.join("podman");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(peapod, &link)
        .with_context(|| format!("linking {} to {}", link.display(), peapod.display()))?;
    Ok(link)
}

pub fn main(args: &[String]) -> Result<()> {
    let no_build = args.iter().any(|a| a == "--no-build");
    let mut files: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    if files.is_empty() {
        files = ci_files(&shell::workspace_root().join(FILES))?;
    }
    let prefix = if no_build {
        install::staged()?
    } else {
        install::stage()?
    };
    let suite = suite_dir()?;
    let results = shell::target_dir().join("podman-suite");
    let _ = fs::remove_dir_all(&results);
    fs::create_dir_all(&results)?;
    let peapod = podman_link(&prefix.join("bin/peapod"))?;
    let (root, runroot) = private_store()?;
    let mut cmd = Command::new(suite.join("run.sh"));
    cmd.arg("-o")
        .arg(&results)
        .arg(&peapod)
        .args(&files)
        .env("PATH", shell::full_path())
        .env("PEAPOD_ROOT", &root)
        .env("PEAPOD_RUNROOT", &runroot);
    eprintln!("running: {}", shell::display(&cmd));
    // The runner exits 1 when any test failed: the verdict is ours, from the lists.
    let status = cmd.status().context("running the Podman suite")?;
    let summary = fs::read_to_string(results.join("summary.txt")).unwrap_or_default();
    eprint!("{summary}");
    if status.code() != Some(0) && status.code() != Some(1) {
        bail!(
            "the suite's runner failed ({status}); see {}",
            results.display()
        );
    }
    // The runner marks a file that timed out, stopped early or was not found.
    if ["TIMEOUT", " not run", "not found in"]
        .iter()
        .any(|m| summary.contains(m))
    {
        bail!(
            "a suite file timed out, stopped early or was missing; see {}",
            results.display()
        );
    }
    let known = known_failures(&shell::workspace_root().join(KNOWN))?;
    let (passed, failed) = ran_tests(&results)?;
    let unexpected: Vec<&TestId> = failed.difference(&known).collect();
    let fixed: Vec<&TestId> = passed.intersection(&known).collect();
    if !fixed.is_empty() {
        eprintln!(
            "\n{} test(s) on the known-failures list passed: delete their lines from {KNOWN}:",
            fixed.len()
        );
        for (f, t) in &fixed {
            eprintln!("  {f} | {t}");
        }
    }
    if !unexpected.is_empty() {
        eprintln!(
            "\n{} test(s) failed that are not known failures:",
            unexpected.len()
        );
        for (f, t) in &unexpected {
            eprintln!("  {f} | {t}");
        }
        bail!(
            "Podman's system tests: {} unexpected failure(s); details in {}/*.tap",
            unexpected.len(),
            results.display()
        );
    }
    eprintln!(
        "\nPodman's system tests: {} passed, {} failed (all on the known list)",
        passed.len(),
        failed.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_into_file_test_reason() {
        let (id, reason) =
            parse_line("030-run.bats | podman run --tz | not built: --tz (issue 15)").unwrap();
        assert_eq!(id, ("030-run.bats".into(), "podman run --tz".into()));
        assert_eq!(reason.as_deref(), Some("not built: --tz (issue 15)"));
        assert!(parse_line("# comment").is_none());
        assert!(parse_line("   ").is_none());
        // A test name may itself contain " | "? Not in v4.3.1; the reason takes the rest.
        let (_, reason) = parse_line("a | b | c | d").unwrap();
        assert_eq!(reason.as_deref(), Some("c | d"));
    }
}
