//! `kube play --service-container`: the container standing for a play's pods, as Podman's
//! users (and systemd units) rely on it: named after the file's sha256, running with its
//! pods, stopped when they have all stopped, started again with them, not removable on its
//! own, removed with the last of them. And `kube play URL` / `kube down URL`.

use std::time::Duration;

use crate::util::{IMG, TestEnv, name, wait_until};

#[test]
fn service_container_follows_its_pods() {
    let env = TestEnv::new("kube-service");
    env.import_busybox();
    let pod = name("svcpod");
    let yaml = env.dir.join("svc.yaml");
    std::fs::write(
        &yaml,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  containers:\n  - name: test\n    image: {IMG}\n    command: [\"top\"]\n"
        ),
    )
    .unwrap();
    let text = std::fs::read(&yaml).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&text))
    };
    let service = format!("{}-service", &sha[..12]);
    env.ok(&[
        "play",
        "kube",
        "--service-container=true",
        yaml.to_str().unwrap(),
    ]);
    let running = |c: &str| env.inspect(c, "{{.State.Running}}");
    assert_eq!(running(&service), "true");
    assert_eq!(env.inspect(&service, "{{.IsService}}"), "true");
    // The pod's only member stops: the pod exits (exit policy stop), and so does the service.
    env.ok(&["stop", "-t", "0", &format!("{pod}-test")]);
    wait_until("the service to stop", Duration::from_secs(15), || {
        running(&service) == "false"
    });
    assert_eq!(
        env.ok(&["pod", "inspect", &pod, "--format", "{{.State}}"])
            .trim(),
        "Exited"
    );
    env.ok(&["pod", "restart", &pod]);
    assert_eq!(running(&service), "true");
    env.run(&["container", "rm", &service]).assert_error(
        125,
        &[
            "is the service container of pod(s)",
            "cannot be removed without removing the pod(s)",
        ],
    );
    env.ok(&["pod", "kill", &pod]);
    wait_until(
        "the service to stop after pod kill",
        Duration::from_secs(15),
        || running(&service) == "false",
    );
    env.ok(&["pod", "rm", &pod]);
    env.run(&["container", "exists", &service]).assert_code(1);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
}

/// `kube play http://…` and `kube down http://…`: the YAML fetched from a server on this
/// machine (700-play "URL").
#[test]
fn kube_play_and_down_from_a_url() {
    let env = TestEnv::new("kube-url");
    env.import_busybox();
    let pod = name("urlpod");
    let dir = env.dir.join("www");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("pod.yaml"),
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  containers:\n  - name: c\n    image: {IMG}\n    command: [\"sleep\", \"100\"]\n"
        ),
    )
    .unwrap();
    let port = crate::util::free_port();
    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/pod.yaml");
    wait_until("the server", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let played = env.run(&["kube", "play", &url]);
    let down = env.run(&["kube", "down", &url]);
    let missing = env.run(&[
        "kube",
        "play",
        &format!("http://127.0.0.1:{port}/nope.yaml"),
    ]);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(played.code(), 0, "{played:?}");
    assert!(played.stdout.contains("Pod:"), "{played:?}");
    assert_eq!(down.code(), 0, "{down:?}");
    env.run(&["pod", "exists", &pod]).assert_code(1);
    missing.assert_error(125, &["invalid response status 404"]);
}
