//! peapod-netsetup: container networking with netavark's protocol.
//!
//! The library holds the wire types the engine uses ([`types`]) and the implementation
//! behind the binary: [`commands`] (setup/teardown as netavark does them), [`bridge`]
//! (netlink), [`firewall`] (nftables), [`dns`] (the name server for `dns_enabled` networks).
//! The `netlink` feature alone gives the engine [`netlink`] to read what the host has.
#![deny(unsafe_code)]

#[cfg(feature = "backend")]
pub mod bridge;
#[cfg(feature = "backend")]
pub mod commands;
#[cfg(feature = "backend")]
mod detach;
#[cfg(feature = "backend")]
pub mod dns;
#[cfg(feature = "backend")]
pub mod error;
#[cfg(feature = "backend")]
pub mod firewall;
#[cfg(feature = "netlink")]
pub mod forward;
#[cfg(feature = "netlink")]
pub mod netlink;
pub mod types;

#[cfg(feature = "backend")]
pub use error::Error;
