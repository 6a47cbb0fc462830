//! Volumes and mounts: named and anonymous volumes, binds, tmpfs, `--volumes-from`, copy-up,
//! `:ro`, `U`, the `volume` commands, inspect's `Mounts`, and hostile or bad input.
//! Outputs, messages and exit codes were checked against Podman 4.3 (runc, cgroupfs) on this
//! host, except where a comment says peapod refuses what Podman allows.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::util::{IMG, TestEnv, lines, name};

pub(crate) fn volume_names(env: &TestEnv) -> Vec<String> {
    lines(&env.ok(&["volume", "ls", "-q"]))
}

pub(crate) fn data_dir(env: &TestEnv, vol: &str) -> PathBuf {
    PathBuf::from(
        env.ok(&["volume", "inspect", "--format", "{{.Mountpoint}}", vol])
            .trim(),
    )
}

/// After a refused command: no container, no volume, no mount, no process.
pub(crate) fn assert_nothing_created(env: &TestEnv) {
    assert!(
        env.ids_all().is_empty(),
        "a refused command left a container"
    );
    assert!(
        volume_names(env).is_empty(),
        "a refused command left a volume"
    );
    let vols = env.root.join("volumes");
    let left: Vec<_> = std::fs::read_dir(&vols)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "volume directories left: {left:?}");
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn named_volume_outlives_its_containers() {
    let env = TestEnv::new("vol-named");
    env.import_busybox();
    let vol = name("data");
    let (w, r) = (name("writer"), name("reader"));
    // Created on first use.
    env.ok(&[
        "run",
        "--name",
        &w,
        "-v",
        &format!("{vol}:/data"),
        IMG,
        "sh",
        "-c",
        "echo hello > /data/greeting",
    ]);
    assert_eq!(volume_names(&env), vec![vol.clone()]);
    let out = env.ok(&[
        "run",
        "--name",
        &r,
        "-v",
        &format!("{vol}:/srv"),
        IMG,
        "cat",
        "/srv/greeting",
    ]);
    assert_eq!(out, "hello\n");
    env.ok(&["rm", &w, &r]);
    assert!(env.ids_all().is_empty());
    env.ok(&["volume", "exists", &vol]);
    let data = data_dir(&env, &vol);
    assert_eq!(data, env.root.join("volumes").join(&vol).join("_data"));
    assert_eq!(
        std::fs::read_to_string(data.join("greeting")).unwrap(),
        "hello\n"
    );
    // A third container, after both were removed, still reads it.
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/d"),
        IMG,
        "cat",
        "/d/greeting",
    ]);
    assert_eq!(out, "hello\n");
    env.assert_no_mounts();
}

#[test]
fn copy_up_fills_a_new_volume_unless_nocopy() {
    let env = TestEnv::new("vol-copyup");
    env.import_busybox();
    let (cu, nc) = (name("etc"), name("etc-nocopy"));
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{cu}:/etc"),
        IMG,
        "ls",
        "/etc",
    ]);
    let files = lines(&out);
    assert!(
        files.contains(&"passwd".to_string()) && files.contains(&"group".to_string()),
        "the image's /etc was not copied into the new volume: {files:?}"
    );
    let data = data_dir(&env, &cu);
    let passwd = std::fs::read_to_string(data.join("passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
    let meta = std::fs::metadata(data.join("passwd")).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o644, 0));
    // Copied once only: a file removed from the volume does not come back.
    env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{cu}:/etc"),
        IMG,
        "rm",
        "/etc/group",
    ]);
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{cu}:/etc"),
        IMG,
        "ls",
        "/etc",
    ]);
    assert!(!lines(&out).contains(&"group".to_string()), "{out}");

    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{nc}:/etc:nocopy"),
        IMG,
        "ls",
        "/etc",
    ]);
    let files = lines(&out);
    assert!(
        !files.contains(&"passwd".to_string()) && !files.contains(&"group".to_string()),
        "nocopy copied the image's files: {files:?}"
    );
    // The same with --mount.
    let m = name("mnt-nocopy");
    let out = env.ok(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=volume,src={m},dst=/etc,volume-nocopy"),
        IMG,
        "ls",
        "/etc",
    ]);
    assert!(!lines(&out).contains(&"passwd".to_string()), "{out}");
}

