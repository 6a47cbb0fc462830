//! docker-archive (`docker save`'s tarball) and c/image's `dir:` layout (docker-dir).
//!
//! A docker-archive is written as c/image's `docker/internal/tarfile` writer writes it: per
//! image its layers as `<diff id>.tar` (each once per archive), its config as
//! `<id>.json`, then the legacy per-layer directories (`<legacy id>/layer.tar` a symlink to
//! the layer, `VERSION`, `json`); `manifest.json` and `repositories` last. Every entry is
//! read-only, owned by 0:0, dated 1970; the tar headers are Go's USTAR headers. The
//! legacy ids are c/image's: a digest of Go-encoded JSON over the chain id.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::gojson::{self, GoValue};
use super::layers::{self, Scratch};
use super::{SaveImage, Stores};
use crate::image::registry::manifest::{DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST};
use crate::image::registry::{Event, ProgressSink};
use crate::image::{Digest, ImageError};

/// One image of `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestItem {
    #[serde(rename = "Config")]
    pub config: String,
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    pub layers: Vec<String>,
}

/// A USTAR header as Go's `archive/tar` writes it for c/image's files: mode 0444 (0 for a
/// symlink), 0:0, mtime 0, device numbers `0000000`, checksum `%06o\0 `.
fn go_header(path: &str, size: u64, symlink: Option<&str>) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    match symlink {
        Some(target) => {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_link_name(target)?;
            h.set_mode(0);
            h.set_size(0);
        }
        None => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o444);
            h.set_size(size);
        }
    }
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_device_major(0)?;
    h.set_device_minor(0)?;
    let bytes = h.as_mut_bytes();
    bytes[148..156].copy_from_slice(b"        ");
    let sum: u32 = bytes.iter().map(|&b| u32::from(b)).sum();
    bytes[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

fn write_err(e: io::Error) -> ImageError {
    ImageError::Archive(format!("writing the archive: {e}"))
}

/// The archive being written and what is in it already.
struct Writer<'w> {
    tar: tar::Builder<&'w mut dyn Write>,
    sent: HashSet<String>,
    repositories: BTreeMap<String, BTreeMap<String, String>>,
    manifest: Vec<ManifestItem>,
}

impl Writer<'_> {
    fn file(&mut self, path: &str, size: u64, data: impl Read) -> Result<(), ImageError> {
        let h = go_header(path, size, None).map_err(write_err)?;
        self.tar.append(&h, data).map_err(write_err)?;
        self.sent.insert(path.to_string());
        Ok(())
    }

    fn bytes(&mut self, path: &str, data: &[u8]) -> Result<(), ImageError> {
        self.file(path, data.len() as u64, data)
    }

    fn symlink(&mut self, path: &str, target: &str) -> Result<(), ImageError> {
        let h = go_header(path, 0, Some(target)).map_err(write_err)?;
        self.tar.append(&h, io::empty()).map_err(write_err)?;
        self.sent.insert(path.to_string());
        Ok(())
    }
}

/// `save --format docker-archive`.
pub fn write_archive(
    stores: &Stores<'_>,
    images: &[SaveImage],
    out: &mut dyn Write,
    sink: &dyn ProgressSink,
) -> Result<(), ImageError> {
    let mut w = Writer {
        tar: tar::Builder::new(out),
        sent: HashSet::new(),
        repositories: BTreeMap::new(),
        manifest: Vec::new(),
    };
    for img in images {
        write_image(stores, &mut w, img, sink)?;
    }
    let manifest = serde_json::to_vec(&w.manifest).map_err(|e| json_err("manifest.json", e))?;
    w.bytes("manifest.json", &manifest)?;
    let repos = serde_json::to_vec(&w.repositories).map_err(|e| json_err("repositories", e))?;
    w.bytes("repositories", &repos)?;
    w.tar.finish().map_err(write_err)?;
    Ok(())
}

fn json_err(what: &str, source: serde_json::Error) -> ImageError {
    ImageError::Json {
        what: format!("writing {what}"),
        source,
    }
}

