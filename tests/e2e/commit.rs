//! `commit`: what a container changed (files written, deleted, a directory replaced, links,
//! owners) is what a container of the new image sees; `--change`, `-q`, `--format docker`
//! with `-m`/`-a`, `--pause`, `--squash`, `--include-volumes`; bad input leaves nothing.

use crate::util::{IMG, TestEnv, is_full_id, name};

fn layers(env: &TestEnv, image: &str) -> usize {
    env.inspect(image, "{{len .RootFS.Layers}}")
        .parse()
        .unwrap()
}

#[test]
fn committed_image_has_the_container_s_changes() {
    let env = TestEnv::new("commit-changes");
    env.import_busybox();
    // A first image with a directory of content, so that the second commit replaces it.
    let c1 = name("c1");
    env.ok(&[
        "run",
        "--name",
        &c1,
        IMG,
        "sh",
        "-c",
        "mkdir -p /data/sub && echo a > /data/a && echo b > /data/sub/b",
    ]);
    env.ok(&["commit", "-q", &c1, "localhost/step1"]);
    let c2 = name("c2");
    env.ok(&[
        "run",
        "--name",
        &c2,
        "localhost/step1",
        "sh",
        "-c",
        "echo new > /new && ln /new /new-link && ln -s /new /new-sym && rm /etc/group \
         && rm -rf /data && mkdir /data && echo c > /data/c \
         && echo owned > /owned && chown 65534:65534 /owned && chmod 4750 /owned",
    ]);
    let out = env.run(&["commit", &c2, "localhost/step2"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let id = out.stdout.trim();
    assert!(is_full_id(id), "stdout is the id: {out:?}");
    for line in [
        "Getting image source signatures",
        "Copying blob sha256:",
        &format!("Copying config sha256:{id}"),
        "Writing manifest to image destination",
        "Storing signatures",
    ] {
        assert!(out.stderr.contains(line), "{line:?} on stderr: {out:?}");
    }
    assert_eq!(layers(&env, "localhost/step2"), 3);
    let seen = env.ok(&[
        "run",
        "--rm",
        "localhost/step2",
        "sh",
        "-c",
        "cat /new; ls /etc/group 2>&1; ls -A /data; readlink /new-sym; \
         [ $(stat -c %i /new) = $(stat -c %i /new-link) ] && echo hardlinked; \
         stat -c '%u:%g %a' /owned",
    ]);
    assert_eq!(
        seen,
        "new\nls: /etc/group: No such file or directory\nc\n/new\nhardlinked\n65534:65534 4750\n"
    );
    // The image's history has one more entry: /bin/sh, FROM the image the container ran.
    let history = env.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        "localhost/step2",
    ]);
    assert_eq!(
        history.lines().next(),
        Some("/bin/sh|FROM localhost/step1:latest")
    );
    // The first image is untouched.
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "localhost/step1",
            "sh",
            "-c",
            "cat /data/a /data/sub/b /etc/group | wc -l"
        ])
        .trim(),
        "4"
    );
}

#[test]
fn commit_options() {
    let env = TestEnv::new("commit-opts");
    env.import_busybox();
    let c = name("opts");
    env.ok(&[
        "run",
        "--name",
        &c,
        "-e",
        "FOO=bar",
        "-v",
        "/anon",
        IMG,
        "sh",
        "-c",
        "echo x > /x",
    ]);
    // -q: the id alone; --change CMD drives the new image.
    let out = env.run(&[
        "commit",
        "-q",
        "-c",
        r#"CMD ["cat", "/x"]"#,
        "-c",
        "LABEL team=a",
        &c,
        "localhost/cmd",
    ]);
    assert_eq!(out.stderr, "", "{out:?}");
    assert!(is_full_id(out.stdout.trim()));
    assert_eq!(env.ok(&["run", "--rm", "localhost/cmd"]), "x\n");
    assert_eq!(
        env.ok(&["run", "--rm", "localhost/cmd", "sh", "-c", "echo $FOO"]),
        "bar\n"
    );
    assert_eq!(env.inspect("localhost/cmd", "{{.Labels.team}}"), "a");
    // The anonymous volume the user gave becomes an image VOLUME; a named one and a bind
    // only with --include-volumes.
    assert_eq!(
        env.inspect("localhost/cmd", "{{.Config.Volumes}}"),
        "map[/anon:{}]"
    );
    let v = name("vol");
    let c2 = name("vols");
    env.ok(&[
        "run",
        "--name",
        &c2,
        "-v",
        &format!("{v}:/named"),
        "-v",
        "/anon2",
        IMG,
        "true",
    ]);
    env.ok(&["commit", "-q", &c2, "localhost/novols"]);
    assert_eq!(
        env.inspect("localhost/novols", "{{.Config.Volumes}}"),
        "map[/anon2:{}]"
    );
    let iid = env.dir.join("iid");
    let out = env.ok(&[
        "commit",
        "-q",
        "--include-volumes",
        "--iidfile",
        iid.to_str().unwrap(),
        &c2,
        "localhost/vols",
    ]);
    assert_eq!(
        env.inspect("localhost/vols", "{{.Config.Volumes}}"),
        "map[/anon2:{} /named:{}]"
    );
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), out.trim());
}

