//! `generate systemd`: Podman 4.3's units (`../shared/reference/systemd-events-health.md`,
//! Podman's `pkg/systemd/generate`), accepted by `systemd-analyze verify`, and — with no
//! systemd on this machine — a `--new` unit's commands run as systemd would run them: the
//! start tells `$NOTIFY_SOCKET` the monitor's pid and READY=1, stop and stop-post remove
//! the container through its `--cidfile`.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::Duration;

use crate::util::{IMG, TestEnv, name};

/// The value of `Key=` (its continuation lines joined) in a unit's text.
pub(crate) fn key(unit: &str, k: &str) -> Vec<String> {
    let joined = unit.replace(" \\\n\t", " ");
    joined
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{k}=")))
        .map(str::to_string)
        .collect()
}

/// A systemd command line as systemd splits it (double quotes with Go's escapes, `\xNN`),
/// with `%t`, `%n`, `%N` (the unit's name without `.service`) and the `%%`/`$$` escapes
/// resolved.
pub(crate) fn systemd_argv(line: &str, runtime_dir: &str, unit: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(match n {
                        'n' => '\n',
                        't' => '\t',
                        'x' => {
                            let hex: String = chars.by_ref().take(2).collect();
                            char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap()
                        }
                        other => other,
                    });
                }
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|a| {
            a.replace("%%", "\u{1}")
                .replace("%t", runtime_dir)
                .replace("%n", unit)
                .replace("%N", unit.trim_end_matches(".service"))
                .replace('\u{1}', "%")
                .replace("$$", "$")
        })
        .collect()
}

/// The cgroup systemd would run the unit's processes in (`pp-unit-UNIT` at the top of the
/// unified hierarchy, made on first use), relative to each hierarchy's root.
fn unit_cgroup(unit: &str) -> Option<String> {
    let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(std::path::Path::new)
        .find(|p| p.join("cgroup.procs").exists())?;
    let rel = format!("pp-unit-{unit}");
    std::fs::create_dir_all(unified.join(&rel)).ok()?;
    Some(rel)
}

