//! What an archive holds, as files by path, read safely.
//!
//! A tar archive (docker-archive, oci-archive; from a file or a pipe, gzip/zstd compressed
//! or not) is read once, front to back: every regular file streams straight into the blob
//! store of the run (content-addressed, so nothing is ever written by the archive's own
//! paths; see [`super::Undo`]), and the
//! archive becomes a map from its cleaned paths to the blobs that hold them. Symbolic and
//! hard links are recorded and resolved lexically inside the archive. An entry whose name
//! is absolute or climbs out with `..`, or that is a device, FIFO or anything else that is
//! not a file, directory or link, makes the whole archive be refused.
//!
//! A directory (oci-dir, docker-dir) is read on demand: a wanted path is checked the same
//! way, opened without following a symlink in its last component, and copied into the blob
//! store.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::Undo;
use crate::image::{Digest, ImageError};

/// The most entries an archive may have (a layer is one entry; this is generous).
const MAX_ENTRIES: usize = 100_000;
/// How many links may be followed to find one file.
const MAX_LINK_HOPS: usize = 16;
/// The largest JSON document (manifest, index, config) read into memory: c/image's limit.
pub const MAX_JSON: u64 = 4 << 20;

fn refuse(detail: impl Into<String>) -> ImageError {
    ImageError::Archive(detail.into())
}

/// A file of the archive, held as a blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub enum Entry {
    File(Member),
    /// A symlink's target, or a hard link's (already an archive path).
    Link {
        target: String,
        hard: bool,
    },
    Dir,
}

/// The files of an archive.
pub enum Contents {
    /// A tar archive, already read into the blob store.
    Tar(BTreeMap<String, Entry>),
    /// A directory on the host, read on demand.
    Dir(PathBuf),
}

/// Cleans an archive path: `./a//b/` → `a/b`. Refuses an absolute path and any `..`.
pub fn clean(name: &str) -> Result<String, ImageError> {
    if name.starts_with('/') {
        return Err(refuse(format!(
            "archive entry {name:?} has an absolute path"
        )));
    }
    let mut parts = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(refuse(format!(
                    "archive entry {name:?} points outside the archive"
                )));
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a symlink's target relative to the link's directory, lexically; `None` when it
/// leaves the archive.
fn resolve_relative(link: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        link.split('/').collect()
    };
    if !target.starts_with('/') {
        parts.pop();
    }
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

impl Contents {
    /// Reads a tar stream (decompressing it first if it is gzip or zstd) into the blob store.
    pub fn read_tar(input: impl Read, undo: &mut Undo<'_>) -> Result<Contents, ImageError> {
        let stream = crate::layer::decompress(input)
            .map_err(|e| refuse(format!("reading the archive: {e}")))?;
        let mut archive = tar::Archive::new(stream);
        let mut map = BTreeMap::new();
        let not_tar = |e: io::Error| {
            refuse(format!(
                "payload does not match any of the supported image formats: not a tar archive ({e})"
            ))
        };
        let entries = archive.entries().map_err(not_tar)?;
        for (i, entry) in entries.enumerate() {
            let mut entry = entry.map_err(|e| match i {
                0 => not_tar(e),
                _ => refuse(format!("reading the archive: {e}")),
            })?;
            if map.len() >= MAX_ENTRIES {
                return Err(refuse(format!(
                    "the archive has more than {MAX_ENTRIES} entries"
                )));
            }
            let raw = entry.path_bytes().into_owned();
            let name = String::from_utf8(raw)
                .map_err(|_| refuse("archive entry with a name that is not UTF-8"))?;
            let path = clean(&name)?;
            let kind = entry.header().entry_type();
            let value = match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let (digest, size) = undo.put_reader(&mut entry).map_err(|e| match e {
                        ImageError::Archive(m) => refuse(format!("{m} (entry {name:?})")),
                        e => e,
                    })?;
                    Entry::File(Member { digest, size })
                }
                tar::EntryType::Directory => Entry::Dir,
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|t| String::from_utf8_lossy(&t).into_owned())
                        .unwrap_or_default();
                    let hard = kind == tar::EntryType::Link;
                    let target = if hard { clean(&target)? } else { target };
                    Entry::Link { target, hard }
                }
                other => {
                    return Err(refuse(format!(
                        "archive entry {name:?} is a {other:?}, not a file, directory or link"
                    )));
                }
            };
            if !path.is_empty() {
                map.insert(path, value);
            }
        }
        Ok(Contents::Tar(map))
    }

    /// Whether the archive has a file (or a link to one) at `path`.
    pub fn has(&self, path: &str) -> bool {
        match self {
            Contents::Tar(map) => map.contains_key(path),
            Contents::Dir(dir) => clean(path)
                .map(|p| dir.join(p).symlink_metadata().is_ok())
                .unwrap_or(false),
        }
    }

    /// The blob holding the file at `path` (links followed inside the archive).
    pub fn member(&self, path: &str, undo: &mut Undo<'_>) -> Result<Member, ImageError> {
        match self {
            Contents::Tar(map) => tar_member(map, path),
            Contents::Dir(dir) => dir_member(dir, path, undo),
        }
    }

    /// The file at `path`, read into memory; refused when larger than `MAX_JSON`.
    pub fn small_file(&self, path: &str, undo: &mut Undo<'_>) -> Result<Vec<u8>, ImageError> {
        let m = self.member(path, undo)?;
        if m.size > MAX_JSON {
            return Err(refuse(format!(
                "{path} is {} bytes, more than the {MAX_JSON} allowed",
                m.size
            )));
        }
        undo.get(&m.digest)
    }
}

