//! The translation on cases of Podman's `test/e2e/quadlet` (their `## assert-…` lines as
//! assertions), with peapod's differences: `--cgroups=no-conmon`, `peapod` for `podman`.

use std::path::PathBuf;

use super::unit::{UnitFile, split_words};
use super::{Kind, Source, Units};

fn source(name: &str, text: &str) -> Source {
    Source {
        path: PathBuf::from("/q").join(name),
        file_name: name.into(),
        kind: Kind::from_file_name(name).unwrap(),
        unit: UnitFile::parse(text, name).unwrap(),
    }
}

fn units(files: &[(&str, &str)]) -> Units {
    Units {
        sources: files.iter().map(|(n, t)| source(n, t)).collect(),
        peapod: "/p/bin/peapod".into(),
        user: false,
        default_dependencies: true,
    }
}

/// The generated unit of `name`, parsed back.
fn unit_of(files: &[(&str, &str)], name: &str) -> UnitFile {
    let (out, errors) = units(files).generate();
    assert!(errors.is_empty(), "{errors:?}");
    let u = out.iter().find(|u| u.file_name == name).unwrap();
    UnitFile::parse(&u.text, name).unwrap()
}

fn exec_start(u: &UnitFile) -> Vec<String> {
    split_words(&u.last("Service", "ExecStart").unwrap())
}

/// `args` appear in order, next to each other, in `argv`.
fn has_args(argv: &[String], args: &[&str]) -> bool {
    argv.windows(args.len()).any(|w| w == args)
}

#[test]
fn basic_container() {
    let u = unit_of(
        &[(
            "basic.container",
            "[Container]\nImage=localhost/imagename\n",
        )],
        "basic.service",
    );
    let argv = exec_start(&u);
    assert_eq!(argv[0], "/p/bin/peapod");
    assert_eq!(argv.last().unwrap(), "localhost/imagename");
    for a in [
        &["--name", "systemd-%N"][..],
        &["--rm"],
        &["--replace"],
        &["-d"],
        &["--cgroups=no-conmon"],
        &["--sdnotify=conmon"],
    ] {
        assert!(has_args(&argv, a), "{a:?} in {argv:?}");
    }
    assert_eq!(u.all("Unit", "RequiresMountsFor"), ["%t/containers"]);
    assert_eq!(
        u.last("Unit", "SourcePath").as_deref(),
        Some("/q/basic.container")
    );
    for (k, v) in [
        ("KillMode", "mixed"),
        ("Delegate", "yes"),
        ("Type", "notify"),
        ("NotifyAccess", "all"),
        ("SyslogIdentifier", "%N"),
        ("Environment", "PODMAN_SYSTEMD_UNIT=%n"),
    ] {
        assert_eq!(u.last("Service", k).as_deref(), Some(v), "{k}");
    }
    assert_eq!(
        u.last("Service", "ExecStop").as_deref(),
        Some("/p/bin/peapod rm -v -f -i systemd-%N")
    );
    assert_eq!(
        u.last("Service", "ExecStopPost").as_deref(),
        Some("-/p/bin/peapod rm -v -f -i systemd-%N")
    );
    assert_eq!(u.all("Unit", "Wants"), ["network-online.target"]);
    assert_eq!(u.all("Unit", "After"), ["network-online.target"]);
    // The quadlet group is kept for the reader, renamed so systemd ignores it.
    assert!(u.has_group("X-Container") && !u.has_group("Container"));
}

#[test]
fn volume_references_and_paths() {
    let text = "[Container]\nImage=localhost/imagename\nVolume=/host/dir:/container/volume\nVolume=/host/dir2:/container/volume2:Z\nVolume=./host/dir3:/container/volume3\nVolume=/container/empty\nVolume=named:/container/named\nVolume=basic.volume:/container/quadlet\nVolume=%h/container:/container/volume4\n";
    let u = unit_of(
        &[("volume.container", text), ("basic.volume", "[Volume]\n")],
        "volume.service",
    );
    let argv = exec_start(&u);
    for v in [
        "/host/dir:/container/volume",
        "/host/dir2:/container/volume2:Z",
        "/q/host/dir3:/container/volume3",
        "/container/empty",
        "named:/container/named",
        "systemd-basic:/container/quadlet",
        "%h/container:/container/volume4",
    ] {
        assert!(has_args(&argv, &["-v", v]), "-v {v} in {argv:?}");
    }
    assert!(
        u.all("Unit", "Requires")
            .contains(&"basic-volume.service".to_string())
    );
    assert!(
        u.all("Unit", "After")
            .contains(&"basic-volume.service".to_string())
    );
    assert!(
        u.all("Unit", "RequiresMountsFor")
            .contains(&"/host/dir".to_string())
    );
}

