//! inspect's `HostConfig` of a container: Podman's `InspectContainerHostConfig` fields
//! peapod knows, with Podman's defaults for the rest.

use std::collections::BTreeMap;

use serde::Serialize;

use super::super::{Container, SecurityConfig};
use super::PortBinding;
use crate::Engine;

/// One of `HostConfig.Ulimits`.
#[derive(Debug, Clone, Serialize)]
pub struct InspectUlimit {
    pub Name: String,
    pub Soft: i64,
    pub Hard: i64,
}

/// One of `HostConfig.Devices` (`--device`).
#[derive(Debug, Clone, Serialize)]
pub struct InspectDevice {
    pub PathOnHost: String,
    pub PathInContainer: String,
    pub CgroupPermissions: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogConfig {
    pub Type: String,
    pub Config: Option<BTreeMap<String, String>>,
    pub Path: String,
    pub Tag: String,
    pub Size: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestartPolicy {
    pub Name: String,
    pub MaximumRetryCount: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostConfig {
    pub Binds: Vec<String>,
    pub CgroupManager: String,
    pub CgroupMode: String,
    pub ContainerIDFile: String,
    pub LogConfig: LogConfig,
    pub NetworkMode: String,
    pub PortBindings: BTreeMap<String, Option<Vec<PortBinding>>>,
    pub RestartPolicy: RestartPolicy,
    pub AutoRemove: bool,
    pub VolumeDriver: String,
    pub VolumesFrom: Option<Vec<String>>,
    pub CapAdd: Vec<String>,
    pub CapDrop: Vec<String>,
    pub Dns: Vec<String>,
    pub DnsOptions: Vec<String>,
    pub DnsSearch: Vec<String>,
    pub ExtraHosts: Vec<String>,
    pub GroupAdd: Vec<String>,
    pub IpcMode: String,
    pub Cgroup: String,
    pub Cgroups: String,
    pub Links: Option<Vec<String>>,
    pub OomScoreAdj: i32,
    pub PidMode: String,
    pub Privileged: bool,
    pub PublishAllPorts: bool,
    /// `--init`. Podman's JSON omits it when false; kept here so that a template's
    /// `{{.HostConfig.Init}}` prints `false` as Go's does, not `<nil>`.
    pub Init: bool,
    pub ReadonlyRootfs: bool,
    pub SecurityOpt: Vec<String>,
    pub Tmpfs: BTreeMap<String, String>,
    pub UTSMode: String,
    pub UsernsMode: String,
    pub ShmSize: u64,
    pub Runtime: String,
    pub ConsoleSize: [u32; 2],
    pub Devices: Vec<InspectDevice>,
    pub CpuShares: u64,
    pub CpusetCpus: String,
    pub CpusetMems: String,
    pub MemoryReservation: i64,
    pub BlkioWeight: u16,
    pub Memory: i64,
    pub NanoCpus: i64,
    pub CgroupParent: String,
    pub PidsLimit: i64,
    pub MemorySwap: i64,
    pub CpuQuota: i64,
    pub CpuPeriod: u64,
    /// The spec's rlimits (`RLIMIT_NOFILE`, …), as Podman reads them back.
    pub Ulimits: Vec<InspectUlimit>,
}

impl Engine {
    pub(super) fn host_config(&self, c: &Container, security: &SecurityConfig) -> HostConfig {
        let (cap_add, cap_drop) = cap_changes(security);
        HostConfig {
            Binds: self.inspect_binds(c),
            CgroupManager: "cgroupfs".into(),
            CgroupMode: if crate::config::cgroup_unified() {
                "private".into()
            } else {
                "host".into()
            },
            ContainerIDFile: String::new(),
            LogConfig: LogConfig {
                Type: c.config.log_driver.clone(),
                Config: None,
                Path: c.config.log_path.clone(),
                Tag: String::new(),
                Size: c
                    .config
                    .log_size_max
                    .map(crate::container::resources::human_size)
                    .unwrap_or_else(|| "0B".into()),
            },
            // Podman shows the userspace modes without their options.
            NetworkMode: match c.config.network_mode.split_once(':') {
                Some((m @ ("slirp4netns" | "pasta"), _)) => m.to_string(),
                _ => c.config.network_mode.clone(),
            },
            PortBindings: crate::network::ports::bindings(&c.config.ports)
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect(),
            RestartPolicy: RestartPolicy {
                Name: c.config.restart_policy.clone(),
                MaximumRetryCount: c.config.restart_retries,
            },
            AutoRemove: c.config.auto_remove,
            VolumeDriver: String::new(),
            VolumesFrom: (!c.config.volumes_from.is_empty()).then(|| c.config.volumes_from.clone()),
            CapAdd: cap_add,
            CapDrop: cap_drop,
            Dns: Vec::new(),
            DnsOptions: Vec::new(),
            DnsSearch: Vec::new(),
            ExtraHosts: Vec::new(),
            GroupAdd: c.config.group_add.clone(),
            IpcMode: ns_mode(c, "ipc", "shareable"),
            Cgroup: String::new(),
            Cgroups: "default".into(),
            Links: None,
            OomScoreAdj: 0,
            PidMode: ns_mode(c, "pid", "private"),
            Privileged: security.privileged,
            PublishAllPorts: false,
            Init: c.config.host.init.is_some(),
            ReadonlyRootfs: c.config.host.read_only,
            SecurityOpt: security.security_opts.clone(),
            Tmpfs: self.inspect_tmpfs(c),
            UTSMode: ns_mode(c, "uts", "private"),
            UsernsMode: c.config.userns.clone(),
            ShmSize: c
                .config
                .host
                .shm_size
                .unwrap_or(crate::container::hostcfg::DEFAULT_SHM_SIZE),
            Runtime: "oci".into(),
            ConsoleSize: [0, 0],
            Devices: c
                .config
                .host
                .devices
                .iter()
                .map(|d| InspectDevice {
                    PathOnHost: d.path_on_host.clone(),
                    PathInContainer: d.path_in_container.clone(),
                    CgroupPermissions: d.permissions.clone(),
                })
                .collect(),
            CpuShares: c.config.resources.cpu_shares.unwrap_or(0),
            CpusetCpus: c.config.resources.cpuset_cpus.clone().unwrap_or_default(),
            CpusetMems: c.config.resources.cpuset_mems.clone().unwrap_or_default(),
            MemoryReservation: c.config.resources.memory_reservation.unwrap_or(0),
            BlkioWeight: c.config.resources.blkio_weight.unwrap_or(0),
            Memory: c.config.resources.memory.unwrap_or(0),
            NanoCpus: c.config.resources.nano_cpus.unwrap_or(0),
            CgroupParent: String::new(),
            PidsLimit: c.config.resources.effective_pids().unwrap_or(0),
            MemorySwap: c.config.resources.inspect_swap(),
            CpuQuota: c.config.resources.cpu_quota().unwrap_or(0),
            CpuPeriod: if c.config.resources.nano_cpus.is_some() {
                crate::container::resources::CPU_PERIOD
            } else {
                0
            },
            Ulimits: crate::container::ulimit::to_oci(&security.rlimits)
                .ok()
                .flatten()
                .unwrap_or_default()
                .iter()
                .map(|r| InspectUlimit {
                    Name: serde_json::to_value(r.typ())
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    Soft: r.soft() as i64,
                    Hard: r.hard() as i64,
                })
                .collect(),
        }
    }
}

/// `CapAdd` and `CapDrop` as Podman computes them: the bounding set against the OCI
/// generator's default set, or against every capability for a privileged container.
fn cap_changes(sec: &SecurityConfig) -> (Vec<String>, Vec<String>) {
    let baseline: &[&str] = if sec.privileged {
        crate::oci::caps::CAP_NAMES
    } else {
        crate::oci::caps::INSPECT_BASELINE
    };
    let add = sec
        .bounding
        .iter()
        .filter(|c| !baseline.contains(&c.as_str()))
        .cloned()
        .collect();
    let mut drop: Vec<String> = baseline
        .iter()
        .filter(|c| !sec.bounding.iter().any(|b| b == *c))
        .map(|c| c.to_string())
        .collect();
    drop.sort();
    (add, drop)
}

/// `HostConfig.IpcMode` and its siblings: the mode given at create, else Podman's default.
fn ns_mode(c: &Container, kind: &str, default: &str) -> String {
    c.config
        .namespaces
        .get(kind)
        .cloned()
        .unwrap_or_else(|| default.to_string())
}
