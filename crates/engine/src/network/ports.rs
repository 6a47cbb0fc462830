//! `-p/--publish` in all of Podman's forms, and the views of published ports (`ps`'s PORTS
//! column, `port`, inspect's `Ports`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use peapod_netsetup::types::PortMapping;

use crate::container::inspect::PortBinding;
use crate::error::{Error, Result};

fn bad(spec: &str, why: &str) -> Error {
    Error::invalid(format!("invalid port format {spec:?}: {why}"))
}

/// `N` or `N-M`: the first port and how many.
fn port_range(spec: &str, s: &str) -> Result<(u16, u16)> {
    let num = |x: &str| -> Result<u16> {
        match x.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad(
                spec,
                &format!("{x:?} is not a port between 1 and 65535"),
            )),
            Ok(p) => Ok(p),
        }
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(bad(spec, "the end of a range is lower than its start"));
            }
            Ok((a, b - a + 1))
        }
        None => Ok((num(s)?, 1)),
    }
}

/// Parse one `-p` value: `[[IP:][HOSTPORT]:]CTRPORT[/PROTO]`, ports or ranges, IPv6 in
/// brackets. A missing host port is 0: a free one is picked when the container starts.
pub fn parse_publish(spec: &str) -> Result<PortMapping> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    for p in protocol.split(',') {
        if !matches!(p, "tcp" | "udp" | "sctp") {
            return Err(bad(
                spec,
                &format!("unknown protocol {p:?} (tcp, udp or sctp)"),
            ));
        }
    }
    // Split off a leading IP: "[v6]:..." or "a.b.c.d:...".
    let (host_ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r
            .split_once(']')
            .ok_or_else(|| bad(spec, "unclosed '[' around an IPv6 address"))?;
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| bad(spec, "an IP address must be followed by ':'"))?;
        (ip.to_string(), after)
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), rest),
            3 => (parts[0].to_string(), &rest[parts[0].len() + 1..]),
            _ => return Err(bad(spec, "too many ':'")),
        }
    };
    if !host_ip.is_empty() {
        host_ip
            .parse::<IpAddr>()
            .map_err(|_| bad(spec, &format!("{host_ip:?} is not an IP address")))?;
    }
    let (host, ctr) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    let (container_port, range) = port_range(spec, ctr)?;
    let host_port = if host.is_empty() {
        0
    } else {
        let (hp, hrange) = port_range(spec, host)?;
        if hrange != range {
            return Err(bad(
                spec,
                "the host port range must be as long as the container port range",
            ));
        }
        hp
    };
    if u32::from(container_port) + u32::from(range) - 1 > 65535
        || u32::from(host_port) + u32::from(range) - 1 > 65535
    {
        return Err(bad(spec, "the range goes past 65535"));
    }
    Ok(PortMapping {
        host_ip,
        container_port,
        host_port,
        range,
        protocol,
    })
}

/// The image's `EXPOSE` entries (`80/tcp`, `53/udp`, `8000-8010`) as mappings to random host
/// ports (`-P`).
pub fn publish_all(exposed: &[String]) -> Result<Vec<PortMapping>> {
    exposed.iter().map(|e| parse_publish(e)).collect()
}

/// Two mappings that would claim the same container port and protocol.
pub fn check_duplicates(ports: &[PortMapping]) -> Result<()> {
    for (i, a) in ports.iter().enumerate() {
        for b in &ports[i + 1..] {
            let overlap = a.host_port != 0
                && b.host_port != 0
                && a.protocol == b.protocol
                && a.host_port < b.host_port + b.range.max(1)
                && b.host_port < a.host_port + a.range.max(1)
                && (a.host_ip == b.host_ip || a.host_ip.is_empty() || b.host_ip.is_empty());
            if overlap {
                return Err(Error::invalid(format!(
                    "conflicting port mappings for host port {}/{}",
                    a.host_port.max(b.host_port),
                    a.protocol
                )));
            }
        }
    }
    Ok(())
}

