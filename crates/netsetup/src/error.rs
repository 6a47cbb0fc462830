//! The crate's error: one enum folding the module errors. Its `Display` is the one line
//! printed as `{"error": "..."}` for podman.

use std::io;

use crate::firewall::FirewallError;
use crate::netlink::NetlinkError;

/// Everything that can fail in setup or teardown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input (options JSON, network definition, arguments).
    #[error("{0}")]
    Invalid(String),
    /// A netlink request failed.
    #[error("netlink: {0}")]
    Netlink(NetlinkError),
    /// The firewall failed.
    #[error("{0}")]
    Firewall(#[from] FirewallError),
    /// A file or sysctl failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// Why it failed.
        #[source]
        source: io::Error,
    },
    /// Several failures (teardown keeps going and reports them all).
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Many(Vec<Error>),
}

impl Error {
    /// An I/O error with what we were doing.
    pub fn io(what: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}
