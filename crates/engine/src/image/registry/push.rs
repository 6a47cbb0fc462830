//! `push`: a local image to a registry.
//!
//! Each layer goes as a compressed blob. A blob we already hold in the wanted compression
//! (the blob a pull stored, or one an earlier push made) is sent as it is; otherwise the
//! layer's tar is compressed (gzip or zstd) into the blob store first, so the next push finds
//! it. Before sending, the registry is asked (HEAD) whether it has the blob, and a blob the
//! registry holds in another repository the image came from is mounted across repositories
//! when the registry allows it. The manifest is OCI (Podman 4.3's default) or Docker v2s2;
//! a pulled image pushed without a format or compression change keeps its original manifest
//! bytes, so its digest stays the same.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::RegistryOperation;

use super::client::{self, Remote, Tls};
use super::manifest::{self, Descriptor, ImageManifest};
use super::progress::{Event, ProgressSink};
use super::{AuthFile, Credentials, RegistriesConf, RegistryError};
use crate::image::{BlobStore, Digest};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFormat {
    Oci,
    V2s2,
}

impl PushFormat {
    pub fn parse(s: &str) -> Result<PushFormat, RegistryError> {
        match s {
            "oci" => Ok(PushFormat::Oci),
            "v2s2" | "docker" => Ok(PushFormat::V2s2),
            other => Err(RegistryError::Invalid(format!(
                "unsupported manifest type {other:?}: use oci or v2s2"
            ))),
        }
    }
}

/// `--compression-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
}

impl Compression {
    pub fn parse(s: &str) -> Result<Compression, RegistryError> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" | "zstd:chunked" => Ok(Compression::Zstd),
            other => Err(RegistryError::Invalid(format!(
                "unsupported compression format {other:?}: use gzip or zstd"
            ))),
        }
    }
}

/// A push request.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// The destination, fully qualified (`HOST/PATH[:TAG]`).
    pub destination: String,
    pub format: Option<PushFormat>,
    pub compression: Option<Compression>,
    pub tls: Tls,
    pub authfile: Option<PathBuf>,
    pub creds: Option<String>,
    /// Put the manifest under its own digest, not a tag (an instance of a manifest list).
    pub by_digest: bool,
}

/// One layer of the image being pushed.
#[derive(Debug, Clone)]
pub struct SourceLayer {
    pub diff_id: Digest,
    /// The compressed blob we hold for it and its media type (from a pull or an earlier push).
    pub blob: Option<(Digest, String)>,
}

/// The image being pushed, from the store.
#[derive(Debug, Clone)]
pub struct PushSource {
    pub id: Digest,
    pub layers: Vec<SourceLayer>,
    /// The stored image manifest (its bytes are reused when nothing changes).
    pub manifest_digest: Digest,
    /// Repositories (`HOST/PATH`) the image is known by, for cross-repository mounts.
    pub repositories: Vec<String>,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub manifest_digest: Digest,
    /// The manifest's size and media type (a list's entry for it).
    pub manifest_size: u64,
    pub manifest_type: String,
    /// Compressed blobs made for layers (diff id → blob, media type), for the record.
    pub new_layer_blobs: Vec<(Digest, Digest, String)>,
}

fn layer_media_type(format: PushFormat, c: Compression) -> Result<&'static str, RegistryError> {
    match (format, c) {
        (PushFormat::Oci, Compression::Gzip) => Ok(manifest::OCI_LAYER_GZIP),
        (PushFormat::Oci, Compression::Zstd) => Ok(manifest::OCI_LAYER_ZSTD),
        (PushFormat::V2s2, Compression::Gzip) => Ok(manifest::DOCKER_LAYER_GZIP),
        (PushFormat::V2s2, Compression::Zstd) => Err(RegistryError::Invalid(
            "zstd compression is not supported with the v2s2 manifest format".into(),
        )),
    }
}

fn compression_of(media_type: &str) -> Option<Compression> {
    if media_type.ends_with("gzip") {
        Some(Compression::Gzip)
    } else if media_type.ends_with("zstd") {
        Some(Compression::Zstd)
    } else {
        None
    }
}