fn write_image(
    stores: &Stores<'_>,
    w: &mut Writer<'_>,
    img: &SaveImage,
    sink: &dyn ProgressSink,
) -> Result<(), ImageError> {
    sink.event(Event::GettingSignatures);
    let mut layer_paths = Vec::new();
    for l in &img.layers {
        let path = format!("{}.tar", l.diff_id.hex());
        sink.event(Event::BlobStart {
            digest: l.diff_id.to_string(),
            size: None,
        });
        if !w.sent.contains(&path) {
            let (data, size) = layers::uncompressed(stores, l)?;
            w.file(&path, size, data)?;
        }
        sink.event(Event::BlobDone {
            digest: l.diff_id.to_string(),
        });
        layer_paths.push(path);
    }
    sink.event(Event::Config {
        digest: img.id.to_string(),
    });
    let config_path = format!("{}.json", img.id.hex());
    if !w.sent.contains(&config_path) {
        w.bytes(&config_path, &img.config)?;
    }
    sink.event(Event::WritingManifest);
    let top = write_legacy(w, img, &layer_paths)?;
    for tag in &img.tags {
        if let (Some(top), Some((name, t))) = (&top, split_tag(tag)) {
            w.repositories
                .entry(name.to_string())
                .or_default()
                .insert(t.to_string(), top.clone());
        }
    }
    w.manifest.push(ManifestItem {
        config: config_path,
        repo_tags: Some(img.tags.clone()),
        layers: layer_paths,
    });
    sink.event(Event::StoringSignatures);
    Ok(())
}

/// `NAME:TAG` → (`NAME`, `TAG`): the tag follows the last `:` after the last `/`.
fn split_tag(tag: &str) -> Option<(&str, &str)> {
    let slash = tag.rfind('/').map_or(0, |i| i + 1);
    let colon = slash + tag[slash..].rfind(':')?;
    Some((&tag[..colon], &tag[colon + 1..]))
}

/// The legacy layer directories of one image (c/image's `writeLegacyMetadataLocked`);
/// returns the top layer's legacy id.
fn write_legacy(
    w: &mut Writer<'_>,
    img: &SaveImage,
    layer_paths: &[String],
) -> Result<Option<String>, ImageError> {
    let text = std::str::from_utf8(&img.config)
        .map_err(|_| ImageError::Archive(format!("image config {} is not UTF-8", img.id)))?;
    let config: BTreeMap<String, Box<serde_json::value::RawValue>> = serde_json::from_str(text)
        .map_err(|e| ImageError::Json {
            what: format!("parsing image config {}", img.id),
            source: e,
        })?;
    let mut chain: Option<String> = None;
    let mut last: Option<String> = None;
    for (i, l) in img.layers.iter().enumerate() {
        let mut m: BTreeMap<String, GoValue> = BTreeMap::new();
        if let Some(p) = &last {
            m.insert("parent".into(), GoValue::String(p.clone()));
        }
        if i == img.layers.len() - 1 {
            for attr in [
                "architecture",
                "config",
                "container",
                "container_config",
                "created",
                "docker_version",
                "os",
            ] {
                let raw = config.get(attr).map_or("null", |r| r.get());
                m.insert(attr.into(), GoValue::Raw(raw.to_string()));
            }
        }
        let c = match &chain {
            None => l.diff_id.to_string(),
            Some(prev) => Digest::of_bytes(format!("{prev} {}", l.diff_id).as_bytes()).to_string(),
        };
        m.insert("layer_id".into(), GoValue::String(c.clone()));
        chain = Some(c);
        let id = Digest::of_bytes(gojson::encode_map(&m).as_bytes())
            .hex()
            .to_string();
        m.remove("layer_id");
        m.insert("id".into(), GoValue::String(id.clone()));
        if !w.sent.contains(&format!("{id}/layer.tar")) {
            w.symlink(
                &format!("{id}/layer.tar"),
                &format!("../{}", layer_paths[i]),
            )?;
            w.bytes(&format!("{id}/VERSION"), b"1.0")?;
            w.bytes(&format!("{id}/json"), gojson::encode_map(&m).as_bytes())?;
        }
        last = Some(id);
    }
    Ok(last)
}

/// A Docker v2s2 manifest in the field order Docker (and c/image) write it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2Manifest {
    schema_version: u32,
    media_type: String,
    config: V2Descriptor,
    layers: Vec<V2Descriptor>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct V2Descriptor {
    media_type: String,
    size: u64,
    digest: String,
}

/// c/image's `dir:` version file.
pub const DIR_VERSION: &str = "Directory Transport Version: 1.1\n";

