//! `pause`/`unpause`, `top`, restart policies, resource limits and OOM reporting.
//! Expected outputs, messages and exit codes were checked against Podman 4.3 (runc,
//! cgroupfs) on this host.

use std::time::{Duration, Instant};

use crate::util::{IMG, TestEnv, lines, name, pid_alive, wait_until};

/// A shell loop that writes an increasing counter to /tmp/c ten times a second.
const COUNTER: &str = "i=0; while true; do i=$((i+1)); echo $i > /tmp/c; sleep 0.1; done";

fn counter(env: &TestEnv, ctr: &str) -> u64 {
    let merged = env.inspect(ctr, "{{.GraphDriver.Data.MergedDir}}");
    let path = format!("{merged}/tmp/c");
    // The loop may be between truncating and writing: retry a few times.
    for _ in 0..50 {
        if let Ok(v) = std::fs::read_to_string(&path).map(|s| s.trim().parse::<u64>())
            && let Ok(v) = v
        {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no counter in {path}");
}

/// `rm -af`, then nothing may stay mounted or running (a restart in flight included).
fn rm_all_and_check(env: &TestEnv) {
    env.ok(&["rm", "-af", "-t", "0"]);
    assert!(env.names_all().is_empty());
    env.assert_no_mounts();
    env.assert_no_processes();
}

fn ps_status(env: &TestEnv, ctr: &str) -> String {
    let out = env.ok(&["ps", "-a", "--format", "{{.Names}}|{{.Status}}"]);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{ctr}|")))
        .unwrap_or_else(|| panic!("{ctr} not in ps -a:\n{out}"))
        .to_owned()
}

#[test]
fn pause_freezes_and_unpause_resumes() {
    let env = TestEnv::new("ops-pause");
    env.import_busybox();
    let x = name("p");
    env.ok(&["run", "-d", "--name", &x, IMG, "sh", "-c", COUNTER]);
    wait_until("the counter to start", Duration::from_secs(10), || {
        counter(&env, &x) > 2
    });

    assert_eq!(env.ok(&["pause", &x]).trim(), x);
    assert_eq!(env.status(&x), "paused");
    assert_eq!(
        env.inspect(&x, "{{.State.Paused}} {{.State.Running}}"),
        "true false"
    );
    assert_eq!(ps_status(&env, &x), "Paused");
    // Listed by plain ps too (Podman lists running and paused).
    assert!(env.ok(&["ps", "--format", "{{.Names}}"]).contains(&x));
    let frozen = counter(&env, &x);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        counter(&env, &x),
        frozen,
        "the counter advanced while paused"
    );

    let id = env.inspect(&x, "{{.Id}}");
    env.run(&["pause", &x]).assert_error(
        125,
        &[&format!(
            "\"{id}\" is already paused: container state improper"
        )],
    );
    env.run(&["top", &x])
        .assert_error(125, &["top can only be used on running containers"]);

    assert_eq!(env.ok(&["container", "unpause", &x]).trim(), x);
    assert_eq!(env.status(&x), "running");
    wait_until(
        "the counter to advance after unpause",
        Duration::from_secs(10),
        || counter(&env, &x) > frozen + 2,
    );
    env.run(&["unpause", &x]).assert_error(
        125,
        &[&format!(
            "\"{id}\" is not paused, can't unpause: container state improper"
        )],
    );

    // Not running, missing.
    let c = name("c");
    env.ok(&["create", "--name", &c, IMG, "true"]);
    env.run(&["pause", &c]).assert_error(
        125,
        &["\"created\" is not running, can't pause: container state improper"],
    );
    env.run(&["unpause", &c])
        .assert_error(125, &["is not paused, can't unpause"]);
    let missing = name("missing");
    env.run(&["pause", &missing])
        .assert_error(125, &["no such container"]);
    // One missing name fails the command before anything is paused (Podman looks all up first).
    env.run(&["pause", &x, &missing])
        .assert_error(125, &["no such container"]);
    assert_eq!(env.status(&x), "running");

    // -a pauses every running container (not the created one) and prints full ids.
    let out = env.ok(&["pause", "-a"]);
    assert_eq!(lines(&out), vec![id.clone()]);
    assert_eq!(env.status(&c), "created");
    assert_eq!(lines(&env.ok(&["unpause", "-a"])), vec![id.clone()]);
    assert_eq!(env.status(&x), "running");
}

#[test]
fn stop_kill_and_rm_of_a_paused_container() {
    let env = TestEnv::new("ops-paused-stop");
    env.import_busybox();
    let (a, b, c) = (name("a"), name("b"), name("c"));
    for n in [&a, &b, &c] {
        env.ok(&["run", "-d", "--name", n, IMG, "sleep", "1000"]);
        env.ok(&["pause", n]);
    }
    // kill: the signal lands once thawed; Exited (137).
    let pid: i32 = env.inspect(&a, "{{.State.Pid}}").parse().unwrap();
    assert_eq!(env.ok(&["kill", &a]).trim(), a);
    env.wait_status(&a, "exited", Duration::from_secs(20));
    assert_eq!(env.inspect(&a, "{{.State.ExitCode}}"), "137");
    assert!(!pid_alive(pid));
    // stop.
    let out = env.run(&["stop", "-t", "1", &b]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(env.status(&b), "exited");
    assert!(ps_status(&env, &b).starts_with("Exited (137)"));
    // rm needs -f (exit 2 without, as Podman), then removes it.
    env.run(&["rm", &c]).assert_error(
        2,
        &["running or paused containers cannot be removed without force"],
    );
    assert_eq!(env.ok(&["rm", "-f", &c]).trim(), c);
    assert!(!env.names_all().contains(&c));
    env.ok(&["rm", &a, &b]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn top_shows_container_pids_and_podman_headers() {
    let env = TestEnv::new("ops-top");
    env.import_busybox();
    let x = name("t");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &x,
        IMG,
        "sh",
        "-c",
        "sleep 1000 & sleep 2000",
    ]);
    let host_pid = env.inspect(&x, "{{.State.Pid}}");
    let mut rows = Vec::new();
    wait_until("two processes in top", Duration::from_secs(10), || {
        rows = lines(&env.ok(&["top", &x]));
        rows.len() == 3
    });
    let header: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"
        ]
    );
    // Columns are padded to at least 12 (Podman's tabwriter).
    assert!(rows[0].starts_with("USER        PID"), "{:?}", rows[0]);
    let cols: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(&cols[..3], ["root", "1", "0"], "{}", rows[1]);
    assert_eq!(cols[5], "?");
    assert_eq!(&cols[7..], ["sleep", "2000"]);
    let cols: Vec<&str> = rows[2].split_whitespace().collect();
    assert_eq!(cols[2], "1", "the child's parent is pid 1: {}", rows[2]);
    assert_eq!(&cols[7..], ["sleep", "1000"]);

    // psgo names, comma lists, AIX codes and host pids.
    let rows = lines(&env.ok(&["container", "top", &x, "pid,ppid", "hpid", "comm"]));
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "PPID", "HPID", "COMMAND"]
    );
    assert_eq!(
        rows[1].split_whitespace().collect::<Vec<_>>(),
        ["1", "0", host_pid.as_str(), "sleep"]
    );
    let rows = lines(&env.ok(&["top", &x, "%p", "%U", "%c", "%n"]));
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "USER", "COMMAND", "NI"]
    );
    assert_eq!(
        rows[1].split_whitespace().collect::<Vec<_>>(),
        ["1", "root", "sleep", "0"]
    );

    // ps(1) options psgo does not know: the host's ps on the container's host pids only.
    let rows = lines(&env.ok(&["top", &x, "-o", "pid,comm,wchan"]));
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND", "WCHAN"]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.split_whitespace().next() == Some(host_pid.as_str()))
    );
    assert!(
        rows.iter()
            .all(|r| r.split_whitespace().next() != Some("1"))
    );
    let rows = lines(&env.ok(&["top", &x, "-ef"]));
    assert_eq!(rows.len(), 3, "ps -ef limited to the container: {rows:?}");

    // Not running, missing.
    let c = name("c");
    env.ok(&["create", "--name", &c, IMG, "true"]);
    env.run(&["top", &c])
        .assert_error(125, &["top can only be used on running containers"]);
    env.run(&["top", &name("missing")]).assert_error(
        125,
        &["unable to look up requested container", "no such container"],
    );
}

