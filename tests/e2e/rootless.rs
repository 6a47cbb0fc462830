//! Rootless mode as an ordinary user meets it: every command runs as a test user through
//! `runuser -u USER -- env -i HOME=… USER=… PATH=… XDG_RUNTIME_DIR=… peapod …`.
//!
//! The users are made when missing and never removed (`.ci/run` makes them too):
//! - `peapod-rl` has a subordinate range in /etc/subuid and /etc/subgid;
//! - `peapod-rl2` has none (the single mapping);
//! - `peapod-rl3` is the one whose range the subuid-change test rewrites; no other test
//!   uses it, and its lines are the only ones any test edits.
//!
//! Each test has its own runtime dir, so its own pause process and namespaces, and its own
//! `--root`/`--runroot` in a temp dir owned by the user; dropping the env removes its
//! containers, kills whatever still mentions the dir (the pause process among them, which
//! takes the namespaces and their mounts along) and removes the dir. The staged binaries
//! are used where they are when the users can reach them, else from a copy they can.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::rootless_util::*;
use super::util::{self, IMG, TestEnv};

use tar::EntryType::{Directory as DIR, Regular as FILE};

#[test]
fn rootless_unshare_info_and_nothing_of_the_user_outside_its_home() {
    let u = users();
    let env = UserEnv::new(&u.rl, "unshare");
    let (start, count) = u.rl_range;
    let map = env.ok(&["unshare", "cat", "/proc/self/uid_map", "/proc/self/gid_map"]);
    let rows: Vec<Vec<u64>> = util::lines(&map)
        .iter()
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect();
    let want_u = vec![
        vec![0, u.rl.uid as u64, 1],
        vec![1, start as u64, count as u64],
    ];
    let want_g = vec![
        vec![0, u.rl.gid as u64, 1],
        vec![1, start as u64, count as u64],
    ];
    assert_eq!(
        rows,
        [want_u, want_g].concat(),
        "uid_map then gid_map:\n{map}"
    );
    // The same pause process holds the namespace from one command to the next.
    let pause = env.pause_pid().expect("a live pause process");
    let comm = std::fs::read_to_string(format!("/proc/{pause}/comm")).unwrap();
    assert_eq!(comm.trim(), "peapod-pause");
    assert_eq!(
        std::fs::metadata(format!("/proc/{pause}")).unwrap().uid(),
        u.rl.uid,
        "the pause process is the user's"
    );
    let inside = env.ok(&[
        "unshare",
        "sh",
        "-c",
        "id -u; echo \"$CONTAINERS_GRAPHROOT $CONTAINERS_RUNROOT\"; readlink /proc/self/ns/user",
    ]);
    let l = util::lines(&inside);
    assert_eq!(l[0], "0", "uid 0 inside: {inside}");
    assert_eq!(
        l[1],
        format!("{} {}", env.root.display(), env.runroot.display())
    );
    let pause_ns = std::fs::read_link(format!("/proc/{pause}/ns/user")).unwrap();
    assert_eq!(
        l[2],
        pause_ns.display().to_string(),
        "joined the pause's namespace"
    );
    assert_eq!(
        env.pause_pid(),
        Some(pause),
        "the pause process was not replaced"
    );

    // Unshare's exit codes are Podman's.
    env.run(&["unshare", "false"]).assert_code(1);
    env.run(&["unshare", "no-such-command-xyz"]).assert_error(
        127,
        &["exec: \"no-such-command-xyz\": executable file not found in $PATH"],
    );
    env.run(&["unshare", "/etc/passwd"])
        .assert_error(126, &["permission denied"]);

    // Default paths: the user's home and runtime dir.
    let info = env
        .bare_with(
            &[],
            &[
                "info",
                "--format",
                "{{.Host.Security.Rootless}} {{.Store.GraphRoot}} {{.Store.RunRoot}} {{.Host.IDMappings.UIDMap}}",
            ],
        )
        .output()
        .success();
    assert_eq!(
        info.trim(),
        format!(
            "true {}/.local/share/peapod {}/peapod [{{0 {} 1}} {{1 {start} {count}}}]",
            u.rl.home.display(),
            env.xdg.display(),
            u.rl.uid
        )
    );
    let store = u.rl.home.join(".local/share/peapod");
    let meta = std::fs::metadata(&store).expect("the default store exists");
    assert_eq!(
        (meta.uid(), meta.mode() & 0o777),
        (u.rl.uid, 0o700),
        "{store:?}"
    );

    // A container and an image later, nothing of the user under root's state.
    env.import_busybox();
    env.ok(&["run", "--rm", "--network", "none", IMG, "true"]);
    for dir in ["/var/lib/peapod", "/run/peapod"] {
        let found = owned_under(Path::new(dir), u.rl.uid, u.rl_range);
        assert!(
            found.is_empty(),
            "files of the rootless user under {dir}: {found:?}"
        );
    }
    assert!(
        env.mounts_in_namespace().is_empty(),
        "{:?}",
        env.mounts_in_namespace()
    );
}

