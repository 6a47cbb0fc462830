//! SQLite schema and queries.

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::container::{Container, ContainerConfig, ContainerState};
use crate::error::{Error, Result};

mod images;

pub use images::{ImageRecord, repository_of};

/// Bumped when [`SCHEMA`] changes. 2: volumes. 3: pods. 4: the ledger and kept exit codes.
const SCHEMA_VERSION: i64 = 4;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS containers (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    pod_id  TEXT,
    image_id TEXT NOT NULL,
    created TEXT NOT NULL,
    config  TEXT NOT NULL,
    state   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS containers_image ON containers(image_id);
CREATE TABLE IF NOT EXISTS images (
    id      TEXT PRIMARY KEY,
    record  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS image_names (
    name     TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS image_names_image ON image_names(image_id);
";

/// Version 2: named and anonymous volumes. Every statement is `IF NOT EXISTS`, so this is
/// both the fresh schema and the migration of a version-1 database (which keeps its rows).
const SCHEMA_VOLUMES: &str = "
CREATE TABLE IF NOT EXISTS volumes (
    name    TEXT PRIMARY KEY,
    record  TEXT NOT NULL
);
";

/// Version 3: pods. `IF NOT EXISTS` again: fresh schema and migration in one.
const SCHEMA_PODS: &str = "
CREATE TABLE IF NOT EXISTS pods (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    config  TEXT NOT NULL,
    state   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS containers_pod ON containers(pod_id);
";

/// Podman waits up to 100 s for a busy database; so do we (podman#20838).
const BUSY_TIMEOUT: Duration = Duration::from_secs(100);

pub struct Db {
    pub(super) conn: Connection,
    /// The schema version the database had when opened, if older than this one.
    upgraded_from: Option<i64>,
}

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // The write-ahead log stays when a connection closes, uncheckpointed: otherwise every
        // `peapod` process checkpoints it as it exits (two or three fsyncs) and deletes it, and
        // the next one creates it again (and fsyncs the directory), all on the path of every
        // command. It is checkpointed when it grows past SQLite's limit (1000 pages), by the
        // writer that crosses it. What a commit guarantees is unchanged (synchronous=NORMAL).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        let mut db = Db {
            conn,
            upgraded_from: None,
        };
        // Create the schema once. Doing it on every open would take SQLite's write lock in
        // every `peapod` call, serialising even `ps` behind concurrent `run`s.
        let version: i64 = db
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version < SCHEMA_VERSION {
            db.write(|tx| {
                tx.execute_batch(SCHEMA)?;
                tx.execute_batch(SCHEMA_VOLUMES)?;
                tx.execute_batch(SCHEMA_PODS)?;
                tx.execute_batch(super::ledger::SCHEMA_LEDGER)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
                Ok(())
            })?;
            db.upgraded_from = Some(version);
        }
        Ok(db)
    }

    /// Copy the write-ahead log back into the database, empty the log file and start the
    /// next log, so that the next process finds a log of one frame. Every process that
    /// opens the store while no other has it open rebuilds the log's index by reading every
    /// frame of the log that is still valid, checkpointed or not (SQLite's recovery): after
    /// a PASSIVE checkpoint that was the whole log, growing to SQLite's 1000-page limit
    /// (1.4-4 MB, 10-20 ms here at the start of every command). A log emptied and left
    /// empty costs its first writer two fsyncs instead (SQLite syncs a new log's header,
    /// and the directory): that write is made here, a rewrite of the schema version it
    /// already has. The monitor's exit command calls this once the container is released,
    /// off the path of the command that waits for it. It never waits: with a reader or
    /// writer in the way, SQLite does what it can without them and this stops there.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn.busy_timeout(Duration::ZERO)?;
        let done = self.restart_log();
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        match done {
            Err(Error::Db(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                Ok(())
            }
            other => other,
        }
    }

    fn restart_log(&self) -> Result<()> {
        // A checkpoint blocked by a reader or writer is a row saying busy, not an error.
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Ok(());
        }
        self.write(|tx| {
            let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            tx.pragma_update(None, "user_version", version)?;
            Ok(())
        })
    }

    /// A value of the `meta` table (store-wide facts, such as the storage driver).
    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Records `value` under `key` unless a value is there already; returns the value the
    /// table holds afterwards (the first writer's, when two race).
    pub fn meta_init(&self, key: &str, value: &str) -> Result<String> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
            Ok(tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))?)
        })
    }

    /// The schema version this database had before this open upgraded it (0: a new one).
    pub fn upgraded_from(&self) -> Option<i64> {
        self.upgraded_from
    }

    /// Run `f` in one IMMEDIATE transaction (the write lock is taken up front, so two
    /// writers never deadlock upgrading read locks).
    pub fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    // ---- containers ----

    /// Insert a new container. A taken name is [`Error::NameInUse`].
    pub fn insert_container(&self, c: &Container) -> Result<()> {
        let config = serde_json::to_string(&c.config).map_err(|e| Error::other(e.to_string()))?;
        let state = serde_json::to_string(&c.state).map_err(|e| Error::other(e.to_string()))?;
        self.write(|tx| {
            if let Some(id) = tx.query_row("SELECT id FROM containers WHERE name = ?1", [&c.config.name], |r| r.get::<_, String>(0)).optional()? {
                return Err(Error::NameInUse { name: c.config.name.clone(), id });
            }
            tx.execute(
                "INSERT INTO containers (id, name, pod_id, image_id, created, config, state) VALUES (?1, ?2, ?7, ?3, ?4, ?5, ?6)",
                params![c.config.id, c.config.name, c.config.image_id, c.config.created.to_rfc3339(), config, state, (!c.config.pod.is_empty()).then_some(&c.config.pod)],
            )?;
            Ok(())
        })
    }

    pub fn update_state(&self, id: &str, state: &ContainerState) -> Result<()> {
        let json = serde_json::to_string(state).map_err(|e| Error::other(e.to_string()))?;
        let n = self.conn.execute(
            "UPDATE containers SET state = ?1 WHERE id = ?2",
            params![json, id],
        )?;
        if n == 0 {
            return Err(Error::NoSuchContainer(id.to_string()));
        }
        Ok(())
    }

    /// Rewrite a container's configuration (network connect/disconnect change it).
    pub fn update_config(
        &self,
        id: &str,
        config: &crate::container::ContainerConfig,
    ) -> Result<()> {
        let json = serde_json::to_string(config).map_err(|e| Error::other(e.to_string()))?;
        let n = self.conn.execute(
            "UPDATE containers SET config = ?1 WHERE id = ?2",
            params![json, id],
        )?;
        if n == 0 {
            return Err(Error::NoSuchContainer(id.to_string()));
        }
        Ok(())
    }

    /// Give a container another name; a taken name is [`Error::NameInUse`].
    pub fn rename_container(&self, c: &Container, name: &str) -> Result<()> {
        let mut config = c.config.clone();
        config.name = name.to_string();
        let json = serde_json::to_string(&config).map_err(|e| Error::other(e.to_string()))?;
        self.write(|tx| {
            if let Some(id) = tx
                .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?
            {
                return Err(Error::NameInUse {
                    name: name.to_string(),
                    id,
                });
            }
            tx.execute(
                "UPDATE containers SET name = ?1, config = ?2 WHERE id = ?3",
                params![name, json, c.id()],
            )?;
            Ok(())
        })
    }

    /// Compare-and-swap: write `new` only if the row still holds `old`. Returns whether it did.
    pub fn update_state_if(
        &self,
        id: &str,
        old: &ContainerState,
        new: &ContainerState,
    ) -> Result<bool> {
        let old = serde_json::to_string(old).map_err(|e| Error::other(e.to_string()))?;
        let new = serde_json::to_string(new).map_err(|e| Error::other(e.to_string()))?;
        Ok(self.conn.execute(
            "UPDATE containers SET state = ?1 WHERE id = ?2 AND state = ?3",
            params![new, id, old],
        )? > 0)
    }

    pub fn delete_container(&self, id: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM containers WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn container(&self, id: &str) -> Result<Option<Container>> {
        let row = self
            .conn
            .query_row(
                "SELECT config, state FROM containers WHERE id = ?1",
                [id],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?;
        row.map(|(c, s)| decode_container(&c, &s)).transpose()
    }

    /// Resolve a user's reference as Podman does: an exact id, then an exact name, then a
    /// unique id prefix.
    pub fn lookup_container(&self, reference: &str) -> Result<Container> {
        if reference.is_empty() {
            return Err(Error::NoSuchContainer(reference.to_string()));
        }
        let by_name: Option<String> = self.conn.query_row("SELECT id FROM containers WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1", [reference], |r| r.get(0)).optional()?;
        let id = match by_name {
            Some(id) => id,
            None if reference.chars().all(|c| c.is_ascii_hexdigit()) => {
                let mut stmt = self
                    .conn
                    .prepare("SELECT id FROM containers WHERE id LIKE ?1 || '%' LIMIT 2")?;
                let ids: Vec<String> = stmt
                    .query_map([reference.to_ascii_lowercase()], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                match ids.len() {
                    1 => ids.into_iter().next().expect("one id"),
                    0 => return Err(Error::NoSuchContainer(reference.to_string())),
                    _ => {
                        return Err(Error::invalid(format!(
                            "more than one result for container \"{reference}\": container ID is ambiguous"
                        )));
                    }
                }
            }
            None => return Err(Error::NoSuchContainer(reference.to_string())),
        };
        self.container(&id)?
            .ok_or_else(|| Error::NoSuchContainer(reference.to_string()))
    }

    pub fn containers(&self) -> Result<Vec<Container>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT config, state FROM containers ORDER BY created")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (c, s) = row?;
            out.push(decode_container(&c, &s)?);
        }
        Ok(out)
    }

    pub fn containers_using_image(&self, image_id: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name FROM containers WHERE image_id = ?1")?;
        let rows = stmt.query_map([image_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

// ---- volumes ----

impl Db {
    /// Insert a volume; false when the name is taken.
    pub fn insert_volume(&self, v: &crate::volume::Volume) -> Result<bool> {
        let json = serde_json::to_string(v).map_err(|e| Error::other(e.to_string()))?;
        Ok(self.conn.execute(
            "INSERT INTO volumes (name, record) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![v.name, json],
        )? > 0)
    }

    pub fn update_volume(&self, v: &crate::volume::Volume) -> Result<()> {
        let json = serde_json::to_string(v).map_err(|e| Error::other(e.to_string()))?;
        self.conn.execute(
            "UPDATE volumes SET record = ?2 WHERE name = ?1",
            params![v.name, json],
        )?;
        Ok(())
    }

    pub fn delete_volume(&self, name: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM volumes WHERE name = ?1", [name])?;
        Ok(())
    }

    pub fn volume(&self, name: &str) -> Result<Option<crate::volume::Volume>> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT record FROM volumes WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        json.map(|j| decode_volume(&j)).transpose()
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<crate::volume::Volume>> {
        let mut stmt = self
            .conn
            .prepare("SELECT record FROM volumes ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for j in rows {
            out.push(decode_volume(&j?)?);
        }
        Ok(out)
    }
}

// ---- pods ----

impl Db {
    /// Insert a pod; a taken name is [`Error::PodNameInUse`] (checked in the transaction
    /// that inserts, so two creates of one name never both succeed).
    pub fn insert_pod(&self, p: &crate::pod::Pod) -> Result<()> {
        let config = serde_json::to_string(&p.config).map_err(|e| Error::other(e.to_string()))?;
        let state = serde_json::to_string(&p.state).map_err(|e| Error::other(e.to_string()))?;
        self.write(|tx| {
            let taken = tx
                .query_row(
                    "SELECT 1 FROM pods WHERE name = ?1",
                    [&p.config.name],
                    |_| Ok(()),
                )
                .optional()?;
            if taken.is_some() {
                return Err(Error::PodNameInUse(p.config.name.clone()));
            }
            tx.execute(
                "INSERT INTO pods (id, name, created, config, state) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    p.config.id,
                    p.config.name,
                    p.config.created.to_rfc3339(),
                    config,
                    state
                ],
            )?;
            Ok(())
        })
    }

    pub fn update_pod_state(&self, id: &str, state: &crate::pod::PodState) -> Result<()> {
        let json = serde_json::to_string(state).map_err(|e| Error::other(e.to_string()))?;
        self.conn.execute(
            "UPDATE pods SET state = ?1 WHERE id = ?2",
            params![json, id],
        )?;
        Ok(())
    }

    pub fn update_pod_config(&self, id: &str, config: &crate::pod::PodConfig) -> Result<()> {
        let json = serde_json::to_string(config).map_err(|e| Error::other(e.to_string()))?;
        self.conn.execute(
            "UPDATE pods SET config = ?1 WHERE id = ?2",
            params![json, id],
        )?;
        Ok(())
    }

    pub fn delete_pod(&self, id: &str) -> Result<()> {
        self.conn.execute("DELETE FROM pods WHERE id = ?1", [id])?;
        Ok(())
    }

    pub fn pod(&self, id: &str) -> Result<Option<crate::pod::Pod>> {
        let row = self
            .conn
            .query_row("SELECT config, state FROM pods WHERE id = ?1", [id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        row.map(|(c, s)| decode_pod(&c, &s)).transpose()
    }

    /// A pod by exact id, exact name, then unique id prefix, as Podman resolves them.
    pub fn lookup_pod(&self, reference: &str) -> Result<crate::pod::Pod> {
        let missing = || Error::NoSuchPod(reference.to_string());
        if reference.is_empty() {
            return Err(missing());
        }
        let exact: Option<String> = self
            .conn
            .query_row(
                "SELECT id FROM pods WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1",
                [reference],
                |r| r.get(0),
            )
            .optional()?;
        let id = match exact {
            Some(id) => id,
            None if reference.chars().all(|c| c.is_ascii_hexdigit()) => {
                let mut stmt = self
                    .conn
                    .prepare("SELECT id FROM pods WHERE id LIKE ?1 || '%' LIMIT 2")?;
                let ids: Vec<String> = stmt
                    .query_map([reference.to_ascii_lowercase()], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                match ids.len() {
                    1 => ids.into_iter().next().expect("one id"),
                    0 => return Err(missing()),
                    _ => {
                        return Err(Error::invalid(format!(
                            "more than one result for pod \"{reference}\": pod ID is ambiguous"
                        )));
                    }
                }
            }
            None => return Err(missing()),
        };
        self.pod(&id)?.ok_or_else(missing)
    }

    pub fn pods(&self) -> Result<Vec<crate::pod::Pod>> {
        let mut stmt = self
            .conn
            .prepare("SELECT config, state FROM pods ORDER BY created")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (c, s) = row?;
            out.push(decode_pod(&c, &s)?);
        }
        Ok(out)
    }

    /// The containers of a pod, in creation order.
    pub fn pod_containers(&self, pod_id: &str) -> Result<Vec<Container>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT config, state FROM containers WHERE pod_id = ?1 ORDER BY created",
        )?;
        let rows = stmt.query_map([pod_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (c, s) = row?;
            out.push(decode_container(&c, &s)?);
        }
        Ok(out)
    }
}

fn decode_pod(config: &str, state: &str) -> Result<crate::pod::Pod> {
    let config: crate::pod::PodConfig = serde_json::from_str(config)
        .map_err(|e| Error::other(format!("corrupt pod config: {e}")))?;
    let state: crate::pod::PodState = serde_json::from_str(state)
        .map_err(|e| Error::other(format!("pod {}: corrupt state: {e}", config.id)))?;
    Ok(crate::pod::Pod { config, state })
}

fn decode_volume(json: &str) -> Result<crate::volume::Volume> {
    serde_json::from_str(json).map_err(|e| Error::other(format!("corrupt volume record: {e}")))
}

fn decode_container(config: &str, state: &str) -> Result<Container> {
    let config: ContainerConfig = serde_json::from_str(config)
        .map_err(|e| Error::other(format!("corrupt container config: {e}")))?;
    let state: ContainerState = serde_json::from_str(state)
        .map_err(|e| Error::other(format!("container {}: corrupt state: {e}", config.id)))?;
    Ok(Container { config, state })
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
