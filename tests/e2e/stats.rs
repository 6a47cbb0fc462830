//! `stats` and `pod stats`: Podman 4.3's columns and JSON (measured here:
//! `../shared/reference/systemd-events-health.md`), figures from the real cgroup (v1 on
//! this machine, v2 elsewhere), streaming rounds, and the end of the stream when the
//! container stops.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{IMG, TestEnv, lines, name, wait_until};

const HEADER: [&str; 10] = [
    "ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET IO",
    "BLOCK IO",
    "PIDS",
    "CPU TIME",
    "AVG CPU %",
];

/// A container that burns CPU, so its figures are not zeros.
fn busy(env: &TestEnv, n: &str) -> String {
    env.ok(&[
        "run",
        "-d",
        "--name",
        n,
        IMG,
        "sh",
        "-c",
        "while :; do :; done",
    ])
    .trim()
    .to_string()
}

#[test]
fn no_stream_prints_podmans_table_and_json() {
    let env = TestEnv::new("stats-once");
    env.import_busybox();
    let web = name("web");
    let id = busy(&env, &web);
    std::thread::sleep(Duration::from_millis(500));
    let out = env.ok(&["stats", "--no-stream", &web]);
    let rows = lines(&out);
    assert_eq!(rows.len(), 2, "{out}");
    let mut at = 0;
    for h in HEADER {
        let i = rows[0][at..]
            .find(h)
            .unwrap_or_else(|| panic!("{h} in {}", rows[0]));
        at += i + h.len();
    }
    assert!(
        rows[1].starts_with(&id[..12]) && rows[1].contains(&web),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["stats", "--no-stream", "--format", "json", &web])).unwrap();
    let s = &json[0];
    for k in [
        "id",
        "name",
        "cpu_time",
        "cpu_percent",
        "avg_cpu",
        "mem_usage",
        "mem_percent",
        "net_io",
        "block_io",
        "pids",
    ] {
        assert!(s[k].is_string(), "{k} in {json}");
    }
    assert_eq!(s["name"], web.as_str());
    assert_eq!(s["pids"], "1");
    let cpu = |json: &serde_json::Value| -> f64 {
        json[0]["cpu_percent"]
            .as_str()
            .unwrap()
            .trim_end_matches('%')
            .parse()
            .unwrap()
    };
    assert!(cpu(&json) > 0.0, "a busy loop uses CPU: {json}");
    // Over half a core (the check), as soon as the machine gives it that much: a
    // loaded CI machine may share the first second with other tests.
    wait_until(
        "a busy loop above 50 % CPU",
        Duration::from_secs(20),
        || {
            let j: serde_json::Value =
                serde_json::from_str(&env.ok(&["stats", "--no-stream", "--format", "json", &web]))
                    .unwrap();
            cpu(&j) > 50.0
        },
    );
    let used = s["mem_usage"].as_str().unwrap();
    assert!(used.contains(" / ") && !used.starts_with("0B"), "{json}");
    let t = env.ok(&[
        "stats",
        "--no-stream",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.PIDS}} {{.UpTime}}",
        &web,
    ]);
    let f: Vec<&str> = t.split_whitespace().collect();
    assert_eq!(f[0], id);
    assert_eq!(f[1], "1");
    assert!(
        f[2].ends_with("ms") || f[2].ends_with('s'),
        "a Go duration: {t}"
    );
    // -a shows a stopped container with zeros; -a with names is refused as Podman's.
    let idle = name("idle");
    env.ok(&["create", "--name", &idle, IMG, "true"]);
    let all = env.ok(&[
        "stats",
        "--no-stream",
        "-a",
        "--format",
        "{{.Name}} {{.CPUPerc}}",
    ]);
    assert!(lines(&all).contains(&format!("{idle} 0.00%")), "{all}");
    env.run(&["stats", "--no-stream", "-a", &web]).assert_error(
        125,
        &["--all, --latest and containers cannot be used together"],
    );
    env.run(&["stats", "--no-stream", "nosuch"])
        .assert_error(125, &["nosuch"]);
    env.ok(&["rm", "-af", "-t", "0"]);
}

/// Reads what a streaming `stats` prints for `for_at_most`, then kills it; its output and
/// whether it ended on its own.
fn stream(
    env: &TestEnv,
    args: &[&str],
    for_at_most: Duration,
    during: impl FnOnce(),
) -> (String, bool) {
    let mut cmd = Command::new(&env.peapod);
    cmd.arg("--root")
        .arg(&env.root)
        .arg("--runroot")
        .arg(&env.runroot)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    during();
    let start = Instant::now();
    let mut ended = false;
    while start.elapsed() < for_at_most {
        if child.try_wait().unwrap().is_some() {
            ended = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !ended {
        let _ = child.kill();
    }
    let _ = child.wait();
    (reader.join().unwrap(), ended)
}

#[test]
fn streaming_refreshes_and_ends_when_the_container_stops() {
    let env = TestEnv::new("stats-stream");
    env.import_busybox();
    let web = name("web");
    busy(&env, &web);
    let (out, ended) = stream(
        &env,
        &["stats", "--interval", "1", &web],
        Duration::from_millis(2600),
        || {},
    );
    assert!(!ended, "streams on while the container runs:\n{out}");
    let rounds = out.lines().filter(|l| l.contains(&web)).count();
    assert!(rounds >= 2, "two refreshes in 2.6 s:\n{out}");
    assert!(
        out.contains("\x1b[2J"),
        "the screen is cleared between rounds"
    );
    let (out, _) = stream(
        &env,
        &["stats", "--interval", "1", "--no-reset", &web],
        Duration::from_millis(1500),
        || {},
    );
    assert!(!out.contains("\x1b[2J"), "--no-reset:\n{out}");
    let (_, ended) = stream(
        &env,
        &["stats", "--interval", "1", &web],
        Duration::from_secs(8),
        || {
            env.ok(&["stop", "-t", "0", &web]);
        },
    );
    assert!(ended, "stats of a stopped container ends");
    env.ok(&["rm", "-af", "-t", "0"]);
}

#[test]
fn pod_stats_streams_with_net_and_block_columns() {
    let env = TestEnv::new("stats-pod");
    env.import_busybox();
    let pod = name("pod");
    env.ok(&["pod", "create", "--name", &pod]);
    let member = name("member");
    // Some traffic on the pod's eth0: two pings to its gateway.
    env.ok(&[
        "run",
        "-d",
        "--pod",
        &pod,
        "--name",
        &member,
        IMG,
        "sh",
        "-c",
        "ping -c 2 -W 1 $(ip route | awk '/default/ {print $3}'); sleep 1000",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    let once = env.ok(&[
        "pod",
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.NetIO}}",
        &pod,
    ]);
    let row = lines(&once)
        .into_iter()
        .find(|l| l.starts_with(&format!("{member}|")))
        .unwrap_or_else(|| panic!("{once}"))
        .to_string();
    let (tx, rx) = row.split_once('|').unwrap().1.split_once(" / ").unwrap();
    assert!(
        tx.ends_with('B') && rx.ends_with('B') && tx != "0B",
        "eth0's bytes: {row}"
    );
    let (out, ended) = stream(
        &env,
        &["pod", "stats", &pod],
        Duration::from_millis(2500),
        || {},
    );
    assert!(!ended);
    assert!(
        out.lines().filter(|l| l.contains(&member)).count() >= 2,
        "{out}"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
}
