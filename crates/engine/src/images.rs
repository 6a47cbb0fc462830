//! Image operations of the engine: import, resolve a user's reference, list, tag, untag,
//! remove; save and load ([`archive`]). The content store and unpacking are in
//! [`crate::image`] and [`crate::layer`]; this file and its submodules tie them to the
//! database.

mod archive;
mod history;
mod inspect;
mod list;
mod mount;
mod runlabel;

pub use archive::{SaveOutput, SaveRequest};
pub use history::{HistoryEntry, ImageTree, TreeLayer, layer_id};
pub use inspect::ImageInspect;
pub use list::{ImageListRequest, ImageSummary};
pub use mount::ImageMount;
pub use runlabel::RunlabelRequest;

use std::io::Read;
use std::path::PathBuf;

use oci_spec::image::ImageConfiguration;

use crate::Engine;
use crate::error::{Error, Result};
use crate::image::{BlobStore, Digest, ImportOptions};
use crate::layer::LayerStore;
use crate::state::ImageRecord;

/// What `rmi` did, in Podman's words.
#[derive(Debug, Default)]
pub struct RemovedImage {
    pub untagged: Vec<String>,
    pub deleted: Option<String>,
    /// Parents deleted after it ([`Engine::remove_image_and_dangling_parents`]), in order.
    pub deleted_parents: Vec<String>,
    /// Containers removed along with the image (`rmi -f`).
    pub containers: Vec<String>,
}

impl Engine {
    pub fn blobs(&self) -> BlobStore {
        BlobStore::new(self.paths.images())
    }

    pub fn layer_store(&self) -> LayerStore {
        LayerStore::new(self.paths.layers())
    }

    /// `import`: a rootfs tarball (file or stdin) becomes a one-layer image.
    pub fn import_image(
        &self,
        reader: impl Read,
        name: Option<&str>,
        changes: &[String],
        message: Option<String>,
    ) -> Result<ImageRecord> {
        let name = name.map(crate::image::normalize).transpose()?;
        let opts = ImportOptions {
            changes: changes.to_vec(),
            message,
            ..Default::default()
        };
        let imported = crate::image::import(&self.blobs(), &self.layer_store(), reader, &opts)?;
        let created = imported
            .config
            .created()
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_else(chrono::Utc::now);
        let rec = ImageRecord {
            id: imported.id.hex().to_string(),
            manifest_digest: imported.manifest_digest.as_str().to_string(),
            layers: imported
                .layers
                .iter()
                .map(|d| d.as_str().to_string())
                .collect(),
            created,
            size: imported.size,
            names: name.iter().cloned().collect(),
            digests: Vec::new(),
            layer_blobs: Vec::new(),
            manifest_type: None,
            names_history: Vec::new(),
        };
        self.db.insert_image(&rec, &rec.names)?;
        self.emit_image("import", &rec.id, name.as_deref().unwrap_or_default());
        Ok(rec)
    }

    /// Resolve a user's image reference: a name (short names match `localhost/` and
    /// `docker.io/library/`), a full id, or a unique id prefix.
    pub fn resolve_image(&self, reference: &str) -> Result<ImageRecord> {
        let not_found = || Error::NoSuchImage(reference.to_string());
        let digest_form = reference.starts_with("sha256:");
        let r = reference.strip_prefix("sha256:").unwrap_or(reference);
        let hex = !r.is_empty()
            && r.len() <= 64
            && r.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
        let by_prefix = |r: &str| -> Result<Option<ImageRecord>> {
            let ids = self.db.image_ids_with_prefix(r)?;
            match ids.len() {
                0 => Ok(None),
                1 => Ok(Some(self.db.image(&ids[0])?.ok_or_else(not_found)?)),
                _ => Err(Error::invalid(format!(
                    "{reference}: image ID is ambiguous"
                ))),
            }
        };
        // libimage's order: a full ID (or `sha256:…`) first, then the names a short name
        // expands to, and only then a short ID — an image named `b` wins over an ID that
        // starts with `b`.
        if hex && (digest_form || r.len() == 64) {
            return by_prefix(r)?.ok_or_else(not_found);
        }
        for cand in crate::image::candidates(reference)? {
            if let Some(id) = self.db.image_by_name(&cand)? {
                return self.db.image(&id)?.ok_or_else(not_found);
            }
        }
        if hex && let Some(rec) = by_prefix(r)? {
            return Ok(rec);
        }
        Err(not_found())
    }

    /// The name to show for a container created from `reference`: the image name it matched.
    pub fn image_display_name(&self, reference: &str, image: &ImageRecord) -> Option<String> {
        crate::image::candidates(reference)
            .unwrap_or_default()
            .into_iter()
            .find(|c| image.names.contains(c))
    }

