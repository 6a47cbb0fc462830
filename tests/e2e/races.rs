//! Volumes and pods under concurrent commands, as two users (or two scripts) would drive
//! them at once: a volume made by `run` is never pruned under it, `create -v` and
//! `volume rm` serialise, a mounted volume stays mounted while any container still needs it,
//! a failed or interrupted copy-up is redone, a pod's volume wins over an image VOLUME, a
//! member in the middle of its start keeps the pod's namespaces, a restarted infra stays in
//! the pod's cgroup namespace, and two `pod create --name x` give one pod.
//!
//! Each race is a bounded loop (in count and time) that varies the delay between the two
//! commands, so each run of the test covers the window the race lives in.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::util::{IMG, Output, TestEnv, lines, name, pid_alive, wait_until};

fn volume_names(env: &TestEnv) -> Vec<String> {
    lines(&env.ok(&["volume", "ls", "-q"]))
}

fn mount_count(env: &TestEnv, vol: &str) -> String {
    env.ok(&["volume", "inspect", "--format", "{{.MountCount}}", vol])
        .trim()
        .to_string()
}

/// `/proc/<pid>/ns/<kind>` of a running container, as `readlink` shows it.
fn ns_of(env: &TestEnv, ctr: &str, kind: &str) -> PathBuf {
    let pid = env.inspect(ctr, "{{.State.Pid}}");
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("reading the {kind} namespace of {ctr} (pid {pid}): {e}"))
}

fn infra_of(env: &TestEnv, pod: &str) -> String {
    env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", pod])
        .trim()
        .to_string()
}

/// A delay that sweeps 0..`max_ms` ms over the iterations of a race loop.
fn sweep(i: usize, max_ms: u64) -> Duration {
    Duration::from_millis((i as u64 * 7) % (max_ms + 1))
}

/// Item 1: `volume prune` in a loop while `run -v NEWVOL:/data` makes a new volume each
/// time. Every run succeeds (Podman: 0 failures in 48), and so does every prune.
#[test]
fn volume_prune_never_takes_the_volume_a_run_just_made() {
    let env = TestEnv::new("race-prune-run");
    env.import_busybox();
    let done = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(150);
    let (runs, failed, prune_failures) = std::thread::scope(|s| {
        let pruners: Vec<_> = (0..2)
            .map(|_| {
                let (env, done) = (&env, &done);
                s.spawn(move || {
                    let mut failures: Vec<Output> = Vec::new();
                    while !done.load(Ordering::Relaxed) {
                        let out = env.run(&["volume", "prune", "-f"]);
                        if out.code() != 0 {
                            failures.push(out);
                        }
                    }
                    failures
                })
            })
            .collect();
        let mut runs = 0;
        let mut failed = Vec::new();
        for _ in 0..100 {
            if Instant::now() > deadline {
                break;
            }
            let vol = name("pv");
            let out = env.run(&["run", "--rm", "-v", &format!("{vol}:/data"), IMG, "true"]);
            runs += 1;
            if out.code() != 0 {
                failed.push(out);
            }
        }
        done.store(true, Ordering::Relaxed);
        let prune_failures: Vec<Output> = pruners
            .into_iter()
            .flat_map(|h| h.join().expect("a prune thread panicked"))
            .collect();
        (runs, failed, prune_failures)
    });
    assert!(runs >= 30, "only {runs} runs in the time allowed");
    assert!(
        failed.is_empty(),
        "{} of {runs} runs failed while volume prune ran, first: {:?}",
        failed.len(),
        failed.first()
    );
    assert!(
        prune_failures.is_empty(),
        "{} prunes failed, first: {:?}",
        prune_failures.len(),
        prune_failures.first()
    );
    env.ok(&["volume", "prune", "-f"]);
    assert!(volume_names(&env).is_empty());
    env.assert_no_mounts();
}

