//! `events`: the log in Podman's file format, its filters and time bounds, streaming, the
//! `none` logger and rotation. Formats were checked against Podman 4.3.1 on this host
//! (`../shared/reference/systemd-events-health.md`).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::util::{IMG, TestEnv, lines, name};

/// `events --stream=false ARGS…`, one line each.
fn events(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["events", "--stream=false"];
    argv.extend_from_slice(args);
    lines(&env.ok(&argv))
}

fn json_events(env: &TestEnv, args: &[&str]) -> Vec<serde_json::Value> {
    let mut argv = vec!["--format", "json"];
    argv.extend_from_slice(args);
    events(env, &argv)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The `Status` of each event about container `id`, in order.
fn statuses_of(all: &[serde_json::Value], id: &str) -> Vec<String> {
    all.iter()
        .filter(|e| e["ID"] == id && e["Type"] == "container")
        .map(|e| e["Status"].as_str().unwrap().to_string())
        .collect()
}

/// `a` holds `want` in order (other entries between them allowed).
fn in_order(a: &[String], want: &[&str]) -> bool {
    let mut it = a.iter();
    want.iter().all(|w| it.any(|s| s == w))
}

#[test]
fn lifecycle_events_in_order_as_podman_writes_them() {
    let env = TestEnv::new("events_lifecycle");
    env.import_busybox();
    let ctr = name("ev");
    let id = env
        .ok(&[
            "run", "-d", "--name", &ctr, "--label", "tier=web", IMG, "sleep", "1000",
        ])
        .trim()
        .to_string();
    env.ok(&["stop", "-t", "0", &ctr]);
    env.ok(&["rm", &ctr]);
    let all = json_events(&env, &["--since", "1m"]);
    let st = statuses_of(&all, &id);
    assert!(
        in_order(&st, &["create", "init", "start", "died", "stop", "remove"]),
        "{st:?}"
    );
    assert_eq!(st.iter().filter(|s| *s == "died").count(), 1, "{st:?}");
    let died = all
        .iter()
        .find(|e| e["ID"] == id.as_str() && e["Status"] == "died")
        .unwrap();
    assert_eq!(died["ContainerExitCode"], 137, "{died}");
    assert_eq!(died["Name"], ctr.as_str());
    assert_eq!(died["Image"], "localhost/busybox:latest");
    assert_eq!(died["Attributes"]["tier"], "web");
    // The file is Podman's: JSON lines under the runroot, read back the same.
    let log = std::fs::read_to_string(env.runroot.join("events/events.log")).unwrap();
    assert!(log.lines().count() >= all.len());
    assert!(log.contains(&format!("\"ID\":\"{id}\"")));
    // Podman's text line.
    let text = events(
        &env,
        &[
            "--filter",
            &format!("container={ctr}"),
            "--filter",
            "event=start",
        ],
    );
    assert_eq!(text.len(), 1, "{text:?}");
    let (time, rest) = text[0].split_at(text[0].find(" UTC ").expect("a Go time") + 5);
    assert!(
        time.len() >= 30 && time.ends_with(" +0000 UTC ") && time.as_bytes()[4] == b'-',
        "{time}"
    );
    assert_eq!(
        rest,
        format!("container start {id} (image=localhost/busybox:latest, name={ctr}, tier=web)")
    );
}

#[test]
fn filters_templates_and_truncation() {
    let env = TestEnv::new("events_filters");
    env.import_busybox();
    let (foo, bar, other) = (name("foo"), name("bar"), name("oth"));
    for c in [&foo, &bar, &other] {
        env.ok(&[
            "run",
            "--rm",
            "--name",
            c,
            "--label",
            &format!("who={c}"),
            IMG,
            "true",
        ]);
    }
    // Same key ORed, different keys ANDed.
    let two = events(
        &env,
        &[
            "--filter",
            &format!("container={foo}"),
            "--filter",
            &format!("container={bar}"),
            "--filter",
            "event=start",
        ],
    );
    assert_eq!(two.len(), 2, "{two:?}");
    assert!(two[0].contains(&format!("name={foo}")) && two[1].contains(&format!("name={bar}")));
    let by_label = events(
        &env,
        &[
            "--filter",
            &format!("label=who={bar}"),
            "--filter",
            "event=died",
        ],
    );
    assert_eq!(by_label.len(), 1, "{by_label:?}");
    // Templates see Podman's fields; --no-trunc=false shortens the text line's id only.
    let id = env
        .ok(&[
            "events",
            "--stream=false",
            "--filter",
            &format!("container={other}"),
            "--filter",
            "event=died",
            "--format",
            "{{.ID}}|{{.Image}}|{{.ContainerExitCode}}|{{.Attributes.who}}",
        ])
        .trim()
        .to_string();
    let full = id.split('|').next().unwrap().to_string();
    assert_eq!(full.len(), 64, "{id}");
    assert_eq!(id, format!("{full}|localhost/busybox:latest|0|{other}"));
    let short = events(
        &env,
        &[
            "--filter",
            &format!("container={other}"),
            "--filter",
            "event=start",
            "--no-trunc=false",
        ],
    );
    assert!(
        short[0].contains(&format!(" {} (image=", &full[..12])),
        "{short:?}"
    );
    // Type filter: images only.
    env.ok(&["tag", IMG, "localhost/other:1"]);
    let images = events(
        &env,
        &[
            "--filter",
            "type=image",
            "--format",
            "{{.Status}} {{.Name}}",
        ],
    );
    assert!(
        images.iter().any(|l| l == "tag localhost/other:1"),
        "{images:?}"
    );
    assert!(images.iter().all(|l| !l.starts_with("start")));
    // Bad input: Podman's exit code, the value named.
    env.run(&["events", "--stream=false", "--filter", "colour=red"])
        .assert_error(125, &["colour is an invalid filter"]);
    env.run(&["events", "--stream=false", "--since", "yesterday"])
        .assert_error(125, &["yesterday"]);
}

#[test]
fn since_and_until_bound_the_list() {
    let env = TestEnv::new("events_since");
    env.import_busybox();
    let first = name("first");
    env.ok(&["create", "--name", &first, IMG, "true"]);
    std::thread::sleep(Duration::from_millis(1100));
    let cut = chrono_now_rfc3339();
    std::thread::sleep(Duration::from_millis(100));
    let second = name("second");
    env.ok(&["create", "--name", &second, IMG, "true"]);
    let fmt = ["--filter", "event=create", "--format", "{{.Name}}"];
    let mut args = vec!["--since", cut.as_str()];
    args.extend(fmt);
    assert_eq!(events(&env, &args), vec![second.clone()]);
    let mut args = vec!["--until", cut.as_str()];
    args.extend(fmt);
    assert_eq!(events(&env, &args), vec![first.clone()]);
    // Durations and unix seconds, as Podman reads them.
    let mut args = vec!["--since", "1m"];
    args.extend(fmt);
    assert_eq!(events(&env, &args), vec![first.clone(), second.clone()]);
    let mut args = vec!["--until", "1"];
    args.extend(fmt);
    assert!(events(&env, &args).is_empty());
}

/// The current time as RFC 3339 via `date` (the tests do not depend on chrono).
fn chrono_now_rfc3339() -> String {
    let out = std::process::Command::new("date")
        .arg("--iso-8601=ns")
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .replace(',', ".")
}

#[test]
fn stream_prints_died_within_a_second_and_ctrl_c_exits_0() {
    let env = TestEnv::new("events_stream");
    env.import_busybox();
    let ctr = name("victim");
    env.ok(&["run", "-d", "--name", &ctr, IMG, "sleep", "1000"]);
    let since = chrono_now_rfc3339();
    let mut child = env
        .peapod(&[
            "events",
            "--since",
            &since,
            "--filter",
            "event=died",
            "--filter",
            &format!("container={ctr}"),
        ])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send((Instant::now(), line));
        }
    });
    // Let the stream open the log first.
    std::thread::sleep(Duration::from_millis(300));
    let killed = Instant::now();
    env.ok(&["kill", &ctr]);
    let got = rx.recv_timeout(Duration::from_secs(5));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    let status = child.wait().unwrap();
    let (at, line) = got.expect("no died event on the stream within 5 s");
    assert!(
        line.contains("container died ") && line.contains(&ctr),
        "{line}"
    );
    let delay = at.duration_since(killed);
    assert!(delay < Duration::from_secs(1), "died shown after {delay:?}");
    assert_eq!(status.code(), Some(0), "Ctrl-C ends the stream with 0");
}

