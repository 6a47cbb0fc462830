//! `load`: the images of a docker-archive, an OCI layout (directory or tar) or a `dir:`
//! layout, checked and stored.
//!
//! The format is recognised by its files (`manifest.json` for docker-archive, which also
//! wins for Docker 25's archives that carry both; `index.json` and `oci-layout` for OCI;
//! `manifest.json` and `version` for a `dir:` directory). Every image is parsed and every
//! layer verified and unpacked before anything is recorded; a layer whose content does not
//! have the diff id its config names is never renamed into the layer store.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use oci_spec::image::ImageConfiguration;
use sha2::{Digest as _, Sha256};

use super::docker::{DIR_VERSION, ManifestItem};
use super::layers::Compression;
use super::oci::REF_NAME;
use super::source::{Contents, Member};
use super::{Stores, Undo};
use crate::image::registry::manifest::{
    self, Descriptor, ImageManifest, Manifest, OCI_CONFIG, OCI_MANIFEST,
};
use crate::image::registry::{Event, Platform, ProgressSink};
use crate::image::{Digest, ImageError, normalize};
use crate::layer::LayerError;

/// An image a load stored (the caller records it).
#[derive(Debug, Clone)]
pub struct LoadedImage {
    /// The config digest.
    pub id: Digest,
    /// Names from the archive, normalized as Podman stores them.
    pub names: Vec<String>,
    pub config: ImageConfiguration,
    /// Diff ids, bottom first.
    pub layers: Vec<Digest>,
    /// Per layer, the compressed blob kept for it (when the archive's was compressed).
    pub layer_blobs: Vec<Option<(Digest, String)>>,
    pub manifest_digest: Digest,
    pub manifest_type: String,
    /// Uncompressed size of the layers.
    pub size: u64,
}

/// What `load` reads.
pub enum LoadInput<'a> {
    /// A file (tar, possibly compressed) or a directory.
    Path(&'a Path),
    /// A tar stream (stdin).
    Stream(&'a mut dyn Read),
}

/// An io error as Go prints it (`no such file or directory`).
fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        _ => e.to_string(),
    }
}

fn refuse(detail: impl Into<String>) -> ImageError {
    ImageError::Archive(detail.into())
}

/// Records the loaded images; returns the blobs it found no use for.
pub type Recorder<'a> = dyn FnMut(&[LoadedImage]) -> Result<Vec<Digest>, ImageError> + 'a;

/// An image found in the archive, not yet checked.
struct Pending {
    config: Member,
    layers: Vec<Member>,
    names: Vec<String>,
    /// The archive's own manifest for it (OCI and `dir:` layouts), kept as is.
    manifest: Option<(Member, String)>,
}

/// Loads every image of `input`; `record` is called once with all of them, after every
/// check passed, and returns the blobs it found no use for (an image that was stored
/// already keeps its own manifest). Anything a failed load created is removed.
pub fn load(
    stores: &Stores<'_>,
    input: LoadInput<'_>,
    sink: &dyn ProgressSink,
    record: &mut Recorder<'_>,
) -> Result<Vec<LoadedImage>, ImageError> {
    stores.blobs.sweep_stale();
    stores.layers.sweep_stale();
    let mut undo = Undo::new(stores)?;
    let contents = match input {
        LoadInput::Path(p) => {
            let meta = std::fs::metadata(p)
                .map_err(|e| refuse(format!("stat {}: {}", p.display(), reason(&e))))?;
            if meta.is_dir() {
                Contents::Dir(p.to_path_buf())
            } else {
                let f = File::open(p).map_err(|e| ImageError::io("opening", p, e))?;
                Contents::read_tar(BufReader::with_capacity(256 * 1024, f), &mut undo)?
            }
        }
        LoadInput::Stream(r) => Contents::read_tar(r, &mut undo)?,
    };
    let pending = find_images(&contents, &mut undo)?;
    let mut configs = Vec::new();
    let mut all_layers = Vec::new();
    for p in &pending {
        let (bytes, config, diff_ids) = read_config(&undo, p)?;
        all_layers.extend(diff_ids.iter().cloned());
        configs.push((bytes, config, diff_ids));
    }
    undo.lock_layers(&stores.lock_dir, &all_layers)?;
    let mut images: Vec<LoadedImage> = Vec::new();
    for (p, (bytes, config, diff_ids)) in pending.into_iter().zip(configs) {
        let img = store_image(&mut undo, p, &bytes, config, diff_ids, sink)?;
        match images.iter_mut().find(|i| i.id == img.id) {
            Some(same) => {
                for n in img.names {
                    if !same.names.contains(&n) {
                        same.names.push(n);
                    }
                }
            }
            None => images.push(img),
        }
    }
    undo.publish()?;
    for unused in record(&images)? {
        undo.drop_published(&unused);
    }
    undo.finish();
    Ok(images)
}

