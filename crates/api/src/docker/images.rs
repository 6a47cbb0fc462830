//! Images, further: `GET /images/{name}/history`, `GET /images/{name}/get` and
//! `GET /images/get?names=` (`docker save`), `POST /images/load`, `POST /images/prune`,
//! `POST /build/prune`, `POST /commit` — the engine's history, save, load, prune and commit
//! rendered as Docker's JSON.

use std::collections::HashMap;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use peapod_engine::Error;
use peapod_engine::container::{CommitFormat, CommitOptions};
use peapod_engine::image::archive::{ArchiveFormat, LoadInput};
use peapod_engine::image::registry::Silent;
use peapod_engine::images::{SaveOutput, SaveRequest};
use serde_json::{Value, json};

use super::containers::sha256;
use super::pipe::{BodyReader, ChanWriter};
use crate::http::{Body, Resp, engine_error, filters, flag, json, query, query_all};
use crate::pool::EnginePool;

/// `GET /images/{name}/history`: newest first, Docker's `HistoryResponseItem`s.
pub async fn history(name: String, pool: EnginePool) -> Resp {
    let r = pool
        .run(move |e| {
            let entries = e.image_history(&name)?;
            let mut tags: HashMap<String, Vec<String>> = HashMap::new();
            for h in entries.iter().filter(|h| h.id != "<missing>") {
                let rec = e.resolve_image(&h.id)?;
                let names = rec.names.into_iter().filter(|n| !n.contains('@')).collect();
                tags.insert(h.id.clone(), names);
            }
            Ok((entries, tags))
        })
        .await;
    match r {
        Ok((entries, tags)) => {
            let out: Vec<Value> = entries
                .iter()
                .map(|h| {
                    let id = if h.id == "<missing>" {
                        h.id.clone()
                    } else {
                        sha256(&h.id)
                    };
                    json!({
                        "Id": id,
                        "Created": h.created.map(|t| t.timestamp()).unwrap_or(0),
                        "CreatedBy": h.created_by,
                        "Tags": tags.get(&h.id).filter(|t| !t.is_empty()),
                        "Size": h.size,
                        "Comment": h.comment,
                    })
                })
                .collect();
            json(StatusCode::OK, &out)
        }
        Err(e) => engine_error(&e),
    }
}

