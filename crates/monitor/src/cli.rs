//! conmon's command line, parsed the way glib's option parser does it.
//!
//! Accepted forms: `--flag value`, `--flag=value`, `-c value`, `-cvalue`, grouped short
//! booleans (`-ti`), repeated flags (arrays accumulate, scalars keep the last value) and
//! `--` to end the options. Every flag of conmon 2.1.x is accepted (even the ones we only
//! pass through or ignore), so that any caller of conmon can call us; an unknown flag is an
//! error.

use std::path::PathBuf;

/// A parse or validation failure: the message is printed and the monitor exits 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("unknown option {0}")]
    Unknown(String),
    #[error("option {0} requires a value")]
    MissingValue(String),
    #[error("option {0} takes no value")]
    UnexpectedValue(String),
    #[error("cannot parse integer {value:?} for option {flag}")]
    BadInteger { flag: String, value: String },
    #[error("unexpected argument {0:?}")]
    Positional(String),
    #[error("{0}")]
    Invalid(String),
}

/// Where the container's output goes (`-l`, repeatable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogDriver {
    K8sFile(PathBuf),
    Journald,
    None,
    Passthrough,
}

/// Every conmon option. Field names follow conmon's long flag names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    pub api_version: i64,
    pub bundle: Option<PathBuf>,
    pub cid: Option<String>,
    pub cuuid: Option<String>,
    pub name: Option<String>,
    pub runtime: Option<PathBuf>,
    pub container_pidfile: Option<PathBuf>,
    pub conmon_pidfile: Option<PathBuf>,
    pub persist_dir: Option<PathBuf>,
    pub exit_dir: Option<PathBuf>,
    pub exit_command: Option<PathBuf>,
    pub exit_command_args: Vec<String>,
    /// peapod's own: the healthcheck timer ([`crate::health`]).
    pub health_interval_ms: Option<u64>,
    /// A startup check's interval: the timer runs at it until a check exits with anything
    /// but [`crate::health::STARTUP_PENDING`].
    pub health_startup_interval_ms: Option<u64>,
    pub health_command: Option<PathBuf>,
    pub health_command_args: Vec<String>,
    pub exit_delay: u32,
    pub log_paths: Vec<String>,
    /// Bytes; `None` when not given or negative (conmon's -1: unlimited).
    pub log_size_max: Option<u64>,
    pub log_global_size_max: Option<u64>,
    pub log_rotate: bool,
    pub log_max_files: Option<u32>,
    pub log_allowlist_dirs: Vec<String>,
    pub log_tag: Option<String>,
    pub log_labels: Vec<String>,
    pub no_container_partial_message: bool,
    pub log_level: Option<String>,
    pub syslog: bool,
    pub terminal: bool,
    pub stdin: bool,
    pub leave_stdin_open: bool,
    pub socket_dir_path: Option<PathBuf>,
    pub full_attach: bool,
    pub sync: bool,
    pub timeout: u32,
    pub exec: bool,
    pub exec_attach: bool,
    pub exec_process_spec: Option<PathBuf>,
    pub restore: Option<PathBuf>,
    pub runtime_opts: Vec<String>,
    pub runtime_args: Vec<String>,
    pub systemd_cgroup: bool,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub replace_listen_pid: bool,
    pub sdnotify_socket: Option<PathBuf>,
    pub no_sync_log: bool,
    pub seccomp_notify_socket: Option<String>,
    pub seccomp_notify_plugins: Option<String>,
    pub version: bool,
    pub help: bool,
}

/// conmon's default `--socket-dir-path`.
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/crio";

#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Str,
    Int,
}

