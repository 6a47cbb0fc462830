//! `inspect` of a container: Podman's `InspectContainerData`, with its Go field names, so
//! `--format '{{.State.Status}}'` and `{{json .Config}}` give Podman's answers.
#![allow(non_snake_case)]

use std::collections::BTreeMap;

use chrono::{DateTime, Local, SecondsFormat, Utc};
use serde::Serialize;

use super::{Container, Status};
use crate::Engine;

/// Go's zero time, which Podman prints for "never".
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A time as Go's RFC3339Nano prints it, in local time.
/// Go's `time.Time.String()` (`2006-01-02 15:04:05.999999999 -0700 MST`) in local time, as
/// Podman's `CreatedAt` columns print it: the fraction without trailing zeros, the zone name
/// `UTC`, else the offset (chrono knows no zone abbreviations).
pub fn go_time_string(t: DateTime<Utc>) -> String {
    let t = t.with_timezone(&Local);
    let nanos = t.format("%9f").to_string();
    let frac = nanos.trim_end_matches('0');
    let offset = t.format("%z").to_string();
    let zone = if offset == "+0000" { "UTC" } else { &offset };
    format!(
        "{}{}{frac} {offset} {zone}",
        t.format("%Y-%m-%d %H:%M:%S"),
        if frac.is_empty() { "" } else { "." },
    )
}

