//! `cargo xtask <command>`: build, install, test, demo, bench and CI for peapod.
//!
//! Each command lives in its own module; this file only parses the command line.

mod bench;
mod bench_api;
mod bench_build;
mod bench_memory;
mod bench_pull;
mod bench_rootless;
mod ci;
mod demo;
mod host;
mod install;
mod install_units;
mod shell;
mod suite;
mod test;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  install [--prefix P] [--no-deps] [--docker-compat]
                                    build release binaries and install them: peapod into
                                    P/bin, helpers into P/libexec/peapod (P: /usr/local),
                                    the quadlet generator, the API's peapod.socket and
                                    peapod.service units (--docker-compat: links from
                                    /run/docker.sock too); checks (and as root with
                                    apt-get, installs) the host's prerequisites unless
                                    --no-deps
  test [ARGS...]                    stage-install into target/test-prefix, then
                                    `cargo test --workspace --all-targets ARGS...`
  demo [--installed]                run peapod's main job end to end (busybox image, no
                                    registry); --installed uses the peapod on PATH
  bench [--runs N] [--containers N] [--no-build]
                                    benchmarks: `run --rm` latency beside runc (and podman),
                                    `ps -a` over N containers (default 1000); --no-build
                                    reuses what target/test-prefix holds
  podman-suite [--no-build] [FILES...]
                                    Podman's own system tests (../shared/podman-suite, or
                                    $PEAPOD_PODMAN_SUITE) against the staged peapod; fails on
                                    a failure not in .ci/podman-suite-known-failures.txt
  ci                                what .ci/run does after installing prerequisites:
                                    fmt --check, clippy -D warnings, test,
                                    podman-suite
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(command) = args.next() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest: Vec<String> = args.collect();
    let result = match command.as_str() {
        "install" => install::main(&rest),
        "test" => test::main(&rest),
        "demo" => demo::main(&rest),
        "bench" => bench::main(&rest),
        "ci" => ci::main(&rest),
        "podman-suite" => suite::main(&rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("xtask: unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {command}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `--name VALUE` / `--name=VALUE` style options out of `args`; returns the value of
/// each option in `with_value` and whether each flag in `flags` was present. Anything else
/// is an error.
pub(crate) struct Opts {
    values: Vec<(String, String)>,
    flags: Vec<String>,
}

impl Opts {
    pub(crate) fn parse(
        args: &[String],
        with_value: &[&str],
        flags: &[&str],
    ) -> anyhow::Result<Opts> {
        let mut opts = Opts {
            values: Vec::new(),
            flags: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (key, inline) = match arg.split_once('=') {
                Some((k, v)) if k.starts_with("--") => (k, Some(v.to_owned())),
                _ => (arg.as_str(), None),
            };
            if with_value.contains(&key) {
                let value = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .ok_or_else(|| anyhow::anyhow!("{key} needs a value"))?
                        .clone(),
                };
                opts.values.push((key.to_owned(), value));
            } else if flags.contains(&key) && inline.is_none() {
                opts.flags.push(key.to_owned());
            } else {
                anyhow::bail!("unexpected argument {arg:?}\n\n{USAGE}");
            }
        }
        Ok(opts)
    }

    pub(crate) fn value(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        self.flags.iter().any(|f| f == key)
    }

    pub(crate) fn number(&self, key: &str, default: usize) -> anyhow::Result<usize> {
        match self.value(key) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => anyhow::bail!("{key} wants a positive number, got {v:?}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Opts;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn parses_values_and_flags() {
        let o = Opts::parse(
            &s(&["--prefix", "/opt/p", "--no-deps", "--runs=5"]),
            &["--prefix", "--runs"],
            &["--no-deps"],
        )
        .unwrap();
        assert_eq!(o.value("--prefix"), Some("/opt/p"));
        assert!(o.flag("--no-deps"));
        assert_eq!(o.number("--runs", 20).unwrap(), 5);
        assert_eq!(o.number("--other", 20).unwrap(), 20);
    }

    #[test]
    fn rejects_unknown_and_bad_values() {
        assert!(Opts::parse(&s(&["--bogus"]), &[], &[]).is_err());
        assert!(Opts::parse(&s(&["--prefix"]), &["--prefix"], &[]).is_err());
        let o = Opts::parse(&s(&["--runs", "x"]), &["--runs"], &[]).unwrap();
        assert!(o.number("--runs", 1).is_err());
        let o = Opts::parse(&s(&["--runs", "0"]), &["--runs"], &[]).unwrap();
        assert!(o.number("--runs", 1).is_err());
    }
}
