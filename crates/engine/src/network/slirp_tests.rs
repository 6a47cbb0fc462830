use super::*;

#[test]
fn podmans_defaults_and_command_line() {
    let o = SlirpOptions::from_mode("slirp4netns").unwrap();
    assert_eq!(o, SlirpOptions::default());
    assert_eq!(o.guest(), Ipv4Addr::new(10, 0, 2, 100));
    assert_eq!(o.gateway(), Ipv4Addr::new(10, 0, 2, 2));
    assert_eq!(o.dns(), Ipv4Addr::new(10, 0, 2, 3));
    let args = o
        .args(Path::new("/run/user/1/netns/x"), None, true)
        .join(" ");
    assert_eq!(
        args,
        "--disable-host-loopback --mtu=65520 --enable-sandbox --enable-seccomp --enable-ipv6 -c -e 3 -r 4 --netns-type=path /run/user/1/netns/x tap0"
    );
}

#[test]
fn options_parse_and_bad_ones_are_named() {
    let o = SlirpOptions::from_mode(
        "slirp4netns:port_handler=slirp4netns,allow_host_loopback=true,cidr=10.5.0.0/16,enable_ipv6=false,mtu=1500",
    )
    .unwrap();
    assert_eq!(o.port_handler, PortHandler::Slirp4netns);
    assert!(o.allow_host_loopback && !o.enable_ipv6);
    assert_eq!(o.guest(), Ipv4Addr::new(10, 5, 0, 100));
    assert_eq!(o.mtu, 1500);
    let args = o
        .args(Path::new("/n"), Some(Path::new("/s")), false)
        .join(" ");
    assert!(args.contains("--cidr=10.5.0.0/16") && args.contains("--api-socket=/s"));
    assert!(!args.contains("-e 3") && !args.contains("--disable-host-loopback"));
    for (bad, word) in [
        ("slirp4netns:port_handler=x", "port_handler"),
        ("slirp4netns:mtu=0", "mtu"),
        ("slirp4netns:cidr=10.0.0.0/30", "cidr"),
        ("slirp4netns:enable_ipv6=maybe", "enable_ipv6"),
        ("slirp4netns:nope=1", "nope"),
        ("slirp4netns:novalue", "novalue"),
    ] {
        let e = SlirpOptions::from_mode(bad).unwrap_err().to_string();
        assert!(e.contains(word), "{bad}: {e}");
    }
}

#[test]
fn ranges_expand_and_udp_is_forwarded() {
    let p = PortMapping {
        host_ip: "127.0.0.1".into(),
        container_port: 80,
        host_port: 8080,
        range: 3,
        protocol: "tcp".into(),
    };
    let f = forwards(std::slice::from_ref(&p)).unwrap();
    assert_eq!(
        f.iter().map(Forward::to_arg).collect::<Vec<_>>(),
        [
            "tcp:127.0.0.1:8080:80",
            "tcp:127.0.0.1:8081:81",
            "tcp:127.0.0.1:8082:82"
        ]
    );
    let udp = PortMapping {
        protocol: "udp".into(),
        ..p
    };
    let f = forwards(std::slice::from_ref(&udp)).unwrap();
    assert_eq!(f[0].to_arg(), "udp:127.0.0.1:8080:80");
    let sctp = PortMapping {
        protocol: "sctp".into(),
        ..udp
    };
    let e = forwards(&[sctp]).unwrap_err();
    assert!(e.to_string().contains("only tcp and udp"), "{e}");
}
