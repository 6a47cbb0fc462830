//! Container commands and flags as Podman has them: create/start, run flags, ps filters and
//! formats, kill, restart, rm, wait, exists, prune, logs, stop signal/timeout, inspect,
//! the `container X` spellings, id prefixes, version and info.

use std::time::Duration;

use crate::util::{IMG, TestEnv, is_full_id, lines, name, wait_until};

/// Whole seconds since the epoch of an RFC 3339 time (`2024-05-07T10:00:00.123Z`,
/// `…+01:00`), rounded down.
fn unix_seconds(ts: &str) -> i64 {
    let num = |r: std::ops::Range<usize>| -> i64 {
        ts.get(r.clone())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad RFC 3339 time {ts:?} at {r:?}"))
    };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (hh, mm, ss) = (num(11..13), num(14..16), num(17..19));
    // Zone: Z or ±HH:MM after the optional fraction.
    let rest = ts[19..].trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest.as_bytes().first() {
        Some(b'Z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let h: i64 = rest[1..3].parse().expect("zone hours");
            let m: i64 = rest[4..6].parse().expect("zone minutes");
            let off = h * 3600 + m * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => panic!("no zone in RFC 3339 time {ts:?}"),
    };
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss - offset
}

#[test]
fn rfc3339_to_unix_seconds() {
    assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), 0);
    assert_eq!(
        unix_seconds("2024-05-07T10:00:00.123456789Z"),
        1_715_076_000
    );
    assert_eq!(unix_seconds("2024-05-07T11:00:00.5+01:00"), 1_715_076_000);
    assert_eq!(unix_seconds("2000-03-01T00:00:00-00:30"), 951_870_600);
}

fn wait_for_log(env: &TestEnv, ctr: &str, needle: &str) {
    wait_until(
        &format!("{needle:?} in the logs of {ctr}"),
        Duration::from_secs(15),
        || env.ok(&["logs", ctr]).contains(needle),
    );
}

#[test]
fn create_then_start_attach() {
    let env = TestEnv::new("ctr-create");
    env.import_busybox();
    let c = name("created");
    let id = env.ok(&["create", "--name", &c, IMG, "sh", "-c", "echo created-out"]);
    let id = id.trim();
    assert!(is_full_id(id), "create prints the id: {id:?}");
    assert_eq!(env.status(&c), "created");
    let ps = env.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        ps.lines().any(|l| l == format!("{c} Created")),
        "ps -a:\n{ps}"
    );
    assert!(
        env.ok(&["ps", "-q"]).trim().is_empty(),
        "created is not running"
    );

    assert_eq!(env.ok(&["start", "-a", &c]), "created-out\n");
    assert_eq!(env.status(&c), "exited");
    assert_eq!(env.inspect(&c, "{{.State.ExitCode}}"), "0");

    // A plain start runs it again, detached, printing the name.
    assert_eq!(env.ok(&["start", &c]).trim(), c);
    env.wait_status(&c, "exited", Duration::from_secs(10));
}

#[test]
fn start_attach_passes_exit_code() {
    let env = TestEnv::new("ctr-start-code");
    env.import_busybox();
    let c = name("code");
    env.ok(&["create", "--name", &c, IMG, "sh", "-c", "exit 4"]);
    env.run(&["start", "-a", &c]).assert_code(4);
}

