//! Firewall drivers: `nftables` (default) and `none`.
//!
//! The nftables driver keeps everything in one table, `inet peapod`, laid out like netavark's
//! `inet netavark` table (netavark ≥ 1.9):
//!
//! ```text
//! PREROUTING  (nat, dstnat -100)  fib daddr type local jump PEAPOD-HOSTPORT-DNAT
//! OUTPUT      (nat, -100)         fib daddr type local jump PEAPOD-HOSTPORT-DNAT
//! POSTROUTING (nat, srcnat 100)   meta mark & 0x2000 == 0x2000 masquerade
//!                                 ip saddr <subnet> jump nv_<id8>_<subnet>          [net]
//! FORWARD     (filter 0)          ct state invalid drop; ct mark & 0x1000 == 0x1000 accept
//!                                 ip daddr <subnet> ct state related,established accept [net]
//!                                 ip saddr <subnet> accept                            [net]
//! INPUT       (filter 0)          ip saddr <subnet> udp|tcp dport 53 accept           [net, dns]
//! PEAPOD-HOSTPORT-SETMARK         meta mark set meta mark | 0x2000
//! PEAPOD-HOSTPORT-DNAT            [ip daddr H] tcp dport P jump nv_…_dnat             [ctr]
//! nv_<id8>_<subnet>               ip daddr <subnet> accept; ip daddr != 224.0.0.0/4 masquerade
//! nv_<id8>_<subnet>_dnat          ip saddr <subnet> [ip daddr H] tcp dport P jump SETMARK (hairpin) [ctr]
//!                                 ip saddr 127.0.0.1 [ip daddr H] tcp dport P jump SETMARK          [ctr]
//!                                 [ip daddr H] tcp dport P ct mark set ct mark | 0x1000 dnat ip to C:CP [ctr]
//! ```
//!
//! Rules marked `[net]` carry the comment `peapod net=<chain>`; `[ctr]` rules carry
//! `peapod ctr=<container id> net=<chain>`. Teardown deletes rules by these comments (found
//! by handle in `nft -j list table`), so it removes exactly what setup added. The network's
//! chains and `[net]` rules go when its last container leaves, the table when its last
//! network goes. 127.0.0.1-published ports work because the bridge has `route_localnet=1`
//! and the 0x2000 mark makes POSTROUTING masquerade the 127.0.0.1 source.
//!
//! Callers serialise setup/teardown with a global lock, so "is this chain there yet?" checks
//! are not racy.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use nftables::batch::Batch;
use nftables::helper::{self, NftablesError};
use nftables::schema::{NfCmd, NfListObject, NfObject, Nftables, Rule};
use nftables::types::NfFamily;

use crate::types::PortForward;

/// Name of our table (family inet).
pub const TABLE: &str = "peapod";
const HOSTPORT_DNAT: &str = "PEAPOD-HOSTPORT-DNAT";
const HOSTPORT_SETMARK: &str = "PEAPOD-HOSTPORT-SETMARK";
const ISOLATION_1: &str = "PEAPOD-ISOLATION-1";
const ISOLATION_2: &str = "PEAPOD-ISOLATION-2";
const ISOLATION_3: &str = "PEAPOD-ISOLATION-3";
const MASQ_MARK: u32 = 0x2000;
const DNAT_MARK: u32 = 0x1000;

/// A firewall failure.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// `nft` failed.
    #[error("nftables: {0}")]
    Nft(String),
    /// Unknown driver name.
    #[error("unknown firewall driver {0:?} (want nftables or none)")]
    UnknownDriver(String),
}

