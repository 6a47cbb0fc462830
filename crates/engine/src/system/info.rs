//! `version` and `info`: what this peapod is and what the host and store hold, as Podman's
//! `SystemVersionReport` and `define.Info` (Go field names; the front end prints YAML,
//! JSON or a template).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Engine;
use crate::container::Status;
use crate::error::Result;

/// The API level peapod answers as (Podman's release it mirrors).
pub const API_VERSION: &str = "4.3.1";

/// Podman's `define.Version`.
#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)]
pub struct VersionInfo {
    pub APIVersion: String,
    pub Version: String,
    pub GoVersion: String,
    pub GitCommit: String,
    pub BuiltTime: String,
    pub Built: i64,
    pub OsArch: String,
    pub Os: String,
}

/// Podman's `SystemVersionReport`. Without a service, Podman's templates see the client's
/// version as `.Server` too (`version --format '{{.Server.Version}}'` prints it) while its
/// JSON has the client only: `Server` is for templates and skipped in JSON.
#[derive(Debug, Clone, Serialize)]
#[allow(non_snake_case)]
pub struct Version {
    pub Client: VersionInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Server: Option<VersionInfo>,
}

fn arch() -> String {
    std::env::consts::ARCH
        .replace("x86_64", "amd64")
        .replace("aarch64", "arm64")
}

pub fn version_info() -> VersionInfo {
    VersionInfo {
        APIVersion: API_VERSION.into(),
        Version: env!("CARGO_PKG_VERSION").into(),
        GoVersion: "rust".into(),
        GitCommit: String::new(),
        BuiltTime: String::new(),
        Built: 0,
        OsArch: format!("linux/{}", arch()),
        Os: "linux".into(),
    }
}

/// `version`; `for_templates` adds `.Server` (see [`Version`]).
pub fn version(for_templates: bool) -> Version {
    Version {
        Client: version_info(),
        Server: for_templates.then(version_info),
    }
}

#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct Info {
    pub Host: HostInfo,
    pub Store: StoreInfo,
    /// registries.conf's search list (Podman: `registries: {search: […]}`).
    pub Registries: BTreeMap<String, Vec<String>>,
    pub Version: VersionInfo,
}

#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct Program {
    pub Package: String,
    pub Path: String,
    pub Version: String,
}

/// The Buildah release Podman 4.3.1 vendors (`info`'s `host.buildahVersion`).
pub const BUILDAH_VERSION: &str = "1.28.0";

/// Podman's `SlirpInfo`.
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct SlirpInfo {
    pub Executable: String,
    pub Package: String,
    pub Version: String,
}

#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct HostInfo {
    pub Arch: String,
    /// The Buildah release whose Containerfile semantics `build` follows: the one Podman
    /// 4.3.1 builds with.
    pub BuildahVersion: String,
    pub CgroupControllers: Vec<String>,
    pub CgroupManager: String,
    /// JSON `cgroupVersion` (Podman's Go field is `CgroupsVersion`).
    pub CgroupsVersion: String,
    pub Conmon: Program,
    pub CPUs: usize,
    pub Distribution: Distribution,
    pub EventLogger: String,
    pub Hostname: String,
    /// The user namespace's maps when rootless; null (Go's nil slices) for root.
    pub IDMappings: IdMappings,
    pub Kernel: String,
    pub Linkmode: String,
    pub LogDriver: String,
    pub MemFree: u64,
    pub MemTotal: u64,
    pub NetworkBackend: String,
    pub OCIRuntime: OciRuntime,
    pub OS: String,
    pub RemoteSocket: RemoteSocket,
    pub Security: SecurityInfo,
    pub ServiceIsRemote: bool,
    /// The slirp4netns binary rootless networking uses (empty when not installed).
    pub Slirp4NetNS: SlirpInfo,
    pub SwapFree: u64,
    pub SwapTotal: u64,
    pub Uptime: String,
}

/// `Host.OCIRuntime`.
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct OciRuntime {
    pub Name: String,
    pub Package: String,
    pub Path: String,
    pub Version: String,
}

/// `Host.Distribution`, from `/etc/os-release`.
#[derive(Debug, Serialize, Default)]
#[allow(non_snake_case)]
pub struct Distribution {
    pub Distribution: String,
    pub Version: String,
    pub Codename: String,
}

/// `Host.RemoteSocket`: where `system service` listens by default, and whether it does.
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct RemoteSocket {
    pub Path: String,
    pub Exists: bool,
}

fn distribution() -> Distribution {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    Distribution {
        Distribution: get("ID"),
        Version: get("VERSION_ID"),
        Codename: get("VERSION_CODENAME"),
    }
}

/// A `/proc/meminfo` value in bytes.
fn meminfo(key: &str) -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                let kb = l.strip_prefix(key)?.strip_prefix(':')?;
                kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// The cgroup controllers available: v2's `cgroup.controllers`, else v1's enabled ones.
