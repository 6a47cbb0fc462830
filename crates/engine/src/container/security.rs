//! A container's security settings, decided once at create as Podman's specgen decides
//! them, and stored with the container so every start writes the same config.json:
//! capabilities (containers.conf `default_capabilities`, `--cap-add`, `--cap-drop`,
//! `--privileged`), the seccomp filter, no-new-privileges, masked and read-only paths,
//! AppArmor and label options, and containers.conf's `default_sysctls`.
//!
//! Podman quirks kept on purpose (each checked against podman 4.3):
//! - capabilities beyond our own bounding set are dropped silently, not refused;
//! - a non-root `--user` gets only the `--cap-add`ed capabilities, as effective, permitted,
//!   inheritable and ambient;
//! - `--privileged` lifts seccomp only when the profile is the default one (a profile named
//!   with `--security-opt seccomp=` or containers.conf stays);
//! - `unmask=a:b` splits the list for masking but not for the cgroup mount, which only
//!   `unmask=ALL` (first) or a lone `unmask=/sys/fs/cgroup` makes writable;
//! - a relative `mask=` path is skipped with an error message, not refused.
//!
//! Departures: the default profile is our built-in copy of Podman 4.3's, not read from
//! `/usr/share/containers/seccomp.json` (the distribution's copy of the same profile);
//! `/etc/containers/seccomp.json` and containers.conf `seccomp_profile` are honoured as
//! Podman honours them. Two paths later Podman versions mask for security
//! (`/proc/interrupts`, `/sys/devices/virtual/powercap`) are masked too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::config::containers_conf::ContainersConf;
use crate::error::{Error, Result};
use crate::oci::caps;
use crate::oci::seccomp::{Profile, builtin};

/// containers/common's `SeccompDefaultPath`: the distribution's copy of the default profile.
pub const SECCOMP_DEFAULT_PATH: &str = "/usr/share/containers/seccomp.json";
/// containers/common's `SeccompOverridePath`: an administrator's replacement, used when it
/// exists and nothing else is named.
pub const SECCOMP_OVERRIDE_PATH: &str = "/etc/containers/seccomp.json";

/// Podman 4.3's masked paths, then two later Podman versions added.
pub const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
    "/proc/interrupts",
    "/sys/devices/virtual/powercap",
];

/// Podman's read-only paths.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// `--privileged`, `--cap-add`, `--cap-drop` and the parsed `--security-opt`s of a create
/// request.
#[derive(Debug, Clone, Default)]
pub struct SecurityFlags {
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub opts: Vec<SecurityOpt>,
    /// `--ulimit`s as given (`nofile=1024:2048`, `host`); see [`super::ulimit::plan`].
    pub ulimits: Vec<String>,
    /// `--sysctl KEY=VALUE`s, after containers.conf's `default_sysctls`.
    pub sysctls: Vec<String>,
}

/// One `--security-opt`, parsed once (by the CLI, through [`FromStr`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    /// `no-new-privileges[=BOOL]`.
    NoNewPrivileges(bool),
    /// `seccomp=unconfined`.
    SeccompUnconfined,
    /// `seccomp=PATH`: a profile in Docker's JSON format.
    SeccompProfile(PathBuf),
    /// `mask=/a:/b`: more paths to mask.
    Mask(Vec<String>),
    /// `unmask=ALL|/a:/b` (globs), as given; `systempaths=unconfined` is `unmask=ALL`.
    Unmask(String),
    /// `label=…`: SELinux options (recorded; this host's SELinux is not used).
    Label(String),
    /// `apparmor=PROFILE`.
    Apparmor(String),
}

impl FromStr for SecurityOpt {
    type Err = Error;

