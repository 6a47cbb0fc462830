//! Libpod pods: create (Podman's `PodSpecGenerator`), list (`ListPodsReport`), inspect
//! (the engine's report), exists, start, stop and remove.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::network::{NetworkMode, NetworkSpec, PortMapping};
use peapod_engine::pod::PodCreateOptions;
use peapod_engine::pod::report::PodListEntry;
use serde::Deserialize;
use serde_json::{Value, json};

use super::create::Namespace;
use super::error;
use crate::http::{Resp, empty, filters, flag, json, query, read_json, timeout};
use crate::pool::EnginePool;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodSpecGenerator {
    pub name: String,
    pub hostname: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub shared_namespaces: Option<Vec<String>>,
    pub no_infra: bool,
    pub infra_image: String,
    pub infra_name: String,
    pub infra_command: Option<Vec<String>>,
    pub cgroup_parent: String,
    pub exit_policy: String,
    pub pod_create_command: Option<Vec<String>>,
    pub portmappings: Option<Vec<PortMapping>>,
    pub netns: Namespace,
    #[serde(rename = "Networks")]
    pub networks: Option<BTreeMap<String, Value>>,
    pub dns_server: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub dns_option: Option<Vec<String>>,
    pub hostadd: Option<Vec<String>>,
}

/// The pod spec generator as the engine's `pod create` request.
pub fn options(g: &PodSpecGenerator) -> Result<PodCreateOptions, Error> {
    let nonempty = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    let mut nets: Vec<String> = g
        .networks
        .iter()
        .flatten()
        .map(|(n, _)| n.clone())
        .collect();
    match g.netns.nsmode.as_str() {
        "" | "default" | "bridge" => {}
        "host" | "none" | "slirp4netns" => nets = vec![g.netns.nsmode.clone()],
        "private" => nets = vec!["none".into()],
        m => {
            return Err(Error::invalid(format!(
                "invalid network mode {m:?} in netns"
            )));
        }
    }
    let publish = g
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
        .collect();
    Ok(PodCreateOptions {
        name: nonempty(&g.name),
        hostname: nonempty(&g.hostname),
        labels: g
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        share: g.shared_namespaces.as_ref().map(|s| s.join(",")),
        infra: !g.no_infra,
        infra_image: nonempty(&g.infra_image),
        infra_command: g
            .infra_command
            .as_ref()
            .filter(|c| !c.is_empty())
            .map(|c| serde_json::to_string(c).unwrap_or_default()),
        infra_name: nonempty(&g.infra_name),
        cgroup_parent: nonempty(&g.cgroup_parent),
        network: NetworkSpec {
            mode: NetworkMode::parse(&nets)?,
            publish,
            dns: g.dns_server.clone().unwrap_or_default(),
            dns_search: g.dns_search.clone().unwrap_or_default(),
            dns_option: g.dns_option.clone().unwrap_or_default(),
            add_host: g.hostadd.clone().unwrap_or_default(),
            ..Default::default()
        },
        create_command: g.pod_create_command.clone().unwrap_or_default(),
        exit_policy: nonempty(&g.exit_policy),
        ..Default::default()
    })
}

/// POST `/libpod/pods/create`: 201 `{"Id"}`.
pub async fn create(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let g: PodSpecGenerator = match read_json(req).await {
        Ok(g) => g,
        Err(r) => return r,
    };
    let opts = match options(&g) {
        Ok(o) => o,
        Err(e) => return error(&e),
    };
    match pool.run(move |e| e.create_pod(&opts)).await {
        Ok(p) => json(StatusCode::CREATED, &json!({ "Id": p.id() })),
        Err(e) => error(&e),
    }
}

fn list_pod(p: &PodListEntry) -> Value {
    let containers: Vec<Value> = p
        .containers
        .iter()
        .map(|c| {
            json!({
                "Id": c.id(),
                "Names": c.name(),
                "Status": c.state.status.to_string(),
                "RestartCount": c.state.restart_count,
            })
        })
        .collect();
    let cfg = &p.pod.config;
    json!({
        "Cgroup": cfg.cgroup_parent,
        "Containers": containers,
        "Created": crate::docker::rfc3339(cfg.created),
        "Id": p.pod.id(),
        "InfraId": cfg.infra_id,
        "Name": p.pod.name(),
        "Namespace": "",
        "Networks": p.networks,
        "Status": p.status,
        "Labels": cfg.labels,
    })
}

/// GET `/libpod/pods/json?filters=`.
pub async fn list(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match filters(&query(&req)) {
        Ok(f) => f,
        Err(e) => return error(&e),
    };
    match pool.run(move |e| e.pod_list(&f)).await {
        Ok(list) => json(
            StatusCode::OK,
            &list.iter().map(list_pod).collect::<Vec<_>>(),
        ),
        Err(e) => error(&e),
    }
}

pub async fn inspect(name: String, pool: EnginePool) -> Resp {
    match pool.run(move |e| e.inspect_pod(&name)).await {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(&e),
    }
}

pub async fn exists(name: String, pool: EnginePool) -> Resp {
    match pool.run(move |e| e.pod(&name)).await {
        Ok(_) => empty(StatusCode::NO_CONTENT),
        Err(e) => error(&e),
    }
}

/// Podman's `PodStartReport`/`PodStopReport`.
fn pod_report(r: Result<peapod_engine::pod::Pod, Error>) -> Resp {
    match r {
        Ok(p) => json(StatusCode::OK, &json!({ "Errs": null, "Id": p.id() })),
        Err(e) => error(&e),
    }
}

pub async fn start(name: String, pool: EnginePool) -> Resp {
    pod_report(pool.run(move |e| e.start_pod(&name)).await)
}

pub async fn stop(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let t = match q.get("timeout").or(q.get("t")).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match t.parse::<i64>() {
            Ok(t) => Some(t.max(0) as u32),
            Err(_) => {
                return error(&Error::invalid(format!(
                    "invalid stop timeout {t:?}: not a number"
                )));
            }
        },
    };
    pod_report(pool.run(move |e| e.stop_pod(&name, t)).await)
}

/// DELETE `/libpod/pods/{name}?force=&timeout=`: Podman's `PodRmReport`.
pub async fn remove(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let force = flag(&q, "force");
    let t = timeout(&q);
    match pool.run(move |e| e.remove_pod(&name, force, t)).await {
        Ok(id) => json(StatusCode::OK, &json!({ "Err": null, "Id": id })),
        Err(e) => error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podmans_pod_create_body_becomes_options() {
        // What podman 4.3's client sent for `pod create --name p1`.
        let g: PodSpecGenerator = serde_json::from_str(
            r#"{"name":"p1","exit_policy":"continue","shared_namespaces":["ipc","net","uts"],
            "share_parent":true,"pod_create_command":["podman","pod","create","--name","p1"],
            "pidns":{"nsmode":"private"},"userns":{},"utsns":{},"netns":{},"Networks":null,
            "resource_limits":{"cpu":{}}}"#,
        )
        .unwrap();
        let o = options(&g).unwrap();
        assert_eq!(o.name.as_deref(), Some("p1"));
        assert!(o.infra);
        assert_eq!(o.share.as_deref(), Some("ipc,net,uts"));
        assert_eq!(o.exit_policy.as_deref(), Some("continue"));
        let bad: PodSpecGenerator = serde_json::from_str(r#"{"netns":{"nsmode":"warp"}}"#).unwrap();
        assert!(options(&bad).is_err());
    }
}
