//! The libpod API's `kube play`/`kube down`/`generate kube` and exec, driven by podman 4.3's
//! remote client (`podman --url unix://…`) against a `peapod system service` on a private
//! socket. Traffic stays on this machine.

use std::time::Duration;

use crate::api_util::{PODMAN, Service, have_podman};
use crate::kube::{network, s, section, write_yaml};
use crate::util::{IMG, Output, PeapodCmd, TestEnv, free_port, http_get, name, wait_until};

/// No pod, container, volume or mount left (the service itself runs on).
fn assert_empty(env: &TestEnv, after: &str) {
    assert_eq!(env.ok(&["pod", "ps", "-q"]), "", "pods left after {after}");
    assert_eq!(env.ok(&["ps", "-aq"]), "", "containers left after {after}");
    assert_eq!(
        env.ok(&["volume", "ls", "-q"]),
        "",
        "volumes left after {after}"
    );
    env.assert_no_mounts();
}

const WEB: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: POD
spec:
  containers:
  - name: web
    image: localhost/busybox
    command: ["sh", "-c", "mkdir -p /w && echo remote-kube > /w/index && exec httpd -f -p 8080 -h /w"]
    ports:
    - containerPort: 8080
      hostPort: HOSTPORT
"#;

/// podman's remote client with stdin fed.
fn podman_in(svc: &Service, args: &[&str], stdin: &str) -> Output {
    let url = format!("unix://{}", svc.sock.display());
    let mut all = vec!["--url", &url];
    all.extend_from_slice(args);
    PeapodCmd::program(PODMAN, &all)
        .stdin(stdin)
        .timeout(Duration::from_secs(60))
        .output()
}

#[test]
fn api_libpod_kube_play_generate_down() {
    if peapod_tests::skip_unless(have_podman(), PODMAN) {
        return;
    }
    let env = TestEnv::new("api_libpod_kube");
    env.import_busybox();
    let net = network(&env);
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let pod = name("rk");
    let port = free_port();
    let file = write_yaml(
        &env,
        "web.yaml",
        &WEB.replace("POD", &pod)
            .replace("HOSTPORT", &port.to_string()),
    );

    // Played remotely: podman's summary, the pod seen by the CLI, the port answering.
    let out = svc.podman(&["kube", "play", "--network", &net, s(&file)]);
    assert_eq!(out.code(), 0, "{out:?}");
    let pod_id = section(&out.stdout, "Pod:");
    let ctr_id = section(&out.stdout, "Container:");
    assert_eq!((pod_id.len(), ctr_id.len()), (1, 1), "{out:?}");
    assert_eq!(
        env.ok(&["pod", "inspect", "--format", "{{.Id}}", &pod])
            .trim(),
        pod_id[0]
    );
    let web = format!("{pod}-web");
    assert_eq!(env.inspect(&web, "{{.Id}}"), ctr_id[0]);
    assert_eq!(env.status(&web), "running");
    let nets = env.inspect(
        &web,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}",
    );
    assert_eq!(nets, net);
    let mut body = None;
    wait_until("the played pod's port", Duration::from_secs(10), || {
        body = http_get(&format!("127.0.0.1:{port}"), "/index");
        body.is_some()
    });
    assert_eq!(body.as_deref(), Some("remote-kube\n"));

    // generate kube over the API prints what the CLI prints.
    let remote = svc.podman(&["generate", "kube", &pod]).success();
    let local = env.ok(&["generate", "kube", &pod]);
    assert!(local.contains(&format!("name: {pod}")), "{local}");
    assert_eq!(remote.trim_end(), local.trim_end());
    let missing = svc.podman(&["generate", "kube", "nothere"]);
    missing.assert_error(125, &["generating YAML", "nothere"]);

    // A second play of the same file is refused (the pod exists) and changes nothing.
    let again = svc.podman(&["kube", "play", "--network", &net, s(&file)]);
    again.assert_error(125, &["playing YAML file"]);
    assert_eq!(env.status(&web), "running");

    // kube down over the API: podman's teardown summary, nothing left.
    let down = svc.podman(&["kube", "down", s(&file)]);
    assert_eq!(down.code(), 0, "{down:?}");
    assert_eq!(section(&down.stdout, "Pods stopped:"), pod_id, "{down:?}");
    assert_eq!(section(&down.stdout, "Pods removed:"), pod_id, "{down:?}");
    assert_empty(&env, "remote kube down");
    assert_eq!(http_get(&format!("127.0.0.1:{port}"), "/index"), None);

    // --start=false creates the pod without starting it.
    let out = svc.podman(&["kube", "play", "--start=false", "--network", &net, s(&file)]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(env.status(&web), "created");
    svc.podman(&["kube", "down", s(&file)]).success();
    assert_empty(&env, "second remote kube down");

    // Bad YAML: podman's words, exit 125, nothing made.
    let bad = write_yaml(&env, "bad.yaml", "apiVersion: v1\nkind: Pod\nspec: [1\n");
    let out = svc.podman(&["kube", "play", s(&bad)]);
    out.assert_error(125, &["playing YAML file"]);
    assert_empty(&env, "a bad remote play");
}

