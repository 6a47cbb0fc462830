//! `--group-add` and `--userns` as Podman 4.3's 170-run-userns expects them: as root and as
//! the rootless test user of `rootless_util`.

use super::rootless_util::*;
use super::util::{self, IMG, TestEnv};

#[test]
fn group_add_gives_the_process_more_groups() {
    let env = TestEnv::new("group-add");
    env.import_busybox();
    // A gid and a name from the image's /etc/group (busybox's nogroup is 65534).
    let out = env.ok(&[
        "run",
        "--rm",
        "--group-add",
        "457",
        "--group-add",
        "nogroup",
        IMG,
        "id",
    ]);
    assert!(
        out.contains("groups=") && out.contains("457") && out.contains("65534(nogroup)"),
        "{out}"
    );
    let status = env.ok(&[
        "run",
        "--rm",
        "--group-add",
        "457",
        IMG,
        "grep",
        "^Groups:",
        "/proc/self/status",
    ]);
    assert!(
        status.split_whitespace().any(|g| g == "457"),
        "the kernel's view: {status}"
    );

    // exec's processes have them too, with or without --user.
    let web = util::name("grp");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &web,
        "--group-add",
        "457",
        IMG,
        "sleep",
        "300",
    ]);
    for user in [&[][..], &["--user", "nobody"][..]] {
        let args = [&["exec"][..], user, &[web.as_str(), "id", "-G"][..]].concat();
        let out = env.ok(&args);
        assert!(
            out.split_whitespace().any(|g| g == "457"),
            "{args:?}: {out}"
        );
    }
    env.ok(&["rm", "-f", "-t", "0", &web]);

    // keep-groups stands alone: Podman's words, nothing made.
    env.run(&[
        "run",
        "--rm",
        "--group-add",
        "keep-groups",
        "--group-add",
        "457",
        IMG,
        "id",
    ])
    .assert_error(
        125,
        &["the '--group-add keep-groups' option is not allowed with any other --group-add options"],
    );
    assert!(env.ids_all().is_empty());
    // Alone it is Podman's annotation for crun (runc ignores it) and no group is stored.
    let kept = util::name("keep");
    env.ok(&[
        "create",
        "--name",
        &kept,
        "--group-add",
        "keep-groups",
        IMG,
        "true",
    ]);
    assert_eq!(
        env.inspect(
            &kept,
            "{{index .Config.Annotations \"run.oci.keep_original_groups\"}} {{.HostConfig.GroupAdd}}"
        ),
        "1 []"
    );

    // A name the image does not know fails at start, naming the group and the container.
    let missing = util::name("nogrp");
    let id = env.ok(&[
        "create",
        "--name",
        &missing,
        "--group-add",
        "nosuch",
        IMG,
        "true",
    ]);
    assert_eq!(
        env.inspect(&missing, "{{.HostConfig.GroupAdd}}"),
        "[nosuch]"
    );
    env.run(&["start", &missing]).assert_error(
        125,
        &[
            &format!("looking up supplemental groups for container {}", id.trim()),
            "Unable to find group nosuch: no matching entries in group file",
        ],
    );
    env.ok(&["rm", "-f", &missing, &kept]);
    env.assert_no_mounts();
}

#[test]
fn userns_modes_as_root_are_podmans() {
    let env = TestEnv::new("userns-root");
    env.import_busybox();
    for (mode, want) in [
        (
            "keep-id",
            "Error: keep-id is only supported in rootless mode",
        ),
        ("nomap", "Error: nomap is only supported in rootless mode"),
        ("bogus", "Error: unrecognized namespace mode bogus passed"),
        (
            "private",
            "Error: must provide at least one UID or GID mapping to configure a user namespace",
        ),
        (
            "auto",
            "--userns=auto: a user namespace of the container's own is not supported by peapod yet",
        ),
    ] {
        let flag = format!("--userns={mode}");
        env.run(&["run", "--rm", &flag, IMG, "id", "-u"])
            .assert_error(125, &[want]);
    }
    env.run(&["run", "--rm", "--uidmap", "0:200000:5000", IMG, "true"])
        .assert_error(
            125,
            &["--uidmap=0:200000:5000: a user namespace of the container's own is not supported by peapod yet"],
        );
    assert!(env.ids_all().is_empty(), "nothing is left");
    // host is what peapod does anyway: the host's ids, and inspect shows no mode (Podman's).
    let name = util::name("hostns");
    env.ok(&["create", "--name", &name, "--userns=host", IMG, "true"]);
    assert_eq!(env.inspect(&name, "[{{.HostConfig.UsernsMode}}]"), "[]");
    let map = env.ok(&[
        "run",
        "--rm",
        "--userns",
        "host",
        IMG,
        "cat",
        "/proc/self/uid_map",
    ]);
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"]
    );
    env.ok(&["rm", &name]);
}

#[test]
fn rootless_userns_modes_are_refused_and_group_add_works() {
    let u = users();
    let env = UserEnv::new(&u.rl, "userns");
    env.import_busybox();
    for mode in ["keep-id", "nomap", "auto", "ns:/proc/self/ns/user"] {
        let flag = format!("--userns={mode}");
        env.run(&["run", "--rm", "--network", "none", &flag, IMG, "true"])
            .assert_error(
                125,
                &[&format!(
                    "--userns={mode}: a user namespace of the container's own is not supported by peapod yet"
                )],
            );
    }
    assert!(util::lines(&env.ok(&["ps", "-aq"])).is_empty());
    // The user's range maps gid 457: the group is the process's.
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--group-add",
        "457",
        IMG,
        "id",
        "-G",
    ]);
    assert!(out.split_whitespace().any(|g| g == "457"), "{out}");
}
