//! Storing the image of a build step: the parent's config (kept as JSON, so fields the OCI
//! types do not know, such as a Docker `Healthcheck` or `OnBuild`, survive), one more
//! history entry, and the step's layer when it has one. Each step's image is recorded as a
//! nameless image, which is what keeps the cache alive between builds (`images -a`).
//!
//! The cache itself is a directory of files named by a step's cache key digest, each
//! holding the id of the image that step made. A hit needs the image to still exist.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::Engine;
use crate::container::CommitFormat;
use crate::error::{Error, IoContext, Result};
use crate::image::Digest;
use crate::image::archive::{Stores, Undo};
use crate::image::registry::manifest::{DOCKER_MANIFEST, OCI_MANIFEST};
use crate::state::ImageRecord;

/// The image a step starts from: its record (none for `FROM scratch` before any step)
/// and its config as JSON.
#[derive(Debug, Clone)]
pub struct StepImage {
    pub record: Option<ImageRecord>,
    pub config: Value,
}

impl StepImage {
    /// The id to key the cache on (`scratch` for nothing).
    pub fn id(&self) -> &str {
        self.record.as_ref().map_or("scratch", |r| r.id.as_str())
    }

    /// An empty image (`FROM scratch`) for the host platform.
    pub fn scratch() -> StepImage {
        let p = crate::build::expand::Platform::host();
        let mut config = json!({
            "architecture": p.arch,
            "os": p.os,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": []},
        });
        if let Some(v) = p.variant {
            config["variant"] = Value::String(v);
        }
        StepImage {
            record: None,
            config,
        }
    }

    /// The `config` object of the image config, made if missing.
    pub fn cfg(&mut self) -> &mut serde_json::Map<String, Value> {
        if !self.config["config"].is_object() {
            self.config["config"] = json!({});
        }
        self.config["config"]
            .as_object_mut()
            .expect("config is an object")
    }

