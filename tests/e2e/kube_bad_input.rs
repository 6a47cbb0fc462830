//! kube play and kube generate refusing bad input: the document and field named, nothing left
//! behind (pods, containers, volumes, the network a failed play made), lookups reported.

use std::net::TcpListener;
use std::time::Duration;

use crate::kube::{assert_empty, network, pod_names, s, write_yaml};
use crate::kube_objects::deployment_yaml;
use crate::util::{IMG, TestEnv, free_port, name};

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
