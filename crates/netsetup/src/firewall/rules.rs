//! The nftables objects of the `inet peapod` table, as JSON-schema values: the table and its
//! base chains, a network's chains and rules, a container's port forwards, a network's
//! isolation rules. Building them needs no kernel (unit-tested below); `super` applies them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::net::IpAddr;

use ipnet::IpNet;
use nftables::expr::{
    BinaryOperation, Expression, Fib, FibFlag, FibResult, Meta, MetaKey, NamedExpression, Payload,
    PayloadField, Prefix,
};
use nftables::schema::{Chain, NfListObject, Rule, Table};
use nftables::stmt::{JumpTarget, Mangle, Match, NAT, NATFamily, Operator, Statement};
use nftables::types::{NfChainPolicy, NfChainType, NfFamily, NfHook};

use super::*;

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

pub(super) fn rule(
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

pub(super) fn chain(name: &str) -> NfListObject<'static> {
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

pub(super) fn table() -> NfListObject<'static> {
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
    let mut v = vec![
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
    ];
    v.extend(isolation_base(None));
    v
}

/// The isolation chains (netavark's NETAVARK-ISOLATION-1..3), the last rule of the third and
/// FORWARD's jump into the first: right after the published-port accept, so DNAT'd traffic
/// is never isolated, and before any network's accept rules. `at` places that jump when
/// the table exists already (a table made before isolation was implemented): after
/// FORWARD's second rule, the DNAT accept.
pub fn isolation_base(at: Option<u32>) -> Vec<NfListObject<'static>> {
    let mut to_chain_1 = rule("FORWARD", vec![jump(ISOLATION_1)], None);
    if let NfListObject::Rule(r) = &mut to_chain_1 {
        r.index = at;
    }
    vec![
        chain(ISOLATION_1),
        chain(ISOLATION_2),
        chain(ISOLATION_3),
        to_chain_1,
        // Always the last rule of ISOLATION-3: non-isolated networks' drops go before it.
        rule(ISOLATION_3, vec![jump(ISOLATION_2)], None),
    ]
}

fn ifname(key: MetaKey, op: Operator, bridge: &str) -> Statement<'static> {
    cmp(
        Expression::Named(NamedExpression::Meta(Meta { key })),
        op,
        s(bridge),
    )
}

/// A network's isolation rules, tagged `tag`: `(to append, to insert at the top)`.
///
/// As netavark: an isolated network's bridge sends what leaves for another bridge to
/// ISOLATION-2 (`true`) or ISOLATION-3 (`strict`). ISOLATION-2 drops what goes out through
/// an isolated network's bridge; ISOLATION-3 drops what goes out through a non-isolated
/// one, then goes on to ISOLATION-2. So `true` networks cannot reach each other, and a
/// `strict` one reaches no other network at all. Non-isolated networks reach everyone.
pub fn isolation_objects(
    net: &NetworkFw,
    tag: &str,
) -> (Vec<NfListObject<'static>>, Vec<NfListObject<'static>>) {
    let c = || Some(net_comment(tag));
    let drop_out = |chain: &str| {
        rule(
            chain,
            vec![
                ifname(MetaKey::Oifname, Operator::EQ, &net.bridge),
                Statement::Drop(None),
            ],
            c(),
        )
    };
    let target = match net.isolate {
        Isolate::No => return (Vec::new(), vec![drop_out(ISOLATION_3)]),
        Isolate::Yes => ISOLATION_2,
        Isolate::Strict => ISOLATION_3,
    };
    let leave = rule(
        ISOLATION_1,
        vec![
            ifname(MetaKey::Iifname, Operator::EQ, &net.bridge),
            ifname(MetaKey::Oifname, Operator::NEQ, &net.bridge),
            jump(target),
        ],
        c(),
    );
    (vec![leave, drop_out(ISOLATION_2)], Vec::new())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Protocol;

    fn net() -> NetworkFw {
        NetworkFw {
            id: "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9".into(),
            bridge: "podman0".into(),
            isolate: Isolate::No,
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

    #[test]
    fn isolation_rules_like_netavark() {
        let tag = "nv_2f259bab_10_88_0_0_nm16";
        let with = |isolate| NetworkFw { isolate, ..net() };
        let json = |v: &Vec<NfListObject<'static>>| serde_json::to_string(v).unwrap();

        let (add, insert) = isolation_objects(&with(Isolate::Yes), tag);
        assert!(insert.is_empty());
        let a = json(&add);
        assert!(a.contains(r#""chain":"PEAPOD-ISOLATION-1""#), "{a}");
        assert!(
            a.contains(r#"{"jump":{"target":"PEAPOD-ISOLATION-2"}}"#),
            "{a}"
        );
        assert!(
            a.contains(r#""op":"!=""#) && a.contains(r#""right":"podman0""#),
            "{a}"
        );
        assert!(a.contains(r#""chain":"PEAPOD-ISOLATION-2""#) && a.contains(r#"{"drop":null}"#));
        assert!(
            a.contains(&format!(r#""comment":"peapod net={tag}""#)),
            "{a}"
        );

        let (add, _) = isolation_objects(&with(Isolate::Strict), tag);
        assert!(json(&add).contains(r#"{"jump":{"target":"PEAPOD-ISOLATION-3"}}"#));

        // Not isolated: only a drop at the top of ISOLATION-3 (for strict networks' traffic).
        let (add, insert) = isolation_objects(&with(Isolate::No), tag);
        assert!(add.is_empty());
        assert_eq!(insert.len(), 1);
        assert!(json(&insert).contains(r#""chain":"PEAPOD-ISOLATION-3""#));
    }

    #[test]
    fn an_old_table_gets_the_isolation_jump_after_the_dnat_accept() {
        let v = isolation_base(Some(1));
        let jump = v
            .iter()
            .find_map(|o| match o {
                NfListObject::Rule(r) if r.chain == "FORWARD" => Some(r),
                _ => None,
            })
            .unwrap();
        assert_eq!(jump.index, Some(1));
        // A new table has it in order instead: right after the DNAT accept.
        let base = base_objects();
        let forward: Vec<String> = base
            .iter()
            .filter_map(|o| match o {
                NfListObject::Rule(r) if r.chain == "FORWARD" => {
                    Some(serde_json::to_string(&r.expr).unwrap())
                }
                _ => None,
            })
            .collect();
        assert_eq!(forward.len(), 3, "{forward:?}");
        assert!(forward[1].contains("accept") && forward[2].contains("PEAPOD-ISOLATION-1"));
    }
}