#[test]
fn commit_formats_squash_and_pause() {
    let env = TestEnv::new("commit-fmt");
    env.import_busybox();
    let c = name("fmt");
    env.ok(&["run", "--name", &c, IMG, "sh", "-c", "echo x > /x"]);
    // -m needs the docker format, as in Podman; with it, author and comment are kept.
    env.run(&["commit", "-m", "msg", &c, "localhost/nope"])
        .assert_error(
            125,
            &["messages are only compatible with the docker image format (-f docker)"],
        );
    env.ok(&[
        "commit",
        "-q",
        "-f",
        "docker",
        "-m",
        "my message",
        "-a",
        "me <me@example.com>",
        &c,
        "localhost/docker",
    ]);
    assert_eq!(
        env.inspect(
            "localhost/docker",
            "{{.ManifestType}}|{{.Author}}|{{.Comment}}"
        ),
        "application/vnd.docker.distribution.manifest.v2+json|me <me@example.com>|my message"
    );
    // --squash: one layer with everything.
    env.ok(&["commit", "-q", "--squash", &c, "localhost/squashed"]);
    assert_eq!(layers(&env, "localhost/squashed"), 1);
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "localhost/squashed",
            "cat",
            "/x",
            "/etc/passwd"
        ])
        .lines()
        .count(),
        3
    );
    // A running container, paused while its changes are read, keeps running.
    let r = name("running");
    env.ok(&[
        "run",
        "-d",
        "--name",
        &r,
        IMG,
        "sh",
        "-c",
        "echo live > /live; sleep 1000",
    ]);
    crate::util::wait_until(
        "the file is written",
        std::time::Duration::from_secs(10),
        || env.run(&["exec", &r, "cat", "/live"]).code() == 0,
    );
    env.ok(&["commit", "-q", "--pause", &r, "localhost/live"]);
    assert_eq!(env.status(&r), "running");
    assert_eq!(
        env.ok(&["run", "--rm", "localhost/live", "cat", "/live"]),
        "live\n"
    );
    env.ok(&["commit", "-q", "--squash", &r, "localhost/live-squashed"]);
    assert_eq!(
        env.ok(&["run", "--rm", "localhost/live-squashed", "cat", "/live"]),
        "live\n"
    );
}

#[test]
fn bad_commits_leave_nothing() {
    let env = TestEnv::new("commit-bad");
    env.import_busybox();
    let c = name("bad");
    env.ok(&["run", "--name", &c, IMG, "true"]);
    let images = env.ok(&["images", "-a", "-q"]);
    let files = env.store_file_count();
    env.run(&["commit", "nosuch", "localhost/x"])
        .assert_error(125, &["no container with name or ID \"nosuch\" found"]);
    env.run(&["commit", "-c", "RUN rm -rf /", &c, "localhost/x"])
        .assert_error(125, &["invalid change \"RUN rm -rf /\""]);
    env.run(&["commit", "-f", "tar", &c, "localhost/x"])
        .assert_error(125, &["unrecognized image format \"tar\""]);
    env.run(&["commit", &c, "Bad:Name:"])
        .assert_error(125, &["invalid reference format"]);
    assert_eq!(env.ok(&["images", "-a", "-q"]), images);
    assert_eq!(
        env.store_file_count(),
        files,
        "a refused commit wrote to the store"
    );
    env.assert_no_mounts();
}