    /// Podman's forms and messages: `key=value`, or Docker's deprecated `key:value`.
    fn from_str(opt: &str) -> Result<SecurityOpt> {
        if opt == "no-new-privileges" {
            return Ok(SecurityOpt::NoNewPrivileges(true));
        }
        let sep = if opt.contains('=') { '=' } else { ':' };
        let Some((key, value)) = opt.split_once(sep) else {
            return Err(Error::invalid(format!("invalid --security-opt 1: {opt:?}")));
        };
        let bad = || Error::invalid(format!("invalid --security-opt 2: {opt:?}"));
        Ok(match key {
            "apparmor" => SecurityOpt::Apparmor(value.to_string()),
            "label" => SecurityOpt::Label(value.to_string()),
            "mask" => SecurityOpt::Mask(value.split(':').map(str::to_string).collect()),
            "seccomp" if value == "unconfined" => SecurityOpt::SeccompUnconfined,
            "seccomp" => SecurityOpt::SeccompProfile(value.into()),
            "systempaths" if value == "unconfined" => SecurityOpt::Unmask("ALL".into()),
            "systempaths" => {
                return Err(Error::invalid(format!(
                    "invalid systempaths option {value:?}, only `unconfined` is supported"
                )));
            }
            "unmask" => SecurityOpt::Unmask(value.to_string()),
            "no-new-privileges" => SecurityOpt::NoNewPrivileges(go_bool(value).ok_or_else(bad)?),
            "proc-opts" => {
                return Err(Error::invalid(format!(
                    "--security-opt {opt:?}: proc-opts is not supported by peapod"
                )));
            }
            _ => return Err(bad()),
        })
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The seccomp filter a container gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Seccomp {
    /// No filter (`seccomp=unconfined`, or `--privileged` with the default profile).
    Unconfined,
    /// Podman's default profile, our built-in copy.
    Builtin,
    /// A profile read from a file at create (later edits of the file do not apply).
    Profile {
        path: PathBuf,
        profile: Box<Profile>,
    },
}

/// Everything decided at create. Capability lists are `CAP_…` names, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityConfig {
    pub privileged: bool,
    pub bounding: Vec<String>,
    /// Also the permitted set.
    pub effective: Vec<String>,
    /// Also the inheritable set (a non-root user's `--cap-add`s).
    pub ambient: Vec<String>,
    pub no_new_privileges: bool,
    pub seccomp: Seccomp,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// `/sys/fs/cgroup` mounted read-write.
    pub cgroup_rw: bool,
    /// `process.apparmorProfile` (only on a host with AppArmor enabled).
    pub apparmor_profile: String,
    /// `linux.sysctl`: containers.conf `default_sysctls`, then `--sysctl`.
    pub sysctls: BTreeMap<String, String>,
    /// What inspect shows as `HostConfig.SecurityOpt`, in Podman's order.
    pub security_opts: Vec<String>,
    /// `process.rlimits`: `--ulimit` or containers.conf `default_ulimits`.
    #[serde(default)]
    pub rlimits: super::ulimit::Rlimits,
    /// systemd mode ([`crate::oci::systemd`]): its tmpfs and cgroup mounts, no host ttys
    /// when privileged, `container_uuid` in the environment.
    #[serde(default)]
    pub systemd: bool,
}

impl SecurityConfig {
    /// For a container created before security settings were stored: what peapod gave
    /// every container then (Debian's default capabilities, no filter), plus the default
    /// seccomp profile and masks.
    pub fn legacy(root_user: bool) -> SecurityConfig {
        let bounding: Vec<String> = [
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        SecurityConfig {
            privileged: false,
            effective: if root_user {
                bounding.clone()
            } else {
                Vec::new()
            },
            bounding,
            ambient: Vec::new(),
            no_new_privileges: false,
            seccomp: Seccomp::Builtin,
            masked_paths: MASKED_PATHS.iter().map(|s| s.to_string()).collect(),
            readonly_paths: READONLY_PATHS.iter().map(|s| s.to_string()).collect(),
            cgroup_rw: false,
            apparmor_profile: String::new(),
            sysctls: BTreeMap::new(),
            security_opts: Vec::new(),
            rlimits: Default::default(),
            systemd: false,
        }
    }

    /// `linux.seccomp` for config.json.
    pub fn seccomp_oci(&self) -> Result<Option<oci_spec::runtime::LinuxSeccomp>> {
        match &self.seccomp {
            Seccomp::Unconfined => Ok(None),
            Seccomp::Builtin => builtin::profile().to_oci(&self.bounding),
            Seccomp::Profile { profile, .. } => profile.to_oci(&self.bounding),
        }
    }
}

/// What the security decisions depend on besides the flags.
pub(crate) struct SecurityTarget<'a> {
    /// The user as given (`--user` or the image's), before resolution.
    pub user: &'a str,
    /// The container's network mode (`host`, `pod`, `container:ID`, …).
    pub network_mode: &'a str,
    /// The pod whose namespaces the container joins, if any.
    pub pod: Option<&'a str>,
    /// `--systemd`'s decision ([`crate::oci::systemd::wanted`]).
    pub systemd: bool,
    /// `--ipc host`, `--uts host`: namespaces whose sysctls a `--sysctl` may not set.
    pub host_ipc: bool,
    pub host_uts: bool,
}

/// The `--security-opt`s folded: the last of each kind wins, lists add up.
#[derive(Default)]
struct Opts {
    no_new_privileges: Option<bool>,
    seccomp: Option<SecurityOpt>,
    mask: Vec<String>,
    unmask: Vec<String>,
    labels: Vec<String>,
    apparmor: Option<String>,
}

impl Opts {
    fn fold(opts: &[SecurityOpt]) -> Opts {
        let mut o = Opts::default();
        for opt in opts {
            match opt {
                SecurityOpt::NoNewPrivileges(b) => o.no_new_privileges = Some(*b),
                SecurityOpt::SeccompUnconfined | SecurityOpt::SeccompProfile(_) => {
                    o.seccomp = Some(opt.clone())
                }
                SecurityOpt::Mask(m) => o.mask.extend(m.iter().cloned()),
                SecurityOpt::Unmask(u) => o.unmask.push(u.clone()),
                SecurityOpt::Label(l) => o.labels.push(l.clone()),
                SecurityOpt::Apparmor(a) => o.apparmor = Some(a.clone()),
            }
        }
        o
    }
}

impl Engine {
    /// Decide a new container's security settings (reads containers.conf).
    pub(crate) fn plan_security(
        &self,
        flags: &SecurityFlags,
        target: &SecurityTarget<'_>,
    ) -> Result<SecurityConfig> {
        let conf = ContainersConf::load()?;
        let opts = Opts::fold(&flags.opts);
        let (bounding, effective, ambient) = capabilities(flags, &conf, target.user)?;
        let (seccomp, seccomp_opt) = seccomp(flags.privileged, &opts, &conf)?;
        let (masked_paths, readonly_paths) = masks(flags.privileged, &opts);
        let apparmor_profile = apparmor(opts.apparmor.as_deref())?;
        let ipc_shared = match target.pod {
            Some(pod) => self.db.pod(pod)?.is_some_and(|p| p.shares("ipc")),
            None => false,
        };
        let net_shared = matches!(target.network_mode, "host" | "pod")
            || target.network_mode.starts_with("container:");
        let mut sysctls = sysctls(
            &conf.containers.default_sysctls,
            net_shared,
            ipc_shared || target.host_ipc,
        )?;
        for s in &flags.sysctls {
            let (key, value) = super::hostcfg::validate_sysctl(s)?;
            super::hostcfg::check_sysctl_namespaces(
                &key,
                &value,
                target.network_mode == "host",
                target.host_ipc,
                target.host_uts,
            )?;
            sysctls.insert(key, value);
        }
        let no_new_privileges = opts.no_new_privileges.unwrap_or(false);
        // Podman reads default_ulimits for root only.
        let conf_ulimits: &[String] = if crate::rootless::is_rootless() {
            &[]
        } else {
            &conf.containers.default_ulimits
        };
        let rlimits = super::ulimit::plan(&flags.ulimits, conf_ulimits)?;

        // HostConfig.SecurityOpt, as Podman builds it from the spec and its annotations.
        let mut security_opts = Vec::new();
        if no_new_privileges {
            security_opts.push("no-new-privileges".to_string());
        }
        if !opts.labels.is_empty() {
            security_opts.push(format!("label={}", opts.labels.join(",label=")));
        }
        if let Some(s) = seccomp_opt {
            security_opts.push(format!("seccomp={s}"));
        }
        if let Some(a) = &opts.apparmor {
            security_opts.push(format!("apparmor={a}"));
        }
        Ok(SecurityConfig {
            privileged: flags.privileged,
            bounding,
            effective,
            ambient,
            no_new_privileges,
            seccomp,
            masked_paths,
            readonly_paths,
            // systemd writes its cgroup: on cgroup v2 the whole mount is read-write (on v1
            // its own hierarchy is bound in, see crate::oci::systemd).
            cgroup_rw: flags.privileged
                || (target.systemd && crate::config::cgroup_unified())
                || opts.unmask.first().is_some_and(|u| u == "ALL")
                || opts.unmask.iter().any(|u| clean(u) == "/sys/fs/cgroup"),
            apparmor_profile,
            sysctls,
            security_opts,
            rlimits,
            systemd: target.systemd,
        })
    }
}

/// What `info` reports under `Host.Security`, as Podman's `SecurityInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityInfo {
    pub apparmor_enabled: bool,
    /// containers.conf `default_capabilities` (or the built-in ones), `CAP_` names.
    pub default_capabilities: Vec<String>,
    pub seccomp_enabled: bool,
    /// The profile file a new container's filter comes from; empty when it is the built-in
    /// default (Podman shows an empty path when it uses its built-in profile too).
    pub seccomp_profile_path: String,
    pub selinux_enabled: bool,
}

