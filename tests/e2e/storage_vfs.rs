//! `--storage-driver` (and storage.conf's `driver`, `$CONTAINERS_STORAGE_CONF`) as Podman
//! has them: a store's driver is fixed when it is first used; `vfs` runs containers on a
//! full copy of their image's layers, with no mount, that `rm` removes.

use super::util::{IMG, TestEnv, lines, name};

/// A storage.conf in the env's dir with `driver = DRIVER`.
fn storage_conf(env: &TestEnv, driver: &str) -> std::path::PathBuf {
    let path = env.dir.join(format!("storage-{driver}.conf"));
    std::fs::write(
        &path,
        format!("[storage]\ndriver = \"{driver}\"\ngraphroot = \"/nonexistent\"\n"),
    )
    .unwrap();
    path
}

#[test]
fn vfs_store_runs_diffs_commits_and_removes_copies() {
    let env = TestEnv::new("vfs-run");
    // A new store takes the driver asked for; later calls need not repeat it.
    assert_eq!(
        env.ok(&[
            "--storage-driver",
            "vfs",
            "info",
            "--format",
            "{{.Store.GraphDriverName}}"
        ]),
        "vfs\n"
    );
    env.import_busybox();
    assert_eq!(
        env.ok(&["info", "--format", "{{.Store.GraphDriverName}}"]),
        "vfs\n"
    );
    let images = env.ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(lines(&images), vec![IMG.to_string()]);

    // A running container: its rootfs is a copy, nothing is mounted on the host.
    let live = name("vfs-live");
    env.ok(&["run", "-d", "--name", &live, IMG, "sleep", "60"]);
    env.wait_status(&live, "running", std::time::Duration::from_secs(10));
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let under_root: Vec<&str> = mounts
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|m| m.starts_with(env.root.to_str().unwrap()))
        })
        .collect();
    assert!(
        under_root.is_empty(),
        "mounts in a vfs store: {under_root:?}"
    );
    assert_eq!(env.inspect(&live, "{{.GraphDriver.Name}}"), "vfs");
    let id = env.inspect(&live, "{{.Id}}");
    let copy = env.root.join("containers").join(&id).join("merged");
    assert!(
        copy.join("bin/busybox").is_file(),
        "no copy at {}",
        copy.display()
    );
    env.ok(&["rm", "-f", "-t", "0", &live]);
    assert!(
        !env.root.join("containers").join(&id).exists(),
        "rm left the copy of {id}"
    );

    // Changes: diff and commit see what the container added, changed and deleted.
    let c = name("vfs-diff");
    env.ok(&[
        "run",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "echo hi > /made; rm /etc/passwd",
    ]);
    assert_eq!(env.ok(&["diff", &c]), "C /etc\nD /etc/passwd\nA /made\n");
    let img2 = format!("localhost/{}", name("vfs-commit"));
    env.ok(&["commit", "-q", &c, &img2]);
    assert_eq!(env.ok(&["run", "--rm", &img2, "cat", "/made"]), "hi\n");
    env.run(&["run", "--rm", &img2, "ls", "/etc/passwd"])
        .assert_code(1);
    env.ok(&["rm", &c]);
    env.ok(&["rmi", &img2]);
    let left: Vec<_> = std::fs::read_dir(env.root.join("containers"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "container dirs left: {left:?}");
    env.assert_no_mounts();
}

#[test]
fn a_stores_driver_is_fixed_when_first_used() {
    let env = TestEnv::new("vfs-fixed");
    env.ok(&["images"]); // first use: overlay, the default
    env.run(&["--storage-driver", "vfs", "images"]).assert_error(
        125,
        &["Error: database storage graph driver \"overlay\" does not match our storage graph driver \"vfs\": database configuration mismatch"],
    );
    // A configured driver does not win over the store's own: libpod's message, and on.
    let conf = storage_conf(&env, "vfs");
    let out = env
        .peapod(&["info", "--format", "{{.Store.GraphDriverName}}"])
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "overlay\n");
    // logrus's line, as Podman prints it (its quotes escaped inside msg="…").
    assert!(
        out.stderr.contains(
            r#"level=error msg="User-selected graph driver \"vfs\" overwritten by graph driver \"overlay\" from database"#
        ),
        "{out:?}"
    );
    // An unknown driver: containers/storage's words.
    env.run(&["--storage-driver", "btrfs2", "images"])
        .assert_error(125, &["btrfs2", "driver not supported"]);

    // A new store takes storage.conf's driver.
    let fresh = TestEnv::new("vfs-conf");
    let conf = storage_conf(&fresh, "vfs");
    let out = fresh
        .peapod(&["info", "--format", "{{.Store.GraphDriverName}}"])
        .env("CONTAINERS_STORAGE_CONF", &conf)
        .output();
    assert_eq!((out.code(), out.stdout.as_str()), (0, "vfs\n"), "{out:?}");
    assert_eq!(
        fresh.ok(&["info", "--format", "{{.Store.GraphDriverName}}"]),
        "vfs\n"
    );
}
