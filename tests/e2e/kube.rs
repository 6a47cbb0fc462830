//! Kubernetes YAML: `kube play` of Podman's documentation example (with `--replace`
//! twice), `kube generate` validated against the Kubernetes OpenAPI schema and played back,
//! Deployment replicas with a PVC and `kube down`, ConfigMaps, Secrets, Jobs, DaemonSets,
//! and bad input leaving nothing behind. Traffic stays on this machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::util::{IMG, TestEnv, free_port, http_get, lines, name, wait_until};

/// A network of its own for the test (unique subnet 10.237.N.0/24 and bridge); its name.
pub(crate) fn network(env: &TestEnv) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = (std::process::id() % 100) * 2 + NEXT.fetch_add(1, Ordering::Relaxed);
    let n = n % 250 + 1;
    let net = name("kn");
    env.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("10.237.{n}.0/24"),
        "--interface-name",
        &format!("ppk{}x{n}", std::process::id() % 1000),
        &net,
    ]);
    net
}

pub(crate) fn write_yaml(env: &TestEnv, file: &str, text: &str) -> PathBuf {
    let p = env.dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Names of every pod, sorted.
pub(crate) fn pod_names(env: &TestEnv) -> Vec<String> {
    let mut v = lines(&env.ok(&["pod", "ps", "--format", "{{.Name}}"]));
    v.sort();
    v
}

pub(crate) fn pod_status(env: &TestEnv, pod: &str) -> String {
    env.ok(&["pod", "inspect", "--format", "{{.State}}", pod])
        .trim()
        .to_string()
}

/// Nothing of any kind in the store.
pub(crate) fn assert_empty(env: &TestEnv, after: &str) {
    assert_eq!(env.ok(&["pod", "ps", "-q"]), "", "pods left after {after}");
    assert_eq!(env.ok(&["ps", "-aq"]), "", "containers left after {after}");
    assert_eq!(
        env.ok(&["volume", "ls", "-q"]),
        "",
        "volumes left after {after}"
    );
    env.assert_no_mounts();
    env.assert_no_processes();
}

/// Ids in a play summary, after `header` up to the next header or blank line.
pub(crate) fn section(out: &str, header: &str) -> Vec<String> {
    let mut it = out.lines().skip_while(|l| *l != header);
    it.next();
    it.take_while(|l| !l.is_empty() && !l.ends_with(':'))
        .map(String::from)
        .collect()
}

pub(crate) const DOC_EXAMPLE: &str = r#"apiVersion: v1
kind: Pod
metadata:
  name: POD
  labels:
    app: POD
spec:
  containers:
  - name: foo
    image: localhost/busybox
    command: ["sh", "-c"]
    args: ["mkdir -p /w && echo from-foo > /w/index && exec httpd -f -p 3001 -h /w"]
    ports:
    - containerPort: 3001
      hostPort: HOSTPORT
  - name: bar
    image: localhost/busybox
    command: ["sh", "-c", "mkdir -p /w && echo from-bar > /w/index && exec httpd -f -p BARPORT -h /w"]
"#;

/// Podman's documentation example: two containers, `foo` published on 3001 with a
/// hostPort, `bar` on 3000 inside the pod only; played with `--replace` twice. The host port
/// and bar's port are free ports of this machine (tests share it), not 3001 and 3000.
#[test]
fn play_podmans_example_with_replace_twice() {
    let env = TestEnv::new("kube-doc-example");
    env.import_busybox();
    let net = network(&env);
    let pod = name("demo");
    let (host_port, bar_port) = (free_port(), free_port());
    let file = write_yaml(
        &env,
        "demo.yaml",
        &DOC_EXAMPLE
            .replace("POD", &pod)
            .replace("HOSTPORT", &host_port.to_string())
            .replace("BARPORT", &bar_port.to_string()),
    );

    let first = env.ok(&["kube", "play", "--replace", "--network", &net, s(&file)]);
    assert!(first.starts_with("Pod:\n"), "{first}");
    let pod_id = section(&first, "Pod:");
    assert_eq!(pod_id.len(), 1, "{first}");
    assert_eq!(pod_id[0].len(), 64, "{first}");
    let ctrs = section(&first, "Containers:");
    assert_eq!(ctrs.len(), 2, "{first}");
    assert_eq!(
        env.ok(&["pod", "inspect", "--format", "{{.Id}}", &pod])
            .trim(),
        pod_id[0]
    );

    let second = env.ok(&["kube", "play", "--replace", "--network", &net, s(&file)]);
    assert_eq!(section(&second, "Pods stopped:"), pod_id, "{second}");
    assert_eq!(section(&second, "Pods removed:"), pod_id, "{second}");
    assert!(second.starts_with("Pods stopped:\n"), "{second}");
    let new_id = section(&second, "Pod:");
    assert_eq!(new_id.len(), 1);
    assert_ne!(new_id, pod_id, "--replace made a new pod");
    assert_eq!(pod_names(&env), std::slice::from_ref(&pod));

    // Containers are POD-CONTAINER; foo reaches bar over localhost.
    let foo = format!("{pod}-foo");
    let bar = format!("{pod}-bar");
    assert_eq!(env.status(&foo), "running");
    assert_eq!(env.status(&bar), "running");
    let members = env.ok(&["ps", "--pod", "--format", "{{.Names}} {{.PodName}}"]);
    for c in [&foo, &bar] {
        assert!(members.contains(&format!("{c} {pod}")), "{members}");
    }
    let got = env.ok(&[
        "exec",
        &foo,
        "sh",
        "-c",
        &format!("for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://localhost:{bar_port}/index && exit 0; sleep 0.3; done; exit 1"),
    ]);
    assert_eq!(got, "from-bar\n");

    // The hostPort answers on the host's 127.0.0.1; bar's port does not.
    let mut body = None;
    wait_until("the hostPort answers", Duration::from_secs(10), || {
        body = http_get(&format!("127.0.0.1:{host_port}"), "/index");
        body.is_some()
    });
    assert_eq!(body.as_deref(), Some("from-foo\n"));
    assert_eq!(
        http_get(&format!("127.0.0.1:{bar_port}"), "/index"),
        None,
        "bar's port is not published"
    );

    // kube down takes it all away.
    let down = env.ok(&["kube", "down", s(&file)]);
    assert_eq!(section(&down, "Pods removed:"), new_id, "{down}");
    assert_empty(&env, "kube down");
}

/// A virtualenv with kubernetes-validate (from PyPI) under the test's dir; the validator.
pub(crate) fn kubernetes_validate(env: &TestEnv) -> PathBuf {
    let venv = env.dir.join("venv");
    let st = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect(
            "python3 is needed to validate generated YAML (apt-get install python3 python3-venv)",
        );
    assert!(
        st.success(),
        "python3 -m venv failed (install python3-venv)"
    );
    let out = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "kubernetes-validate"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip install kubernetes-validate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    venv.join("bin/kubernetes-validate")
}

pub(crate) fn validate(validator: &Path, file: &Path) {
    let out = Command::new(validator)
        .args(["--strict", "-k", "1.33"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} does not validate: {}{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap()
    );
}

/// What must survive a round trip, per container.
pub(crate) fn container_view(env: &TestEnv, ctr: &str) -> String {
    env.inspect(
        ctr,
        "{{.ImageName}}|{{.Path}}|{{.Args}}|{{.Config.WorkingDir}}|{{range .Mounts}}{{.Type}}:{{.Name}}:{{.Destination}}:{{.RW}} {{end}}",
    )
}

/// A pod with an init container, a sidecar and a PVC-backed volume: `kube generate`
/// validates against the Kubernetes schema (every `--type` and `--service`), and after
/// `pod rm -f`, `kube play` of the YAML brings back an equivalent pod.
#[test]
fn generate_validates_and_round_trips() {
    let env = TestEnv::new("kube-generate");
    env.import_busybox();
    let validator = kubernetes_validate(&env);
    let net = network(&env);
    let pod = name("gen");
    let vol = name("data");
    let port = free_port().to_string();
    env.ok(&["volume", "create", &vol]);
    env.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--network",
        &net,
        "-p",
        &format!("127.0.0.1:{port}:8080"),
    ]);
    let init = format!("{pod}-init");
    let main = format!("{pod}-main");
    let side = format!("{pod}-side");
    env.ok(&[
        "create",
        "--pod",
        &pod,
        "--init-ctr",
        "always",
        "--name",
        &init,
        "-v",
        &format!("{vol}:/data"),
        IMG,
        "sh",
        "-c",
        "echo from-init > /data/index",
    ]);
    env.ok(&[
        "create",
        "--pod",
        &pod,
        "--name",
        &main,
        "-e",
        "GREETING=hello world",
        "-w",
        "/etc",
        "-m",
        "64m",
        "-v",
        &format!("{vol}:/data"),
        IMG,
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/data",
    ]);
    env.ok(&[
        "create",
        "--pod",
        &pod,
        "--name",
        &side,
        "-v",
        &format!("{vol}:/shared:ro"),
        IMG,
        "sleep",
        "1000",
    ]);
    env.ok(&["pod", "start", &pod]);
    let before: Vec<String> = [&main, &side]
        .iter()
        .map(|c| container_view(&env, c))
        .collect();

    let file = env.dir.join("gen.yaml");
    env.ok(&["kube", "generate", "-f", s(&file), &pod]);
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(
        yaml.starts_with("# Save the output of this file and use kubectl create -f to import\n"),
        "{yaml}"
    );
    for needle in [
        "apiVersion: v1",
        "kind: Pod",
        "app: ",
        "initContainers:",
        "persistentVolumeClaim:",
        &format!("claimName: {vol}"),
        "containerPort: 8080",
        &format!("hostPort: {port}"),
        "name: GREETING",
        "workingDir: /etc",
        "memory: 64Mi",
        "name: side",
    ] {
        assert!(yaml.contains(needle), "{needle:?} missing in\n{yaml}");
    }
    // A pod's empty status and a container without limits' empty resources, as Podman
    // 4.3 writes them, and no other empty object.
    assert_eq!(yaml.matches("status: {}").count(), 1, "{yaml}");
    assert_eq!(
        yaml.matches("{}").count(),
        1 + yaml.matches("resources: {}").count(),
        "empty objects in\n{yaml}"
    );
    assert!(yaml.contains("creationTimestamp: \""), "{yaml}");
    validate(&validator, &file);
    // Writing over an existing file is refused, as in Podman.
    env.run(&["kube", "generate", "-f", s(&file), &pod])
        .assert_error(125, &["file exists"]);
    for (i, extra) in [
        vec!["--service"],
        vec!["--type", "deployment", "--replicas", "2"],
        vec!["--type", "daemonset"],
        vec!["--type", "job"],
    ]
    .into_iter()
    .enumerate()
    {
        let f = env.dir.join(format!("gen-{i}.yaml"));
        let mut args = vec!["generate", "kube", "-f", s(&f)];
        args.extend(extra);
        args.push(&pod);
        env.ok(&args);
        validate(&validator, &f);
    }
    let svc = std::fs::read_to_string(env.dir.join("gen-0.yaml")).unwrap();
    assert!(
        svc.contains("kind: Service") && svc.contains("type: NodePort"),
        "{svc}"
    );
    // A bare container is wrapped in a pod; a volume becomes a PVC.
    let lone = name("lone");
    env.ok(&["create", "--name", &lone, "-e", "A=1", IMG, "sleep", "1"]);
    let f = env.dir.join("lone.yaml");
    env.ok(&["kube", "generate", "-f", s(&f), &lone, &vol]);
    let lone_yaml = std::fs::read_to_string(&f).unwrap();
    assert!(
        lone_yaml.contains(&format!("name: {lone}-pod")),
        "{lone_yaml}"
    );
    assert!(
        lone_yaml.contains("kind: PersistentVolumeClaim"),
        "{lone_yaml}"
    );
    validate(&validator, &f);
    env.ok(&["rm", "-f", &lone]);

    // Round trip.
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    assert_eq!(pod_names(&env), Vec::<String>::new());
    let out = env.ok(&["kube", "play", "--network", &net, s(&file)]);
    assert!(out.starts_with("Pod:\n"), "{out}");
    assert_eq!(pod_names(&env), std::slice::from_ref(&pod));
    let after: Vec<String> = [&main, &side]
        .iter()
        .map(|c| container_view(&env, c))
        .collect();
    assert_eq!(before, after);
    assert_eq!(
        env.inspect(&init, "{{.ImageName}}"),
        format!("{IMG}:latest")
    );
    let env_main = env.inspect(&main, "{{.Config.Env}}");
    assert!(env_main.contains("GREETING=hello world"), "{env_main}");
    // The init container ran (again) and the published port answers from the host.
    let mut body = None;
    wait_until(
        "the published port answers",
        Duration::from_secs(10),
        || {
            body = http_get(&format!("127.0.0.1:{port}"), "/index");
            body.is_some()
        },
    );
    assert_eq!(body.as_deref(), Some("from-init\n"));
    // Generating again gives the same YAML: the pod's restart policy is Never when its
    // containers had none (Podman 4.3), which plays back as Never. The played pod is a new
    // pod (its id, the SandboxID annotations, differs) made at another time.
    assert!(yaml.contains("restartPolicy: Never"), "{yaml}");
    let again = env.ok(&["kube", "generate", &pod]);
    let stable = |y: &str| {
        y.lines()
            .filter(|l| !l.contains("creationTimestamp") && !l.contains("cri-o.SandboxID/"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(stable(&again), stable(&yaml));
}

/// A Deployment with `replicas: 3` and a PVC defined in the same file: three running pods
/// sharing the volume; `kube down` removes them and keeps the volume.
#[test]
fn deployment_replicas_and_down_keeps_the_claim() {
    let env = TestEnv::new("kube-deploy");
    env.import_busybox();
    let net = network(&env);
    let dep = name("web");
    let claim = name("claim");
    let yaml = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {dep}
spec:
  replicas: 3
  selector:
    matchLabels:
      app: {dep}
  template:
    metadata:
      labels:
        app: {dep}
    spec:
      containers:
      - name: app
        image: localhost/busybox
        command: ["sh", "-c", "hostname >> /data/who && exec sleep 1000"]
        volumeMounts:
        - name: data
          mountPath: /data
      volumes:
      - name: data
        persistentVolumeClaim:
          claimName: {claim}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {claim}
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
"#
    );
    let file = write_yaml(&env, "deploy.yaml", &yaml);
    let out = env.ok(&["kube", "play", "--network", &net, s(&file)]);
    assert_eq!(
        section(&out, "Volume:"),
        std::slice::from_ref(&claim),
        "{out}"
    );
    assert_eq!(out.matches("Pod:\n").count(), 3, "{out}");
    let want: Vec<String> = (0..3).map(|i| format!("{dep}-pod-{i}")).collect();
    assert_eq!(pod_names(&env), want);
    for p in &want {
        assert_eq!(pod_status(&env, p), "Running", "{p}");
        assert_eq!(env.status(&format!("{p}-app")), "running");
    }
    let who = env.ok(&[
        "exec",
        &format!("{dep}-pod-0-app"),
        "sh",
        "-c",
        "sleep 0.5; sort /data/who",
    ]);
    assert_eq!(lines(&who), want, "every replica writes to the one claim");

    let down = env.ok(&["kube", "down", s(&file)]);
    assert_eq!(section(&down, "Pods stopped:").len(), 3, "{down}");
    assert_eq!(section(&down, "Pods removed:").len(), 3, "{down}");
    assert_eq!(pod_names(&env), Vec::<String>::new());
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    assert_eq!(env.ok(&["volume", "ls", "-q"]), format!("{claim}\n"));
    // Playing again reuses the kept claim; `play --down` is `kube down`.
    env.ok(&["kube", "play", "--network", &net, s(&file)]);
    assert_eq!(pod_names(&env), want);
    let down = env.ok(&["kube", "play", "--down", s(&file)]);
    assert_eq!(section(&down, "Pods removed:").len(), 3, "{down}");
    assert_eq!(pod_names(&env), Vec::<String>::new());
}

/// Volumes whose names give the same DNS label (`my_vol`, `my-vol`) stay two volumes in the
/// generated YAML, and playing it back mounts each where it was.
#[test]
fn generate_keeps_volumes_with_alike_names_apart() {
    let env = TestEnv::new("kube-gen-vols");
    env.import_busybox();
    let net = network(&env);
    let suffix = name("v");
    let (a, b) = (format!("my_vol{suffix}"), format!("my-vol{suffix}"));
    for (v, id) in [(&a, "one"), (&b, "two")] {
        env.ok(&["volume", "create", v]);
        env.ok(&[
            "run",
            "--rm",
            "-v",
            &format!("{v}:/d"),
            IMG,
            "sh",
            "-c",
            &format!("echo {id} > /d/id"),
        ]);
    }
    let pod = name("gen");
    env.ok(&["pod", "create", "--name", &pod, "--network", &net]);
    env.ok(&[
        "create",
        "--pod",
        &pod,
        "--name",
        &format!("{pod}-c"),
        "-v",
        &format!("{a}:/a"),
        "-v",
        &format!("{b}:/b"),
        IMG,
        "sleep",
        "1000",
    ]);
    let yaml = env.ok(&["kube", "generate", &pod]);
    let label = format!("my-vol{}", suffix.replace('_', "-"));
    assert!(yaml.contains(&format!("name: {label}-pvc")), "{yaml}");
    assert!(yaml.contains(&format!("name: {label}-1-pvc")), "{yaml}");
    assert!(
        yaml.contains(&format!("claimName: {a}")) && yaml.contains(&format!("claimName: {b}")),
        "{yaml}"
    );
    let f = write_yaml(&env, "gen.yaml", &yaml);
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.ok(&["kube", "play", "--network", &net, s(&f)]);
    let got = env.ok(&["exec", &format!("{pod}-c"), "cat", "/a/id", "/b/id"]);
    assert_eq!(got, "one\ntwo\n");
    env.ok(&["kube", "down", s(&f)]);
}
