//! Pull, push, login and logout: the registry client of [`crate::image::registry`] tied to
//! the database, and the pull policy of `run`/`create`/`pod create`/`kube play`.

use crate::Engine;
use crate::error::{Error, Result};
use crate::image::Digest;
use crate::image::registry::{
    self, ConfPaths, ProgressSink, PullOptions, PulledImage, PushOptions, PushSource,
    RegistriesConf, SourceLayer, Store,
};
use crate::state::ImageRecord;
use crate::state::repository_of;

/// `--pull`: when `run`/`create` fetch their image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullPolicy {
    /// Only when no local image matches (the default).
    #[default]
    Missing,
    Always,
    Never,
    /// When the registry has something other than what is stored (a failed check keeps the
    /// local image).
    Newer,
}

impl PullPolicy {
    /// Podman's names (c/common's `ParsePullPolicy`).
    pub fn parse(s: &str) -> Result<PullPolicy> {
        match s.to_ascii_lowercase().as_str() {
            "missing" | "ifmissing" | "ifnotpresent" | "" => Ok(PullPolicy::Missing),
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            "newer" | "ifnewer" => Ok(PullPolicy::Newer),
            _ => Err(Error::invalid(format!("unsupported pull policy {s:?}"))),
        }
    }
}

impl Engine {
    /// registries.conf and its drop-ins, as this process sees them.
    pub fn registries_conf(&self) -> Result<RegistriesConf> {
        Ok(RegistriesConf::load(&ConfPaths::from_env())?)
    }

    /// `pull`: fetches and records the image(s); returns them (one, or every tag with
    /// `--all-tags`).
    pub fn pull_image(
        &self,
        opts: &PullOptions,
        sink: &dyn ProgressSink,
    ) -> Result<Vec<ImageRecord>> {
        // `docker-archive:PATH`, `oci-archive:PATH`: a load, logged as a pull.
        if let Some(loaded) = self.load_transport(&opts.reference, sink) {
            return Ok(vec![self.resolve_image(&loaded?)?]);
        }
        let conf = self.registries_conf()?;
        let blobs = self.blobs();
        let layers = self.layer_store();
        let store = Store {
            blobs: &blobs,
            layers: &layers,
            lock_dir: self.paths.locks(),
        };
        let mut records = Vec::new();
        let mut record = |img: &PulledImage| -> std::result::Result<(), registry::RegistryError> {
            let rec = self.record_pulled(img).map_err(|e| {
                registry::RegistryError::Invalid(format!("recording {}: {e}", img.name))
            })?;
            records.push(rec);
            Ok(())
        };
        registry::pull(&store, &conf, opts, sink, &mut record)?;
        self.emit_image("pull", "", &opts.reference);
        Ok(records)
    }

    fn record_pulled(&self, img: &PulledImage) -> Result<ImageRecord> {
        let created = img
            .config
            .created()
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_else(chrono::Utc::now);
        let mut digests = vec![img.digest.to_string()];
        if img.manifest_digest != img.digest {
            digests.push(img.manifest_digest.to_string());
        }
        let layer_blobs: Vec<Option<(String, String)>> = img
            .layer_blobs
            .iter()
            .map(|b| Some((b.to_string(), String::new())))
            .collect();
        let names = vec![img.name.clone()];
        let rec = match self.db.image(img.id.hex())? {
            Some(mut old) => {
                // The latest pull's digests come first: `.Digest` is the manifest last
                // written, as in c/storage.
                old.digests.retain(|d| !digests.contains(d));
                let mut merged = digests;
                merged.append(&mut old.digests);
                old.digests = merged;
                old.manifest_type = Some(img.manifest_type.clone());
                old.manifest_digest = img.manifest_digest.to_string();
                if old.layer_blobs.iter().all(Option::is_none) {
                    old.layer_blobs = layer_blobs;
                }
                self.db.update_image(&old)?;
                self.db.insert_image(&old, &names)?;
                old
            }
            None => {
                let rec = ImageRecord {
                    id: img.id.hex().to_string(),
                    manifest_digest: img.manifest_digest.to_string(),
                    layers: img.layers.iter().map(|d| d.to_string()).collect(),
                    created,
                    size: img.size,
                    names: names.clone(),
                    digests,
                    layer_blobs,
                    manifest_type: Some(img.manifest_type.clone()),
                    names_history: Vec::new(),
                };
                self.db.insert_image(&rec, &names)?;
                rec
            }
        };
        Ok(self.db.image(&rec.id)?.unwrap_or(rec))
    }

