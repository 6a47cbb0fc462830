//! Networks: definitions in Podman's JSON format, address and port leases, network
//! namespaces, and the calls to the network helper (peapod-netsetup or netavark) that do the
//! kernel work.

mod attach;
pub use attach::PORTS_DISCARDED_WARNING;
mod connect;
pub mod files;
pub mod ipam;
mod lo;
pub mod machine;
mod mode;
pub mod netns;
pub mod pasta;
pub mod ports;
mod reload;
mod report;
pub(crate) mod setup;
pub mod slirp;
pub mod store;

pub use attach::{NetworkPlan, NetworkSpec};
pub use mode::{NetworkMode, NetworkRequest};
pub use peapod_netsetup::types::{Network, PortMapping, StatusBlock, Subnet};
pub use store::{DEFAULT_NETWORK, NetworkCreate};

/// Every address a network status block records (with its gateway), on any interface.
pub fn status_addresses(
    status: &StatusBlock,
) -> impl Iterator<Item = &peapod_netsetup::types::NetAddress> {
    status
        .interfaces
        .iter()
        .flat_map(|i| i.values())
        .flat_map(|i| i.subnets.iter().flatten())
}
