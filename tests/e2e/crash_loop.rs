//! Interrupted commands: `run -d -p PORT:80 … httpd` and `pod create -p PORT:80` + `pod
//! start`, SIGKILLed 1, 2, 4, … 100 ms in (and a little later), each step in a root of its
//! own. Whatever instant
//! the kill lands: `ps -a` agrees with the runtime (`runc state`), `rm -f` / `pod rm -f`
//! exit 0 and leave nothing (no namespace file, mount, lease, nft rule, veth, runtime
//! container, cgroup or process; `system check` finds nothing), and a fresh container
//! publishing the same port serves its own content there.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::leftovers::{Watch, host_veth};
use crate::util::{IMG, TestEnv, free_port, http_get, name, wait_until};

/// When the kill lands, in ms after the command starts: 1 to 100 ms as the issue found them,
/// and two later ones so that a slow machine also sees the kill land after the runtime
/// started the container. (The two states a loop only hits by luck have tests of their
/// own below, with a runtime that stops right there.)
const DELAYS_MS: [u64; 12] = [1, 2, 4, 8, 16, 24, 32, 48, 64, 100, 150, 250];

/// Run `peapod <args>` in `env` and SIGKILL it `ms` ms after it starts.
fn kill_after(env: &TestEnv, args: &[&str], ms: u64) {
    let mut cmd: Command = env.peapod(args).command();
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{path}:/usr/local/sbin:/usr/sbin:/sbin"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn peapod");
    std::thread::sleep(Duration::from_millis(ms));
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
}

/// `runc state ID`'s status, None when the runtime does not know the container.
fn runc_status(id: &str) -> Option<String> {
    let out = Command::new("runc")
        .args(["state", id])
        .output()
        .expect("runc");
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("runc state JSON");
    v["status"].as_str().map(String::from)
}

/// Every container of `ps -a`, `(id, state)`, each checked against the runtime: running
/// (or paused) exactly when the runtime runs it, initialized when the runtime has created
/// it, and otherwise unknown to the runtime (or stopped there).
#[track_caller]
fn ps_agrees_with_runtime(env: &TestEnv, when: &str) -> Vec<(String, String)> {
    let ps = env.ok(&["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.State}}"]);
    let mut out = Vec::new();
    for line in ps.lines().filter(|l| !l.trim().is_empty()) {
        let (id, state) = line.split_once(' ').expect("ID State");
        let rt = runc_status(id);
        let agree = matches!(
            (state, rt.as_deref()),
            ("running", Some("running"))
                | ("paused", Some("paused"))
                | ("initialized", Some("created"))
                | ("created" | "exited", None | Some("stopped"))
        );
        assert!(
            agree,
            "{when}: ps -a says {id} is {state:?}, the runtime says {rt:?}\n{ps}"
        );
        out.push((id.to_string(), state.to_string()));
    }
    out
}

/// A container publishing `port` that serves `body`: it answers from 127.0.0.1, then goes.
#[track_caller]
fn fresh_container_serves(env: &TestEnv, port: u16, when: &str) {
    let body = name("fresh");
    let script =
        format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
    let published = format!("{port}:80");
    env.ok(&[
        "run", "-d", "--name", &body, "-p", &published, IMG, "sh", "-c", &script,
    ]);
    let addr = format!("127.0.0.1:{port}");
    let want = format!("{body}\n");
    wait_until(
        &format!("{when}: the fresh container to answer on port {port}"),
        Duration::from_secs(15),
        || http_get(&addr, "/index.html").as_deref() == Some(want.as_str()),
    );
    env.ok(&["rm", "-f", "-t", "0", &body]);
}

/// Its address, while the container is known (for the rule check).
fn address_of(env: &TestEnv, id: &str) -> Option<String> {
    let out = env.run(&["inspect", "--format", "{{.NetworkSettings.IPAddress}}", id]);
    let a = out.stdout.trim().to_string();
    (out.code() == 0 && !a.is_empty()).then_some(a)
}

#[test]
fn killed_run_leaves_nothing_and_the_port_works_again() {
    let start = Instant::now();
    for ms in DELAYS_MS {
        let env = TestEnv::new(&format!("kill-run-{ms}"));
        env.import_busybox();
        let port = free_port();
        let ctr = name("k");
        let published = format!("{port}:80");
        let args = [
            "run", "-d", "--name", &ctr, "-p", &published, IMG, "httpd", "-f", "-p", "80",
        ];
        kill_after(&env, &args, ms);
        let when = format!("run -d killed after {ms} ms");
        let seen = ps_agrees_with_runtime(&env, &when);
        // Once more: what the first look repaired, the second sees the same way.
        ps_agrees_with_runtime(&env, &when);
        let ids: Vec<String> = seen.iter().map(|(id, _)| id.clone()).collect();
        let watch = Watch {
            addr: ids.first().and_then(|id| address_of(&env, id)),
            veth: ids
                .first()
                .and_then(|id| host_veth(&env.runroot.join("netns").join(format!("netns-{id}")))),
            ids,
            port,
        };
        eprintln!("{when}: ps -a showed {seen:?}");
        if !seen.is_empty() {
            env.ok(&["rm", "-f", "-t", "0", &ctr]);
        }
        watch.assert_gone(&env, &when);
        fresh_container_serves(&env, port, &when);
        watch.assert_gone(&env, &format!("{when}, after the fresh container"));
    }
    eprintln!("the run kill loop took {:?}", start.elapsed());
}