fn cgroup_controllers() -> Vec<String> {
    if let Ok(c) = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers") {
        return c.split_whitespace().map(str::to_string).collect();
    }
    std::fs::read_to_string("/proc/cgroups")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[3] == "1").then(|| f[0].to_string())
        })
        .collect()
}

/// Podman's `Host.IDMappings`.
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct IdMappings {
    pub GIDMap: Option<Vec<IdMap>>,
    pub UIDMap: Option<Vec<IdMap>>,
}

/// containers/storage's `idtools.IDMap`.
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct IdMap {
    pub ContainerID: u32,
    pub HostID: u32,
    pub Size: u32,
}

fn id_maps(maps: Vec<crate::rootless::IdMap>) -> Vec<IdMap> {
    maps.into_iter()
        .map(|m| IdMap {
            ContainerID: m.container_id,
            HostID: m.host_id,
            Size: m.size,
        })
        .collect()
}

/// Podman's `Host.Security` (Go field names; Podman's YAML keys differ slightly).
#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct SecurityInfo {
    pub AppArmorEnabled: bool,
    pub DefaultCapabilities: String,
    pub Rootless: bool,
    pub SECCOMPEnabled: bool,
    pub SECCOMPProfilePath: String,
    pub SELinuxEnabled: bool,
}

#[derive(Debug, Serialize)]
#[allow(non_snake_case)]
pub struct StoreInfo {
    /// The storage.conf read (or the one that would be).
    pub ConfigFile: String,
    pub ContainerStore: ContainerStore,
    pub GraphDriverName: String,
    /// The storage driver's options (`--storage-opt`, storage.conf): a mount program as
    /// `{Executable, Package, Version}`.
    pub GraphOptions: BTreeMap<String, serde_json::Value>,
    /// Facts of the overlay driver, under containers/storage's names.
    pub GraphStatus: BTreeMap<String, String>,
    pub GraphRoot: String,
    pub RunRoot: String,
    pub ImageStore: ImageStore,
    pub VolumePath: String,
}

#[derive(Debug, Serialize)]
pub struct ContainerStore {
    pub number: usize,
    pub paused: usize,
    pub running: usize,
    pub stopped: usize,
}

#[derive(Debug, Serialize)]
pub struct ImageStore {
    pub number: usize,
}

