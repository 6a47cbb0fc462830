//! A container's rootfs: an overlay of its image's layers under its own upper dir, or
//! (storage driver vfs) a full copy of them, made once, in the same place and removed
//! with the container.

use std::path::PathBuf;

use super::Container;
use crate::Engine;
use crate::error::{IoContext, Result};
use crate::state::{Holder, Resource};

/// The mode of a container's root directory.
const ROOT_MODE: u32 = 0o555;
/// In a container's directory: its vfs copy is whole.
pub(crate) const VFS_MARKER: &str = "vfs-copied";

impl Engine {
    /// Mount the overlay (if not mounted), held in the ledger by the container.
    pub(crate) fn mount_rootfs(&self, c: &mut Container) -> Result<PathBuf> {
        if self.storage_driver() == crate::StorageDriver::Vfs && c.config.rootfs.is_none() {
            let merged = self.vfs_rootfs(c)?;
            c.state.mounted = true;
            ensure_mtab(&merged)?;
            return Ok(merged);
        }
        let id = c.id().to_string();
        let dir = self.paths.container_dir(&id);
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), self.paths.rootfs(&id));
        let fresh = !upper.exists();
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).ctx("creating", d)?;
        }
        if fresh {
            // The upper dir gives the container's `/` its mode: 0555, as containers/storage
            // gives every layer's root (Podman's containers all show `dr-xr-xr-x /`).
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&upper, std::fs::Permissions::from_mode(ROOT_MODE))
                .ctx("setting the mode of", &upper)?;
        }
        let r = Resource::Rootfs {
            path: merged.clone(),
        };
        self.hold(&Holder::container(&id), r, |_| {
            // Mounted already (a start that got no further): held now, all the same.
            if crate::layer::is_mountpoint(&merged) {
                return Ok(());
            }
            let lowers = match &c.config.rootfs {
                // `--rootfs DIR`: the directory itself, bound (its writes are the user's).
                Some(dir) if !dir.overlay => {
                    return crate::layer::bind_mount(&dir.path, &merged).map_err(Into::into);
                }
                // `--rootfs DIR:O`: an overlay with the directory as its one lower layer.
                Some(dir) => vec![dir.path.clone()],
                None => {
                    let image = self
                        .db
                        .image(&c.config.image_id)?
                        .ok_or_else(|| crate::Error::NoSuchImage(c.config.image_id.clone()))?;
                    self.layer_dirs(&image)?
                }
            };
            // A container that goes when it stops needs no sync of what it wrote (Podman's
            // `--rm` containers are volatile too): its unmount does not sync the disk.
            if c.config.auto_remove {
                return Ok(self
                    .overlay()
                    .mount_volatile(&lowers, &upper, &work, &merged)?);
            }
            Ok(self.overlay().mount(&lowers, &upper, &work, &merged)?)
        })?;
        c.state.mounted = true;
        // Never written into a user's own `--rootfs` directory (only through an overlay).
        if c.config.rootfs.as_ref().is_none_or(|r| r.overlay) {
            ensure_mtab(&merged)?;
        }
        Ok(merged)
    }

    /// The vfs rootfs of `c`: its image's layers copied into the rootfs directory, once
    /// (a marker beside it says the copy is whole; a copy that a killed process left half
    /// made is started again). Nothing is mounted.
    fn vfs_rootfs(&self, c: &Container) -> Result<PathBuf> {
        let dir = self.paths.container_dir(c.id());
        let merged = self.paths.rootfs(c.id());
        let marker = dir.join(VFS_MARKER);
        if marker.exists() {
            return Ok(merged);
        }
        if crate::layer::is_mountpoint(&merged) {
            return Err(crate::Error::other(format!(
                "{} is a mount point: cannot make the vfs copy of container {} there",
                merged.display(),
                c.id()
            )));
        }
        match std::fs::remove_dir_all(&merged) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(crate::Error::io("removing", &merged, e)),
        }
        std::fs::create_dir_all(&merged).ctx("creating", &merged)?;
        // The copy's `/` gets the mode overlay's upper dir gives it (see ROOT_MODE).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&merged, std::fs::Permissions::from_mode(ROOT_MODE))
            .ctx("setting the mode of", &merged)?;
        let image = self
            .db
            .image(&c.config.image_id)?
            .ok_or_else(|| crate::Error::NoSuchImage(c.config.image_id.clone()))?;
        crate::layer::copy_layers(&self.layer_dirs(&image)?, &merged)?;
        std::fs::write(&marker, b"").ctx("writing", &marker)?;
        Ok(merged)
    }

    /// The changes of container `c` in overlay's upper-dir format (what `commit` and `diff`
    /// read): its upper dir, or with vfs a naive diff of its copy against a fresh copy of
    /// its image, made in a scratch directory that goes when the answer is dropped.
    pub(crate) fn container_changes(&self, c: &Container) -> Result<Changes> {
        let dir = self.paths.container_dir(c.id());
        if self.storage_driver() != crate::StorageDriver::Vfs || c.config.rootfs.is_some() {
            return Ok(Changes {
                upper: dir.join("upper"),
                scratch: None,
            });
        }
        let scratch = dir.join(format!("vfs-diff-{:016x}", rand::random::<u64>()));
        let changes = Changes {
            upper: scratch.join("upper"),
            scratch: Some(scratch.clone()),
        };
        std::fs::create_dir_all(&changes.upper).ctx("creating", &changes.upper)?;
        if !dir.join(VFS_MARKER).exists() {
            return Ok(changes); // never copied, never run: no change
        }
        let image = self
            .db
            .image(&c.config.image_id)?
            .ok_or_else(|| crate::Error::NoSuchImage(c.config.image_id.clone()))?;
        let base = scratch.join("base");
        crate::layer::copy_layers(&self.layer_dirs(&image)?, &base)?;
        let merged = self.paths.rootfs(c.id());
        crate::layer::naive_changes(&base, &merged, &changes.upper)
            .map_err(|e| crate::Error::io("comparing with its image", &merged, e))?;
        Ok(changes)
    }

    /// Unmounts the rootfs (through the ledger, which holds it), unless `peapod mount`
    /// holds it: it stays until `umount`; the removal of the container clears the holds
    /// first.
    pub(crate) fn unmount_rootfs(&self, c: &mut Container) -> Result<()> {
        if c.state.user_mounts > 0 {
            return Ok(());
        }
        let holder = Holder::container(c.id());
        crate::Error::collect(
            self.release_where(&holder, |r| matches!(r, Resource::Rootfs { .. })),
        )?;
        c.state.mounted = false;
        Ok(())
    }
}

