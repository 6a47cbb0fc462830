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
use nftables::expr::{
    BinaryOperation, Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload,
    PayloadField, Prefix,
};
use nftables::helper::{self, NftablesError};
use nftables::schema::{Chain, NfListObject, NfObject, Nftables, Rule, Table};
use nftables::stmt::{JumpTarget, Mangle, Match, NAT, NATFamily, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use crate::types::PortForward;

/// Name of our table (family inet).
pub const TABLE: &str = "peapod";
const HOSTPORT_DNAT: &str = "PEAPOD-HOSTPORT-DNAT";
const HOSTPORT_SETMARK: &str = "PEAPOD-HOSTPORT-SETMARK";
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

/// What the firewall needs to know about a network.
#[derive(Clone, Debug)]
pub struct NetworkFw {
    /// Network id (64 hex); its first 8 digits name the chains.
    pub id: String,
    /// Bridge name.
    pub bridge: String,
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
pub trait Firewall {
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

// ---- expression helpers -------------------------------------------------------------------

fn s(text: impl Into<String>) -> Expression<'static> {
    Expression::String(Cow::Owned(text.into()))
}

fn payload(protocol: &'static str, field: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::Payload(Payload::PayloadField(
        PayloadField {
            protocol: Cow::Borrowed(protocol),
            field: Cow::Borrowed(field),
        },
    )))
}

fn ip_proto(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "ip",
        IpNet::V6(_) => "ip6",
    }
}

fn ip_proto_of(ip: &IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "ip",
        IpAddr::V6(_) => "ip6",
    }
}

fn prefix(net: &IpNet) -> Expression<'static> {
    Expression::Named(NamedExpression::Prefix(Prefix {
        addr: Box::new(s(net.network().to_string())),
        len: u32::from(net.prefix_len()),
    }))
}

fn cmp(left: Expression<'static>, op: Operator, right: Expression<'static>) -> Statement<'static> {
    Statement::Match(Match { left, right, op })
}

fn eq(left: Expression<'static>, right: Expression<'static>) -> Statement<'static> {
    cmp(left, Operator::EQ, right)
}

fn meta_mark() -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key: MetaKey::Mark }))
}

fn ct(key: &'static str) -> Expression<'static> {
    Expression::Named(NamedExpression::CT(nftables::expr::CT {
        key: Cow::Borrowed(key),
        family: None,
        dir: None,
    }))
}

fn and(a: Expression<'static>, mask: u32) -> Expression<'static> {
    Expression::BinaryOperation(Box::new(BinaryOperation::AND(a, Expression::Number(mask))))
}

fn or(a: Expression<'static>, bits: u32) -> Expression<'static> {
    Expression::BinaryOperation(Box::new(BinaryOperation::OR(vec![
        a,
        Expression::Number(bits),
    ])))
}

fn jump(target: impl Into<String>) -> Statement<'static> {
    Statement::Jump(JumpTarget {
        target: Cow::Owned(target.into()),
    })
}

fn rule(
    chain: &str,
    expr: Vec<Statement<'static>>,
    comment: Option<String>,
) -> NfListObject<'static> {
    NfListObject::Rule(Rule {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        chain: Cow::Owned(chain.to_string()),
        expr: Cow::Owned(expr),
        handle: None,
        index: None,
        comment: comment.map(Cow::Owned),
    })
}

fn chain(name: &str) -> NfListObject<'static> {
    NfListObject::Chain(Chain {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        name: Cow::Owned(name.to_string()),
        newname: None,
        handle: None,
        _type: None,
        hook: None,
        prio: None,
        dev: None,
        policy: None,
    })
}

fn base_chain(name: &str, kind: NfChainType, hook: NfHook, prio: i32) -> NfListObject<'static> {
    NfListObject::Chain(Chain {
        family: NfFamily::INet,
        table: Cow::Borrowed(TABLE),
        name: Cow::Owned(name.to_string()),
        newname: None,
        handle: None,
        _type: Some(kind),
        hook: Some(hook),
        prio: Some(prio),
        dev: None,
        policy: Some(NfChainPolicy::Accept),
    })
}

fn table() -> NfListObject<'static> {
    NfListObject::Table(Table {
        family: NfFamily::INet,
        name: Cow::Borrowed(TABLE),
        handle: None,
    })
}

fn fib_local() -> Statement<'static> {
    eq(
        Expression::Named(NamedExpression::Fib(Fib {
            result: FibResult::Type,
            flags: HashSet::from([FibFlag::Daddr]),
        })),
        s("local"),
    )
}

