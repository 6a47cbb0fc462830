//! `system check [--repair]`: find what this store left on the machine that belongs to no
//! container or pod of it any more, and (`--repair`) release it.
//!
//! What is looked at: the ledger's rows of holders that are gone; network namespace pins and
//! pod namespace pins under the runroot; rootfs mounts under the root; machine-wide address
//! and port leases; the firewall rules of the `inet peapod` table; the runtime's containers;
//! cgroups under `/peapod`; exit files. Veths need no check of their own: a veth dies with
//! the namespace its peer is in.
//!
//! Whose is what: leases, rules, runtime containers and cgroups are machine-wide, shared by
//! every store. One is only ever this store's when it names something of this store — a
//! lease whose holder's run directory is under this runroot, a rule or cgroup of a
//! container id this store knows (in its database, its ledger or its directories), a
//! runtime container whose bundle is under this root — and an orphan only when nothing of
//! this store holds it now. A lease whose holder's run directory is gone is nobody's (any
//! store takes such a lease over) and is removed too. Another store's live resources are
//! never touched.
//!
//! The filesystem and the kernel are read *before* the database: the ledger records a
//! resource before it is made, so whatever was seen made has its row by the time the ledger
//! is read, and a start running concurrently is not mistaken for a leak.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use peapod_netsetup::types::Network;

use crate::Engine;
use crate::container::Status;
use crate::error::{Error, Result};
use crate::network::ipam::{self, Lease, Leased};
use crate::state::{Held, Holder, Resource};

/// One thing found, and what became of it.
#[derive(Debug)]
pub struct Finding {
    /// What it is and whose: `network namespace pin /run/…/netns-<id>`.
    pub what: String,
    /// With `--repair`: released, or why not.
    pub released: Option<std::result::Result<(), String>>,
}

/// Everything `system check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// What a repair could not release, as errors naming each.
    pub fn unreleased(&self) -> Vec<Error> {
        self.findings
            .iter()
            .filter_map(|f| match &f.released {
                Some(Err(e)) => Some(Error::other(format!("releasing {}: {e}", f.what))),
                _ => None,
            })
            .collect()
    }
}

/// An orphan and how to release it.
enum Orphan {
    /// Rows of a holder that no longer exists.
    Ledger(Holder, Vec<Held>),
    /// A namespace pin (or a leftover empty pin file) no row records.
    Pin(PathBuf),
    /// The run directory of a pod that no longer exists.
    PodDir(PathBuf),
    /// A rootfs mount no row records.
    Mount(PathBuf),
    Lease(Lease, &'static str),
    /// Firewall rules of container `id` on a network of this store.
    Rules {
        id: String,
        network: Box<Network>,
    },
    Runtime(String),
    Cgroup(String),
    /// The directories of a container that is not in the database.
    ContainerFiles(String),
    ExitFile(PathBuf),
}

impl Orphan {
    fn describe(&self) -> String {
        match self {
            Orphan::Ledger(h, rows) => format!(
                "resources of removed {h}: {}",
                rows.iter()
                    .map(|r| r.resource.describe())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Orphan::Pin(p) => format!("namespace pin {}", p.display()),
            Orphan::PodDir(p) => format!("run directory of removed pod {}", p.display()),
            Orphan::Mount(p) => format!("rootfs mount {}", p.display()),
            Orphan::Lease(l, why) => {
                let what = match &l.what {
                    Leased::Address { ip, .. } => format!("address lease {ip}"),
                    Leased::Port {
                        protocol,
                        host_ip,
                        port,
                    } if host_ip.is_empty() => format!("host port lease {port}/{protocol}"),
                    Leased::Port {
                        protocol,
                        host_ip,
                        port,
                    } => format!("host port lease {port}/{protocol} on {host_ip}"),
                };
                format!("{what} of {} ({why})", short(&l.id))
            }
            Orphan::Rules { id, network } => {
                format!(
                    "firewall rules of container {} on network {}",
                    short(id),
                    network.name
                )
            }
            Orphan::Runtime(id) => format!("runtime container {id}"),
            Orphan::Cgroup(p) => format!("cgroup {p}"),
            Orphan::ContainerFiles(id) => format!("directories of removed container {}", short(id)),
            Orphan::ExitFile(p) => format!("exit file {}", p.display()),
        }
    }
}

fn short(id: &str) -> &str {
    match id.strip_prefix("pod-") {
        Some(p) => &p[..p.len().min(12)],
        None => &id[..id.len().min(12)],
    }
}

/// What the machine showed, read before the database.
struct Seen {
    netns_files: Vec<PathBuf>,
    pod_dirs: Vec<PathBuf>,
    mounts: Vec<PathBuf>,
    leases: Vec<Lease>,
    rules: BTreeSet<(String, String)>,
    runtime: Vec<crate::oci::runtime::RuntimeListed>,
    cgroups: Vec<String>,
    container_dirs: Vec<PathBuf>,
    exit_files: Vec<PathBuf>,
}

/// What the database says, read after.
struct Known {
    containers: HashMap<String, Status>,
    pods: BTreeSet<String>,
    /// Pods with a member that may hold the pod's namespaces.
    live_pods: BTreeSet<String>,
    held: Vec<Held>,
    networks: Vec<Network>,
}

impl Known {
    /// A container of this store that may hold resources by its state (running, or exited
    /// and not yet cleaned up): what it has is never an orphan, recorded or not (a store
    /// also used by a peapod from before the ledger records nothing).
    fn live(&self, id: &str) -> bool {
        self.containers
            .get(id)
            .is_some_and(|s| s.is_active() || *s == Status::Stopped)
    }

