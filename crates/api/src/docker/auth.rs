//! `POST /auth`: checks credentials with a registry, as Docker's daemon does for
//! `docker login` (the client keeps them, and sends them with each push and pull). A
//! registry on a loopback address is spoken to over plain HTTP, as for push.

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use peapod_engine::Error;
use peapod_engine::image::registry;
use serde::Deserialize;
use serde_json::json;

use super::push::daemon_tls;
use crate::http::{Resp, engine_error, error_message, json, read_json};

/// Docker's `AuthConfig` (the fields a login uses).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthConfig {
    username: String,
    password: String,
    serveraddress: String,
}

/// The registry host of Docker's `serveraddress` (`https://index.docker.io/v1/` → the
/// hub's, `http://127.0.0.1:5000/` → `127.0.0.1:5000`).
fn registry_host(server: &str) -> String {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "" | "index.docker.io" | "docker.io" => "registry-1.docker.io".into(),
        h => h.to_string(),
    }
}

/// What Docker's daemon says when a registry refuses the credentials.
fn refused(host: &str, insecure: bool) -> String {
    let scheme = if insecure { "http" } else { "https" };
    format!("login attempt to {scheme}://{host}/v2/ failed with status: 401 Unauthorized")
}

pub async fn auth(req: Request<Incoming>) -> Resp {
    let cfg: AuthConfig = match read_json(req).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if cfg.username.is_empty() {
        return engine_error(&Error::invalid("login: a username is required"));
    }
    let host = registry_host(&cfg.serveraddress);
    let (insecure, tls) = daemon_tls(&host);
    let h = host.clone();
    let r = tokio::task::spawn_blocking(move || {
        registry::verify_login(&h, insecure, &tls, &cfg.username, &cfg.password)
    })
    .await;
    match r {
        Ok(Ok(())) => json(
            StatusCode::OK,
            &json!({ "Status": "Login Succeeded", "IdentityToken": "" }),
        ),
        Ok(Err(registry::RegistryError::Login { detail, .. }))
            if detail == "invalid username/password" =>
        {
            error_message(StatusCode::UNAUTHORIZED, &refused(&host, insecure))
        }
        Ok(Err(e)) => engine_error(&Error::from(e)),
        Err(e) => engine_error(&Error::other(format!("API worker failed: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses() {
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(registry_host("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(
            registry_host("https://index.docker.io/v1/"),
            "registry-1.docker.io"
        );
        assert_eq!(
            refused("127.0.0.1:5000", true),
            "login attempt to http://127.0.0.1:5000/v2/ failed with status: 401 Unauthorized"
        );
    }
}
