//! A container's files through the Docker API: `docker cp` both ways (archive HEAD/GET/PUT)
//! into a running and a stopped container, hostile tars sent by hand, `docker export` and
//! `docker diff`.

use std::path::Path;

use crate::api_util::{DOCKER, Service, have_docker};
use crate::util::{IMG, PeapodCmd, TestEnv, assert_no_mounts_under, name};

/// A PUT of the tar at `tar` to `/containers/{c}/archive?path={dir}`: (status, body).
fn put_tar(svc: &Service, c: &str, dir: &str, tar: &Path) -> (u16, String) {
    let sock = svc.sock.display().to_string();
    let url = format!("http://d/v1.44/containers/{c}/archive?path={dir}&noOverwriteDirNonDir=true");
    let data = format!("@{}", tar.display());
    let out = PeapodCmd::program(
        "curl",
        &[
            "-s",
            "-m",
            "30",
            "--unix-socket",
            &sock,
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/x-tar",
            "--data-binary",
            &data,
            "-w",
            "\n%{http_code}",
            &url,
        ],
    )
    .output();
    let (body, code) = out.stdout.rsplit_once('\n').expect("a status line");
    (
        code.trim().parse().expect("an HTTP status"),
        body.to_string(),
    )
}

/// Writes a tar at `path` with python's tarfile: `(name, kind, data)` with kind `f`
/// (file with data) or `l` (symlink to data).
fn hostile_tar(path: &Path, members: &[(&str, char, &str)]) {
    let mut script = String::from("import tarfile, io, sys\nt = tarfile.open(sys.argv[1], 'w')\n");
    for (n, kind, data) in members {
        match kind {
            'f' => script.push_str(&format!(
                "i = tarfile.TarInfo({n:?}); d = {data:?}.encode(); i.size = len(d); t.addfile(i, io.BytesIO(d))\n"
            )),
            _ => script.push_str(&format!(
                "i = tarfile.TarInfo({n:?}); i.type = tarfile.SYMTYPE; i.linkname = {data:?}; t.addfile(i)\n"
            )),
        }
    }
    script.push_str("t.close()\n");
    let p = path.display().to_string();
    PeapodCmd::program("python3", &["-c", &script, &p])
        .output()
        .success();
}

