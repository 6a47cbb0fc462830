//! slirp4netns' options (`--network slirp4netns:…`), its command line and addresses, and
//! the port forwards a userspace network publishes.

#[allow(unused_imports)]
use super::*;

/// Is `mode` (a container's network mode) slirp4netns?
pub fn is_slirp(mode: &str) -> bool {
    mode == SLIRP || mode.starts_with("slirp4netns:")
}

/// Is `mode` a userspace network (slirp4netns or pasta)?
pub fn is_userspace(mode: &str) -> bool {
    is_slirp(mode) || crate::network::pasta::is_pasta(mode)
}

/// `port_handler=`: who listens on the host for published ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortHandler {
    /// Podman's rootlessport; here peapod-netsetup's forwarder.
    Rootlesskit,
    /// slirp4netns's own host forwarding, through its API socket.
    Slirp4netns,
}

/// The options after `slirp4netns:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlirpOptions {
    pub port_handler: PortHandler,
    pub allow_host_loopback: bool,
    pub cidr: Ipv4Net,
    pub enable_ipv6: bool,
    pub mtu: u32,
    pub outbound_addr: Option<String>,
    pub outbound_addr6: Option<String>,
}

impl Default for SlirpOptions {
    fn default() -> Self {
        SlirpOptions {
            port_handler: PortHandler::Rootlesskit,
            allow_host_loopback: false,
            cidr: Ipv4Net::new(Ipv4Addr::new(10, 0, 2, 0), 24).expect("a valid prefix"),
            enable_ipv6: true,
            mtu: 65520,
            outbound_addr: None,
            outbound_addr6: None,
        }
    }
}

pub(super) fn parse_bool(k: &str, v: &str) -> Result<bool> {
    v.parse().map_err(|_| {
        Error::invalid(format!(
            "invalid value {v:?} for slirp4netns option {k}: must be true or false"
        ))
    })
}

impl SlirpOptions {
    /// Parses a network mode: `slirp4netns` or `slirp4netns:K=V,K=V`, Podman 4's options.
    pub fn from_mode(mode: &str) -> Result<SlirpOptions> {
        let mut o = SlirpOptions::default();
        let Some(list) = mode.strip_prefix("slirp4netns:") else {
            return Ok(o);
        };
        for item in list.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                Error::invalid(format!(
                    "invalid slirp4netns option {item:?}: must be KEY=VALUE"
                ))
            })?;
            match k {
                "port_handler" => {
                    o.port_handler = match v {
                        "rootlesskit" => PortHandler::Rootlesskit,
                        "slirp4netns" => PortHandler::Slirp4netns,
                        _ => {
                            return Err(Error::invalid(format!(
                                "unknown port_handler for slirp4netns: {v:?}"
                            )));
                        }
                    }
                }
                "allow_host_loopback" => o.allow_host_loopback = parse_bool(k, v)?,
                "enable_ipv6" => o.enable_ipv6 = parse_bool(k, v)?,
                "cidr" => {
                    o.cidr = v.parse::<Ipv4Net>().map(|n| n.trunc()).map_err(|_| {
                        Error::invalid(format!("invalid slirp4netns cidr {v:?}: an IPv4 subnet"))
                    })?;
                    if o.cidr.prefix_len() > 25 {
                        return Err(Error::invalid(format!(
                            "slirp4netns cidr {v} is too small: at least a /25 (the container is the 100th address)"
                        )));
                    }
                }
                "mtu" => {
                    o.mtu = v
                        .parse()
                        .ok()
                        .filter(|m| (68..=65521).contains(m))
                        .ok_or_else(|| {
                            Error::invalid(format!("invalid slirp4netns mtu {v:?}: 68 to 65521"))
                        })?
                }
                "outbound_addr" => o.outbound_addr = Some(v.to_string()),
                "outbound_addr6" => o.outbound_addr6 = Some(v.to_string()),
                _ => {
                    return Err(Error::invalid(format!(
                        "unknown option for slirp4netns: {k:?}"
                    )));
                }
            }
        }
        Ok(o)
    }

    pub(super) fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.cidr.network()) + n)
    }
    /// The container's address on tap0 (the 100th of the subnet).
    pub fn guest(&self) -> Ipv4Addr {
        self.nth(100)
    }
    pub fn gateway(&self) -> Ipv4Addr {
        self.nth(2)
    }
    pub fn dns(&self) -> Ipv4Addr {
        self.nth(3)
    }

    /// slirp4netns's command line after the binary (Podman 4.3's, measured).
    pub(super) fn args(
        &self,
        netns: &Path,
        api_socket: Option<&Path>,
        exit_pipe: bool,
    ) -> Vec<String> {
        let mut a = Vec::new();
        if !self.allow_host_loopback {
            a.push("--disable-host-loopback".into());
        }
        a.push(format!("--mtu={}", self.mtu));
        a.push("--enable-sandbox".into());
        a.push("--enable-seccomp".into());
        if self.enable_ipv6 {
            a.push("--enable-ipv6".into());
        }
        if self.cidr != SlirpOptions::default().cidr {
            a.push(format!("--cidr={}", self.cidr));
        }
        if let Some(o) = &self.outbound_addr {
            a.push(format!("--outbound-addr={o}"));
        }
        if let Some(o) = &self.outbound_addr6 {
            a.push(format!("--outbound-addr6={o}"));
        }
        a.push("-c".into());
        if exit_pipe {
            a.extend(["-e".into(), "3".into()]);
        }
        a.extend(["-r".into(), "4".into()]);
        if let Some(s) = api_socket {
            a.push(format!("--api-socket={}", s.display()));
        }
        a.push("--netns-type=path".into());
        a.push(netns.display().to_string());
        a.push("tap0".into());
        a
    }

    /// What the container's network status records: tap0's address and the DNS forwarder.
    pub(super) fn status(&self) -> StatusBlock {
        let mut block = StatusBlock::default();
        let ipnet = ipnet::IpNet::new(IpAddr::V4(self.guest()), 24).expect("a /24");
        let iface = NetInterface {
            mac_address: String::new(),
            subnets: Some(vec![NetAddress {
                ipnet,
                gateway: Some(IpAddr::V4(self.gateway())),
            }]),
        };
        block.interfaces = Some([("tap0".to_string(), iface)].into_iter().collect());
        block.dns_server_ips = Some(vec![IpAddr::V4(self.dns())]);
        block
    }
}

