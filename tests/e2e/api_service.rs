//! `peapod system service`: the Docker Engine API on a private socket for a private store,
//! driven by the real docker CLI, curl and the Python docker SDK.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::api_util::{DOCKER, Service, have_docker};
use crate::util::{IMG, PeapodCmd, TestEnv, name, wait_until};

#[test]
fn api_docker_cli_create_start_logs_ps_inspect_rm() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_docker_cli");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let mode = std::fs::metadata(&svc.sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket must be its owner's only");

    let v = svc
        .docker(&["version", "--format", "{{.Server.APIVersion}}"])
        .success();
    assert_eq!(v.trim(), "1.44");
    let info = svc
        .docker(&["info", "--format", "{{.ServerVersion}} {{.Images}}"])
        .success();
    assert_eq!(info.trim(), format!("{} 1", env!("CARGO_PKG_VERSION")));

    let ctr = name("api");
    let id = svc
        .docker(&[
            "create",
            "--name",
            &ctr,
            IMG,
            "sh",
            "-c",
            "echo hi; echo oops >&2; exit 3",
        ])
        .success();
    assert_eq!(id.trim().len(), 64, "{id}");
    svc.docker(&["start", &ctr]).success();
    let code = svc.docker(&["wait", &ctr]).success();
    assert_eq!(code.trim(), "3");
    let logs = svc.docker(&["logs", &ctr]);
    assert_eq!(logs.code(), 0, "{logs:?}");
    assert_eq!(logs.stdout, "hi\n");
    assert_eq!(logs.stderr, "oops\n");

    let ps = svc
        .docker(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Image}}"])
        .success();
    assert_eq!(ps.trim(), format!("{ctr} exited {IMG}:latest"));
    let running = svc.docker(&["ps", "--format", "{{.Names}}"]).success();
    assert_eq!(
        running.trim(),
        "",
        "ps without -a lists running containers only"
    );
    let images = svc
        .docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .success();
    assert_eq!(images.trim(), format!("{IMG}:latest"));
    let state = svc
        .docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}} {{.Name}}",
            &ctr,
        ])
        .success();
    assert_eq!(state.trim(), format!("exited 3 /{ctr}"));
    // The same container through the CLI.
    assert_eq!(env.names_all(), vec![ctr.clone()]);

    svc.docker(&["rm", &ctr]).success();
    assert!(env.names_all().is_empty(), "docker rm left a container");
    let missing = svc.docker(&["rm", "nothere"]);
    assert_eq!(missing.code(), 1, "{missing:?}");
    assert!(
        missing.stderr.contains("No such container: nothere"),
        "{missing:?}"
    );
}

/// `docker logs -f` follows a running container's output and ends when the container does.
#[test]
fn api_docker_logs_follow() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_logs_f");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let ctr = name("apilogs");
    svc.docker(&[
        "run",
        "-d",
        "--name",
        &ctr,
        IMG,
        "sh",
        "-c",
        "echo one; sleep 2; echo two >&2; echo three",
    ])
    .success();
    let out = svc.docker(&["logs", "-f", &ctr]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("one\nthree\n", "two\n")
    );
    assert!(
        out.elapsed >= Duration::from_millis(1000),
        "it followed the container for its last lines: {out:?}"
    );
    assert_eq!(env.status(&ctr), "exited");
    svc.docker(&["rm", &ctr]).success();
}

#[test]
fn api_docker_run_detached_publishes_and_stops() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_run_d");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let ctr = name("apiweb");
    let port = crate::util::free_port();
    let publish = format!("127.0.0.1:{port}:80");
    svc.docker(&[
        "run", "-d", "--name", &ctr, "-p", &publish, IMG, "httpd", "-f", "-p", "80", "-h", "/etc",
    ])
    .success();
    let addr = format!("127.0.0.1:{port}");
    let mut page = None;
    wait_until(
        "httpd through the published port",
        Duration::from_secs(10),
        || {
            page = crate::util::http_get(&addr, "/passwd");
            page.as_deref().is_some_and(|p| p.contains("root:"))
        },
    );
    let ps = svc
        .docker(&["ps", "--format", "{{.Names}} {{.Ports}}"])
        .success();
    assert_eq!(ps.trim(), format!("{ctr} 127.0.0.1:{port}->80/tcp"));
    assert_eq!(env.status(&ctr), "running");
    svc.docker(&["stop", "-t", "1", &ctr]).success();
    assert_eq!(env.status(&ctr), "exited");
    svc.docker(&["rm", &ctr]).success();
    assert!(env.names_all().is_empty());
}

