//! Content store, names and tags, import.
//!
//! Blobs (layers as uncompressed tars, configs, manifests) are stored by sha256; an image's
//! id is the digest of its config JSON, as in Podman. This module depends on
//! [`crate::layer`] only; the state database that records names and images is not ours.

pub mod archive;
mod change;
mod import;
mod reference;
pub mod registry;
mod store;

use std::io;
use std::path::PathBuf;

/// An image as the store records it (ids, names, layers, sizes): the report `images` lists.
pub use crate::state::ImageRecord;
pub use change::{Change, apply_change, apply_changes, parse_change};
pub use import::{ImportOptions, ImportedImage, import, load_config};
pub use reference::{Reference, candidates, normalize, parse_reference};
pub use store::{BlobStore, BlobWriter, Digest};

use crate::layer::LayerError;

/// What went wrong in the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A digest string that is not `sha256:<64 lowercase hex>`.
    #[error("invalid digest {0:?}: expected sha256:<64 hex digits>")]
    InvalidDigest(String),
    /// A blob that is not in the store.
    #[error("blob {0} not found")]
    BlobNotFound(Digest),
    /// A blob whose content does not hash to its name.
    #[error("blob {digest} is corrupt: its content hashes to {actual}")]
    CorruptBlob { digest: Digest, actual: Digest },
    /// A filesystem operation in the store failed.
    #[error("{op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An invalid `--change` instruction (Podman's wording).
    #[error("invalid change {change:?}: {reason}")]
    InvalidChange { change: String, reason: String },
    /// An invalid image name.
    #[error("invalid reference format {name:?}: {reason}")]
    InvalidReference { name: String, reason: String },
    /// The imported tarball could not be read or unpacked.
    #[error("importing tarball: {0}")]
    Tarball(#[source] LayerError),
    /// Another layer-store failure.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// JSON (de)serialisation of an image config or manifest failed.
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A `save` or `load` that cannot be done, or an archive refused (what and why).
    #[error("{0}")]
    Archive(String),
    /// Building an OCI structure failed.
    #[error("building {what}: {detail}")]
    Spec { what: &'static str, detail: String },
}

impl ImageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ImageError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
