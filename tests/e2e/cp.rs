//! `cp`: files between the host and containers as Podman users copy them, and the
//! containment a hostile container cannot break (its symlinks resolve inside it).

use std::fs;

use crate::util::{IMG, TestEnv, name};

#[test]
fn files_and_directories_both_ways() {
    let env = TestEnv::new("cp-both");
    env.import_busybox();
    let c = name("cp");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        "--workdir",
        "/tmp",
        IMG,
        "sh",
        "-c",
        "mkdir /tmp/sub; echo inside > /tmp/cf; sleep 1000",
    ]);
    let host = env.dir.join("h");
    fs::create_dir_all(host.join("dir/deep")).unwrap();
    fs::write(host.join("f"), "from host\n").unwrap();
    fs::write(host.join("dir/deep/g"), "deep\n").unwrap();
    let f = host.join("f");
    let f = f.to_str().unwrap();
    // Into a directory, to a new name, relative to the working directory.
    env.ok(&["cp", f, &format!("{c}:/tmp")]);
    env.ok(&["cp", f, &format!("{c}:/tmp/renamed")]);
    env.ok(&["container", "cp", f, &format!("{c}:sub")]);
    assert_eq!(
        env.ok(&["exec", &c, "cat", "/tmp/f", "/tmp/renamed", "/tmp/sub/f"]),
        "from host\nfrom host\nfrom host\n"
    );
    // A directory, and its contents only with `/.`.
    let d = host.join("dir");
    env.ok(&["cp", d.to_str().unwrap(), &format!("{c}:/tmp")]);
    env.ok(&[
        "cp",
        &format!("{}/.", d.display()),
        &format!("{c}:/tmp/sub"),
    ]);
    assert_eq!(
        env.ok(&["exec", &c, "cat", "/tmp/dir/deep/g", "/tmp/sub/deep/g"]),
        "deep\ndeep\n"
    );
    // Out again, and a missing parent or source is refused with Podman's words.
    let out = env.dir.join("out");
    fs::create_dir_all(&out).unwrap();
    env.ok(&["cp", &format!("{c}:/tmp/cf"), out.to_str().unwrap()]);
    env.ok(&[
        "cp",
        &format!("{c}:/tmp/sub"),
        out.join("copied").to_str().unwrap(),
    ]);
    assert_eq!(fs::read_to_string(out.join("cf")).unwrap(), "inside\n");
    assert_eq!(
        fs::read_to_string(out.join("copied/deep/g")).unwrap(),
        "deep\n"
    );
    env.run(&["cp", f, &format!("{c}:/nonesuch/")])
        .assert_error(
            125,
            &[
                "\"/nonesuch/\" could not be found on container",
                "no such file or directory",
            ],
        );
    env.run(&[
        "cp",
        &format!("{}/nope", host.display()),
        &format!("{c}:/tmp"),
    ])
    .assert_error(125, &["could not be found on the host"]);
    env.run(&["cp", d.to_str().unwrap(), &format!("{c}:/tmp/f")])
        .assert_error(
            125,
            &["destination must be a directory when copying a directory"],
        );
    // A file does not replace a directory (or the reverse) without --overwrite.
    env.ok(&["exec", &c, "mkdir", "/tmp/x"]);
    fs::write(host.join("x"), "file now\n").unwrap();
    let x = host.join("x");
    env.run(&["cp", x.to_str().unwrap(), &format!("{c}:/tmp")])
        .assert_error(125, &["error creating \"/tmp/x\"", "file exists"]);
    env.ok(&[
        "cp",
        "--overwrite",
        x.to_str().unwrap(),
        &format!("{c}:/tmp"),
    ]);
    assert_eq!(env.ok(&["exec", &c, "cat", "/tmp/x"]), "file now\n");
    env.ok(&["rm", "-f", "-t", "0", &c]);
    env.assert_no_mounts();
}

