//! `pull`: a name becomes candidates (registries.conf), each candidate is fetched from its
//! endpoints (mirrors first), and the first that works is stored.
//!
//! Layers download in parallel (tasks on the one current-thread runtime) and each streams
//! through a bounded channel into its own unpacking thread: the compressed bytes are hashed
//! and written to a blob as they pass, then decompressed into the safe unpacker, which hashes
//! the tar (the diff id). The layer is renamed into place only after both digests matched,
//! and the blob only after the layer. A layer already stored is not downloaded. Every blob
//! and layer a failed pull created is removed again; a pull that was killed leaves only
//! `.tmp-PID-*` entries, which the next pull sweeps. Layers are locked (flock, in sorted
//! order) for the whole pull, so two pulls of the same image store each layer once.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::RegistryOperation;
use oci_spec::image::ImageConfiguration;
use sha2::{Digest as _, Sha256};

use super::client::{self, Remote, Tls};
use super::conf::{Endpoint, FullName, RegistriesConf};
use super::manifest::{self, Descriptor, ImageManifest, Manifest, Platform};
use super::progress::{Event, ProgressSink};
use super::{AuthFile, Credentials, RegistryError};
use crate::image::{BlobStore, BlobWriter, Digest};
use crate::layer::{LayerError, LayerStore};

mod layers;
#[allow(unused_imports)]
pub use layers::*;

/// Downloads at once (c/image's default).
const PARALLEL: usize = 6;

/// A pull request.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// What the user typed.
    pub reference: String,
    pub platform: Platform,
    /// `--all-tags`.
    pub all_tags: bool,
    pub tls: Tls,
    pub authfile: Option<PathBuf>,
    /// `--creds USER:PASS`.
    pub creds: Option<String>,
}

/// Where a pull stores things.
pub struct Store<'a> {
    pub blobs: &'a BlobStore,
    pub layers: &'a LayerStore,
    /// Directory for the per-layer lock files.
    pub lock_dir: PathBuf,
}

/// An image a pull stored (blobs and layers; the caller records it).
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// The full name, `docker.io/library/alpine:latest` (or `…@sha256:…`).
    pub name: String,
    /// The config digest.
    pub id: Digest,
    /// What the name points to in the registry (an index, or the manifest).
    pub digest: Digest,
    /// The image manifest (stored as a blob).
    pub manifest_digest: Digest,
    pub manifest_type: String,
    /// Diff ids, bottom first.
    pub layers: Vec<Digest>,
    /// Compressed blobs by layer (what the manifest lists).
    pub layer_blobs: Vec<Digest>,
    pub config: ImageConfiguration,
    /// Uncompressed size of the layers.
    pub size: u64,
}

/// Pulls `opts.reference`; `record` is called for each image stored, before anything a
/// failed pull made is undone (an error from it undoes that image's new blobs and layers).
pub fn pull(
    store: &Store<'_>,
    conf: &RegistriesConf,
    opts: &PullOptions,
    sink: &dyn ProgressSink,
    record: &mut dyn FnMut(&PulledImage) -> Result<(), RegistryError>,
) -> Result<Vec<PulledImage>, RegistryError> {
    let cands = conf.candidates(&opts.reference)?;
    if let Some(m) = cands.resolution.message() {
        sink.event(Event::Resolved(m));
    }
    let policy = super::trust::Policy::load(&conf.policy)?;
    store.blobs.sweep_stale();
    store.layers.sweep_stale();
    let p = Puller {
        rt: client::runtime()?,
        store,
        conf,
        opts,
        sink,
    };
    let mut errors = Vec::new();
    for name in &cands.names {
        if let Err(e) = policy.check_pull(name) {
            errors.push(e);
            continue;
        }
        let result = if opts.all_tags {
            p.pull_all_tags(name, record)
        } else {
            sink.event(Event::Trying(name.to_string()));
            p.pull_name(name, record).map(|i| vec![i])
        };
        match result {
            Ok(images) => return Ok(images),
            Err(e) => errors.push(e),
        }
    }
    if errors.len() == 1 {
        Err(errors.pop().expect("one error"))
    } else {
        Err(RegistryError::Many(errors))
    }
}

/// One pull's runtime, store, configuration, request and progress sink.
struct Puller<'a> {
    rt: tokio::runtime::Runtime,
    store: &'a Store<'a>,
    conf: &'a RegistriesConf,
    opts: &'a PullOptions,
    sink: &'a dyn ProgressSink,
}

/// Records a pulled image (the caller's database insert).
type Record<'r> = &'r mut dyn FnMut(&PulledImage) -> Result<(), RegistryError>;

