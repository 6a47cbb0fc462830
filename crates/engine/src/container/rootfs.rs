//! A container's rootfs: an overlay of its image's layers under its own upper dir.

use std::path::PathBuf;

use super::Container;
use crate::Engine;
use crate::error::{IoContext, Result};
use crate::state::{Holder, Resource};

impl Engine {
    /// Mount the overlay (if not mounted), held in the ledger by the container.
    pub(crate) fn mount_rootfs(&self, c: &mut Container) -> Result<PathBuf> {
        let id = c.id().to_string();
        let dir = self.paths.container_dir(&id);
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), self.paths.rootfs(&id));
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).ctx("creating", d)?;
        }
        let r = Resource::Rootfs {
            path: merged.clone(),
        };
        self.hold(&Holder::container(&id), r, |_| {
            // Mounted already (a start that got no further): held now, all the same.
            if crate::layer::is_mountpoint(&merged) {
                return Ok(());
            }
            let image = self
                .db
                .image(&c.config.image_id)?
                .ok_or_else(|| crate::Error::NoSuchImage(c.config.image_id.clone()))?;
            let lowers = self.layer_dirs(&image)?;
            Ok(crate::layer::mount_overlay(
                &lowers, &upper, &work, &merged, None,
            )?)
        })?;
        c.state.mounted = true;
        Ok(merged)
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