    fn holder_exists(&self, h: &Holder) -> bool {
        match h {
            Holder::Container(id) => self.containers.contains_key(id),
            Holder::Pod(id) => self.pods.contains(id),
        }
    }

    fn recorded(&self, pick: impl Fn(&Held) -> bool) -> bool {
        self.held.iter().any(pick)
    }
}

impl Engine {
    /// Find (and with `repair`, release) what this store left behind. The caller decides
    /// whether anything found is an error.
    pub fn system_check(&self, repair: bool) -> Result<CheckReport> {
        // Interrupted starts are repaired as any read repairs them.
        self.containers()?;
        let seen = self.look_around()?;
        let containers = self.db.containers()?;
        let known = Known {
            live_pods: containers
                .iter()
                .filter(|c| c.state.status.is_active() || c.state.status == Status::Stopped)
                .map(|c| c.config.pod.clone())
                .filter(|p| !p.is_empty())
                .collect(),
            containers: containers
                .into_iter()
                .map(|c| (c.config.id, c.state.status))
                .collect(),
            pods: self.db.pods()?.into_iter().map(|p| p.config.id).collect(),
            held: self.db.all_held()?,
            networks: self.networks()?,
        };
        let orphans = self.orphans(&seen, &known);
        let mut report = CheckReport::default();
        for o in orphans {
            let released = repair.then(|| self.release_orphan(&o).map_err(|e| e.to_string()));
            report.findings.push(Finding {
                what: o.describe(),
                released,
            });
        }
        Ok(report)
    }

    fn look_around(&self) -> Result<Seen> {
        let files = |dir: PathBuf| -> Vec<PathBuf> {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect()
        };
        let mut mounts = mounts_under(&self.paths.root);
        mounts.extend(mounts_under(&self.paths.runroot));
        let runtime = match self.runtime() {
            Ok(rt) => rt.list()?,
            Err(_) => Vec::new(),
        };
        Ok(Seen {
            netns_files: files(self.paths.netns_dir()),
            pod_dirs: files(self.paths.runroot.join("pods")),
            mounts,
            leases: ipam::leases(),
            rules: firewall_rules()?,
            runtime,
            cgroups: crate::container::cgroup::under("/peapod"),
            container_dirs: files(self.paths.root.join("containers")),
            exit_files: files(self.paths.exit_dir()),
        })
    }