#[test]
fn basic_volume_and_network() {
    for (file, group, unit, cmd) in [
        ("basic.volume", "Volume", "basic-volume.service", "volume"),
        (
            "basic.network",
            "Network",
            "basic-network.service",
            "network",
        ),
    ] {
        let u = unit_of(&[(file, &format!("[{group}]\n"))], unit);
        assert_eq!(
            u.last("Service", "ExecStart").unwrap(),
            format!("/p/bin/peapod {cmd} create --ignore systemd-basic")
        );
        assert_eq!(u.last("Service", "Type").as_deref(), Some("oneshot"));
        assert_eq!(u.last("Service", "RemainAfterExit").as_deref(), Some("yes"));
        assert_eq!(u.last("Service", "SyslogIdentifier").as_deref(), Some("%N"));
        assert_eq!(u.all("Unit", "RequiresMountsFor"), ["%t/containers"]);
    }
}

#[test]
fn network_keys_and_reference() {
    let net = "[Network]\nNetworkName=front\nSubnet=10.89.7.0/24\nGateway=10.89.7.1\nLabel=a=b\nInternal=yes\nDisableDNS=true\n";
    let u = unit_of(&[("n.network", net)], "n-network.service");
    assert_eq!(
        u.last("Service", "ExecStart").unwrap(),
        "/p/bin/peapod network create --ignore --disable-dns --internal --subnet 10.89.7.0/24 --gateway 10.89.7.1 --label a=b front"
    );
    let c = "[Container]\nImage=i\nNetwork=n.network\nNetwork=host\n";
    let u = unit_of(&[("c.container", c), ("n.network", net)], "c.service");
    let argv = exec_start(&u);
    assert!(has_args(&argv, &["--network", "front"]), "{argv:?}");
    assert!(has_args(&argv, &["--network", "host"]), "{argv:?}");
    assert!(
        u.all("Unit", "Requires")
            .contains(&"n-network.service".to_string())
    );
}

#[test]
fn environment_as_env_container() {
    let text = "[Container]\nImage=localhost/imagename\nEnvironment=FOO1=foo1 \"FOO2=foo2 \" \\\n   FOO3=foo3 REPLACE=replace\nEnvironment=REPLACE=replaced 'FOO4=foo\\nfoo' FOO5\n";
    let argv = exec_start(&unit_of(&[("env.container", text)], "env.service"));
    assert_eq!(argv.last().unwrap(), "localhost/imagename");
    for e in [
        "FOO1=foo1",
        "FOO2=foo2 ",
        "FOO3=foo3",
        "REPLACE=replaced",
        "FOO4=foo\nfoo",
        "FOO5",
    ] {
        assert!(has_args(&argv, &["--env", e]), "--env {e:?} in {argv:?}");
    }
    assert!(!has_args(&argv, &["--env", "REPLACE=replace"]));
}

#[test]
fn ports_as_ports_container() {
    let mut text = String::from("[Container]\nImage=i\nExposeHostPort=2000-3000\n");
    let ports = [
        "127.0.0.1:80:90",
        ":80:92",
        "::95",
        "97",
        "1234:1234/udp",
        "${PORT}:${PORT}",
    ];
    for p in ports {
        text.push_str(&format!("PublishPort={p}\n"));
    }
    let u = unit_of(&[("ports.container", &text)], "ports.service");
    let argv = exec_start(&u);
    for p in ports {
        assert!(has_args(&argv, &["--publish", p]), "{p} in {argv:?}");
    }
    assert!(has_args(&argv, &["--expose", "2000-3000"]));
    // `$` is left for systemd to expand (podman#24081).
    assert!(
        u.last("Service", "ExecStart")
            .unwrap()
            .contains(" ${PORT}:${PORT}")
    );
}

