//! Where the service listens: `unix://PATH`, `tcp://HOST:PORT`, or sockets handed over by
//! systemd (`LISTEN_FDS`). A Unix socket is made mode 0600 (only its owner may connect)
//! and a path another live service listens on is refused; a stale socket file is replaced.
#![allow(unsafe_code)]

use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use peapod_engine::{Engine, Error};

use crate::ServiceError;

/// A parsed listen URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

impl Endpoint {
    /// `unix:///abs/path`, `unix:relative`, `tcp://HOST:PORT` (Podman's forms).
    pub fn parse(uri: &str) -> Result<Endpoint, Error> {
        if let Some(path) = uri.strip_prefix("unix://").or(uri.strip_prefix("unix:")) {
            if path.is_empty() {
                return Err(Error::invalid(format!(
                    "invalid URI {uri:?}: no socket path"
                )));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = uri.strip_prefix("tcp://").or(uri.strip_prefix("tcp:")) {
            let addr = addr.trim_end_matches('/');
            let parsed = addr
                .parse::<SocketAddr>()
                .or_else(|_| {
                    // A host name (`localhost:8080`): its first address.
                    std::net::ToSocketAddrs::to_socket_addrs(addr)
                        .ok()
                        .and_then(|mut a| a.next())
                        .ok_or(())
                })
                .map_err(|_| {
                    Error::invalid(format!("invalid URI {uri:?}: {addr:?} is not HOST:PORT"))
                })?;
            return Ok(Endpoint::Tcp(parsed));
        }
        Err(Error::invalid(format!(
            "API Service endpoint scheme {:?} is not supported. Try tcp://{uri} or unix:/{uri}",
            url_scheme(uri)
        )))
    }
}

/// The scheme Go's `url.Parse` finds in `uri`: the letters before the first `:` when they
/// make a scheme (`localhost:9292` → `localhost`), else none (`myunix.sock` → ``).
fn url_scheme(uri: &str) -> &str {
    let Some((scheme, _)) = uri.split_once(':') else {
        return "";
    };
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if valid { scheme } else { "" }
}

/// The default socket: `/run/peapod/peapod.sock` as root with the default store,
/// `$XDG_RUNTIME_DIR/peapod/peapod.sock` rootless, and `RUNROOT/peapod.sock` for a store
/// given with `--runroot` (so services for private stores never share a socket).
pub fn default_endpoint(engine: &Engine) -> Endpoint {
    if engine.options().runroot.is_some() {
        return Endpoint::Unix(engine.runroot().join("peapod.sock"));
    }
    if peapod_engine::rootless::is_rootless()
        && let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR")
    {
        return Endpoint::Unix(PathBuf::from(dir).join("peapod/peapod.sock"));
    }
    Endpoint::Unix(PathBuf::from("/run/peapod/peapod.sock"))
}

/// A bound listener, not yet registered with tokio.
pub enum Listener {
    Unix {
        listener: UnixListener,
        path: PathBuf,
        /// We made the file (so we remove it at exit); false for systemd's.
        owned: bool,
    },
    Tcp(std::net::TcpListener),
}

impl Listener {
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Listener::Unix { path, .. } => Endpoint::Unix(path.clone()),
            Listener::Tcp(l) => Endpoint::Tcp(
                l.local_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
            ),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix {
            path, owned: true, ..
        } = self
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Bind `uri` (or the default), or take systemd's socket when activated.
pub fn bind(uri: Option<&str>, engine: &Engine) -> Result<Listener, ServiceError> {
    if let Some(l) = activated()? {
        if uri.is_some() {
            tracing::warn!("socket activated: the URI argument is ignored");
        }
        return Ok(l);
    }
    let endpoint = match uri {
        Some(u) => Endpoint::parse(u)?,
        None => default_endpoint(engine),
    };
    match endpoint {
        Endpoint::Unix(path) => bind_unix(&path),
        Endpoint::Tcp(addr) => {
            tracing::warn!(
                "Using the peapod API service with TCP sockets is not recommended: it has no \
                 authentication and no encryption, anyone who can reach {addr} controls peapod"
            );
            eprintln!(
                "WARN: the API service on tcp://{addr} is unauthenticated: anyone who can reach it controls peapod"
            );
            let l = std::net::TcpListener::bind(addr)
                .map_err(|e| ServiceError::Io(format!("listening on tcp://{addr}"), e))?;
            l.set_nonblocking(true)
                .map_err(|e| ServiceError::Io("setting the socket non-blocking".into(), e))?;
            Ok(Listener::Tcp(l))
        }
    }
}

/// Bind a Unix socket at `path`, 0600 from the start (the umask covers the window between
/// bind and chmod). A socket another service answers on is refused; a stale one replaced.
fn bind_unix(path: &Path) -> Result<Listener, ServiceError> {
    let path = std::path::absolute(path)
        .map_err(|e| ServiceError::Io(format!("resolving {}", path.display()), e))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ServiceError::Io(format!("creating {}", parent.display()), e))?;
    }
    refuse_busy(&path)?;
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(&path);
    nix::sys::stat::umask(old);
    let listener = bound
        .map_err(|e| ServiceError::Io(format!("listening on unix://{}", path.display()), e))?;
    let l = Listener::Unix {
        listener,
        path: path.clone(),
        owned: true,
    };
    if let Listener::Unix { listener, .. } = &l {
        listener
            .set_nonblocking(true)
            .map_err(|e| ServiceError::Io("setting the socket non-blocking".into(), e))?;
    }
    Ok(l)
}

/// A live socket at `path` is another service's: refused. A dead one is removed; any other
/// kind of file is left alone and refused.
fn refuse_busy(path: &Path) -> Result<(), ServiceError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(Error::invalid(format!(
            "cannot listen on unix://{}: the path exists and is not a socket",
            path.display()
        ))
        .into());
    }
    if UnixStream::connect(path).is_ok() {
        return Err(Error::invalid(format!(
            "cannot listen on unix://{}: another API service is already listening on this socket",
            path.display()
        ))
        .into());
    }
    std::fs::remove_file(path)
        .map_err(|e| ServiceError::Io(format!("removing stale socket {}", path.display()), e))
}

