//! `--pid`, `--ipc`, `--uts`: the host's namespaces, another container's, or none at all,
//! checked as a user checks them (`/proc/self/ns/*` links, `ps`, `/dev/shm`, hostname).

use crate::util::{IMG, TestEnv, name};

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn host_and_private_namespaces() {
    let env = TestEnv::new("ns-host");
    env.import_busybox();
    for kind in ["ipc", "pid", "uts"] {
        let link = format!("/proc/self/ns/{kind}");
        let shared = env.ok(&[
            "run",
            "--rm",
            &format!("--{kind}=host"),
            IMG,
            "readlink",
            &link,
        ]);
        assert_eq!(shared.trim(), host_ns(kind), "--{kind}=host");
        let own = env.ok(&["run", "--rm", IMG, "readlink", &link]);
        assert_ne!(
            own.trim(),
            host_ns(kind),
            "a {kind} namespace of its own by default"
        );
    }
    // The host's hostname with --uts=host; no /dev/shm with --ipc=none.
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(
        env.ok(&["run", "--rm", "--uts=host", IMG, "hostname"])
            .trim(),
        host
    );
    let out = env.run(&["run", "--rm", "--ipc=none", IMG, "ls", "/dev/shm"]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(
        out.stderr.contains("/dev/shm: No such file or directory"),
        "{out:?}"
    );
    env.run(&["run", "--rm", "--pid=none", IMG, "true"])
        .assert_error(125, &["invalid --pid \"none\""]);
}

#[test]
fn joining_another_containers_namespaces() {
    let env = TestEnv::new("ns-join");
    env.import_busybox();
    let donor = name("donor");
    env.ok(&["run", "-d", "--name", &donor, IMG, "sleep", "1000"]);
    let ipc = env.ok(&["exec", &donor, "readlink", "/proc/self/ns/ipc"]);
    let out = env.ok(&[
        "run",
        "--rm",
        &format!("--ipc=container:{donor}"),
        &format!("--pid=container:{donor}"),
        IMG,
        "sh",
        "-c",
        "readlink /proc/self/ns/ipc; ps -o comm",
    ]);
    assert!(out.starts_with(&ipc), "{out}");
    assert!(
        out.contains("sleep"),
        "the donor's processes are visible: {out}"
    );
    assert_eq!(env.inspect(&donor, "{{.HostConfig.IpcMode}}"), "shareable");
    // A private IPC namespace cannot be joined (Podman's refusal).
    let private = name("private");
    env.ok(&[
        "run",
        "-d",
        "--ipc=private",
        "--name",
        &private,
        IMG,
        "sleep",
        "1000",
    ]);
    assert_eq!(env.inspect(&private, "{{.HostConfig.IpcMode}}"), "private");
    env.run(&[
        "run",
        "--rm",
        &format!("--ipc=container:{private}"),
        IMG,
        "true",
    ])
    .assert_error(
        125,
        &["non-shareable IPC (hint: use IpcMode:shareable for the donor container)"],
    );
    // A donor that does not run cannot lend its namespace: the start fails (126, as any
    // failed start of `run`) and `--rm` leaves nothing behind.
    env.ok(&["stop", "-t", "0", &donor]);
    env.run(&[
        "run",
        "--rm",
        &format!("--pid=container:{donor}"),
        IMG,
        "true",
    ])
    .assert_error(126, &["is not running"]);
    env.ok(&["rm", "-f", "-t", "0", &donor, &private]);
    assert_eq!(env.ok(&["ps", "-aq"]), "");
    env.assert_no_mounts();
}
