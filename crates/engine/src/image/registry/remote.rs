//! A registry read without a pull, for manifest lists: one manifest (and an image's config)
//! by tag or digest; and an image that lives in one repository copied into another, blob by
//! blob (mounted when both are on one registry, else streamed straight from one to the
//! other, never through the local store), then its manifest put under its digest.

use std::path::PathBuf;

use futures_util::StreamExt;
use oci_client::RegistryOperation;
use oci_client::errors::OciDistributionError;

use super::client::{self, Remote, Tls};
use super::conf::{FullName, RegistriesConf};
use super::manifest::{self, Descriptor, Manifest};
use super::{AuthFile, Credentials, RegistryError};
use crate::image::Digest;

/// How to reach registries: the flags `manifest add`/`inspect`/`push` share.
#[derive(Debug, Clone, Default)]
pub struct RemoteOptions {
    pub tls: Tls,
    pub authfile: Option<PathBuf>,
    /// `--creds USER[:PASS]`.
    pub creds: Option<String>,
}

/// One repository of one registry, connected.
pub struct Repo {
    /// The name as resolved (`HOST/PATH:TAG` or `…@DIGEST`).
    pub name: FullName,
    remote: Remote,
    /// The repository path at the endpoint (registries.conf may rewrite it).
    path: String,
}

impl Repo {
    /// `HOST/PATH` of the endpoint.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.remote.host, self.path)
    }
}

/// A runtime for one command's registry traffic.
pub struct Session {
    rt: tokio::runtime::Runtime,
    conf: RegistriesConf,
    opts: RemoteOptions,
}

impl Session {
    pub fn new(conf: RegistriesConf, opts: RemoteOptions) -> Result<Session, RegistryError> {
        Ok(Session {
            rt: client::runtime()?,
            conf,
            opts,
        })
    }

    /// Resolves `input` (a short name through registries.conf, as a pull does; its first
    /// candidate) and connects to its registry (`op` decides the token scope).
    pub fn open(&self, input: &str, op: RegistryOperation) -> Result<Repo, RegistryError> {
        let cands = self.conf.candidates(input)?;
        let name = cands
            .names
            .into_iter()
            .next()
            .ok_or_else(|| RegistryError::Invalid(format!("no registry to look {input} up")))?;
        let ep = self
            .conf
            .endpoints(&name)?
            .pop()
            .expect("one endpoint at least");
        let host = ep.host().to_string();
        let creds = match &self.opts.creds {
            Some(c) => Credentials::parse_creds(c)?,
            None => AuthFile::new(self.opts.authfile.clone()).credentials(&host)?,
        };
        let oref = client::reference(&host, ep.path(), name.reference());
        let insecure = ep.insecure || self.conf.insecure_host(&host);
        let remote = self.rt.block_on(client::connect(
            &host,
            &oref,
            insecure,
            &self.opts.tls,
            &creds,
            op,
        ))?;
        Ok(Repo {
            path: ep.path().to_string(),
            name,
            remote,
        })
    }

    /// The raw manifest `reference` (a tag or a digest) names, and its digest.
    pub fn manifest(
        &self,
        repo: &Repo,
        reference: &str,
    ) -> Result<(Vec<u8>, Digest), RegistryError> {
        let oref = client::reference(&repo.remote.host, &repo.path, reference);
        let (body, digest) = self
            .rt
            .block_on(repo.remote.client.pull_manifest_raw(
                &oref,
                &repo.remote.auth,
                manifest::ACCEPT,
            ))
            .map_err(|e| {
                RegistryError::Invalid(format!(
                    "reading manifest {reference} in {}: {}",
                    repo.repository(),
                    client::describe(&e, None)
                ))
            })?;
        let actual = Digest::of_bytes(&body);
        if reference.starts_with("sha256:") && actual.as_str() != reference {
            return Err(RegistryError::Invalid(format!(
                "manifest {reference} in {}: digest did not match, got {actual}",
                repo.repository()
            )));
        }
        let _ = digest;
        Ok((body.to_vec(), actual))
    }

