//! Images from registries: names (`registries.conf`), credentials (`auth.json`), certificates
//! (`certs.d`), and the distribution protocol through `oci-client`, on a current-thread tokio
//! runtime that exists only for the length of one pull or push (nothing async reaches the
//! CLI's start-up path).
//!
//! Pulled layers stream from the registry into the safe unpacker while their compressed
//! digest and their diff id are computed; the compressed blob is kept in the blob store (so
//! a push or a save of the image sends the same bytes), the unpacked layer in the layer
//! store. Nothing is renamed into place before both digests matched.

pub mod auth;
pub mod certs;
mod client;
pub mod conf;
pub(crate) mod manifest;
mod progress;
mod pull;
mod push;
mod remote;
pub mod trust;

use std::path::PathBuf;

pub use auth::{AuthFile, Credentials, LoggedOut, get_login, login, logout, registry_key};
pub use client::{Tls, search_catalog, verify_login};
pub use conf::{ConfPaths, RegistriesConf};
pub use manifest::Platform;
pub use oci_client::RegistryOperation;
pub use progress::{Event, ProgressSink, Silent};
pub use pull::{PullOptions, PulledImage, Store, pull};
pub use push::{Compression, PushFormat, PushOptions, PushSource, Pushed, SourceLayer, push};
pub use remote::{RemoteOptions, Repo, Session};

use super::ImageError;

/// What went wrong while talking to a registry or reading its configuration.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "short-name \"{name}\" did not resolve to an alias and no unqualified-search registries are defined in \"{}\"",
        conf.display()
    )]
    ShortName { name: String, conf: PathBuf },
    #[error(
        "short-name resolution enforced but cannot prompt without a TTY: \"{name}\" matches several unqualified-search registries (set short-name-mode=\"permissive\" or use a fully-qualified name)"
    )]
    ShortNameAmbiguous { name: String },
    #[error("registry {registry} is blocked in {}", conf.display())]
    Blocked { registry: String, conf: PathBuf },
    #[error("loading registries configuration \"{}\": {detail}", path.display())]
    Config { path: PathBuf, detail: String },
    /// A pull that failed at the source, in Podman's words.
    #[error("initializing source docker://{reference}: {detail}")]
    Source { reference: String, detail: String },
    /// Several candidates failed (a short name through several search registries).
    #[error("{} errors occurred while pulling:\n * {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n * "))]
    Many(Vec<RegistryError>),
    /// A push that failed at the destination.
    #[error("{0}")]
    Push(String),
    #[error("logging into \"{registry}\": {detail}")]
    Login { registry: String, detail: String },
    #[error("not logged into {0}")]
    NotLoggedIn(String),
    #[error("credentials file {}: {detail}", path.display())]
    AuthFile { path: PathBuf, detail: String },
    #[error("{0}")]
    Invalid(String),
    /// The signature policy refuses the image (containers/image's words).
    #[error("Source image rejected: {0}")]
    Rejected(String),
    #[error(transparent)]
    Image(#[from] ImageError),
}
