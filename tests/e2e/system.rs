//! `system prune`, `system reset` and `system check [--repair]`, as a Podman user runs them.

use std::time::Duration;

use crate::leftovers::{Watch, host_veth, leases_of, rules_of};
use crate::util::{IMG, TestEnv, free_port, http_get, lines, name, wait_until};

/// A container publishing `port` that serves `body` at /i.
fn serve(env: &TestEnv, ctr: &str, port: u16) {
    let script = format!("mkdir -p /www && echo {ctr} > /www/i && exec httpd -f -p 80 -h /www");
    let published = format!("{port}:80");
    env.ok(&[
        "run", "-d", "--name", ctr, "-p", &published, IMG, "sh", "-c", &script,
    ]);
    answers(port, ctr);
}

#[track_caller]
fn answers(port: u16, body: &str) {
    let addr = format!("127.0.0.1:{port}");
    let want = format!("{body}\n");
    wait_until(
        &format!("{body} to answer on port {port}"),
        Duration::from_secs(15),
        || http_get(&addr, "/i").as_deref() == Some(want.as_str()),
    );
}

/// Forget a container behind the engine's back, as a lost database row would: its row, and
/// with `ledger` also what the ledger says it holds.
fn lose_row(env: &TestEnv, id: &str, ledger: bool) {
    let db = rusqlite::Connection::open(env.root.join("db.sqlite")).expect("open the database");
    db.busy_timeout(Duration::from_secs(30)).unwrap();
    db.execute("DELETE FROM containers WHERE id = ?1", [id])
        .expect("delete the row");
    if ledger {
        db.execute(
            "DELETE FROM resources WHERE owner = ?1",
            [format!("container:{id}")],
        )
        .expect("delete its ledger rows");
    }
}

#[test]
fn check_repair_releases_what_a_lost_container_held_and_nothing_of_another_store() {
    let env = TestEnv::new("check-repair");
    env.import_busybox();
    // Another store's container, alive: never touched.
    let other = TestEnv::new("check-other");
    other.import_busybox();
    let other_port = free_port();
    let other_ctr = name("other");
    serve(&other, &other_ctr, other_port);

    for ledger in [false, true] {
        let port = free_port();
        let ctr = name("lost");
        serve(&env, &ctr, port);
        let id = env.inspect(&ctr, "{{.Id}}");
        let watch = Watch {
            ids: vec![id.clone()],
            port,
            addr: Some(env.inspect(&ctr, "{{.NetworkSettings.IPAddress}}")),
            veth: host_veth(&env.runroot.join("netns").join(format!("netns-{id}"))),
        };
        lose_row(&env, &id, ledger);
        assert!(!env.names_all().contains(&ctr), "the row is gone");
        let when = if ledger {
            "row and ledger lost"
        } else {
            "row lost"
        };

        // Found, named, not yet released: check alone changes nothing.
        let found = env
            .run(&["system", "check"])
            .assert_error(125, &["left behind"]);
        assert!(
            found.stdout.contains(&id[..12]),
            "{when}: check names the lost container:{found:?}"
        );
        assert!(
            !leases_of(&env, &watch.ids).is_empty(),
            "{when}: not released yet"
        );
        assert!(!rules_of(&watch.ids, Some(port), None).is_empty());

        let repaired = env.run(&["system", "check", "--repair"]);
        assert_eq!(repaired.code(), 0, "{when}:{repaired:?}");
        assert!(repaired.stdout.contains("Released"), "{repaired:?}");
        watch.assert_gone(&env, when);
        // The port and address are free again: a new container serves there.
        serve(&env, &name("again"), port);
        env.ok(&["rm", "-af", "-t", "0"]);
    }
    // The other store's container still serves; its leases and rules are all there.
    answers(other_port, &other_ctr);
    let other_id = other.inspect(&other_ctr, "{{.Id}}");
    assert!(!leases_of(&other, std::slice::from_ref(&other_id)).is_empty());
    assert!(!rules_of(&[other_id], Some(other_port), None).is_empty());
    other.ok(&["system", "check"]);
}

