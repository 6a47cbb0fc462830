//! Commands on many objects at once, as a user sees them: `stop a b c` of containers that
//! ignore SIGTERM costs one timeout, not three; pods and `kube down` likewise; answers come
//! back in argument order; one missing name fails the command before anything is done
//! (Podman 4.3, checked against it: exit 125, `rm` 1, `rm -f` of a missing name 0).
//!
//! The time bounds are generous (under 5 s where serial work takes 6 s or more): they show
//! the targets are handled together, not how fast.

use std::path::Path;
use std::time::Duration;

use crate::util::{IMG, TestEnv, lines, name, wait_until};

/// A shell that ignores SIGTERM (so only the stop timeout's SIGKILL ends it) and says so.
const STUBBORN: &str = "trap '' TERM; echo ready; sleep 1000";

/// Wait until `ctr` has set its trap (its first line is in the log).
fn wait_ready(env: &TestEnv, ctr: &str) {
    wait_until(&format!("{ctr} ready"), Duration::from_secs(20), || {
        env.run(&["logs", ctr]).stdout.contains("ready")
    });
}

fn run_stubborn(env: &TestEnv, args: &[&str]) {
    let mut argv = vec!["run", "-d", "--network", "none"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&[IMG, "sh", "-c", STUBBORN]);
    env.ok(&argv);
}

#[test]
fn stop_of_three_stubborn_containers_takes_one_timeout() {
    let env = TestEnv::new("many-stop");
    env.import_busybox();
    let names: Vec<String> = (0..3).map(|_| name("stub")).collect();
    for n in &names {
        run_stubborn(&env, &["--name", n]);
    }
    for n in &names {
        wait_ready(&env, n);
    }

    // One missing name: nothing is stopped, Podman's message and exit code.
    let missing = name("missing");
    env.run(&["stop", "-t", "2", &names[0], &missing, &names[1]])
        .assert_error(125, &[&missing, "no such container"]);
    for n in &names {
        assert_eq!(env.status(n), "running", "{n} after a failed stop");
    }

    // Argument order differs from creation order; the answers follow the arguments.
    let order = [&names[2], &names[0], &names[1]];
    let out = env.run(&["stop", "-t", "2", order[0], order[1], order[2]]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        lines(&out.stdout),
        order.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "names in argument order"
    );
    assert!(
        out.elapsed >= Duration::from_millis(1500),
        "they ignored SIGTERM, so the 2 s timeout ran: {out:?}"
    );
    assert!(
        out.elapsed < Duration::from_secs(5),
        "three 2 s timeouts at once, not one after another (6 s): {out:?}"
    );
    for n in &names {
        assert_eq!(env.inspect(n, "{{.State.ExitCode}}"), "137", "{n}");
    }

    // rm: a missing name is exit 1 and removes nothing; with -f it is skipped.
    env.run(&["rm", &names[0], &missing])
        .assert_error(1, &[&missing, "no such container"]);
    assert!(env.names_all().contains(&names[0]));
    let out = env.ok(&["rm", "-f", &names[1], &missing, &names[0]]);
    assert_eq!(lines(&out), vec![names[1].clone(), names[0].clone()]);
    assert_eq!(env.names_all(), vec![names[2].clone()]);
}