    fn orphans(&self, seen: &Seen, known: &Known) -> Vec<Orphan> {
        let mut out = Vec::new();
        // Ledger rows of holders that are gone.
        let mut by_holder: BTreeMap<Holder, Vec<Held>> = BTreeMap::new();
        for h in &known.held {
            if !known.holder_exists(&h.holder) {
                by_holder
                    .entry(h.holder.clone())
                    .or_default()
                    .push(h.clone());
            }
        }
        let gone: BTreeSet<Holder> = by_holder.keys().cloned().collect();
        let containers_dir = self.paths.root.join("containers");
        for (h, mut rows) in by_holder {
            rows.reverse();
            out.push(Orphan::Ledger(h, rows));
        }
        // Runtime containers whose bundle is in this store.
        for r in &seen.runtime {
            if r.bundle.starts_with(&containers_dir) {
                let live = known.live(&r.id)
                    || (known.containers.contains_key(&r.id)
                        && known.recorded(
                            |h| matches!(&h.resource, Resource::Runtime { id } if *id == r.id),
                        ));
                let gone_holder = gone.contains(&Holder::container(&r.id));
                if !live && !gone_holder {
                    out.push(Orphan::Runtime(r.id.clone()));
                }
            }
        }
        out.extend(self.orphan_rules(seen, known, &gone));
        // Pins and mounts the ledger does not record (of holders that exist: the others'
        // go with their rows above).
        let pinned = |p: &Path| {
            known.recorded(|h| matches!(&h.resource, Resource::Pin { path } if path == p))
        };
        for f in &seen.netns_files {
            let owner = file_name(f);
            let owner = owner.strip_prefix("netns-").unwrap_or("");
            if !pinned(f) && !known.live(owner) {
                out.push(Orphan::Pin(f.clone()));
            }
        }
        for d in &seen.pod_dirs {
            let id = file_name(d);
            if !known.pods.contains(&id) && !gone.contains(&Holder::Pod(id.clone())) {
                out.push(Orphan::PodDir(d.clone()));
                continue;
            }
            for f in std::fs::read_dir(d.join("ns"))
                .into_iter()
                .flatten()
                .flatten()
            {
                if !pinned(&f.path()) && !known.live_pods.contains(&id) {
                    out.push(Orphan::Pin(f.path()));
                }
            }
        }
        for m in &seen.mounts {
            let rootfs = m.starts_with(&containers_dir) && m.ends_with("merged");
            let owner = m.parent().map(file_name).is_some_and(|id| known.live(&id));
            let recorded =
                known.recorded(|h| matches!(&h.resource, Resource::Rootfs { path } if path == m));
            if rootfs && !recorded && !owner {
                out.push(Orphan::Mount(m.clone()));
            }
        }
        out.extend(self.orphan_leases(seen, known));
        // Cgroups of containers this store knows, that nothing records.
        for cg in &seen.cgroups {
            let id = cg.rsplit_once("peapod-").map(|(_, id)| id).unwrap_or("");
            let ours = known.containers.contains_key(id) || self.is_ours(id);
            let recorded =
                known.recorded(|h| matches!(&h.resource, Resource::Cgroup { path } if path == cg));
            if ours && !recorded && !known.live(id) && !gone.contains(&Holder::container(id)) {
                out.push(Orphan::Cgroup(cg.clone()));
            }
        }
        // Directories of containers this store no longer has. `create` makes the directory
        // just before the row: one younger than a minute may be a container being created.
        let young = |d: &Path| {
            d.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < std::time::Duration::from_secs(60))
        };
        for d in &seen.container_dirs {
            let id = file_name(d);
            if !known.containers.contains_key(&id)
                && !gone.contains(&Holder::container(&id))
                && !young(d)
            {
                out.push(Orphan::ContainerFiles(id));
            }
        }
        // Exit files nobody reads any more: of removed containers, and of containers whose
        // exit is in the database (cleaned up, or never started since).
        for f in &seen.exit_files {
            let id = file_name(f);
            let needed = known
                .containers
                .get(id.trim_end_matches(".peapod-tmp"))
                .is_some_and(|s| s.is_active() || *s == Status::Stopped);
            if !needed {
                out.push(Orphan::ExitFile(f.clone()));
            }
        }
        out
    }

    /// Is `id` a container id this store has a directory for?
    fn is_ours(&self, id: &str) -> bool {
        !id.is_empty()
            && (self.paths.container_dir(id).exists() || self.paths.container_run_dir(id).exists())
    }