/// (long name, short letter, kind)
const FLAGS: &[(&str, Option<char>, Kind)] = &[
    ("api-version", None, Kind::Int),
    ("bundle", Some('b'), Kind::Str),
    ("cid", Some('c'), Kind::Str),
    ("cuuid", Some('u'), Kind::Str),
    ("name", Some('n'), Kind::Str),
    ("runtime", Some('r'), Kind::Str),
    ("container-pidfile", Some('p'), Kind::Str),
    ("pidfile", None, Kind::Str),
    ("conmon-pidfile", Some('P'), Kind::Str),
    ("persist-dir", Some('0'), Kind::Str),
    ("exit-dir", None, Kind::Str),
    ("exit-command", None, Kind::Str),
    ("exit-command-arg", None, Kind::Str),
    ("exit-delay", None, Kind::Int),
    ("health-interval-ms", None, Kind::Int),
    ("health-startup-interval-ms", None, Kind::Int),
    ("health-command", None, Kind::Str),
    ("health-command-arg", None, Kind::Str),
    ("log-path", Some('l'), Kind::Str),
    ("log-size-max", None, Kind::Int),
    ("log-global-size-max", None, Kind::Int),
    ("log-rotate", None, Kind::Bool),
    ("log-max-files", None, Kind::Int),
    ("log-allowlist-dir", None, Kind::Str),
    ("log-tag", None, Kind::Str),
    ("log-label", None, Kind::Str),
    ("no-container-partial-message", None, Kind::Bool),
    ("log-level", None, Kind::Str),
    ("syslog", None, Kind::Bool),
    ("terminal", Some('t'), Kind::Bool),
    ("stdin", Some('i'), Kind::Bool),
    ("leave-stdin-open", None, Kind::Bool),
    ("socket-dir-path", None, Kind::Str),
    ("full-attach", None, Kind::Bool),
    ("sync", None, Kind::Bool),
    ("timeout", Some('T'), Kind::Int),
    ("exec", Some('e'), Kind::Bool),
    ("exec-attach", None, Kind::Bool),
    ("exec-process-spec", None, Kind::Str),
    ("restore", None, Kind::Str),
    ("restore-arg", None, Kind::Str),
    ("runtime-opt", None, Kind::Str),
    ("runtime-arg", None, Kind::Str),
    ("systemd-cgroup", Some('s'), Kind::Bool),
    ("no-pivot", None, Kind::Bool),
    ("no-new-keyring", None, Kind::Bool),
    ("replace-listen-pid", None, Kind::Bool),
    ("sdnotify-socket", None, Kind::Str),
    ("no-sync-log", None, Kind::Bool),
    ("seccomp-notify-socket", None, Kind::Str),
    ("seccomp-notify-plugins", None, Kind::Str),
    ("version", None, Kind::Bool),
    ("help", Some('h'), Kind::Bool),
];

