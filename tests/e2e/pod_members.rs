//! What a pod's members see and show, as a new user checks it (issue 13, item 5): a pod's
//! volume is filled from the first member image that has files at its path, as a volume
//! given to a lone container is; `ps` shows the pod's published ports on every member's
//! row; `pod ps` templates take Podman's field names (`.ID`, `.InfraID`, `.Networks`).

use crate::util::{IMG, TestEnv, free_port, lines, name};

#[test]
fn a_pod_volume_is_copied_up_from_the_first_member_image_with_files_there() {
    let env = TestEnv::new("podm-copyup");
    env.import_busybox();
    // An image with files at /data (the pod's infra image has nothing there).
    let seed = name("seed");
    env.ok(&[
        "run",
        "--name",
        &seed,
        IMG,
        "sh",
        "-c",
        "mkdir /data && echo one > /data/a && echo two > /data/b",
    ]);
    env.ok(&["commit", "-q", &seed, "localhost/seeded"]);
    env.ok(&["rm", &seed]);

    let (pod, pv, lone) = (name("pod"), name("pv"), name("lone"));
    env.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--network",
        "none",
        "-v",
        &format!("{pv}:/data"),
    ]);
    let show = "ls /data && cat /data/a";
    // The infra starts first, with nothing at /data: the volume still waits for a copy-up.
    let in_pod = env.ok(&[
        "run",
        "--rm",
        "--pod",
        &pod,
        "localhost/seeded",
        "sh",
        "-c",
        show,
    ]);
    let alone = env.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{lone}:/data"),
        "localhost/seeded",
        "sh",
        "-c",
        show,
    ]);
    assert_eq!(alone, "a\nb\none\n");
    assert_eq!(
        in_pod, alone,
        "a pod member sees what a lone container sees"
    );
    // Copied once: a file removed in one member stays removed for the next.
    env.ok(&[
        "run",
        "--rm",
        "--pod",
        &pod,
        "localhost/seeded",
        "rm",
        "/data/b",
    ]);
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "--pod",
            &pod,
            "localhost/seeded",
            "ls",
            "/data"
        ]),
        "a\n"
    );
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.ok(&["volume", "rm", &pv, &lone]);
    env.assert_no_mounts();
}

#[test]
fn ps_shows_the_pods_ports_on_every_member_and_pod_ps_takes_podmans_fields() {
    let env = TestEnv::new("podm-ports");
    env.import_busybox();
    let net = crate::pods::network(&env);
    let pod = name("pod");
    let port = free_port();
    let id = env.ok(&[
        "pod",
        "create",
        "--name",
        &pod,
        "--network",
        &net,
        "-p",
        &format!("127.0.0.1:{port}:3000"),
    ]);
    let id = id.trim().to_string();
    let (a, b) = (name("a"), name("b"));
    for m in [&a, &b] {
        env.ok(&[
            "run", "-d", "--pod", &pod, "--name", m, IMG, "sleep", "1000",
        ]);
    }
    let want = format!("127.0.0.1:{port}->3000/tcp");
    let rows = env.ok(&[
        "ps",
        "--pod",
        "--format",
        "{{.Names}}|{{.Ports}}|{{.PodName}}",
    ]);
    let rows = lines(&rows);
    assert_eq!(rows.len(), 3, "infra and two members: {rows:?}");
    for r in &rows {
        assert!(
            r.ends_with(&format!("|{want}|{pod}")),
            "every row of the pod shows its ports: {r}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["ps", "--format", "json"])).unwrap();
    for c in json.as_array().unwrap() {
        assert_eq!(c["Ports"][0]["host_port"], port, "{c}");
    }

    // pod ps: Podman's template names.
    let infra = env
        .ok(&["pod", "inspect", "--format", "{{.InfraContainerID}}", &pod])
        .trim()
        .to_string();
    assert_eq!(
        env.ok(&[
            "pod",
            "ps",
            "--format",
            "{{.ID}} {{.InfraID}} {{.Networks}}"
        ]),
        format!("{} {} {net}\n", &id[..12], &infra[..12])
    );
    assert_eq!(
        env.ok(&[
            "pod",
            "ps",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.InfraId}}"
        ]),
        format!("{id} {infra}\n")
    );
    let table = env.ok(&["pod", "ps", "--format", "table {{.ID}}\t{{.Name}}"]);
    assert!(lines(&table)[0].starts_with("POD ID"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["pod", "ps", "--format", "json"])).unwrap();
    assert_eq!(json[0]["Id"], id.as_str());
    assert_eq!(json[0]["InfraId"], infra.as_str());
    assert_eq!(json[0]["Networks"], serde_json::json!([net]));
    assert_eq!(json[0]["Containers"].as_array().unwrap().len(), 3);
    env.ok(&["pod", "rm", "-f", "-t", "0", &pod]);
    env.ok(&["network", "rm", &net]);
}
