//! Network definitions: one JSON file per network under `<root>/networks/`, in the format
//! Podman writes to `/etc/containers/networks/NAME.json` (and hands netavark). The default
//! network `podman` exists without a file, as in Podman.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use peapod_netsetup::types::{LeaseRange, Network, Subnet};

use crate::Engine;
use crate::error::{Error, IoContext, Result};

pub const DEFAULT_NETWORK: &str = "podman";
/// Podman's id for its default network (the same on every host).
pub const DEFAULT_NETWORK_ID: &str =
    "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9";
pub const DEFAULT_SUBNET: &str = "10.88.0.0/16";
pub const DEFAULT_BRIDGE: &str = "podman0";

/// `network create`, as plain values.
#[derive(Debug, Clone, Default)]
pub struct NetworkCreate {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub internal: bool,
    pub labels: Vec<String>,
    pub options: Vec<String>,
    pub interface_name: Option<String>,
    pub disable_dns: bool,
    pub ipv6: bool,
    /// `--ignore`: an existing network of that name is not an error.
    pub ignore: bool,
}

pub fn default_network() -> Network {
    let subnet: IpNet = DEFAULT_SUBNET.parse().expect("valid default subnet");
    Network {
        name: DEFAULT_NETWORK.into(),
        id: DEFAULT_NETWORK_ID.into(),
        driver: "bridge".into(),
        network_interface: Some(DEFAULT_BRIDGE.into()),
        created: Some(now_rfc3339()),
        subnets: Some(vec![Subnet {
            subnet,
            gateway: Some("10.88.0.1".parse().expect("valid gateway")),
            lease_range: None,
        }]),
        ipv6_enabled: false,
        internal: false,
        dns_enabled: false,
        ipam_options: Some(HashMap::from([("driver".into(), "host-local".into())])),
        ..Default::default()
    }
}

/// Go's RFC 3339 with nanoseconds in local time, as Podman stamps network files.
fn now_rfc3339() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Podman's rule for network names (the same as for containers).
pub fn valid_name(name: &str) -> bool {
    crate::names::valid_name(name)
}

/// The first usable address of a subnet (Podman's default gateway). For IPv6 `hosts()`
/// starts at the network address itself (the subnet-router anycast): skip it.
pub fn first_host(net: &IpNet) -> Option<IpAddr> {
    net.hosts().find(|ip| *ip != net.network())
}

fn parse_subnet(s: &str) -> Result<IpNet> {
    let net: IpNet = s
        .parse()
        .map_err(|_| Error::invalid(format!("invalid subnet {s:?}: invalid CIDR address")))?;
    if net.trunc() != net {
        // Podman normalises 10.1.2.3/24 to 10.1.2.0/24; so do we.
        return Ok(net.trunc());
    }
    if net.prefix_len() == net.max_prefix_len() {
        return Err(Error::invalid(format!(
            "invalid subnet {s:?}: no room for a gateway and containers"
        )));
    }
    Ok(net)
}

/// Do two subnets share an address?
pub fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

