//! The `volume` commands (create with options, ls and its filters, inspect, rm, exists,
//! export/import), a local volume mounted with `--opt type/device/o`, and hostile or bad volume
//! input refused with nothing made. Checked against Podman 4.3 on this host.

use crate::util::{IMG, TestEnv, lines, name};
use crate::volumes::{assert_nothing_created, data_dir, volume_names};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[test]
fn volume_commands() {
    let env = TestEnv::new("vol-cmds");
    env.import_busybox();
    let (a, b) = (name("a"), name("b"));
    assert_eq!(
        env.ok(&["volume", "create", "--label", "k=v", "-l", "flag", &a]),
        format!("{a}\n")
    );
    env.run(&["volume", "create", &a]).assert_error(
        125,
        &[&format!(
            "volume with name {a} already exists: volume already exists"
        )],
    );
    let generated = env.ok(&["volume", "create"]).trim().to_owned();
    assert!(crate::util::is_full_id(&generated), "{generated}");
    env.ok(&["volume", "create", "--opt", "o=uid=1000,gid=1001", &b]);
    let data = data_dir(&env, &b);
    let m = std::fs::metadata(&data).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1000, 1001, 0o755));

    let mut all = vec![a.clone(), b.clone(), generated.clone()];
    all.sort();
    assert_eq!(volume_names(&env), all);
    let table = env.ok(&["volume", "ls"]);
    let expected: String = std::iter::once("DRIVER      VOLUME NAME\n".to_string())
        .chain(all.iter().map(|n| format!("local       {n}\n")))
        .collect();
    assert_eq!(table, expected);
    assert_eq!(
        env.ok(&[
            "volume",
            "ls",
            "--noheading",
            "--filter",
            &format!("name={a}")
        ]),
        format!("local       {a}\n")
    );
    assert_eq!(
        lines(&env.ok(&["volume", "ls", "-q", "--filter", "label=k=v"])),
        vec![a.clone()]
    );
    assert_eq!(
        lines(&env.ok(&["volume", "ls", "-q", "--filter", "label=flag"])),
        vec![a.clone()]
    );
    assert!(
        env.ok(&["volume", "ls", "-q", "--filter", "label=k=w"])
            .is_empty()
    );
    env.ok(&["create", "-v", &format!("{a}:/a"), IMG, "true"]);
    let mut dangling = vec![b.clone(), generated.clone()];
    dangling.sort();
    assert_eq!(
        lines(&env.ok(&["volume", "ls", "-q", "--filter", "dangling=true"])),
        dangling
    );
    assert_eq!(
        lines(&env.ok(&["volume", "ls", "-q", "--filter", "dangling=false"])),
        vec![a.clone()]
    );
    env.run(&["volume", "ls", "--filter", "bogus=1"])
        .assert_error(125, &["\"bogus\" is an invalid volume filter"]);
    assert_eq!(
        env.ok(&[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}",
            "--filter",
            &format!("name={a}")
        ]),
        format!("{a} local local map[flag: k:v]\n")
    );

    let insp: serde_json::Value =
        serde_json::from_str(&env.ok(&["volume", "inspect", &b])).unwrap();
    let obj = insp[0].as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    let mut want = [
        "Name",
        "Driver",
        "Mountpoint",
        "CreatedAt",
        "Labels",
        "Scope",
        "Options",
        "UID",
        "GID",
        "MountCount",
        "NeedsCopyUp",
    ];
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(
        obj["Options"],
        serde_json::json!({"GID": "1001", "UID": "1000", "o": "uid=1000,gid=1001"})
    );
    assert_eq!(obj["Mountpoint"], serde_json::json!(data));
    assert_eq!(
        env.ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
            &a
        ]),
        format!("{a} local local\n")
    );
    env.run(&["volume", "inspect", "nosuchvol"])
        .assert_error(125, &["inspecting object: no such volume nosuchvol"]);
    env.ok(&["volume", "exists", &a]);
    env.run(&["volume", "exists", "nosuchvol"]).assert_code(1);

    // export / import round trip, symlinks kept as links.
    env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{a}:/d"),
        IMG,
        "sh",
        "-c",
        "mkdir /d/sub && echo content > /d/sub/f && ln -s sub/f /d/l",
    ]);
    let tarfile = env.dir.join("a.tar");
    env.ok(&["volume", "export", &a, "-o", tarfile.to_str().unwrap()]);
    let mut names: Vec<String> = tar::Archive::new(std::fs::File::open(&tarfile).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["l", "sub", "sub/f"]);
    let c = name("imported");
    env.ok(&["volume", "create", &c]);
    env.ok(&["volume", "import", &c, tarfile.to_str().unwrap()]);
    let cd = data_dir(&env, &c);
    assert_eq!(
        std::fs::read_to_string(cd.join("sub/f")).unwrap(),
        "content\n"
    );
    assert_eq!(
        std::fs::read_link(cd.join("l")).unwrap(),
        Path::new("sub/f")
    );
    // From stdin.
    let d = name("stdin");
    env.ok(&["volume", "create", &d]);
    env.peapod(&["volume", "import", &d, "-"])
        .stdin(std::fs::read(&tarfile).unwrap())
        .output()
        .success();
    assert!(data_dir(&env, &d).join("sub/f").is_file());
    env.run(&["volume", "export", "nosuchvol", "-o", "/dev/null"])
        .assert_error(125, &["no such volume nosuchvol"]);
    env.run(&["volume", "import", "nosuchvol", tarfile.to_str().unwrap()])
        .assert_error(125, &["no such volume nosuchvol"]);
}

