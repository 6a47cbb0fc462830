//! `--network`, `--ip`, `--mac-address`, `--network-alias`, `-p`, `-P`, `--dns*` and
//! `--add-host` at create time: checked against the networks that exist, turned into the
//! container's plain network config.

use std::collections::BTreeMap;
use std::net::IpAddr;

use peapod_netsetup::types::PortMapping;

use super::store::DEFAULT_NETWORK;
use crate::Engine;
use crate::container::{NameConfig, NetworkAttach};
use crate::error::{Error, Result};

/// The network flags of `create`/`run` (and later `pod create`).
#[derive(Debug, Clone, Default)]
pub struct NetworkFlags {
    /// `--network`, repeatable: a mode, `NAME[,NAME…]`, or `NAME:ip=…,mac=…,alias=…`.
    pub network: Vec<String>,
    pub ip: Option<String>,
    pub ip6: Option<String>,
    pub mac_address: Option<String>,
    pub aliases: Vec<String>,
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub add_host: Vec<String>,
}

/// What a container's network config becomes.
#[derive(Debug, Clone, Default)]
pub struct NetworkPlan {
    /// `bridge`, `none`, `host`, `ns:PATH`, `container:ID`.
    pub mode: String,
    pub networks: BTreeMap<String, NetworkAttach>,
    pub ports: Vec<PortMapping>,
    pub names: NameConfig,
}

fn parse_ip(s: &str, what: &str) -> Result<IpAddr> {
    s.parse()
        .map_err(|_| Error::invalid(format!("{s} is not an IP address: invalid {what}")))
}

pub(super) fn parse_mac(s: &str) -> Result<String> {
    peapod_netsetup::types::parse_mac(s)
        .map(|m| peapod_netsetup::types::format_mac(&m))
        .ok_or_else(|| Error::invalid(format!("invalid MAC address {s:?}: invalid argument")))
}

/// Podman's words when `-p` meets a network mode without ports of its own.
pub const PORTS_DISCARDED_WARNING: &str = "Port mappings have been discarded as one of the Host, Container, Pod, and None network modes are in use";

