//! The Docker Engine API: the router (`/v1.NN/` prefixes stripped and checked) and the
//! headers every answer carries.

mod archive;
mod attach;
mod auth;
mod build;
pub(crate) mod containers;
mod create;
pub(crate) mod exec;
mod hijack;
mod images;
mod logs;
mod manage;
mod networks;
mod objects;
mod pipe;
mod push;
mod search;
mod streams;
mod system;

pub(crate) use attach::{attach, resize};
pub(crate) use logs::logs_with;
pub(crate) use objects::image_list_request;
pub(crate) use system::ping;

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};

use crate::http::{ErrorStyle, Resp, error_message};
use crate::pool::EnginePool;
use crate::{DOCKER_API_VERSION, DOCKER_MIN_API_VERSION};

/// `1.44` as a comparable pair.
fn version_pair(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Splits `/v1.41/containers/json` into the version and the path; refuses versions this
/// service does not speak, as Docker does.
fn split_version(path: &str) -> Result<&str, Resp> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path);
    };
    let (ver, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some(pair) = version_pair(ver) else {
        return Ok(path);
    };
    let max = version_pair(DOCKER_API_VERSION).expect("a version");
    let min = version_pair(DOCKER_MIN_API_VERSION).expect("a version");
    if pair > max {
        return Err(error_message(
            StatusCode::BAD_REQUEST,
            &format!(
                "client version {ver} is too new. Maximum supported API version is {DOCKER_API_VERSION}"
            ),
        ));
    }
    if pair < min {
        return Err(error_message(
            StatusCode::BAD_REQUEST,
            &format!(
                "client version {ver} is too old. Minimum supported API version is {DOCKER_MIN_API_VERSION}, please upgrade your client to a newer version"
            ),
        ));
    }
    Ok(tail)
}