/// Waits for `{{.RestartCount}}` to reach `n` and the container to be `status`.
fn wait_restarts(env: &TestEnv, ctr: &str, n: u32, status: &str) {
    let want = format!("{n} {status}");
    let mut last = String::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        last = env.inspect(ctr, "{{.RestartCount}} {{.State.Status}}");
        if last == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{ctr}: wanted {want:?}, last {last:?}");
}

#[test]
fn restart_policy_on_failure_counts_retries() {
    let env = TestEnv::new("ops-restart-onf");
    env.import_busybox();
    let x = name("r");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &x,
        "--restart",
        "on-failure:2",
        IMG,
        "sh",
        "-c",
        "sleep 0.3; exit 1",
    ]);
    wait_restarts(&env, &x, 2, "exited");
    // And it stays there.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        env.inspect(
            &x,
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "2 exited 1 on-failure 2"
    );
    // on-failure does not restart a clean exit.
    let y = name("ok");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &y,
        "--restart",
        "on-failure",
        IMG,
        "true",
    ]);
    env.wait_status(&y, "exited", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        env.inspect(&y, "{{.RestartCount}} {{.State.Status}}"),
        "0 exited"
    );
    rm_all_and_check(&env);
}

#[test]
fn restart_policy_always_and_none() {
    let env = TestEnv::new("ops-restart-always");
    env.import_busybox();
    let x = name("always");
    let n = name("none");
    let k = name("killed");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &x,
        "--restart",
        "always",
        IMG,
        "sleep",
        "1000",
    ]);
    env.ok(&["run", "-d", "--name", &n, IMG, "sleep", "1000"]);
    env.ok(&[
        "run",
        "-d",
        "--name",
        &k,
        "--restart",
        "unless-stopped",
        IMG,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        env.inspect(&x, "{{.HostConfig.RestartPolicy.Name}} {{.RestartCount}}"),
        "always 0"
    );
    assert_eq!(env.inspect(&n, "{{.HostConfig.RestartPolicy.Name}}"), "");

    // Killed from the host (not through peapod): always restarts, no policy does not.
    // (The old pid is read before the kill: the restart may come before any later read.)
    let old_pid = env.inspect(&x, "{{.State.Pid}}");
    for c in [&x, &n] {
        let pid: i32 = env.inspect(c, "{{.State.Pid}}").parse().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    wait_restarts(&env, &x, 1, "running");
    let new_pid: i32 = env.inspect(&x, "{{.State.Pid}}").parse().unwrap();
    assert_ne!(new_pid.to_string(), old_pid);
    assert!(pid_alive(new_pid));
    env.wait_status(&n, "exited", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        env.inspect(
            &n,
            "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}"
        ),
        "0 exited 137"
    );

    // Stopped by the user: not restarted.
    env.ok(&["stop", "-t", "0", &x]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        env.inspect(&x, "{{.RestartCount}} {{.State.Status}}"),
        "1 exited"
    );
    // Killed through peapod: Podman counts that as stopped by the user too.
    env.ok(&["kill", &k]);
    env.wait_status(&k, "exited", Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        env.inspect(&k, "{{.RestartCount}} {{.State.Status}}"),
        "0 exited"
    );
    rm_all_and_check(&env);
}

#[test]
fn restart_policy_bad_values() {
    let env = TestEnv::new("ops-restart-bad");
    env.import_busybox();
    env.run(&["create", "--restart", "bogus", IMG, "true"])
        .assert_error(125, &["\"bogus\" is not a valid restart policy"]);
    env.run(&["run", "-d", "--restart", "on-failure:x", IMG, "true"])
        .assert_error(125, &["parsing restart policy retry count"]);
    env.run(&["create", "--restart", "always:3", IMG, "true"])
        .assert_error(
            125,
            &["restart policy retries can only be specified with on-failure restart policy"],
        );
    env.run(&["run", "--rm", "--restart", "always", IMG, "true"])
        .assert_error(125, &["the --rm option conflicts with --restart"]);
    assert!(env.names_all().is_empty(), "nothing is created");
    // --rm with "no" is fine.
    env.ok(&["create", "--rm", "--restart", "no", IMG, "true"]);
}

/// The container's cgroup directory for `controller` (v1) or its unified one (v2).
fn cgroup_dir(pid: &str, controller: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for l in text.lines() {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        if ctrls.split(',').any(|c| c == controller) {
            return format!("/sys/fs/cgroup/{controller}{path}").into();
        }
    }
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("no cgroup v2 line");
    format!("/sys/fs/cgroup{path}").into()
}

#[test]
fn resource_limits_reach_inspect_and_cgroups() {
    let env = TestEnv::new("ops-resources");
    env.import_busybox();
    let x = name("lim");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &x,
        "-m",
        "20m",
        "--memory-swap",
        "40m",
        "--cpus",
        "1.5",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "100",
        IMG,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        env.inspect(
            &x,
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}"
        ),
        "20971520 41943040 1500000000 512 100"
    );
    let pid = env.inspect(&x, "{{.State.Pid}}");
    let read = |ctrl: &str, v1: &str, v2: &str| {
        let dir = cgroup_dir(&pid, ctrl);
        std::fs::read_to_string(dir.join(v1))
            .or_else(|_| std::fs::read_to_string(dir.join(v2)))
            .unwrap_or_else(|e| panic!("reading {v1}/{v2} in {}: {e}", dir.display()))
            .trim()
            .to_owned()
    };
    assert_eq!(
        read("memory", "memory.limit_in_bytes", "memory.max"),
        "20971520"
    );
    assert_eq!(read("pids", "pids.max", "pids.max"), "100");
    let quota = read("cpu", "cpu.cfs_quota_us", "cpu.max");
    assert!(
        quota == "150000" || quota == "150000 100000",
        "cpu quota {quota}"
    );

    // Defaults: no limits but Podman's pids limit of 2048.
    let d = name("def");
    env.ok(&["create", "--name", &d, IMG, "true"]);
    assert_eq!(
        env.inspect(
            &d,
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}"
        ),
        "0 0 0 0 2048"
    );
    // -m alone: swap is twice the memory, as Podman sets it.
    let m = name("m");
    env.ok(&["create", "--name", &m, "--memory", "1.5g", IMG, "true"]);
    assert_eq!(
        env.inspect(&m, "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}"),
        "1610612736 3221225472"
    );

    // Bad values: Podman's messages, exit 125, nothing created.
    let before = env.names_all().len();
    env.run(&["create", "-m", "20x", IMG, "true"])
        .assert_error(125, &["invalid value for memory: invalid size: '20x'"]);
    env.run(&["create", "--memory-swap", "10m", IMG, "true"])
        .assert_error(
            125,
            &["you should always set a memory limit when using a memoryswap limit"],
        );
    env.run(&["create", "-m", "20m", "--memory-swap", "10m", IMG, "true"])
        .assert_error(
            125,
            &["minimum memoryswap limit should be larger than memory limit"],
        );
    env.run(&["create", "--cpus", "abc", IMG, "true"])
        .assert_code(125);
    assert_eq!(env.names_all().len(), before);
}

