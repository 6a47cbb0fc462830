use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn applied(changes: &[&str]) -> Config {
    let mut c = Config::default();
    apply_changes(&mut c, &s(changes)).unwrap();
    c
}

#[test]
fn cmd_and_entrypoint_forms() {
    assert_eq!(
        parse_change(r#"CMD ["/bin/ls", "-l"]"#).unwrap(),
        Change::Cmd(s(&["/bin/ls", "-l"]))
    );
    assert_eq!(
        parse_change("CMD echo hi there").unwrap(),
        Change::Cmd(s(&["/bin/sh", "-c", "echo hi there"]))
    );
    assert_eq!(
        parse_change("cmd  ").unwrap(),
        Change::Cmd(s(&["/bin/sh", "-c"]))
    );
    assert_eq!(
        parse_change("ENTRYPOINT ").unwrap(),
        Change::Entrypoint(vec![])
    );
    assert_eq!(
        parse_change("CMD=/bin/true").unwrap(),
        Change::Cmd(s(&["/bin/sh", "-c", "/bin/true"]))
    );
    assert_eq!(
        parse_change(r#"ENTRYPOINT ["/init"]"#).unwrap(),
        Change::Entrypoint(s(&["/init"]))
    );
    assert_eq!(
        parse_change("ENTRYPOINT /init --x").unwrap(),
        Change::Entrypoint(s(&["/bin/sh", "-c", "/init --x"]))
    );
    // Not valid JSON (unquoted) → shell form.
    assert_eq!(
        parse_change("ENTRYPOINT [/init]").unwrap(),
        Change::Entrypoint(s(&["/bin/sh", "-c", "[/init]"]))
    );
    let c = applied(&["CMD /bin/a", r#"CMD ["b"]"#]);
    assert_eq!(c.cmd().as_deref(), Some(&s(&["b"])[..]));
}

#[test]
fn cmd_without_value_is_an_error() {
    let e = parse_change("CMD").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid change "CMD": must be formatted as KEY VALUE"#
    );
}

#[test]
fn env_forms() {
    assert_eq!(
        parse_change(r#"ENV K=V K2="v 2" K3='a b' K4=x\ y"#).unwrap(),
        Change::Env(vec![
            ("K".into(), "V".into()),
            ("K2".into(), "v 2".into()),
            ("K3".into(), "a b".into()),
            ("K4".into(), "x y".into())
        ])
    );
    assert_eq!(
        parse_change("ENV PATH /usr/bin:/bin extra").unwrap(),
        Change::Env(vec![("PATH".into(), "/usr/bin:/bin extra".into())])
    );
    assert_eq!(
        parse_change("ENV EMPTY=").unwrap(),
        Change::Env(vec![("EMPTY".into(), "".into())])
    );
    assert!(parse_change("ENV A=1 B").is_err());
    assert!(parse_change("ENV =x").is_err());
    assert!(
        parse_change(r#"ENV A="open"#)
            .unwrap_err()
            .to_string()
            .contains("unterminated")
    );
    let c = applied(&["ENV A=1 B=2", "ENV A=3"]);
    assert_eq!(c.env().as_deref(), Some(&s(&["A=3", "B=2"])[..]));
}

#[test]
fn expose_forms() {
    assert_eq!(
        parse_change("EXPOSE 80 443/tcp 53/UDP").unwrap(),
        Change::Expose(s(&["80/tcp", "443/tcp", "53/udp"]))
    );
    for bad in [
        "EXPOSE 0",
        "EXPOSE 70000",
        "EXPOSE http",
        "EXPOSE 80/sctp",
        "EXPOSE 80/tcp/x",
        "EXPOSE  ",
    ] {
        let e = parse_change(bad).unwrap_err().to_string();
        assert!(e.starts_with(&format!("invalid change {bad:?}")), "{e}");
    }
    let c = applied(&["EXPOSE 80", "EXPOSE 80/tcp 81"]);
    assert_eq!(
        c.exposed_ports().as_deref(),
        Some(&s(&["80/tcp", "81/tcp"])[..])
    );
}

#[test]
fn labels() {
    let c = applied(&[r#"LABEL k=v "k 2"="v 2" empty="#]);
    let l = c.labels().clone().unwrap();
    assert_eq!(l.get("k").map(String::as_str), Some("v"));
    assert_eq!(l.get("k 2").map(String::as_str), Some("v 2"));
    assert_eq!(l.get("empty").map(String::as_str), Some(""));
    assert!(parse_change("LABEL novalue").is_err());
    assert!(parse_change("LABEL =v").is_err());
}

#[test]
fn volume_user_workdir_stopsignal() {
    assert_eq!(
        parse_change(r#"VOLUME ["/a", "/b c"]"#).unwrap(),
        Change::Volume(s(&["/a", "/b c"]))
    );
    assert_eq!(
        parse_change("VOLUME /a /b").unwrap(),
        Change::Volume(s(&["/a", "/b"]))
    );
    assert!(parse_change(r#"VOLUME [""]"#).is_err());
    assert!(parse_change("VOLUME []").is_err());
    let c = applied(&[
        "VOLUME /a",
        "VOLUME /a /b",
        "USER 1000:1000",
        "WORKDIR /srv",
        "WORKDIR app/../data",
    ]);
    assert_eq!(c.volumes().as_deref(), Some(&s(&["/a", "/b"])[..]));
    assert_eq!(c.user().as_deref(), Some("1000:1000"));
    assert_eq!(c.working_dir().as_deref(), Some("/srv/data"));
    assert_eq!(
        applied(&["WORKDIR /x", "WORKDIR /y"])
            .working_dir()
            .as_deref(),
        Some("/x/y")
    );
    assert_eq!(
        parse_change("STOPSIGNAL SIGKILL").unwrap(),
        Change::StopSignal("9".into())
    );
    assert_eq!(
        parse_change("STOPSIGNAL term").unwrap(),
        Change::StopSignal("15".into())
    );
    assert_eq!(
        parse_change("STOPSIGNAL 2").unwrap(),
        Change::StopSignal("2".into())
    );
    assert_eq!(
        parse_change("STOPSIGNAL RTMIN+2").unwrap(),
        Change::StopSignal("36".into())
    );
    assert!(parse_change("STOPSIGNAL SIGNOPE").is_err());
    assert!(parse_change("STOPSIGNAL 99").is_err());
    assert!(parse_change("USER  ").is_err());
    assert!(parse_change("WORKDIR  ").is_err());
}

#[test]
fn onbuild_accepted_and_dropped() {
    let c = applied(&["ONBUILD RUN make"]);
    assert_eq!(c, Config::default());
    assert!(parse_change("ONBUILD ").is_err());
}

#[test]
fn unknown_instructions_rejected_and_nothing_applied() {
    let e = parse_change("RUN make").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid change "RUN make": invalid instruction RUN"#
    );
    assert!(parse_change("FROM x").is_err());
    let mut c = Config::default();
    assert!(apply_changes(&mut c, &s(&["USER bob", "HEALTHCHECK NONE"])).is_err());
    assert_eq!(c, Config::default());
}
