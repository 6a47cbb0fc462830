//! A container's rootfs: an overlay of its image's layers under its own upper dir.

use std::path::PathBuf;

use super::Container;
use crate::Engine;
use crate::error::{IoContext, Result};

impl Engine {
    /// Mount the overlay (if not mounted) and record that it is, before anything else can fail.
    pub(crate) fn mount_rootfs(&self, c: &mut Container) -> Result<PathBuf> {
        let id = c.id().to_string();
        let dir = self.paths.container_dir(&id);
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), self.paths.rootfs(&id));
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).ctx("creating", d)?;
        }
        if crate::layer::is_mountpoint(&merged) {
            return Ok(merged);
        }
        let image = self
            .db
            .image(&c.config.image_id)?
            .ok_or_else(|| crate::Error::NoSuchImage(c.config.image_id.clone()))?;
        let lowers = self.layer_dirs(&image)?;
        c.state.mounted = true;
        self.db.update_state(&id, &c.state)?;
        if let Err(e) = crate::layer::mount_overlay(&lowers, &upper, &work, &merged, None) {
            c.state.mounted = false;
            self.db.update_state(&id, &c.state)?;
            return Err(e.into());
        }
        Ok(merged)
    }

    /// Unmounts the rootfs, unless `peapod mount` holds it (it stays until `umount`; the
    /// removal of the container clears the holds first).
    pub(crate) fn unmount_rootfs(&self, c: &mut Container) -> Result<()> {
        if c.state.user_mounts > 0 {
            return Ok(());
        }
        let merged = self.paths.rootfs(c.id());
        crate::layer::unmount(&merged)?;
        c.state.mounted = false;
        Ok(())
    }
}