/// Where a push goes, connected.
struct Dest {
    host: String,
    path: String,
    tag: String,
    remote: Remote,
}

impl Dest {
    fn fail(&self, detail: String) -> RegistryError {
        RegistryError::Push(format!(
            "trying to reuse blob or upload to docker://{}/{}:{}: {detail}",
            self.host, self.path, self.tag
        ))
    }
}

/// Pushes `src` to `opts.destination`; returns the manifest digest.
pub fn push(
    blobs: &BlobStore,
    conf: &RegistriesConf,
    src: &PushSource,
    opts: &PushOptions,
    sink: &dyn ProgressSink,
) -> Result<Pushed, RegistryError> {
    let rt = client::runtime()?;
    let dest = connect(&rt, conf, opts)?;
    let stored: ImageManifest =
        serde_json::from_slice(&blobs.get(&src.manifest_digest)?).map_err(|e| {
            RegistryError::Invalid(format!(
                "parsing stored manifest {}: {e}",
                src.manifest_digest
            ))
        })?;
    let format = opts
        .format
        .unwrap_or(if stored.media_type == manifest::DOCKER_MANIFEST {
            PushFormat::V2s2
        } else {
            PushFormat::Oci
        });
    let compression = opts.compression.unwrap_or_default();
    let media = layer_media_type(format, compression)?;

    sink.event(Event::GettingSignatures);
    let mut new_layer_blobs = Vec::new();
    let mut layer_descs = Vec::new();
    for l in &src.layers {
        let (digest, size) = blob_for(blobs, l, compression, &mut new_layer_blobs, media)?;
        layer_descs.push(plain_descriptor(media, &digest, size));
    }
    send_layers(&rt, &dest, blobs, src, &layer_descs, sink)?;
    let config_desc = send_config(&rt, &dest, blobs, src, format, sink)?;
    let body = manifest_body(blobs, src, &stored, format, config_desc, layer_descs)?;
    sink.event(Event::WritingManifest);
    let manifest_size = body.len() as u64;
    let manifest_type = media_type_of(&body);
    let digest = send_manifest(&rt, &dest, blobs, body, opts.by_digest)?;
    sink.event(Event::StoringSignatures);
    Ok(Pushed {
        manifest_digest: digest,
        manifest_size,
        manifest_type,
        new_layer_blobs,
    })
}

fn connect(
    rt: &tokio::runtime::Runtime,
    conf: &RegistriesConf,
    opts: &PushOptions,
) -> Result<Dest, RegistryError> {
    let r = crate::image::parse_reference(&opts.destination)?;
    let Some(host) = r.domain.clone() else {
        return Err(RegistryError::Invalid(format!(
            "invalid destination {:?}: a registry host is needed (HOST/NAME[:TAG])",
            opts.destination
        )));
    };
    let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
    let creds = match &opts.creds {
        Some(c) => Credentials::parse_creds(c)?,
        None => AuthFile::new(opts.authfile.clone()).credentials(&host)?,
    };
    let oref = client::reference(&host, &r.path, &tag);
    let insecure = conf.insecure_host(&host);
    let remote = rt.block_on(client::connect(
        &host,
        &oref,
        insecure,
        &opts.tls,
        &creds,
        RegistryOperation::Push,
    ));
    let fail = |e: RegistryError| {
        RegistryError::Push(format!(
            "trying to reuse blob or upload to docker://{host}/{}:{tag}: {e}",
            r.path
        ))
    };
    Ok(Dest {
        remote: remote.map_err(fail)?,
        host: host.clone(),
        path: r.path.clone(),
        tag: tag.clone(),
    })
}

fn plain_descriptor(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest.to_string(),
        size,
        urls: None,
        annotations: None,
        platform: None,
    }
}

