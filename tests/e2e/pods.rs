//! Pods as a Podman user drives them: members talking over localhost, the pod's published
//! port, pod volumes, init containers, the views, the infra's pause process dying and
//! coming back, and bad input leaving nothing behind. Traffic stays on this machine.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::util::{IMG, TestEnv, free_port, http_get, lines, name, pid_alive, wait_until};

/// A unique subnet (10.234.N.0/24) and bridge name for this test.
fn unique_net() -> (String, String) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = (std::process::id() % 100) * 2 + NEXT.fetch_add(1, Ordering::Relaxed);
    let n = n % 250 + 1;
    (
        format!("10.234.{n}.0/24"),
        format!("ppp{}x{n}", std::process::id() % 1000),
    )
}

/// A network of its own for the test; its name.
pub(crate) fn network(env: &TestEnv) -> String {
    let (subnet, bridge) = unique_net();
    let net = name("pn");
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &bridge,
        &net,
    ]);
    net
}

fn pod_status(env: &TestEnv, pod: &str) -> String {
    env.ok(&["pod", "inspect", "--format", "{{.State}}", pod])
        .trim()
        .to_string()
}

/// Two members talk over localhost; the pod's published port reaches the server from the
/// host, the member's unpublished port does not. `infra` adds flags to `pod create`.
fn localhost_pod(env: &TestEnv, pod: &str, infra: &[&str]) -> (String, String) {
    let net = network(env);
    let host_port = free_port().to_string();
    let mut args = vec![
        "pod",
        "create",
        "--name",
        pod,
        "--network",
        &net,
        "-p",
        "127.0.0.1:HOSTPORT:3000",
    ];
    let publish = format!("127.0.0.1:{host_port}:3000");
    args[7] = &publish;
    args.extend_from_slice(infra);
    let id = env.ok(&args).trim().to_string();
    assert_eq!(id.len(), 64, "{id}");
    let web = name("web");
    env.ok(&[
        "run",
        "-d",
        "--pod",
        pod,
        "--name",
        &web,
        IMG,
        "sh",
        "-c",
        "mkdir -p /www && echo from-web > /www/index && exec httpd -f -p 3000 -h /www",
    ]);
    let out = env.ok(&[
        "run",
        "--rm",
        "--pod",
        pod,
        IMG,
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://localhost:3000/index && exit 0; sleep 0.3; done; exit 1",
    ]);
    assert_eq!(out, "from-web\n");
    let mut got = None;
    wait_until(
        "the published port answers",
        Duration::from_secs(10),
        || {
            got = http_get(&format!("127.0.0.1:{host_port}"), "/index");
            got.is_some()
        },
    );
    assert_eq!(got.as_deref(), Some("from-web\n"));
    (web, host_port)
}

