//! Address and host-port allocation, machine-wide.
//!
//! A bridge and its subnet belong to the host, not to one `--root`: two peapod stores (or
//! parallel tests) on the default network share `podman0`. So a lease is a file created with
//! `O_EXCL` under `/run/peapod/ipam/<subnet>/<ip>` (and `/run/peapod/ports/<proto>-<port>`, or
//! `<proto>-<port>@<host ip>` for a port published on one address, under the machine-wide
//! network lock) naming its owner; the kernel makes the claim atomic. A
//! lease whose owner's run directory is gone (a crash, a store deleted) is stale and taken
//! over. `/run` is a tmpfs: a reboot releases everything.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use peapod_netsetup::types::Subnet;

use crate::error::{Error, IoContext, Result};

/// Where leases live.
pub fn state_dir() -> PathBuf {
    std::env::var_os("PEAPOD_IPAM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/peapod"))
}

/// Who holds a lease: a container of one store.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The container's run directory: it exists while the container is set up.
    pub run_dir: PathBuf,
    pub id: String,
}

impl Owner {
    fn record(&self) -> String {
        format!("{}\n{}\n", self.id, self.run_dir.display())
    }
}

fn subnet_dir(subnet: &IpNet) -> PathBuf {
    state_dir()
        .join("ipam")
        .join(subnet.to_string().replace('/', "_"))
}

/// A host port's lease: `tcp-8080` for every address, `tcp-8080@127.0.0.1` for one.
fn port_file(protocol: &str, host_ip: &str, port: u16) -> PathBuf {
    let name = match host_address(host_ip) {
        None => format!("{protocol}-{port}"),
        Some(ip) => format!("{protocol}-{port}@{ip}"),
    };
    state_dir().join("ports").join(name)
}

/// The one address a mapping publishes on, `None` for every address (empty, 0.0.0.0, ::).
fn host_address(host_ip: &str) -> Option<IpAddr> {
    host_ip
        .parse::<IpAddr>()
        .ok()
        .filter(|ip| !ip.is_unspecified())
}

/// The leases that would clash with publishing `protocol`/`port` on `host_ip`: on one
/// address, that address's and the every-address one; on every address, all of them.
fn clashing_port_files(protocol: &str, host_ip: &str, port: u16) -> Vec<PathBuf> {
    let mut out = vec![port_file(protocol, "", port)];
    match host_address(host_ip) {
        Some(_) => out.push(port_file(protocol, host_ip, port)),
        None => {
            let prefix = format!("{protocol}-{port}@");
            if let Ok(entries) = std::fs::read_dir(state_dir().join("ports")) {
                out.extend(
                    entries
                        .flatten()
                        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                        .map(|e| e.path()),
                );
            }
        }
    }
    out
}

/// Make a lease directory that another process may remove at any moment (a subnet's
/// directory goes with its last lease): `create_dir_all` fails with EEXIST when the
/// directory vanishes between its mkdir and its check, so only the leaf is made here, and
/// a directory gone again is made again by [`claim`].
fn lease_dir(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).ctx("creating", parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("creating", dir, e)),
    }
}

/// Claim `path` for `owner`: true if we got it (new, already ours, or taken over from a
/// dead owner); false if someone alive holds it.
/// Create `path` holding `content`, atomically: the content is written to a temporary file
/// beside it, then linked to `path` (which fails if `path` exists). A process killed
/// half-way leaves at most the dot-named temporary file, never an empty lease that would
/// read as held by nobody in particular.
fn create_with(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(content)?;
        drop(f);
        std::fs::hard_link(&tmp, path)
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

fn claim(path: &Path, owner: &Owner) -> Result<bool> {
    for _ in 0..3 {
        match create_with(path, owner.record().as_bytes()) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => match live_holder(path) {
                Some(id) if id == owner.id => return Ok(true),
                Some(_) => return Ok(false),
                None => {
                    let _ = std::fs::remove_file(path);
                    continue;
                }
            },
            // The directory went with another container's last lease: make it again.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    lease_dir(dir)?;
                }
            }
            Err(e) => return Err(Error::io("creating lease", path, e)),
        }
    }
    Ok(false)
}

/// The id holding the lease at `path`, unless the lease is stale (its owner's run
/// directory is gone). A lease being written right now has no run dir line yet: alive.
fn live_holder(path: &Path) -> Option<String> {
    let held = std::fs::read_to_string(path).ok()?;
    let mut lines = held.lines();
    let id = lines.next().unwrap_or("").to_string();
    let run_dir = lines.next().unwrap_or("");
    if !run_dir.is_empty() && !Path::new(run_dir).exists() {
        return None;
    }
    Some(id)
}

