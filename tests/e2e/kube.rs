//! Kubernetes YAML: `kube play` of Podman's documentation example (with `--replace`
//! twice), `kube generate` validated against the Kubernetes OpenAPI schema and played back,
//! Deployment replicas with a PVC and `kube down`, ConfigMaps, Secrets, Jobs, DaemonSets,
//! and bad input leaving nothing behind. Traffic stays on this machine.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::util::{IMG, TestEnv, free_port, http_get, lines, name, wait_until};

/// A network of its own for the test (unique subnet 10.237.N.0/24 and bridge); its name.
fn network(env: &TestEnv) -> String {
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

fn write_yaml(env: &TestEnv, file: &str, text: &str) -> PathBuf {
    let p = env.dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Names of every pod, sorted.
fn pod_names(env: &TestEnv) -> Vec<String> {
    let mut v = lines(&env.ok(&["pod", "ps", "--format", "{{.Name}}"]));
    v.sort();
    v
}

fn pod_status(env: &TestEnv, pod: &str) -> String {
    env.ok(&["pod", "inspect", "--format", "{{.State}}", pod])
        .trim()
        .to_string()
}

/// Nothing of any kind in the store.
fn assert_empty(env: &TestEnv, after: &str) {
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
fn section(out: &str, header: &str) -> Vec<String> {
    let mut it = out.lines().skip_while(|l| *l != header);
    it.next();
    it.take_while(|l| !l.is_empty() && !l.ends_with(':'))
        .map(String::from)
        .collect()
}

const DOC_EXAMPLE: &str = r#"apiVersion: v1
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
fn kubernetes_validate(env: &TestEnv) -> PathBuf {
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

fn validate(validator: &Path, file: &Path) {
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
fn container_view(env: &TestEnv, ctr: &str) -> String {
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
    assert!(!yaml.contains("status:"), "{yaml}");
    assert!(!yaml.contains("{}"), "empty objects in\n{yaml}");
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
    // Generating again gives the same YAML, but for the restart policy: the containers
    // had none (no line), and kube play gives Kubernetes' default, Always (as Podman).
    assert!(!yaml.contains("restartPolicy"), "{yaml}");
    let again = env.ok(&["kube", "generate", &pod]);
    assert!(again.contains("restartPolicy: Always"), "{again}");
    let no_restart = |y: &str| {
        y.lines()
            .filter(|l| !l.contains("restartPolicy"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(no_restart(&again), no_restart(&yaml));
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

/// ConfigMaps (in the file and with `--configmap`), a Secret, env valueFrom/envFrom, a
/// configMap volume, hostPath and emptyDir volumes, runAsUser, resource limits, a Job (runs
/// once, not restarted), a DaemonSet (one pod), `--start=false` and `--log-driver`.
#[test]
fn configmaps_secrets_jobs_daemonsets() {
    let env = TestEnv::new("kube-kinds");
    env.import_busybox();
    let net = network(&env);
    let cm = name("cm");
    let extra = name("extra");
    let secret = name("sec");
    let job = name("job");
    let ds = name("ds");
    let host = env.dir.join("hostdir");
    let cm_file = write_yaml(
        &env,
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {extra}\ndata:\n  FROM_FILE: yes-file\n"
        ),
    );
    let yaml = format!(
        r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {job}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: run
        image: localhost/busybox
        command: ["sh", "-c"]
        args:
        - 'echo "one=$ONE file=$FROM_FILE pw=$PW cfg_$(cat /etc/cfg/greeting)"; echo x > /scratch/x; echo made > /host/made'
        env:
        - name: ONE
          valueFrom:
            configMapKeyRef:
              name: {cm}
              key: one
        - name: PW
          valueFrom:
            secretKeyRef:
              name: {secret}
              key: password
        envFrom:
        - configMapRef:
            name: {extra}
        resources:
          limits:
            memory: 32Mi
            cpu: 500m
        volumeMounts:
        - name: cfg
          mountPath: /etc/cfg
        - name: scratch
          mountPath: /scratch
        - name: host
          mountPath: /host
      volumes:
      - name: cfg
        configMap:
          name: {cm}
      - name: scratch
        emptyDir: {{}}
      - name: host
        hostPath:
          path: {host}
          type: DirectoryOrCreate
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {cm}
data:
  one: "1"
  greeting: hi
---
apiVersion: v1
kind: Secret
metadata:
  name: {secret}
data:
  password: aHVudGVyMg==
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {ds}
spec:
  selector:
    matchLabels:
      app: {ds}
  template:
    metadata:
      labels:
        app: {ds}
    spec:
      securityContext:
        runAsUser: 1234
      containers:
      - name: d
        image: localhost/busybox
        command: ["sh", "-c", "id -u; exec sleep 1000"]
"#,
        host = host.display()
    );
    let file = write_yaml(&env, "kinds.yaml", &yaml);

    // --start=false creates everything and starts nothing.
    env.ok(&[
        "kube",
        "play",
        "--start=false",
        "--log-driver",
        "k8s-file",
        "--configmap",
        s(&cm_file),
        "--network",
        &net,
        s(&file),
    ]);
    let run = format!("{job}-pod-run");
    assert_eq!(env.status(&run), "created");
    assert_eq!(env.status(&format!("{ds}-pod-d")), "created");
    assert_eq!(
        env.inspect(&run, "{{.HostConfig.LogConfig.Type}}"),
        "k8s-file"
    );

    let out = env.ok(&[
        "kube",
        "play",
        "--replace",
        "--configmap",
        s(&cm_file),
        "--network",
        &net,
        s(&file),
    ]);
    assert_eq!(section(&out, "Pods removed:").len(), 2, "{out}");
    assert_eq!(pod_names(&env), [format!("{ds}-pod"), format!("{job}-pod")]);
    env.wait_status(&run, "exited", Duration::from_secs(20));
    assert_eq!(env.inspect(&run, "{{.State.ExitCode}}"), "0");
    let logs = env.ok(&["logs", &run]);
    assert_eq!(
        logs.trim(),
        "one=1 file=yes-file pw=hunter2 cfg_hi",
        "{logs}"
    );
    assert_eq!(env.inspect(&run, "{{.HostConfig.Memory}}"), "33554432");
    assert_eq!(env.inspect(&run, "{{.HostConfig.NanoCpus}}"), "500000000");
    let d = format!("{ds}-pod-d");
    assert_eq!(env.inspect(&d, "{{.Config.User}}"), "1234");
    let mut id = String::new();
    wait_until(
        "the DaemonSet's container logs its uid",
        Duration::from_secs(10),
        || {
            id = env.ok(&["logs", &d]);
            !id.is_empty()
        },
    );
    assert_eq!(id, "1234\n");
    assert_eq!(
        std::fs::read_to_string(host.join("made")).unwrap(),
        "made\n"
    );
    // restartPolicy Never: the job is not restarted.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(env.status(&run), "exited");
    assert_eq!(env.inspect(&run, "{{.RestartCount}}"), "0");
    assert_eq!(env.status(&format!("{ds}-pod-d")), "running");
    env.ok(&["kube", "down", s(&file)]);
    assert_eq!(pod_names(&env), Vec::<String>::new());
}

/// Bad input: each is refused with `Error: …` naming the document and field, and nothing
/// stays behind.
#[test]
fn bad_input_names_the_document_and_field_and_leaves_nothing() {
    let env = TestEnv::new("kube-bad");
    env.import_busybox();
    let net = network(&env);
    let pod = name("bad");
    let ok_pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  containers:\n  - name: c\n    image: localhost/busybox\n    command: [sleep, '100']\n"
    );
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n".into(),
            vec!["document 1", "line 4", "column"],
        ),
        (
            "apiVersion: v1\nkind: Gadget\nmetadata:\n  name: g\n".into(),
            vec!["document 1 (Gadget \"g\")", "unknown kind \"Gadget\""],
        ),
        (
            ok_pod.replace("    image: localhost/busybox\n", ""),
            vec!["document 1 (Pod", "spec.containers[0].image: missing"],
        ),
        (
            ok_pod.replace("localhost/busybox", "localhost/nosuchimage"),
            vec!["spec.containers[0].image", "nosuchimage"],
        ),
        (
            format!("{ok_pod}    ports:\n    - containerPort: abc\n"),
            vec!["document 1 (Pod", "containerPort", "line 11"],
        ),
        (
            format!(
                "{ok_pod}    volumeMounts:\n    - name: v\n      mountPath: /v\n  volumes:\n  - name: v\n    persistentVolumeClaim:\n      claimName: nosuchclaim\n"
            ),
            vec![
                "spec.volumes[0].persistentVolumeClaim.claimName",
                "nosuchclaim",
            ],
        ),
        (
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {pod}\nspec:\n  replicas: 2\n  selector: {{}}\n  template:\n    spec:\n      containers:\n      - name: c\n        image: localhost/busybox\n        ports:\n        - containerPort: 80\n          hostPort: {}\n",
                free_port()
            ),
            vec!["Deployment", "hostPort", "2 replicas"],
        ),
    ];
    for (i, (yaml, needles)) in cases.iter().enumerate() {
        let f = write_yaml(&env, &format!("bad-{i}.yaml"), yaml);
        let mut needles = needles.clone();
        needles.insert(0, "Error: ");
        env.run(&["kube", "play", "--network", &net, s(&f)])
            .assert_error(125, &needles);
        assert_empty(&env, &format!("bad case {i}"));
    }

    // A hostPort a process on the host holds.
    let held = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let f = write_yaml(
        &env,
        "held.yaml",
        &format!("{ok_pod}    ports:\n    - containerPort: 80\n      hostPort: {port}\n"),
    );
    env.run(&["kube", "play", "--network", &net, s(&f)])
        .assert_error(125, &["Error: ", "hostPort", &port.to_string(), "in use"]);
    assert_empty(&env, "a held hostPort");
    drop(held);

    // A hostPort another pod publishes.
    let port = free_port();
    let other = name("other");
    env.ok(&[
        "pod",
        "create",
        "--name",
        &other,
        "--network",
        &net,
        "-p",
        &format!("{port}:80"),
    ]);
    env.ok(&["pod", "start", &other]);
    let f = write_yaml(
        &env,
        "taken.yaml",
        &format!("{ok_pod}    ports:\n    - containerPort: 80\n      hostPort: {port}\n"),
    );
    env.run(&["kube", "play", "--network", &net, s(&f)])
        .assert_error(125, &["Error: ", "hostPort", &port.to_string()]);
    assert_eq!(pod_names(&env), std::slice::from_ref(&other));
    env.ok(&["pod", "rm", "-f", "-t", "0", &other]);

    // A failure after creation began (the second pod's command does not exist): the first
    // pod and the claim this play made are removed again.
    let claim = name("claim");
    let two = format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {claim}\nspec:\n  accessModes: [ReadWriteOnce]\n---\n{ok_pod}    volumeMounts:\n    - name: v\n      mountPath: /v\n  volumes:\n  - name: v\n    persistentVolumeClaim:\n      claimName: {claim}\n---\n{}",
        ok_pod
            .replace(&pod, &format!("{pod}-2"))
            .replace("command: [sleep, '100']", "command: [/no/such/binary]")
    );
    let f = write_yaml(&env, "late.yaml", &two);
    env.run(&["kube", "play", "--network", &net, s(&f)])
        .assert_error(125, &["Error: ", "document 3 (Pod", "/no/such/binary"]);
    assert_empty(&env, "a failed start");
}

fn deployment_yaml(dep: &str, replicas: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {dep}
spec:
  replicas: {replicas}
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
        command: ["sleep", "1000"]
"#
    )
}

/// `--replace` and `kube down` take every pod an earlier play of a Deployment made, when
/// `replicas` changed in between (3 → 1 → 0 → 2, down with 1).
#[test]
fn replicas_changing_between_plays() {
    let env = TestEnv::new("kube-replicas");
    env.import_busybox();
    let net = network(&env);
    let dep = name("web");
    let three = write_yaml(&env, "three.yaml", &deployment_yaml(&dep, "3"));
    let one = write_yaml(&env, "one.yaml", &deployment_yaml(&dep, "1"));
    let zero = write_yaml(&env, "zero.yaml", &deployment_yaml(&dep, "0"));
    let two = write_yaml(&env, "two.yaml", &deployment_yaml(&dep, "2"));
    // A pod whose name only looks alike stays.
    let other = format!("{dep}-podx");
    env.ok(&["pod", "create", "--name", &other, "--network", &net]);
    let replicas = |n: usize| -> Vec<String> {
        let mut v: Vec<String> = (0..n).map(|i| format!("{dep}-pod-{i}")).collect();
        v.push(other.clone());
        v.sort();
        v
    };

    env.ok(&["kube", "play", "--network", &net, s(&three)]);
    assert_eq!(pod_names(&env), replicas(3));
    assert_eq!(pod_status(&env, &format!("{dep}-pod-2")), "Running");

    let out = env.ok(&[
        "kube",
        "play",
        "--replace",
        "--network",
        &net,
        "--start=false",
        s(&one),
    ]);
    assert_eq!(section(&out, "Pods removed:").len(), 3, "{out}");
    let mut want = vec![format!("{dep}-pod"), other.clone()];
    want.sort();
    assert_eq!(pod_names(&env), want, "all three old replicas go");

    let out = env.ok(&["kube", "play", "--replace", "--network", &net, s(&zero)]);
    assert_eq!(section(&out, "Pods removed:").len(), 1, "{out}");
    assert_eq!(pod_names(&env), std::slice::from_ref(&other));

    env.ok(&["kube", "play", "--network", &net, "--start=false", s(&two)]);
    assert_eq!(pod_names(&env), replicas(2));
    let down = env.ok(&["kube", "down", s(&one)]);
    assert_eq!(section(&down, "Pods removed:").len(), 2, "{down}");
    assert_eq!(pod_names(&env), std::slice::from_ref(&other));
    env.ok(&["pod", "rm", "-f", &other]);
    assert_empty(&env, "kube down");
}

/// `replicas: 2147483647` is refused at once, naming the Deployment and the value, as is a
/// file whose workloads add up past the bound; nothing is created.
#[test]
fn huge_replicas_are_refused_before_anything() {
    let env = TestEnv::new("kube-huge");
    env.import_busybox();
    let net = network(&env);
    let dep = name("web");
    let huge = write_yaml(&env, "huge.yaml", &deployment_yaml(&dep, "2147483647"));
    let out = env
        .run(&["kube", "play", "--network", &net, s(&huge)])
        .assert_error(
            125,
            &[
                &format!("Deployment \"{dep}\""),
                "spec.replicas: 2147483647",
                "at most 1000 pods",
            ],
        );
    assert!(out.elapsed < Duration::from_secs(10), "{out:?}");
    assert_empty(&env, "replicas: 2147483647");
    let both = format!(
        "{}---\n{}",
        deployment_yaml(&dep, "600"),
        deployment_yaml(&format!("{dep}b"), "600")
    );
    let f = write_yaml(&env, "both.yaml", &both);
    env.run(&["kube", "play", "--network", &net, s(&f)])
        .assert_error(
            125,
            &["document 2 (Deployment", "1200", "at most 1000 pods"],
        );
    assert_empty(&env, "1200 replicas");
    // Down of such a file needs no replica count: it finds nothing here and says so.
    env.ok(&["kube", "down", s(&huge)]);
}

/// A play that creates the default kube network and then fails removes it again; one that
/// found it already there leaves it.
#[test]
fn a_failed_play_removes_the_kube_network_it_made() {
    let env = TestEnv::new("kube-net-undo");
    env.import_busybox();
    let kube_net = "podman-default-kube-network";
    let pod = name("p");
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  containers:\n  - name: c\n    image: localhost/busybox\n    command: [sleep, '100']\n"
    );
    let f = write_yaml(&env, "pod.yaml", &yaml);
    // The container name the play needs is taken: creating the pod's container fails,
    // after the network and the pod were made.
    let squatter = format!("{pod}-c");
    env.ok(&["create", "--name", &squatter, IMG, "true"]);
    env.run(&["network", "exists", kube_net]).assert_code(1);
    env.run(&["kube", "play", "--start=false", s(&f)])
        .assert_error(125, &[&squatter]);
    env.run(&["network", "exists", kube_net]).assert_code(1);
    assert_eq!(pod_names(&env), Vec::<String>::new());

    // Made by a successful play, the network stays; a later failing play leaves it too.
    env.ok(&["rm", &squatter]);
    env.ok(&["kube", "play", "--start=false", s(&f)]);
    env.ok(&["network", "exists", kube_net]);
    let second = write_yaml(&env, "second.yaml", &yaml.replace(&pod, &format!("{pod}b")));
    env.ok(&["create", "--name", &format!("{pod}b-c"), IMG, "true"]);
    env.run(&["kube", "play", "--start=false", s(&second)])
        .assert_error(125, &[&format!("{pod}b-c")]);
    env.ok(&["network", "exists", kube_net]);
    assert_eq!(pod_names(&env), std::slice::from_ref(&pod));
    env.ok(&["kube", "down", s(&f)]);
    env.ok(&["network", "rm", kube_net]);
}

/// A pod's annotations reach its containers; 50 MB of them are refused, naming the
/// document; `--annotation` is checked the same way.
#[test]
fn annotations_are_bounded() {
    let env = TestEnv::new("kube-annot");
    env.import_busybox();
    let net = network(&env);
    let pod = name("ann");
    let with = |value: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\n  annotations:\n    example.com/note: \"{value}\"\nspec:\n  containers:\n  - name: c\n    image: localhost/busybox\n    command: [sleep, '100']\n"
        )
    };
    let big = write_yaml(&env, "big.yaml", &with(&"x".repeat(50 << 20)));
    env.run(&["kube", "play", "--network", &net, "--start=false", s(&big)])
        .assert_error(
            125,
            &[
                &format!("document 1 (Pod \"{pod}\")"),
                "metadata.annotations",
                "annotations size 52428816 is larger than limit 262144",
            ],
        );
    assert_empty(&env, "a 50 MB annotation");
    let small = write_yaml(&env, "small.yaml", &with("hello"));
    env.ok(&[
        "kube",
        "play",
        "--network",
        &net,
        "--start=false",
        s(&small),
    ]);
    assert_eq!(
        env.inspect(
            &format!("{pod}-c"),
            "{{index .Config.Annotations \"example.com/note\"}}"
        ),
        "hello"
    );
    env.ok(&["kube", "down", s(&small)]);

    let c = name("annc");
    env.ok(&[
        "create",
        "--name",
        &c,
        "--annotation",
        "example.com/a=1",
        IMG,
        "true",
    ]);
    assert_eq!(
        env.inspect(&c, "{{index .Config.Annotations \"example.com/a\"}}"),
        "1"
    );
    let third = format!("b={}", "y".repeat(100_000));
    env.run(&[
        "create",
        "--annotation",
        &third,
        "--annotation",
        &third.replace("b=", "c="),
        "--annotation",
        &third.replace("b=", "d="),
        IMG,
        "true",
    ])
    .assert_error(
        125,
        &["annotations size 300003 is larger than limit 262144"],
    );
    env.run(&["create", "--annotation", "bad key=1", IMG, "true"])
        .assert_error(125, &["name part of bad key"]);
    env.run(&["create", "--annotation", "novalue", IMG, "true"])
        .assert_error(125, &["annotations must be formatted KEY=VALUE"]);
    assert_eq!(env.names_all(), std::slice::from_ref(&c));
    // Label files are read as Podman reads them: 64 KiB a line.
    let labels = env.dir.join("labels");
    std::fs::write(&labels, format!("a={}\n", "z".repeat(70_000))).unwrap();
    env.run(&["pod", "create", "--label-file", labels.to_str().unwrap()])
        .assert_error(125, &["label file", "line 1", "token too long"]);
    assert_eq!(env.ok(&["pod", "ps", "-q"]), "");
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