#[test]
fn killed_pod_start_leaves_nothing_and_the_port_works_again() {
    let start = Instant::now();
    for ms in DELAYS_MS {
        let env = TestEnv::new(&format!("kill-pod-{ms}"));
        env.import_busybox();
        let port = free_port();
        let pod = name("kp");
        let published = format!("{port}:80");
        env.ok(&["pod", "create", "--name", &pod, "-p", &published]);
        let pod_id = env
            .ok(&["pod", "inspect", "--format", "{{.Id}}", &pod])
            .trim()
            .to_string();
        kill_after(&env, &["pod", "start", &pod], ms);
        let when = format!("pod start killed after {ms} ms");
        let seen = ps_agrees_with_runtime(&env, &when);
        ps_agrees_with_runtime(&env, &when);
        let mut ids: Vec<String> = seen.iter().map(|(id, _)| id.clone()).collect();
        let net_pin = env.runroot.join("pods").join(&pod_id).join("ns/net");
        let watch = Watch {
            addr: ids.first().and_then(|id| address_of(&env, id)),
            veth: host_veth(&net_pin),
            ids: {
                ids.push(pod_id.clone());
                ids
            },
            port,
        };
        eprintln!("{when}: ps -a showed {seen:?}");
        env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
        watch.assert_gone(&env, &when);
        fresh_container_serves(&env, port, &when);
        watch.assert_gone(&env, &format!("{when}, after the fresh container"));
    }
    eprintln!("the pod kill loop took {:?}", start.elapsed());
}

#[test]
fn an_interrupted_run_can_be_started() {
    // Killed half-way, the container is either running (the runtime started it) or can be
    // started: `start` releases what the interrupted run left and starts it afresh.
    for ms in [8, 16, 32, 48, 64] {
        let env = TestEnv::new(&format!("kill-start-{ms}"));
        env.import_busybox();
        let port = free_port();
        let ctr = name("ks");
        let published = format!("{port}:80");
        let script = format!("mkdir -p /www && echo {ctr} > /www/i && exec httpd -f -p 80 -h /www");
        kill_after(
            &env,
            &[
                "run", "-d", "--name", &ctr, "-p", &published, IMG, "sh", "-c", &script,
            ],
            ms,
        );
        let when = format!("run -d killed after {ms} ms");
        let seen = ps_agrees_with_runtime(&env, &when);
        if seen.is_empty() {
            continue; // killed before the container was recorded: nothing to start
        }
        env.ok(&["start", &ctr]);
        env.wait_status(&ctr, "running", Duration::from_secs(10));
        let addr = format!("127.0.0.1:{port}");
        let want = format!("{ctr}\n");
        wait_until(
            &format!("{when}: the started container to answer"),
            Duration::from_secs(15),
            || http_get(&addr, "/i").as_deref() == Some(want.as_str()),
        );
        env.ok(&["rm", "-f", "-t", "0", &ctr]);
        env.assert_no_mounts();
        env.assert_no_processes();
    }
}

