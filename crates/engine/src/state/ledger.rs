//! The ledger: every resource the engine makes for a container or a pod, recorded in the
//! database *before* it is made (an intent row) and confirmed after. Whatever instant a
//! `peapod` process dies, every kernel object, lease or process it may have made has a row,
//! so the next `rm -f`, `start`, `container cleanup`, `pod rm -f`, the refresh after a reboot
//! or `system check --repair` finds it and releases it. Releasing is idempotent: a row whose
//! resource was never made (the process died between the intent and the act) is released
//! without error, and the row goes only once its release worked.
//!
//! Why a table of its own rather than a field in the state JSON: the state JSON is rewritten
//! whole by every lifecycle step from an in-memory copy, so a record kept in it is only as
//! good as the last writer's copy (a reader's compare-and-swap, a stale copy saved after a
//! failure). A row per resource is written by the one step that makes it, in its own
//! statement, and deleted only by the release that undid it; no other write can lose it.
//! It also answers machine-level questions in one query (which netns files, leases and
//! runtime containers belong to this root?), which `system check` needs.
//!
//! The state JSON keeps its fields (`netns`, `network_status`, `ports`, a pod's `pinned`):
//! they are the view inspect, ps and the pod's members read. The ledger is what releases.

use std::net::IpAddr;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use peapod_netsetup::types::NetworkOptions;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::Db;
use crate::error::{Error, Result};

/// Version 4: the ledger and the exit codes of removed containers.
pub(super) const SCHEMA_LEDGER: &str = "
CREATE TABLE IF NOT EXISTS resources (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    kind  TEXT NOT NULL,
    key   TEXT NOT NULL,
    spec  TEXT NOT NULL,
    made  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (owner, kind, key)
);
CREATE INDEX IF NOT EXISTS resources_owner ON resources(owner);
CREATE TABLE IF NOT EXISTS exit_codes (
    id   TEXT PRIMARY KEY,
    code INTEGER NOT NULL,
    at   TEXT NOT NULL,
    kept TEXT NOT NULL
);
";

/// Who holds a resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    Container(String),
    Pod(String),
}

impl Holder {
    pub fn container(id: &str) -> Holder {
        Holder::Container(id.to_string())
    }

    pub fn pod(id: &str) -> Holder {
        Holder::Pod(id.to_string())
    }

    /// `container:<id>` or `pod:<id>`, as stored.
    pub fn key(&self) -> String {
        match self {
            Holder::Container(id) => format!("container:{id}"),
            Holder::Pod(id) => format!("pod:{id}"),
        }
    }

    pub fn parse(s: &str) -> Option<Holder> {
        match s.split_once(':')? {
            ("container", id) => Some(Holder::Container(id.to_string())),
            ("pod", id) => Some(Holder::Pod(id.to_string())),
            _ => None,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Holder::Container(id) | Holder::Pod(id) => id,
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Container(id) => write!(f, "container {id}"),
            Holder::Pod(id) => write!(f, "pod {id}"),
        }
    }
}

/// One resource, with everything its release needs (nothing else is read to release it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resource {
    /// The container's overlay rootfs mounted at `path`.
    Rootfs { path: PathBuf },
    /// The container's volumes that have a mount of their own (`--opt type=… device=…`) and
    /// its image mounts (`--mount type=image`).
    Volumes,
    /// A namespace pinned by a bind mount at `path`: a container's network namespace, or
    /// one of a pod's (net, ipc, uts, pid, cgroup).
    Pin { path: PathBuf },
    /// A machine-wide address lease.
    Address { subnet: IpNet, ip: IpAddr },
    /// Machine-wide host-port leases: `port..port+range` for each protocol, on `host_ip`
    /// (empty: every address).
    Ports {
        protocols: Vec<String>,
        #[serde(default)]
        host_ip: String,
        port: u16,
        range: u16,
    },
    /// The network helper's setup (interfaces, routes, firewall rules, DNS records) in
    /// `netns`, with the options its teardown is given.
    Network {
        netns: String,
        options: Box<NetworkOptions>,
    },
    /// A userspace network helper (slirp4netns, pasta, the port forwarder) whose pid is in
    /// `pidfile`: released by killing it while that pid is still a `comm` process, then
    /// removing `files` (its log, its API socket).
    Helper {
        pidfile: PathBuf,
        comm: String,
        #[serde(default)]
        files: Vec<PathBuf>,
    },
    /// The container's cgroup (`linux.cgroupsPath`), made by the runtime.
    Cgroup { path: String },
    /// The container as the OCI runtime knows it.
    Runtime { id: String },
    /// The container's monitor: its pid file and, once known, its pid and start time.
    Monitor {
        id: String,
        pidfile: PathBuf,
        #[serde(default)]
        pid: i32,
        #[serde(default)]
        start: u64,
    },
}