#[test]
fn api_errors_have_docker_statuses_and_bodies() {
    let env = TestEnv::new("api_errors");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let (code, body) = svc.curl("GET", "/_ping", None);
    assert_eq!((code, body.as_str()), (200, "OK"));
    let (code, body) = svc.curl("GET", "/v1.41/containers/nothere/json", None);
    assert_eq!(code, 404);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["message"], "No such container: nothere");
    let (code, body) = svc.curl("POST", "/containers/create", Some("{not json"));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("\"message\""), "{body}");
    let (code, body) = svc.curl(
        "POST",
        "/containers/create",
        Some(r#"{"Image":"nosuchimage"}"#),
    );
    assert_eq!(code, 404, "{body}");
    let (code, body) = svc.curl("GET", "/v1.99/info", None);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("too new"), "{body}");
    // A name taken: 409, and nothing half-made.
    let body = format!(r#"{{"Image":"{IMG}","Cmd":["true"]}}"#);
    let n = name("dup");
    let (code, _) = svc.curl("POST", &format!("/containers/create?name={n}"), Some(&body));
    assert_eq!(code, 201);
    let (code, body) = svc.curl("POST", &format!("/containers/create?name={n}"), Some(&body));
    assert_eq!(code, 409, "{body}");
    assert_eq!(env.names_all(), vec![n]);
    // The service kept serving.
    assert_eq!(svc.curl("GET", "/_ping", None).0, 200);
}

#[test]
fn api_idle_timeout_and_second_service_refused() {
    let env = TestEnv::new("api_idle");
    let sock = env.dir.join("idle.sock");
    let mut svc = Service::start(&env, &sock, "2");
    let uri = format!("unix://{}", sock.display());
    let second = env.run(&["system", "service", "--time", "1", &uri]);
    second.assert_error(125, &["another API service is already listening"]);
    assert!(
        sock.exists(),
        "the refused service must not remove the live socket"
    );
    let started = Instant::now();
    let status = loop {
        if let Some(s) = svc.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the service did not exit after 2 s idle"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(!sock.exists(), "the socket file is removed at exit");
}

#[test]
fn api_python_docker_sdk_run_remove() {
    let have = PeapodCmd::program("python3", &["-c", "import docker"])
        .output()
        .code()
        == 0;
    if peapod_tests::skip_unless(have, "the Python docker SDK (pip install docker)") {
        return;
    }
    let env = TestEnv::new("api_python");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    // The run's output, then the events since before it: the SDK decodes a `start`.
    let script = format!(
        "import docker, time\n\
         c = docker.DockerClient(base_url='unix://{}')\n\
         since = int(time.time()) - 1\n\
         print(c.containers.run('{IMG}', 'echo hi', remove=True))\n\
         ev = c.events(since=since, until=int(time.time()) + 1, decode=True)\n\
         print(sorted({{e.get('status') or e.get('Action') for e in ev if e.get('Type') == 'container'}}))\n",
        svc.sock.display()
    );
    let out = PeapodCmd::program("python3", &["-c", &script])
        .output()
        .success();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("b'hi\\n'"), "{out}");
    let actions = lines.next().unwrap_or_default();
    assert!(
        actions.contains("'start'") && actions.contains("'create'"),
        "{out}"
    );
    assert!(env.names_all().is_empty(), "remove=True left a container");
}

#[test]
fn api_docker_run_rm_attaches_and_passes_the_exit_code() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_run_rm");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let out = svc.docker(&["run", "--rm", IMG, "echo", "hi"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "hi\n");
    let out = svc.docker(&[
        "run",
        "--rm",
        IMG,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 7",
    ]);
    assert_eq!(out.code(), 7, "{out:?}");
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    assert!(env.names_all().is_empty(), "run --rm left a container");
}

/// `docker run`'s host flags reach the container: a read-only root, `/dev/shm`'s size, a
/// device, a sysctl, an init.
#[test]
fn api_docker_run_host_flags() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_host_flags");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let out = svc.docker(&[
        "run",
        "--rm",
        "--read-only",
        "--shm-size",
        "2m",
        "--device",
        "/dev/null:/dev/foo",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--init",
        IMG,
        "sh",
        "-c",
        "touch /x 2>/dev/null || echo ro; df -k /dev/shm | tail -1; ls /dev/foo; cat /proc/sys/net/ipv4/ip_forward; cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "ro", "{out:?}");
    assert_eq!(lines[1].split_whitespace().nth(1), Some("2048"), "{out:?}");
    assert_eq!(&lines[2..4], ["/dev/foo", "1"], "{out:?}");
    assert!(lines[4].starts_with("/run/podman-init -- sh"), "{out:?}");
    assert!(env.names_all().is_empty(), "run --rm left a container");
}

/// Twenty `docker run --rm` at once through one service: every one prints its own line
/// and exits 0, and nothing is left.
#[test]
fn api_twenty_parallel_docker_runs() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_parallel");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let outs: Vec<crate::util::Output> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..20)
            .map(|i| {
                let svc = &svc;
                s.spawn(move || svc.docker(&["run", "--rm", IMG, "echo", &format!("run-{i}")]))
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(out.code(), 0, "run {i}: {out:?}");
        assert_eq!(out.stdout.trim(), format!("run-{i}"), "run {i}: {out:?}");
    }
    assert!(env.names_all().is_empty(), "run --rm left containers");
}

