//! What the database holds for a container: its configuration (fixed at create) and its
//! state (changed by the lifecycle, reconciled with the runtime).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use std::net::IpAddr;

use peapod_netsetup::types::{PortMapping, StatusBlock};
use serde::{Deserialize, Serialize};

/// Podman's container states, with the strings Podman shows users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In the database, not yet created in the runtime (Podman's "Configured").
    Created,
    /// `runtime create` done, not started (Podman's "Created").
    Initialized,
    Running,
    Paused,
    /// The process exited; not yet cleaned up.
    Stopped,
    /// Stopped and cleaned up (rootfs unmounted, runtime state deleted).
    Exited,
    Stopping,
    Removing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Initialized => "initialized",
            Status::Running => "running",
            Status::Paused => "paused",
            // The process is gone; only our cleanup is pending. Podman reads the exit file
            // straight into "exited", and so do users: show it the same way.
            Status::Stopped => "exited",
            Status::Exited => "exited",
            Status::Stopping => "stopping",
            Status::Removing => "removing",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "created" | "configured" => Status::Created,
            "initialized" => Status::Initialized,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "stopped" => Status::Stopped,
            "exited" => Status::Exited,
            "stopping" => Status::Stopping,
            "removing" => Status::Removing,
            _ => return None,
        })
    }

    /// A process may be alive: the runtime knows this container.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            Status::Initialized | Status::Running | Status::Paused | Status::Stopping
        )
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything fixed when the container is created.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ContainerConfig {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
    /// Image id (config digest hex) and the name the user gave, fully qualified.
    pub image_id: String,
    pub image_name: String,
    /// An external container (Podman's word): in the store, but not one of the
    /// containers the engine lists and manages, as buildah's working containers are in
    /// containers/storage beside libpod's. peapod's are a build's RUN containers, kept
    /// (mounted) until the build ends, so a killed build leaves them as Podman's does.
    /// Only `ps --external`, `container exists --external`, `rm NAME` and
    /// `image prune --external` see them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
    /// A `kube play --service-container` service container, and the pods it stands for.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_service: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_pods: Vec<String>,
    /// `--rootfs`: the directory used instead of an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<RootfsDir>,
    /// The process: `args[0]` is the path (Podman's `Path`), the rest `Args`.
    pub args: Vec<String>,
    /// What the user or image gave, for inspect's `Config.Entrypoint` / `Config.Cmd`.
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    /// The working directory came from the image (or is `/`): create it if missing. A
    /// directory given with `-w` must exist, as in Podman.
    #[serde(default)]
    pub create_workdir: bool,
    /// `--tz`: a zone under /usr/share/zoneinfo, or `local` (the host's /etc/localtime),
    /// copied into the container's run dir and mounted at /etc/localtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    pub user: String,
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Signal number sent by `stop`.
    pub stop_signal: i32,
    pub stop_timeout: u32,
    pub auto_remove: bool,
    /// `none`, `host`, `private` (issue 3 adds bridge networks).
    pub network_mode: String,
    pub log_driver: String,
    pub log_path: String,
    #[serde(default)]
    pub log_size_max: Option<u64>,
    /// `--log-opt max-file=N`: rotated files the monitor keeps beside the live one.
    #[serde(default)]
    pub log_max_files: Option<u32>,
    pub tty: bool,
    pub stdin: bool,
    pub create_command: Vec<String>,
    /// The image's exposed ports and volumes, kept for inspect.
    #[serde(default)]
    pub exposed_ports: Vec<String>,
    /// `-P`: every exposed port was published (kube generate's `publish-all` annotation).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub publish_all: bool,
    pub runtime: String,
    /// Bridge networks joined (`network_mode` "bridge"), by name.
    #[serde(default)]
    pub networks: BTreeMap<String, NetworkAttach>,
    /// `-p` / `-P`: a host port of 0 is picked when the container starts.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub names: NameConfig,
    /// `--restart`: `""`, `no`, `on-failure`, `always`, `unless-stopped`.
    #[serde(default)]
    pub restart_policy: String,
    /// `--restart on-failure:N`.
    #[serde(default)]
    pub restart_retries: u32,
    /// `-m`, `--memory-swap`, `--cpus`, `--cpu-shares`, `--pids-limit`.
    #[serde(default)]
    pub resources: super::resources::Resources,
    /// `-v`, `--mount`, `--tmpfs`, `--volumes-from` and the image's VOLUMEs, resolved.
    #[serde(default)]
    pub mounts: Vec<crate::volume::MountSpec>,
    /// `--volumes-from` as given, for inspect.
    #[serde(default)]
    pub volumes_from: Vec<String>,
    /// The pod this container belongs to (its id), empty if none.
    #[serde(default)]
    pub pod: String,
    /// The pod's infra container (holds the pause process).
    #[serde(default)]
    pub is_infra: bool,
    /// `--init-ctr`: `always` or `once` for a pod's init container, else empty.
    #[serde(default)]
    pub init_ctr: String,
    /// The cgroup the container's own cgroup goes under (empty: `/peapod`).
    #[serde(default)]
    pub cgroup_parent: String,
    /// Capabilities, seccomp, masks, sysctls (see [`super::security`]); `None` for a
    /// container created before they were stored.
    #[serde(default)]
    pub security: Option<super::SecurityConfig>,
    /// `--pid`, `--ipc`, `--uts` other than the default: kind → mode (`host`,
    /// `container:ID`, `ns:PATH`, `private`, `shareable`, `none`).
    #[serde(default)]
    pub namespaces: BTreeMap<String, String>,
    /// `--timeout`: seconds the monitor lets the container run before killing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    /// `--device-cgroup-rule`s, checked at create.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    /// `--conmon-pidfile`: where the monitor's pid is written at every start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conmon_pidfile: Option<std::path::PathBuf>,
    /// `--group-add` groups (names or gids) resolved at every start; not `keep-groups`,
    /// which is an annotation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// `--userns` as inspect's `HostConfig.UsernsMode` shows it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userns: String,
    /// `--sdnotify`: `conmon`, `ignore`, or "" (the default, `container`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sdnotify: String,
    /// The healthcheck (flags over the image's); None: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::health::HealthConfig>,
    /// `--health-startup-cmd` and its options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_healthcheck: Option<super::health::startup::StartupHealthConfig>,
    /// `--read-only`, `--shm-size`, `--device`.
    #[serde(default)]
    pub host: super::hostcfg::HostConfigExtras,
    /// `--cgroups`: `split` (the container's cgroup under its starter's), else "".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroups_mode: String,
    /// `--requires`: the ids of the containers started before this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
    /// `--preserve-fds N`: the starting process' fds 3 … 3+N-1 go into the container.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub preserve_fds: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// `--rootfs PATH[:O]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootfsDir {
    pub path: std::path::PathBuf,
    /// `:O`: an overlay with the directory as its only lower layer.
    pub overlay: bool,
}

