//! `peapod run` in the foreground: output and exit codes passed through as Podman does
//! (the container's code; 126 cannot invoke; 127 not found).

use crate::util::{IMG, TestEnv};

#[test]
fn run_rm_echo_prints_and_exits_zero() {
    let env = TestEnv::new("run-echo");
    env.import_busybox();
    let out = env.ok(&["run", "--rm", IMG, "echo", "hi"]);
    assert_eq!(out, "hi\n");
    // --rm: nothing left behind.
    assert!(env.ids_all().is_empty(), "--rm container still listed");
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn run_passes_the_exit_code_through() {
    let env = TestEnv::new("run-exit3");
    env.import_busybox();
    env.run(&["run", IMG, "sh", "-c", "exit 3"]).assert_code(3);
    // Without --rm the container stays, exited with that code.
    let ids = env.ids_all();
    assert_eq!(ids.len(), 1, "expected one container, got {ids:?}");
    assert_eq!(env.status(&ids[0]), "exited");
    assert_eq!(env.inspect(&ids[0], "{{.State.ExitCode}}"), "3");
}

#[test]
fn run_command_not_found_is_127() {
    let env = TestEnv::new("run-127");
    env.import_busybox();
    let out = env
        .run(&["run", "--rm", IMG, "nonexistent-cmd"])
        .assert_error(127, &["nonexistent-cmd"]);
    assert!(out.stdout.is_empty(), "unexpected stdout:{out:?}");
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn run_not_executable_is_126() {
    let env = TestEnv::new("run-126");
    env.import_busybox();
    env.run(&["run", "--rm", IMG, "/etc/passwd"])
        .assert_error(126, &[]);
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn run_streams_stdout_and_stderr_separately() {
    let env = TestEnv::new("run-streams");
    env.import_busybox();
    let out = env.run(&[
        "run",
        "--rm",
        IMG,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 0",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "out\n", "{out:?}");
    assert!(out.stderr.contains("err"), "{out:?}");
}
