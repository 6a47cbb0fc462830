//! Images, networks and volumes: lists and inspects as Docker's JSON; volume create/delete.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::images::ImageListRequest;
use peapod_engine::network::Network;
use peapod_engine::volume::VolumeCreateOptions;
use serde::Deserialize;
use serde_json::{Value, json};

use super::containers::sha256;
use crate::http::{Resp, empty, engine_error, filters, flag, json, query, read_json};
use crate::pool::EnginePool;

/// The engine's default network, which Docker clients know as `bridge`.
const DEFAULT_NETWORK: &str = "podman";

/// `?all=&filters=` of an image list (both APIs).
pub(crate) fn image_list_request(
    q: &std::collections::HashMap<String, String>,
) -> Result<ImageListRequest, peapod_engine::Error> {
    Ok(ImageListRequest {
        all: flag(q, "all"),
        filters: filters(q)?,
        ..Default::default()
    })
}

pub async fn images(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let request = match image_list_request(&query(&req)) {
        Ok(r) => r,
        Err(e) => return engine_error(&e),
    };
    match pool.run(move |e| e.list_images(&request)).await {
        Ok(list) => {
            let out: Vec<Value> = list
                .iter()
                .map(|i| {
                    json!({
                        "Id": sha256(&i.id),
                        "ParentId": i.parent_id.as_deref().map(sha256).unwrap_or_default(),
                        "RepoTags": i.names,
                        "RepoDigests": i.repo_digests,
                        "Created": i.created.timestamp(),
                        "Size": i.size,
                        "SharedSize": -1,
                        "VirtualSize": i.size,
                        "Labels": i.labels,
                        "Containers": i.containers,
                    })
                })
                .collect();
            json(StatusCode::OK, &out)
        }
        Err(e) => engine_error(&e),
    }
}

pub async fn image_inspect(name: String, pool: EnginePool) -> Resp {
    let r = pool
        .run(move |e| {
            let rec = e.resolve_image(&name)?;
            let report = e.inspect_image(&rec)?;
            serde_json::to_value(&report).map_err(|e| Error::other(e.to_string()))
        })
        .await;
    match r {
        Ok(mut v) => {
            let id = v["Id"].as_str().map(sha256).unwrap_or_default();
            v["Id"] = json!(id);
            // Docker's `ImageInspect` has none of libpod's additions (`Digest`, `History`,
            // `NamesHistory`, top-level `Labels`, …), as Podman's compat API leaves them out.
            retain_keys(
                &mut v,
                &[
                    "Id",
                    "RepoTags",
                    "RepoDigests",
                    "Parent",
                    "Comment",
                    "Created",
                    "DockerVersion",
                    "Author",
                    "Config",
                    "Architecture",
                    "Variant",
                    "Os",
                    "OsVersion",
                    "Size",
                    "VirtualSize",
                    "GraphDriver",
                    "RootFS",
                    "Metadata",
                ],
            );
            json(StatusCode::OK, &v)
        }
        Err(e) => engine_error(&e),
    }
}

/// Only `keys` of the object `v` (Docker's fields of a report libpod's adds to).
pub(crate) fn retain_keys(v: &mut Value, keys: &[&str]) {
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| keys.contains(&k.as_str()));
    }
}

fn network_json(n: &Network) -> Value {
    let config: Vec<Value> = n
        .subnets
        .iter()
        .flatten()
        .map(|s| {
            json!({
                "Subnet": s.subnet.to_string(),
                "Gateway": s.gateway.map(|g| g.to_string()).unwrap_or_default(),
            })
        })
        .collect();
    let name = if n.name == DEFAULT_NETWORK {
        "bridge"
    } else {
        &n.name
    };
    json!({
        "Name": name,
        "Id": n.id,
        "Created": n.created.clone().unwrap_or_default(),
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv6": n.ipv6_enabled,
        "IPAM": { "Driver": "default", "Options": {}, "Config": config },
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": {},
        "Options": n.options.clone().unwrap_or_default(),
        "Labels": n.labels.clone().unwrap_or_default(),
    })
}