impl Resource {
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::Rootfs { .. } => "rootfs",
            Resource::Volumes => "volumes",
            Resource::Pin { .. } => "pin",
            Resource::Address { .. } => "address",
            Resource::Ports { .. } => "ports",
            Resource::Network { .. } => "network",
            Resource::Helper { .. } => "helper",
            Resource::Cgroup { .. } => "cgroup",
            Resource::Runtime { .. } => "runtime",
            Resource::Monitor { .. } => "monitor",
        }
    }

    /// What tells two resources of one kind and holder apart.
    pub fn key(&self) -> String {
        match self {
            Resource::Rootfs { path } | Resource::Pin { path } => path.display().to_string(),
            Resource::Volumes => String::new(),
            Resource::Address { subnet, ip } => format!("{subnet} {ip}"),
            Resource::Ports {
                protocols,
                host_ip,
                port,
                range,
            } => format!("{host_ip}:{port}+{range}/{}", protocols.join(",")),
            Resource::Network { netns, options } => {
                let mut names: Vec<&str> = options.networks.keys().map(String::as_str).collect();
                names.sort_unstable();
                format!("{netns} {}", names.join(","))
            }
            Resource::Helper { pidfile, .. } => pidfile.display().to_string(),
            Resource::Cgroup { path } => path.clone(),
            Resource::Runtime { id } => id.clone(),
            Resource::Monitor { pidfile, .. } => pidfile.display().to_string(),
        }
    }

    /// For messages: `network namespace /run/…`, `address 10.88.0.2`.
    pub fn describe(&self) -> String {
        match self {
            Resource::Rootfs { path } => format!("rootfs mount {}", path.display()),
            Resource::Volumes => "volume and image mounts".into(),
            Resource::Pin { path } => format!("namespace pin {}", path.display()),
            Resource::Address { ip, .. } => format!("address lease {ip}"),
            Resource::Ports {
                protocols,
                host_ip,
                port,
                range,
            } => {
                let span = if *range > 1 {
                    format!("{port}-{}", u32::from(*port) + u32::from(*range) - 1)
                } else {
                    port.to_string()
                };
                let on = if host_ip.is_empty() {
                    String::new()
                } else {
                    format!(" on {host_ip}")
                };
                format!("host port lease {span}/{}{on}", protocols.join(","))
            }
            Resource::Network { netns, .. } => format!("network setup in {netns}"),
            Resource::Helper { comm, pidfile, .. } => {
                format!("network helper {comm} (pid file {})", pidfile.display())
            }
            Resource::Cgroup { path } => format!("cgroup {path}"),
            Resource::Runtime { id } => format!("runtime container {id}"),
            Resource::Monitor { pid, pidfile, .. } if *pid <= 0 => {
                format!("monitor (pid file {})", pidfile.display())
            }
            Resource::Monitor { pid, .. } => format!("monitor process {pid}"),
        }
    }
}

/// A row of the ledger.
#[derive(Debug, Clone)]
pub struct Held {
    pub seq: i64,
    pub holder: Holder,
    pub resource: Resource,
    /// Confirmed: it was made. An unconfirmed row may or may not have been; release treats
    /// both alike (every release step tolerates a missing resource), so only tests read it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub made: bool,
}

fn encode(r: &Resource) -> Result<String> {
    serde_json::to_string(r).map_err(|e| Error::other(format!("encoding a ledger row: {e}")))
}

fn decode(seq: i64, owner: &str, spec: &str, made: bool) -> Result<Held> {
    let holder = Holder::parse(owner)
        .ok_or_else(|| Error::other(format!("ledger row {seq}: unknown holder {owner:?}")))?;
    let resource = serde_json::from_str(spec)
        .map_err(|e| Error::other(format!("ledger row {seq} of {holder}: corrupt: {e}")))?;
    Ok(Held {
        seq,
        holder,
        resource,
        made,
    })
}

