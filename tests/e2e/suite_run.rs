//! What Podman's own run/ps/start/stop/rm tests check (issue 15), as a user checks it:
//! `start --all`/`--filter`, `ps --sort`, a `stop` that leaves the container "stopping"
//! (unlocked) while it waits, `rm --depend`, and `run`'s `--timeout`, `--attach`,
//! `--cidfile`, `--device-cgroup-rule`, `--kernel-memory`, `--log-opt max-size`,
//! `--runtime PATH`, `/run/.containerenv`, `/etc/mtab` and the mode of `/`.

use std::time::{Duration, Instant};

use crate::util::{IMG, TestEnv, free_port, lines, name};

#[test]
fn start_all_and_filter() {
    let env = TestEnv::new("start-all");
    env.import_busybox();
    let done = env.ok(&["run", "-d", IMG, "true"]).trim().to_string();
    let failed = env
        .ok(&["run", "-d", "--restart=no", IMG, "false"])
        .trim()
        .to_string();
    let running = env
        .ok(&["run", "-d", "--restart=always", IMG, "sleep", "60"])
        .trim()
        .to_string();
    env.ok(&["wait", &done, &failed]);
    // Every container not running, by id; the running one is left alone.
    let out = env.ok(&["start", "--all"]);
    assert!(out.contains(&done) && out.contains(&failed), "{out}");
    assert!(
        !out.contains(&running),
        "start --all restarted a running one: {out}"
    );
    env.ok(&["wait", &done, &failed]);
    // --filter picks among them; a named container that does not match is skipped.
    assert_eq!(
        env.ok(&["start", "--all", "--filter", "exited=1"]).trim(),
        failed
    );
    assert_eq!(
        env.ok(&["start", "--filter", "restart-policy=always", &done]),
        ""
    );
    assert_eq!(
        env.ok(&["start", "--filter", "restart-policy=none", &done])
            .trim(),
        done
    );
    env.run(&["start", "--all", &done]).assert_error(
        125,
        &["either start all containers or the container(s) provided in the arguments"],
    );
    env.run(&["start", "--filter", "restart-policy=fakepolicy", &done])
        .assert_error(125, &["fakepolicy invalid restart policy"]);
    env.ok(&["rm", "-f", "-t", "0", &running]);
}

#[test]
fn ps_sort_and_status_filter() {
    let env = TestEnv::new("ps-sort");
    env.import_busybox();
    let (b, a, c) = (name("b"), name("a"), name("c"));
    for n in [&b, &a, &c] {
        env.ok(&["run", "--name", n, IMG, "true"]);
    }
    // A status filter shows stopped containers without -a.
    let names = env.ok(&[
        "ps",
        "--filter",
        "status=exited",
        "--format",
        "{{.Names}}",
        "--sort",
        "names",
    ]);
    let mut sorted = vec![a.clone(), b.clone(), c.clone()];
    sorted.sort();
    assert_eq!(lines(&names), sorted);
    // created: oldest first.
    let names = env.ok(&["ps", "-a", "--format", "{{.Names}}", "--sort", "created"]);
    assert_eq!(lines(&names), vec![b, a, c]);
    env.run(&["ps", "--sort", "bogus"])
        .assert_error(125, &["invalid option for --sort"]);
}

#[test]
fn stop_waits_unlocked_in_stopping_and_warns_when_it_kills() {
    let env = TestEnv::new("stop-unlock");
    env.import_busybox();
    let c = name("stopme");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "trap 'echo got TERM' TERM; echo READY; while :; do sleep 0.2; done",
    ]);
    crate::util::wait_until("READY", Duration::from_secs(10), || {
        env.ok(&["logs", &c]).contains("READY")
    });
    let stopper = env
        .peapod(&["stop", "-t", "20", &c])
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    crate::util::wait_until("the stop signal", Duration::from_secs(10), || {
        env.ok(&["logs", &c]).contains("got TERM")
    });
    // While stop waits: the lock is free and the container reads "stopping".
    let t0 = Instant::now();
    env.ok(&["ps", "-a"]);
    assert_eq!(env.status(&c), "stopping");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "ps waited for the stop's lock"
    );
    env.ok(&["kill", &c]);
    assert_eq!(env.ok(&["wait", &c]).trim(), "137");
    let out = stopper.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(env.status(&c), "exited");

    // A stop signal ignored past the timeout: Podman's warning, then SIGKILL.
    let c2 = name("stubborn");
    env.ok(&["run", "-d", "--name", &c2, IMG, "sleep", "100"]);
    let out = env.run(&["stop", "-t", "1", &c2]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "StopSignal SIGTERM failed to stop container {c2} in 1 seconds, resorting to SIGKILL"
        )),
        "{out:?}"
    );
}

