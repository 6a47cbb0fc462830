//! `--ulimit` on run/create and build, containers.conf `default_ulimits`, build
//! `--security-opt`, and `--systemd` (Podman's systemd mode): what a user checks inside the
//! container (`/proc/self/limits`, `/proc/self/status`, the mount table, `/dev`, the
//! environment) and in inspect.

use std::ffi::OsString;

use crate::build::{build, context};
use crate::util::{IMG, PeapodCmd, TestEnv, name};

/// Soft and hard of a `/proc/self/limits` line (`Max open files`, `Max processes`).
fn limit(limits: &str, what: &str) -> (String, String) {
    let line = limits
        .lines()
        .find(|l| l.starts_with(what))
        .unwrap_or_else(|| panic!("no {what:?} line in {limits}"));
    let f: Vec<&str> = line[what.len()..].split_whitespace().collect();
    (f[0].to_string(), f[1].to_string())
}

fn nofile(limits: &str) -> (String, String) {
    limit(limits, "Max open files")
}

fn may_raise_rlimits() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    eff & (1 << 24) != 0
}

#[test]
fn ulimit_flags_and_containers_conf_defaults() {
    let env = TestEnv::new("ulimit");
    env.import_busybox();
    let conf = env.dir.join("limits.conf");
    std::fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=300:400\"]\n",
    )
    .unwrap();
    let empty = env.dir.join("empty.conf");
    std::fs::write(&empty, "").unwrap();
    let limits = |conf: &std::path::Path, flags: &[&str]| -> String {
        let mut a = vec!["run", "--rm", "--network", "none"];
        a.extend_from_slice(flags);
        a.extend([IMG, "cat", "/proc/self/limits"]);
        env.peapod(&a)
            .env("CONTAINERS_CONF", conf)
            .output()
            .success()
    };
    let (_, host_hard) = nofile(&std::fs::read_to_string("/proc/self/limits").unwrap());

    // Soft and hard as given; one value sets both.
    assert_eq!(
        nofile(&limits(&empty, &["--ulimit", "nofile=1024:2048"])),
        ("1024".into(), "2048".into())
    );
    assert_eq!(
        nofile(&limits(&empty, &["--ulimit", "nofile=512"])),
        ("512".into(), "512".into())
    );
    // inspect reads them back as Podman does (the spec's rlimits).
    let id = env
        .peapod(&["create", "--ulimit", "nofile=512:1024", IMG, "true"])
        .env("CONTAINERS_CONF", &empty)
        .output()
        .success();
    let shown = env.inspect(
        id.trim(),
        "{{range .HostConfig.Ulimits}}{{.Name}}={{.Soft}}:{{.Hard}} {{end}}",
    );
    assert!(
        shown.starts_with("RLIMIT_NOFILE=512:1024 RLIMIT_NPROC="),
        "{shown}"
    );
    env.ok(&["rm", id.trim()]);
    // -1 is unlimited (this host's core hard limit is unlimited).
    let out = limits(&empty, &["--ulimit", "core=-1"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("Max core file size") && l.matches("unlimited").count() == 2),
        "{out}"
    );
    // Nothing given: nofile at Podman's 1048576, never above what the engine may set.
    let want = host_hard
        .parse::<u64>()
        .map_or(1_048_576, |h| h.min(1_048_576));
    assert_eq!(
        nofile(&limits(&empty, &[])),
        (want.to_string(), want.to_string())
    );
    // containers.conf's default_ulimits, replaced by any --ulimit.
    assert_eq!(nofile(&limits(&conf, &[])), ("300".into(), "400".into()));
    assert_eq!(
        nofile(&limits(&conf, &["--ulimit", "nofile=100:200"])),
        ("100".into(), "200".into())
    );

    // `host`: no rlimits for the runtime: the container keeps the limits peapod was started
    // with (a soft nproc of 500 here), where the default sets soft = hard. (Not nofile: runc,
    // a Go program, raises its own soft nofile to the hard limit.)
    let inner = env
        .peapod(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--ulimit",
            "host",
            IMG,
            "cat",
            "/proc/self/limits",
        ])
        .env("CONTAINERS_CONF", &empty)
        .command();
    let mut args: Vec<OsString> = vec!["--nproc=500:".into(), inner.get_program().into()];
    args.extend(inner.get_args().map(|a| a.to_owned()));
    let mut cmd = PeapodCmd::program("prlimit", &args);
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd = cmd.env(k, v);
        }
    }
    assert_eq!(limit(&cmd.output().success(), "Max processes").0, "500");

    // Bad values: go-units' messages under Podman's, exit 125, no container left.
    let n = name("bad-ulimit");
    for (flag, msg) in [
        (
            "nofile=2048:1024",
            "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024",
        ),
        ("bogus=1", "invalid ulimit type: bogus"),
        ("nofile", "invalid ulimit argument: nofile"),
    ] {
        env.peapod(&["create", "--name", &n, "--ulimit", flag, IMG, "true"])
            .output()
            .assert_error(
                125,
                &[
                    &format!("ulimit option \"{flag}\" requires name=SOFT:HARD"),
                    msg,
                ],
            );
    }
    // Above the host's hard limit: the runtime could not set it; refused at create when the
    // engine may not raise rlimits (this VM withholds CAP_SYS_RESOURCE even from root).
    let above = format!("nofile=10:{}", 1_048_576 + 1);
    let out = env
        .peapod(&["create", "--name", &n, "--ulimit", &above, IMG, "true"])
        .output();
    if may_raise_rlimits() {
        out.success();
        env.ok(&["rm", &n]);
    } else {
        out.assert_error(125, &[&above, "above this host's hard limit"]);
    }
    assert!(!env.names_all().contains(&n));
}