/// Item 2: `create -v VOL:/x` racing `volume rm VOL`. The two serialise: the create wins and
/// the rm is refused ("volume is being used"), or the rm wins and the create either fails
/// ("no such volume") or makes the volume anew. Never a container whose volume is gone.
#[test]
fn create_and_volume_rm_never_leave_a_container_on_a_removed_volume() {
    let env = TestEnv::new("race-create-volrm");
    env.import_busybox();
    let (mut create_won, mut rm_won) = (0, 0);
    for i in 0..40 {
        let (vol, ctr) = (name("rv"), name("rc"));
        env.ok(&["volume", "create", &vol]);
        let (created, removed) = std::thread::scope(|s| {
            let env = &env;
            // Every other round the create starts later instead: both orders get covered.
            let (rm_delay, create_delay) = if i % 2 == 0 {
                (sweep(i, 40), Duration::ZERO)
            } else {
                (Duration::ZERO, sweep(i, 40))
            };
            let vol = &vol;
            let rm = s.spawn(move || {
                std::thread::sleep(rm_delay);
                env.run(&["volume", "rm", vol])
            });
            std::thread::sleep(create_delay);
            let created = env.run(&[
                "create",
                "--name",
                &ctr,
                "-v",
                &format!("{vol}:/x"),
                IMG,
                "true",
            ]);
            (created, rm.join().expect("the rm thread panicked"))
        });
        let create_ok = created.code() == 0;
        match (created.code(), removed.code()) {
            (0, 0) => {
                // The rm came first; the create made the volume again.
                rm_won += 1;
                env.ok(&["volume", "exists", &vol]);
            }
            (0, _) => {
                create_won += 1;
                removed.assert_error(2, &["volume is being used"]);
            }
            (_, 0) => {
                rm_won += 1;
                created.assert_error(125, &["no such volume"]);
            }
            _ => panic!("both failed:{created:?}{removed:?}"),
        }
        if create_ok {
            // The container's volume exists and holds what it writes.
            env.ok(&["volume", "exists", &vol]);
            let mountpoint = env.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", &vol]);
            let out = env.ok(&[
                "run",
                "--rm",
                "--volumes-from",
                &ctr,
                IMG,
                "sh",
                "-c",
                "echo hi > /x/f",
            ]);
            assert_eq!(out, "");
            assert_eq!(
                std::fs::read_to_string(Path::new(mountpoint.trim()).join("f")).unwrap(),
                "hi\n"
            );
            env.ok(&["start", "-a", &ctr]);
            env.ok(&["rm", &ctr]);
        }
        let _ = env.run(&["volume", "rm", &vol]);
    }
    eprintln!("create won {create_won} times, rm won {rm_won} times");
    assert!(
        create_won > 0 && rm_won > 0,
        "one order never happened: create won {create_won}, rm {rm_won}"
    );
    assert!(volume_names(&env).is_empty());
    assert!(env.ids_all().is_empty());
    env.assert_no_mounts();
}

/// Item 3, in order: a volume with a mount of its own (`--opt type=tmpfs`) counts its users
/// as Podman's MountCount does, and is unmounted only when the last one stops.
#[test]
fn a_mounted_volume_counts_its_users() {
    let env = TestEnv::new("race-mount-count");
    env.import_busybox();
    let v = name("tv");
    env.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=nodev",
        &v,
    ]);
    let mountpoint = PathBuf::from(
        env.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", &v])
            .trim(),
    );
    let is_mounted = |p: &Path| {
        peapod_tests::mounts_under(p)
            .unwrap()
            .iter()
            .any(|m| m == p)
    };
    let (a, b) = (name("a"), name("b"));
    for c in [&a, &b] {
        env.ok(&[
            "run",
            "-d",
            "--name",
            c,
            "-v",
            &format!("{v}:/v"),
            IMG,
            "sleep",
            "1000",
        ]);
    }
    assert_eq!(mount_count(&env, &v), "2");
    env.ok(&["exec", &a, "sh", "-c", "echo from-a > /v/f"]);
    env.ok(&["stop", "-t", "0", &a]);
    assert_eq!(mount_count(&env, &v), "1");
    assert!(is_mounted(&mountpoint), "unmounted under a running user");
    assert_eq!(env.ok(&["exec", &b, "cat", "/v/f"]), "from-a\n");
    // A third user joins the same mount.
    let out = env.ok(&["run", "--rm", "-v", &format!("{v}:/v"), IMG, "cat", "/v/f"]);
    assert_eq!(out, "from-a\n");
    assert_eq!(mount_count(&env, &v), "1");
    env.ok(&["stop", "-t", "0", &b]);
    assert_eq!(mount_count(&env, &v), "0");
    assert!(!is_mounted(&mountpoint), "still mounted with no user");
    env.ok(&["rm", &a, &b]);
    env.ok(&["volume", "rm", &v]);
    env.assert_no_mounts();
}

