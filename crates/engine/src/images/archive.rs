//! `save` and `load` tied to the database: which images and names a save writes (Podman's
//! rules for several names, with and without `-m`), where it writes, and the records a
//! load makes. The formats themselves are in [`crate::image::archive`].

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::Engine;
use crate::error::{Error, Result};
use crate::image::archive::{
    self, ArchiveFormat, LayerChoice, LoadInput, LoadedImage, SaveImage, SaveTarget, StoredLayer,
    Stores,
};
use crate::image::registry::ProgressSink;
use crate::image::{Digest, ImageError};
use crate::state::ImageRecord;

/// What `save` is asked to do.
#[derive(Debug, Clone)]
pub struct SaveRequest {
    /// The names given: the image, then more tags for it (or, with `multi_image`, more
    /// images).
    pub names: Vec<String>,
    pub format: ArchiveFormat,
    /// `-m`: every name is an image of its own.
    pub multi_image: bool,
    /// `--compress` (docker-dir only).
    pub compress: bool,
    /// `--uncompressed`: OCI layouts keep their layers uncompressed.
    pub uncompressed: bool,
    /// No `save` event (the save is a push to a local transport, logged as such).
    pub quiet: bool,
}

/// Where `save` writes.
pub enum SaveOutput<'a> {
    /// `-o PATH`.
    Path(&'a Path),
    /// Standard output (a pipe or file, never a terminal: the front end checks).
    Stream(&'a mut dyn Write),
}

impl Engine {
    fn archive_stores(&self) -> (crate::image::BlobStore, crate::layer::LayerStore, PathBuf) {
        (
            self.blobs(),
            self.layer_store(),
            self.paths.root.join("tmp"),
        )
    }

    /// `save`: the images named by `req` into `out`.
    pub fn save_images(
        &self,
        req: &SaveRequest,
        out: SaveOutput<'_>,
        sink: &dyn ProgressSink,
    ) -> Result<()> {
        if req.compress && req.format != ArchiveFormat::DockerDir {
            return Err(Error::invalid(
                "--compress can only be set when --format is 'docker-dir'",
            ));
        }
        if req.names.is_empty() {
            return Err(Error::invalid("need at least 1 argument"));
        }
        if req.multi_image && req.names.len() > 1 && req.format != ArchiveFormat::DockerArchive {
            return Err(Error::invalid(format!(
                "unsupported format {:?} for saving multiple images (only docker-archive)",
                req.format.name()
            )));
        }
        let images = self.images_to_save(req)?;
        let (blobs, layers, tmp) = self.archive_stores();
        let stores = Stores {
            blobs: &blobs,
            layers: &layers,
            tmp,
            lock_dir: self.paths.locks(),
        };
        let write = |target: SaveTarget<'_>| {
            let choice = LayerChoice {
                compress: req.compress,
                uncompressed: req.uncompressed,
            };
            archive::save(&stores, &images, req.format, target, choice, sink)
        };
        let event_name = match &out {
            SaveOutput::Path(p) => p.display().to_string(),
            SaveOutput::Stream(_) => String::new(),
        };
        let result = self.save_to(out, req, write);
        if result.is_ok() && !req.quiet {
            for img in &images {
                self.emit_image("save", img.id.hex(), &event_name);
            }
        }
        result
    }

    /// `push IMAGE dir:PATH` (also `docker-archive:`, `oci-archive:`, `oci:`): the image
    /// written as `save` writes that format, logged as a push to `destination`. None when
    /// `destination` names no local transport.
    pub fn push_to_transport(
        &self,
        source: &str,
        destination: &str,
        sink: &dyn ProgressSink,
    ) -> Option<Result<()>> {
        let (format, path) = [
            ("dir:", ArchiveFormat::DockerDir),
            ("docker-archive:", ArchiveFormat::DockerArchive),
            ("oci-archive:", ArchiveFormat::OciArchive),
            ("oci:", ArchiveFormat::OciDir),
        ]
        .into_iter()
        .find_map(|(prefix, f)| destination.strip_prefix(prefix).map(|p| (f, p)))?;
        let req = SaveRequest {
            names: vec![source.to_string()],
            format,
            multi_image: false,
            compress: false,
            uncompressed: false,
            quiet: true,
        };
        Some((|| {
            let id = self.resolve_image(source)?.id;
            self.save_images(&req, SaveOutput::Path(Path::new(path)), sink)?;
            self.emit_image("push", &id, destination);
            Ok(())
        })())
    }

    fn save_to(
        &self,
        out: SaveOutput<'_>,
        req: &SaveRequest,
        write: impl Fn(SaveTarget<'_>) -> std::result::Result<(), ImageError>,
    ) -> Result<()> {
        match out {
            SaveOutput::Stream(w) => {
                let mut w = BufWriter::with_capacity(256 * 1024, w);
                write(SaveTarget::Stream(&mut w))?;
                w.flush()
                    .map_err(|e| Error::other(format!("writing the archive: {e}")))?;
                Ok(())
            }
            SaveOutput::Path(p) if req.format.is_dir() => {
                let existed = p.exists();
                let result = write(SaveTarget::Dir(p));
                if result.is_err() && !existed {
                    let _ = std::fs::remove_dir_all(p);
                }
                Ok(result?)
            }
            SaveOutput::Path(p) => {
                let (f, created) = open_output(p, req.format)?;
                let mut w = BufWriter::with_capacity(256 * 1024, &f);
                let result = write(SaveTarget::Stream(&mut w))
                    .map_err(Error::from)
                    .and_then(|()| {
                        w.flush().map_err(|e| Error::io("writing", p, e))?;
                        f.sync_all().map_err(|e| Error::io("writing", p, e))
                    });
                if result.is_err() {
                    drop(w);
                    if created {
                        let _ = std::fs::remove_file(p);
                    } else {
                        let _ = f.set_len(0);
                    }
                }
                result
            }
        }
    }

    /// The images a save writes, each with its tags: without `-m`, the first name's image
    /// tagged with the other names then its own; with `-m`, each name's image (names of one
    /// image gathered). A name given by id adds no tag.
    fn images_to_save(&self, req: &SaveRequest) -> Result<Vec<SaveImage>> {
        let mut found: Vec<(ImageRecord, Vec<String>)> = Vec::new();
        if req.multi_image {
            for n in &req.names {
                let rec = self.resolve_image(n)?;
                let tag = self.saved_tag(n, &rec);
                add_image(&mut found, rec, tag);
            }
        } else {
            let rec = self.resolve_image(&req.names[0])?;
            let own = self.saved_tag(&req.names[0], &rec);
            let mut tags: Vec<String> = req.names[1..]
                .iter()
                .filter_map(|t| crate::image::normalize(t).ok())
                .filter(|t| !t.contains('@'))
                .collect();
            tags.extend(own);
            for t in tags {
                add_image(&mut found, rec.clone(), Some(t));
            }
            if found.is_empty() {
                add_image(&mut found, rec, None);
            }
        }
        found
            .into_iter()
            .map(|(rec, tags)| self.save_image(&rec, tags))
            .collect()
    }

    /// The stored name `reference` matched (not a digest reference), or none when it was
    /// an id.
    fn saved_tag(&self, reference: &str, rec: &ImageRecord) -> Option<String> {
        self.image_display_name(reference, rec)
            .filter(|n| !n.contains('@'))
    }

    fn save_image(&self, rec: &ImageRecord, tags: Vec<String>) -> Result<SaveImage> {
        let id = Digest::from_hex(&rec.id)?;
        let config = self.blobs().get(&id)?;
        let layers = rec
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let blob = rec
                    .layer_blobs
                    .get(i)
                    .cloned()
                    .flatten()
                    .map(|(d, mt)| Digest::parse(&d).map(|d| (d, mt)))
                    .transpose()?;
                Ok(StoredLayer {
                    diff_id: Digest::parse(l)?,
                    blob,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SaveImage {
            id,
            config,
            layers,
            tags,
        })
    }

    /// `load`: the images of an archive (file, directory or stream), recorded; returns the
    /// names to report (`sha256:<id>` for an image without one), in the archive's order.
    pub fn load_images(
        &self,
        input: LoadInput<'_>,
        sink: &dyn ProgressSink,
    ) -> Result<Vec<String>> {
        let event_name = match &input {
            LoadInput::Path(p) => p.display().to_string(),
            LoadInput::Stream(_) => String::new(),
        };
        let names = self.load_archive(input, sink)?;
        self.emit_image("loadfromarchive", "", &event_name);
        Ok(names)
    }

    fn load_archive(&self, input: LoadInput<'_>, sink: &dyn ProgressSink) -> Result<Vec<String>> {
        let (blobs, layers, tmp) = self.archive_stores();
        let stores = Stores {
            blobs: &blobs,
            layers: &layers,
            tmp,
            lock_dir: self.paths.locks(),
        };
        let mut record = |images: &[LoadedImage]| -> std::result::Result<Vec<Digest>, ImageError> {
            let mut unused = Vec::new();
            for img in images {
                unused.extend(self.record_loaded(img).map_err(|e| {
                    ImageError::Archive(format!("recording image {}: {e}", img.id))
                })?);
            }
            Ok(unused)
        };
        let images = archive::load(&stores, input, sink, &mut record)?;
        let mut out = Vec::new();
        for img in &images {
            if img.names.is_empty() {
                out.push(img.id.to_string());
            }
            out.extend(img.names.iter().cloned());
        }
        Ok(out)
    }

    /// Records a loaded image (or adds its names to the stored one); returns the blobs of
    /// the load that the record does not use.
    fn record_loaded(&self, img: &LoadedImage) -> Result<Vec<Digest>> {
        if let Some(old) = self.db.image(img.id.hex())? {
            self.db.insert_image(&old, &img.names)?;
            let used = |d: &Digest| {
                let d = d.as_str();
                old.manifest_digest == d
                    || old.digests.iter().any(|x| x == d)
                    || old.layers.iter().any(|x| x == d)
                    || old.layer_blobs.iter().flatten().any(|(x, _)| x == d)
            };
            let loaded = std::iter::once(&img.manifest_digest)
                .chain(img.layer_blobs.iter().flatten().map(|(d, _)| d));
            return Ok(loaded.filter(|d| !used(d)).cloned().collect());
        }
        let created = img
            .config
            .created()
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_else(chrono::Utc::now);
        let rec = ImageRecord {
            id: img.id.hex().to_string(),
            manifest_digest: img.manifest_digest.to_string(),
            layers: img.layers.iter().map(|d| d.to_string()).collect(),
            created,
            size: img.size,
            names: img.names.clone(),
            digests: Vec::new(),
            layer_blobs: img
                .layer_blobs
                .iter()
                .map(|b| b.as_ref().map(|(d, mt)| (d.to_string(), mt.clone())))
                .collect(),
            manifest_type: Some(img.manifest_type.clone()),
            names_history: Vec::new(),
        };
        self.db.insert_image(&rec, &rec.names)?;
        Ok(Vec::new())
    }

    /// `docker-archive:PATH` / `oci-archive:PATH` given to `run`/`create`: loads the
    /// archive and returns the name to use (its first image's). `None` for any other
    /// reference.
    pub fn load_transport(
        &self,
        reference: &str,
        sink: &dyn ProgressSink,
    ) -> Option<Result<String>> {
        let path = reference
            .strip_prefix("docker-archive:")
            .or_else(|| reference.strip_prefix("oci-archive:"))?;
        Some(
            self.load_archive(LoadInput::Path(Path::new(path)), sink)
                .and_then(|names| {
                    let first = names.into_iter().next().ok_or_else(|| {
                        Error::invalid(format!("{reference}: the archive holds no image"))
                    })?;
                    self.emit_image("pull", "", reference);
                    Ok(first)
                }),
        )
    }
}

/// Adds `rec` (once) to the images to save, with `tag` (once).
fn add_image(found: &mut Vec<(ImageRecord, Vec<String>)>, rec: ImageRecord, tag: Option<String>) {
    let i = match found.iter().position(|(r, _)| r.id == rec.id) {
        Some(i) => i,
        None => {
            found.push((rec, Vec::new()));
            found.len() - 1
        }
    };
    if let Some(t) = tag
        && !found[i].1.contains(&t)
    {
        found[i].1.push(t);
    }
}

/// Opens `-o PATH` for a tar format. docker-archive refuses a non-empty regular file, as
/// c/image does; oci-archive replaces it. Returns whether the file was created.
fn open_output(p: &Path, format: ArchiveFormat) -> Result<(File, bool)> {
    let existed = p.exists();
    let mut opts = File::options();
    opts.write(true).create(true).mode(0o644);
    if format == ArchiveFormat::OciArchive {
        opts.truncate(true);
    }
    let f = opts.open(p).map_err(|e| {
        Error::other(format!(
            "opening file \"{}\": open {}: {}",
            p.display(),
            p.display(),
            match e.kind() {
                io::ErrorKind::NotFound => "no such file or directory".to_string(),
                _ => e.to_string(),
            }
        ))
    })?;
    let meta = f.metadata().map_err(|e| Error::io("reading", p, e))?;
    if format == ArchiveFormat::DockerArchive && meta.is_file() && meta.len() != 0 {
        return Err(Error::invalid(
            "docker-archive doesn't support modifying existing images",
        ));
    }
    Ok((f, !existed))
}
