//! POST `/images/{name}/push?tag=`: the engine's push, its progress as Docker's JSON
//! messages, credentials from the `X-Registry-Auth` header. As Docker's daemon, a registry
//! on a loopback address is spoken to over plain HTTP (Docker's default insecure range).

use std::sync::Mutex;

use base64::Engine as _;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::image::registry::{self, ProgressSink, PushOptions, Tls};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::streams::docker_reference;
use crate::http::{Resp, engine_error, query};
use crate::pool::EnginePool;

/// Docker's `AuthConfig`, as clients encode it in `X-Registry-Auth`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthConfig {
    username: String,
    password: String,
}

/// `USER:PASS` from the header (URL-safe base64 of JSON; `e30=` is `{}`: none).
pub(crate) fn credentials(header: Option<&str>) -> Result<Option<String>, Error> {
    let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(h)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(h))
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(h))
        .map_err(|e| Error::invalid(format!("invalid X-Registry-Auth header: {e}")))?;
    let auth: AuthConfig = serde_json::from_slice(&raw)
        .map_err(|e| Error::invalid(format!("invalid X-Registry-Auth header: {e}")))?;
    Ok((!auth.username.is_empty()).then(|| format!("{}:{}", auth.username, auth.password)))
}

/// How Docker's daemon speaks to a registry: a loopback one over plain HTTP, unverified
/// (whether it is, and the TLS settings that say so).
pub(crate) fn daemon_tls(host: &str) -> (bool, Tls) {
    let insecure = loopback(host);
    let tls = Tls {
        verify: insecure.then_some(false),
        ..Tls::default()
    };
    (insecure, tls)
}

/// Whether a registry host is on a loopback address (`127.0.0.1:5000`, `localhost`, `[::1]`).
fn loopback(host: &str) -> bool {
    let h = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn short(digest: &str) -> String {
    digest
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect()
}

/// Push progress as Docker's messages (`Preparing`, `Pushing`, `Pushed`, `Layer already
/// exists`), sent through a plain channel (the push runs its own async runtime).
struct PushProgress {
    tx: Mutex<std::sync::mpsc::Sender<Bytes>>,
}

impl ProgressSink for PushProgress {
    fn event(&self, e: registry::Event) {
        use registry::Event as E;
        let msg = match e {
            E::BlobStart { digest, .. } => {
                json!({"status": "Preparing", "progressDetail": {}, "id": short(&digest)})
            }
            E::BlobProgress { digest, done } => {
                json!({"status": "Pushing", "progressDetail": {"current": done}, "id": short(&digest)})
            }
            E::BlobDone { digest } => {
                json!({"status": "Pushed", "progressDetail": {}, "id": short(&digest)})
            }
            E::BlobSkipped { digest } => {
                json!({"status": "Layer already exists", "progressDetail": {}, "id": short(&digest)})
            }
            _ => return,
        };
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send(crate::http::json_line(&msg));
        }
    }
}

/// `POST /images/{name}/push?tag=`.
pub async fn push(req: Request<Incoming>, name: String, pool: EnginePool) -> Resp {
    let q = query(&req);
    let tag = q.get("tag").cloned().unwrap_or_default();
    let auth = req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let prepared =
        docker_reference(&name, &tag).and_then(|r| Ok((r, credentials(auth.as_deref())?)));
    let (destination, creds) = match prepared {
        Ok(p) => p,
        Err(e) => return engine_error(&e),
    };
    let host = destination
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let repo = destination
        .rsplit_once(['@', ':'])
        .filter(|(_, t)| !t.contains('/'))
        .map_or(destination.as_str(), |(r, _)| r)
        .to_string();
    let shown_tag = destination
        .rsplit_once(':')
        .filter(|(_, t)| !t.contains('/'))
        .map_or("latest", |(_, t)| t)
        .to_string();
    // The image must exist (by the name the client gave): a 404 before any stream.
    let source = destination.clone();
    if let Err(e) = pool
        .run(move |e| e.resolve_image(&source).map(|_| ()))
        .await
    {
        return engine_error(&e);
    }
    let opts = PushOptions {
        destination: destination.clone(),
        format: None,
        compression: None,
        tls: daemon_tls(&host).1,
        authfile: None,
        creds,
        by_digest: false,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    pool.spawn_stream(move |engine| {
        let _ = tx.blocking_send(crate::http::json_line(
            &json!({"status": format!("The push refers to repository [{repo}]")}),
        ));
        let (ptx, prx) = std::sync::mpsc::channel::<Bytes>();
        let forward = {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for b in prx {
                    if tx.blocking_send(b).is_err() {
                        break;
                    }
                }
            })
        };
        let sink = PushProgress { tx: Mutex::new(ptx) };
        let pushed = engine.and_then(|e| {
            let d = e.push_image(&destination, &opts, &sink)?;
            let size = std::fs::metadata(e.blobs().path(&d)).map_or(0, |m| m.len());
            Ok((d, size))
        });
        drop(sink);
        let _ = forward.join();
        let last = match pushed {
            Ok((d, size)) => {
                let _ = tx.blocking_send(crate::http::json_line(&json!({
                    "status": format!("{shown_tag}: digest: {d} size: {size}")
                })));
                json!({"progressDetail": {}, "aux": {"Tag": shown_tag, "Digest": d.to_string(), "Size": size}})
            }
            Err(e) => {
                let m = e.to_string();
                json!({"errorDetail": {"message": m}, "error": m})
            }
        };
        let _ = tx.blocking_send(crate::http::json_line(&last));
    });
    crate::http::ndjson(StatusCode::OK, rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_docker_auth_headers() {
        assert_eq!(credentials(None).unwrap(), None);
        assert_eq!(credentials(Some("e30=")).unwrap(), None);
        let h = base64::engine::general_purpose::URL_SAFE
            .encode(r#"{"username":"u","password":"p","serveraddress":"r"}"#);
        assert_eq!(credentials(Some(&h)).unwrap().as_deref(), Some("u:p"));
        assert!(credentials(Some("!!!")).is_err());
    }

    #[test]
    fn loopback_registries_are_insecure_as_dockers() {
        assert!(loopback("127.0.0.1:5000"));
        assert!(loopback("localhost:5000"));
        assert!(loopback("[::1]:5000"));
        assert!(!loopback("quay.io"));
        assert!(!loopback("10.0.0.1:5000"));
    }
}
