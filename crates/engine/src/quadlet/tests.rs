//! The translation on cases of Podman's `test/e2e/quadlet` (their `## assert-…` lines as
//! assertions), with `peapod` for `podman`.

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
        &["--cgroups=split"],
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
        ["converting \"c.container\": requested Quadlet source nope.volume was not found"]
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

fn line(u: &UnitFile, key: &str) -> String {
    u.last("Service", key).unwrap_or_default()
}

#[test]
fn basic_kube_and_configmap_kube() {
    let u = unit_of(
        &[(
            "basic.kube",
            "[Kube]\nYaml=deployment.yml\nConfigMap=rel.yml\nConfigMap=/opt/k8s/abs.yml\n",
        )],
        "basic.service",
    );
    let argv = exec_start(&u);
    assert!(has_args(&argv, &["kube", "play"]), "{argv:?}");
    assert!(has_args(&argv, &["--replace"]) && has_args(&argv, &["--service-container=true"]));
    assert_eq!(argv.last().unwrap(), "/q/deployment.yml");
    assert!(has_args(&argv, &["--configmap", "/q/rel.yml"]), "{argv:?}");
    assert!(
        has_args(&argv, &["--configmap", "/opt/k8s/abs.yml"]),
        "{argv:?}"
    );
    assert_eq!(
        line(&u, "ExecStopPost"),
        "/p/bin/peapod kube down /q/deployment.yml"
    );
    assert_eq!(u.all("Unit", "RequiresMountsFor"), ["%t/containers"]);
    for (k, v) in [
        ("KillMode", "mixed"),
        ("Type", "notify"),
        ("NotifyAccess", "all"),
        ("Environment", "PODMAN_SYSTEMD_UNIT=%n"),
        ("SyslogIdentifier", "%N"),
    ] {
        assert_eq!(line(&u, k), v, "{k}");
    }
    // SetWorkingDirectory=yaml: the YAML file's directory.
    let u = unit_of(
        &[(
            "wd.kube",
            "[Kube]\nYaml=sub/deployment.yml\nSetWorkingDirectory=yaml\n",
        )],
        "wd.service",
    );
    assert_eq!(line(&u, "WorkingDirectory"), "/q/sub");
}

#[test]
fn basic_image_and_its_users() {
    let files = [
        (
            "basic.image",
            "[Image]\nImage=localhost/imagename\nTLSVerify=false\nArch=arm64\n",
        ),
        ("user.container", "[Container]\nImage=basic.image\n"),
        (
            "dependent.image",
            "[Unit]\nRequires=basic.image basic.volume\n[Image]\nImage=localhost/other\n",
        ),
        ("basic.volume", "[Volume]\n"),
    ];
    let u = unit_of(&files, "basic-image.service");
    let argv = exec_start(&u);
    assert_eq!(argv.last().unwrap(), "localhost/imagename");
    assert!(has_args(&argv, &["image", "pull"]), "{argv:?}");
    assert!(has_args(&argv, &["--tls-verify=false"]) && has_args(&argv, &["--arch", "arm64"]));
    for (k, v) in [
        ("Type", "oneshot"),
        ("RemainAfterExit", "yes"),
        ("SyslogIdentifier", "%N"),
    ] {
        assert_eq!(line(&u, k), v, "{k}");
    }
    assert_eq!(u.all("Unit", "Wants"), ["network-online.target"]);
    // A container naming the .image runs its image, after its unit.
    let c = unit_of(&files, "user.service");
    assert_eq!(exec_start(&c).last().unwrap(), "localhost/imagename");
    assert!(
        c.all("Unit", "Requires")
            .contains(&"basic-image.service".to_string())
    );
    assert!(
        c.all("Unit", "After")
            .contains(&"basic-image.service".to_string())
    );
    // [Unit] dependencies on quadlet files name their units.
    let d = unit_of(&files, "dependent-image.service");
    assert_eq!(
        d.all("Unit", "Requires"),
        ["basic-image.service basic-volume.service"]
    );
}