/// `docker system df` through the service: the summary the CLI computes from the lists, and
/// the verbose lists with the image's name, the volume and its user.
#[test]
fn api_docker_system_df() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_df");
    env.import_busybox();
    let vol = crate::util::name("dfvol");
    let ctr = crate::util::name("dfc");
    env.ok(&["volume", "create", &vol]);
    env.ok(&[
        "create",
        "--name",
        &ctr,
        "-v",
        &format!("{vol}:/d"),
        IMG,
        "true",
    ]);
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let out = svc.docker(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}}",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let rows: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        rows,
        [
            "Images 1 1",
            "Containers 1 0",
            "Local Volumes 1 1",
            "Build Cache 0 0"
        ],
        "{out:?}"
    );
    let out = svc.docker(&["system", "df", "-v"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let row = out
        .stdout
        .lines()
        .find(|l| l.contains(&ctr))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(row.contains("localhost/busybox"), "{row}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with(&vol) && l.split_whitespace().nth(1) == Some("1")),
        "{out:?}"
    );
}

#[test]
fn api_socket_activation_with_listen_fds() {
    let env = TestEnv::new("api_activation");
    let sock = env.dir.join("activated.sock");
    // systemd's part: bind and listen, hand the socket over as fd 3 with LISTEN_PID set to
    // the service's own pid (the shell execs peapod, keeping its pid).
    let script = format!(
        "import os, socket\n\
         s = socket.socket(socket.AF_UNIX)\n\
         s.bind('{sock}')\n\
         s.listen(8)\n\
         os.dup2(s.fileno(), 3)\n\
         os.set_inheritable(3, True)\n\
         os.execvp('sh', ['sh', '-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\"', '{peapod}', \
           '--root', '{root}', '--runroot', '{runroot}', 'system', 'service', '--time', '2'])\n",
        sock = sock.display(),
        peapod = env.peapod.display(),
        root = env.root.display(),
        runroot = env.runroot.display(),
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn python3");
    wait_until("the activated socket", Duration::from_secs(10), || {
        sock.exists()
    });
    let svc = Service {
        child: std::process::Command::new("true").spawn().unwrap(),
        sock: sock.clone(),
    };
    let mut pinged = false;
    wait_until(
        "a ping through the activated socket",
        Duration::from_secs(10),
        || {
            pinged = svc.curl("GET", "/_ping", None) == (200, "OK".to_string());
            pinged
        },
    );
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the activated service did not exit after 2 s idle");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
    assert!(
        sock.exists(),
        "systemd's socket file is systemd's to remove"
    );
}

/// A body past the service's limit is refused with Docker's error body and nothing made; a
/// client that opens a followed log stream and never reads it stalls only itself: other
/// clients are served meanwhile, and once it goes the container still runs.
#[test]
fn api_huge_bodies_and_stalled_readers() {
    use std::io::Write;
    let env = TestEnv::new("api_limits");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let big = env.dir.join("big.json");
    let mut f = std::fs::File::create(&big).unwrap();
    write!(f, r#"{{"Image":"{IMG}","Cmd":["true"],"Env":["X="#).unwrap();
    f.write_all(&vec![b'a'; 5 << 20]).unwrap();
    f.write_all(br#""]}"#).unwrap();
    drop(f);
    let sock = svc.sock.display().to_string();
    let out = PeapodCmd::program(
        "curl",
        &[
            "-s",
            "-m",
            "20",
            "--unix-socket",
            &sock,
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", big.display()),
            "-w",
            "\n%{http_code}",
            "http://d/v1.44/containers/create",
        ],
    )
    .output();
    let (body, code) = out.stdout.rsplit_once('\n').expect("a status line");
    assert_eq!(code, "400", "{out:?}");
    assert!(body.contains("request body larger than"), "{body}");
    assert!(env.names_all().is_empty(), "{:?}", env.names_all());

    // A chatty container, and a client that asks to follow its log and never reads.
    let ctr = name("chatty");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &ctr,
        IMG,
        "sh",
        "-c",
        "while :; do echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; done",
    ]);
    let mut stalled = std::os::unix::net::UnixStream::connect(&svc.sock).unwrap();
    write!(
        stalled,
        "GET /v1.44/containers/{ctr}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: d\r\n\r\n"
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(svc.curl("GET", "/_ping", None).0, 200);
        let (code, _) = svc.curl("GET", "/v1.44/containers/json", None);
        assert_eq!(code, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "other clients were served while one stalled"
    );
    drop(stalled);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.status(&ctr), "running");
    assert_eq!(svc.curl("GET", "/_ping", None).0, 200);
    env.ok(&["rm", "-f", "-t", "0", &ctr]);
}