/// Item 3, the race: a user of a mounted volume stops while another is starting. The one
/// starting must end up on the volume's mount (it sees what a later user writes), and the
/// count must match the running users.
#[test]
fn a_stopping_user_never_unmounts_a_volume_under_a_starting_one() {
    let env = TestEnv::new("race-mount-init");
    env.import_busybox();
    let v = name("tv");
    env.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=nodev",
        &v,
    ]);
    let (a, b) = (name("a"), name("b"));
    let vflag = format!("{v}:/v");
    env.ok(&["create", "--name", &a, "-v", &vflag, IMG, "sleep", "1000"]);
    env.ok(&["create", "--name", &b, "-v", &vflag, IMG, "sleep", "1000"]);
    let deadline = Instant::now() + Duration::from_secs(150);
    for i in 0..20 {
        if Instant::now() > deadline {
            break;
        }
        env.ok(&["start", &a]);
        std::thread::scope(|s| {
            let env = &env;
            let starting = s.spawn(|| env.run(&["start", &b]));
            std::thread::sleep(sweep(i, 120));
            env.ok(&["stop", "-t", "0", &a]);
            starting
                .join()
                .expect("the start thread panicked")
                .success();
        });
        assert_eq!(mount_count(&env, &v), "1", "iteration {i}");
        let token = format!("token-{i}");
        env.ok(&[
            "run",
            "--rm",
            "-v",
            &vflag,
            IMG,
            "sh",
            "-c",
            &format!("echo {token} > /v/t"),
        ]);
        assert_eq!(
            env.ok(&["exec", &b, "cat", "/v/t"]).trim(),
            token,
            "iteration {i}: the starting container is not on the volume's mount"
        );
        env.ok(&["stop", "-t", "0", &b]);
        assert_eq!(mount_count(&env, &v), "0", "iteration {i}");
    }
    env.ok(&["rm", "-f", &a, &b]);
    env.ok(&["volume", "rm", &v]);
    env.assert_no_mounts();
}

/// The busybox rootfs plus `/big`: `files` files of `size` bytes (each a different byte).
fn import_with_big_dir(env: &TestEnv, reference: &str, files: usize, size: usize) {
    let base = std::fs::read(peapod_tests::busybox_rootfs_tar().unwrap()).unwrap();
    let tar_path = env.dir.join("big.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
    let mut a = tar::Archive::new(&base[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let path = e.path().unwrap().into_owned();
        b.append_data(&mut h, path, &mut e).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o755);
    b.append_data(&mut h, "big/", std::io::empty()).unwrap();
    for n in 0..files {
        let data = vec![b'a' + (n % 26) as u8; size];
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(size as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, format!("big/f{n:03}"), &data[..])
            .unwrap();
    }
    b.finish().unwrap();
    drop(b);
    env.ok(&["import", tar_path.to_str().unwrap(), reference]);
}

/// Bytes under `dir` and the number of files (not following links).
fn tree_size(dir: &Path) -> (u64, usize) {
    let mut total = (0, 0);
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        total.0 += m.len();
        total.1 += 1;
    }
    total
}

fn mount_tmpfs(dir: &Path, size: &str, remount: bool) {
    use nix::mount::{MsFlags, mount};
    let flags = if remount {
        MsFlags::MS_REMOUNT
    } else {
        MsFlags::empty()
    };
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        flags,
        Some(format!("size={size}").as_str()),
    )
    .unwrap_or_else(|e| panic!("mounting a tmpfs on {}: {e}", dir.display()));
}