/// Who (a short id) publishes host port `port`/`protocol` on `host_ip` (empty: every
/// address) now, if anyone: a check that leases nothing.
pub fn port_holder(protocol: &str, host_ip: &str, port: u16) -> Option<String> {
    clashing_port_files(protocol, host_ip, port)
        .iter()
        .find_map(|f| live_holder(f))
        .map(|id| id.chars().take(12).collect())
}

fn holder(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.chars().take(12).collect()))
        .unwrap_or_default()
}

/// Release `path` if `owner` holds it.
fn unclaim(path: &Path, owner: &Owner) {
    if let Ok(held) = std::fs::read_to_string(path)
        && held.lines().next() == Some(owner.id.as_str())
    {
        let _ = std::fs::remove_file(path);
    }
}

/// The addresses a subnet hands out, in order: its lease range (or every host address),
/// without the gateway.
pub fn candidates(s: &Subnet) -> impl Iterator<Item = IpAddr> + '_ {
    let start: Option<IpAddr> = s
        .lease_range
        .as_ref()
        .and_then(|r| r.start_ip.as_deref())
        .and_then(|x| x.parse().ok());
    let end: Option<IpAddr> = s
        .lease_range
        .as_ref()
        .and_then(|r| r.end_ip.as_deref())
        .and_then(|x| x.parse().ok());
    s.subnet
        .hosts()
        .filter(move |ip| Some(*ip) != s.gateway && *ip != s.subnet.network())
        .skip_while(move |ip| start.is_some_and(|st| *ip < st))
        .take_while(move |ip| end.is_none_or(|e| *ip <= e))
}

/// The file that remembers the address a subnet handed out last.
fn last_file(subnet: &IpNet) -> PathBuf {
    subnet_dir(subnet).join(".last")
}

/// The addresses to try, in Podman's order: the candidates after the one handed out last,
/// then from the start (c/common's IPAM keeps a `lastIP` per subnet), so that an address
/// let go is not given straight back to the next container (a disconnect and connect gets
/// a new address, as with Podman). Lazy: an IPv6 subnet has 2^64 of them.
pub fn allocation_order(s: &Subnet) -> Box<dyn Iterator<Item = IpAddr> + '_> {
    let last: Option<IpAddr> = std::fs::read_to_string(last_file(&s.subnet))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .filter(|l| s.subnet.contains(l));
    match last {
        None => Box::new(candidates(s)),
        Some(l) => Box::new(after_last(s, l).chain(candidates(s).take_while(move |ip| *ip <= l))),
    }
}

/// The candidates after `last`, jumping straight there.
fn after_last(s: &Subnet, last: IpAddr) -> impl Iterator<Item = IpAddr> + '_ {
    let end: Option<IpAddr> = s
        .lease_range
        .as_ref()
        .and_then(|r| r.end_ip.as_deref())
        .and_then(|x| x.parse().ok());
    let range: ipnet::IpAddrRange = match (last, s.subnet.broadcast()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => ipnet::Ipv4AddrRange::new(a, b).into(),
        (IpAddr::V6(a), IpAddr::V6(b)) => ipnet::Ipv6AddrRange::new(a, b).into(),
        // `last` is in the subnet, so of its family: an empty range never met.
        _ => ipnet::Ipv4AddrRange::new(
            std::net::Ipv4Addr::BROADCAST,
            std::net::Ipv4Addr::UNSPECIFIED,
        )
        .into(),
    };
    range
        .skip(1)
        // As `candidates`: never the gateway, nor an IPv4 subnet's broadcast address.
        .filter(move |ip| Some(*ip) != s.gateway && (ip.is_ipv6() || *ip != s.subnet.broadcast()))
        .take_while(move |ip| end.is_none_or(|e| *ip <= e))
}