/// Uploads the layers (six at once), each unless the registry has it.
fn send_layers(
    rt: &tokio::runtime::Runtime,
    dest: &Dest,
    blobs: &BlobStore,
    src: &PushSource,
    layer_descs: &[Descriptor],
    sink: &dyn ProgressSink,
) -> Result<(), RegistryError> {
    // Repositories of this registry the image came from: blobs can be mounted from there.
    let sources: Vec<(String, String)> = src
        .repositories
        .iter()
        .filter_map(|r| r.split_once('/'))
        .filter(|(h, p)| *h == dest.host && *p != dest.path)
        .map(|(h, p)| (h.to_string(), p.to_string()))
        .collect();
    let uploads = futures_util::stream::iter(src.layers.iter().zip(layer_descs))
        .map(|(l, d)| {
            upload(
                &dest.remote,
                blobs,
                &dest.path,
                d,
                &l.diff_id,
                &sources,
                sink,
            )
        })
        .buffer_unordered(6)
        .collect::<Vec<_>>();
    for r in rt.block_on(uploads) {
        r.map_err(|e| dest.fail(e))?;
    }
    Ok(())
}

fn send_config(
    rt: &tokio::runtime::Runtime,
    dest: &Dest,
    blobs: &BlobStore,
    src: &PushSource,
    format: PushFormat,
    sink: &dyn ProgressSink,
) -> Result<Descriptor, RegistryError> {
    let media_type = match format {
        PushFormat::Oci => manifest::OCI_CONFIG,
        PushFormat::V2s2 => manifest::DOCKER_CONFIG,
    };
    let size = std::fs::metadata(blobs.path(&src.id))
        .map(|m| m.len())
        .unwrap_or(0);
    let desc = plain_descriptor(media_type, &src.id, size);
    rt.block_on(upload(
        &dest.remote,
        blobs,
        &dest.path,
        &desc,
        &src.id,
        &[],
        &super::Silent,
    ))
    .map_err(|e| dest.fail(e))?;
    sink.event(Event::Config {
        digest: src.id.to_string(),
    });
    Ok(desc)
}

/// The manifest to send: the stored one when nothing changed (same digest as where the
/// image came from), else a new one of `format`.
fn manifest_body(
    blobs: &BlobStore,
    src: &PushSource,
    stored: &ImageManifest,
    format: PushFormat,
    config: Descriptor,
    layers: Vec<Descriptor>,
) -> Result<Vec<u8>, RegistryError> {
    let unchanged = stored.layers.len() == layers.len()
        && stored
            .layers
            .iter()
            .zip(&layers)
            .all(|(a, b)| a.digest == b.digest && a.media_type == b.media_type)
        && stored.config.media_type == config.media_type;
    if unchanged {
        return Ok(blobs.get(&src.manifest_digest)?);
    }
    let m = ImageManifest {
        schema_version: 2,
        media_type: match format {
            PushFormat::Oci => manifest::OCI_MANIFEST,
            PushFormat::V2s2 => manifest::DOCKER_MANIFEST,
        }
        .to_string(),
        config,
        layers,
        annotations: None,
    };
    serde_json::to_vec(&m)
        .map_err(|e| RegistryError::Invalid(format!("serialising the manifest: {e}")))
}

/// Stores the manifest as a blob and puts it under the tag; returns its digest.
fn send_manifest(
    rt: &tokio::runtime::Runtime,
    dest: &Dest,
    blobs: &BlobStore,
    body: Vec<u8>,
    by_digest: bool,
) -> Result<Digest, RegistryError> {
    let media_type = media_type_of(&body);
    let digest = blobs.put(&body)?;
    let content_type = media_type
        .parse()
        .map_err(|_| RegistryError::Invalid(format!("invalid media type {media_type:?}")))?;
    let reference = if by_digest {
        digest.as_str()
    } else {
        dest.tag.as_str()
    };
    let oref = client::reference(&dest.host, &dest.path, reference);
    rt.block_on(
        dest.remote
            .client
            .push_manifest_raw(&oref, body, content_type),
    )
    .map_err(|e| {
        RegistryError::Push(format!(
            "writing manifest to docker://{}/{}:{}: {}",
            dest.host,
            dest.path,
            dest.tag,
            client::describe(&e, None)
        ))
    })?;
    Ok(digest)
}

/// A manifest's `mediaType` (OCI's when it names none).
fn media_type_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_string))
        .unwrap_or_else(|| manifest::OCI_MANIFEST.to_string())
}

