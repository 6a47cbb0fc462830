//! `image inspect`: Podman's `ImageData` report for one image (Go's field names, as
//! templates and `--format json` see them).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Engine;
use crate::container::inspect::GraphDriver;
use crate::error::Result;
use crate::state::ImageRecord;

/// Podman's `ImageData` for `image inspect`.
#[derive(Serialize)]
#[allow(non_snake_case)]
pub struct ImageInspect {
    pub Id: String,
    Digest: String,
    RepoTags: Vec<String>,
    RepoDigests: Vec<String>,
    Parent: String,
    Comment: String,
    Created: String,
    Config: oci_config::Config,
    Version: String,
    Author: String,
    Architecture: String,
    Os: String,
    Size: u64,
    VirtualSize: u64,
    GraphDriver: GraphDriver,
    RootFS: RootFs,
    Labels: BTreeMap<String, String>,
    Annotations: BTreeMap<String, String>,
    ManifestType: String,
    User: String,
    History: serde_json::Value,
    NamesHistory: Vec<String>,
}

/// The image config as Podman shows it (Go field names, empty lists omitted).
mod oci_config {
    use std::collections::BTreeMap;

    use serde::Serialize;

    /// Go's `struct{}`, the value type of `ExposedPorts` and `Volumes`: `{}` in JSON and
    /// in a template (`map[3001/tcp:{}]`, as Podman prints it).
    #[derive(Serialize, Default)]
    pub struct Empty {}

    #[derive(Serialize, Default)]
    #[allow(non_snake_case)]
    pub struct Config {
        #[serde(skip_serializing_if = "String::is_empty")]
        pub User: String,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub ExposedPorts: BTreeMap<String, Empty>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub Env: Vec<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Entrypoint: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub Cmd: Option<Vec<String>>,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub Volumes: BTreeMap<String, Empty>,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub WorkingDir: String,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub Labels: BTreeMap<String, String>,
        #[serde(skip_serializing_if = "String::is_empty")]
        pub StopSignal: String,
    }
}

#[derive(Serialize)]
#[allow(non_snake_case)]
struct RootFs {
    Type: String,
    Layers: Vec<String>,
}

impl Engine {
    /// `image inspect`: Podman's `ImageData` for one image.
    pub fn inspect_image(&self, r: &ImageRecord) -> Result<ImageInspect> {
        // A manifest list stands for its image for this platform (libimage's lookup).
        if let Some(doc) = self.list_doc(r)? {
            let host = crate::image::registry::Platform::host();
            return match self.list_instance_for_host(&doc)? {
                Some(img) => self.inspect_image(&img),
                None => Err(crate::error::Error::NoSuchImage(format!(
                    "no image found in manifest list for architecture {}, variant {:?}, OS {}",
                    host.architecture,
                    host.variant.unwrap_or_default(),
                    host.os
                ))),
            };
        }
        let cfg = self.image_config(r)?;
        let c = cfg.config().clone().unwrap_or_default();
        let config = oci_config::Config {
            User: c.user().clone().unwrap_or_default(),
            ExposedPorts: c
                .exposed_ports()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p, oci_config::Empty {}))
                .collect(),
            Env: c.env().clone().unwrap_or_default(),
            Entrypoint: c.entrypoint().clone(),
            Cmd: c.cmd().clone(),
            Volumes: c
                .volumes()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|p| (p, oci_config::Empty {}))
                .collect(),
            WorkingDir: c.working_dir().clone().unwrap_or_default(),
            Labels: c.labels().clone().unwrap_or_default().into_iter().collect(),
            StopSignal: c.stop_signal().clone().unwrap_or_default(),
        };
        let dirs = self.layer_dirs(r)?;
        let mut data = BTreeMap::new();
        if let Some((upper, lower)) = dirs.split_first() {
            data.insert("UpperDir".to_string(), upper.display().to_string());
            if !lower.is_empty() {
                data.insert(
                    "LowerDir".to_string(),
                    lower
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(":"),
                );
            }
        }
        Ok(ImageInspect {
            Id: r.id.clone(),
            Digest: r.digest().to_string(),
            RepoTags: r
                .names
                .iter()
                .filter(|n| !n.contains('@'))
                .cloned()
                .collect(),
            RepoDigests: r.repo_digests(),
            Parent: String::new(),
            Comment: self.image_comment(r)?,
            Created: crate::container::inspect::go_time(Some(r.created)),
            Labels: config.Labels.clone(),
            User: config.User.clone(),
            Config: config,
            Version: String::new(),
            Author: cfg.author().clone().unwrap_or_default(),
            Architecture: cfg.architecture().to_string(),
            Os: cfg.os().to_string(),
            Size: r.size,
            VirtualSize: r.size,
            GraphDriver: GraphDriver {
                Name: self.storage_driver().name().into(),
                Data: data,
            },
            RootFS: RootFs {
                Type: "layers".into(),
                Layers: r.layers.clone(),
            },
            Annotations: BTreeMap::new(),
            ManifestType: r
                .manifest_type
                .clone()
                .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into()),
            History: serde_json::to_value(cfg.history()).unwrap_or_default(),
            NamesHistory: r.names_history.clone(),
        })
    }
}
