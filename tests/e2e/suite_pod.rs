//! Pods, volumes, images and kube play as Podman 4.3's own system tests (200-pod,
//! 160-volumes, 010-images, 700-play) use them: each test checks what a user checks.

use std::time::Duration;

use crate::util::{IMG, TestEnv, lines, name, wait_until};

fn pod_state(env: &TestEnv, pod: &str) -> String {
    env.ok(&["pod", "inspect", "--format", "{{.State}}", pod])
        .trim()
        .to_string()
}

/// `--exit-policy stop`: the pod stops when its last container exits; `continue` (the
/// default) keeps the infra running. A bad policy is Podman's error, and nothing is made.
#[test]
fn pod_exit_policies() {
    let env = TestEnv::new("sp-exitpol");
    env.import_busybox();
    let stop = name("stop");
    env.ok(&[
        "pod",
        "create",
        "--network",
        "none",
        "--exit-policy",
        "stop",
        "--name",
        &stop,
    ]);
    assert_eq!(
        env.ok(&["pod", "inspect", "--format", "{{.ExitPolicy}}", &stop])
            .trim(),
        "stop"
    );
    env.ok(&["run", "--pod", &stop, IMG, "true"]);
    wait_until("the pod stops", Duration::from_secs(15), || {
        pod_state(&env, &stop) == "Exited"
    });

    let cont = name("cont");
    env.ok(&["pod", "create", "--network", "none", "--name", &cont]);
    assert_eq!(
        env.ok(&["pod", "inspect", "--format", "{{.ExitPolicy}}", &cont])
            .trim(),
        "continue"
    );
    env.ok(&["run", "--pod", &cont, IMG, "true"]);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(pod_state(&env, &cont), "Degraded");
    // Only the infra runs: `pod rm` without force takes the pod (Podman 4.3).
    env.ok(&["pod", "rm", &cont]);
    env.run(&["pod", "exists", &cont]).assert_code(1);

    env.run(&["pod", "create", "--exit-policy", "invalid"])
        .assert_error(
            125,
            &["running pod create option: invalid pod exit policy: \"invalid\""],
        );
    assert_eq!(lines(&env.ok(&["pod", "ps", "-q"])).len(), 1);
    env.ok(&["pod", "rm", "-f", "-t", "0", &stop]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

/// `pod create --replace` removes the pod of that name (running, with its containers);
/// `pod rm --force` of a pod that does not exist is no error.
#[test]
fn pod_replace_and_rm_force_missing() {
    let env = TestEnv::new("sp-replace");
    env.import_busybox();
    let pod = name("rep");
    let first = env.ok(&["pod", "create", "--network", "none", "--name", &pod]);
    let member = env.ok(&["run", "-d", "--pod", &pod, IMG, "sleep", "600"]);
    let second = env.ok(&[
        "pod",
        "create",
        "--network",
        "none",
        "--share",
        "+pid",
        "--replace",
        "--name",
        &pod,
    ]);
    assert_ne!(first.trim(), second.trim());
    assert_eq!(
        env.ok(&["pod", "inspect", "--format", "{{.SharedNamespaces}}", &pod])
            .trim(),
        "[ipc net pid uts]"
    );
    env.run(&["container", "exists", member.trim()])
        .assert_code(1);
    assert_eq!(env.ids_all().len(), 1, "only the new infra container");

    let bogus = name("bogus");
    env.run(&["pod", "rm", &bogus])
        .assert_error(1, &["no such pod"]);
    let out = env.ok(&["pod", "rm", "--force", &bogus]);
    assert_eq!(out, "");
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.assert_no_processes();
}

/// Members of a pod sharing ipc share /dev/shm: a file one writes there, another sees.
/// A container of its own does not.
#[test]
fn pod_members_share_dev_shm() {
    let env = TestEnv::new("sp-shm");
    env.import_busybox();
    let pod = name("shm");
    env.ok(&["pod", "create", "--network", "none", "--name", &pod]);
    // The pod stays up meanwhile: its namespaces (and /dev/shm) live while a member runs.
    env.ok(&["run", "-d", "--pod", &pod, IMG, "sleep", "600"]);
    env.ok(&["run", "--rm", "--pod", &pod, IMG, "touch", "/dev/shm/test1"]);
    assert_eq!(
        env.ok(&["run", "--rm", "--pod", &pod, IMG, "ls", "/dev/shm/test1"])
            .trim(),
        "/dev/shm/test1"
    );
    env.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMG,
        "ls",
        "/dev/shm/test1",
    ])
    .assert_code(1);
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

/// `--pod new:NAME --hostname H` gives the new pod that hostname; joining an existing pod
/// that shares uts, `--hostname` is refused with Podman's words; `--infra-command` is the
/// infra's entrypoint, shown as Podman 4 shows it (one string).
#[test]
fn pod_hostname_and_infra_command() {
    let env = TestEnv::new("sp-hostname");
    env.import_busybox();
    let pod = name("hn");
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--pod",
        &format!("new:{pod}"),
        "--hostname",
        "foobar",
        IMG,
        "hostname",
    ]);
    assert_eq!(out.trim(), "foobar");
    env.run(&[
        "run",
        "--rm",
        "--pod",
        &pod,
        "--hostname",
        "other",
        IMG,
        "hostname",
    ])
    .assert_error(
        125,
        &["cannot set hostname when joining the pod UTS namespace: invalid configuration"],
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);

    let p2 = name("ic");
    env.ok(&[
        "pod",
        "create",
        "--network",
        "none",
        "--infra-image",
        IMG,
        "--infra-command",
        "/bin/sleep,600",
        "--name",
        &p2,
    ]);
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &p2]);
    assert_eq!(
        env.inspect(infra.trim(), "{{.Config.Entrypoint}}"),
        "/bin/sleep 600"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", &p2]);
}

