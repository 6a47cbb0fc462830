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

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::registry::ProgressSink;
use super::{BlobStore, Digest, ImageError};
use crate::layer::LayerStore;

pub use load::{LoadInput, LoadedImage, load};

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

/// Blobs and layers a load (or a save's scratch work) created, removed again unless it
/// succeeds; and the layer locks held until then.
pub struct Undo<'a> {
    pub blobs: &'a BlobStore,
    layers: &'a LayerStore,
    new_blobs: Vec<Digest>,
    new_layers: Vec<String>,
    locks: Vec<nix::fcntl::Flock<File>>,
    /// Blobs to keep even though this run created them (they are recorded).
    keep: Vec<Digest>,
    done: bool,
}

impl<'a> Undo<'a> {
    pub fn new(stores: &'a Stores<'a>) -> Undo<'a> {
        Undo {
            blobs: stores.blobs,
            layers: stores.layers,
            new_blobs: Vec::new(),
            new_layers: Vec::new(),
            locks: Vec::new(),
            keep: Vec::new(),
            done: false,
        }
    }

    /// Streams `r` into a blob, remembering it when it is new. A failure to read `r` is
    /// the archive's fault ([`ImageError::Archive`]); a failure to write is the store's.
    pub fn put_reader(&mut self, mut r: impl Read) -> Result<(Digest, u64), ImageError> {
        let mut w = self.blobs.begin()?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ImageError::Archive(format!("reading the archive: {e}"))),
            };
            w.write_all(&buf[..n]).map_err(|e| {
                ImageError::io(
                    "storing archive content in",
                    self.blobs.root.join("blobs"),
                    e,
                )
            })?;
        }
        let digest = w.digest();
        let new = !self.blobs.exists(&digest);
        let (d, size) = w.commit()?;
        if new {
            self.new_blobs.push(d.clone());
        }
        Ok((d, size))
    }

    /// A blob written by `f` (e.g. a layer tarball being made), remembered when new.
    pub fn put_with(
        &mut self,
        f: impl FnOnce(&mut super::BlobWriter) -> std::io::Result<()>,
    ) -> Result<(Digest, u64), ImageError> {
        let mut w = self.blobs.begin()?;
        f(&mut w)
            .map_err(|e| ImageError::io("writing a blob in", self.blobs.root.join("blobs"), e))?;
        let digest = w.digest();
        let new = !self.blobs.exists(&digest);
        let (d, size) = w.commit()?;
        if new {
            self.new_blobs.push(d.clone());
        }
        Ok((d, size))
    }

    pub fn put(&mut self, bytes: &[u8]) -> Result<Digest, ImageError> {
        let d = Digest::of_bytes(bytes);
        if self.blobs.exists(&d) {
            return Ok(d);
        }
        let d = self.blobs.put(bytes)?;
        self.new_blobs.push(d.clone());
        Ok(d)
    }

    pub fn new_layer(&mut self, diff_id: &str) {
        self.new_layers.push(diff_id.to_string());
    }

    /// A blob that must survive (a recorded image uses it).
    pub fn keep(&mut self, d: &Digest) {
        self.keep.push(d.clone());
    }

    /// A blob [`Undo::keep`] kept that turned out unused: removed at the end if this run
    /// created it.
    pub fn unkeep(&mut self, d: &Digest) {
        self.keep.retain(|k| k != d);
    }

    /// Locks layers in sorted order (the same lock files as a pull's), for the rest of this
    /// run: two loads or a load and a pull never unpack one layer twice at once.
    pub fn lock_layers(&mut self, lock_dir: &Path, diff_ids: &[Digest]) -> Result<(), ImageError> {
        let mut sorted: Vec<&Digest> = diff_ids.iter().collect();
        sorted.sort();
        sorted.dedup();
        std::fs::create_dir_all(lock_dir).map_err(|e| ImageError::io("creating", lock_dir, e))?;
        for d in sorted {
            let path = lock_dir.join(format!("layer-{}", d.hex()));
            let f = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| ImageError::io("opening", &path, e))?;
            let lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
                .map_err(|(_, e)| ImageError::io("locking", &path, e.into()))?;
            self.locks.push(lock);
        }
        Ok(())
    }

    /// Success: keep what is recorded, drop the scratch blobs this run made.
    pub fn finish(mut self) {
        self.done = true;
        for d in std::mem::take(&mut self.new_blobs) {
            if !self.keep.contains(&d) {
                let _ = self.blobs.remove(&d);
            }
        }
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for l in &self.new_layers {
            if let Err(e) = self.layers.remove(l) {
                tracing::warn!(layer = %l, error = %e, "cannot remove a layer of a failed load");
            }
        }
        for b in &self.new_blobs {
            if let Err(e) = self.blobs.remove(b) {
                tracing::warn!(blob = %b, error = %e, "cannot remove a blob of a failed load");
            }
        }
    }
}
