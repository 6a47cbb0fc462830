//! `run` flags about the container's root filesystem, `/dev/shm`, devices, sysctls, its
//! init, the containers it requires and its image's removal, as a user checks them from
//! inside the container and with `inspect`.

use crate::util::{IMG, TestEnv, name};

#[test]
fn read_only_root_with_and_without_tmpfs() {
    let env = TestEnv::new("read-only");
    env.import_busybox();
    // The root is read-only; /tmp, /var/tmp and /run are writable tmpfs (Podman's default).
    let out = env.ok(&[
        "run",
        "--rm",
        "--read-only",
        IMG,
        "sh",
        "-c",
        "touch /x 2>&1; for d in /tmp /var/tmp /run; do touch $d/f && echo $d ok; done",
    ]);
    assert!(out.contains("Read-only file system"), "{out}");
    for d in ["/tmp ok", "/var/tmp ok", "/run ok"] {
        assert!(out.contains(d), "{d}: {out}");
    }
    // --read-only-tmpfs=false: nothing is writable; a user's tmpfs wins over the default.
    let out = env.ok(&[
        "run",
        "--rm",
        "--read-only",
        "--read-only-tmpfs=false",
        IMG,
        "sh",
        "-c",
        "touch /tmp/f 2>&1 || echo refused",
    ]);
    assert!(out.contains("refused"), "{out}");
    let c = name("ro");
    env.ok(&[
        "create",
        "--name",
        &c,
        "--read-only",
        "--tmpfs",
        "/tmp:size=1m",
        IMG,
        "true",
    ]);
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", &c])
            .trim()
            .to_string(),
        "true"
    );
    let mounts = env
        .ok(&["inspect", "--format", "{{json .HostConfig.Tmpfs}}", &c])
        .trim()
        .to_string();
    assert!(mounts.contains("size=1m"), "{mounts}");
    env.ok(&["rm", &c]);
    let plain = name("rw");
    env.ok(&["create", "--name", &plain, IMG, "true"]);
    assert_eq!(
        env.ok(&[
            "inspect",
            "--format",
            "{{.HostConfig.ReadonlyRootfs}}",
            &plain
        ])
        .trim()
        .to_string(),
        "false"
    );
    env.ok(&["rm", &plain]);
}

#[test]
fn shm_size_sets_dev_shm() {
    let env = TestEnv::new("shm-size");
    env.import_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "--shm-size",
        "2m",
        IMG,
        "df",
        "-k",
        "/dev/shm",
    ]);
    let blocks: Vec<&str> = out
        .lines()
        .last()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(blocks.get(1), Some(&"2048"), "{out}");
    let c = name("shm");
    env.ok(&["create", "--name", &c, "--shm-size", "1g", IMG, "true"]);
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.HostConfig.ShmSize}}", &c])
            .trim()
            .to_string(),
        (1u64 << 30).to_string()
    );
    env.ok(&["rm", &c]);
    env.run(&["run", "--rm", "--shm-size", "lots", IMG, "true"])
        .assert_error(
            125,
            &["unable to translate --shm-size: invalid size: 'lots'"],
        );
    assert_eq!(
        env.ok(&["ps", "-aq"]).trim(),
        "",
        "a refused create leaves nothing"
    );
}

#[test]
fn device_appears_in_the_container() {
    let env = TestEnv::new("device");
    env.import_busybox();
    // The node is made with the host's numbers; the cgroup lets the container use it.
    let out = env.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/null:/dev/foo",
        IMG,
        "sh",
        "-c",
        "ls -l /dev/foo && echo hi > /dev/foo && echo written",
    ]);
    assert!(out.starts_with('c'), "a character device: {out}");
    assert!(out.contains("1,   3"), "major 1, minor 3: {out}");
    assert!(out.contains("written"), "{out}");
    // The cgroup grants what was asked: /dev/kmsg (not among the runtime's default devices)
    // opens for writing with `rw`, not with `r` (nothing is written: `:` only opens it).
    let open_for_write = |perms: &str| {
        env.run(&[
            "run",
            "--rm",
            "--device",
            &format!("/dev/kmsg:/dev/k:{perms}"),
            IMG,
            "sh",
            "-c",
            ": > /dev/k && echo opened",
        ])
    };
    let out = open_for_write("r");
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
    assert_eq!(open_for_write("rw").stdout.trim(), "opened");
    let c = name("dev");
    env.ok(&[
        "create",
        "--name",
        &c,
        "--device",
        "/dev/zero:/dev/z:rw",
        IMG,
        "true",
    ]);
    let dev = env
        .ok(&["inspect", "--format", "{{json .HostConfig.Devices}}", &c])
        .trim()
        .to_string();
    assert_eq!(
        dev.trim(),
        r#"[{"PathOnHost":"/dev/zero","PathInContainer":"/dev/z","CgroupPermissions":"rw"}]"#
    );
    env.ok(&["rm", &c]);
    env.run(&[
        "run",
        "--rm",
        "--device",
        "/dev/peapod-nothere",
        IMG,
        "true",
    ])
    .assert_error(
        125,
        &["stat /dev/peapod-nothere: no such file or directory"],
    );
    env.run(&["run", "--rm", "--device", "/dev/null:bad", IMG, "true"])
        .assert_error(125, &["invalid device mode: bad"]);
    assert_eq!(
        env.ok(&["ps", "-aq"]).trim(),
        "",
        "a refused create leaves nothing"
    );
}