impl Engine {
    /// Resolve the flags; `exposed` are the image's EXPOSE entries (for `-P`).
    /// Ports published with host, none, container: or ns: networking are discarded; create
    /// prints [`PORTS_DISCARDED_WARNING`] then.
    pub fn plan_network(&self, f: &NetworkFlags, exposed: &[String]) -> Result<NetworkPlan> {
        let mut plan = NetworkPlan::default();
        let spec = f.network.join(",");
        let mut names: Vec<(String, NetworkAttach)> = Vec::new();
        let single = |v: &str| f.network.len() == 1 || v.is_empty();
        for value in &f.network {
            let value = value.as_str();
            let mode = match value {
                "" if crate::rootless::is_rootless() => {
                    Some((super::slirp::SLIRP.to_string(), None))
                }
                "" | "bridge" => Some(("bridge".to_string(), Some(DEFAULT_NETWORK))),
                "none" | "private" => Some(("none".to_string(), None)),
                "host" => Some(("host".to_string(), None)),
                s if s.starts_with("ns:") => {
                    if !s[3..].starts_with('/') {
                        return Err(Error::invalid(format!(
                            "network namespace path {:?} must be absolute",
                            &s[3..]
                        )));
                    }
                    crate::rootless::check_joinable(
                        std::path::Path::new(&s[3..]),
                        "network namespace",
                    )?;
                    Some((s.to_string(), None))
                }
                s if s.starts_with("container:") => {
                    let other = self.container(&s[10..])?;
                    Some((format!("container:{}", other.id()), None))
                }
                s if super::slirp::is_slirp(s) => {
                    super::slirp::SlirpOptions::from_mode(s)?;
                    Some((s.to_string(), None))
                }
                s if super::pasta::is_pasta(s) => Some((s.to_string(), None)),
                _ => None,
            };
            if let Some((m, default)) = mode {
                if !single(value) {
                    return Err(Error::invalid(format!(
                        "--network {value} cannot be combined with other networks"
                    )));
                }
                plan.mode = m;
                if let Some(d) = default {
                    names.push((d.to_string(), NetworkAttach::default()));
                }
                continue;
            }
            plan.mode = "bridge".into();
            // `NAME:ip=…,mac=…,alias=…,interface_name=…`, or `NAME[,NAME…]`.
            let items: Vec<(&str, Vec<&str>)> = match value.split_once(':') {
                Some((n, o)) => vec![(n, o.split(',').collect())],
                None => value.split(',').map(|n| (n, Vec::new())).collect(),
            };
            for (name, opts) in items {
                let net = self.network(name)?;
                let mut attach = NetworkAttach::default();
                for o in opts {
                    match o.split_once('=') {
                        Some(("ip" | "ip6", v)) => attach.static_ips.push(parse_ip(v, "IP")?),
                        Some(("mac", v)) => attach.static_mac = Some(parse_mac(v)?),
                        Some(("alias", v)) => attach.aliases.push(v.to_string()),
                        Some(("interface_name", v)) => attach.interface_name = v.to_string(),
                        _ => {
                            return Err(Error::invalid(format!(
                                "unknown network option {o:?} for network {name}"
                            )));
                        }
                    }
                }
                if names.iter().any(|(n, _)| *n == net.name) {
                    return Err(Error::invalid(format!("network {name} given twice")));
                }
                names.push((net.name, attach));
            }
        }
        if f.network.is_empty() && crate::rootless::is_rootless() {
            // A rootless container's default network, as in Podman 4.
            plan.mode = super::slirp::SLIRP.into();
        } else if f.network.is_empty() {
            plan.mode = "bridge".into();
            names.push((DEFAULT_NETWORK.to_string(), NetworkAttach::default()));
        }
        if plan.mode == "bridge" && crate::rootless::is_rootless() {
            // Bridges and their leases are the machine's (root's).
            return Err(Error::invalid(format!(
                "rootless bridge networks (--network {spec}) are not supported by peapod yet: use the default (slirp4netns), --network none or --network host"
            )));
        }
        let bridged = plan.mode == "bridge";
        let userspace = super::slirp::is_userspace(&plan.mode);
        // --ip, --ip6, --mac-address and --network-alias apply to the one network given.
        if f.ip.is_some() || f.ip6.is_some() || f.mac_address.is_some() || !f.aliases.is_empty() {
            if !bridged {
                return Err(Error::invalid(format!(
                    "--ip, --mac-address and --network-alias need a bridge network, not --network {spec}"
                )));
            }
            if names.len() != 1 {
                return Err(Error::invalid(
                    "--ip, --mac-address and --network-alias can only be used with one network: use --network NAME:ip=…",
                ));
            }
            let a = &mut names[0].1;
            for ip in [&f.ip, &f.ip6].into_iter().flatten() {
                a.static_ips.push(parse_ip(ip, "--ip")?);
            }
            if let Some(m) = &f.mac_address {
                a.static_mac = Some(parse_mac(m)?);
            }
            a.aliases.extend(f.aliases.iter().cloned());
        }
        for (i, (name, mut attach)) in names.into_iter().enumerate() {
            let net = self.network(&name)?;
            for ip in &attach.static_ips {
                if !net.subnets().iter().any(|s| s.subnet.contains(ip)) {
                    return Err(Error::invalid(format!(
                        "requested static ip {ip} not in any subnet on network {name}"
                    )));
                }
            }
            if attach.interface_name.is_empty() {
                attach.interface_name = format!("eth{i}");
            }
            plan.networks.insert(name, attach);
        }

        for p in &f.publish {
            plan.ports.push(super::ports::parse_publish(p)?);
        }
        if f.publish_all {
            for p in super::ports::publish_all(exposed)? {
                if !plan
                    .ports
                    .iter()
                    .any(|q| q.container_port == p.container_port && q.protocol == p.protocol)
                {
                    plan.ports.push(p);
                }
            }
        }
        super::ports::check_duplicates(&plan.ports)?;
        if userspace {
            super::slirp::check_publishable(&plan.mode, &plan.ports)?;
        }
        if !plan.ports.is_empty() && !bridged && !userspace {
            // Podman discards them with a warning (see [`PORTS_DISCARDED_WARNING`]).
            plan.ports.clear();
        }

        for d in &f.dns {
            if d == "none" {
                continue;
            }
            plan.names.dns_servers.push(parse_ip(d, "--dns")?);
        }
        plan.names.dns_search = f.dns_search.clone();
        plan.names.dns_options = f.dns_option.clone();
        for h in &f.add_host {
            let (host, ip) = h.split_once(':').ok_or_else(|| {
                Error::invalid(format!("invalid add-host {h:?}: must be HOST:IP"))
            })?;
            if host.is_empty() || (ip != "host-gateway" && ip.parse::<IpAddr>().is_err()) {
                return Err(Error::invalid(format!(
                    "invalid add-host {h:?}: must be HOST:IP"
                )));
            }
            plan.names.add_hosts.push(h.clone());
        }
        Ok(plan)
    }
}
