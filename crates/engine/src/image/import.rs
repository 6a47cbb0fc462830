//! `import`: a rootfs tarball becomes a one-layer image.
//!
//! The tarball is read once: decompressed, then tee'd into a blob (the uncompressed tar,
//! whose digest is the layer's diff id) while it is unpacked into the layer store. Then an
//! OCI config and manifest are written as blobs. On any failure, everything this import
//! created (and nobody had before) is removed again.

use std::io::{self, Read, Write};

use oci_spec::image::{
    Arch, Config, DescriptorBuilder, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder,
    ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};

use super::ImageError;
use super::change::apply_changes;
use super::store::{BlobStore, BlobWriter, Digest};
use crate::layer::{self, LayerStore};

/// What `import` is asked to do besides reading the tarball.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `--change` instructions (see [`super::parse_change`]).
    pub changes: Vec<String>,
    /// `--message`: recorded as the history comment.
    pub message: Option<String>,
    /// GOOS-style name; defaults to the host's.
    pub os: String,
    /// GOARCH-style name; defaults to the host's.
    pub arch: String,
    pub variant: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            changes: Vec::new(),
            message: None,
            os: Os::default().to_string(),
            arch: Arch::default().to_string(),
            variant: None,
        }
    }
}

/// The image `import` stored.
#[derive(Debug, Clone)]
pub struct ImportedImage {
    /// Image id: the digest of the config blob.
    pub id: Digest,
    pub manifest_digest: Digest,
    pub config: ImageConfiguration,
    /// Diff ids, bottom-most first (one for an import).
    pub layers: Vec<Digest>,
    /// Uncompressed size of the layers, in bytes (what `podman images` counts, roughly).
    pub size: u64,
}

/// Passes reads through while copying them into a blob; remembers a write failure so it is
/// reported as such rather than as a broken tarball.
struct Tee<'a, R> {
    inner: R,
    out: &'a mut BlobWriter,
    write_error: Option<io::Error>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Err(e) = self.out.write_all(&buf[..n]) {
            let msg = format!("storing the layer blob: {e}");
            self.write_error = Some(e);
            return Err(io::Error::other(msg));
        }
        Ok(n)
    }
}

/// Things an import created, removed again unless it succeeds.
struct Undo<'a> {
    blobs: &'a BlobStore,
    layers: &'a LayerStore,
    new_blobs: Vec<Digest>,
    new_layer: Option<String>,
    done: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for d in &self.new_blobs {
            if let Err(e) = self.blobs.remove(d) {
                tracing::warn!(blob = %d, error = %e, "cannot remove blob of a failed import");
            }
        }
        if let Some(l) = &self.new_layer
            && let Err(e) = self.layers.remove(l)
        {
            tracing::warn!(layer = %l, error = %e, "cannot remove layer of a failed import");
        }
    }
}

/// Stores a blob, remembering it for undo when it was not there before.
fn put_tracked(undo: &mut Undo<'_>, bytes: &[u8]) -> Result<Digest, ImageError> {
    let d = Digest::of_bytes(bytes);
    let existed = undo.blobs.exists(&d);
    let stored = undo.blobs.put(bytes)?;
    if !existed {
        undo.new_blobs.push(stored.clone());
    }
    Ok(stored)
}

/// Serialises with object keys sorted, so the same config gives the same bytes (and id).
fn canonical_json(what: &str, v: &impl serde::Serialize) -> Result<Vec<u8>, ImageError> {
    let json = |source| ImageError::Json {
        what: format!("serialising the {what}"),
        source,
    };
    let value = serde_json::to_value(v).map_err(json)?;
    serde_json::to_vec(&value).map_err(json)
}

fn spec_err(what: &'static str) -> impl Fn(oci_spec::OciSpecError) -> ImageError {
    move |e| ImageError::Spec {
        what,
        detail: e.to_string(),
    }
}

