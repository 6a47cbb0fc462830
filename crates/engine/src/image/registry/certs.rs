//! Extra CA certificates for a registry, as c/image finds them: `--cert-dir DIR` alone when
//! given, else `~/.config/containers/certs.d/HOST:PORT/`, `/etc/containers/certs.d/HOST:PORT/`
//! and `/etc/docker/certs.d/HOST:PORT/`. Every `*.crt` file is a PEM CA bundle.
//!
//! Departure: client certificate pairs (`*.cert` + `*.key`) are not used (the registry client
//! has no client-identity setting); a directory holding them is reported in the debug log.

use std::path::{Path, PathBuf};

use super::RegistryError;

/// The directories searched for `host`.
pub fn cert_dirs(host: &str, cert_dir: Option<&Path>) -> Vec<PathBuf> {
    if let Some(d) = cert_dir {
        return vec![d.to_path_buf()];
    }
    let mut out = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        out.push(
            PathBuf::from(home)
                .join(".config/containers/certs.d")
                .join(host),
        );
    }
    out.push(Path::new("/etc/containers/certs.d").join(host));
    out.push(Path::new("/etc/docker/certs.d").join(host));
    out
}

/// The PEM contents of every `*.crt` in those directories.
pub fn ca_certs(host: &str, cert_dir: Option<&Path>) -> Result<Vec<Vec<u8>>, RegistryError> {
    let mut out = Vec::new();
    for dir in cert_dirs(host, cert_dir) {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && cert_dir.is_none() => continue,
            Err(e) => {
                return Err(RegistryError::Invalid(format!(
                    "reading certificates in {}: {e}",
                    dir.display()
                )));
            }
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            match f.extension().and_then(|x| x.to_str()) {
                Some("crt") => {
                    let pem = std::fs::read(&f).map_err(|e| {
                        RegistryError::Invalid(format!("reading {}: {e}", f.display()))
                    })?;
                    out.push(pem);
                }
                Some("cert" | "key") => {
                    tracing::debug!(file = %f.display(), "client certificates are not supported; ignored");
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_crt_files_only() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("ca.crt"), b"PEM-A").unwrap();
        std::fs::write(t.path().join("b.crt"), b"PEM-B").unwrap();
        std::fs::write(t.path().join("client.key"), b"KEY").unwrap();
        std::fs::write(t.path().join("notes.txt"), b"x").unwrap();
        let certs = ca_certs("127.0.0.1:5443", Some(t.path())).unwrap();
        assert_eq!(certs, vec![b"PEM-B".to_vec(), b"PEM-A".to_vec()]);
        assert!(ca_certs("h", Some(&t.path().join("missing"))).is_err());
        assert_eq!(
            cert_dirs("h:1", None).last().unwrap(),
            Path::new("/etc/docker/certs.d/h:1")
        );
    }
}
