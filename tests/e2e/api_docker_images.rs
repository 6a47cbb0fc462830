//! Images through the Docker API with the docker CLI: `commit`, `history`, `save`/`load`
//! (one and many, and the pipe round trip), `image prune [-a]`, `system prune -f`; and
//! `login` against a local htpasswd registry, then `push` with the stored credentials.

use peapod_tests::registry::{Registry, RegistryOptions};

use crate::api_util::{DOCKER, Service, have_docker};
use crate::registry_util::tools_missing;
use crate::util::{IMG, PeapodCmd, TestEnv, lines, name};

/// A shell pipeline of docker commands pointed at `svc`.
fn docker_sh(svc: &Service, script: &str) -> crate::util::Output {
    PeapodCmd::program("sh", &["-c", script])
        .env("DOCKER_HOST", format!("unix://{}", svc.sock.display()))
        .env("DOCKER_CONFIG", svc.sock.with_extension("docker-config"))
        .timeout(std::time::Duration::from_secs(120))
        .output()
}

/// The ids `peapod images -a -q --no-trunc` lists.
fn image_ids(env: &TestEnv) -> Vec<String> {
    lines(
        &env.peapod(&["images", "-a", "-q", "--no-trunc"])
            .output()
            .success(),
    )
    .into_iter()
    .map(|l| l.trim_start_matches("sha256:").to_string())
    .collect()
}

#[test]
fn api_docker_commit_history_save_load() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_images");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let c = name("commit");
    svc.docker(&["run", "--name", &c, IMG, "sh", "-c", "echo made > /made"])
        .success();
    let repo = format!("localhost/{}", name("committed"));
    let tag = format!("{repo}:v1");
    let id = svc
        .docker(&[
            "commit",
            "-m",
            "a message of mine",
            "-c",
            "CMD [\"cat\", \"/made\"]",
            &c,
            &tag,
        ])
        .success();
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let ran = svc.docker(&["run", "--rm", &tag]).success();
    assert_eq!(ran, "made\n");
    // History: newest first, the commit's entry on top (its comment names the base, as
    // Podman's commit writes it).
    let hist = svc
        .docker(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.ID}}|{{.Comment}}",
            &tag,
        ])
        .success();
    let first = lines(&hist).into_iter().next().unwrap_or_default();
    assert_eq!(first, format!("{}|FROM {IMG}:latest", id.trim()), "{hist}");
    assert!(lines(&hist).len() >= 2, "{hist}");
    let missing = svc.docker(&["history", "nothere:1"]);
    assert_eq!(missing.code(), 1, "{missing:?}");
    assert!(missing.stderr.contains("No such image"), "{missing:?}");
    let no_ctr = svc.docker(&["commit", "nothere-ctr"]);
    assert_eq!(no_ctr.code(), 1, "{no_ctr:?}");
    assert!(no_ctr.stderr.contains("No such container"), "{no_ctr:?}");

    // save of two images to a file, both removed, loaded back.
    let tar = env.dir.join("two.tar");
    let t = tar.display().to_string();
    svc.docker(&["save", "-o", &t, IMG, &tag]).success();
    svc.docker(&["rm", &c]).success();
    svc.docker(&["rmi", &tag]).success();
    let loaded = svc.docker(&["load", "-i", &t]).success();
    assert!(loaded.contains(&format!("Loaded image: {tag}")), "{loaded}");
    assert_eq!(svc.docker(&["run", "--rm", &tag]).success(), "made\n");

    // The pipe round trip: save to stdout, load from stdin (the images are there: the
    // load records the same ids under the same names).
    let ids = image_ids(&env);
    let piped = docker_sh(&svc, &format!("{DOCKER} save {IMG} {tag} | {DOCKER} load"));
    assert_eq!(piped.code(), 0, "{piped:?}");
    assert!(
        piped.stdout.contains(&format!("Loaded image: {tag}")),
        "{piped:?}"
    );
    assert!(
        piped
            .stdout
            .contains(&format!("Loaded image: {IMG}:latest")),
        "{piped:?}"
    );
    assert_eq!(image_ids(&env), ids);
    assert_eq!(svc.docker(&["run", "--rm", &tag]).success(), "made\n");

    // Not an archive: an error, no image.
    let before = image_ids(&env);
    let bad = svc.docker_cmd(&["load"]).stdin("not a tar at all").output();
    assert_eq!(bad.code(), 1, "{bad:?}");
    assert!(bad.stderr.contains("Error response from daemon"), "{bad:?}");
    assert_eq!(image_ids(&env), before);
    // save of an image that is not there: 404 words, exit 1, no file.
    let none = env.dir.join("none.tar");
    let out = svc.docker(&["save", "-o", &none.display().to_string(), "nothere:1"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("No such image"), "{out:?}");
}

