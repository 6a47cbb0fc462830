//! The JSON that crosses the netavark boundary: the network options podman (or the peapod
//! engine) writes to our stdin for `setup`/`teardown`, the network definitions embedded in it
//! (Podman's `/etc/containers/networks/<name>.json` format), and the status block we print.
//!
//! Field names and shapes follow netavark 1.x as podman 4.3 drives it. Optional values
//! deserialize from both a missing key and `null`. Inputs (and network definitions) serialize
//! `None` by leaving the key out, as podman writes them; the status block keeps netavark's
//! explicit fields.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The network options JSON of `setup` and `teardown` (one container, several networks).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkOptions {
    /// The container id (64 hex digits in practice).
    pub container_id: String,
    /// The container name.
    pub container_name: String,
    /// The container hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_hostname: Option<String>,
    /// Per-network options of this container, keyed by network name.
    #[serde(default)]
    pub networks: HashMap<String, PerNetworkOptions>,
    /// Full definition of every network named in `networks`, same keys.
    #[serde(default)]
    pub network_info: HashMap<String, Network>,
    /// Published ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mappings: Option<Vec<PortMapping>>,
    /// Container-level upstream DNS servers for the DNS responder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_servers: Option<Vec<IpAddr>>,
}

/// Options of one container on one network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PerNetworkOptions {
    /// DNS names of the container on this network besides its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// Name of the interface inside the container (`eth0`). Required.
    pub interface_name: String,
    /// Addresses allocated by the engine's IPAM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_ips: Option<Vec<IpAddr>>,
    /// `aa:bb:cc:dd:ee:ff`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
    /// Driver options for this container (`mtu`, `host_interface_name`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<HashMap<String, String>>,
}

/// A network definition (Podman's network JSON).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Name of the network.
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    /// `bridge` (the only driver we implement), `macvlan`, `ipvlan`.
    pub driver: String,
    /// Host interface: the bridge name (`podman0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<String>,
    /// RFC 3339 creation time; podman sends it, netavark ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Subnets with their gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<Subnet>>,
    /// Static routes added in the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Route>>,
    /// At least one subnet is IPv6.
    #[serde(default)]
    pub ipv6_enabled: bool,
    /// No route out, no NAT.
    #[serde(default)]
    pub internal: bool,
    /// Containers resolve each other by name through the DNS responder.
    #[serde(default)]
    pub dns_enabled: bool,
    /// Network-level upstream DNS servers for the DNS responder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_dns_servers: Option<Vec<IpAddr>>,
    /// Driver options (`mtu`, `isolate`, `mode`, `metric`, `no_default_route`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<HashMap<String, String>>,
    /// IPAM options (`driver`: `host-local`, `dhcp`, `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam_options: Option<HashMap<String, String>>,
    /// User labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<HashMap<String, String>>,
}

impl Network {
    /// A driver option, if set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.as_ref()?.get(key).map(String::as_str)
    }

    /// Subnets, or none.
    pub fn subnets(&self) -> &[Subnet] {
        self.subnets.as_deref().unwrap_or_default()
    }
}

/// A subnet of a network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    /// The subnet in CIDR form (`10.88.0.0/16`).
    pub subnet: IpNet,
    /// The gateway, the bridge's address in this subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Where IPAM hands out addresses (the engine's business).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
}

/// Range of leasable addresses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LeaseRange {
    /// First address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ip: Option<String>,
    /// Last address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ip: Option<String>,
}

/// A static route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Destination in CIDR form.
    pub destination: IpNet,
    /// Next hop.
    pub gateway: IpAddr,
    /// Route metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
}

/// A published port range: `host_port..host_port+range` → `container_port..`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// Host address to publish on; empty means every address.
    #[serde(default)]
    pub host_ip: String,
    /// First port in the container.
    pub container_port: u16,
    /// First port on the host.
    pub host_port: u16,
    /// Number of ports, 1-based; 0 is treated as 1 (netavark does the same).
    #[serde(default)]
    pub range: u16,
    /// `tcp`, `udp`, `sctp`, or a comma list of them; empty means tcp.
    #[serde(default)]
    pub protocol: String,
}

/// A transport protocol of a published port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The nft/iana name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One host port forwarded to one container port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortForward {
    /// The host address, `None` for every address.
    pub host_ip: Option<IpAddr>,
    /// Protocol.
    pub protocol: Protocol,
    /// Host port.
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
}

/// A port mapping that cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortMappingError {
    /// Unknown protocol name.
    #[error("invalid protocol {0:?} in port mapping (want tcp, udp or sctp)")]
    Protocol(String),
    /// Bad host address.
    #[error("invalid host_ip {0:?} in port mapping")]
    HostIp(String),
    /// Range past 65535.
    #[error("port range {port}+{range} goes past 65535")]
    Range {
        /// First port.
        port: u16,
        /// Range length.
        range: u16,
    },
    /// Port 0.
    #[error("port 0 cannot be published")]
    Zero,
}