/// The default infra image is named as Podman names its own, and containers.conf's
/// `[engine] infra_image` replaces it (pulled when missing: an unknown one is the pull's
/// error, and no pod is left).
#[test]
fn pod_infra_image_names() {
    let env = TestEnv::new("sp-infraimg");
    env.import_busybox();
    let pod = name("pi");
    env.ok(&["pod", "create", "--network", "none", "--name", &pod]);
    let v = env.ok(&[
        "version",
        "--format",
        "{{.Server.Version}}-{{.Server.Built}}",
    ]);
    env.ok(&[
        "image",
        "exists",
        &format!("localhost/podman-pause:{}", v.trim()),
    ]);
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);

    let conf = env.dir.join("containers.conf");
    std::fs::write(&conf, format!("[engine]\ninfra_image = \"{IMG}\"\n")).unwrap();
    let p2 = name("pc");
    // (busybox has no CMD: the infra's command is given.)
    env.peapod(&[
        "pod",
        "create",
        "--network",
        "none",
        "--infra-command",
        "/bin/sleep,600",
        "--name",
        &p2,
    ])
    .env("CONTAINERS_CONF", &conf)
    .output()
    .success();
    let infra = env.ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &p2]);
    assert_eq!(
        env.inspect(infra.trim(), "{{.ImageName}}"),
        format!("{IMG}:latest")
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", &p2]);

    std::fs::write(
        &conf,
        "[engine]\ninfra_image = \"localhost/no-such-pause:1\"\n",
    )
    .unwrap();
    let out = env
        .peapod(&["pod", "create", "--network", "none"])
        .env("CONTAINERS_CONF", &conf)
        .output();
    out.assert_error(125, &["localhost/no-such-pause:1"]);
    assert_eq!(env.ok(&["pod", "ps", "-q"]), "");
}