/// `--opt type=tmpfs device=tmpfs`: mounted while a container uses it, unmounted after.
#[test]
fn mounted_local_volume() {
    let env = TestEnv::new("vol-tmpfs-opt");
    env.import_busybox();
    let (v, c) = (name("tv"), name("c"));
    env.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=2m,nodev",
        &v,
    ]);
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "-v",
        &format!("{v}:/v"),
        IMG,
        "sleep",
        "1000",
    ]);
    let m = env.ok(&["exec", &c, "grep", " /v ", "/proc/mounts"]);
    assert!(
        m.starts_with("tmpfs /v tmpfs") && m.contains("size=2048k"),
        "{m}"
    );
    assert_eq!(
        env.ok(&["volume", "inspect", "--format", "{{.MountCount}}", &v])
            .trim(),
        "1"
    );
    env.ok(&["stop", "-t", "0", &c]);
    assert_eq!(
        env.ok(&["volume", "inspect", "--format", "{{.MountCount}}", &v])
            .trim(),
        "0"
    );
    let left = peapod_tests::mounts_under(&env.root.join("volumes")).unwrap();
    assert!(
        left.is_empty(),
        "the volume stayed mounted after its container stopped: {left:?}"
    );
    env.ok(&["rm", &c]);
    // `rm -f` of a running user releases the volume's mount too (removal skipped the
    // cleanup that releases it).
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "-v",
        &format!("{v}:/v"),
        IMG,
        "sleep",
        "1000",
    ]);
    env.ok(&["rm", "-f", "-t", "0", &c]);
    let left = peapod_tests::mounts_under(&env.root.join("volumes")).unwrap();
    assert!(left.is_empty(), "rm -f left the volume mounted: {left:?}");
    env.ok(&["volume", "rm", &v]);
    env.assert_no_mounts();

    // `o=bind,ro`: read-only inside (a bind ignores `ro` unless remounted, and a container's
    // bind of it does not inherit it).
    let src = env.dir.join("ro-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "kept\n").unwrap();
    let ro = name("rov");
    env.ok(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        &format!("device={}", src.display()),
        "--opt",
        "o=bind,ro",
        &ro,
    ]);
    let out = env.run(&[
        "run",
        "--rm",
        "-v",
        &format!("{ro}:/v"),
        IMG,
        "sh",
        "-c",
        "cat /v/f; touch /v/new",
    ]);
    assert_eq!(out.stdout, "kept\n", "{out:?}");
    assert!(out.stderr.contains("Read-only file system"), "{out:?}");
    assert!(
        !src.join("new").exists(),
        "a write went through to the source"
    );
    env.ok(&["volume", "rm", &ro]);
    env.assert_no_mounts();
}