/// inspect's `NeedsCopyUp` (absent from the JSON when false, as Podman's `omitempty`).
fn needs_copy_up(env: &TestEnv, vol: &str) -> bool {
    let v: serde_json::Value = serde_json::from_str(&env.ok(&["volume", "inspect", vol])).unwrap();
    v[0]["NeedsCopyUp"].as_bool().unwrap_or(false)
}

/// Item 4: a copy-up that fails (the volume's filesystem fills up) leaves no partial data
/// and the volume still needing its copy; once there is room, the next user copies it all.
#[test]
fn a_failed_copy_up_leaves_nothing_and_is_redone() {
    let env = TestEnv::new("race-copyup-fail");
    import_with_big_dir(&env, "localhost/big", 16, 128 * 1024);
    let want = (16 * 128 * 1024, 16);
    // The volume binds a host directory on a 1 MiB tmpfs: the 2 MiB copy fails half-way.
    let host = env.dir.join("small");
    std::fs::create_dir_all(&host).unwrap();
    mount_tmpfs(&host, "1m", false);
    let v = name("bv");
    env.ok(&[
        "volume",
        "create",
        "--opt",
        "type=none",
        "--opt",
        &format!("device={}", host.display()),
        "--opt",
        "o=bind",
        &v,
    ]);
    let vflag = format!("{v}:/big");
    let out = env.run(&["run", "--rm", "-v", &vflag, "localhost/big", "true"]);
    assert_ne!(out.code(), 0, "the copy-up into 1 MiB should fail:{out:?}");
    assert!(
        out.stderr.contains("copying /big") && out.stderr.contains("No space left"),
        "{out:?}"
    );
    assert_eq!(
        tree_size(&host),
        (0, 0),
        "the failed copy-up left partial data in the volume"
    );
    assert!(
        needs_copy_up(&env, &v),
        "a failed copy-up marked the volume copied"
    );
    // Room now: the next user copies everything.
    mount_tmpfs(&host, "8m", true);
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        &vflag,
        "localhost/big",
        "sh",
        "-c",
        "ls /big | wc -l; cat /big/* | wc -c",
    ]);
    assert_eq!(lines(&out), [want.1.to_string(), want.0.to_string()]);
    assert_eq!(tree_size(&host), want);
    assert!(!needs_copy_up(&env, &v));
    env.ok(&["volume", "rm", &v]);
    assert!(env.ids_all().is_empty());
    env.assert_no_processes();
}

/// Item 4, interrupted: `run` killed in the middle of a copy-up. The next user finds the
/// partial copy and copies again, completely.
#[test]
fn an_interrupted_copy_up_is_redone() {
    let env = TestEnv::new("race-copyup-kill");
    let (files, size) = (96, 512 * 1024);
    import_with_big_dir(&env, "localhost/big", files, size);
    let host = env.dir.join("host");
    std::fs::create_dir_all(&host).unwrap();
    mount_tmpfs(&host, "128m", false);
    let mut interrupted = false;
    for attempt in 0..5 {
        let v = name("kv");
        env.ok(&[
            "volume",
            "create",
            "--opt",
            "type=none",
            "--opt",
            &format!("device={}", host.display()),
            "--opt",
            "o=bind",
            &v,
        ]);
        let vflag = format!("{v}:/big");
        let mut cmd = env
            .peapod(&["run", "--rm", "-v", &vflag, "localhost/big", "true"])
            .command();
        cmd.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        // Killed as soon as the first copied file appears.
        let start = Instant::now();
        while tree_size(&host).1 == 0 && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_micros(200));
        }
        let _ = child.kill();
        let _ = child.wait();
        let partial = tree_size(&host);
        if partial != ((files * size) as u64, files) {
            interrupted = true;
            let out = env.ok(&[
                "run",
                "--rm",
                "-v",
                &vflag,
                "localhost/big",
                "sh",
                "-c",
                "ls /big | wc -l; cat /big/* | wc -c",
            ]);
            assert_eq!(
                lines(&out),
                [files.to_string(), (files * size).to_string()],
                "after a copy-up interrupted at {partial:?}"
            );
        }
        // The killed run's container is left behind; remove it, then the volume.
        env.ok(&["rm", "-af", "-t", "0"]);
        env.ok(&["volume", "rm", &v]);
        for e in std::fs::read_dir(&host).unwrap().flatten() {
            std::fs::remove_file(e.path()).unwrap();
        }
        if interrupted {
            break;
        }
        eprintln!("attempt {attempt}: the copy finished before the kill; again");
    }
    assert!(interrupted, "never managed to kill run during its copy-up");
    env.assert_no_processes();
}