#[test]
fn logger_none_writes_nothing_and_refuses_to_read() {
    let env = TestEnv::new("events_none");
    env.import_busybox();
    let conf = env.dir.join("containers.conf");
    let log = env.dir.join("ev.log");
    std::fs::write(
        &conf,
        format!(
            "[engine]\nevents_logger = \"none\"\nevents_logfile_path = \"{}\"\n",
            log.display()
        ),
    )
    .unwrap();
    let c = name("quiet");
    env.peapod(&["run", "--rm", "--name", &c, IMG, "true"])
        .env("CONTAINERS_CONF", &conf)
        .output()
        .success();
    assert!(
        std::fs::read_to_string(&log).unwrap_or_default().is_empty(),
        "the none logger wrote"
    );
    env.peapod(&["events", "--stream=false"])
        .env("CONTAINERS_CONF", &conf)
        .output()
        .assert_error(125, &["cannot read events with the \"none\" backend"]);
    env.run(&["--events-backend", "none", "events"])
        .assert_error(125, &["cannot read events with the \"none\" backend"]);
    // The flag wins over the file: `file` writes again.
    env.peapod(&["--events-backend", "file", "tag", IMG, "localhost/x:1"])
        .env("CONTAINERS_CONF", &conf)
        .output()
        .success();
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("\"Status\":\"tag\"")
    );
}

#[test]
fn rotation_at_the_bound_keeps_the_newest() {
    let env = TestEnv::new("events_rotate");
    env.import_busybox();
    let conf = env.dir.join("containers.conf");
    let log = env.dir.join("events").join("bounded.log");
    std::fs::write(
        &conf,
        format!(
            "[engine]\nevents_logfile_path = \"{}\"\nevents_logfile_max_size = \"3k\"\n",
            log.display()
        ),
    )
    .unwrap();
    let tagged = |n: usize| {
        env.peapod(&["tag", IMG, &format!("localhost/flood:{n}")])
            .env("CONTAINERS_CONF", &conf)
            .output()
            .success();
    };
    for n in 0..60 {
        tagged(n);
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.len() < 3000 + 300, "{} bytes", text.len());
    let last = text.lines().last().unwrap();
    assert!(last.contains("localhost/flood:59"), "newest lost: {last}");
    assert!(text.contains("\"Status\":\"log-rotation\""), "{text}");
    assert!(!text.contains("localhost/flood:0\""), "the oldest stayed");
    let read = lines(
        &env.peapod(&[
            "events",
            "--stream=false",
            "--format",
            "{{.Status}} {{.Name}}",
        ])
        .env("CONTAINERS_CONF", &conf)
        .output()
        .success(),
    );
    assert_eq!(read.last().unwrap(), "tag localhost/flood:59");
    assert!(
        read.iter()
            .any(|l| l == &format!("log-rotation {}", log.display())),
        "{read:?}"
    );
}