#[test]
fn run_flags_env_workdir_user_hostname_entrypoint() {
    let env = TestEnv::new("ctr-runflags");
    env.import_busybox();
    let env_file = env.dir.join("env.list");
    std::fs::write(&env_file, "# a comment\nB=2\n\nC=three words\n").unwrap();
    let out = env.ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "--env-file",
        env_file.to_str().unwrap(),
        "-w",
        "/tmp",
        "-u",
        "nobody",
        "--hostname",
        "h-test",
        IMG,
        "sh",
        "-c",
        "echo \"$A $B $C\"; pwd; id -u; hostname",
    ]);
    assert_eq!(out, "1 2 three words\n/tmp\n65534\nh-test\n");

    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "--entrypoint",
            "/bin/echo",
            IMG,
            "via",
            "entrypoint"
        ]),
        "via entrypoint\n"
    );
    // -e overrides the env file, later wins.
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "--env-file",
            env_file.to_str().unwrap(),
            "-e",
            "B=override",
            IMG,
            "sh",
            "-c",
            "echo $B",
        ]),
        "override\n"
    );
    // -w naming a directory the image lacks: podman refuses it (126, "workdir … does not
    // exist"); it only creates a workdir that comes from the image's config.
    env.run(&["run", "--rm", "-w", "/new/dir", IMG, "pwd"])
        .assert_error(126, &["/new/dir"]);
    // …unless a mount makes it: the runtime creates the parents of a mount's destination
    // (Podman's suite: `-w /var/www -v FILE:/var/www/index.txt`).
    let host = env.dir.join("index.txt");
    std::fs::write(&host, "served\n").unwrap();
    let bind = format!("{}:/var/www/index.txt", host.display());
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "-w",
            "/var/www",
            "-v",
            &bind,
            IMG,
            "cat",
            "index.txt"
        ]),
        "served\n"
    );
    // -u uid:gid.
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "-u",
            "1234:5678",
            IMG,
            "sh",
            "-c",
            "id -u; id -g"
        ]),
        "1234\n5678\n"
    );
}

/// `--http-proxy` (on by default): the host's proxy variables reach the container, over
/// the image's (as Podman 4.3.1), below `--env-file` and `-e`; `--http-proxy=false` keeps
/// them out.
#[test]
fn http_proxy_variables_from_the_host() {
    let env = TestEnv::new("ctr-proxy");
    env.import_busybox();
    env.ok(&["create", "--name", "proxy-src", IMG, "true"]);
    env.ok(&[
        "commit",
        "-q",
        "--change",
        "ENV http_proxy=in-image",
        "proxy-src",
        "proxy-img",
    ]);
    let show = ["sh", "-c", "echo \"$http_proxy|$NO_PROXY\""];
    let run_image = |image: &str, extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.push(image);
        args.extend_from_slice(&show);
        env.peapod(&args)
            .env("http_proxy", "http://proxy.example:3128")
            .env("NO_PROXY", "localhost")
            .output()
    };
    let run = |extra: &[&str]| run_image(IMG, extra);
    assert_eq!(run(&[]).stdout, "http://proxy.example:3128|localhost\n");
    assert_eq!(
        run(&["--http-proxy"]).stdout,
        "http://proxy.example:3128|localhost\n"
    );
    assert_eq!(run(&["--http-proxy=false"]).stdout, "|\n");
    assert_eq!(
        run(&["-e", "http_proxy=mine"]).stdout,
        "mine|localhost\n",
        "-e wins over the host's"
    );
    assert_eq!(
        run_image("proxy-img", &[]).stdout,
        "http://proxy.example:3128|localhost\n",
        "the host's wins over the image's"
    );
    assert_eq!(
        run_image("proxy-img", &["--http-proxy=false"]).stdout,
        "in-image|\n"
    );
    let file = env.dir.join("proxy.env");
    std::fs::write(&file, "http_proxy=from-file\n").unwrap();
    let file_arg = format!("--env-file={}", file.display());
    assert_eq!(
        run_image("proxy-img", &[&file_arg]).stdout,
        "from-file|localhost\n",
        "an env file wins over the host's"
    );
}

/// Podman's default environment (PATH, container=podman, TERM=xterm), `--unsetenv NAME`
/// and `--unsetenv-all` (no default or image variable; `-e` still applies).
#[test]
fn default_environment_and_unsetenv() {
    let env = TestEnv::new("ctr-defenv");
    env.import_busybox();
    let vars = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        // No PATH with --unsetenv-all: the command by its path.
        args.extend_from_slice(&[IMG, "/bin/env"]);
        let mut v: Vec<String> = env.ok(&args).lines().map(String::from).collect();
        v.retain(|l| !l.starts_with("HOSTNAME=") && !l.starts_with("HOME="));
        v.sort();
        v
    };
    let path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    assert_eq!(vars(&[]), [path, "TERM=xterm", "container=podman"]);
    assert_eq!(vars(&["--unsetenv=TERM"]), [path, "container=podman"]);
    assert_eq!(vars(&["--unsetenv-all", "-e", "TERM=abc"]), ["TERM=abc"]);
}

