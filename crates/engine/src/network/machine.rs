//! Machine-wide network facts: bridge names and subnets belong to the host, not to one
//! `--root`. (The gateway of each subnet is where the DNS responder listens, so unique
//! subnets also give every responder its own address.)
//!
//! Podman checks a new network against its own configs and the host's interface addresses
//! (`GetUsedSubnets`, `GetFreeDeviceName` in containers/common `libnetwork/internal/util`).
//! Several peapod stores share one kernel, and a store's network makes no bridge until a
//! container joins it, so that is not enough: two stores both picked `podman2` and
//! 10.89.0.0/24. Here every allocation happens under one machine-wide lock
//! (`/run/peapod/network-reservations.lock`, flock) against:
//!
//! - the host, read through netlink: every interface name, every address's subnet and every
//!   route's destination (a route to a subnet means the host reaches it somewhere);
//! - the reservations of every store: `/run/peapod/network-reservations/<id>.json`, written
//!   with the definition file and removed by `network rm`. A reservation whose definition
//!   file is gone (or now holds another network) is stale and taken over;
//! - this store's own definitions, and Podman's (`/etc/containers/networks`) when present.
//!
//! The default network (`podman`, `podman0`, 10.88.0.0/16) is shared by design and never
//! reserved. `/run` is a tmpfs: after a reboot a store's networks are reserved again when it
//! next creates a network or starts a container on one ([`Engine::claim_networks`]); a
//! container whose network another store reserved meanwhile is refused with Podman's
//! message rather than joined to a foreign bridge. Published host ports are leased
//! machine-wide in [`super::ipam`].

use std::collections::HashSet;
use std::fs::File;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use nix::fcntl::{Flock, FlockArg};
use peapod_netsetup::netlink::{LinkExt, Netlink};
use peapod_netsetup::types::Network;
use serde::{Deserialize, Serialize};

use super::store::{DEFAULT_NETWORK, overlaps};
use crate::Engine;
use crate::error::{Error, IoContext, Result};

/// Where Podman keeps its network definitions as root: another config on this host.
const PODMAN_NETWORKS: &str = "/etc/containers/networks";

/// The machine-wide lock; held while facts are read and a reservation written.
pub struct MachineLock {
    _flock: Flock<File>,
}

/// Take the machine-wide network lock, waiting for it.
pub fn lock() -> Result<MachineLock> {
    let dir = super::ipam::state_dir();
    std::fs::create_dir_all(&dir).ctx("creating", &dir)?;
    let path = dir.join("network-reservations.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ctx("opening lock", &path)?;
    let flock = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::other(format!("locking {}: {e}", path.display())))?;
    Ok(MachineLock { _flock: flock })
}

/// One store's network, as the other stores see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    pub id: String,
    pub name: String,
    /// The definition file: the reservation lives while it holds this network id.
    pub definition: PathBuf,
    pub bridge: Option<String>,
    pub subnets: Vec<IpNet>,
}

impl Reservation {
    pub fn of(net: &Network, definition: &Path) -> Reservation {
        Reservation {
            id: net.id.clone(),
            name: net.name.clone(),
            definition: definition.to_path_buf(),
            bridge: net.network_interface.clone(),
            subnets: net.subnets().iter().map(|s| s.subnet.trunc()).collect(),
        }
    }

    /// Does its store still define this network?
    fn is_live(&self) -> bool {
        std::fs::read_to_string(&self.definition)
            .ok()
            .and_then(|t| serde_json::from_str::<Network>(&t).ok())
            .is_some_and(|n| n.id == self.id)
    }

    fn holds_subnet(&self, net: &IpNet) -> bool {
        self.subnets.iter().any(|s| overlaps(s, net))
    }
}