impl Puller<'_> {
    fn pull_all_tags(
        &self,
        name: &FullName,
        record: Record<'_>,
    ) -> Result<Vec<PulledImage>, RegistryError> {
        let (rt, conf, opts, sink) = (&self.rt, self.conf, self.opts, self.sink);
        if name.tag.is_some() || name.digest.is_some() {
            return Err(RegistryError::Invalid(format!(
                "tag can't be used with --all-tags/-a: {}",
                opts.reference
            )));
        }
        let ep = conf.endpoints(name)?.pop().expect("one endpoint at least");
        let source = |detail: String| RegistryError::Source {
            reference: name.repository(),
            detail,
        };
        let remote = self
            .connect(&ep, "latest")
            .map_err(|e| source(e.to_string()))?;
        let oref = client::reference(remote.host.as_str(), ep.path(), "latest");
        let tags = rt
            .block_on(remote.client.list_tags(&oref, &remote.auth, None, None))
            .map_err(|e| source(format!("listing tags: {}", client::describe(&e, None))))?;
        let mut out = Vec::new();
        for tag in tags.tags {
            let n = FullName {
                tag: Some(tag),
                ..name.clone()
            };
            sink.event(Event::Trying(n.to_string()));
            out.push(self.pull_name(&n, record)?);
        }
        Ok(out)
    }

    fn connect(&self, ep: &Endpoint, reference: &str) -> Result<Remote, RegistryError> {
        let (conf, opts) = (self.conf, self.opts);
        let host = ep.host();
        let creds = match &opts.creds {
            Some(c) => Credentials::parse_creds(c)?,
            None => AuthFile::new(opts.authfile.clone()).credentials(host)?,
        };
        let oref = client::reference(host, ep.path(), reference);
        let insecure = ep.insecure || conf.insecure_host(host);
        self.rt.block_on(client::connect(
            host,
            &oref,
            insecure,
            &opts.tls,
            &creds,
            RegistryOperation::Pull,
        ))
    }

    /// Pulls one fully-qualified name, trying its endpoints in order; the error is the last
    /// endpoint's (the registry itself), in Podman's words.
    fn pull_name(&self, name: &FullName, record: Record<'_>) -> Result<PulledImage, RegistryError> {
        let endpoints = self.conf.endpoints(name)?;
        let mut last = None;
        for ep in &endpoints {
            match self.pull_endpoint(name, ep, &mut *record) {
                Ok(img) => return Ok(img),
                Err(e) => {
                    tracing::debug!(endpoint = %ep.repository, error = %e, "pull from endpoint failed");
                    last = Some(e);
                }
            }
        }
        let detail = last.map(|e| e.to_string()).unwrap_or_default();
        Err(RegistryError::Source {
            reference: name.to_string(),
            detail,
        })
    }

    fn pull_endpoint(
        &self,
        name: &FullName,
        ep: &Endpoint,
        record: Record<'_>,
    ) -> Result<PulledImage, RegistryError> {
        let (rt, store, sink) = (&self.rt, self.store, self.sink);
        let remote = self.connect(ep, name.reference())?;
        let fetched = fetch_manifest(rt, &remote, ep, name, &self.opts.platform)?;
        sink.event(Event::GettingSignatures);
        let mut undo = Undo::new(store);
        let config_bytes = fetch_config(rt, &remote, ep, &fetched.manifest, store.blobs)?;
        let config: ImageConfiguration = serde_json::from_slice(&config_bytes)
            .map_err(|e| RegistryError::Invalid(format!("parsing image config: {e}")))?;
        let diff_ids = config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| Digest::parse(d))
            .collect::<Result<Vec<_>, _>>()?;
        let m = &fetched.manifest;
        if diff_ids.len() != m.layers.len() {
            return Err(RegistryError::Invalid(format!(
                "image config lists {} layers, the manifest {}",
                diff_ids.len(),
                m.layers.len()
            )));
        }
        let layer_blobs = m
            .layers
            .iter()
            .map(|l| Digest::parse(&l.digest))
            .collect::<Result<Vec<_>, _>>()?;
        let size = fetch_layers(rt, &remote, ep, m, &diff_ids, &mut undo, sink)?;
        let id = undo.put(&config_bytes)?;
        sink.event(Event::Config {
            digest: id.to_string(),
        });
        sink.event(Event::WritingManifest);
        let manifest_digest = undo.put(&fetched.manifest_bytes)?;
        if let Some(index) = &fetched.index_bytes {
            undo.put(index)?;
        }
        sink.event(Event::StoringSignatures);
        let img = PulledImage {
            name: name.to_string(),
            id,
            digest: fetched.digest,
            manifest_digest,
            manifest_type: m.media_type.clone(),
            layers: diff_ids,
            layer_blobs,
            config,
            size,
        };
        record(&img)?;
        undo.done = true;
        Ok(img)
    }
}

struct Fetched {
    /// What the name points to.
    digest: Digest,
    manifest: ImageManifest,
    manifest_bytes: Bytes,
    index_bytes: Option<Bytes>,
}