#[test]
fn rm_running_and_depend() {
    let env = TestEnv::new("rm-depend");
    env.import_busybox();
    let running = env
        .ok(&["run", "-d", IMG, "sleep", "60"])
        .trim()
        .to_string();
    let out = env.run(&["rm", &running]).assert_code(2);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Error: cannot remove container {running} as it is running - running or paused containers cannot be removed without force: container state improper"
        )
    );
    env.ok(&["rm", "-f", "-t", "0", &running]);

    let base = env.ok(&["create", IMG, "true"]).trim().to_string();
    let dep = env
        .ok(&["create", &format!("--net=container:{base}"), IMG, "true"])
        .trim()
        .to_string();
    env.run(&["rm", &base]).assert_error(
        125,
        &[&format!(
            "container {base} has dependent containers which must be removed before it: {dep}"
        )],
    );
    assert_eq!(env.ids_all().len(), 2, "a refused rm removed something");
    let out = env.ok(&["rm", "--depend", &base]);
    assert_eq!(lines(&out), vec![dep, base]);
    assert!(env.ids_all().is_empty());

    // A pod's infra container: refused alone, even forced; with --depend the pod goes, and
    // every container of it is named (Podman's RemoveDepend).
    let pod = name("dep-pod");
    let member = env
        .ok(&["create", "--pod", &format!("new:{pod}"), IMG, "true"])
        .trim()
        .to_string();
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    let infra = infra.trim();
    for args in [vec!["rm", infra], vec!["rm", "--force", infra]] {
        env.run(&args)
            .assert_error(125, &["and cannot be removed without removing the pod"]);
    }
    let mut out = lines(&env.ok(&["rm", "--depend", infra]));
    out.sort();
    let mut want = vec![member, infra.to_string()];
    want.sort();
    assert_eq!(out, want);
    env.run(&["pod", "exists", &pod]).assert_code(1);
    assert!(env.ids_all().is_empty());

    // `rm --force --all`: pods go whole (their infra containers are among "all"), the rest
    // after; every id named once.
    let m1 = env.ok(&["create", "--pod", &format!("new:{pod}"), IMG, "true"]);
    let m2 = env.ok(&["run", "-d", "--pod", &pod, IMG, "sleep", "100"]);
    let alone = env.ok(&["create", IMG, "true"]);
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    let mut out = lines(&env.ok(&["rm", "--force", "--all", "-t", "0"]));
    out.sort();
    let mut want: Vec<String> = [m1, m2, alone, infra]
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    want.sort();
    assert_eq!(out, want);
    env.run(&["pod", "exists", &pod]).assert_code(1);
    assert!(env.ids_all().is_empty());
}

#[test]
fn run_timeout_kills_and_exits_255() {
    let env = TestEnv::new("run-timeout");
    env.import_busybox();
    let c = name("timeout");
    let t0 = Instant::now();
    env.run(&["run", "--name", &c, "--timeout", "2", IMG, "sleep", "60"])
        .assert_code(255);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert_eq!(
        env.inspect(&c, "{{.State.Status}} {{.State.ExitCode}}"),
        "exited -1"
    );
}

