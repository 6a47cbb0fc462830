//! `build`: the node-style example (busybox instead of node), Podman's output lines, the
//! cache (hits on a rebuild, misses on every changed input), multi-stage with `FROM
//! scratch` and `--target`, `.containerignore` with Docker's semantics, a failing RUN, a
//! FROM pulled through registries.conf, and bad input that leaves nothing behind.

use std::path::{Path, PathBuf};

use crate::registry_util::{RegEnv, images, tools_missing};
use crate::util::{TestEnv, is_full_id, last_line, lines};
use peapod_tests::registry::RegistryOptions;

/// A build context directory with `files` (path, content) written.
pub(crate) fn context(env: &TestEnv, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.dir.join(name);
    for (p, content) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
    }
    dir
}

/// `peapod build ARGS… CTX`, whatever its exit code.
pub(crate) fn build(env: &TestEnv, ctx: &Path, args: &[&str]) -> crate::util::Output {
    let mut a = vec!["build"];
    a.extend_from_slice(args);
    let c = ctx.to_str().unwrap();
    a.push(c);
    env.run(&a)
}

const NODE_STYLE: &str = "FROM localhost/busybox\n\
WORKDIR /app\n\
COPY app.js ./\n\
EXPOSE 3001\n\
CMD [\"cat\",\"app.js\"]\n";

#[test]
fn node_style_example_output_config_and_run() {
    let env = TestEnv::new("build-node");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            ("Containerfile", NODE_STYLE),
            ("app.js", "console.log('hi')\n"),
        ],
    );
    let out = build(&env, &ctx, &["-t", "foo-app"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let l = lines(&out.stdout);
    assert_eq!(l[0], "STEP 1/5: FROM localhost/busybox", "{out:?}");
    for want in [
        "STEP 2/5: WORKDIR /app",
        "STEP 3/5: COPY app.js ./",
        "STEP 4/5: EXPOSE 3001",
        "STEP 5/5: CMD [\"cat\",\"app.js\"]",
        "COMMIT foo-app",
        "Successfully tagged localhost/foo-app:latest",
    ] {
        assert!(l.iter().any(|x| x == want), "{want:?} in {out:?}");
    }
    // `--> <11 hex>` after each step but the last, then after COMMIT.
    let arrows = l.iter().filter(|x| x.starts_with("--> ")).count();
    assert_eq!(arrows, 4, "{out:?}");
    let commit = l.iter().position(|x| x == "COMMIT foo-app").unwrap();
    let short = l[commit + 1].strip_prefix("--> ").unwrap();
    assert_eq!(short.len(), 11, "{out:?}");
    let id = last_line(&out.stdout);
    assert!(is_full_id(&id), "{out:?}");
    assert!(id.starts_with(short));
    assert_eq!(env.inspect("foo-app", "{{.Id}}"), id);
    assert_eq!(env.ok(&["run", "--rm", "foo-app"]), "console.log('hi')\n");
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.Cmd}} {{.Config.WorkingDir}} {{json .Config.ExposedPorts}} {{.Config.ExposedPorts}}",
            "foo-app"
        ])
        .trim(),
        // The last as podman 4.3 prints it (Go's map[string]struct{}).
        "[cat app.js] /app {\"3001/tcp\":{}} map[3001/tcp:{}]"
    );
    // No build container is left, and `images -a` keeps the steps as <none>.
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "");
    let all = env.ok(&["images", "-a", "--format", "{{.Repository}}"]);
    assert!(
        lines(&all).iter().filter(|r| *r == "<none>").count() >= 3,
        "{all}"
    );
    env.assert_no_mounts();
}

const DEMO: &str = "FROM localhost/busybox\n\
ARG GREETING=hi\n\
ENV APP=/app\n\
WORKDIR $APP\n\
COPY hello.txt .\n\
RUN echo \"$GREETING\" > greet.txt && echo ran-the-step\n\
RUN <<EOF\n\
echo body-one > /heredoc\n\
EOF\n\
CMD [\"cat\", \"/app/greet.txt\"]\n";

/// Whether the RUN step's output line is there (not just the STEP line naming it).
fn ran(stdout: &str) -> bool {
    lines(stdout).iter().any(|l| l == "ran-the-step")
}

fn cached_steps(stdout: &str) -> Vec<usize> {
    let mut step = 0;
    let mut out = Vec::new();
    for l in lines(stdout) {
        if let Some(rest) = l.strip_prefix("STEP ") {
            step = rest.split('/').next().unwrap().parse().unwrap();
        }
        if l.starts_with("--> Using cache ") {
            let hex = l.trim_start_matches("--> Using cache ");
            assert!(is_full_id(hex), "{l}");
            out.push(step);
        }
    }
    out
}

