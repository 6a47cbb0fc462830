//! POST `/containers/create`: Docker's create body (`Config` + `HostConfig` +
//! `NetworkingConfig`) as the engine's [`ContainerSpec`]. Fields peapod cannot honour are
//! refused with 400 rather than dropped silently; unknown fields are ignored, as Docker does.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::container::spec::{LogConfig, NamespaceMode};
use peapod_engine::container::{ContainerSpec, ResourceFlags, RestartPolicy};
use peapod_engine::network::{NetworkMode, NetworkSpec, PortMapping};
use peapod_engine::volume::spec::{parse_tmpfs_flag, parse_volume_flag};
use serde::Deserialize;
use serde_json::json;

use crate::http::{Resp, engine_error, json, query, read_json};
use crate::pool::EnginePool;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CreateBody {
    pub hostname: String,
    pub user: String,
    pub tty: bool,
    pub open_stdin: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub image: String,
    pub working_dir: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub host_config: Option<HostConfig>,
    pub networking_config: Option<NetworkingConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    pub network_mode: String,
    pub port_bindings: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    pub restart_policy: Option<RestartPolicyBody>,
    pub auto_remove: bool,
    pub privileged: bool,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub dns: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub memory: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub pids_limit: Option<i64>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub pid_mode: String,
    pub ipc_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub security_opt: Option<Vec<String>>,
    pub log_config: Option<LogConfigBody>,
    pub volumes_from: Option<Vec<String>>,
    pub readonly_rootfs: bool,
    pub shm_size: i64,
    pub devices: Option<Vec<DeviceBody>>,
    pub sysctls: Option<BTreeMap<String, String>>,
    pub init: Option<bool>,
    pub ulimits: Option<Vec<UlimitBody>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DeviceBody {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UlimitBody {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RestartPolicyBody {
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LogConfigBody {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkingConfig {
    pub endpoints_config: Option<BTreeMap<String, Option<EndpointConfig>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EndpointConfig {
    pub aliases: Option<Vec<String>>,
}

/// `80/tcp` → (80, "tcp").
fn container_port(key: &str) -> Result<(u16, String), Error> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let port = port
        .parse::<u16>()
        .map_err(|_| Error::invalid(format!("invalid port {key:?} in PortBindings")))?;
    Ok((port, proto.to_string()))
}

fn ports(hc: &HostConfig) -> Result<Vec<PortMapping>, Error> {
    let mut out = Vec::new();
    for (key, bindings) in hc.port_bindings.iter().flatten() {
        let (container_port, protocol) = container_port(key)?;
        for b in bindings.iter().flatten() {
            let host_port = match b.host_port.as_str() {
                "" => 0,
                p => p.parse::<u16>().map_err(|_| {
                    Error::invalid(format!("invalid host port {p:?} for {key} in PortBindings"))
                })?,
            };
            out.push(PortMapping {
                host_ip: b.host_ip.clone(),
                container_port,
                host_port,
                range: 1,
                protocol: protocol.clone(),
            });
        }
    }
    Ok(out)
}

/// Docker's network names: `default` and `bridge` are the engine's default network.
fn network(b: &CreateBody, hc: &HostConfig) -> Result<NetworkSpec, Error> {
    let mut names: Vec<String> = Vec::new();
    match hc.network_mode.as_str() {
        "" | "default" | "bridge" => {}
        m => names.push(m.to_string()),
    }
    let mut aliases = Vec::new();
    if let Some(eps) = b
        .networking_config
        .as_ref()
        .and_then(|n| n.endpoints_config.as_ref())
    {
        for (name, ep) in eps {
            if !matches!(name.as_str(), "default" | "bridge") && !names.contains(name) {
                names.push(name.clone());
            }
            if let Some(a) = ep.as_ref().and_then(|e| e.aliases.clone()) {
                aliases.extend(a);
            }
        }
    }
    Ok(NetworkSpec {
        mode: NetworkMode::parse(&names)?,
        aliases,
        publish: ports(hc)?,
        dns: hc.dns.clone().unwrap_or_default(),
        dns_search: hc.dns_search.clone().unwrap_or_default(),
        dns_option: hc.dns_options.clone().unwrap_or_default(),
        add_host: hc.extra_hosts.clone().unwrap_or_default(),
        ..Default::default()
    })
}

fn namespace(kind: &str, v: &str) -> Result<Option<NamespaceMode>, Error> {
    if v.is_empty() {
        return Ok(None);
    }
    NamespaceMode::parse(kind, v).map(Some)
}

fn restart(hc: &HostConfig) -> Result<Option<RestartPolicy>, Error> {
    match &hc.restart_policy {
        None => Ok(None),
        Some(r) if r.name.is_empty() || r.name == "no" => RestartPolicy::parse(""),
        Some(r) if r.name == "on-failure" && r.maximum_retry_count > 0 => {
            RestartPolicy::parse(&format!("on-failure:{}", r.maximum_retry_count))
        }
        Some(r) => RestartPolicy::parse(&r.name),
    }
}

/// Docker's body as the engine's create request.
pub fn spec(b: &CreateBody, name: Option<String>) -> Result<ContainerSpec, Error> {
    if b.image.is_empty() {
        return Err(Error::invalid(
            "config cannot be empty in order to create a container: no image given",
        ));
    }
    let hc_default = HostConfig::default();
    let hc = b.host_config.as_ref().unwrap_or(&hc_default);
    let mut mounts = Vec::new();
    for bind in hc.binds.iter().flatten() {
        mounts.push(parse_volume_flag(bind)?);
    }
    for (dest, opts) in hc.tmpfs.iter().flatten() {
        let flag = if opts.is_empty() {
            dest.clone()
        } else {
            format!("{dest}:{opts}")
        };
        mounts.push(parse_tmpfs_flag(&flag)?);
    }
    let log_opts: Vec<String> = hc
        .log_config
        .as_ref()
        .and_then(|l| l.config.as_ref())
        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_default();
    let log_driver = hc
        .log_config
        .as_ref()
        .map(|l| l.kind.as_str())
        .filter(|k| !k.is_empty() && *k != "json-file");
    let non_zero = |v: i64| (v > 0).then_some(v);
    Ok(ContainerSpec {
        image: b.image.clone(),
        name,
        command: b.cmd.clone().unwrap_or_default(),
        entrypoint: b.entrypoint.clone(),
        env: b.env.clone().unwrap_or_default(),
        http_proxy: true,
        workdir: Some(b.working_dir.clone()).filter(|w| !w.is_empty()),
        hostname: Some(b.hostname.clone()).filter(|h| !h.is_empty()),
        user: Some(b.user.clone()).filter(|u| !u.is_empty()),
        labels: b
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        stop_signal: b
            .stop_signal
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(peapod_engine::signal::parse)
            .transpose()?,
        stop_timeout: b.stop_timeout.map(|t| t.max(0) as u32),
        auto_remove: hc.auto_remove,
        network: network(b, hc)?,
        tty: b.tty,
        interactive: b.open_stdin,
        log: LogConfig::parse(log_driver, &log_opts)?,
        create_command: Vec::new(),
        restart: restart(hc)?,
        resources: peapod_engine::container::resources::parse(&ResourceFlags {
            memory: non_zero(hc.memory).map(|m| m.to_string()),
            memory_swap: None,
            cpus: non_zero(hc.nano_cpus).map(|n| n as f64 / 1e9),
            cpu_shares: non_zero(hc.cpu_shares).map(|s| s as u64),
            pids_limit: hc.pids_limit.filter(|p| *p != 0),
            ..Default::default()
        })?,
        mounts,
        volumes_from: hc.volumes_from.clone().unwrap_or_default(),
        security: peapod_engine::container::SecurityFlags {
            privileged: hc.privileged,
            cap_add: hc.cap_add.clone().unwrap_or_default(),
            cap_drop: hc.cap_drop.clone().unwrap_or_default(),
            opts: hc
                .security_opt
                .iter()
                .flatten()
                .map(|o| o.parse())
                .collect::<Result<_, Error>>()?,
            ulimits: hc
                .ulimits
                .iter()
                .flatten()
                .map(|u| format!("{}={}:{}", u.name, u.soft, u.hard))
                .collect(),
            sysctls: hc
                .sysctls
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        },
        host: peapod_engine::container::hostcfg::HostFlags {
            read_only: hc.readonly_rootfs,
            // Docker mounts no tmpfs for a read-only root: only what the client asks.
            read_only_tmpfs: false,
            shm_size: (hc.shm_size > 0).then(|| hc.shm_size.to_string()),
            devices: hc
                .devices
                .iter()
                .flatten()
                .map(|d| {
                    let dest = if d.path_in_container.is_empty() {
                        &d.path_on_host
                    } else {
                        &d.path_in_container
                    };
                    let perms = if d.cgroup_permissions.is_empty() {
                        "rwm"
                    } else {
                        &d.cgroup_permissions
                    };
                    format!("{}:{dest}:{perms}", d.path_on_host)
                })
                .collect(),
            init: hc.init.unwrap_or(false),
            init_path: None,
        },
        pid: namespace("pid", &hc.pid_mode)?,
        ipc: namespace("ipc", &hc.ipc_mode)?,
        uts: namespace("uts", &hc.uts_mode)?,
        ..Default::default()
    })
}

/// POST `/containers/create?name=`: 201 `{"Id", "Warnings"}`.
pub async fn create(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let name = query(&req).get("name").cloned().filter(|n| !n.is_empty());
    let body: CreateBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let spec = match spec(&body, name) {
        Ok(s) => s,
        Err(e) => return engine_error(&e),
    };
    match pool.run(move |e| e.create_container_warning(&spec)).await {
        Ok((c, warnings)) => json(
            StatusCode::CREATED,
            &json!({ "Id": c.id(), "Warnings": warnings }),
        ),
        Err(e) => engine_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_cli_body_becomes_a_spec() {
        let body: CreateBody = serde_json::from_str(
            r#"{"Image":"busybox","Cmd":["echo","hi"],"Env":["A=1"],"Labels":{"k":"v"},
                "Tty":false,"OpenStdin":false,"Entrypoint":null,
                "HostConfig":{"NetworkMode":"default","AutoRemove":true,
                  "PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8089"}]},
                  "Binds":["/tmp:/data:ro"],"RestartPolicy":{"Name":"no"}},
                "NetworkingConfig":{"EndpointsConfig":{"default":{"Aliases":null}}}}"#,
        )
        .unwrap();
        let s = spec(&body, Some("web".into())).unwrap();
        assert_eq!(s.image, "busybox");
        assert_eq!(s.command, ["echo", "hi"]);
        assert_eq!(s.entrypoint, None);
        assert_eq!(s.labels, ["k=v"]);
        assert!(s.auto_remove);
        assert_eq!(s.name.as_deref(), Some("web"));
        assert_eq!(s.network.publish.len(), 1);
        assert_eq!(s.network.publish[0].host_port, 8089);
        assert_eq!(s.network.publish[0].container_port, 80);
        assert_eq!(s.mounts.len(), 1);
    }

    #[test]
    fn refuses_bad_values() {
        let no_image: CreateBody = serde_json::from_str("{}").unwrap();
        assert!(spec(&no_image, None).is_err());
        let bad_port: CreateBody = serde_json::from_str(
            r#"{"Image":"x","HostConfig":{"PortBindings":{"eighty/tcp":[{"HostPort":"1"}]}}}"#,
        )
        .unwrap();
        let e = spec(&bad_port, None).unwrap_err().to_string();
        assert!(e.contains("eighty/tcp"), "{e}");
    }
}
