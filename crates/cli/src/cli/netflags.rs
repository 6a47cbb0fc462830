//! The network flags `run`/`create` and `pod create` share, and their one conversion into
//! the engine's typed [`NetworkSpec`].

use clap::Args;
use peapod_engine::Error;
use peapod_engine::network::{NetworkMode, NetworkSpec, ports::parse_publish};

#[derive(Debug, Args, Clone, Default)]
pub struct NetworkArgs {
    /// Connect to a network: NAME[,NAME…], NAME:ip=…,mac=…,alias=…, bridge, none, host, private, ns:PATH, container:ID, slirp4netns[:OPTS], pasta[:OPTS]
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    /// Specify a static IPv4 address
    #[arg(long)]
    pub ip: Option<String>,
    /// Specify a static IPv6 address
    #[arg(long)]
    pub ip6: Option<String>,
    /// MAC address (e.g. 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Add network-scoped alias
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// Publish a container's port, or a range of ports, to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set custom DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
}

impl NetworkArgs {
    /// The flags, parsed (`publish_all`: `-P`, which only `run`/`create` have).
    pub fn spec(&self, publish_all: bool) -> Result<NetworkSpec, Error> {
        let ip = |v: &Option<String>, flag| {
            v.as_deref()
                .map(|s| NetworkSpec::parse_ip(s, flag))
                .transpose()
        };
        Ok(NetworkSpec {
            mode: NetworkMode::parse(&self.network)?,
            ip: ip(&self.ip, "--ip")?,
            ip6: ip(&self.ip6, "--ip6")?,
            mac_address: self.mac_address.clone(),
            aliases: self.network_alias.clone(),
            publish: self
                .publish
                .iter()
                .map(|p| parse_publish(p))
                .collect::<Result<_, _>>()?,
            publish_all,
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_option: self.dns_option.clone(),
            add_host: self.add_host.clone(),
        })
    }
}