/// The compressed blob to send for a layer (made now when we have none in `compression`);
/// returns its digest and size.
fn blob_for(
    blobs: &BlobStore,
    l: &SourceLayer,
    compression: Compression,
    made: &mut Vec<(Digest, Digest, String)>,
    media: &str,
) -> Result<(Digest, u64), RegistryError> {
    if let Some((d, mt)) = &l.blob
        && compression_of(mt) == Some(compression)
        && blobs.exists(d)
    {
        let size = std::fs::metadata(blobs.path(d))
            .map(|m| m.len())
            .unwrap_or(0);
        return Ok((d.clone(), size));
    }
    // The uncompressed tar: the import's blob, or the pulled blob decompressed.
    let tar: Box<dyn Read> = if blobs.exists(&l.diff_id) {
        Box::new(open(blobs, &l.diff_id)?)
    } else if let Some((d, _)) = &l.blob {
        crate::layer::decompress(open(blobs, d)?).map_err(crate::image::ImageError::from)?
    } else {
        return Err(RegistryError::Invalid(format!(
            "layer {} has no stored content to push",
            l.diff_id
        )));
    };
    let mut w = blobs.begin()?;
    let io_err =
        |e: io::Error| RegistryError::Invalid(format!("compressing layer {}: {e}", l.diff_id));
    match compression {
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(&mut w, flate2::Compression::fast());
            copy(tar, &mut enc).map_err(io_err)?;
            enc.finish().map_err(io_err)?;
        }
        Compression::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(&mut w, 3).map_err(io_err)?;
            copy(tar, &mut enc).map_err(io_err)?;
            enc.finish().map_err(io_err)?;
        }
    }
    let (d, size) = w.commit()?;
    made.push((l.diff_id.clone(), d.clone(), media.to_string()));
    Ok((d, size))
}

fn copy(mut r: impl Read, w: &mut impl Write) -> io::Result<u64> {
    io::copy(&mut r, w)
}

fn open(blobs: &BlobStore, d: &Digest) -> Result<std::fs::File, RegistryError> {
    std::fs::File::open(blobs.path(d)).map_err(|e| {
        RegistryError::Invalid(format!("opening blob {}: {e}", blobs.path(d).display()))
    })
}

/// Sends one blob unless the registry has it (HEAD) or can mount it from a repository the
/// image came from. `shown` is the digest Podman's line names (the diff id for a layer).
async fn upload(
    remote: &Remote,
    blobs: &BlobStore,
    path: &str,
    d: &Descriptor,
    shown: &Digest,
    sources: &[(String, String)],
    sink: &dyn ProgressSink,
) -> Result<(), String> {
    let oref = client::reference(&remote.host, path, &d.digest);
    sink.event(Event::BlobStart {
        digest: shown.to_string(),
        size: Some(d.size),
    });
    let exists = remote
        .client
        .blob_exists(&oref, &d.digest)
        .await
        .map_err(|e| client::describe(&e, None))?;
    if exists {
        sink.event(Event::BlobSkipped {
            digest: shown.to_string(),
        });
        return Ok(());
    }
    for (h, p) in sources {
        let from = client::reference(h, p, &d.digest);
        if remote
            .client
            .mount_blob(&oref, &from, &d.digest)
            .await
            .is_ok()
        {
            sink.event(Event::BlobSkipped {
                digest: shown.to_string(),
            });
            return Ok(());
        }
    }
    let digest = Digest::parse(&d.digest).map_err(|e| e.to_string())?;
    let file = tokio_file(blobs, &digest)?;
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(oci_client::errors::OciDistributionError::IoError(e)), f)),
        }
    });
    remote
        .client
        .push_blob_stream(&oref, stream, &d.digest, Some(d.size))
        .await
        .map_err(|e| client::describe(&e, None))?;
    sink.event(Event::BlobDone {
        digest: shown.to_string(),
    });
    Ok(())
}

fn tokio_file(blobs: &BlobStore, d: &Digest) -> Result<std::fs::File, String> {
    std::fs::File::open(blobs.path(d)).map_err(|e| format!("opening blob {d}: {e}"))
}