#[test]
fn rootless_runtime_dir_falls_back_as_podman() {
    let u = users();
    let env = UserEnv::new(&u.rl, "xdg-fallback");
    let fallback = PathBuf::from(format!("/tmp/peapod-run-{}", u.rl.uid));
    // A login session's /run/user/UID would be chosen first: skipped then (a failure in CI,
    // which has no such session).
    if peapod_tests::skip_unless(
        !Path::new(&format!("/run/user/{}", u.rl.uid)).exists(),
        &format!(
            "a machine without /run/user/{} (it would be chosen first)",
            u.rl.uid
        ),
    ) {
        return;
    }
    // Whatever an earlier run left there is ours to clear: only this test uses it.
    if let Ok(pid) = std::fs::read_to_string(fallback.join("peapod/pause.pid")) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    let out = env
        .bare_with(
            &[("XDG_RUNTIME_DIR", String::new())],
            &[
                "--root",
                &env.root.display().to_string(),
                "info",
                "--format",
                "{{.Store.RunRoot}}",
            ],
        )
        .output();
    let pause = std::fs::read_to_string(fallback.join("peapod/pause.pid")).ok();
    if let Some(pid) = &pause {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    let runroot = out.success();
    assert_eq!(
        runroot.trim(),
        fallback.join("peapod").display().to_string()
    );
    let meta = std::fs::metadata(&fallback).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (u.rl.uid, 0o700));
    assert!(
        pause.is_some(),
        "the pause pid file is under the fallback dir"
    );
    let _ = std::fs::remove_dir_all(&fallback);
}

