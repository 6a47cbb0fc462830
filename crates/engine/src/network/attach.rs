//! `--network`, `--ip`, `--mac-address`, `--network-alias`, `-p`, `-P`, `--dns*` and
//! `--add-host` at create time: checked against the networks that exist, turned into the
//! container's plain network config.

use std::collections::BTreeMap;
use std::net::IpAddr;

use peapod_netsetup::types::PortMapping;

use super::mode::NetworkMode;
use super::store::DEFAULT_NETWORK;
use crate::Engine;
use crate::container::{NameConfig, NetworkAttach};
use crate::error::{Error, Result};

/// The network part of a container spec (`--network`, `--ip`, `-p`, `--dns`, …), typed;
/// also a pod's.
#[derive(Debug, Clone, Default)]
pub struct NetworkSpec {
    pub mode: NetworkMode,
    pub ip: Option<IpAddr>,
    pub ip6: Option<IpAddr>,
    pub mac_address: Option<String>,
    pub aliases: Vec<String>,
    /// `-p`, parsed ([`super::ports::parse_publish`]).
    pub publish: Vec<PortMapping>,
    pub publish_all: bool,
    /// `--dns`: addresses, or `none` alone.
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    pub add_host: Vec<String>,
}

impl NetworkSpec {
    /// `--ip`/`--ip6`, checked as IP addresses (Podman's message).
    pub fn parse_ip(s: &str, flag: &str) -> Result<IpAddr> {
        parse_ip(s, flag)
    }
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

pub(super) fn parse_ip(s: &str, what: &str) -> Result<IpAddr> {
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
    pub fn plan_network(&self, f: &NetworkSpec, exposed: &[String]) -> Result<NetworkPlan> {
        let mut plan = NetworkPlan::default();
        let spec = f.mode.to_string();
        let rootless = crate::rootless::is_rootless();
        let mut names: Vec<(String, NetworkAttach)> = Vec::new();
        plan.mode = match &f.mode {
            // A rootless container's default network, as in Podman 4.
            NetworkMode::Default if rootless => super::slirp::SLIRP.to_string(),
            NetworkMode::Default | NetworkMode::Bridge(_) => "bridge".to_string(),
            NetworkMode::None => "none".to_string(),
            NetworkMode::Host => "host".to_string(),
            NetworkMode::Path(p) => {
                crate::rootless::check_joinable(std::path::Path::new(p), "network namespace")?;
                format!("ns:{p}")
            }
            NetworkMode::Container(c) => format!("container:{}", self.container(c)?.id()),
            NetworkMode::Slirp4netns(s) | NetworkMode::Pasta(s) => s.clone(),
        };
        match &f.mode {
            NetworkMode::Default if !rootless => {
                names.push((DEFAULT_NETWORK.to_string(), NetworkAttach::default()));
            }
            NetworkMode::Bridge(v) if v.is_empty() => {
                names.push((DEFAULT_NETWORK.to_string(), NetworkAttach::default()));
            }
            NetworkMode::Bridge(v) => {
                for r in v {
                    let net = self.network(&r.name)?;
                    if names.iter().any(|(n, _)| *n == net.name) {
                        return Err(Error::invalid(format!("network {} given twice", r.name)));
                    }
                    let attach = NetworkAttach {
                        static_ips: r.static_ips.clone(),
                        static_mac: r.static_mac.clone(),
                        aliases: r.aliases.clone(),
                        interface_name: r.interface_name.clone(),
                    };
                    names.push((net.name, attach));
                }
            }
            _ => {}
        }
        if plan.mode == "bridge" && rootless {
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
            a.static_ips.extend([f.ip, f.ip6].into_iter().flatten());
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

        plan.ports.extend(f.publish.iter().cloned());
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