    fn orphan_leases(&self, seen: &Seen, known: &Known) -> Vec<Orphan> {
        let mut out = Vec::new();
        for l in &seen.leases {
            if l.stale() {
                out.push(Orphan::Lease(l.clone(), "its holder is gone"));
                continue;
            }
            if !l.run_dir.starts_with(&self.paths.runroot) {
                continue; // another store's, alive
            }
            let holder = match l.id.strip_prefix("pod-") {
                Some(p) => Holder::pod(p),
                None => Holder::container(&l.id),
            };
            let live = match &holder {
                Holder::Container(id) => known.live(id),
                Holder::Pod(id) => known.live_pods.contains(id),
            };
            let held = live
                || known.recorded(|h| {
                    h.holder == holder
                        && match (&h.resource, &l.what) {
                            (Resource::Address { ip, .. }, Leased::Address { ip: lip, .. }) => {
                                ip == lip
                            }
                            (
                                Resource::Ports {
                                    protocols,
                                    host_ip,
                                    port,
                                    range,
                                },
                                Leased::Port {
                                    protocol,
                                    host_ip: lhost,
                                    port: lp,
                                },
                            ) => {
                                protocols.contains(protocol)
                                    && same_address(host_ip, lhost)
                                    && *lp >= *port
                                    && u32::from(*lp) < u32::from(*port) + u32::from(*range)
                            }
                            _ => false,
                        }
                });
            if !held {
                out.push(Orphan::Lease(l.clone(), "held by nothing of this store"));
            }
        }
        out
    }

    fn orphan_rules(&self, seen: &Seen, known: &Known, gone: &BTreeSet<Holder>) -> Vec<Orphan> {
        // Container ids whose network setup this store holds (a pod's: its infra's id).
        let live: BTreeSet<&str> = known
            .held
            .iter()
            .filter_map(|h| match &h.resource {
                Resource::Network { options, .. } => Some(options.container_id.as_str()),
                _ => None,
            })
            .collect();
        let in_gone_ledger: BTreeSet<&str> = known
            .held
            .iter()
            .filter(|h| gone.contains(&h.holder))
            .filter_map(|h| match &h.resource {
                Resource::Network { options, .. } => Some(options.container_id.as_str()),
                _ => None,
            })
            .collect();
        let mut out = Vec::new();
        let mut found = BTreeSet::new();
        for (id, chain) in &seen.rules {
            let ours = known.containers.contains_key(id) || self.is_ours(id);
            if !ours
                || known.live(id)
                || live.contains(id.as_str())
                || in_gone_ledger.contains(id.as_str())
            {
                continue;
            }
            // Only on a network this store defines: another's is not ours to tear down.
            if let Some(n) = known
                .networks
                .iter()
                .find(|n| n.id.len() >= 8 && chain.starts_with(&format!("nv_{}_", &n.id[..8])))
                && found.insert((id.clone(), n.name.clone()))
            {
                out.push(Orphan::Rules {
                    id: id.clone(),
                    network: Box::new(n.clone()),
                });
            }
        }
        out
    }
}

/// A mapping's host address and a lease file's name it alike: both every address (empty,
/// `0.0.0.0`, `::`), or the same one.
fn same_address(mapping: &str, lease: &str) -> bool {
    let one = |s: &str| {
        s.parse::<std::net::IpAddr>()
            .ok()
            .filter(|ip| !ip.is_unspecified())
    };
    one(mapping) == one(lease)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The `(container id, chain)` pairs of the `peapod ctr=<id> net=<chain>` comments in the
/// `inet peapod` table (the network helper's; read only).
fn firewall_rules() -> Result<BTreeSet<(String, String)>> {
    use nftables::helper::{self, NftablesError};
    use nftables::schema::{NfListObject, NfObject};
    let table = match helper::get_current_ruleset_with_args(
        helper::DEFAULT_NFT,
        ["list", "table", "inet", "peapod"],
    ) {
        Ok(t) => t,
        Err(NftablesError::NftFailed { stderr, .. }) if stderr.contains("No such file") => {
            return Ok(BTreeSet::new());
        }
        // No nft on this host: there is no table to look at.
        Err(NftablesError::NftExecution { .. }) => return Ok(BTreeSet::new()),
        Err(e) => return Err(Error::other(format!("reading the firewall rules: {e}"))),
    };
    let mut out = BTreeSet::new();
    for o in table.objects.iter() {
        if let NfObject::ListObject(NfListObject::Rule(r)) = o
            && let Some(c) = r.comment.as_deref()
            && let Some(rest) = c.strip_prefix("peapod ctr=")
            && let Some((id, chain)) = rest.split_once(" net=")
        {
            out.insert((id.to_string(), chain.to_string()));
        }
    }
    Ok(out)
}

/// Mount points at or under `dir` (from this mount namespace's mountinfo), deepest first.
pub(crate) fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .filter(|m| m.starts_with(&dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

/// A mount point as mountinfo writes it (`\ooo` escapes), as a string.
fn unescape(s: &str) -> String {
    String::from_utf8_lossy(&crate::layer::unescape_mountinfo(s)).into_owned()
}

mod release;

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