#[test]
fn members_share_localhost_hostname_and_the_pods_port() {
    let env = TestEnv::new("pod-localhost");
    env.import_busybox();
    let pod = name("pod");
    let (web, _port) = localhost_pod(&env, &pod, &[]);

    // An unpublished port of a member is not reachable from the host.
    let hidden = free_port();
    let side = name("side");
    env.ok(&[
        "run",
        "-d",
        "--pod",
        &pod,
        "--name",
        &side,
        IMG,
        "sh",
        "-c",
        &format!("mkdir -p /w && echo hidden > /w/i && exec httpd -f -p {hidden} -h /w"),
    ]);
    let inside = env.ok(&[
        "exec",
        &web,
        "sh",
        "-c",
        &format!(
            "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:{hidden}/i && exit 0; sleep 0.3; done; exit 1"
        ),
    ]);
    assert_eq!(inside, "hidden\n");
    assert_eq!(http_get(&format!("127.0.0.1:{hidden}"), "/i"), None);

    // The pod's hostname, and every member's name in /etc/hosts.
    assert_eq!(env.ok(&["exec", &side, "hostname"]), format!("{pod}\n"));
    let hosts = env.ok(&["exec", &web, "cat", "/etc/hosts"]);
    for n in [&pod, &web, &side] {
        assert!(hosts.contains(n.as_str()), "{n} missing in {hosts}");
    }
    let ns = |c: &str, kind: &str| {
        std::fs::read_link(format!(
            "/proc/{}/ns/{kind}",
            env.inspect(c, "{{.State.Pid}}")
        ))
        .unwrap()
    };
    for kind in ["net", "ipc", "uts"] {
        assert_eq!(ns(&web, kind), ns(&side, kind), "{kind} not shared");
    }
    assert_ne!(ns(&web, "pid"), ns(&side, "pid"), "pid shared by default");

    // Views: pod ps counts the infra container; ps --pod names the pod on every member.
    let ps = env.ok(&["pod", "ps"]);
    let row: Vec<String> = lines(&ps);
    assert!(
        row[0].starts_with("POD ID") && row[0].contains("# OF CONTAINERS"),
        "{ps}"
    );
    assert!(row[1].contains(&pod) && row[1].contains("Running"), "{ps}");
    assert!(row[1].trim_end().ends_with('3'), "{ps}");
    let short = env.ok(&["pod", "ps", "-q"]).trim().to_string();
    let ps_pod = env.ok(&[
        "ps",
        "-a",
        "--pod",
        "--format",
        "{{.Names}} {{.Pod}} {{.PodName}}",
    ]);
    assert_eq!(lines(&ps_pod).len(), 3, "{ps_pod}");
    for l in lines(&ps_pod) {
        assert!(l.ends_with(&format!(" {short} {pod}")), "{l}");
    }
    let header = lines(&env.ok(&["ps", "--pod"]))[0].clone();
    assert!(
        header.contains("POD ID") && header.contains("PODNAME"),
        "{header}"
    );
    assert_eq!(
        env.ok(&[
            "pod",
            "inspect",
            "--format",
            "{{.NumContainers}} {{.SharedNamespaces}} {{.Hostname}}",
            &pod
        ]),
        format!("3 [ipc net uts] {pod}\n")
    );

    // pod rm -f leaves nothing behind.
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    assert_eq!(env.ok(&["pod", "ps", "-q"]), "");
    assert!(env.ids_all().is_empty());
    env.assert_no_mounts();
    env.assert_no_processes();
    let pods_dir = env.runroot.join("pods");
    assert!(
        std::fs::read_dir(&pods_dir).map(|d| d.count()).unwrap_or(0) == 0,
        "pod state left in {}",
        pods_dir.display()
    );
}

