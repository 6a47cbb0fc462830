//! Security settings a user chooses: `--cap-add`/`--cap-drop`, a seccomp profile of one's
//! own, no-new-privileges, and containers.conf's `default_capabilities`,
//! `default_sysctls` (`ping_group_range`) and `seccomp_profile`; `/dev` mounted noexec.
//! The shared helpers (the syscall probe, the peapod-and-Podman pair) are in
//! [`crate::security`].

use std::path::Path;

use crate::security::{Both, probe, probe_volume};
use crate::util::{IMG, TestEnv, name};

#[test]
fn added_and_dropped_capabilities_profiles_and_no_new_privileges() {
    let env = TestEnv::new("sec-caps");
    env.import_busybox();
    let run = |flags: &[&str], script: &str| -> String {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(flags);
        a.extend([IMG, "sh", "-c", script]);
        env.ok(&a)
    };
    // NET_ADMIN: the container may reconfigure its own interfaces.
    let set_mtu = "ip link set lo mtu 1500 && echo changed || echo refused";
    assert_eq!(run(&[], set_mtu).trim(), "refused");
    assert_eq!(run(&["--cap-add", "NET_ADMIN"], set_mtu).trim(), "changed");
    // No CHOWN: root cannot give a file away.
    let chown = "touch /tmp/f && chown 1:1 /tmp/f && echo chowned || echo refused";
    assert_eq!(run(&[], chown).trim(), "chowned");
    assert_eq!(run(&["--cap-drop", "CHOWN"], chown).trim(), "refused");

    // A profile of one's own: mkdir fails with the profile's errno (EACCES).
    let profile = env.dir.join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let out = run(
        &["--security-opt", &opt],
        "mkdir /tmp/d 2>&1; touch /tmp/file && echo touched; grep ^Seccomp: /proc/self/status",
    );
    assert!(out.contains("Permission denied"), "{out}");
    assert!(out.contains("touched"), "only mkdir is refused: {out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    let n = name("prof");
    env.ok(&["create", "--name", &n, "--security-opt", &opt, IMG, "true"]);
    assert_eq!(
        env.inspect(&n, "{{json .HostConfig.SecurityOpt}}"),
        format!("[\"{opt}\"]")
    );
    // The profile was read at create: removing the file changes nothing for the container.
    std::fs::remove_file(&profile).unwrap();
    env.ok(&["start", "-a", &n]);

    // no-new-privileges.
    let nnp = "grep ^NoNewPrivs: /proc/self/status";
    assert!(run(&[], nnp).contains("NoNewPrivs:\t0"));
    assert!(run(&["--security-opt", "no-new-privileges"], nnp).contains("NoNewPrivs:\t1"));
    assert!(run(&["--security-opt", "no-new-privileges=true"], nnp).contains("NoNewPrivs:\t1"));
    assert!(run(&["--security-opt", "no-new-privileges=false"], nnp).contains("NoNewPrivs:\t0"));
}

#[test]
fn ping_group_range_and_dev_noexec() {
    let Some(probe) = probe() else { return };
    let env = TestEnv::new("sec-sysctl");
    env.import_busybox();
    let vol = probe_volume(&probe);
    let with_sysctl = env.dir.join("sysctl.conf");
    std::fs::write(
        &with_sysctl,
        "[containers]\ndefault_sysctls = [\"net.ipv4.ping_group_range=0 0\"]\n",
    )
    .unwrap();
    let without = env.dir.join("empty.conf");
    std::fs::write(&without, "").unwrap();
    let run = |conf: &Path, flags: &[&str], cmd: &[&str]| -> String {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(flags);
        a.push(IMG);
        a.extend_from_slice(cmd);
        env.peapod(&a)
            .env("CONTAINERS_CONF", conf)
            .output()
            .success()
    };
    let range = ["cat", "/proc/sys/net/ipv4/ping_group_range"];
    let ping = ["/probe", "ping"];
    for net in [&["--network", "none"][..], &[]] {
        assert_eq!(
            run(&with_sysctl, net, &range)
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["0", "0"]
        );
        // An unprivileged ICMP echo, as iputils ping sends without CAP_NET_RAW.
        let mut f = vec!["-v", vol.as_str()];
        f.extend_from_slice(net);
        assert_eq!(run(&with_sysctl, &f, &ping).trim(), "ping=0", "{net:?}");
        // gid 1000 is outside the range.
        let mut u = f.clone();
        u.extend(["--user", "1000:1000"]);
        assert_eq!(run(&with_sysctl, &u, &ping).trim(), "ping=EACCES");
    }
    // busybox's ping opens a raw socket, so it needs CAP_NET_RAW whatever the range: it works
    // with Podman's built-in capabilities (the empty conf), not with Debian's narrower set.
    let busybox_ping = ["ping", "-c", "1", "-W", "3", "127.0.0.1"];
    assert!(run(&without, &[], &busybox_ping).contains("1 packets received"));
    let mut a = vec!["run", "--rm", "--cap-drop", "NET_RAW", IMG];
    a.extend_from_slice(&busybox_ping);
    env.peapod(&a)
        .env("CONTAINERS_CONF", &with_sysctl)
        .output()
        .assert_code(1);
    // Without the key the kernel's default stays, and the echo is refused.
    assert_eq!(
        run(&without, &[], &range)
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["1", "0"]
    );
    assert_eq!(run(&without, &["-v", &vol], &ping).trim(), "ping=EACCES");
    // The host's network namespace is the host's: the sysctl is left alone.
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
    assert_eq!(
        run(&with_sysctl, &["--network", "host"], &range)
            .split_whitespace()
            .collect::<Vec<_>>(),
        host.split_whitespace().collect::<Vec<_>>()
    );

    // /dev: Podman's rw,nosuid,noexec; a program copied there does not run.
    let mountinfo = env.ok(&["run", "--rm", IMG, "cat", "/proc/self/mountinfo"]);
    let dev = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/dev"))
        .unwrap_or_else(|| panic!("no /dev mount: {mountinfo}"));
    let opts: Vec<&str> = dev.split(' ').nth(5).unwrap().split(',').collect();
    for o in ["rw", "nosuid", "noexec"] {
        assert!(opts.contains(&o), "/dev mounted with {opts:?}");
    }
    env.run(&[
        "run",
        "--rm",
        IMG,
        "sh",
        "-c",
        "cp /bin/busybox /dev/bb && exec /dev/bb true",
    ])
    .assert_code(126);
}

#[test]
fn containers_conf_default_capabilities() {
    let env = TestEnv::new("sec-conf");
    env.import_busybox();
    let conf = env.dir.join("caps.conf");
    std::fs::write(
        &conf,
        "[containers]\ndefault_capabilities = [\"CHOWN\", \"kill\"]\n",
    )
    .unwrap();
    let peapod =
        |args: &[&str], conf: &Path| env.peapod(args).env("CONTAINERS_CONF", conf).output();
    let out = peapod(
        &["run", "--rm", IMG, "grep", "^CapBnd:", "/proc/self/status"],
        &conf,
    )
    .success();
    // CHOWN is bit 0, KILL bit 5.
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["CapBnd:", "0000000000000021"]
    );
    let n = name("conf");
    peapod(&["create", "--name", &n, IMG, "true"], &conf).success();
    assert_eq!(
        env.inspect(&n, "{{json .BoundingCaps}}"),
        r#"["CAP_CHOWN","CAP_KILL"]"#
    );
    env.ok(&["rm", &n]);

    // A drop-in style override file on top ($CONTAINERS_CONF_OVERRIDE).
    let over = env.dir.join("override.conf");
    std::fs::write(&over, "[containers]\ndefault_capabilities = [\"SETUID\"]\n").unwrap();
    let out = env
        .peapod(&["run", "--rm", IMG, "grep", "^CapBnd:", "/proc/self/status"])
        .env("CONTAINERS_CONF", &conf)
        .env("CONTAINERS_CONF_OVERRIDE", &over)
        .output()
        .success();
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["CapBnd:", "0000000000000080"]
    );

    // Bad configurations: refused at create, nothing left.
    let bad = env.dir.join("bad.conf");
    std::fs::write(&bad, "[containers]\ndefault_capabilities = [\"FOO\"]\n").unwrap();
    peapod(&["run", "--rm", IMG, "true"], &bad)
        .assert_error(125, &["\"CAP_FOO\": unknown capability"]);
    let broken = env.dir.join("broken.conf");
    std::fs::write(&broken, "[containers\n").unwrap();
    peapod(&["create", IMG, "true"], &broken).assert_error(
        125,
        &["decode configuration", &broken.display().to_string()],
    );
    let missing = env.dir.join("missing.conf");
    peapod(&["create", IMG, "true"], &missing).assert_error(125, &["CONTAINERS_CONF file"]);
    assert!(
        env.ids_all().is_empty(),
        "a refused create left a container"
    );
    env.assert_no_mounts();
}

