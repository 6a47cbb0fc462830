//! Smaller pieces of Podman's command line, as its users type them: `run --replace`,
//! `kill -s` spellings and refusals, `start`'s exit code.

use crate::util::{IMG, TestEnv, name};

#[test]
fn replace_kill_signals_and_start_codes() {
    let env = TestEnv::new("run-flags");
    env.import_busybox();
    let c = name("repl");
    let first = env.ok(&["run", "-d", "--name", &c, IMG, "sleep", "1000"]);
    let second = env.ok(&["run", "-d", "--replace", "--name", &c, IMG, "sleep", "1000"]);
    assert_ne!(first, second);
    assert_eq!(
        env.ok(&["ps", "-aq", "--no-trunc"]),
        second,
        "only the new one is left"
    );
    // A leading dash, names with or without SIG; Podman's refusals.
    env.ok(&["kill", "-s", "-USR1", &c]);
    env.ok(&["kill", "-s", "-10", &c]);
    env.run(&["kill", "-s", "0", &c])
        .assert_error(125, &["invalid signal: 0"]);
    env.run(&["kill", "-s", "-BADSIG", &c])
        .assert_error(125, &["invalid signal: BADSIG"]);
    env.run(&["kill", "-s", "65", &c])
        .assert_error(125, &["valid signals are 1 through 64"]);
    env.ok(&["rm", "-f", "-t", "0", &c]);
    // `start` of a container whose command does not exist: 125 (`run` would exit 127).
    let bad = name("bad");
    env.ok(&["create", "--name", &bad, IMG, "/no/such/command"]);
    env.run(&["start", &bad]).assert_code(125);
    env.run(&["start", "-a", &bad]).assert_code(125);
    env.ok(&["rm", "-f", &bad]);
}