/// Item 5: a pod's `-v` at the path of an image's VOLUME: the member uses the pod's volume
/// and no anonymous volume is made.
#[test]
fn a_pods_volume_wins_over_an_image_volume() {
    let env = TestEnv::new("race-pod-imgvol");
    let tar = peapod_tests::busybox_rootfs_tar().unwrap();
    env.ok(&[
        "import",
        "--change",
        "VOLUME /data",
        tar.to_str().unwrap(),
        "localhost/withvol",
    ]);
    let (pod, pv, c) = (name("pod"), name("pv"), name("m"));
    env.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--network",
        "none",
        "-v",
        &format!("{pv}:/data"),
    ]);
    env.ok(&[
        "run",
        "--pod",
        &pod,
        "--name",
        &c,
        "localhost/withvol",
        "sh",
        "-c",
        "echo member > /data/f",
    ]);
    assert_eq!(
        volume_names(&env),
        [pv.as_str()],
        "an anonymous volume was made"
    );
    let mounts: serde_json::Value =
        serde_json::from_str(&env.inspect(&c, "{{json .Mounts}}")).unwrap();
    let mounts = mounts.as_array().unwrap();
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    assert_eq!(mounts[0]["Name"], pv.as_str());
    assert_eq!(mounts[0]["Destination"], "/data");
    let mountpoint = env.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", &pv]);
    assert_eq!(
        std::fs::read_to_string(Path::new(mountpoint.trim()).join("f")).unwrap(),
        "member\n"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.ok(&["volume", "rm", &pv]);
    env.assert_no_mounts();
}

