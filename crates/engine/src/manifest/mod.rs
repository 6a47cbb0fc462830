//! Manifest lists (`manifest create/add/annotate/remove/inspect/rm/exists/push`), kept as
//! libimage keeps them: an image in the store with a random id, names, no layers, whose
//! stored manifest is the list. Its blob is peapod's [`ListDoc`] (the entries and where
//! each came from); the record's `manifest_type` is the OCI index type. A change writes a
//! new blob and updates the record in one step; nothing is written before every image to add
//! was read, so a failed command leaves the store as it was. Changes to lists hold one lock
//! (`images/manifest-lists.lock`) from reading the list to writing it, so two commands
//! changing one list at once both land.

mod add;
pub mod list;
mod push;

pub use list::{Instance, ListDoc, ListFormat, ListPlatform};
pub use push::ListPushRequest;

use std::collections::BTreeMap;

use crate::Engine;
use crate::error::{Error, Result};
use crate::image::Digest;
use crate::image::registry::RemoteOptions;
use crate::image::registry::manifest::OCI_INDEX;
use crate::images::RemovedImage;
use crate::state::ImageRecord;

/// Platform fields and annotations to set on an entry (`add` and `annotate` flags).
#[derive(Debug, Clone, Default)]
pub struct Annotate {
    pub arch: Option<String>,
    pub os: Option<String>,
    pub variant: Option<String>,
    pub os_version: Option<String>,
    pub features: Vec<String>,
    pub os_features: Vec<String>,
    /// `KEY=VALUE`, as given.
    pub annotations: Vec<String>,
}

/// `manifest create`.
#[derive(Debug, Clone, Default)]
pub struct CreateListRequest {
    pub name: String,
    pub images: Vec<String>,
    /// `--all`: add every image of a list given.
    pub all: bool,
    /// `--amend`: use an existing list of that name.
    pub amend: bool,
    pub remote: RemoteOptions,
}

/// `manifest add`.
#[derive(Debug, Clone, Default)]
pub struct AddRequest {
    pub list: String,
    pub image: String,
    pub all: bool,
    pub annotate: Annotate,
    pub remote: RemoteOptions,
}

/// Whether a stored image is a manifest list.
pub fn is_list(rec: &ImageRecord) -> bool {
    rec.manifest_type.as_deref() == Some(OCI_INDEX) && rec.layers.is_empty()
}

/// The lock held while a list is read, changed and written.
type ListLock = nix::fcntl::Flock<std::fs::File>;

