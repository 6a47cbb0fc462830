//! The bridge driver: a Linux bridge on the host with the gateway addresses, and per
//! container a veth pair whose peer is created directly inside the container's namespace.
//!
//! Follows netavark's `bridge.rs`: sysctls (ip_forward, route_localnet and rp_filter=2 on the
//! bridge; forwarding=0 for internal networks), bridge MAC pinned after each new port, peer
//! addresses and default routes via the gateways with the `metric` option's metric (100 by
//! default; none for internal networks or with `no_default_route`), and with the `vlan`
//! option VLAN filtering on the bridge and each container's port in that VLAN (PVID,
//! untagged; it stays in the default VLAN 1 too, as netavark leaves it). Everything goes
//! through netlink; nothing here runs `ip`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_route::link::InfoKind;

use crate::error::Error;
use crate::firewall::Isolate;
use crate::netlink::{LinkExt, Netlink, NetlinkError, in_netns};
use crate::types::{
    NetAddress, NetInterface, Network, PerNetworkOptions, StatusBlock, format_mac, parse_mac,
};

/// Write one sysctl (`net/ipv4/ip_forward` style path under /proc/sys). Skips the write when
/// the value is already there (a read-only /proc/sys in a container is then no problem).
pub fn sysctl(key: &str, value: &str) -> io::Result<()> {
    let path = format!("/proc/sys/{key}");
    if let Ok(cur) = std::fs::read_to_string(&path)
        && cur.trim() == value
    {
        return Ok(());
    }
    std::fs::write(&path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("setting sysctl {key}={value}: {e}")))
}

/// A network checked for the bridge driver.
#[derive(Debug)]
pub struct BridgeNet<'a> {
    /// The definition.
    pub network: &'a Network,
    /// Bridge name.
    pub bridge: &'a str,
    /// `(gateway/prefix, subnet)` for every subnet that has a gateway.
    pub gateways: Vec<(IpNet, IpNet)>,
    /// MTU option.
    pub mtu: Option<u32>,
    /// `isolate` option: drop traffic to other networks' bridges.
    pub isolate: Isolate,
    /// `metric` option: the default routes' metric (netavark's default, 100).
    pub metric: u32,
    /// `vlan` option: the VLAN the containers' ports are in (filtering on the bridge).
    pub vlan: Option<u16>,
    /// `no_default_route` option.
    pub no_default_route: bool,
}

/// netavark's default route metric.
pub const DEFAULT_METRIC: u32 = 100;

/// One container's interface on one network, checked before anything is touched.
#[derive(Debug)]
pub struct ContainerLink<'o> {
    /// The name inside the container (`eth0`).
    pub ifname: &'o str,
    /// The host end's name; the kernel picks one when `None`.
    pub host_name: Option<&'o str>,
    /// A fixed MAC for the container end.
    pub mac: Option<[u8; 6]>,
    /// MTU of the pair (the container's option, else the network's).
    pub mtu: Option<u32>,
    /// Its addresses, with their subnets' prefixes.
    pub addrs: Vec<IpNet>,
}

/// What the kernel accepts as an interface name (`dev_valid_name`).
fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name.contains(['/', ':'])
        && !name.chars().any(char::is_whitespace)
}