/// The table, its base chains and the rules that do not depend on any network.
pub fn base_objects() -> Vec<NfListObject<'static>> {
    vec![
        table(),
        base_chain("PREROUTING", NfChainType::NAT, NfHook::Prerouting, -100),
        base_chain("OUTPUT", NfChainType::NAT, NfHook::Output, -100),
        base_chain("POSTROUTING", NfChainType::NAT, NfHook::Postrouting, 100),
        base_chain("FORWARD", NfChainType::Filter, NfHook::Forward, 0),
        base_chain("INPUT", NfChainType::Filter, NfHook::Input, 0),
        chain(HOSTPORT_DNAT),
        chain(HOSTPORT_SETMARK),
        rule("PREROUTING", vec![fib_local(), jump(HOSTPORT_DNAT)], None),
        rule("OUTPUT", vec![fib_local(), jump(HOSTPORT_DNAT)], None),
        rule(
            "POSTROUTING",
            vec![
                eq(and(meta_mark(), MASQ_MARK), Expression::Number(MASQ_MARK)),
                Statement::Masquerade(None),
            ],
            None,
        ),
        rule(
            HOSTPORT_SETMARK,
            vec![Statement::Mangle(Mangle {
                key: meta_mark(),
                value: or(meta_mark(), MASQ_MARK),
            })],
            None,
        ),
        rule(
            "FORWARD",
            vec![
                cmp(ct("state"), Operator::IN, s("invalid")),
                Statement::Drop(None),
            ],
            None,
        ),
        rule(
            "FORWARD",
            vec![
                eq(and(ct("mark"), DNAT_MARK), Expression::Number(DNAT_MARK)),
                Statement::Accept(None),
            ],
            None,
        ),
    ]
}

/// The chains and rules of one network subnet.
pub fn network_objects(net: &NetworkFw, subnet: &IpNet) -> Vec<NfListObject<'static>> {
    let name = subnet_chain(&net.id, subnet);
    let dnat = format!("{name}_dnat");
    let c = || Some(net_comment(&name));
    let p = ip_proto(subnet);
    let mut v = vec![chain(&name), chain(&dnat)];
    if !net.internal {
        let multicast: IpNet = match subnet {
            IpNet::V4(_) => "224.0.0.0/4".parse().expect("constant"),
            IpNet::V6(_) => "ff00::/8".parse().expect("constant"),
        };
        v.push(rule(
            &name,
            vec![
                eq(payload(p, "daddr"), prefix(subnet)),
                Statement::Accept(None),
            ],
            c(),
        ));
        v.push(rule(
            &name,
            vec![
                cmp(payload(p, "daddr"), Operator::NEQ, prefix(&multicast)),
                Statement::Masquerade(None),
            ],
            c(),
        ));
        v.push(rule(
            "POSTROUTING",
            vec![eq(payload(p, "saddr"), prefix(subnet)), jump(&name)],
            c(),
        ));
        v.push(rule(
            "FORWARD",
            vec![
                eq(payload(p, "daddr"), prefix(subnet)),
                cmp(
                    ct("state"),
                    Operator::IN,
                    Expression::List(vec![s("established"), s("related")]),
                ),
                Statement::Accept(None),
            ],
            c(),
        ));
        v.push(rule(
            "FORWARD",
            vec![
                eq(payload(p, "saddr"), prefix(subnet)),
                Statement::Accept(None),
            ],
            c(),
        ));
    }
    if net.dns {
        for proto in ["udp", "tcp"] {
            v.push(rule(
                "INPUT",
                vec![
                    eq(payload(p, "saddr"), prefix(subnet)),
                    eq(payload(proto, "dport"), Expression::Number(53)),
                    Statement::Accept(None),
                ],
                c(),
            ));
        }
    }
    v
}

/// The port-forward rules of one container on one network subnet.
pub fn container_objects(
    net: &NetworkFw,
    subnet: &IpNet,
    ctr: &ContainerFw,
) -> Vec<NfListObject<'static>> {
    let name = subnet_chain(&net.id, subnet);
    let dnat = format!("{name}_dnat");
    let comment = || Some(ctr_comment(&ctr.id, &name));
    let Some(ip) = ctr.ips.iter().find(|ip| subnet.contains(*ip)) else {
        return Vec::new();
    };
    let p = ip_proto(subnet);
    let mut v = Vec::new();
    for f in &ctr.forwards {
        // A forward bound to an address of the other family does not apply here.
        if let Some(h) = f.host_ip
            && ip_proto_of(&h) != p
        {
            continue;
        }
        let daddr = f.host_ip.map(|h| eq(payload(p, "daddr"), s(h.to_string())));
        let dport = || {
            eq(
                payload(f.protocol.as_str(), "dport"),
                Expression::Number(u32::from(f.host_port)),
            )
        };
        let with = |mut head: Vec<Statement<'static>>, tail: Vec<Statement<'static>>| {
            head.extend(daddr.clone());
            head.push(dport());
            head.extend(tail);
            head
        };
        v.push(rule(
            HOSTPORT_DNAT,
            with(vec![], vec![jump(&dnat)]),
            comment(),
        ));
        // Hairpin: a container of this network reaching a published port via a host address.
        v.push(rule(
            &dnat,
            with(
                vec![eq(payload(p, "saddr"), prefix(subnet))],
                vec![jump(HOSTPORT_SETMARK)],
            ),
            comment(),
        ));
        if p == "ip" {
            // From the host's own 127.0.0.1 (needs route_localnet on the bridge).
            v.push(rule(
                &dnat,
                with(
                    vec![eq(payload(p, "saddr"), s("127.0.0.1"))],
                    vec![jump(HOSTPORT_SETMARK)],
                ),
                comment(),
            ));
        }
        v.push(rule(
            &dnat,
            with(
                vec![],
                vec![
                    Statement::Mangle(Mangle {
                        key: ct("mark"),
                        value: or(ct("mark"), DNAT_MARK),
                    }),
                    Statement::DNAT(Some(NAT {
                        addr: Some(s(ip.to_string())),
                        family: Some(match ip {
                            IpAddr::V4(_) => NATFamily::IP,
                            IpAddr::V6(_) => NATFamily::IP6,
                        }),
                        port: Some(Expression::Number(u32::from(f.container_port))),
                        flags: None,
                    })),
                ],
            ),
            comment(),
        ));
    }
    v
}

