//! A small synchronous rtnetlink client: links, addresses, routes.
//!
//! One socket per network namespace. A socket stays bound to the namespace it was created
//! in, so the container's socket is opened by a short-lived thread that first `setns`es into
//! the container's namespace (as netavark does); the rest of the process never leaves the
//! host namespace. This module never runs `ip`.

use std::fs::File;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use ipnet::IpNet;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags, InfoBridge, InfoBridgePort, InfoData,
    InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A netlink failure.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// Socket-level failure.
    #[error("netlink socket: {0}")]
    Socket(#[source] io::Error),
    /// The kernel refused a request.
    #[error("{what}: {source}")]
    Kernel {
        /// The request, in words.
        what: String,
        /// errno from the kernel.
        #[source]
        source: io::Error,
    },
    /// Entering the namespace failed.
    #[error("entering network namespace {path}: {source}")]
    Netns {
        /// The namespace file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The kernel answered with something we could not decode.
    #[error("decoding a netlink answer: {0}")]
    Decode(String),
}

impl NetlinkError {
    /// The kernel's errno, if that is what failed.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Kernel { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, NetlinkError>;

/// An rtnetlink socket bound to one network namespace.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

/// Run `f` on a thread that has entered the network namespace `ns`; the rest of the
/// process stays where it is.
pub fn in_netns<T: Send + 'static>(
    ns: &File,
    path: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    let ns = ns.try_clone().map_err(NetlinkError::Socket)?;
    let path = path.to_string();
    std::thread::spawn(move || -> Result<T> {
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
            NetlinkError::Netns {
                path,
                source: io::Error::from(e),
            }
        })?;
        Ok(f())
    })
    .join()
    .map_err(|_| NetlinkError::Decode("namespace thread panicked".into()))?
}

