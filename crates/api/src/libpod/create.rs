//! POST `/libpod/containers/create`: Podman's `SpecGenerator` JSON as the engine's
//! [`ContainerSpec`]. The fields podman's client fills for the common `run`/`create` flags
//! are read; the many it always sends at their defaults (`systemd`, `idmappings`, `umask`,
//! `seccomp_policy`…) are ignored, as are unknown ones (Go's decoder ignores them too).

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::container::spec::{LogConfig, NamespaceMode};
use peapod_engine::container::{ContainerSpec, RestartPolicy, SecurityFlags};
use peapod_engine::network::{NetworkMode, NetworkSpec, PortMapping};
use peapod_engine::volume::spec::parse_volume_flag;
use serde::Deserialize;
use serde_json::json;

use super::error;
use crate::http::{Resp, json, read_json};
use crate::pool::EnginePool;

/// A namespace as the spec generator names it (`{"nsmode": "host", "value": ""}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Namespace {
    pub nsmode: String,
    pub value: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Mount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub options: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NamedVolume {
    pub name: String,
    pub dest: String,
    pub options: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogConfiguration {
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PerNetwork {
    pub aliases: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SpecGenerator {
    pub name: String,
    pub pod: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<i32>,
    pub stop_timeout: Option<u32>,
    pub remove: bool,
    pub terminal: bool,
    pub stdin: bool,
    pub work_dir: String,
    pub hostname: String,
    pub user: String,
    pub privileged: bool,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub restart_policy: String,
    pub restart_tries: Option<u32>,
    pub log_configuration: Option<LogConfiguration>,
    pub portmappings: Option<Vec<PortMapping>>,
    pub netns: Namespace,
    #[serde(rename = "Networks")]
    pub networks: Option<BTreeMap<String, PerNetwork>>,
    pub dns_server: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_option: Option<Vec<String>>,
    pub hostadd: Option<Vec<String>>,
    pub mounts: Option<Vec<Mount>>,
    pub volumes: Option<Vec<NamedVolume>>,
    pub pidns: Namespace,
    pub ipcns: Namespace,
    pub utsns: Namespace,
    #[serde(rename = "containerCreateCommand")]
    pub create_command: Option<Vec<String>>,
    pub httpproxy: Option<bool>,
}

/// `netns` + `Networks` as the engine's network mode strings (`--network` values).
fn network_values(g: &SpecGenerator) -> Result<Vec<String>, Error> {
    let names = || -> Vec<String> {
        g.networks
            .iter()
            .flatten()
            .map(|(n, _)| n.clone())
            .collect()
    };
    let ns = &g.netns;
    Ok(match ns.nsmode.as_str() {
        "" | "default" => names(),
        "bridge" => {
            let n = names();
            if n.is_empty() {
                vec!["bridge".into()]
            } else {
                n
            }
        }
        "host" | "none" | "slirp4netns" => vec![ns.nsmode.clone()],
        "private" => vec!["none".into()],
        "container" => vec![format!("container:{}", ns.value)],
        "path" => vec![format!("ns:{}", ns.value)],
        // A pod member joins its pod's namespace: the engine's default for `pod`.
        "pod" => Vec::new(),
        m => {
            return Err(Error::invalid(format!(
                "invalid network mode {m:?} in netns"
            )));
        }
    })
}

fn network(g: &SpecGenerator) -> Result<NetworkSpec, Error> {
    let aliases = g
        .networks
        .iter()
        .flatten()
        .flat_map(|(_, n)| n.aliases.clone().unwrap_or_default())
        .collect();
    Ok(NetworkSpec {
        mode: NetworkMode::parse(&network_values(g)?)?,
        aliases,
        publish: g
            .portmappings
            .iter()
            .flatten()
            .map(|p| PortMapping {
                protocol: if p.protocol.is_empty() {
                    "tcp".into()
                } else {
                    p.protocol.clone()
                },
                range: p.range.max(1),
                ..p.clone()
            })
            .collect(),
        dns: g.dns_server.clone().unwrap_or_default(),
        dns_search: g.dns_search.clone().unwrap_or_default(),
        dns_option: g.dns_option.clone().unwrap_or_default(),
        add_host: g.hostadd.clone().unwrap_or_default(),
        ..Default::default()
    })
}

/// A namespace of the spec generator as the engine's mode; `None` for the default.
fn namespace(kind: &str, ns: &Namespace) -> Result<Option<NamespaceMode>, Error> {
    let value = match ns.nsmode.as_str() {
        "" | "default" | "private" => return Ok(None),
        "container" => format!("container:{}", ns.value),
        "path" => format!("ns:{}", ns.value),
        m => m.to_string(),
    };
    NamespaceMode::parse(kind, &value).map(Some)
}

/// Bind mounts and named volumes as the `-v` strings the engine parses.
fn mounts(g: &SpecGenerator) -> Result<Vec<peapod_engine::volume::spec::MountSpec>, Error> {
    let mut out = Vec::new();
    for m in g.mounts.iter().flatten() {
        if m.kind != "bind" {
            return Err(Error::invalid(format!(
                "mount type {:?} on {} is not supported by peapod's API service",
                m.kind, m.destination
            )));
        }
        out.push(volume_flag(
            &m.source,
            &m.destination,
            m.options.as_deref(),
        )?);
    }
    for v in g.volumes.iter().flatten() {
        out.push(volume_flag(&v.name, &v.dest, v.options.as_deref())?);
    }
    Ok(out)
}

fn volume_flag(
    src: &str,
    dest: &str,
    opts: Option<&[String]>,
) -> Result<peapod_engine::volume::spec::MountSpec, Error> {
    let opts: Vec<&str> = opts
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .filter(|o| !matches!(*o, "bind" | "rbind"))
        .collect();
    let flag = if opts.is_empty() {
        format!("{src}:{dest}")
    } else {
        format!("{src}:{dest}:{}", opts.join(","))
    };
    parse_volume_flag(&flag)
}

fn restart(g: &SpecGenerator) -> Result<Option<RestartPolicy>, Error> {
    match (g.restart_policy.as_str(), g.restart_tries) {
        ("", _) => Ok(None),
        ("on-failure", Some(n)) if n > 0 => RestartPolicy::parse(&format!("on-failure:{n}")),
        (p, _) => RestartPolicy::parse(p),
    }
}

fn pairs(m: &Option<BTreeMap<String, String>>) -> Vec<String> {
    m.iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// The spec generator as the engine's create request.
pub fn spec(g: &SpecGenerator) -> Result<ContainerSpec, Error> {
    if g.image.is_empty() {
        return Err(Error::invalid("no image given in the container spec"));
    }
    let log = g.log_configuration.as_ref();
    let log_opts = log.map(|l| pairs(&l.options)).unwrap_or_default();
    let log_driver = log.map(|l| l.driver.as_str()).filter(|d| !d.is_empty());
    let nonempty = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    Ok(ContainerSpec {
        image: g.image.clone(),
        name: nonempty(&g.name),
        command: g.command.clone().unwrap_or_default(),
        entrypoint: g.entrypoint.clone(),
        env: pairs(&g.env),
        http_proxy: g.httpproxy.unwrap_or(true),
        workdir: nonempty(&g.work_dir),
        hostname: nonempty(&g.hostname),
        user: nonempty(&g.user),
        labels: pairs(&g.labels),
        annotations: pairs(&g.annotations),
        stop_signal: g.stop_signal.filter(|s| *s > 0),
        stop_timeout: g.stop_timeout,
        auto_remove: g.remove,
        network: network(g)?,
        tty: g.terminal,
        interactive: g.stdin,
        log: LogConfig::parse(log_driver, &log_opts)?,
        create_command: g.create_command.clone().unwrap_or_default(),
        restart: restart(g)?,
        mounts: mounts(g)?,
        pod: nonempty(&g.pod),
        security: SecurityFlags {
            privileged: g.privileged,
            cap_add: g.cap_add.clone().unwrap_or_default(),
            cap_drop: g.cap_drop.clone().unwrap_or_default(),
            ..Default::default()
        },
        pid: namespace("pid", &g.pidns)?,
        ipc: namespace("ipc", &g.ipcns)?,
        uts: namespace("uts", &g.utsns)?,
        ..Default::default()
    })
}

/// POST `/libpod/containers/create`: 201 `{"Id", "Warnings"}`.
pub async fn create(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let g: SpecGenerator = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let spec = match spec(&g) {
        Ok(s) => s,
        Err(e) => return error(&e),
    };
    match pool.run(move |e| e.create_container_warning(&spec)).await {
        Ok((c, warnings)) => json(
            StatusCode::CREATED,
            &json!({ "Id": c.id(), "Warnings": warnings }),
        ),
        Err(e) => error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What podman 4.3's client sent for `create -v /tmp:/data:ro -v vol1:/v -e A=1 -p
    /// 8080:80 --label k=v -it --entrypoint /bin/sh -w /tmp -u 1 --hostname hh --restart
    /// always localhost/busybox -c true` (recorded against `podman system service`).
    const RECORDED: &str = r#"{"entrypoint":["/bin/sh"],"command":["-c","true"],"httpproxy":true,
      "env":{"A":"1"},"terminal":true,"stdin":true,"labels":{"k":"v"},
      "annotations":{"io.kubernetes.cri-o.TTY":"true"},"stop_timeout":10,"log_configuration":{},
      "raw_image_name":"localhost/busybox","restart_policy":"always","systemd":"true",
      "sdnotifyMode":"container","pidns":{},"utsns":{},"hostname":"hh",
      "containerCreateCommand":["podman","create"],"init_container_type":"","manage_password":true,
      "image":"localhost/busybox","image_volume_mode":"anonymous",
      "mounts":[{"destination":"/data","type":"bind","source":"/tmp","options":["ro"]}],
      "volumes":[{"Name":"vol1","Dest":"/v","Options":null,"IsAnonymous":false}],
      "ipcns":{},"work_dir":"/tmp","user":"1","seccomp_policy":"default","userns":{},
      "idmappings":{"HostUIDMapping":true,"HostGIDMapping":true,"UIDMap":null,"GIDMap":null},
      "umask":"0022","cgroupns":{},"cgroups_mode":"enabled","netns":{},
      "portmappings":[{"host_ip":"","container_port":80,"host_port":8080,"range":1,"protocol":""}],
      "Networks":{},"use_image_hosts":false}"#;

    #[test]
    fn podmans_create_body_becomes_a_spec() {
        let g: SpecGenerator = serde_json::from_str(RECORDED).unwrap();
        let s = spec(&g).unwrap();
        assert_eq!(s.image, "localhost/busybox");
        assert_eq!(s.entrypoint.as_deref(), Some(&["/bin/sh".to_string()][..]));
        assert_eq!(s.command, ["-c", "true"]);
        assert_eq!(s.env, ["A=1"]);
        assert_eq!(s.labels, ["k=v"]);
        assert!(s.tty && s.interactive);
        assert_eq!(s.workdir.as_deref(), Some("/tmp"));
        assert_eq!(s.user.as_deref(), Some("1"));
        assert_eq!(s.hostname.as_deref(), Some("hh"));
        assert_eq!(s.mounts.len(), 2);
        assert_eq!(s.network.publish.len(), 1);
        assert_eq!(s.network.publish[0].host_port, 8080);
        assert!(s.restart.is_some());
        assert_eq!(s.stop_timeout, Some(10));
    }

    #[test]
    fn network_modes_become_network_values() {
        let g: SpecGenerator =
            serde_json::from_str(r#"{"image":"x","netns":{"nsmode":"host"}}"#).unwrap();
        assert_eq!(network_values(&g).unwrap(), ["host"]);
        let g: SpecGenerator = serde_json::from_str(
            r#"{"image":"x","netns":{"nsmode":"bridge"},"Networks":{"n1":{"aliases":["a"]}}}"#,
        )
        .unwrap();
        assert_eq!(network_values(&g).unwrap(), ["n1"]);
        assert_eq!(network(&g).unwrap().aliases, ["a"]);
        let bad: SpecGenerator =
            serde_json::from_str(r#"{"image":"x","netns":{"nsmode":"warp"}}"#).unwrap();
        assert!(
            network_values(&bad)
                .unwrap_err()
                .to_string()
                .contains("warp")
        );
        let none: SpecGenerator = serde_json::from_str("{}").unwrap();
        assert!(spec(&none).is_err());
    }
}
