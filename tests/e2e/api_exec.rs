//! The API service's hijacked streams with stdin: `docker run -i` and `-t`, `docker exec`
//! (plain, `-i`, `-t`, `-d`), terminal resizes, and a client gone mid-attach.

use std::time::Duration;

use crate::api_util::{DOCKER, Service, have_docker};
use crate::pty::PtyChild;
use crate::util::{IMG, TestEnv, name};

#[test]
fn api_docker_run_forwards_stdin_and_a_terminal() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_run_i");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");

    // Piped stdin, no tty: multiplexed framing one way, bytes and a half-close the other.
    let input = "hello\nworld\n".repeat(2000);
    let out = svc
        .docker_cmd(&["run", "-i", "--rm", IMG, "cat"])
        .stdin(input.clone())
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stdout == input,
        "cat echoed {} bytes of {}",
        out.stdout.len(),
        input.len()
    );
    let out = svc
        .docker_cmd(&[
            "run",
            "-i",
            "--rm",
            IMG,
            "sh",
            "-c",
            "read x; echo got $x; exit 3",
        ])
        .stdin("line\n")
        .output();
    assert_eq!(out.code(), 3, "{out:?}");
    assert_eq!(out.stdout, "got line\n");
    assert!(env.names_all().is_empty(), "run -i --rm left a container");

    // A terminal: raw stream, the size the client's terminal has (resize), typed input.
    let long = Duration::from_secs(30);
    let ctr = name("apitty");
    let mut run = PtyChild::spawn(
        svc.docker_cmd(&["run", "-it", "--rm", "--name", &ctr, IMG, "sh"])
            .command(),
        30,
        90,
    );
    run.expect("# ", long);
    run.send(b"tty; stty size\r");
    run.expect("/dev/pts/", long);
    run.expect("30 90", long);
    run.resize(40, 120);
    // The docker CLI sends the new size on SIGWINCH.
    std::thread::sleep(Duration::from_millis(500));
    run.send(b"stty size\r");
    run.expect("40 120", long);
    run.send(b"exit 6\r");
    assert_eq!(run.wait(long).code(), Some(6));
    assert!(env.names_all().is_empty(), "run -it --rm left a container");
}

#[test]
fn api_docker_exec_plain_interactive_terminal_detached() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_exec");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let ctr = name("apiexec");
    svc.docker(&["run", "-d", "--name", &ctr, IMG, "sleep", "300"])
        .success();

    let out = svc.docker(&["exec", &ctr, "echo", "hi"]);
    assert_eq!((out.code(), out.stdout.as_str()), (0, "hi\n"), "{out:?}");
    let out = svc.docker(&["exec", &ctr, "sh", "-c", "echo err >&2; exit 4"]);
    assert_eq!(out.code(), 4, "{out:?}");
    assert_eq!(out.stderr, "err\n");
    let out = svc
        .docker_cmd(&["exec", "-i", &ctr, "cat"])
        .stdin("hello\n")
        .output();
    assert_eq!((out.code(), out.stdout.as_str()), (0, "hello\n"), "{out:?}");
    let out = svc.docker(&[
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "-e",
        "V=1",
        &ctr,
        "sh",
        "-c",
        "echo $(id -un) $PWD $V",
    ]);
    assert_eq!(out.stdout, "nobody /tmp 1\n", "{out:?}");

    // Detached: the command runs on its own.
    svc.docker(&["exec", "-d", &ctr, "sh", "-c", "sleep 0.3; touch /tmp/mark"])
        .success();
    crate::util::wait_until("the detached exec's file", Duration::from_secs(10), || {
        svc.docker(&["exec", &ctr, "test", "-e", "/tmp/mark"])
            .code()
            == 0
    });

    // A terminal, sized by the client.
    let long = Duration::from_secs(30);
    let mut ex = PtyChild::spawn(
        svc.docker_cmd(&["exec", "-it", &ctr, "sh"]).command(),
        25,
        70,
    );
    ex.expect("# ", long);
    ex.send(b"stty size; tty\r");
    ex.expect("25 70", long);
    ex.expect("/dev/pts/", long);
    ex.send(b"exit 2\r");
    assert_eq!(ex.wait(long).code(), Some(2));

    // Exec in a container that is not running: Docker's 409 and its words.
    svc.docker(&["stop", "-t", "0", &ctr]).success();
    let out = svc.docker(&["exec", &ctr, "true"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("is not running"), "{out:?}");
    let (code, body) = svc.curl("GET", "/exec/nosuchexec/json", None);
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("No such exec instance"), "{body}");
    svc.docker(&["rm", &ctr]).success();
    assert!(env.names_all().is_empty());
}

#[test]
fn api_client_killed_mid_attach_leaves_the_container_running() {
    if peapod_tests::skip_unless(have_docker(), DOCKER) {
        return;
    }
    let env = TestEnv::new("api_attach_kill");
    env.import_busybox();
    let svc = Service::start(&env, &env.dir.join("api.sock"), "0");
    let ctr = name("apiatt");
    svc.docker(&[
        "run",
        "-d",
        "--name",
        &ctr,
        IMG,
        "sh",
        "-c",
        "while :; do echo tick; sleep 0.2; done",
    ])
    .success();
    let mut attach = svc
        .docker_cmd(&["attach", "--no-stdin", &ctr])
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("docker attach");
    let mut first = String::new();
    {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(attach.stdout.as_mut().unwrap());
        r.read_line(&mut first).unwrap();
    }
    assert_eq!(first, "tick\n");
    attach.kill().unwrap();
    attach.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.status(&ctr), "running");
    // Attaching again works, and the service still serves.
    let mut again = svc
        .docker_cmd(&["attach", "--no-stdin", &ctr])
        .command()
        .stdout(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("docker attach");
    let mut line = String::new();
    {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(again.stdout.as_mut().unwrap());
        r.read_line(&mut line).unwrap();
    }
    assert_eq!(line, "tick\n");
    let _ = again.kill();
    let _ = again.wait();
    svc.docker(&["rm", "-f", &ctr]).success();
    assert!(env.names_all().is_empty());
}