/// Imports a (gzip/zstd/plain) rootfs tarball as a one-layer image.
pub fn import(
    blobs: &BlobStore,
    layers: &LayerStore,
    reader: impl Read,
    opts: &ImportOptions,
) -> Result<ImportedImage, ImageError> {
    // Validate the changes before touching the disk.
    let mut config = Config::default();
    apply_changes(&mut config, &opts.changes)?;

    let mut undo = Undo {
        blobs,
        layers,
        new_blobs: Vec::new(),
        new_layer: None,
        done: false,
    };

    let stream = layer::decompress(reader).map_err(ImageError::Tarball)?;
    let mut writer = blobs.begin()?;
    let mut tee = Tee {
        inner: stream,
        out: &mut writer,
        write_error: None,
    };
    let unpacked = layers.put_tar(&mut tee);
    if let Some(e) = tee.write_error.take() {
        // The read error this caused made the unpack fail, so no layer was kept.
        return Err(ImageError::io(
            "writing layer blob into",
            blobs.root.join("blobs/sha256"),
            e,
        ));
    }
    let (summary, created) = unpacked.map_err(ImageError::Tarball)?;
    if created {
        undo.new_layer = Some(summary.diff_id.clone());
    }
    let diff_id = Digest::parse(&summary.diff_id)?;
    let blob_existed = blobs.exists(&diff_id);
    let (blob_digest, blob_size) = writer.commit()?;
    if !blob_existed {
        undo.new_blobs.push(blob_digest.clone());
    }
    if blob_digest != diff_id {
        return Err(ImageError::CorruptBlob {
            digest: diff_id,
            actual: blob_digest,
        });
    }

    let created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let mut history = HistoryBuilder::default()
        .created(created_at.clone())
        .created_by(format!(
            "/bin/sh -c #(nop) ADD file:{} in / ",
            diff_id.hex()
        ));
    if let Some(m) = &opts.message {
        history = history.comment(m.clone());
    }
    let history = history.build().map_err(spec_err("image history"))?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(vec![diff_id.to_string()])
        .build()
        .map_err(spec_err("image rootfs"))?;
    let mut image = ImageConfigurationBuilder::default()
        .created(created_at)
        .architecture(Arch::from(opts.arch.as_str()))
        .os(Os::from(opts.os.as_str()))
        .config(config)
        .rootfs(rootfs)
        .history(vec![history]);
    if let Some(v) = &opts.variant {
        image = image.variant(v.clone());
    }
    let image = image.build().map_err(spec_err("image config"))?;
    let config_bytes = canonical_json("image config", &image)?;
    let id = put_tracked(&mut undo, &config_bytes)?;

    let config_desc = DescriptorBuilder::default()
        .media_type(MediaType::ImageConfig)
        .digest(oci_digest(&id)?)
        .size(config_bytes.len() as u64)
        .build()
        .map_err(spec_err("config descriptor"))?;
    let layer_desc = DescriptorBuilder::default()
        .media_type(MediaType::ImageLayer)
        .digest(oci_digest(&diff_id)?)
        .size(blob_size)
        .build()
        .map_err(spec_err("layer descriptor"))?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(vec![layer_desc])
        .build()
        .map_err(spec_err("image manifest"))?;
    let manifest_bytes = canonical_json("image manifest", &manifest)?;
    let manifest_digest = put_tracked(&mut undo, &manifest_bytes)?;

    undo.done = true;
    Ok(ImportedImage {
        id,
        manifest_digest,
        config: image,
        layers: vec![diff_id],
        size: blob_size,
    })
}

fn oci_digest(d: &Digest) -> Result<oci_spec::image::Digest, ImageError> {
    d.as_str().parse().map_err(spec_err("digest"))
}