impl<'a> BridgeNet<'a> {
    /// Check a network definition before anything is touched.
    pub fn new(network: &'a Network) -> Result<Self, Error> {
        let invalid = |m: String| Error::Invalid(format!("network {}: {m}", network.name));
        if network.driver != "bridge" {
            return Err(invalid(format!(
                "driver {:?} is not supported (only bridge)",
                network.driver
            )));
        }
        let bridge = network
            .network_interface
            .as_deref()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| invalid("no network_interface (bridge name)".into()))?;
        if bridge.len() > 15 {
            return Err(invalid(format!(
                "bridge name {bridge:?} is longer than 15 bytes"
            )));
        }
        if let Some(mode) = network.option("mode")
            && mode != "managed"
            && !mode.is_empty()
        {
            return Err(invalid(format!("bridge mode {mode:?} is not supported")));
        }
        let mut gateways = Vec::new();
        for s in network.subnets() {
            if let Some(gw) = s.gateway {
                if !s.subnet.contains(&gw) {
                    return Err(invalid(format!(
                        "gateway {gw} is not in subnet {}",
                        s.subnet
                    )));
                }
                let net = IpNet::new(gw, s.subnet.prefix_len()).expect("prefix from a subnet");
                gateways.push((net, s.subnet.trunc()));
            }
        }
        let number = |key: &str| -> Result<Option<u32>, Error> {
            match network.option(key) {
                None | Some("") => Ok(None),
                Some(m) => m
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| invalid(format!("invalid {key} {m:?}"))),
            }
        };
        let mtu = number("mtu")?;
        let metric = number("metric")?.unwrap_or(DEFAULT_METRIC);
        // VLAN 0 means untagged: nothing to set (the kernel refuses VID 0 on a port).
        let vlan = match number("vlan")? {
            None | Some(0) => None,
            Some(v @ 1..=4094) => Some(v as u16),
            Some(v) => return Err(invalid(format!("vlan ID {v} must be between 0 and 4094"))),
        };
        let isolate = match network.option("isolate") {
            None | Some("") | Some("false") => Isolate::No,
            Some("true") => Isolate::Yes,
            Some("strict") => Isolate::Strict,
            Some(o) => return Err(invalid(format!("invalid isolate option {o:?}"))),
        };
        let no_default_route = match network.option("no_default_route") {
            None | Some("") | Some("false") => false,
            Some("true") => true,
            Some(o) => return Err(invalid(format!("invalid no_default_route option {o:?}"))),
        };
        Ok(BridgeNet {
            network,
            bridge,
            gateways,
            mtu,
            isolate,
            metric,
            vlan,
            no_default_route,
        })
    }

    /// The container's addresses with the prefix of their subnets.
    pub fn container_addresses(&self, opts: &PerNetworkOptions) -> Result<Vec<IpNet>, Error> {
        let mut out = Vec::new();
        for ip in opts.static_ips.as_deref().unwrap_or_default() {
            let subnet = self
                .network
                .subnets()
                .iter()
                .find(|s| s.subnet.contains(ip))
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "network {}: address {ip} is in none of its subnets",
                        self.network.name
                    ))
                })?;
            out.push(IpNet::new(*ip, subnet.subnet.prefix_len()).expect("prefix from a subnet"));
        }
        Ok(out)
    }

    /// Check one container's options on this network: everything setup will need, so a bad
    /// value is refused before anything is touched.
    pub fn container_link<'o>(
        &self,
        opts: &'o PerNetworkOptions,
    ) -> Result<ContainerLink<'o>, Error> {
        let invalid = |m: String| Error::Invalid(format!("network {}: {m}", self.network.name));
        let ifname = opts.interface_name.as_str();
        if !valid_ifname(ifname) {
            return Err(invalid(format!("invalid interface_name {ifname:?}")));
        }
        let host_name = opts
            .options
            .as_ref()
            .and_then(|o| o.get("host_interface_name"))
            .map(String::as_str)
            .filter(|n| !n.is_empty());
        if let Some(h) = host_name
            && !valid_ifname(h)
        {
            return Err(invalid(format!("invalid host_interface_name {h:?}")));
        }
        let mac = match opts.static_mac.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => Some(
                parse_mac(m)
                    .ok_or_else(|| invalid(format!("invalid static_mac {m:?} for {ifname}")))?,
            ),
            None => None,
        };
        let mtu = match opts.options.as_ref().and_then(|o| o.get("mtu")) {
            Some(m) => Some(
                m.parse::<u32>()
                    .map_err(|_| invalid(format!("invalid mtu {m:?} for {ifname}")))?,
            ),
            None => self.mtu,
        };
        Ok(ContainerLink {
            ifname,
            host_name,
            mac,
            mtu,
            addrs: self.container_addresses(opts)?,
        })
    }

    fn has_v6(&self) -> bool {
        self.network
            .subnets()
            .iter()
            .any(|s| matches!(s.subnet, IpNet::V6(_)))
    }
}

