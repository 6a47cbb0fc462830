//! What `manifest add` reads: an image of the store (`containers-storage:NAME`), or a
//! manifest in a registry (`docker://NAME`, the default as in Podman 4.3), which is read
//! without pulling its layers: the manifest, and the config for an image's platform.

use super::is_list;
use super::list::{Instance, ListDoc, ListPlatform, pretty};
use crate::Engine;
use crate::error::{Error, Result};
use crate::image::Digest;
use crate::image::registry::manifest::{self, ImageManifest, Manifest, OCI_MANIFEST};
use crate::image::registry::{Platform, RegistryOperation, RemoteOptions, Repo, Session};

/// Where an image to add is.
enum Source<'a> {
    Local(&'a str),
    Registry(&'a str),
}

fn source(image: &str) -> Result<Source<'_>> {
    if let Some(rest) = image.strip_prefix("containers-storage:") {
        return Ok(Source::Local(rest));
    }
    if let Some(rest) = image.strip_prefix("docker://") {
        return Ok(Source::Registry(rest));
    }
    for t in [
        "dir:",
        "docker-archive:",
        "oci-archive:",
        "oci:",
        "docker-daemon:",
    ] {
        if image.starts_with(t) {
            return Err(Error::invalid(format!(
                "adding {image:?} to a manifest list: the {} transport is not supported by peapod (containers-storage: and docker:// are)",
                t.trim_end_matches(':')
            )));
        }
    }
    Ok(Source::Registry(image))
}

