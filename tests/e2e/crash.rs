//! SIGKILL of a container's monitor or of its main process: state stays truthful and the
//! container can still be removed without leaving anything behind.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::util::{IMG, TestEnv, name, pid_alive, wait_until};

fn pid_of(env: &TestEnv, ctr: &str, field: &str) -> i32 {
    let s = env.inspect(ctr, &format!("{{{{.State.{field}}}}}"));
    let pid: i32 = s
        .parse()
        .unwrap_or_else(|_| panic!("{field} of {ctr} is not a number: {s:?}"));
    assert!(
        pid > 0,
        "{field} of running {ctr} should be a pid, is {pid}"
    );
    pid
}

#[test]
fn kill_main_process_is_reflected() {
    let env = TestEnv::new("kill-main");
    env.import_busybox();
    let x = name("main");
    env.ok(&["run", "-d", "--name", &x, IMG, "sleep", "1000"]);
    let pid = pid_of(&env, &x, "Pid");
    assert!(pid_alive(pid));
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill -9 the container's main process");

    env.wait_status(&x, "exited", Duration::from_secs(15));
    assert_eq!(env.inspect(&x, "{{.State.ExitCode}}"), "137");
    assert_eq!(env.inspect(&x, "{{.State.Running}}"), "false");
    let ps = env.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    let row = ps.lines().find(|l| l.starts_with(&x)).unwrap_or_default();
    assert!(
        row.contains("Exited (137)"),
        "ps -a row for {x}: {row:?}\n{ps}"
    );

    env.ok(&["rm", &x]);
    assert!(!env.names_all().contains(&x));
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn kill_monitor_keeps_state_truthful() {
    let env = TestEnv::new("kill-monitor");
    env.import_busybox();
    let x = name("mon");
    env.ok(&["run", "-d", "--name", &x, IMG, "sleep", "1000"]);
    let pid = pid_of(&env, &x, "Pid");
    let monitor = pid_of(&env, &x, "ConmonPid");
    assert_ne!(pid, monitor);
    assert!(pid_alive(monitor), "monitor {monitor} should be alive");
    kill(Pid::from_raw(monitor), Signal::SIGKILL).expect("kill -9 the monitor");
    wait_until("the monitor to die", Duration::from_secs(5), || {
        !pid_alive(monitor)
    });

    // inspect still works and tells the truth.
    let status = env.status(&x);
    match status.as_str() {
        "running" => {
            let now = pid_of(&env, &x, "Pid");
            assert!(
                pid_alive(now),
                "inspect says running but its pid {now} is gone"
            );
        }
        "exited" | "stopped" => {}
        other => panic!("after killing the monitor, status is {other:?}"),
    }
    let ps = env.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(ps.lines().any(|l| l == x), "{x} missing from ps -a:\n{ps}");

    // rm -f removes it and everything it had.
    env.ok(&["rm", "-f", "-t", "0", &x]);
    assert!(!env.names_all().contains(&x));
    wait_until(
        "the container process to be gone",
        Duration::from_secs(5),
        || !pid_alive(pid),
    );
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn refresh_after_reboot_marks_stopped_and_releases_mounts() {
    // A reboot, as the engine sees it: the processes are gone and the runroot's boot id is
    // not this boot's. The next command must mark the container exited, release its rootfs
    // mount, and let it start again.
    let env = TestEnv::new("reboot");
    env.import_busybox();
    let x = name("boot");
    env.ok(&["run", "-d", "--name", &x, IMG, "sleep", "1000"]);
    let pid = pid_of(&env, &x, "Pid");
    let monitor = pid_of(&env, &x, "ConmonPid");
    kill(Pid::from_raw(monitor), Signal::SIGKILL).expect("kill -9 the monitor");
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("kill -9 the container");
    wait_until("both to die", Duration::from_secs(5), || {
        !pid_alive(pid) && !pid_alive(monitor)
    });
    let alive = env.runroot.join("alive");
    assert!(
        alive.exists(),
        "the runroot records the boot it was set up in"
    );
    std::fs::write(&alive, "00000000-0000-0000-0000-000000000000").unwrap();

    assert_eq!(env.status(&x), "exited");
    env.assert_no_mounts();
    assert_ne!(
        std::fs::read_to_string(&alive).unwrap().trim(),
        "00000000-0000-0000-0000-000000000000"
    );

    env.ok(&["start", &x]);
    env.wait_status(&x, "running", Duration::from_secs(10));
    env.ok(&["rm", "-f", "-t", "0", &x]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

/// Exit files left in the runroot (the monitor's record of a container's exit).
fn exit_files(env: &TestEnv) -> Vec<String> {
    std::fs::read_dir(env.runroot.join("exits"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Foreground `run --rm`, many times quickly: each gets its own exit code although the
/// monitor's `cleanup --rm` races it to remove the container (and its exit file).
fn run_rm_exit_codes(env: &TestEnv, monitor: &[&str]) {
    for code in [0, 3, 7, 42, 1, 0, 9, 125, 5, 2] {
        let script = format!("exit {code}");
        let mut args: Vec<&str> = monitor.to_vec();
        args.extend(["run", "--rm", IMG, "sh", "-c", &script]);
        let out = env.run(&args);
        assert_eq!(out.code(), code, "run --rm exiting {code}:{out:?}");
    }
}

#[test]
fn exit_files_go_with_their_container() {
    let env = TestEnv::new("exit-files");
    env.import_busybox();
    run_rm_exit_codes(&env, &[]);
    // Detached: the monitor's cleanup records the exit; the file goes then.
    let x = name("ex");
    env.ok(&["run", "-d", "--name", &x, IMG, "sh", "-c", "exit 5"]);
    assert_eq!(env.ok(&["wait", &x]).trim(), "5");
    crate::util::assert_no_process_mentioning(&env.dir);
    assert_eq!(env.inspect(&x, "{{.State.ExitCode}}"), "5");
    assert_eq!(env.status(&x), "exited");
    assert_eq!(env.run(&["start", "-a", &x]).code(), 5);
    crate::util::assert_no_process_mentioning(&env.dir);
    env.ok(&["rm", &x]);
    // A detached run --rm: removed by its monitor, and `wait` still tells its code.
    let y = name("ey");
    let id = env
        .ok(&[
            "run",
            "-d",
            "--rm",
            "--name",
            &y,
            IMG,
            "sh",
            "-c",
            "sleep 0.3; exit 6",
        ])
        .trim()
        .to_string();
    assert_eq!(
        env.ok(&["wait", &id]).trim(),
        "6",
        "wait for a --rm container"
    );
    wait_until("the --rm container to go", Duration::from_secs(10), || {
        !env.names_all().contains(&y)
    });
    crate::util::assert_no_process_mentioning(&env.dir);
    let left = exit_files(&env);
    assert!(left.is_empty(), "exit files left: {left:?}");
}

#[test]
fn exit_files_go_with_conmon_too() {
    if peapod_tests::skip_unless(
        std::path::Path::new("/usr/bin/conmon").is_file(),
        "/usr/bin/conmon",
    ) {
        return;
    }
    let env = TestEnv::new("exit-files-conmon");
    env.import_busybox();
    run_rm_exit_codes(&env, &["--conmon", "/usr/bin/conmon"]);
    crate::util::assert_no_process_mentioning(&env.dir);
    let left = exit_files(&env);
    assert!(left.is_empty(), "exit files left: {left:?}");
}

#[test]
fn rm_reports_what_it_could_not_release_and_a_retry_finishes() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new("rm-partial");
    env.import_busybox();
    let port = crate::util::free_port();
    let x = name("part");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &x,
        "-p",
        &format!("{port}:80"),
        IMG,
        "httpd",
        "-f",
        "-p",
        "80",
    ]);
    let id = env.inspect(&x, "{{.Id}}");
    // A network helper that fails every teardown.
    let broken = env.dir.join("broken-helper");
    std::fs::create_dir_all(&broken).unwrap();
    let helper = broken.join("peapod-netsetup");
    std::fs::write(
        &helper,
        "#!/bin/sh\necho '{\"error\":\"teardown refused by the test\"}'\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let helper_dir = broken.display().to_string();
    let failed = env
        .run(&[
            "--helper-binaries-dir",
            &helper_dir,
            "rm",
            "-f",
            "-t",
            "0",
            &x,
        ])
        .assert_error(125, &["network setup", &id, "teardown refused by the test"]);
    // What it could not release it keeps, and says so: the leases stay with the rules
    // that may still point at them.
    assert!(
        failed.stderr.contains("keeping the address lease"),
        "{failed:?}"
    );
    assert!(
        env.names_all().contains(&x),
        "the container stays for a retry"
    );
    assert!(!crate::leftovers::leases_of(&env, std::slice::from_ref(&id)).is_empty());
    // The retry with a working helper finishes: nothing of it is left.
    env.ok(&["rm", "-f", "-t", "0", &x]);
    assert!(!env.names_all().contains(&x));
    crate::leftovers::Watch {
        ids: vec![id],
        port,
        addr: None,
        veth: None,
    }
    .assert_gone(&env, "rm -f retried");
}

/// An attached `run --rm` tells the monitor's exit command that it removes the container
/// itself (the exit command waits for it instead of racing it for the lock). Killed
/// while its container runs, it removes nothing: the exit command, no longer waiting for a
/// live process, removes the container when it exits.
#[test]
fn a_killed_attached_run_rm_still_loses_its_container() {
    let env = TestEnv::new("killed-run-rm");
    env.import_busybox();
    let c = name("krm");
    let mut cli = env
        .peapod(&["run", "--rm", "--name", &c, IMG, "sleep", "2"])
        .command()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawning run --rm");
    wait_until("the container to run", Duration::from_secs(20), || {
        env.names_all().contains(&c) && env.status(&c) == "running"
    });
    cli.kill().expect("killing the attached run");
    let _ = cli.wait();
    wait_until(
        "the container of the killed run --rm to go",
        Duration::from_secs(20),
        || !env.names_all().contains(&c),
    );
    crate::util::assert_no_process_mentioning(&env.dir);
    env.assert_no_mounts();
    let left = exit_files(&env);
    assert!(left.is_empty(), "exit files left: {left:?}");
}