impl From<NftablesError> for FirewallError {
    fn from(e: NftablesError) -> Self {
        match e {
            NftablesError::NftFailed { hint, stderr, .. } => {
                FirewallError::Nft(format!("{hint}: {}", stderr.trim()))
            }
            e => FirewallError::Nft(e.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, FirewallError>;

/// The `isolate` option of a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolate {
    /// Reaches other networks through the host (the default).
    No,
    /// `true`: no traffic to other isolated networks.
    Yes,
    /// `strict`: no traffic to any other network.
    Strict,
}

/// What the firewall needs to know about a network.
#[derive(Clone, Debug)]
pub struct NetworkFw {
    /// Network id (64 hex); its first 8 digits name the chains.
    pub id: String,
    /// Bridge name (isolation rules match it).
    pub bridge: String,
    /// The `isolate` option.
    pub isolate: Isolate,
    /// Subnets.
    pub subnets: Vec<IpNet>,
    /// Internal: no masquerade, no forwarding.
    pub internal: bool,
    /// DNS responder on the gateway: allow port 53 in.
    pub dns: bool,
}

/// What the firewall needs to know about a container on a network.
#[derive(Clone, Debug)]
pub struct ContainerFw {
    /// Container id.
    pub id: String,
    /// Its addresses on this network.
    pub ips: Vec<IpAddr>,
    /// Its published ports.
    pub forwards: Vec<PortForward>,
}

/// A firewall backend.
pub trait Firewall: Sync {
    /// Add the network's rules (if not there yet) and the container's port forwards.
    fn setup(&self, net: &NetworkFw, ctr: &ContainerFw) -> Result<()>;
    /// Remove the container's rules; with `complete`, the network's too.
    fn teardown(&self, net: &NetworkFw, ctr: &ContainerFw, complete: bool) -> Result<()>;
}

/// The driver called `name` (`nftables`, `none`; empty means the default, nftables).
pub fn driver(name: &str) -> Result<Box<dyn Firewall>> {
    match name {
        "" | "nftables" => Ok(Box::new(Nft)),
        "none" => Ok(Box::new(NoFirewall)),
        other => Err(FirewallError::UnknownDriver(other.to_string())),
    }
}

/// The `none` driver: does nothing (the user manages the firewall).
pub struct NoFirewall;

impl Firewall for NoFirewall {
    fn setup(&self, _: &NetworkFw, _: &ContainerFw) -> Result<()> {
        Ok(())
    }
    fn teardown(&self, _: &NetworkFw, _: &ContainerFw, _: bool) -> Result<()> {
        Ok(())
    }
}

/// The nftables driver (drives `nft -j`).
pub struct Nft;

/// Chain name of a network subnet: `nv_<id8>_<subnet with . : / replaced>`.
pub fn subnet_chain(net_id: &str, subnet: &IpNet) -> String {
    let id: String = net_id.chars().take(8).collect();
    let sub = subnet
        .trunc()
        .to_string()
        .replace(['.', ':'], "_")
        .replace('/', "_nm");
    format!("nv_{id}_{sub}")
}

fn net_comment(chain: &str) -> String {
    format!("peapod net={chain}")
}

fn ctr_comment(ctr: &str, chain: &str) -> String {
    format!("peapod ctr={ctr} net={chain}")
}

mod rules;

mod libnft;

pub use rules::{
    base_objects, container_objects, isolation_base, isolation_objects, network_objects,
};
use rules::{chain, table};

/// The current table, `None` when it does not exist.
fn current_table() -> Result<Option<Nftables<'static>>> {
    if let Some(outcome) = libnft::run(&format!("list table inet {TABLE}")) {
        return match outcome {
            Ok(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| FirewallError::Nft(format!("the listed table: {e}"))),
            Err(stderr) if stderr.contains("No such file") => Ok(None),
            Err(stderr) => Err(FirewallError::Nft(format!(
                "getting the current ruleset: {}",
                stderr.trim()
            ))),
        };
    }
    match helper::get_current_ruleset_with_args(
        helper::DEFAULT_NFT,
        ["list", "table", "inet", TABLE],
    ) {
        Ok(t) => Ok(Some(t)),
        Err(NftablesError::NftFailed { stderr, .. }) if stderr.contains("No such file") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn chains_of(t: &Nftables<'_>) -> HashSet<String> {
    t.objects
        .iter()
        .filter_map(|o| match o {
            NfObject::ListObject(NfListObject::Chain(c)) => Some(c.name.to_string()),
            _ => None,
        })
        .collect()
}

/// One batch: `add` appended, `insert` put at the top of their chains, `delete` removed.
fn apply(
    add: Vec<NfListObject<'static>>,
    insert: Vec<NfListObject<'static>>,
    delete: Vec<NfListObject<'static>>,
) -> Result<()> {
    if add.is_empty() && insert.is_empty() && delete.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::new();
    for o in add {
        batch.add(o);
    }
    for o in insert {
        batch.add_cmd(NfCmd::Insert(o));
    }
    for o in delete {
        batch.delete(o);
    }
    let batch = batch.to_nftables();
    let json = serde_json::to_string(&batch).map_err(|e| FirewallError::Nft(e.to_string()))?;
    match libnft::run(&json) {
        Some(Ok(_)) => Ok(()),
        Some(Err(stderr)) => Err(FirewallError::Nft(format!(
            "applying ruleset: {}",
            stderr.trim()
        ))),
        None => {
            helper::apply_ruleset_raw(&json, helper::DEFAULT_NFT, helper::DEFAULT_ARGS)?;
            Ok(())
        }
    }
}

/// Rules of the table whose comment satisfies `pick`, as delete commands (by handle).
fn rules_to_delete(t: &Nftables<'_>, pick: impl Fn(&str) -> bool) -> Vec<NfListObject<'static>> {
    t.objects
        .iter()
        .filter_map(|o| match o {
            NfObject::ListObject(NfListObject::Rule(r))
                if r.comment.as_deref().is_some_and(&pick) =>
            {
                Some(NfListObject::Rule(Rule {
                    family: NfFamily::INet,
                    table: Cow::Borrowed(TABLE),
                    chain: Cow::Owned(r.chain.to_string()),
                    expr: Cow::Owned(Vec::new()),
                    handle: r.handle,
                    index: None,
                    comment: None,
                }))
            }
            _ => None,
        })
        .collect()
}

impl Firewall for Nft {
    fn setup(&self, net: &NetworkFw, ctr: &ContainerFw) -> Result<()> {
        let current = current_table()?;
        let chains = current.as_ref().map(chains_of).unwrap_or_default();
        let mut add = Vec::new();
        let mut insert = Vec::new();
        if current.is_none() {
            add.extend(base_objects());
        } else if !chains.contains(ISOLATION_1) {
            add.extend(isolation_base(Some(1)));
        }
        for (i, subnet) in net.subnets.iter().enumerate() {
            let name = subnet_chain(&net.id, subnet);
            if !chains.contains(&name) {
                add.extend(network_objects(net, subnet));
                if i == 0 {
                    // Per bridge, not per subnet: tagged with the first subnet's chain.
                    let (a, ins) = isolation_objects(net, &name);
                    add.extend(a);
                    insert.extend(ins);
                }
            }
            add.extend(container_objects(net, subnet, ctr));
        }
        apply(add, insert, Vec::new())
    }

    fn teardown(&self, net: &NetworkFw, ctr: &ContainerFw, complete: bool) -> Result<()> {
        let Some(current) = current_table()? else {
            return Ok(());
        };
        let names: Vec<String> = net
            .subnets
            .iter()
            .map(|s| subnet_chain(&net.id, s))
            .collect();
        let ctr_tags: Vec<String> = names.iter().map(|n| ctr_comment(&ctr.id, n)).collect();
        let mut delete = rules_to_delete(&current, |c| ctr_tags.iter().any(|t| t == c));
        if complete {
            let net_tags: Vec<String> = names.iter().map(|n| net_comment(n)).collect();
            // Every rule of this network: its own and any container's left behind.
            let ctr_suffixes: Vec<String> = names.iter().map(|n| format!(" net={n}")).collect();
            delete = rules_to_delete(&current, |c| {
                net_tags.iter().any(|t| t == c)
                    || (c.starts_with("peapod ctr=")
                        && ctr_suffixes.iter().any(|sfx| c.ends_with(sfx.as_str())))
            });
            let chains = chains_of(&current);
            for n in &names {
                for name in [n.clone(), format!("{n}_dnat")] {
                    // Its rules are all tagged and deleted above, in the same batch.
                    if chains.contains(&name) {
                        delete.push(chain(&name));
                    }
                }
            }
            let remaining = chains
                .iter()
                .filter(|c| {
                    c.starts_with("nv_")
                        && !names.iter().any(|n| *c == n || **c == format!("{n}_dnat"))
                })
                .count();
            if remaining == 0 {
                // Last network gone: the whole table goes (one delete removes everything).
                return apply(Vec::new(), Vec::new(), vec![table()]);
            }
        }
        apply(Vec::new(), Vec::new(), delete)
    }
}