/// `--tz`: the zone's file is the container's /etc/localtime (the last --tz wins); `local`
/// is the host's; a name outside /usr/share/zoneinfo is refused and nothing is created.
#[test]
fn tz_sets_the_container_localtime() {
    let env = TestEnv::new("ctr-tz");
    env.import_busybox();
    let date = ["date", "-d", "@1600000000"];
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.push(IMG);
        args.extend_from_slice(&date);
        env.ok(&args)
    };
    assert_eq!(run(&[]), "Sun Sep 13 12:26:40 UTC 2020\n");
    assert_eq!(
        run(&["--tz=US/Eastern", "--tz=MST7MDT"]),
        "Sun Sep 13 06:26:40 MDT 2020\n"
    );
    // The host's zone, whatever it is: the same instant as the host's date prints it.
    let host = std::process::Command::new("date")
        .args(["-d", "@1600000000", "+%H:%M %Z"])
        .output()
        .unwrap();
    let mut args = vec!["run", "--rm", "--tz=local", IMG];
    args.extend_from_slice(&["date", "-d", "@1600000000", "+%H:%M %Z"]);
    assert_eq!(env.ok(&args), String::from_utf8_lossy(&host.stdout));
    for bad in ["../../etc/passwd", "/etc/shadow", "No/Such_Zone"] {
        env.run(&["run", "--rm", &format!("--tz={bad}"), IMG, "true"])
            .assert_error(125, &[&format!("unknown time zone {bad}")]);
    }
    assert!(env.names_all().is_empty());
}

#[test]
fn labels_and_ps_filters() {
    let env = TestEnv::new("ctr-filters");
    env.import_busybox();
    let web = name("web");
    let db = name("db");
    let up = name("up");
    let web_id = env.ok(&["create", "--name", &web, "--label", "app=web", IMG, "true"]);
    let web_id = web_id.trim().to_owned();
    env.ok(&[
        "run",
        "--name",
        &db,
        "--label",
        "app=db",
        "--label",
        "tier=back",
        IMG,
        "true",
    ]);
    env.ok(&["run", "-d", "--name", &up, IMG, "sleep", "1000"]);

    assert_eq!(env.inspect(&web, "{{.Config.Labels.app}}"), "web");
    let f = |filter: &str| -> Vec<String> {
        let mut v = lines(&env.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]));
        v.sort();
        v
    };
    assert_eq!(f("label=app=web"), vec![web.clone()]);
    let mut both = vec![web.clone(), db.clone()];
    both.sort();
    assert_eq!(f("label=app"), both);
    assert_eq!(f("label=tier=back"), vec![db.clone()]);
    assert_eq!(f(&format!("name={web}")), vec![web.clone()]);
    assert_eq!(f("status=running"), vec![up.clone()]);
    assert_eq!(f("status=exited"), vec![db.clone()]);
    assert_eq!(f("status=created"), vec![web.clone()]);
    assert_eq!(f(&format!("id={}", &web_id[..12])), vec![web.clone()]);
    // Two filters on different keys: both must match.
    let both_filters = lines(&env.ok(&[
        "ps",
        "-a",
        "--filter",
        "label=app",
        "--filter",
        "status=exited",
        "--format",
        "{{.Names}}",
    ]));
    assert_eq!(both_filters, vec![db.clone()]);
    // Without -a only running containers.
    assert_eq!(
        lines(&env.ok(&["ps", "--filter", "label=app", "--format", "{{.Names}}"])),
        Vec::<String>::new()
    );
}

