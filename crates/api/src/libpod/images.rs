//! Libpod images: list (Podman's `ImageSummary`), exists, inspect (the engine's report),
//! pull (`policy`, a JSON stream ending in `{"images", "id"}`) and remove (Podman's
//! `ImageRemoveReport`).

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::image::registry::{Platform, PullOptions, Silent, Tls};
use peapod_engine::images::ImageSummary;
use serde_json::{Value, json};

use super::error;
use crate::http::{Resp, bytes, empty, flag, json, query};
use crate::pool::EnginePool;

fn summary(i: &ImageSummary) -> Value {
    let tags: Vec<&String> = i.names.iter().filter(|n| !n.contains('@')).collect();
    json!({
        "Id": i.id,
        "ParentId": i.parent_id.clone().unwrap_or_default(),
        "RepoTags": tags,
        "RepoDigests": i.repo_digests,
        "Created": i.created.timestamp(),
        "Size": i.size,
        "SharedSize": 0,
        "VirtualSize": i.size,
        "Labels": i.labels,
        "Containers": i.containers,
        "ReadOnly": i.read_only,
        "Dangling": i.dangling,
        "Names": i.names,
        "Digest": i.digest,
        "History": i.names_history,
    })
}

/// GET `/libpod/images/json?all=&filters=`.
pub async fn list(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let request = match crate::docker::image_list_request(&query(&req)) {
        Ok(r) => r,
        Err(e) => return error(&e),
    };
    match pool.run(move |e| e.list_images(&request)).await {
        Ok(list) => json(
            StatusCode::OK,
            &list.iter().map(summary).collect::<Vec<_>>(),
        ),
        Err(e) => error(&e),
    }
}

/// GET `/libpod/images/{name}/exists`: 204 or 404.
pub async fn exists(name: String, pool: EnginePool) -> Resp {
    match pool.run(move |e| e.resolve_image(&name)).await {
        Ok(_) => empty(StatusCode::NO_CONTENT),
        Err(e) => error(&e),
    }
}

/// GET `/libpod/images/{name}/json`: the engine's `ImageData` report.
pub async fn inspect(name: String, pool: EnginePool) -> Resp {
    let r = pool
        .run(move |e| {
            let rec = e.resolve_image(&name)?;
            e.inspect_image(&rec)
        })
        .await;
    match r {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(&e),
    }
}

fn line(v: &Value) -> String {
    let mut s = v.to_string();
    s.push('\n');
    s
}

/// POST `/libpod/images/pull?reference=&policy=always|missing|newer|never&tlsVerify=`:
/// a JSON stream; an image already there is not pulled again under `missing`.
pub async fn pull(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let q = query(&req);
    let Some(reference) = q.get("reference").filter(|r| !r.is_empty()).cloned() else {
        return error(&Error::invalid("no reference given to pull"));
    };
    let policy = q.get("policy").cloned().unwrap_or_else(|| "always".into());
    if !matches!(policy.as_str(), "always" | "missing" | "newer" | "never") {
        return error(&Error::invalid(format!(
            "invalid pull policy {policy:?}: must be always, missing, newer or never"
        )));
    }
    let tls = Tls {
        verify: q.get("tlsVerify").map(|v| v != "false"),
        ..Tls::default()
    };
    let r = pool
        .run(move |e| {
            if policy != "always"
                && let Ok(rec) = e.resolve_image(&reference)
            {
                return Ok(vec![rec.id]);
            }
            if policy == "never" {
                return Err(Error::NoSuchImage(reference));
            }
            let opts = PullOptions {
                reference,
                platform: Platform::choose(None, None, None, None)?,
                all_tags: flag(&q, "allTags"),
                tls,
                authfile: None,
                creds: None,
            };
            let records = e.pull_image(&opts, &Silent)?;
            Ok(records.into_iter().map(|r| r.id).collect::<Vec<_>>())
        })
        .await;
    let body = match r {
        Ok(ids) => {
            let id = ids.last().cloned().unwrap_or_default();
            line(&json!({ "images": ids, "id": id }))
        }
        Err(e) => line(&json!({ "error": e.to_string() })),
    };
    bytes(StatusCode::OK, "application/json", Bytes::from(body))
}

/// Podman's `ImageRemoveReport` for the images named, one engine removal each.
async fn remove(names: Vec<String>, force: bool, ignore: bool, pool: EnginePool) -> Resp {
    let r = pool
        .run(move |e| {
            let (mut untagged, mut deleted, mut errors) = (Vec::new(), Vec::new(), Vec::new());
            let mut code = 0;
            for name in &names {
                match e.remove_image_and_dangling_parents(name, force) {
                    Ok(r) => {
                        untagged.extend(r.untagged);
                        deleted.extend(r.deleted);
                        deleted.extend(r.deleted_parents);
                    }
                    Err(Error::NoSuchImage(_)) if ignore => {}
                    Err(err) => {
                        // Podman: 1 when an image was missing, 2 when one is in use.
                        code = match err.kind() {
                            peapod_engine::ErrorKind::NotFound if code == 0 => 1,
                            peapod_engine::ErrorKind::Conflict => 2,
                            _ if code == 0 => 125,
                            _ => code,
                        };
                        errors.push(err.to_string());
                    }
                }
            }
            Ok(json!({
                "Untagged": untagged,
                "Deleted": deleted,
                "Errors": errors,
                "ExitCode": code,
            }))
        })
        .await;
    match r {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(&e),
    }
}

/// DELETE `/libpod/images/remove?images=A&images=B&force=&ignore=` (what `podman rmi`
/// calls).
pub async fn remove_many(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let q = query(&req);
    let names = crate::http::query_all(&req, "images");
    if names.is_empty() {
        return error(&Error::invalid("no images given to remove"));
    }
    remove(names, flag(&q, "force"), flag(&q, "ignore"), pool).await
}

/// DELETE `/libpod/images/{name}?force=`.
pub async fn remove_one(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    remove(vec![name], flag(&q, "force"), false, pool).await
}
