//! Content-addressed blobs at `<root>/blobs/sha256/<hex>`.
//!
//! A blob is written to a temp file in the same directory, fsynced and renamed into place,
//! so a blob path either does not exist or holds the complete content. Digest strings from
//! outside are validated before they become paths.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use super::ImageError;

/// A `sha256:<64 lowercase hex>` digest, validated.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Self, ImageError> {
        match s.strip_prefix("sha256:") {
            Some(hex) if is_hex64(hex) => Ok(Digest(s.to_string())),
            _ => Err(ImageError::InvalidDigest(s.to_string())),
        }
    }

    /// From the 64 hex digits alone.
    pub fn from_hex(hex: &str) -> Result<Self, ImageError> {
        if is_hex64(hex) {
            Ok(Digest(format!("sha256:{hex}")))
        } else {
            Err(ImageError::InvalidDigest(hex.to_string()))
        }
    }

    /// The digest of `bytes`.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The first 12 hex digits (Podman's short id).
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl TryFrom<String> for Digest {
    type Error = ImageError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Digest::parse(&s)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

/// The blob directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    pub root: PathBuf,
}

impl BlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        BlobStore { root: root.into() }
    }

    fn dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    /// Where the blob lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir().join(digest.hex())
    }

    pub fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Stores `bytes`, returns their digest.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, ImageError> {
        let mut w = self.begin()?;
        w.write_all(bytes)
            .map_err(|e| ImageError::io("writing", &w.tmp, e))?;
        Ok(w.commit()?.0)
    }

    /// Streams `reader` into a blob; returns its digest and size.
    pub fn put_reader(&self, mut reader: impl Read) -> Result<(Digest, u64), ImageError> {
        let mut w = self.begin()?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ImageError::io("reading blob content for", &w.tmp, e)),
            };
            w.write_all(&buf[..n])
                .map_err(|e| ImageError::io("writing", &w.tmp, e))?;
        }
        w.commit()
    }

    /// Stores a copy of the file at `path`.
    pub fn put_file(&self, path: &Path) -> Result<(Digest, u64), ImageError> {
        let f = File::open(path).map_err(|e| ImageError::io("opening", path, e))?;
        self.put_reader(f)
    }

    /// Starts a streaming write; [`BlobWriter::commit`] puts it in place, dropping it
    /// uncommitted removes the temp file.
    pub fn begin(&self) -> Result<BlobWriter, ImageError> {
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(|e| ImageError::io("creating", &dir, e))?;
        let tmp = dir.join(format!(
            ".tmp-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| ImageError::io("creating", &tmp, e))?;
        Ok(BlobWriter {
            dir,
            tmp,
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Removes temp files of writers whose process is gone (killed mid-write).
    pub fn sweep_stale(&self) -> usize {
        crate::layer::sweep_stale(&self.dir(), false)
    }

    /// The blob's content, checked against its digest.
    pub fn get(&self, digest: &Digest) -> Result<Vec<u8>, ImageError> {
        let path = self.path(digest);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ImageError::BlobNotFound(digest.clone()));
            }
            Err(e) => return Err(ImageError::io("reading", &path, e)),
        };
        let actual = Digest::of_bytes(&bytes);
        if &actual != digest {
            return Err(ImageError::CorruptBlob {
                digest: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Removes the blob; returns whether it existed.
    pub fn remove(&self, digest: &Digest) -> Result<bool, ImageError> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(ImageError::io("removing", &path, e)),
        }
    }
}

/// A blob being written: hashes what passes through.
#[derive(Debug)]
pub struct BlobWriter {
    dir: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    size: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already committed"))?;
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of what was written so far.
    pub fn digest(&self) -> Digest {
        Digest(format!(
            "sha256:{}",
            hex::encode(self.hasher.clone().finalize())
        ))
    }

    /// fsyncs and renames the blob into place; returns its digest and size.
    pub fn commit(self) -> Result<(Digest, u64), ImageError> {
        self.finish(true)
    }

    /// Renames the blob into place without an fsync: for a pulled layer's compressed blob,
    /// which is as durable as the unpacked layer beside it (not fsynced either, as in
    /// c/storage). Its digest is checked whenever it is read back.
    pub fn commit_unsynced(self) -> Result<(Digest, u64), ImageError> {
        self.finish(false)
    }

    fn finish(mut self, sync: bool) -> Result<(Digest, u64), ImageError> {
        let file = self
            .file
            .take()
            .expect("a BlobWriter holds its file until commit");
        if sync {
            file.sync_all()
                .map_err(|e| ImageError::io("syncing", &self.tmp, e))?;
        }
        drop(file);
        let digest = Digest(format!(
            "sha256:{}",
            hex::encode(self.hasher.clone().finalize())
        ));
        let dest = self.dir.join(digest.hex());
        fs::rename(&self.tmp, &dest)
            .map_err(|e| ImageError::io("renaming into place", &dest, e))?;
        // Make the rename durable.
        if sync && let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok((digest, self.size))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_parse_and_parts() {
        let d = Digest::parse(EMPTY).unwrap();
        assert_eq!(d.hex(), &EMPTY[7..]);
        assert_eq!(d.short(), "e3b0c44298fc");
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(Digest::of_bytes(b""), d);
        assert_eq!(Digest::from_hex(&EMPTY[7..]).unwrap(), d);
    }

    #[test]
    fn digest_rejects_bad_input() {
        for bad in [
            "",
            "sha256:",
            "sha256:../../etc/passwd",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            let err = Digest::parse(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(serde_json::from_str::<Digest>("\"sha256:xyz\"").is_err());
        let d: Digest = serde_json::from_str(&format!("\"{EMPTY}\"")).unwrap();
        assert_eq!(d.as_str(), EMPTY);
    }

    #[test]
    fn blob_roundtrip_and_corruption() {
        let tmp = tempfile::tempdir().unwrap();
        let store = BlobStore::new(tmp.path());
        let d = store.put(b"hello").unwrap();
        assert_eq!(d, Digest::of_bytes(b"hello"));
        assert!(store.exists(&d));
        assert_eq!(store.get(&d).unwrap(), b"hello");
        let (d2, n) = store.put_reader(&b"hello"[..]).unwrap();
        assert_eq!((d2.clone(), n), (d.clone(), 5));
        // No temp files are left behind.
        let names: Vec<_> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(d.hex())]);
        fs::write(store.path(&d), b"tampered").unwrap();
        assert!(matches!(store.get(&d), Err(ImageError::CorruptBlob { .. })));
        assert!(store.remove(&d).unwrap());
        assert!(!store.remove(&d).unwrap());
        assert!(matches!(store.get(&d), Err(ImageError::BlobNotFound(_))));
        // An abandoned writer leaves nothing.
        let mut w = store.begin().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 0);
    }
}
