//! The libpod API (`/v4.x.y/libpod/…`, and without the version): what podman's remote
//! client (`podman --url …`) calls, over the same engine requests as the Docker API, with
//! Podman's JSON and its error body `{"cause", "message", "response"}`.

mod containers;
mod create;
mod images;
mod kube;
mod networks;
mod pods;
mod system;
mod volumes;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use peapod_engine::Error;
use serde_json::json;

use crate::docker::exec;
use crate::http::{Resp, json, status_of};
use crate::pool::EnginePool;

/// `/v4.3.1/libpod/containers/json` or `/libpod/containers/json` → `/containers/json`;
/// `None` for a path that is not libpod's.
pub fn libpod_path(path: &str) -> Option<&str> {
    let rest = match path.strip_prefix("/v") {
        Some(r) => {
            let end = r.find('/').unwrap_or(r.len());
            let ver = &r[..end];
            if ver.is_empty() || !ver.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return None;
            }
            &r[end..]
        }
        None => path,
    };
    rest.strip_prefix("/libpod")
        .filter(|p| p.is_empty() || p.starts_with('/'))
}

/// Podman's error body: the message the client prints, its last clause as the cause.
pub fn error(e: &Error) -> Resp {
    let status = status_of(e.kind());
    error_body(status, &e.to_string())
}

/// Podman's wording for the endpoints both APIs share (exec).
pub const STYLE: crate::http::ErrorStyle = crate::http::ErrorStyle {
    engine: error,
    message: error_body,
};

pub fn error_body(status: StatusCode, message: &str) -> Resp {
    let cause = message.rsplit(": ").next().unwrap_or(message);
    json(
        status,
        &json!({ "cause": cause, "message": message, "response": status.as_u16() }),
    )
}