#[test]
fn api_libpod_exec() {
    if peapod_tests::skip_unless(have_podman(), PODMAN) {
        return;
    }
    let env = TestEnv::new("api_libpod_exec");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let ctr = name("lx");
    svc.podman(&["run", "-d", "--name", &ctr, IMG, "sleep", "300"])
        .success();

    let hi = svc.podman(&["exec", &ctr, "echo", "hi"]);
    assert_eq!((hi.code(), hi.stdout.as_str()), (0, "hi\n"), "{hi:?}");
    let err = svc.podman(&["exec", &ctr, "sh", "-c", "echo oops >&2; exit 3"]);
    assert_eq!(err.code(), 3, "{err:?}");
    assert!(err.stderr.contains("oops"), "{err:?}");
    assert_eq!(err.stdout, "");
    let env_wd = svc.podman(&[
        "exec",
        "-e",
        "X=42",
        "-w",
        "/tmp",
        &ctr,
        "sh",
        "-c",
        "echo $X $PWD",
    ]);
    assert_eq!(env_wd.stdout, "42 /tmp\n", "{env_wd:?}");
    let user = svc.podman(&["exec", "-u", "65534", &ctr, "id", "-u"]);
    assert_eq!(user.stdout, "65534\n", "{user:?}");

    // -i: stdin reaches the process and its end closes it.
    let cat = podman_in(&svc, &["exec", "-i", &ctr, "cat"], "hello\nworld\n");
    assert_eq!(
        (cat.code(), cat.stdout.as_str()),
        (0, "hello\nworld\n"),
        "{cat:?}"
    );
    let wc = podman_in(&svc, &["exec", "-i", &ctr, "wc", "-c"], "12345");
    assert_eq!(wc.stdout.trim(), "5", "{wc:?}");

    // A command that does not exist: podman's exit code 127; the container keeps running.
    let nope = svc.podman(&["exec", &ctr, "/no/such/cmd"]);
    assert_eq!(nope.code(), 127, "{nope:?}");
    assert!(nope.stderr.contains("/no/such/cmd"), "{nope:?}");
    assert_eq!(env.status(&ctr), "running");

    // Bad names and a stopped container.
    let missing = svc.podman(&["exec", "nothere", "true"]);
    missing.assert_error(125, &["nothere"]);
    svc.podman(&["stop", "-t", "0", &ctr]).success();
    let stopped = svc.podman(&["exec", &ctr, "true"]);
    assert_ne!(stopped.code(), 0, "{stopped:?}");
    assert!(stopped.stderr.contains("not running"), "{stopped:?}");
    svc.podman(&["rm", &ctr]).success();
    assert!(env.names_all().is_empty());
}
