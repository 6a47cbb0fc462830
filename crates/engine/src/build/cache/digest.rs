//! Content digests of COPY/ADD sources, so that a cached step is reused only when what it
//! copies is the same.
//!
//! A source is digested as the tree a copy of it would take: the entries the ignore rules
//! keep (see `ignore::walk`), in byte order of their names, each with its path below the
//! source, type, permission bits (incl. setuid/setgid/sticky), owner, size and content
//! (sha256), symlink target or device number; the source's own metadata first. The
//! modification time is left out, as Docker and Buildah leave it out: a fresh checkout
//! must not miss the cache, and the content already says whether a file changed.
//! Extended attributes and hard-link structure are not digested (a copy does not keep
//! them either).
//!
//! Labels follow Buildah's content summary: `file:<hex>` for a file or other single entry,
//! `dir:<hex>` for a directory, `multi:<hex>` (the sha256 of `file:…,dir:…`) for several.

use std::fmt;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::build::ignore::{Matcher, walk};
use crate::build::{BuildError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    File,
    Dir,
}

/// The digest of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentDigest {
    pub kind: ContentKind,
    /// 64 hex digits.
    pub hex: String,
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ContentKind::File => "file",
            ContentKind::Dir => "dir",
        };
        write!(f, "{kind}:{}", self.hex)
    }
}

/// What is digested of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryFacts {
    /// Path below the source, raw bytes (empty for the source itself).
    pub rel: Vec<u8>,
    /// `f` file, `d` directory, `l` symlink, `p` fifo, `c`/`b` device, `s` socket.
    pub kind: u8,
    /// Permission bits with setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// sha256 of a file's content.
    pub content: Option<[u8; 32]>,
    /// A symlink's target.
    pub link: Option<Vec<u8>>,
    /// A device's number.
    pub rdev: u64,
}

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

impl EntryFacts {
    fn of(path: &Path, rel: Vec<u8>, meta: &Metadata) -> Result<EntryFacts> {
        let ft = meta.file_type();
        let kind = if ft.is_file() {
            b'f'
        } else if ft.is_dir() {
            b'd'
        } else if ft.is_symlink() {
            b'l'
        } else if ft.is_fifo() {
            b'p'
        } else if ft.is_char_device() {
            b'c'
        } else if ft.is_block_device() {
            b'b'
        } else {
            b's'
        };
        let content = if kind == b'f' {
            Some(hash_file(path)?)
        } else {
            None
        };
        let link = if kind == b'l' {
            let t =
                std::fs::read_link(path).map_err(|e| BuildError::io("reading link", path, e))?;
            Some(t.as_os_str().as_bytes().to_vec())
        } else {
            None
        };
        Ok(EntryFacts {
            rel,
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: if kind == b'f' { meta.size() } else { 0 },
            content,
            link,
            rdev: if matches!(kind, b'c' | b'b') {
                meta.rdev()
            } else {
                0
            },
        })
    }

    pub(crate) fn hash_into(&self, h: &mut Sha256) {
        field(h, &self.rel);
        field(h, &[self.kind]);
        field(h, &self.mode.to_le_bytes());
        field(h, &self.uid.to_le_bytes());
        field(h, &self.gid.to_le_bytes());
        field(h, &self.size.to_le_bytes());
        field(h, self.content.as_ref().map_or(&[][..], |c| &c[..]));
        field(h, self.link.as_deref().unwrap_or(&[]));
        field(h, &self.rdev.to_le_bytes());
    }
}

fn hash_file(path: &Path) -> Result<[u8; 32]> {
    let mut f = File::open(path).map_err(|e| BuildError::io("opening", path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| BuildError::io("reading", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// Digest of facts, in order.
pub(crate) fn digest_facts(kind: ContentKind, facts: &[EntryFacts]) -> ContentDigest {
    let mut h = Sha256::new();
    for f in facts {
        f.hash_into(&mut h);
    }
    ContentDigest {
        kind,
        hex: hex::encode(h.finalize()),
    }
}

/// The digest of the source `rel` (slash path below `root`, empty for all of `root`) as a
/// copy of it would take it, `ignore` applied; `None` when the ignore rules leave nothing
/// of it. `root` is the build context, or another stage's root for `COPY --from` (with no
/// ignore rules).
pub fn digest_path(root: &Path, rel: &str, ignore: &Matcher) -> Result<Option<ContentDigest>> {
    let top = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let entries = walk(root, rel, ignore)?;
    if !rel.is_empty() && entries.is_empty() {
        return Ok(None);
    }
    let top_meta =
        std::fs::symlink_metadata(&top).map_err(|e| BuildError::io("reading", &top, e))?;
    let mut facts = vec![EntryFacts::of(&top, Vec::new(), &top_meta)?];
    for e in entries.iter().filter(|e| e.path != top) {
        let below = e.path.strip_prefix(&top).unwrap_or(&e.path);
        facts.push(EntryFacts::of(
            &e.path,
            below.as_os_str().as_bytes().to_vec(),
            &e.meta,
        )?);
    }
    let kind = if top_meta.is_dir() {
        ContentKind::Dir
    } else {
        ContentKind::File
    };
    Ok(Some(digest_facts(kind, &facts)))
}

/// The digest of a file given as data (a heredoc source, a downloaded URL): its name and
/// its bytes.
pub fn digest_data(name: &str, data: &[u8]) -> ContentDigest {
    let mut h = Sha256::new();
    field(&mut h, name.as_bytes());
    field(&mut h, data);
    ContentDigest {
        kind: ContentKind::File,
        hex: hex::encode(h.finalize()),
    }
}

/// Buildah's content summary of a COPY/ADD: the one digest, or `multi:` over all of them.
pub fn content_summary(parts: &[ContentDigest]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.to_string(),
        many => {
            let joined: Vec<String> = many.iter().map(ContentDigest::to_string).collect();
            format!(
                "multi:{}",
                hex::encode(Sha256::digest(joined.join(",").as_bytes()))
            )
        }
    }
}