#[test]
fn api_docker_image_prune_and_system_prune() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_prune");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let c = name("dangle");
    svc.docker(&["create", "--name", &c, IMG, "true"]).success();
    // A dangling image (a commit without a name) and a named unused one.
    let dangling = svc.docker(&["commit", &c]).success();
    let dangling = dangling.trim().trim_start_matches("sha256:").to_string();
    let named = format!("localhost/{}:1", name("keep"));
    svc.docker(&["commit", &c, &named]).success();
    assert!(image_ids(&env).contains(&dangling));

    let out = svc.docker(&["image", "prune", "-f"]).success();
    assert!(
        out.contains(&format!("deleted: sha256:{dangling}")),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space"), "{out}");
    let ids = image_ids(&env);
    assert!(!ids.contains(&dangling), "{ids:?}");
    assert!(
        env.peapod(&["image", "exists", &named]).output().code() == 0,
        "a named image is not dangling"
    );
    // A label filter that matches nothing removes nothing.
    let out = svc
        .docker(&["image", "prune", "-a", "-f", "--filter", "label=nothere=1"])
        .success();
    assert!(!out.contains("deleted:"), "{out}");
    assert_eq!(env.peapod(&["image", "exists", &named]).output().code(), 0);

    // `-a`: every image no container uses (busybox is used by the container).
    let out = svc.docker(&["image", "prune", "-a", "-f"]).success();
    assert!(out.contains(&format!("untagged: {named}")), "{out}");
    assert_ne!(env.peapod(&["image", "exists", &named]).output().code(), 0);
    assert_eq!(env.peapod(&["image", "exists", IMG]).output().code(), 0);

    // system prune: the stopped container goes, then nothing is left to use busybox but
    // it stays (not dangling).
    let out = svc.docker(&["system", "prune", "-f"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("Total reclaimed space"), "{out:?}");
    assert_ne!(env.peapod(&["container", "exists", &c]).output().code(), 0);
    assert_eq!(env.peapod(&["image", "exists", IMG]).output().code(), 0);
}

#[test]
fn api_docker_login_then_push() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) || tools_missing() {
        return;
    }
    let env = TestEnv::new("api_login");
    env.import_busybox();
    let opts = RegistryOptions {
        htpasswd: Some(("tester".into(), "s3cret".into())),
        ..Default::default()
    };
    let reg = Registry::start(&env.dir.join("registry"), &opts).expect("docker-registry");
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");

    let wrong = svc
        .docker_cmd(&["login", &reg.addr, "-u", "tester", "--password-stdin"])
        .stdin("wrong\n")
        .output();
    assert_eq!(wrong.code(), 1, "{wrong:?}");
    assert!(
        wrong.stderr.contains(&format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            reg.addr
        )),
        "{wrong:?}"
    );
    let config = svc.sock.with_extension("docker-config").join("config.json");
    let stored = std::fs::read_to_string(&config).unwrap_or_default();
    assert!(!stored.contains(&reg.addr), "{stored}");

    let ok = svc
        .docker_cmd(&["login", &reg.addr, "-u", "tester", "--password-stdin"])
        .stdin("s3cret\n")
        .output();
    assert_eq!(ok.code(), 0, "{ok:?}");
    assert!(ok.stdout.contains("Login Succeeded"), "{ok:?}");

    // The client stored them; push sends them.
    let dest = format!("{}/{}:1", reg.addr, name("authed"));
    svc.docker(&["tag", IMG, &dest]).success();
    let pushed = svc.docker(&["push", &dest]);
    assert_eq!(pushed.code(), 0, "{pushed:?}");
    assert!(pushed.stdout.contains("1: digest: sha256:"), "{pushed:?}");
    // Without them the registry refuses.
    svc.docker(&["logout", &reg.addr]).success();
    let refused = svc.docker(&["push", &dest]);
    assert_ne!(refused.code(), 0, "{refused:?}");
}

#[test]
fn api_docker_search_a_local_registry() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) || tools_missing() {
        return;
    }
    let env = TestEnv::new("api_search");
    env.import_busybox();
    let reg = Registry::start(&env.dir.join("registry"), &RegistryOptions::default())
        .expect("docker-registry");
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let wanted = name("searchme");
    let other = name("other");
    for n in [&wanted, &other] {
        let dest = format!("{}/{n}:1", reg.addr);
        svc.docker(&["tag", IMG, &dest]).success();
        svc.docker(&["push", &dest]).success();
    }
    let found = svc
        .docker(&[
            "search",
            "--format",
            "{{.Name}}",
            &format!("{}/searchme", reg.addr),
        ])
        .success();
    assert_eq!(lines(&found), [format!("{}/{wanted}", reg.addr)], "{found}");
    // No official images in a catalog.
    let official = svc
        .docker(&[
            "search",
            "--filter",
            "is-official=true",
            &format!("{}/searchme", reg.addr),
        ])
        .success();
    assert!(!official.contains(&wanted), "{official}");
    // A term without a registry would be Docker Hub's: refused with a reason.
    let hub = svc.docker(&["search", "busybox"]);
    assert_eq!(hub.code(), 1, "{hub:?}");
    assert!(hub.stderr.contains("names no registry"), "{hub:?}");
}