#[test]
fn check_repair_releases_an_orphaned_pin_and_exit_file() {
    let env = TestEnv::new("check-pin");
    env.import_busybox();
    env.ok(&["ps"]);
    // A namespace pin and an exit file nobody records (as a crash of an older peapod left).
    let pin = env.runroot.join("netns/netns-0123456789abcdef");
    std::fs::create_dir_all(pin.parent().unwrap()).unwrap();
    std::fs::write(&pin, "").unwrap();
    let bind = std::process::Command::new("mount")
        .args(["--bind", "/proc/self/ns/net"])
        .arg(&pin)
        .status()
        .expect("mount");
    assert!(bind.success());
    let exit = env.runroot.join("exits/0123456789abcdef");
    std::fs::create_dir_all(exit.parent().unwrap()).unwrap();
    std::fs::write(&exit, "0").unwrap();
    let found = env
        .run(&["system", "check"])
        .assert_error(125, &["left behind"]);
    assert!(
        found.stdout.contains(&pin.display().to_string()),
        "{found:?}"
    );
    assert!(
        found.stdout.contains(&exit.display().to_string()),
        "{found:?}"
    );
    env.ok(&["system", "check", "--repair"]);
    env.assert_no_mounts();
    assert!(!pin.exists() && !exit.exists());
    env.ok(&["system", "check"]);
}

#[test]
fn system_prune_removes_what_nothing_uses() {
    let env = TestEnv::new("sys-prune");
    env.import_busybox();
    let running = name("run");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &running,
        "-v",
        "used:/data",
        IMG,
        "sleep",
        "1000",
    ]);
    let exited = name("exited");
    env.ok(&["run", "--name", &exited, IMG, "true"]);
    let created = name("created");
    env.ok(&[
        "create", "--name", &created, "--label", "keep=yes", IMG, "true",
    ]);
    env.ok(&["volume", "create", "unused"]);
    let net = name("net");
    env.ok(&["network", "create", &net]);
    let pod = name("pod");
    env.ok(&["pod", "create", "--name", &pod]);
    env.ok(&["pod", "start", &pod]);
    env.ok(&["pod", "stop", "-t", "0", &pod]);
    let pod_id = env
        .ok(&["pod", "inspect", "--format", "{{.Id}}", &pod])
        .trim()
        .to_string();

    // Asked and refused: nothing goes.
    let refused = env.peapod(&["system", "prune"]).stdin("n\n").output();
    assert_eq!(refused.code(), 0, "{refused:?}");
    assert!(
        refused.stdout.starts_with("WARNING! This command removes:"),
        "{refused:?}"
    );
    assert!(
        refused
            .stdout
            .contains("Are you sure you want to continue? [y/N]")
    );
    assert_eq!(env.names_all().len(), 4, "{refused:?}");

    // A filter narrows it: only the labelled container goes.
    let exited_id = env.inspect(&exited, "{{.Id}}");
    let created_id = env.inspect(&created, "{{.Id}}");
    let only = env.ok(&["system", "prune", "-f", "--filter", "label=keep=yes"]);
    assert_eq!(
        lines(&only)[..2],
        ["Deleted Containers".to_string(), created_id],
        "{only}"
    );
    assert!(!only.contains(&exited_id), "{only}");
    assert!(
        !only.contains("Deleted Pods") && !only.contains("Deleted Networks"),
        "{only}"
    );

    let out = env.ok(&["system", "prune", "-f", "--volumes"]);
    let l = lines(&out);
    let section = |h: &str| -> Vec<String> {
        l.iter()
            .skip_while(|x| *x != h)
            .skip(1)
            .take_while(|x| !x.starts_with("Deleted ") && !x.starts_with("Total "))
            .cloned()
            .collect()
    };
    assert_eq!(section("Deleted Containers"), [exited_id], "{out}");
    assert_eq!(section("Deleted Pods"), [pod_id], "{out}");
    assert_eq!(section("Deleted Volumes"), ["unused"], "{out}");
    assert_eq!(section("Deleted Networks"), [net], "{out}");
    assert!(
        l.last()
            .is_some_and(|x| x.starts_with("Total reclaimed space: ")),
        "{out}"
    );
    // What is in use stays.
    assert_eq!(env.names_all(), std::slice::from_ref(&running));
    assert_eq!(lines(&env.ok(&["volume", "ls", "-q"])), ["used"]);
    assert_eq!(lines(&env.ok(&["pod", "ps", "-q"])).len(), 0);
    // -a takes unused images too; the running container's stays.
    env.ok(&["tag", IMG, "localhost/spare"]);
    env.ok(&[
        "import",
        &peapod_tests::busybox_rootfs_tar()
            .unwrap()
            .display()
            .to_string(),
    ]);
    let all = env.ok(&["system", "prune", "-a", "-f"]);
    assert!(all.contains("Deleted Images"), "{all}");
    assert_eq!(env.status(&running), "running");
    assert!(env.ok(&["images", "-q"]).lines().count() == 1, "{all}");
    env.ok(&["rm", "-f", "-t", "0", &running]);
    env.assert_no_mounts();
}

