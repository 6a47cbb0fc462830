//! Log rotation through `--log-opt max-size`/`max-file`: nothing inside the kept files is
//! lost, and `logs` reads across the rotated files in order.

use std::path::PathBuf;

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
                m.len() <= 2048,
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