pub fn go_time(t: Option<DateTime<Utc>>) -> String {
    match t {
        None => ZERO_TIME.to_string(),
        Some(t) => {
            let s = t
                .with_timezone(&Local)
                .to_rfc3339_opts(SecondsFormat::Nanos, true);
            // Go trims trailing zeros of the fraction.
            match s.find('.') {
                Some(dot) => {
                    let end = s[dot..]
                        .find(['+', '-', 'Z'])
                        .map(|i| dot + i)
                        .unwrap_or(s.len());
                    let frac = s[dot + 1..end].trim_end_matches('0');
                    if frac.is_empty() {
                        format!("{}{}", &s[..dot], &s[end..])
                    } else {
                        format!("{}.{}{}", &s[..dot], frac, &s[end..])
                    }
                }
                None => s,
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectContainer {
    pub Id: String,
    pub Created: String,
    pub Path: String,
    pub Args: Vec<String>,
    pub State: InspectState,
    pub Image: String,
    pub ImageDigest: String,
    pub ImageName: String,
    pub Rootfs: String,
    pub Pod: String,
    pub ResolvConfPath: String,
    pub HostnamePath: String,
    pub HostsPath: String,
    pub StaticDir: String,
    pub OCIConfigPath: String,
    pub OCIRuntime: String,
    pub ConmonPidFile: String,
    pub PidFile: String,
    pub Name: String,
    pub RestartCount: u32,
    pub Driver: String,
    pub MountLabel: String,
    pub ProcessLabel: String,
    pub AppArmorProfile: String,
    /// Podman prints `null` for an empty set.
    pub EffectiveCaps: Option<Vec<String>>,
    pub BoundingCaps: Option<Vec<String>>,
    pub ExecIDs: Vec<String>,
    pub GraphDriver: GraphDriver,
    pub Mounts: Vec<InspectMount>,
    pub Dependencies: Vec<String>,
    pub NetworkSettings: NetworkSettings,
    pub Namespace: String,
    pub IsInfra: bool,
    pub IsService: bool,
    pub Config: InspectConfig,
    pub HostConfig: HostConfig,
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectState {
    pub OciVersion: String,
    pub Status: String,
    pub Running: bool,
    pub Paused: bool,
    pub Restarting: bool,
    pub OOMKilled: bool,
    pub Dead: bool,
    pub Pid: i32,
    pub ConmonPid: i32,
    pub ExitCode: i32,
    pub Error: String,
    pub StartedAt: String,
    pub FinishedAt: String,
    pub CgroupPath: String,
    /// The healthcheck's status and last results (Go's struct: present, empty, without a
    /// check).
    pub Health: super::health::HealthLog,
    pub StoppedByUser: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphDriver {
    pub Name: String,
    pub Data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectMount {
    pub Type: String,
    /// Podman omits it for binds (`omitempty`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub Name: String,
    pub Source: String,
    pub Destination: String,
    pub Driver: String,
    pub Mode: String,
    pub Options: Vec<String>,
    pub RW: bool,
    pub Propagation: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct PortBinding {
    pub HostIp: String,
    pub HostPort: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct NetworkSettings {
    pub EndpointID: String,
    pub Gateway: String,
    pub IPAddress: String,
    pub IPPrefixLen: u32,
    pub IPv6Gateway: String,
    pub GlobalIPv6Address: String,
    pub GlobalIPv6PrefixLen: u32,
    pub MacAddress: String,
    pub Bridge: String,
    pub SandboxID: String,
    pub HairpinMode: bool,
    pub LinkLocalIPv6Address: String,
    pub LinkLocalIPv6PrefixLen: u32,
    pub Ports: BTreeMap<String, Option<Vec<PortBinding>>>,
    pub SandboxKey: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub Networks: BTreeMap<String, EndpointSettings>,
}

/// One network of a container, as `NetworkSettings.Networks.NAME` shows it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct EndpointSettings {
    pub EndpointID: String,
    pub Gateway: String,
    pub IPAddress: String,
    pub IPPrefixLen: u32,
    pub IPv6Gateway: String,
    pub GlobalIPv6Address: String,
    pub GlobalIPv6PrefixLen: u32,
    pub MacAddress: String,
    pub NetworkID: String,
    pub DriverOpts: Option<BTreeMap<String, String>>,
    pub IPAMConfig: Option<BTreeMap<String, String>>,
    pub Links: Option<Vec<String>>,
    pub Aliases: Vec<String>,
}

/// `NetworkSettings` from the container's network state: the first network's addresses at
/// the top level, as Podman shows them, every network under `Networks`. slirp4netns is not
/// a network: Podman 4.3 shows no `Networks` and no addresses for it (its status is kept
/// for the container's hosts file only).
fn network_settings(c: &Container) -> NetworkSettings {
    let mut ns = NetworkSettings {
        SandboxKey: c.state.netns.clone(),
        ..Default::default()
    };
    ns.Ports = crate::network::ports::bindings(c.published_ports())
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect();
    for p in &c.config.exposed_ports {
        let key = if p.contains('/') {
            p.clone()
        } else {
            format!("{p}/tcp")
        };
        ns.Ports.entry(key).or_insert(None);
    }
    let networks = c
        .state
        .network_status
        .iter()
        .filter(|(name, _)| name.as_str() != crate::network::slirp::SLIRP);
    for (name, status) in networks {
        let mut ep = EndpointSettings {
            NetworkID: name.clone(),
            Aliases: c
                .config
                .networks
                .get(name)
                .map(|a| a.aliases.clone())
                .unwrap_or_default(),
            ..Default::default()
        };
        ep.Aliases.push(c.id()[..12].to_string());
        for iface in status.interfaces.iter().flat_map(|i| i.values()) {
            ep.MacAddress = iface.mac_address.clone();
            for a in iface.subnets.iter().flatten() {
                let gw = a.gateway.map(|g| g.to_string()).unwrap_or_default();
                if a.ipnet.addr().is_ipv4() {
                    ep.IPAddress = a.ipnet.addr().to_string();
                    ep.IPPrefixLen = a.ipnet.prefix_len().into();
                    ep.Gateway = gw;
                } else {
                    ep.GlobalIPv6Address = a.ipnet.addr().to_string();
                    ep.GlobalIPv6PrefixLen = a.ipnet.prefix_len().into();
                    ep.IPv6Gateway = gw;
                }
            }
        }
        if ns.IPAddress.is_empty() {
            ns.IPAddress = ep.IPAddress.clone();
            ns.IPPrefixLen = ep.IPPrefixLen;
            ns.Gateway = ep.Gateway.clone();
            ns.MacAddress = ep.MacAddress.clone();
            ns.GlobalIPv6Address = ep.GlobalIPv6Address.clone();
            ns.GlobalIPv6PrefixLen = ep.GlobalIPv6PrefixLen;
            ns.IPv6Gateway = ep.IPv6Gateway.clone();
        }
        ns.Networks.insert(name.clone(), ep);
    }
    // A container that is not running still lists the networks it will join.
    for name in c.config.networks.keys() {
        ns.Networks
            .entry(name.clone())
            .or_insert_with(|| EndpointSettings {
                NetworkID: name.clone(),
                ..Default::default()
            });
    }
    ns
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectConfig {
    pub Hostname: String,
    pub Domainname: String,
    pub User: String,
    pub AttachStdin: bool,
    pub AttachStdout: bool,
    pub AttachStderr: bool,
    pub Tty: bool,
    pub OpenStdin: bool,
    pub StdinOnce: bool,
    pub Env: Vec<String>,
    pub Cmd: Option<Vec<String>>,
    pub Image: String,
    pub Volumes: Option<BTreeMap<String, BTreeMap<String, String>>>,
    pub WorkingDir: String,
    /// Podman 4 shows the entrypoint as one string, its words joined by spaces.
    pub Entrypoint: String,
    pub OnBuild: Option<String>,
    pub Labels: BTreeMap<String, String>,
    pub Annotations: BTreeMap<String, String>,
    pub StopSignal: String,
    pub CreateCommand: Vec<String>,
    pub Umask: String,
    pub Timeout: u32,
    pub StopTimeout: u32,
    pub ExposedPorts: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Healthcheck: Option<super::health::HealthConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub StartupHealthCheck: Option<super::health::startup::StartupHealthConfig>,
    /// Always there: `none` without a check, as Podman's.
    pub HealthcheckOnFailureAction: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub SystemdMode: bool,
}

impl Engine {
    pub fn inspect_container(&self, c: &Container) -> InspectContainer {
        let id = c.id();
        let run_dir = self.paths.container_run_dir(id);
        let bundle = self.paths.bundle(id);
        let dir = self.paths.container_dir(id);
        let st = &c.state;
        let running = st.status == Status::Running;
        let security = c.config.security.clone().unwrap_or_else(|| {
            super::SecurityConfig::legacy(matches!(c.config.user.as_str(), "" | "root" | "0"))
        });
        let nonempty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let image = self.db.image(&c.config.image_id).ok().flatten();
        let lower = image
            .as_ref()
            .and_then(|i| self.layer_dirs(i).ok())
            .unwrap_or_default();
        let mut gd = BTreeMap::new();
        gd.insert(
            "LowerDir".to_string(),
            lower
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":"),
        );
        gd.insert(
            "UpperDir".to_string(),
            dir.join("upper").display().to_string(),
        );
        gd.insert(
            "WorkDir".to_string(),
            dir.join("work").display().to_string(),
        );
        gd.insert(
            "MergedDir".to_string(),
            self.paths.rootfs(id).display().to_string(),
        );
        let (path, args) = c
            .config
            .args
            .split_first()
            .map(|(p, a)| (p.clone(), a.to_vec()))
            .unwrap_or_default();
        InspectContainer {
            Id: id.to_string(),
            Created: go_time(Some(c.config.created)),
            Path: path,
            Args: args,
            State: InspectState {
                OciVersion: "1.0.2-dev".into(),
                Status: st.status.to_string(),
                Running: running,
                Paused: st.status == Status::Paused,
                Restarting: false,
                OOMKilled: st.oom_killed,
                Dead: false,
                Pid: st.pid,
                ConmonPid: st.conmon_pid,
                ExitCode: st.exit_code,
                Error: st.error.clone(),
                StartedAt: go_time(st.started_at),
                FinishedAt: go_time(st.finished_at),
                CgroupPath: format!("/peapod/peapod-{id}"),
                Health: self.health_log(c).unwrap_or_default(),
                StoppedByUser: st.stopped_by_user,
            },
            Image: c.config.image_id.clone(),
            ImageDigest: image
                .as_ref()
                .map(|i| i.manifest_digest.clone())
                .unwrap_or_default(),
            ImageName: c.config.image_name.clone(),
            Rootfs: c
                .config
                .rootfs
                .as_ref()
                .map(|r| r.path.display().to_string())
                .unwrap_or_default(),
            Pod: c.config.pod.clone(),
            ResolvConfPath: run_dir.join("resolv.conf").display().to_string(),
            HostnamePath: run_dir.join("hostname").display().to_string(),
            HostsPath: run_dir.join("hosts").display().to_string(),
            StaticDir: bundle.display().to_string(),
            OCIConfigPath: bundle.join("config.json").display().to_string(),
            OCIRuntime: if c.config.runtime.is_empty() {
                self.runtime().map(|r| r.name()).unwrap_or_default()
            } else {
                c.config.runtime.clone()
            },
            ConmonPidFile: run_dir.join("conmon.pid").display().to_string(),
            PidFile: run_dir.join("pidfile").display().to_string(),
            Name: c.config.name.clone(),
            RestartCount: st.restart_count,
            Driver: "overlay".into(),
            MountLabel: String::new(),
            ProcessLabel: String::new(),
            AppArmorProfile: String::new(),
            EffectiveCaps: nonempty(&security.effective),
            BoundingCaps: nonempty(&security.bounding),
            ExecIDs: c.state.exec_sessions.keys().cloned().collect(),
            GraphDriver: GraphDriver {
                Name: self.storage_driver().name().into(),
                Data: gd,
            },
            Mounts: self.inspect_mounts(c),
            Dependencies: c.config.requires.clone(),
            NetworkSettings: network_settings(c),
            Namespace: String::new(),
            IsInfra: false,
            IsService: c.config.is_service,
            Config: InspectConfig {
                Hostname: c.config.hostname.clone(),
                Domainname: String::new(),
                User: c.config.user.clone(),
                AttachStdin: false,
                AttachStdout: false,
                AttachStderr: false,
                Tty: c.config.tty,
                OpenStdin: c.config.stdin,
                StdinOnce: false,
                Env: c.config.env.clone(),
                Cmd: if c.config.cmd.is_empty() {
                    None
                } else {
                    Some(c.config.cmd.clone())
                },
                Image: c.config.image_name.clone(),
                Volumes: None,
                WorkingDir: c.config.workdir.clone(),
                Entrypoint: c.config.entrypoint.join(" "),
                OnBuild: None,
                Labels: c.config.labels.clone(),
                Annotations: c.config.annotations.clone(),
                StopSignal: crate::signal::name(c.config.stop_signal),
                CreateCommand: c.config.create_command.clone(),
                Umask: "0022".into(),
                Timeout: 0,
                StopTimeout: c.config.stop_timeout,
                ExposedPorts: c
                    .config
                    .exposed_ports
                    .iter()
                    .map(|p| (p.clone(), BTreeMap::new()))
                    .collect(),
                Healthcheck: c.config.healthcheck.clone(),
                StartupHealthCheck: c.config.startup_healthcheck.clone(),
                HealthcheckOnFailureAction: c
                    .config
                    .healthcheck
                    .as_ref()
                    .map_or("none", |h| h.on_failure.name())
                    .to_string(),
                SystemdMode: security.systemd,
            },
            HostConfig: self.host_config(c, &security),
        }
    }
}

mod host;
pub use host::{HostConfig, InspectUlimit, LogConfig, RestartPolicy};

#[cfg(test)]
#[path = "inspect_tests.rs"]
mod tests;
