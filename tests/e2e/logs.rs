//! Log rotation through `--log-opt max-size`/`max-file`: nothing inside the kept files is
//! lost, and `logs` reads across the rotated files in order.

use std::path::PathBuf;
use std::time::Duration;

use crate::util::{IMG, TestEnv, name};

#[test]
fn rotated_logs_are_read_in_order() {
    let env = TestEnv::new("logrotate");
    env.import_busybox();
    let c = name("rot");
    // 100 records of ~55 bytes: about three rotations at 2 kB, all kept with max-file=5.
    env.ok(&[
        "run",
        "--name",
        &c,
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=5",
        IMG,
        "sh",
        "-c",
        "i=0; while [ $i -lt 100 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    let path = PathBuf::from(env.inspect(&c, "{{.HostConfig.LogConfig.Path}}"));
    let rotated = path.with_file_name(format!("{}.1", path.file_name().unwrap().to_str().unwrap()));
    assert!(
        rotated.exists(),
        "expected {} after rotation",
        rotated.display()
    );
    for f in std::iter::once(path.clone())
        .chain((1..=5).map(|n| path.with_extension(format!("log.{n}"))))
    {
        if let Ok(m) = std::fs::metadata(&f) {
            assert!(
                m.len() <= 2000,
                "{} is {} bytes, over max-size",
                f.display(),
                m.len()
            );
        }
    }
    let out = env.ok(&["logs", &c]);
    let expected: Vec<String> = (0..100).map(|i| format!("line-{i}")).collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
    let tail = env.ok(&["logs", "--tail", "2", &c]);
    assert_eq!(tail.lines().collect::<Vec<_>>(), ["line-98", "line-99"]);
    env.ok(&["rm", &c]);
    env.assert_no_mounts();
}

/// The check: 100k lines through 1 MB rotation; a `logs -f` started before the
/// output sees every line exactly once, in order, across the rotations.
#[test]
fn follow_sees_every_line_once_across_rotations() {
    let env = TestEnv::new("logfollow");
    env.import_busybox();
    let c = name("flood");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "--log-opt",
        "max-size=1mb",
        "--log-opt",
        "max-file=10",
        IMG,
        "sh",
        "-c",
        // Wait for the follower, then print as fast as sh can.
        "sleep 2; i=0; while [ $i -lt 100000 ]; do echo line-$i; i=$((i+1)); done",
    ]);
    let out = env
        .peapod(&["logs", "-f", &c])
        .timeout(Duration::from_secs(240))
        .output()
        .success();
    let mut n = 0usize;
    for l in out.lines() {
        assert_eq!(
            l,
            format!("line-{n}"),
            "logs -f: line {n} out of order, missing or repeated"
        );
        n += 1;
    }
    assert_eq!(n, 100_000, "logs -f saw {n} lines");
    // It rotated: the rotated files are there, each within max-size.
    let path = PathBuf::from(env.inspect(&c, "{{.HostConfig.LogConfig.Path}}"));
    let mut rotated = 0;
    for k in 1..=10 {
        let f = PathBuf::from(format!("{}.{k}", path.display()));
        if let Ok(m) = std::fs::metadata(&f) {
            rotated += 1;
            assert!(m.len() <= 1_000_000, "{} is {} bytes", f.display(), m.len());
        }
    }
    assert!(rotated >= 3, "expected several rotations, found {rotated}");
    // And a plain `logs` reads the same 100k lines back from the rotated files.
    let all = env.ok(&["logs", &c]);
    assert_eq!(all.lines().count(), 100_000);
    assert_eq!(all.lines().next(), Some("line-0"));
    assert_eq!(all.lines().last(), Some("line-99999"));
    env.ok(&["rm", &c]);
}

#[test]
fn several_containers_names_and_follow() {
    let env = TestEnv::new("lognames");
    env.import_busybox();
    let a = name("la");
    let b = name("lb");
    for (n, word) in [(&a, "alpha"), (&b, "beta")] {
        env.ok(&[
            "run",
            "-d",
            "--name",
            n,
            IMG,
            "sh",
            "-c",
            &format!("sleep 1; echo {word}-1; sleep 1; echo {word}-2"),
        ]);
    }
    // Both followed at once (Podman interleaves them), each line prefixed by its name.
    let out = env
        .peapod(&["logs", "-f", "--names", &a, &b])
        .timeout(Duration::from_secs(30))
        .output()
        .success();
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    let mut want = vec![
        format!("{a} alpha-1"),
        format!("{a} alpha-2"),
        format!("{b} beta-1"),
        format!("{b} beta-2"),
    ];
    want.sort();
    assert_eq!(got, want);
    // Without --names the prefix is the short id; one container gets no prefix.
    let id_a = env.inspect(&a, "{{.Id}}");
    let out = env.ok(&["logs", &a, &b]);
    assert!(
        out.lines()
            .next()
            .unwrap()
            .starts_with(&format!("{} ", &id_a[..12])),
        "{out}"
    );
    assert_eq!(env.ok(&["logs", "--names", &a]), "alpha-1\nalpha-2\n");
    env.ok(&["rm", &a, &b]);
}

#[test]
fn log_drivers_none_and_passthrough() {
    let env = TestEnv::new("logdrv");
    env.import_busybox();
    let c = name("none");
    // none: the attached run still shows the output; nothing is kept.
    let out = env.ok(&[
        "run",
        "--name",
        &c,
        "--log-driver",
        "none",
        IMG,
        "echo",
        "shown",
    ]);
    assert_eq!(out, "shown\n");
    assert_eq!(env.inspect(&c, "{{.HostConfig.LogConfig.Type}}"), "none");
    env.run(&["logs", &c])
        .assert_error(125, &["'none' log driver", "not logging output"]);
    // passthrough: the container writes to our own stdout and stderr.
    let out = env.run(&[
        "run",
        "--rm",
        "--log-driver",
        "passthrough",
        IMG,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 2",
    ]);
    assert_eq!(out.code(), 2);
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("out\n", "err\n")
    );
    env.run(&["run", "--log-driver", "bogus", IMG, "true"])
        .assert_error(125, &["bogus"]);
    env.ok(&["rm", &c]);
    assert_eq!(env.names_all(), Vec::<String>::new());
}
