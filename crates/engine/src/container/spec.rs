//! The container spec: what `create`/`run` ask for, typed. Every front end fills it — the
//! CLI from flags, `kube play` from a pod's containers, `build` for its RUN steps, the API
//! service from a create body — and [`crate::Engine::create_container`] checks it against
//! what exists (images, networks, containers, pods) and records the container.
//!
//! Closed sets are enums ([`LogDriver`], [`RestartPolicy`], [`NetworkMode`],
//! [`crate::registry::PullPolicy`] on a run request); parsers of the flag spellings live
//! beside each type, with Podman's messages, so every front end refuses the same input in
//! the same words.

use std::path::PathBuf;

use super::restart::RestartPolicy;
use super::{Resources, SecurityFlags};
use crate::error::{Error, Result};
#[cfg(doc)]
use crate::network::NetworkMode;
use crate::network::NetworkSpec;
use crate::volume::spec::MountSpec;

/// A create request.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub image: String,
    /// The image as the user named it (`docker-archive:PATH`, a short name…), when `image`
    /// is what that resolved to; libpod keeps it as the container's raw image name.
    pub raw_image: Option<String>,
    /// `--rootfs PATH[:O]`: no image; the directory is the container's root (`:O`: an
    /// overlay over it, so that it is never written).
    pub rootfs: Option<String>,
    pub name: Option<String>,
    /// `--replace`: a container already holding `name` is removed first (with force).
    pub replace: bool,
    /// The command after the image name.
    pub command: Vec<String>,
    /// `--entrypoint`: `Some(vec![])` clears the image's (see [`parse_entrypoint`]).
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE` (or `KEY`, taken from the caller's environment), in order.
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    /// `--http-proxy` (Podman's default: on): the host's proxy variables go into the
    /// container's environment, below the image's and the user's.
    pub http_proxy: bool,
    /// `--env-host`: the host's whole environment, over the image's and under env files
    /// and `-e`.
    pub env_host: bool,
    /// `--unsetenv NAME`: a default or image variable left out.
    pub unsetenv: Vec<String>,
    /// `--unsetenv-all`: no default or image variable at all.
    pub unsetenv_all: bool,
    /// `--tz`: a zone name (`Europe/Paris`) or `local`.
    pub timezone: Option<String>,
    pub workdir: Option<String>,
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub labels: Vec<String>,
    /// `--annotation KEY=VALUE` (and a kube pod's annotations).
    pub annotations: Vec<String>,
    /// A signal number ([`crate::signal::parse`]); None: the image's, else SIGTERM.
    pub stop_signal: Option<i32>,
    pub stop_timeout: Option<u32>,
    pub auto_remove: bool,
    pub network: NetworkSpec,
    pub tty: bool,
    pub interactive: bool,
    pub log: LogConfig,
    pub create_command: Vec<String>,
    /// `--restart`; None: not given.
    pub restart: Option<RestartPolicy>,
    pub resources: Resources,
    /// `-v`, `--mount`, `--tmpfs` in that order, parsed
    /// ([`crate::volume::spec::parse_volume_flag`] and its siblings).
    pub mounts: Vec<MountSpec>,
    /// `--volumes-from CONTAINER[:OPTIONS]`.
    pub volumes_from: Vec<String>,
    /// `--pod NAME|ID|new:NAME`.
    pub pod: Option<String>,
    /// `--init-ctr always|once` (needs `--pod`).
    pub init_ctr: Option<String>,
    /// Set by `pod create` only: this is the infra container of that pod (its id).
    pub infra_of: Option<String>,
    /// `--privileged`, `--cap-add`, `--cap-drop`, `--security-opt`.
    pub security: SecurityFlags,
    /// `--timeout`, `--device-cgroup-rule`.
    pub run_extras: RunExtras,
    /// `--pid`, `--ipc`, `--uts`; None: the container's own.
    pub pid: Option<NamespaceMode>,
    pub ipc: Option<NamespaceMode>,
    pub uts: Option<NamespaceMode>,
    /// `--health-*`, `--no-healthcheck`.
    pub health: super::health::HealthFlags,
    /// `--read-only`, `--read-only-tmpfs`, `--shm-size`, `--device`.
    pub host: super::hostcfg::HostFlags,
}

/// More of `run`/`create`'s flags, grouped.
#[derive(Debug, Clone, Default)]
pub struct RunExtras {
    /// `--timeout N`: the monitor kills the container after N seconds (exit code -1).
    pub timeout: Option<u32>,
    /// `--device-cgroup-rule 'TYPE MAJOR:MINOR ACCESS'`: device access allowed in the
    /// container's device cgroup.
    pub device_cgroup_rules: Vec<String>,
    /// `--conmon-pidfile PATH`: the monitor's pid written there at every start.
    pub conmon_pidfile: Option<PathBuf>,
    /// `--group-add GROUP`: supplementary groups (names from the container's /etc/group,
    /// or gids), or `keep-groups` alone.
    pub group_add: Vec<String>,
    /// `--systemd true|false|always` as given (None: `true`).
    pub systemd: Option<String>,
    /// `--userns MODE`, as given.
    pub userns: Option<String>,
    /// `--uidmap`/`--gidmap` as given (`--uidmap=0:100000:5000`): refused, see
    /// [`super::userns::check_id_maps`].
    pub id_maps: Vec<String>,
    /// `--preserve-fds N`: the caller's fds 3 … 3+N-1 passed into the container.
    pub preserve_fds: u32,
    /// `--sdnotify container|conmon|ignore`.
    pub sdnotify: Option<String>,
    /// `--cgroups enabled|no-conmon` (`disabled` and `split` refused).
    pub cgroups: Option<String>,
    /// `--requires CTR`: containers started before this one (names or ids).
    pub requires: Vec<String>,
}

/// `--pid`, `--ipc`, `--uts`: whose namespace the container has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceMode {
    /// Its own (`private`).
    Private,
    /// The host's.
    Host,
    /// `container:NAME|ID`: another container's (it must be running at start).
    Container(String),
    /// `ns:PATH`: a namespace file.
    Path(String),
    /// ipc only: its own, which other containers may join (Podman's default).
    Shareable,
    /// ipc only: its own, without `/dev/shm`.
    None,
}

impl NamespaceMode {
    /// Parse `--KIND VALUE` (`kind`: `pid`, `ipc` or `uts`) with Podman's modes.
    pub fn parse(kind: &str, value: &str) -> Result<NamespaceMode> {
        let ipc = kind == "ipc";
        Ok(match value {
            "" | "private" => NamespaceMode::Private,
            "host" => NamespaceMode::Host,
            "shareable" if ipc => NamespaceMode::Shareable,
            "none" if ipc => NamespaceMode::None,
            v if v.starts_with("container:") && v.len() > 10 => {
                NamespaceMode::Container(v[10..].to_string())
            }
            v if v.starts_with("ns:") && v[3..].starts_with('/') => {
                NamespaceMode::Path(v[3..].to_string())
            }
            v => {
                return Err(Error::invalid(format!(
                    "invalid --{kind} {v:?}: must be private, host, container:ID or ns:PATH{}",
                    if ipc { ", shareable or none" } else { "" }
                )));
            }
        })
    }

    /// As stored and shown by inspect (`container:` with the resolved id).
    pub fn to_config(&self) -> String {
        match self {
            NamespaceMode::Private => "private".into(),
            NamespaceMode::Host => "host".into(),
            NamespaceMode::Container(c) => format!("container:{c}"),
            NamespaceMode::Path(p) => format!("ns:{p}"),
            NamespaceMode::Shareable => "shareable".into(),
            NamespaceMode::None => "none".into(),
        }
    }
}

/// `--entrypoint`: a JSON array, or one string taken as the whole program; `""` clears the
/// image's entrypoint.
pub fn parse_entrypoint(e: &str) -> Result<Vec<String>> {
    if e.is_empty() {
        Ok(Vec::new())
    } else if e.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<String>>(e)
            .map_err(|err| Error::invalid(format!("invalid --entrypoint {e:?}: {err}")))
    } else {
        Ok(vec![e.to_string()])
    }
}

/// `--log-driver`, the closed set peapod knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogDriver {
    /// Kubernetes' CRI log format in a file (`json-file` is Podman's alias of it).
    #[default]
    KFile,
    None,
    /// The container has the caller's stdio.
    Passthrough,
    Journald,
}

impl LogDriver {
    /// Podman's names; `""` is the default.
    pub fn parse(s: &str) -> Result<LogDriver> {
        match s {
            "" | "k8s-file" | "json-file" => Ok(LogDriver::KFile),
            "none" => Ok(LogDriver::None),
            "passthrough" => Ok(LogDriver::Passthrough),
            "journald" => Ok(LogDriver::Journald),
            other => Err(Error::invalid(format!(
                "invalid log driver: {other}: invalid argument"
            ))),
        }
    }

    /// The name stored in the container's configuration and shown by inspect.
    pub fn name(&self) -> &'static str {
        match self {
            LogDriver::KFile => "k8s-file",
            LogDriver::None => "none",
            LogDriver::Passthrough => "passthrough",
            LogDriver::Journald => "journald",
        }
    }
}

/// `--log-driver` and `--log-opt`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogConfig {
    pub driver: LogDriver,
    /// `max-size`: bytes; None: no limit.
    pub max_size: Option<u64>,
    /// `max-file`: rotated files kept.
    pub max_files: Option<u32>,
    /// `path`: the log file instead of the default.
    pub path: Option<String>,
    /// `tag` (journald's; accepted as Podman does).
    pub tag: Option<String>,
}

impl LogConfig {
    /// Parse the flags, with Podman's messages.
    pub fn parse(driver: Option<&str>, opts: &[String]) -> Result<LogConfig> {
        let mut c = LogConfig {
            driver: LogDriver::parse(driver.unwrap_or(""))?,
            ..Default::default()
        };
        for o in opts {
            match o.split_once('=') {
                Some(("max-size", v)) => {
                    c.max_size = Some(
                        super::resources::from_human_size(v)
                            .and_then(|n| u64::try_from(n).ok())
                            .ok_or_else(|| {
                                Error::invalid(format!("invalid log option {o:?}: invalid size"))
                            })?,
                    )
                }
                Some(("path", v)) => c.path = Some(v.to_string()),
                Some(("max-file", v)) => {
                    c.max_files = Some(v.parse::<u32>().ok().filter(|n| *n >= 1).ok_or_else(
                        || {
                            Error::invalid(format!(
                                "invalid log option {o:?}: max-file must be a whole number of at least 1"
                            ))
                        },
                    )?)
                }
                Some(("tag", v)) => c.tag = Some(v.to_string()),
                _ => {
                    return Err(Error::invalid(format!(
                        "invalid log option {o:?}: invalid argument"
                    )));
                }
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_modes() {
        assert_eq!(
            NamespaceMode::parse("ipc", "host").unwrap(),
            NamespaceMode::Host
        );
        assert_eq!(
            NamespaceMode::parse("pid", "container:web").unwrap(),
            NamespaceMode::Container("web".into())
        );
        assert_eq!(
            NamespaceMode::parse("uts", "ns:/proc/1/ns/uts")
                .unwrap()
                .to_config(),
            "ns:/proc/1/ns/uts"
        );
        assert_eq!(
            NamespaceMode::parse("ipc", "none").unwrap(),
            NamespaceMode::None
        );
        assert!(NamespaceMode::parse("pid", "none").is_err());
        assert!(NamespaceMode::parse("pid", "shareable").is_err());
        assert!(NamespaceMode::parse("uts", "ns:relative").is_err());
    }

    #[test]
    fn entrypoints() {
        assert_eq!(parse_entrypoint("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_entrypoint("/bin/sh -c").unwrap(), ["/bin/sh -c"]);
        assert_eq!(parse_entrypoint(r#"["sh","-c"]"#).unwrap(), ["sh", "-c"]);
        assert!(parse_entrypoint("[not json").is_err());
    }

    #[test]
    fn log_drivers_and_options() {
        assert_eq!(LogDriver::parse("json-file").unwrap(), LogDriver::KFile);
        assert_eq!(LogDriver::parse("").unwrap().name(), "k8s-file");
        assert_eq!(
            LogDriver::parse("syslog").unwrap_err().to_string(),
            "invalid log driver: syslog: invalid argument"
        );
        let c = LogConfig::parse(
            Some("k8s-file"),
            &[
                "max-size=1k".into(),
                "max-file=3".into(),
                "path=/tmp/x".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.max_size, Some(1000));
        assert_eq!(c.max_files, Some(3));
        assert_eq!(c.path.as_deref(), Some("/tmp/x"));
        assert!(LogConfig::parse(None, &["max-file=0".into()]).is_err());
        assert!(LogConfig::parse(None, &["bogus=1".into()]).is_err());
        assert!(LogConfig::parse(None, &["max-size=lots".into()]).is_err());
    }
}
