//! OCI image layouts written by the tests themselves (no podman, no peapod): blobs by
//! sha256, image manifests, indexes and `index.json` with `org.opencontainers.image.ref.name`
//! tags, as `skopeo copy oci:DIR:TAG …` reads them.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// gzip with a fixed header (no name, mtime 0), so the same tar gives the same blob.
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::fast());
    enc.write_all(data)?;
    enc.finish()
}

/// A descriptor as JSON.
pub fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256(bytes), "size": bytes.len()})
}

/// An OCI layout being written.
pub struct Layout {
    pub dir: PathBuf,
    refs: Vec<Value>,
}

/// One image written into a layout.
#[derive(Debug, Clone)]
pub struct WrittenImage {
    /// The config digest: the image id.
    pub config: String,
    pub manifest: String,
    pub manifest_descriptor: Value,
    /// Compressed layer digests and diff ids.
    pub layers: Vec<String>,
    pub diff_ids: Vec<String>,
}

impl Layout {
    pub fn create(dir: &Path) -> io::Result<Layout> {
        fs::create_dir_all(dir.join("blobs/sha256"))?;
        fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(Layout {
            dir: dir.to_path_buf(),
            refs: Vec::new(),
        })
    }

    /// Stores a blob; returns its digest.
    pub fn blob(&self, bytes: &[u8]) -> io::Result<String> {
        let d = sha256(bytes);
        let path = self.dir.join("blobs/sha256").join(&d["sha256:".len()..]);
        if !path.exists() {
            fs::write(path, bytes)?;
        }
        Ok(d)
    }

    /// An image of `layer_tars` (uncompressed tars, bottom first, stored gzipped) for
    /// `arch`, with `cmd`; tagged `tag` when given.
    pub fn image(
        &mut self,
        tag: Option<&str>,
        arch: &str,
        layer_tars: &[Vec<u8>],
        cmd: &[&str],
    ) -> io::Result<WrittenImage> {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        let mut layer_descs = Vec::new();
        for tar in layer_tars {
            let gz = gzip(tar)?;
            layers.push(self.blob(&gz)?);
            diff_ids.push(sha256(tar));
            layer_descs.push(descriptor(OCI_LAYER_GZIP, &gz));
        }
        let mut config = json!({
            "created": "2024-01-01T00:00:00Z",
            "architecture": arch,
            "os": "linux",
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": cmd},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "peapod tests"}],
        });
        if arch == "arm64" {
            config["variant"] = json!("v8");
        }
        let config_bytes = serde_json::to_vec(&config)?;
        let config_digest = self.blob(&config_bytes)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, &config_bytes),
            "layers": layer_descs,
        });
        let manifest_bytes = serde_json::to_vec(&manifest)?;
        let manifest_digest = self.blob(&manifest_bytes)?;
        let mut desc = descriptor(OCI_MANIFEST, &manifest_bytes);
        let mut platform = json!({"architecture": arch, "os": "linux"});
        if arch == "arm64" {
            platform["variant"] = json!("v8");
        }
        if let Some(t) = tag {
            let mut r = desc.clone();
            r["annotations"] = json!({"org.opencontainers.image.ref.name": t});
            self.refs.push(r);
        }
        desc["platform"] = platform;
        Ok(WrittenImage {
            config: config_digest,
            manifest: manifest_digest,
            manifest_descriptor: desc,
            layers,
            diff_ids,
        })
    }

    /// An index of `images` (their platforms), tagged `tag`; returns its digest.
    pub fn index(&mut self, tag: &str, images: &[&WrittenImage]) -> io::Result<String> {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": images.iter().map(|i| i.manifest_descriptor.clone()).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&index)?;
        let d = self.blob(&bytes)?;
        let mut r = descriptor(OCI_INDEX, &bytes);
        r["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.refs.push(r);
        Ok(d)
    }

    /// Writes `index.json`.
    pub fn finish(&self) -> io::Result<()> {
        let index = json!({"schemaVersion": 2, "manifests": self.refs});
        fs::write(self.dir.join("index.json"), serde_json::to_vec(&index)?)
    }
}

/// The test images every registry test uses: `single` (amd64), `arm64`, `multi` (an index
/// of both), all with one gzip layer of the busybox rootfs.
#[derive(Debug, Clone)]
pub struct TestImages {
    pub layout: PathBuf,
    pub amd64: WrittenImage,
    pub arm64: WrittenImage,
    pub index: String,
}

/// Writes [`TestImages`] into `dir` from the busybox rootfs tarball.
pub fn write_test_images(dir: &Path, rootfs_tar: &Path) -> io::Result<TestImages> {
    let tar = fs::read(rootfs_tar)?;
    let mut l = Layout::create(dir)?;
    let amd64 = l.image(Some("single"), "amd64", std::slice::from_ref(&tar), &["sh"])?;
    let arm64 = l.image(Some("arm64"), "arm64", std::slice::from_ref(&tar), &["sh"])?;
    let index = l.index("multi", &[&amd64, &arm64])?;
    l.finish()?;
    Ok(TestImages {
        layout: dir.to_path_buf(),
        amd64,
        arm64,
        index,
    })
}