/// Notes `ip` as the subnet's last address handed out (a hint: a lost race costs nothing).
pub fn note_last(subnet: &IpNet, ip: IpAddr) {
    let path = last_file(subnet);
    let tmp = path.with_extension(format!("{}", std::process::id()));
    if std::fs::write(&tmp, ip.to_string()).is_ok() && std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Is `ip` one a container may be given in `subnet` (asked for with `--ip`)? Podman's
/// messages when not.
pub fn check_static(subnet: &Subnet, ip: IpAddr) -> Result<()> {
    if !subnet.subnet.contains(&ip) {
        return Err(Error::invalid(format!(
            "requested static ip {ip} not in any subnet on network ({})",
            subnet.subnet
        )));
    }
    if Some(ip) == subnet.gateway || ip == subnet.subnet.network() {
        return Err(Error::invalid(format!(
            "requested static ip {ip} is the network's own address"
        )));
    }
    Ok(())
}

/// Claim the lease of `ip` in `subnet` for `owner`: true if it is ours now, false if someone
/// alive holds it. The caller records the lease in the ledger first.
pub fn claim_address(subnet: &IpNet, ip: IpAddr, owner: &Owner) -> Result<bool> {
    let dir = subnet_dir(subnet);
    lease_dir(&dir)?;
    claim(&dir.join(ip.to_string()), owner)
}

/// Someone other than `owner`, alive, holds `ip`: a cheap check before recording a claim.
pub fn taken_by_other(subnet: &IpNet, ip: IpAddr, owner: &Owner) -> bool {
    live_holder(&subnet_dir(subnet).join(ip.to_string())).is_some_and(|id| id != owner.id)
}

/// Who (a short id) holds the lease of `ip`, for messages.
pub fn address_holder(subnet: &IpNet, ip: IpAddr) -> String {
    holder(&subnet_dir(subnet).join(ip.to_string()))
}

/// Release the lease of `ip` if `owner` holds it.
pub fn release(subnet: &IpNet, ip: IpAddr, owner: &Owner) {
    let dir = subnet_dir(subnet);
    unclaim(&dir.join(ip.to_string()), owner);
    // The last lease takes its directory along (fails harmlessly while others remain, or
    // the last-address hint, which outlives the leases as Podman's `lastIP` does).
    let _ = std::fs::remove_dir(&dir);
}

/// Reserve host ports `port..port+range` on `host_ip` (empty: every address) for each
/// protocol. Distinct addresses may publish the same port, as netavark allows; every address
/// clashes with any. Under the machine-wide network lock, as the check spans several
/// leases. On a conflict nothing stays reserved and the error names the port.
pub fn reserve_ports(
    protocols: &[&str],
    host_ip: &str,
    port: u16,
    range: u16,
    owner: &Owner,
) -> Result<()> {
    let dir = state_dir().join("ports");
    std::fs::create_dir_all(&dir).ctx("creating", &dir)?;
    let _machine = super::machine::lock()?;
    let mut got: Vec<PathBuf> = Vec::new();
    for proto in protocols {
        for p in port..port.saturating_add(range.max(1)) {
            let path = port_file(proto, host_ip, p);
            let taken = clashing_port_files(proto, host_ip, p)
                .into_iter()
                .filter(|f| *f != path)
                .find(|f| live_holder(f).is_some_and(|id| id != owner.id));
            let held = match taken {
                Some(f) => Some(f),
                None if !claim(&path, owner)? => Some(path.clone()),
                None => None,
            };
            if let Some(f) = held {
                for g in &got {
                    unclaim(g, owner);
                }
                return Err(Error::invalid(format!(
                    "cannot listen on the {} port {p}: it is published by container {}: address already in use",
                    proto.to_uppercase(),
                    holder(&f)
                )));
            }
            got.push(path);
        }
    }
    Ok(())
}

pub fn release_ports(protocols: &[&str], host_ip: &str, port: u16, range: u16, owner: &Owner) {
    for proto in protocols {
        for p in port..port.saturating_add(range.max(1)) {
            unclaim(&port_file(proto, host_ip, p), owner);
        }
    }
}

/// What a lease file on this machine leases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leased {
    Address {
        subnet: IpNet,
        ip: IpAddr,
    },
    /// On `host_ip`, or every address when empty.
    Port {
        protocol: String,
        host_ip: String,
        port: u16,
    },
}

/// A lease file as found on this machine, whoever holds it.
#[derive(Debug, Clone)]
pub struct Lease {
    pub path: PathBuf,
    pub what: Leased,
    /// The id it names: a container's, or `pod-<id>`.
    pub id: String,
    /// The run directory that keeps it alive (empty while it is being written).
    pub run_dir: PathBuf,
}

impl Lease {
    /// Its holder's run directory is gone: nobody holds it any more.
    pub fn stale(&self) -> bool {
        !self.run_dir.as_os_str().is_empty() && !self.run_dir.exists()
    }

