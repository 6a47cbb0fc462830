//! Libpod volumes: create (Podman's `VolumeCreateOptions`), list, inspect, exists, remove
//! and prune, with the engine's inspect report (Podman's shape) as each volume's JSON.

use std::collections::BTreeMap;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::volume::{VolumeCreateOptions, VolumeFilter};
use serde::Deserialize;
use serde_json::json;

use super::error;
use crate::http::{Resp, empty, filters, flag, json, query, read_json, timeout};
use crate::pool::EnginePool;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct CreateBody {
    name: String,
    driver: String,
    label: Option<BTreeMap<String, String>>,
    labels: Option<BTreeMap<String, String>>,
    options: Option<BTreeMap<String, String>>,
}

fn create_request(b: CreateBody) -> VolumeCreateOptions {
    let kv = |m: BTreeMap<String, String>| -> Vec<String> {
        m.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    };
    // `Labels` is Podman's preferred field and overrides `Label`.
    let mut labels = b.label.unwrap_or_default();
    labels.extend(b.labels.unwrap_or_default());
    VolumeCreateOptions {
        name: Some(b.name).filter(|n| !n.is_empty()),
        driver: Some(b.driver).filter(|d| !d.is_empty()),
        labels: kv(labels),
        options: kv(b.options.unwrap_or_default()),
        anonymous: false,
    }
}

/// POST `/libpod/volumes/create`: 201 with the volume's inspect report.
pub async fn create(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let b: CreateBody = match read_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let opts = create_request(b);
    let r = pool
        .run(move |e| {
            let v = e.create_volume(&opts)?;
            Ok(e.inspect_volume(&v))
        })
        .await;
    match r {
        Ok(v) => json(StatusCode::CREATED, &v),
        Err(e) => error(&e),
    }
}

fn volume_filters(req: &Request<Incoming>) -> Result<Vec<VolumeFilter>, peapod_engine::Error> {
    filters(&query(req))?
        .iter()
        .map(|s| VolumeFilter::parse(s))
        .collect()
}

/// GET `/libpod/volumes/json?filters=`.
pub async fn list(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match volume_filters(&req) {
        Ok(f) => f,
        Err(e) => return error(&e),
    };
    let r = pool
        .run(move |e| {
            let list = e.list_volumes(&f)?;
            Ok(list.iter().map(|v| e.inspect_volume(v)).collect::<Vec<_>>())
        })
        .await;
    match r {
        Ok(list) => json(StatusCode::OK, &list),
        Err(e) => error(&e),
    }
}

pub async fn inspect(name: String, pool: EnginePool) -> Resp {
    let r = pool
        .run(move |e| {
            let v = e.volume(&name)?;
            Ok(e.inspect_volume(&v))
        })
        .await;
    match r {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(&e),
    }
}

pub async fn exists(name: String, pool: EnginePool) -> Resp {
    match pool.run(move |e| e.volume(&name)).await {
        Ok(_) => empty(StatusCode::NO_CONTENT),
        Err(e) => error(&e),
    }
}

/// DELETE `/libpod/volumes/{name}?force=&timeout=`: 204; 409 while a container uses it.
pub async fn remove(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let force = flag(&q, "force");
    let t = timeout(&q);
    match pool.run(move |e| e.remove_volume(&name, force, t)).await {
        Ok(()) => empty(StatusCode::NO_CONTENT),
        Err(e) => error(&e),
    }
}

/// POST `/libpod/volumes/prune?filters=`: Podman's `[{"Id", "Size"}]`.
pub async fn prune(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let f = match volume_filters(&req) {
        Ok(f) => f,
        Err(e) => return error(&e),
    };
    match pool.run(move |e| e.prune_volumes(&f)).await {
        Ok(gone) => json(
            StatusCode::OK,
            &gone
                .iter()
                .map(|v| json!({ "Id": v, "Err": null, "Size": 0 }))
                .collect::<Vec<_>>(),
        ),
        Err(e) => error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_override_label() {
        let b: CreateBody = serde_json::from_str(
            r#"{"Name":"v1","Driver":"","Label":{"a":"1","b":"2"},"Labels":{"a":"3"},
            "Options":{"o":"size=1"}}"#,
        )
        .unwrap();
        let o = create_request(b);
        assert_eq!(o.name.as_deref(), Some("v1"));
        assert_eq!(o.labels, ["a=3", "b=2"]);
        assert_eq!(o.options, ["o=size=1"]);
        assert_eq!(o.driver, None);
    }
}