/// The reservations directory; every method wants the machine lock held.
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// The machine's registry, under `/run/peapod` (`PEAPOD_IPAM_DIR` moves it, with the
    /// leases).
    pub fn machine() -> Registry {
        Registry::at(super::ipam::state_dir().join("network-reservations"))
    }

    pub fn at(dir: PathBuf) -> Registry {
        Registry { dir }
    }

    fn file(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// The live reservations; stale ones are deleted on the way.
    pub fn load(&self, _lock: &MachineLock) -> Result<Vec<Reservation>> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(out);
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let parsed = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<Reservation>(&t).ok());
            match parsed {
                Some(r) if r.is_live() => out.push(r),
                // Stale (its store dropped the network) or unreadable: taken over.
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub fn write(&self, _lock: &MachineLock, r: &Reservation) -> Result<()> {
        std::fs::create_dir_all(&self.dir).ctx("creating", &self.dir)?;
        let path = self.file(&r.id);
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(r).map_err(|e| Error::other(e.to_string()))?;
        std::fs::write(&tmp, json).ctx("writing", &tmp)?;
        std::fs::rename(&tmp, &path).ctx("writing", &path)
    }

    pub fn release(&self, _lock: &MachineLock, id: &str) {
        let _ = std::fs::remove_file(self.file(id));
    }
}

/// Bridge names, interface names and subnets somebody has.
#[derive(Debug, Default)]
pub struct Used {
    /// Bridges of networks (any store's, Podman's), whether they exist now or not.
    pub bridges: HashSet<String>,
    /// Every interface the host has now.
    pub interfaces: HashSet<String>,
    pub subnets: Vec<IpNet>,
}

impl Used {
    fn add_network(&mut self, n: &Network) {
        if let Some(b) = &n.network_interface {
            self.bridges.insert(b.clone());
        }
        self.subnets
            .extend(n.subnets().iter().map(|s| s.subnet.trunc()));
    }

    pub fn subnet_taken(&self, net: &IpNet) -> bool {
        self.subnets.iter().any(|u| overlaps(u, net))
    }
}

/// What the host has: interface names, address subnets, route destinations (not default
/// routes: they overlap everything).
pub fn host_facts() -> Result<Used> {
    let fail = |e: peapod_netsetup::netlink::NetlinkError| {
        Error::other(format!("reading the host's interfaces: {e}"))
    };
    let mut nl = Netlink::open().map_err(fail)?;
    let mut used = Used::default();
    for l in nl.links().map_err(fail)? {
        if let Some(name) = l.name() {
            used.interfaces.insert(name.to_string());
        }
    }
    used.subnets
        .extend(nl.all_addresses().map_err(fail)?.iter().map(IpNet::trunc));
    used.subnets.extend(
        nl.route_destinations()
            .map_err(fail)?
            .into_iter()
            .filter(|r| r.prefix_len() > 0),
    );
    Ok(used)
}

/// Podman's own network definitions on this host (root's), if any.
fn podman_networks() -> Vec<Network> {
    let Ok(entries) = std::fs::read_dir(PODMAN_NETWORKS) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().and_then(|x| x.to_str()) == Some("json"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|t| serde_json::from_str::<Network>(&t).ok())
        .collect()
}

/// The first `podmanN` (N ≥ 1; `podman0` is the default network's) that is neither a
/// network's bridge nor a host interface.
pub fn free_bridge_name(used: &Used) -> String {
    (1u32..)
        .map(|i| format!("podman{i}"))
        .find(|n| !used.bridges.contains(n) && !used.interfaces.contains(n))
        .expect("a free bridge name")
}

/// Podman's default pool: the first /24 from 10.89.0.0 up that overlaps nothing used. Unlike
/// Podman we stop at 10.255.255.0/24 rather than walk into public address space.
pub fn free_ipv4_subnet(used: &Used) -> Result<IpNet> {
    let first = u32::from(Ipv4Addr::new(10, 89, 0, 0));
    let last = u32::from(Ipv4Addr::new(10, 255, 255, 0));
    (first..=last)
        .step_by(256)
        .map(|a| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), 24).expect("valid /24")))
        .find(|n| !used.subnet_taken(n))
        .ok_or_else(|| Error::other("could not find free subnet from subnet pools"))
}

/// A random unique local /64 (RFC 4193, as Podman picks one) that overlaps nothing used.
pub fn free_ipv6_subnet(used: &Used) -> Result<IpNet> {
    for _ in 0..10000 {
        let r: [u16; 4] = rand::random();
        let addr = Ipv6Addr::new(0xfd00 | (r[0] & 0xff), r[1], r[2], r[3], 0, 0, 0, 0);
        let net = IpNet::V6(Ipv6Net::new(addr, 64).expect("valid /64"));
        if !used.subnet_taken(&net) {
            return Ok(net);
        }
    }
    Err(Error::other("failed to get random ipv6 subnet"))
}