    /// Remove the file if it still names the same holder.
    pub fn remove(&self) {
        if let Ok(held) = std::fs::read_to_string(&self.path)
            && held.lines().next() == Some(self.id.as_str())
        {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Leased::Address { subnet, .. } = &self.what {
            let _ = std::fs::remove_dir(subnet_dir(subnet));
        }
    }
}

fn read_lease(path: PathBuf, what: Leased) -> Option<Lease> {
    let held = std::fs::read_to_string(&path).ok()?;
    let mut lines = held.lines();
    Some(Lease {
        id: lines.next().unwrap_or("").to_string(),
        run_dir: PathBuf::from(lines.next().unwrap_or("")),
        path,
        what,
    })
}

/// Every lease file on this machine (every store's: they are machine-wide).
pub fn leases() -> Vec<Lease> {
    let mut out = Vec::new();
    let entries = |dir: PathBuf| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
    };
    for (name, dir) in entries(state_dir().join("ipam")) {
        // `10.88.0.0_16`: the subnet with its `/` replaced.
        let Some(subnet) = name
            .rsplit_once('_')
            .and_then(|(a, p)| format!("{a}/{p}").parse::<IpNet>().ok())
        else {
            continue;
        };
        for (ip, path) in entries(dir) {
            if let Ok(ip) = ip.parse() {
                out.extend(read_lease(path, Leased::Address { subnet, ip }));
            }
        }
    }
    for (name, path) in entries(state_dir().join("ports")) {
        // `tcp-8080`, or `tcp-8080@127.0.0.1` for one address.
        let Some((protocol, rest)) = name.split_once('-') else {
            continue;
        };
        let (port, host_ip) = rest.split_once('@').unwrap_or((rest, ""));
        if let Ok(port) = port.parse() {
            let what = Leased::Port {
                protocol: protocol.to_string(),
                host_ip: host_ip.to_string(),
                port,
            };
            out.extend(read_lease(path, what));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use peapod_netsetup::types::LeaseRange;

    fn subnet(s: &str, gw: &str, range: Option<(&str, &str)>) -> Subnet {
        Subnet {
            subnet: s.parse().unwrap(),
            gateway: Some(gw.parse().unwrap()),
            lease_range: range.map(|(a, b)| LeaseRange {
                start_ip: Some(a.into()),
                end_ip: Some(b.into()),
            }),
        }
    }

    #[test]
    fn candidates_skip_the_gateway_and_honour_the_range() {
        let s = subnet("10.9.0.0/29", "10.9.0.1", None);
        let all: Vec<String> = candidates(&s).map(|i| i.to_string()).collect();
        assert_eq!(
            all,
            ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]
        );
        let s = subnet(
            "10.9.0.0/24",
            "10.9.0.1",
            Some(("10.9.0.100", "10.9.0.102")),
        );
        let all: Vec<String> = candidates(&s).map(|i| i.to_string()).collect();
        assert_eq!(all, ["10.9.0.100", "10.9.0.101", "10.9.0.102"]);
        let s = subnet("fd00:9::/64", "fd00:9::1", None);
        let first: Vec<String> = candidates(&s).take(2).map(|i| i.to_string()).collect();
        assert_eq!(first, ["fd00:9::2", "fd00:9::3"]);
    }

    #[test]
    fn allocation_goes_round_from_the_last_address() {
        let s = subnet("10.9.0.0/29", "10.9.0.1", None);
        let show = |v: Vec<IpAddr>| v.iter().map(|i| i.to_string()).collect::<Vec<_>>();
        let from = |l: &str| {
            let l: IpAddr = l.parse().unwrap();
            show(
                after_last(&s, l)
                    .chain(candidates(&s).take_while(move |ip| *ip <= l))
                    .collect(),
            )
        };
        assert_eq!(
            from("10.9.0.4"),
            ["10.9.0.5", "10.9.0.6", "10.9.0.2", "10.9.0.3", "10.9.0.4"]
        );
        assert_eq!(from("10.9.0.6")[0], "10.9.0.2", "wraps round");
        // IPv6: straight to the next address of a /64.
        let s6 = subnet("fd00:9::/64", "fd00:9::1", None);
        let next: Vec<String> = after_last(&s6, "fd00:9::ffff:1".parse().unwrap())
            .take(2)
            .map(|i| i.to_string())
            .collect();
        assert_eq!(next, ["fd00:9::ffff:2", "fd00:9::ffff:3"]);
    }

    #[test]
    fn leases_are_exclusive_and_stale_ones_are_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let path = dir.join("lease");
        std::fs::create_dir_all(&dir).unwrap();
        let alive = tmp.path().join("run-a");
        std::fs::create_dir_all(&alive).unwrap();
        let a = Owner {
            run_dir: alive.clone(),
            id: "a".repeat(64),
        };
        let b = Owner {
            run_dir: tmp.path().join("run-b"),
            id: "b".repeat(64),
        };
        assert!(claim(&path, &a).unwrap());
        assert!(claim(&path, &a).unwrap(), "a lease is ours again");
        assert!(!claim(&path, &b).unwrap(), "a live owner keeps it");
        std::fs::remove_dir(&alive).unwrap();
        assert!(
            claim(&path, &b).unwrap(),
            "a dead owner's lease is taken over"
        );
        unclaim(&path, &a);
        assert!(path.exists(), "only the holder releases");
        unclaim(&path, &b);
        assert!(!path.exists());
    }
}