/// `GET /images/{name}/get` (one) and `GET /images/get?names=A&names=B` (many): a
/// docker-archive tar, streamed. Every name is checked before the answer starts.
pub async fn save(names: Vec<String>, pool: EnginePool) -> Resp {
    if names.is_empty() {
        return engine_error(&Error::invalid("no images named: names= is required"));
    }
    let check = names.clone();
    let r = pool
        .run(move |e| {
            check
                .iter()
                .try_for_each(|n| e.resolve_image(n).map(|_| ()))
        })
        .await;
    if let Err(e) = r {
        return engine_error(&e);
    }
    let (mut w, rx) = ChanWriter::new();
    pool.spawn_stream(move |engine| {
        let req = SaveRequest {
            multi_image: names.len() > 1,
            names,
            format: ArchiveFormat::DockerArchive,
            compress: false,
            uncompressed: false,
            quiet: false,
        };
        let r = engine.and_then(|e| e.save_images(&req, SaveOutput::Stream(&mut w), &Silent));
        if let Err(e) = r {
            tracing::warn!(error = %e, "image save failed mid-stream");
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .body(Body::Stream(rx))
        .expect("a valid response")
}

/// The `names` of `GET /images/get`.
pub fn save_names(req: &Request<Incoming>) -> Vec<String> {
    query_all(req, "names")
}

/// Docker's line for a loaded image: by name, or by id for an image without one.
fn loaded_line(name: &str) -> String {
    if name.starts_with("sha256:") {
        format!("Loaded image ID: {name}\n")
    } else {
        format!("Loaded image: {name}\n")
    }
}

/// `POST /images/load?quiet=`: the body (a docker-archive or OCI archive, possibly
/// compressed) streamed into the engine's load; `{"stream": "Loaded image: …"}` lines.
pub async fn load(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let mut body = BodyReader::spawn(req.into_body());
    let r = pool
        .run(move |e| {
            let r = e.load_images(LoadInput::Stream(&mut body), &Silent);
            let _ = std::io::copy(&mut body, &mut std::io::sink());
            r
        })
        .await;
    match r {
        Ok(names) => {
            let mut out = Vec::new();
            for n in names {
                out.extend_from_slice(&crate::http::json_line(
                    &json!({ "stream": loaded_line(&n) }),
                ));
            }
            crate::http::bytes(StatusCode::OK, "application/json", out)
        }
        Err(e) => engine_error(&e),
    }
}

/// Docker's prune filters as the engine's: `dangling=false` asks for every unused image
/// (`docker image prune -a`), not only dangling ones.
fn prune_request(q: &HashMap<String, String>) -> Result<(bool, Vec<String>), Error> {
    let mut all = false;
    let mut rest = Vec::new();
    for f in filters(q)? {
        match f.split_once('=') {
            Some(("dangling", v)) => {
                all = matches!(v.to_ascii_lowercase().as_str(), "false" | "0");
            }
            _ => rest.push(f),
        }
    }
    Ok((all, rest))
}

/// `POST /images/prune?filters=`: `{"ImagesDeleted": [{"Untagged"}, {"Deleted"}],
/// "SpaceReclaimed"}`.
pub async fn prune(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let (all, f) = match prune_request(&query(&req)) {
        Ok(x) => x,
        Err(e) => return engine_error(&e),
    };
    let r = pool
        .run(move |e| {
            let filters = e.image_prune_filters(&f)?;
            e.prune_images(all, &filters)
        })
        .await;
    match r {
        Ok(removed) => {
            let mut deleted = Vec::new();
            for img in &removed {
                for n in img.names.iter().filter(|n| !n.contains('@')) {
                    deleted.push(json!({ "Untagged": n }));
                }
                deleted.push(json!({ "Deleted": sha256(&img.id) }));
            }
            let space: u64 = removed.iter().map(|i| i.size).sum();
            json(
                StatusCode::OK,
                &json!({ "ImagesDeleted": deleted, "SpaceReclaimed": space }),
            )
        }
        Err(e) => engine_error(&e),
    }
}

/// `POST /build/prune`: the engine keeps no build cache apart from images (which image
/// prune removes), so nothing is deleted; `docker system prune` calls it.
pub async fn build_prune() -> Resp {
    json(
        StatusCode::OK,
        &json!({ "CachesDeleted": [], "SpaceReclaimed": 0 }),
    )
}

/// The query of `POST /commit` as the engine's commit request (Docker commits in its
/// own format, pausing a running container unless `pause=0`).
fn commit_options(q: &HashMap<String, String>, changes: Vec<String>) -> CommitOptions {
    let nonempty = |k: &str| q.get(k).filter(|v| !v.is_empty()).cloned();
    let name = nonempty("repo").map(|r| match nonempty("tag") {
        Some(t) => format!("{r}:{t}"),
        None => r,
    });
    CommitOptions {
        name,
        changes,
        message: nonempty("comment"),
        author: nonempty("author"),
        pause: q.get("pause").is_none_or(|_| flag(q, "pause")),
        format: CommitFormat::Docker,
        ..Default::default()
    }
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`: 201
/// `{"Id": "sha256:…"}`. The body (a container config) is not applied: `changes` are.
pub async fn commit(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let q = query(&req);
    let Some(container) = q.get("container").filter(|c| !c.is_empty()).cloned() else {
        return engine_error(&Error::invalid(
            "commit: a container is required (container=)",
        ));
    };
    let changes = query_all(&req, "changes");
    let opts = commit_options(&q, changes);
    match pool
        .run(move |e| e.commit(&container, &opts, &Silent))
        .await
    {
        Ok(rec) => json(StatusCode::CREATED, &json!({ "Id": sha256(&rec.id) })),
        Err(e) => engine_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangling_false_means_all() {
        let mut q = HashMap::new();
        q.insert(
            "filters".to_string(),
            r#"{"dangling":["false"],"label":["a=b"]}"#.to_string(),
        );
        assert_eq!(prune_request(&q).unwrap(), (true, vec!["label=a=b".into()]));
        q.insert("filters".to_string(), r#"{"until":["10m"]}"#.to_string());
        assert_eq!(
            prune_request(&q).unwrap(),
            (false, vec!["until=10m".into()])
        );
    }

    #[test]
    fn commit_query() {
        let mut q = HashMap::new();
        q.insert("repo".to_string(), "me/img".to_string());
        q.insert("tag".to_string(), "v1".to_string());
        q.insert("comment".to_string(), "hi".to_string());
        let o = commit_options(&q, vec!["CMD [\"x\"]".into()]);
        assert_eq!(o.name.as_deref(), Some("me/img:v1"));
        assert_eq!(o.message.as_deref(), Some("hi"));
        assert!(o.pause);
        assert_eq!(o.format, CommitFormat::Docker);
        q.insert("pause".to_string(), "0".to_string());
        assert!(!commit_options(&q, vec![]).pause);
        assert_eq!(loaded_line("a:1"), "Loaded image: a:1\n");
        assert_eq!(loaded_line("sha256:ab"), "Loaded image ID: sha256:ab\n");
    }
}