#[test]
fn rootless_run_ids_bind_mounts_and_shifted_image_files() {
    let u = users();
    let env = UserEnv::new(&u.rl, "run-ids");
    env.import_busybox();
    let id = env.ok(&["run", "--rm", "--network", "none", IMG, "id"]);
    assert!(id.starts_with("uid=0(root) gid=0(root)"), "{id}");

    // A file made in a bind-mounted host dir is the user's on the host.
    let host_dir = env.dir.join("data");
    std::fs::create_dir(&host_dir).unwrap();
    std::os::unix::fs::chown(&host_dir, Some(u.rl.uid), Some(u.rl.gid)).unwrap();
    let bind = format!("{}:/data", host_dir.display());
    env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &bind,
        IMG,
        "sh",
        "-c",
        "echo hi > /data/made",
    ]);
    let made = std::fs::metadata(host_dir.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (u.rl.uid, u.rl.gid));

    // An image file owned by 1000 is 1000 inside and the range's 1000 on the host.
    let tar = busybox_plus(&[
        ("home/u", 1000, DIR, b""),
        ("home/u/owned-by-1000", 1000, FILE, b"x\n"),
    ]);
    env.import_bytes(&tar, "localhost/owned");
    let inside = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "localhost/owned",
        "stat",
        "-c",
        "%u %g",
        "/home/u/owned-by-1000",
    ]);
    assert_eq!(inside.trim(), "1000 1000");
    let layers = env.root.join("layers");
    let on_host: Vec<(u32, u32)> = std::fs::read_dir(&layers)
        .unwrap()
        .flatten()
        .filter_map(|l| std::fs::metadata(l.path().join("diff/home/u/owned-by-1000")).ok())
        .map(|m| (m.uid(), m.gid()))
        .collect();
    let shifted = u.rl_range.0 + 999;
    assert_eq!(on_host, vec![(shifted, shifted)], "under {layers:?}");

    // Limits on cgroup v1: Podman's warning, and the container runs.
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        let out = env
            .run(&[
                "run",
                "--rm",
                "--network",
                "none",
                "-m",
                "10m",
                IMG,
                "echo",
                "ran",
            ])
            .assert_code(0);
        assert_eq!(out.stdout.trim(), "ran");
        assert!(
            out.stderr.contains(
                "Resource limits are not supported and ignored on cgroups V1 rootless systems"
            ),
            "{out:?}"
        );
    }
    // Bridges are the machine's: refused rootless, saying what works instead.
    env.run(&["network", "create", &util::name("rln")])
        .assert_error(
            125,
            &["rootless bridge networks are not supported", "slirp4netns"],
        );
    env.run(&["run", "--rm", "--network", "bridge", IMG, "true"])
        .assert_error(
            125,
            &["rootless bridge networks (--network bridge) are not supported"],
        );
    assert!(
        env.mounts_in_namespace().is_empty(),
        "{:?}",
        env.mounts_in_namespace()
    );
    assert!(util::lines(&env.ok(&["ps", "-aq"])).is_empty());
}

#[test]
fn rootless_pulled_layers_keep_whiteouts_and_opaque_dirs() {
    if super::registry_util::tools_missing() {
        return;
    }
    let u = users();
    let env = UserEnv::new(&u.rl, "pull-layers");
    let lower = busybox_plus(&[
        ("data", 0, DIR, b""),
        ("data/old", 0, FILE, b"old\n"),
        ("gone", 0, FILE, b"gone\n"),
    ]);
    let mut upper = tar::Builder::new(Vec::new());
    append_entries(
        &mut upper,
        &[
            ("data", 0, DIR, b""),
            ("data/.wh..wh..opq", 0, FILE, b""),
            ("data/new", 1000, FILE, b"new\n"),
            (".wh.gone", 0, FILE, b""),
        ],
    );
    let upper = upper.into_inner().unwrap();
    let layout_dir = env.dir.join("layout");
    let mut layout = peapod_tests::oci::Layout::create(&layout_dir).unwrap();
    layout
        .image(Some("two"), "amd64", &[lower, upper], &["sh"])
        .unwrap();
    layout.finish().unwrap();
    let reg =
        peapod_tests::registry::Registry::start(&env.dir.join("registry"), &Default::default())
            .expect("a registry");
    let name = reg.docker("rl/layers:two");
    peapod_tests::registry::skopeo_copy(&layout_dir, "two", &name, &[]).unwrap();
    let image = name.trim_start_matches("docker://").to_string();
    env.ok(&["pull", "-q", "--tls-verify=false", &image]);
    let seen = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "sh",
        "-c",
        "ls /data; test -e /gone && echo gone-is-there; stat -c %u /data/new",
    ]);
    assert_eq!(
        util::lines(&seen),
        ["new", "1000"],
        "the upper layer's opaque dir and whiteout"
    );
}