#[test]
fn pause_killed_degrades_the_pod_and_a_restart_recovers_it() {
    let env = TestEnv::new("pod-kill9");
    env.import_busybox();
    let pod = name("pod");
    let (web, port) = localhost_pod(&env, &pod, &[]);
    let fetch = name("fetch");
    env.ok(&[
        "run", "-d", "--pod", &pod, "--name", &fetch, IMG, "sleep", "1000",
    ]);
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    let infra = infra.trim();
    let pid: i32 = env.inspect(infra, "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the pod is degraded", Duration::from_secs(10), || {
        pod_status(&env, &pod) == "Degraded"
    });
    assert!(env.ok(&["pod", "ps"]).contains("Degraded"));
    // The pinned namespaces keep the members working meanwhile.
    assert_eq!(
        env.ok(&[
            "exec",
            &fetch,
            "wget",
            "-qO-",
            "http://localhost:3000/index"
        ]),
        "from-web\n"
    );
    // Restarting a member starts the infra again, in the same namespaces as the member
    // that never stopped.
    env.ok(&["restart", "-t", "0", &fetch]);
    assert_eq!(env.status(infra), "running");
    assert_eq!(pod_status(&env, &pod), "Running");
    let ns = |ctr: &str, kind: &str| {
        let pid = env.inspect(ctr, "{{.State.Pid}}");
        std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).unwrap()
    };
    for kind in ["net", "ipc", "uts"] {
        assert_eq!(
            ns(infra, kind),
            ns(&web, kind),
            "{kind} namespace of the new infra"
        );
    }
    assert_eq!(
        env.ok(&[
            "exec",
            &fetch,
            "wget",
            "-qO-",
            "http://localhost:3000/index"
        ]),
        "from-web\n"
    );
    assert_eq!(
        http_get(&format!("127.0.0.1:{port}"), "/index").as_deref(),
        Some("from-web\n")
    );
    // pod stop then pod start: everything comes back.
    env.ok(&["pod", "stop", "-t", "0", &pod]);
    assert_eq!(pod_status(&env, &pod), "Exited");
    env.ok(&["pod", "start", &pod]);
    assert_eq!(pod_status(&env, &pod), "Running");
    assert_eq!(
        env.ok(&[
            "exec",
            &fetch,
            "sh",
            "-c",
            "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://localhost:3000/index && exit 0; sleep 0.3; done; exit 1"
        ]),
        "from-web\n"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn real_catatonit_works_as_the_infra_process() {
    let env = TestEnv::new("pod-catatonit");
    env.import_busybox();
    let pod = name("pod");
    localhost_pod(
        &env,
        &pod,
        &[
            "--infra-command",
            "/usr/bin/catatonit,-P",
            "-v",
            "/usr/bin/catatonit:/usr/bin/catatonit:ro",
        ],
    );
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    let pid = env.inspect(infra.trim(), "{{.State.Pid}}");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        String::from_utf8_lossy(&cmdline).starts_with("/usr/bin/catatonit\0-P"),
        "{cmdline:?}"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.assert_no_processes();
}

#[test]
fn pod_volume_is_shared_by_a_sidecar_and_the_server() {
    let env = TestEnv::new("pod-volume");
    env.import_busybox();
    let pod = name("pod");
    let vol = name("pv");
    env.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--network",
        "none",
        "-v",
        &format!("{vol}:/shared"),
    ]);
    env.ok(&[
        "run",
        "-d",
        "--pod",
        &pod,
        IMG,
        "sh",
        "-c",
        "while true; do date >> /shared/log; sleep 1; done",
    ]);
    let server = name("srv");
    env.ok(&[
        "run", "-d", "--pod", &pod, "--name", &server, IMG, "httpd", "-f", "-p", "3000", "-h",
        "/shared",
    ]);
    let fetch = |env: &TestEnv| -> usize {
        env.ok(&[
            "exec",
            &server,
            "sh",
            "-c",
            "wget -qO- http://localhost:3000/log || true",
        ])
        .lines()
        .count()
    };
    let mut first = 0;
    wait_until("the sidecar writes", Duration::from_secs(10), || {
        first = fetch(&env);
        first > 0
    });
    wait_until("the served file grows", Duration::from_secs(10), || {
        fetch(&env) > first
    });
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.ok(&["volume", "rm", &vol]);
    env.assert_no_mounts();
}

#[test]
fn init_containers_run_before_the_members() {
    let env = TestEnv::new("pod-init");
    env.import_busybox();
    for (kind, runs_again) in [("always", true), ("once", false)] {
        let pod = name("pod");
        let vol = name("iv");
        env.ok(&[
            "pod",
            "create",
            "--name",
            &pod,
            "--network",
            "none",
            "-v",
            &format!("{vol}:/data"),
        ]);
        env.ok(&[
            "create",
            "--pod",
            &pod,
            "--init-ctr",
            kind,
            IMG,
            "sh",
            "-c",
            "echo init >> /data/runs",
        ]);
        let main = name("main");
        env.ok(&[
            "create", "--pod", &pod, "--name", &main, IMG, "sleep", "1000",
        ]);
        env.ok(&["pod", "start", &pod]);
        assert_eq!(env.ok(&["exec", &main, "cat", "/data/runs"]), "init\n");
        env.ok(&["pod", "stop", "-t", "0", &pod]);
        env.ok(&["pod", "start", &pod]);
        let want = if runs_again { "init\ninit\n" } else { "init\n" };
        assert_eq!(
            env.ok(&["exec", &main, "cat", "/data/runs"]),
            want,
            "{kind}"
        );
        let n = env.ok(&["pod", "inspect", "--format", "{{.NumContainers}}", &pod]);
        assert_eq!(n.trim(), if runs_again { "3" } else { "2" }, "{kind}");
        env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
        env.ok(&["volume", "rm", &vol]);
    }
    // A failing init container stops the pod's start.
    let pod = name("pod");
    env.ok(&["pod", "create", "--name", &pod, "--network", "none"]);
    env.ok(&[
        "create",
        "--pod",
        &pod,
        "--init-ctr",
        "always",
        IMG,
        "false",
    ]);
    let main = name("main");
    env.ok(&[
        "create", "--pod", &pod, "--name", &main, IMG, "sleep", "1000",
    ]);
    env.run(&["pod", "start", &pod])
        .assert_error(125, &["init container"]);
    assert_eq!(env.status(&main), "created");
}