    pub fn image_config(&self, image: &ImageRecord) -> Result<ImageConfiguration> {
        if crate::manifest::is_list(image) {
            return Err(Error::invalid(format!(
                "{}: image is a manifest list, not an image: use one of its images",
                image.names.first().unwrap_or(&image.id)
            )));
        }
        let digest = Digest::from_hex(&image.id)?;
        Ok(crate::image::load_config(&self.blobs(), &digest)?)
    }

    /// The image config's Docker `Healthcheck` (`config.Healthcheck`; OCI configs have none).
    pub fn image_healthcheck(&self, image: &ImageRecord) -> Result<Option<serde_json::Value>> {
        let raw = self.blobs().get(&Digest::from_hex(&image.id)?)?;
        let v: serde_json::Value = serde_json::from_slice(&raw)
            .map_err(|e| Error::other(format!("reading the config of image {}: {e}", image.id)))?;
        Ok(v.pointer("/config/Healthcheck").cloned())
    }

    /// inspect's `Comment`: a Docker-format image's config `comment`, else the first
    /// history entry's (c/common's rule).
    pub fn image_comment(&self, image: &ImageRecord) -> Result<String> {
        let docker = image.manifest_type.as_deref()
            == Some("application/vnd.docker.distribution.manifest.v2+json");
        if docker {
            let raw = self.blobs().get(&Digest::from_hex(&image.id)?)?;
            let v: serde_json::Value = serde_json::from_slice(&raw)
                .map_err(|e| Error::other(format!("image config {}: {e}", image.id)))?;
            return Ok(v["comment"].as_str().unwrap_or_default().to_string());
        }
        Ok(self
            .image_config(image)?
            .history()
            .as_ref()
            .and_then(|h| h.first())
            .and_then(|h| h.comment().clone())
            .unwrap_or_default())
    }

    /// The unpacked layer directories of an image, top-most first (overlay's lowerdir order).
    /// Layers are stored by diff id, so an image whose stack holds one diff twice (two RUN
    /// steps that changed nothing: the empty layer twice) lists its directory once, where it
    /// is top-most: overlayfs refuses a lower dir given twice (ELOOP), and every entry of the
    /// lower copy is shadowed by the same entry of the upper one, so the tree is the same.
    pub fn layer_dirs(&self, image: &ImageRecord) -> Result<Vec<PathBuf>> {
        let store = self.layer_store();
        let mut seen = std::collections::HashSet::new();
        image
            .layers
            .iter()
            .rev()
            .filter(|l| seen.insert(l.as_str()))
            .map(|l| store.layer_dir(l).map_err(Error::from))
            .collect()
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        self.db.images()
    }

    pub fn tag_image(&self, reference: &str, new_name: &str) -> Result<()> {
        let image = self.resolve_image(reference)?;
        let name = crate::image::normalize(new_name)?;
        self.db.tag_image(&image.id, &name)?;
        self.emit_image("tag", &image.id, new_name);
        Ok(())
    }

    /// `untag IMAGE [NAME…]`: removes the names given (every name when none is), after
    /// checking that each is one of the image's (Podman's `tag not known` otherwise).
    pub fn untag_image(&self, reference: &str, names: &[String]) -> Result<()> {
        let image = self.resolve_image(reference)?;
        let doomed: Vec<String> = if names.is_empty() {
            image.names.clone()
        } else {
            let mut out = Vec::new();
            for n in names {
                let full = crate::image::normalize(n)?;
                if !image.names.contains(&full) {
                    return Err(Error::invalid(format!("{full}: tag not known")));
                }
                out.push(full);
            }
            out
        };
        for n in &doomed {
            self.db.untag_image(n)?;
            self.emit_image("untag", &image.id, n);
        }
        Ok(())
    }

    /// `rmi`: untag a name, or delete the image when no name is left (or it was named by
    /// id). An image used by a container is refused unless `force`, which removes those
    /// containers too.
    pub fn remove_image(&self, reference: &str, force: bool) -> Result<RemovedImage> {
        self.remove_image_inner(reference, force, false)
    }