#[test]
fn log_levels_as_podman_checks_them() {
    let env = TestEnv::new("log-levels");
    let out = env.run(&["--log-level=telepathic", "info"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr
            .starts_with("Log Level \"telepathic\" is not supported"),
        "{out:?}"
    );
    let out = env.run(&["--debug", "--log-level=panic", "info"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        out.stderr.trim(),
        "Setting --log-level and --debug is not allowed"
    );
    // logrus' text format; each level shows itself and the ones above it only.
    let trace = env.run(&["--log-level=trace", "info"]).stderr;
    for level in ["trace", "debug", "info"] {
        assert!(
            trace.contains(&format!(" level={level} ")),
            "{level}: {trace}"
        );
    }
    assert!(trace.lines().all(|l| l.starts_with("time=\"")), "{trace}");
    let info = env.run(&["--log-level=info", "info"]).stderr;
    assert!(
        info.contains(" level=info msg=") && !info.contains(" level=debug "),
        "{info}"
    );
    assert!(env.run(&["-D", "info"]).stderr.contains(" level=debug "));
    assert!(
        !env.run(&["--log-level=warn", "info"])
            .stderr
            .contains(" level=")
    );
}

#[test]
fn rename_containers() {
    let env = TestEnv::new("rename");
    env.import_busybox();
    let a = name("old");
    let b = name("new");
    let taken = name("taken");
    env.ok(&["run", "-d", "--name", &a, IMG, "sleep", "1000"]);
    env.ok(&["create", "--name", &taken, IMG, "true"]);
    let id = env.inspect(&a, "{{.Id}}");
    env.ok(&["rename", &a, &b]);
    assert_eq!(env.inspect(&id, "{{.Name}}"), b);
    assert_eq!(
        env.ok(&["exec", &b, "echo", "still running"]),
        "still running\n"
    );
    env.run(&["inspect", &a]).assert_code(125);
    env.run(&["container", "rename", &b, &taken])
        .assert_error(125, &["is already in use"]);
    env.run(&["rename", &b, "bad/name"])
        .assert_error(125, &["invalid name \"bad/name\""]);
    let pod = name("rpod");
    env.ok(&["pod", "create", "--name", &pod]);
    let infra = env.ok(&["pod", "inspect", &pod, "--format", "{{.InfraContainerID}}"]);
    env.run(&["rename", infra.trim(), &name("infra")])
        .assert_error(125, &["infra containers cannot be renamed"]);
    env.ok(&["pod", "rm", "-f", &pod]);
    env.ok(&["rm", "-f", "-t", "0", &b, &taken]);
}

#[test]
fn init_then_start() {
    let env = TestEnv::new("init");
    env.import_busybox();
    let c = name("init");
    env.ok(&[
        "create",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "echo started; sleep 1000",
    ]);
    assert_eq!(env.ok(&["init", &c]), format!("{c}\n"));
    assert_eq!(env.status(&c), "initialized");
    assert_eq!(
        env.ok(&["container", "init", &c]),
        format!("{c}\n"),
        "again: nothing to do"
    );
    assert_eq!(env.ok(&["logs", &c]), "", "the process waits for start");
    env.ok(&["start", &c]);
    assert_eq!(env.status(&c), "running");
    crate::util::wait_until("the output", std::time::Duration::from_secs(10), || {
        env.ok(&["logs", &c]) == "started\n"
    });
    env.run(&["init", &c])
        .assert_error(125, &["has already been created in runtime"]);
    env.ok(&["rm", "-f", "-t", "0", &c]);
    env.assert_no_mounts();
}

/// `sh -c 'exec 3<… 4<…; peapod …'`: peapod started with fds 3 and 4 open, as bats starts it.
fn with_fds(
    env: &TestEnv,
    fd3: &std::path::Path,
    fd4: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    let mut argv = vec![
        env.peapod.to_str().unwrap().to_string(),
        "--root".into(),
        env.root.to_str().unwrap().into(),
        "--runroot".into(),
        env.runroot.to_str().unwrap().into(),
    ];
    argv.extend(args.iter().map(|s| s.to_string()));
    let quoted: Vec<String> = argv.iter().map(|a| format!("'{a}'")).collect();
    let script = format!(
        "exec 3<'{}' 4<'{}'; exec {}",
        fd3.display(),
        fd4.display(),
        quoted.join(" ")
    );
    std::process::Command::new("sh")
        .args(["-c", &script])
        .output()
        .unwrap()
}

#[test]
fn preserve_fds_pass_the_callers_fds_in() {
    let env = TestEnv::new("preserve-fds");
    env.import_busybox();
    let three = env.dir.join("three");
    let four = env.dir.join("four");
    std::fs::write(&three, "from fd 3\n").unwrap();
    std::fs::write(&four, "from fd 4\n").unwrap();
    // fd 4 read inside the container (030-run's check), through our monitor and conmon.
    let mut monitors = vec![None];
    if !peapod_tests::skip_unless(
        std::path::Path::new("/usr/bin/conmon").is_file(),
        "/usr/bin/conmon (its half of this test)",
    ) {
        monitors.push(Some("/usr/bin/conmon"));
    }
    for conmon in monitors {
        let mut args = vec![];
        if let Some(c) = conmon {
            args.extend(["--conmon", c]);
        }
        args.extend([
            "run",
            "--rm",
            "--preserve-fds=2",
            IMG,
            "sh",
            "-c",
            "cat <&3; cat <&4",
        ]);
        let out = with_fds(&env, &three, &four, &args);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "from fd 3\nfrom fd 4\n",
            "{conmon:?}: {out:?}"
        );
    }
    // Without the flag, nothing of the caller's reaches the container.
    let out = with_fds(
        &env,
        &three,
        &four,
        &["run", "--rm", IMG, "sh", "-c", "cat <&4"],
    );
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    // An fd the caller did not pass is refused before anything is made (never one of ours).
    let out = env.run(&["run", "--rm", "--preserve-fds=2", IMG, "true"]);
    out.assert_error(
        125,
        &["file descriptor 3 is not available - the preserve-fds option requires that all file descriptors between fd 3 and 4, inclusively, are available"],
    );
    assert_eq!(env.ok(&["ps", "-aq"]), "");
}

/// `run --rootfs DIR[:O]`: a container on a directory instead of an image; with `:O` an
/// overlay keeps the directory untouched (030-run "check workdir" runs one on an image
/// mount).
#[test]
fn rootfs_runs_a_directory() {
    let env = TestEnv::new("rootfs");
    env.import_busybox();
    let dir = env.dir.join("tree");
    std::fs::create_dir_all(&dir).unwrap();
    let tar = peapod_tests::busybox_rootfs_tar().unwrap();
    let out = std::process::Command::new("tar")
        .args(["-C", dir.to_str().unwrap(), "-xf", tar.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let d = dir.to_str().unwrap();
    // Plain: the directory is the root; what the container writes lands in it.
    let c = name("rootfs");
    assert_eq!(
        env.ok(&[
            "run",
            "--name",
            &c,
            "--rootfs",
            d,
            "sh",
            "-c",
            "echo kept > /written; echo ran"
        ]),
        "ran\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("written")).unwrap(),
        "kept\n"
    );
    assert_eq!(
        env.inspect(&c, "{{.ImageDigest}}|{{.Image}}|{{.Rootfs}}"),
        format!("||{d}")
    );
    env.run(&["commit", &c, "nope"])
        .assert_error(125, &["--rootfs"]);
    env.ok(&["rm", &c]);
    // `:O`: writes go to the container's upper layer; the directory is untouched.
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "--rootfs",
            &format!("{d}:O"),
            "sh",
            "-c",
            "echo no > /overlaid; cat /overlaid"
        ]),
        "no\n"
    );
    assert!(!dir.join("overlaid").exists());
    // On an image mount, as 030-run does it.
    let m = env.ok(&["image", "mount", IMG]).trim().to_string();
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "--rootfs",
            &format!("{m}:O"),
            "echo",
            "Hello world"
        ]),
        "Hello world\n"
    );
    env.ok(&["image", "unmount", IMG]);
    // Not a directory: refused, nothing made.
    env.run(&["run", "--rm", "--rootfs", "/no/such/dir", "true"])
        .assert_error(125, &["rootfs /no/such/dir is not a directory"]);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    env.assert_no_mounts();
}