pub async fn handle(req: Request<Incoming>, pool: EnginePool) -> Resp {
    let path = req.uri().path().to_string();
    let libpod = crate::libpod::libpod_path(&path).map(|p| p.trim_end_matches('/').to_string());
    let mut resp = match (libpod, split_version(&path)) {
        (Some(p), _) => crate::libpod::route(req, &p, pool).await,
        (None, Ok(p)) => {
            let p = p.trim_end_matches('/').to_string();
            route(req, &p, pool).await
        }
        (None, Err(r)) => r,
    };
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static(DOCKER_API_VERSION));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        "Libpod-Api-Version",
        HeaderValue::from_static(peapod_engine::system::API_VERSION),
    );
    h.insert(
        "Server",
        HeaderValue::from_static(concat!("peapod/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    resp
}

async fn route(req: Request<Incoming>, path: &str, pool: EnginePool) -> Resp {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = req.method().clone();
    match (&m, segs.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => system::ping(&m),
        (&Method::GET, ["version"]) => system::version(pool).await,
        (&Method::GET, ["info"]) => system::info(pool).await,
        (&Method::GET, ["system", "df"]) => system::df(pool).await,
        (&Method::GET, ["containers", "json"]) => containers::list(req, pool).await,
        (&Method::POST, ["containers", "create"]) => create::create(req, pool).await,
        (&Method::POST, ["containers", "prune"]) => manage::prune_containers(req, pool).await,
        (_, ["containers", id, rest @ ..]) => {
            let id = id.to_string();
            match (&m, rest) {
                (&Method::GET, ["json"]) => containers::inspect(id, pool).await,
                (&Method::HEAD, ["archive"]) => archive::head(req, id, pool).await,
                (&Method::GET, ["archive"]) => archive::get(req, id, pool).await,
                (&Method::PUT, ["archive"]) => archive::put(req, id, pool).await,
                (&Method::GET, ["export"]) => archive::export(id, pool).await,
                (&Method::GET, ["changes"]) => archive::changes(id, pool).await,
                (&Method::POST, ["start"]) => containers::start(id, pool).await,
                (&Method::POST, ["stop"]) => containers::stop(req, id, pool, false).await,
                (&Method::POST, ["restart"]) => containers::stop(req, id, pool, true).await,
                (&Method::POST, ["kill"]) => containers::kill(req, id, pool).await,
                (&Method::POST, ["wait"]) => containers::wait(req, id, pool).await,
                (&Method::DELETE, []) => containers::remove(req, id, pool).await,
                (&Method::GET, ["logs"]) => logs::logs(req, id, pool).await,
                (&Method::POST, ["attach"]) => attach::attach(req, id, pool).await,
                (&Method::POST, ["resize"]) => attach::resize(req, id, pool).await,
                (&Method::POST, ["pause"]) => manage::pause(id, pool, true).await,
                (&Method::POST, ["unpause"]) => manage::pause(id, pool, false).await,
                (&Method::POST, ["rename"]) => manage::rename(req, id, pool).await,
                (&Method::GET, ["top"]) => manage::top(req, id, pool).await,
                (&Method::GET, ["stats"]) => streams::stats(req, id.to_string(), pool).await,
                (&Method::POST, ["exec"]) => exec::create(req, id, pool, ErrorStyle::DOCKER).await,
                _ => not_found(&m, path),
            }
        }
        (_, ["exec", id, rest @ ..]) => {
            let id = id.to_string();
            match (&m, rest) {
                (&Method::POST, ["start"]) => {
                    exec::start(
                        req,
                        id,
                        pool,
                        ErrorStyle::DOCKER,
                        exec::StartAt::BeforeAnswer,
                    )
                    .await
                }
                (&Method::POST, ["resize"]) => exec::resize(req, id, ErrorStyle::DOCKER).await,
                (&Method::GET, ["json"]) => exec::inspect(id, ErrorStyle::DOCKER).await,
                _ => not_found(&m, path),
            }
        }
        (&Method::GET, ["images", "json"]) => objects::images(req, pool).await,
        (&Method::POST, ["images", "create"]) => streams::create(req, pool).await,
        (&Method::GET, ["events"]) => streams::events(req, pool).await,
        (&Method::POST, ["build"]) => build::build(req, pool).await,
        (&Method::GET, ["images", "get"]) => images::save(images::save_names(&req), pool).await,
        (&Method::POST, ["images", "load"]) => images::load(req, pool).await,
        (&Method::POST, ["images", "prune"]) => images::prune(req, pool).await,
        (&Method::POST, ["build", "prune"]) => images::build_prune().await,
        (&Method::POST, ["commit"]) => images::commit(req, pool).await,
        (&Method::POST, ["auth"]) => auth::auth(req).await,
        (&Method::GET, ["images", "search"]) => search::search(req).await,
        (&Method::GET, ["images", name @ .., "history"]) if !name.is_empty() => {
            images::history(name.join("/"), pool).await
        }
        (&Method::GET, ["images", name @ .., "get"]) if !name.is_empty() => {
            images::save(vec![name.join("/")], pool).await
        }
        (&Method::GET, ["images", name @ .., "json"]) if !name.is_empty() => {
            objects::image_inspect(name.join("/"), pool).await
        }
        (&Method::POST, ["images", name @ .., "push"]) if !name.is_empty() => {
            push::push(req, name.join("/"), pool).await
        }
        (&Method::POST, ["images", name @ .., "tag"]) if !name.is_empty() => {
            objects::image_tag(req, name.join("/"), pool).await
        }
        (&Method::DELETE, ["images", name @ ..]) if !name.is_empty() => {
            objects::image_remove(req, name.join("/"), pool).await
        }
        (&Method::GET, ["networks"]) => objects::networks(req, pool).await,
        (&Method::POST, ["networks", "create"]) => networks::create(req, pool).await,
        (&Method::POST, ["networks", "prune"]) => networks::prune(req, pool).await,
        (&Method::POST, ["networks", name, "connect"]) => {
            networks::connect(req, name.to_string(), pool, true).await
        }
        (&Method::POST, ["networks", name, "disconnect"]) => {
            networks::connect(req, name.to_string(), pool, false).await
        }
        (&Method::DELETE, ["networks", name]) => networks::remove(name.to_string(), pool).await,
        (&Method::GET, ["networks", name]) => {
            objects::network_inspect(name.to_string(), pool).await
        }
        (&Method::GET, ["volumes"]) => objects::volumes(req, pool).await,
        (&Method::POST, ["volumes", "prune"]) => manage::prune_volumes(req, pool).await,
        (&Method::POST, ["volumes", "create"]) => objects::volume_create(req, pool).await,
        (&Method::GET, ["volumes", name]) => objects::volume_inspect(name.to_string(), pool).await,
        (&Method::DELETE, ["volumes", name]) => {
            objects::volume_remove(req, name.to_string(), pool).await
        }
        _ => not_found(&m, path),
    }
}

/// An endpoint this service does not have (yet): 404 with Docker's words.
fn not_found(m: &Method, path: &str) -> Resp {
    error_message(
        StatusCode::NOT_FOUND,
        &format!("page not found: {m} {path} is not served by peapod's API service"),
    )
}

/// Docker's time strings (RFC 3339 with nanoseconds, UTC).
pub(crate) fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_and_checks_versions() {
        assert_eq!(
            split_version("/v1.41/containers/json").ok(),
            Some("/containers/json")
        );
        assert_eq!(split_version("/v1.44/_ping").ok(), Some("/_ping"));
        assert_eq!(split_version("/_ping").ok(), Some("/_ping"));
        assert_eq!(split_version("/volumes").ok(), Some("/volumes"));
        assert!(split_version("/v1.50/info").is_err());
        assert!(split_version("/v1.12/info").is_err());
    }
}
