//! `build` features beyond the basic flow: RUN `--mount` (cache, secret, bind, tmpfs),
//! `--network=none`, heredoc COPY and RUN scripts, SHELL, ADD of a local tar and of an
//! `http://` URL, ONBUILD triggers of a base (docker format), HEALTHCHECK kept only by
//! `--format docker`, `--squash`/`--squash-all`, a context and a Containerfile on stdin.

use std::io::{Read, Write};
use std::net::TcpListener;

use crate::build::{build, context};
use crate::util::{TestEnv, is_full_id, last_line, lines};

#[test]
fn run_mounts_network_heredocs_and_shell() {
    let env = TestEnv::new("build-mounts");
    env.import_busybox();
    let secret = env.dir.join("token");
    std::fs::write(&secret, "s3cret-value").unwrap();
    let ctx = context(
        &env,
        "ctx",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\n\
                 RUN --mount=type=cache,target=/cache echo x >> /cache/n && wc -l < /cache/n > /cache-count\n\
                 RUN --mount=type=secret,id=tok cat /run/secrets/tok > /seen-secret\n\
                 RUN --mount=type=bind,source=data,target=/src cat /src/f > /from-bind\n\
                 RUN --mount=type=tmpfs,target=/scratch touch /scratch/t && echo ok > /tmpfs-ok\n\
                 RUN --network=none ip link | grep -c ': ' > /links\n\
                 COPY <<EOF /etc/inline.conf\n\
                 inline body\n\
                 EOF\n\
                 RUN <<EOF\n\
                 #!/bin/sh\n\
                 echo from-script > /script-ran\n\
                 EOF\n\
                 SHELL [\"/bin/sh\", \"-c\", \"-e\"]\n\
                 RUN echo shell-used > /shell\n",
            ),
            ("data/f", "bound\n"),
        ],
    );
    let out = build(
        &env,
        &ctx,
        &[
            "--secret",
            &format!("id=tok,src={}", secret.display()),
            "-t",
            "m",
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let cat = |f: &str| env.ok(&["run", "--rm", "m", "cat", f]);
    assert_eq!(cat("/cache-count"), "1\n");
    assert_eq!(cat("/seen-secret"), "s3cret-value");
    assert_eq!(cat("/from-bind"), "bound\n");
    assert_eq!(cat("/tmpfs-ok"), "ok\n");
    assert_eq!(cat("/links"), "1\n", "only lo with --network=none");
    assert_eq!(cat("/etc/inline.conf"), "inline body\n");
    assert_eq!(cat("/script-ran"), "from-script\n");
    assert_eq!(cat("/shell"), "shell-used\n");
    // Mounts leave nothing in the image: no secret, no cache dir content, no tmpfs file.
    let probe = env.ok(&[
        "run",
        "--rm",
        "m",
        "sh",
        "-c",
        "ls /run/secrets 2>/dev/null; ls /cache 2>/dev/null; ls /scratch 2>/dev/null; echo end",
    ]);
    assert_eq!(probe.trim(), "end", "{probe}");
    // The cache mount persists across builds (a changed bind source reruns its step).
    std::fs::write(ctx.join("data/f"), "bound2\n").unwrap();
    let out = build(
        &env,
        &ctx,
        &[
            "--no-cache",
            "--secret",
            &format!("id=tok,src={}", secret.display()),
            "-t",
            "m2",
        ],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(env.ok(&["run", "--rm", "m2", "cat", "/cache-count"]), "2\n");
    assert_eq!(
        env.ok(&["run", "--rm", "m2", "cat", "/from-bind"]),
        "bound2\n"
    );
    // A secret that is not given is not mounted (BuildKit's `required=false`): the step
    // fails with its own code.
    build(&env, &ctx, &["--no-cache", "-t", "m3"]).assert_error(1, &["RUN --mount=type=secret"]);
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "");
}

/// Serves `body` for every GET on 127.0.0.1 until the test ends; the address.
fn serve(body: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            // Read the whole request head before answering.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(body);
        }
    });
    addr
}