#[test]
fn hostile_volume_names_and_mounts_are_refused() {
    let env = TestEnv::new("vol-hostile");
    env.import_busybox();
    for bad in ["../x", "a/b", "..", "/x", ".hidden"] {
        env.run(&["volume", "create", bad])
            .assert_error(125, &[&format!("{bad:?}"), "names must match"]);
    }
    env.run(&["volume", "rm", "../x"])
        .assert_error(1, &["no such volume"]);
    env.run(&["volume", "inspect", "../../etc"])
        .assert_error(125, &["no such volume"]);
    // -v with a `..` source is a relative host path; with `/` in a name, a bad name.
    env.run(&["run", "--rm", "-v", "../x:/x", IMG, "true"])
        .assert_error(125, &["\"../x\"", "relative host paths"]);
    env.run(&["run", "--rm", "-v", "a/../../x:/x", IMG, "true"])
        .assert_error(125, &["\"a/../../x\"", "names must match"]);
    env.run(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=../x,dst=/x",
        IMG,
        "true",
    ])
    .assert_error(125, &["names must match"]);
    // A bind of / over / (Podman runs it; peapod refuses any mount over the root).
    env.run(&["run", "--rm", "-v", "/:/", IMG, "true"])
        .assert_error(125, &["\"/\"", "root directory"]);
    env.run(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,src=/,dst=/",
        IMG,
        "true",
    ])
    .assert_error(125, &["root directory"]);
    env.run(&["run", "--rm", "-v", "vol:/x/../..", IMG, "true"])
        .assert_error(125, &["root directory"]);
    assert!(!env.dir.join("x").exists() && !env.root.join("x").exists());
    assert_nothing_created(&env);
}

#[test]
fn bad_mount_input_creates_nothing() {
    let env = TestEnv::new("vol-bad");
    env.import_busybox();
    let missing = env.dir.join("missing");
    let m = missing.display().to_string();
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (
            vec!["-v".into(), "rel/path:/x".into()],
            vec!["\"rel/path\"".into(), "names must match".into()],
        ),
        (
            vec!["-v".into(), "./rel:/x".into()],
            vec!["\"./rel\"".into(), "relative host paths".into()],
        ),
        (
            vec!["-v".into(), "/tmp:rel".into()],
            vec!["invalid container path \"rel\", must be an absolute path".into()],
        ),
        (
            vec!["-v".into(), "vol:/x:bogus".into()],
            vec!["invalid option type \"bogus\"".into()],
        ),
        (
            vec!["-v".into(), "vol:/x:ro,rw".into()],
            vec!["can only specify 1 'rw' or 'ro' option".into()],
        ),
        (
            vec!["-v".into(), format!("{m}:/x")],
            vec![format!("statfs {m}: no such file or directory")],
        ),
        (
            vec!["--mount".into(), format!("type=bind,src={m},dst=/x")],
            vec![format!("statfs {m}: no such file or directory")],
        ),
        (
            vec!["--mount".into(), "type=foo,dst=/x".into()],
            vec!["invalid filesystem type \"foo\"".into()],
        ),
        (
            vec!["--mount".into(), "type=volume,src=v,dst=/x,bogus".into()],
            vec!["bogus: invalid mount option".into()],
        ),
        (
            vec!["--mount".into(), "type=volume,src=v,dst=rel".into()],
            vec!["\"rel\"".into()],
        ),
        (
            vec!["--tmpfs".into(), "rel".into()],
            vec!["invalid container path \"rel\", must be an absolute path".into()],
        ),
        (
            vec!["--tmpfs".into(), "/x:bogus".into()],
            vec!["unknown mount option \"bogus\"".into()],
        ),
        (
            vec!["-v".into(), "a:/x".into(), "-v".into(), "b:/x".into()],
            vec!["/x: duplicate mount destination".into()],
        ),
        // A named volume that would be created, then a bad flag: the volume is not made.
        (
            vec![
                "-v".into(),
                "newvol:/n".into(),
                "--tmpfs".into(),
                "/t:bogus".into(),
            ],
            vec!["bogus".into()],
        ),
        (
            vec![
                "-v".into(),
                "newvol:/n".into(),
                "-v".into(),
                format!("{m}:/m"),
            ],
            vec![m.clone()],
        ),
    ];
    for (flags, needles) in &cases {
        for cmd in ["run", "create"] {
            let mut args: Vec<String> = vec![cmd.into(), "--rm".into()];
            if cmd == "create" {
                args.pop();
            }
            args.extend(flags.iter().cloned());
            args.extend([IMG.to_string(), "true".into()]);
            let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
            env.run(&args).assert_error(125, &needles);
        }
    }
    for (opt, needle) in [
        ("bogus=1", "invalid mount option bogus for driver 'local'"),
        ("o=uid=abc", "abc"),
        ("o=nodev", "nodev"),
    ] {
        env.run(&["volume", "create", "--opt", opt, &name("v")])
            .assert_error(125, &[needle]);
    }
    env.run(&["volume", "create", "--driver", "nosuchdriver", &name("v")])
        .assert_error(125, &["nosuchdriver"]);
    assert_nothing_created(&env);
}
