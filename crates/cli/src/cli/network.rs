//! `network …` and `port`: their flags.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Display the network configuration for one or more networks
    Inspect(NetworkInspectArgs),
    /// Remove networks
    #[command(alias = "remove")]
    Rm(NetworkRmArgs),
    /// Remove all unused networks
    Prune(NetworkPruneArgs),
    /// Check if a network exists
    Exists(NetworkExistsArgs),
    /// Add a container to a network
    Connect(NetworkConnectArgs),
    /// Remove a container from a network
    Disconnect(NetworkDisconnectArgs),
    /// Reload firewall rules for one or more containers
    Reload(NetworkReloadArgs),
}

#[derive(Debug, Args)]
pub struct NetworkReloadArgs {
    /// Reload network configuration of all containers
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Act on the latest container podman is aware of
    #[arg(short = 'l', long)]
    pub latest: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkConnectArgs {
    /// Network scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
    /// IPv4 address for the container on this network
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address for the container on this network
    #[arg(long)]
    pub ip6: Option<String>,
    /// The MAC address of the container on this network
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkDisconnectArgs {
    /// Force the removal of the container from the network (accepted)
    #[arg(short = 'f', long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    /// Driver to manage the network (bridge)
    #[arg(short = 'd', long)]
    pub driver: Option<String>,
    /// Subnet in CIDR format
    #[arg(long)]
    pub subnet: Vec<String>,
    /// IPv4 or IPv6 gateway for the subnet
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Allocate container IPs from a range (CIDR or START-END)
    #[arg(long = "ip-range")]
    pub ip_range: Vec<String>,
    /// Restrict external access from this network
    #[arg(long)]
    pub internal: bool,
    /// Set metadata on a network
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options (mtu, isolate, …)
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Name of the network interface (the bridge)
    #[arg(long = "interface-name")]
    pub interface_name: Option<String>,
    /// Disable the network's DNS server
    #[arg(long = "disable-dns")]
    pub disable_dns: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// Do not fail if the network already exists
    #[arg(long)]
    pub ignore: bool,
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct NetworkLsArgs {
    /// Pretty-print networks to JSON or using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Display only names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Provide filter values (name=, id=, driver=, label=)
    #[arg(short = 'f', long)]
    pub filter: Vec<String>,
    /// Display the full network ID
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Do not print headers
    #[arg(long)]
    pub noheading: bool,
}

#[derive(Debug, Args)]
pub struct NetworkInspectArgs {
    /// Pretty-print network to JSON or using a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkRmArgs {
    /// Remove any containers using the network
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Seconds to wait before forcibly stopping the running containers that use the network
    #[arg(short = 't', long = "time")]
    pub time: Option<u32>,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (label=, name=)
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NetworkExistsArgs {
    pub network: String,
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Display port information for all containers
    #[arg(short = 'a', long)]
    pub all: bool,
    pub container: Option<String>,
    /// PORT[/PROTO]
    pub port: Option<String>,
}
