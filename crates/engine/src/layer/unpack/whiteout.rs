//! Removing what a layer's whiteouts name: a path about to be replaced, and on a flat tree
//! (the vfs driver) the whiteouts themselves (`.wh.NAME`, `.wh..wh..opq`).

use super::*;

impl Unpacker {
    /// Removes whatever is at `name` in `dir` (never following it); a directory is removed
    /// with its contents. Missing is fine. Returns whether a directory is kept (`keep_dir`).
    pub(super) fn remove_existing(
        &self,
        dir: &OwnedFd,
        name: &OsStr,
        keep_dir: bool,
        host: &Path,
    ) -> Result<bool, LayerError> {
        match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(LayerError::io("inspecting", host, e)),
            Ok(st) if (st.st_mode & libc::S_IFMT) == libc::S_IFDIR => {
                if keep_dir {
                    return Ok(true);
                }
                remove_all_at(dir, name).map_err(|e| LayerError::io("removing", host, e))?;
                Ok(false)
            }
            Ok(_) => {
                unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)
                    .map_err(|e| LayerError::io("removing", host, e))?;
                Ok(false)
            }
        }
    }

    /// A whiteout on a flat tree: `.wh..wh..opq` empties the directory (what lower layers
    /// put there), `.wh.NAME` removes NAME, AUFS metadata is dropped.
    pub(super) fn flat_whiteout(
        &self,
        pfd: &OwnedFd,
        parent: &[OsString],
        hidden: &[u8],
        shown: &str,
    ) -> Result<(), LayerError> {
        if hidden == b".wh..opq" {
            let d = openat(
                pfd,
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| LayerError::io("opening", self.host_path(parent), e))?;
            let walk = d
                .try_clone()
                .map_err(|e| LayerError::io("opening", self.host_path(parent), e))?;
            let mut listing = nix::dir::Dir::from_fd(d)
                .map_err(|e| LayerError::io("listing", self.host_path(parent), e))?;
            let mut children = Vec::new();
            for ent in listing.iter() {
                let ent = ent.map_err(|e| LayerError::io("listing", self.host_path(parent), e))?;
                let n = ent.file_name().to_bytes();
                if n != b"." && n != b".." {
                    children.push(OsStr::from_bytes(n).to_os_string());
                }
            }
            drop(listing);
            for child in children {
                let host = self.host_path(parent).join(&child);
                self.remove_existing(&walk, &child, false, &host)?;
            }
        } else if hidden.starts_with(b".wh.") || hidden.is_empty() {
            tracing::debug!(entry = %shown, "dropping AUFS metadata entry");
        } else {
            let hidden = OsStr::from_bytes(hidden);
            let host = self.host_path(parent).join(hidden);
            self.remove_existing(pfd, hidden, false, &host)?;
        }
        Ok(())
    }
}