#[test]
fn rootless_user_without_a_range_gets_the_single_mapping_and_runs() {
    let u = users();
    let env = UserEnv::new(&u.norange, "norange");
    let out = env
        .run(&["unshare", "cat", "/proc/self/uid_map"])
        .assert_code(0);
    let rows: Vec<String> = util::lines(&out.stdout)
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(rows, [format!("0 {} 1", u.norange.uid)]);
    // logrus' key=value form on a pipe (a message's quotes escaped), as Podman's.
    assert!(
        out.stderr.contains(&format!(
            "level=error msg=\"cannot find UID/GID for user {0}: no subuid ranges found for user \\\"{0}\\\" in /etc/subuid",
            u.norange.name
        )) && out
            .stderr
            .contains("Using rootless single mapping into the namespace"),
        "Podman's two messages: {out:?}"
    );
    // Said once, when the namespace is made; then it runs containers.
    env.import_busybox();
    let run = env.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMG,
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
    ]);
    assert!(!run.stderr.contains("single mapping"), "{run:?}");
    let run = run.success();
    let l = util::lines(&run);
    assert_eq!(l[0], "0");
    assert_eq!(l.len(), 2, "one mapping line: {run}");
    // An image with an owner outside the mapping: Podman's words.
    let tar = busybox_plus(&[("home/u", 1000, DIR, b"")]);
    env.peapod(&["import", "-", "localhost/needs-range"])
        .stdin(tar)
        .output()
        .assert_error(
            125,
            &["potentially insufficient UIDs or GIDs available in user namespace (requested 1000:1000 for /home/u)", "/etc/subuid"],
        );
}

#[test]
fn rootless_two_users_are_isolated() {
    let u = users();
    let a = UserEnv::new(&u.rl, "iso-a");
    let b = UserEnv::new(&u.norange, "iso-b");
    a.import_busybox();
    b.import_busybox();
    let name = util::name("same");
    let ida = a.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        IMG,
        "sleep",
        "300",
    ]);
    let idb = b.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        IMG,
        "sleep",
        "300",
    ]);
    assert_ne!(ida.trim(), idb.trim());
    assert_eq!(
        util::lines(&a.ok(&["ps", "-a", "-q", "--no-trunc"])),
        [ida.trim()]
    );
    assert_eq!(
        util::lines(&b.ok(&["ps", "-a", "-q", "--no-trunc"])),
        [idb.trim()]
    );
    // Different namespaces, and neither reads the other's store.
    let (pa, pb) = (a.pause_pid().unwrap(), b.pause_pid().unwrap());
    assert_ne!(
        std::fs::read_link(format!("/proc/{pa}/ns/user")).unwrap(),
        std::fs::read_link(format!("/proc/{pb}/ns/user")).unwrap()
    );
    let root_a = a.root.display().to_string();
    let run_a = a.runroot.display().to_string();
    b.bare_with(&[], &["--root", &root_a, "--runroot", &run_a, "ps", "-a"])
        .output()
        .assert_error(125, &["unable to open database file", &root_a]);
    let kill = Command::new("runuser")
        .args(["-u", u.norange.name, "--", "kill", "-0", &pa.to_string()])
        .output()
        .unwrap();
    assert!(
        !kill.status.success(),
        "user b may signal user a's pause process"
    );
    // Files: b cannot look into a's store (its layers, containers' root filesystems).
    let ls = Command::new("runuser")
        .args(["-u", u.norange.name, "--", "ls", &root_a])
        .output()
        .unwrap();
    assert!(
        !ls.status.success(),
        "user b lists user a's store {root_a}: {}",
        String::from_utf8_lossy(&ls.stdout)
    );
    // Ports: a host port a publishes is a's; b's start asking for it fails as Podman's
    // (126, the container left created, as `podman run` leaves it), a's keeps answering.
    let port = util::free_port().to_string();
    let web = util::name("web");
    a.ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "-p",
        &format!("{port}:80"),
        IMG,
        "sh",
        "-c",
        "mkdir -p /w && echo from-a > /w/index && exec httpd -f -p 80 -h /w",
    ]);
    let got = util::wait_http(&format!("127.0.0.1:{port}"), "/index");
    assert_eq!(got.trim(), "from-a");
    b.run(&[
        "run",
        "-d",
        "--name",
        &web,
        "-p",
        &format!("{port}:80"),
        IMG,
        "sleep",
        "300",
    ])
    .assert_error(126, &["address already in use", &port]);
    assert_ne!(b.status_of(&web), "running");
    b.ok(&["rm", &web]);
    let got = util::wait_http(&format!("127.0.0.1:{port}"), "/index");
    assert_eq!(got.trim(), "from-a", "a's port after b's attempt");
    a.ok(&["rm", "-f", "-t", "0", &name, &web]);
    assert_eq!(
        util::lines(&b.ok(&["ps", "-q", "--no-trunc"])),
        [idb.trim()],
        "b's still runs"
    );
}

