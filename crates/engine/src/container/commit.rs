//! `commit`: a container's changes become a new image.
//!
//! The new layer is the container's overlay upper dir as a tarball (whiteouts and opaque
//! directories converted, see [`crate::layer::write_tree`]), or with `--squash` the whole
//! merged tree as the only layer. The config is built as Podman builds it (libpod's
//! `Commit` over buildah): the image's config, then the container's entrypoint, command,
//! environment, ports, labels, user, volumes and working directory, then `--change`s; a
//! history entry `/bin/sh` with comment `FROM <image>`. `--format docker` writes a v2s2
//! manifest and keeps `-m` as the config's `comment`; the OCI format refuses `-m`, as
//! Podman does.
//!
//! The container's lock is held throughout (its upper dir cannot go away); with `--pause`
//! a running container is frozen while its changes are read. The layer, config and
//! manifest are made in a scratch store and moved into the stores only when everything is
//! ready (see [`crate::image::archive::Undo`]): a failed or killed commit leaves nothing.

use std::fs::File;
use std::path::{Path, PathBuf};

use oci_spec::image::{Config, HistoryBuilder, ImageConfiguration};

use super::{Container, Status};
use crate::Engine;
use crate::error::{Error, Result};
use crate::image::archive::{Stores, Undo};
use crate::image::registry::manifest::{
    DOCKER_CONFIG, DOCKER_MANIFEST, Descriptor, ImageManifest, OCI_CONFIG, OCI_MANIFEST,
};
use crate::image::registry::{Event, ProgressSink};
use crate::image::{Change, Digest, ImageError, apply_change, parse_change};
use crate::state::ImageRecord;

/// A layer's compressed blob and media type, as an image record keeps it.
type LayerBlob = Option<(String, String)>;

/// `--format` of `commit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitFormat {
    #[default]
    Oci,
    Docker,
}

impl CommitFormat {
    pub fn parse(s: &str) -> Result<CommitFormat> {
        match s {
            "oci" => Ok(CommitFormat::Oci),
            "docker" => Ok(CommitFormat::Docker),
            _ => Err(Error::invalid(format!("unrecognized image format {s:?}"))),
        }
    }
}

/// What `commit` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// The new image's name (none: a dangling image).
    pub name: Option<String>,
    /// `-c` instructions.
    pub changes: Vec<String>,
    /// `-m` (docker format only).
    pub message: Option<String>,
    /// `-a`.
    pub author: Option<String>,
    /// `-p`: freeze a running container while its changes are read.
    pub pause: bool,
    /// `-s`: one layer with the whole tree.
    pub squash: bool,
    pub format: CommitFormat,
    /// `--include-volumes`: every volume the user gave becomes an image VOLUME (else only
    /// the anonymous ones).
    pub include_volumes: bool,
}

impl Engine {
    /// `commit CONTAINER [IMAGE]`: returns the new image's record.
    pub fn commit(
        &self,
        reference: &str,
        opts: &CommitOptions,
        sink: &dyn ProgressSink,
    ) -> Result<ImageRecord> {
        if opts.format == CommitFormat::Oci && opts.message.is_some() {
            return Err(Error::invalid(
                "messages are only compatible with the docker image format (-f docker)",
            ));
        }
        let changes = opts
            .changes
            .iter()
            .map(|c| parse_change(c))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let name = opts
            .name
            .as_deref()
            .map(crate::image::normalize)
            .transpose()?;
        let found = self.db.lookup_container(reference)?;
        let _lock = self.lock(found.id())?;
        let mut c = self.container(found.id())?;
        if c.config.rootfs.is_some() {
            return Err(Error::invalid(format!(
                "container {} runs on a root filesystem of its own (--rootfs), not an image: commit needs an image's layers",
                c.name()
            )));
        }
        let image = self
            .db
            .image(&c.config.image_id)?
            .ok_or_else(|| Error::NoSuchImage(c.config.image_id.clone()))?;
        let paused = opts.pause && c.state.status == Status::Running;
        if paused {
            self.runtime()?.pause(c.id()).map_err(|e| {
                Error::other(format!("pausing container {:?} to commit: {e}", c.id()))
            })?;
            c.state.status = Status::Paused;
            self.db.update_state(c.id(), &c.state)?;
        }
        let result = self.commit_locked(&c, &image, opts, &changes, name, sink);
        if paused {
            match self.runtime().and_then(|rt| rt.resume(c.id())) {
                Ok(()) => {
                    c.state.status = Status::Running;
                    self.db.update_state(c.id(), &c.state)?;
                }
                Err(e) => {
                    tracing::error!(id = c.id(), error = %e, "unpausing a container after commit")
                }
            }
        }
        result
    }

