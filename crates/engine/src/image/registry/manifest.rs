//! Manifests as they come from a registry: OCI image manifests and indexes, Docker v2s2
//! manifests and manifest lists (the same JSON shape with other media types), and the
//! choice of one platform from an index.

use serde::{Deserialize, Serialize};

use super::RegistryError;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// What a pull accepts, most wanted first.
pub const ACCEPT: &[&str] = &[OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST];

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// An image manifest (OCI or Docker v2s2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
}

/// An index or manifest list.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    #[serde(default)]
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

/// A platform: GOOS/GOARCH names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// This host (`linux`, Go's name of the CPU architecture).
    pub fn host() -> Platform {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "arm" => "arm",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Platform {
            architecture: arch.to_string(),
            os: "linux".to_string(),
            variant: (arch == "arm64").then(|| "v8".to_string()),
        }
    }

    /// `--platform OS/ARCH[/VARIANT]`, `--os`, `--arch`, `--variant` over the host's.
    pub fn choose(
        platform: Option<&str>,
        os: Option<&str>,
        arch: Option<&str>,
        variant: Option<&str>,
    ) -> Result<Platform, RegistryError> {
        let mut p = Platform::host();
        if let Some(s) = platform.filter(|s| !s.is_empty()) {
            let parts: Vec<&str> = s.split('/').collect();
            if !(2..=3).contains(&parts.len()) || parts.iter().any(|x| x.is_empty()) {
                return Err(RegistryError::Invalid(format!(
                    "invalid platform {s:?}: expected OS/ARCH[/VARIANT]"
                )));
            }
            p.os = parts[0].to_string();
            p.architecture = parts[1].to_string();
            p.variant = parts.get(2).map(|v| v.to_string());
        }
        if let Some(o) = os.filter(|s| !s.is_empty()) {
            p.os = o.to_string();
        }
        if let Some(a) = arch.filter(|s| !s.is_empty()) {
            if a != p.architecture {
                p.variant = None;
            }
            p.architecture = a.to_string();
        }
        if let Some(v) = variant.filter(|s| !s.is_empty()) {
            p.variant = Some(v.to_string());
        }
        Ok(p)
    }

    /// The digest of the entry of `index` for this platform. The variant must match when
    /// both name one; an entry without a variant matches any (as c/image's matcher does for
    /// the usual single-variant indexes).
    pub fn pick<'a>(&self, index: &'a Index) -> Option<&'a Descriptor> {
        let candidates = index.manifests.iter().filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == self.os && p.architecture == self.architecture)
        });
        let mut fallback = None;
        for d in candidates {
            let pv = d.platform.as_ref().and_then(|p| p.variant.as_deref());
            match (pv, self.variant.as_deref()) {
                (Some(a), Some(b)) if a == b => return Some(d),
                (None, _) | (_, None) => {
                    fallback.get_or_insert(d);
                }
                _ => {}
            }
        }
        fallback
    }

    /// `linux/amd64[/v8]`.
    pub fn display(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// A manifest as received.
#[derive(Debug, Clone)]
pub enum Manifest {
    Image(Box<ImageManifest>),
    Index(Index),
}

/// Parses a manifest body; `content_type` (the response header) decides when the body has
/// no `mediaType`.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, RegistryError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[serde(default)]
        schema_version: u32,
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    let bad = |e: String| RegistryError::Invalid(format!("parsing manifest: {e}"));
    let probe: Probe = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    if probe.schema_version != 2 {
        return Err(RegistryError::Invalid(format!(
            "unsupported manifest schema version {} (Docker schema 1 images are not supported)",
            probe.schema_version
        )));
    }
    let mt = probe
        .media_type
        .clone()
        .or_else(|| content_type.map(str::to_string))
        .unwrap_or_default();
    let is_index =
        mt == OCI_INDEX || mt == DOCKER_LIST || (mt.is_empty() && probe.manifests.is_some());
    if is_index {
        let mut idx: Index = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
        idx.media_type = mt;
        return Ok(Manifest::Index(idx));
    }
    if !(mt.is_empty() || mt == OCI_MANIFEST || mt == DOCKER_MANIFEST) {
        return Err(RegistryError::Invalid(format!(
            "unsupported manifest media type {mt:?}"
        )));
    }
    let mut m: ImageManifest = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    if m.media_type.is_empty() {
        m.media_type = if mt.is_empty() {
            OCI_MANIFEST.to_string()
        } else {
            mt
        };
    }
    Ok(Manifest::Image(Box::new(m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(arch: &str, variant: Option<&str>, n: char) -> serde_json::Value {
        let mut p = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            p["variant"] = v.into();
        }
        serde_json::json!({"mediaType": OCI_MANIFEST, "digest": format!("sha256:{}", n.to_string().repeat(64)), "size": 1, "platform": p})
    }

    #[test]
    fn picks_platforms() {
        let body = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            d("arm", Some("v7"), 'a'), d("amd64", None, 'b'), d("arm64", Some("v8"), 'c')
        ]});
        let Manifest::Index(idx) = parse(body.to_string().as_bytes(), None).unwrap() else {
            panic!("an index")
        };
        let amd = Platform::choose(None, None, Some("amd64"), None).unwrap();
        assert!(amd.pick(&idx).unwrap().digest.starts_with("sha256:b"));
        let arm64 = Platform::choose(Some("linux/arm64"), None, None, None).unwrap();
        assert!(arm64.pick(&idx).unwrap().digest.starts_with("sha256:c"));
        let arm64 = Platform::choose(None, None, Some("arm64"), None).unwrap();
        assert!(arm64.pick(&idx).unwrap().digest.starts_with("sha256:c"));
        let armv6 = Platform::choose(Some("linux/arm/v6"), None, None, None).unwrap();
        assert!(armv6.pick(&idx).is_none());
        let s390 = Platform::choose(None, None, Some("s390x"), None).unwrap();
        assert!(s390.pick(&idx).is_none());
        assert!(Platform::choose(Some("linux"), None, None, None).is_err());
    }

    #[test]
    fn parses_both_manifest_kinds() {
        let body = serde_json::json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "digest": "sha256:x", "size": 3},
            "layers": [{"mediaType": DOCKER_LAYER_GZIP, "digest": "sha256:y", "size": 9}]});
        let Manifest::Image(m) = parse(body.to_string().as_bytes(), None).unwrap() else {
            panic!("an image manifest")
        };
        assert_eq!(m.media_type, DOCKER_MANIFEST);
        assert_eq!(m.layers[0].size, 9);
        let v1 = serde_json::json!({"schemaVersion": 1, "name": "x"});
        assert!(
            parse(v1.to_string().as_bytes(), None)
                .unwrap_err()
                .to_string()
                .contains("schema 1")
        );
        let nomt = serde_json::json!({"schemaVersion": 2, "manifests": []});
        assert!(matches!(
            parse(nomt.to_string().as_bytes(), None).unwrap(),
            Manifest::Index(_)
        ));
    }
}