/// An image whose volume path is a symlink out of the rootfs: copy-up resolves it inside the
/// rootfs and copies nothing from the host.
#[test]
fn copy_up_never_follows_a_symlink_out_of_the_rootfs() {
    let env = TestEnv::new("vol-copyup-escape");
    let base = std::fs::read(peapod_tests::busybox_rootfs_tar().unwrap()).unwrap();
    let secret_dir = env.dir.join("secret");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("key"), "host secret").unwrap();
    // The busybox rootfs plus `/evil -> <host secret dir>` and `/data/up -> ../../..`.
    let tar_path = env.dir.join("evil.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
        let mut a = tar::Archive::new(&base[..]);
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let mut h = e.header().clone();
            let path = e.path().unwrap().into_owned();
            b.append_data(&mut h, path, &mut e).unwrap();
        }
        let link = |b: &mut tar::Builder<std::fs::File>, path: &str, target: &str| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, path, target).unwrap();
        };
        link(&mut b, "evil", secret_dir.to_str().unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        b.append_data(&mut h, "data/", std::io::empty()).unwrap();
        link(&mut b, "data/up", "../../../../../../..");
        b.finish().unwrap();
    }
    env.ok(&["import", tar_path.to_str().unwrap(), "localhost/evil"]);
    let (v1, v2) = (name("evil"), name("data"));
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{v1}:/evil"),
        "localhost/evil",
        "ls",
        "-A",
        "/evil",
    ]);
    assert_eq!(out, "", "copy-up followed /evil to the host");
    assert!(!data_dir(&env, &v1).join("key").exists());
    env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{v2}:/data"),
        "localhost/evil",
        "true",
    ]);
    let d2 = data_dir(&env, &v2);
    let up = std::fs::symlink_metadata(d2.join("up")).unwrap();
    assert!(
        up.file_type().is_symlink(),
        "the symlink was not copied as a link"
    );
    assert_eq!(std::fs::read_dir(&d2).unwrap().count(), 1);
    // The host's secret is untouched.
    assert_eq!(
        std::fs::read_to_string(secret_dir.join("key")).unwrap(),
        "host secret"
    );
}

#[test]
fn two_running_containers_share_a_volume_and_ro_is_read_only() {
    let env = TestEnv::new("vol-shared");
    env.import_busybox();
    let vol = name("shared");
    let (a, b) = (name("a"), name("b"));
    let v = format!("{vol}:/data");
    env.ok(&["run", "-d", "--name", &a, "-v", &v, IMG, "sleep", "1000"]);
    env.ok(&["run", "-d", "--name", &b, "-v", &v, IMG, "sleep", "1000"]);
    env.ok(&["exec", &a, "sh", "-c", "echo from-a > /data/a"]);
    assert_eq!(env.ok(&["exec", &b, "cat", "/data/a"]), "from-a\n");
    env.ok(&["exec", &b, "sh", "-c", "echo from-b > /data/b"]);
    assert_eq!(env.ok(&["exec", &a, "cat", "/data/b"]), "from-b\n");

    // :ro, --mount ro and a read-only bind: writes fail with EROFS.
    let host = env.dir.join("host");
    std::fs::create_dir_all(&host).unwrap();
    for mount in [
        vec!["-v".to_string(), format!("{vol}:/data:ro")],
        vec![
            "--mount".into(),
            format!("type=volume,src={vol},dst=/data,ro=true"),
        ],
        vec!["-v".into(), format!("{}:/data:ro", host.display())],
    ] {
        let mut args: Vec<String> = vec!["run".into(), "--rm".into()];
        args.extend(mount.clone());
        args.extend([
            IMG.into(),
            "sh".into(),
            "-c".into(),
            "echo x > /data/new".into(),
        ]);
        let out = env.run(&args);
        assert_eq!(
            out.code(),
            1,
            "a write to a read-only mount ({mount:?}) succeeded:{out:?}"
        );
        assert!(
            out.stderr.contains("Read-only file system"),
            "expected EROFS for {mount:?}:{out:?}"
        );
    }
    assert!(!host.join("new").exists());
    assert!(!data_dir(&env, &vol).join("new").exists());
    // Reading through :ro works.
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "-v",
            &format!("{vol}:/data:ro"),
            IMG,
            "cat",
            "/data/a"
        ]),
        "from-a\n"
    );
}