impl PortMapping {
    /// The protocols of this mapping (`"tcp,udp"` → two).
    pub fn protocols(&self) -> Result<Vec<Protocol>, PortMappingError> {
        if self.protocol.trim().is_empty() {
            return Ok(vec![Protocol::Tcp]);
        }
        let mut out = Vec::new();
        for p in self.protocol.split(',') {
            let p = match p.trim() {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                "sctp" => Protocol::Sctp,
                other => return Err(PortMappingError::Protocol(other.to_string())),
            };
            if !out.contains(&p) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Expand into single-port forwards: one per protocol and port of the range.
    pub fn expand(&self) -> Result<Vec<PortForward>, PortMappingError> {
        let range = self.range.max(1);
        if self.host_port == 0 || self.container_port == 0 {
            return Err(PortMappingError::Zero);
        }
        for port in [self.host_port, self.container_port] {
            if u32::from(port) + u32::from(range) - 1 > 65535 {
                return Err(PortMappingError::Range { port, range });
            }
        }
        let host_ip = match self.host_ip.trim() {
            "" => None,
            ip => Some(
                ip.parse::<IpAddr>()
                    .map_err(|_| PortMappingError::HostIp(ip.to_string()))?,
            ),
        };
        let mut out = Vec::new();
        for protocol in self.protocols()? {
            for i in 0..range {
                out.push(PortForward {
                    host_ip,
                    protocol,
                    host_port: self.host_port + i,
                    container_port: self.container_port + i,
                });
            }
        }
        Ok(out)
    }
}

/// The result of `setup` for one network.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusBlock {
    /// Search domains for the container's resolv.conf (`dns.podman` when DNS is on).
    #[serde(default)]
    pub dns_search_domains: Option<Vec<String>>,
    /// Name servers for the container's resolv.conf (the gateways when DNS is on).
    #[serde(default)]
    pub dns_server_ips: Option<Vec<IpAddr>>,
    /// Interfaces created in the container, keyed by name.
    #[serde(default)]
    pub interfaces: Option<BTreeMap<String, NetInterface>>,
}

/// One interface in the container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetInterface {
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac_address: String,
    /// Its addresses with their gateways.
    #[serde(default)]
    pub subnets: Option<Vec<NetAddress>>,
}

/// An address of an interface: its own IP with the subnet's prefix length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetAddress {
    /// e.g. `10.88.0.14/16`.
    pub ipnet: IpNet,
    /// The subnet's gateway, `None` on internal networks without one.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
}

/// `setup`'s stdout: network name → status.
pub type SetupOutput = BTreeMap<String, StatusBlock>;

/// What we print on failure: `{"error": "..."}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorOutput {
    /// The message.
    pub error: String,
}

/// `version`'s stdout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionOutput {
    /// Our version.
    pub version: String,
    /// Git commit, empty when unknown.
    pub commit: String,
    /// Build time, empty when unknown.
    pub build_time: String,
    /// Target triple-ish.
    pub target: String,
}

/// The search domain aardvark-dns (and our responder) serves.
pub const DNS_SEARCH_DOMAIN: &str = "dns.podman";

