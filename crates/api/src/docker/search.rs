//! `GET /images/search?term=&limit=&filters=` (`docker search`): a term naming a registry
//! (`127.0.0.1:5000/busy`) is looked up in that registry's catalog, as c/image searches a
//! registry without a search API (Podman's compat search does the same); a term without a
//! registry would be Docker Hub's search API, which the engine does not speak: refused.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::image::registry::{self, Credentials};
use serde_json::json;

use super::push::{credentials, daemon_tls};
use crate::http::{Resp, engine_error, filters, json, query};

/// Docker's default and largest `limit`.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// `127.0.0.1:5000/busy` → (`127.0.0.1:5000`, `busy`); none for a term without a
/// registry (the first component must look like a host, as Docker's reference parser
/// says).
fn split_term(term: &str) -> Option<(&str, &str)> {
    let (host, rest) = term.split_once('/')?;
    (host.contains('.') || host.contains(':') || host == "localhost").then_some((host, rest))
}

/// Whether the `filters` rule every result out: catalogs have no stars and no official
/// images.
fn filtered_out(f: &[String]) -> bool {
    f.iter().any(|x| match x.split_once('=') {
        Some(("is-official", v)) => v == "true",
        Some(("stars", v)) => v.parse::<u64>().map_or(true, |n| n > 0),
        _ => false,
    })
}

pub async fn search(req: Request<Incoming>) -> Resp {
    let q = query(&req);
    let term = q.get("term").cloned().unwrap_or_default();
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return engine_error(&Error::invalid(format!(
                    "limit {l} is outside the range of [1, {MAX_LIMIT}]"
                )));
            }
        },
    };
    let f = match filters(&q) {
        Ok(f) => f,
        Err(e) => return engine_error(&e),
    };
    let Some((host, what)) = split_term(&term).map(|(h, w)| (h.to_string(), w.to_string())) else {
        return engine_error(&Error::invalid(format!(
            "search: {term:?} names no registry: peapod searches a registry's catalog (REGISTRY/TERM), not Docker Hub"
        )));
    };
    let header = req
        .headers()
        .get("X-Registry-Auth")
        .and_then(|v| v.to_str().ok());
    let creds = match credentials(header) {
        Ok(Some(up)) => {
            let (u, p) = up.split_once(':').unwrap_or((&up, ""));
            Credentials::Basic(u.to_string(), p.to_string())
        }
        Ok(None) => Credentials::Anonymous,
        Err(e) => return engine_error(&e),
    };
    if filtered_out(&f) {
        return json(StatusCode::OK, &json!([]));
    }
    let (insecure, tls) = daemon_tls(&host);
    let h = host.clone();
    let r = tokio::task::spawn_blocking(move || {
        registry::search_catalog(&h, insecure, &tls, &creds, &what, limit)
    })
    .await;
    match r {
        Ok(Ok(repos)) => {
            let out: Vec<_> = repos
                .iter()
                .map(|r| {
                    json!({
                        "name": format!("{host}/{r}"),
                        "description": "",
                        "star_count": 0,
                        "is_official": false,
                        "is_automated": false,
                    })
                })
                .collect();
            json(StatusCode::OK, &out)
        }
        Ok(Err(e)) => engine_error(&Error::from(e)),
        Err(e) => engine_error(&Error::other(format!("API worker failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_and_filters() {
        assert_eq!(
            split_term("127.0.0.1:5000/busy"),
            Some(("127.0.0.1:5000", "busy"))
        );
        assert_eq!(split_term("quay.io/a/b"), Some(("quay.io", "a/b")));
        assert_eq!(split_term("busybox"), None);
        assert_eq!(split_term("library/busybox"), None);
        assert!(filtered_out(&["is-official=true".into()]));
        assert!(filtered_out(&["stars=3".into()]));
        assert!(!filtered_out(&["stars=0".into()]));
    }
}