#[test]
fn system_reset_removes_everything_and_releases_it() {
    let env = TestEnv::new("sys-reset");
    env.import_busybox();
    let port = free_port();
    let ctr = name("r");
    serve(&env, &ctr, port);
    let id = env.inspect(&ctr, "{{.Id}}");
    let pod_port = free_port();
    let pod = name("rp");
    env.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "-p",
        &format!("{pod_port}:80"),
    ]);
    env.ok(&["pod", "start", &pod]);
    let pod_id = env
        .ok(&["pod", "inspect", "--format", "{{.Id}}", &pod])
        .trim()
        .to_string();
    env.ok(&["volume", "create", "v"]);
    let net = name("rn");
    env.ok(&["network", "create", &net]);
    let watch = Watch {
        ids: vec![id.clone(), pod_id],
        port,
        addr: Some(env.inspect(&ctr, "{{.NetworkSettings.IPAddress}}")),
        veth: host_veth(&env.runroot.join("netns").join(format!("netns-{id}"))),
    };

    let refused = env.peapod(&["system", "reset"]).stdin("n\n").output();
    assert_eq!(refused.code(), 0);
    assert!(
        refused.stdout.contains("WARNING! This will remove:"),
        "{refused:?}"
    );
    assert_eq!(env.status(&ctr), "running");

    env.ok(&["system", "reset", "-f"]);
    assert!(!env.root.exists(), "the root is gone");
    assert!(rules_of(&[], Some(pod_port), None).is_empty());
    watch.assert_gone(&env, "system reset");
    // A fresh store in the same place works.
    env.import_busybox();
    serve(&env, &name("after"), port);
}

#[test]
fn disk_usage_counts_what_is_used() {
    let env = TestEnv::new("sys-df");
    env.import_busybox();
    let line = |kind: &str| -> String {
        env.ok(&[
            "system",
            "df",
            "--format",
            "{{.Type}}:{{.Total}}:{{.Active}}",
        ])
        .lines()
        .find(|l| l.starts_with(kind))
        .unwrap_or_default()
        .to_string()
    };
    assert_eq!(line("Images"), "Images:1:0");
    assert_eq!(line("Containers"), "Containers:0:0");
    assert_eq!(line("Local Volumes"), "Local Volumes:0:0");
    let c1 = name("df1");
    let c2 = name("df2");
    env.ok(&[
        "run",
        "-v",
        "/v1",
        "--name",
        &c1,
        IMG,
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /big",
    ]);
    env.ok(&[
        "run", "-d", "-v", "/v2", "--name", &c2, IMG, "sleep", "1000",
    ]);
    assert_eq!(line("Images"), "Images:1:1");
    assert_eq!(line("Containers"), "Containers:2:1");
    assert_eq!(line("Local Volumes"), "Local Volumes:2:2");
    let table = env.ok(&["system", "df"]);
    assert!(
        table.starts_with("TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE\n"),
        "{table}"
    );
    // The exited container's 100 kB writable layer is reclaimable.
    let containers = table.lines().find(|l| l.starts_with("Containers")).unwrap();
    assert!(containers.contains("100kB (100%)"), "{containers}");
    let verbose = env.ok(&["system", "df", "-v"]);
    assert!(verbose.contains("Images space usage:"), "{verbose}");
    assert!(
        verbose
            .lines()
            .any(|l| l.contains(&c1) && l.contains(" 1 ")),
        "{verbose}"
    );
    env.ok(&["rm", "-f", "-t", "0", &c1, &c2]);
}

#[test]
fn info_has_podmans_host_fields() {
    let env = TestEnv::new("sys-info");
    let os = std::fs::read_to_string("/etc/os-release").unwrap();
    let id = os
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .unwrap()
        .trim_matches('"')
        .to_string();
    let cpus = std::thread::available_parallelism().unwrap().get();
    let out = env.ok(&[
        "info",
        "--format",
        "{{.Host.Distribution.Distribution}} {{.Host.CPUs}} {{.Host.OCIRuntime.Name}} {{.Host.ServiceIsRemote}}",
    ]);
    let runtime = env.ok(&["info", "--format", "{{.Host.OCIRuntime.Path}}"]);
    let name = std::path::Path::new(runtime.trim())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(out.trim(), format!("{id} {cpus} {name} false"));
    let yaml = env.ok(&["info"]);
    assert!(yaml.contains(&format!("\n  cpus: {cpus}\n")), "{yaml}");
    assert!(yaml.contains("\n  distribution:\n"), "{yaml}");
}