impl Options {
    /// Parse the arguments after argv[0].
    pub fn parse<I, S>(args: I) -> Result<Options, CliError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        let mut o = Options::default();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if arg == "--" {
                if let Some(extra) = args.get(i) {
                    return Err(CliError::Positional(extra.clone()));
                }
                break;
            }
            if let Some(long) = arg.strip_prefix("--") {
                let (name, inline) = match long.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (long, None),
                };
                let &(name, _, kind) = FLAGS
                    .iter()
                    .find(|f| f.0 == name)
                    .ok_or_else(|| CliError::Unknown(format!("--{name}")))?;
                let flag = format!("--{name}");
                let value = match (kind, inline) {
                    (Kind::Bool, Some(_)) => return Err(CliError::UnexpectedValue(flag)),
                    (Kind::Bool, None) => None,
                    (_, Some(v)) => Some(v),
                    (_, None) => {
                        let v = args
                            .get(i)
                            .cloned()
                            .ok_or(CliError::MissingValue(flag.clone()))?;
                        i += 1;
                        Some(v)
                    }
                };
                o.set(name, &flag, kind, value)?;
            } else if arg.len() > 1 && arg.starts_with('-') {
                // A group of short flags: booleans may be grouped; a flag taking a value
                // takes the rest of the group or the next argument.
                let letters: Vec<char> = arg[1..].chars().collect();
                let mut j = 0;
                while j < letters.len() {
                    let c = letters[j];
                    j += 1;
                    let &(name, _, kind) = FLAGS
                        .iter()
                        .find(|f| f.1 == Some(c))
                        .ok_or_else(|| CliError::Unknown(format!("-{c}")))?;
                    let flag = format!("-{c}");
                    let value = match kind {
                        Kind::Bool => None,
                        _ if j < letters.len() => {
                            let rest: String = letters[j..].iter().collect();
                            j = letters.len();
                            Some(rest)
                        }
                        _ => {
                            let v = args
                                .get(i)
                                .cloned()
                                .ok_or(CliError::MissingValue(flag.clone()))?;
                            i += 1;
                            Some(v)
                        }
                    };
                    o.set(name, &flag, kind, value)?;
                }
            } else {
                return Err(CliError::Positional(arg.clone()));
            }
        }
        Ok(o)
    }

    fn set(
        &mut self,
        name: &str,
        flag: &str,
        kind: Kind,
        value: Option<String>,
    ) -> Result<(), CliError> {
        let int = |v: &Option<String>| -> Result<i64, CliError> {
            let v = v.as_deref().unwrap_or_default();
            v.trim().parse::<i64>().map_err(|_| CliError::BadInteger {
                flag: flag.to_string(),
                value: v.to_string(),
            })
        };
        let s = || value.clone().unwrap_or_default();
        let path = || Some(PathBuf::from(value.clone().unwrap_or_default()));
        let unsigned = |n: i64| -> Result<u32, CliError> {
            u32::try_from(n).map_err(|_| CliError::BadInteger {
                flag: flag.to_string(),
                value: n.to_string(),
            })
        };
        if let Kind::Int = kind {
            // Validate early so every integer flag reports the same way.
            int(&value)?;
        }
        match name {
            "api-version" => self.api_version = int(&value)?,
            "bundle" => self.bundle = path(),
            "cid" => self.cid = Some(s()),
            "cuuid" => self.cuuid = Some(s()),
            "name" => self.name = Some(s()),
            "runtime" => self.runtime = path(),
            "container-pidfile" | "pidfile" => self.container_pidfile = path(),
            "conmon-pidfile" => self.conmon_pidfile = path(),
            "persist-dir" => self.persist_dir = path(),
            "exit-dir" => self.exit_dir = path(),
            "exit-command" => self.exit_command = path(),
            "exit-command-arg" => self.exit_command_args.push(s()),
            "exit-delay" => self.exit_delay = unsigned(int(&value)?)?,
            "health-interval-ms" => {
                self.health_interval_ms = u64::try_from(int(&value)?).ok();
            }
            "health-startup-interval-ms" => {
                self.health_startup_interval_ms = u64::try_from(int(&value)?).ok();
            }
            "health-command" => self.health_command = path(),
            "health-command-arg" => self.health_command_args.push(s()),
            "log-path" => self.log_paths.push(s()),
            "log-size-max" => self.log_size_max = u64::try_from(int(&value)?).ok(),
            "log-global-size-max" => {
                self.log_global_size_max = u64::try_from(int(&value)?).ok();
            }
            "log-rotate" => self.log_rotate = true,
            "log-max-files" => self.log_max_files = Some(unsigned(int(&value)?)?),
            "log-allowlist-dir" => self.log_allowlist_dirs.push(s()),
            "log-tag" => self.log_tag = Some(s()),
            "log-label" => self.log_labels.push(s()),
            "no-container-partial-message" => self.no_container_partial_message = true,
            "log-level" => self.log_level = Some(s()),
            "syslog" => self.syslog = true,
            "terminal" => self.terminal = true,
            "stdin" => self.stdin = true,
            "leave-stdin-open" => self.leave_stdin_open = true,
            "socket-dir-path" => self.socket_dir_path = path(),
            "full-attach" => self.full_attach = true,
            "sync" => self.sync = true,
            "timeout" => self.timeout = unsigned(int(&value)?)?,
            "exec" => self.exec = true,
            "exec-attach" => self.exec_attach = true,
            "exec-process-spec" => self.exec_process_spec = path(),
            "restore" => self.restore = path(),
            "restore-arg" | "runtime-opt" => self.runtime_opts.push(s()),
            "runtime-arg" => self.runtime_args.push(s()),
            "systemd-cgroup" => self.systemd_cgroup = true,
            "no-pivot" => self.no_pivot = true,
            "no-new-keyring" => self.no_new_keyring = true,
            "replace-listen-pid" => self.replace_listen_pid = true,
            "sdnotify-socket" => self.sdnotify_socket = path(),
            "no-sync-log" => self.no_sync_log = true,
            "seccomp-notify-socket" => self.seccomp_notify_socket = Some(s()),
            "seccomp-notify-plugins" => self.seccomp_notify_plugins = Some(s()),
            "version" => self.version = true,
            "help" => self.help = true,
            other => return Err(CliError::Unknown(format!("--{other}"))),
        }
        Ok(())
    }

    /// conmon's checks after parsing, and its defaults (bundle = cwd, pid file in cwd).
    pub fn validate(&mut self) -> Result<(), CliError> {
        let cid = self
            .cid
            .clone()
            .ok_or_else(|| invalid("container ID not provided. Use --cid"))?;
        if self.cuuid.is_none() && (!self.exec || self.exec_attach) {
            return Err(invalid("container UUID not provided. Use --cuuid"));
        }
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| invalid("runtime path not provided. Use --runtime"))?;
        if std::fs::metadata(runtime).is_err() {
            return Err(invalid(format!(
                "runtime path {} is not valid",
                runtime.display()
            )));
        }
        if self.exec && self.exec_process_spec.is_none() {
            return Err(invalid(
                "exec process spec path not provided. Use --exec-process-spec",
            ));
        }
        let cwd = std::env::current_dir().map_err(|e| invalid(format!("getting the cwd: {e}")))?;
        if self.bundle.is_none() && !self.exec {
            self.bundle = Some(cwd.clone());
        }
        if self.container_pidfile.is_none() {
            self.container_pidfile = Some(cwd.join(format!("pidfile-{cid}")));
        }
        if self.terminal && self.log_drivers()?.contains(&LogDriver::Passthrough) {
            return Err(invalid("cannot use a tty with passthrough logging mode"));
        }
        Ok(())
    }

    /// The log drivers named by the `-l` values (conmon's `configure_log_drivers`).
    pub fn log_drivers(&self) -> Result<Vec<LogDriver>, CliError> {
        let mut out = Vec::new();
        for spec in &self.log_paths {
            let driver = match spec.split_once(':') {
                None => match spec.as_str() {
                    "none" | "off" | "null" => LogDriver::None,
                    "passthrough" => LogDriver::Passthrough,
                    "journald" => LogDriver::Journald,
                    "" => return Err(invalid("log driver path is empty")),
                    path => LogDriver::K8sFile(PathBuf::from(path)),
                },
                Some(("k8s-file", "")) => {
                    return Err(invalid("k8s-file requires a filename"));
                }
                Some(("k8s-file", path)) => LogDriver::K8sFile(PathBuf::from(path)),
                Some(("journald", _)) => LogDriver::Journald,
                Some(("none" | "off" | "null", _)) => LogDriver::None,
                Some(("passthrough", _)) => LogDriver::Passthrough,
                Some((other, _)) => return Err(invalid(format!("no such log driver {other}"))),
            };
            out.push(driver);
        }
        Ok(out)
    }
}

