//! `diff` / `container diff` / `image diff`: what a container's layer (or an image's top
//! layer) added (`A`), changed (`C`) and deleted (`D`) against the layers under it, with
//! c/storage's rules: a whiteout is a deletion; a file that exists below is a change, one
//! that does not an addition; the parent of an addition or a deletion counts as changed.
//! The files the engine itself puts into every container (`/etc/hosts`, `/run/.containerenv`,
//! mount points…) are left out, as libpod leaves them out.

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::Engine;
use crate::error::{Error, Result};

/// libpod's `initInodes`: made by the engine or the runtime in every container.
const INIT_PATHS: &[&str] = &[
    "/dev",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/proc",
    "/run",
    "/run/notify",
    "/run/.containerenv",
    "/run/secrets",
    "/sys",
    "/etc/mtab",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Changed,
    Added,
    Deleted,
}

impl ChangeKind {
    /// Podman's one-letter form.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Changed => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One change, by absolute path inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub kind: ChangeKind,
}

impl Engine {
    /// `diff NAME`: a container's changes, or an image's top layer's.
    pub fn diff(&self, reference: &str) -> Result<Vec<Change>> {
        match self.db.lookup_container(reference) {
            Ok(c) => {
                if c.config.rootfs.as_ref().is_some_and(|r| !r.overlay) {
                    return Err(Error::invalid(format!(
                        "container {} runs on a directory of its own (--rootfs): it has no layer to diff",
                        c.name()
                    )));
                }
                let changed = self.container_changes(&c)?;
                let upper = changed.upper.clone();
                let lowers = match &c.config.rootfs {
                    Some(r) => vec![r.path.clone()],
                    None => match self.db.image(&c.config.image_id)? {
                        Some(image) => self.layer_dirs(&image)?,
                        None => Vec::new(),
                    },
                };
                let mut skip: BTreeSet<String> = INIT_PATHS.iter().map(|s| s.to_string()).collect();
                skip.extend(c.config.mounts.iter().map(|m| m.destination.clone()));
                changes(&upper, &lowers, &skip)
            }
            Err(Error::NoSuchContainer(_)) => {
                let image = self.resolve_image(reference).map_err(|e| match e {
                    Error::NoSuchImage(_) => {
                        Error::invalid(format!("{reference} not found: layer not known"))
                    }
                    e => e,
                })?;
                let dirs = self.layer_dirs(&image)?;
                let Some((top, below)) = dirs.split_first() else {
                    return Ok(Vec::new());
                };
                changes(top, below, &BTreeSet::new())
            }
            Err(e) => Err(e),
        }
    }
}

