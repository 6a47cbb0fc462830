//! Bad input gets `Error: …` naming the object, Podman's exit code, and leaves nothing
//! behind: no mount, no monitor process, no container or image row, no stray file.

use crate::util::{IMG, TestEnv, name};

/// After a failed command: no mount and no process left mentioning the env.
fn assert_clean(env: &TestEnv) {
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn unknown_image() {
    let env = TestEnv::new("bad-image");
    env.import_busybox();
    let img = format!("localhost/{}", name("nosuchimage"));
    env.run(&["run", "--rm", &img, "true"])
        .assert_error(125, &[&img]);
    env.run(&["create", &img, "true"])
        .assert_error(125, &[&img]);
    assert!(env.ids_all().is_empty(), "a failed run left a container");
    env.run(&["image", "inspect", &img])
        .assert_error(125, &[&img]);
    assert_clean(&env);
}

#[test]
fn unknown_container() {
    let env = TestEnv::new("bad-ctr");
    env.import_busybox();
    let c = name("nosuchctr");
    env.run(&["stop", &c])
        .assert_error(125, &[&c, "no such container"]);
    env.run(&["container", "inspect", &c])
        .assert_error(125, &[&c]);
    env.run(&["inspect", &c]).assert_error(125, &[&c]);
    env.run(&["logs", &c]).assert_error(125, &[&c]);
    env.run(&["start", &c]).assert_error(125, &[&c]);
    env.run(&["kill", &c]).assert_error(125, &[&c]);
    // podman rm: exit 1 when a named container does not exist (and nothing else failed).
    env.run(&["rm", &c])
        .assert_error(1, &[&c, "no such container"]);
    assert_clean(&env);
}

#[test]
fn name_already_in_use() {
    let env = TestEnv::new("bad-name");
    env.import_busybox();
    let c = name("taken");
    env.ok(&["create", "--name", &c, IMG, "true"]);
    let before = env.ids_all();
    env.run(&["run", "-d", "--name", &c, IMG, "sleep", "1000"])
        .assert_error(125, &[&c]);
    env.run(&["create", "--name", &c, IMG, "true"])
        .assert_error(125, &[&c]);
    assert_eq!(env.ids_all(), before, "a failed create left a container");
    assert_clean(&env);
}

#[test]
fn ambiguous_id_prefix_is_an_error() {
    let env = TestEnv::new("bad-prefix");
    env.import_busybox();
    // With 17 containers, two ids share their first hex digit (pigeonhole).
    let ids: Vec<String> = (0..17)
        .map(|_| env.ok(&["create", IMG, "true"]).trim().to_owned())
        .collect();
    let digit = (0..ids.len())
        .find_map(|i| {
            let c = &ids[i][..1];
            ids[i + 1..]
                .iter()
                .any(|o| o.starts_with(c))
                .then(|| c.to_owned())
        })
        .expect("pigeonhole");
    env.run(&["inspect", "--format", "{{.Id}}", &digit])
        .assert_error(125, &[]);
}

#[test]
fn broken_tarball_leaves_nothing() {
    let env = TestEnv::new("bad-tar");
    env.import_busybox();
    let files_before = env.store_file_count();
    let images_before = env.ok(&["images", "-q", "--no-trunc"]);

    // Garbage.
    let garbage = env.dir.join("garbage.tar");
    std::fs::write(&garbage, b"this is not a tarball\n".repeat(100)).unwrap();
    env.run(&["import", garbage.to_str().unwrap(), "localhost/garbage"])
        .assert_error(125, &[]);
    // A real tarball cut in the middle of a file's data.
    let whole = std::fs::read(peapod_tests::busybox_rootfs_tar().unwrap()).unwrap();
    let cut = env.dir.join("cut.tar");
    std::fs::write(&cut, &whole[..whole.len() / 2 + 100]).unwrap();
    env.run(&["import", cut.to_str().unwrap(), "localhost/cut"])
        .assert_error(125, &[]);
    // A missing file.
    let missing = env.dir.join("missing.tar");
    env.run(&["import", missing.to_str().unwrap(), "localhost/missing"])
        .assert_error(125, &["missing.tar"]);

    for img in ["localhost/garbage", "localhost/cut", "localhost/missing"] {
        env.run(&["image", "exists", img]).assert_code(1);
    }
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]), images_before);
    assert_eq!(
        env.store_file_count(),
        files_before,
        "a failed import left files in the store"
    );
    assert_clean(&env);
}

#[test]
fn bad_flag_values() {
    let env = TestEnv::new("bad-flags");
    env.import_busybox();
    env.run(&["run", "--stop-timeout", "abc", IMG, "true"])
        .assert_error(125, &[]);
    env.run(&["stop", "-t", "abc", "x"]).assert_error(125, &[]);
    env.run(&["run", "--no-such-flag", IMG, "true"])
        .assert_error(125, &[]);
    env.run(&["run", "--stop-signal", "NOTASIGNAL", IMG, "true"])
        .assert_error(125, &[]);
    env.run(&["run", "--env-file", "/nonexistent/env", IMG, "true"])
        .assert_error(125, &["/nonexistent/env"]);
    env.run(&["no-such-command"]).assert_error(125, &[]);
    let tar = peapod_tests::busybox_rootfs_tar().unwrap();
    env.run(&[
        "import",
        "--change",
        "BOGUS=x",
        tar.to_str().unwrap(),
        "localhost/bogus",
    ])
    .assert_error(125, &["BOGUS"]);
    env.run(&["image", "exists", "localhost/bogus"])
        .assert_code(1);
    assert!(env.ids_all().is_empty(), "a rejected run left a container");
    assert_clean(&env);
}

#[test]
fn failed_start_cleans_up() {
    // 127 from the runtime must not leave the rootfs mounted, a monitor, or (unlike Podman,
    // which keeps a "Created" container) a database row behind: the rule for bad input.
    let env = TestEnv::new("bad-start");
    env.import_busybox();
    let c = name("nocmd");
    env.run(&["run", "--name", &c, IMG, "no-such-binary"])
        .assert_error(127, &[]);
    assert!(
        !env.names_all().contains(&c),
        "a failed run left its container behind"
    );
    env.run(&["container", "exists", &c]).assert_code(1);
    assert_clean(&env);
    // The name is free again.
    env.ok(&["run", "--rm", "--name", &c, IMG, "true"]);
    assert_clean(&env);
}
