//! `manifest push LIST DEST` (and `push LIST DEST`): each image of the list into the
//! destination repository under its digest (a local image as `push` sends it, which may give
//! it a new digest; an image that came from a registry copied blob by blob from there), then
//! the list, rewritten with the digests the images got, under the destination's tag.

use super::list::{ListDoc, ListFormat};
use crate::Engine;
use crate::error::{Error, Result};
use crate::image::Digest;
use crate::image::registry::manifest::{DOCKER_LIST, OCI_INDEX};
use crate::image::registry::{
    self, Event, ProgressSink, PushFormat, PushOptions, RegistryOperation, RemoteOptions, Repo,
    Session,
};

/// `manifest push`.
#[derive(Debug, Clone, Default)]
pub struct ListPushRequest {
    pub list: String,
    /// `push`'s options: the destination (`HOST/PATH[:TAG]`, normalised), the images'
    /// `--format`, `--compression-format`, TLS and credentials.
    pub push: PushOptions,
    /// `--all`: the images too (Podman's default).
    pub all: bool,
    /// The list's type; by default an OCI index, as Podman stores it.
    pub format: Option<ListFormat>,
    /// `--rm`: remove the local list once pushed.
    pub rm: bool,
}

impl ListPushRequest {
    /// `push LIST DEST` of a list: everything, in the list's own type.
    pub fn from_push(list: &str, opts: &PushOptions) -> ListPushRequest {
        ListPushRequest {
            list: list.to_string(),
            push: opts.clone(),
            all: true,
            format: opts.format.map(|f| match f {
                PushFormat::Oci => ListFormat::Oci,
                PushFormat::V2s2 => ListFormat::Docker,
            }),
            rm: false,
        }
    }
}

impl Engine {
    /// Pushes the list; returns the digest of the list the registry stored.
    pub fn push_manifest_list(
        &self,
        req: &ListPushRequest,
        sink: &dyn ProgressSink,
    ) -> Result<Digest> {
        let (rec, doc) = self.lookup_list(&req.list)?;
        let remote = RemoteOptions {
            tls: req.push.tls.clone(),
            authfile: req.push.authfile.clone(),
            creds: req.push.creds.clone(),
        };
        let session = Session::new(self.registries_conf()?, remote)?;
        let dest = session
            .open(&req.push.destination, RegistryOperation::Push)
            .map_err(|e| {
                Error::from(registry::RegistryError::Push(format!(
                    "trying to reuse blob or upload to docker://{}: {e}",
                    req.push.destination
                )))
            })?;
        let mut out = doc.clone();
        if req.all {
            sink.event(Event::List("Getting image list signatures".into()));
            let n = doc.manifests.len();
            sink.event(Event::List(format!("Copying {n} of {n} images in list")));
            for (i, m) in doc.manifests.iter().enumerate() {
                sink.event(Event::List(format!(
                    "Copying image {} ({}/{n})",
                    m.digest,
                    i + 1
                )));
                let (digest, size, media) =
                    self.push_instance(&session, &dest, &doc, &m.digest, req, sink)?;
                let e = &mut out.manifests[i];
                e.digest = digest;
                e.size = size;
                e.media_type = media;
            }
        }
        let format = req.format.unwrap_or(ListFormat::Oci);
        let media = match format {
            ListFormat::Oci => OCI_INDEX,
            ListFormat::Docker => DOCKER_LIST,
        };
        sink.event(Event::List(
            "Writing manifest list to image destination".into(),
        ));
        let tag = dest.name.tag_or_latest().unwrap_or("latest").to_string();
        let digest = session.put_manifest(&dest, &tag, out.bytes(format), media)?;
        sink.event(Event::List("Storing list signatures".into()));
        self.emit_image("push", &rec.id, &req.push.destination);
        if req.rm {
            self.manifest_rm(&rec.id)?;
        }
        Ok(digest)
    }

    /// One image of the list into `dest`; returns its digest, size and media type there.
    fn push_instance(
        &self,
        session: &Session,
        dest: &Repo,
        doc: &ListDoc,
        digest: &str,
        req: &ListPushRequest,
        sink: &dyn ProgressSink,
    ) -> Result<(String, u64, String)> {
        let source = doc.sources.get(digest).map(String::as_str).unwrap_or("");
        if let Some(id) = source.strip_prefix("containers-storage:") {
            let image = match self.db.image(id)? {
                Some(r) => r,
                None => {
                    return Err(Error::invalid(format!(
                        "pushing image {digest} of the list: image {id} is no longer in local storage"
                    )));
                }
            };
            let src = self.push_source(&image)?;
            let opts = PushOptions {
                destination: dest.repository(),
                by_digest: true,
                format: req.push.format.or(req.format.map(|f| match f {
                    ListFormat::Oci => PushFormat::Oci,
                    ListFormat::Docker => PushFormat::V2s2,
                })),
                ..req.push.clone()
            };
            let conf = self.registries_conf()?;
            let pushed = registry::push(&self.blobs(), &conf, &src, &opts, sink)?;
            return Ok((
                pushed.manifest_digest.to_string(),
                pushed.manifest_size,
                pushed.manifest_type,
            ));
        }
        if let Some(from) = source.strip_prefix("docker://") {
            let repo = session.open(from, RegistryOperation::Pull)?;
            sink.event(Event::GettingSignatures);
            let (size, media) = session.copy_image(&repo, digest, dest)?;
            sink.event(Event::WritingManifest);
            sink.event(Event::StoringSignatures);
            return Ok((digest.to_string(), size, media));
        }
        Err(Error::invalid(format!(
            "pushing image {digest} of the list: where it came from is not known"
        )))
    }
}