/// Make sure the bridge exists with its addresses, sysctls and is up; returns its index.
pub fn ensure_bridge(host: &mut Netlink, net: &BridgeNet<'_>) -> Result<u32, Error> {
    let link = match host.link_by_name(net.bridge)? {
        Some(l) => {
            if !l.is_kind(InfoKind::Bridge) {
                return Err(Error::Invalid(format!(
                    "network {}: interface {} exists and is not a bridge",
                    net.network.name, net.bridge
                )));
            }
            l
        }
        None => {
            host.create_bridge(net.bridge, net.mtu, net.vlan.is_some())
                .map_err(|e| vlan_unsupported(net, e))?;
            host.link_by_name(net.bridge)?.ok_or_else(|| {
                Error::Invalid(format!("bridge {} vanished after creation", net.bridge))
            })?
        }
    };
    let index = link.header.index;
    if net.vlan.is_some() && !link.vlan_filtering() {
        host.enable_vlan_filtering(index)
            .map_err(|e| vlan_unsupported(net, e))?;
    }
    let br = net.bridge;
    let sys = |k: String, v: &str| sysctl(&k, v).map_err(|e| Error::io(format!("bridge {br}"), e));
    if net.network.internal {
        sys(format!("net/ipv4/conf/{br}/forwarding"), "0")?;
        if net.has_v6() {
            sys(format!("net/ipv6/conf/{br}/forwarding"), "0")?;
        }
    } else {
        sys("net/ipv4/ip_forward".into(), "1")?;
        // Lets DNAT'd packets from 127.0.0.1 leave through the bridge (localhost ports).
        sys(format!("net/ipv4/conf/{br}/route_localnet"), "1")?;
        if net.has_v6() {
            sys("net/ipv6/conf/all/forwarding".into(), "1")?;
        }
    }
    if net.has_v6() {
        sys(format!("net/ipv6/conf/{br}/accept_dad"), "0")?;
        sys(format!("net/ipv6/conf/{br}/accept_ra"), "0")?;
    }
    sys(format!("net/ipv4/conf/{br}/rp_filter"), "2")?;
    for (gw, _) in &net.gateways {
        host.add_address(index, *gw)?;
    }
    host.set_up(index)?;
    Ok(index)
}

/// A kernel built without bridge VLAN filtering answers EOPNOTSUPP: say which option needs it.
fn vlan_unsupported(net: &BridgeNet<'_>, e: NetlinkError) -> Error {
    match (net.vlan, e.errno()) {
        (Some(vid), Some(libc::EOPNOTSUPP)) => Error::Invalid(format!(
            "network {}: option vlan={vid} needs VLAN filtering on bridge {}, which this kernel does not support ({e})",
            net.network.name, net.bridge
        )),
        _ => e.into(),
    }
}

/// Create the container's interface on `net` and configure it; returns its status. Its
/// input was checked by [`BridgeNet::container_link`]; on a failure the caller's rollback
/// (a teardown of this network) removes whatever was made.
pub fn setup_container(
    host: &mut Netlink,
    ctr: &mut Netlink,
    netns: &File,
    netns_path: &str,
    net: &BridgeNet<'_>,
    link: &ContainerLink<'_>,
) -> Result<StatusBlock, Error> {
    let bridge_index = ensure_bridge(host, net)?;
    host.create_veth(
        link.host_name,
        bridge_index,
        link.ifname,
        netns,
        link.mac,
        link.mtu,
    )?;
    configure_container(host, ctr, netns, netns_path, net, link, bridge_index)
}