/// Podman's message for a subnet somebody has.
pub fn subnet_in_use(net: &IpNet) -> Error {
    Error::invalid(format!(
        "subnet {net} is already used on the host or by another config"
    ))
}

/// Podman's message for a bridge name another network has.
pub fn bridge_in_use(name: &str) -> Error {
    Error::invalid(format!("bridge name {name} already in use"))
}

fn is_shared(n: &Network) -> bool {
    n.name == DEFAULT_NETWORK
}

impl Engine {
    /// Everything a new network of this store must not take: the host's interfaces and
    /// subnets, every store's live reservations, our own definitions, Podman's. Reserves our
    /// own networks on the way (they are unreserved after a reboot).
    pub(super) fn used_on_machine(&self, lock: &MachineLock, own: &[Network]) -> Result<Used> {
        let registry = Registry::machine();
        self.reserve_own(lock, &registry, own)?;
        let mut used = host_facts()?;
        for r in registry.load(lock)? {
            used.bridges.extend(r.bridge.clone());
            used.subnets.extend(r.subnets.iter().copied());
        }
        for n in own.iter().chain(&podman_networks()) {
            used.add_network(n);
        }
        Ok(used)
    }

    /// Reserve each of our networks that is not reserved yet and clashes with no live
    /// reservation (a clash is reported when a container starts on it).
    fn reserve_own(&self, lock: &MachineLock, registry: &Registry, own: &[Network]) -> Result<()> {
        let live = registry.load(lock)?;
        for n in own.iter().filter(|n| !is_shared(n)) {
            if live.iter().any(|r| r.id == n.id) || foreign_holder(&live, n).is_some() {
                continue;
            }
            registry.write(lock, &Reservation::of(n, &self.network_file(&n.name)))?;
        }
        Ok(())
    }

    /// Reserve `nets` for this store before a container joins them: an error naming the
    /// network when another store holds its bridge or subnet.
    pub(crate) fn claim_networks<'a>(
        &self,
        nets: impl IntoIterator<Item = &'a Network>,
    ) -> Result<()> {
        let nets: Vec<&Network> = nets.into_iter().filter(|n| !is_shared(n)).collect();
        if nets.is_empty() {
            return Ok(());
        }
        let lock = lock()?;
        let registry = Registry::machine();
        let live = registry.load(&lock)?;
        for n in nets {
            if live.iter().any(|r| r.id == n.id) {
                continue;
            }
            if let Some(r) = foreign_holder(&live, n) {
                return Err(Error::invalid(format!(
                    "network {}: {}: it belongs to network {} defined in {}",
                    n.name,
                    clash(r, n),
                    r.name,
                    r.definition.display()
                )));
            }
            registry.write(&lock, &Reservation::of(n, &self.network_file(&n.name)))?;
        }
        Ok(())
    }

    /// Give a removed network's bridge and subnets back to the machine.
    pub(super) fn release_network(&self, id: &str) -> Result<()> {
        let lock = lock()?;
        Registry::machine().release(&lock, id);
        Ok(())
    }
}

/// The live reservation of another network that holds `n`'s bridge or one of its subnets.
fn foreign_holder<'a>(live: &'a [Reservation], n: &Network) -> Option<&'a Reservation> {
    live.iter().find(|r| {
        r.id != n.id
            && (r.bridge.is_some() && r.bridge == n.network_interface
                || n.subnets().iter().any(|s| r.holds_subnet(&s.subnet)))
    })
}