    /// `rmi IMAGE`: [`Engine::remove_image`], then, as Podman's (libimage's
    /// `removeRecursive`), each parent that is left dangling — no name, no other child, no
    /// container — goes too (a build's intermediate images go with the image they led to).
    pub fn remove_image_and_dangling_parents(
        &self,
        reference: &str,
        force: bool,
    ) -> Result<RemovedImage> {
        let image = self.resolve_image(reference)?;
        let mut parent = self.parent_image(&image)?;
        let mut out = self.remove_image(reference, force)?;
        if out.deleted.is_none() {
            return Ok(out);
        }
        while let Some((p, other_children)) = parent.take() {
            if !p.names.is_empty()
                || other_children
                || !self.db.containers_using_image(&p.id)?.is_empty()
            {
                break;
            }
            parent = self.parent_image(&p)?;
            match self.remove_image(&p.id, false) {
                Ok(r) if r.deleted.is_some() => out.deleted_parents.push(p.id.clone()),
                Ok(_) | Err(Error::NoSuchImage(_)) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// `rmi --all`: the image goes whole, every name with it, as Podman's `rmi -a` does
    /// (an image with several names needs no `--force` then).
    pub fn remove_image_whole(&self, reference: &str, force: bool) -> Result<RemovedImage> {
        self.remove_image_inner(reference, force, true)
    }

    fn remove_image_inner(
        &self,
        reference: &str,
        force: bool,
        whole: bool,
    ) -> Result<RemovedImage> {
        let image = self.resolve_image(reference)?;
        let mut out = RemovedImage::default();
        let by_name = crate::image::candidates(reference)
            .unwrap_or_default()
            .into_iter()
            .find(|c| image.names.contains(c));
        if let Some(name) = &by_name
            && image.names.len() > 1
            && !whole
        {
            self.db.untag_image(name)?;
            self.emit_image("untag", &image.id, name);
            out.untagged.push(name.clone());
            return Ok(out);
        }
        if by_name.is_none() && image.names.len() > 1 && !force && !whole {
            return Err(Error::invalid(format!(
                "unable to delete image {:?} by ID with more than one tag ([{}]): please force removal",
                image.id,
                image.names.join(" ")
            )));
        }
        let users = self.db.containers_using_image(&image.id)?;
        if !users.is_empty() {
            if !force {
                return Err(Error::ImageInUse {
                    image: image.id.clone(),
                    containers: users
                        .iter()
                        .map(|(id, _)| id.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            for (id, _) in &users {
                // An infra container goes with its pod and the pod's other containers (as
                // Podman's `rmi -f` of the infra image).
                let infra_of = match self.db.container(id)? {
                    Some(c) if c.config.is_infra && !c.config.pod.is_empty() => Some(c.config.pod),
                    Some(_) => None,
                    None => continue,
                };
                if let Some(pod) = infra_of {
                    match self.remove_pod(&pod, true, Some(0)) {
                        Ok(_) | Err(Error::NoSuchPod(_)) => {}
                        Err(e) => return Err(e),
                    }
                } else {
                    self.remove(
                        id,
                        &crate::container::RemoveOptions {
                            force: true,
                            volumes: false,
                            timeout: Some(0),
                        },
                    )?;
                }
                out.containers.push(id.clone());
            }
        }
        self.drop_image_mount(&image.id)?;
        self.db.delete_image(&image.id)?;
        out.untagged = image.names.clone();
        // Blobs and layers no other image uses go too.
        let blobs = self.blobs();
        let mut errors = Vec::new();
        let others: Vec<ImageRecord> = self
            .db
            .images()?
            .into_iter()
            .filter(|r| r.id != image.id)
            .collect();
        let blob_used = |d: &str| {
            others.iter().any(|r| {
                r.manifest_digest == d
                    || r.digests.iter().any(|x| x == d)
                    || r.layers.iter().any(|x| x == d)
                    || r.layer_blobs.iter().flatten().any(|(x, _)| x == d)
            })
        };
        for (i, l) in image.layers.iter().enumerate() {
            if !self.db.layer_in_use(l, &image.id)? {
                if let Err(e) = self.layer_store().remove(l) {
                    errors.push(Error::from(e));
                }
                if let Ok(d) = Digest::parse(l) {
                    let _ = blobs.remove(&d);
                }
            }
            if let Some(Some((b, _))) = image.layer_blobs.get(i)
                && !blob_used(b)
                && let Ok(d) = Digest::parse(b)
            {
                let _ = blobs.remove(&d);
            }
        }
        let manifests = std::iter::once(&image.manifest_digest).chain(&image.digests);
        for d in manifests
            .filter(|d| !blob_used(d))
            .filter_map(|d| Digest::parse(d).ok())
            .chain(Digest::from_hex(&image.id).ok())
        {
            let _ = blobs.remove(&d);
        }
        out.deleted = Some(image.id.clone());
        for n in &image.names {
            self.emit_image("untag", &image.id, n);
        }
        self.emit_image("remove", &image.id, &image.id);
        Error::collect(errors)?;
        Ok(out)
    }
}