#[test]
fn build_ulimit_and_security_opt_reach_run_steps() {
    let env = TestEnv::new("build-limits");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\n\
             RUN grep Seccomp: /proc/self/status | awk '{ print $1$2 }'\n\
             RUN grep 'Max open files' /proc/self/limits | awk '{ print $4\":\"$5 }'\n",
        )],
    );
    let out = build(&env, &ctx, &["--ulimit", "nofile=101:102", "-t", "lim"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("Seccomp:2"), "{out:?}");
    assert!(out.stdout.contains("101:102"), "{out:?}");
    let out = build(
        &env,
        &ctx,
        &[
            "--no-cache",
            "--security-opt",
            "seccomp=unconfined",
            "-t",
            "lim2",
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("Seccomp:0"), "{out:?}");

    let nnp = context(
        &env,
        "nnp",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN grep NoNewPrivs: /proc/self/status\n",
        )],
    );
    let out = build(&env, &nnp, &["--security-opt", "no-new-privileges"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("NoNewPrivs:\t1"), "{out:?}");

    // Buildah's refusals; nothing is built.
    build(&env, &ctx, &["--security-opt", "mask=/etc"])
        .assert_error(125, &["invalid --security-opt 2: \"mask=/etc\""]);
    build(&env, &ctx, &["--security-opt", "bogus"])
        .assert_error(125, &["invalid --security-opt name=value pair: \"bogus\""]);
    build(&env, &ctx, &["--ulimit", "nofile=9:8", "-t", "never"]).assert_error(
        125,
        &["ulimit soft limit must be less than or equal to hard limit: 9 > 8"],
    );
    assert!(!env.ok(&["images"]).contains("never"));
}