impl Netlink {
    /// A socket in the current (host) namespace.
    pub fn open() -> Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetlinkError::Socket)?;
        socket.bind_auto().map_err(NetlinkError::Socket)?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetlinkError::Socket)?;
        Ok(Netlink { socket, seq: 1 })
    }

    /// A socket inside the namespace `ns` (a `/proc/PID/ns/net` or bind-mounted nsfs file).
    pub fn open_in(ns: &File, path: &str) -> Result<Netlink> {
        in_netns(ns, path, Netlink::open)?
    }

    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        self.seq = self.seq.wrapping_add(1);
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket.send(&buf, 0).map_err(NetlinkError::Socket)?;

        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full().map_err(NetlinkError::Socket)?;
            let mut offset = 0;
            while offset < data.len() {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| NetlinkError::Decode(e.to_string()))?;
                let len = msg.header.length as usize;
                if msg.header.sequence_number != self.seq {
                    // A stale answer to an earlier request: skip it.
                    offset += len.max(1);
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => {
                        if e.code.is_none() {
                            return Ok(out);
                        }
                        return Err(NetlinkError::Kernel {
                            what: what(),
                            source: e.to_io(),
                        });
                    }
                    NetlinkPayload::InnerMessage(inner) => {
                        out.push(inner);
                        if !dump && flags & NLM_F_ACK == 0 {
                            return Ok(out);
                        }
                    }
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    /// A link by name, `None` if there is none.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<LinkMessage>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0, &|| {
            format!("looking up link {name}")
        }) {
            Ok(mut v) => Ok(link_of(v.pop())),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A link by index, `None` if there is none.
    pub fn link_by_index(&mut self, index: u32) -> Result<Option<LinkMessage>> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self.request(RouteNetlinkMessage::GetLink(msg), 0, &|| {
            format!("looking up link #{index}")
        }) {
            Ok(mut v) => Ok(link_of(v.pop())),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<LinkMessage>> {
        let v = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            &|| "listing links".to_string(),
        )?;
        Ok(v.into_iter().filter_map(|m| link_of(Some(m))).collect())
    }

    /// Create a bridge (`EEXIST` if it is there already), with VLAN filtering if asked.
    pub fn create_bridge(
        &mut self,
        name: &str,
        mtu: Option<u32>,
        vlan_filtering: bool,
    ) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        let mut info = vec![LinkInfo::Kind(InfoKind::Bridge)];
        if vlan_filtering {
            info.push(LinkInfo::Data(InfoData::Bridge(vec![
                InfoBridge::VlanFiltering(true),
            ])));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(info));
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            &|| format!("creating bridge {name}"),
        )?;
        Ok(())
    }

    /// Turn VLAN filtering on for an existing bridge. (A NEWLINK, as `ip link set` sends: a
    /// SETLINK is accepted and ignored.)
    pub fn enable_vlan_filtering(&mut self, index: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Bridge),
            LinkInfo::Data(InfoData::Bridge(vec![InfoBridge::VlanFiltering(true)])),
        ]));
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_ACK, &|| {
            format!("turning on VLAN filtering on bridge #{index}")
        })?;
        Ok(())
    }

    /// Put a bridge port in VLAN `vid`, untagged, as its PVID (`bridge vlan add dev PORT vid
    /// VID pvid untagged`): what the container sends is in that VLAN.
    pub fn set_port_vlan(&mut self, index: u32, vid: u16) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.interface_family = AddressFamily::Bridge;
        msg.header.index = index;
        msg.attributes
            .push(LinkAttribute::AfSpecBridge(vec![AfSpecBridge::VlanInfo(
                BridgeVlanInfo {
                    flags: BridgeVlanInfoFlags::Pvid | BridgeVlanInfoFlags::Untagged,
                    vid,
                },
            )]));
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK, &|| {
            format!("putting link #{index} in VLAN {vid}")
        })?;
        Ok(())
    }

    /// Create a veth pair in one request: the host end `host_name` (kernel-named when
    /// `None`) enslaved to `master`, the peer `peer_name` created directly in the namespace
    /// `peer_ns` with the optional MAC.
    pub fn create_veth(
        &mut self,
        host_name: Option<&str>,
        master: u32,
        peer_name: &str,
        peer_ns: &File,
        peer_mac: Option<[u8; 6]>,
        mtu: Option<u32>,
    ) -> Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(peer_name.to_string()));
        peer.attributes
            .push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
        if let Some(mac) = peer_mac {
            peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(mtu) = mtu {
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }
        let mut msg = LinkMessage::default();
        if let Some(name) = host_name {
            msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        }
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes.push(LinkAttribute::Controller(master));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            &|| format!("creating veth pair for {peer_name}"),
        )?;
        Ok(())
    }

    /// Set a link up.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK, &|| {
            format!("setting link #{index} up")
        })?;
        Ok(())
    }

    /// Turn on hairpin mode on a bridge port, so a frame may leave through the port it came
    /// in by. With br_netfilter loaded (Docker loads it), a container's packet to its own
    /// published port is DNAT'd back to itself while being bridged, and needs this.
    pub fn set_hairpin(&mut self, index: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                true,
            )])),
        ]));
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_ACK, &|| {
            format!("setting hairpin mode on link #{index}")
        })?;
        Ok(())
    }

    /// Set a link's MAC address.
    pub fn set_mac(&mut self, index: u32, mac: &[u8]) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK, &|| {
            format!("setting the MAC of link #{index}")
        })?;
        Ok(())
    }

    /// Take a link off its bridge (`IFLA_MASTER` 0): one RCU grace period, where deleting
    /// it waits for several and for every pending RCU callback.
    pub fn set_nomaster(&mut self, index: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::Controller(0));
        self.request(RouteNetlinkMessage::SetLink(msg), NLM_F_ACK, &|| {
            format!("taking link #{index} off its bridge")
        })?;
        Ok(())
    }

    /// Delete a link (`ENODEV` if it is gone).
    pub fn delete_link(&mut self, index: u32) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(msg), NLM_F_ACK, &|| {
            format!("deleting link #{index}")
        })?;
        Ok(())
    }

    /// Every address of the namespace, with its prefix length (`10.88.0.1/16`).
    pub fn all_addresses(&mut self) -> Result<Vec<IpNet>> {
        let v = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
            &|| "listing addresses".to_string(),
        )?;
        let mut out = Vec::new();
        for m in v {
            let RouteNetlinkMessage::NewAddress(a) = m else {
                continue;
            };
            // IFA_ADDRESS is the peer on point-to-point links; IFA_LOCAL is our own.
            let own = a
                .attributes
                .iter()
                .find_map(|attr| match attr {
                    AddressAttribute::Local(ip) => Some(*ip),
                    _ => None,
                })
                .or_else(|| {
                    a.attributes.iter().find_map(|attr| match attr {
                        AddressAttribute::Address(ip) => Some(*ip),
                        _ => None,
                    })
                });
            if let Some(ip) = own
                && let Ok(net) = IpNet::new(ip, a.header.prefix_len)
            {
                out.push(net);
            }
        }
        Ok(out)
    }

    /// The destinations of every unicast route in every table (both families), default
    /// routes included (`0.0.0.0/0`): the caller decides what overlapping them means.
    pub fn route_destinations(&mut self) -> Result<Vec<IpNet>> {
        let mut msg = RouteMessage::default();
        msg.header.table = RouteHeader::RT_TABLE_UNSPEC;
        let v = self.request(RouteNetlinkMessage::GetRoute(msg), NLM_F_DUMP, &|| {
            "listing routes".to_string()
        })?;
        let mut out = Vec::new();
        for m in v {
            let RouteNetlinkMessage::NewRoute(r) = m else {
                continue;
            };
            if !matches!(r.header.kind, RouteType::Unicast | RouteType::Local) {
                continue;
            }
            let dest = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(IpAddr::V4(*ip)),
                RouteAttribute::Destination(RouteAddress::Inet6(ip)) => Some(IpAddr::V6(*ip)),
                _ => None,
            });
            let dest = match (dest, r.header.address_family) {
                (Some(ip), _) => ip,
                (None, AddressFamily::Inet) => IpAddr::from([0u8; 4]),
                (None, AddressFamily::Inet6) => IpAddr::from([0u16; 8]),
                _ => continue,
            };
            if let Ok(net) = IpNet::new(dest, r.header.destination_prefix_length) {
                out.push(net.trunc());
            }
        }
        Ok(out)
    }

    /// Add `addr` (the interface's own address with the subnet's prefix) to a link.
    /// `EEXIST` is not an error.
    pub fn add_address(&mut self, index: u32, addr: IpNet) -> Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.index = index;
        msg.header.prefix_len = addr.prefix_len();
        msg.header.scope = AddressScope::Universe;
        msg.header.family = family(addr.addr());
        msg.attributes.push(AddressAttribute::Address(addr.addr()));
        if let IpNet::V4(v4) = addr {
            msg.attributes.push(AddressAttribute::Local(addr.addr()));
            if v4.prefix_len() < 31 {
                msg.attributes
                    .push(AddressAttribute::Broadcast(v4.broadcast()));
            }
        }
        match self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            &|| format!("adding address {addr} to link #{index}"),
        ) {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            r => r.map(|_| ()),
        }
    }

    /// Add a route in the main table: `destination` via `gateway` (through link `oif` if
    /// given). `EEXIST` is not an error.
    pub fn add_route(
        &mut self,
        destination: IpNet,
        gateway: IpAddr,
        metric: Option<u32>,
    ) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header = RouteHeader {
            address_family: family(gateway),
            destination_prefix_length: destination.prefix_len(),
            table: RouteHeader::RT_TABLE_MAIN,
            protocol: RouteProtocol::Static,
            scope: RouteScope::Universe,
            kind: RouteType::Unicast,
            ..Default::default()
        };
        if destination.prefix_len() > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(destination.network().into()));
        }
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
        if let Some(metric) = metric {
            msg.attributes.push(RouteAttribute::Priority(metric));
        }
        match self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK,
            &|| format!("adding route to {destination} via {gateway}"),
        ) {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            r => r.map(|_| ()),
        }
    }
}

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn link_of(m: Option<RouteNetlinkMessage>) -> Option<LinkMessage> {
    match m {
        Some(RouteNetlinkMessage::NewLink(l)) => Some(l),
        _ => None,
    }
}