impl RootfsDir {
    /// Parses `PATH[:O]`: the path made absolute, and it must be a directory.
    pub fn parse(spec: &str) -> crate::error::Result<RootfsDir> {
        let (path, overlay) = match spec.strip_suffix(":O") {
            Some(p) => (p, true),
            None => (spec, false),
        };
        let path = crate::absolute(std::path::Path::new(path))?;
        if !path.is_dir() {
            return Err(crate::error::Error::invalid(format!(
                "rootfs {} is not a directory",
                path.display()
            )));
        }
        Ok(RootfsDir { path, overlay })
    }
}

/// What changes over the container's life.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerState {
    pub status: Status,
    pub pid: i32,
    /// Start time of `pid` (clock ticks since boot, /proc/PID/stat field 22): a pid is only
    /// ours if this matches, so a recycled pid is never mistaken for the container.
    pub pid_start: u64,
    pub conmon_pid: i32,
    pub conmon_start: u64,
    pub exit_code: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub oom_killed: bool,
    pub error: String,
    pub mounted: bool,
    /// `peapod mount`s not yet undone by `umount`: the rootfs stays mounted while any is.
    #[serde(default)]
    pub user_mounts: u32,
    pub restart_count: u32,
    pub stopped_by_user: bool,
    /// Exec sessions not yet cleaned up, by session id (inspect's `ExecIDs`).
    #[serde(default)]
    pub exec_sessions: BTreeMap<String, ExecSession>,
    /// The pinned network namespace while the container's networks are set up.
    #[serde(default)]
    pub netns: String,
    /// What the network helper reported, per network (interfaces, addresses, DNS).
    #[serde(default)]
    pub network_status: BTreeMap<String, StatusBlock>,
    /// Published ports with the host ports actually in use (random ones chosen).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// `--cgroups=split`: the container's cgroup as its last init placed it (under the
    /// cgroup of the process that started it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroups_path: String,
}

/// How a container joins one network.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct NetworkAttach {
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub static_ips: Vec<IpAddr>,
    #[serde(default)]
    pub static_mac: Option<String>,
    /// `eth0`, `eth1`, … in the order the networks were given.
    pub interface_name: String,
}

/// `--dns`, `--dns-search`, `--dns-option`, `--add-host`.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct NameConfig {
    #[serde(default)]
    pub dns_servers: Vec<IpAddr>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    #[serde(default)]
    pub add_hosts: Vec<String>,
}

/// One `exec` into a running container, run by its own monitor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExecSession {
    pub id: String,
    /// The exec'd process (host pid namespace); 0 until the runtime reported it.
    pub pid: i32,
    pub command: Vec<String>,
    pub tty: bool,
}

impl Default for ContainerState {
    fn default() -> Self {
        ContainerState {
            status: Status::Created,
            pid: 0,
            pid_start: 0,
            conmon_pid: 0,
            conmon_start: 0,
            exit_code: 0,
            started_at: None,
            finished_at: None,
            oom_killed: false,
            error: String::new(),
            mounted: false,
            user_mounts: 0,
            restart_count: 0,
            stopped_by_user: false,
            exec_sessions: BTreeMap::new(),
            netns: String::new(),
            network_status: BTreeMap::new(),
            ports: Vec::new(),
            cgroups_path: String::new(),
        }
    }
}

/// A container as the database returns it.
#[derive(Debug, Clone)]
pub struct Container {
    pub config: ContainerConfig,
    pub state: ContainerState,
}

impl Container {
    /// The published ports: with the host ports in use while it runs, else as configured
    /// (a host port of 0 is picked at start).
    pub fn published_ports(&self) -> &[PortMapping] {
        if self.state.ports.is_empty() {
            &self.config.ports
        } else {
            &self.state.ports
        }
    }

    /// `linux.cgroupsPath` of its config.json.
    pub fn cgroups_path(&self) -> String {
        if !self.state.cgroups_path.is_empty() {
            return self.state.cgroups_path.clone();
        }
        let parent = if self.config.cgroup_parent.is_empty() {
            "/peapod"
        } else {
            self.config.cgroup_parent.trim_end_matches('/')
        };
        format!("{parent}/peapod-{}", self.config.id)
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }
    pub fn name(&self) -> &str {
        &self.config.name
    }
}