#[test]
fn rootless_without_a_working_newuidmap_says_what_to_fix_and_leaves_nothing() {
    let u = users();
    let env = UserEnv::new(&u.rl, "no-newuidmap");
    // No newuidmap on PATH at all.
    let empty = env.dir.join("empty-path");
    std::fs::create_dir(&empty).unwrap();
    let out = env
        .bare_with(
            &[("PATH", empty.display().to_string())],
            &["--root", &env.root.display().to_string(), "ps"],
        )
        .output()
        .assert_error(
            125,
            &["newuidmap", "not found in $PATH", "apt-get install uidmap"],
        );
    assert_eq!(util::lines(&out.stderr).len(), 1, "one line: {out:?}");
    util::assert_no_process_mentioning(&env.dir);
    assert!(env.pause_pid().is_none());
    // A copy without the setuid bit.
    let fake = env.dir.join("fake-bin");
    std::fs::create_dir(&fake).unwrap();
    for tool in ["newuidmap", "newgidmap"] {
        std::fs::copy(Path::new("/usr/bin").join(tool), fake.join(tool)).unwrap();
        std::fs::set_permissions(fake.join(tool), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = env
        .bare_with(
            &[("PATH", format!("{}:{PATH}", fake.display()))],
            &["--root", &env.root.display().to_string(), "ps"],
        )
        .output()
        .assert_error(
            125,
            &[
                "newuidmap is not setuid root",
                "apt-get install --reinstall uidmap",
            ],
        );
    assert_eq!(util::lines(&out.stderr).len(), 1, "one line: {out:?}");
    util::assert_no_process_mentioning(&env.dir);
    assert!(env.pause_pid().is_none());
    // With the real one it works.
    env.ok(&["ps"]);
    assert!(env.pause_pid().is_some());
}

#[test]
fn rootless_changed_subuid_range_is_noticed() {
    let u = users();
    let env = UserEnv::new(&u.change, "subuid-change");
    let before = subids("/etc/subuid", USER_CHANGE)[0];
    /// Puts the user's range back whatever happens.
    struct Restore((u32, u32));
    impl Drop for Restore {
        fn drop(&mut self) {
            set_subids(USER_CHANGE, Some(self.0));
        }
    }
    let _restore = Restore(before);
    let map_line = |out: &str| {
        util::lines(out)
            .get(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let out = env.ok(&["unshare", "cat", "/proc/self/uid_map"]);
    assert_eq!(map_line(&out), format!("1 {} {}", before.0, before.1));
    env.import_busybox();
    let name = util::name("keep");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        IMG,
        "sleep",
        "300",
    ]);
    let after = (free_range_start(), 65536);
    set_subids(USER_CHANGE, Some(after));
    // A container runs in the old namespace: it stays, and the user is told why.
    let out = env
        .run(&["unshare", "cat", "/proc/self/uid_map"])
        .assert_code(0);
    assert_eq!(
        map_line(&out.stdout),
        format!("1 {} {}", before.0, before.1)
    );
    assert!(out.stderr.contains("containers still run"), "{out:?}");
    assert_eq!(env.status_of(&name), "running");
    env.ok(&["rm", "-f", "-t", "0", &name]);
    // Once nothing runs there, the next command makes it again with the new range.
    let mut last = String::new();
    util::wait_until("the new range", Duration::from_secs(20), || {
        let out = env.run(&["unshare", "cat", "/proc/self/uid_map"]);
        last = format!("{out:?}");
        map_line(&out.stdout) == format!("1 {} {}", after.0, after.1)
    });
    assert!(last.contains("making the user namespace again"), "{last}");
}

#[test]
fn rootless_killed_pause_process_is_replaced_in_the_same_namespaces() {
    let u = users();
    let env = UserEnv::new(&u.rl, "pause-killed");
    env.import_busybox();
    let name = util::name("survive");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        IMG,
        "sleep",
        "300",
    ]);
    let old = env.pause_pid().expect("a pause process");
    let old_ns = std::fs::read_link(format!("/proc/{old}/ns/mnt")).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    util::wait_until("the pause process to die", Duration::from_secs(5), || {
        !util::pid_alive(old)
    });
    // The container's rootfs is mounted in the old mount namespace: the next command finds
    // it through the container's monitor and a new pause process holds it.
    let out = env.ok(&["exec", &name, "cat", "/etc/hostname"]);
    assert!(!out.trim().is_empty());
    let new = env.pause_pid().expect("a new pause process");
    assert_ne!(new, old);
    assert_eq!(
        std::fs::read_link(format!("/proc/{new}/ns/mnt")).unwrap(),
        old_ns
    );
    env.ok(&["rm", "-f", "-t", "0", &name]);
    assert!(
        env.mounts_in_namespace().is_empty(),
        "{:?}",
        env.mounts_in_namespace()
    );
}

