//! containers.conf, read as Podman reads it: the files in Podman's order, each one's keys
//! overriding the earlier ones', over Podman's built-in defaults.
//!
//! Files, for root: `/usr/share/containers/containers.conf`,
//! `/etc/containers/containers.conf`, then `/etc/containers/containers.conf.d/*.conf` in
//! name order; `$CONTAINERS_CONF`, when set, replaces all of them (and must exist);
//! `$CONTAINERS_CONF_OVERRIDE` is read last on top (newer containers/common; Podman 4.3
//! ignores it). A list given in a later file replaces the earlier list.
//!
//! Keys honoured so far: in `[containers]`, `default_capabilities`, `default_sysctls`, `default_ulimits`,
//! `seccomp_profile`, `init_path`; in `[engine]`, `infra_image`, `runtime`, `events_logger`,
//! `events_logfile_path`, `events_logfile_max_size`. Other keys and tables are accepted and ignored, as Podman ignores the
//! keys it does not know. containers.conf has no `no_new_privileges` key (containers/common
//! defines none, in 0.50 or later): `--security-opt no-new-privileges` is the way to ask.
//!
//! This module only reads; it never writes a file. Issue 15 extends it with more keys.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The distribution's defaults.
pub const SHARE_CONF: &str = "/usr/share/containers/containers.conf";
/// The administrator's file, and beside it the `.d` directory of drop-ins.
pub const ETC_CONF: &str = "/etc/containers/containers.conf";

/// What the files say about the keys we honour, over Podman's built-in defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainersConf {
    pub containers: Containers,
    pub engine: EngineConf,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
}

/// `[containers]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Containers {
    /// `CAP_`-prefixed, as Podman normalises them; checked when a container is created.
    pub default_capabilities: Vec<String>,
    /// `name=value`; checked when a container is created.
    pub default_sysctls: Vec<String>,
    /// `name=soft:hard`, as `--ulimit` takes them; used when a container is created
    /// without `--ulimit` (checked then).
    pub default_ulimits: Vec<String>,
    /// `None`: Podman's lookup (`/etc/containers/seccomp.json` if it exists, else the
    /// built-in profile).
    pub seccomp_profile: Option<PathBuf>,
    /// `init_path`: the init `run --init` mounts (None: peapod's own, peapod-pause).
    pub init_path: Option<PathBuf>,
}

impl Default for Containers {
    /// Podman's built-in defaults (containers/common v0.50's `defaultConfig`).
    fn default() -> Self {
        Containers {
            default_capabilities: crate::oci::caps::BUILTIN_DEFAULT
                .iter()
                .map(|s| s.to_string())
                .collect(),
            default_sysctls: Vec::new(),
            default_ulimits: Vec::new(),
            seccomp_profile: None,
            init_path: None,
        }
    }
}

/// `[engine]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineConf {
    /// `infra_image`: the image of a pod's infra container when `--infra-image` is not
    /// given (None: peapod's own pause image).
    pub infra_image: Option<String>,
    /// `events_logger`: `file`, `journald` or `none` (None: peapod's default, `file`).
    pub events_logger: Option<String>,
    /// `events_logfile_path` (None: `<runroot>/events/events.log`).
    pub events_logfile_path: Option<PathBuf>,
    /// `events_logfile_max_size` in bytes (None: 1 MB; 0: no bound).
    pub events_logfile_max_size: Option<u64>,
    /// `runtime`: the OCI runtime when `--runtime` is not given (a name looked up in
    /// `$PATH`, or a path).
    pub runtime: Option<String>,
}

/// One file: a key it does not set leaves the earlier value.
#[derive(Debug, Default, Deserialize)]
struct FileConf {
    #[serde(default)]
    containers: FileContainers,
    #[serde(default)]
    engine: FileEngine,
}

#[derive(Debug, Default, Deserialize)]
struct FileEngine {
    infra_image: Option<String>,
    runtime: Option<String>,
    events_logger: Option<String>,
    events_logfile_path: Option<String>,
    events_logfile_max_size: Option<SizeValue>,
}

/// A size as containers/common reads it: a number, or go-units' `1m`, `500k`, `4750`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(i64),
    Human(String),
}

impl SizeValue {
    fn bytes(&self) -> std::result::Result<Option<u64>, String> {
        let n = match self {
            SizeValue::Bytes(n) => *n,
            SizeValue::Human(s) if s.is_empty() => return Ok(None),
            SizeValue::Human(s) => crate::container::resources::from_human_size(s)
                .ok_or_else(|| format!("events_logfile_max_size: invalid size {s:?}"))?,
        };
        if n < 0 {
            return Err(format!("events log file max size cannot be negative: {n}"));
        }
        Ok(Some(n as u64))
    }
}

