//! `image history` and `image tree`: an image's history entries against its layers, and
//! the tree of layers images share.
//!
//! Layers are identified as c/storage identifies the layers of pulled and loaded images:
//! by their chain (this diff id on top of that parent chain), so two images share a layer
//! node exactly when they share the layers below it. A node's images are the images whose
//! top layer it is, in the order they were stored (c/libimage's `layerTree`).

use chrono::{DateTime, Utc};

use crate::Engine;
use crate::error::Result;
use crate::state::ImageRecord;

/// One line of `image history` (libimage's `ImageHistory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The image whose top layer this entry made, or `<missing>`.
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub created_by: String,
    /// Uncompressed size of the entry's layer (0 for an empty-layer entry).
    pub size: u64,
    pub comment: String,
}

/// One layer of `image tree`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeLayer {
    /// c/storage's layer id: the diff id for a base layer, else
    /// `sha256(parent id + "+" + diff id)` in hex.
    pub id: String,
    pub size: u64,
    /// `NAME:TAG` of the images whose top layer this is.
    pub top_of: Vec<String>,
    /// Layers stacked on this one (with `--whatrequires`).
    pub children: Vec<TreeLayer>,
    /// The layer below has other layers stacked on it too (the tree branches here).
    pub branches: bool,
}

/// What `image tree` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTree {
    pub id: String,
    pub tags: Vec<String>,
    pub size: u64,
    /// Bottom first; with `whatrequires`, the image's top layer and what is stacked on it.
    pub layers: Vec<TreeLayer>,
}

/// c/storage's id for a layer stacked on `parent` (none for a base layer).
pub fn layer_id(parent: Option<&str>, diff_id: &str) -> String {
    let hex = diff_id.strip_prefix("sha256:").unwrap_or(diff_id);
    match parent {
        None => hex.to_string(),
        Some(p) => crate::image::Digest::of_bytes(format!("{p}+{hex}").as_bytes())
            .hex()
            .to_string(),
    }
}

/// The layer ids of an image's layers, bottom first.
fn chain_ids(img: &ImageRecord) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in &img.layers {
        let id = layer_id(out.last().map(String::as_str), d);
        out.push(id);
    }
    out
}

/// Names that are tags (not digests).
fn repo_tags(img: &ImageRecord) -> impl Iterator<Item = &String> {
    img.names.iter().filter(|n| !n.contains('@'))
}

impl Engine {
    fn layer_size(&self, diff_id: &str) -> u64 {
        self.layer_store().tar_size(diff_id).unwrap_or(0)
    }

    /// `image history`: newest entry first.
    pub fn image_history(&self, reference: &str) -> Result<Vec<HistoryEntry>> {
        let img = self.resolve_image(reference)?;
        let config = self.image_config(&img)?;
        let all = self.db.images()?;
        let tops: Vec<(String, &ImageRecord)> = all
            .iter()
            .filter_map(|i| chain_ids(i).pop().map(|t| (t, i)))
            .collect();
        let chain = chain_ids(&img);
        let mut used = std::collections::HashSet::new();
        let mut layer = chain.len().checked_sub(1);
        let mut out = Vec::new();
        for h in config.history().clone().unwrap_or_default().iter().rev() {
            let empty = h.empty_layer().unwrap_or(false);
            let mut e = HistoryEntry {
                id: "<missing>".into(),
                created: h
                    .created()
                    .as_deref()
                    .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                    .map(|d| d.with_timezone(&Utc)),
                created_by: h.created_by().clone().unwrap_or_default(),
                size: 0,
                comment: h.comment().clone().unwrap_or_default(),
            };
            if let Some(i) = layer {
                if !empty {
                    e.size = self.layer_size(&img.layers[i]);
                }
                let first = tops
                    .iter()
                    .find(|(t, _)| t == &chain[i])
                    .map(|(_, r)| &r.id);
                if let Some(id) = first
                    && used.insert(id.clone())
                {
                    e.id = id.clone();
                }
                if i > 0 && !empty {
                    layer = Some(i - 1);
                }
            }
            out.push(e);
        }
        Ok(out)
    }

    /// `image tree [--whatrequires]`.
    pub fn image_tree(&self, reference: &str, what_requires: bool) -> Result<ImageTree> {
        let img = self.resolve_image(reference)?;
        let all = self.db.images()?;
        let chains: Vec<(Vec<String>, &ImageRecord)> =
            all.iter().map(|i| (chain_ids(i), i)).collect();
        let top_of = |id: &str| -> Vec<String> {
            let mut tags = Vec::new();
            for (c, i) in &chains {
                if c.last().map(String::as_str) == Some(id) {
                    for t in repo_tags(i) {
                        if !tags.contains(t) {
                            tags.push(t.clone());
                        }
                    }
                }
            }
            tags
        };
        let chain = chain_ids(&img);
        let layers = if what_requires {
            match chain.last() {
                Some(top) => {
                    let diff = img.layers.last().cloned().unwrap_or_default();
                    let mut node = self.tree_node(top, &diff, &chains, &top_of);
                    node.branches =
                        chain.len() > 1 && stacked_on(&chain[chain.len() - 2], &chains).len() > 1;
                    vec![node]
                }
                None => Vec::new(),
            }
        } else {
            chain
                .iter()
                .zip(&img.layers)
                .map(|(id, d)| TreeLayer {
                    id: id.clone(),
                    size: self.layer_size(d),
                    top_of: top_of(id),
                    children: Vec::new(),
                    branches: false,
                })
                .collect()
        };
        Ok(ImageTree {
            id: img.id.clone(),
            tags: repo_tags(&img).cloned().collect(),
            size: img.size,
            layers,
        })
    }

    /// The layer `id` (diff id `diff`) and every layer stacked on it by a stored image.
    fn tree_node(
        &self,
        id: &str,
        diff: &str,
        chains: &[(Vec<String>, &ImageRecord)],
        top_of: &dyn Fn(&str) -> Vec<String>,
    ) -> TreeLayer {
        let children = stacked_on(id, chains);
        let branches = children.len() > 1;
        TreeLayer {
            id: id.to_string(),
            size: self.layer_size(diff),
            top_of: top_of(id),
            children: children
                .iter()
                .map(|(cid, cdiff)| {
                    let mut n = self.tree_node(cid, cdiff, chains, top_of);
                    n.branches = branches;
                    n
                })
                .collect(),
            branches: false,
        }
    }
}

/// The layers (id, diff id) stored images stack directly on layer `id`, in image order.
fn stacked_on(id: &str, chains: &[(Vec<String>, &ImageRecord)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (c, img) in chains {
        if let Some(pos) = c.iter().position(|x| x == id)
            && let Some(next) = c.get(pos + 1)
            && !out.iter().any(|(n, _)| n == next)
        {
            out.push((next.clone(), img.layers[pos + 1].clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_ids_are_c_storage_s() {
        let a = "sha256:87e804869e4bfdf0b5ed42baa3f6c9b76976c75399ccf1f0b89b54d3b8e73d41";
        let b = "sha256:9fc4973bf25cabc6f0e70e3c0598c8e9d68d5485929bb0e87a2a87d7143f4c85";
        let base = layer_id(None, a);
        assert_eq!(base, &a[7..]);
        // Measured with podman 4.3: the second layer of an image built on that base.
        assert!(layer_id(Some(&base), b).starts_with("6716ffba26fd"));
    }
}