#[test]
fn systemd_mode_mounts_signal_env_and_devices() {
    let env = TestEnv::new("systemd-mode");
    env.import_busybox();
    let n = name("sd");
    let id = env
        .ok(&[
            "run",
            "-d",
            "--name",
            &n,
            "--network",
            "none",
            "--systemd=always",
            IMG,
            "sleep",
            "300",
        ])
        .trim()
        .to_string();
    assert_eq!(env.inspect(&n, "{{.Config.SystemdMode}}"), "true");
    let mounts = env.ok(&["exec", &n, "cat", "/proc/mounts"]);
    for dest in ["/run", "/run/lock", "/tmp", "/var/log/journal"] {
        assert!(
            mounts
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(dest) && l.starts_with("tmpfs ")),
            "{dest} is no tmpfs:\n{mounts}"
        );
    }
    if std::path::Path::new("/sys/fs/cgroup/systemd").exists()
        && !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
    {
        // cgroup v1: systemd's hierarchy, writable (the last mount there, over the
        // container's read-only own).
        let line = mounts
            .lines()
            .rfind(|l| l.split_whitespace().nth(1) == Some("/sys/fs/cgroup/systemd"))
            .unwrap_or_else(|| panic!("no /sys/fs/cgroup/systemd:\n{mounts}"));
        assert!(line.contains(" rw,"), "{line}");
    }
    let envs = env.ok(&["exec", &n, "env"]);
    assert!(
        envs.lines()
            .any(|l| l == format!("container_uuid={}", &id[..32])),
        "{envs}"
    );
    assert!(envs.lines().any(|l| l == "container=podman"), "{envs}");
    // SIGRTMIN+3 (inspect shows signals without a plain name by number, as Podman 4.3 shows
    // every one).
    assert_eq!(env.inspect(&n, "{{.Config.StopSignal}}"), "37");
    env.ok(&["rm", "-f", "-t", "0", &n]);

    // Without systemd mode: none of it.
    let plain = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMG,
        "sh",
        "-c",
        "env; cat /proc/mounts",
    ]);
    assert!(!plain.contains("container_uuid="), "{plain}");
    assert!(!plain.contains(" /run/lock "), "{plain}");

    // `true` (the default) decides from the command: an init is systemd mode.
    let init = name("init");
    env.ok(&["create", "--name", &init, IMG, "/sbin/init"]);
    assert_eq!(env.inspect(&init, "{{.Config.StopSignal}}"), "37");
    let top = name("top");
    env.ok(&[
        "create",
        "--name",
        &top,
        "--systemd=false",
        IMG,
        "/sbin/init",
    ]);
    assert_eq!(env.inspect(&top, "{{.Config.StopSignal}}"), "SIGTERM");
    env.ok(&["rm", &init, &top]);

    // --privileged: the host's devices, but no /dev/ttyN in systemd mode.
    let ttys = |flags: &[&str]| -> Vec<String> {
        let mut a = vec!["run", "--rm", "--network", "none", "--privileged"];
        a.extend_from_slice(flags);
        a.extend([IMG, "sh", "-c", "ls /dev/tty*"]);
        env.ok(&a).split_whitespace().map(String::from).collect()
    };
    assert!(ttys(&[]).len() > 1, "the host's ttys without systemd mode");
    assert_eq!(ttys(&["--systemd=always"]), ["/dev/tty"]);

    env.peapod(&["create", "--systemd=yes", IMG, "true"])
        .output()
        .assert_error(
            125,
            &["invalid value \"yes\" systemd option requires 'true, false, always'"],
        );
    assert!(env.names_all().is_empty());
}

/// `rmi` of a built image takes its intermediate images (no name, no other child, no
/// container) along, as Podman's does, so that a rebuild runs its steps again.
#[test]
fn rmi_takes_dangling_build_parents() {
    let env = TestEnv::new("rmi-parents");
    let busybox = env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN echo one > /one\nRUN echo two > /two\n",
        )],
    );
    let all = |env: &TestEnv| -> Vec<String> {
        let mut v: Vec<String> = env
            .ok(&["images", "-a", "-q", "--no-trunc"])
            .lines()
            .map(|l| l.trim_start_matches("sha256:").to_string())
            .collect();
        v.sort();
        v
    };
    let out = build(&env, &ctx, &["-t", "kid"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(all(&env).len(), 3, "busybox, one step image, kid");
    let out = env.ok(&["rmi", "kid"]);
    assert_eq!(out.matches("Deleted: ").count(), 2, "{out}");
    assert_eq!(
        all(&env),
        [busybox.trim_start_matches("sha256:").to_string()]
    );
    // A rebuild runs again (nothing cached is left).
    let out = build(&env, &ctx, &["-t", "kid"]);
    assert!(!out.stdout.contains("Using cache"), "{out:?}");

    // A named parent stays, and so does one another image is built on.
    let base = context(
        &env,
        "base",
        &[("Containerfile", "FROM kid\nRUN echo three > /three\n")],
    );
    let out = build(&env, &base, &["-t", "grandkid"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = env.ok(&["rmi", "grandkid"]);
    assert_eq!(out.matches("Deleted: ").count(), 1, "{out}");
    assert!(env.ok(&["images"]).contains("kid"));
}

/// `build --dns`, `--dns-search`, `--dns-option`, `--add-host` reach RUN steps'
/// `/etc/resolv.conf` and `/etc/hosts`, as `run`'s do.
#[test]
fn build_dns_flags_reach_run_steps() {
    let env = TestEnv::new("build-dns");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN cat /etc/resolv.conf /etc/hosts\n",
        )],
    );
    let out = build(
        &env,
        &ctx,
        &[
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "nxexample.net",
            "--dns-option",
            "ndots:3",
            "--add-host",
            "buildhost:192.0.2.7",
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    for want in [
        "nameserver 192.0.2.53",
        "search nxexample.net",
        "options ndots:3",
        "192.0.2.7\tbuildhost",
    ] {
        assert!(out.stdout.contains(want), "{want:?}:{out:?}");
    }
}