#[derive(Debug, Default, Deserialize)]
struct FileContainers {
    init_path: Option<String>,
    default_capabilities: Option<Vec<String>>,
    default_sysctls: Option<Vec<String>>,
    default_ulimits: Option<Vec<String>>,
    seccomp_profile: Option<String>,
}

/// Where to look: the environment and the system paths (tests point these elsewhere).
#[derive(Debug, Clone)]
pub struct Sources {
    pub conf: Option<OsString>,
    pub conf_override: Option<OsString>,
    pub share: PathBuf,
    pub etc: PathBuf,
}

impl Sources {
    /// The real ones: `$CONTAINERS_CONF`, `$CONTAINERS_CONF_OVERRIDE` and the system files.
    pub fn from_env() -> Sources {
        let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        Sources {
            conf: nonempty("CONTAINERS_CONF"),
            conf_override: nonempty("CONTAINERS_CONF_OVERRIDE"),
            share: SHARE_CONF.into(),
            etc: ETC_CONF.into(),
        }
    }
}

impl ContainersConf {
    /// Read the files the environment and the system name.
    pub fn load() -> Result<ContainersConf> {
        ContainersConf::load_from(&Sources::from_env())
    }

    pub fn load_from(src: &Sources) -> Result<ContainersConf> {
        let mut conf = ContainersConf {
            containers: Containers::default(),
            engine: EngineConf::default(),
            files: Vec::new(),
        };
        for f in base_files(src)? {
            conf.apply_file(&f).map_err(|e| {
                Error::invalid(format!("decode configuration {}: {e}", f.display()))
            })?;
        }
        if let Some(o) = &src.conf_override {
            let o = PathBuf::from(o);
            conf.apply_file(&o).map_err(|e| {
                Error::invalid(format!(
                    "reading CONTAINERS_CONF_OVERRIDE config {:?}: {e}",
                    o.display().to_string()
                ))
            })?;
        }
        Ok(conf)
    }

    fn apply_file(&mut self, path: &Path) -> std::result::Result<(), String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let file: FileConf = toml::from_str(&text).map_err(|e| e.to_string())?;
        let c = file.containers;
        if let Some(caps) = c.default_capabilities {
            self.containers.default_capabilities = caps.iter().map(|c| cap_prefixed(c)).collect();
        }
        if let Some(s) = c.default_sysctls {
            self.containers.default_sysctls = s;
        }
        if let Some(u) = c.default_ulimits {
            self.containers.default_ulimits = u;
        }
        if let Some(p) = c.init_path {
            self.containers.init_path = (!p.is_empty()).then(|| p.into());
        }
        if let Some(p) = c.seccomp_profile {
            self.containers.seccomp_profile = (!p.is_empty()).then(|| p.into());
        }
        let e = file.engine;
        if let Some(i) = e.infra_image {
            self.engine.infra_image = (!i.is_empty()).then_some(i);
        }
        if let Some(l) = e.events_logger {
            self.engine.events_logger = (!l.is_empty()).then_some(l);
        }
        if let Some(p) = e.events_logfile_path {
            self.engine.events_logfile_path = (!p.is_empty()).then(|| p.into());
        }
        if let Some(size) = e.events_logfile_max_size
            && let Some(n) = size.bytes()?
        {
            self.engine.events_logfile_max_size = Some(n);
        }
        if let Some(r) = e.runtime {
            self.engine.runtime = (!r.is_empty()).then_some(r);
        }
        self.files.push(path.to_path_buf());
        Ok(())
    }
}

/// `$CONTAINERS_CONF` alone, or the system files that exist, in Podman's order.
fn base_files(src: &Sources) -> Result<Vec<PathBuf>> {
    if let Some(c) = &src.conf {
        let p = PathBuf::from(c);
        std::fs::metadata(&p).map_err(|e| {
            Error::invalid(format!("CONTAINERS_CONF file: stat {}: {e}", p.display()))
        })?;
        return Ok(vec![p]);
    }
    let mut files: Vec<PathBuf> = [&src.share, &src.etc]
        .into_iter()
        .filter(|p| p.is_file())
        .cloned()
        .collect();
    let mut dir = src.etc.clone().into_os_string();
    dir.push(".d");
    let dir = PathBuf::from(dir);
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            let mut dropins: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            dropins.sort();
            files.extend(dropins);
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("reading", dir, e)),
    }
    Ok(files)
}