fn configure_container(
    host: &mut Netlink,
    ctr: &mut Netlink,
    netns: &File,
    netns_path: &str,
    net: &BridgeNet<'_>,
    link: &ContainerLink<'_>,
    bridge_index: u32,
) -> Result<StatusBlock, Error> {
    let (ifname, addrs) = (link.ifname, link.addrs.as_slice());
    let link = ctr.link_by_name(ifname)?.ok_or_else(|| {
        Error::Invalid(format!(
            "{ifname} missing in {netns_path} after creating it"
        ))
    })?;
    let index = link.header.index;
    let host_index = link
        .peer_index()
        .ok_or_else(|| Error::Invalid(format!("cannot find the host end of {ifname}")))?;
    host.set_hairpin(host_index)?;
    if let Some(vid) = net.vlan {
        host.set_port_vlan(host_index, vid)?;
    }
    host.set_up(host_index)?;
    // Pin the bridge MAC: otherwise it follows the lowest port MAC and flaps.
    if let Some(bridge) = host.link_by_index(bridge_index)?
        && let Some(mac) = bridge.mac()
    {
        host.set_mac(bridge_index, mac)?;
    }

    let v6 = net.has_v6();
    let name = ifname.to_string();
    let path = netns_path.to_string();
    in_netns(netns, netns_path, move || -> io::Result<()> {
        if v6 {
            sysctl(&format!("net/ipv6/conf/{name}/autoconf"), "0")?;
            sysctl(&format!("net/ipv6/conf/{name}/accept_dad"), "0")?;
        }
        sysctl(&format!("net/ipv4/conf/{name}/arp_notify"), "1")?;
        sysctl(&format!("net/ipv4/conf/{name}/rp_filter"), "2")
    })?
    .map_err(|e| Error::io(format!("container namespace {path}"), e))?;

    for a in addrs {
        ctr.add_address(index, *a)?;
    }
    ctr.set_up(index)?;
    ctr.set_up(1)?; // lo
    if !net.network.internal && !net.no_default_route {
        for (gw, _) in &net.gateways {
            if addrs
                .iter()
                .any(|a| a.addr().is_ipv4() == gw.addr().is_ipv4())
            {
                let default = match gw.addr() {
                    IpAddr::V4(_) => "0.0.0.0/0".parse::<IpNet>(),
                    IpAddr::V6(_) => "::/0".parse::<IpNet>(),
                }
                .expect("constant");
                ctr.add_route(default, gw.addr(), Some(net.metric))?;
            }
        }
    }
    for r in net.network.routes.as_deref().unwrap_or_default() {
        ctr.add_route(r.destination, r.gateway, r.metric)?;
    }

    let link = ctr.link_by_index(index)?.unwrap_or(link);
    let subnets = addrs
        .iter()
        .map(|a| NetAddress {
            ipnet: *a,
            gateway: net
                .gateways
                .iter()
                .find(|(_, subnet)| subnet.contains(&a.addr()))
                .map(|(gw, _)| gw.addr()),
        })
        .collect();
    let mut interfaces = BTreeMap::new();
    interfaces.insert(
        ifname.to_string(),
        NetInterface {
            mac_address: link.mac().map(format_mac).unwrap_or_default(),
            subnets: Some(subnets),
        },
    );
    Ok(StatusBlock {
        dns_search_domains: Some(Vec::new()),
        dns_server_ips: Some(Vec::new()),
        interfaces: Some(interfaces),
    })
}

/// What a teardown finds before it removes anything: the container's interface (when its
/// namespace is still there) and whether the bridge has no other port, so the network goes
/// with it (a "complete" teardown). Known up front, the firewall's teardown can run beside
/// the removal of the interfaces (the global lock keeps other setups out meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeardownPlan {
    /// The container's interface, by index in its namespace.
    pub ctr_link: Option<u32>,
    /// Its peer on the host (a port of the bridge), by index.
    pub host_link: Option<u32>,
    /// No port of the bridge is left once the container's interface goes.
    pub complete: bool,
}

