//! The libpod API's networks, volumes, pull (Podman's progress stream, from a registry on
//! this machine), `logs -f` and `stop -t`, driven by podman 4.3's remote client against a
//! `peapod system service` on a private socket, each result checked with the local CLI.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use peapod_tests::registry::{Registry, RegistryOptions};

use crate::api_util::{PODMAN, Service, have_podman};
use crate::registry_util::tools_missing;
use crate::util::{IMG, PeapodCmd, TestEnv, lines, name};

#[test]
fn api_libpod_networks_and_volumes() {
    if peapod_tests::skip_unless(have_podman(), PODMAN) {
        return;
    }
    let env = TestEnv::new("api_libpod_netvol");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");

    // Networks: create with a subnet and a label, seen by the CLI; inspect; ls.
    let net = name("lnet");
    let n = std::process::id() % 200 + 20;
    let subnet = format!("10.238.{n}.0/24");
    let made = svc
        .podman(&[
            "network", "create", "--subnet", &subnet, "--label", "k=v", &net,
        ])
        .success();
    assert_eq!(made.trim(), net);
    let cli = env.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(lines(&cli).contains(&net), "{cli}");
    let got = svc
        .podman(&[
            "network",
            "inspect",
            "--format",
            "{{range .Subnets}}{{.Subnet}}{{end}} {{.Labels.k}}",
            &net,
        ])
        .success();
    assert_eq!(got.trim(), format!("{subnet} v"));
    let ls = svc
        .podman(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"])
        .success();
    assert!(lines(&ls).contains(&format!("{net} bridge")), "{ls}");
    let taken = svc.podman(&["network", "create", &net]);
    taken.assert_error(125, &["already"]);

    // connect/disconnect a running container, seen by the CLI's inspect.
    let ctr = name("lnc");
    svc.podman(&["run", "-d", "--name", &ctr, IMG, "sleep", "300"])
        .success();
    svc.podman(&["network", "connect", "--alias", "web", &net, &ctr])
        .success();
    let nets = env.inspect(
        &ctr,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert!(nets.split_whitespace().any(|x| x == net), "{nets}");
    let ip = env.inspect(
        &ctr,
        &format!("{{{{(index .NetworkSettings.Networks \"{net}\").IPAddress}}}}"),
    );
    assert!(ip.starts_with(&format!("10.238.{n}.")), "{ip}");
    svc.podman(&["network", "disconnect", &net, &ctr]).success();
    let nets = env.inspect(
        &ctr,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    assert!(!nets.split_whitespace().any(|x| x == net), "{nets}");
    let bad = svc.podman(&["network", "connect", &net, "nothere"]);
    bad.assert_error(125, &["nothere"]);
    svc.podman(&["rm", "-f", "-t", "0", &ctr]).success();

    svc.podman(&["network", "rm", &net]).success();
    let cli = env.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!lines(&cli).contains(&net), "{cli}");
    // podman's exit code for a missing network is 1.
    let missing = svc.podman(&["network", "rm", "nothere"]);
    missing.assert_error(1, &["unable to find network with name or ID nothere"]);
    let missing = svc.podman(&["network", "inspect", "nothere"]);
    assert_ne!(missing.code(), 0, "{missing:?}");

    // Volumes: create with a label, seen by the CLI; ls, inspect, rm, prune.
    let vol = name("lvol");
    let made = svc
        .podman(&["volume", "create", "--label", "a=b", &vol])
        .success();
    assert_eq!(made.trim(), vol);
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), vol);
    let got = svc
        .podman(&[
            "volume",
            "inspect",
            "--format",
            "{{.Name}} {{.Labels.a}} {{.Driver}}",
            &vol,
        ])
        .success();
    assert_eq!(got.trim(), format!("{vol} b local"));
    let ls = svc
        .podman(&["volume", "ls", "--format", "{{.Name}}"])
        .success();
    assert_eq!(ls.trim(), vol);
    let taken = svc.podman(&["volume", "create", &vol]);
    taken.assert_error(125, &[&vol]);
    // A volume in use is refused, then removed with its user gone.
    let user = name("lvu");
    svc.podman(&[
        "create",
        "--name",
        &user,
        "-v",
        &format!("{vol}:/data"),
        IMG,
        "true",
    ])
    .success();
    let busy = svc.podman(&["volume", "rm", &vol]);
    assert_ne!(busy.code(), 0, "{busy:?}");
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), vol);
    svc.podman(&["rm", &user]).success();
    svc.podman(&["volume", "rm", &vol]).success();
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), "");
    let missing = svc.podman(&["volume", "rm", "nothere"]);
    missing.assert_error(1, &["nothere"]);

    let (v1, v2) = (name("lpa"), name("lpb"));
    env.ok(&["volume", "create", &v1]);
    env.ok(&["volume", "create", &v2]);
    let pruned = svc.podman(&["volume", "prune", "-f"]).success();
    let mut got = lines(&pruned);
    got.sort();
    let mut want = vec![v1, v2];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(env.ok(&["volume", "ls", "-q"]).trim(), "");
}