/// systemd's socket activation: `LISTEN_PID` is us and `LISTEN_FDS` ≥ 1: fd 3 is the
/// listening socket (Unix or TCP, told apart by its address family).
fn activated() -> Result<Option<Listener>, ServiceError> {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    if !pid_ok || fds == 0 {
        return Ok(None);
    }
    // SAFETY: unsetting variables while no other thread runs (the runtime is not built yet).
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    const FD: RawFd = 3;
    let addr = nix::sys::socket::getsockname::<nix::sys::socket::SockaddrStorage>(FD)
        .map_err(|e| ServiceError::Io("LISTEN_FDS: fd 3 is not a socket".into(), e.into()))?;
    let listener = if let Some(un) = addr.as_unix_addr() {
        // SAFETY: systemd passed fd 3 to us alone; we take ownership of it once.
        let l = unsafe { UnixListener::from_raw_fd(FD) };
        Listener::Unix {
            listener: l,
            path: un.path().map(Path::to_path_buf).unwrap_or_default(),
            owned: false,
        }
    } else {
        // SAFETY: as above, a TCP listening socket handed over by systemd.
        Listener::Tcp(unsafe { std::net::TcpListener::from_raw_fd(FD) })
    };
    match &listener {
        Listener::Unix { listener, .. } => listener.set_nonblocking(true),
        Listener::Tcp(l) => l.set_nonblocking(true),
    }
    .map_err(|e| ServiceError::Io("setting the socket non-blocking".into(), e))?;
    Ok(Some(listener))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_podman_uris() {
        assert_eq!(
            Endpoint::parse("unix:///tmp/x.sock").unwrap(),
            Endpoint::Unix("/tmp/x.sock".into())
        );
        assert_eq!(
            Endpoint::parse("unix:rel.sock").unwrap(),
            Endpoint::Unix("rel.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:8080").unwrap(),
            Endpoint::Tcp("127.0.0.1:8080".parse().unwrap())
        );
        let e = Endpoint::parse("http://x").unwrap_err().to_string();
        assert!(e.contains("\"http\" is not supported"), "{e}");
        assert!(Endpoint::parse("tcp://nope").is_err());
        assert!(Endpoint::parse("unix://").is_err());
        // Podman's words, from its suite (251-system-service).
        let e = Endpoint::parse("localhost:9292").unwrap_err().to_string();
        assert!(e.ends_with("API Service endpoint scheme \"localhost\" is not supported. Try tcp://localhost:9292 or unix:/localhost:9292"), "{e}");
        let e = Endpoint::parse("myunix.sock").unwrap_err().to_string();
        assert!(e.ends_with("API Service endpoint scheme \"\" is not supported. Try tcp://myunix.sock or unix:/myunix.sock"), "{e}");
    }
}
