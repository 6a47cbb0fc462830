//! Libpod images: list (Podman's `ImageSummary`), exists, inspect (the engine's report),
//! pull (`policy`, Podman's JSON stream: progress lines, then `{"images", "id"}`) and remove (Podman's
//! `ImageRemoveReport`).

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::image::registry::{Event, Platform, ProgressSink, PullOptions, Silent, Tls};
use peapod_engine::images::ImageSummary;
use peapod_engine::{Engine, Error};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::error;
use crate::http::{Resp, empty, flag, json, json_line, ndjson, query};
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

/// Pull progress as Podman's `{"stream"}` lines, sent as they come (through a plain
/// channel: the pull calls the sink from its own runtime, where a tokio one cannot block).
struct StreamProgress(std::sync::Mutex<std::sync::mpsc::Sender<Bytes>>);

impl ProgressSink for StreamProgress {
    fn event(&self, e: Event) {
        if let Some(l) = e.plain_line()
            && let Ok(tx) = self.0.lock()
        {
            let _ = tx.send(json_line(&json!({ "stream": format!("{l}\n") })));
        }
    }
}

/// The pull itself, as `policy` says; the ids of the images now there.
fn pull_blocking(
    e: &Engine,
    opts: PullOptions,
    policy: &str,
    sink: &dyn ProgressSink,
) -> Result<Vec<String>, Error> {
    if policy != "always"
        && let Ok(rec) = e.resolve_image(&opts.reference)
    {
        return Ok(vec![rec.id]);
    }
    if policy == "never" {
        return Err(Error::NoSuchImage(opts.reference));
    }
    let records = e.pull_image(&opts, sink)?;
    Ok(records.into_iter().map(|r| r.id).collect())
}

/// POST `/libpod/images/pull?reference=&policy=always|missing|newer|never&tlsVerify=&quiet=`:
/// Podman's stream, `{"stream"}` lines as the pull goes (none with `quiet`), then
/// `{"images", "id"}` or `{"error"}`. An image already there is not pulled again under
/// `missing`.
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
    let platform = match Platform::choose(None, None, None, None) {
        Ok(p) => p,
        Err(e) => return error(&Error::from(e)),
    };
    let opts = PullOptions {
        reference,
        platform,
        all_tags: flag(&q, "allTags"),
        tls: Tls {
            verify: q.get("tlsVerify").map(|v| v != "false"),
            ..Tls::default()
        },
        authfile: None,
        creds: None,
    };
    let quiet = flag(&q, "quiet");
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    pool.spawn_stream(move |engine| {
        let (progress_tx, progress_rx) = std::sync::mpsc::channel::<Bytes>();
        let forward = {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for b in progress_rx {
                    if tx.blocking_send(b).is_err() {
                        break;
                    }
                }
            })
        };
        let pulled = engine.and_then(|e| {
            let sink = StreamProgress(std::sync::Mutex::new(progress_tx));
            if quiet {
                pull_blocking(&e, opts, &policy, &Silent)
            } else {
                pull_blocking(&e, opts, &policy, &sink)
            }
        });
        let _ = forward.join();
        let last = match pulled {
            Ok(ids) => {
                let id = ids.last().cloned().unwrap_or_default();
                json!({ "images": ids, "id": id })
            }
            Err(e) => json!({ "error": e.to_string() }),
        };
        let _ = tx.blocking_send(json_line(&last));
    });
    ndjson(StatusCode::OK, rx)
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
