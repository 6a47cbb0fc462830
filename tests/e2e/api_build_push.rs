//! `docker push` and `docker build` (the legacy builder) through `peapod system service`,
//! with the real docker CLI and a real `docker-registry` started by the test.

use peapod_tests::registry::{Registry, RegistryOptions, skopeo_inspect};

use crate::api_util::{DOCKER, Service, have_docker};
use crate::registry_util::tools_missing;
use crate::util::{TestEnv, lines, name};

#[test]
fn api_docker_push_to_a_local_registry() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) || tools_missing() {
        return;
    }
    let env = TestEnv::new("api_push");
    env.import_busybox();
    let reg = Registry::start(&env.dir.join("registry"), &RegistryOptions::default())
        .expect("starting docker-registry");
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let dest = format!("{}/{}:1", reg.addr, name("bb"));
    svc.docker(&["tag", crate::util::IMG, &dest]).success();
    let out = svc.docker(&["push", &dest]);
    assert_eq!(out.code(), 0, "{out:?}");
    let repo = dest.trim_end_matches(":1");
    assert!(
        out.stdout
            .contains(&format!("The push refers to repository [{repo}]")),
        "{out:?}"
    );
    let digest_line = lines(&out.stdout)
        .into_iter()
        .find(|l| l.starts_with("1: digest: sha256:"))
        .unwrap_or_else(|| panic!("no digest line:{out:?}"));
    // The registry has it, under the digest docker printed.
    let inspected = skopeo_inspect(&format!("docker://{dest}"), &[]).expect("skopeo inspect");
    let v: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    let digest = v["Digest"].as_str().unwrap();
    assert!(digest_line.contains(digest), "{digest_line} vs {digest}");

    // An image that is not there: Docker's words, exit 1, nothing pushed.
    let missing = svc.docker(&["push", &format!("{}/nothere:1", reg.addr)]);
    assert_eq!(missing.code(), 1, "{missing:?}");
    assert!(missing.stderr.contains("No such image"), "{missing:?}");
}

#[test]
fn api_docker_legacy_build_then_run() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_build");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let ctx = env.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {}\nARG MSG=none\nCOPY data /data\nRUN echo $MSG > /msg\nCMD [\"cat\", \"/msg\", \"/data\"]\n",
            crate::util::IMG
        ),
    )
    .unwrap();
    std::fs::write(ctx.join("data"), "from the context\n").unwrap();
    let tag = name("viadocker");
    let ctx_s = ctx.to_str().unwrap();
    let out = svc
        .docker_cmd(&["build", "--build-arg", "MSG=built", "-t", &tag, ctx_s])
        .env("DOCKER_BUILDKIT", "0")
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("Successfully built "), "{out:?}");
    let images = env.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(
        lines(&images).contains(&format!("localhost/{tag}")),
        "{images}"
    );
    let run = svc.docker(&["run", "--rm", &tag]).success();
    assert_eq!(run, "built\nfrom the context\n");

    // -q: only the new image's id.
    let quiet = svc
        .docker_cmd(&["build", "-q", "-t", &format!("{tag}-q"), ctx_s])
        .env("DOCKER_BUILDKIT", "0")
        .output();
    assert_eq!(quiet.code(), 0, "{quiet:?}");
    let id = quiet.stdout.trim();
    let want = env.inspect(&format!("{tag}-q"), "{{.Id}}");
    assert_eq!(id, format!("sha256:{want}"));

    // A failing step: Docker's exit 1 with the step's error; no container is left.
    let bad_file = ctx.join("Dockerfile.bad");
    std::fs::write(&bad_file, "FROM localhost/busybox\nRUN exit 3\n").unwrap();
    let bad = svc
        .docker_cmd(&["build", "-f", bad_file.to_str().unwrap(), ctx_s])
        .env("DOCKER_BUILDKIT", "0")
        .output();
    assert_eq!(bad.code(), 1, "{bad:?}");
    assert!(bad.stderr.contains("exit status 3"), "{bad:?}");
    assert!(env.ids_all().is_empty(), "a build left containers");
}