/// `chown` → `CAP_CHOWN`, as containers/common's `addCAPPrefix` (a name already prefixed,
/// in any case, is kept as written and checked later).
fn cap_prefixed(c: &str) -> String {
    if c.to_ascii_lowercase().starts_with("cap_") {
        c.to_string()
    } else {
        format!("CAP_{}", c.to_ascii_uppercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dirs {
        _tmp: tempfile::TempDir,
        src: Sources,
    }

    fn dirs() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let src = Sources {
            conf: None,
            conf_override: None,
            share: tmp.path().join("share.conf"),
            etc: tmp.path().join("etc.conf"),
        };
        Dirs { _tmp: tmp, src }
    }

    #[test]
    fn builtin_defaults_without_files() {
        let d = dirs();
        let c = ContainersConf::load_from(&d.src).unwrap();
        assert_eq!(c.containers, Containers::default());
        assert_eq!(c.containers.default_capabilities.len(), 14);
        assert!(c.files.is_empty());
    }

    #[test]
    fn later_files_override_key_by_key() {
        let d = dirs();
        std::fs::write(
            &d.src.share,
            "[containers]\ndefault_capabilities = [\"CHOWN\", \"kill\"]\ndefault_sysctls = [\"net.ipv4.ping_group_range=0 0\"]\n[engine]\nruntime = \"runc\"\n",
        )
        .unwrap();
        std::fs::write(
            &d.src.etc,
            "[containers]\nseccomp_profile = \"/x.json\"\n[engine]\ninfra_image = \"k8s.gcr.io/pause:3.5\"\n",
        )
        .unwrap();
        let dropins = d.src.etc.with_extension("conf.d");
        std::fs::create_dir(&dropins).unwrap();
        std::fs::write(
            dropins.join("20-b.conf"),
            "[containers]\ndefault_capabilities = [\"CAP_NET_ADMIN\"]\n",
        )
        .unwrap();
        std::fs::write(
            dropins.join("10-a.conf"),
            "[containers]\ndefault_capabilities = [\"SYS_TIME\"]\n",
        )
        .unwrap();
        std::fs::write(dropins.join("ignored.txt"), "not toml [").unwrap();
        let c = ContainersConf::load_from(&d.src).unwrap();
        assert_eq!(c.containers.default_capabilities, vec!["CAP_NET_ADMIN"]);
        assert_eq!(
            c.containers.default_sysctls,
            vec!["net.ipv4.ping_group_range=0 0"]
        );
        assert_eq!(c.containers.seccomp_profile, Some(PathBuf::from("/x.json")));
        assert_eq!(
            c.engine.infra_image.as_deref(),
            Some("k8s.gcr.io/pause:3.5")
        );
        assert_eq!(c.engine.runtime.as_deref(), Some("runc"));
        assert_eq!(c.files.len(), 4);
        assert!(c.files[2].ends_with("10-a.conf"));
    }

    #[test]
    fn containers_conf_replaces_the_system_files_and_override_goes_last() {
        let mut d = dirs();
        std::fs::write(
            &d.src.share,
            "[containers]\ndefault_sysctls = [\"net.a=1\"]\n",
        )
        .unwrap();
        let mine = d.src.share.with_file_name("mine.conf");
        std::fs::write(&mine, "[containers]\ndefault_capabilities = [\"chown\"]\n").unwrap();
        let over = d.src.share.with_file_name("over.conf");
        std::fs::write(&over, "[containers]\ndefault_sysctls = [\"net.b=2\"]\n").unwrap();
        d.src.conf = Some(mine.clone().into());
        let c = ContainersConf::load_from(&d.src).unwrap();
        assert_eq!(c.containers.default_capabilities, vec!["CAP_CHOWN"]);
        assert_eq!(c.engine.infra_image, None);
        assert!(
            c.containers.default_sysctls.is_empty(),
            "the share file was read"
        );
        d.src.conf_override = Some(over.into());
        let c = ContainersConf::load_from(&d.src).unwrap();
        assert_eq!(c.containers.default_sysctls, vec!["net.b=2"]);
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let mut d = dirs();
        std::fs::write(&d.src.etc, "[containers\n").unwrap();
        let e = ContainersConf::load_from(&d.src).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("decode configuration {}:", d.src.etc.display())),
            "{e}"
        );
        std::fs::write(
            &d.src.etc,
            "[containers]\ndefault_capabilities = \"CHOWN\"\n",
        )
        .unwrap();
        assert!(ContainersConf::load_from(&d.src).is_err());
        d.src.conf = Some("/nonexistent/containers.conf".into());
        let e = ContainersConf::load_from(&d.src).unwrap_err().to_string();
        assert!(
            e.starts_with("CONTAINERS_CONF file: stat /nonexistent/containers.conf"),
            "{e}"
        );
    }
}