/// The changes `upper` makes over `lowers` (top-most first), in path order.
fn changes(upper: &Path, lowers: &[PathBuf], skip: &BTreeSet<String>) -> Result<Vec<Change>> {
    let mut out: Vec<Change> = Vec::new();
    let mut changed_dirs: BTreeSet<String> = BTreeSet::new();
    let mut stack = vec![PathBuf::from("/")];
    while let Some(dir) = stack.pop() {
        let host = upper.join(dir.strip_prefix("/").unwrap_or(&dir));
        let mut entries: Vec<_> = match std::fs::read_dir(&host) {
            Ok(e) => e.flatten().collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("reading", &host, e)),
        };
        entries.sort_by_key(|e| e.file_name());
        // Subdirectories are walked after this one, in name order.
        let mut subdirs = Vec::new();
        for e in entries {
            let meta = e
                .path()
                .symlink_metadata()
                .map_err(|x| Error::io("reading", e.path(), x))?;
            // fuse-overlayfs' markings where it may not make overlay's (a user namespace):
            // an opaque directory's `.wh..wh..opq` file, `.wh.NAME` files for whiteouts; and
            // whiteouts of `.wh.` names, which it hides anyway (see layer::write_tree).
            let name = e.file_name();
            let name = name.to_string_lossy();
            let char_whiteout = meta.file_type().is_char_device() && meta.rdev() == 0;
            if name == ".wh..wh..opq" || (char_whiteout && name.starts_with(".wh.")) {
                continue;
            }
            let fuse_whiteout = meta.is_file() && name.starts_with(".wh.");
            let path = match name.strip_prefix(".wh.") {
                Some(n) if fuse_whiteout => dir.join(n),
                _ => dir.join(e.file_name()),
            };
            let key = path.display().to_string();
            if skip.contains(&key) {
                continue;
            }
            let below = lowers
                .iter()
                .map(|l| l.join(path.strip_prefix("/").unwrap_or(&path)))
                .find_map(|p| p.symlink_metadata().ok());
            let whiteout = fuse_whiteout || char_whiteout;
            let kind = if whiteout {
                Some(ChangeKind::Deleted)
            } else if below.is_none() {
                Some(ChangeKind::Added)
            } else if meta.is_dir() && below.as_ref().is_some_and(|b| b.is_dir()) {
                // A directory copied up for what is under it: its own change is told by its
                // children (or by a change of its own metadata below).
                None
            } else {
                Some(ChangeKind::Changed)
            };
            if let Some(kind) = kind {
                if meta.is_dir() {
                    changed_dirs.insert(key.clone());
                }
                if kind != ChangeKind::Changed {
                    let parent = dir.display().to_string();
                    if parent != "/" && changed_dirs.insert(parent.clone()) {
                        out.push(Change {
                            path: parent,
                            kind: ChangeKind::Changed,
                        });
                    }
                }
                out.push(Change { path: key, kind });
            }
            if meta.is_dir() && !whiteout {
                subdirs.push(path);
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additions_changes_deletions_and_their_parents() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        let upper = t.path().join("upper");
        for d in ["etc/sub", "usr/bin"] {
            std::fs::create_dir_all(lower.join(d)).unwrap();
        }
        std::fs::write(lower.join("etc/services"), "x").unwrap();
        std::fs::write(lower.join("usr/bin/tool"), "x").unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::create_dir_all(upper.join("usr/bin")).unwrap();
        std::fs::create_dir_all(upper.join("newdir")).unwrap();
        std::fs::write(upper.join("newfile"), "n").unwrap();
        std::fs::write(upper.join("usr/bin/tool"), "changed").unwrap();
        std::fs::write(upper.join("etc/hosts"), "skip me").unwrap();
        // (Whiteouts need CAP_MKNOD: the e2e test shows deletions.)
        std::fs::write(upper.join("etc/added"), "a").unwrap();
        let skip: BTreeSet<String> = ["/etc/hosts".to_string()].into();
        let got: Vec<String> = changes(&upper, &[lower], &skip)
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path))
            .collect();
        assert_eq!(
            got,
            [
                "C /etc",
                "A /etc/added",
                "A /newdir",
                "A /newfile",
                "C /usr/bin/tool"
            ]
        );
    }

    #[test]
    fn fuse_overlayfs_whiteout_files_are_deletions() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path().join("lower");
        let upper = t.path().join("upper");
        std::fs::create_dir_all(lower.join("etc/opq")).unwrap();
        std::fs::write(lower.join("etc/gone"), "x").unwrap();
        std::fs::write(lower.join("etc/opq/old"), "x").unwrap();
        std::fs::create_dir_all(upper.join("etc/opq")).unwrap();
        std::fs::write(upper.join("etc/.wh.gone"), "").unwrap();
        std::fs::write(upper.join("etc/opq/.wh..wh..opq"), "").unwrap();
        std::fs::write(upper.join("etc/opq/new"), "n").unwrap();
        let got: Vec<String> = changes(&upper, &[lower], &BTreeSet::new())
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path))
            .collect();
        assert_eq!(
            got,
            ["C /etc", "D /etc/gone", "C /etc/opq", "A /etc/opq/new"]
        );
    }
}