fn tar_member(map: &BTreeMap<String, Entry>, path: &str) -> Result<Member, ImageError> {
    let mut cur = clean(path)?;
    for _ in 0..MAX_LINK_HOPS {
        match map.get(&cur) {
            Some(Entry::File(m)) => return Ok(m.clone()),
            Some(Entry::Dir) => {
                return Err(refuse(format!("{path} is a directory in the archive")));
            }
            Some(Entry::Link { target, hard: true }) => cur = target.clone(),
            Some(Entry::Link {
                target,
                hard: false,
            }) => {
                cur = resolve_relative(&cur, target).ok_or_else(|| {
                    refuse(format!(
                        "{path} is a link to {target:?}, which points outside the archive"
                    ))
                })?;
            }
            None => {
                return Err(refuse(format!("{path} is not in the archive")));
            }
        }
    }
    Err(refuse(format!("{path}: too many levels of links")))
}

fn dir_member(dir: &Path, path: &str, undo: &mut Undo<'_>) -> Result<Member, ImageError> {
    let rel = clean(path)?;
    let full = dir.join(&rel);
    let f = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&full)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => refuse(format!("{} does not exist", full.display())),
            _ => ImageError::io("opening", &full, e),
        })?;
    let meta = f
        .metadata()
        .map_err(|e| ImageError::io("reading", &full, e))?;
    if !meta.is_file() {
        return Err(refuse(format!("{} is not a regular file", full.display())));
    }
    let (digest, size) = undo.put_reader(f)?;
    Ok(Member { digest, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_paths() {
        assert_eq!(clean("./a//b/").unwrap(), "a/b");
        assert_eq!(clean("manifest.json").unwrap(), "manifest.json");
        assert_eq!(clean(".").unwrap(), "");
        assert!(clean("/etc/passwd").is_err());
        assert!(clean("a/../../b").is_err());
        assert!(clean("../x").is_err());
    }

    #[test]
    fn symlinks_resolve_inside_only() {
        assert_eq!(
            resolve_relative("abc/layer.tar", "../def.tar").as_deref(),
            Some("def.tar")
        );
        assert_eq!(resolve_relative("a/b", "c").as_deref(), Some("a/c"));
        assert_eq!(resolve_relative("a/b", "/x/y").as_deref(), Some("x/y"));
        assert_eq!(resolve_relative("a", "../../etc/passwd"), None);
    }
}
