//! OCI image layouts: `save --format oci-dir` (a directory) and `oci-archive` (the same
//! layout as a tar stream).
//!
//! Layers are compressed blobs (a pull's gzip or zstd blob as it is, else gzip made here),
//! or with `--uncompressed` the plain tars;
//! the config is the stored config byte for byte, so the image id survives. `index.json`
//! names the image with `org.opencontainers.image.ref.name` when it was saved by name, as
//! Podman does. Saving into an existing layout adds the image to its index, replacing an
//! entry of the same name (c/image's behaviour).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::layers::{self, Scratch};
use super::{SaveImage, Stores};
use crate::image::registry::manifest::{Descriptor, ImageManifest, OCI_CONFIG, OCI_MANIFEST};
use crate::image::registry::{Event, ProgressSink};
use crate::image::{Digest, ImageError};

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const LAYOUT_FILE: &str = "{\"imageLayoutVersion\": \"1.0.0\"}";

/// Where a file of the layout comes from.
enum Content {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// The layout's files for one image: blobs, and the descriptor of its manifest.
struct Plan {
    blobs: Vec<(Digest, u64, Content)>,
    manifest: Descriptor,
    _scratch: Scratch,
}

fn plan(
    stores: &Stores<'_>,
    img: &SaveImage,
    uncompressed: bool,
    sink: &dyn ProgressSink,
) -> Result<Plan, ImageError> {
    let scratch = Scratch::new(&stores.tmp)?;
    sink.event(Event::GettingSignatures);
    let mut blobs = Vec::new();
    let mut descs = Vec::new();
    for l in &img.layers {
        sink.event(Event::BlobStart {
            digest: l.diff_id.to_string(),
            size: None,
        });
        let c = if uncompressed {
            layers::plain_file(stores, l, &scratch.path)?
        } else {
            layers::compressed(stores, l, true, &scratch.path)?
        };
        descs.push(Descriptor {
            media_type: c.compression.oci_media_type().to_string(),
            digest: c.digest.to_string(),
            size: c.size,
            urls: None,
            annotations: None,
            platform: None,
        });
        blobs.push((c.digest, c.size, Content::File(c.path)));
        sink.event(Event::BlobDone {
            digest: l.diff_id.to_string(),
        });
    }
    sink.event(Event::Config {
        digest: img.id.to_string(),
    });
    blobs.push((
        img.id.clone(),
        img.config.len() as u64,
        Content::Bytes(img.config.clone()),
    ));
    sink.event(Event::WritingManifest);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.to_string(),
        config: Descriptor {
            media_type: OCI_CONFIG.to_string(),
            digest: img.id.to_string(),
            size: img.config.len() as u64,
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
    let digest = Digest::of_bytes(&bytes);
    let annotations = img
        .tags
        .first()
        .map(|t| std::collections::BTreeMap::from([(REF_NAME.to_string(), t.clone())]));
    let desc = Descriptor {
        media_type: OCI_MANIFEST.to_string(),
        digest: digest.to_string(),
        size: bytes.len() as u64,
        urls: None,
        annotations,
        platform: None,
    };
    blobs.push((digest, bytes.len() as u64, Content::Bytes(bytes)));
    Ok(Plan {
        blobs,
        manifest: desc,
        _scratch: scratch,
    })
}

fn index_json(manifests: &[Descriptor]) -> Result<Vec<u8>, ImageError> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Index<'a> {
        schema_version: u32,
        manifests: &'a [Descriptor],
    }
    let index = Index {
        schema_version: 2,
        manifests,
    };
    serde_json::to_vec(&index).map_err(|e| ImageError::Json {
        what: "writing index.json".into(),
        source: e,
    })
}