/// `save --format docker-dir`: a v2s2 manifest, the config and the layers by digest, and
/// the version file. An existing directory must be empty or hold such a layout (replaced).
pub fn write_dir(
    stores: &Stores<'_>,
    img: &SaveImage,
    dir: &Path,
    compress: bool,
    sink: &dyn ProgressSink,
) -> Result<(), ImageError> {
    prepare_dir(dir)?;
    let scratch = Scratch::new(&stores.tmp)?;
    sink.event(Event::GettingSignatures);
    let mut descs = Vec::new();
    for l in &img.layers {
        sink.event(Event::BlobStart {
            digest: l.diff_id.to_string(),
            size: None,
        });
        let (digest, size, media_type) = if compress {
            let c = layers::compressed(stores, l, false, &scratch.path)?;
            copy_file(&c.path, &dir.join(c.digest.hex()))?;
            (c.digest, c.size, DOCKER_LAYER_GZIP)
        } else {
            let (mut data, size) = layers::uncompressed(stores, l)?;
            let dest = dir.join(l.diff_id.hex());
            let mut f =
                std::fs::File::create(&dest).map_err(|e| ImageError::io("creating", &dest, e))?;
            io::copy(&mut data, &mut f).map_err(|e| ImageError::io("writing", &dest, e))?;
            (
                l.diff_id.clone(),
                size,
                "application/vnd.docker.image.rootfs.diff.tar",
            )
        };
        sink.event(Event::BlobDone {
            digest: l.diff_id.to_string(),
        });
        descs.push(V2Descriptor {
            media_type: media_type.to_string(),
            size,
            digest: digest.to_string(),
        });
    }
    sink.event(Event::Config {
        digest: img.id.to_string(),
    });
    write_file(&dir.join(img.id.hex()), &img.config)?;
    sink.event(Event::WritingManifest);
    let manifest = V2Manifest {
        schema_version: 2,
        media_type: DOCKER_MANIFEST.to_string(),
        config: V2Descriptor {
            media_type: DOCKER_CONFIG.to_string(),
            size: img.config.len() as u64,
            digest: img.id.to_string(),
        },
        layers: descs,
    };
    let bytes = serde_json::to_vec(&manifest).map_err(|e| json_err("manifest.json", e))?;
    write_file(&dir.join("manifest.json"), &bytes)?;
    sink.event(Event::StoringSignatures);
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    std::fs::write(path, bytes).map_err(|e| ImageError::io("writing", path, e))
}

fn copy_file(from: &Path, to: &Path) -> Result<(), ImageError> {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| ImageError::io("writing", to, e))
}

/// c/image's rule: a missing directory is made; an empty one used; one holding a `dir:`
/// layout (its version file) emptied; anything else refused.
fn prepare_dir(dir: &Path) -> Result<(), ImageError> {
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| ImageError::io("creating", dir, e))?;
        }
        Err(e) => return Err(ImageError::io("reading", dir, e)),
        Ok(mut entries) => {
            if entries.next().is_some() {
                let version = std::fs::read_to_string(dir.join("version")).unwrap_or_default();
                if version != DIR_VERSION {
                    return Err(ImageError::Archive(format!(
                        "{}: not a containers image directory, don't want to overwrite important data",
                        dir.display()
                    )));
                }
                for e in std::fs::read_dir(dir)
                    .map_err(|e| ImageError::io("reading", dir, e))?
                    .flatten()
                {
                    let p = e.path();
                    let r = if e.file_type().is_ok_and(|t| t.is_dir()) {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                    r.map_err(|err| ImageError::io("removing", &p, err))?;
                }
            }
        }
    }
    write_file(&dir.join("version"), DIR_VERSION.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_gos() {
        let h = go_header("manifest.json", 201, None).unwrap();
        let b = h.as_bytes();
        assert_eq!(&b[100..108], b"0000444\0");
        assert_eq!(&b[108..116], b"0000000\0");
        assert_eq!(&b[124..136], b"00000000311\0");
        assert_eq!(&b[136..148], b"00000000000\0");
        assert_eq!(&b[257..265], b"ustar\x0000");
        assert_eq!(&b[329..345], b"0000000\x000000000\0");
        assert_eq!(b[155], b' ');
        assert_eq!(b[154], 0);
        let s = go_header("a/layer.tar", 0, Some("../b.tar")).unwrap();
        assert_eq!(s.as_bytes()[156], b'2');
        assert_eq!(&s.as_bytes()[100..108], b"0000000\0");
    }

    #[test]
    fn tags_split_after_the_last_slash() {
        assert_eq!(
            split_tag("localhost:5000/a/b:v1"),
            Some(("localhost:5000/a/b", "v1"))
        );
        assert_eq!(split_tag("localhost:5000/a"), None);
    }
}