/// Helpers to read a link message.
pub trait LinkExt {
    /// Its name.
    fn name(&self) -> Option<&str>;
    /// Its MAC.
    fn mac(&self) -> Option<&[u8]>;
    /// The index of its bridge, if enslaved.
    fn controller(&self) -> Option<u32>;
    /// For a veth: the peer's index (in the peer's namespace).
    fn peer_index(&self) -> Option<u32>;
    /// Its kind (`bridge`, `veth`, ...).
    fn is_kind(&self, kind: InfoKind) -> bool;
    /// For a bridge: is VLAN filtering on?
    fn vlan_filtering(&self) -> bool;
}

impl LinkExt for LinkMessage {
    fn name(&self) -> Option<&str> {
        self.attributes.iter().find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.as_str()),
            _ => None,
        })
    }
    fn mac(&self) -> Option<&[u8]> {
        self.attributes.iter().find_map(|a| match a {
            LinkAttribute::Address(m) => Some(m.as_slice()),
            _ => None,
        })
    }
    fn controller(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            LinkAttribute::Controller(i) => Some(*i),
            _ => None,
        })
    }
    fn peer_index(&self) -> Option<u32> {
        self.attributes.iter().find_map(|a| match a {
            LinkAttribute::Link(i) => Some(*i),
            _ => None,
        })
    }
    fn is_kind(&self, kind: InfoKind) -> bool {
        self.attributes.iter().any(|a| match a {
            LinkAttribute::LinkInfo(infos) => {
                infos.iter().any(|i| *i == LinkInfo::Kind(kind.clone()))
            }
            _ => false,
        })
    }
    fn vlan_filtering(&self) -> bool {
        self.attributes.iter().any(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| match i {
                LinkInfo::Data(InfoData::Bridge(v)) => v.contains(&InfoBridge::VlanFiltering(true)),
                _ => false,
            }),
            _ => false,
        })
    }
}
