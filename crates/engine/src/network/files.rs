//! `/etc/hosts` and `/etc/resolv.conf` for a container, from its networks and flags.

use std::net::IpAddr;

use crate::container::Container;

/// The container's addresses (with their gateways) on its networks, in network order.
fn leases(c: &Container) -> impl Iterator<Item = &peapod_netsetup::types::NetAddress> {
    c.state
        .network_status
        .values()
        .flat_map(super::status_addresses)
}

fn addresses(c: &Container) -> Vec<IpAddr> {
    leases(c).map(|s| s.ipnet.addr()).collect()
}

fn gateways(c: &Container) -> Vec<IpAddr> {
    leases(c).filter_map(|s| s.gateway).collect()
}

/// Podman's hosts file: localhost, the container's own names on each of its addresses,
/// `host.containers.internal` (the host, through the gateway), then `--add-host` entries.
/// With `--network host` the host's own file, plus the additions.
pub fn hosts(c: &Container, host_hosts: &str) -> String {
    let mut text = String::new();
    for h in &c.config.names.add_hosts {
        if let Some((name, ip)) = h.split_once(':') {
            let ip = if ip == "host-gateway" {
                gateways(c)
                    .first()
                    .map(|g| g.to_string())
                    .unwrap_or_else(|| "127.0.0.1".into())
            } else {
                ip.to_string()
            };
            text.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    if c.config.network_mode == "host" {
        text.push_str(host_hosts);
        return text;
    }
    text.push_str(
        "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n",
    );
    text.push_str("::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n");
    let own = format!("{} {}", c.config.hostname, c.config.name);
    let addrs = addresses(c);
    if addrs.is_empty() {
        text.push_str(&format!("127.0.1.1\t{own}\n"));
    }
    for a in &addrs {
        text.push_str(&format!("{a}\t{own}\n"));
    }
    let host = if c.state.network_status.contains_key(super::slirp::SLIRP) {
        super::slirp::host_containers_internal(&c.config.network_mode)
    } else {
        gateways(c).first().copied()
    };
    if let Some(g) = host {
        text.push_str(&format!("{g}\thost.containers.internal\n"));
    }
    text
}

/// Nameservers of a resolv.conf that a container can reach: loopback resolvers (a local
/// stub like systemd-resolved) mean nothing inside its own network namespace.
fn usable_nameservers(resolv: &str) -> Vec<String> {
    resolv
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|s| s.trim().to_string())
        .filter(|s| {
            s.parse::<IpAddr>()
                .map(|ip| !ip.is_loopback())
                .unwrap_or(false)
        })
        .collect()
}

fn lines_with(resolv: &str, key: &str) -> Vec<String> {
    resolv
        .lines()
        .filter_map(|l| l.trim().strip_prefix(key))
        .flat_map(|s| s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// Podman's resolv.conf: the network's DNS server when the network has one (it forwards the
/// rest, to `--dns` when given), else `--dns` or the host's usable nameservers; search
/// domains and options from the flags, else the host's.
pub fn resolv_conf(c: &Container, host_resolv: &str) -> String {
    let n = &c.config.names;
    let mut servers: Vec<String> = c
        .state
        .network_status
        .values()
        .flat_map(|s| s.dns_server_ips.iter().flatten())
        .map(|ip| ip.to_string())
        .collect();
    let mut search: Vec<String> = c
        .state
        .network_status
        .values()
        .flat_map(|s| s.dns_search_domains.iter().flatten())
        .cloned()
        .collect();
    // With a DNS responder on the network, it is the only nameserver: it answers the
    // network's names and forwards the rest to the container's `--dns` servers (handed to it
    // as the options' `dns_servers`), as Podman does with netavark since 4.4
    // (containers/podman#16172). Listing `--dns` here too would let the resolver skip the
    // network's names.
    // slirp4netns's DNS forwarder comes first, then the usual servers (Podman 4).
    let slirp = c.state.network_status.contains_key(super::slirp::SLIRP);
    if servers.is_empty() || slirp {
        servers.extend(if n.dns_servers.is_empty() {
            usable_nameservers(host_resolv)
        } else {
            n.dns_servers.iter().map(|s| s.to_string()).collect()
        });
    }
    if c.config.network_mode == "host" && n.dns_servers.is_empty() {
        // The host's network: its own resolvers work, loopback ones included.
        return host_resolv.to_string();
    }
    if n.dns_search.is_empty() {
        search.extend(lines_with(host_resolv, "search"));
    } else {
        search.extend(n.dns_search.iter().filter(|s| *s != ".").cloned());
    }
    let options = if n.dns_options.is_empty() {
        lines_with(host_resolv, "options")
    } else {
        n.dns_options.clone()
    };
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for s in &servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_resolvers_are_dropped() {
        let host =
            "# comment\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nsearch lan\n";
        assert_eq!(usable_nameservers(host), ["10.0.0.2"]);
        assert_eq!(lines_with(host, "search"), ["lan"]);
    }
}
