//! Walking a build context with an ignore file applied, as BuildKit's context transfer
//! (tonistiigi/fsutil's filter) does:
//!
//! - names are visited in byte order; symlinks are entries, never followed;
//! - an excluded file is left out; an excluded directory is skipped whole unless an
//!   exception could re-include something below it: when every exception is a plain path
//!   (no wildcard once a trailing `/**` or `/*` is dropped), only an exception inside that
//!   directory keeps it; when some exception has a wildcard, every excluded directory is
//!   descended;
//! - an excluded directory that holds a re-included entry is listed itself (just before
//!   its first kept child), so the kept entry has somewhere to be.

use std::fs::Metadata;
use std::io;
use std::path::{Path, PathBuf};

use super::pattern::{MatchInfo, Matcher};
use crate::build::{BuildError, Result};

/// One file, directory or other entry that a copy of the context includes.
#[derive(Debug, Clone)]
pub struct WalkEntry {
    /// Slash-separated path relative to the context directory.
    pub rel: String,
    /// The entry on disk.
    pub path: PathBuf,
    /// `lstat` of the entry.
    pub meta: Metadata,
}

/// Which exceptions exist, for the "may this excluded directory be skipped" decision.
struct Exceptions {
    any: bool,
    /// Every exception is a plain path (after dropping a trailing `/**` or `/*`).
    plain: bool,
    /// Those paths.
    paths: Vec<String>,
}

fn without_trailing_glob(p: &str) -> &str {
    let p = p.strip_suffix("/**").unwrap_or(p);
    p.strip_suffix("/*").unwrap_or(p)
}

impl Exceptions {
    fn of(m: &Matcher) -> Exceptions {
        let paths: Vec<String> = m
            .patterns()
            .iter()
            .filter(|p| p.is_exception())
            .map(|p| without_trailing_glob(p.text()).to_string())
            .collect();
        Exceptions {
            any: m.has_exceptions(),
            plain: paths
                .iter()
                .all(|p| !p.contains(['*', '[', ']', '?', '^', '\\'])),
            paths,
        }
    }

    /// May the excluded directory `rel` be skipped without looking inside?
    fn may_skip(&self, rel: &str) -> bool {
        if !self.plain {
            return false;
        }
        if !self.any {
            return true;
        }
        let dir = format!("{rel}/");
        !self.paths.iter().any(|p| format!("{p}/").starts_with(&dir))
    }
}

struct Walker<'a> {
    matcher: &'a Matcher,
    exceptions: Exceptions,
    out: Vec<WalkEntry>,
    /// Excluded directories above the current entry that were not listed yet.
    pending: Vec<Option<WalkEntry>>,
}

/// The entries of the context below `root` that a copy of `start` includes (`start` is a
/// slash path relative to `root`; empty for the whole context, whose root is not listed).
pub fn walk(root: &Path, start: &str, matcher: &Matcher) -> Result<Vec<WalkEntry>> {
    let mut w = Walker {
        matcher,
        exceptions: Exceptions::of(matcher),
        out: Vec::new(),
        pending: Vec::new(),
    };
    if start.is_empty() || start == "." {
        w.children("", root, &MatchInfo::default())?;
    } else {
        w.visit(start, root.join(start), &MatchInfo::default())?;
    }
    Ok(w.out)
}

impl Walker<'_> {
    fn visit(&mut self, rel: &str, path: PathBuf, parent: &MatchInfo) -> Result<()> {
        let meta =
            std::fs::symlink_metadata(&path).map_err(|e| BuildError::io("reading", &path, e))?;
        let (excluded, info) = self.matcher.matches_with_parent(rel, parent);
        let is_dir = meta.is_dir();
        let entry = WalkEntry {
            rel: rel.to_string(),
            path: path.clone(),
            meta,
        };
        if excluded {
            if !is_dir || self.exceptions.may_skip(rel) {
                return Ok(());
            }
            self.pending.push(Some(entry));
            let r = self.children(rel, &path, &info);
            self.pending.pop();
            return match r {
                // An unreadable excluded directory is skipped, as BuildKit does.
                Err(BuildError::Io { source, .. })
                    if source.kind() == io::ErrorKind::PermissionDenied =>
                {
                    Ok(())
                }
                r => r,
            };
        }
        for p in self.pending.iter_mut() {
            if let Some(e) = p.take() {
                self.out.push(e);
            }
        }
        self.out.push(entry);
        if is_dir {
            self.pending.push(None);
            let r = self.children(rel, &path, &info);
            self.pending.pop();
            r?;
        }
        Ok(())
    }

    fn children(&mut self, rel: &str, dir: &Path, info: &MatchInfo) -> Result<()> {
        let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(dir)
            .map_err(|e| BuildError::io("reading directory", dir, e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| BuildError::io("reading directory", dir, e))?;
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        for name in names {
            // Patterns see names as text; a name that is not UTF-8 is matched lossily.
            let text = name.to_string_lossy();
            let child = if rel.is_empty() {
                text.to_string()
            } else {
                format!("{rel}/{text}")
            };
            self.visit(&child, dir.join(&name), info)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
