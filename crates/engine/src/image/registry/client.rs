//! One connection to one registry host through `oci-client`: TLS settings, credentials, the
//! ping (`GET /v2/`, which also negotiates Basic or Bearer auth), and errors in Podman's
//! words.
//!
//! TLS: verified (with the CAs of `certs.d` or `--cert-dir`) unless the registry is
//! insecure (`--tls-verify=false` or `insecure = true` in registries.conf); then, as c/image
//! does, HTTPS without verification is tried first and plain HTTP when that fails.

use std::path::PathBuf;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use super::RegistryError;
use super::auth::Credentials;

/// How to reach a registry, from flags and configuration.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// `--tls-verify`: `Some(false)` allows HTTP and unverified TLS, `Some(true)` overrides
    /// registries.conf's `insecure`.
    pub verify: Option<bool>,
    pub cert_dir: Option<PathBuf>,
}

/// A client bound to one host, pinged and authenticated.
pub struct Remote {
    pub client: Client,
    pub auth: RegistryAuth,
    pub host: String,
}

/// A current-thread runtime for one operation.
pub fn runtime() -> Result<tokio::runtime::Runtime, RegistryError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RegistryError::Invalid(format!("starting the registry client: {e}")))
}

fn registry_auth(c: &Credentials) -> RegistryAuth {
    match c {
        Credentials::Anonymous => RegistryAuth::Anonymous,
        Credentials::Basic(u, p) => RegistryAuth::Basic(u.clone(), p.clone()),
        // An OAuth2 refresh token: the client cannot exchange it; go anonymous.
        Credentials::IdentityToken(_) => RegistryAuth::Anonymous,
    }
}

fn build(
    host: &str,
    protocol: ClientProtocol,
    verify: bool,
    tls: &Tls,
) -> Result<Client, RegistryError> {
    // reqwest is built without a default crypto provider: install ring's once (ring builds
    // without cmake; its lack of post-quantum key exchange does not matter for registries).
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let extra = if verify {
        super::certs::ca_certs(host, tls.cert_dir.as_deref())?
            .into_iter()
            .map(|data| Certificate {
                encoding: CertificateEncoding::Pem,
                data,
            })
            .collect()
    } else {
        Vec::new()
    };
    let config = ClientConfig {
        protocol,
        accept_invalid_certificates: !verify,
        extra_root_certificates: extra,
        max_concurrent_download: 6,
        max_concurrent_upload: 6,
        connect_timeout: Some(std::time::Duration::from_secs(30)),
        user_agent: concat!("peapod/", env!("CARGO_PKG_VERSION")),
        ..Default::default()
    };
    Client::try_from(config)
        .map_err(|e| RegistryError::Invalid(format!("creating a client for {host}: {e}")))
}

/// Pings `host` and negotiates auth for `repo` (`HOST/PATH`). The error is the detail of
/// Podman's `pinging container registry HOST: …`.
pub async fn connect(
    host: &str,
    repo: &Reference,
    insecure: bool,
    tls: &Tls,
    creds: &Credentials,
    op: RegistryOperation,
) -> Result<Remote, RegistryError> {
    let verify = tls.verify.unwrap_or(!insecure);
    let auth = registry_auth(creds);
    let client = build(host, ClientProtocol::Https, verify, tls)?;
    let first = client.auth(repo, &auth, op).await;
    let err = match first {
        Ok(_) => {
            return Ok(Remote {
                client,
                auth,
                host: host.to_string(),
            });
        }
        Err(e) => e,
    };
    if !verify && matches!(err, OciDistributionError::RequestError(_)) {
        let client = build(host, ClientProtocol::Http, false, tls)?;
        if let Ok(_) | Err(OciDistributionError::AuthenticationFailure(_)) =
            client.auth(repo, &auth, op).await
        {
            // An auth failure surfaces again, with the registry's words, on the first request.
            return Ok(Remote {
                client,
                auth,
                host: host.to_string(),
            });
        }
    }
    Err(RegistryError::Invalid(format!(
        "pinging container registry {host}: {}",
        describe(&err, Some(&format!("https://{host}/v2/")))
    )))
}

/// Checks `user`/`password` against `host` (`login`): a Bearer registry's token server
/// judges them while handing out a token; a Basic one answers an authenticated request
/// (`/v2/_catalog`) with 401 when they are wrong.
pub fn verify_login(
    host: &str,
    insecure: bool,
    tls: &Tls,
    user: &str,
    password: &str,
) -> Result<(), RegistryError> {
    let fail = |detail: String| RegistryError::Login {
        registry: host.to_string(),
        detail,
    };
    let rt = runtime()?;
    let creds = Credentials::Basic(user.to_string(), password.to_string());
    // Any repository will do: the ping and the token exchange do not look at it.
    let repo = reference(host, "library/login", "latest");
    rt.block_on(async {
        let remote =
            match connect(host, &repo, insecure, tls, &creds, RegistryOperation::Pull).await {
                Ok(r) => r,
                Err(e) => return Err(fail(e.to_string())),
            };
        let token = remote
            .client
            .auth(&repo, &remote.auth, RegistryOperation::Pull)
            .await;
        match token {
            Ok(Some(_)) => return Ok(()),
            Err(OciDistributionError::AuthenticationFailure(_)) => {
                return Err(fail("invalid username/password".into()));
            }
            Err(e) => return Err(fail(describe(&e, None))),
            Ok(None) => {}
        }
        match remote
            .client
            .catalog(&repo, &remote.auth, Some(1), None)
            .await
        {
            Err(OciDistributionError::UnauthorizedError { .. }) => {
                Err(fail("invalid username/password".into()))
            }
            _ => Ok(()),
        }
    })
}