impl Engine {
    /// The host's and containers.conf's security defaults, for `info`.
    pub fn security_info(&self) -> Result<SecurityInfo> {
        let conf = ContainersConf::load()?;
        let profile = conf.containers.seccomp_profile.clone().or_else(|| {
            Path::new(SECCOMP_OVERRIDE_PATH)
                .exists()
                .then(|| SECCOMP_OVERRIDE_PATH.into())
        });
        Ok(SecurityInfo {
            apparmor_enabled: apparmor_enabled(),
            default_capabilities: conf.containers.default_capabilities,
            seccomp_enabled: std::fs::read_to_string("/proc/self/status")
                .is_ok_and(|s| s.lines().any(|l| l.starts_with("Seccomp:"))),
            seccomp_profile_path: profile.map(|p| p.display().to_string()).unwrap_or_default(),
            selinux_enabled: Path::new("/sys/fs/selinux/enforce").exists(),
        })
    }
}

/// Bounding, effective (= permitted) and ambient (= inheritable) sets.
fn capabilities(
    flags: &SecurityFlags,
    conf: &ContainersConf,
    user: &str,
) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let host = caps::bounding_set();
    // Names are checked even when --privileged makes them moot (Podman then ignores them).
    let merged = caps::merge(
        &conf.containers.default_capabilities,
        &flags.cap_add,
        &flags.cap_drop,
    )?;
    let bounding = if flags.privileged {
        host.clone()
    } else {
        caps::within(&merged, &host)
    };
    let name = user.split(':').next().unwrap_or("");
    if matches!(name, "" | "root" | "0") {
        return Ok((bounding.clone(), bounding, Vec::new()));
    }
    let added = caps::within(&caps::merge(&[], &flags.cap_add, &[])?, &host);
    Ok((bounding, added.clone(), added))
}