#[test]
fn rootless_privileged_gets_only_the_devices_the_user_can_open() {
    let u = users();
    let env = UserEnv::new(&u.rl, "privileged");
    env.import_busybox();
    let devs = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--privileged",
        IMG,
        "ls",
        "/dev",
    ]);
    let devs = util::lines(&devs);
    for host in std::fs::read_dir("/dev").unwrap().flatten() {
        let Ok(m) = host.path().symlink_metadata() else {
            continue;
        };
        let ft = m.file_type();
        if !(ft.is_char_device() || ft.is_block_device()) {
            continue;
        }
        let name = host.file_name().to_string_lossy().into_owned();
        // Readable or writable by others (the user is neither owner nor group of /dev).
        let open = m.uid() != u.rl.uid && m.mode() & 0o006 != 0;
        let special = name == "ptmx" || name == "console" || name.starts_with("tty");
        if !open && !special && m.uid() == 0 {
            assert!(
                !devs.contains(&name),
                "/dev/{name} (mode {:o}) is in the container",
                m.mode()
            );
        }
        if open && !special {
            assert!(
                devs.contains(&name),
                "/dev/{name} (mode {:o}) is missing",
                m.mode()
            );
        }
    }
}

#[test]
fn unshare_as_root_is_podmans_error() {
    let env = TestEnv::new("unshare-root");
    env.run(&["unshare", "true"])
        .assert_error(125, &["please use unshare with rootless"]);
}

#[test]
fn rootless_refuses_a_network_namespace_of_root() {
    let u = users();
    let env = UserEnv::new(&u.rl, "netns-of-root");
    env.import_busybox();
    let ns = util::name("pprl");
    root_cmd(Command::new("ip").args(["netns", "add", &ns]));
    /// Deletes the namespace whatever happens.
    struct Netns(String);
    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _ns = Netns(ns.clone());
    let spec = format!("ns:/run/netns/{ns}");
    env.run(&["run", "--rm", "--network", &spec, IMG, "true"])
        .assert_error(
            125,
            &[&format!(
                "/run/netns/{ns} is not owned by the user's user namespace"
            )],
        );
    assert!(
        util::lines(&env.ok(&["ps", "-aq"])).is_empty(),
        "nothing is left"
    );
}