#[test]
fn cache_hits_when_nothing_changed_and_misses_on_every_changed_input() {
    let env = TestEnv::new("build-cache");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[("Containerfile", DEMO), ("hello.txt", "hello\n")],
    );
    let first = build(&env, &ctx, &["-t", "demo"]);
    assert_eq!(first.code(), 0, "{first:?}");
    assert!(ran(&first.stdout), "{first:?}");
    let id1 = last_line(&first.stdout);

    // Nothing changed: steps 2..8 answer from the cache, no RUN output, same id.
    let again = build(&env, &ctx, &["-t", "demo"]);
    assert_eq!(again.code(), 0, "{again:?}");
    assert_eq!(
        cached_steps(&again.stdout),
        (2..=8).collect::<Vec<_>>(),
        "{again:?}"
    );
    assert!(!ran(&again.stdout), "{again:?}");
    assert_eq!(last_line(&again.stdout), id1);
    let l = lines(&again.stdout);
    let commit = l.iter().position(|x| x == "COMMIT demo").unwrap();
    assert!(l[commit - 1].starts_with("--> Using cache "), "{again:?}");

    // A changed file: COPY and every later step rebuild.
    std::fs::write(ctx.join("hello.txt"), "changed\n").unwrap();
    let changed = build(&env, &ctx, &["-t", "demo"]);
    assert_eq!(changed.code(), 0, "{changed:?}");
    assert_eq!(cached_steps(&changed.stdout), vec![2, 3, 4], "{changed:?}");
    assert_ne!(last_line(&changed.stdout), id1);

    // A changed build arg: the RUN that sees it rebuilds, and the image has the value.
    let arg = build(&env, &ctx, &["--build-arg", "GREETING=yo", "-t", "demo2"]);
    assert_eq!(arg.code(), 0, "{arg:?}");
    assert_eq!(cached_steps(&arg.stdout), vec![2, 3, 4, 5], "{arg:?}");
    assert_eq!(env.ok(&["run", "--rm", "demo2"]), "yo\n");
    let hist = env.ok(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "demo2",
    ]);
    assert!(
        hist.contains("|1 GREETING=yo /bin/sh -c echo \"$GREETING\" > greet.txt"),
        "{hist}"
    );

    // A changed heredoc body: that RUN rebuilds (podman#21498).
    std::fs::write(
        ctx.join("Containerfile"),
        DEMO.replace("body-one", "body-two"),
    )
    .unwrap();
    let doc = build(&env, &ctx, &["-t", "demo"]);
    assert_eq!(doc.code(), 0, "{doc:?}");
    assert_eq!(cached_steps(&doc.stdout), vec![2, 3, 4, 5, 6], "{doc:?}");
    assert_eq!(
        env.ok(&["run", "--rm", "demo", "cat", "/heredoc"]),
        "body-two\n"
    );

    // --no-cache: no cache line at all, same content.
    let nc = build(&env, &ctx, &["--no-cache", "-t", "demo3"]);
    assert_eq!(nc.code(), 0, "{nc:?}");
    assert!(!nc.stdout.contains("Using cache"), "{nc:?}");
    assert!(ran(&nc.stdout), "{nc:?}");
    assert_eq!(env.ok(&["run", "--rm", "demo3"]), "hi\n");

    // A changed ignore file misses a context copy too.
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/busybox\nCOPY . /ctx/\nRUN ls /ctx\n",
    )
    .unwrap();
    assert_eq!(build(&env, &ctx, &["-t", "ig"]).code(), 0);
    std::fs::write(ctx.join(".containerignore"), "hello.txt\n").unwrap();
    let ig = build(&env, &ctx, &["-t", "ig"]);
    assert_eq!(cached_steps(&ig.stdout), Vec::<usize>::new(), "{ig:?}");
    assert!(!ig.stdout.contains("hello.txt"), "{ig:?}");
}

