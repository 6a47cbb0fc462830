use super::*;

const FILE: &str = "10.89.0.1 1.1.1.1\n\
    c1 10.89.0.2  web,alias1\n\
    c2 10.89.0.3 fd00::3 db 9.9.9.9\n";

#[test]
fn parse_render_round_trip() {
    let f = NetFile::parse(FILE);
    assert_eq!(f.listen, vec!["10.89.0.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(f.upstreams, vec!["1.1.1.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(f.entries.len(), 2);
    assert_eq!(f.entries[0].names, vec!["web", "alias1"]);
    assert!(f.entries[0].v6.is_empty());
    assert_eq!(f.entries[1].v6, vec!["fd00::3".parse::<IpAddr>().unwrap()]);
    assert_eq!(
        f.entries[1].upstreams,
        vec!["9.9.9.9".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(f.render(), FILE);
}

#[test]
fn add_and_remove_entries() {
    let dir = tempfile::tempdir().unwrap();
    let gw: IpAddr = "10.89.0.1".parse().unwrap();
    let e = |id: &str, ip: &str| Entry {
        id: id.into(),
        v4: vec![ip.parse().unwrap()],
        v6: vec![],
        names: vec![format!("n{id}")],
        upstreams: vec![],
    };
    add_entry(dir.path(), "net", &[gw], &[], e("a", "10.89.0.2")).unwrap();
    add_entry(dir.path(), "net", &[gw], &[], e("b", "10.89.0.3")).unwrap();
    add_entry(dir.path(), "net", &[gw], &[], e("a", "10.89.0.4")).unwrap();
    let f = &load(dir.path())["net"];
    assert_eq!(f.entries.len(), 2);
    assert_eq!(
        f.entries[1].v4,
        vec!["10.89.0.4".parse::<IpAddr>().unwrap()]
    );
    remove_entry(dir.path(), "net", "a").unwrap();
    assert_eq!(load(dir.path())["net"].entries.len(), 1);
    remove_entry(dir.path(), "net", "b").unwrap();
    assert!(load(dir.path()).is_empty());
    remove_entry(dir.path(), "net", "b").unwrap();
}

fn ask(r: &Records, listen: &str, src: &str, name: &str, qtype: RecordType) -> Answer {
    let q = Query {
        listen: listen.parse().unwrap(),
        src: src.parse().unwrap(),
        name,
        qtype,
    };
    r.resolve(&q, &["192.0.2.53".parse().unwrap()])
}

#[test]
fn resolution_is_scoped_to_the_network() {
    let mut nets = BTreeMap::new();
    nets.insert("one".to_string(), NetFile::parse(FILE));
    nets.insert(
        "two".to_string(),
        NetFile::parse("10.90.0.1\nc9 10.90.0.9  other\n"),
    );
    let r = Records::new(nets);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let (gw1, c1) = ("10.89.0.1", "10.89.0.2");
    assert_eq!(
        ask(&r, gw1, c1, "web", RecordType::A),
        Answer::Local(vec![ip("10.89.0.2")])
    );
    assert_eq!(
        ask(&r, gw1, c1, "WEB.dns.podman.", RecordType::A),
        Answer::Local(vec![ip("10.89.0.2")])
    );
    assert_eq!(
        ask(&r, gw1, c1, "alias1", RecordType::AAAA),
        Answer::Local(vec![])
    );
    assert_eq!(
        ask(&r, gw1, c1, "db", RecordType::AAAA),
        Answer::Local(vec![ip("fd00::3")])
    );
    // Another network's container is not visible from this gateway.
    assert_eq!(
        ask(&r, gw1, c1, "other.dns.podman", RecordType::A),
        Answer::NxDomain
    );
    assert_eq!(
        ask(&r, "10.90.0.1", "10.90.0.9", "example.org", RecordType::A),
        Answer::Forward(vec![ip("192.0.2.53")])
    );
}

#[test]
fn forwarding_picks_the_askers_servers_first() {
    let mut nets = BTreeMap::new();
    nets.insert("one".to_string(), NetFile::parse(FILE));
    let r = Records::new(nets);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let gw = "10.89.0.1";
    // c2 (10.89.0.3) has its own server: it wins over the network's.
    assert_eq!(
        ask(&r, gw, "10.89.0.3", "example.org", RecordType::A),
        Answer::Forward(vec![ip("9.9.9.9")])
    );
    // c1 has none: the network's.
    assert_eq!(
        ask(&r, gw, "10.89.0.2", "example.org", RecordType::A),
        Answer::Forward(vec![ip("1.1.1.1")])
    );
    // A sender we do not know: the network's too.
    assert_eq!(
        ask(&r, gw, "10.89.0.200", "example.org", RecordType::A),
        Answer::Forward(vec![ip("1.1.1.1")])
    );
    // Names of the network are still answered locally, whoever asks.
    assert_eq!(
        ask(&r, gw, "10.89.0.3", "web", RecordType::A),
        Answer::Local(vec![ip("10.89.0.2")])
    );
}

#[test]
fn answers_on_the_wire() {
    let mut nets = BTreeMap::new();
    nets.insert("one".to_string(), NetFile::parse(FILE));
    let r = Records::new(nets);
    let mut q = Message::new();
    q.set_id(4242).set_recursion_desired(true);
    q.add_query(hickory_proto::op::Query::query(
        hickory_proto::rr::Name::from_ascii("web.dns.podman.").unwrap(),
        RecordType::A,
    ));
    let bytes = q.to_vec().unwrap();
    let at = ("10.89.0.1".parse().unwrap(), "10.89.0.3".parse().unwrap());
    let a = Message::from_vec(&handle(&r, at, &bytes, &[]).unwrap()).unwrap();
    assert_eq!(a.id(), 4242);
    assert_eq!(a.response_code(), ResponseCode::NoError);
    assert_eq!(a.answers().len(), 1);
    assert_eq!(
        a.answers()[0].data(),
        &RData::A(A("10.89.0.2".parse().unwrap()))
    );
    let mut q2 = q.clone();
    q2.take_queries();
    q2.add_query(hickory_proto::op::Query::query(
        hickory_proto::rr::Name::from_ascii("nope.dns.podman.").unwrap(),
        RecordType::A,
    ));
    let a = Message::from_vec(&handle(&r, at, &q2.to_vec().unwrap(), &[]).unwrap()).unwrap();
    assert_eq!(a.response_code(), ResponseCode::NXDomain);
}

#[test]
fn host_resolvers_skip_loopback() {
    let conf = "# x\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nnameserver ::1\nnameserver fe80::1%eth0\nsearch lan\n";
    assert_eq!(
        host_upstreams(conf),
        vec![
            "10.255.255.53".parse::<IpAddr>().unwrap(),
            "fe80::1".parse().unwrap()
        ]
    );
}
