//! The images table: records (the OCI config lives in the blob store), names, and the
//! names' history.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Db;
use crate::error::{Error, Result};

/// An image as the database knows it. The full OCI config lives in the blob store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Config digest, 64 hex digits (the image id).
    pub id: String,
    pub manifest_digest: String,
    /// Layer diff ids (`sha256:…`), bottom first.
    pub layers: Vec<String>,
    pub created: DateTime<Utc>,
    pub size: u64,
    /// Filled from `image_names` when read.
    #[serde(skip)]
    pub names: Vec<String>,
    /// Registry manifest digests the image is known by (a pull's index or manifest, a push's
    /// manifest); the first is its `.Digest`. Empty for an image never pulled or pushed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub digests: Vec<String>,
    /// Per layer, the compressed blob held for it and its media type (from a pull or push).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layer_blobs: Vec<Option<(String, String)>>,
    /// The stored manifest's media type (OCI when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_type: Option<String>,
    /// Every name the image has had, newest first (c/storage's `NamesHistory`): its names
    /// each time one is added, then the older history, without repeats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names_history: Vec<String>,
}

impl ImageRecord {
    /// `.Digest`: the first registry digest, else the stored manifest's.
    pub fn digest(&self) -> &str {
        self.digests
            .first()
            .map(String::as_str)
            .unwrap_or(&self.manifest_digest)
    }

    /// `RepoDigests`: every name's repository with every digest the image is known by.
    pub fn repo_digests(&self) -> Vec<String> {
        let mut digests: Vec<&str> = self.digests.iter().map(String::as_str).collect();
        if !digests.contains(&self.manifest_digest.as_str()) {
            digests.push(&self.manifest_digest);
        }
        let mut out = Vec::new();
        for n in &self.names {
            let repo = repository_of(n);
            for d in &digests {
                let rd = format!("{repo}@{d}");
                if !out.contains(&rd) {
                    out.push(rd);
                }
            }
        }
        out
    }
}

/// `HOST/PATH` of a stored name (`HOST/PATH:TAG` or `HOST/PATH@DIGEST`).
pub fn repository_of(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    let slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
    match name[slash..].rfind(':') {
        Some(i) => &name[..slash + i],
        None => name,
    }
}

impl Db {
    /// Record an image and give it `names` (each name moves to this image if another had it).
    pub fn insert_image(&self, rec: &ImageRecord, names: &[String]) -> Result<()> {
        let json = serde_json::to_string(rec).map_err(|e| Error::other(e.to_string()))?;
        self.write(|tx| {
            tx.execute("INSERT INTO images (id, record) VALUES (?1, ?2) ON CONFLICT(id) DO NOTHING", params![rec.id, json])?;
            for n in names {
                tx.execute("INSERT INTO image_names (name, image_id) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id", params![n, rec.id])?;
            }
            Ok(note_names_history(tx, &rec.id)?)
        })
    }

    /// Replace the record of an existing image (its names are untouched).
    pub fn update_image(&self, rec: &ImageRecord) -> Result<()> {
        let json = serde_json::to_string(rec).map_err(|e| Error::other(e.to_string()))?;
        self.conn.execute(
            "UPDATE images SET record = ?2 WHERE id = ?1",
            params![rec.id, json],
        )?;
        Ok(())
    }

    pub fn tag_image(&self, id: &str, name: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("INSERT INTO image_names (name, image_id) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id", params![name, id])?;
            Ok(note_names_history(tx, id)?)
        })
    }

    /// Remove a name; returns false if it did not exist.
    pub fn untag_image(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM image_names WHERE name = ?1", [name])?
            > 0)
    }

    pub fn delete_image(&self, id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM image_names WHERE image_id = ?1", [id])?;
            tx.execute("DELETE FROM images WHERE id = ?1", [id])?;
            Ok(())
        })
    }

    pub fn image(&self, id: &str) -> Result<Option<ImageRecord>> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT record FROM images WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        match json {
            None => Ok(None),
            Some(j) => {
                let mut rec: ImageRecord = serde_json::from_str(&j)
                    .map_err(|e| Error::other(format!("image {id}: corrupt record: {e}")))?;
                rec.names = self.image_names(id)?;
                Ok(Some(rec))
            }
        }
    }

    pub fn image_names(&self, id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM image_names WHERE image_id = ?1 ORDER BY rowid")?;
        let rows = stmt.query_map([id], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn image_by_name(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT image_id FROM image_names WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Image ids starting with `prefix` (at most 2, enough to tell unique from ambiguous).
    pub fn image_ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM images WHERE id LIKE ?1 || '%' LIMIT 2")?;
        let rows = stmt.query_map([prefix], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        let mut stmt = self.conn.prepare("SELECT id FROM images")?;
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(r) = self.image(&id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Layers still used by any image other than `except`.
    pub fn layer_in_use(&self, diff_id: &str, except: &str) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare("SELECT record FROM images WHERE id != ?1")?;
        let rows = stmt.query_map([except], |r| r.get::<_, String>(0))?;
        for j in rows {
            let rec: ImageRecord =
                serde_json::from_str(&j?).map_err(|e| Error::other(e.to_string()))?;
            if rec.layers.iter().any(|l| l == diff_id) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// After names were added to image `id`: its names, then its older history, without repeats,
/// become its `names_history` (c/storage's rule).
fn note_names_history(tx: &rusqlite::Transaction<'_>, id: &str) -> rusqlite::Result<()> {
    let json: Option<String> = tx
        .query_row("SELECT record FROM images WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    let Some(json) = json else { return Ok(()) };
    let Ok(mut rec) = serde_json::from_str::<ImageRecord>(&json) else {
        return Ok(());
    };
    let mut stmt =
        tx.prepare_cached("SELECT name FROM image_names WHERE image_id = ?1 ORDER BY rowid")?;
    let names: Vec<String> = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut history = Vec::new();
    for n in names.into_iter().chain(rec.names_history.drain(..)) {
        if !history.contains(&n) {
            history.push(n);
        }
    }
    rec.names_history = history;
    if let Ok(json) = serde_json::to_string(&rec) {
        tx.execute(
            "UPDATE images SET record = ?2 WHERE id = ?1",
            params![id, json],
        )?;
    }
    Ok(())
}