#[test]
fn add_extracts_local_tars_and_downloads_urls() {
    let env = TestEnv::new("build-add");
    env.import_busybox();
    let ctx = context(&env, "ctx", &[("README", "ctx\n")]);
    // A gzipped tar in the context.
    let tarball = ctx.join("files.tar.gz");
    {
        let f = std::fs::File::create(&tarball).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        let mut t = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(6);
        h.set_mode(0o640);
        t.append_data(&mut h, "inner/x.txt", &b"inside"[..])
            .unwrap();
        t.into_inner().unwrap().finish().unwrap();
    }
    let addr = serve(b"downloaded\n");
    std::fs::write(
        ctx.join("Containerfile"),
        format!(
            "FROM localhost/busybox\nADD files.tar.gz /opt/\nADD http://{addr}/dir/remote.txt /web/\nCOPY files.tar.gz /kept/\n"
        ),
    )
    .unwrap();
    let out = build(&env, &ctx, &["-t", "add"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        env.ok(&["run", "--rm", "add", "cat", "/opt/inner/x.txt"]),
        "inside"
    );
    assert_eq!(
        env.ok(&["run", "--rm", "add", "stat", "-c", "%a", "/opt/inner/x.txt"]),
        "640\n"
    );
    assert_eq!(
        env.ok(&["run", "--rm", "add", "cat", "/web/remote.txt"]),
        "downloaded\n"
    );
    assert_eq!(
        env.ok(&["run", "--rm", "add", "stat", "-c", "%a", "/web/remote.txt"]),
        "600\n"
    );
    // COPY never extracts.
    env.ok(&["run", "--rm", "add", "test", "-f", "/kept/files.tar.gz"]);
    // COPY of a URL is refused.
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM localhost/busybox\nCOPY http://{addr}/x /x\n"),
    )
    .unwrap();
    build(&env, &ctx, &["-t", "bad"]).assert_error(125, &["URL"]);
}

/// The image config as stored, read from a `save --format docker-dir` of the image.
fn config_json(env: &TestEnv, image: &str) -> serde_json::Value {
    let dir = env.dir.join(format!("saved-{image}"));
    let _ = std::fs::remove_dir_all(&dir);
    env.ok(&[
        "save",
        "--format",
        "docker-dir",
        "-o",
        dir.to_str().unwrap(),
        image,
    ]);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let digest = m["config"]["digest"].as_str().unwrap();
    let hex = digest.trim_start_matches("sha256:");
    serde_json::from_slice(&std::fs::read(dir.join(hex)).unwrap()).unwrap()
}

#[test]
fn onbuild_healthcheck_and_formats() {
    let env = TestEnv::new("build-onbuild");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            (
                "Base",
                "FROM localhost/busybox\nONBUILD RUN echo triggered > /trigger\nHEALTHCHECK --interval=5s CMD true\n",
            ),
            ("Child", "FROM localhost/ob-base\nRUN cat /trigger\n"),
        ],
    );
    let f = |n: &str| ctx.join(n).to_str().unwrap().to_string();
    // The OCI format drops HEALTHCHECK and ONBUILD, with warnings.
    let out = build(&env, &ctx, &["-f", &f("Base"), "-t", "ob-oci"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("HEALTHCHECK is not supported for OCI image format"),
        "{out:?}"
    );
    assert!(
        config_json(&env, "ob-oci")["config"]
            .get("Healthcheck")
            .is_none()
    );
    // The docker format keeps them; a child build runs the trigger first.
    let out = build(
        &env,
        &ctx,
        &["--format", "docker", "-f", &f("Base"), "-t", "ob-base"],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let cfg = config_json(&env, "ob-base");
    assert_eq!(
        cfg["config"]["Healthcheck"]["Test"][0], "CMD-SHELL",
        "{cfg}"
    );
    assert_eq!(
        cfg["config"]["Healthcheck"]["Interval"], 5_000_000_000u64,
        "{cfg}"
    );
    assert_eq!(
        cfg["config"]["OnBuild"][0], "RUN echo triggered > /trigger",
        "{cfg}"
    );
    let out = build(&env, &ctx, &["-f", &f("Child"), "-t", "ob-child"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let l = lines(&out.stdout);
    assert!(l.contains(&"triggered".to_string()), "{out:?}");
    // Podman 4.3 counts the trigger as a step once it knows it: the FROM line has the
    // file's count, the following lines the count with the trigger.
    let steps: Vec<&String> = l.iter().filter(|x| x.starts_with("STEP ")).collect();
    assert_eq!(
        steps,
        [
            "STEP 1/2: FROM localhost/ob-base",
            "STEP 2/3: RUN echo triggered > /trigger",
            "STEP 3/3: RUN cat /trigger",
        ],
        "{out:?}"
    );
    // A rebuild answers the trigger from the cache too, with its own `-->` line.
    let again = build(&env, &ctx, &["-f", &f("Child"), "-t", "ob-child"]);
    assert_eq!(again.code(), 0, "{again:?}");
    let l2 = lines(&again.stdout);
    let at = l2
        .iter()
        .position(|x| x == "STEP 2/3: RUN echo triggered > /trigger")
        .expect("the trigger's STEP line");
    assert!(l2[at + 1].starts_with("--> Using cache "), "{again:?}");
    assert!(l2[at + 2].starts_with("--> "), "{again:?}");
    assert_eq!(last_line(&again.stdout), last_line(&out.stdout));
}

#[test]
fn squash_and_squash_all() {
    let env = TestEnv::new("build-squash");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\nRUN echo a > /a && rm /bin/sed\nRUN echo b > /b\nCOPY f /f\n",
            ),
            ("f", "f\n"),
        ],
    );
    let base_layers: usize = env
        .inspect("localhost/busybox", "{{len .RootFS.Layers}}")
        .parse()
        .unwrap();
    for (flag, layers) in [("--squash", base_layers + 1), ("--squash-all", 1)] {
        let out = build(&env, &ctx, &[flag, "-t", "sq"]);
        assert_eq!(out.code(), 0, "{out:?}");
        assert_eq!(
            env.inspect("sq", "{{len .RootFS.Layers}}"),
            layers.to_string(),
            "{flag}"
        );
        assert_eq!(
            env.ok(&[
                "run",
                "--rm",
                "sq",
                "sh",
                "-c",
                "cat /a /b /f; test -e /bin/sed || echo gone"
            ]),
            "a\nb\nf\ngone\n",
            "{flag}"
        );
    }
}

