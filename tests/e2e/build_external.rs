//! A build's working containers are external containers, as Buildah's are to Podman: not
//! in `ps -a` nor touched by `rm -a`, listed by `ps --external` (Podman's columns), left
//! behind by a killed build, removed by `rm -f` or `image prune --external`.

use std::time::{Duration, Instant};

use crate::build::context;
use crate::util::{IMG, TestEnv, lines};

/// `ps --all --external` as `ID IMAGE COMMAND STATUS NAMES` lines (tab-separated).
fn external(env: &TestEnv) -> Vec<String> {
    lines(&env.ok(&[
        "ps",
        "--all",
        "--external",
        "--format",
        "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.Status}}\t{{.Names}}",
    ]))
}

#[test]
fn a_killed_build_leaves_its_working_containers() {
    let env = TestEnv::new("build-killed");
    let base = env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN touch /intermediate\nRUN sleep 60\n",
        )],
    );
    let mut child = env
        .peapod(&["build", "-t", "never", ctx.to_str().unwrap()])
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the second RUN (its working container is the second one), then kill the
    // build as `timeout` does.
    let start = Instant::now();
    while external(&env).len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the build never reached its second RUN"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    child.wait().unwrap();

    // Not peapod's containers: `ps -a` and `rm -a` leave them alone.
    assert!(env.names_all().is_empty(), "{:?}", env.names_all());
    env.ok(&["rm", "-a"]);
    let rows = external(&env);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let first: Vec<&str> = rows[0].split('\t').collect();
    assert_eq!(
        &first[1..],
        [
            IMG.to_string() + ":latest",
            "buildah".into(),
            "Storage".into(),
            "busybox-working-container".into()
        ],
        "{rows:?}"
    );
    let second: Vec<&str> = rows[1].split('\t').collect();
    assert_eq!(second[1], "", "an intermediate image has no name: {rows:?}");
    assert!(second[4].ends_with("-working-container"), "{rows:?}");
    assert_ne!(second[4], first[4]);
    let exists = |name: &str, external: bool| {
        let mut a = vec!["container", "exists"];
        if external {
            a.push("--external");
        }
        a.push(name);
        env.run(&a).code()
    };
    assert_eq!(exists("busybox-working-container", false), 1);
    assert_eq!(exists("busybox-working-container", true), 0);

    // The intermediate image is in use by the second one: prune keeps it, --external
    // takes both.
    assert_eq!(env.ok(&["image", "prune", "-f"]), "");
    let pruned = lines(&env.ok(&["image", "prune", "-f", "--external"]));
    assert_eq!(pruned.len(), 1, "{pruned:?}");
    assert_ne!(pruned[0], base);
    let rows = external(&env);
    assert_eq!(rows.len(), 1, "{rows:?}");

    // Still mounted: rm needs force, with Podman's message and exit code.
    let id = rows[0].split('\t').next().unwrap().to_string();
    env.run(&["rm", &id]).assert_error(
        2,
        &["is mounted and cannot be removed without using force: container state improper"],
    );
    env.ok(&["rm", "-t", "0", "-f", &id]);
    assert!(external(&env).is_empty());
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn a_finished_build_leaves_no_working_container() {
    let env = TestEnv::new("build-clean");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN touch /a\nRUN touch /b\n",
        )],
    );
    let out = crate::build::build(&env, &ctx, &["-t", "done"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(external(&env).is_empty(), "{:?}", external(&env));
    let failed = context(
        &env,
        "bad",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nRUN touch /a\nRUN false\n",
        )],
    );
    let out = crate::build::build(&env, &failed, &[]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(external(&env).is_empty(), "{:?}", external(&env));
    env.assert_no_mounts();
}