pub async fn networks(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match filters(&query(&req)) {
        Ok(f) => f,
        Err(e) => return engine_error(&e),
    };
    match pool.run(move |e| e.network_list(&f)).await {
        Ok(list) => json(
            StatusCode::OK,
            &list.iter().map(network_json).collect::<Vec<_>>(),
        ),
        Err(e) => engine_error(&e),
    }
}

/// A Docker network name as the engine's: `bridge` is the default network.
pub fn engine_network_name(name: String) -> String {
    if name == "bridge" {
        DEFAULT_NETWORK.to_string()
    } else {
        name
    }
}

pub async fn network_inspect(name: String, pool: EnginePool) -> Resp {
    let name = engine_network_name(name);
    match pool.run(move |e| e.network(&name)).await {
        Ok(n) => json(StatusCode::OK, &network_json(&n)),
        Err(e) => engine_error(&e),
    }
}

fn volume_json(v: peapod_engine::volume::InspectVolume) -> Value {
    json!({
        "Name": v.Name,
        "Driver": v.Driver,
        "Mountpoint": v.Mountpoint,
        "CreatedAt": v.CreatedAt,
        "Labels": v.Labels,
        "Scope": v.Scope,
        "Options": v.Options,
    })
}

pub async fn volumes(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match filters(&query(&req)) {
        Ok(f) => f,
        Err(e) => return engine_error(&e),
    };
    let r = pool
        .run(move |e| {
            let parsed = f
                .iter()
                .map(|s| peapod_engine::volume::VolumeFilter::parse(s))
                .collect::<Result<Vec<_>, _>>()?;
            let list = e.list_volumes(&parsed)?;
            Ok(list
                .iter()
                .map(|v| volume_json(e.inspect_volume(v)))
                .collect::<Vec<_>>())
        })
        .await;
    match r {
        Ok(list) => json(StatusCode::OK, &json!({ "Volumes": list, "Warnings": [] })),
        Err(e) => engine_error(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct VolumeBody {
    name: String,
    driver: String,
    driver_opts: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
}

pub async fn volume_create(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let body: VolumeBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let kv = |m: &Option<BTreeMap<String, String>>| -> Vec<String> {
        m.iter()
            .flatten()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    };
    let opts = VolumeCreateOptions {
        name: Some(body.name).filter(|n| !n.is_empty()),
        driver: Some(body.driver).filter(|d| !d.is_empty()),
        labels: kv(&body.labels),
        options: kv(&body.driver_opts),
        anonymous: false,
    };
    let r = pool
        .run(move |e| {
            let v = e.create_volume(&opts)?;
            Ok(volume_json(e.inspect_volume(&v)))
        })
        .await;
    match r {
        Ok(v) => json(StatusCode::CREATED, &v),
        Err(e) => engine_error(&e),
    }
}

pub async fn volume_inspect(name: String, pool: EnginePool) -> Resp {
    match pool
        .run(move |e| Ok(volume_json(e.inspect_volume(&e.volume(&name)?))))
        .await
    {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => engine_error(&e),
    }
}

pub async fn volume_remove(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let force = flag(&query(&req), "force");
    match pool.run(move |e| e.remove_volume(&name, force, None)).await {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(e) => engine_error(&e),
    }
}

/// POST `/images/{name}/tag?repo=&tag=`: 201.
pub async fn image_tag(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let Some(repo) = q.get("repo").filter(|r| !r.is_empty()).cloned() else {
        return engine_error(&Error::invalid(
            "tag: a repository name is required (repo=)",
        ));
    };
    let new_name = match q.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo,
    };
    match pool.run(move |e| e.tag_image(&name, &new_name)).await {
        Ok(()) => empty(StatusCode::CREATED),
        Err(e) => engine_error(&e),
    }
}

/// DELETE `/images/{name}?force=`: `[{"Untagged": …}, {"Deleted": …}]`.
pub async fn image_remove(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let force = flag(&query(&req), "force");
    match pool.run(move |e| e.remove_image(&name, force)).await {
        Ok(r) => {
            let mut out: Vec<Value> = r
                .untagged
                .iter()
                .map(|u| json!({ "Untagged": u }))
                .collect();
            if let Some(d) = &r.deleted {
                out.push(json!({ "Deleted": sha256(d) }));
            }
            json(StatusCode::OK, &out)
        }
        Err(e) => engine_error(&e),
    }
}
