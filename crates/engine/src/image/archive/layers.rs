//! A saved image's layers as the formats want them: the uncompressed tar (docker-archive,
//! docker-dir), or a compressed blob with its digest and size known up front (OCI, and a
//! `--compress`ed docker-dir).
//!
//! The uncompressed tar is the stored blob named by the diff id when there is one (import,
//! commit, load keep it), else the pull's compressed blob decompressed on the fly; either
//! way the stream is hashed and a mismatch with the diff id fails the save. A compressed
//! blob is the pull's when its compression suits the format, else made by gzipping the
//! tar into a scratch file.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::{StoredLayer, Stores};
use crate::image::registry::manifest::{OCI_LAYER_GZIP, OCI_LAYER_ZSTD};
use crate::image::{Digest, ImageError};

pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// How a blob is compressed, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(path: &Path) -> Result<Compression, ImageError> {
        let mut f = File::open(path).map_err(|e| ImageError::io("opening", path, e))?;
        let mut magic = [0u8; 4];
        let mut got = 0;
        while got < magic.len() {
            match f.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ImageError::io("reading", path, e)),
            }
        }
        Ok(match &magic[..got] {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd] => Compression::Zstd,
            _ => Compression::None,
        })
    }

    /// The OCI layer media type for this compression.
    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => OCI_LAYER_TAR,
            Compression::Gzip => OCI_LAYER_GZIP,
            Compression::Zstd => OCI_LAYER_ZSTD,
        }
    }
}

/// Passes a layer's bytes through and fails at the end when they do not hash to `want`.
struct Verified<R> {
    inner: R,
    hasher: Sha256,
    want: Digest,
    done: bool,
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if n == 0 && !buf.is_empty() && !self.done {
            self.done = true;
            let got = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()));
            if got != self.want.as_str() {
                return Err(io::Error::other(format!(
                    "layer {}: the stored content hashes to {got}",
                    self.want
                )));
            }
        }
        Ok(n)
    }
}

/// The layer's uncompressed tar and its length.
pub fn uncompressed<'s>(
    stores: &'s Stores<'_>,
    layer: &StoredLayer,
) -> Result<(Box<dyn Read + 's>, u64), ImageError> {
    let plain = stores.blobs.path(&layer.diff_id);
    if let Ok(f) = File::open(&plain) {
        let size = f
            .metadata()
            .map_err(|e| ImageError::io("reading", &plain, e))?
            .len();
        let r = Verified {
            inner: BufReader::with_capacity(256 * 1024, f),
            hasher: Sha256::new(),
            want: layer.diff_id.clone(),
            done: false,
        };
        return Ok((Box::new(r), size));
    }
    let Some((blob, _)) = &layer.blob else {
        return Err(ImageError::Archive(format!(
            "layer {} has no stored blob to save",
            layer.diff_id
        )));
    };
    let size = match stores.layers.tar_size(layer.diff_id.as_str()) {
        Some(s) => s,
        None => io::copy(&mut open_decompressed(stores, blob)?, &mut io::sink())
            .map_err(|e| ImageError::io("reading", stores.blobs.path(blob), e))?,
    };
    let r = Verified {
        inner: open_decompressed(stores, blob)?,
        hasher: Sha256::new(),
        want: layer.diff_id.clone(),
        done: false,
    };
    Ok((Box::new(r), size))
}

fn open_decompressed<'s>(
    stores: &'s Stores<'_>,
    blob: &Digest,
) -> Result<Box<dyn Read + 's>, ImageError> {
    let path = stores.blobs.path(blob);
    let f = File::open(&path).map_err(|e| ImageError::io("opening", &path, e))?;
    crate::layer::decompress(BufReader::with_capacity(256 * 1024, f)).map_err(ImageError::Layer)
}

/// A layer blob ready to copy (compressed, or plain with `--uncompressed`): its file,
/// digest, size and compression.
pub struct Compressed {
    pub path: PathBuf,
    pub digest: Digest,
    pub size: u64,
    pub compression: Compression,
}

/// The layer as a compressed blob: the stored one when its compression is gzip (or zstd,
/// when `zstd_ok`), else a gzip of the tar written into `scratch`.
pub fn compressed(
    stores: &Stores<'_>,
    layer: &StoredLayer,
    zstd_ok: bool,
    scratch: &Path,
) -> Result<Compressed, ImageError> {
    if let Some((blob, _)) = &layer.blob {
        let path = stores.blobs.path(blob);
        if path.is_file() {
            let c = Compression::sniff(&path)?;
            if c == Compression::Gzip || (c == Compression::Zstd && zstd_ok) {
                let size = std::fs::metadata(&path)
                    .map_err(|e| ImageError::io("reading", &path, e))?
                    .len();
                return Ok(Compressed {
                    path,
                    digest: blob.clone(),
                    size,
                    compression: c,
                });
            }
        }
    }
    gzip_into(stores, layer, scratch)
}

/// The layer's plain tar as a file: the stored blob named by the diff id, else the
/// decompressed pull blob written into `scratch`.
pub fn plain_file(
    stores: &Stores<'_>,
    layer: &StoredLayer,
    scratch: &Path,
) -> Result<Compressed, ImageError> {
    let path = stores.blobs.path(&layer.diff_id);
    let (path, size) = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => (path, m.len()),
        _ => {
            let (mut tar, _) = uncompressed(stores, layer)?;
            let tmp = scratch.join(format!("tar-{}", layer.diff_id.hex()));
            let mut f = File::create(&tmp).map_err(|e| ImageError::io("creating", &tmp, e))?;
            let n = io::copy(&mut tar, &mut f).map_err(|e| ImageError::io("writing", &tmp, e))?;
            (tmp, n)
        }
    };
    Ok(Compressed {
        path,
        digest: layer.diff_id.clone(),
        size,
        compression: Compression::None,
    })
}

/// Writes `w` while hashing it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn gzip_into(
    stores: &Stores<'_>,
    layer: &StoredLayer,
    scratch: &Path,
) -> Result<Compressed, ImageError> {
    let (mut tar, _) = uncompressed(stores, layer)?;
    let tmp = scratch.join(format!("gzip-{}", layer.diff_id.hex()));
    let f = File::create(&tmp).map_err(|e| ImageError::io("creating", &tmp, e))?;
    let out = Hashing {
        inner: io::BufWriter::with_capacity(256 * 1024, f),
        hasher: Sha256::new(),
        size: 0,
    };
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    io::copy(&mut tar, &mut gz).map_err(|e| ImageError::io("compressing layer into", &tmp, e))?;
    let mut out = gz
        .finish()
        .map_err(|e| ImageError::io("compressing layer into", &tmp, e))?;
    out.flush()
        .map_err(|e| ImageError::io("writing", &tmp, e))?;
    let digest = Digest::from_hex(&hex::encode(out.hasher.finalize()))?;
    Ok(Compressed {
        path: tmp,
        digest,
        size: out.size,
        compression: Compression::Gzip,
    })
}

/// A scratch directory under the store's tmp dir, removed when dropped. Named like the
/// stores' temp entries (`.tmp-PID-…`) so a killed save's is swept later.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(tmp: &Path) -> Result<Scratch, ImageError> {
        std::fs::create_dir_all(tmp).map_err(|e| ImageError::io("creating", tmp, e))?;
        crate::layer::sweep_stale(tmp, true);
        let path = tmp.join(format!(
            ".tmp-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir(&path).map_err(|e| ImageError::io("creating", &path, e))?;
        Ok(Scratch { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove a scratch directory");
        }
    }
}