#[test]
fn containers_conf_seccomp_profile_and_info_as_podman() {
    // The profile lives in its own dir: the Podman env's conf must name it before the env
    // exists, so it cannot sit inside either env's temp dir.
    let dir = tempfile::Builder::new()
        .prefix("pp-sec-profile-")
        .tempdir_in("/tmp")
        .expect("a temp dir");
    let profile = dir.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errno":"EACCES"}]}"#,
    )
    .unwrap();
    let keys = format!(
        "seccomp_profile = \"{}\"\ndefault_capabilities = [\"CHOWN\", \"KILL\", \"SYS_CHROOT\"]",
        profile.display()
    );
    let Some(both) = Both::new("sec-conf-prof", &keys) else {
        return;
    };
    let info = "{{.Host.Security.SECCOMPEnabled}} {{.Host.Security.SECCOMPProfilePath}} \
                {{.Host.Security.DefaultCapabilities}}";
    let pp = both.peapod(&["info", "--format", info]).success();
    let pm = both.podman(&["info", "--format", info]).success();
    assert_eq!(pp, pm, "info's Host.Security");
    assert!(pp.contains(&profile.display().to_string()), "{pp}");
    // The containers.conf profile applies, even with --privileged (only the default one
    // is lifted), and inspect does not list it (it was not a --security-opt).
    let script = "mkdir /tmp/d 2>&1; grep ^Seccomp: /proc/self/status";
    for flags in [&[][..], &["--privileged"]] {
        let (pp, pm) = both.run_both(flags, &["sh", "-c", script]);
        assert_eq!(pp, pm, "under {flags:?}");
        assert!(
            pp.contains("Permission denied") && pp.contains("Seccomp:\t2"),
            "{pp}"
        );
    }
    let id = both.peapod(&["create", IMG, "true"]).success();
    assert_eq!(
        both.pp
            .inspect(id.trim(), "{{json .HostConfig.SecurityOpt}}"),
        "[]"
    );
}