/// The images the archive describes, by format.
fn find_images(contents: &Contents, undo: &mut Undo<'_>) -> Result<Vec<Pending>, ImageError> {
    let is_dir = matches!(contents, Contents::Dir(_));
    if contents.has("manifest.json") && !(is_dir && contents.has("index.json")) {
        if is_dir {
            return dir_layout(contents, undo);
        }
        return docker_archive(contents, undo);
    }
    if contents.has("index.json") {
        return oci_layout(contents, undo);
    }
    Err(refuse(
        "payload does not match any of the supported image formats: found neither manifest.json (docker-archive) nor index.json (OCI layout)",
    ))
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::Json {
        what: format!("parsing {what}"),
        source: e,
    })
}

fn docker_archive(contents: &Contents, undo: &mut Undo<'_>) -> Result<Vec<Pending>, ImageError> {
    let items: Vec<ManifestItem> = parse_json(
        "manifest.json",
        &contents.small_file("manifest.json", undo)?,
    )?;
    if items.is_empty() {
        return Err(refuse("manifest.json lists no image"));
    }
    let mut out = Vec::new();
    for item in items {
        let config = contents.member(&item.config, undo)?;
        let layers = item
            .layers
            .iter()
            .map(|l| contents.member(l, undo))
            .collect::<Result<Vec<_>, _>>()?;
        let names = item
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| normalize(t))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Pending {
            config,
            layers,
            names,
            manifest: None,
        });
    }
    Ok(out)
}

/// A blob of a layout, found by its digest, whose content must have that digest and the
/// size its descriptor says.
fn blob_member(
    contents: &Contents,
    dir_layout: bool,
    d: &Descriptor,
    undo: &mut Undo<'_>,
) -> Result<Member, ImageError> {
    let digest = Digest::parse(&d.digest)?;
    let path = if dir_layout {
        digest.hex().to_string()
    } else {
        format!("blobs/sha256/{}", digest.hex())
    };
    let m = contents.member(&path, undo)?;
    if m.digest != digest {
        return Err(refuse(format!(
            "blob {digest} in the archive has digest {}: digest mismatch",
            m.digest
        )));
    }
    if m.size != d.size {
        return Err(refuse(format!(
            "blob {digest} in the archive is {} bytes, its descriptor says {}",
            m.size, d.size
        )));
    }
    Ok(m)
}

fn image_manifest(
    contents: &Contents,
    dir_layout: bool,
    m: Member,
    names: Vec<String>,
    undo: &mut Undo<'_>,
) -> Result<Pending, ImageError> {
    let bytes = undo.get(&m.digest)?;
    let Manifest::Image(im) = manifest::parse(&bytes, None).map_err(|e| refuse(e.to_string()))?
    else {
        return Err(refuse(format!("manifest {} is an index", m.digest)));
    };
    let config = blob_member(contents, dir_layout, &im.config, undo)?;
    let layers = im
        .layers
        .iter()
        .map(|l| blob_member(contents, dir_layout, l, undo))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Pending {
        config,
        layers,
        names,
        manifest: Some((m, im.media_type)),
    })
}

