//! `mount`/`umount` of containers and images, and `--mount type=image`, as Podman's
//! 060-mount tests use them, with the mount counts checked against the kernel's mount table.

use std::path::Path;

use crate::util::{IMG, TestEnv, lines, name};

fn mounted(p: &str) -> bool {
    peapod_tests::mounts_under(Path::new(p))
        .unwrap()
        .iter()
        .any(|m| m == Path::new(p))
}

#[test]
fn container_mount_and_umount() {
    let env = TestEnv::new("mnt-ctr");
    env.import_busybox();
    let c = name("mnt");
    env.ok(&[
        "run",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "echo content > /tmp/f",
    ]);
    let path = env.ok(&["mount", &c]).trim().to_string();
    assert!(mounted(&path), "{path} is a mount point");
    assert_eq!(
        std::fs::read_to_string(Path::new(&path).join("tmp/f")).unwrap(),
        "content\n"
    );
    let id = env.inspect(&c, "{{.Id}}");
    assert_eq!(
        env.ok(&["mount", "--notruncate"]),
        format!("{id}  {path}\n")
    );
    assert_eq!(env.ok(&["mount"]), format!("{}  {path}\n", &id[..12]));
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["mount", "--format", "json"])).unwrap();
    assert_eq!(json[0]["id"], id);
    assert_eq!(json[0]["Names"][0], c.as_str());
    assert_eq!(json[0]["mountpoint"], path.as_str());
    // Two holds: the first umount keeps it, the second lets it go.
    assert_eq!(env.ok(&["container", "mount", &c]).trim(), path);
    assert_eq!(env.ok(&["umount", &c]), format!("{c}\n"));
    assert!(mounted(&path));
    assert_eq!(env.ok(&["unmount", &c]), format!("{c}\n"));
    assert!(!mounted(&path), "unmounted after the last umount");
    assert!(!Path::new(&path).join("tmp/f").exists());
    assert_eq!(env.ok(&["mount"]), "");
    // -f lets go of every hold; -a of every container; rm of a mounted container unmounts.
    env.ok(&["mount", &c]);
    env.ok(&["mount", &c]);
    assert_eq!(env.ok(&["umount", "-f", &c]), format!("{c}\n"));
    assert!(!mounted(&path));
    env.ok(&["mount", &c]);
    assert_eq!(env.ok(&["umount", "-a"]), format!("{id}\n"));
    assert!(!mounted(&path));
    env.ok(&["mount", &c]);
    env.ok(&["rm", &c]);
    assert!(!mounted(&path));
    env.run(&["umount", "nosuch"])
        .assert_error(125, &["no container with name or ID \"nosuch\" found"]);
    env.assert_no_mounts();
}

#[test]
fn running_container_stays_mounted_for_its_own_use() {
    let env = TestEnv::new("mnt-run");
    env.import_busybox();
    let c = name("mntrun");
    env.ok(&["run", "-d", "--name", &c, IMG, "sleep", "1000"]);
    let id = env.inspect(&c, "{{.Id}}");
    let listed = env.ok(&["mount", "--notruncate"]);
    assert!(
        listed.starts_with(&id),
        "a running container is listed: {listed}"
    );
    let path = env.ok(&["mount", &c]).trim().to_string();
    assert_eq!(env.ok(&["umount", &c]), format!("{c}\n"));
    assert!(
        mounted(&path),
        "the running container still holds its rootfs"
    );
    // A held mount outlives the container's stop, until umount.
    env.ok(&["mount", &c]);
    env.ok(&["stop", "-t", "0", &c]);
    assert!(mounted(&path));
    env.ok(&["umount", &c]);
    assert!(!mounted(&path));
    env.ok(&["start", &c]);
    assert_eq!(env.ok(&["exec", &c, "echo", "ok"]), "ok\n");
}