#[test]
fn shared_pid_namespace_pause_reaps_orphans_and_exits_on_sigterm() {
    let env = TestEnv::new("pod-pid");
    env.import_busybox();
    let pod = name("pod");
    env.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--network",
        "none",
        "--share",
        "+pid",
    ]);
    let c = name("c");
    // `sleep 2` is orphaned at once: it becomes a child of pid 1, the pause process.
    env.ok(&[
        "run",
        "-d",
        "--pod",
        &pod,
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "sh -c 'sleep 2 &'; exec sleep 1000",
    ]);
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    let infra = infra.trim().to_string();
    let pause: i32 = env.inspect(&infra, "{{.State.Pid}}").parse().unwrap();
    let children = |state: Option<char>| -> usize {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path().join("status")).ok())
            .filter(|s| {
                s.lines().any(|l| l == format!("PPid:\t{pause}"))
                    && state.is_none_or(|st| {
                        s.lines()
                            .any(|l| l.starts_with("State:") && l.contains(&format!("{st} (")))
                    })
            })
            .count()
    };
    assert!(
        children(None) >= 1,
        "the orphan was not reparented to pause"
    );
    // Pid 1 in the member's view is the pause process.
    assert_eq!(
        env.ok(&["exec", &c, "cat", "/proc/1/cmdline"])
            .split('\0')
            .next(),
        Some("/peapod-pause")
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(children(Some('Z')), 0, "a zombie was not reaped");
    // SIGTERM ends pause with 0, quickly.
    let start = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pause),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    while pid_alive(pause) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "pause took {took:?} to exit"
    );
    wait_until("the infra exited", Duration::from_secs(10), || {
        env.status(&infra) == "exited"
    });
    assert_eq!(env.inspect(&infra, "{{.State.ExitCode}}"), "0");
}

