//! The manifest list document: what the store keeps (an OCI image index whose entries may
//! carry Docker's `features` too), the OCI index and Docker manifest list pushed to a
//! registry, and `manifest inspect`'s rendering (libimage's `ManifestListData`: Docker's
//! list with the OCI annotations folded in, `"manifests": null` when empty).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::image::registry::manifest::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};

/// A platform as a list entry records it (OCI's fields plus Docker's `features`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPlatform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// Docker's field (OCI reserves it): kept here, written only to a Docker list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

/// One image in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub platform: ListPlatform,
}

/// A manifest list as the store keeps it, with where each instance came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListDoc {
    #[serde(default)]
    pub manifests: Vec<Instance>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Instance digest → its source: `containers-storage:IMAGE-ID` or
    /// `docker://HOST/PATH@DIGEST` (libimage's `instances.json`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
}

/// The list type a push writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Oci,
    Docker,
}

/// OCI's platform object (no `features`).
#[derive(Serialize)]
struct OciPlatform<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(rename = "os.version", skip_serializing_if = "str::is_empty")]
    os_version: &'a str,
    #[serde(rename = "os.features", skip_serializing_if = "<[String]>::is_empty")]
    os_features: &'a [String],
    #[serde(skip_serializing_if = "str::is_empty")]
    variant: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OciEntry<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    urls: &'a [String],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
    platform: OciPlatform<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OciIndex<'a> {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<OciEntry<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

/// Docker's list entry; `annotations` only in `manifest inspect`'s rendering.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DockerEntry<'a> {
    media_type: &'a str,
    size: u64,
    digest: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    urls: &'a [String],
    platform: &'a ListPlatform,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DockerList<'a> {
    schema_version: u32,
    media_type: &'static str,
    /// `null` when empty, as Go marshals a nil slice.
    manifests: Option<Vec<DockerEntry<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<&'a BTreeMap<String, String>>,
}

impl ListDoc {
    /// The OCI image index (what the store's `.Digest` names and `push --format oci` sends).
    pub fn oci_bytes(&self) -> Vec<u8> {
        let idx = OciIndex {
            schema_version: 2,
            media_type: OCI_INDEX,
            manifests: self
                .manifests
                .iter()
                .map(|m| OciEntry {
                    media_type: &m.media_type,
                    digest: &m.digest,
                    size: m.size,
                    urls: &m.urls,
                    annotations: &m.annotations,
                    platform: OciPlatform {
                        architecture: &m.platform.architecture,
                        os: &m.platform.os,
                        os_version: &m.platform.os_version,
                        os_features: &m.platform.os_features,
                        variant: &m.platform.variant,
                    },
                })
                .collect(),
            annotations: &self.annotations,
        };
        serde_json::to_vec(&idx).expect("an index serialises")
    }

    fn docker(&self, with_annotations: bool) -> DockerList<'_> {
        let some = |a: &BTreeMap<String, String>| with_annotations && !a.is_empty();
        DockerList {
            schema_version: 2,
            media_type: DOCKER_LIST,
            manifests: (!self.manifests.is_empty()).then(|| {
                self.manifests
                    .iter()
                    .map(|m| DockerEntry {
                        media_type: &m.media_type,
                        size: m.size,
                        digest: &m.digest,
                        urls: &m.urls,
                        platform: &m.platform,
                        annotations: some(&m.annotations).then_some(&m.annotations),
                    })
                    .collect()
            }),
            annotations: some(&self.annotations).then_some(&self.annotations),
        }
    }

    /// Docker's manifest list v2 (`push --format v2s2`).
    pub fn docker_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.docker(false)).expect("a list serialises")
    }

    /// The bytes a push of `format` sends.
    pub fn bytes(&self, format: ListFormat) -> Vec<u8> {
        match format {
            ListFormat::Oci => self.oci_bytes(),
            ListFormat::Docker => self.docker_bytes(),
        }
    }

    /// `manifest inspect`: Docker's list, with the OCI annotations, indented by 4 spaces.
    pub fn inspect_json(&self) -> String {
        pretty(&self.docker(true))
    }

    /// Reads a list or index from a registry or a file (either media type).
    pub fn from_registry(body: &[u8]) -> Result<ListDoc, String> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            manifests: Option<Vec<Instance>>,
            #[serde(default)]
            annotations: Option<BTreeMap<String, String>>,
        }
        let raw: Raw = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        Ok(ListDoc {
            manifests: raw.manifests.unwrap_or_default(),
            annotations: raw.annotations.unwrap_or_default(),
            sources: BTreeMap::new(),
        })
    }

    /// The entry with `digest`.
    pub fn find_mut(&mut self, digest: &str) -> Option<&mut Instance> {
        self.manifests.iter_mut().find(|m| m.digest == digest)
    }

    /// Adds `inst` from `source`; an entry with the same digest is replaced and moves to the
    /// end (libimage's order).
    pub fn add(&mut self, inst: Instance, source: String) {
        self.manifests.retain(|m| m.digest != inst.digest);
        self.sources.insert(inst.digest.clone(), source);
        self.manifests.push(inst);
    }

    /// Removes the entry with `digest`; false when there is none.
    pub fn remove(&mut self, digest: &str) -> bool {
        let before = self.manifests.len();
        self.manifests.retain(|m| m.digest != digest);
        self.sources.remove(digest);
        self.manifests.len() != before
    }

    /// What the store counts as the list's size (its index and its sources, as c/storage
    /// sums an image's big-data items).
    pub fn stored_size(&self) -> u64 {
        let sources = serde_json::to_vec(&self.sources).map_or(0, |v| v.len());
        (self.oci_bytes().len() + sources) as u64
    }
}

/// An image manifest's media type in the other format (`push --format`).
pub fn manifest_type_for(format: ListFormat) -> &'static str {
    match format {
        ListFormat::Oci => OCI_MANIFEST,
        ListFormat::Docker => DOCKER_MANIFEST,
    }
}

/// JSON indented by 4 spaces (Go's `json.Indent(…, "", "    ")`).
pub fn pretty<T: Serialize>(v: &T) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser).expect("JSON serialises");
    String::from_utf8(out).expect("JSON is UTF-8")
}

#[cfg(test)]
#[path = "list_tests.rs"]
mod tests;