#[test]
fn api_docker_cp_both_ways_running_and_stopped() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_cp");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let run = name("cprun");
    let stopped = name("cpstop");
    svc.docker(&["run", "-d", "--name", &run, IMG, "sleep", "300"])
        .success();
    svc.docker(&["create", "--name", &stopped, IMG, "true"])
        .success();
    let host = env.dir.join("host");
    std::fs::create_dir_all(host.join("d/sub")).unwrap();
    std::fs::write(host.join("f.txt"), "hello file\n").unwrap();
    std::fs::write(host.join("d/a"), "A\n").unwrap();
    std::fs::write(host.join("d/sub/b"), "B\n").unwrap();
    let out = env.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let hp = |p: &str| host.join(p).display().to_string();
    let op = |p: &str| out.join(p).display().to_string();

    for c in [&run, &stopped] {
        // A file into an existing directory, a file to a new name, a directory.
        svc.docker(&["cp", &hp("f.txt"), &format!("{c}:/tmp/")])
            .success();
        svc.docker(&["cp", &hp("f.txt"), &format!("{c}:/tmp/renamed.txt")])
            .success();
        svc.docker(&["cp", &hp("d"), &format!("{c}:/tmp/d2")])
            .success();
        // And back out.
        let back = out.join(c.as_str());
        std::fs::create_dir_all(&back).unwrap();
        let b = back.display().to_string();
        svc.docker(&["cp", &format!("{c}:/tmp/f.txt"), &b])
            .success();
        svc.docker(&[
            "cp",
            &format!("{c}:/tmp/renamed.txt"),
            &format!("{b}/r.txt"),
        ])
        .success();
        svc.docker(&["cp", &format!("{c}:/tmp/d2"), &b]).success();
        assert_eq!(
            std::fs::read_to_string(back.join("f.txt")).unwrap(),
            "hello file\n"
        );
        assert_eq!(
            std::fs::read_to_string(back.join("r.txt")).unwrap(),
            "hello file\n"
        );
        assert_eq!(std::fs::read_to_string(back.join("d2/a")).unwrap(), "A\n");
        assert_eq!(
            std::fs::read_to_string(back.join("d2/sub/b")).unwrap(),
            "B\n"
        );
    }
    // The running container sees the files its processes see.
    let seen = env
        .peapod(&["exec", &run, "cat", "/tmp/f.txt", "/tmp/d2/sub/b"])
        .output()
        .success();
    assert_eq!(seen, "hello file\nB\n");

    // Owners: without -a a file keeps the tar's (the host's) owner; with -a
    // (copyUIDGID) it gets the container's user.
    let user_c = name("cpuser");
    svc.docker(&[
        "run",
        "-d",
        "--user",
        "1234:2345",
        "--name",
        &user_c,
        IMG,
        "sleep",
        "300",
    ])
    .success();
    nix::unistd::chown(
        &host.join("f.txt"),
        Some(nix::unistd::Uid::from_raw(4242)),
        Some(nix::unistd::Gid::from_raw(4343)),
    )
    .unwrap();
    svc.docker(&["cp", &hp("f.txt"), &format!("{user_c}:/tmp/plain")])
        .success();
    svc.docker(&["cp", "-a", &hp("f.txt"), &format!("{user_c}:/tmp/archived")])
        .success();
    let owners = env
        .peapod(&[
            "exec",
            &user_c,
            "stat",
            "-c",
            "%u:%g",
            "/tmp/plain",
            "/tmp/archived",
        ])
        .output()
        .success();
    assert_eq!(owners, "4242:4343\n1234:2345\n");
    svc.docker(&["rm", "-f", &user_c]).success();

    // A path that is not there: Docker's 404 words, exit 1.
    let missing = svc.docker(&["cp", &format!("{run}:/nothere"), &op("x")]);
    assert_eq!(missing.code(), 1, "{missing:?}");
    assert!(
        missing.stderr.contains(&format!(
            "Could not find the file /nothere in container {run}"
        )),
        "{missing:?}"
    );
    assert!(!out.join("x").exists());
    // A container that is not there.
    let nobody = svc.docker(&["cp", &hp("f.txt"), "nothere-ctr:/tmp/x.txt"]);
    assert_eq!(nobody.code(), 1, "{nobody:?}");
    assert!(nobody.stderr.contains("No such container"), "{nobody:?}");
    // HEAD gives Docker's stat header.
    let sock = svc.sock.display().to_string();
    let head = PeapodCmd::program(
        "curl",
        &[
            "-s",
            "-I",
            "--unix-socket",
            &sock,
            &format!("http://d/containers/{run}/archive?path=/tmp/d2"),
        ],
    )
    .output()
    .success();
    let header = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("X-Docker-Container-Path-Stat: ")
                .or_else(|| l.strip_prefix("x-docker-container-path-stat: "))
        })
        .unwrap_or_else(|| panic!("no stat header in {head}"));
    let decoded = PeapodCmd::program("base64", &["-d"])
        .stdin(header.trim())
        .output()
        .success();
    let v: serde_json::Value = serde_json::from_str(&decoded).unwrap();
    assert_eq!(v["name"], "d2");
    // Go's os.ModeDir with the permissions.
    assert_eq!(v["mode"].as_u64().unwrap() >> 31, 1, "{v}");
    // The copies left no mount behind (the stopped container's rootfs was mounted for
    // each).
    svc.docker(&["rm", "-f", &run, &stopped]).success();
    assert_no_mounts_under(&env.root);
}

