//! Networks: definitions in Podman's JSON format, address and port leases, network
//! namespaces, and the calls to the network helper (peapod-netsetup or netavark) that do the
//! kernel work.

mod attach;
mod connect;
pub mod files;
pub mod ipam;
pub mod netns;
pub mod ports;
mod setup;
pub mod store;

pub use attach::{NetworkFlags, NetworkPlan};
pub use peapod_netsetup::types::{Network, PortMapping, StatusBlock, Subnet};
pub use store::{DEFAULT_NETWORK, NetworkCreate};
