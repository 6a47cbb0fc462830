//! `ADD http://…` and `ADD https://…`: a GET through reqwest (the HTTP client the registry
//! code already links, with rustls), redirects followed, as Buildah's `getURL` does it:
//! the file is named after the last segment of the URL's path, its mtime is the response's
//! `Last-Modified` (the epoch when there is none), and it is never unpacked.
//!
//! TLS trust is Go's on Linux: the system's CAs, and when `SSL_CERT_FILE` names a file,
//! that file's too (Go reads it instead of the system bundle but keeps `/etc/ssl/certs`, so
//! both are trusted).

use std::time::Duration;

use crate::error::{Error, Result};

/// Largest download ADD accepts.
const MAX: u64 = 4 << 30;

/// The system CA bundle (Debian's; Go's first choice on Linux).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What a URL gave.
pub struct Download {
    /// The file name: the URL path's last segment.
    pub name: String,
    pub data: Vec<u8>,
    /// Seconds since the epoch, from `Last-Modified` (0 without one).
    pub mtime: i64,
}

/// Downloads `url` (http or https) for `ADD`.
pub fn get(url: &str) -> Result<Download> {
    download(url, &format!("ADD {url}"))
}

/// Downloads `url` (http or https); errors start with `what`.
pub fn download(url: &str, what: &str) -> Result<Download> {
    let bad = |m: String| Error::invalid(format!("{what}: {m}"));
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(bad("only http:// and https:// URLs can be added".into()));
    }
    let client = client().map_err(|e| bad(format!("creating the HTTP client: {e}")))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| bad(format!("starting the HTTP client: {e}")))?;
    rt.block_on(async {
        let mut resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| bad(describe(&e)))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(bad(format!("invalid response status {status}")));
        }
        let mtime = resp
            .headers()
            .get("last-modified")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                chrono::DateTime::parse_from_rfc2822(v)
                    .map(|d| d.timestamp())
                    .map_err(|e| bad(format!("parsing last-modified time {v:?}: {e}")))
            })
            .transpose()?
            .unwrap_or(0);
        let mut data = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| bad(describe(&e)))? {
            if data.len() as u64 + chunk.len() as u64 > MAX {
                return Err(bad(format!("the download is larger than {MAX} bytes")));
            }
            data.extend_from_slice(&chunk);
        }
        Ok(Download {
            name: file_name(url),
            data,
            mtime,
        })
    })
}

fn client() -> std::result::Result<reqwest::Client, String> {
    // reqwest is built without a default crypto provider (as for the registry client).
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut extra = Vec::new();
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        // The verifier then reads only this file: add the system's CAs back, as Go keeps
        // its certificate directories.
        for f in [std::path::PathBuf::from(file), SYSTEM_BUNDLE.into()] {
            let Ok(pem) = std::fs::read(&f) else { continue };
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("reading the certificates of {}: {e}", f.display()))?;
            extra.extend(certs);
        }
    }
    reqwest::Client::builder()
        .tls_certs_merge(extra)
        .connect_timeout(Duration::from_secs(30))
        .user_agent(concat!("peapod/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| describe(&e))
}

/// The error with its causes (reqwest's own text says little: "error sending request").
fn describe(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// The last segment of the URL's path (Docker's `__unnamed__` when there is none).
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let after_host = path.splitn(4, '/').nth(3).unwrap_or("");
    let name = after_host.rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        "__unnamed__".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn names_come_from_the_path() {
        assert_eq!(file_name("https://h:8443/a/b/file.txt"), "file.txt");
        assert_eq!(file_name("http://h/file.tar.gz?x=1#f"), "file.tar.gz");
        assert_eq!(file_name("http://h/"), "__unnamed__");
        assert_eq!(file_name("http://h"), "__unnamed__");
    }
}
