//! Where things live, which OCI runtime and helpers to use.
//!
//! Owns the answers to "which path" and "which binary"; never touches state.
//! [`containers_conf`] reads Podman's containers.conf files.

pub mod containers_conf;
pub mod storage_conf;
pub mod storage_opts;

pub use storage_conf::StorageDriver;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const DEFAULT_ROOT: &str = "/var/lib/peapod";
pub const DEFAULT_RUNROOT: &str = "/run/peapod";

/// The store when `--root` is not given: [`DEFAULT_ROOT`], or the user's for a rootless one
/// (`~/.local/share/peapod`).
pub fn default_root() -> Result<PathBuf> {
    if crate::rootless::is_rootless() {
        crate::rootless::default_root()
    } else {
        Ok(PathBuf::from(DEFAULT_ROOT))
    }
}

/// The runtime state when `--runroot` is not given: [`DEFAULT_RUNROOT`], or
/// `$XDG_RUNTIME_DIR/peapod` for a rootless user.
pub fn default_runroot() -> Result<PathBuf> {
    if crate::rootless::is_rootless() {
        crate::rootless::default_runroot()
    } else {
        Ok(PathBuf::from(DEFAULT_RUNROOT))
    }
}

/// What the command line (or a test) tells the engine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    pub root: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
    /// `crun`, `runc`, or a path.
    pub runtime: Option<String>,
    /// The monitor binary (`--conmon`): ours by default, conmon works too.
    pub conmon: Option<PathBuf>,
    /// The `peapod` binary the monitor runs as its exit command.
    pub self_exe: Option<PathBuf>,
    pub log_level: Option<String>,
    /// The network helper (`--network-cmd`): peapod-netsetup by default, netavark works too.
    pub netsetup: Option<PathBuf>,
    /// `--runtime-flag`: options for the OCI runtime, without their leading `--`.
    pub runtime_flags: Vec<String>,
    /// `--events-backend`: `file`, `journald` or `none`, over containers.conf's
    /// `events_logger`.
    pub events_backend: Option<String>,
    /// `--volumepath`: where volumes live (`<root>/volumes` by default).
    pub volume_path: Option<PathBuf>,
    /// `--storage-driver` (`overlay`, `vfs`): the driver of a new store; another than a
    /// store's own is refused ([`storage_conf`]).
    pub storage_driver: Option<String>,
    /// `--storage-opt KEY=VALUE`: the storage driver's options, over storage.conf's
    /// ([`storage_opts`]).
    pub storage_opts: Vec<String>,
    /// `--default-mounts-file`: a mounts.conf whose `HOST:CONTAINER` lines are bound into
    /// every container, RUN steps of a build included.
    pub default_mounts_file: Option<PathBuf>,
}

/// Every path the engine uses, derived once from the options.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub runroot: PathBuf,
    /// `--volumepath`, when given.
    pub volume_path: Option<PathBuf>,
}

impl Paths {
    pub fn new(root: PathBuf, runroot: PathBuf) -> Self {
        Paths {
            root,
            runroot,
            volume_path: None,
        }
    }
    pub fn db(&self) -> PathBuf {
        self.root.join("db.sqlite")
    }
    /// Content-addressed blobs and the image store.
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }
    /// Unpacked layers.
    pub fn layers(&self) -> PathBuf {
        self.root.join("layers")
    }
    /// Per-container persistent directory: the OCI bundle (config.json, ctr.log, attach, ctl)
    /// and the overlay's upper/work/merged directories.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }
    pub fn bundle(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("userdata")
    }
    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.container_dir(id).join("merged")
    }
    /// Per-container runtime directory: pidfile, conmon.pid, hosts, hostname, resolv.conf.
    pub fn container_run_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("containers").join(id)
    }
    pub fn exit_dir(&self) -> PathBuf {
        self.runroot.join("exits")
    }
    pub fn exit_file(&self, id: &str) -> PathBuf {
        self.exit_dir().join(id)
    }
    pub fn persist_dir(&self, id: &str) -> PathBuf {
        self.runroot.join("persist").join(id)
    }
    pub fn locks(&self) -> PathBuf {
        self.runroot.join("locks")
    }
    /// Network definitions, one JSON file each in Podman's format.
    pub fn networks(&self) -> PathBuf {
        self.root.join("networks")
    }
    /// The network helper's `--config` dir (its DNS records live here).
    pub fn network_run_dir(&self) -> PathBuf {
        self.runroot.join("networks")
    }
    /// Network namespace files, one per container that has its own.
    pub fn netns_dir(&self) -> PathBuf {
        self.runroot.join("netns")
    }
    /// Named and anonymous volumes, one directory each (Podman's layout), under
    /// `--volumepath` when given.
    pub fn volumes(&self) -> PathBuf {
        self.volume_path
            .clone()
            .unwrap_or_else(|| self.root.join("volumes"))
    }
    /// `<root>/volumes/<name>`: `name` must be a valid volume name (no `/`, no `..`).
    pub fn volume_dir(&self, name: &str) -> PathBuf {
        debug_assert!(crate::names::valid_name(name), "volume name {name:?}");
        self.volumes().join(name)
    }
    /// What a container mounts: `<root>/volumes/<name>/_data`.
    pub fn volume_data(&self, name: &str) -> PathBuf {
        self.volume_dir(name).join("_data")
    }
    /// Marks that this runroot was set up since the last boot.
    pub fn alive(&self) -> PathBuf {
        self.runroot.join("alive")
    }
}

/// The runtime to use: the user's choice, else crun where it works on this host, else runc.
///
/// crun refuses hybrid cgroup layouts (v1 controllers plus a v2 mount), which runc handles;
/// on a pure v2 host crun is Podman's default and ours too.
pub fn find_runtime(choice: Option<&str>) -> Result<PathBuf> {
    if let Some(c) = choice {
        if c.contains('/') {
            let p = PathBuf::from(c);
            return if is_executable(&p) {
                Ok(p)
            } else {
                Err(Error::invalid(format!(
                    "OCI runtime {c} not found or not executable"
                )))
            };
        }
        return which(c)
            .ok_or_else(|| Error::invalid(format!("OCI runtime \"{c}\" not found in $PATH")));
    }
    let order: &[&str] = if cgroup_unified() {
        &["crun", "runc"]
    } else {
        &["runc", "crun"]
    };
    order
        .iter()
        .find_map(|n| which(n))
        .ok_or_else(|| Error::other("no OCI runtime found: install crun or runc"))
}

/// True on a host with only the cgroup v2 hierarchy.
pub fn cgroup_unified() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A helper executable (`peapod-monitor`, `peapod-netsetup`, `peapod-pause`): next to us in
/// `../libexec/peapod/`, then in our own directory, then on PATH.
pub fn find_helper(self_exe: Option<&Path>, name: &str) -> Result<PathBuf> {
    if let Some(exe) = self_exe.and_then(|e| e.parent()) {
        let candidates = [exe.join("../libexec/peapod").join(name), exe.join(name)];
        for c in candidates {
            if is_executable(&c) {
                return Ok(c.canonicalize().unwrap_or(c));
            }
        }
    }
    for dir in ["/usr/local/libexec/peapod", "/usr/libexec/peapod"] {
        let c = Path::new(dir).join(name);
        if is_executable(&c) {
            return Ok(c);
        }
    }
    which(name).ok_or_else(|| {
        Error::other(format!(
            "helper {name} not found (looked in ../libexec/peapod beside peapod and on $PATH)"
        ))
    })
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