#[test]
fn basic_build() {
    let u = unit_of(
        &[(
            "basic.build",
            "[Build]\nImageTag=localhost/imagename\nSetWorkingDirectory=unit\nBuildArg=A=1\n",
        )],
        "basic-build.service",
    );
    let argv = exec_start(&u);
    assert_eq!(argv[1], "build");
    assert!(
        has_args(&argv, &["--tag", "localhost/imagename"]),
        "{argv:?}"
    );
    assert!(has_args(&argv, &["--build-arg", "A=1"]), "{argv:?}");
    assert_eq!(line(&u, "WorkingDirectory"), "/q");
    assert_eq!(line(&u, "Type"), "oneshot");
    assert_eq!(u.last("Service", "RemainAfterExit"), None);
    let (out, errors) = units(&[
        ("notag.build", "[Build]\nSetWorkingDirectory=unit\n"),
        ("nowd.build", "[Build]\nImageTag=x\n"),
        ("rel.build", "[Build]\nImageTag=x\nFile=Containerfile\n"),
    ])
    .generate();
    assert!(out.is_empty());
    assert_eq!(
        errors,
        [
            "converting \"notag.build\": no ImageTag key specified",
            "converting \"nowd.build\": neither SetWorkingDirectory, nor File key specified",
            "converting \"rel.build\": relative path in File key requires SetWorkingDirectory key to be set",
        ]
    );
}

#[test]
fn basic_pod_and_its_members() {
    let files = [
        ("basic.pod", "[Pod]\nPublishPort=8080:80\n"),
        (
            "yes.container",
            "[Container]\nImage=localhost/image\nPod=basic.pod\n",
        ),
        (
            "no.container",
            "[Container]\nImage=localhost/image\nPod=basic.pod\nStartWithPod=no\n",
        ),
    ];
    let u = unit_of(&files, "basic-pod.service");
    assert_eq!(
        line(&u, "ExecStartPre"),
        "/p/bin/peapod pod create --infra-conmon-pidfile=%t/%N.pid --replace --exit-policy stop --publish 8080:80 --infra-name systemd-basic-infra --name systemd-basic"
    );
    assert_eq!(
        line(&u, "ExecStart"),
        "/p/bin/peapod pod start systemd-basic"
    );
    assert_eq!(
        line(&u, "ExecStop"),
        "/p/bin/peapod pod stop --ignore --time=10 systemd-basic"
    );
    assert_eq!(
        line(&u, "ExecStopPost"),
        "/p/bin/peapod pod rm --ignore --force systemd-basic"
    );
    for (k, v) in [
        ("Type", "forking"),
        ("Restart", "on-failure"),
        ("PIDFile", "%t/%N.pid"),
        ("SyslogIdentifier", "%N"),
    ] {
        assert_eq!(line(&u, k), v, "{k}");
    }
    assert!(u.all("Unit", "Wants").contains(&"yes.service".to_string()));
    assert!(u.all("Unit", "Before").contains(&"yes.service".to_string()));
    assert!(!u.all("Unit", "Wants").contains(&"no.service".to_string()));
    let c = unit_of(&files, "yes.service");
    assert!(has_args(&exec_start(&c), &["--pod", "systemd-basic"]));
    assert_eq!(c.all("Unit", "BindsTo"), ["basic-pod.service"]);
    let (_, errors) = units(&[
        ("a.container", "[Container]\nImage=i\nPod=test-pod\n"),
        ("b.container", "[Container]\nImage=i\nPod=not-found.pod\n"),
    ])
    .generate();
    assert_eq!(
        errors,
        [
            "converting \"a.container\": pod test-pod is not Quadlet based",
            "converting \"b.container\": quadlet pod unit not-found.pod does not exist",
        ]
    );
}