/// The filter, and the path inspect shows when `--security-opt seccomp=` named one.
fn seccomp(
    privileged: bool,
    opts: &Opts,
    conf: &ContainersConf,
) -> Result<(Seccomp, Option<String>)> {
    let explicit = match &opts.seccomp {
        Some(SecurityOpt::SeccompUnconfined) => {
            return Ok((Seccomp::Unconfined, Some("unconfined".into())));
        }
        Some(SecurityOpt::SeccompProfile(p)) => Some(p.clone()),
        _ => None,
    };
    let shown = explicit.as_ref().map(|p| p.display().to_string());
    let path = explicit
        .or_else(|| conf.containers.seccomp_profile.clone())
        .or_else(|| {
            Path::new(SECCOMP_OVERRIDE_PATH)
                .exists()
                .then(|| SECCOMP_OVERRIDE_PATH.into())
        });
    let is_default =
        |p: &Path| p == Path::new(SECCOMP_DEFAULT_PATH) || p == Path::new(SECCOMP_OVERRIDE_PATH);
    let chosen = match path {
        // Podman clears the default filter for --privileged, not a profile of one's own.
        None => {
            if privileged {
                Seccomp::Unconfined
            } else {
                Seccomp::Builtin
            }
        }
        Some(p) if privileged && is_default(&p) => Seccomp::Unconfined,
        Some(p) => {
            let profile = Profile::load(&p)?;
            Seccomp::Profile {
                path: p,
                profile: Box::new(profile),
            }
        }
    };
    Ok((chosen, shown))
}

