//! `volume mount` / `volume unmount`: a volume's files reached from the host, as Podman's
//! users (and 160-volumes) use them; a volume with a mount of its own stays mounted while
//! held, whoever else lets go; refusals with Podman's words.

use crate::util::{IMG, TestEnv, name};

fn mounted(env: &TestEnv) -> Vec<std::path::PathBuf> {
    peapod_tests::mounts_under(&env.root.join("volumes")).unwrap()
}

#[test]
fn volume_mount_reaches_a_volume_from_the_host() {
    let env = TestEnv::new("vol-mount");
    env.import_busybox();
    // A plain local volume: its data directory, written from the host, read in a container.
    let v = name("mv");
    env.ok(&["volume", "create", &v]);
    let dir = env.ok(&["volume", "mount", &v]).trim().to_string();
    assert_eq!(
        dir,
        env.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", &v])
            .trim()
    );
    std::fs::write(std::path::Path::new(&dir).join("f"), "from the host\n").unwrap();
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "-v",
            &format!("{v}:/vol"),
            IMG,
            "cat",
            "/vol/f"
        ]),
        "from the host\n"
    );
    assert_eq!(env.ok(&["volume", "unmount", &v]).trim(), v);

    // A tmpfs volume: mounted by `volume mount`, kept through a container's use, gone at
    // `unmount`.
    let t = name("tv");
    env.ok(&[
        "volume",
        "create",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        &t,
    ]);
    let tdir = env.ok(&["volume", "mount", &t]).trim().to_string();
    assert_eq!(mounted(&env), vec![std::path::PathBuf::from(&tdir)]);
    std::fs::write(std::path::Path::new(&tdir).join("g"), "in tmpfs\n").unwrap();
    assert_eq!(
        env.ok(&["run", "--rm", "-v", &format!("{t}:/t"), IMG, "cat", "/t/g"]),
        "in tmpfs\n"
    );
    assert_eq!(
        mounted(&env).len(),
        1,
        "the container's cleanup kept the user's hold"
    );
    env.ok(&["volume", "unmount", &t]);
    assert!(mounted(&env).is_empty(), "{:?}", mounted(&env));
    // Unmount again: nothing held, nothing to do.
    env.ok(&["volume", "unmount", &t]);

    // A volume that does not exist.
    env.run(&["volume", "mount", "nosuchvolume"])
        .assert_error(125, &["nosuchvolume"]);
    env.ok(&["volume", "rm", &v, &t]);
    env.assert_no_mounts();
}

#[test]
fn volume_mount_is_refused_outside_a_users_namespace() {
    let env = TestEnv::new("vol-mount-rl");
    // An unprivileged user, not inside `peapod unshare`: Podman's refusal, before anything.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&env.peapod)
        .args(["volume", "mount", "any"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(
            "Error: cannot run command \"peapod volume mount\" in rootless mode, must execute `peapod unshare` first"
        ),
        "{err}"
    );
}
