//! `save` and `load`: images to and from docker-archive, oci-archive, OCI layout
//! directories (oci-dir) and c/image's `dir:` layout (docker-dir).
//!
//! Saving reads the store only: layers come from their stored blobs (the uncompressed tar
//! that `import`/`commit`/`load` keep, or the compressed blob of a pull, decompressed on
//! the fly and checked against the diff id). A docker-archive is written as c/image writes
//! it (same entries, order, tar headers and legacy metadata), so peapod's archive of an
//! image is byte for byte Podman's.
//!
//! Loading never trusts the archive: paths are checked ([`source`]), every blob's content
//! is hashed as it is stored (a file named by a digest must have that digest), every layer
//! is unpacked by the safe unpacker and must produce the diff id its config names. Nothing
//! is recorded before every image of the archive passed; a failed load removes every blob
//! and layer it created.

mod docker;
mod gojson;
mod layers;
mod load;
mod oci;
mod source;
mod staging;

use std::io::Write;
use std::path::{Path, PathBuf};

use super::registry::ProgressSink;
use super::{BlobStore, Digest, ImageError};
use crate::layer::LayerStore;

pub use load::{LoadInput, LoadedImage, load};
pub use staging::Undo;

/// The formats of `save --format` (Podman's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    DockerArchive,
    OciArchive,
    OciDir,
    DockerDir,
}

impl ArchiveFormat {
    pub fn parse(s: &str) -> Result<ArchiveFormat, ImageError> {
        Ok(match s {
            "docker-archive" => ArchiveFormat::DockerArchive,
            "oci-archive" => ArchiveFormat::OciArchive,
            "oci-dir" => ArchiveFormat::OciDir,
            "docker-dir" => ArchiveFormat::DockerDir,
            _ => {
                return Err(ImageError::Archive(
                    "format value must be one of docker-archive oci-archive oci-dir docker-dir"
                        .into(),
                ));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ArchiveFormat::DockerArchive => "docker-archive",
            ArchiveFormat::OciArchive => "oci-archive",
            ArchiveFormat::OciDir => "oci-dir",
            ArchiveFormat::DockerDir => "docker-dir",
        }
    }

    /// Written as a directory rather than a tar stream.
    pub fn is_dir(self) -> bool {
        matches!(self, ArchiveFormat::OciDir | ArchiveFormat::DockerDir)
    }
}

/// Where the stores are.
pub struct Stores<'a> {
    pub blobs: &'a BlobStore,
    pub layers: &'a LayerStore,
    /// Scratch space on the store's filesystem (compressed layers being made).
    pub tmp: PathBuf,
    /// Per-layer lock files (shared with pulls).
    pub lock_dir: PathBuf,
}

/// A layer of an image being saved, as the store holds it.
#[derive(Debug, Clone)]
pub struct StoredLayer {
    pub diff_id: Digest,
    /// A compressed blob kept for it (a pull's), with its media type.
    pub blob: Option<(Digest, String)>,
}

/// One image to save.
#[derive(Debug, Clone)]
pub struct SaveImage {
    pub id: Digest,
    /// The config blob's bytes (their digest is `id`).
    pub config: Vec<u8>,
    pub layers: Vec<StoredLayer>,
    /// Names to record, `NAME:TAG` (docker-archive's `RepoTags`; the first is an OCI
    /// layout's `org.opencontainers.image.ref.name`).
    pub tags: Vec<String>,
}

/// Where `save` writes.
pub enum SaveTarget<'a> {
    /// A tar stream (docker-archive, oci-archive).
    Stream(&'a mut dyn Write),
    /// A directory (oci-dir, docker-dir).
    Dir(&'a Path),
}

/// How layers are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct LayerChoice {
    /// `--compress`: gzip the layers of a docker-dir.
    pub compress: bool,
    /// `--uncompressed`: an OCI layout keeps its layers uncompressed.
    pub uncompressed: bool,
}

/// `save`: writes `images` in `format`.
pub fn save(
    stores: &Stores<'_>,
    images: &[SaveImage],
    format: ArchiveFormat,
    target: SaveTarget<'_>,
    choice: LayerChoice,
    sink: &dyn ProgressSink,
) -> Result<(), ImageError> {
    let compress = choice.compress;
    if images.len() != 1 && format != ArchiveFormat::DockerArchive {
        return Err(ImageError::Archive(format!(
            "unsupported format {:?} for saving multiple images (only docker-archive)",
            format.name()
        )));
    }
    match (format, target) {
        (ArchiveFormat::DockerArchive, SaveTarget::Stream(w)) => {
            docker::write_archive(stores, images, w, sink)
        }
        (ArchiveFormat::OciArchive, SaveTarget::Stream(w)) => {
            oci::write_archive(stores, &images[0], w, choice.uncompressed, sink)
        }
        (ArchiveFormat::OciDir, SaveTarget::Dir(d)) => {
            oci::write_dir(stores, &images[0], d, choice.uncompressed, sink)
        }
        (ArchiveFormat::DockerDir, SaveTarget::Dir(d)) => {
            docker::write_dir(stores, &images[0], d, compress, sink)
        }
        (f, _) => Err(ImageError::Archive(format!(
            "{} cannot be written {}",
            f.name(),
            if f.is_dir() {
                "to a stream: give a directory with -o"
            } else {
                "as a directory"
            }
        ))),
    }
}