#[test]
fn image_mount_and_umount() {
    let env = TestEnv::new("mnt-img");
    let iid = env.import_busybox();
    assert_eq!(env.ok(&["image", "umount", "-a"]), "");
    assert_eq!(env.inspect(IMG, "{{.ID}}"), iid);
    let path = env.ok(&["image", "mount", IMG]).trim().to_string();
    assert!(mounted(&path));
    let all = env.ok(&["image", "mount", "-a"]);
    assert_eq!(lines(&all), vec![format!("{IMG}:latest  {path}")]);
    assert_eq!(
        std::fs::read_to_string(Path::new(&path).join("etc/group")).unwrap(),
        "root:x:0:\nnogroup:x:65534:\n"
    );
    assert!(
        std::fs::write(Path::new(&path).join("etc/x"), "y").is_err(),
        "read-only"
    );
    assert_eq!(
        env.ok(&["image", "mount"]),
        format!("{IMG}:latest  {path}\n")
    );
    assert_eq!(env.ok(&["image", "umount", "-f", IMG]), format!("{iid}\n"));
    assert!(!mounted(&path));
    assert_eq!(env.ok(&["image", "umount", IMG]), "");
    env.run(&["image", "umount", "no-such-container"])
        .assert_error(125, &["no-such-container: image not known"]);
    assert_eq!(env.ok(&["image", "mount"]), "");
    // Counted: two mounts, one umount keeps it.
    env.ok(&["image", "mount", IMG]);
    env.ok(&["image", "mount", IMG]);
    assert_eq!(env.ok(&["image", "unmount", IMG]), format!("{iid}\n"));
    assert!(mounted(&path));
    env.ok(&["image", "umount", IMG]);
    assert!(!mounted(&path));
    // rmi of a mounted image unmounts it.
    env.ok(&["tag", IMG, "localhost/other"]);
    let p2 = env
        .ok(&["image", "mount", "localhost/other"])
        .trim()
        .to_string();
    env.ok(&["rmi", "-f", &iid]);
    assert!(!mounted(&p2));
    env.assert_no_mounts();
}

#[test]
fn run_with_an_image_mount() {
    let env = TestEnv::new("mnt-type-img");
    let iid = env.import_busybox();
    let m = format!("type=image,src={IMG},dst=/image-mount");
    env.ok(&[
        "run",
        "--rm",
        "--mount",
        &m,
        IMG,
        "diff",
        "/etc/passwd",
        "/image-mount/etc/passwd",
    ]);
    let out = env.run(&[
        "run",
        "--rm",
        "--mount",
        &m,
        IMG,
        "touch",
        "/image-mount/read-only",
    ]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert_eq!(
        out.stderr.trim(),
        "touch: /image-mount/read-only: Read-only file system"
    );
    env.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("{m},rw=true"),
        IMG,
        "touch",
        "/image-mount/readwrite",
    ]);
    env.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("{m},readwrite=true"),
        IMG,
        "touch",
        "/image-mount/readwrite",
    ]);
    // Released at container removal when nobody else mounted the image.
    assert_eq!(env.ok(&["image", "umount", IMG]), "");
    // Not released when another holder is there.
    env.ok(&["image", "mount", IMG]);
    env.ok(&["run", "--rm", "--mount", &m, IMG, "true"]);
    assert_eq!(env.ok(&["image", "umount", IMG]), format!("{iid}\n"));
    assert_eq!(env.ok(&["image", "umount", IMG]), "");
}

#[test]
fn image_mount_of_a_running_container_and_bad_input() {
    let env = TestEnv::new("mnt-type-img2");
    let iid = env.import_busybox();
    // A running container's view survives an image umount.
    let cid = env
        .ok(&[
            "run",
            "-d",
            "--mount",
            &format!("type=image,src={iid},dst=/image-mount,readwrite=true"),
            IMG,
            "sleep",
            "infinity",
        ])
        .trim()
        .to_string();
    assert_eq!(env.ok(&["image", "umount", IMG]), format!("{iid}\n"));
    assert_eq!(env.ok(&["image", "umount", IMG]), "");
    env.ok(&[
        "exec",
        &cid,
        "diff",
        "/etc/passwd",
        "/image-mount/etc/passwd",
    ]);
    assert_eq!(
        env.inspect(&cid, "{{(index .Mounts 0).Type}} {{(index .Mounts 0).Source}} {{(index .Mounts 0).Destination}} {{(index .Mounts 0).RW}}"),
        format!("image {iid} /image-mount true")
    );
    env.ok(&["rm", "-t", "0", "-f", &cid]);
    // Bad input: an unknown image, a wrong option; nothing is created.
    env.run(&[
        "run",
        "--rm",
        "--mount",
        "type=image,src=nosuch,dst=/x",
        IMG,
        "true",
    ])
    .assert_error(125, &["nosuch: image not known"]);
    env.run(&[
        "create",
        "--mount",
        &format!("type=image,src={IMG},dst=/x,bind-propagation=shared"),
        IMG,
        "true",
    ])
    .assert_error(125, &["bind-propagation: invalid mount option"]);
    env.run(&["create", "--mount", "type=image,dst=/x", IMG, "true"])
        .assert_error(125, &["must set source and destination for image volume"]);
    assert_eq!(env.ok(&["ps", "-a", "-q"]), "");
    env.assert_no_mounts();
}