impl Db {
    /// Record that `r` is about to be made for `holder` (one statement: committed before
    /// the caller acts). A row for the same resource is replaced. Returns the row's number.
    pub fn record(&self, holder: &Holder, r: &Resource) -> Result<i64> {
        Ok(self.record_all(holder, std::slice::from_ref(r))?[0])
    }

    /// [`Db::record`] of several resources in one transaction, in order.
    pub fn record_all(&self, holder: &Holder, rs: &[Resource]) -> Result<Vec<i64>> {
        let owner = holder.key();
        self.write(|tx| {
            let mut out = Vec::with_capacity(rs.len());
            for r in rs {
                tx.execute(
                    "INSERT OR REPLACE INTO resources (owner, kind, key, spec, made) VALUES (?1, ?2, ?3, ?4, 0)",
                    params![owner, r.kind(), r.key(), encode(r)?],
                )?;
                out.push(tx.last_insert_rowid());
            }
            Ok(out)
        })
    }

    /// The resource of row `seq` was made; `r` is what it turned out to be (a monitor's pid).
    pub fn confirm(&self, seq: i64, r: &Resource) -> Result<()> {
        self.conn.execute(
            "UPDATE resources SET spec = ?2, made = 1 WHERE seq = ?1",
            params![seq, encode(r)?],
        )?;
        Ok(())
    }

    /// [`Db::confirm`] of several rows in one transaction.
    pub fn confirm_all(&self, rows: &[(i64, &Resource)]) -> Result<()> {
        self.write(|tx| {
            for (seq, r) in rows {
                tx.execute(
                    "UPDATE resources SET spec = ?2, made = 1 WHERE seq = ?1",
                    params![seq, encode(r)?],
                )?;
            }
            Ok(())
        })
    }

    /// Drop row `seq`: its resource was released, or never made.
    pub fn forget(&self, seq: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM resources WHERE seq = ?1", [seq])?;
        Ok(())
    }

