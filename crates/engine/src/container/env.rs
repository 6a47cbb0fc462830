//! A container's (or exec session's) environment: the image's, then `--env-file`s, then
//! `-e`, as Podman merges them; and the kernel's limits on what a process can be given.
//!
//! Env files are read as Podman reads them ([`crate::kvfile`]: a line holds at most 65535
//! bytes), and the result is checked against what `execve` accepts before anything is
//! created, so an environment the container could never start with is refused with
//! `Error: …` (exit 125) instead of failing later with "argument list too long".

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The PATH the engine sets when the image has none (Podman's default).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The kernel's `MAX_ARG_STRLEN`: one argument or environment string, with its NUL.
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// The kernel's floor (`ARG_MAX`) and ceiling (¾ of `_STK_LIM`) for all arguments and
/// environment strings together; between them it is a quarter of the stack limit.
const ARG_MAX_FLOOR: u64 = 32 * 4096;
const ARG_MAX_CEILING: u64 = 6 << 20;

/// What every container's environment starts with, as Podman's: its built-in `PATH` and
/// `container=podman` (what tools read to know they run in a Podman-style container: peapod
/// answers to the same checks), and containers.conf's default `TERM=xterm`.
pub(crate) const DEFAULT_ENV: [(&str, &str); 3] = [
    ("PATH", DEFAULT_PATH),
    ("container", "podman"),
    ("TERM", "xterm"),
];

/// [`DEFAULT_ENV`] as `NAME=VALUE`.
pub(crate) fn default_env() -> Vec<String> {
    DEFAULT_ENV
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// The proxy variables Podman passes from the host (`--http-proxy`, on by default).
const PROXY_ENV: [&str; 8] = [
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
];

/// `NAME=VALUE` for each proxy variable set in peapod's own environment.
pub(crate) fn host_proxy_env() -> Vec<String> {
    PROXY_ENV
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={v}")))
        .collect()
}

/// Image env, then `--env-file`s, then `-e`, later ones winning, as Podman merges them.
/// `-e NAME` without `=` takes the value from peapod's own environment (skipped if unset);
/// `-e 'NAME*'` takes every variable whose name starts with NAME.
pub(crate) fn build_env(
    image_env: &[String],
    env_files: &[PathBuf],
    env: &[String],
) -> Result<Vec<String>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for e in image_env {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        set(&mut out, k, v);
    }
    for f in env_files {
        let in_file = |e: String| {
            Error::invalid(format!(
                "parsing env file {:?}: {e}",
                f.display().to_string()
            ))
        };
        for entry in crate::kvfile::entries(f).map_err(|e| in_file(e.to_string()))? {
            apply(&mut out, &entry).map_err(in_file)?;
        }
    }
    for e in env {
        apply(&mut out, e).map_err(Error::invalid)?;
    }
    Ok(out.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

fn set(out: &mut Vec<(String, String)>, k: &str, v: &str) {
    if let Some(e) = out.iter_mut().find(|(ek, _)| ek == k) {
        e.1 = v.to_string();
    } else {
        out.push((k.to_string(), v.to_string()));
    }
}

/// One `NAME=VALUE`, `NAME` or `NAME*` entry (Podman's `parseEnv`).
fn apply(out: &mut Vec<(String, String)>, entry: &str) -> std::result::Result<(), String> {
    let (name, value) = match entry.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (entry, None),
    };
    if name.is_empty() {
        return Err(format!("invalid environment variable: {entry:?}"));
    }
    match value {
        Some(v) => set(out, name, v),
        None => match name.strip_suffix('*') {
            Some(prefix) => {
                for (k, v) in std::env::vars() {
                    if k.starts_with(prefix) {
                        set(out, &k, &v);
                    }
                }
            }
            None => {
                if let Ok(v) = std::env::var(name) {
                    set(out, name, &v);
                }
            }
        },
    }
    Ok(())
}

/// Refuses a command and environment `execve` would reject with E2BIG: a string over the
/// kernel's 128 KiB, or all of them (with their pointers) over a quarter of the stack
/// limit the process will inherit from this one (at least 128 KiB, at most 6 MiB).
pub(crate) fn check_exec_size(args: &[String], env: &[String]) -> Result<()> {
    for e in env {
        if e.len() + 1 > MAX_ARG_STRLEN {
            let name = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            return Err(Error::invalid(format!(
                "environment variable {name:?} is {} bytes: the kernel refuses a single environment string over {} bytes (argument list too long)",
                e.len(),
                MAX_ARG_STRLEN - 1
            )));
        }
    }
    for (i, a) in args.iter().enumerate() {
        if a.len() + 1 > MAX_ARG_STRLEN {
            return Err(Error::invalid(format!(
                "argument {} of the command is {} bytes: the kernel refuses a single argument over {} bytes (argument list too long)",
                i + 1,
                a.len(),
                MAX_ARG_STRLEN - 1
            )));
        }
    }
    let limit = exec_limit();
    let strings: u64 = args.iter().chain(env).map(|s| s.len() as u64 + 1).sum();
    let pointers = (args.len().max(1) + env.len()) as u64 * 8;
    if strings + pointers > limit {
        return Err(Error::invalid(format!(
            "the command and its environment take {} bytes ({} variables): more than the {limit} bytes the kernel lets a process start with (argument list too long)",
            strings + pointers,
            env.len()
        )));
    }
    Ok(())
}

/// The kernel's limit for arguments plus environment under this process's stack limit.
fn exec_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit};
    let stack = getrlimit(Resource::RLIMIT_STACK).map_or(8 << 20, |(soft, _)| soft);
    (stack / 4).clamp(ARG_MAX_FLOOR, ARG_MAX_CEILING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merging() {
        let env = build_env(
            &["PATH=/bin".into(), "A=image".into()],
            &[],
            &["A=user".into(), "B=2".into()],
        )
        .unwrap();
        assert_eq!(env, vec!["PATH=/bin", "A=user", "B=2"]);
        let env = build_env(&[], &[], &[]).unwrap();
        assert!(env.is_empty(), "defaults are the caller's: {env:?}");
        let e = build_env(&[], &[], &["=x".into()]).unwrap_err().to_string();
        assert_eq!(e, "invalid environment variable: \"=x\"");
    }

    #[test]
    fn env_files_as_podman_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("env");
        std::fs::write(&f, "A=1\n\n  # c\n  B = 2 \nPEAPOD_ENV_TEST_UNSET\n").unwrap();
        let env = build_env(&[], std::slice::from_ref(&f), &["A=2".into()]).unwrap();
        assert_eq!(env, vec!["A=2".to_string(), "B = 2 ".into()]);

        std::fs::write(&f, format!("A=1\nB={}\n", "x".repeat(10 << 20))).unwrap();
        let e = build_env(&[], std::slice::from_ref(&f), &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "parsing env file {:?}: line 2 is longer than 65535 bytes: bufio.Scanner: token too long",
                f.display().to_string()
            )
        );
        std::fs::write(&f, "=x\n").unwrap();
        let e = build_env(&[], std::slice::from_ref(&f), &[])
            .unwrap_err()
            .to_string();
        assert!(e.ends_with(": invalid environment variable: \"=x\""), "{e}");
        let missing = dir.path().join("missing");
        let e = build_env(&[], &[missing], &[]).unwrap_err().to_string();
        assert!(e.contains("missing") && e.contains("No such file"), "{e}");
    }

    #[test]
    fn kernel_limits() {
        let args = vec!["sh".to_string()];
        assert!(check_exec_size(&args, &[format!("A={}", "x".repeat(100_000))]).is_ok());
        let e = check_exec_size(&args, &[format!("BIG={}", "x".repeat(MAX_ARG_STRLEN))])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("environment variable \"BIG\" is 131076 bytes"),
            "{e}"
        );
        let e = check_exec_size(&["x".repeat(MAX_ARG_STRLEN)], &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("argument 1 of the command is 131072 bytes"),
            "{e}"
        );
        // More in total than any stack limit allows (6 MiB), each string small enough.
        let many: Vec<String> = (0..120)
            .map(|i| format!("V{i}={}", "x".repeat(60_000)))
            .collect();
        let e = check_exec_size(&args, &many).unwrap_err().to_string();
        assert!(
            e.contains("120 variables") && e.contains("argument list too long"),
            "{e}"
        );
    }
}