/// `search` on a registry without a search API, as c/image does for those: the
/// repositories of `/v2/_catalog` (the first `limit`) whose name contains `term`.
pub fn search_catalog(
    host: &str,
    insecure: bool,
    tls: &Tls,
    creds: &Credentials,
    term: &str,
    limit: usize,
) -> Result<Vec<String>, RegistryError> {
    let rt = runtime()?;
    let repo = reference(host, "library/search", "latest");
    rt.block_on(async {
        let remote = connect(host, &repo, insecure, tls, creds, RegistryOperation::Pull).await?;
        let listed = remote
            .client
            .catalog(&repo, &remote.auth, Some(1000), None)
            .await
            .map_err(|e| {
                RegistryError::Invalid(format!(
                    "couldn't search registry {host:?}: {}",
                    describe(&e, Some(&format!("{host}/v2/_catalog")))
                ))
            })?;
        Ok(listed
            .repositories
            .into_iter()
            .filter(|r| r.contains(term))
            .take(limit)
            .collect())
    })
}

/// An error of the client as c/image would word it. `url` is the request's, when known.
pub fn describe(e: &OciDistributionError, url: Option<&str>) -> String {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .map(|x| {
                let code = serde_json::to_value(&x.code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
                    .to_lowercase()
                    .replace('_', " ");
                if x.message.is_empty() {
                    code
                } else {
                    format!("{code}: {}", x.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        OciDistributionError::UnauthorizedError { .. } => {
            "unauthorized: authentication required".to_string()
        }
        OciDistributionError::AuthenticationFailure(reason) => {
            format!(
                "unable to retrieve auth token: invalid username/password: {}",
                reason.trim()
            )
        }
        OciDistributionError::ServerError { code, message, .. } => {
            let reason = reqwest_reason(*code);
            let msg = message.trim();
            if msg.is_empty() {
                format!("received unexpected HTTP status: {code} {reason}")
            } else {
                format!("received unexpected HTTP status: {code} {reason}: {msg}")
            }
        }
        OciDistributionError::RequestError(re) => {
            let target = re
                .url()
                .map(|u| u.to_string())
                .or_else(|| url.map(str::to_string));
            let detail = transport_detail(re);
            match target {
                Some(u) => format!("Get \"{u}\": {detail}"),
                None => detail,
            }
        }
        OciDistributionError::DigestError(d) => format!("digest mismatch: {d}"),
        other => other.to_string(),
    }
}

fn reqwest_reason(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The innermost cause of a transport error, translated where Podman's Go wording is known.
fn transport_detail(e: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        chain.push(c.to_string());
        cur = c.source();
    }
    let all = chain.join(": ");
    if all.contains("InvalidContentType") || all.contains("corrupt message") {
        return "http: server gave HTTP response to HTTPS client".to_string();
    }
    if all.contains("UnknownIssuer") || all.contains("unknown issuer") {
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
            .to_string();
    }
    if all.contains("CaUsedAsEndEntity") {
        return "tls: failed to verify certificate: x509: the server's certificate is a CA certificate (a self-signed certificate that is its own CA): serve a certificate signed by that CA".to_string();
    }
    if all.contains("NotValidForName") || all.contains("not valid for name") {
        return format!("tls: failed to verify certificate: x509: {all}");
    }
    if all.contains("Connection refused") || all.contains("ConnectionRefused") {
        return "dial tcp: connect: connection refused".to_string();
    }
    chain.last().cloned().unwrap_or(all)
}

/// The error of an I/O-level failure while reading a blob stream.
pub fn stream_detail(e: &std::io::Error) -> String {
    let inner = e.get_ref().map(|i| i as &(dyn std::error::Error + 'static));
    match inner {
        Some(i) => transport_detail(i),
        None => e.to_string(),
    }
}

/// An `oci-client` reference for `HOST/PATH` at `reference` (a tag or `sha256:…`).
pub fn reference(host: &str, path: &str, reference: &str) -> Reference {
    if reference.starts_with("sha256:") {
        Reference::with_digest(host.to_string(), path.to_string(), reference.to_string())
    } else {
        Reference::with_tag(host.to_string(), path.to_string(), reference.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_read_like_podman() {
        let env: oci_client::errors::OciEnvelope = serde_json::from_str(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#,
        )
        .unwrap();
        let e = OciDistributionError::RegistryError {
            envelope: env,
            url: "http://x/v2/a/manifests/b".into(),
        };
        assert_eq!(describe(&e, None), "manifest unknown: manifest unknown");
        let e = OciDistributionError::UnauthorizedError { url: "u".into() };
        assert_eq!(describe(&e, None), "unauthorized: authentication required");
        let e = OciDistributionError::ServerError {
            code: 500,
            url: "u".into(),
            message: String::new(),
        };
        assert_eq!(
            describe(&e, None),
            "received unexpected HTTP status: 500 Internal Server Error"
        );
        let r = reference("127.0.0.1:5000", "py/single", "latest");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "py/single");
        assert_eq!(r.tag(), Some("latest"));
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(reference("h", "p", &d).digest(), Some(d.as_str()));
    }
}
