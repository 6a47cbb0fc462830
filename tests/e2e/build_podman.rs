//! The same Containerfile built by `podman build` and by `peapod build`: the same files,
//! modes and owners in the trees the build wrote, and the same config fields.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::podman::PodmanEnv;
use crate::util::TestEnv;

const CONTAINERFILE: &str = "FROM localhost/busybox\n\
ENV APP=/app GREETING=hello\n\
WORKDIR /app\n\
COPY app.txt ./\n\
COPY --chown=7:8 --chmod=640 secret.txt /data/secret.txt\n\
COPY tree /data/tree/\n\
RUN mkdir -p /data/made && echo \"$GREETING\" > /data/made/g && chmod 4750 /data/made/g \\\n\
 && chown 65534:65534 /data/made && ln -s g /data/made/link && rm /data/tree/gone.txt\n\
USER 1000:1000\n\
EXPOSE 8080 53/udp\n\
LABEL org.example=demo other=\"two words\"\n\
VOLUME /data/vol\n\
STOPSIGNAL SIGINT\n\
ENTRYPOINT [\"/bin/sh\", \"-c\"]\n\
CMD [\"cat /app/app.txt\"]\n";

/// `path type mode uid:gid size [-> target]` for each entry below `root`/`sub`, sorted.
fn listing(root: &Path, sub: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.join(sub)];
    while let Some(p) = todo.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        let ft = m.file_type();
        let (kind, extra) = if ft.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
            ("d", String::new())
        } else if ft.is_symlink() {
            (
                "l",
                format!(" -> {}", std::fs::read_link(&p).unwrap().display()),
            )
        } else {
            ("f", format!(" {}", m.len()))
        };
        out.push(format!(
            "{rel} {kind} {:o} {}:{}{extra}",
            m.mode() & 0o7777,
            m.uid(),
            m.gid()
        ));
    }
    out.sort();
    out
}

const FIELDS: &str = "{{json .Config.Cmd}} {{json .Config.Entrypoint}} {{json .Config.Env}} \
{{.Config.WorkingDir}} {{.Config.User}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}} \
{{.Config.StopSignal}} {{index .Config.Labels \"org.example\"}} {{index .Config.Labels \"other\"}}";

#[test]
fn podman_and_peapod_build_the_same_image() {
    let Some(pm) = PodmanEnv::new("build-podman", None, "") else {
        return;
    };
    let env = TestEnv::new("build-podman");
    let ctx = env.dir.join("ctx");
    std::fs::create_dir_all(ctx.join("tree/sub")).unwrap();
    std::fs::write(ctx.join("Containerfile"), CONTAINERFILE).unwrap();
    std::fs::write(ctx.join("app.txt"), "app\n").unwrap();
    std::fs::write(ctx.join("secret.txt"), "s3cret\n").unwrap();
    std::fs::write(ctx.join("tree/a.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(ctx.join("tree/gone.txt"), "x").unwrap();
    std::fs::write(ctx.join("tree/sub/b"), "b").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        ctx.join("tree/a.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(ctx.join("tree/sub"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink("a.sh", ctx.join("tree/link")).unwrap();
    let c = ctx.to_str().unwrap();

    env.import_busybox();
    env.ok(&["build", "-q", "-t", "cmp", c]);
    pm.import_busybox();
    let out = pm.run(&["--runtime", "runc", "build", "-q", "-t", "cmp", c]);
    assert_eq!(out.code(), 0, "{out:?}");

    assert_eq!(
        env.ok(&["image", "inspect", "--format", FIELDS, "cmp"]),
        pm.ok(&["image", "inspect", "--format", FIELDS, "cmp"])
    );
    let ours = std::path::PathBuf::from(env.ok(&["image", "mount", "cmp"]).trim());
    let theirs = std::path::PathBuf::from(pm.ok(&["image", "mount", "cmp"]).trim());
    for sub in ["app", "data"] {
        assert_eq!(listing(&ours, sub), listing(&theirs, sub), "/{sub} differs");
    }
    env.ok(&["image", "umount", "cmp"]);
    pm.ok(&["image", "umount", "cmp"]);
}