fn oci_layout(contents: &Contents, undo: &mut Undo<'_>) -> Result<Vec<Pending>, ImageError> {
    let index = contents.small_file("index.json", undo)?;
    let Manifest::Index(idx) = manifest::parse(&index, Some(manifest::OCI_INDEX))
        .map_err(|e| refuse(format!("index.json: {e}")))?
    else {
        return Err(refuse("index.json is not an image index"));
    };
    if idx.manifests.is_empty() {
        return Err(refuse("index.json lists no image"));
    }
    let mut out = Vec::new();
    for d in &idx.manifests {
        let names = match d.annotations.as_ref().and_then(|a| a.get(REF_NAME)) {
            Some(n) => vec![normalize(n)?],
            None => Vec::new(),
        };
        let mut m = blob_member(contents, false, d, undo)?;
        if d.media_type == manifest::OCI_INDEX || d.media_type == manifest::DOCKER_LIST {
            let nested = undo.get(&m.digest)?;
            let Manifest::Index(inner) =
                manifest::parse(&nested, None).map_err(|e| refuse(e.to_string()))?
            else {
                return Err(refuse(format!("{} is not an index", d.digest)));
            };
            let host = Platform::host();
            let entry = host.pick(&inner).ok_or_else(|| {
                refuse(format!(
                    "no image found in index {} for platform {}",
                    d.digest,
                    host.display()
                ))
            })?;
            m = blob_member(contents, false, entry, undo)?;
        }
        out.push(image_manifest(contents, false, m, names, undo)?);
    }
    Ok(out)
}

fn dir_layout(contents: &Contents, undo: &mut Undo<'_>) -> Result<Vec<Pending>, ImageError> {
    let version = contents.small_file("version", undo).unwrap_or_default();
    if version != DIR_VERSION.as_bytes() {
        return Err(refuse(
            "payload does not match any of the supported image formats: a directory with manifest.json but no \"dir:\" version file",
        ));
    }
    let m = contents.member("manifest.json", undo)?;
    Ok(vec![image_manifest(contents, true, m, Vec::new(), undo)?])
}

/// The config's bytes, parsed, and its diff ids; the layer count must match.
fn read_config(
    undo: &Undo<'_>,
    p: &Pending,
) -> Result<(Vec<u8>, ImageConfiguration, Vec<Digest>), ImageError> {
    if p.config.size > super::source::MAX_JSON {
        return Err(refuse(format!(
            "image config {} is {} bytes, more than allowed",
            p.config.digest, p.config.size
        )));
    }
    let bytes = undo.get(&p.config.digest)?;
    let config: ImageConfiguration =
        parse_json(&format!("image config {}", p.config.digest), &bytes)?;
    let diff_ids = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| Digest::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    if diff_ids.len() != p.layers.len() {
        return Err(refuse(format!(
            "image config {} lists {} layers, the archive {}",
            p.config.digest,
            diff_ids.len(),
            p.layers.len()
        )));
    }
    Ok((bytes, config, diff_ids))
}