/// A lookup that fails for another reason than "no such object" is reported as it is, not
/// as "not found".
#[test]
fn generate_reports_real_lookup_errors() {
    let env = TestEnv::new("kube-gen-lookup");
    env.import_busybox();
    // With 17 containers, two ids share their first hex digit (pigeonhole).
    let ids: Vec<String> = (0..17)
        .map(|_| env.ok(&["create", IMG, "true"]).trim().to_owned())
        .collect();
    let digit = (0..ids.len())
        .find_map(|i| {
            let c = &ids[i][..1];
            ids[i + 1..]
                .iter()
                .any(|o| o.starts_with(c))
                .then(|| c.to_owned())
        })
        .expect("pigeonhole");
    let out = env
        .run(&["kube", "generate", &digit])
        .assert_error(125, &["ambiguous"]);
    assert!(!out.stderr.contains("not found"), "{out:?}");
    env.run(&["kube", "generate", "nosuchthing"])
        .assert_error(125, &["\"nosuchthing\" not found"]);
}

#[test]
fn generate_of_a_pod_with_only_its_infra_is_refused() {
    let env = TestEnv::new("kube-gen-infra");
    env.import_busybox();
    let pod = name("lonely");
    env.ok(&["pod", "create", "--name", &pod]);
    env.run(&["kube", "generate", &pod])
        .assert_error(125, &["only has an infra container"]);
    env.ok(&["pod", "rm", "-f", &pod]);
}