/// The address `host.containers.internal` names in a slirp4netns container's hosts file, as
/// Podman 4.3 picks it: the gateway when the host's loopback is reachable through it
/// (`allow_host_loopback=true`), else the host's first address that is not loopback.
pub fn host_containers_internal(mode: &str) -> Option<IpAddr> {
    let opts = SlirpOptions::from_mode(mode).unwrap_or_default();
    if opts.allow_host_loopback {
        return Some(IpAddr::V4(opts.gateway()));
    }
    let addrs = peapod_netsetup::netlink::Netlink::open()
        .and_then(|mut n| n.all_addresses())
        .ok()?;
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified(),
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unicast_link_local() && !v6.is_unspecified(),
    };
    let ips: Vec<IpAddr> = addrs.iter().map(|n| n.addr()).filter(usable).collect();
    ips.iter().find(|ip| ip.is_ipv4()).or(ips.first()).copied()
}

/// Checks what `create` can: the network's options, the protocols, and (rootless) ports
/// under `net.ipv4.ip_unprivileged_port_start`, named.
pub fn check_publishable(mode: &str, ports: &[PortMapping]) -> Result<()> {
    if !crate::network::pasta::is_pasta(mode) {
        SlirpOptions::from_mode(mode)?;
    }
    for f in forwards(ports)? {
        if crate::rootless::is_rootless()
            && f.host.port() < peapod_netsetup::forward::unprivileged_port_start()
        {
            let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
            return Err(Error::invalid(peapod_netsetup::forward::bind_error(&f, &e)));
        }
    }
    Ok(())
}

/// Checks a container's publishing before anything starts: what create checks, and ports
/// something already listens on (another user's, say), named.
pub(in crate::network) fn check_ports(mode: &str, ports: &[PortMapping]) -> Result<()> {
    check_publishable(mode, ports)?;
    for f in forwards(ports)? {
        let taken = match f.proto.as_str() {
            "udp" => std::net::UdpSocket::bind(f.host).err(),
            _ => std::net::TcpListener::bind(f.host).err(),
        };
        if let Some(e) = taken {
            return Err(Error::invalid(peapod_netsetup::forward::bind_error(&f, &e)));
        }
    }
    Ok(())
}

/// Every host port of `ports` (ranges expanded), as the forwarder (or slirp4netns's own
/// port handler) takes them: tcp and udp.
pub(in crate::network) fn forwards(ports: &[PortMapping]) -> Result<Vec<Forward>> {
    let mut out = Vec::new();
    for p in ports {
        let protos = crate::network::ports::protocols(p);
        if let Some(other) = protos.iter().find(|p| !matches!(**p, "tcp" | "udp")) {
            return Err(Error::invalid(format!(
                "publishing {other} port {} with slirp4netns is not supported: only tcp and udp",
                p.container_port
            )));
        }
        let ip: IpAddr = if p.host_ip.is_empty() {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        } else {
            p.host_ip
                .parse()
                .map_err(|_| Error::invalid(format!("invalid host ip {:?}", p.host_ip)))?
        };
        for proto in &protos {
            for i in 0..p.range.max(1) {
                out.push(Forward {
                    proto: proto.to_string(),
                    host: SocketAddr::new(ip, p.host_port + i),
                    container_port: p.container_port + i,
                });
            }
        }
    }
    Ok(out)
}