/// Checks and stores one image's layers; the loaded image, its manifest stored.
fn store_image(
    undo: &mut Undo<'_>,
    p: Pending,
    config_bytes: &[u8],
    config: ImageConfiguration,
    diff_ids: Vec<Digest>,
    sink: &dyn ProgressSink,
) -> Result<LoadedImage, ImageError> {
    sink.event(Event::GettingSignatures);
    let mut size = 0;
    let mut layer_blobs = Vec::new();
    let mut descs = Vec::new();
    for (m, diff_id) in p.layers.iter().zip(&diff_ids) {
        sink.event(Event::BlobStart {
            digest: m.digest.to_string(),
            size: Some(m.size),
        });
        let (tar_size, compression) = store_layer(undo, m, diff_id)?;
        size += tar_size;
        undo.keep(&m.digest);
        let media_type = compression.oci_media_type().to_string();
        layer_blobs.push(
            (compression != Compression::None).then(|| (m.digest.clone(), media_type.clone())),
        );
        descs.push(Descriptor {
            media_type,
            digest: m.digest.to_string(),
            size: m.size,
            urls: None,
            annotations: None,
            platform: None,
        });
        sink.event(Event::BlobDone {
            digest: m.digest.to_string(),
        });
    }
    let id = Digest::of_bytes(config_bytes);
    sink.event(Event::Config {
        digest: id.to_string(),
    });
    undo.keep(&p.config.digest);
    sink.event(Event::WritingManifest);
    let (manifest_digest, manifest_type) = match p.manifest {
        Some((m, mt)) => (m.digest, mt),
        None => {
            let manifest = ImageManifest {
                schema_version: 2,
                media_type: OCI_MANIFEST.to_string(),
                config: Descriptor {
                    media_type: OCI_CONFIG.to_string(),
                    digest: id.to_string(),
                    size: config_bytes.len() as u64,
                    urls: None,
                    annotations: None,
                    platform: None,
                },
                layers: descs,
                annotations: None,
            };
            let bytes = serde_json::to_vec(&manifest).map_err(|e| ImageError::Json {
                what: "writing the image manifest".into(),
                source: e,
            })?;
            (undo.put(&bytes)?, OCI_MANIFEST.to_string())
        }
    };
    undo.keep(&manifest_digest);
    sink.event(Event::StoringSignatures);
    Ok(LoadedImage {
        id,
        names: p.names,
        config,
        layers: diff_ids,
        layer_blobs,
        manifest_digest,
        manifest_type,
        size,
    })
}

/// Unpacks one layer blob (unless the layer is stored already) and checks it has
/// `diff_id`; returns the tar's length and the blob's compression.
fn store_layer(
    undo: &mut Undo<'_>,
    m: &Member,
    diff_id: &Digest,
) -> Result<(u64, Compression), ImageError> {
    let path = undo.blob_path(&m.digest);
    let compression = Compression::sniff(&path)?;
    let mismatch = |got: &str| {
        refuse(format!(
            "layer {}: its content has diff id {got}, the image config says {diff_id}",
            m.digest
        ))
    };
    if undo.layer_stored(diff_id.as_str()) {
        if compression == Compression::None {
            if &m.digest != diff_id {
                return Err(mismatch(m.digest.as_str()));
            }
            return Ok((m.size, compression));
        }
        let (got, len) = hash_decompressed(&path)?;
        if got != diff_id.as_str() {
            return Err(mismatch(&got));
        }
        return Ok((len, compression));
    }
    let f = File::open(&path).map_err(|e| ImageError::io("opening", &path, e))?;
    let put = undo
        .layer_target()
        .put_checked(BufReader::with_capacity(256 * 1024, f), |s, _| {
            if s.diff_id != diff_id.as_str() {
                return Err(LayerError::Verify(format!(
                    "layer {}: its content has diff id {}, the image config says {diff_id}",
                    m.digest, s.diff_id
                )));
            }
            Ok(())
        });
    let (summary, created) = match put {
        Ok(x) => x,
        Err(LayerError::Verify(msg)) => return Err(refuse(msg)),
        Err(e) => return Err(refuse(format!("applying layer {}: {e}", m.digest))),
    };
    if created {
        undo.unpacked(&summary.diff_id);
    }
    Ok((summary.tar_size, compression))
}

/// The diff id and length of a compressed blob's content.
fn hash_decompressed(path: &Path) -> Result<(String, u64), ImageError> {
    let f = File::open(path).map_err(|e| ImageError::io("opening", path, e))?;
    let mut r = crate::layer::decompress(BufReader::new(f)).map_err(ImageError::Layer)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut len = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(refuse(format!("reading layer {}: {e}", path.display()))),
        };
        h.update(&buf[..n]);
        len += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(h.finalize())), len))
}