#[test]
fn ps_format_template_and_json() {
    let env = TestEnv::new("ctr-psformat");
    env.import_busybox();
    let c = name("fmt");
    let id = env.ok(&["run", "-d", "--name", &c, IMG, "sleep", "1000"]);
    let id = id.trim().to_owned();

    let out = env.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    let row = out.lines().find(|l| l.starts_with(&c)).unwrap_or_default();
    assert!(row.starts_with(&format!("{c} Up")), "{out}");

    let out = env.ok(&["ps", "--format", "{{.ID}}|{{.Image}}|{{.Command}}"]);
    assert_eq!(out.trim(), format!("{}|{IMG}:latest|sleep 1000", &id[..12]));

    let out = env.ok(&["ps", "--format", "table {{.Names}}\t{{.Status}}"]);
    let first: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(first, ["NAMES", "STATUS"], "{out}");

    let out = env.ok(&["ps", "-a", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("ps --format json is JSON");
    let list = v.as_array().expect("ps --format json prints an array");
    assert_eq!(list.len(), 1, "{out}");
    let e = &list[0];
    assert_eq!(e["Id"], id.as_str());
    assert_eq!(e["Names"][0], c.as_str());
    assert_eq!(e["State"], "running");
    assert_eq!(e["Image"], format!("{IMG}:latest").as_str());
    assert_eq!(e["Command"][0], "sleep");
    assert!(e["Pid"].as_i64().unwrap_or(0) > 0, "{e}");
}

#[test]
fn kill_with_signal() {
    let env = TestEnv::new("ctr-kill");
    env.import_busybox();
    let c = name("sig");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; echo ready; while true; do sleep 1; done",
    ]);
    wait_for_log(&env, &c, "ready");
    assert_eq!(env.ok(&["kill", "-s", "USR1", &c]).trim(), c);
    wait_for_log(&env, &c, "got-usr1");
    assert_eq!(
        env.status(&c),
        "running",
        "USR1 is trapped, the container keeps running"
    );

    // Default signal is SIGKILL.
    env.ok(&["kill", &c]);
    env.wait_status(&c, "exited", Duration::from_secs(10));
    assert_eq!(env.inspect(&c, "{{.State.ExitCode}}"), "137");
    // Killing a stopped container is an error.
    env.run(&["kill", &c]).assert_error(125, &[]);
}

#[test]
fn restart_runs_again() {
    let env = TestEnv::new("ctr-restart");
    env.import_busybox();
    let c = name("again");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "echo started; sleep 1000",
    ]);
    wait_for_log(&env, &c, "started");
    let pid1 = env.inspect(&c, "{{.State.Pid}}");
    assert_eq!(env.ok(&["restart", "-t", "1", &c]).trim(), c);
    assert_eq!(env.status(&c), "running");
    let pid2 = env.inspect(&c, "{{.State.Pid}}");
    assert_ne!(pid1, pid2, "restart should start a new process");
    wait_until("two `started` lines", Duration::from_secs(15), || {
        env.ok(&["logs", &c]) == "started\nstarted\n"
    });
    // Restarting an exited container starts it.
    env.ok(&["stop", "-t", "0", &c]);
    assert_eq!(env.status(&c), "exited");
    env.ok(&["restart", &c]);
    assert_eq!(env.status(&c), "running");
}

#[test]
fn rm_all_ignore_and_running() {
    let env = TestEnv::new("ctr-rm");
    env.import_busybox();
    let a = name("a");
    let b = name("b");
    let r = name("r");
    env.ok(&["create", "--name", &a, IMG, "true"]);
    env.ok(&["run", "--name", &b, IMG, "true"]);
    env.ok(&["run", "-d", "--name", &r, IMG, "sleep", "1000"]);

    // A running container is not removed without -f (podman: exit 2).
    env.run(&["rm", &r]).assert_error(2, &[]);
    assert!(env.names_all().contains(&r));

    env.run(&["rm", "--ignore", "missing-ctr"]).assert_code(0);

    let out = env.run(&["rm", "-a"]);
    // The running one is refused, the others go.
    assert_eq!(out.code(), 2, "{out:?}");
    assert_eq!(env.names_all(), vec![r.clone()]);

    env.ok(&["rm", "-a", "-f", "-t", "0"]);
    assert!(env.names_all().is_empty());
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn wait_prints_exit_code() {
    let env = TestEnv::new("ctr-wait");
    env.import_busybox();
    let c = name("w");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "sleep 1; exit 5",
    ]);
    let out = env.run(&["wait", &c]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "5\n");
    // Waiting on an exited container returns at once.
    assert_eq!(env.ok(&["container", "wait", &c]), "5\n");
}