/// The platform an image config names.
fn platform_of_config(config: &[u8]) -> ListPlatform {
    let v: serde_json::Value = serde_json::from_slice(config).unwrap_or_default();
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let list = |k: &str| {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    ListPlatform {
        architecture: s("architecture"),
        os: s("os"),
        os_version: s("os.version"),
        os_features: list("os.features"),
        variant: s("variant"),
        features: Vec::new(),
    }
}

fn from_descriptor(d: &manifest::Descriptor) -> Instance {
    let p = d.platform.clone().unwrap_or_default();
    Instance {
        media_type: d.media_type.clone(),
        digest: d.digest.clone(),
        size: d.size,
        urls: d.urls.clone().unwrap_or_default(),
        annotations: d.annotations.clone().unwrap_or_default(),
        platform: ListPlatform {
            architecture: p.architecture,
            os: p.os,
            variant: p.variant.unwrap_or_default(),
            ..Default::default()
        },
    }
}

fn host_matches(p: &ListPlatform) -> bool {
    let host = Platform::host();
    p.os == host.os && p.architecture == host.architecture
}

impl Engine {
    /// Adds `image` to `doc` (in memory); returns the digests added.
    pub(super) fn add_to_doc(
        &self,
        doc: &mut ListDoc,
        image: &str,
        all: bool,
        remote: &RemoteOptions,
    ) -> Result<Vec<String>> {
        match source(image)? {
            Source::Local(name) => self.add_local(doc, image, name, all),
            Source::Registry(name) => self.add_remote(doc, name, all, remote),
        }
    }

    fn add_local(
        &self,
        doc: &mut ListDoc,
        given: &str,
        name: &str,
        all: bool,
    ) -> Result<Vec<String>> {
        let rec = self.resolve_image(name).map_err(|e| {
            Error::invalid(format!(
                "setting up to read manifest and configuration from {given:?}: {e}"
            ))
        })?;
        if is_list(&rec) {
            let inner = self.list_doc(&rec)?.unwrap_or_default();
            let chosen: Vec<&Instance> = if all {
                inner.manifests.iter().collect()
            } else {
                inner
                    .manifests
                    .iter()
                    .find(|m| host_matches(&m.platform))
                    .into_iter()
                    .collect()
            };
            if chosen.is_empty() {
                return Err(Error::invalid(format!(
                    "{given}: no image in the list for this platform ({})",
                    Platform::host().display()
                )));
            }
            let mut out = Vec::new();
            for m in chosen {
                let src = inner.sources.get(&m.digest).cloned().unwrap_or_default();
                doc.add(m.clone(), src);
                out.push(m.digest.clone());
            }
            return Ok(out);
        }
        let digest = Digest::parse(&rec.manifest_digest)?;
        let bytes = self.blobs().get(&digest)?;
        let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["mediaType"].as_str().map(str::to_string))
            .or_else(|| rec.manifest_type.clone())
            .unwrap_or_else(|| OCI_MANIFEST.to_string());
        let config = self.blobs().get(&Digest::from_hex(&rec.id)?)?;
        let inst = Instance {
            media_type,
            digest: digest.to_string(),
            size: bytes.len() as u64,
            urls: Vec::new(),
            annotations: Default::default(),
            platform: platform_of_config(&config),
        };
        doc.add(inst, format!("containers-storage:{}", rec.id));
        Ok(vec![digest.to_string()])
    }

    fn session(&self, remote: &RemoteOptions) -> Result<Session> {
        Ok(Session::new(self.registries_conf()?, remote.clone())?)
    }

    fn add_remote(
        &self,
        doc: &mut ListDoc,
        name: &str,
        all: bool,
        remote: &RemoteOptions,
    ) -> Result<Vec<String>> {
        let setup = |e: String| {
            Error::invalid(format!(
                "setting up to read manifest and configuration from \"docker://{name}\": {e}"
            ))
        };
        let session = self.session(remote)?;
        let repo = session
            .open(name, RegistryOperation::Pull)
            .map_err(|e| setup(e.to_string()))?;
        let (body, digest) = session
            .manifest(&repo, repo.name.reference())
            .map_err(|e| setup(e.to_string()))?;
        let source = |d: &str| format!("docker://{}@{d}", repo.repository());
        match manifest::parse(&body, None)? {
            Manifest::Index(idx) => {
                let chosen: Vec<&manifest::Descriptor> = if all {
                    idx.manifests.iter().collect()
                } else {
                    Platform::host().pick(&idx).into_iter().collect()
                };
                if chosen.is_empty() {
                    return Err(Error::invalid(format!(
                        "choosing an image from manifest list docker://{}: no image found in manifest list for this platform ({})",
                        repo.name,
                        Platform::host().display()
                    )));
                }
                let mut out = Vec::new();
                for d in chosen {
                    doc.add(from_descriptor(d), source(&d.digest));
                    out.push(d.digest.clone());
                }
                Ok(out)
            }
            Manifest::Image(m) => {
                let config = session
                    .blob(&repo, &m.config)
                    .map_err(|e| setup(e.to_string()))?;
                let inst = Instance {
                    media_type: m.media_type.clone(),
                    digest: digest.to_string(),
                    size: body.len() as u64,
                    urls: Vec::new(),
                    annotations: Default::default(),
                    platform: platform_of_config(&config),
                };
                doc.add(inst, source(digest.as_str()));
                Ok(vec![digest.to_string()])
            }
        }
    }

    /// `manifest inspect` of a name that is no local list: the registry's manifest.
    pub(super) fn inspect_remote(&self, name: &str, remote: &RemoteOptions) -> Result<String> {
        let name = name.strip_prefix("docker://").unwrap_or(name);
        let fail = |e: String| Error::invalid(format!("reading image \"docker://{name}\": {e}"));
        let session = self.session(remote)?;
        let repo: Repo = session
            .open(name, RegistryOperation::Pull)
            .map_err(|e| fail(e.to_string()))?;
        let (body, _) = session
            .manifest(&repo, repo.name.reference())
            .map_err(|e| fail(e.to_string()))?;
        match manifest::parse(&body, None).map_err(|e| fail(e.to_string()))? {
            Manifest::Index(_) => Ok(ListDoc::from_registry(&body)
                .map_err(|e| fail(format!("parsing manifest list: {e}")))?
                .inspect_json()),
            Manifest::Image(m) => Ok(pretty::<ImageManifest>(&m)),
        }
    }
}