#[test]
fn context_and_containerfile_from_stdin() {
    let env = TestEnv::new("build-stdin");
    env.import_busybox();
    // `build -` with a tar: the tar is the context.
    let mut t = tar::Builder::new(Vec::new());
    for (name, data) in [
        (
            "Containerfile",
            &b"FROM localhost/busybox\nCOPY in.txt /\n"[..],
        ),
        ("in.txt", &b"from-tar\n"[..]),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        t.append_data(&mut h, name, data).unwrap();
    }
    let tar = t.into_inner().unwrap();
    let out = env
        .peapod(&["build", "-t", "fromtar", "-"])
        .stdin(tar)
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(is_full_id(&last_line(&out.stdout)), "{out:?}");
    assert_eq!(
        env.ok(&["run", "--rm", "fromtar", "cat", "/in.txt"]),
        "from-tar\n"
    );
    // `-f -`: the Containerfile from stdin, the context a directory.
    let ctx = context(&env, "ctx", &[("x", "ctx-file\n")]);
    let out = env
        .peapod(&["build", "-f", "-", "-t", "fromstdin", ctx.to_str().unwrap()])
        .stdin(&b"FROM localhost/busybox\nCOPY x /x\n"[..])
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(
        env.ok(&["run", "--rm", "fromstdin", "cat", "/x"]),
        "ctx-file\n"
    );
}

#[test]
fn hard_links_layers_false_and_step_errors() {
    let env = TestEnv::new("build-links");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\nCOPY . /hl/\nRUN echo step\n",
            ),
            ("tree/a", "linked\n"),
        ],
    );
    std::fs::hard_link(ctx.join("tree/a"), ctx.join("tree/b")).unwrap();
    let out = build(&env, &ctx, &["-t", "hl"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let inodes = env.ok(&[
        "run",
        "--rm",
        "hl",
        "stat",
        "-c",
        "%i %h",
        "/hl/tree/a",
        "/hl/tree/b",
    ]);
    let l = lines(&inodes);
    assert_eq!(l[0], l[1], "one file with two links: {inodes}");
    assert!(l[0].ends_with(" 2"), "{inodes}");
    // --layers=false (or BUILDAH_LAYERS=false): no cache, no intermediate images kept.
    let before = lines(&env.ok(&["images", "-a", "-q"])).len();
    let out = env
        .peapod(&["build", "-t", "nl", ctx.to_str().unwrap()])
        .env("BUILDAH_LAYERS", "false")
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!out.stdout.contains("Using cache"), "{out:?}");
    assert_eq!(lines(&env.ok(&["images", "-a", "-q"])).len(), before + 1);
    let out = build(&env, &ctx, &["--layers=1", "-t", "nl"]);
    assert!(out.stdout.contains("Using cache"), "{out:?}");
    // A step that fails names itself, as Podman does.
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/busybox\nCOPY nothere ./\n",
    )
    .unwrap();
    build(&env, &ctx, &["-t", "x"]).assert_error(125, &["building at STEP \"COPY nothere ./\""]);
    std::fs::write(ctx.join("Containerfile"), "FROM localhost/nosuchimage\n").unwrap();
    build(&env, &ctx, &["--pull=never", "-t", "x"])
        .assert_error(125, &["creating build container: localhost/nosuchimage"]);
}
