//! Where a load or a commit puts what it makes until it is recorded.
//!
//! Blobs and unpacked layers are written into a scratch directory of their own
//! (`<root>/tmp/.tmp-PID-…`, with the stores' layout), never into the stores directly: a
//! command killed half-way leaves only that directory, which the next save, load or commit
//! sweeps. [`Undo::publish`] renames what is kept into the stores (same filesystem) just
//! before the records are written; if recording then fails, what was published is removed
//! again. Layers are locked (the pull's lock files, sorted) until the end.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use super::Stores;
use super::layers::Scratch;
use crate::image::{BlobStore, BlobWriter, Digest, ImageError};
use crate::layer::LayerStore;

/// The scratch stores of one run, and what it published.
pub struct Undo<'a> {
    /// The real stores.
    blobs: &'a BlobStore,
    layers: &'a LayerStore,
    /// The scratch stores (removed with `scratch`).
    staged_blobs: BlobStore,
    staged_layers: LayerStore,
    _scratch: Scratch,
    /// Layers unpacked into the scratch store, by diff id.
    unpacked: Vec<String>,
    /// What [`Undo::publish`] moved into the real stores that was not there before.
    published_blobs: Vec<Digest>,
    published_layers: Vec<String>,
    locks: Vec<nix::fcntl::Flock<File>>,
    /// Blobs to publish (a recorded image uses them).
    keep: Vec<Digest>,
    done: bool,
}

impl<'a> Undo<'a> {
    pub fn new(stores: &'a Stores<'a>) -> Result<Undo<'a>, ImageError> {
        let scratch = Scratch::new(&stores.tmp)?;
        Ok(Undo {
            blobs: stores.blobs,
            layers: stores.layers,
            staged_blobs: BlobStore::new(scratch.path.join("images")),
            staged_layers: LayerStore::new(scratch.path.join("layers")),
            _scratch: scratch,
            unpacked: Vec::new(),
            published_blobs: Vec::new(),
            published_layers: Vec::new(),
            locks: Vec::new(),
            keep: Vec::new(),
            done: false,
        })
    }

    /// Where a blob of this run is: the scratch store, else the real one.
    pub fn blob_path(&self, d: &Digest) -> std::path::PathBuf {
        let staged = self.staged_blobs.path(d);
        if staged.is_file() {
            staged
        } else {
            self.blobs.path(d)
        }
    }

    /// A blob's content (checked against its digest), from wherever it is.
    pub fn get(&self, d: &Digest) -> Result<Vec<u8>, ImageError> {
        match self.staged_blobs.get(d) {
            Err(ImageError::BlobNotFound(_)) => self.blobs.get(d),
            r => r,
        }
    }

    /// Whether the layer is in the real store already.
    pub fn layer_stored(&self, diff_id: &str) -> bool {
        self.layers.exists(diff_id)
    }

    /// Where this run unpacks layers.
    pub fn layer_target(&self) -> &LayerStore {
        &self.staged_layers
    }

    /// A layer this run unpacked into [`Undo::layer_target`].
    pub fn unpacked(&mut self, diff_id: &str) {
        self.unpacked.push(diff_id.to_string());
    }

    /// Streams `r` into a scratch blob. A failure to read `r` is the archive's fault
    /// ([`ImageError::Archive`]); a failure to write is the store's.
    pub fn put_reader(&mut self, mut r: impl Read) -> Result<(Digest, u64), ImageError> {
        let mut w = self.staged_blobs.begin()?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ImageError::Archive(format!("reading the archive: {e}"))),
            };
            w.write_all(&buf[..n]).map_err(|e| {
                ImageError::io("storing archive content in", &self.staged_blobs.root, e)
            })?;
        }
        w.commit()
    }

    /// A scratch blob written by `f` (e.g. a layer tarball being made).
    pub fn put_with(
        &mut self,
        f: impl FnOnce(&mut BlobWriter) -> std::io::Result<()>,
    ) -> Result<(Digest, u64), ImageError> {
        let mut w = self.staged_blobs.begin()?;
        f(&mut w).map_err(|e| ImageError::io("writing a blob in", &self.staged_blobs.root, e))?;
        w.commit()
    }

    /// A scratch blob with `bytes`.
    pub fn put(&mut self, bytes: &[u8]) -> Result<Digest, ImageError> {
        self.staged_blobs.put(bytes)
    }

    /// A blob to publish.
    pub fn keep(&mut self, d: &Digest) {
        if !self.keep.contains(d) {
            self.keep.push(d.clone());
        }
    }

    /// Locks layers in sorted order (the same lock files as a pull's), for the rest of this
    /// run: two loads, or a load and a pull, never unpack one layer twice at once.
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

    /// Moves the kept blobs and the unpacked layers into the real stores (what is there
    /// already stays as it is); remembered for removal if the run fails after all.
    pub fn publish(&mut self) -> Result<(), ImageError> {
        for d in self.keep.clone() {
            let from = self.staged_blobs.path(&d);
            if !from.is_file() || self.blobs.exists(&d) {
                continue;
            }
            let to = self.blobs.path(&d);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(|e| ImageError::io("creating", dir, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| ImageError::io("storing", &to, e))?;
            self.published_blobs.push(d);
        }
        for l in std::mem::take(&mut self.unpacked) {
            let hex = l.strip_prefix("sha256:").unwrap_or(&l).to_string();
            let to = self.layers.root.join(&hex);
            if to.exists() {
                continue;
            }
            std::fs::create_dir_all(&self.layers.root)
                .map_err(|e| ImageError::io("creating", &self.layers.root, e))?;
            let from = self.staged_layers.root.join(&hex);
            std::fs::rename(&from, &to).map_err(|e| ImageError::io("storing", &to, e))?;
            self.published_layers.push(l);
        }
        Ok(())
    }

    /// A published blob that turned out unused (its image was stored already): removed.
    pub fn drop_published(&mut self, d: &Digest) {
        if let Some(i) = self.published_blobs.iter().position(|p| p == d) {
            self.published_blobs.remove(i);
            if let Err(e) = self.blobs.remove(d) {
                tracing::warn!(blob = %d, error = %e, "cannot remove an unused blob");
            }
        }
    }

    /// Success: what was published stays; the scratch directory goes.
    pub fn finish(mut self) {
        self.done = true;
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for l in &self.published_layers {
            if let Err(e) = self.layers.remove(l) {
                tracing::warn!(layer = %l, error = %e, "cannot remove a layer of a failed run");
            }
        }
        for b in &self.published_blobs {
            if let Err(e) = self.blobs.remove(b) {
                tracing::warn!(blob = %b, error = %e, "cannot remove a blob of a failed run");
            }
        }
    }
}