#[test]
fn exists_and_prune() {
    let env = TestEnv::new("ctr-prune");
    env.import_busybox();
    let done = name("done");
    let up = name("up");
    let done_id = env.ok(&["run", "--name", &done, IMG, "true"]);
    let _ = done_id;
    env.ok(&["run", "-d", "--name", &up, IMG, "sleep", "1000"]);
    env.run(&["container", "exists", &done]).assert_code(0);
    env.run(&["container", "exists", &up]).assert_code(0);
    env.run(&["container", "exists", &name("never")])
        .assert_code(1);

    let done_full = env.inspect(&done, "{{.Id}}");
    let out = env.ok(&["container", "prune", "-f"]);
    assert!(
        out.contains(&done_full),
        "prune prints the removed ids: {out}"
    );
    env.run(&["container", "exists", &done]).assert_code(1);
    env.run(&["container", "exists", &up]).assert_code(0);
}

#[test]
fn logs_tail_timestamps_since() {
    let env = TestEnv::new("ctr-logs");
    env.import_busybox();
    let c = name("log");
    env.ok(&[
        "run",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "echo a; echo b; sleep 1.2; echo c",
    ]);
    assert_eq!(env.ok(&["logs", &c]), "a\nb\nc\n");
    assert_eq!(env.ok(&["logs", "--tail", "1", &c]), "c\n");
    assert_eq!(env.ok(&["logs", "--tail", "2", &c]), "b\nc\n");

    let stamped = env.ok(&["logs", "-t", &c]);
    let rows: Vec<(String, String)> = stamped
        .lines()
        .map(|l| {
            let (ts, msg) = l.split_once(' ').unwrap_or(("", l));
            (ts.to_owned(), msg.to_owned())
        })
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        ["a", "b", "c"],
        "{stamped}"
    );
    for (ts, _) in &rows {
        // RFC 3339 with nanoseconds, e.g. 2024-05-07T10:00:00.123456789Z or …+01:00.
        let b = ts.as_bytes();
        assert!(
            b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':',
            "not an RFC 3339 timestamp: {ts:?} in\n{stamped}"
        );
    }
    // --since is exclusive in podman (`LogLine.Since`: time after since), so pass a Unix
    // time strictly between `b` and `c` (they are 1.2 s apart): the second after b's.
    let b_secs = unix_seconds(&rows[1].0);
    let since = (b_secs + 1).to_string();
    assert_eq!(
        env.ok(&["logs", "--since", &since, &c]),
        "c\n",
        "--since {since}"
    );
}

#[test]
fn logs_follow_returns_when_container_exits() {
    let env = TestEnv::new("ctr-logs-f");
    env.import_busybox();
    let c = name("follow");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "echo one; sleep 2; echo two",
    ]);
    let out = env
        .peapod(&["logs", "-f", &c])
        .timeout(Duration::from_secs(30))
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "one\ntwo\n", "{out:?}");
    assert!(
        out.elapsed >= Duration::from_millis(500),
        "-f returned early:{out:?}"
    );
    assert_eq!(env.status(&c), "exited");
}

#[test]
fn stop_signal_and_stop_timeout() {
    let env = TestEnv::new("ctr-stopsig");
    env.import_busybox();
    let s = name("sig");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &s,
        "--stop-signal",
        "USR1",
        IMG,
        "sh",
        "-c",
        "trap 'echo stopping; exit 7' USR1; echo ready; while true; do sleep 1; done",
    ]);
    wait_for_log(&env, &s, "ready");
    let out = env.run(&["stop", &s]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.elapsed < Duration::from_secs(8),
        "stop used SIGKILL after the timeout:{out:?}"
    );
    assert_eq!(env.inspect(&s, "{{.State.ExitCode}}"), "7");
    assert!(env.ok(&["logs", &s]).contains("stopping"));

    // --stop-timeout 1: pid 1 ignores SIGTERM, so stop kills after about 1 s, not 10.
    let t = name("timeout");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &t,
        "--stop-timeout",
        "1",
        IMG,
        "sleep",
        "1000",
    ]);
    assert_eq!(env.inspect(&t, "{{.Config.StopTimeout}}"), "1");
    let out = env.run(&["stop", &t]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.elapsed >= Duration::from_millis(700) && out.elapsed < Duration::from_secs(6),
        "stop should take about 1 s:{out:?}"
    );
    assert_eq!(env.inspect(&t, "{{.State.ExitCode}}"), "137");
}