fn invalid(msg: impl Into<String>) -> CliError {
    CliError::Invalid(msg.into())
}

/// What `--version` prints.
pub fn version_text() -> String {
    format!(
        "conmon version {}\ncommit: peapod-{}\n",
        crate::CONMON_COMPAT_VERSION,
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Options, CliError> {
        Options::parse(a.iter().copied())
    }

    #[test]
    fn podman_argv() {
        let o = parse(&[
            "--api-version",
            "1",
            "-c",
            "abc",
            "-u",
            "abc",
            "-r",
            "/usr/sbin/runc",
            "-b",
            "/b",
            "-p",
            "/r/pidfile",
            "-n",
            "web",
            "--exit-dir",
            "/e",
            "--persist-dir",
            "/p",
            "--full-attach",
            "-s",
            "-l",
            "k8s-file:/b/ctr.log",
            "--log-level",
            "warning",
            "--syslog",
            "--log-size-max=1000",
            "--runtime-arg",
            "--log-format=json",
            "--runtime-arg",
            "--log",
            "--runtime-arg=/r/oci-log",
            "-i",
            "--conmon-pidfile",
            "/r/conmon.pid",
            "--exit-command",
            "/usr/bin/podman",
            "--exit-command-arg",
            "--root",
            "--exit-command-arg",
            "/var/lib",
            "--runtime-opt",
            "--preserve-fds",
            "--runtime-opt",
            "1",
        ])
        .unwrap();
        assert_eq!(o.api_version, 1);
        assert_eq!(o.cid.as_deref(), Some("abc"));
        assert_eq!(o.bundle, Some(PathBuf::from("/b")));
        assert!(o.full_attach && o.systemd_cgroup && o.syslog && o.stdin && !o.terminal);
        assert_eq!(o.log_size_max, Some(1000));
        assert_eq!(o.runtime_args, ["--log-format=json", "--log", "/r/oci-log"]);
        assert_eq!(o.exit_command_args, ["--root", "/var/lib"]);
        assert_eq!(o.runtime_opts, ["--preserve-fds", "1"]);
        assert_eq!(
            o.log_drivers().unwrap(),
            [LogDriver::K8sFile("/b/ctr.log".into())]
        );
    }

    #[test]
    fn short_forms() {
        let o = parse(&["-ti", "-cfoo", "-T", "5", "-0", "/p"]).unwrap();
        assert!(o.terminal && o.stdin);
        assert_eq!(o.cid.as_deref(), Some("foo"));
        assert_eq!(o.timeout, 5);
        assert_eq!(o.persist_dir, Some(PathBuf::from("/p")));
        assert_eq!(parse(&["--log-size-max", "-1"]).unwrap().log_size_max, None);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(&["--bogus"]),
            Err(CliError::Unknown("--bogus".into()))
        );
        assert_eq!(parse(&["-x"]), Err(CliError::Unknown("-x".into())));
        assert_eq!(parse(&["-c"]), Err(CliError::MissingValue("-c".into())));
        assert_eq!(
            parse(&["--sync=1"]),
            Err(CliError::UnexpectedValue("--sync".into()))
        );
        assert!(matches!(
            parse(&["--timeout", "x"]),
            Err(CliError::BadInteger { .. })
        ));
        assert_eq!(parse(&["extra"]), Err(CliError::Positional("extra".into())));
    }

    #[test]
    fn log_drivers() {
        let o = parse(&[
            "-l",
            "/x.log",
            "-l",
            "journald",
            "-l",
            "off",
            "-l",
            "passthrough",
            "-l",
            "journald:",
        ])
        .unwrap();
        assert_eq!(
            o.log_drivers().unwrap(),
            [
                LogDriver::K8sFile("/x.log".into()),
                LogDriver::Journald,
                LogDriver::None,
                LogDriver::Passthrough,
                LogDriver::Journald
            ]
        );
        assert!(parse(&["-l", "fluentd:/x"]).unwrap().log_drivers().is_err());
        assert!(parse(&["-l", "k8s-file:"]).unwrap().log_drivers().is_err());
    }

    #[test]
    fn validate_defaults() {
        let mut o = parse(&["-c", "x", "-u", "x", "-r", "/bin/sh"]).unwrap();
        o.validate().unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(o.bundle, Some(cwd.clone()));
        assert_eq!(o.container_pidfile, Some(cwd.join("pidfile-x")));
        let mut o = parse(&["-u", "x", "-r", "/bin/sh"]).unwrap();
        assert!(o.validate().is_err());
        let mut o = parse(&["-c", "x", "-u", "x", "-r", "/nonexistent/runtime"]).unwrap();
        assert!(o.validate().is_err());
    }

    #[test]
    fn version() {
        let want = format!(
            "conmon version 2.1.6\ncommit: peapod-{}\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(version_text(), want);
    }
}