/// Format a MAC address as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parse `aa:bb:cc:dd:ee:ff` (or `-` separated).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = text.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut out = [0u8; 6];
    for (slot, part) in out.iter_mut().zip(parts) {
        if part.len() != 2 {
            return None;
        }
        *slot = u8::from_str_radix(part, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What podman 4.3.1 wrote to netavark's stdin for `podman run --network n7 -p
    /// 42071:80/udp` (captured with our binary as its netavark).
    const PODMAN_SETUP: &str = r#"{"container_id":"48e3e27e771326082772febc61815696999c6a2fda61407f844b6467902b0865","container_name":"web2","port_mappings":[{"host_ip":"","container_port":80,"host_port":42071,"range":1,"protocol":"udp"}],"networks":{"n7":{"static_ips":["10.232.7.7"],"aliases":["48e3e27e7713"],"interface_name":"eth0"}},"network_info":{"n7":{"name":"n7","id":"f77b8b1ddf4e2c1dd4ec12476b2d98faae6444439174f14c240bfc1ad24ad838","driver":"bridge","network_interface":"pp7","created":"2026-11-21T02:56:23.984455261Z","subnets":[{"subnet":"10.232.7.0/24","gateway":"10.232.7.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":true,"ipam_options":{"driver":"host-local"}}}}"#;

    #[test]
    fn parses_podman_input() {
        let o: NetworkOptions = serde_json::from_str(PODMAN_SETUP).unwrap();
        assert_eq!(o.container_name, "web2");
        let n = &o.networks["n7"];
        assert_eq!(n.interface_name, "eth0");
        assert_eq!(
            n.static_ips.as_deref(),
            Some(&["10.232.7.7".parse().unwrap()][..])
        );
        assert_eq!(
            n.aliases.as_deref(),
            Some(&["48e3e27e7713".to_string()][..])
        );
        assert_eq!(n.static_mac, None);
        let info = &o.network_info["n7"];
        assert!(info.dns_enabled && !info.internal);
        assert_eq!(info.network_interface.as_deref(), Some("pp7"));
        assert_eq!(info.subnets()[0].subnet.to_string(), "10.232.7.0/24");
        assert_eq!(
            info.subnets()[0].gateway,
            Some("10.232.7.1".parse().unwrap())
        );
        assert_eq!(info.option("mtu"), None);
        let ports = o.port_mappings.as_ref().unwrap();
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].protocols(), Ok(vec![Protocol::Udp]));
        // Round trip keeps every field podman sent.
        let back: serde_json::Value = serde_json::to_value(&o).unwrap();
        let orig: serde_json::Value = serde_json::from_str(PODMAN_SETUP).unwrap();
        assert_eq!(back["network_info"], orig["network_info"]);
        assert_eq!(back["port_mappings"], orig["port_mappings"]);
    }

    #[test]
    fn nulls_and_missing_optionals() {
        let o: NetworkOptions = serde_json::from_str(
            r#"{"container_id":"a","container_name":"b","port_mappings":null,"dns_servers":null,
               "networks":{"podman":{"interface_name":"eth0","static_ips":null,"aliases":null}},
               "network_info":{"podman":{"name":"podman","id":"x","driver":"bridge",
                 "network_interface":"podman0","subnets":null,"routes":null,"options":null,
                 "ipv6_enabled":false,"internal":false,"dns_enabled":false}}}"#,
        )
        .unwrap();
        assert!(o.port_mappings.is_none());
        assert!(o.network_info["podman"].subnets().is_empty());
    }

    #[test]
    fn missing_interface_name_is_an_error() {
        let err = serde_json::from_str::<PerNetworkOptions>(r#"{"static_ips":["10.0.0.2"]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("interface_name"), "{err}");
    }

    #[test]
    fn status_matches_netavark_shape() {
        let mut interfaces = BTreeMap::new();
        interfaces.insert(
            "eth0".to_string(),
            NetInterface {
                mac_address: "62:fa:a5:84:75:92".into(),
                subnets: Some(vec![NetAddress {
                    ipnet: "10.88.0.14/16".parse().unwrap(),
                    gateway: Some("10.88.0.1".parse().unwrap()),
                }]),
            },
        );
        let mut out = SetupOutput::new();
        out.insert(
            "podman".into(),
            StatusBlock {
                dns_search_domains: Some(vec![]),
                dns_server_ips: Some(vec![]),
                interfaces: Some(interfaces),
            },
        );
        let text = serde_json::to_string(&out).unwrap();
        assert_eq!(
            text,
            r#"{"podman":{"dns_search_domains":[],"dns_server_ips":[],"interfaces":{"eth0":{"mac_address":"62:fa:a5:84:75:92","subnets":[{"ipnet":"10.88.0.14/16","gateway":"10.88.0.1"}]}}}}"#
        );
        // And what netavark 1.4 prints parses back.
        let netavark = r#"{"podman":{"dns_search_domains":[],"dns_server_ips":[],"interfaces":{"eth0":{"mac_address":"62:fa:a5:84:75:92","subnets":[{"gateway":"10.88.0.1","ipnet":"10.88.0.14/16"}]}}}}"#;
        let back: SetupOutput = serde_json::from_str(netavark).unwrap();
        assert_eq!(back, out);
    }

    #[test]
    fn port_mapping_expansion() {
        let pm = PortMapping {
            host_ip: "".into(),
            container_port: 53,
            host_port: 5353,
            range: 2,
            protocol: "tcp,udp".into(),
        };
        let f = pm.expand().unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(f[0].protocol, Protocol::Tcp);
        assert_eq!((f[1].host_port, f[1].container_port), (5354, 54));
        assert_eq!(f[2].protocol, Protocol::Udp);
        assert_eq!(f[0].host_ip, None);

        let single = PortMapping {
            host_ip: "127.0.0.1".into(),
            container_port: 80,
            host_port: 8080,
            range: 0,
            protocol: "".into(),
        };
        let f = single.expand().unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(f[0].protocol, Protocol::Tcp);

        let bad = PortMapping {
            protocol: "icmp".into(),
            ..single.clone()
        };
        assert_eq!(bad.expand(), Err(PortMappingError::Protocol("icmp".into())));
        let far = PortMapping {
            host_port: 65535,
            range: 2,
            ..single.clone()
        };
        assert!(matches!(far.expand(), Err(PortMappingError::Range { .. })));
        let ip = PortMapping {
            host_ip: "localhost".into(),
            ..single
        };
        assert_eq!(
            ip.expand(),
            Err(PortMappingError::HostIp("localhost".into()))
        );
    }

    #[test]
    fn macs() {
        assert_eq!(
            format_mac(&[0x62, 0xfa, 0, 1, 2, 0xff]),
            "62:fa:00:01:02:ff"
        );
        assert_eq!(
            parse_mac("62:FA:00:01:02:ff"),
            Some([0x62, 0xfa, 0, 1, 2, 0xff])
        );
        assert_eq!(parse_mac("62:fa:00:01:02"), None);
        assert_eq!(parse_mac("62:fa:00:01:02:fff"), None);
    }
}
