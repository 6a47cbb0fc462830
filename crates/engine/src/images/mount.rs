//! `image mount` / `image umount`, and the image mounts of containers' `--mount
//! type=image`.
//!
//! An image is mounted read-only (an overlay of its layers, no upper dir) at
//! `<root>/image-mounts/<id>/merged`. Who holds the mount is recorded in the runroot
//! (`<runroot>/image-mounts/<id>.json`, gone with a reboot, as the mount is): a count of
//! `image mount`s and the containers using it. The holders are written before the mount is
//! made and the mount is removed when the last one lets go, all under the image's mount
//! lock. Like c/storage's single counter, a plain `image umount` lets go of one hold
//! (a user's first, else a container's) and `-f` of all of them; a container keeps what
//! it bound into its own mount namespace either way.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Engine;
use crate::error::{Error, IoContext, Result};
use crate::state::ImageRecord;
use crate::state::lock::Lock;

/// A mounted image, as `image mount` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMount {
    pub id: String,
    /// Its tags (`NAME:TAG`).
    pub tags: Vec<String>,
    /// Its manifest digest.
    pub digest: String,
    pub path: PathBuf,
}

/// Who holds an image's mount.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Holders {
    /// `image mount`s not yet undone.
    user: u32,
    /// Containers whose `--mount type=image` uses it.
    containers: BTreeSet<String>,
}

impl Holders {
    fn any(&self) -> bool {
        self.user > 0 || !self.containers.is_empty()
    }
}

impl Engine {
    fn image_mount_dir(&self, id: &str) -> PathBuf {
        self.paths.root.join("image-mounts").join(id)
    }

    /// Where the image is mounted (whether or not it is).
    pub fn image_mount_point(&self, id: &str) -> PathBuf {
        self.image_mount_dir(id).join("merged")
    }

    fn holders_file(&self, id: &str) -> PathBuf {
        self.paths
            .runroot
            .join("image-mounts")
            .join(format!("{id}.json"))
    }

    fn image_mount_lock(&self, id: &str) -> Result<Lock> {
        self.lock(&format!("image-mount-{id}"))
    }

    fn holders(&self, id: &str) -> Holders {
        std::fs::read(self.holders_file(id))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn write_holders(&self, id: &str, h: &Holders) -> Result<()> {
        let path = self.holders_file(id);
        if !h.any() {
            return match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::io("removing", path, e)),
            };
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ctx("creating", dir)?;
        }
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec(h).map_err(|e| Error::other(e.to_string()))?;
        std::fs::write(&tmp, bytes).ctx("writing", &tmp)?;
        std::fs::rename(&tmp, &path).ctx("writing", &path)
    }

    /// Mounts the image unless it is mounted; the caller holds its lock and has recorded a
    /// holder.
    fn ensure_image_mounted(&self, img: &ImageRecord) -> Result<PathBuf> {
        let target = self.image_mount_point(&img.id);
        if crate::layer::is_mountpoint(&target) {
            return Ok(target);
        }
        std::fs::create_dir_all(&target).ctx("creating", &target)?;
        let lowers = self.layer_dirs(img)?;
        if lowers.is_empty() {
            return Err(Error::invalid(format!(
                "image {} has no layers to mount",
                img.id
            )));
        }
        self.overlay().mount_ro(
            &lowers,
            &self.image_mount_dir(&img.id).join("empty"),
            &target,
        )?;
        Ok(target)
    }

    /// Unmounts the image when nobody holds it any more.
    fn drop_image_mount_if_unheld(&self, id: &str, h: &Holders) -> Result<()> {
        if h.any() {
            return Ok(());
        }
        crate::layer::unmount(&self.image_mount_point(id))?;
        let _ = std::fs::remove_dir_all(self.image_mount_dir(id));
        Ok(())
    }

    fn describe_mount(&self, img: &ImageRecord) -> ImageMount {
        ImageMount {
            id: img.id.clone(),
            tags: img
                .names
                .iter()
                .filter(|n| !n.contains('@'))
                .cloned()
                .collect(),
            digest: img.manifest_digest.clone(),
            path: self.image_mount_point(&img.id),
        }
    }

    /// `image mount IMAGE`: mounts it (once more) and returns where.
    pub fn mount_image(&self, reference: &str) -> Result<ImageMount> {
        let img = self.resolve_image(reference)?;
        let _lock = self.image_mount_lock(&img.id)?;
        let mut h = self.holders(&img.id);
        h.user += 1;
        self.write_holders(&img.id, &h)?;
        if let Err(e) = self.ensure_image_mounted(&img) {
            h.user -= 1;
            let _ = self.write_holders(&img.id, &h);
            let _ = self.drop_image_mount_if_unheld(&img.id, &h);
            return Err(e);
        }
        Ok(self.describe_mount(&img))
    }

    /// `image mount` without arguments: the mounted images.
    pub fn mounted_images(&self) -> Result<Vec<ImageMount>> {
        Ok(self
            .db
            .images()?
            .iter()
            .filter(|i| crate::layer::is_mountpoint(&self.image_mount_point(&i.id)))
            .map(|i| self.describe_mount(i))
            .collect())
    }

    /// `image umount [-f] IMAGE`: lets go of one hold (every hold with `force`); the image's
    /// id when it was mounted, `None` when it was not.
    pub fn unmount_image(&self, reference: &str, force: bool) -> Result<Option<String>> {
        let img = self.resolve_image(reference)?;
        let _lock = self.image_mount_lock(&img.id)?;
        let mounted = crate::layer::is_mountpoint(&self.image_mount_point(&img.id));
        let mut h = self.holders(&img.id);
        if !mounted && !h.any() {
            return Ok(None);
        }
        if force {
            h = Holders::default();
        } else if h.user > 0 {
            h.user -= 1;
        } else if let Some(first) = h.containers.iter().next().cloned() {
            h.containers.remove(&first);
        }
        self.write_holders(&img.id, &h)?;
        self.drop_image_mount_if_unheld(&img.id, &h)?;
        Ok(Some(img.id))
    }

    /// The image is being removed: its mount goes, whoever holds it.
    pub(crate) fn drop_image_mount(&self, id: &str) -> Result<()> {
        let _lock = self.image_mount_lock(id)?;
        let none = Holders::default();
        self.write_holders(id, &none)?;
        self.drop_image_mount_if_unheld(id, &none)
    }

    /// Container `ctr` uses the image `reference` for a `--mount type=image`: recorded, then
    /// mounted if it is not; returns the mount point.
    pub(crate) fn hold_image_mount(&self, reference: &str, ctr: &str) -> Result<(String, PathBuf)> {
        let img = self.resolve_image(reference)?;
        let _lock = self.image_mount_lock(&img.id)?;
        let mut h = self.holders(&img.id);
        if h.containers.insert(ctr.to_string()) {
            self.write_holders(&img.id, &h)?;
        }
        let path = self.ensure_image_mounted(&img)?;
        Ok((img.id, path))
    }

    /// Container `ctr` no longer uses image `id`'s mount; unmounted when nobody holds it.
    /// Nothing to do when the image or the hold is gone.
    pub(crate) fn release_image_mount(&self, id: &str, ctr: &str) -> Result<()> {
        let _lock = self.image_mount_lock(id)?;
        let mut h = self.holders(id);
        if !h.containers.remove(ctr) {
            return Ok(());
        }
        self.write_holders(id, &h)?;
        self.drop_image_mount_if_unheld(id, &h)
    }
}