impl Engine {
    /// Every network: the default first, then the others by name.
    pub fn networks(&self) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        let dir = self.paths.networks();
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().and_then(|x| x.to_str()) != Some("json") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).ctx("reading", &path)?;
                let net: Network = serde_json::from_str(&text).map_err(|err| {
                    Error::other(format!("network file {}: {err}", path.display()))
                })?;
                out.push(net);
            }
        }
        if !out.iter().any(|n| n.name == DEFAULT_NETWORK) {
            out.push(default_network());
        }
        // Sorted by name, the default network among the others (as Podman lists them).
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A network by name, full id or unique id prefix.
    pub fn network(&self, reference: &str) -> Result<Network> {
        let all = self.networks()?;
        if let Some(n) = all
            .iter()
            .find(|n| n.name == reference || n.id == reference)
        {
            return Ok(n.clone());
        }
        let by_prefix: Vec<&Network> = all
            .iter()
            .filter(|n| !reference.is_empty() && n.id.starts_with(reference))
            .collect();
        match by_prefix.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::NoSuchNetwork(reference.to_string())),
            _ => Err(Error::invalid(format!(
                "more than one result for network ID {reference}"
            ))),
        }
    }

    pub(super) fn network_file(&self, name: &str) -> PathBuf {
        self.paths.networks().join(format!("{name}.json"))
    }

    /// `network create`: validate everything, then (under the machine-wide lock) pick or
    /// check the bridge name and subnets against the host and every store, write the file and
    /// reserve them. Nothing is made in the kernel until a container joins.
    pub fn network_create(&self, opts: &NetworkCreate) -> Result<Network> {
        if crate::rootless::is_rootless() {
            // Bridges, subnets and their reservations are the machine's, under /run/peapod,
            // where a rootless user never writes; Podman 4 runs them in a rootless network
            // namespace, which peapod does not have yet.
            return Err(Error::invalid(
                "network create: rootless bridge networks are not supported by peapod yet: a rootless container gets slirp4netns (the default), --network none or --network host",
            ));
        }
        let _lock = self.lock("networks")?;
        let existing = self.networks()?;
        let name = match new_name(opts, &existing)? {
            Ok(name) => name,
            Err(found) => return Ok(found),
        };
        let driver = opts.driver.clone().unwrap_or_else(|| "bridge".into());
        if driver != "bridge" {
            return Err(Error::invalid(format!(
                "unsupported driver {driver}: invalid argument (peapod supports bridge)"
            )));
        }
        let options = parse_bridge_options(&opts.options)?;
        let mut sorted = BTreeMap::new();
        crate::names::parse_labels(opts.labels.iter().map(String::as_str), &mut sorted)?;
        let labels: HashMap<String, String> = sorted.into_iter().collect();
        let requested = requested_subnets(opts)?;
        if let Some(i) = &opts.interface_name {
            check_interface_name(i)?;
        }

        let machine = super::machine::lock()?;
        let used = self.used_on_machine(&machine, &existing)?;
        let subnets = allocate_subnets(requested, opts.ipv6, &used)?;
        let interface = match &opts.interface_name {
            // Another network's bridge, in any store. A host interface that is no network's
            // bridge is not refused: Podman lets a network use an existing bridge.
            Some(i) if used.bridges.contains(i) => {
                return Err(super::machine::bridge_in_use(i));
            }
            Some(i) => i.clone(),
            None => super::machine::free_bridge_name(&used),
        };
        let net = Network {
            name: name.clone(),
            id: crate::names::new_id(),
            driver,
            network_interface: Some(interface),
            created: Some(now_rfc3339()),
            ipv6_enabled: subnets.iter().any(|s| s.subnet.addr().is_ipv6()),
            subnets: Some(subnets),
            routes: None,
            internal: opts.internal,
            dns_enabled: !opts.disable_dns,
            network_dns_servers: None,
            options: (!options.is_empty()).then_some(options),
            ipam_options: Some(HashMap::from([("driver".into(), "host-local".into())])),
            labels: (!labels.is_empty()).then_some(labels),
        };
        let path = self.write_network(&net)?;
        let reservation = super::machine::Reservation::of(&net, &path);
        if let Err(e) = super::machine::Registry::machine().write(&machine, &reservation) {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.emit_network_object("create", &net);
        Ok(net)
    }

    fn write_network(&self, net: &Network) -> Result<PathBuf> {
        let dir = self.paths.networks();
        std::fs::create_dir_all(&dir).ctx("creating", &dir)?;
        let path = self.network_file(&net.name);
        let json = serde_json::to_vec_pretty(net).map_err(|e| Error::other(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).ctx("writing", &tmp)?;
        std::fs::rename(&tmp, &path).ctx("writing", &path)?;
        Ok(path)
    }

    /// The containers (ids) attached to a network.
    pub fn network_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .db
            .containers()?
            .into_iter()
            .filter(|c| c.config.networks.contains_key(name))
            .map(|c| c.config.id)
            .collect())
    }

    /// `network rm`: refuses a network in use unless `force` (which removes its containers).
    pub fn network_remove(
        &self,
        reference: &str,
        force: bool,
        timeout: Option<u32>,
    ) -> Result<String> {
        let net = self.network(reference)?;
        if net.name == DEFAULT_NETWORK {
            return Err(Error::invalid(format!(
                "default network {DEFAULT_NETWORK} cannot be removed"
            )));
        }
        let users = self.network_users(&net.name)?;
        if !users.is_empty() {
            if !force {
                return Err(Error::NetworkInUse {
                    network: net.name.clone(),
                    containers: users
                        .iter()
                        .map(|u| u[..12].to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            for id in users {
                self.remove(
                    &id,
                    &crate::container::RemoveOptions {
                        force: true,
                        volumes: false,
                        timeout,
                    },
                )?;
            }
        }
        let _lock = self.lock("networks")?;
        let path = self.network_file(&net.name);
        std::fs::remove_file(&path).ctx("removing", &path)?;
        // Were this to fail, the reservation is stale anyway (its file is gone) and the
        // next allocation takes it over.
        let _ = self.release_network(&net.id);
        self.emit_network_object("remove", &net);
        Ok(net.name)
    }
}

/// The name for a new network: the one asked for (checked), else the first free `podmanN`.
/// `Err(existing)` when `--ignore` meets a network of that name.
fn new_name(opts: &NetworkCreate, existing: &[Network]) -> Result<Result<String, Network>> {
    let Some(n) = &opts.name else {
        return Ok(Ok((1..)
            .map(|i| format!("podman{i}"))
            .find(|n| !existing.iter().any(|e| &e.name == n))
            .expect("a free name")));
    };
    if !valid_name(n) {
        return Err(Error::invalid(format!(
            "network name {n} invalid: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument"
        )));
    }
    match existing.iter().find(|e| &e.name == n) {
        Some(found) if opts.ignore => Ok(Err(found.clone())),
        Some(_) => Err(Error::invalid(format!(
            "network name {n} already used: network already exists"
        ))),
        None => Ok(Ok(n.clone())),
    }
}

fn check_interface_name(i: &str) -> Result<()> {
    if i.is_empty()
        || i.len() > 15
        || !i
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err(Error::invalid(format!(
            "invalid interface name {i:?}: at most 15 letters, digits, '_', '.' or '-'"
        )));
    }
    Ok(())
}

/// `-o KEY=VALUE` for the bridge driver, checked and normalised as Podman does (booleans
/// become `true`/`false`, which is all netavark reads).
fn parse_bridge_options(raw: &[String]) -> Result<HashMap<String, String>> {
    let mut options = HashMap::new();
    for o in raw {
        let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
        let bad = |why: String| Error::invalid(format!("invalid {k} option {v:?}: {why}"));
        let value = match k {
            "mtu" => {
                v.parse::<u32>()
                    .map_err(|_| bad("must be a number".into()))?;
                v.to_string()
            }
            "isolate" => match v {
                "" => "false".to_string(),
                "strict" => v.to_string(),
                _ => go_bool(v)
                    .ok_or_else(|| bad("want true, false or strict".into()))?
                    .to_string(),
            },
            "no_default_route" => go_bool(v)
                .ok_or_else(|| bad("want true or false".into()))?
                .to_string(),
            "metric" => {
                v.parse::<u32>()
                    .map_err(|_| bad("must be a number from 0 to 4294967295".into()))?;
                v.to_string()
            }
            "vlan" => {
                let id: i64 = v.parse().map_err(|_| bad("must be a number".into()))?;
                if !(0..=4094).contains(&id) {
                    return Err(Error::invalid(format!(
                        "vlan ID {id} must be between 0 and 4094"
                    )));
                }
                id.to_string()
            }
            _ => {
                return Err(Error::invalid(format!(
                    "unsupported bridge network option {k}"
                )));
            }
        };
        options.insert(k.to_string(), value);
    }
    Ok(options)
}

/// Go's `strconv.ParseBool`.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// `--subnet`, `--gateway`, `--ip-range` as subnets, checked against each other (not yet
/// against what the machine uses).
fn requested_subnets(opts: &NetworkCreate) -> Result<Vec<Subnet>> {
    if opts.gateways.len() > opts.subnets.len() {
        return Err(Error::invalid(
            "cannot set more gateways than subnets: invalid argument",
        ));
    }
    if opts.ip_ranges.len() > opts.subnets.len() {
        return Err(Error::invalid(
            "cannot set more ranges than subnets: invalid argument",
        ));
    }
    let mut subnets: Vec<Subnet> = Vec::new();
    for (i, s) in opts.subnets.iter().enumerate() {
        let net = parse_subnet(s)?;
        if subnets.iter().any(|x| overlaps(&x.subnet, &net)) {
            return Err(Error::invalid(format!("subnet {net} given twice")));
        }
        let gateway = match opts.gateways.get(i) {
            Some(g) => {
                let ip: IpAddr = g.parse().map_err(|_| {
                    Error::invalid(format!("invalid gateway {g:?}: not an IP address"))
                })?;
                if !net.contains(&ip) || ip == net.network() || Some(ip) == broadcast(&net) {
                    return Err(Error::invalid(format!("gateway {ip} not in subnet {net}")));
                }
                ip
            }
            None => first_host(&net)
                .ok_or_else(|| Error::invalid(format!("subnet {net} has no host address")))?,
        };
        let lease_range = match opts.ip_ranges.get(i) {
            Some(r) => Some(parse_ip_range(r, &net)?),
            None => None,
        };
        subnets.push(Subnet {
            subnet: net,
            gateway: Some(gateway),
            lease_range,
        });
    }
    Ok(subnets)
}

/// Check the requested subnets against what the machine uses and add free ones: an IPv4
/// subnet when none was asked for, an IPv6 one too with `--ipv6`.
fn allocate_subnets(
    mut subnets: Vec<Subnet>,
    ipv6: bool,
    used: &super::machine::Used,
) -> Result<Vec<Subnet>> {
    if let Some(s) = subnets.iter().find(|s| used.subnet_taken(&s.subnet)) {
        return Err(super::machine::subnet_in_use(&s.subnet));
    }
    let auto = |net: IpNet| Subnet {
        subnet: net,
        gateway: first_host(&net),
        lease_range: None,
    };
    if subnets.is_empty() {
        subnets.push(auto(super::machine::free_ipv4_subnet(used)?));
    }
    if ipv6 && !subnets.iter().any(|s| s.subnet.addr().is_ipv6()) {
        subnets.push(auto(super::machine::free_ipv6_subnet(used)?));
    }
    Ok(subnets)
}

fn broadcast(net: &IpNet) -> Option<IpAddr> {
    match net {
        IpNet::V4(n) => Some(IpAddr::V4(n.broadcast())),
        IpNet::V6(_) => None,
    }
}

/// `--ip-range`: a CIDR inside the subnet, or `START-END`.
fn parse_ip_range(r: &str, net: &IpNet) -> Result<LeaseRange> {
    let bad = || {
        Error::invalid(format!(
            "invalid ip range {r:?}: must be a CIDR or START-END inside {net}"
        ))
    };
    let (start, end) = if let Some((a, b)) = r.split_once('-') {
        let a: IpAddr = a.trim().parse().map_err(|_| bad())?;
        let b: IpAddr = b.trim().parse().map_err(|_| bad())?;
        (a, b)
    } else {
        let range: IpNet = r.parse().map_err(|_| bad())?;
        let first = range.hosts().next().ok_or_else(bad)?;
        let last = range.hosts().last().ok_or_else(bad)?;
        (first, last)
    };
    if !net.contains(&start) || !net.contains(&end) || start > end {
        return Err(bad());
    }
    Ok(LeaseRange {
        start_ip: Some(start.to_string()),
        end_ip: Some(end.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_overlap_both_ways() {
        let a: IpNet = "10.89.0.0/16".parse().unwrap();
        let b: IpNet = "10.89.3.0/24".parse().unwrap();
        let c: IpNet = "10.90.0.0/24".parse().unwrap();
        assert!(overlaps(&a, &b) && overlaps(&b, &a));
        assert!(!overlaps(&a, &c));
    }

    #[test]
    fn ip_ranges_as_cidr_or_span() {
        let net: IpNet = "10.89.5.0/24".parse().unwrap();
        let r = parse_ip_range("10.89.5.128/25", &net).unwrap();
        assert_eq!(r.start_ip.as_deref(), Some("10.89.5.129"));
        assert_eq!(r.end_ip.as_deref(), Some("10.89.5.254"));
        let r = parse_ip_range("10.89.5.10-10.89.5.20", &net).unwrap();
        assert_eq!(r.start_ip.as_deref(), Some("10.89.5.10"));
        assert!(parse_ip_range("10.90.0.0/25", &net).is_err());
        assert!(parse_ip_range("10.89.5.20-10.89.5.10", &net).is_err());
    }

    #[test]
    fn subnets_are_normalised_and_checked() {
        assert_eq!(
            parse_subnet("10.1.2.3/24").unwrap().to_string(),
            "10.1.2.0/24"
        );
        assert!(parse_subnet("10.1.2.0/33").is_err());
        assert!(parse_subnet("bogus").is_err());
        assert!(parse_subnet("10.1.2.3/32").is_err());
    }

    #[test]
    fn bridge_options_as_podman_checks_them() {
        let o =
            |v: &[&str]| parse_bridge_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let got = o(&[
            "isolate=1",
            "no_default_route=F",
            "metric=250",
            "vlan=7",
            "mtu=1400",
        ])
        .unwrap();
        assert_eq!(got["isolate"], "true");
        assert_eq!(got["no_default_route"], "false");
        assert_eq!(got["metric"], "250");
        assert_eq!(got["vlan"], "7");
        assert_eq!(o(&["isolate=strict"]).unwrap()["isolate"], "strict");
        assert_eq!(o(&["isolate"]).unwrap()["isolate"], "false");
        for bad in [
            "isolate=maybe",
            "metric=-1",
            "metric=x",
            "vlan=4095",
            "vlan=-1",
            "mtu=big",
            "bogus=1",
        ] {
            assert!(o(&[bad]).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            o(&["vlan=5000"]).unwrap_err().to_string(),
            "vlan ID 5000 must be between 0 and 4094"
        );
        assert_eq!(
            o(&["bogus=1"]).unwrap_err().to_string(),
            "unsupported bridge network option bogus"
        );
    }

    #[test]
    fn gateways_are_the_first_host_in_both_families() {
        let v4: IpNet = "10.89.0.0/24".parse().unwrap();
        let v6: IpNet = "fd42:95::/64".parse().unwrap();
        assert_eq!(first_host(&v4).unwrap().to_string(), "10.89.0.1");
        assert_eq!(first_host(&v6).unwrap().to_string(), "fd42:95::1");
    }
}
