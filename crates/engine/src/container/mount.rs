//! `mount` / `umount` of containers, and the image mounts of `--mount type=image`.
//!
//! `mount CTR` mounts the container's rootfs (if it is not) and counts one hold
//! (`user_mounts`); `umount` lets go of one (`-f`: all) and unmounts when no hold is left
//! and the container is not running. A running container's own mount is not counted: it
//! is held by the container until its cleanup, which leaves the rootfs mounted while a
//! `mount` holds it. Podman keeps one counter in c/storage for both; the outputs are the
//! same (the path; the name as given, or the full id with `-a`).
//!
//! An image mount of a container is the image's read-only mount (see
//! [`crate::images`]), bound read-only, or with `rw=true` an overlay on top of it whose
//! upper dir belongs to the container (its writes vanish with it). Each one's image id is
//! written in the container's directory before the hold is taken, so cleanup finds what to
//! release even if the image was retagged or the command died half-way.

use std::path::{Path, PathBuf};

use super::Container;
use crate::Engine;
use crate::error::{Error, IoContext, Result};
use crate::volume::MountSpec;

/// A container whose rootfs is mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountedContainer {
    pub id: String,
    pub name: String,
    pub path: PathBuf,
}

impl Engine {
    /// `mount CTR`: the rootfs path, mounted and held once more.
    pub fn mount_container(&self, reference: &str) -> Result<PathBuf> {
        let found = self.db.lookup_container(reference)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container(found.id())?;
        c.state.user_mounts += 1;
        self.db.update_state(c.id(), &c.state)?;
        match self.mount_rootfs(&mut c) {
            Ok(p) => {
                self.emit_container(&c, "mount");
                Ok(p)
            }
            Err(e) => {
                c.state.user_mounts -= 1;
                let _ = self.db.update_state(c.id(), &c.state);
                Err(e)
            }
        }
    }

    /// `mount` without arguments: every container whose rootfs is mounted.
    pub fn mounted_containers(&self) -> Result<Vec<MountedContainer>> {
        Ok(self
            .containers()?
            .into_iter()
            .filter(|c| c.state.mounted || c.state.user_mounts > 0)
            .map(|c| MountedContainer {
                path: self.paths.rootfs(c.id()),
                id: c.id().to_string(),
                name: c.config.name.clone(),
            })
            .filter(|m| crate::layer::is_mountpoint(&m.path))
            .collect())
    }

    /// `umount [-f] CTR`: lets go of one hold (all with `force`); unmounts when none is left
    /// and the container does not run. Returns whether the rootfs was mounted.
    pub fn unmount_container(&self, reference: &str, force: bool) -> Result<bool> {
        let found = self.db.lookup_container(reference)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container(found.id())?;
        let was = c.state.mounted || c.state.user_mounts > 0;
        c.state.user_mounts = if force {
            0
        } else {
            c.state.user_mounts.saturating_sub(1)
        };
        if c.state.user_mounts == 0 && !c.state.status.is_active() {
            self.unmount_rootfs(&mut c)?;
        }
        self.db.update_state(c.id(), &c.state)?;
        if was {
            self.emit_container(&c, "unmount");
        }
        Ok(was)
    }

    /// Where a container's `index`-th image mount keeps its own files.
    fn ctr_image_mount_dir(&self, c: &Container, index: usize) -> PathBuf {
        self.paths
            .container_dir(c.id())
            .join("image-mounts")
            .join(index.to_string())
    }

    /// The host path to bind for an image mount: the image's read-only mount, or (rw) an
    /// overlay on it with the container's own upper dir.
    pub(crate) fn prepare_image_mount(
        &self,
        c: &Container,
        index: usize,
        m: &MountSpec,
    ) -> Result<PathBuf> {
        let dir = self.ctr_image_mount_dir(c, index);
        std::fs::create_dir_all(&dir).ctx("creating", &dir)?;
        let img = self.resolve_image(&m.source)?;
        let record = dir.join("image");
        std::fs::write(&record, &img.id).ctx("writing", &record)?;
        let (_, image_path) = self.hold_image_mount(&img.id, c.id())?;
        if m.read_only() || !m.options.iter().any(|o| o == "rw") {
            return Ok(image_path);
        }
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).ctx("creating", d)?;
        }
        if !crate::layer::is_mountpoint(&merged) {
            self.overlay()
                .mount(&[image_path], &upper, &work, &merged)?;
        }
        Ok(merged)
    }

    /// At cleanup: unmount each image mount's overlay and let go of the image's mount.
    pub(crate) fn release_image_mounts(&self, c: &Container) -> Result<()> {
        let root = self.paths.container_dir(c.id()).join("image-mounts");
        let Ok(entries) = std::fs::read_dir(&root) else {
            return Ok(());
        };
        let mut errors = Vec::new();
        for e in entries.flatten() {
            let dir = e.path();
            if let Err(err) = self.release_one_image_mount(c, &dir) {
                errors.push(err);
            }
        }
        Error::collect(errors)
    }

    fn release_one_image_mount(&self, c: &Container, dir: &Path) -> Result<()> {
        crate::layer::unmount(&dir.join("merged"))?;
        let record = dir.join("image");
        if let Ok(id) = std::fs::read_to_string(&record) {
            let id = id.trim();
            if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.release_image_mount(id, c.id())?;
            }
        }
        std::fs::remove_dir_all(dir).ctx("removing", dir)
    }
}