/// Masked and read-only paths: the defaults less what `unmask` names (none when
/// privileged), plus what `mask` names.
fn masks(privileged: bool, opts: &Opts) -> (Vec<String>, Vec<String>) {
    let defaults = |list: &[&str]| -> Vec<String> {
        list.iter()
            .filter(|p| !privileged && should_mask(p, &opts.unmask))
            .map(|s| s.to_string())
            .collect()
    };
    let mut masked = defaults(MASKED_PATHS);
    let readonly = defaults(READONLY_PATHS);
    for m in &opts.mask {
        if m.starts_with('/') {
            masked.push(m.clone());
        } else if !m.is_empty() {
            tracing::error!("Path {m:?} is not an absolute path, skipping...");
        }
    }
    (masked, readonly)
}

/// Podman's `shouldMask`: `ALL` (any case) unmasks everything; otherwise each
/// colon-separated pattern is a glob over the path.
fn should_mask(path: &str, unmask: &[String]) -> bool {
    for u in unmask {
        if u.eq_ignore_ascii_case("all") {
            return false;
        }
        if u.split(':').any(|pat| glob_match(pat, path)) {
            return false;
        }
    }
    true
}

/// Go's `filepath.Match` for the forms used here: `*` and `?` within one path element,
/// everything else literal.
fn glob_match(pattern: &str, path: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                go(&p[1..], s) || (s.first().is_some_and(|c| *c != b'/') && go(p, &s[1..]))
            }
            (Some(b'?'), Some(c)) if *c != b'/' => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b && *a != b'?' => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), path.as_bytes())
}

/// `path.Clean` for absolute paths: no empty, `.` or trailing elements.
fn clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            x => parts.push(x),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `apparmor=`: without AppArmor on the host only `unconfined` is accepted (Podman's
/// message otherwise); with it, the named profile is applied. (Podman's default profile,
/// `containers-default-…`, is not generated: a container without `apparmor=` runs
/// without one.)
fn apparmor(profile: Option<&str>) -> Result<String> {
    match profile {
        None => Ok(String::new()),
        Some(p) if !apparmor_enabled() => {
            if p == "unconfined" {
                Ok(String::new())
            } else {
                Err(Error::invalid(format!(
                    "apparmor profile {p:?} specified, but Apparmor is not enabled on this system"
                )))
            }
        }
        Some(p) => Ok(p.to_string()),
    }
}

fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// containers.conf `default_sysctls`, checked as Podman checks them; network ones are left
/// out when the container does not own its network namespace, mqueue ones when it does
/// not own its IPC namespace.
fn sysctls(
    defaults: &[String],
    net_shared: bool,
    ipc_shared: bool,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for s in defaults {
        let (key, value) = super::hostcfg::validate_sysctl(s)?;
        let key = key.as_str();
        if (net_shared && key.starts_with("net.")) || (ipc_shared && key.starts_with("fs.mqueue."))
        {
            continue;
        }
        out.insert(key.to_string(), value);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "security_tests.rs"]
mod tests;