#[test]
fn volume_rm_in_use_and_prune() {
    let env = TestEnv::new("vol-rm");
    env.import_busybox();
    let (used, free, runner) = (name("used"), name("free"), name("runner"));
    let c = name("user");
    env.ok(&["volume", "create", &free]);
    env.ok(&[
        "create",
        "--name",
        &c,
        "-v",
        &format!("{used}:/d"),
        IMG,
        "true",
    ]);
    let id = env.inspect(&c, "{{.Id}}");
    env.run(&["volume", "rm", &used]).assert_error(
        2,
        &[
            &format!("volume {used} is being used by the following container(s): {id}"),
            "volume is being used",
        ],
    );
    env.ok(&["volume", "exists", &used]);

    // prune keeps volumes in use (even by a container that is not running).
    assert_eq!(
        lines(&env.ok(&["volume", "prune", "-f"])),
        vec![free.clone()]
    );
    assert_eq!(volume_names(&env), vec![used.clone()]);

    // rm -f removes the volume and its user, a running one too.
    env.ok(&[
        "run",
        "-d",
        "--name",
        &runner,
        "-v",
        &format!("{used}:/d"),
        IMG,
        "sleep",
        "1000",
    ]);
    assert_eq!(
        env.ok(&["volume", "rm", "-f", "-t", "0", &used]),
        format!("{used}\n")
    );
    assert!(env.ids_all().is_empty(), "volume rm -f left its containers");
    assert!(volume_names(&env).is_empty());
    assert!(!env.root.join("volumes").join(&used).exists());

    // A missing volume: exit 1, and the others are still removed.
    let (x, y) = (name("x"), name("nosuch"));
    env.ok(&["volume", "create", &x]);
    let out = env.run(&["volume", "rm", &y, &x]).assert_error(
        1,
        &[&format!(
            "no volume with name \"{y}\" found: no such volume"
        )],
    );
    assert_eq!(out.stdout, format!("{x}\n"));
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn anonymous_volumes_and_rm_v() {
    let env = TestEnv::new("vol-anon");
    let tar = peapod_tests::busybox_rootfs_tar().unwrap();
    env.ok(&[
        "import",
        "--change",
        "VOLUME /data",
        tar.to_str().unwrap(),
        "localhost/withvol",
    ]);
    env.import_busybox();
    let c = name("img-vol");
    env.ok(&["create", "--name", &c, "localhost/withvol", "true"]);
    let vols = volume_names(&env);
    assert_eq!(vols.len(), 1, "the image's VOLUME made no anonymous volume");
    assert_eq!(
        env.ok(&["volume", "inspect", "--format", "{{.Anonymous}}", &vols[0]])
            .trim(),
        "true"
    );
    let mounts: serde_json::Value =
        serde_json::from_str(&env.inspect(&c, "{{json .Mounts}}")).unwrap();
    assert_eq!(
        mounts,
        serde_json::json!([{
            "Type": "volume", "Name": vols[0],
            "Source": env.root.join("volumes").join(&vols[0]).join("_data"),
            "Destination": "/data", "Driver": "local", "Mode": "",
            "Options": ["nodev", "exec", "nosuid", "rbind"], "RW": true, "Propagation": "rprivate"
        }])
    );
    env.ok(&["rm", "-v", &c]);
    assert!(
        volume_names(&env).is_empty(),
        "rm -v left the anonymous volume"
    );

    // Without -v the anonymous volume stays; named volumes always stay.
    let (k, named) = (name("keep"), name("named"));
    env.ok(&[
        "create",
        "--name",
        &k,
        "-v",
        "/anon",
        "-v",
        &format!("{named}:/n"),
        IMG,
        "true",
    ]);
    assert_eq!(volume_names(&env).len(), 2);
    env.ok(&["rm", &k]);
    assert_eq!(volume_names(&env).len(), 2);
    env.ok(&["volume", "prune", "-f"]);
    // run --rm removes its anonymous volumes, not the named one.
    env.ok(&["volume", "create", &named]);
    env.ok(&[
        "run",
        "--rm",
        "-v",
        "/anon",
        "--mount",
        "type=volume,dst=/a2",
        "-v",
        &format!("{named}:/n"),
        IMG,
        "true",
    ]);
    assert_eq!(volume_names(&env), vec![named.clone()]);
    // rm -v keeps an anonymous volume another container still uses (via --volumes-from).
    let (src, dst) = (name("src"), name("dst"));
    env.ok(&["create", "--name", &src, "-v", "/shared", IMG, "true"]);
    env.ok(&[
        "create",
        "--name",
        &dst,
        "--volumes-from",
        &src,
        IMG,
        "true",
    ]);
    env.ok(&["rm", "-v", &src]);
    assert_eq!(volume_names(&env).len(), 2);
    env.ok(&["rm", "-v", &dst]);
    assert_eq!(volume_names(&env), vec![named]);
}

#[test]
fn inspect_shows_mounts_as_podman_does() {
    let env = TestEnv::new("vol-inspect");
    env.import_busybox();
    let host = env.dir.join("host");
    std::fs::create_dir_all(&host).unwrap();
    let (vol, bar, c) = (name("foo"), name("bar"), name("c"));
    let h = host.display().to_string();
    env.ok(&[
        "create",
        "--name",
        &c,
        "-v",
        &format!("{vol}:/data"),
        "-v",
        &format!("{h}:/h:ro,z"),
        "--tmpfs",
        "/tt:size=1m",
        "--mount",
        "type=tmpfs,dst=/t2",
        "--mount",
        &format!("type=bind,src={h},dst=/h2,ro=true"),
        "--mount",
        &format!("type=volume,src={bar},dst=/bar"),
        IMG,
        "true",
    ]);
    assert_eq!(
        env.inspect(&c, "{{range .Mounts}}{{.Destination}} {{end}}"),
        "/data /bar /h /h2"
    );
    let mounts: serde_json::Value =
        serde_json::from_str(&env.inspect(&c, "{{json .Mounts}}")).unwrap();
    let vdata = env.root.join("volumes").join(&vol).join("_data");
    assert_eq!(
        mounts[0],
        serde_json::json!({
            "Type": "volume", "Name": vol, "Source": vdata, "Destination": "/data",
            "Driver": "local", "Mode": "", "Options": ["nosuid", "nodev", "rbind"],
            "RW": true, "Propagation": "rprivate"
        })
    );
    assert_eq!(
        mounts[2],
        serde_json::json!({
            "Type": "bind", "Source": h, "Destination": "/h", "Driver": "", "Mode": "z",
            "Options": ["rbind"], "RW": false, "Propagation": "rprivate"
        })
    );
    assert_eq!(
        env.inspect(&c, "{{json .HostConfig.Tmpfs}}"),
        r#"{"/t2":"rw,rprivate,nosuid,nodev,tmpcopyup","/tt":"size=1m,rw,rprivate,nosuid,nodev,tmpcopyup"}"#
    );
    assert_eq!(
        env.inspect(&c, "{{index .HostConfig.Binds 0}}"),
        format!("{vol}:/data:rw,rprivate,nosuid,nodev,rbind")
    );
    // Podman records the user's options (z, U, nocopy too) before its defaults.
    assert_eq!(
        env.inspect(&c, "{{index .HostConfig.Binds 1}}"),
        format!("{h}:/h:ro,z,rprivate,rbind")
    );
    // The OCI spec carries them, parents before children.
    let spec: serde_json::Value = {
        env.ok(&["start", &c]);
        env.wait_status(&c, "exited", Duration::from_secs(20));
        let path = env.inspect(&c, "{{.OCIConfigPath}}");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let find = |dest: &str| {
        spec["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["destination"] == dest)
            .unwrap_or_else(|| panic!("no {dest} in the spec's mounts"))
            .clone()
    };
    assert_eq!(
        find("/data"),
        serde_json::json!({"destination": "/data", "type": "bind", "source": vdata,
            "options": ["rw", "rprivate", "nosuid", "nodev", "rbind"]})
    );
    assert_eq!(
        find("/tt"),
        serde_json::json!({"destination": "/tt", "type": "tmpfs", "source": "tmpfs",
            "options": ["size=1m", "rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]})
    );
    assert_eq!(
        find("/h2")["options"],
        serde_json::json!(["ro", "rprivate", "rbind"])
    );
}

#[test]
fn tmpfs_u_and_volumes_from() {
    let env = TestEnv::new("vol-misc");
    env.import_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "--tmpfs",
        "/t:size=1m,mode=755",
        IMG,
        "grep",
        " /t ",
        "/proc/mounts",
    ]);
    assert!(out.starts_with("tmpfs /t tmpfs "), "{out}");
    assert!(
        out.contains("size=1024k") && out.contains("mode=755"),
        "{out}"
    );

    // U: the volume and a bind source are chowned to the container's user.
    let (uv, host) = (name("uvol"), env.dir.join("ub"));
    std::fs::create_dir_all(host.join("sub")).unwrap();
    std::fs::write(host.join("sub/f"), "").unwrap();
    let out = env.ok(&[
        "run",
        "--rm",
        "-u",
        "65534:65534",
        "-v",
        &format!("{uv}:/d:U"),
        "-v",
        &format!("{}:/b:U", host.display()),
        IMG,
        "sh",
        "-c",
        "touch /d/mine && stat -c %u:%g /d /b /b/sub/f",
    ]);
    assert_eq!(lines(&out), vec!["65534:65534"; 3]);
    let m = std::fs::metadata(host.join("sub/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
    // First use of a new volume takes the container user's ownership even without U.
    let nv = name("nouser");
    let out = env.ok(&[
        "run",
        "--rm",
        "-u",
        "65534",
        "-v",
        &format!("{nv}:/new"),
        IMG,
        "stat",
        "-c",
        "%u",
        "/new",
    ]);
    assert_eq!(out.trim(), "65534");
    // …and the mode of the directory it covers.
    let tv = name("tmpvol");
    let out = env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{tv}:/tmp"),
        IMG,
        "stat",
        "-c",
        "%a",
        "/tmp",
    ]);
    assert_eq!(out.trim(), "1777");

    // --volumes-from: named, anonymous and bind mounts, with :ro.
    let (src, vf) = (name("src"), name("vf"));
    let bind = env.dir.join("bind");
    std::fs::create_dir_all(&bind).unwrap();
    std::fs::write(bind.join("hello"), "bind\n").unwrap();
    env.ok(&[
        "run",
        "--name",
        &src,
        "-v",
        &format!("{vf}:/vf"),
        "-v",
        "/anon",
        "-v",
        &format!("{}:/bind", bind.display()),
        "--tmpfs",
        "/tm",
        IMG,
        "sh",
        "-c",
        "echo vf > /vf/f; echo anon > /anon/f",
    ]);
    let dst = name("dst");
    let out = env.ok(&[
        "run",
        "--name",
        &dst,
        "--volumes-from",
        &format!("{src}:ro"),
        IMG,
        "sh",
        "-c",
        "cat /vf/f /anon/f /bind/hello; touch /vf/x 2>/dev/null || echo ro",
    ]);
    assert_eq!(out, "vf\nanon\nbind\nro\n");
    assert_eq!(
        env.inspect(&dst, "{{json .HostConfig.VolumesFrom}}"),
        format!("[\"{src}:ro\"]")
    );
    env.run(&["run", "--rm", "--volumes-from", "nosuchctr", IMG, "true"])
        .assert_error(125, &["nosuchctr"]);
    env.run(&[
        "run",
        "--rm",
        "--volumes-from",
        &format!("{src}:bogus"),
        IMG,
        "true",
    ])
    .assert_error(
        125,
        &["volumes from another container can only use z,ro,rw options"],
    );
}