    /// A small blob (an image config), checked against its digest.
    pub fn blob(&self, repo: &Repo, d: &Descriptor) -> Result<Vec<u8>, RegistryError> {
        let oref = client::reference(&repo.remote.host, &repo.path, &d.digest);
        let mut out = Vec::new();
        self.rt
            .block_on(repo.remote.client.pull_blob(&oref, &oci_desc(d), &mut out))
            .map_err(|e| {
                RegistryError::Invalid(format!(
                    "reading blob {}: {}",
                    d.digest,
                    client::describe(&e, None)
                ))
            })?;
        let actual = Digest::of_bytes(&out);
        if actual.as_str() != d.digest {
            return Err(RegistryError::Invalid(format!(
                "reading blob {}: digest did not match, got {actual}",
                d.digest
            )));
        }
        Ok(out)
    }

    /// Copies the image manifest `digest` of `from` (with its config and layers) into `to`,
    /// under the same digest; returns the manifest's size and media type.
    pub fn copy_image(
        &self,
        from: &Repo,
        digest: &str,
        to: &Repo,
    ) -> Result<(u64, String), RegistryError> {
        let (body, _) = self.manifest(from, digest)?;
        let Manifest::Image(m) = manifest::parse(&body, None)? else {
            return Err(RegistryError::Invalid(format!(
                "{digest} in {} is a list itself: only images are copied",
                from.repository()
            )));
        };
        for d in std::iter::once(&m.config).chain(&m.layers) {
            self.rt
                .block_on(copy_blob(from, to, d))
                .map_err(|e| push_fail(to, &format!("copying blob {}: {e}", d.digest)))?;
        }
        let media = m.media_type.clone();
        self.put_manifest(to, digest, body.clone(), &media)?;
        Ok((body.len() as u64, media))
    }

    /// Puts `body` (of `media_type`) under `reference` (a tag or its digest) in `to`.
    pub fn put_manifest(
        &self,
        to: &Repo,
        reference: &str,
        body: Vec<u8>,
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of_bytes(&body);
        let content_type = media_type
            .parse()
            .map_err(|_| RegistryError::Invalid(format!("invalid media type {media_type:?}")))?;
        let oref = client::reference(&to.remote.host, &to.path, reference);
        self.rt
            .block_on(
                to.remote
                    .client
                    .push_manifest_raw(&oref, body, content_type),
            )
            .map_err(|e| {
                RegistryError::Push(format!(
                    "writing manifest to docker://{}:{reference}: {}",
                    to.repository(),
                    client::describe(&e, None)
                ))
            })?;
        Ok(digest)
    }
}

fn push_fail(to: &Repo, detail: &str) -> RegistryError {
    RegistryError::Push(format!(
        "trying to reuse blob or upload to docker://{}: {detail}",
        to.repository()
    ))
}

/// One blob into `to`, unless it is there already: mounted from `from` on the same
/// registry, else streamed from `from`.
async fn copy_blob(from: &Repo, to: &Repo, d: &Descriptor) -> Result<(), String> {
    let dest = client::reference(&to.remote.host, &to.path, &d.digest);
    let have = to
        .remote
        .client
        .blob_exists(&dest, &d.digest)
        .await
        .map_err(|e| client::describe(&e, None))?;
    if have {
        return Ok(());
    }
    let src = client::reference(&from.remote.host, &from.path, &d.digest);
    if from.remote.host == to.remote.host
        && to
            .remote
            .client
            .mount_blob(&dest, &src, &d.digest)
            .await
            .is_ok()
        && to
            .remote
            .client
            .blob_exists(&dest, &d.digest)
            .await
            .unwrap_or(false)
    {
        return Ok(());
    }
    let sized = from
        .remote
        .client
        .pull_blob_stream(&src, &oci_desc(d))
        .await
        .map_err(|e| client::describe(&e, None))?;
    let stream = sized
        .stream
        .map(|r| r.map_err(OciDistributionError::IoError));
    to.remote
        .client
        .push_blob_stream(&dest, stream, &d.digest, Some(d.size))
        .await
        .map_err(|e| client::describe(&e, None))?;
    Ok(())
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