/// Reads an image config blob by image id.
pub fn load_config(blobs: &BlobStore, id: &Digest) -> Result<ImageConfiguration, ImageError> {
    let bytes = blobs.get(id)?;
    serde_json::from_slice(&bytes).map_err(|source| ImageError::Json {
        what: format!("parsing image config {id}"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Write;

    use super::*;

    fn rootfs_tar_gz() -> (Vec<u8>, Vec<u8>) {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mode) in [
            ("bin/sh", &b"#!fake"[..], 0o755),
            ("etc/hostname", &b"box\n"[..], 0o644),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_path(name).unwrap();
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_mtime(1_600_000_000);
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        (tar, gz.finish().unwrap())
    }

    fn stores(t: &tempfile::TempDir) -> (BlobStore, LayerStore) {
        (
            BlobStore::new(t.path().join("images")),
            LayerStore::new(t.path().join("layers")),
        )
    }

    fn count(dir: &std::path::Path) -> usize {
        fs::read_dir(dir).map(|r| r.count()).unwrap_or(0)
    }

    #[test]
    fn import_stores_layer_config_and_manifest() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (unpacking chowns files)");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (blobs, layers) = stores(&t);
        let (tar, gz) = rootfs_tar_gz();
        let opts = ImportOptions {
            changes: vec![
                r#"CMD ["/bin/sh", "-c", "echo hi"]"#.into(),
                "ENV A=1 B=\"two words\"".into(),
                "EXPOSE 8080".into(),
                "LABEL org.example=yes".into(),
                "WORKDIR /srv".into(),
            ],
            message: Some("from a test".into()),
            ..Default::default()
        };
        let img = import(&blobs, &layers, &gz[..], &opts).unwrap();

        // The id is the digest of the stored config bytes, which parse back to `config`.
        let config_bytes = fs::read(blobs.path(&img.id)).unwrap();
        assert_eq!(Digest::of_bytes(&config_bytes), img.id);
        assert_eq!(load_config(&blobs, &img.id).unwrap(), img.config);

        let c = img.config.config().clone().unwrap();
        assert_eq!(c.cmd().clone().unwrap(), vec!["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.env().clone().unwrap(), vec!["A=1", "B=two words"]);
        assert_eq!(c.exposed_ports().clone().unwrap(), vec!["8080/tcp"]);
        assert_eq!(
            c.labels()
                .clone()
                .unwrap()
                .get("org.example")
                .map(String::as_str),
            Some("yes")
        );
        assert_eq!(c.working_dir().as_deref(), Some("/srv"));
        assert_eq!(img.config.os().to_string(), "linux");
        assert_eq!(
            img.config.architecture().to_string(),
            Arch::default().to_string()
        );
        let hist = img.config.history().clone().unwrap();
        assert_eq!(hist.len(), 1);
        assert_eq!(hist[0].comment().as_deref(), Some("from a test"));

        // The layer: the uncompressed tar is the blob, its digest the diff id, unpacked once.
        let diff_id = Digest::of_bytes(&tar);
        assert_eq!(img.layers, vec![diff_id.clone()]);
        assert_eq!(img.config.rootfs().diff_ids(), &vec![diff_id.to_string()]);
        assert_eq!(fs::read(blobs.path(&diff_id)).unwrap(), tar);
        assert_eq!(img.size, tar.len() as u64);
        let dir = layers.layer_dir(diff_id.as_str()).unwrap();
        assert_eq!(fs::read(dir.join("etc/hostname")).unwrap(), b"box\n");

        // The manifest points at both.
        let m: oci_spec::image::ImageManifest =
            serde_json::from_slice(&blobs.get(&img.manifest_digest).unwrap()).unwrap();
        assert_eq!(m.schema_version(), 2);
        assert_eq!(m.config().digest().to_string(), img.id.to_string());
        assert_eq!(m.config().size(), config_bytes.len() as u64);
        assert_eq!(m.layers().len(), 1);
        assert_eq!(m.layers()[0].digest().to_string(), diff_id.to_string());
        assert_eq!(m.layers()[0].size(), tar.len() as u64);

        // Importing the same tarball again reuses the layer and blob.
        let again = import(&blobs, &layers, &gz[..], &ImportOptions::default()).unwrap();
        assert_eq!(again.layers, img.layers);
        assert_eq!(count(&layers.root), 1);
    }

    #[test]
    fn failed_imports_leave_nothing_behind() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (unpacking chowns files)");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (blobs, layers) = stores(&t);
        let (_, gz) = rootfs_tar_gz();

        let e = import(
            &blobs,
            &layers,
            &gz[..gz.len() - 30],
            &ImportOptions::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("importing tarball: broken tar archive"),
            "{e}"
        );
        assert_eq!(count(&blobs.root.join("blobs/sha256")), 0);
        assert_eq!(count(&layers.root), 0);

        let opts = ImportOptions {
            changes: vec!["RUN rm -rf /".into()],
            ..Default::default()
        };
        let e = import(&blobs, &layers, &gz[..], &opts).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid change "RUN rm -rf /": invalid instruction RUN"#
        );
        assert_eq!(count(&blobs.root.join("blobs/sha256")), 0);
        assert_eq!(count(&layers.root), 0);
    }

    #[test]
    fn load_config_of_missing_image() {
        let t = tempfile::tempdir().unwrap();
        let (blobs, _) = stores(&t);
        let id = Digest::of_bytes(b"nothing");
        let e = load_config(&blobs, &id).unwrap_err();
        assert_eq!(e.to_string(), format!("blob {id} not found"));
    }
}