    fn commit_locked(
        &self,
        c: &Container,
        image: &ImageRecord,
        opts: &CommitOptions,
        changes: &[Change],
        name: Option<String>,
        sink: &dyn ProgressSink,
    ) -> Result<ImageRecord> {
        let parent = self.image_config(image)?;
        let blobs = self.blobs();
        let layers = self.layer_store();
        let stores = Stores {
            blobs: &blobs,
            layers: &layers,
            tmp: self.paths.root.join("tmp"),
            lock_dir: self.paths.locks(),
        };
        let mut undo = Undo::new(&stores)?;
        let (diff_id, tar_size) = self.commit_layer(c, image, opts.squash, &mut undo)?;
        let (diff_ids, layer_blobs) = new_layers(image, opts.squash, &diff_id)?;
        sink.event(Event::GettingSignatures);
        for d in &diff_ids {
            sink.event(Event::BlobStart {
                digest: d.to_string(),
                size: None,
            });
            sink.event(Event::BlobDone {
                digest: d.to_string(),
            });
        }
        let config_bytes = commit_config_bytes(&parent, c, opts, changes, &diff_ids)?;
        let id = undo.put(&config_bytes)?;
        undo.keep(&id);
        sink.event(Event::Config {
            digest: id.to_string(),
        });
        sink.event(Event::WritingManifest);
        let manifest = self.commit_manifest(
            opts.format,
            &id,
            &config_bytes,
            (&diff_ids, &layer_blobs),
            &undo,
        )?;
        let manifest_digest = undo.put(&manifest)?;
        undo.keep(&manifest_digest);
        undo.keep(&diff_id);
        sink.event(Event::StoringSignatures);
        let size = if opts.squash {
            tar_size
        } else {
            image.size + tar_size
        };
        let rec = ImageRecord {
            id: id.hex().to_string(),
            manifest_digest: manifest_digest.to_string(),
            layers: diff_ids.iter().map(|d| d.to_string()).collect(),
            created: chrono::Utc::now(),
            size,
            names: name.into_iter().collect(),
            digests: Vec::new(),
            layer_blobs,
            manifest_type: Some(
                match opts.format {
                    CommitFormat::Oci => OCI_MANIFEST,
                    CommitFormat::Docker => DOCKER_MANIFEST,
                }
                .to_string(),
            ),
            names_history: Vec::new(),
        };
        undo.publish()?;
        self.db.insert_image(&rec, &rec.names)?;
        undo.finish();
        self.emit_container(c, "commit");
        Ok(self.db.image(&rec.id)?.unwrap_or(rec))
    }

    /// Writes the new layer's tarball as a blob and unpacks it into the layer store;
    /// returns its diff id and length.
    fn commit_layer(
        &self,
        c: &Container,
        image: &ImageRecord,
        squash: bool,
        undo: &mut Undo<'_>,
    ) -> Result<(Digest, u64)> {
        let dir = self.paths.container_dir(c.id());
        let changes = self.container_changes(c)?;
        let upper = changes.upper.clone();
        let (diff_id, size) = if squash {
            let merged = self.paths.rootfs(c.id());
            // A vfs copy is the whole tree already (never a mount point).
            let vfs_copy = self.storage_driver() == crate::StorageDriver::Vfs
                && dir.join(super::rootfs::VFS_MARKER).exists();
            if crate::layer::is_mountpoint(&merged) || vfs_copy {
                undo.put_with(|w| crate::layer::write_tree(&merged, false, w))?
            } else {
                let view = SquashView::mount(self, &dir, &upper, image)?;
                undo.put_with(|w| crate::layer::write_tree(&view.target, false, w))?
            }
        } else {
            return self.commit_upper(&upper, undo);
        };
        self.store_layer_blob(diff_id, size, undo)
    }