/// An image without /etc/mtab gets the link `/etc/mtab -> /proc/mounts`, as libpod makes it
/// (`mount` and `df` in the container read it). Only through a real `/etc` directory of the
/// rootfs: a symlinked `/etc` is left alone, so nothing is written outside the rootfs.
fn ensure_mtab(rootfs: &std::path::Path) -> Result<()> {
    let etc = rootfs.join("etc");
    match std::fs::symlink_metadata(&etc) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(&etc).ctx("creating", &etc)?;
        }
        Err(e) => return Err(crate::Error::io("reading", &etc, e)),
    }
    let mtab = etc.join("mtab");
    if std::fs::symlink_metadata(&mtab).is_ok() {
        return Ok(());
    }
    match std::os::unix::fs::symlink("/proc/mounts", &mtab) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(crate::Error::io("creating", &mtab, e)),
    }
}

/// A container's changes as an upper dir ([`Engine::container_changes`]).
pub(crate) struct Changes {
    pub upper: PathBuf,
    /// The vfs scratch directory to remove.
    scratch: Option<PathBuf>,
}

impl Drop for Changes {
    fn drop(&mut self) {
        if let Some(s) = &self.scratch
            && let Err(e) = std::fs::remove_dir_all(s)
        {
            tracing::warn!(path = %s.display(), error = %e, "removing a vfs diff");
        }
    }
}