#[test]
fn bad_input_leaves_nothing_half_made() {
    let env = TestEnv::new("pod-bad");
    env.import_busybox();
    env.run(&["create", "--pod", "nosuchpod", IMG, "true"])
        .assert_error(125, &["no pod with name or ID nosuchpod found"]);
    assert!(env.ids_all().is_empty());

    let pod = name("pod");
    env.ok(&["pod", "create", "--name", &pod, "--network", "none"]);
    env.run(&["create", "--pod", &pod, "-p", "8080:80", IMG, "true"])
        .assert_error(
            125,
            &["published or exposed ports must be defined when the pod is created"],
        );
    assert_eq!(env.ids_all().len(), 1, "only the infra container");

    env.run(&["pod", "create", "--name", &pod, "--network", "none"])
        .assert_error(125, &["already exists"]);
    assert_eq!(lines(&env.ok(&["pod", "ps", "-q"])).len(), 1);
    assert_eq!(env.ids_all().len(), 1);
    let infra = env.ids_all()[0].clone();
    env.run(&["pod", "create", "--network", &format!("container:{infra}")])
        .assert_error(
            125,
            &["pods presently do not support network mode container"],
        );
    // A member whose image does not exist leaves no pod made for it.
    let fresh = name("fresh");
    env.run(&[
        "run",
        "--pod",
        &format!("new:{fresh}"),
        "localhost/no-such-image",
        "true",
    ])
    .assert_error(125, &["no-such-image"]);
    assert_eq!(lines(&env.ok(&["pod", "ps", "-q"])).len(), 1);
    assert_eq!(env.ids_all().len(), 1);

    let bad = env.dir.join("no/such/dir/id");
    env.run(&[
        "pod",
        "create",
        "--network",
        "none",
        "--pod-id-file",
        bad.to_str().unwrap(),
    ])
    .assert_error(125, &["pod-id-file"]);
    assert_eq!(lines(&env.ok(&["pod", "ps", "-q"])).len(), 1);
    assert_eq!(env.ids_all().len(), 1);

    env.ok(&["run", "-d", "--pod", &pod, IMG, "sleep", "1000"]);
    env.run(&["pod", "rm", &pod])
        .assert_error(2, &["cannot be removed without force"]);
    assert_eq!(pod_status(&env, &pod), "Running");
    env.run(&["pod", "rm", "nosuchpod"])
        .assert_error(1, &["no such pod"]);
    env.ok(&["pod", "rm", "--ignore", "nosuchpod"]);
    env.run(&["pod", "exists", "nosuchpod"]).assert_code(1);
    env.ok(&["pod", "exists", &pod]);
    // The infra container only goes with its pod.
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod]);
    env.run(&["rm", "-f", infra.trim()])
        .assert_error(125, &["infra container"]);
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    assert!(env.ids_all().is_empty());
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn views_top_logs_stats_and_new_pods() {
    let env = TestEnv::new("pod-views");
    env.import_busybox();
    let pod = name("pod");
    let a = name("a");
    // `--pod new:NAME` makes the pod.
    env.ok(&[
        "run",
        "-d",
        "--pod",
        &format!("new:{pod}"),
        "--network",
        "none",
        "--name",
        &a,
        IMG,
        "sh",
        "-c",
        "echo hello-a; exec sleep 1000",
    ]);
    let b = name("b");
    env.ok(&[
        "run",
        "-d",
        "--pod",
        &pod,
        "--name",
        &b,
        IMG,
        "sh",
        "-c",
        "echo hello-b; exec sleep 1001",
    ]);
    let names = env.ok(&[
        "pod",
        "ps",
        "--ctr-names",
        "--format",
        "{{.ContainerNames}}",
    ]);
    assert!(
        names.contains(&a) && names.contains(&b) && names.contains("-infra"),
        "{names}"
    );
    let table = env.ok(&["pod", "ps", "--ctr-status", "--no-trunc"]);
    assert!(lines(&table)[0].contains("STATUS"), "{table}");
    assert_eq!(
        env.ok(&[
            "pod",
            "ps",
            "--filter",
            &format!("name={pod}"),
            "--format",
            "{{.Name}} {{.NumberOfContainers}}"
        ]),
        format!("{pod} 3\n")
    );
    assert_eq!(
        env.ok(&["pod", "ps", "--filter", "status=exited", "-q"]),
        ""
    );
    wait_until("both logged", Duration::from_secs(10), || {
        let l = env.ok(&["pod", "logs", &pod]);
        l.contains("hello-a") && l.contains("hello-b")
    });
    assert_eq!(env.ok(&["pod", "logs", "-c", &b, &pod]), "hello-b\n");
    let top = env.ok(&["pod", "top", &pod]);
    assert!(top.starts_with("USER"), "{top}");
    assert!(
        top.contains("sleep 1000") && top.contains("sleep 1001"),
        "{top}"
    );
    let stats = env.ok(&["pod", "stats", "--no-stream", &pod]);
    let rows = lines(&stats);
    assert!(
        rows[0].contains("CPU %") && rows[0].contains("MEM USAGE / LIMIT"),
        "{stats}"
    );
    assert_eq!(rows.len(), 4, "{stats}");
    let mem = env.ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "{{.MemUsageBytes}}",
        &pod,
    ]);
    // go-units BytesSize, as Podman's: `256KiB / 23.54GiB`.
    for l in lines(&mem) {
        let (used, limit) = l.split_once(" / ").unwrap();
        assert!(used.ends_with("iB") && !used.starts_with('0'), "{mem}");
        assert!(limit.ends_with("iB"), "{mem}");
    }
    env.ok(&["pod", "pause", &pod]);
    assert_eq!(pod_status(&env, &pod), "Paused");
    env.ok(&["pod", "unpause", &pod]);
    assert_eq!(pod_status(&env, &pod), "Running");
    env.ok(&["pod", "kill", &pod]);
    wait_until("all killed", Duration::from_secs(10), || {
        pod_status(&env, &pod) == "Exited"
    });
    assert_eq!(env.ok(&["pod", "prune", "-f"]).trim().len(), 64);
    assert!(env.ids_all().is_empty());
    env.assert_no_mounts();
    env.assert_no_processes();
}
