//! The basic detached lifecycle: `run -d`, `ps`, `logs`, `stop`, `rm`.

use std::time::Duration;

use crate::util::{IMG, TestEnv, is_full_id, name};

#[test]
fn detached_run_ps_logs_stop_rm() {
    let env = TestEnv::new("lifecycle");
    env.import_busybox();
    let x = name("x");
    let out = env.ok(&[
        "run",
        "-d",
        "--name",
        &x,
        IMG,
        "sh",
        "-c",
        "echo up; sleep 1000",
    ]);
    let id = out.trim().to_owned();
    assert!(
        is_full_id(&id),
        "run -d should print a 64-hex id, printed {out:?}"
    );

    // ps: listed, Up.
    let ps = env.ok(&["ps", "--format", "{{.ID}} {{.Names}} {{.Status}}"]);
    let row = ps
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(x.as_str()))
        .unwrap_or_else(|| panic!("{x} not in ps:\n{ps}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[0], &id[..12], "ps shows the 12-char id: {row}");
    assert_eq!(cols[2], "Up", "status starts with Up: {row}");
    // The default table too.
    let table = env.ok(&["ps"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER",
            "ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ],
        "ps header:\n{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&id[..12]) && l.contains(&x) && l.contains(IMG)),
        "ps table row for {x}:\n{table}"
    );
    assert_eq!(env.status(&x), "running");
    assert_eq!(env.inspect(&x, "{{.State.Running}}"), "true");

    // logs.
    crate::util::wait_until("`up` in logs", Duration::from_secs(10), || {
        env.ok(&["logs", &x]) == "up\n"
    });

    // stop -t 2: sh as pid 1 ignores SIGTERM, so it is killed after 2 s.
    let out = env.run(&["stop", "-t", "2", &x]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.trim(), x, "stop echoes its argument");
    assert!(
        out.elapsed >= Duration::from_millis(1500) && out.elapsed < Duration::from_secs(15),
        "stop -t 2 should take about 2 s:{out:?}"
    );
    let ps_a = env.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    let row = ps_a
        .lines()
        .find(|l| l.split_whitespace().next() == Some(x.as_str()))
        .unwrap_or_else(|| panic!("{x} not in ps -a:\n{ps_a}"));
    assert!(row.contains("Exited (137)"), "ps -a after stop: {row}");
    // Not in plain ps any more.
    assert!(!env.ok(&["ps", "--format", "{{.Names}}"]).contains(&x));
    assert_eq!(env.status(&x), "exited");
    assert_eq!(env.inspect(&x, "{{.State.ExitCode}}"), "137");

    // rm: gone, nothing mounted, no monitor.
    assert_eq!(env.ok(&["rm", &x]).trim(), x);
    assert!(!env.names_all().contains(&x), "{x} still in ps -a");
    env.assert_no_mounts();
    env.assert_no_processes();
}
