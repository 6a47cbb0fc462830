//! peapod-netsetup: container networking with netavark's protocol.
//!
//! The library holds the wire types the engine uses ([`types`]) and the implementation
//! behind the binary: [`commands`] (setup/teardown as netavark does them), [`bridge`]
//! (netlink), [`firewall`] (nftables), [`dns`] (the name server for `dns_enabled` networks).
#![deny(unsafe_code)]

pub mod bridge;
pub mod commands;
pub mod dns;
pub mod error;
pub mod firewall;
pub mod netlink;
pub mod types;

pub use error::Error;