/// A runtime that is runc, except that after `runc <verb>` it hangs while `marker` exists:
/// the command that ran it stays stuck right after the runtime did its part, for a test to
/// kill it there, at the one instant a kill loop only hits by luck.
fn hanging_runtime(env: &TestEnv, verb: &str, marker: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = env.dir.join(format!("runc-hang-{verb}"));
    let runc = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("runc is installed");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n{runc} \"$@\"\nrc=$?\nfor a in \"$@\"; do\n  if [ \"$a\" = {verb} ] && [ -e {m} ]; then exec sleep 600; fi\ndone\nexit $rc\n",
            m = marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Kill the `sleep 600` a hanging runtime left (it mentions nothing of the env).
fn kill_hung_sleeps(parent_cmdline_has: &str) {
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmd == b"sleep\x00600\x00" {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            if String::from_utf8_lossy(&env).contains(parent_cmdline_has) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// Run `run -d` with `runtime` in the background and SIGKILL it once the runtime reports
/// the container `want` (created, or running).
fn kill_when_runtime_says(env: &TestEnv, runtime: &std::path::Path, args: &[&str], want: &str) {
    let mut full = vec!["--runtime", runtime.to_str().unwrap()];
    full.extend_from_slice(args);
    let mut cmd: Command = env.peapod(&full).command();
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{path}:/usr/local/sbin:/usr/sbin:/sbin"))
        .env("PEAPOD_TEST_HANG", env.dir.as_os_str())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn peapod");
    let mut id = None;
    wait_until(
        &format!("the runtime to report the container {want}"),
        Duration::from_secs(30),
        || {
            id = id.clone().or_else(|| {
                let ps = env.ok(&["ps", "-a", "-q", "--no-trunc"]);
                ps.lines().next().map(String::from)
            });
            id.as_deref().and_then(runc_status).as_deref() == Some(want)
        },
    );
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
}

#[test]
fn killed_after_the_runtime_started_it_the_container_runs_on() {
    // `run -d` killed between `runtime start` and recording it: Podman users find it
    // running (it is), with its monitor; `start` is a no-op; `rm -f` takes all of it.
    let env = TestEnv::new("kill-started");
    env.import_busybox();
    let marker = env.dir.join("hang");
    std::fs::write(&marker, "").unwrap();
    let runtime = hanging_runtime(&env, "start", &marker);
    let port = free_port();
    let ctr = name("st");
    let published = format!("{port}:80");
    let script = format!("mkdir -p /www && echo {ctr} > /www/i && exec httpd -f -p 80 -h /www");
    kill_when_runtime_says(
        &env,
        &runtime,
        &[
            "run", "-d", "--name", &ctr, "-p", &published, IMG, "sh", "-c", &script,
        ],
        "running",
    );
    std::fs::remove_file(&marker).unwrap();
    kill_hung_sleeps(&env.dir.display().to_string());
    let seen = ps_agrees_with_runtime(&env, "killed after runtime start");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1, "running", "{seen:?}");
    env.ok(&["start", &ctr]);
    assert_eq!(env.status(&ctr), "running");
    let monitor = env.inspect(&ctr, "{{.State.ConmonPid}}");
    assert!(
        crate::util::pid_alive(monitor.parse().unwrap_or(0)),
        "its monitor {monitor} runs on"
    );
    let addr = format!("127.0.0.1:{port}");
    let want = format!("{ctr}\n");
    wait_until("it to answer", Duration::from_secs(15), || {
        http_get(&addr, "/i").as_deref() == Some(want.as_str())
    });
    let watch = Watch {
        ids: vec![seen[0].0.clone()],
        port,
        addr: address_of(&env, &seen[0].0),
        veth: host_veth(
            &env.runroot
                .join("netns")
                .join(format!("netns-{}", seen[0].0)),
        ),
    };
    env.ok(&["rm", "-f", "-t", "0", &ctr]);
    watch.assert_gone(&env, "rm -f after a run killed after runtime start");
}

#[test]
fn killed_while_the_runtime_had_only_created_it_the_container_starts_afresh() {
    // `run -d` killed while the monitor's `runtime create` was done but unreported: the
    // container is created (nothing held, the runtime's half-made container gone), and
    // `start` starts it.
    let env = TestEnv::new("kill-created");
    env.import_busybox();
    let marker = env.dir.join("hang");
    std::fs::write(&marker, "").unwrap();
    let runtime = hanging_runtime(&env, "create", &marker);
    let port = free_port();
    let ctr = name("cr");
    let published = format!("{port}:80");
    let script = format!("mkdir -p /www && echo {ctr} > /www/i && exec httpd -f -p 80 -h /www");
    kill_when_runtime_says(
        &env,
        &runtime,
        &[
            "run", "-d", "--name", &ctr, "-p", &published, IMG, "sh", "-c", &script,
        ],
        "created",
    );
    std::fs::remove_file(&marker).unwrap();
    let seen = ps_agrees_with_runtime(&env, "killed after runtime create");
    kill_hung_sleeps(&env.dir.display().to_string());
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1, "created", "{seen:?}");
    let watch = Watch {
        ids: vec![seen[0].0.clone()],
        port,
        addr: None,
        veth: None,
    };
    watch.assert_gone(&env, "a run killed after runtime create, repaired");
    env.ok(&["start", &ctr]);
    let addr = format!("127.0.0.1:{port}");
    let want = format!("{ctr}\n");
    wait_until("it to answer", Duration::from_secs(15), || {
        http_get(&addr, "/i").as_deref() == Some(want.as_str())
    });
    env.ok(&["rm", "-f", "-t", "0", &ctr]);
    watch.assert_gone(&env, "rm -f after the start");
}