/// The same mount given twice is one mount; two different ones on a destination are
/// refused. A bind volume's device must exist. `{{.NeedsChown}}` is a field even when false.
#[test]
fn volume_duplicates_bind_device_and_fields() {
    let env = TestEnv::new("sp-vol");
    env.import_busybox();
    let d1 = env.dir.join("v1");
    let d2 = env.dir.join("v2");
    std::fs::create_dir_all(&d1).unwrap();
    std::fs::create_dir_all(&d2).unwrap();
    let v1 = format!("{}:/vol1", d1.display());
    env.ok(&["run", "--rm", "-v", &v1, "-v", &v1, IMG, "true"]);
    env.run(&[
        "run",
        "--rm",
        "-v",
        &v1,
        "-v",
        &format!("{}:/vol1", d2.display()),
        IMG,
        "true",
    ])
    .assert_error(125, &["Error: /vol1: duplicate mount destination"]);
    env.ok(&["run", "--rm", "--tmpfs", "/t", "--tmpfs", "/t", IMG, "true"]);
    env.run(&[
        "run", "--rm", "--tmpfs", "/t", "--tmpfs", "/t:ro", IMG, "true",
    ])
    .assert_error(125, &["/t: duplicate mount destination"]);

    let vol = name("bindvol");
    env.run(&["volume", "create", "-o", "type=bind", "-o", "device=/bogus-sp", &vol])
        .assert_error(
            125,
            &["invalid volume option device for driver 'local': stat /bogus-sp: no such file or directory"],
        );
    env.run(&["volume", "exists", &vol]).assert_code(1);

    let plain = name("plain");
    env.ok(&["volume", "create", &plain]);
    assert_eq!(
        env.ok(&[
            "volume",
            "inspect",
            "--format",
            "{{.NeedsCopyUp}} {{.NeedsChown}} {{.Anonymous}}",
            &plain
        ])
        .trim(),
        "true true false"
    );
    env.ok(&["run", "--rm", "-v", &format!("{plain}:/vol"), IMG, "true"]);
    assert_eq!(
        env.ok(&["volume", "inspect", "--format", "{{.NeedsChown}}", &plain])
            .trim(),
        "false"
    );
    env.ok(&["volume", "rm", &plain]);
}

/// `images --sort`, Go's JSON time in `--format json`, a flag given twice taking the last
/// value, networks listed by name.
#[test]
fn images_sort_json_and_repeated_flags() {
    let env = TestEnv::new("sp-images");
    env.import_busybox();
    env.ok(&["tag", IMG, "a.b/c:d"]);
    env.ok(&["tag", IMG, "zz.yy/xx:tt"]);
    let repos = env.ok(&[
        "images",
        "--sort",
        "repository",
        "--format",
        "{{.Repository}}",
    ]);
    assert_eq!(lines(&repos), ["a.b/c", "localhost/busybox", "zz.yy/xx"]);
    let tags = env.ok(&["images", "--sort", "tag", "--format", "{{.Tag}}"]);
    assert_eq!(lines(&tags), ["d", "latest", "tt"]);
    env.run(&["images", "--sort", "bogus"]).assert_error(
        125,
        &["invalid option for --sort, options are: [created id repository size tag]"],
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["images", "--format", "json"])).unwrap();
    let at = json[0]["CreatedAt"].as_str().unwrap().to_string();
    assert!(at.ends_with('Z') && at.contains('T'), "{at}");

    let c = name("second");
    env.ok(&[
        "create",
        "--name",
        "ignored-name",
        "--name",
        &c,
        IMG,
        "true",
    ]);
    assert_eq!(env.names_all(), std::slice::from_ref(&c));
    assert_eq!(
        env.ok(&[
            "inspect",
            "--format",
            "{{.XYZ}}",
            "--format",
            "{{.Name}}",
            &c
        ])
        .trim(),
        c
    );
    env.run(&["inspect", "--type", "container", "nosuch-sp"])
        .assert_error(
            125,
            &["Error: inspecting object: no such container nosuch-sp"],
        );

    let b = name("b-net");
    let a = name("a-net");
    env.ok(&["network", "create", &b]);
    env.ok(&["network", "create", &a]);
    let nets = lines(&env.ok(&["network", "ls", "--format", "{{.Name}}"]));
    let mut sorted = nets.clone();
    sorted.sort();
    assert_eq!(nets, sorted, "network ls is sorted by name");
    env.ok(&["network", "rm", &a, &b]);
}

