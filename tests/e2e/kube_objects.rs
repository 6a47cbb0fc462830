//! kube play of the other objects: ConfigMaps, Secrets, Jobs, DaemonSets, Deployments whose
//! replicas change between plays, and annotations within their bound.

use std::time::Duration;

use crate::kube::{assert_empty, network, pod_names, pod_status, s, section, write_yaml};
use crate::util::{IMG, TestEnv, name, wait_until};

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

pub(crate) fn deployment_yaml(dep: &str, replicas: &str) -> String {
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

/// A pod's annotations reach its containers; a value over 63 characters is refused (in the
/// file or `kube play --annotation`, Podman 4.3's rule); `create --annotation` has the 256 KiB
/// limit.
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
    // Podman 4.3's rule for kube: no value over 63 characters (checked before any pull).
    let big = write_yaml(&env, "big.yaml", &with(&"x".repeat(64)));
    env.run(&["kube", "play", "--network", &net, "--start=false", s(&big)])
        .assert_error(
            125,
            &[&format!(
                "invalid annotation \"example.com/note\"=\"{}\" value length exceeds Kubernetes max 63",
                "x".repeat(64)
            )],
        );
    assert_empty(&env, "a 64-character annotation");
    let long = format!("k={}", "z".repeat(64));
    env.run(&[
        "kube",
        "play",
        "--annotation",
        &long,
        "--start=false",
        s(&big),
    ])
    .assert_error(
        125,
        &["annotation exceeds maximum size, 63, of kubernetes annotation: zzz"],
    );
    assert_empty(&env, "a 64-character --annotation");
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

/// securityContext both ways: a pod's container with added and dropped capabilities, a
/// read-only root and no-new-privileges is generated with them and played back with them;
/// a pod's supplementalGroups and sysctls reach its containers.
#[test]
fn security_context_round_trips() {
    let env = TestEnv::new("kube-security");
    env.import_busybox();
    let net = network(&env);
    let pod = name("sec");
    let ctr = format!("{pod}-app");
    env.ok(&["pod", "create", "--name", &pod, "--network", &net]);
    env.ok(&[
        "create",
        "--pod",
        &pod,
        "--name",
        &ctr,
        "--cap-add",
        "NET_ADMIN",
        "--cap-drop",
        "CHOWN",
        "--read-only",
        "--security-opt",
        "no-new-privileges",
        IMG,
        "sleep",
        "1000",
    ]);
    let yaml = env.ok(&["generate", "kube", &pod]);
    for want in [
        "- CAP_NET_ADMIN",
        "- CAP_CHOWN",
        "readOnlyRootFilesystem: true",
        "allowPrivilegeEscalation: false",
    ] {
        assert!(yaml.contains(want), "{want} in {yaml}");
    }
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    let file = write_yaml(&env, "sec.yaml", &yaml);
    env.ok(&["kube", "play", "--network", &net, s(&file)]);
    let played = format!("{pod}-app");
    let caps = env.inspect(&played, "{{.HostConfig.CapAdd}} {{.HostConfig.CapDrop}}");
    assert!(
        caps.contains("CAP_NET_ADMIN") && caps.contains("CAP_CHOWN"),
        "{caps}"
    );
    assert_eq!(
        env.inspect(&played, "{{.HostConfig.ReadonlyRootfs}}"),
        "true"
    );
    assert!(
        env.inspect(&played, "{{.HostConfig.SecurityOpt}}")
            .contains("no-new-privileges")
    );
    env.ok(&["kube", "down", s(&file)]);

    // The pod's context: groups and a sysctl for every container.
    let p2 = name("grp");
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {p2}\nspec:\n  securityContext:\n    supplementalGroups: [1234]\n    sysctls:\n    - name: net.ipv4.ip_forward\n      value: \"1\"\n  containers:\n  - name: c\n    image: {IMG}\n    command: [sleep, \"1000\"]\n"
    );
    let file = write_yaml(&env, "grp.yaml", &text);
    env.ok(&["kube", "play", "--network", &net, s(&file)]);
    let c = format!("{p2}-c");
    let out = env.ok(&[
        "exec",
        &c,
        "sh",
        "-c",
        "id -G; cat /proc/sys/net/ipv4/ip_forward",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].split_whitespace().any(|g| g == "1234"), "{out}");
    assert_eq!(lines[1], "1", "{out}");
    env.ok(&["kube", "down", s(&file)]);
}
