//! Kubernetes YAML: `kube play` runs what a cluster would run from a file of Pods,
//! Deployments, DaemonSets, Jobs, PersistentVolumeClaims, ConfigMaps and Secrets, and
//! `kube generate` writes pods, containers and volumes as YAML a cluster accepts.
//!
//! The API objects are k8s-openapi's types and the YAML is read and written by
//! serde_yaml_ng: nothing here parses or emits YAML by hand. Play checks every document
//! before it creates anything, and removes whatever it created when a later step fails.

pub mod generate;
mod plan;
pub mod play;
mod quantity;
mod workload;

pub use generate::{GenerateOptions, KubeType};
pub use play::{
    MAX_KUBE_ANNOTATION, PlayOptions, PlayReport, PlayedPod, TeardownReport, check_play_annotation,
};
pub use quantity::{cpu_quantity, memory_quantity, parse_quantity};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// The network every played pod joins unless `--network` names another (Podman's name).
pub const DEFAULT_KUBE_NETWORK: &str = "podman-default-kube-network";

/// Podman's pod annotation for the type of the pod's init containers (`always`, `once`).
pub const INIT_TYPE_ANNOTATION: &str = "io.podman.annotations.init.container.type";

/// One YAML document of a kube file: where it is, what it is.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    /// 0-based position in the stream (empty documents count).
    pub index: usize,
    pub kind: String,
    pub name: String,
}

impl Document {
    /// How error messages name the document: `document 2 (Deployment "web")`.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            format!("document {} ({})", self.index + 1, self.kind)
        } else {
            format!(
                "document {} ({} {:?})",
                self.index + 1,
                self.kind,
                self.name
            )
        }
    }
}

/// Every non-empty document of `yaml`, with its kind and name. A syntax error is reported
/// with its document, line and column.
pub(crate) fn documents(yaml: &str) -> Result<Vec<Document>> {
    let mut out = Vec::new();
    for (index, de) in serde_yaml_ng::Deserializer::from_str(yaml).enumerate() {
        let value = serde_yaml_ng::Value::deserialize(de).map_err(|e| {
            Error::invalid(format!("parsing kube YAML document {}: {e}", index + 1))
        })?;
        if value.is_null() {
            continue;
        }
        let Some(map) = value.as_mapping() else {
            return Err(Error::invalid(format!(
                "document {}: a Kubernetes object must be a mapping with apiVersion and kind",
                index + 1
            )));
        };
        let kind = match map.get("kind") {
            Some(serde_yaml_ng::Value::String(k)) => k.clone(),
            Some(_) => {
                return Err(Error::invalid(format!(
                    "document {}: kind: must be a string",
                    index + 1
                )));
            }
            None => {
                return Err(Error::invalid(format!(
                    "document {}: kind: missing",
                    index + 1
                )));
            }
        };
        let name = map
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_string();
        out.push(Document { index, kind, name });
    }
    Ok(out)
}

/// Document `doc` of `yaml` as a typed API object. Deserialized from the text itself (not
/// from a parsed value) so that a field of the wrong type is reported with its path, line
/// and column.
pub(crate) fn typed<T: DeserializeOwned>(yaml: &str, doc: &Document) -> Result<T> {
    let de = serde_yaml_ng::Deserializer::from_str(yaml)
        .nth(doc.index)
        .ok_or_else(|| Error::invalid(format!("{}: document vanished", doc.label())))?;
    T::deserialize(de).map_err(|e| Error::invalid(format!("{}: {e}", doc.label())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn documents_kinds_names_and_empty_ones() {
        let y = "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n---\n---\nkind: ConfigMap\nmetadata: {name: cm}\n";
        let d = documents(y).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].kind.as_str(), d[0].name.as_str()), ("Pod", "a"));
        assert_eq!(
            (d[1].kind.as_str(), d[1].name.as_str()),
            ("ConfigMap", "cm")
        );
        let p: Pod = typed(y, &d[0]).unwrap();
        assert_eq!(p.metadata.name.as_deref(), Some("a"));
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = documents("kind: Pod\nmetadata:\n  name: [a\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("document 1") && e.contains("line"), "{e}");
        assert!(e.contains("column"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let y = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n  containers:\n  - name: c\n    image: i\n    ports:\n    - containerPort: abc\n";
        let d = documents(y).unwrap();
        let e = typed::<Pod>(y, &d[0]).unwrap_err().to_string();
        assert!(e.contains("document 1 (Pod \"a\")"), "{e}");
        assert!(e.contains("containerPort") || e.contains("ports"), "{e}");
        assert!(e.contains("line 10"), "{e}");
    }

    #[test]
    fn missing_kind() {
        let e = documents("apiVersion: v1\n").unwrap_err().to_string();
        assert!(e.contains("kind: missing"), "{e}");
    }
}