#[test]
fn api_libpod_pull_logs_stop() {
    if peapod_tests::skip_unless(have_podman(), PODMAN) || tools_missing() {
        return;
    }
    let env = TestEnv::new("api_libpod_pull");
    let id = env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let reg = Registry::start(&env.dir.join("registry"), &RegistryOptions::default())
        .expect("starting docker-registry");
    let image = format!("{}/{}:1", reg.addr, name("bb"));
    env.ok(&["push", "--tls-verify=false", IMG, &image]);
    env.ok(&["rmi", IMG]);
    assert_eq!(env.ok(&["images", "-q"]), "");

    // pull: podman's progress lines on stderr, the id on stdout.
    let out = svc.podman(&["pull", "--tls-verify=false", &image]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout.trim(), id, "{out:?}");
    let progress = lines(&out.stderr);
    assert_eq!(
        progress.first(),
        Some(&format!("Trying to pull {image}...")),
        "{out:?}"
    );
    assert!(
        progress
            .iter()
            .any(|l| l.starts_with("Copying blob sha256:")),
        "{out:?}"
    );
    assert!(
        progress.contains(&"Writing manifest to image destination".to_string()),
        "{out:?}"
    );
    let listed = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(listed.trim(), image);
    // -q: the id only.
    let quiet = svc.podman(&["pull", "-q", "--tls-verify=false", &image]);
    assert_eq!(
        (quiet.stdout.trim(), quiet.stderr.as_str()),
        (id.as_str(), ""),
        "{quiet:?}"
    );
    // A missing image: the registry's answer, exit 125, nothing stored.
    let missing = svc.podman(&[
        "pull",
        "--tls-verify=false",
        &format!("{}/nothere:1", reg.addr),
    ]);
    missing.assert_error(125, &["nothere"]);
    assert_eq!(lines(&env.ok(&["images", "-q"])).len(), 1);

    // logs -f follows until the container exits.
    let ctr = name("llog");
    svc.podman(&[
        "run",
        "-d",
        "--name",
        &ctr,
        &image,
        "sh",
        "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.5; done",
    ])
    .success();
    let url = format!("unix://{}", svc.sock.display());
    let mut child = PeapodCmd::program(PODMAN, &["--url", &url, "logs", "-f", &ctr])
        .command()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("podman logs -f");
    let started = Instant::now();
    let mut got = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        got.push(line.unwrap());
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(got, ["line1", "line2", "line3"]);
    assert!(started.elapsed() < Duration::from_secs(20));
    svc.podman(&["rm", &ctr]).success();

    // stop -t: a container that ignores SIGTERM is killed after the timeout.
    let ctr = name("lstop");
    svc.podman(&[
        "run",
        "-d",
        "--name",
        &ctr,
        &image,
        "sh",
        "-c",
        "trap '' TERM; while :; do sleep 0.1; done",
    ])
    .success();
    let t0 = Instant::now();
    svc.podman(&["stop", "-t", "2", &ctr]).success();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(env.status(&ctr), "exited");
    assert_eq!(env.inspect(&ctr, "{{.State.ExitCode}}"), "137");
    svc.podman(&["rm", &ctr]).success();
    assert!(env.names_all().is_empty());
}