/// `save --format oci-dir`.
pub fn write_dir(
    stores: &Stores<'_>,
    img: &SaveImage,
    dir: &Path,
    uncompressed: bool,
    sink: &dyn ProgressSink,
) -> Result<(), ImageError> {
    let mut manifests = existing_index(dir)?;
    let plan = plan(stores, img, uncompressed, sink)?;
    let blob_dir = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blob_dir).map_err(|e| ImageError::io("creating", &blob_dir, e))?;
    for (digest, _, content) in &plan.blobs {
        let dest = blob_dir.join(digest.hex());
        match content {
            Content::File(p) => std::fs::copy(p, &dest).map(drop),
            Content::Bytes(b) => std::fs::write(&dest, b),
        }
        .map_err(|e| ImageError::io("writing", &dest, e))?;
    }
    let name = plan
        .manifest
        .annotations
        .as_ref()
        .and_then(|a| a.get(REF_NAME));
    manifests
        .retain(|m| name.is_none() || m.annotations.as_ref().and_then(|a| a.get(REF_NAME)) != name);
    manifests.push(plan.manifest.clone());
    let index = dir.join("index.json");
    std::fs::write(&index, index_json(&manifests)?)
        .map_err(|e| ImageError::io("writing", &index, e))?;
    let layout = dir.join("oci-layout");
    std::fs::write(&layout, LAYOUT_FILE).map_err(|e| ImageError::io("writing", &layout, e))?;
    sink.event(Event::StoringSignatures);
    Ok(())
}

/// The manifests of an OCI layout already at `dir` (none when it does not exist or is
/// empty); anything else there is refused rather than overwritten.
fn existing_index(dir: &Path) -> Result<Vec<Descriptor>, ImageError> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ImageError::io("reading", dir, e)),
    };
    if entries.next().is_none() {
        return Ok(Vec::new());
    }
    let index = dir.join("index.json");
    let bytes = match std::fs::read(&index) {
        Ok(b) if dir.join("oci-layout").is_file() => b,
        _ => {
            return Err(ImageError::Archive(format!(
                "{}: not an OCI image layout, don't want to overwrite important data",
                dir.display()
            )));
        }
    };
    #[derive(serde::Deserialize)]
    struct Index {
        #[serde(default)]
        manifests: Vec<Descriptor>,
    }
    let idx: Index = serde_json::from_slice(&bytes).map_err(|e| ImageError::Json {
        what: format!("parsing {}", index.display()),
        source: e,
    })?;
    Ok(idx.manifests)
}

fn tar_err(e: io::Error) -> ImageError {
    ImageError::Archive(format!("writing the archive: {e}"))
}

fn header(path: &str, size: u64, dir: bool) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    if dir {
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
    } else {
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(size);
    }
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    Ok(h)
}

/// `save --format oci-archive`: the layout of [`write_dir`] as a tar stream.
pub fn write_archive(
    stores: &Stores<'_>,
    img: &SaveImage,
    out: &mut dyn Write,
    uncompressed: bool,
    sink: &dyn ProgressSink,
) -> Result<(), ImageError> {
    let plan = plan(stores, img, uncompressed, sink)?;
    let mut tar = tar::Builder::new(out);
    for d in ["blobs/", "blobs/sha256/"] {
        let h = header(d, 0, true).map_err(tar_err)?;
        tar.append(&h, io::empty()).map_err(tar_err)?;
    }
    for (digest, size, content) in &plan.blobs {
        let path = format!("blobs/sha256/{}", digest.hex());
        let h = header(&path, *size, false).map_err(tar_err)?;
        match content {
            Content::File(p) => {
                let f = std::fs::File::open(p).map_err(|e| ImageError::io("opening", p, e))?;
                tar.append(&h, f)
            }
            Content::Bytes(b) => tar.append(&h, b.as_slice()),
        }
        .map_err(tar_err)?;
    }
    let index = index_json(std::slice::from_ref(&plan.manifest))?;
    let h = header("index.json", index.len() as u64, false).map_err(tar_err)?;
    tar.append(&h, index.as_slice()).map_err(tar_err)?;
    let h = header("oci-layout", LAYOUT_FILE.len() as u64, false).map_err(tar_err)?;
    tar.append(&h, LAYOUT_FILE.as_bytes()).map_err(tar_err)?;
    tar.finish().map_err(tar_err)?;
    sink.event(Event::StoringSignatures);
    Ok(())
}