#[test]
fn inspect_has_podman_field_names() {
    let env = TestEnv::new("ctr-inspect");
    let image_id = env.import_busybox();
    let c = name("insp");
    let id = env.ok(&["run", "-d", "--name", &c, IMG, "sleep", "1000"]);
    let id = id.trim().to_owned();
    let out = env.ok(&["inspect", &c]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect prints JSON");
    let list = v.as_array().expect("inspect prints an array");
    assert_eq!(list.len(), 1);
    let i = &list[0];
    for key in [
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "ImageName",
        "Name",
        "Mounts",
        "Config",
        "HostConfig",
        "NetworkSettings",
    ] {
        assert!(i.get(key).is_some(), "inspect lacks {key}:\n{out}");
    }
    for key in [
        "Status",
        "Running",
        "Paused",
        "Pid",
        "ExitCode",
        "StartedAt",
        "FinishedAt",
    ] {
        assert!(
            i["State"].get(key).is_some(),
            "inspect lacks State.{key}:\n{out}"
        );
    }
    assert_eq!(i["Id"], id.as_str());
    assert_eq!(i["Name"], c.as_str());
    assert_eq!(i["Path"], "sleep");
    assert_eq!(i["Args"], serde_json::json!(["1000"]));
    assert_eq!(i["Image"], image_id.as_str());
    assert_eq!(i["ImageName"], format!("{IMG}:latest").as_str());
    assert_eq!(i["State"]["Status"], "running");
    assert_eq!(i["State"]["Running"], true);
    assert_eq!(i["State"]["Paused"], false);
    assert!(i["State"]["Pid"].as_i64().unwrap_or(0) > 0);
    assert!(i["Mounts"].is_array());
    assert_eq!(i["Config"]["Cmd"], serde_json::json!(["sleep", "1000"]));

    // Go-template access and `container inspect` spelling agree.
    assert_eq!(
        env.ok(&["container", "inspect", "--format", "{{.Name}}", &c])
            .trim(),
        c
    );
    // A unique id prefix resolves.
    assert_eq!(env.inspect(&id[..12], "{{.Id}}"), id);
    // Several at once: one element each.
    let two = env.ok(&["inspect", &c, &id]);
    let v: serde_json::Value = serde_json::from_str(&two).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2));
}

#[test]
fn container_subcommand_spellings() {
    let env = TestEnv::new("ctr-spellings");
    env.import_busybox();
    let c = name("sp");
    let id = env.ok(&[
        "container",
        "run",
        "-d",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "echo hi; sleep 1000",
    ]);
    let id = id.trim().to_owned();
    for list in [
        &["container", "ps"][..],
        &["container", "ls"],
        &["container", "list"],
    ] {
        let mut args = list.to_vec();
        args.extend(["-q", "--no-trunc"]);
        assert_eq!(lines(&env.ok(&args)), vec![id.clone()], "{list:?}");
    }
    wait_for_log(&env, &c, "hi");
    assert_eq!(env.ok(&["container", "logs", &c]), "hi\n");
    env.ok(&["container", "stop", "-t", "0", &id[..12]]);
    assert_eq!(env.status(&c), "exited");
    env.ok(&["container", "start", &c]);
    env.ok(&["container", "kill", &c]);
    env.wait_status(&c, "exited", Duration::from_secs(10));
    env.ok(&["container", "rm", &c]);
    env.run(&["container", "exists", &c]).assert_code(1);
}

#[test]
fn version_and_info() {
    let env = TestEnv::new("ctr-version");
    let out = env.ok(&["version"]);
    assert!(out.contains("Version:"), "{out}");
    let v = env.ok(&["version", "--format", "{{.Client.Version}}"]);
    let v = v.trim();
    assert!(
        v.split('.').count() >= 2 && v.split('.').all(|p| !p.is_empty()),
        "version --format: {v:?}"
    );
    let info = env.ok(&["info"]);
    for key in ["host:", "store:", "version:"] {
        assert!(info.contains(key), "info lacks {key}:\n{info}");
    }
    assert_eq!(
        env.ok(&["info", "--format", "{{.Store.GraphRoot}}"]).trim(),
        env.root.to_str().unwrap()
    );
    assert_eq!(
        env.ok(&["info", "--format", "{{.Store.RunRoot}}"]).trim(),
        env.runroot.to_str().unwrap()
    );
}