/// `diff` (and `container diff`, `image diff`, `-l`, `--format json`): what a container
/// added, changed and deleted, without the files the engine puts in every container.
#[test]
fn diff_shows_a_containers_changes() {
    let env = TestEnv::new("diff");
    env.import_busybox();
    let c = name("diff");
    env.ok(&[
        "run",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "touch /made; rm /etc/passwd",
    ]);
    assert_eq!(env.ok(&["diff", &c]), "C /etc\nD /etc/passwd\nA /made\n");
    assert_eq!(
        env.ok(&["container", "diff", &c]),
        "C /etc\nD /etc/passwd\nA /made\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["diff", "--format", "json", "-l"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"changed": ["/etc"], "added": ["/made"], "deleted": ["/etc/passwd"]})
    );
    // An image: its top layer against what is under it (one layer: all added).
    let image = env.ok(&["image", "diff", IMG]);
    assert!(image.lines().all(|l| l.starts_with("A /")), "{image}");
    assert!(image.contains("A /bin/sh\n"), "{image}");
    env.run(&["diff", "nosuch"]).assert_error(125, &["nosuch"]);
    env.ok(&["rm", &c]);
}

/// `update`: a running container's limits change in its cgroup at once (cgroup v1 files
/// here, v2 ones on a unified host), inspect shows them, and they stay for its next start;
/// the new create flags (`--memory-reservation`, `--cpuset-cpus`, `--cpuset-mems`) too.
#[test]
fn update_changes_a_running_containers_limits() {
    let env = TestEnv::new("update");
    env.import_busybox();
    let c = name("upd");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "--memory-reservation",
        "100m",
        IMG,
        "sleep",
        "1000",
    ]);
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        && !std::path::Path::new("/sys/fs/cgroup/memory").exists();
    let files: &[(&str, &str)] = if v2 {
        &[
            ("cpu.max", "500000 100000"),
            ("memory.max", "1073741824"),
            ("memory.low", "419430400"),
            ("cpuset.cpus", "0"),
        ]
    } else {
        &[
            ("cpu/cpu.shares", "512"),
            ("cpu/cpu.cfs_quota_us", "500000"),
            ("cpuset/cpuset.cpus", "0"),
            ("cpuset/cpuset.mems", "0"),
            ("memory/memory.limit_in_bytes", "1073741824"),
            ("memory/memory.soft_limit_in_bytes", "419430400"),
        ]
    };
    let id = env.ok(&[
        "update",
        "--cpu-shares",
        "512",
        "--cpus",
        "5",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--memory",
        "1G",
        "--memory-reservation",
        "400M",
        &c,
    ]);
    assert_eq!(id.trim(), env.inspect(&c, "{{.Id}}"));
    let check = || {
        for (file, want) in files {
            let got = env.ok(&["exec", &c, "cat", &format!("/sys/fs/cgroup/{file}")]);
            assert_eq!(got.trim(), *want, "{file}");
        }
    };
    check();
    assert_eq!(
        env.inspect(
            &c,
            "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpusetCpus}}"
        ),
        "1073741824 419430400 0"
    );
    // Kept for the next start.
    env.ok(&["restart", "-t", "0", &c]);
    check();
    // Podman's rules, checked with the old values: swap below memory is refused.
    env.run(&["update", "--memory-swap", "512M", &c])
        .assert_error(
            125,
            &["minimum memoryswap limit should be larger than memory limit"],
        );
    env.run(&["update", &c])
        .assert_error(125, &["no resources given to update"]);
    env.ok(&["rm", "-f", "-t", "0", &c]);
}

/// `container runlabel`: an image's labelled command with Podman's substitutions, shown
/// with `--display`, run otherwise; a missing label named.
#[test]
fn runlabel_shows_and_runs_a_labelled_command() {
    let env = TestEnv::new("runlabel");
    env.import_busybox();
    let ctx = env.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {IMG}\nLABEL INSTALL podman run --rm \\${{OPT1}} --name \\${{NAME}} \\${{IMAGE}} echo installed \\${{OPT2}}\n"),
    )
    .unwrap();
    env.ok(&["build", "-q", "-t", "rl", ctx.to_str().unwrap()]);
    let peapod = env.peapod.display().to_string();
    assert_eq!(
        env.ok(&[
            "container",
            "runlabel",
            "--display",
            "--opt2",
            "now",
            "install",
            "rl"
        ])
        .trim(),
        format!("command: {peapod} run --rm --name rl localhost/rl:latest echo installed now")
    );
    assert_eq!(
        env.ok(&[
            "container",
            "runlabel",
            "--display",
            "--name",
            "x",
            "--opt1=-q",
            "install",
            "rl"
        ])
        .trim(),
        format!("command: {peapod} run --rm -q --name x localhost/rl:latest echo installed")
    );
    // Run: the command is this peapod, on the same store (the label's `podman run`).
    let out = env.run(&[
        "container",
        "runlabel",
        &format!(
            "--opt1=--root={} --runroot={}",
            env.root.display(),
            env.runroot.display()
        ),
        "install",
        "rl",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.ends_with("installed\n"), "{out:?}");
    env.run(&["container", "runlabel", "--display", "run", "rl"])
        .assert_error(125, &["cannot find the value of label: run in image: rl"]);
}