/// The protocols of a mapping (`tcp` when none is given), as netsetup reads them. Mappings
/// are checked when parsed, so a stored one has only known protocols.
pub fn protocols(p: &PortMapping) -> Vec<&'static str> {
    p.protocols()
        .map(|v| v.into_iter().map(|x| x.as_str()).collect())
        .unwrap_or_default()
}

/// `0.0.0.0:8080->80/tcp, 127.0.0.1:8000-8010->80-90/udp`: Podman's PORTS column.
pub fn ps_ports(ports: &[PortMapping]) -> String {
    ports
        .iter()
        .flat_map(|p| {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                p.host_ip.as_str()
            };
            let span = |start: u16| {
                if p.range > 1 {
                    format!("{start}-{}", start + p.range - 1)
                } else {
                    start.to_string()
                }
            };
            protocols(p)
                .into_iter()
                .map(|proto| {
                    format!(
                        "{ip}:{}->{}/{proto}",
                        span(p.host_port),
                        span(p.container_port)
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`, one key per container port.
pub fn bindings(ports: &[PortMapping]) -> BTreeMap<String, Vec<PortBinding>> {
    let mut out: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for p in ports {
        for proto in protocols(p) {
            for i in 0..p.range.max(1) {
                out.entry(format!("{}/{proto}", p.container_port + i))
                    .or_default()
                    .push(PortBinding {
                        HostIp: p.host_ip.clone(),
                        HostPort: if p.host_port == 0 {
                            String::new()
                        } else {
                            (p.host_port + i).to_string()
                        },
                    });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(
        host_ip: &str,
        host_port: u16,
        container_port: u16,
        range: u16,
        protocol: &str,
    ) -> PortMapping {
        PortMapping {
            host_ip: host_ip.into(),
            container_port,
            host_port,
            range,
            protocol: protocol.into(),
        }
    }

    #[test]
    fn every_podman_form() {
        assert_eq!(parse_publish("80").unwrap(), pm("", 0, 80, 1, "tcp"));
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            pm("", 8080, 80, 1, "tcp")
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80").unwrap(),
            pm("127.0.0.1", 8080, 80, 1, "tcp")
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            pm("127.0.0.1", 0, 80, 1, "tcp")
        );
        assert_eq!(
            parse_publish("8000-8010:80-90").unwrap(),
            pm("", 8000, 80, 11, "tcp")
        );
        assert_eq!(parse_publish("80-82").unwrap(), pm("", 0, 80, 3, "tcp"));
        assert_eq!(
            parse_publish("53:53/udp").unwrap(),
            pm("", 53, 53, 1, "udp")
        );
        assert_eq!(parse_publish("9:9/SCTP").unwrap(), pm("", 9, 9, 1, "sctp"));
        assert_eq!(
            parse_publish("[::1]:8080:80").unwrap(),
            pm("::1", 8080, 80, 1, "tcp")
        );
    }

    #[test]
    fn what_podman_refuses() {
        for s in [
            "",
            "0",
            "70000",
            "a:80",
            "8080:80/icmp",
            "1.2.3:80:80",
            "8000-8010:80",
            "80-70",
            "1:2:3:4",
            "[::1:80:80",
            "65535-65536:1-2",
        ] {
            assert!(parse_publish(s).is_err(), "{s:?} should be refused");
        }
    }

    #[test]
    fn views() {
        let ports = vec![
            pm("", 8080, 80, 1, "tcp"),
            pm("127.0.0.1", 8000, 90, 3, "udp"),
        ];
        assert_eq!(
            ps_ports(&ports),
            "0.0.0.0:8080->80/tcp, 127.0.0.1:8000-8002->90-92/udp"
        );
        let b = bindings(&ports);
        assert_eq!(b["80/tcp"][0].HostPort, "8080");
        assert_eq!(b["92/udp"][0].HostPort, "8002");
        assert_eq!(b["92/udp"][0].HostIp, "127.0.0.1");
        assert!(
            check_duplicates(&[pm("", 8080, 80, 1, "tcp"), pm("", 8080, 81, 1, "tcp")]).is_err()
        );
        assert!(
            check_duplicates(&[pm("", 8080, 80, 1, "tcp"), pm("", 8080, 80, 1, "udp")]).is_ok()
        );
    }
}