#[test]
fn oom_kill_is_reported() {
    let env = TestEnv::new("ops-oom");
    env.import_busybox();
    let x = name("oom");
    let out = env.run(&[
        "run",
        "--name",
        &x,
        "-m",
        "20m",
        IMG,
        "sh",
        "-c",
        "tail /dev/zero",
    ]);
    assert_eq!(out.code(), 137, "{out:?}");
    assert_eq!(
        env.inspect(
            &x,
            "{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}"
        ),
        "true 137 exited"
    );
    assert!(ps_status(&env, &x).starts_with("Exited (137)"));

    // Detached, OOM a moment after start.
    let d = name("oomd");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &d,
        "-m",
        "20m",
        IMG,
        "sh",
        "-c",
        "sleep 0.5; tail /dev/zero",
    ]);
    env.wait_status(&d, "exited", Duration::from_secs(30));
    assert_eq!(
        env.inspect(&d, "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );

    // Not OOM: a plain exit and a SIGKILL under a memory limit.
    let ok = name("fine");
    env.run(&["run", "--name", &ok, "-m", "20m", IMG, "sh", "-c", "exit 3"])
        .assert_code(3);
    assert_eq!(env.inspect(&ok, "{{.State.OOMKilled}}"), "false");
    let k = name("killed");
    env.ok(&["run", "-d", "--name", &k, "-m", "20m", IMG, "sleep", "1000"]);
    env.ok(&["kill", &k]);
    env.wait_status(&k, "exited", Duration::from_secs(20));
    assert_eq!(
        env.inspect(&k, "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "false 137"
    );
}
