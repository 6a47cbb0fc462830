//! Podman's global flags that change how a command runs: `--runtime-flag` (options for
//! the OCI runtime, on every call), `--noout` (nothing on stdout), `--storage-driver`
//! (overlay is what peapod stores with; another driver is refused, not ignored).

use super::util::{IMG, TestEnv, name};

#[test]
fn runtime_flag_reaches_the_runtime() {
    let env = TestEnv::new("gf-rtflag");
    env.import_busybox();
    // An option runc does not know: the start fails as Podman's does (126, the runtime's
    // words), and `run --rm` leaves no container behind.
    env.run(&["--runtime-flag", "invalidflag", "run", "--rm", IMG, "true"])
        .assert_error(126, &["invalidflag"]);
    assert!(env.names_all().is_empty(), "{:?}", env.names_all());
    // A flag runc knows goes to every call (the monitor's create too): runc's --debug
    // logs its debug lines, and the container runs.
    let out = env.run(&["--runtime-flag", "debug", "run", "--rm", IMG, "echo", "ran"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "ran\n");
    env.assert_no_mounts();
}

#[test]
fn noout_prints_nothing_on_stdout() {
    let env = TestEnv::new("gf-noout");
    env.import_busybox();
    let c = name("quiet");
    let out = env.run(&["--noout", "run", "-d", "--name", &c, IMG, "echo", "hi"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "", "run -d --noout prints no id");
    assert!(env.names_all().contains(&c));
    env.ok(&["wait", &c]);
    // Errors still go to stderr.
    env.run(&["--noout", "rm", "nosuch-container"])
        .assert_error(1, &["nosuch-container"]);
    let out = env.run(&["--noout", "rm", &c]);
    assert_eq!((out.code(), out.stdout.as_str()), (0, ""), "{out:?}");
    assert!(env.names_all().is_empty());
}

#[test]
fn storage_driver_other_than_overlay_is_refused() {
    let env = TestEnv::new("gf-driver");
    env.run(&["--storage-driver", "vfs", "images"])
        .assert_error(
            125,
            &["Error: storage driver \"vfs\" is not supported by peapod"],
        );
    env.ok(&["--storage-driver", "overlay", "images"]);
}