#[test]
fn more_container_keys() {
    let text = "[Container]\nImage=i\nIP=10.88.0.5\nDNS=1.1.1.1\nDNSSearch=example.com\nUlimit=nofile=1000:1000\nSysctl=net.ipv4.ip_forward=1 kernel.shmmax=1000\nShmSize=1g\nTimezone=Europe/Paris\nRunInit=yes\nNoNewPrivileges=true\nAddDevice=/dev/null:/dev/foo -/dev/peapod-none\nAutoUpdate=registry\nReadOnlyTmpfs=false\nServiceName=other\n";
    let u = unit_of(&[("keys.container", text)], "other.service");
    let argv = exec_start(&u);
    for a in [
        &["--ip", "10.88.0.5"][..],
        &["--dns", "1.1.1.1"],
        &["--dns-search", "example.com"],
        &["--ulimit", "nofile=1000:1000"],
        &["--sysctl", "net.ipv4.ip_forward=1"],
        &["--sysctl", "kernel.shmmax=1000"],
        &["--shm-size", "1g"],
        &["--tz", "Europe/Paris"],
        &["--init"],
        &["--security-opt=no-new-privileges"],
        &["--device=/dev/null:/dev/foo"],
        &["--label", "io.containers.autoupdate=registry"],
        &["--read-only-tmpfs=false"],
    ] {
        assert!(has_args(&argv, a), "{a:?} in {argv:?}");
    }
    assert!(!argv.iter().any(|a| a.contains("peapod-none")), "{argv:?}");
}

#[test]
fn templates_and_instances() {
    let files = [
        (
            "web@.container",
            "[Container]\nImage=i\n[Install]\nWantedBy=multi-user.target\nDefaultInstance=one\n",
        ),
        ("data@.volume", "[Volume]\n"),
        (
            "plain@.container",
            "[Container]\nImage=i\n[Install]\nWantedBy=multi-user.target\n",
        ),
    ];
    let (out, errors) = units(&files).generate();
    assert!(errors.is_empty(), "{errors:?}");
    let names: Vec<&str> = out.iter().map(|u| u.file_name.as_str()).collect();
    assert_eq!(
        names,
        ["web@.service", "data-volume@.service", "plain@.service"]
    );
    let web = UnitFile::parse(&out[0].text, "web").unwrap();
    assert!(has_args(&exec_start(&web), &["--name", "systemd-%P_%I"]));
    assert_eq!(
        web.last("Service", "ExecStop").as_deref(),
        Some("/p/bin/peapod rm -v -f -i systemd-%P_%I")
    );
    // Installed as its DefaultInstance; a template without one gets no link.
    assert_eq!(out[0].link_name.as_deref(), Some("web@one.service"));
    assert_eq!(out[2].link_name, None);
    let vol = UnitFile::parse(&out[1].text, "data").unwrap();
    assert_eq!(exec_start(&vol).last().unwrap(), "systemd-data-%i");
}

#[test]
fn an_instance_takes_its_templates_and_its_kinds_drop_ins() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("web@one.container"), "[Container]\nImage=i\n").unwrap();
    for (sub, file, text) in [
        ("container.d", "10-all.conf", "[Container]\nLabel=all=1\n"),
        (
            "web@.container.d",
            "20-template.conf",
            "[Container]\nLabel=template=1\n",
        ),
        (
            "web@one.container.d",
            "30-own.conf",
            "[Container]\nLabel=own=1\n",
        ),
        // The same name in a more specific place wins.
        ("container.d", "30-own.conf", "[Container]\nLabel=lost=1\n"),
    ] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
        std::fs::write(d.join(sub).join(file), text).unwrap();
    }
    let (sources, errors) = super::load(&[d.to_path_buf()]);
    assert!(errors.is_empty(), "{errors:?}");
    let units = Units {
        sources,
        peapod: "/p/bin/peapod".into(),
        user: false,
        default_dependencies: true,
    };
    let (out, errors) = units.generate();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(out[0].file_name, "web@one.service");
    let argv = exec_start(&UnitFile::parse(&out[0].text, "x").unwrap());
    for l in ["all=1", "template=1", "own=1"] {
        assert!(has_args(&argv, &["--label", l]), "{l} in {argv:?}");
    }
    assert!(!argv.iter().any(|a| a == "lost=1"), "{argv:?}");
}