#[test]
fn run_attach_picks_streams() {
    let env = TestEnv::new("run-attach");
    env.import_busybox();
    let out = env.run(&[
        "run",
        "--rm",
        "--attach",
        "stderr",
        IMG,
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!((out.code(), out.stdout.as_str()), (0, ""), "{out:?}");
    assert!(out.stderr.contains("err"), "{out:?}");
    // Only stdin attached: the container's id, as Podman prints it.
    let c = name("stdin");
    let out = env.ok(&[
        "run", "--name", &c, "--attach", "stdin", IMG, "echo", "hello",
    ]);
    assert_eq!(out.trim(), env.inspect(&c, "{{.Id}}"));
    env.run(&["run", "-a", "bogus", IMG, "true"])
        .assert_error(125, &["invalid stream \"bogus\" for --attach"]);
}

#[test]
fn run_cidfile_written_and_never_overwritten() {
    let env = TestEnv::new("run-cidfile");
    env.import_busybox();
    let cidfile = env.dir.join("cid");
    let id = env
        .ok(&[
            "run",
            "-d",
            "--cidfile",
            cidfile.to_str().unwrap(),
            IMG,
            "true",
        ])
        .trim()
        .to_string();
    assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id);
    // --conmon-pidfile: the monitor's pid, as inspect shows it.
    let pidfile = env.dir.join("conmon.pid");
    let c = env
        .ok(&[
            "run",
            "-d",
            "--conmon-pidfile",
            pidfile.to_str().unwrap(),
            IMG,
            "sleep",
            "60",
        ])
        .trim()
        .to_string();
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert_eq!(pid, env.inspect(&c, "{{.State.ConmonPid}}"));
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(exe.ends_with("peapod-monitor"), "{}", exe.display());
    env.ok(&["rm", "-f", "-t", "0", &c]);
    env.run(&["run", "--cidfile", cidfile.to_str().unwrap(), IMG, "true"])
        .assert_error(
            125,
            &["container id file exists", cidfile.to_str().unwrap()],
        );
    assert_eq!(env.ids_all().len(), 1, "a refused run made a container");
    assert_eq!(
        std::fs::read_to_string(&cidfile).unwrap(),
        id,
        "overwritten"
    );
    // A create that fails takes its cidfile away again.
    let other = env.dir.join("cid2");
    env.run(&[
        "create",
        "--cidfile",
        other.to_str().unwrap(),
        "localhost/nosuchimage",
    ])
    .assert_code(125);
    assert!(!other.exists());
}

#[test]
fn run_device_cgroup_rules() {
    let env = TestEnv::new("run-devrule");
    env.import_busybox();
    // The rule lands in the container's device cgroup (cgroup v1: its devices.list).
    let list = "cat /sys/fs/cgroup/devices/devices.list";
    let out = env.ok(&[
        "run",
        "--rm",
        "--device-cgroup-rule",
        "b 7:* rmw",
        IMG,
        "sh",
        "-c",
        list,
    ]);
    assert!(lines(&out).contains(&"b 7:* rwm".to_string()), "{out}");
    let out = env.ok(&["run", "--rm", IMG, "sh", "-c", list]);
    assert!(!lines(&out).contains(&"b 7:* rwm".to_string()), "{out}");
    for (rule, msg) in [
        ("b 7:* rmX", "invalid device access in device-access-add: X"),
        (
            "b 7:2",
            "invalid device cgroup rule requires type, major:Minor, and access rules: \"b 7:2\"",
        ),
        ("x 7:* rmw", "invalid device type in device-access-add: x"),
        (
            "a a:* rmw",
            "strconv.ParseUint: parsing \"a\": invalid syntax",
        ),
    ] {
        env.run(&["run", "--rm", "--device-cgroup-rule", rule, IMG, "true"])
            .assert_error(125, &[msg]);
    }
    assert!(env.ids_all().is_empty(), "a refused rule left a container");
}

#[test]
fn run_host_facts_as_podman() {
    let env = TestEnv::new("run-facts");
    env.import_busybox();
    // --kernel-memory: a no-op with Podman's warning.
    let out = env.run(&["run", "--rm", "--kernel-memory", "100", IMG, "true"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("The --kernel-memory flag is no longer supported. This flag is a noop."),
        "{out:?}"
    );
    // -p with --net=host: discarded with a warning, and the container runs.
    let out = env.run(&[
        "run",
        "--rm",
        "-p",
        "8080",
        "--net=host",
        IMG,
        "echo",
        "ran",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "ran\n");
    assert!(
        out.stderr.contains("Port mappings have been discarded"),
        "{out:?}"
    );
    // --log-opt max-size in decimal units, shown as Podman's HumanSize.
    let c = env
        .ok(&["create", "--log-opt", "max-size=5.007m", IMG, "true"])
        .trim()
        .to_string();
    assert_eq!(env.inspect(&c, "{{.HostConfig.LogConfig.Size}}"), "5.007MB");
    // /run/.containerenv: empty unless privileged; / is 0555; /etc/mtab links /proc/mounts.
    let probe = "stat -c %s /run/.containerenv; stat -c %a /";
    let out = env.ok(&["run", "--rm", IMG, "sh", "-c", probe]);
    assert_eq!(lines(&out), vec!["0".to_string(), "555".to_string()]);
    let out = env.ok(&[
        "run",
        "--rm",
        "--privileged",
        IMG,
        "sh",
        "-c",
        ". /run/.containerenv; echo $engine $image",
    ]);
    assert!(out.starts_with("peapod-") && out.contains(IMG), "{out}");
    let out = env.ok(&["run", "--rm", IMG, "readlink", "/etc/mtab"]);
    assert_eq!(out.trim(), "/proc/mounts");
}

#[test]
fn run_failed_start_keeps_created_container_unless_rm() {
    let env = TestEnv::new("run-failed");
    env.import_busybox();
    let port = free_port().to_string();
    let publish = format!("{port}:80");
    let ok = name("ok");
    env.ok(&[
        "run", "-d", "--rm", "-p", &publish, "--name", &ok, IMG, "sleep", "60",
    ]);
    let (kept, gone) = (name("kept"), name("gone"));
    env.run(&["run", "-d", "-p", &publish, "--name", &kept, IMG, "true"])
        .assert_error(126, &[&port]);
    env.run(&[
        "run", "-d", "--rm", "-p", &publish, "--name", &gone, IMG, "true",
    ])
    .assert_error(126, &[&port]);
    let mut names = env.names_all();
    names.sort();
    let mut want = vec![kept.clone(), ok.clone()];
    want.sort();
    assert_eq!(names, want);
    assert_eq!(env.status(&kept), "created");
    env.ok(&["rm", "-f", "-t", "0", &ok, &kept]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn run_runtime_full_path_is_kept() {
    let env = TestEnv::new("run-runtime");
    env.import_busybox();
    let runc = env.ok(&["info", "--format", "{{.Host.OCIRuntime.Path}}"]);
    let copy = env.dir.join("myruntime");
    std::fs::copy(runc.trim(), &copy).unwrap();
    let c = env
        .ok(&[
            "run",
            "-d",
            "--runtime",
            copy.to_str().unwrap(),
            IMG,
            "sleep",
            "60",
        ])
        .trim()
        .to_string();
    assert_eq!(env.inspect(&c, "{{.OCIRuntime}}"), copy.to_str().unwrap());
    env.ok(&["rm", "-f", "-t", "0", &c]);
}

#[test]
fn exec_stdin_passes_detach_keys_through_when_piped() {
    let env = TestEnv::new("exec-stdin");
    env.import_busybox();
    let c = env
        .ok(&["run", "-d", IMG, "sleep", "60"])
        .trim()
        .to_string();
    // 1.5 MB holding ctrl-p ctrl-q (the default detach keys) many times over: piped, not
    // typed, it all reaches the container.
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i % 7 + 0x0e) as u8).collect();
    let out = env
        .peapod(&["exec", "-i", &c, "wc", "-c"])
        .stdin(data.clone())
        .output()
        .success();
    assert_eq!(out.trim(), data.len().to_string());
    env.ok(&["rm", "-f", "-t", "0", &c]);
}