/// The current table, `None` when it does not exist.
fn current_table() -> Result<Option<Nftables<'static>>> {
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

fn apply(objects: Vec<NfListObject<'static>>, delete: Vec<NfListObject<'static>>) -> Result<()> {
    if objects.is_empty() && delete.is_empty() {
        return Ok(());
    }
    let mut batch = Batch::new();
    for o in objects {
        batch.add(o);
    }
    for o in delete {
        batch.delete(o);
    }
    helper::apply_ruleset(&batch.to_nftables())?;
    Ok(())
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
        if current.is_none() {
            add.extend(base_objects());
        }
        for subnet in &net.subnets {
            if !chains.contains(&subnet_chain(&net.id, subnet)) {
                add.extend(network_objects(net, subnet));
            }
            add.extend(container_objects(net, subnet, ctr));
        }
        apply(add, Vec::new())
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
                return apply(Vec::new(), vec![table()]);
            }
        }
        apply(Vec::new(), delete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Protocol;

    fn net() -> NetworkFw {
        NetworkFw {
            id: "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9".into(),
            bridge: "podman0".into(),
            subnets: vec!["10.88.0.0/16".parse().unwrap()],
            internal: false,
            dns: true,
        }
    }

    #[test]
    fn chain_names_like_netavark() {
        assert_eq!(
            subnet_chain(&net().id, &"10.88.0.0/16".parse().unwrap()),
            "nv_2f259bab_10_88_0_0_nm16"
        );
        assert_eq!(
            subnet_chain("abcdef0123", &"fd00:1::/64".parse().unwrap()),
            "nv_abcdef01_fd00_1___nm64"
        );
    }

    #[test]
    fn network_rules_json() {
        let n = net();
        let objs = network_objects(&n, &n.subnets[0]);
        let json = serde_json::to_string(&objs).unwrap();
        assert!(
            json.contains(r#""comment":"peapod net=nv_2f259bab_10_88_0_0_nm16""#),
            "{json}"
        );
        assert!(json.contains(r#"{"masquerade":null}"#), "{json}");
        assert!(
            json.contains(r#""prefix":{"addr":"224.0.0.0","len":4}"#),
            "{json}"
        );
        // 2 chains, 2 in nv_, 1 postrouting, 2 forward, 2 input.
        assert_eq!(objs.len(), 9);
        let internal = NetworkFw {
            internal: true,
            dns: false,
            ..n
        };
        assert_eq!(network_objects(&internal, &internal.subnets[0]).len(), 2);
    }

    #[test]
    fn container_rules_per_port() {
        let n = net();
        let ctr = ContainerFw {
            id: "c1".into(),
            ips: vec!["10.88.0.5".parse().unwrap()],
            forwards: vec![
                PortForward {
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    protocol: Protocol::Tcp,
                    host_port: 8080,
                    container_port: 80,
                },
                PortForward {
                    host_ip: Some("::1".parse().unwrap()),
                    protocol: Protocol::Udp,
                    host_port: 53,
                    container_port: 53,
                },
            ],
        };
        let objs = container_objects(&n, &n.subnets[0], &ctr);
        // The v6 host_ip is skipped on a v4 subnet: jump + hairpin + localhost + dnat.
        assert_eq!(objs.len(), 4);
        let json = serde_json::to_string(&objs).unwrap();
        assert!(
            json.contains(r#""dnat":{"addr":"10.88.0.5","family":"ip","port":80}"#),
            "{json}"
        );
        assert!(json.contains(r#""comment":"peapod ctr=c1 net=nv_2f259bab_10_88_0_0_nm16""#));
        assert!(json.contains(r#""right":"127.0.0.1""#));
        // No address in this subnet: nothing.
        let other = ContainerFw {
            ips: vec!["10.99.0.5".parse().unwrap()],
            ..ctr
        };
        assert!(container_objects(&n, &n.subnets[0], &other).is_empty());
    }
}
