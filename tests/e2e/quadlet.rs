//! The quadlet generator (`libexec/peapod/quadlet`) as systemd runs it: on quadlet files
//! in a temp dir named by `QUADLET_UNIT_DIRS`, with `-dryrun` (Podman's
//! `test/e2e/quadlet` cases basic, volume, network, env, ports: their `## assert-…`
//! lines, with `peapod` for `podman`;
//! the `.kube`, `.image`, `.build` and `.pod` cases are unit tests of the engine's
//! `quadlet` module, and `quadlet_pod.rs` runs a pod's units),
//! writing into an output dir (`systemd-analyze verify` accepts every unit), and a
//! generated `.container` unit's commands run as systemd would run them.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::systemd::{key, run_line, systemd_argv, verify};
use crate::util::{IMG, TestEnv, name, prefix};

fn quadlet() -> PathBuf {
    prefix().join("libexec/peapod/quadlet")
}

/// Runs the generator with `args` on the quadlet files of `dir`.
fn generate(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(quadlet())
        .args(args)
        .env("QUADLET_UNIT_DIRS", dir)
        .output()
        .unwrap()
}

/// `---NAME---` sections of a dry run: (name, text).
fn sections(out: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    for line in out.lines() {
        if let Some(n) = line.strip_prefix("---").and_then(|l| l.strip_suffix("---")) {
            v.push((n.to_string(), String::new()));
        } else if let Some((_, text)) = v.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    v
}

/// The files of Podman's cases used here (and a drop-in of our own).
fn write_cases(dir: &Path) {
    let files = [
        (
            "basic.container",
            "[Container]\nImage=localhost/imagename\n",
        ),
        ("basic.volume", "[Volume]\n"),
        (
            "volume.container",
            "[Container]\nImage=localhost/imagename\nVolume=/host/dir:/container/volume\nVolume=/host/dir2:/container/volume2:Z\nVolume=./host/dir3:/container/volume3\nVolume=/container/empty\nVolume=named:/container/named\nVolume=basic.volume:/container/quadlet\nVolume=%h/container:/container/volume4\n",
        ),
        ("basic.network", "[Network]\n"),
        (
            "network.quadlet.container",
            "[Container]\nImage=localhost/imagename\nNetwork=basic.network\n",
        ),
        (
            "network.container",
            "[Container]\nImage=localhost/imagename\nNetwork=host\n",
        ),
        (
            "env.container",
            "[Container]\nImage=localhost/imagename\nEnvironment=FOO1=foo1 \"FOO2=foo2 \" \\\n                     FOO3=foo3 REPLACE=replace\nEnvironment=REPLACE=replaced 'FOO4=foo\\nfoo' FOO5\n",
        ),
        (
            "ports.container",
            "[Container]\nImage=localhost/imagename\nExposeHostPort=1000\nExposeHostPort=2000-3000\nPublishPort=127.0.0.1:80:90\nPublishPort=0.0.0.0:80:91\nPublishPort=:80:92\nPublishPort=::95\nPublishPort=97\nPublishPort=1234/udp\nPublishPort=127.0.0.1:1234:1234/tcp\nPublishPort=${PORT}:${PORT}\n",
        ),
        ("deploy.kube", "[Kube]\nYaml=deployment.yml\n"),
        ("basic.image", "[Image]\nImage=localhost/imagename\n"),
        (
            "basic.build",
            "[Build]\nImageTag=localhost/imagename\nSetWorkingDirectory=unit\n",
        ),
        ("basic.pod", "[Pod]\n"),
        (
            "member.container",
            "[Container]\nImage=basic.image\nPod=basic.pod\n",
        ),
    ];
    for (n, text) in files {
        std::fs::write(dir.join(n), text).unwrap();
    }
    std::fs::create_dir_all(dir.join("basic.container.d")).unwrap();
    std::fs::write(
        dir.join("basic.container.d/10-env.conf"),
        "[Container]\nEnvironment=FROM_DROPIN=1\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
}

fn argv(unit: &str, k: &str) -> Vec<String> {
    systemd_argv(&key(unit, k).pop().unwrap(), "/run", "x.service")
}

fn has(argv: &[String], args: &[&str]) -> bool {
    argv.windows(args.len()).any(|w| w == args)
}

#[test]
fn dryrun_on_podmans_quadlet_cases() {
    let env = TestEnv::new("quadlet-dryrun");
    let dir = env.dir.join("quadlets");
    std::fs::create_dir_all(&dir).unwrap();
    write_cases(&dir);
    let out = generate(&dir, &["-dryrun", "-no-kmsg-log"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let units = sections(&stdout);
    let names: Vec<&str> = units.iter().map(|(n, _)| n.as_str()).collect();
    for n in [
        "basic.service",
        "basic-volume.service",
        "basic-network.service",
        "volume.service",
        "network.quadlet.service",
        "network.service",
        "env.service",
        "ports.service",
        "deploy.service",
        "basic-image.service",
        "basic-build.service",
        "basic-pod.service",
        "member.service",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let unit = |n: &str| units.iter().find(|(u, _)| u == n).unwrap().1.clone();
    let peapod = prefix().join("bin/peapod").canonicalize().unwrap();
    let peapod = peapod.to_str().unwrap();

    assert_basic(&unit("basic.service"), peapod);
    assert_the_others(&unit, &dir, peapod);
}

/// basic.container's `## assert-…` lines (and the drop-in's).
fn assert_basic(basic: &str, peapod: &str) {
    let start = argv(basic, "ExecStart");
    assert_eq!(start[0], peapod);
    assert_eq!(start.last().unwrap(), "localhost/imagename");
    for a in [
        &["--name", "systemd-x"][..],
        &["--rm"],
        &["--replace"],
        &["-d"],
    ] {
        assert!(has(&start, a), "{a:?} in {start:?}");
    }
    assert!(has(&start, &["--cgroups=split"]) && has(&start, &["--sdnotify=conmon"]));
    assert!(
        has(&start, &["--env", "FROM_DROPIN=1"]),
        "the drop-in: {start:?}"
    );
    assert_eq!(key(basic, "RequiresMountsFor"), ["%t/containers"]);
    // (`key` reads every group: the kept `[X-Container]` holds the drop-in's line.)
    assert!(
        key(basic, "Environment").contains(&"PODMAN_SYSTEMD_UNIT=%n".to_string()),
        "{basic}"
    );
    for (k, v) in [
        ("KillMode", "mixed"),
        ("Delegate", "yes"),
        ("Type", "notify"),
        ("NotifyAccess", "all"),
        ("SyslogIdentifier", "%N"),
        ("After", "network-online.target"),
        ("Wants", "network-online.target"),
    ] {
        assert_eq!(key(basic, k), [v], "{k}");
    }
    assert_eq!(
        key(basic, "ExecStop"),
        [format!("{peapod} rm -v -f -i systemd-%N")]
    );
    assert_eq!(
        key(basic, "ExecStopPost"),
        [format!("-{peapod} rm -v -f -i systemd-%N")]
    );
}

/// basic.volume, basic.network, volume.container, network.container (and a network
/// quadlet reference), env.container, ports.container.
fn assert_the_others(unit: &dyn Fn(&str) -> String, dir: &Path, peapod: &str) {
    // basic.volume, basic.network
    for (n, cmd) in [
        ("basic-volume.service", "volume"),
        ("basic-network.service", "network"),
    ] {
        let u = unit(n);
        assert_eq!(key(&u, "RequiresMountsFor"), ["%t/containers"]);
        assert_eq!(key(&u, "Type"), ["oneshot"]);
        assert_eq!(key(&u, "RemainAfterExit"), ["yes"]);
        assert_eq!(key(&u, "SyslogIdentifier"), ["%N"]);
        assert_eq!(
            key(&u, "ExecStart"),
            [format!("{peapod} {cmd} create --ignore systemd-basic")]
        );
    }

    // volume.container
    let vol = unit("volume.service");
    let start = argv(&vol, "ExecStart");
    let dir3 = format!("{}/host/dir3:/container/volume3", dir.display());
    for v in [
        "/host/dir:/container/volume",
        "/host/dir2:/container/volume2:Z",
        &dir3,
        "named:/container/named",
        "systemd-basic:/container/quadlet",
        "%h/container:/container/volume4",
    ] {
        assert!(has(&start, &["-v", v]), "-v {v} in {start:?}");
    }
    assert!(key(&vol, "Requires").contains(&"basic-volume.service".to_string()));

    // network.container, and a network quadlet reference
    assert!(has(
        &argv(&unit("network.service"), "ExecStart"),
        &["--network", "host"]
    ));
    let netq = unit("network.quadlet.service");
    assert!(has(
        &argv(&netq, "ExecStart"),
        &["--network", "systemd-basic"]
    ));
    assert_eq!(key(&netq, "Requires"), ["basic-network.service"]);

    // env.container
    let start = argv(&unit("env.service"), "ExecStart");
    assert_eq!(start.last().unwrap(), "localhost/imagename");
    for e in [
        "FOO1=foo1",
        "FOO2=foo2 ",
        "FOO3=foo3",
        "REPLACE=replaced",
        "FOO4=foo\nfoo",
        "FOO5",
    ] {
        assert!(has(&start, &["--env", e]), "--env {e:?} in {start:?}");
    }

    // ports.container (`${PORT}` is left for systemd: podman#24081)
    let ports = unit("ports.service");
    let start = argv(&ports, "ExecStart");
    for p in [
        "127.0.0.1:80:90",
        "0.0.0.0:80:91",
        ":80:92",
        "::95",
        "97",
        "1234/udp",
        "127.0.0.1:1234:1234/tcp",
        "${PORT}:${PORT}",
    ] {
        assert!(has(&start, &["--publish", p]), "--publish {p} in {start:?}");
    }
    assert!(has(&start, &["--expose", "1000"]) && has(&start, &["--expose", "2000-3000"]));
}

#[test]
fn written_units_pass_systemd_analyze_verify() {
    let env = TestEnv::new("quadlet-verify");
    let dir = env.dir.join("quadlets");
    let out_dir = env.dir.join("generated");
    for d in [&dir, &out_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    write_cases(&dir);
    let out = generate(&dir, &[out_dir.to_str().unwrap(), "/early", "/late"]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let mut units: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".service"))
        .collect();
    units.sort();
    assert_eq!(units.len(), 13, "{units:?}");
    let text = std::fs::read_to_string(out_dir.join("basic.service")).unwrap();
    assert!(
        text.starts_with("#\n# Automatically generated by "),
        "{text}"
    );
    // [Install] WantedBy= of the drop-in: the link systemd would have made on enable.
    let link = out_dir.join("multi-user.target.wants/basic.service");
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("../basic.service")
    );
    for u in units {
        verify(&env, out_dir.join(u).to_str().unwrap());
    }
}

#[test]
fn a_unit_with_an_unknown_key_is_not_written_and_named() {
    let env = TestEnv::new("quadlet-bad");
    let dir = env.dir.join("quadlets");
    let out_dir = env.dir.join("generated");
    for d in [&dir, &out_dir] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(
        dir.join("bad.container"),
        "[Container]\nImage=i\nImageTypo=x\n",
    )
    .unwrap();
    std::fs::write(dir.join("noimage.container"), "[Container]\nExec=true\n").unwrap();
    std::fs::write(dir.join("good.container"), "[Container]\nImage=i\n").unwrap();
    std::fs::write(dir.join("broken.volume"), "[Volume]\nthis is not a key\n").unwrap();
    let out = generate(&dir, &[out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let bad = dir.join("bad.container");
    assert!(
        err.contains(&format!(
            "unsupported key 'ImageTypo' in group 'Container' in {}",
            bad.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("\"noimage.container\": no Image key specified"),
        "{err}"
    );
    assert!(
        err.contains("broken.volume") && err.contains(":2:"),
        "{err}"
    );
    let written: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, ["good.service"]);
    // And without an output dir and no -dryrun: Podman's usage error.
    let out = generate(&dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing output directory"),
        "{out:?}"
    );
}

#[test]
fn a_generated_container_unit_runs_as_systemd_would_run_it() {
    let env = TestEnv::new("quadlet-run");
    env.import_busybox();
    let dir = env.dir.join("quadlets");
    std::fs::create_dir_all(&dir).unwrap();
    let base = name("qweb");
    let store = format!(
        "GlobalArgs=--root {} --runroot {}\n",
        env.root.display(),
        env.runroot.display()
    );
    std::fs::write(
        dir.join(format!("{base}.container")),
        format!(
            "[Unit]\nDescription=a quadlet web\n[Container]\n{store}Image={IMG}\nVolume={base}.volume:/data\nNetwork={base}.network\nEnvironment=GREETING=hello\\x20there\nExec=sh -c 'echo \"$$GREETING\" > /data/hi; trap \"exit 0\" TERM; while :; do sleep 0.2; done'\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{base}.volume")),
        format!("[Volume]\n{store}Label=app=q\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{base}.network")),
        format!("[Network]\n{store}"),
    )
    .unwrap();
    let out = generate(&dir, &["-dryrun"]);
    assert!(out.status.success(), "{out:?}");
    let units = sections(&String::from_utf8_lossy(&out.stdout));
    let unit = |n: &str| units.iter().find(|(u, _)| u == n).unwrap().1.clone();
    let ctr_unit = unit(&format!("{base}.service"));
    let vol_unit = unit(&format!("{base}-volume.service"));
    let net_unit = unit(&format!("{base}-network.service"));
    let rt = env.dir.join("rt");
    std::fs::create_dir_all(&rt).unwrap();
    let rt = rt.to_str().unwrap();

    // The volume unit, twice: `volume create --ignore` leaves the first one.
    let vol_name = format!("{base}-volume.service");
    for _ in 0..2 {
        let out = run_line(
            &vol_unit,
            &key(&vol_unit, "ExecStart")[0],
            rt,
            &vol_name,
            None,
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("systemd-{base}")
        );
    }
    assert_eq!(
        env.ok(&["volume", "ls", "-q"]).trim(),
        format!("systemd-{base}")
    );
    let dup = env.run(&["volume", "create", &format!("systemd-{base}")]);
    assert_eq!(dup.code(), 125, "without --ignore it is an error");

    // The network unit, twice: `network create --ignore` likewise.
    let net_name = format!("{base}-network.service");
    for _ in 0..2 {
        let line = &key(&net_unit, "ExecStart")[0];
        let out = run_line(&net_unit, line, rt, &net_name, None);
        assert!(out.status.success(), "{out:?}");
    }
    assert!(
        env.ok(&["network", "ls", "-q"])
            .lines()
            .any(|l| l == format!("systemd-{base}")),
        "the network unit made its network"
    );

    let svc = format!("{base}.service");
    let sock_path = env.dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let out = run_line(
        &ctr_unit,
        &key(&ctr_unit, "ExecStart")[0],
        rt,
        &svc,
        Some(sock_path.to_str().unwrap()),
    );
    assert!(out.status.success(), "{out:?}");
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a notification");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    let ctr = format!("systemd-{base}");
    assert_eq!(
        msg,
        format!(
            "MAINPID={}\nREADY=1\n",
            env.inspect(&ctr, "{{.State.ConmonPid}}")
        )
    );
    assert_eq!(env.status(&ctr), "running");
    crate::util::wait_until("the file in the volume", Duration::from_secs(5), || {
        env.run(&["exec", &ctr, "cat", "/data/hi"]).stdout.trim() == "hello there"
    });
    assert_eq!(
        env.inspect(&ctr, "{{range .Mounts}}{{.Name}}{{end}}"),
        format!("systemd-{base}")
    );
    assert_eq!(
        env.inspect(
            &ctr,
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}"
        ),
        format!("systemd-{base}")
    );
    for k in ["ExecStop", "ExecStopPost"] {
        // A leading `-` is systemd's "a failure is fine", not part of the command.
        let line = key(&ctr_unit, k)[0].trim_start_matches('-').to_string();
        let out = run_line(&ctr_unit, &line, rt, &svc, None);
        assert!(out.status.success(), "{k}: {out:?}");
    }
    assert!(
        env.ok(&["ps", "-aq"]).trim().is_empty(),
        "the unit's stop removed it"
    );
    env.ok(&["volume", "rm", &format!("systemd-{base}")]);
    env.ok(&["network", "rm", &format!("systemd-{base}")]);
    env.assert_no_mounts();
    env.assert_no_processes();
}
