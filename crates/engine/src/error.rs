//! The engine's one error type, and Podman's exit codes.
//!
//! Every module folds its failures into [`Error`]; the CLI prints `Error: {error}` and exits
//! with [`Error::exit_code`].

use std::io;
use std::path::PathBuf;

/// Podman's exit codes for engine failures.
pub mod exit {
    /// The engine itself failed (bad input, missing object, runtime error).
    pub const ENGINE: i32 = 125;
    /// The container command exists but could not be invoked.
    pub const CANNOT_INVOKE: i32 = 126;
    /// The container command was not found.
    pub const NOT_FOUND: i32 = 127;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no container with name or ID \"{0}\" found: no such container")]
    NoSuchContainer(String),
    #[error("no pod with name or ID {0} found: no such pod")]
    NoSuchPod(String),
    #[error("{0}: image not known")]
    NoSuchImage(String),
    #[error("unable to find network with name or ID {0}: network not found")]
    NoSuchNetwork(String),
    #[error("network {network} is being used by {containers}: network is being used")]
    NetworkInUse { network: String, containers: String },
    #[error(
        "the container name \"{name}\" is already in use by {id}. You have to remove that container to be able to reuse that name: that name is already in use"
    )]
    NameInUse { name: String, id: String },
    /// Podman 4.3's words when a pod name is taken.
    #[error("adding pod to state: name \"{0}\" is in use: pod already exists")]
    PodNameInUse(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// `what` is the whole message (Podman's words: "… container state improper").
    #[error("{what}")]
    BadState {
        id: String,
        state: String,
        what: String,
    },
    #[error(
        "image used by {containers}: image is in use by a container: consider listing external containers and force-removing image"
    )]
    ImageInUse { image: String, containers: String },
    /// The container's command could not be found (exit 127) or run (exit 126).
    #[error("{message}")]
    Command { message: String, code: i32 },
    #[error("OCI runtime error: {0}")]
    Runtime(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("{0}")]
    Image(#[from] crate::image::ImageError),
    #[error("{0}")]
    Layer(#[from] crate::layer::LayerError),
    #[error("{0}")]
    Registry(#[from] crate::image::registry::RegistryError),
    #[error("{0}")]
    Other(String),
    #[error("{0}")]
    Volume(#[from] crate::volume::VolumeError),
    #[error("{0}")]
    Rootless(#[from] crate::rootless::RootlessError),
    /// Several failures collected by a teardown that kept going.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Many(Vec<Error>),
}

impl Error {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }

    pub fn other(msg: impl Into<String>) -> Self {
        Error::Other(msg.into())
    }

    /// Podman's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Command { code, .. } => *code,
            _ => exit::ENGINE,
        }
    }

    /// Collapse a list of teardown errors: none is Ok, one is itself.
    pub fn collect(mut errors: Vec<Error>) -> Result<()> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.pop().expect("one error")),
            _ => Err(Error::Many(errors)),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a description of the file to an io::Result.
pub trait IoContext<T> {
    fn ctx(self, what: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, what: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(what, path, e))
    }
}

impl From<nix::Error> for Error {
    fn from(e: nix::Error) -> Self {
        Error::Other(e.to_string())
    }
}