/// `kube play --annotation` reaches every container; kube play's pods stop when their
/// containers exit (exit policy stop); `HostConfig.NetworkMode` of a userspace network is
/// its name alone.
#[test]
fn kube_play_annotation_and_exit_policy() {
    let env = TestEnv::new("sp-kube");
    env.import_busybox();
    let pod = name("kp");
    let yaml = env.dir.join("play.yaml");
    std::fs::write(
        &yaml,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: {IMG}\n    command: [\"true\"]\n"
        ),
    )
    .unwrap();
    let y = yaml.to_str().unwrap();
    env.ok(&[
        "kube",
        "play",
        "--network",
        "none",
        "--annotation",
        "name=sp-value",
        y,
    ]);
    assert_eq!(
        env.ok(&["pod", "inspect", "--format", "{{.ExitPolicy}}", &pod])
            .trim(),
        "stop"
    );
    assert_eq!(
        env.inspect(
            &format!("{pod}-c"),
            "{{index .Config.Annotations \"name\"}}"
        ),
        "sp-value"
    );
    wait_until("the played pod stops", Duration::from_secs(15), || {
        pod_state(&env, &pod) == "Exited"
    });
    env.ok(&["kube", "down", y]);

    let c = name("slirp");
    env.ok(&[
        "create",
        "--name",
        &c,
        "--network",
        "slirp4netns:port_handler=slirp4netns",
        IMG,
        "true",
    ]);
    assert_eq!(
        env.inspect(&c, "{{.HostConfig.NetworkMode}}"),
        "slirp4netns"
    );
}

/// A containerPort without a hostPort is published on the same host port, as Podman 4.3's
/// kube play does (`getPodPorts`), and pod inspect shows the binding (700-play "hostport").
#[test]
fn kube_play_publishes_a_container_port() {
    let env = TestEnv::new("kube-cport");
    env.import_busybox();
    let port = crate::util::free_port();
    let pod = name("cport");
    let yaml = env.dir.join("pod.yaml");
    std::fs::write(
        &yaml,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  containers:\n  - name: server\n    image: {IMG}\n    command: [\"sh\", \"-c\", \"mkdir -p /w && echo served > /w/index.html && exec httpd -f -p {port} -h /w\"]\n    ports:\n    - name: web\n      containerPort: {port}\n"
        ),
    )
    .unwrap();
    env.ok(&["kube", "play", yaml.to_str().unwrap()]);
    assert_eq!(
        env.ok(&[
            "pod",
            "inspect",
            &pod,
            "--format",
            "{{.InfraConfig.PortBindings}}"
        ])
        .trim(),
        format!("map[{port}/tcp:[{{ {port}}}]]")
    );
    // The port answers on the host.
    let url = format!("http://127.0.0.1:{port}/index.html");
    wait_until(
        "the published port to serve",
        Duration::from_secs(10),
        || {
            std::process::Command::new("curl")
                .args(["-s", "--max-time", "2", &url])
                .output()
                .is_ok_and(|out| out.stdout == b"served\n")
        },
    );
    env.ok(&["kube", "down", yaml.to_str().unwrap()]);
}

/// A pod's /etc/hosts names the members that run: one that stopped is left out when the
/// next starts (500-networking "pod manages /etc/hosts").
#[test]
fn pod_hosts_name_running_members_only() {
    let env = TestEnv::new("pod-hosts");
    env.import_busybox();
    let (pod, infra, c1, c2) = (name("hp"), name("hinfra"), name("hc1"), name("hc2"));
    env.ok(&["pod", "create", "--name", &pod, "--infra-name", &infra]);
    let first = env.ok(&[
        "run",
        "--pod",
        &pod,
        "--name",
        &c1,
        IMG,
        "cat",
        "/etc/hosts",
    ]);
    assert!(first.contains(&format!("\t{pod} {infra}\n")), "{first}");
    assert!(first.contains(&format!("127.0.0.1\t{c1}\n")), "{first}");
    let second = env.ok(&[
        "run",
        "--pod",
        &pod,
        "--name",
        &c2,
        IMG,
        "cat",
        "/etc/hosts",
    ]);
    assert!(second.contains(&format!("127.0.0.1\t{c2}\n")), "{second}");
    assert!(
        !second.contains(&c1),
        "{c1} stopped but is still named:\n{second}"
    );
    assert_eq!(
        lines(&first).len(),
        lines(&second).len(),
        "{first}\n{second}"
    );
    // A running member stays named while others come and go.
    let c3 = name("hc3");
    env.ok(&[
        "run", "-d", "--pod", &pod, "--name", &c3, IMG, "sleep", "100",
    ]);
    let third = env.ok(&["run", "--rm", "--pod", &pod, IMG, "cat", "/etc/hosts"]);
    assert!(third.contains(&format!("127.0.0.1\t{c3}\n")), "{third}");
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
}