    /// What `holder` holds, newest first (the order to release in).
    pub fn held(&self, holder: &Holder) -> Result<Vec<Held>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, owner, spec, made FROM resources WHERE owner = ?1 ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map([holder.key()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, owner, spec, made) = row?;
            out.push(decode(seq, &owner, &spec, made)?);
        }
        Ok(out)
    }

    /// Does `holder` hold anything?
    pub fn holds_any(&self, holder: &Holder) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM resources WHERE owner = ?1 LIMIT 1",
                [holder.key()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Every row of the ledger, oldest first.
    pub fn all_held(&self) -> Result<Vec<Held>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, owner, spec, made FROM resources ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, owner, spec, made) = row?;
            out.push(decode(seq, &owner, &spec, made)?);
        }
        Ok(out)
    }

    /// Every holder with at least one row.
    pub fn holders(&self) -> Result<Vec<Holder>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT owner FROM resources ORDER BY owner")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let owner = row?;
            if let Some(h) = Holder::parse(&owner) {
                out.push(h);
            }
        }
        Ok(out)
    }

    // ---- exit codes of removed containers ----

    /// Keep the exit code of a container being removed (it exited `at`), for a waiter that
    /// lost the race with its removal (a foreground `run --rm` and the monitor's `cleanup
    /// --rm`). Codes kept longer than `keep` go at the same time: Podman keeps them five
    /// minutes too.
    pub fn keep_exit_code(
        &self,
        id: &str,
        code: i32,
        at: DateTime<Utc>,
        keep: chrono::Duration,
    ) -> Result<()> {
        let now = Utc::now();
        let cutoff = (now - keep).to_rfc3339();
        self.write(|tx| {
            tx.execute("DELETE FROM exit_codes WHERE kept < ?1", [cutoff])?;
            tx.execute(
                "INSERT OR REPLACE INTO exit_codes (id, code, at, kept) VALUES (?1, ?2, ?3, ?4)",
                params![id, code, at.to_rfc3339(), now.to_rfc3339()],
            )?;
            Ok(())
        })
    }

    /// The kept exit code of a removed container.
    pub fn kept_exit_code(&self, id: &str) -> Result<Option<(i32, DateTime<Utc>)>> {
        let row: Option<(i32, String)> = self
            .conn
            .query_row("SELECT code, at FROM exit_codes WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        Ok(row.map(|(code, at)| {
            let at = DateTime::parse_from_rfc3339(&at)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|_| Utc::now());
            (code, at)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Db) {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("db.sqlite")).unwrap();
        (t, db)
    }

    #[test]
    fn intents_confirmations_and_release_order() {
        let (_t, db) = db();
        let c = Holder::container(&"a".repeat(64));
        let p = Holder::pod(&"b".repeat(64));
        let rootfs = Resource::Rootfs {
            path: "/r/merged".into(),
        };
        let pin = Resource::Pin {
            path: "/run/netns-a".into(),
        };
        let addr = Resource::Address {
            subnet: "10.88.0.0/16".parse().unwrap(),
            ip: "10.88.0.2".parse().unwrap(),
        };
        let s1 = db.record(&c, &rootfs).unwrap();
        db.confirm(s1, &rootfs).unwrap();
        let seqs = db.record_all(&c, &[pin.clone(), addr.clone()]).unwrap();
        db.record(&p, &pin).unwrap();
        assert!(db.holds_any(&c).unwrap());
        let held = db.held(&c).unwrap();
        // Newest first, the one confirmed marked so.
        let kinds: Vec<_> = held.iter().map(|h| h.resource.kind()).collect();
        assert_eq!(kinds, ["address", "pin", "rootfs"]);
        assert!(held[2].made && !held[0].made);
        assert_eq!(held[0].resource, addr);
        // Recording the same resource again replaces its row (a newer one).
        let again = db.record(&c, &pin).unwrap();
        assert!(again > seqs[1]);
        assert_eq!(db.held(&c).unwrap().len(), 3);
        assert_eq!(db.held(&c).unwrap()[0].resource, pin);
        for h in db.held(&c).unwrap() {
            db.forget(h.seq).unwrap();
        }
        assert!(!db.holds_any(&c).unwrap());
        assert_eq!(db.holders().unwrap(), std::slice::from_ref(&p));
        assert_eq!(db.all_held().unwrap().len(), 1);
    }

    #[test]
    fn holders_and_resources_round_trip() {
        for h in [Holder::container("abc"), Holder::pod("def")] {
            assert_eq!(Holder::parse(&h.key()), Some(h.clone()));
        }
        assert_eq!(Holder::parse("volume:x"), None);
        let m = Resource::Monitor {
            id: "x".into(),
            pidfile: "/run/x/conmon.pid".into(),
            pid: 0,
            start: 0,
        };
        let json = encode(&m).unwrap();
        assert!(json.contains("\"kind\":\"monitor\""), "{json}");
        assert_eq!(decode(1, "container:x", &json, false).unwrap().resource, m);
        let ports = Resource::Ports {
            protocols: vec!["tcp".into(), "udp".into()],
            host_ip: String::new(),
            port: 8080,
            range: 3,
        };
        assert_eq!(ports.describe(), "host port lease 8080-8082/tcp,udp");
        let one = Resource::Ports {
            protocols: vec!["tcp".into()],
            host_ip: "127.0.0.1".into(),
            port: 80,
            range: 1,
        };
        assert_eq!(one.describe(), "host port lease 80/tcp on 127.0.0.1");
        assert!(decode(1, "bogus", &json, false).is_err());
        assert!(decode(1, "pod:x", "{\"kind\":\"nope\"}", false).is_err());
    }

    #[test]
    fn exit_codes_are_kept_a_while() {
        let (_t, db) = db();
        // Exited long ago, removed now: kept from now on.
        let long_ago = Utc::now() - chrono::Duration::hours(10);
        db.keep_exit_code("a", 3, long_ago, chrono::Duration::minutes(5))
            .unwrap();
        assert_eq!(db.kept_exit_code("a").unwrap(), Some((3, long_ago)));
        // Keeping another with a window of zero prunes every one kept before.
        std::thread::sleep(std::time::Duration::from_millis(5));
        db.keep_exit_code("b", 7, Utc::now(), chrono::Duration::zero())
            .unwrap();
        assert_eq!(db.kept_exit_code("b").unwrap().map(|c| c.0), Some(7));
        assert_eq!(db.kept_exit_code("a").unwrap(), None, "pruned");
    }
}