pub async fn route(req: Request<Incoming>, path: &str, pool: EnginePool) -> Resp {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = req.method().clone();
    match (&m, segs.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => crate::docker::ping(&m),
        (&Method::GET, ["version"]) => system::version(pool).await,
        (&Method::GET, ["info"]) => system::info(pool).await,
        (&Method::GET, ["containers", "json"]) => containers::list(req, pool).await,
        (&Method::POST, ["containers", "create"]) => create::create(req, pool).await,
        (_, ["containers", id, rest @ ..]) => {
            let id = id.to_string();
            match (&m, rest) {
                (&Method::GET, ["json"]) => containers::inspect(id, pool).await,
                (&Method::GET, ["exists"]) => containers::exists(id, pool).await,
                (&Method::POST, ["start"]) => containers::start(id, pool).await,
                (&Method::POST, ["stop"]) => containers::stop(req, id, pool).await,
                (&Method::POST, ["kill"]) => containers::kill(req, id, pool).await,
                (&Method::POST, ["wait"]) => containers::wait(req, id, pool).await,
                (&Method::DELETE, []) => containers::remove(req, id, pool).await,
                (&Method::GET, ["logs"]) => containers::logs(req, id, pool).await,
                (&Method::POST, ["attach"]) => crate::docker::attach(req, id, pool).await,
                (&Method::POST, ["resize"]) => crate::docker::resize(req, id, pool).await,
                (&Method::POST, ["exec"]) => exec::create(req, id, pool, STYLE).await,
                _ => not_found(&m, path),
            }
        }
        (_, ["exec", id, rest @ ..]) => {
            let id = id.to_string();
            match (&m, rest) {
                (&Method::POST, ["start"]) => {
                    exec::start(req, id, pool, STYLE, exec::StartAt::AfterUpgrade).await
                }
                (&Method::POST, ["resize"]) => exec::resize(req, id, STYLE).await,
                (&Method::GET, ["json"]) => exec::inspect(id, STYLE).await,
                _ => not_found(&m, path),
            }
        }
        (&Method::GET, ["images", "json"]) => images::list(req, pool).await,
        (&Method::POST, ["images", "pull"]) => images::pull(req, pool).await,
        (&Method::DELETE, ["images", "remove"]) => images::remove_many(req, pool).await,
        (&Method::GET, ["images", name @ .., "exists"]) if !name.is_empty() => {
            images::exists(name.join("/"), pool).await
        }
        (&Method::GET, ["images", name @ .., "json"]) if !name.is_empty() => {
            images::inspect(name.join("/"), pool).await
        }
        (&Method::DELETE, ["images", name @ ..]) if !name.is_empty() => {
            images::remove_one(req, name.join("/"), pool).await
        }
        (&Method::POST, ["pods", "create"]) => pods::create(req, pool).await,
        (&Method::GET, ["pods", "json"]) => pods::list(req, pool).await,
        (_, ["pods", name, rest @ ..]) => {
            let name = name.to_string();
            match (&m, rest) {
                (&Method::GET, ["json"]) => pods::inspect(name, pool).await,
                (&Method::GET, ["exists"]) => pods::exists(name, pool).await,
                (&Method::POST, ["start"]) => pods::start(name, pool).await,
                (&Method::POST, ["stop"]) => pods::stop(req, name, pool).await,
                (&Method::DELETE, []) => pods::remove(req, name, pool).await,
                _ => not_found(&m, path),
            }
        }
        (&Method::POST, ["play", "kube"] | ["kube", "play"]) => kube::play(req, pool).await,
        (&Method::DELETE, ["play", "kube"] | ["kube", "play"]) => kube::down(req, pool).await,
        (&Method::GET, ["generate", "kube"] | ["kube", "generate"]) => {
            kube::generate(req, pool).await
        }
        (&Method::POST, ["volumes", "create"]) => volumes::create(req, pool).await,
        (&Method::GET, ["volumes", "json"]) => volumes::list(req, pool).await,
        (&Method::POST, ["volumes", "prune"]) => volumes::prune(req, pool).await,
        (_, ["volumes", name, rest @ ..]) => {
            let name = name.to_string();
            match (&m, rest) {
                (&Method::GET, ["json"]) => volumes::inspect(name, pool).await,
                (&Method::GET, ["exists"]) => volumes::exists(name, pool).await,
                (&Method::DELETE, []) => volumes::remove(req, name, pool).await,
                _ => not_found(&m, path),
            }
        }
        (&Method::POST, ["networks", "create"]) => networks::create(req, pool).await,
        (&Method::GET, ["networks", "json"]) => networks::list(req, pool).await,
        (&Method::POST, ["networks", "prune"]) => networks::prune(req, pool).await,
        (_, ["networks", name, rest @ ..]) => {
            let name = name.to_string();
            match (&m, rest) {
                (&Method::GET, ["json"]) => networks::inspect(name, pool).await,
                (&Method::GET, ["exists"]) => networks::exists(name, pool).await,
                (&Method::POST, ["connect"]) => networks::connect(req, name, pool).await,
                (&Method::POST, ["disconnect"]) => networks::disconnect(req, name, pool).await,
                (&Method::DELETE, []) => networks::remove(req, name, pool).await,
                _ => not_found(&m, path),
            }
        }
        _ => not_found(&m, path),
    }
}

/// An endpoint this service does not have: 404 as Podman's router answers it (podman's
/// client treats a 404 from `shouldrestart` as "no").
fn not_found(m: &Method, path: &str) -> Resp {
    error_body(
        StatusCode::NOT_FOUND,
        &format!("{m} /libpod{path} is not served by peapod's API service: not found"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_libpod_paths() {
        assert_eq!(
            libpod_path("/v4.3.1/libpod/containers/json"),
            Some("/containers/json")
        );
        assert_eq!(libpod_path("/libpod/_ping"), Some("/_ping"));
        assert_eq!(libpod_path("/v1.41/containers/json"), None);
        assert_eq!(libpod_path("/libpodx/y"), None);
        assert_eq!(libpod_path("/vabc/libpod/x"), None);
    }
}
