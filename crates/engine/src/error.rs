//! The engine's one error type, and Podman's exit codes.
//!
//! Every module folds its failures into [`Error`]; the CLI prints `Error: {error}` and exits
//! with the exit code its [`Error::kind`] maps to (the CLI does that mapping, in one place).

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

/// The kinds of failure front ends tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The named object does not exist (HTTP 404).
    NotFound,
    /// It exists, but its state, a name or a user forbids this (HTTP 409).
    Conflict,
    /// The request itself is wrong (HTTP 400).
    Invalid,
    /// The container's command could not run (126, 127) or failed (a build step's status).
    Command(i32),
    /// The engine or the host failed (HTTP 500).
    Internal,
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

    /// What kind of failure this is, for a front end to map: the CLI to Podman's exit
    /// codes, the API service to HTTP statuses.
    pub fn kind(&self) -> ErrorKind {
        use crate::volume::VolumeError;
        match self {
            Error::NoSuchContainer(_)
            | Error::NoSuchPod(_)
            | Error::NoSuchImage(_)
            | Error::NoSuchNetwork(_)
            | Error::Volume(VolumeError::NoSuchVolume(_)) => ErrorKind::NotFound,
            Error::NameInUse { .. }
            | Error::PodNameInUse(_)
            | Error::NetworkInUse { .. }
            | Error::ImageInUse { .. }
            | Error::BadState { .. }
            | Error::Volume(VolumeError::Exists(_) | VolumeError::InUse { .. }) => {
                ErrorKind::Conflict
            }
            Error::InvalidArgument(_) => ErrorKind::Invalid,
            Error::Command { code, .. } => ErrorKind::Command(*code),
            Error::Many(errors) => errors.last().map_or(ErrorKind::Internal, Error::kind),
            _ => ErrorKind::Internal,
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

/// An io error as Go prints it (`no such file or directory`).
pub fn go_io_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let d = nix::errno::Errno::from_raw(n).desc();
            let mut c = d.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => String::new(),
            }
        }
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_exit_codes() {
        assert_eq!(
            Error::NoSuchContainer("x".into()).kind(),
            ErrorKind::NotFound
        );
        let busy = Error::BadState {
            id: "x".into(),
            state: "running".into(),
            what: "cannot remove".into(),
        };
        assert_eq!(busy.kind(), ErrorKind::Conflict);

        assert_eq!(Error::invalid("bad").kind(), ErrorKind::Invalid);
        let missing = Error::Command {
            message: "no such command".into(),
            code: exit::NOT_FOUND,
        };
        assert_eq!(missing.kind(), ErrorKind::Command(127));
        assert_eq!(Error::other("boom").kind(), ErrorKind::Internal);
        let many = Error::Many(vec![Error::other("a"), Error::NoSuchPod("p".into())]);
        assert_eq!(many.kind(), ErrorKind::NotFound);
    }
}
