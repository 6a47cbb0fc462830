//! Layer directories: `<root>/<hex>/diff`, one per diff id, unpacked once.
//!
//! A layer is unpacked into a private temp directory beside the final one and renamed into
//! place in one step, so a reader never sees a half-unpacked layer and two concurrent
//! imports of the same layer never corrupt each other: the second rename fails because the
//! directory exists, and the second import drops its copy and uses the first.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::unpack::{UnpackSummary, unpack, unpack_tar};
use super::{LayerError, diff_id_hex};

/// The directory that holds every unpacked layer.
#[derive(Debug, Clone)]
pub struct LayerStore {
    pub root: PathBuf,
}

impl LayerStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LayerStore { root: root.into() }
    }

    /// `<root>/<hex>/diff`: the unpacked content of the layer `diff_id` (`sha256:<hex>`).
    pub fn layer_dir(&self, diff_id: &str) -> Result<PathBuf, LayerError> {
        Ok(self.root.join(diff_id_hex(diff_id)?).join("diff"))
    }

    /// Length of the layer's uncompressed tar, recorded when it was unpacked.
    pub fn tar_size(&self, diff_id: &str) -> Option<u64> {
        let hex = diff_id_hex(diff_id).ok()?;
        std::fs::read_to_string(self.root.join(hex).join("tar-size"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Whether the layer is unpacked.
    pub fn exists(&self, diff_id: &str) -> bool {
        self.layer_dir(diff_id).map(|d| d.is_dir()).unwrap_or(false)
    }

    /// Unpacks a (possibly compressed) layer. Returns what was unpacked and whether this
    /// call created the layer directory (`false`: it was already there).
    pub fn put(&self, reader: impl Read) -> Result<(UnpackSummary, bool), LayerError> {
        self.put_with(|dest| unpack(reader, dest))
    }

    /// Like [`LayerStore::put`], but `check` runs after the stream was unpacked and before the
    /// layer is renamed into place: a pull verifies the compressed digest there (after
    /// draining what the decompressor left), so an unverified layer is never visible.
    pub fn put_checked<R: Read>(
        &self,
        mut reader: R,
        check: impl FnOnce(&UnpackSummary, &mut R) -> Result<(), LayerError>,
    ) -> Result<(UnpackSummary, bool), LayerError> {
        self.put_with(|dest| {
            let summary = unpack(&mut reader, dest)?;
            check(&summary, &mut reader)?;
            Ok(summary)
        })
    }

    /// Removes what a killed process left (`.tmp-PID-*` and `.rm-PID-*` of a pid that is
    /// gone); returns how many entries went.
    pub fn sweep_stale(&self) -> usize {
        sweep_stale(&self.root, true)
    }

    /// Like [`LayerStore::put`] for an already uncompressed tar stream.
    pub fn put_tar(&self, reader: impl Read) -> Result<(UnpackSummary, bool), LayerError> {
        self.put_with(|dest| unpack_tar(reader, dest))
    }

    fn put_with(
        &self,
        f: impl FnOnce(&Path) -> Result<UnpackSummary, LayerError>,
    ) -> Result<(UnpackSummary, bool), LayerError> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| LayerError::io("creating", &self.root, e))?;
        let tmp = self.root.join(format!(
            ".tmp-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir(&tmp).map_err(|e| LayerError::io("creating", &tmp, e))?;
        let result = f(&tmp.join("diff")).and_then(|summary| {
            let hex = diff_id_hex(&summary.diff_id)?.to_string();
            let size_file = tmp.join("tar-size");
            std::fs::write(&size_file, summary.tar_size.to_string())
                .map_err(|e| LayerError::io("writing", &size_file, e))?;
            let final_dir = self.root.join(&hex);
            match std::fs::rename(&tmp, &final_dir) {
                Ok(()) => Ok((summary, true)),
                // Already present (another import won the race, or an earlier one).
                Err(e)
                    if e.kind() == io::ErrorKind::DirectoryNotEmpty
                        || e.kind() == io::ErrorKind::AlreadyExists
                        || e.raw_os_error() == Some(libc::ENOTEMPTY)
                        || e.raw_os_error() == Some(libc::EEXIST) =>
                {
                    Ok((summary, false))
                }
                Err(e) => Err(LayerError::io("renaming into place", &final_dir, e)),
            }
        });
        if !matches!(result, Ok((_, true)))
            && tmp.exists()
            && let Err(e) = std::fs::remove_dir_all(&tmp)
        {
            tracing::warn!(path = %tmp.display(), error = %e, "cannot remove temporary layer directory");
        }
        result
    }

    /// Removes the layer (missing is fine). The directory is first renamed away, so the
    /// layer disappears at once even if removing the tree takes time or fails half-way.
    pub fn remove(&self, diff_id: &str) -> Result<(), LayerError> {
        let dir = self.root.join(diff_id_hex(diff_id)?);
        let doomed = self.root.join(format!(
            ".rm-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        match std::fs::rename(&dir, &doomed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(LayerError::io("removing", &dir, e)),
        }
        std::fs::remove_dir_all(&doomed).map_err(|e| LayerError::io("removing", &dir, e))
    }
}

/// Removes `.tmp-PID-…` / `.rm-PID-…` entries in `dir` whose process is gone (a process
/// killed while writing cannot clean up after itself). Entries without a pid (older names)
/// are left alone.
pub(crate) fn sweep_stale(dir: &Path, dirs: bool) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name
            .strip_prefix(".tmp-")
            .or_else(|| name.strip_prefix(".rm-"))
        else {
            continue;
        };
        let Some(pid) = rest
            .split_once('-')
            .and_then(|(p, _)| p.parse::<i32>().ok())
        else {
            continue;
        };
        let alive = pid as u32 == std::process::id()
            || nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if alive {
            continue;
        }
        let path = e.path();
        let removed = if dirs && path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match removed {
            Ok(()) => n += 1,
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "cannot remove a stale temporary entry")
            }
        }
    }
    n
}