/// Podman 5's `mount.container` (less its artifact line: peapod has no artifacts).
#[test]
fn mount_sources_are_resolved() {
    let text = r#"[Container]
Image=localhost/imagename
Mount=type=bind,source=/path/on/host,destination=/path/in/container
Mount="type=bind,src=/path/on/host with spaces,dst=/path"
Mount=type=bind,src=/path/on/host,dst=/path/in/container,relabel=shared,U=true
Mount=type=volume,source=vol1,destination=/path/in/container,ro=true
Mount=type=volume,source=basic.volume,destination=/path/in/container,ro=true
Mount=type=tmpfs,tmpfs-size=512M,destination=/path/in/container
Mount=type=image,source=fedora,destination=/fedora-image,rw=true
Mount=type=image,source=basic.image,destination=/fedora-image,rw=true
Mount=type=devpts,destination=/dev/pts
Mount=type=bind,source=./path/on/host,destination=/path/in/container
Mount=type=bind,src=/tmp,\"dst=/path,1\"
Mount=type=bind,source=./src/,destination=/dst/,idmap=uids=12-34-1;gids=56-78-1
"#;
    let u = unit_of(
        &[
            ("mount.container", text),
            ("basic.volume", "[Volume]\n"),
            ("basic.image", "[Image]\nImage=localhost/imagename\n"),
        ],
        "mount.service",
    );
    let argv = exec_start(&u);
    for m in [
        "type=bind,source=/path/on/host,destination=/path/in/container",
        "type=bind,source=/path/on/host with spaces,dst=/path",
        "type=bind,source=/path/on/host,dst=/path/in/container,relabel=shared,U=true",
        "type=volume,source=vol1,destination=/path/in/container,ro=true",
        "type=volume,source=systemd-basic,destination=/path/in/container,ro=true",
        "type=tmpfs,tmpfs-size=512M,destination=/path/in/container",
        "type=image,source=fedora,destination=/fedora-image,rw=true",
        "type=image,source=localhost/imagename,destination=/fedora-image,rw=true",
        "type=devpts,destination=/dev/pts",
        "type=bind,source=/q/path/on/host,destination=/path/in/container",
        r#"type=bind,source=/tmp,"dst=/path,1""#,
        "type=bind,source=/q/src,destination=/dst/,idmap=uids=12-34-1;gids=56-78-1",
    ] {
        assert!(has_args(&argv, &["--mount", m]), "--mount {m} in {argv:?}");
    }
    assert_eq!(
        u.all("Unit", "Requires"),
        ["basic-volume.service", "basic-image.service"]
    );
    let mounts_for = u.all("Unit", "RequiresMountsFor");
    // Escaped as systemd reads it, else it would be three paths.
    let spaced = r#""/path/on/host\x20with\x20spaces""#;
    for p in ["/path/on/host", spaced, "/q/path/on/host"] {
        assert!(mounts_for.iter().any(|m| m == p), "{p} in {mounts_for:?}");
    }
}

#[test]
fn a_mount_without_a_source_or_with_a_missing_reference_is_an_error() {
    for (line, err) in [
        ("Mount=/home:/home", "source cannot be empty"),
        (
            "Mount=type=volume,source=nope.volume,destination=/d",
            "requested Quadlet source nope.volume was not found",
        ),
    ] {
        let (out, errors) =
            units(&[("m.container", &format!("[Container]\nImage=i\n{line}\n"))]).generate();
        assert!(out.is_empty());
        assert_eq!(errors, [format!("converting \"m.container\": {err}")]);
    }
}