impl Engine {
    fn lock_lists(&self) -> Result<ListLock> {
        let dir = self.paths.images();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        let path = dir.join("manifest-lists.lock");
        let f = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("opening", &path, e))?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io("locking", &path, e.into()))
    }

    /// A list's entries, or None for an ordinary image.
    pub fn list_doc(&self, rec: &ImageRecord) -> Result<Option<ListDoc>> {
        if !is_list(rec) {
            return Ok(None);
        }
        let bytes = self.blobs().get(&Digest::parse(&rec.manifest_digest)?)?;
        let doc = serde_json::from_slice(&bytes)
            .map_err(|e| Error::other(format!("manifest list {}: corrupt: {e}", rec.id)))?;
        Ok(Some(doc))
    }

    /// The list `reference` names: `NAME: image not known`, or `NAME: image is not a
    /// manifest list` (Podman's words).
    pub fn lookup_list(&self, reference: &str) -> Result<(ImageRecord, ListDoc)> {
        let rec = self.resolve_image(reference)?;
        match self.list_doc(&rec)? {
            Some(doc) => Ok((rec, doc)),
            None => Err(Error::invalid(format!(
                "{}: image is not a manifest list",
                self.image_display_name(reference, &rec)
                    .unwrap_or_else(|| reference.to_string())
            ))),
        }
    }

    /// Writes `doc` as the list's content; `name` when the record is new.
    fn save_list(&self, mut rec: ImageRecord, doc: &ListDoc, new: Option<&str>) -> Result<String> {
        let json = serde_json::to_vec(doc).map_err(|e| Error::other(e.to_string()))?;
        let blobs = self.blobs();
        let digest = blobs.put(&json)?;
        let old = std::mem::replace(&mut rec.manifest_digest, digest.to_string());
        rec.size = doc.stored_size();
        let written = match new {
            Some(name) => self.db.insert_image(&rec, &[name.to_string()]),
            None => self.db.update_image(&rec),
        };
        if let Err(e) = written {
            if old != rec.manifest_digest {
                let _ = blobs.remove(&digest);
            }
            return Err(e);
        }
        if old != rec.manifest_digest
            && !self.db.images()?.iter().any(|r| r.manifest_digest == old)
            && let Ok(d) = Digest::parse(&old)
        {
            let _ = blobs.remove(&d);
        }
        Ok(rec.id)
    }

    /// `manifest create NAME [IMAGE…]`: returns the list's id.
    pub fn create_manifest_list(&self, req: &CreateListRequest) -> Result<String> {
        let name = crate::image::normalize(&req.name)?;
        let _lock = self.lock_lists()?;
        let (rec, mut doc, new) = match self.db.image_by_name(&name)? {
            Some(id) if req.amend => {
                let (rec, doc) = self.lookup_list(&name)?;
                debug_assert_eq!(rec.id, id);
                (rec, doc, None)
            }
            Some(id) => {
                return Err(Error::invalid(format!(
                    "creating image to hold manifest list: image name {name:?} is already associated with image {id:?}: that name is already in use"
                )));
            }
            None => (new_list_record(), ListDoc::default(), Some(name.as_str())),
        };
        for image in &req.images {
            self.add_to_doc(&mut doc, image, req.all, &req.remote)?;
        }
        if new.is_none() && req.images.is_empty() {
            return Ok(rec.id);
        }
        self.save_list(rec, &doc, new)
    }

    /// `manifest add LIST IMAGE`: returns the list's id.
    pub fn manifest_add(&self, req: &AddRequest) -> Result<String> {
        let _lock = self.lock_lists()?;
        let (rec, mut doc) = self.lookup_list(&req.list)?;
        let added = self.add_to_doc(&mut doc, &req.image, req.all, &req.remote)?;
        for d in &added {
            annotate(&mut doc, d, &req.annotate)?;
        }
        self.save_list(rec, &doc, None)
    }

    /// `manifest annotate LIST DIGEST`: returns the list's id.
    pub fn manifest_annotate(&self, list: &str, digest: &str, a: &Annotate) -> Result<String> {
        let d = parse_digest(digest)?;
        let _lock = self.lock_lists()?;
        let (rec, mut doc) = self.lookup_list(list)?;
        if doc.find_mut(&d).is_none() {
            return Err(Error::invalid(format!(
                "no OCI manifest matching digest {d:?} was found in list: no image instance matching the specified digest was found in the list or index"
            )));
        }
        annotate(&mut doc, &d, a)?;
        self.save_list(rec, &doc, None)
    }

    /// `manifest remove LIST DIGEST`: returns the list's id.
    pub fn manifest_remove(&self, list: &str, digest: &str) -> Result<String> {
        let fail = |e: String| Error::invalid(format!("removing from manifest list {list}: {e}"));
        let d = parse_digest(digest).map_err(|e| fail(e.to_string()))?;
        let _lock = self.lock_lists()?;
        let (rec, mut doc) = self.lookup_list(list)?;
        if !doc.remove(&d) {
            return Err(fail(format!(
                "no instance matching digest {d:?} found in manifest list: file does not exist"
            )));
        }
        self.save_list(rec, &doc, None)
    }

    /// `manifest rm LIST`: removes the list (not the images in it).
    pub fn manifest_rm(&self, list: &str) -> Result<RemovedImage> {
        let (rec, _) = self.lookup_list(list)?;
        self.remove_image_whole(&rec.id, false)
    }

    /// `manifest exists`: false when nothing has that name; an image that is not a list is
    /// an error, as in Podman.
    pub fn manifest_exists(&self, list: &str) -> Result<bool> {
        match self.lookup_list(list) {
            Ok(_) => Ok(true),
            Err(Error::NoSuchImage(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `manifest inspect`: a local list as Podman prints it, else what the registry holds
    /// under that name (a list the same way, an image manifest as JSON).
    pub fn manifest_inspect(&self, list: &str, remote: &RemoteOptions) -> Result<String> {
        match self.lookup_list(list) {
            Ok((_, doc)) => Ok(doc.inspect_json()),
            Err(_) => self.inspect_remote(list, remote),
        }
    }

    /// The image of a list for this host's platform (`image inspect` of a list, as
    /// libimage's lookup does): the first entry for it that is an image in the store.
    pub fn list_instance_for_host(&self, doc: &ListDoc) -> Result<Option<ImageRecord>> {
        let host = crate::image::registry::Platform::host();
        let images = self.db.images()?;
        for m in &doc.manifests {
            if m.platform.os != host.os || m.platform.architecture != host.architecture {
                continue;
            }
            if let Some(r) = images.iter().find(|r| {
                !is_list(r) && (r.manifest_digest == m.digest || r.digests.contains(&m.digest))
            }) {
                let mut r = r.clone();
                r.names = self.db.image_names(&r.id)?;
                return Ok(Some(r));
            }
        }
        Ok(None)
    }
}

/// A new, empty list's record: a random id, as c/storage gives an image created without one.
fn new_list_record() -> ImageRecord {
    let id = hex::encode(rand::random::<[u8; 32]>());
    let doc = ListDoc::default();
    ImageRecord {
        id,
        manifest_digest: String::new(),
        layers: Vec::new(),
        created: chrono::Utc::now(),
        size: doc.stored_size(),
        names: Vec::new(),
        digests: Vec::new(),
        layer_blobs: Vec::new(),
        manifest_type: Some(OCI_INDEX.to_string()),
        names_history: Vec::new(),
    }
}

/// A digest as `annotate`/`remove` take it, in Podman's words when it is not one.
fn parse_digest(s: &str) -> Result<String> {
    Digest::parse(s).map(String::from).map_err(|_| {
        Error::invalid(format!(
            "invalid image digest {s:?}: invalid checksum digest format"
        ))
    })
}

/// Sets what `a` gives on the entry `digest`.
fn annotate(doc: &mut ListDoc, digest: &str, a: &Annotate) -> Result<()> {
    let mut annotations = BTreeMap::new();
    for kv in &a.annotations {
        match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                annotations.insert(k.to_string(), v.to_string());
            }
            _ => {
                return Err(Error::invalid(format!(
                    "no value given for annotation {kv:?}"
                )));
            }
        }
    }
    let Some(m) = doc.find_mut(digest) else {
        return Ok(());
    };
    let set = |field: &mut String, v: &Option<String>| {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            *field = v.clone();
        }
    };
    set(&mut m.platform.architecture, &a.arch);
    set(&mut m.platform.os, &a.os);
    set(&mut m.platform.variant, &a.variant);
    set(&mut m.platform.os_version, &a.os_version);
    if !a.features.is_empty() {
        m.platform.features = a.features.clone();
    }
    if !a.os_features.is_empty() {
        m.platform.os_features = a.os_features.clone();
    }
    m.annotations.extend(annotations);
    Ok(())
}