    /// A string array of the `config` object.
    pub fn cfg_list(&self, key: &str) -> Vec<String> {
        self.config["config"][key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A string of the `config` object.
    pub fn cfg_str(&self, key: &str) -> String {
        self.config["config"][key]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// What a step's new image is made of.
pub struct NewStep<'a> {
    pub parent: &'a StepImage,
    /// The config after the step (its `history` and `rootfs` are filled here).
    pub config: Value,
    pub created_by: String,
    /// The step's overlay upper dir: a new layer (none: an empty-layer step).
    pub upper: Option<&'a Path>,
    pub format: CommitFormat,
    /// RFC 3339 creation time of the config and the history entry.
    pub created: String,
    /// A comment for the history entry (FROM of a base image).
    pub comment: Option<String>,
    /// `--timestamp`: every file of the new layer gets this mtime (seconds since the
    /// epoch), as Buildah writes them, so the same build at another time gives the same
    /// layer. `upper` is then changed in place: it must be the step's own scratch tree.
    pub file_time: Option<i64>,
}

impl Engine {
    /// Loads an image's config as JSON.
    pub(crate) fn step_image(&self, rec: ImageRecord) -> Result<StepImage> {
        let raw = self.blobs().get(&Digest::from_hex(&rec.id)?)?;
        let config: Value = serde_json::from_slice(&raw)
            .map_err(|e| Error::other(format!("image config {}: {e}", rec.id)))?;
        Ok(StepImage {
            record: Some(rec),
            config,
        })
    }

    /// Stores the image of one step (nameless); returns it.
    pub(crate) fn store_step(&self, step: NewStep<'_>) -> Result<StepImage> {
        let blobs = self.blobs();
        let layers = self.layer_store();
        let stores = Stores {
            blobs: &blobs,
            layers: &layers,
            tmp: self.paths.root.join("tmp"),
            lock_dir: self.paths.locks(),
        };
        let mut undo = Undo::new(&stores)?;
        let parent_rec = step.parent.record.as_ref();
        let mut diff_ids: Vec<Digest> = parent_rec
            .map(|r| r.layers.iter().map(|l| Digest::parse(l)).collect())
            .transpose()?
            .unwrap_or_default();
        let mut layer_blobs = parent_rec
            .map(|r| r.layer_blobs.clone())
            .unwrap_or_default();
        layer_blobs.resize(diff_ids.len(), None);
        let mut size = parent_rec.map_or(0, |r| r.size);
        let mut new_layer = None;
        if let Some(upper) = step.upper {
            if let Some(t) = step.file_time {
                set_tree_mtime(upper, t)?;
            }
            let (d, n) = self.commit_upper(upper, &mut undo)?;
            size += n;
            diff_ids.push(d.clone());
            layer_blobs.push(None);
            new_layer = Some(d);
        }
        let config = finish_config(step.config.clone(), &step, &diff_ids, new_layer.is_none());
        let config_bytes = serde_json::to_vec(&config)
            .map_err(|e| Error::other(format!("writing the image config: {e}")))?;
        let id = undo.put(&config_bytes)?;
        undo.keep(&id);
        let manifest = self.commit_manifest(
            step.format,
            &id,
            &config_bytes,
            (&diff_ids, &layer_blobs),
            &undo,
        )?;
        let manifest_digest = undo.put(&manifest)?;
        undo.keep(&manifest_digest);
        if let Some(d) = &new_layer {
            undo.keep(d);
        }
        if let Some(existing) = self.db.image(id.hex())? {
            // The same config again (same parent, same step, same time): it is that image.
            return Ok(StepImage {
                record: Some(existing),
                config,
            });
        }
        let rec = ImageRecord {
            id: id.hex().to_string(),
            manifest_digest: manifest_digest.to_string(),
            layers: diff_ids.iter().map(|d| d.to_string()).collect(),
            created: chrono::DateTime::parse_from_rfc3339(&step.created)
                .map(|d| d.with_timezone(&chrono::Utc))
                .unwrap_or_else(|_| chrono::Utc::now()),
            size,
            names: Vec::new(),
            digests: Vec::new(),
            layer_blobs,
            manifest_type: Some(
                match step.format {
                    CommitFormat::Oci => OCI_MANIFEST,
                    CommitFormat::Docker => DOCKER_MANIFEST,
                }
                .to_string(),
            ),
            names_history: Vec::new(),
        };
        undo.publish()?;
        self.db.insert_image(&rec, &[])?;
        undo.finish();
        Ok(StepImage {
            record: Some(self.db.image(&rec.id)?.unwrap_or(rec)),
            config,
        })
    }

    fn cache_dir(&self) -> PathBuf {
        self.paths.root.join("build-cache")
    }

    /// The image a cache key names, if it still exists.
    pub(crate) fn cache_lookup(&self, key: &str) -> Result<Option<StepImage>> {
        let path = self.cache_dir().join(key);
        let id = match std::fs::read_to_string(&path) {
            Ok(s) => s.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading", &path, e)),
        };
        match self.db.image(&id)? {
            Some(rec) => Ok(Some(self.step_image(rec)?)),
            None => Ok(None),
        }
    }

    /// Remember that the step with `key` made `id`.
    pub(crate) fn cache_store(&self, key: &str, id: &str) -> Result<()> {
        let dir = self.cache_dir();
        std::fs::create_dir_all(&dir).ctx("creating", &dir)?;
        // A private temporary name: parallel builds of the same step each write their own.
        let tmp = dir.join(format!(".{key}.{:016x}.tmp", rand::random::<u64>()));
        std::fs::write(&tmp, id).ctx("writing", &tmp)?;
        let path = dir.join(key);
        std::fs::rename(&tmp, &path).ctx("renaming", &path)
    }
}

/// The config with the new history entry, diff ids and time; the Docker-only fields
/// dropped for the OCI format.
fn finish_config(mut config: Value, step: &NewStep<'_>, diff_ids: &[Digest], empty: bool) -> Value {
    let mut entry = json!({
        "created": step.created,
        "created_by": step.created_by,
    });
    if let Some(c) = &step.comment {
        entry["comment"] = Value::String(c.clone());
    }
    if empty {
        entry["empty_layer"] = Value::Bool(true);
    }
    if !config["history"].is_array() {
        config["history"] = json!([]);
    }
    if let Some(h) = config["history"].as_array_mut() {
        h.push(entry);
    }
    config["created"] = Value::String(step.created.clone());
    config["rootfs"] = json!({
        "type": "layers",
        "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
    });
    if step.format == CommitFormat::Oci
        && let Some(c) = config["config"].as_object_mut()
    {
        for k in ["Healthcheck", "OnBuild", "Shell"] {
            c.remove(k);
        }
    }
    config
}

/// Sets the mtime (and atime) of everything below `root`, `root` included, to `secs`; never
/// follows a symlink (a link gets its own times).
fn set_tree_mtime(root: &Path, secs: i64) -> Result<()> {
    use nix::fcntl::AT_FDCWD;
    use nix::sys::stat::{UtimensatFlags, utimensat};
    use nix::sys::time::TimeSpec;
    let t = TimeSpec::new(secs, 0);
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("reading", &dir, e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io("reading", &dir, e))?;
            let path = e.path();
            let ft = e.file_type().map_err(|e| Error::io("reading", &path, e))?;
            if ft.is_dir() {
                todo.push(path.clone());
            }
            utimensat(AT_FDCWD, &path, &t, &t, UtimensatFlags::NoFollowSymlink)
                .map_err(|e| Error::io("setting the times of", &path, e.into()))?;
        }
    }
    utimensat(AT_FDCWD, root, &t, &t, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| Error::io("setting the times of", root, e.into()))
}