#[test]
fn quiet_iidfile_dockerfile_and_chown_in_the_key() {
    let env = TestEnv::new("build-flags");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM localhost/busybox\nCOPY --chown=1:2 f /f\n",
            ),
            ("f", "x"),
        ],
    );
    let iid = env.dir.join("iid");
    let out = build(
        &env,
        &ctx,
        &["-q", "--iidfile", iid.to_str().unwrap(), "-t", "q"],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let id = out.stdout.trim();
    assert!(is_full_id(id), "-q prints only the id: {out:?}");
    assert_eq!(
        std::fs::read_to_string(&iid).unwrap(),
        format!("sha256:{id}")
    );
    assert_eq!(
        env.ok(&["run", "--rm", "q", "stat", "-c", "%u:%g", "/f"]),
        "1:2\n"
    );
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM localhost/busybox\nCOPY --chown=3:4 f /f\n",
    )
    .unwrap();
    let out = build(&env, &ctx, &["-t", "q"]);
    assert!(!out.stdout.contains("Using cache"), "{out:?}");
    assert_eq!(
        env.ok(&["run", "--rm", "q", "stat", "-c", "%u:%g", "/f"]),
        "3:4\n"
    );
    // `-f` names another file; `image build` and `buildx build` are the same command.
    std::fs::write(
        ctx.join("Other"),
        "FROM localhost/busybox\nLABEL which=other\n",
    )
    .unwrap();
    let c = ctx.to_str().unwrap();
    let f = ctx.join("Other");
    env.ok(&[
        "image",
        "build",
        "-q",
        "-f",
        f.to_str().unwrap(),
        "-t",
        "other",
        c,
    ]);
    assert_eq!(env.inspect("other", "{{.Config.Labels.which}}"), "other");
    env.ok(&[
        "buildx",
        "build",
        "-q",
        "-f",
        f.to_str().unwrap(),
        "-t",
        "other2",
        c,
    ]);
}

#[test]
fn multi_stage_scratch_and_target() {
    let env = TestEnv::new("build-multi");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox AS builder\n\
                 RUN echo built > /artifact\n\
                 FROM localhost/busybox AS unused\n\
                 RUN echo never-runs\n\
                 FROM scratch\n\
                 COPY --from=builder /artifact /artifact\n",
        )],
    );
    let out = build(&env, &ctx, &["-t", "ms"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let l = lines(&out.stdout);
    assert_eq!(l[0], "[1/3] STEP 1/2: FROM localhost/busybox AS builder");
    assert!(
        l.contains(&"[3/3] STEP 1/2: FROM scratch".to_string()),
        "{out:?}"
    );
    assert!(l.contains(&"[3/3] COMMIT ms".to_string()), "{out:?}");
    assert!(
        !out.stdout.contains("never-runs"),
        "an unneeded stage ran: {out:?}"
    );
    // The final image holds only /artifact.
    let m = env.ok(&["image", "mount", "ms"]);
    let root = PathBuf::from(m.trim());
    let names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["artifact".to_string()]);
    assert_eq!(
        std::fs::read_to_string(root.join("artifact")).unwrap(),
        "built\n"
    );
    env.ok(&["image", "umount", "ms"]);
    assert_eq!(env.inspect("ms", "{{len .RootFS.Layers}}"), "1");
    // --target stops after the builder stage.
    let out = build(&env, &ctx, &["--target", "builder", "-t", "b"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("[1/3] COMMIT b"), "{out:?}");
    assert!(!out.stdout.contains("[3/3]"), "{out:?}");
    assert_eq!(env.ok(&["run", "--rm", "b", "cat", "/artifact"]), "built\n");
}

#[test]
fn containerignore_has_docker_semantics() {
    let env = TestEnv::new("build-ignore");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            ("Containerfile", "FROM localhost/busybox\nCOPY . /ctx/\n"),
            ("a.md", ""),
            ("keep.md", ""),
            ("sub/deep/x.md", ""),
            ("sub/y.txt", ""),
            ("docs/d.txt", ""),
            ("top.txt", ""),
            ("sub/top.txt", ""),
            ("ignored.txt", ""),
        ],
    );
    std::fs::write(
        ctx.join(".containerignore"),
        "ignored.txt\n**.md\n!keep.md\ndocs\n/top.txt\n",
    )
    .unwrap();
    let out = build(&env, &ctx, &["-t", "ig"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let listed = env.ok(&["run", "--rm", "ig", "find", "/ctx"]);
    let mut got = lines(&listed);
    got.sort();
    assert_eq!(
        got,
        [
            "/ctx",
            "/ctx/.containerignore",
            "/ctx/Containerfile",
            "/ctx/keep.md",
            "/ctx/sub",
            "/ctx/sub/deep",
            "/ctx/sub/top.txt",
            "/ctx/sub/y.txt",
        ]
    );
}

#[test]
fn failing_run_exits_with_its_code_and_leaves_nothing() {
    let env = TestEnv::new("build-fail");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[("Containerfile", "FROM localhost/busybox\nRUN exit 3\n")],
    );
    let out = build(&env, &ctx, &["-t", "fail"]);
    let out = out.assert_error(3, &[]);
    assert!(
        out.stderr.contains(
            "Error: building at STEP \"RUN exit 3\": while running runtime: exit status 3"
        ),
        "{out:?}"
    );
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "");
    assert!(env.run(&["image", "exists", "fail"]).code() != 0);
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn bad_input_is_refused_with_exit_125() {
    let env = TestEnv::new("build-bad");
    env.import_busybox();
    let cases: &[(&str, &[&str])] = &[
        (
            "FROM localhost/busybox\nFOO bar\n",
            &["Containerfile", "line 2", "unknown instruction: FOO"],
        ),
        (
            "FROM localhost/busybox\nCOPY ../x /x\n",
            &["outside the build context"],
        ),
        (
            "FROM localhost/busybox\nCOPY link/passwd /x\n",
            &["outside the build context"],
        ),
        (
            "FROM localhost/busybox\nCOPY --from=nope /x /x\n",
            &["nope"],
        ),
        ("FROM localhost/busybox\nCOPY missing /x\n", &["missing"]),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let ctx = context(&env, &format!("ctx{i}"), &[("Containerfile", text)]);
        std::os::unix::fs::symlink("/etc", ctx.join("link")).unwrap();
        let out = build(&env, &ctx, &["-t", "bad"]);
        out.assert_error(125, needles);
        assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "");
    }
    let ctx = context(&env, "ok", &[("Containerfile", "FROM localhost/busybox\n")]);
    build(&env, &env.dir.join("does-not-exist"), &[]).assert_error(125, &["does-not-exist"]);
    build(&env, &ctx, &["--platform", "linux/s390x"]).assert_error(125, &["linux/s390x"]);
    build(&env, &ctx, &["--target", "nosuch"]).assert_error(125, &["nosuch"]);
    assert!(env.run(&["image", "exists", "bad"]).code() != 0);
    env.assert_no_mounts();
}