/// The [`TeardownPlan`] of a container's interface on `net`. `None` when the bridge's other
/// ports cannot be told from the container's (its interface is there but is no veth with a
/// peer): then [`teardown_container`] removes it first and counts what is left.
pub fn teardown_plan(
    host: &mut Netlink,
    ctr: Option<&mut Netlink>,
    net: &BridgeNet<'_>,
    opts: &PerNetworkOptions,
) -> Result<Option<TeardownPlan>, Error> {
    let link = match ctr {
        Some(ctr) => ctr.link_by_name(&opts.interface_name)?,
        None => None,
    };
    // The host side of the container's veth: the one port that goes with it.
    let ours = match &link {
        Some(l) if l.is_kind(InfoKind::Veth) => match l.peer_index() {
            Some(i) => Some(i),
            None => return Ok(None),
        },
        Some(_) => return Ok(None),
        None => None,
    };
    let ctr_link = link.map(|l| l.header.index);
    let Some(bridge) = host.link_by_name(net.bridge)? else {
        return Ok(Some(TeardownPlan {
            ctr_link,
            host_link: ours,
            complete: true,
        }));
    };
    // Someone else's interface under that name (setup refused to use it): not ours to
    // report as an empty bridge, let alone delete.
    if !bridge.is_kind(InfoKind::Bridge) {
        return Ok(Some(TeardownPlan {
            ctr_link,
            host_link: ours,
            complete: false,
        }));
    }
    let others = host
        .links()?
        .iter()
        .filter(|l| l.controller() == Some(bridge.header.index))
        .filter(|l| Some(l.header.index) != ours)
        .count();
    Ok(Some(TeardownPlan {
        ctr_link,
        host_link: ours,
        complete: others == 0,
    }))
}

/// Remove the container's interface of a [`TeardownPlan`] (its host side goes with it).
pub fn remove_container_link(ctr: Option<&mut Netlink>, plan: &TeardownPlan) -> Result<(), Error> {
    if let (Some(ctr), Some(index)) = (ctr, plan.ctr_link) {
        match ctr.delete_link(index) {
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            r => r?,
        }
    }
    Ok(())
}

/// Take the host end of the container's veth off the bridge, its interfaces left for the
/// kernel to destroy with their namespace (a teardown whose caller removes the namespace
/// next: see `commands::TeardownMode`). From then on the container reaches nothing through
/// the bridge, even if something else keeps its namespace alive.
pub fn detach_container_link(host: &mut Netlink, plan: &TeardownPlan) -> Result<(), Error> {
    if let Some(index) = plan.host_link {
        match host.set_nomaster(index) {
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            r => r?,
        }
    }
    Ok(())
}

/// Remove the container's interface (if its namespace is still there) and say whether the
/// bridge has no port left (a "complete" teardown of the network).
pub fn teardown_container(
    host: &mut Netlink,
    ctr: Option<&mut Netlink>,
    net: &BridgeNet<'_>,
    opts: &PerNetworkOptions,
) -> Result<bool, Error> {
    if let Some(ctr) = ctr
        && let Some(l) = ctr.link_by_name(&opts.interface_name)?
    {
        match ctr.delete_link(l.header.index) {
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            r => r?,
        }
    }
    let Some(bridge) = host.link_by_name(net.bridge)? else {
        return Ok(true);
    };
    // Someone else's interface under that name (setup refused to use it): not ours to
    // report as an empty bridge, let alone delete.
    if !bridge.is_kind(InfoKind::Bridge) {
        return Ok(false);
    }
    let ports = host
        .links()?
        .iter()
        .filter(|l| l.controller() == Some(bridge.header.index))
        .count();
    Ok(ports == 0)
}

/// Delete the bridge if it still has no port but `leaving` (the host end of a container's
/// veth that goes with it: the bridge's deletion takes it off).
pub fn delete_bridge_if_unused(
    host: &mut Netlink,
    net: &BridgeNet<'_>,
    leaving: Option<u32>,
) -> Result<(), Error> {
    delete_bridge_named_if_unused(host, net.bridge, leaving)
}

/// [`delete_bridge_if_unused`] by the bridge's name.
pub fn delete_bridge_named_if_unused(
    host: &mut Netlink,
    name: &str,
    leaving: Option<u32>,
) -> Result<(), Error> {
    let Some(bridge) = host.link_by_name(name)? else {
        return Ok(());
    };
    if !bridge.is_kind(InfoKind::Bridge) {
        return Ok(());
    }
    let idx = bridge.header.index;
    if host
        .links()?
        .iter()
        .any(|l| l.controller() == Some(idx) && Some(l.header.index) != leaving)
    {
        return Ok(());
    }
    match host.delete_link(idx) {
        Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
        r => r.map_err(Error::from),
    }
}

impl From<NetlinkError> for Error {
    fn from(e: NetlinkError) -> Self {
        Error::Netlink(e)
    }
}