/// After a command of the unit: its cgroup goes from every hierarchy once nothing of the
/// unit runs there any more (as systemd removes a stopped unit's cgroup). After a command
/// that stops (`stop`, `rm`, `down`), the unit's last process (the monitor) is given a
/// moment to exit first.
fn release_unit_cgroup(rel: &str, stops: bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(if stops { 5 } else { 0 });
    loop {
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(h.path().join(rel));
        }
        let _ = std::fs::remove_dir(std::path::Path::new("/sys/fs/cgroup").join(rel));
        let left = std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
            .any(|h| h.path().join(rel).exists());
        if !left || std::time::Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs one of the unit's command lines as systemd would: its `Environment=` set, in the
/// unit's own cgroup.
pub(crate) fn run_line(
    unit_text: &str,
    line: &str,
    runtime_dir: &str,
    unit: &str,
    notify: Option<&str>,
) -> std::process::Output {
    let argv = systemd_argv(line, runtime_dir, unit);
    let cgroup = unit_cgroup(unit);
    let mut cmd = match &cgroup {
        Some(rel) => {
            let procs = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
                .iter()
                .map(|r| std::path::Path::new(r).join(rel).join("cgroup.procs"))
                .find(|p| p.exists())
                .expect("the unit's cgroup was made");
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("echo $$ > {} && exec \"$@\"", procs.display()))
                .arg("sh")
                .args(&argv);
            c
        }
        None => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    for e in key(unit_text, "Environment") {
        for kv in systemd_argv(&e, runtime_dir, unit) {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    if let Some(s) = notify {
        cmd.env("NOTIFY_SOCKET", s);
    }
    let out = cmd.output().unwrap();
    if let Some(rel) = cgroup {
        let stops = argv
            .iter()
            .any(|a| matches!(a.as_str(), "stop" | "rm" | "down"));
        release_unit_cgroup(&rel, stops);
    }
    out
}

/// `systemd-analyze verify UNIT` accepts it.
pub(crate) fn verify(env: &TestEnv, unit: &str) {
    if peapod_tests::skip_unless(
        std::path::Path::new("/usr/bin/systemd-analyze").exists(),
        "systemd-analyze (Debian's systemd package)",
    ) {
        return;
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(unit.split(' '))
        .current_dir(&env.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "systemd-analyze verify {unit}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_unit_for_an_existing_container() {
    let env = TestEnv::new("systemd-existing");
    env.import_busybox();
    let web = name("web");
    let id = env
        .ok(&["create", "--name", &web, IMG, "sleep", "1000"])
        .trim()
        .to_string();
    let unit = env.ok(&["generate", "systemd", "--name", &web]);
    assert!(
        unit.starts_with(&format!(
            "# container-{web}.service\n# autogenerated by peapod"
        )),
        "{unit}"
    );
    assert_eq!(key(&unit, "Type"), ["forking"]);
    assert_eq!(key(&unit, "Restart"), ["on-failure"]);
    assert_eq!(key(&unit, "TimeoutStopSec"), ["70"]);
    assert_eq!(key(&unit, "Environment"), ["PODMAN_SYSTEMD_UNIT=%n"]);
    let start = key(&unit, "ExecStart").pop().unwrap();
    assert!(start.ends_with(&format!(" start {web}")), "{start}");
    assert!(
        key(&unit, "ExecStop")[0].ends_with(&format!("stop  -t 10 {web}")),
        "{unit}"
    );
    assert_eq!(key(&unit, "WantedBy"), ["default.target"]);
    // The pid file it names holds the monitor's pid once the unit's start ran.
    let svc = format!("{web}.service");
    let out = run_line(&unit, &start, "/unused", &svc, None);
    assert!(out.status.success(), "{out:?}");
    let pidfile = key(&unit, "PIDFile").pop().unwrap();
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        env.inspect(&id, "{{.State.ConmonPid}}")
    );
    let out = run_line(&unit, &key(&unit, "ExecStop")[0], "/unused", &svc, None);
    assert!(out.status.success(), "{out:?}");
    // By id, other prefix and separator, no header; and as a file systemd accepts.
    let unit = env.ok(&[
        "generate",
        "systemd",
        "--container-prefix",
        "ctr",
        "--separator",
        "_",
        "--no-header",
        "-t",
        "3",
        &web,
    ]);
    assert!(
        unit.starts_with(&format!("# ctr_{id}.service\n\n[Unit]")),
        "{unit}"
    );
    assert_eq!(key(&unit, "TimeoutStopSec"), ["63"]);
    let out = env
        .peapod(&["generate", "systemd", "--files", "--name", &web])
        .command()
        .current_dir(&env.dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let path = env.dir.join(format!("container-{web}.service"));
    assert_eq!(out.trim(), path.display().to_string());
    verify(&env, path.to_str().unwrap());
    env.ok(&["rm", "-f", "-t", "0", &web]);
}

#[test]
fn a_new_unit_runs_as_systemd_would_run_it() {
    let env = TestEnv::new("systemd-new");
    env.import_busybox();
    let web = name("web");
    env.peapod(&[
        "create",
        "--name",
        &web,
        "-e",
        "FOO",
        "--restart",
        "on-failure:42",
        IMG,
        "sh",
        "-c",
        "echo \"$FOO 100%\"; trap 'exit 0' TERM; while :; do sleep 0.2; done",
    ])
    .env("FOO", "bar baz")
    .output()
    .success();
    // `--files`: written to the working directory, its path printed.
    let out = env
        .peapod(&["generate", "systemd", "--new", "--files", "--name", &web])
        .command()
        .current_dir(&env.dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let path = env.dir.join(format!("container-{web}.service"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        path.display().to_string()
    );
    let unit = std::fs::read_to_string(&path).unwrap();
    assert_eq!(key(&unit, "Type"), ["notify"]);
    assert_eq!(key(&unit, "NotifyAccess"), ["all"]);
    assert_eq!(key(&unit, "Restart"), ["on-failure"]);
    assert_eq!(key(&unit, "StartLimitBurst"), ["42"]);
    assert_eq!(key(&unit, "RequiresMountsFor"), ["%t/containers"]);
    assert!(
        key(&unit, "Environment").contains(&"\"FOO=bar baz\"".to_string()),
        "{unit}"
    );
    assert!(key(&unit, "PIDFile").is_empty());
    let start = key(&unit, "ExecStart").pop().unwrap();
    for flag in [
        "run",
        "--cidfile=%t/%n.ctr-id",
        "--cgroups=no-conmon",
        "--rm",
        "--sdnotify=conmon",
        "-d",
        "--replace",
    ] {
        assert!(start.split(' ').any(|a| a == flag), "{flag} in {start}");
    }
    assert!(!start.contains("--restart"), "{start}");
    assert!(start.contains("100%%"), "systemd's % escaped: {start}");
    verify(&env, path.to_str().unwrap());
    // Run it: the old container goes (--replace), a new one starts and says READY.
    env.ok(&["rm", &web]);
    let rt = env.dir.join("rt");
    std::fs::create_dir_all(&rt).unwrap();
    let rt = rt.to_str().unwrap();
    let sock_path = env.dir.join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let unit_name = "container-web.service";
    let pre = run_line(&unit, &key(&unit, "ExecStartPre")[0], rt, unit_name, None);
    assert!(pre.status.success(), "{pre:?}");
    let out = run_line(
        &unit,
        &start,
        rt,
        unit_name,
        Some(sock_path.to_str().unwrap()),
    );
    assert!(out.status.success(), "{out:?}");
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a notification");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    let conmon = env.inspect(&web, "{{.State.ConmonPid}}");
    assert_eq!(msg, format!("MAINPID={conmon}\nREADY=1\n"));
    let cid = std::fs::read_to_string(format!("{rt}/{unit_name}.ctr-id")).unwrap();
    assert_eq!(cid.trim(), env.inspect(&web, "{{.ID}}"));
    assert_eq!(env.status(&web), "running");
    crate::util::wait_until("the container's output", Duration::from_secs(5), || {
        env.ok(&["logs", &web]).contains("bar baz 100%")
    });
    for k in ["ExecStop", "ExecStopPost"] {
        let out = run_line(&unit, &key(&unit, k)[0], rt, unit_name, None);
        assert!(out.status.success(), "{k}: {out:?}");
    }
    assert!(
        env.ok(&["ps", "-aq"]).trim().is_empty(),
        "the unit's stop removed it"
    );
    // Stopping again (the container is gone) is fine: --ignore.
    let again = run_line(&unit, &key(&unit, "ExecStopPost")[0], rt, unit_name, None);
    assert!(again.status.success(), "{again:?}");
}

#[test]
fn restart_policies_templates_and_errors() {
    let env = TestEnv::new("systemd-options");
    env.import_busybox();
    let a = name("a");
    env.ok(&[
        "create",
        "--restart",
        "unless-stopped",
        "--name",
        &a,
        IMG,
        "top",
    ]);
    let unit = env.ok(&["generate", "systemd", "--new", &a]);
    assert_eq!(key(&unit, "Restart"), ["always"]);
    let unit = env.ok(&["generate", "systemd", "--new", "--restart-policy", "no", &a]);
    assert_eq!(key(&unit, "Restart"), ["no"]);
    let out = env.run(&["generate", "systemd", "--name", &a]);
    assert!(
        out.stderr.contains("which can lead to issues on shutdown"),
        "{out:?}"
    );
    let unit = env.ok(&["generate", "systemd", "--new", "--template", "--name", &a]);
    assert!(
        unit.starts_with(&format!("# container-{a}@.service")),
        "{unit}"
    );
    assert!(
        key(&unit, "ExecStart")[0].contains(&format!("--name {a}-%i")),
        "{unit}"
    );
    assert_eq!(key(&unit, "Environment"), ["PODMAN_SYSTEMD_UNIT=%n-%i"]);
    env.run(&["generate", "systemd", "--new=false", "--template", &a])
        .assert_error(125, &["--template cannot be set"]);
    // --template alone implies --new.
    let unit = env.ok(&["generate", "systemd", "--template", &a]);
    assert_eq!(key(&unit, "Type"), ["notify"]);
    env.run(&["generate", "systemd", "--restart-policy", "sometimes", &a])
        .assert_error(125, &["sometimes is not a valid restart policy"]);
    env.run(&["generate", "systemd", "nosuch"])
        .assert_error(125, &["nosuch"]);
    env.run(&["create", "--sdnotify", "loud", IMG, "true"])
        .assert_error(125, &["--sdnotify"]);
    env.run(&["stop", "--cidfile", "/nonexistent/cid"])
        .assert_error(125, &["reading CIDFile", "/nonexistent/cid"]);
    env.ok(&["stop", "--ignore", "--cidfile", "/nonexistent/cid"]);
}

#[test]
fn a_pods_units_run_as_systemd_would_run_them() {
    let env = TestEnv::new("systemd-pod");
    env.import_busybox();
    let pod = name("app");
    env.ok(&["pod", "create", "--name", &pod, "--network", "none"]);
    let m = name("m");
    env.ok(&[
        "create",
        "--pod",
        &pod,
        "--name",
        &m,
        IMG,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.2; done",
    ]);
    // The existing pod: its unit starts the infra and wants the member's before it.
    let units = env.ok(&["generate", "systemd", "--name", &pod]);
    let (pod_unit, member_unit) = units
        .split_once(&format!("# container-{m}.service"))
        .unwrap();
    assert!(
        pod_unit.starts_with(&format!("# pod-{pod}.service")),
        "{units}"
    );
    assert_eq!(key(pod_unit, "Wants")[1], format!("container-{m}.service"));
    assert_eq!(key(pod_unit, "Before"), [format!("container-{m}.service")]);
    let infra_id = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    let infra_name = env.inspect(infra_id.trim(), "{{.Name}}");
    assert!(
        key(pod_unit, "ExecStart")[0].ends_with(&format!(" start {infra_name}")),
        "{pod_unit}"
    );
    assert_eq!(key(member_unit, "BindsTo"), [format!("pod-{pod}.service")]);
    env.run(&["generate", "systemd", "--new", "--template", &pod])
        .assert_error(125, &["--template is not supported for pods"]);
    // --new: everything made afresh from the create commands, then taken down.
    let units = env.ok(&["generate", "systemd", "--new", "--name", &pod]);
    let (pod_unit, member_unit) = units
        .split_once(&format!("# container-{m}.service"))
        .unwrap();
    // Both files under their own names, checked together (one names the other).
    let pod_path = env.dir.join(format!("pod-{pod}.service"));
    let m_path = env.dir.join(format!("container-{m}.service"));
    std::fs::write(&pod_path, pod_unit).unwrap();
    std::fs::write(&m_path, member_unit).unwrap();
    verify(
        &env,
        &format!("{} {}", pod_path.display(), m_path.display()),
    );
    let pre = key(pod_unit, "ExecStartPre");
    assert!(
        pre[1].contains("--exit-policy=stop") && pre[1].contains("--replace"),
        "{pod_unit}"
    );
    let member_start = key(member_unit, "ExecStart")[0].clone();
    assert!(
        member_start.contains(&format!("--pod-id-file %t/pod-{pod}.pod-id")),
        "{member_start}"
    );
    assert!(!member_start.contains("--pod "), "{member_start}");
    env.ok(&["pod", "rm", "-f", &pod]);
    let rt = env.dir.join("rt");
    std::fs::create_dir_all(&rt).unwrap();
    let rt = rt.to_str().unwrap();
    let pod_svc = format!("pod-{pod}.service");
    let m_svc = format!("container-{m}.service");
    let run = |text: &str, k: &str, svc: &str| {
        for line in key(text, k) {
            let out = run_line(text, &line, rt, svc, None);
            assert!(out.status.success(), "{svc} {k} {line}: {out:?}");
        }
    };
    run(pod_unit, "ExecStartPre", &pod_svc);
    run(pod_unit, "ExecStart", &pod_svc);
    run(member_unit, "ExecStartPre", &m_svc);
    run(member_unit, "ExecStart", &m_svc);
    assert_eq!(env.status(&m), "running");
    assert_eq!(
        env.inspect(&m, "{{.Pod}}"),
        env.ok(&["pod", "inspect", "--format", "{{.ID}}", &pod])
            .trim()
    );
    // The pod unit's PIDFile is the infra's monitor (--infra-conmon-pidfile).
    let pid = std::fs::read_to_string(format!("{rt}/pod-{pod}.pid")).unwrap();
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    assert_eq!(
        pid.trim(),
        env.inspect(infra.trim(), "{{.State.ConmonPid}}")
    );
    for k in ["ExecStop", "ExecStopPost"] {
        run(member_unit, k, &m_svc);
    }
    for k in ["ExecStop", "ExecStopPost"] {
        run(pod_unit, k, &pod_svc);
    }
    assert!(env.ok(&["ps", "-aq"]).trim().is_empty());
    assert!(env.ok(&["pod", "ps", "-q"]).trim().is_empty());
    // Stopping again, with the id file gone (a unit whose start failed): --ignore.
    std::fs::remove_file(format!("{rt}/pod-{pod}.pod-id")).unwrap();
    run(pod_unit, "ExecStop", &pod_svc);
    run(pod_unit, "ExecStopPost", &pod_svc);
    env.run(&[
        "pod",
        "rm",
        "--pod-id-file",
        &format!("{rt}/pod-{pod}.pod-id"),
    ])
    .assert_error(125, &["reading pod ID file", "no such file or directory"]);
}

/// Socket activation (podman#10443): `LISTEN_*` reach the container (`LISTEN_PID=1`) and,
/// when the caller inherited them, the listening descriptors too; `start` as `run`.
#[test]
fn listen_fds_and_environment_pass_into_the_container() {
    let env = TestEnv::new("systemd-listen");
    env.import_busybox();
    let file = env.dir.join("socket-stand-in");
    std::fs::write(&file, "from fd 3\n").unwrap();
    let peapod = format!(
        "{} --root {} --runroot {}",
        env.peapod.display(),
        env.root.display(),
        env.runroot.display()
    );
    let script = format!(
        "exec 3<{}; LISTEN_PID=100 LISTEN_FDS=1 LISTEN_FDNAMES=web {peapod} run --rm --network none {IMG} sh -c 'env | grep ^LISTEN | sort; cat <&3'",
        file.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "LISTEN_FDNAMES=web\nLISTEN_FDS=1\nLISTEN_PID=1\nfrom fd 3\n"
    );
    // Without the descriptor (not inherited) only the variables go in.
    let id = env
        .ok(&[
            "create",
            "--network",
            "none",
            IMG,
            "sh",
            "-c",
            "env | grep ^LISTEN_FDS; ls /proc/self/fd/3 2>&1 | head -1",
        ])
        .trim()
        .to_string();
    let script = format!("exec 3<&-; LISTEN_PID=100 LISTEN_FDS=1 {peapod} start --attach {id}");
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.starts_with("LISTEN_FDS=1\n"), "{out}");
    assert!(out.contains("No such file"), "no fd 3 of ours: {out}");
}

/// `cargo xtask install`'s API units (staged into the prefix the tests run): systemd
/// accepts them, and the socket is the service's default path.
#[test]
fn installed_api_units_pass_systemd_analyze_verify() {
    let env = TestEnv::new("api-units");
    for dir in ["lib/systemd/system", "lib/systemd/user"] {
        let d = crate::util::prefix().join(dir);
        let socket = std::fs::read_to_string(d.join("peapod.socket")).unwrap();
        assert!(
            socket.contains("ListenStream=%t/peapod/peapod.sock"),
            "{socket}"
        );
        let service = std::fs::read_to_string(d.join("peapod.service")).unwrap();
        assert!(service.contains(" system service"), "{service}");
        // Together: the service requires the socket.
        verify(
            &env,
            &format!(
                "{} {}",
                d.join("peapod.socket").display(),
                d.join("peapod.service").display()
            ),
        );
    }
}