fn fetch_manifest(
    rt: &tokio::runtime::Runtime,
    remote: &Remote,
    ep: &Endpoint,
    name: &FullName,
    platform: &Platform,
) -> Result<Fetched, RegistryError> {
    let reading = |what: &str, e: &oci_client::errors::OciDistributionError| {
        RegistryError::Invalid(format!(
            "reading manifest {what} in {}: {}",
            ep.repository,
            client::describe(e, None)
        ))
    };
    let oref = client::reference(&remote.host, ep.path(), name.reference());
    let (body, digest) = rt
        .block_on(
            remote
                .client
                .pull_manifest_raw(&oref, &remote.auth, manifest::ACCEPT),
        )
        .map_err(|e| reading(name.reference(), &e))?;
    let digest = Digest::parse(&digest)?;
    match manifest::parse(&body, None)? {
        Manifest::Image(m) => Ok(Fetched {
            digest,
            manifest: *m,
            manifest_bytes: body,
            index_bytes: None,
        }),
        Manifest::Index(idx) => {
            let entry = platform.pick(&idx).ok_or_else(|| {
                RegistryError::Invalid(format!(
                    "choosing an image from manifest list docker://{name}: no image found in manifest list for architecture \"{}\", variant \"{}\", OS \"{}\"",
                    platform.architecture,
                    platform.variant.as_deref().unwrap_or(""),
                    platform.os
                ))
            })?;
            let iref = client::reference(&remote.host, ep.path(), &entry.digest);
            let (ibody, idigest) = rt
                .block_on(
                    remote
                        .client
                        .pull_manifest_raw(&iref, &remote.auth, manifest::ACCEPT),
                )
                .map_err(|e| reading(&entry.digest, &e))?;
            let Manifest::Image(m) = manifest::parse(&ibody, None)? else {
                return Err(RegistryError::Invalid(format!(
                    "manifest {} in an index is an index itself",
                    entry.digest
                )));
            };
            let _ = Digest::parse(&idigest)?;
            Ok(Fetched {
                digest,
                manifest: *m,
                manifest_bytes: ibody,
                index_bytes: Some(body),
            })
        }
    }
}

/// The config blob: from the store when present, else downloaded (and verified).
fn fetch_config(
    rt: &tokio::runtime::Runtime,
    remote: &Remote,
    ep: &Endpoint,
    m: &ImageManifest,
    blobs: &BlobStore,
) -> Result<Vec<u8>, RegistryError> {
    let digest = Digest::parse(&m.config.digest)?;
    if let Ok(b) = blobs.get(&digest) {
        return Ok(b);
    }
    let oref = client::reference(&remote.host, ep.path(), &m.config.digest);
    let desc = oci_desc(&m.config);
    let mut out = Vec::new();
    rt.block_on(remote.client.pull_blob(&oref, &desc, &mut out))
        .map_err(|e| {
            RegistryError::Invalid(format!(
                "reading blob {}: {}",
                m.config.digest,
                client::describe(&e, None)
            ))
        })?;
    let actual = Digest::of_bytes(&out);
    if actual != digest {
        return Err(RegistryError::Invalid(format!(
            "reading blob {digest}: digest did not match, expected {digest}, got {actual}"
        )));
    }
    Ok(out)
}

fn oci_desc(d: &Descriptor) -> oci_client::manifest::OciDescriptor {
    oci_client::manifest::OciDescriptor {
        media_type: d.media_type.clone(),
        digest: d.digest.clone(),
        size: d.size as i64,
        urls: d.urls.clone(),
        annotations: None,
        artifact_type: None,
    }
}

/// Blobs and layers a pull made, removed again unless it succeeds; and the layer locks it
/// holds until then.
struct Undo<'a> {
    store: &'a Store<'a>,
    blobs: Vec<Digest>,
    layers: Vec<Digest>,
    locks: Vec<nix::fcntl::Flock<File>>,
    done: bool,
}

impl<'a> Undo<'a> {
    fn new(store: &'a Store<'a>) -> Self {
        Undo {
            store,
            blobs: Vec::new(),
            layers: Vec::new(),
            locks: Vec::new(),
            done: false,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<Digest, RegistryError> {
        let d = Digest::of_bytes(bytes);
        if self.store.blobs.exists(&d) {
            return Ok(d);
        }
        let d = self.store.blobs.put(bytes)?;
        self.blobs.push(d.clone());
        Ok(d)
    }

    /// Locks the layers, in sorted order (two pulls never wait on each other in a cycle).
    fn lock_layers(&mut self, diff_ids: &[Digest]) -> Result<(), RegistryError> {
        let mut sorted: Vec<&Digest> = diff_ids.iter().collect();
        sorted.sort();
        sorted.dedup();
        std::fs::create_dir_all(&self.store.lock_dir).map_err(|e| {
            RegistryError::Invalid(format!("creating {}: {e}", self.store.lock_dir.display()))
        })?;
        for d in sorted {
            let path = self.store.lock_dir.join(format!("layer-{}", d.hex()));
            let f = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| RegistryError::Invalid(format!("opening {}: {e}", path.display())))?;
            let lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(
                |(_, e)| RegistryError::Invalid(format!("locking {}: {e}", path.display())),
            )?;
            self.locks.push(lock);
        }
        Ok(())
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for l in &self.layers {
            if let Err(e) = self.store.layers.remove(l.as_str()) {
                tracing::warn!(layer = %l, error = %e, "cannot remove a layer of a failed pull");
            }
        }
        for b in &self.blobs {
            if let Err(e) = self.store.blobs.remove(b) {
                tracing::warn!(blob = %b, error = %e, "cannot remove a blob of a failed pull");
            }
        }
    }
}