#[test]
fn rm_af_of_stubborn_containers_takes_one_timeout() {
    let env = TestEnv::new("many-rm-af");
    env.import_busybox();
    let names: Vec<String> = (0..3).map(|_| name("stub")).collect();
    for n in &names {
        run_stubborn(&env, &["--name", n, "--stop-timeout", "2"]);
    }
    for n in &names {
        wait_ready(&env, n);
    }
    let out = env.run(&["rm", "-af"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(lines(&out.stdout).len(), 3, "{out:?}");
    assert!(
        out.elapsed < Duration::from_secs(5),
        "three 2 s timeouts at once: {out:?}"
    );
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn pod_stop_of_three_stubborn_pods_takes_one_timeout() {
    let env = TestEnv::new("many-pod-stop");
    env.import_busybox();
    let pods: Vec<String> = (0..3).map(|_| name("pod")).collect();
    let mut ids = Vec::new();
    for p in &pods {
        let id = env.ok(&["pod", "create", "--network", "none", "--name", p]);
        ids.push(id.trim().to_string());
        let m = format!("{p}-m");
        env.ok(&[
            "run", "-d", "--pod", p, "--name", &m, IMG, "sh", "-c", STUBBORN,
        ]);
        wait_ready(&env, &m);
    }
    let missing = name("nopod");
    env.run(&["pod", "stop", "-t", "2", &pods[0], &missing])
        .assert_error(125, &[&missing, "no such pod"]);
    assert_eq!(env.status(&format!("{}-m", pods[0])), "running");

    let out = env.run(&["pod", "stop", "-t", "2", &pods[1], &pods[2], &pods[0]]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        lines(&out.stdout),
        vec![ids[1].clone(), ids[2].clone(), ids[0].clone()],
        "pod ids in argument order"
    );
    assert!(
        out.elapsed >= Duration::from_millis(1500),
        "members ignored SIGTERM: {out:?}"
    );
    assert!(
        out.elapsed < Duration::from_secs(5),
        "three pods at once, not one after another (6 s): {out:?}"
    );
    for p in &pods {
        assert_eq!(env.status(&format!("{p}-m")), "exited", "{p}");
    }
    let out = env.ok(&["pod", "rm", &pods[2], &pods[0], &pods[1]]);
    assert_eq!(
        lines(&out),
        vec![ids[2].clone(), ids[0].clone(), ids[1].clone()]
    );
    assert_eq!(env.ok(&["ps", "-aq"]), "");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn kube_down_of_stubborn_replicas_takes_one_timeout() {
    let env = TestEnv::new("many-kube-down");
    env.import_busybox();
    let dep = name("stub");
    let yaml = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {dep}
spec:
  replicas: 3
  selector:
    matchLabels:
      app: {dep}
  template:
    metadata:
      labels:
        app: {dep}
    spec:
      containers:
      - name: app
        image: {IMG}
        command: ["sh", "-c", "{STUBBORN}"]
"#
    );
    let file = env.dir.join("stubborn.yaml");
    std::fs::write(&file, yaml).unwrap();
    env.ok(&["kube", "play", "--network", "none", s(&file)]);
    for i in 0..3 {
        wait_ready(&env, &format!("{dep}-pod-{i}-app"));
    }
    let out = env.run(&["kube", "down", s(&file)]);
    assert_eq!(out.code(), 0, "{out:?}");
    // Each container's stop timeout is Podman's default, 10 s: serially this is 30 s.
    assert!(
        out.elapsed >= Duration::from_secs(9),
        "the replicas ignored SIGTERM: {out:?}"
    );
    assert!(
        out.elapsed < Duration::from_secs(18),
        "three replicas at once, within one stop timeout: {out:?}"
    );
    assert_eq!(env.ok(&["pod", "ps", "-q"]), "");
    assert_eq!(env.ok(&["ps", "-aq"]), "");
}

/// `stop` of `--rm` containers: each one's exit command removes it while the stop waits for
/// it (or right after); whichever wins, the stop succeeds with every name, as Podman's stop
/// treats a container its cleanup removed, and nothing is left.
#[test]
fn stop_of_rm_containers_succeeds_whoever_removes_them() {
    let env = TestEnv::new("many-stop-rm");
    env.import_busybox();
    let names: Vec<String> = (0..6).map(|_| name("rmstop")).collect();
    for n in &names {
        // Exits at once on SIGTERM; `wait` lets the trap run while `sleep` holds on.
        env.ok(&[
            "run",
            "-d",
            "--rm",
            "--network",
            "none",
            "--name",
            n,
            IMG,
            "sh",
            "-c",
            "trap 'exit 3' TERM; echo ready; sleep 1000 & wait",
        ]);
    }
    for n in &names {
        wait_ready(&env, n);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut argv = vec!["stop", "-t", "10"];
    argv.extend_from_slice(&refs);
    let out = env.run(&argv);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(lines(&out.stdout), names, "names in argument order");
    wait_until(
        "the --rm containers removed",
        Duration::from_secs(20),
        || env.ok(&["ps", "-aq"]).is_empty(),
    );
    env.assert_no_mounts();
    env.assert_no_processes();
}