#[test]
fn created_containers_volumes_and_tar_streams() {
    let env = TestEnv::new("cp-vol");
    env.import_busybox();
    let vol = name("cpvol");
    env.ok(&["volume", "create", &vol]);
    let c = name("cpc");
    env.ok(&[
        "create",
        "--name",
        &c,
        "-v",
        &format!("{vol}:/data"),
        IMG,
        "sleep",
        "1000",
    ]);
    let f = env.dir.join("f");
    fs::write(&f, "into the volume\n").unwrap();
    // A created container: the file lands in the volume, not in the rootfs below it.
    env.ok(&["cp", f.to_str().unwrap(), &format!("{c}:/data")]);
    let mp = env.ok(&["volume", "inspect", &vol, "--format", "{{.Mountpoint}}"]);
    assert_eq!(
        fs::read_to_string(format!("{}/f", mp.trim())).unwrap(),
        "into the volume\n"
    );
    env.assert_no_mounts();
    // A tar on stdin into a directory; owners from the tar with -a=false.
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("t/a.txt").unwrap();
    h.set_size(3);
    h.set_mode(0o640);
    h.set_uid(1042);
    h.set_gid(1043);
    h.set_cksum();
    tar.append(&h, &b"abc"[..]).unwrap();
    let tar = tar.into_inner().unwrap();
    env.ok(&["start", &c]);
    env.peapod(&["cp", "-a=false", "-", &format!("{c}:/tmp")])
        .stdin(tar.clone())
        .output()
        .success();
    assert_eq!(
        env.ok(&["exec", &c, "stat", "-c", "%u:%g %a", "/tmp/t/a.txt"]),
        "1042:1043 640\n"
    );
    env.peapod(&["cp", "-", &format!("{c}:/tmp/t/a.txt")])
        .stdin(tar)
        .output()
        .assert_error(
            125,
            &["destination must be a directory when copying from stdin"],
        );
    env.peapod(&["cp", "-", &format!("{c}:/tmp")])
        .stdin(b"not a tar at all".to_vec())
        .output()
        .assert_error(
            125,
            &["source must be a (compressed) tar archive when copying from stdin"],
        );
    // Out as a tar, named after the path.
    let out = env
        .peapod(&["cp", &format!("{c}:/tmp/t"), "-"])
        .command()
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut names: Vec<String> = tar::Archive::new(&out.stdout[..])
        .entries()
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path().unwrap().to_string_lossy().into_owned();
            p.trim_end_matches('/').to_string()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["t", "t/a.txt"]);
    env.ok(&["rm", "-f", "-t", "0", &c]);
}

#[test]
fn container_symlinks_never_reach_the_host() {
    let env = TestEnv::new("cp-evil");
    env.import_busybox();
    // Host files a hostile container points at.
    let secret = env.dir.join("secret");
    fs::write(&secret, "host secret\n").unwrap();
    let victim = env.dir.join("victim");
    fs::create_dir_all(&victim).unwrap();
    let c = name("evil");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        &format!(
            "ln -s {} /tmp/leak; ln -s {} /tmp/into; sleep 1000",
            secret.display(),
            victim.display()
        ),
    ]);
    let out = env.dir.join("out");
    fs::create_dir_all(&out).unwrap();
    // Reading: the link resolves inside the container, where that path does not exist.
    env.run(&["cp", &format!("{c}:/tmp/leak"), out.to_str().unwrap()])
        .assert_error(125, &["could not be found on container"]);
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
    // Writing: through a link to a host directory nothing lands on the host.
    let f = env.dir.join("f");
    fs::write(&f, "payload\n").unwrap();
    let _ = env.run(&["cp", f.to_str().unwrap(), &format!("{c}:/tmp/into/")]);
    let _ = env.run(&["cp", f.to_str().unwrap(), &format!("{c}:/tmp/into/f")]);
    assert_eq!(
        fs::read_dir(&victim).unwrap().count(),
        0,
        "nothing written on the host"
    );
    // A tar whose names climb out stays inside the destination directory.
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.as_mut_bytes()[..16].copy_from_slice(b"../../../esc.txt");
    h.set_size(1);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append(&h, &b"x"[..]).unwrap();
    env.peapod(&["cp", "-", &format!("{c}:/tmp")])
        .stdin(tar.into_inner().unwrap())
        .output()
        .success();
    assert_eq!(env.ok(&["exec", &c, "cat", "/tmp/esc.txt"]), "x");
    assert!(!std::path::Path::new("/esc.txt").exists());
    env.ok(&["rm", "-f", "-t", "0", &c]);
}

#[test]
fn export_and_import_round_trip() {
    let env = TestEnv::new("cp-export");
    env.import_busybox();
    let c = name("exp");
    env.ok(&[
        "run",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "echo exported > /data.txt; mkfifo /fifo",
    ]);
    let archive = env.dir.join("c.tar");
    env.ok(&["export", "-o", archive.to_str().unwrap(), &c]);
    let mut names = Vec::new();
    for e in tar::Archive::new(fs::File::open(&archive).unwrap())
        .entries()
        .unwrap()
    {
        let e = e.unwrap();
        names.push((
            e.path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string(),
            e.header().entry_type(),
        ));
    }
    assert!(
        names.contains(&("data.txt".into(), tar::EntryType::Regular)),
        "{names:?}"
    );
    assert!(
        names.contains(&("fifo".into(), tar::EntryType::Fifo)),
        "{names:?}"
    );
    assert!(names.iter().any(|(n, _)| n == "bin/sh"), "{names:?}");
    let iid = env.ok(&["import", "-q", archive.to_str().unwrap()]);
    assert_eq!(
        env.ok(&["run", "--rm", iid.trim(), "cat", "/data.txt"]),
        "exported\n"
    );
    // A missing container leaves no file behind.
    let missing = env.dir.join("none.tar");
    env.run(&[
        "container",
        "export",
        "-o",
        missing.to_str().unwrap(),
        "nosuch",
    ])
    .assert_error(125, &["no container with name or ID \"nosuch\" found"]);
    assert!(!missing.exists());
    env.assert_no_mounts();
}