    /// The layer of an overlay upper dir (whiteouts converted; an empty layer when the dir
    /// is missing), written as a blob and unpacked into the layer store; its diff id and
    /// length. `build` commits its steps with this too.
    pub(crate) fn commit_upper(&self, upper: &Path, undo: &mut Undo<'_>) -> Result<(Digest, u64)> {
        let (diff_id, size) = if upper.is_dir() {
            undo.put_with(|w| crate::layer::write_tree(upper, true, w))?
        } else {
            undo.put_with(|w| tar::Builder::new(w).finish())?
        };
        self.store_layer_blob(diff_id, size, undo)
    }

    fn store_layer_blob(
        &self,
        diff_id: Digest,
        size: u64,
        undo: &mut Undo<'_>,
    ) -> Result<(Digest, u64)> {
        if undo.layer_stored(diff_id.as_str()) {
            return Ok((diff_id, size));
        }
        let path = undo.blob_path(&diff_id);
        let f = File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
        let (summary, created) = undo
            .layer_target()
            .put_tar(std::io::BufReader::new(f))
            .map_err(ImageError::Tarball)?;
        if created {
            undo.unpacked(&summary.diff_id);
        }
        if summary.diff_id != diff_id.as_str() {
            return Err(Error::other(format!(
                "the committed layer unpacked to {}, not {diff_id}",
                summary.diff_id
            )));
        }
        Ok((diff_id, size))
    }

    /// The new image's manifest (OCI or v2s2): each layer by its stored blob (the new one
    /// still in the run's scratch store).
    pub(crate) fn commit_manifest(
        &self,
        format: CommitFormat,
        id: &Digest,
        config: &[u8],
        (diff_ids, layer_blobs): (&[Digest], &[LayerBlob]),
        undo: &Undo<'_>,
    ) -> Result<Vec<u8>> {
        let mut layers = Vec::new();
        for (i, d) in diff_ids.iter().enumerate() {
            let plain = undo.blob_path(d);
            let (digest, media_type) = match layer_blobs.get(i).cloned().flatten() {
                Some((b, mt)) if !plain.is_file() => (Digest::parse(&b)?, mt),
                _ => (d.clone(), String::new()),
            };
            let path = undo.blob_path(&digest);
            let size = std::fs::metadata(&path)
                .map_err(|e| Error::io("reading", &path, e))?
                .len();
            let media_type = match (media_type.is_empty(), format) {
                (false, _) => media_type,
                (true, CommitFormat::Oci) => "application/vnd.oci.image.layer.v1.tar".into(),
                (true, CommitFormat::Docker) => {
                    "application/vnd.docker.image.rootfs.diff.tar".into()
                }
            };
            layers.push(descriptor(media_type, &digest, size));
        }
        let (manifest_type, config_type) = match format {
            CommitFormat::Oci => (OCI_MANIFEST, OCI_CONFIG),
            CommitFormat::Docker => (DOCKER_MANIFEST, DOCKER_CONFIG),
        };
        let m = ImageManifest {
            schema_version: 2,
            media_type: manifest_type.to_string(),
            config: descriptor(config_type.to_string(), id, config.len() as u64),
            layers,
            annotations: None,
        };
        serde_json::to_vec(&m).map_err(|e| Error::other(format!("writing the manifest: {e}")))
    }
}

/// The new image's diff ids and kept blobs: the image's and the new layer's (only the new
/// one with `--squash`).
fn new_layers(
    image: &ImageRecord,
    squash: bool,
    diff_id: &Digest,
) -> Result<(Vec<Digest>, Vec<LayerBlob>)> {
    let (mut diff_ids, mut blobs): (Vec<Digest>, Vec<LayerBlob>) = if squash {
        (Vec::new(), Vec::new())
    } else {
        let ids = image
            .layers
            .iter()
            .map(|l| Digest::parse(l))
            .collect::<std::result::Result<_, _>>()?;
        let mut b = image.layer_blobs.clone();
        b.resize(image.layers.len(), None);
        (ids, b)
    };
    diff_ids.push(diff_id.clone());
    blobs.push(None);
    Ok((diff_ids, blobs))
}

fn descriptor(media_type: String, digest: &Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type,
        digest: digest.to_string(),
        size,
        urls: None,
        annotations: None,
        platform: None,
    }
}

/// A read-only overlay of the container's upper dir over its image, for `--squash` of a
/// container whose rootfs is not mounted; unmounted when dropped.
struct SquashView {
    target: PathBuf,
}