#[test]
fn the_other_container_keys() {
    let text = "[Unit]\nDescription=web\n[Container]\nImage=i\nContainerName=web\nExec=sh -c 'echo hi'\nLabel=x=1\nAnnotation=y=2\nUser=1000\nGroup=100\nWorkingDir=/w\nPodmanArgs=--init\nHealthCmd=test -e /ok\nHealthInterval=5s\nNotify=yes\nReadOnly=true\nAddCapability=NET_ADMIN SYS_TIME\nDropCapability=ALL\nTmpfs=/run\nEnvironmentFile=env\n[Service]\nRestart=always\n[Install]\nWantedBy=multi-user.target\n";
    let (out, errors) = units(&[("web.container", text)]).generate();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(out[0].wanted_by, ["multi-user.target"]);
    let u = UnitFile::parse(&out[0].text, "x").unwrap();
    let argv = exec_start(&u);
    for a in [
        &["--name", "web"][..],
        &["--label", "x=1"],
        &["--annotation", "y=2"],
        &["--user", "1000:100"],
        &["--workdir", "/w"],
        &["--health-cmd", "test -e /ok"],
        &["--health-interval", "5s"],
        &["--sdnotify=container"],
        &["--read-only"],
        &["--cap-drop", "all"],
        &["--cap-add", "net_admin"],
        &["--cap-add", "sys_time"],
        &["--tmpfs", "/run"],
        &["--env-file", "/q/env"],
        &["--init", "i", "sh", "-c", "echo hi"],
    ] {
        assert!(has_args(&argv, a), "{a:?} in {argv:?}");
    }
    assert_eq!(u.last("Unit", "Description").as_deref(), Some("web"));
    assert_eq!(u.last("Service", "Restart").as_deref(), Some("always"));
    assert_eq!(
        u.last("Service", "ExecStop").unwrap(),
        "/p/bin/peapod rm -v -f -i web"
    );
}

#[test]
fn errors_name_the_file_and_the_key() {
    let (out, errors) = units(&[
        ("bad.container", "[Container]\nImage=i\nFrobnicate=1\n"),
        ("good.container", "[Container]\nImage=i\n"),
        ("noimage.container", "[Container]\nExec=true\n"),
        ("gw.network", "[Network]\nGateway=10.0.0.1\n"),
        (
            "km.container",
            "[Container]\nImage=i\n[Service]\nKillMode=process\n",
        ),
        ("grp.container", "[Container]\nImage=i\nGroup=1\n"),
    ])
    .generate();
    assert_eq!(
        out.iter().map(|u| u.file_name.as_str()).collect::<Vec<_>>(),
        ["good.service"]
    );
    assert_eq!(
        errors,
        [
            "converting \"bad.container\": unsupported key 'Frobnicate' in group 'Container' in /q/bad.container",
            "converting \"noimage.container\": no Image key specified",
            "converting \"gw.network\": cannot set gateway or range without subnet",
            "converting \"km.container\": invalid KillMode 'process'",
            "converting \"grp.container\": invalid Group set without User",
        ]
    );
}

#[test]
fn a_missing_volume_reference_is_an_error() {
    let (out, errors) = units(&[(
        "c.container",
        "[Container]\nImage=i\nVolume=nope.volume:/d\n",
    )])
    .generate();
    assert!(out.is_empty());
    assert_eq!(
        errors,
        ["converting \"c.container\": requested Quadlet volume nope.volume was not found"]
    );
}

#[test]
fn user_units_wait_for_podmans_user_network_unit() {
    let mut us = units(&[("u.container", "[Container]\nImage=i\n")]);
    us.user = true;
    let (out, _) = us.generate();
    let u = UnitFile::parse(&out[0].text, "x").unwrap();
    assert_eq!(
        u.all("Unit", "Wants"),
        ["podman-user-wait-network-online.service"]
    );
}