/// The first line a program prints for `arg` (its version).
fn first_line_of(cmd: &std::path::Path, arg: &str) -> String {
    std::process::Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

impl Engine {
    /// `info`.
    pub fn info(&self) -> Result<Info> {
        Ok(Info {
            Host: self.host_info()?,
            Store: self.store_info()?,
            Registries: BTreeMap::from([(
                "search".to_string(),
                self.registries_conf().map(|c| c.search).unwrap_or_default(),
            )]),
            Version: version_info(),
        })
    }

    fn host_info(&self) -> Result<HostInfo> {
        let runtime = self.runtime()?;
        let monitor = self.monitor_path().unwrap_or_default();
        let uname = nix::sys::utsname::uname().ok();
        let security = self.security_info()?;
        let uname_field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uname
                .as_ref()
                .map(|u| f(u).to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        Ok(HostInfo {
            Arch: arch(),
            BuildahVersion: BUILDAH_VERSION.into(),
            CgroupControllers: cgroup_controllers(),
            CgroupManager: "cgroupfs".into(),
            CgroupsVersion: if crate::config::cgroup_unified() {
                "v2".into()
            } else {
                "v1".into()
            },
            Conmon: Program {
                Package: "peapod".into(),
                Path: monitor.display().to_string(),
                Version: first_line_of(&monitor, "--version"),
            },
            CPUs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            Distribution: distribution(),
            EventLogger: match self.events_logger() {
                Ok(crate::events::Logger::File { .. }) => "file".into(),
                _ => "none".into(),
            },
            Hostname: uname_field(|u| u.nodename()),
            IDMappings: {
                let (uids, gids) = crate::rootless::id_mappings().unzip();
                IdMappings {
                    GIDMap: gids.map(id_maps),
                    UIDMap: uids.map(id_maps),
                }
            },
            Kernel: uname_field(|u| u.release()),
            Linkmode: "dynamic".into(),
            // What `run` uses without `--log-driver` (see container::create).
            LogDriver: "k8s-file".into(),
            MemFree: meminfo("MemFree"),
            MemTotal: crate::pod::mem_total().unwrap_or(0),
            NetworkBackend: "netavark".into(),
            OCIRuntime: OciRuntime {
                Name: runtime
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                Package: runtime.name(),
                Path: runtime.path.display().to_string(),
                Version: first_line_of(&runtime.path, "--version"),
            },
            OS: "linux".into(),
            RemoteSocket: RemoteSocket {
                Path: String::new(),
                Exists: false,
            },
            ServiceIsRemote: false,
            SwapFree: meminfo("SwapFree"),
            SwapTotal: meminfo("SwapTotal"),
            Security: SecurityInfo {
                AppArmorEnabled: security.apparmor_enabled,
                DefaultCapabilities: security.default_capabilities.join(","),
                Rootless: crate::rootless::is_rootless(),
                SECCOMPEnabled: security.seccomp_enabled,
                SECCOMPProfilePath: security.seccomp_profile_path,
                SELinuxEnabled: security.selinux_enabled,
            },
            Slirp4NetNS: match crate::config::which(crate::network::slirp::SLIRP) {
                Some(path) => SlirpInfo {
                    Package: "slirp4netns".into(),
                    Version: first_line_of(&path, "--version"),
                    Executable: path.display().to_string(),
                },
                None => SlirpInfo {
                    Package: String::new(),
                    Executable: String::new(),
                    Version: String::new(),
                },
            },
            Uptime: std::fs::read_to_string("/proc/uptime")
                .ok()
                .and_then(|u| u.split_whitespace().next().map(|s| s.to_string()))
                .unwrap_or_default(),
        })
    }

    /// The overlay driver's facts, measured: the filesystem under the store, and what the
    /// kernel's overlay does here (d_type is required, metacopy is not used).
    fn graph_status(&self) -> BTreeMap<String, String> {
        // containers/storage's vfs driver reports no status.
        if self.storage_driver() == crate::StorageDriver::Vfs {
            return BTreeMap::new();
        }
        let fs = nix::sys::statfs::statfs(&self.paths.root)
            .map(|s| backing_fs_name(s.filesystem_type().0))
            .unwrap_or_else(|_| "unknown".into());
        BTreeMap::from([
            ("Backing Filesystem".to_string(), fs),
            // A mount program's upper dir is read naively (c/storage's useNaiveDiff).
            (
                "Native Overlay Diff".to_string(),
                self.overlay().program.is_none().to_string(),
            ),
            ("Supports d_type".to_string(), "true".to_string()),
            ("Using metacopy".to_string(), "false".to_string()),
        ])
    }

    fn store_info(&self) -> Result<StoreInfo> {
        let containers = self.containers()?;
        let count =
            |f: &dyn Fn(Status) -> bool| containers.iter().filter(|c| f(c.state.status)).count();
        Ok(StoreInfo {
            ConfigFile: crate::config::storage_conf::info_conf_file(),
            ContainerStore: ContainerStore {
                number: containers.len(),
                paused: count(&|s| s == Status::Paused),
                running: count(&|s| s == Status::Running),
                stopped: count(&|s| matches!(s, Status::Stopped | Status::Exited)),
            },
            GraphDriverName: self.storage_driver().name().into(),
            GraphOptions: super::graph_options::graph_options(self.storage_opts()),
            GraphStatus: self.graph_status(),
            GraphRoot: self.paths.root.display().to_string(),
            RunRoot: self.paths.runroot.display().to_string(),
            ImageStore: ImageStore {
                number: self.images()?.len(),
            },
            VolumePath: self.paths.volumes().display().to_string(),
        })
    }
}

/// containers/storage's name for a filesystem magic number (`graphStatus`).
fn backing_fs_name(magic: i64) -> String {
    match magic {
        0xEF53 => "extfs",
        0x58465342 => "xfs",
        0x9123683E => "btrfs",
        0x01021994 => "tmpfs",
        0x794C7630 => "overlayfs",
        0x2FC12FC1 => "zfs",
        0x65735546 => "fuse",
        _ => return format!("<unknown>(0x{magic:x})"),
    }
    .to_string()
}

/// `info`'s Go field names turned into their JSON tags, all the way down (the JSON of
/// `info --format json` and of the libpod API's `/info`).
pub fn json_tags(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    if is_data_key(&k) {
                        (k, v)
                    } else {
                        (lower_camel(&k), json_tags(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(json_tags).collect()),
        other => other,
    }
}

/// A key that is data, not a Go field name: graphStatus' `Backing Filesystem`,
/// graphOptions' `overlay.mount_program` (its value's keys are a Go map's, kept as well).
fn is_data_key(key: &str) -> bool {
    key.contains([' ', '.'])
}

/// `OCIRuntime` → `ociRuntime`, `MemTotal` → `memTotal`, `OS` → `os`: Podman's YAML keys.
/// A key with a space is data (graphStatus' `Backing Filesystem`), kept as it is.
pub fn lower_camel(key: &str) -> String {
    if is_data_key(key) {
        return key.to_string();
    }
    // The id maps keep containers/storage's own keys; some Go names have other tags.
    match key {
        "CgroupsVersion" => return "cgroupVersion".into(),
        "Slirp4NetNS" => return "slirp4netns".into(),
        "UIDMap" => return "uidmap".into(),
        "GIDMap" => return "gidmap".into(),
        "ContainerID" => return "container_id".into(),
        "HostID" => return "host_id".into(),
        "CPUs" => return "cpus".into(),
        _ => {}
    }
    let chars: Vec<char> = key.chars().collect();
    let upper = chars.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let cut = if upper == chars.len() || upper <= 1 {
        upper
    } else {
        upper - 1
    };
    chars[..cut]
        .iter()
        .map(|c| c.to_ascii_lowercase())
        .chain(chars[cut..].iter().copied())
        .collect()
}