#[test]
fn api_docker_archive_put_of_hostile_tars_stays_inside() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_cp_hostile");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let run = name("hrun");
    let stopped = name("hstop");
    svc.docker(&["run", "-d", "--name", &run, IMG, "sleep", "300"])
        .success();
    svc.docker(&["create", "--name", &stopped, IMG, "sleep", "300"])
        .success();
    for c in [&run, &stopped] {
        let marker = name("peapod-escape");
        let up = format!("../../../../../../../../{marker}-up");
        let abs = format!("/{marker}-abs");
        let plain = env.dir.join(format!("{marker}-plain.tar"));
        hostile_tar(&plain, &[(&up, 'f', "up"), (&abs, 'f', "abs")]);
        // `../` and absolute names land inside the destination directory.
        let (code, body) = put_tar(&svc, c, "/tmp", &plain);
        assert_eq!(code, 200, "{body}");
        for p in [format!("/{marker}-up"), format!("/{marker}-abs")] {
            assert!(!Path::new(&p).exists(), "{p} written on the host");
        }
        // A symlink member pointing out, then a file through it: refused, nothing written
        // through the link (on the host or in the container's own root).
        let evil = env.dir.join(format!("{marker}-link.tar"));
        let through = format!("lnk/{marker}-through");
        hostile_tar(&evil, &[("lnk", 'l', "/"), (&through, 'f', "x")]);
        let (code, body) = put_tar(&svc, c, "/tmp", &evil);
        assert_eq!(code, 400, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["message"].as_str().is_some(), "{body}");
        assert!(!Path::new(&format!("/{marker}-through")).exists());
        // Not a tar at all: 400 with Docker's error body.
        let junk = env.dir.join("junk.tar");
        std::fs::write(&junk, b"this is not a tar").unwrap();
        let (code, body) = put_tar(&svc, c, "/tmp", &junk);
        assert_eq!(code, 400, "{body}");
        // A destination that is not there: 404; a file: 400.
        assert_eq!(put_tar(&svc, c, "/nothere", &plain).0, 404);
        assert_eq!(put_tar(&svc, c, "/etc/passwd", &plain).0, 400);
        // Inside the container: the two plain members, and no `-through` anywhere.
        if c == &stopped {
            svc.docker(&["start", c]).success();
        }
        let inside = env
            .peapod(&[
                "exec",
                c,
                "sh",
                "-c",
                &format!("cat /tmp/{marker}-up /tmp/{marker}-abs"),
            ])
            .output()
            .success();
        assert_eq!(inside, "upabs");
        let ls = env
            .peapod(&["exec", c, "sh", "-c", "ls / /tmp"])
            .output()
            .success();
        assert!(!ls.contains("-through"), "{ls}");
    }
    svc.docker(&["rm", "-f", &run, &stopped]).success();
    assert_no_mounts_under(&env.root);
}

#[test]
fn api_docker_export_and_diff() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_export");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let c = name("exp");
    svc.docker(&[
        "run",
        "-d",
        "--name",
        &c,
        IMG,
        "sh",
        "-c",
        "echo x > /added-file; rm /bin/ls; sleep 300",
    ])
    .success();
    crate::util::wait_until(
        "the container's changes",
        std::time::Duration::from_secs(10),
        || {
            env.peapod(&["exec", &c, "test", "-e", "/added-file"])
                .output()
                .code()
                == 0
        },
    );
    let diff = svc.docker(&["diff", &c]).success();
    let lines: Vec<&str> = diff.lines().collect();
    assert!(lines.contains(&"A /added-file"), "{diff}");
    assert!(lines.contains(&"D /bin/ls"), "{diff}");
    assert!(lines.contains(&"C /bin"), "{diff}");

    let tar = env.dir.join("export.tar");
    svc.docker(&["export", "-o", &tar.display().to_string(), &c])
        .success();
    let listed = PeapodCmd::program("tar", &["tf", &tar.display().to_string()])
        .output()
        .success();
    let names: Vec<&str> = listed.lines().map(|l| l.trim_start_matches("./")).collect();
    assert!(names.contains(&"added-file"), "{listed}");
    assert!(names.contains(&"bin/busybox"), "{listed}");
    assert!(!names.contains(&"bin/ls"), "{listed}");

    for cmd in ["export", "diff"] {
        let out = svc.docker(&[cmd, "nothere-ctr"]);
        assert_eq!(out.code(), 1, "{out:?}");
        assert!(out.stderr.contains("No such container"), "{out:?}");
    }
    svc.docker(&["rm", "-f", &c]).success();
    assert_no_mounts_under(&env.root);
}