/// Item 6: `pod stop` while a member is starting. Whatever the order, a member left running
/// is in the pod's namespaces: the infra started again joins the same network namespace.
#[test]
fn pod_stop_never_unpins_the_namespaces_under_a_starting_member() {
    let env = TestEnv::new("race-pod-stop");
    env.import_busybox();
    let (pod, m) = (name("pod"), name("m"));
    env.ok(&["pod", "create", "--name", &pod, "--network", "none"]);
    let infra = infra_of(&env, &pod);
    env.ok(&["create", "--pod", &pod, "--name", &m, IMG, "sleep", "1000"]);
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut left_running = 0;
    for i in 0..25 {
        if Instant::now() > deadline {
            break;
        }
        env.ok(&["start", &infra]);
        std::thread::scope(|s| {
            let env = &env;
            let starting = s.spawn(|| env.run(&["start", &m]));
            std::thread::sleep(sweep(i, 150));
            env.ok(&["pod", "stop", "-t", "0", &pod]);
            starting.join().expect("the start thread panicked");
        });
        if env.status(&m) == "running" {
            left_running += 1;
            env.ok(&["start", &infra]);
            for kind in ["net", "ipc", "uts"] {
                assert_eq!(
                    ns_of(&env, &infra, kind),
                    ns_of(&env, &m, kind),
                    "iteration {i}: the member runs outside the pod's {kind} namespace"
                );
            }
        }
        env.ok(&["pod", "stop", "-t", "0", &pod]);
        let pinned = env.runroot.join("pods");
        let left = peapod_tests::mounts_under(&pinned).unwrap();
        assert!(
            left.is_empty(),
            "iteration {i}: a stopped pod keeps {left:?}"
        );
    }
    eprintln!("the member was left running {left_running} times");
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

/// Item 7: with `--share +cgroup`, an infra started again (after its pause process died)
/// joins the pod's cgroup namespace, as do members started after it.
#[test]
fn a_restarted_infra_stays_in_the_pods_cgroup_namespace() {
    let env = TestEnv::new("race-pod-cgroupns");
    env.import_busybox();
    let (pod, a, b) = (name("pod"), name("a"), name("b"));
    env.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--network",
        "none",
        "--share",
        "+cgroup",
    ]);
    env.ok(&[
        "run", "-d", "--pod", &pod, "--name", &a, IMG, "sleep", "1000",
    ]);
    let infra = infra_of(&env, &pod);
    assert_eq!(ns_of(&env, &infra, "cgroup"), ns_of(&env, &a, "cgroup"));
    let pid: i32 = env.inspect(&infra, "{{.State.Pid}}").parse().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the pause process is gone", Duration::from_secs(10), || {
        !pid_alive(pid)
    });
    env.wait_status(&infra, "exited", Duration::from_secs(10));
    // A member started now starts the infra again first.
    env.ok(&[
        "run", "-d", "--pod", &pod, "--name", &b, IMG, "sleep", "1000",
    ]);
    assert_eq!(env.status(&infra), "running");
    let pod_ns = ns_of(&env, &a, "cgroup");
    assert_eq!(
        ns_of(&env, &infra, "cgroup"),
        pod_ns,
        "the restarted infra has a cgroup namespace of its own"
    );
    assert_eq!(
        ns_of(&env, &b, "cgroup"),
        pod_ns,
        "a member started after the restart is not in the pod's cgroup namespace"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

/// Item 8: two `pod create --name x` at once: one pod; the other command fails with
/// Podman's message and leaves nothing (no second pod, infra container or pin).
#[test]
fn two_pod_creates_with_one_name_make_one_pod() {
    let env = TestEnv::new("race-pod-name");
    env.import_busybox();
    for _ in 0..5 {
        let pod = name("pod");
        let outs: Vec<Output> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (env, pod) = (&env, &pod);
                    s.spawn(move || env.run(&["pod", "create", "--name", pod]))
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (ok, failed): (Vec<_>, Vec<_>) = outs.into_iter().partition(|o| o.code() == 0);
        assert_eq!(ok.len(), 1, "{ok:?}{failed:?}");
        let failed = failed.into_iter().next().unwrap();
        let expected =
            format!("Error: adding pod to state: name \"{pod}\" is in use: pod already exists\n");
        assert_eq!(failed.code(), 125, "{failed:?}");
        assert_eq!(failed.stderr, expected);
        assert_eq!(lines(&env.ok(&["pod", "ps", "-q", "--no-trunc"])).len(), 1);
        assert_eq!(
            lines(&env.ok(&["pod", "ps", "-q", "--no-trunc"])),
            [ok[0].stdout.trim().to_string()]
        );
        // One infra container, the winner's.
        let infras = lines(&env.ok(&["ps", "-a", "--format", "{{.Pod}}"]));
        assert_eq!(infras, [ok[0].stdout.trim()[..12].to_string()]);
        env.ok(&["pod", "start", &pod]);
        env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
        assert!(env.ids_all().is_empty());
        let dirs: Vec<_> = std::fs::read_dir(env.runroot.join("pods"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(dirs.is_empty(), "pod run dirs left: {dirs:?}");
    }
    env.assert_no_mounts();
    env.assert_no_processes();
}