/// What of `n` the reservation `r` holds, in Podman's words.
fn clash(r: &Reservation, n: &Network) -> String {
    match n.subnets().iter().find(|s| r.holds_subnet(&s.subnet)) {
        Some(s) => subnet_in_use(&s.subnet.trunc()).to_string(),
        None => bridge_in_use(n.network_interface.as_deref().unwrap_or_default()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peapod_netsetup::types::Subnet;

    fn net(id: &str, bridge: &str, subnet: &str) -> Network {
        Network {
            name: format!("n-{id}"),
            id: id.into(),
            driver: "bridge".into(),
            network_interface: Some(bridge.into()),
            subnets: Some(vec![Subnet {
                subnet: subnet.parse().unwrap(),
                gateway: None,
                lease_range: None,
            }]),
            ..Default::default()
        }
    }

    fn used(subnets: &[&str]) -> Used {
        Used {
            subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn ipv4_pool_skips_every_overlap() {
        assert_eq!(
            free_ipv4_subnet(&used(&[])).unwrap().to_string(),
            "10.89.0.0/24"
        );
        // A wider host route and an address inside the next /24 both count.
        let u = used(&["10.89.0.0/23", "10.89.2.7/32", "10.88.0.0/16"]);
        assert_eq!(free_ipv4_subnet(&u).unwrap().to_string(), "10.89.3.0/24");
        // Crossing into the next /16.
        let u = used(&["10.89.0.0/16"]);
        assert_eq!(free_ipv4_subnet(&u).unwrap().to_string(), "10.90.0.0/24");
        // Nothing left below 10.255.255.0/24: an error, not a public subnet.
        let u = used(&["10.0.0.0/8"]);
        assert!(free_ipv4_subnet(&u).is_err());
    }

    #[test]
    fn ipv6_subnets_are_unique_local_and_free() {
        let u = used(&["fd00::/9"]);
        let n = free_ipv6_subnet(&u).unwrap();
        assert_eq!(n.prefix_len(), 64);
        assert!(!u.subnet_taken(&n), "{n}");
        let IpNet::V6(v6) = n else { panic!("{n}") };
        assert_eq!(v6.addr().segments()[0] & 0xff00, 0xfd00, "{n}");
    }

    #[test]
    fn bridge_names_skip_networks_and_interfaces() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        let u = Used {
            bridges: set(&["podman0", "podman1"]),
            interfaces: set(&["podman2", "eth0"]),
            subnets: Vec::new(),
        };
        assert_eq!(free_bridge_name(&u), "podman3");
        assert_eq!(free_bridge_name(&Used::default()), "podman1");
    }

    #[test]
    fn reservations_live_while_their_definition_does() {
        let tmp = tempfile::tempdir().unwrap();
        let defs = tmp.path().join("root-a/networks");
        std::fs::create_dir_all(&defs).unwrap();
        let a = net("aaaa", "podman1", "10.89.0.0/24");
        let b = net("bbbb", "podman2", "10.89.1.0/24");
        let def_a = defs.join("a.json");
        let def_b = defs.join("b.json");
        std::fs::write(&def_a, serde_json::to_string(&a).unwrap()).unwrap();
        std::fs::write(&def_b, serde_json::to_string(&b).unwrap()).unwrap();
        let reg = Registry::at(tmp.path().join("reg"));
        // A lock of our own: the registry only asks that one is held.
        std::fs::write(tmp.path().join("l"), "").unwrap();
        let lock = MachineLock {
            _flock: Flock::lock(
                File::open(tmp.path().join("l")).unwrap(),
                FlockArg::LockExclusive,
            )
            .map_err(|(_, e)| e)
            .unwrap(),
        };
        reg.write(&lock, &Reservation::of(&a, &def_a)).unwrap();
        reg.write(&lock, &Reservation::of(&b, &def_b)).unwrap();
        assert_eq!(reg.load(&lock).unwrap().len(), 2);

        // b's definition now holds another network (removed and made again): stale.
        let b2 = net("cccc", "podman2", "10.89.1.0/24");
        std::fs::write(&def_b, serde_json::to_string(&b2).unwrap()).unwrap();
        // a's store is gone altogether: stale.
        std::fs::remove_file(&def_a).unwrap();
        assert!(reg.load(&lock).unwrap().is_empty());
        assert_eq!(
            std::fs::read_dir(tmp.path().join("reg")).unwrap().count(),
            0
        );
    }

    #[test]
    fn a_foreign_reservation_holds_bridge_or_subnet() {
        let r = Reservation::of(&net("aaaa", "podman1", "10.89.0.0/24"), Path::new("/x"));
        let live = vec![r];
        // Same network: not foreign.
        assert!(foreign_holder(&live, &net("aaaa", "podman1", "10.89.0.0/24")).is_none());
        let sub = net("bbbb", "podman9", "10.89.0.128/25");
        assert!(foreign_holder(&live, &sub).is_some());
        assert_eq!(
            clash(&live[0], &sub),
            "subnet 10.89.0.128/25 is already used on the host or by another config"
        );
        let br = net("bbbb", "podman1", "10.90.0.0/24");
        assert_eq!(clash(&live[0], &br), "bridge name podman1 already in use");
        assert!(foreign_holder(&live, &net("bbbb", "podman2", "10.90.0.0/24")).is_none());
    }
}
