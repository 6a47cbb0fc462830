//! The libpod API (`/v4.x.y/libpod/…`) driven by podman 4.3's own remote client
//! (`podman --url unix://…`) against a `peapod system service` on a private socket.

use crate::api_util::{PODMAN, Service, have_podman};
use crate::util::{IMG, TestEnv, lines, name};

#[test]
fn api_libpod_podman_remote_ps_images_run_inspect_rm() {
    if peapod_tests::skip_unless(have_podman(), PODMAN) {
        return;
    }
    let env = TestEnv::new("api_libpod");
    let image_id = env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");

    let version = svc
        .podman(&["version", "--format", "{{.Server.APIVersion}}"])
        .success();
    assert_eq!(version.trim(), "4.3.1");
    let ps = svc.podman(&["ps", "-a"]).success();
    assert_eq!(lines(&ps).len(), 1, "only the header: {ps}");
    assert!(ps.starts_with("CONTAINER ID"), "{ps}");
    let images = svc
        .podman(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
        .success();
    assert_eq!(images.trim(), format!("{IMG}:latest {}", &image_id[..12]));

    // run --rm: the output, the exit code, and nothing left behind.
    let hi = svc.podman(&["run", "--rm", IMG, "echo", "hi"]);
    assert_eq!(hi.code(), 0, "{hi:?}");
    assert_eq!(hi.stdout, "hi\n");
    let seven = svc.podman(&["run", "--rm", IMG, "sh", "-c", "exit 7"]);
    assert_eq!(seven.code(), 7, "{seven:?}");
    assert!(env.names_all().is_empty(), "run --rm left a container");

    // create/start/inspect/stop/rm, seen by the CLI as well.
    let ctr = name("lp");
    let id = svc
        .podman(&["create", "--name", &ctr, "-e", "A=1", IMG, "sleep", "100"])
        .success();
    assert_eq!(id.trim().len(), 64, "{id}");
    svc.podman(&["container", "exists", &ctr]).success();
    svc.podman(&["start", &ctr]).success();
    assert_eq!(env.status(&ctr), "running");
    let st = svc
        .podman(&["inspect", "--format", "{{.State.Status}} {{.Name}}", &ctr])
        .success();
    assert_eq!(st.trim(), format!("running {ctr}"));
    // podman 4.3's `{{.State}}` is its status text (`Up … ago`).
    let ps = svc
        .podman(&["ps", "--format", "{{.Names}}|{{.State}}|{{.Image}}"])
        .success();
    let cols: Vec<&str> = ps.trim().split('|').collect();
    assert_eq!(cols.len(), 3, "{ps}");
    assert_eq!(
        (cols[0], cols[2]),
        (ctr.as_str(), format!("{IMG}:latest").as_str())
    );
    assert!(cols[1].starts_with("Up "), "{ps}");
    let env_line = env.inspect(&ctr, "{{range .Config.Env}}{{println .}}{{end}}");
    assert!(env_line.lines().any(|l| l == "A=1"), "{env_line}");
    svc.podman(&["stop", "-t", "1", &ctr]).success();
    assert_eq!(env.status(&ctr), "exited");
    svc.podman(&["rm", &ctr]).success();
    assert!(env.names_all().is_empty());

    // Bad names: podman's messages and exit codes, through the service.
    let missing = svc.podman(&["rm", "nothere"]);
    missing.assert_error(1, &["no container with name or ID \"nothere\" found"]);
    let missing = svc.podman(&["inspect", "nothere"]);
    missing.assert_error(125, &["no such object: \"nothere\""]);
    let missing = svc.podman(&["container", "exists", "nothere"]);
    assert_eq!(missing.code(), 1, "{missing:?}");
    let missing = svc.podman(&["start", "nothere"]);
    missing.assert_error(125, &["no such container"]);
    let missing = svc.podman(&["rmi", "nothere"]);
    missing.assert_error(1, &["nothere"]);
    assert_eq!(env.ids_all().len(), 0);
}

#[test]
fn api_libpod_podman_remote_pods() {
    if peapod_tests::skip_unless(have_podman(), PODMAN) {
        return;
    }
    let env = TestEnv::new("api_libpod_pods");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let pod = name("lpod");
    let id = svc.podman(&["pod", "create", "--name", &pod]).success();
    assert_eq!(id.trim().len(), 64, "{id}");
    let member = name("lpm");
    svc.podman(&[
        "create", "--pod", &pod, "--name", &member, IMG, "sleep", "100",
    ])
    .success();
    let ps = svc
        .podman(&[
            "pod",
            "ps",
            "--format",
            "{{.Name}} {{.Status}} {{.NumberOfContainers}}",
        ])
        .success();
    assert_eq!(ps.trim(), format!("{pod} Created 2"));
    // The CLI sees the same pod.
    let cli = env.ok(&["pod", "ps", "--format", "{{.Name}}"]);
    assert_eq!(cli.trim(), pod);

    svc.podman(&["pod", "start", &pod]).success();
    assert_eq!(env.status(&member), "running");
    let state = svc
        .podman(&[
            "pod",
            "inspect",
            "--format",
            "{{.State}} {{.NumContainers}}",
            &pod,
        ])
        .success();
    assert_eq!(state.trim(), "Running 2");
    svc.podman(&["pod", "stop", "-t", "1", &pod]).success();
    assert_eq!(env.status(&member), "exited");
    svc.podman(&["pod", "rm", "-f", &pod]).success();
    assert!(env.ok(&["pod", "ps", "-q"]).trim().is_empty());
    assert!(env.names_all().is_empty(), "pod rm left containers");

    let missing = svc.podman(&["pod", "rm", "nothere"]);
    missing.assert_error(1, &["unable to find pod \"nothere\": no such pod"]);
}