    /// The image `reference` names, pulled first as `policy` says. Returns the name to
    /// create the container with (the pulled full name when a pull happened).
    pub fn ensure_image(
        &self,
        reference: &str,
        policy: PullPolicy,
        template: &PullOptions,
        sink: &dyn ProgressSink,
    ) -> Result<String> {
        // `docker-archive:PATH` / `oci-archive:PATH`: load the archive, whatever the policy.
        if let Some(loaded) = self.load_transport(reference, sink) {
            return loaded;
        }
        let local = self.resolve_image(reference);
        let pull = |sink: &dyn ProgressSink| -> Result<String> {
            let opts = PullOptions {
                reference: reference.to_string(),
                ..template.clone()
            };
            let recs = self.pull_image(&opts, sink)?;
            Ok(recs
                .first()
                .and_then(|r| r.names.first().cloned())
                .unwrap_or_else(|| reference.to_string()))
        };
        // `localhost/…` names only ever exist locally: never pulled implicitly.
        let local_only = crate::image::parse_reference(reference)
            .is_ok_and(|r| r.domain.as_deref() == Some("localhost"));
        match (policy, local) {
            (PullPolicy::Never, Ok(_)) | (PullPolicy::Missing, Ok(_)) => Ok(reference.to_string()),
            (PullPolicy::Missing | PullPolicy::Newer, Err(e)) if local_only => Err(e),
            (PullPolicy::Never, Err(e)) => Err(e),
            (PullPolicy::Missing | PullPolicy::Always, Err(Error::NoSuchImage(_))) => pull(sink),
            (PullPolicy::Always, Ok(_)) => pull(sink),
            (PullPolicy::Newer, Ok(_)) => match pull(sink) {
                Ok(name) => Ok(name),
                Err(e) => {
                    tracing::warn!(image = reference, error = %e, "cannot check for a newer image; using the local one");
                    Ok(reference.to_string())
                }
            },
            (PullPolicy::Newer, Err(Error::NoSuchImage(_))) => pull(sink),
            (_, Err(e)) => Err(e),
        }
    }

    /// `push SOURCE [DESTINATION]`: returns the manifest digest the registry stored.
    pub fn push_image(
        &self,
        source: &str,
        opts: &PushOptions,
        sink: &dyn ProgressSink,
    ) -> Result<Digest> {
        let mut image = self.resolve_image(source)?;
        // A manifest list goes with its images, as `manifest push --all`.
        if crate::manifest::is_list(&image) {
            return self.push_manifest_list(
                &crate::manifest::ListPushRequest::from_push(&image.id, opts),
                sink,
            );
        }
        let conf = self.registries_conf()?;
        let src = self.push_source(&image)?;
        let pushed = registry::push(&self.blobs(), &conf, &src, opts, sink)?;
        let d = pushed.manifest_digest.to_string();
        if !image.digests.contains(&d) {
            image.digests.push(d);
        }
        if image.layer_blobs.len() != image.layers.len() {
            image.layer_blobs = vec![None; image.layers.len()];
        }
        for (diff, blob, mt) in &pushed.new_layer_blobs {
            if let Some(i) = image.layers.iter().position(|l| l == diff.as_str())
                && image.layer_blobs[i].is_none()
            {
                image.layer_blobs[i] = Some((blob.to_string(), mt.clone()));
            }
        }
        self.db.update_image(&image)?;
        self.emit_image("push", &image.id, &opts.destination);
        Ok(pushed.manifest_digest)
    }

    /// What a push of `image` sends: its config, layers (with the compressed blobs held for
    /// them) and stored manifest.
    pub(crate) fn push_source(&self, image: &ImageRecord) -> Result<PushSource> {
        let src = PushSource {
            id: Digest::from_hex(&image.id)?,
            layers: image
                .layers
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    Ok(SourceLayer {
                        diff_id: Digest::parse(l)?,
                        blob: image
                            .layer_blobs
                            .get(i)
                            .cloned()
                            .flatten()
                            .map(|(d, mt)| Digest::parse(&d).map(|d| (d, mt)))
                            .transpose()?,
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            manifest_digest: Digest::parse(&image.manifest_digest)?,
            repositories: image
                .names
                .iter()
                .map(|n| repository_of(n).to_string())
                .collect(),
        };
        self.with_blob_media_types(src)
    }

    /// Fills in the media types of pulled blobs from the stored manifest (a pull records
    /// only the digests).
    fn with_blob_media_types(&self, mut src: PushSource) -> Result<PushSource> {
        let Ok(bytes) = self.blobs().get(&src.manifest_digest) else {
            return Ok(src);
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return Ok(src);
        };
        let layers = v["layers"].as_array().cloned().unwrap_or_default();
        for l in &mut src.layers {
            if let Some((d, mt)) = &mut l.blob
                && mt.is_empty()
                && let Some(m) = layers
                    .iter()
                    .find(|x| x["digest"].as_str() == Some(d.as_str()))
            {
                *mt = m["mediaType"].as_str().unwrap_or_default().to_string();
            }
        }
        Ok(src)
    }

    /// `login`: checks the credentials with the registry, then stores them.
    pub fn login(
        &self,
        registry_name: &str,
        user: &str,
        password: &str,
        authfile: &registry::AuthFile,
        tls: &registry::Tls,
    ) -> Result<()> {
        let key = registry::registry_key(registry_name);
        let host = key.split('/').next().unwrap_or(&key).to_string();
        let conf = self.registries_conf()?;
        registry::verify_login(&host, conf.insecure_host(&host), tls, user, password)?;
        registry::login(authfile, &key, user, password)?;
        Ok(())
    }
}