impl SquashView {
    fn mount(engine: &Engine, dir: &Path, upper: &Path, image: &ImageRecord) -> Result<Self> {
        let target = dir.join("commit-view");
        std::fs::create_dir_all(&target).map_err(|e| Error::io("creating", &target, e))?;
        let mut lowers = Vec::new();
        if upper.is_dir() {
            lowers.push(upper.to_path_buf());
        }
        lowers.extend(engine.layer_dirs(image)?);
        engine
            .overlay()
            .mount_ro(&lowers, &dir.join("empty"), &target)?;
        Ok(SquashView { target })
    }
}

impl Drop for SquashView {
    fn drop(&mut self) {
        if let Err(e) = crate::layer::unmount(&self.target) {
            tracing::warn!(path = %self.target.display(), error = %e, "unmounting the squash view");
        }
        let _ = std::fs::remove_dir(&self.target);
    }
}

/// The container's settings over the image's config, then the changes (libpod's order).
fn commit_config(
    parent: &ImageConfiguration,
    c: &Container,
    opts: &CommitOptions,
    changes: &[Change],
) -> Config {
    let mut cfg = parent.config().clone().unwrap_or_default();
    let cc = &c.config;
    let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    cfg.set_entrypoint(non_empty(&cc.entrypoint));
    cfg.set_cmd(non_empty(&cc.cmd));
    let env = cc
        .env
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect();
    apply_change(&mut cfg, &Change::Env(env));
    let mut ports: Vec<String> = Vec::new();
    for p in &cc.ports {
        for proto in crate::network::ports::protocols(p) {
            ports.push(format!("{}/{proto}", p.container_port));
        }
    }
    ports.extend(cc.exposed_ports.iter().cloned());
    if !ports.is_empty() {
        apply_change(&mut cfg, &Change::Expose(ports));
    }
    if !cc.labels.is_empty() {
        let labels = cc
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        apply_change(&mut cfg, &Change::Label(labels));
    }
    if !cc.user.is_empty() {
        cfg.set_user(Some(cc.user.clone()));
    }
    let volumes: Vec<String> = cc
        .mounts
        .iter()
        .filter(|m| !m.from_image && m.kind != crate::volume::MountKind::Tmpfs)
        .filter(|m| opts.include_volumes || m.kind == crate::volume::MountKind::Anonymous)
        .map(|m| m.destination.clone())
        .collect();
    if !volumes.is_empty() {
        apply_change(&mut cfg, &Change::Volume(volumes));
    }
    if !cc.workdir.is_empty() {
        cfg.set_working_dir(Some(cc.workdir.clone()));
    }
    for ch in changes {
        apply_change(&mut cfg, ch);
    }
    cfg
}

/// The new image config's bytes: the parent's platform, the new config, the diff ids, the
/// history with one more entry; for the docker format the `comment` and `container`.
fn commit_config_bytes(
    parent: &ImageConfiguration,
    c: &Container,
    opts: &CommitOptions,
    changes: &[Change],
    diff_ids: &[Digest],
) -> Result<Vec<u8>> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let spec = |e: oci_spec::OciSpecError| Error::other(format!("building the image config: {e}"));
    let from = if c.config.image_name.is_empty() {
        c.config.image_id.clone()
    } else {
        c.config.image_name.clone()
    };
    let mut entry = HistoryBuilder::default()
        .created(now.clone())
        .created_by("/bin/sh")
        .comment(format!("FROM {from}"));
    if let Some(a) = &opts.author {
        entry = entry.author(a.clone());
    }
    let mut history = if opts.squash {
        Vec::new()
    } else {
        parent.history().clone().unwrap_or_default()
    };
    history.push(entry.build().map_err(spec)?);
    let mut image = parent.clone();
    image.set_created(Some(now));
    image.set_author(opts.author.clone());
    image.set_config(Some(commit_config(parent, c, opts, changes)));
    image.set_history(Some(history));
    let mut rootfs = image.rootfs().clone();
    rootfs.set_diff_ids(diff_ids.iter().map(|d| d.to_string()).collect());
    image.set_rootfs(rootfs);
    let mut v = serde_json::to_value(&image)
        .map_err(|e| Error::other(format!("writing the image config: {e}")))?;
    if opts.format == CommitFormat::Docker
        && let Some(obj) = v.as_object_mut()
    {
        if let Some(m) = &opts.message {
            obj.insert("comment".into(), m.clone().into());
        }
        obj.insert("container".into(), c.id().into());
    }
    serde_json::to_vec(&v).map_err(|e| Error::other(format!("writing the image config: {e}")))
}