#[test]
fn sysctl_is_set_in_the_container() {
    let env = TestEnv::new("sysctl");
    env.import_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--sysctl",
        "kernel.shmmax=123456",
        IMG,
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
        "/proc/sys/kernel/shmmax",
    ]);
    assert_eq!(out.trim(), "1\n123456");
    env.run(&["run", "--rm", "--sysctl", "kernel.panic=1", IMG, "true"])
        .assert_error(125, &["sysctl 'kernel.panic' is not allowed"]);
    env.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        IMG,
        "true",
    ])
    .assert_error(
        125,
        &["sysctl net.ipv4.ip_forward=1 can't be set since Network Namespace set to host"],
    );
    assert_eq!(
        env.ok(&["ps", "-aq"]).trim(),
        "",
        "a refused create leaves nothing"
    );
}

#[test]
fn init_runs_the_command_under_an_init() {
    let env = TestEnv::new("init");
    env.import_busybox();
    // PID 1 is the init; the command is its child.
    let out = env.ok(&["run", "--rm", "--init", IMG, "ps", "-o", "pid,args"]);
    assert!(
        out.lines()
            .any(|l| l.trim().starts_with("1 /run/podman-init -- ps")),
        "{out}"
    );
    // The command's exit code is the container's.
    env.run(&["run", "--rm", "--init", IMG, "sh", "-c", "exit 7"])
        .assert_code(7);
    // SIGTERM reaches a command that, as PID 1, would ignore it: stop needs no kill.
    let c = name("init");
    env.ok(&["run", "-d", "--name", &c, "--init", IMG, "sleep", "1000"]);
    let stop = env.run(&["stop", "-t", "20", &c]);
    assert_eq!(stop.code(), 0, "{stop:?}");
    assert!(!stop.stderr.contains("resorting to SIGKILL"), "{stop:?}");
    assert_eq!(
        env.ok(&[
            "inspect",
            "--format",
            "{{.State.ExitCode}} {{.HostConfig.Init}}",
            &c
        ])
        .trim(),
        "143 true"
    );
    env.ok(&["rm", &c]);
    env.run(&["run", "--rm", "--init", "--pid", "host", IMG, "true"])
        .assert_error(
            125,
            &["cannot add init binary as PID 1 (PID namespace isn't private)"],
        );
    env.run(&["run", "--rm", "--init", "--init-path", "/no/such/init", IMG, "true"])
        .assert_error(
            125,
            &["container-init binary not found on the host: stat /no/such/init: no such file or directory"],
        );
    assert_eq!(
        env.ok(&["ps", "-aq"]).trim(),
        "",
        "a refused create leaves nothing"
    );
    // Swappable: catatonit, when installed, does the same job.
    let catatonit = std::path::Path::new("/usr/libexec/podman/catatonit");
    if peapod_tests::skip_unless(catatonit.exists(), "catatonit (Debian's podman) installed") {
        return;
    }
    let out = env.ok(&[
        "run",
        "--rm",
        "--init",
        "--init-path",
        "/usr/libexec/podman/catatonit",
        IMG,
        "ps",
        "-o",
        "pid,args",
    ]);
    assert!(out.contains("1 /run/podman-init -- ps"), "{out}");
}

#[test]
fn requires_starts_the_required_containers_first() {
    let env = TestEnv::new("requires");
    env.import_busybox();
    let db = name("db");
    let app = name("app");
    let web = name("web");
    env.ok(&["create", "--name", &db, IMG, "sleep", "1000"]);
    env.ok(&[
        "create",
        "--name",
        &app,
        "--requires",
        &db,
        IMG,
        "sleep",
        "1000",
    ]);
    env.ok(&[
        "create",
        "--name",
        &web,
        "--requires",
        &app,
        IMG,
        "sleep",
        "1000",
    ]);
    // Starting the last starts the chain.
    env.ok(&["start", &web]);
    let running = env.ok(&["ps", "--format", "{{.Names}}"]);
    for n in [&db, &app, &web] {
        assert!(running.lines().any(|l| l == n.as_str()), "{n}: {running}");
    }
    let db_id = env
        .ok(&["inspect", "--format", "{{.Id}}", &db])
        .trim()
        .to_string();
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.Dependencies}}", &app])
            .trim(),
        format!("[{db_id}]")
    );
    // A required container cannot go while another needs it; --depend takes them all.
    env.run(&["rm", "-f", &db]).assert_error(
        125,
        &["has dependent containers which must be removed before it"],
    );
    env.ok(&["rm", "-f", "-t", "0", "--depend", &db]);
    assert_eq!(env.ok(&["ps", "-aq"]).trim(), "");
    env.run(&["create", "--requires", "peapod-no-such-ctr", IMG, "true"])
        .assert_error(
            125,
            &["no container with name or ID \"peapod-no-such-ctr\" found"],
        );
}

#[test]
fn rmi_removes_the_image_after_the_run() {
    let env = TestEnv::new("rmi");
    env.import_busybox();
    let copy = format!("localhost/{}", name("copy"));
    env.ok(&["tag", IMG, &copy]);
    let out = env.run(&["run", "--rm", "--rmi", &copy, "sh", "-c", "echo hi; exit 3"]);
    assert_eq!(out.code(), 3, "the container's exit code: {out:?}");
    assert_eq!(out.stdout.trim(), "hi");
    let images = env.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains(&copy), "{images}");
    assert!(
        images.contains("localhost/busybox"),
        "the other name stays: {images}"
    );
}
