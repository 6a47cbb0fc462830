//! docker-compose 1.29 (Debian's, Python) against the API service: a two-service app on
//! its own network, one service fetching the other by name, a published port; `ps`, `logs`,
//! `down`. And the network, volume and container endpoints compose and the CLI use.

use std::path::Path;
use std::time::Duration;

use crate::api_util::{DOCKER, Service, have_docker};
use crate::util::{IMG, PeapodCmd, TestEnv, free_port, name, wait_until};

const COMPOSE: &str = "/usr/bin/docker-compose";

fn compose(svc: &Service, dir: &Path, args: &[&str]) -> crate::util::Output {
    let file = dir.join("docker-compose.yml");
    let mut all = vec![
        "-f",
        file.to_str().unwrap(),
        "-p",
        dir.file_name().unwrap().to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    PeapodCmd::program(COMPOSE, &all)
        .env("DOCKER_HOST", format!("unix://{}", svc.sock.display()))
        .env("COMPOSE_INTERACTIVE_NO_CLI", "1")
        .timeout(Duration::from_secs(120))
        .output()
}

#[test]
fn api_docker_compose_up_ps_logs_down() {
    if peapod_tests::skip_unless(
        Path::new(COMPOSE).is_file(),
        "docker-compose (apt-get install docker-compose)",
    ) {
        return;
    }
    let env = TestEnv::new("api_compose");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let project = name("proj").replace('-', "");
    let dir = env.dir.join(&project);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    std::fs::write(
        dir.join("docker-compose.yml"),
        format!(
            r#"version: "3"
services:
  web:
    image: {IMG}
    command: ["sh", "-c", "echo page-from-web > /tmp/index.html; httpd -f -p 80 -h /tmp"]
    ports:
      - "127.0.0.1:{port}:80"
  client:
    image: {IMG}
    depends_on: [web]
    command: ["sh", "-c", "for i in $$(seq 1 40); do wget -qO- http://web/index.html && break; sleep 0.25; done; sleep 300"]
"#
        ),
    )
    .unwrap();
    let up = compose(&svc, &dir, &["up", "-d"]);
    assert_eq!(up.code(), 0, "{up:?}");
    let net = format!("{project}_default");
    let nets = env.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.lines().any(|n| n == net), "{nets}");

    // The published port, and the client reaching the web service by its name.
    let addr = format!("127.0.0.1:{port}");
    wait_until(
        "web through the published port",
        Duration::from_secs(15),
        || crate::util::http_get(&addr, "/index.html").is_some_and(|p| p.contains("page-from-web")),
    );
    let mut logs = String::new();
    wait_until(
        "the client's log shows the page",
        Duration::from_secs(20),
        || {
            logs = compose(&svc, &dir, &["logs", "--no-color", "client"]).stdout;
            logs.contains("page-from-web")
        },
    );

    let ps = compose(&svc, &dir, &["ps"]);
    assert_eq!(ps.code(), 0, "{ps:?}");
    let up_lines = ps.stdout.lines().filter(|l| l.contains(" Up")).count();
    assert_eq!(up_lines, 2, "{}", ps.stdout);
    assert_eq!(env.names_all().len(), 2);

    let down = compose(&svc, &dir, &["down"]);
    assert_eq!(down.code(), 0, "{down:?}");
    assert!(env.names_all().is_empty(), "down left containers");
    let nets = env.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        !nets.lines().any(|n| n == net),
        "down left the network: {nets}"
    );
}

#[test]
fn api_docker_network_volume_and_container_management() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_manage");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let net = name("apinet");
    let vol = name("apivol");
    svc.docker(&["network", "create", &net]).success();
    assert!(
        env.ok(&["network", "ls", "--format", "{{.Name}}"])
            .lines()
            .any(|n| n == net)
    );
    svc.docker(&["volume", "create", &vol]).success();
    assert!(
        env.ok(&["volume", "ls", "--format", "{{.Name}}"])
            .lines()
            .any(|n| n == vol)
    );
    let dup = svc.docker(&["network", "create", &net]);
    assert_ne!(dup.code(), 0, "{dup:?}");
    assert!(dup.stderr.contains("already exists"), "{dup:?}");

    let ctr = name("apimgr");
    let mount = format!("{vol}:/d");
    svc.docker(&[
        "run",
        "-d",
        "--name",
        &ctr,
        "--network",
        &net,
        "-v",
        &mount,
        IMG,
        "sleep",
        "300",
    ])
    .success();
    // In use: refused with Docker's conflict.
    let busy = svc.docker(&["network", "rm", &net]);
    assert_ne!(busy.code(), 0, "{busy:?}");

    svc.docker(&["pause", &ctr]).success();
    assert_eq!(env.status(&ctr), "paused");
    svc.docker(&["unpause", &ctr]).success();
    assert_eq!(env.status(&ctr), "running");
    let top = svc.docker(&["top", &ctr]).success();
    assert!(top.contains("sleep 300"), "{top}");
    let renamed = format!("{ctr}-new");
    svc.docker(&["rename", &ctr, &renamed]).success();
    assert_eq!(env.names_all(), vec![renamed.clone()]);

    // connect / disconnect a second network.
    let net2 = name("apinet2");
    svc.docker(&["network", "create", &net2]).success();
    svc.docker(&["network", "connect", &net2, &renamed])
        .success();
    let nets = env.inspect(
        &renamed,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert!(nets.contains(&net2), "{nets}");
    svc.docker(&["network", "disconnect", &net2, &renamed])
        .success();
    let nets = env.inspect(
        &renamed,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert!(!nets.contains(&net2), "{nets}");

    svc.docker(&["stop", "-t", "0", &renamed]).success();
    let id = env.ids_all().remove(0);
    let pruned = svc.docker(&["container", "prune", "-f"]).success();
    assert!(pruned.contains(&id), "{pruned}");
    assert!(
        env.names_all().is_empty(),
        "container prune left {:?}",
        env.names_all()
    );
    let pruned = svc.docker(&["network", "prune", "-f"]).success();
    assert!(pruned.contains(&net) && pruned.contains(&net2), "{pruned}");
    svc.docker(&["volume", "rm", &vol]).success();
    assert!(
        !env.ok(&["volume", "ls", "--format", "{{.Name}}"])
            .lines()
            .any(|n| n == vol)
    );
}

#[test]
fn api_docker_tag_and_rmi() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_tag_rmi");
    let id = env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    svc.docker(&["tag", IMG, "localhost/other:v1"]).success();
    let names = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(names.lines().any(|n| n == "localhost/other:v1"), "{names}");
    let out = svc.docker(&["rmi", "localhost/other:v1"]).success();
    assert!(out.contains("Untagged: localhost/other:v1"), "{out}");
    assert_eq!(
        env.ok(&["images", "-q"]).lines().count(),
        1,
        "the image itself stays"
    );
    let out = svc.docker(&["rmi", IMG]).success();
    assert!(out.contains("Deleted: sha256:"), "{out}");
    assert!(
        out.contains(&id[..12]) || out.contains(id.trim_start_matches("sha256:")),
        "{out} / {id}"
    );
    assert!(env.ok(&["images", "-q"]).trim().is_empty());
    let missing = svc.docker(&["rmi", "localhost/nothere"]);
    assert_ne!(missing.code(), 0);
    assert!(missing.stderr.contains("No such image"), "{missing:?}");
}
