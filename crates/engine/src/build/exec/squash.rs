//! `--squash` (the layers the build made become one, over the base's) and `--squash-all`
//! (the whole tree is the only layer), and `--annotation` on the final manifest.

use serde_json::{Value, json};

use super::Build;
use super::image::{NewStep, StepImage};
use super::view::View;
use crate::error::{Error, Result};
use crate::image::Digest;

impl Build<'_, '_> {
    /// The final image squashed as the options say (or as it is).
    pub(super) fn squash(&self, img: StepImage, base_layers: usize) -> Result<StepImage> {
        if !self.opts.squash && !self.opts.squash_all {
            return Ok(img);
        }
        let rec = img
            .record
            .clone()
            .ok_or_else(|| Error::other("nothing to squash"))?;
        let keep = if self.opts.squash_all {
            0
        } else {
            base_layers.min(rec.layers.len())
        };
        if !self.opts.squash_all && rec.layers.len() <= keep + 1 {
            return Ok(img); // one new layer at most: already squashed
        }
        // The kept layers' history entries stay; every later one becomes an empty-layer entry.
        let mut config = img.config.clone();
        let mut seen = 0;
        if let Some(h) = config["history"].as_array_mut() {
            for e in h.iter_mut() {
                let empty = e["empty_layer"].as_bool().unwrap_or(false);
                if !empty {
                    seen += 1;
                    if seen > keep {
                        e["empty_layer"] = json!(true);
                    }
                }
            }
        }
        let mut base = rec.clone();
        base.layers.truncate(keep);
        base.layer_blobs.truncate(keep);
        base.size = 0;
        let parent = StepImage {
            record: Some(base),
            config: config.clone(),
        };
        let created_by = "/bin/sh -c #(nop) squash".to_string();
        if self.opts.squash_all {
            let view = View::read_only(self.engine, Some(&rec))?;
            return self.engine.store_step(NewStep {
                parent: &parent,
                config,
                created_by,
                upper: Some(view.root()),
                format: self.opts.format,
                created: self.created(),
                // A read-only view: its files keep the times the layers gave them.
                file_time: None,
                comment: None,
            });
        }
        let dir = self
            .engine
            .paths
            .root
            .join("tmp")
            .join(format!("build-squash-{:016x}", rand::random::<u64>()));
        let result = (|| {
            let blobs = self.engine.blobs();
            for l in &rec.layers[keep..] {
                let path = blobs.path(&Digest::parse(l)?);
                let f = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
                crate::layer::unpack(f, &dir)?;
            }
            self.engine.store_step(NewStep {
                parent: &parent,
                config,
                created_by,
                upper: Some(&dir),
                format: self.opts.format,
                created: self.created(),
                file_time: self.opts.timestamp,
                comment: None,
            })
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    /// `--annotation K=V` on the final image's manifest.
    pub(super) fn annotate(&self, img: &StepImage) -> Result<()> {
        if self.opts.annotations.is_empty() {
            return Ok(());
        }
        let Some(mut rec) = img.record.clone() else {
            return Ok(());
        };
        let blobs = self.engine.blobs();
        let raw = blobs.get(&Digest::parse(&rec.manifest_digest)?)?;
        let mut m: Value = serde_json::from_slice(&raw)
            .map_err(|e| Error::other(format!("manifest of {}: {e}", rec.id)))?;
        if !m["annotations"].is_object() {
            m["annotations"] = json!({});
        }
        for a in &self.opts.annotations {
            let (k, v) = a.split_once('=').unwrap_or((a.as_str(), ""));
            m["annotations"][k] = json!(v);
        }
        let bytes = serde_json::to_vec(&m).map_err(|e| Error::other(e.to_string()))?;
        let d = blobs.put(&bytes)?;
        rec.manifest_digest = d.to_string();
        self.engine.db.update_image(&rec)?;
        Ok(())
    }
}
