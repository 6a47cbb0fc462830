//! The API service's streamed answers, driven by the docker CLI: `docker pull` of a
//! Docker Hub name (served by a local docker-registry through registries.conf, as
//! Podman's compat API resolves short names to docker.io), `docker events` with a time
//! window, `docker stats --no-stream`.

use std::os::unix::fs::FileTypeExt;
use std::process::Stdio;
use std::time::Duration;

use peapod_tests::registry::RegistryOptions;

use crate::api_util::{DOCKER, Service};
use crate::registry_util::{RegEnv, images, tools_missing};
use crate::util::{IMG, name, wait_until};

fn have_docker() -> bool {
    std::path::Path::new(DOCKER).exists()
}

/// The service started with the registry world of `e` (its registries.conf, HOME).
fn service(e: &RegEnv) -> Service {
    let sock = e.env.dir.join("api.sock");
    let uri = format!("unix://{}", sock.display());
    let child = e
        .peapod(&["system", "service", "--time", "0", &uri])
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn peapod system service");
    wait_until("the API socket", Duration::from_secs(10), || {
        std::fs::metadata(&sock).is_ok_and(|m| m.file_type().is_socket())
    });
    Service { child, sock }
}

#[test]
fn api_docker_pull_events_and_stats() {
    if tools_missing() || peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let mut e = RegEnv::new("api-streams");
    let r = e.start(&RegistryOptions::default());
    let addr = e.reg(r).addr.clone();
    peapod_tests::registry::skopeo_copy(
        &images().layout,
        "single",
        &e.reg(r).docker("library/tiny"),
        &[],
    )
    .unwrap();
    std::fs::write(
        &e.conf,
        format!("[[registry]]\nprefix = \"docker.io\"\nlocation = \"{addr}\"\ninsecure = true\n"),
    )
    .unwrap();
    let svc = service(&e);

    // docker pull: Docker's progress, then the image is there under its Docker Hub name.
    let out = svc.docker(&["pull", "tiny"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stdout.contains("Pulling from library/tiny"), "{out:?}");
    assert!(out.stdout.contains("Pull complete"), "{out:?}");
    assert!(out.stdout.contains("Digest: sha256:"), "{out:?}");
    assert!(
        out.stdout.contains("docker.io/library/tiny:latest"),
        "{out:?}"
    );
    let listed = e.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(listed.contains("docker.io/library/tiny:latest"), "{listed}");
    let missing = svc.docker(&["pull", "nosuchimage"]);
    assert_ne!(missing.code(), 0, "{missing:?}");

    // docker stats --no-stream of a busy container: Docker's table, a CPU figure.
    e.env.import_busybox();
    let web = name("web");
    let out = svc.docker(&[
        "run",
        "-d",
        "--name",
        &web,
        IMG,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = svc.docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}",
        &web,
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let f: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(f[0], web, "{out:?}");
    let cpu: f64 = f[1].trim_end_matches('%').parse().unwrap();
    assert!(cpu > 1.0, "a busy loop uses CPU: {out:?}");
    assert_eq!(f.last(), Some(&"1"), "{out:?}");
    let rm = svc.docker(&["rm", "-f", &web]);
    assert_eq!(rm.code(), 0, "{rm:?}");

    // docker events in a window: the container's life in Docker's words. `--until 0s` is
    // now in whole seconds, so the last events show once that second has passed.
    let events = || {
        svc.docker(&[
            "events",
            "--since",
            "5m",
            "--until",
            "0s",
            "--filter",
            &format!("container={web}"),
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ])
    };
    let mut out = events();
    wait_until(
        "the removal in docker events",
        Duration::from_secs(10),
        || {
            out = events();
            out.stdout.contains(" destroy ")
        },
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    for want in ["create", "start", "die", "destroy"] {
        assert!(
            lines.contains(&format!("container {want} {web}").as_str()),
            "{want} in {lines:?}"
        );
    }
}