#[test]
fn from_is_pulled_through_registries_conf() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("build-pull");
    let r = e.start(&RegistryOptions::default());
    let addr = e.reg(r).addr.clone();
    peapod_tests::registry::skopeo_copy(
        &images().layout,
        "single",
        &e.reg(r).docker("library/bbmirror"),
        &[],
    )
    .unwrap();
    std::fs::write(
        &e.conf,
        format!("[[registry]]\nprefix = \"docker.io\"\nlocation = \"{addr}\"\ninsecure = true\n"),
    )
    .unwrap();
    let ctx = e.env.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM docker.io/library/bbmirror\nRUN echo pulled-and-ran\n",
    )
    .unwrap();
    let out = e.run(&["build", "-t", "pulled", ctx.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("Trying to pull docker.io/library/bbmirror"),
        "pull progress on stderr: {out:?}"
    );
    assert!(!out.stdout.contains("Trying to pull"), "{out:?}");
    assert!(out.stdout.contains("pulled-and-ran"), "{out:?}");
}

#[test]
fn prune_removes_the_dangling_steps() {
    let env = TestEnv::new("build-prune");
    let base = env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN echo a > /a\nENV X=1\n",
        )],
    );
    assert_eq!(build(&env, &ctx, &["-t", "p"]).code(), 0);
    env.ok(&["untag", "p"]);
    env.ok(&["image", "prune", "-f"]);
    let ids = env.ok(&["images", "-a", "-q", "--no-trunc"]);
    assert_eq!(
        lines(&ids),
        vec![format!("sha256:{base}")],
        "only the base remains"
    );
}

#[test]
fn kube_play_build_builds_the_image_of_a_directory() {
    let env = TestEnv::new("build-kube");
    env.import_busybox();
    let top = context(
        &env,
        "top",
        &[
            (
                "kbuilt/Containerfile",
                "FROM localhost/busybox\nRUN echo built-by-play > /built\nCMD [\"sleep\", \"600\"]\n",
            ),
            (
                "play.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kb\nspec:\n  containers:\n  - name: c\n    image: localhost/kbuilt:latest\n",
            ),
        ],
    );
    let yaml = top.join("play.yaml");
    // Without --context-dir the image's directory is looked for in the working directory
    // (as Podman): not there, so the image is pulled, and that fails.
    env.run(&["kube", "play", "--build", yaml.to_str().unwrap()])
        .assert_error(125, &["localhost/kbuilt"]);
    let out = env.run(&[
        "kube",
        "play",
        "--build",
        "--context-dir",
        top.to_str().unwrap(),
        yaml.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains("STEP 2/3: RUN echo built-by-play > /built"),
        "{out:?}"
    );
    assert_eq!(
        env.ok(&["exec", "kb-c", "cat", "/built"]),
        "built-by-play\n"
    );
    env.ok(&["kube", "down", yaml.to_str().unwrap()]);
    // `--context-dir` names another top directory; without `--build` an existing image
    // is used as it is.
    let out = env.run(&[
        "kube",
        "play",
        "--context-dir",
        top.to_str().unwrap(),
        env.dir.join("top/play.yaml").to_str().unwrap(),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        !out.stderr.contains("STEP"),
        "the image exists: no build: {out:?}"
    );
    env.ok(&["kube", "down", yaml.to_str().unwrap()]);
}
