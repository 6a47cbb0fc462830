//! `build` details users check against Podman: `--timestamp` (the same id at another
//! time), `ADD https://…` through a local TLS server with its own CA, `RUN --mount=type=bind,rw`
//! (writable, the writes dropped), ADD of `.tar.xz`/`.tar.bz2`/`.tar.zst` unpacked, and
//! `{{.Config.ExposedPorts}}` rendered as Podman renders it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::build::{build, context};
use crate::util::{TestEnv, free_port, last_line, lines};

fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-c").arg(cmd).status().unwrap();
    assert!(st.success(), "{cmd}");
}

#[test]
fn timestamp_gives_the_same_image_at_another_time() {
    let env = TestEnv::new("build-timestamp");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\nCOPY f /f\nRUN echo made > /made && mkdir /d && echo in > /d/x\nEXPOSE 3001\n",
            ),
            ("f", "content\n"),
        ],
    );
    let out = build(&env, &ctx, &["--timestamp", "0", "-t", "ts1"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let first = last_line(&out.stdout);
    // Seconds later, the source's mtime changed too: no cache, the same image all the same.
    std::thread::sleep(Duration::from_millis(2100));
    sh(&format!("touch {}", ctx.join("f").display()));
    let out = build(&env, &ctx, &["--timestamp", "0", "--no-cache", "-t", "ts2"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(!out.stdout.contains("Using cache"), "{out:?}");
    assert_eq!(last_line(&out.stdout), first, "{out:?}");
    // Every file the build wrote has mtime 0; the base's files keep theirs.
    let stat = env.ok(&[
        "run", "--rm", "ts1", "stat", "-c", "%Y %n", "/f", "/made", "/d", "/d/x", "/bin",
    ]);
    let l = lines(&stat);
    assert_eq!(&l[..4], ["0 /f", "0 /made", "0 /d", "0 /d/x"], "{stat}");
    assert_ne!(l[4], "0 /bin", "{stat}");
    assert_eq!(
        env.inspect("ts1", "{{json .Created}}"),
        "\"1970-01-01T00:00:00Z\""
    );
    let history = env.ok(&["history", "--no-trunc", "--format", "{{.CreatedAt}}", "ts1"]);
    let h = lines(&history);
    assert!(h.len() >= 4, "{history}");
    // The build's own entries (the newest first) are at the epoch; the base's is not.
    for c in &h[..h.len() - 1] {
        assert!(c.starts_with("1970-01-01 00:00:00 "), "{history}");
    }
    // Without --timestamp, a later build is another image.
    let out = build(&env, &ctx, &["--no-cache", "-t", "ts3"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_ne!(last_line(&out.stdout), first);
}

/// A TLS server (python3's http.server) on 127.0.0.1 serving `dir`, with a certificate of
/// a CA made for the test; killed when dropped.
struct TlsServer {
    child: Child,
    port: u16,
    ca: PathBuf,
}

impl TlsServer {
    fn start(env: &TestEnv, dir: &Path) -> TlsServer {
        let pki = env.dir.join("pki");
        std::fs::create_dir_all(&pki).unwrap();
        let p = |n: &str| pki.join(n).display().to_string();
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        sh(&format!(
            "openssl req -x509 {ec} -keyout {} -out {} -days 2 -subj /CN=peapod-test-ca 2>/dev/null",
            p("ca.key"),
            p("ca.pem")
        ));
        sh(&format!(
            "openssl req {ec} -keyout {} -out {} -subj /CN=127.0.0.1 2>/dev/null",
            p("srv.key"),
            p("srv.csr")
        ));
        std::fs::write(pki.join("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        sh(&format!(
            "openssl x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -out {} -days 2 -extfile {} 2>/dev/null",
            p("srv.csr"),
            p("ca.pem"),
            p("ca.key"),
            p("srv.pem"),
            p("ext")
        ));
        let port = free_port();
        let script = "import http.server, ssl, sys, os\n\
            os.chdir(sys.argv[1])\n\
            srv = http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[2])), http.server.SimpleHTTPRequestHandler)\n\
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
            ctx.load_cert_chain(sys.argv[3], sys.argv[4])\n\
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n\
            srv.serve_forever()\n";
        let child = Command::new("python3")
            .args(["-c", script])
            .arg(dir)
            .arg(port.to_string())
            .arg(p("srv.pem"))
            .arg(p("srv.key"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 for the TLS server");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the TLS server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        TlsServer {
            child,
            port,
            ca: pki.join("ca.pem"),
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn add_https_url_with_a_local_ca() {
    let env = TestEnv::new("build-add-https");
    env.import_busybox();
    let www = env.dir.join("www");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::write(www.join("sub/hello.txt"), "hello over tls\n").unwrap();
    std::fs::create_dir_all(env.dir.join("payload")).unwrap();
    std::fs::write(env.dir.join("payload/inner"), "inner\n").unwrap();
    sh(&format!(
        "tar -C {} -czf {}/pack.tar.gz inner && touch -d @1600000000 {}/sub/hello.txt",
        env.dir.join("payload").display(),
        www.display(),
        www.display()
    ));
    let server = TlsServer::start(&env, &www);
    let base = format!("https://127.0.0.1:{}", server.port);
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            &format!(
                "FROM localhost/busybox\n\
                 ADD {base}/sub/hello.txt /dl/\n\
                 ADD {base}/sub/hello.txt /renamed.txt\n\
                 ADD {base}/pack.tar.gz /dl/\n"
            ),
        )],
    );
    // The CA is unknown to the system: refused, and nothing is left behind.
    let out = build(&env, &ctx, &["-t", "https-bad"]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert!(out.stderr.contains("Error: "), "{out:?}");
    assert!(out.stderr.contains(&base), "{out:?}");
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "");
    assert!(env.run(&["image", "exists", "https-bad"]).code() != 0);
    // With SSL_CERT_FILE naming the CA (Go's variable), it is trusted.
    let out = env
        .peapod(&["build", "-t", "https-ok", ctx.to_str().unwrap()])
        .env("SSL_CERT_FILE", &server.ca)
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    let stat = env.ok(&[
        "run",
        "--rm",
        "https-ok",
        "stat",
        "-c",
        "%n %a %Y %s",
        "/dl/hello.txt",
        "/renamed.txt",
        "/dl/pack.tar.gz",
    ]);
    let l = lines(&stat);
    // Podman's semantics: named after the URL (or the destination), mode 0600, the
    // mtime of Last-Modified, and a URL'd tar is not unpacked.
    assert_eq!(l[0], "/dl/hello.txt 600 1600000000 15", "{stat}");
    assert_eq!(l[1], "/renamed.txt 600 1600000000 15", "{stat}");
    assert!(l[2].starts_with("/dl/pack.tar.gz 600 "), "{stat}");
    assert_eq!(
        env.ok(&["run", "--rm", "https-ok", "cat", "/dl/hello.txt"]),
        "hello over tls\n"
    );
    assert!(
        env.run(&["run", "--rm", "https-ok", "test", "-e", "/dl/inner"])
            .code()
            != 0,
        "a URL'd tar was unpacked"
    );
}

#[test]
fn run_bind_mount_rw_is_writable_and_its_writes_are_dropped() {
    let env = TestEnv::new("build-bind-rw");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\n\
                 RUN --mount=type=bind,source=data,target=/src,rw echo changed > /src/f && echo new > /src/new && cat /src/f /src/new > /seen\n\
                 RUN --mount=type=bind,source=data/f,target=/one,rw echo file-changed > /one && cat /one > /seen-file\n\
                 RUN --mount=type=bind,source=data,target=/src cat /src/f > /second && ls /src > /listing\n",
            ),
            ("data/f", "original\n"),
        ],
    );
    let out = build(&env, &ctx, &["-t", "bindrw"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let cat = |f: &str| env.ok(&["run", "--rm", "bindrw", "cat", f]);
    assert_eq!(cat("/seen"), "changed\nnew\n");
    assert_eq!(cat("/seen-file"), "file-changed\n");
    // The next step, and the host, see the context as it was.
    assert_eq!(cat("/second"), "original\n");
    assert_eq!(cat("/listing"), "f\n");
    assert_eq!(
        std::fs::read_to_string(ctx.join("data/f")).unwrap(),
        "original\n"
    );
    assert!(!ctx.join("data/new").exists());
    // Nothing of the mounts is in the image.
    assert!(
        env.run(&["run", "--rm", "bindrw", "test", "-e", "/src"])
            .code()
            != 0
    );
    env.assert_no_mounts();
    // Read-only stays the default: a write fails the step.
    let ro = context(
        &env,
        "ro",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\nRUN --mount=type=bind,source=data,target=/src echo x > /src/f\n",
            ),
            ("data/f", "original\n"),
        ],
    );
    let out = build(&env, &ro, &["-t", "bindro"]);
    assert_ne!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("Error: building at STEP"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(ro.join("data/f")).unwrap(),
        "original\n"
    );
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "");
}

#[test]
fn add_unpacks_xz_bzip2_and_zstd_tars() {
    let env = TestEnv::new("build-add-xz");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            (
                "Containerfile",
                "FROM localhost/busybox\n\
                 ADD t.tar.xz /xz/\n\
                 ADD t.tar.bz2 /bz2/\n\
                 ADD t.tar.zst /zst/\n\
                 COPY t.tar.xz /copied/\n",
            ),
            ("src/dir/file", "packed\n"),
        ],
    );
    let c = ctx.display();
    sh(&format!(
        "cd {c}/src && tar -cJf {c}/t.tar.xz dir && tar -cjf {c}/t.tar.bz2 dir && tar -cf - dir | zstd -q -o {c}/t.tar.zst"
    ));
    let out = build(&env, &ctx, &["-t", "xz"]);
    assert_eq!(out.code(), 0, "{out:?}");
    for d in ["/xz", "/bz2", "/zst"] {
        assert_eq!(
            env.ok(&["run", "--rm", "xz", "cat", &format!("{d}/dir/file")]),
            "packed\n",
            "{d}"
        );
    }
    // COPY never unpacks.
    assert_eq!(
        env.ok(&["run", "--rm", "xz", "ls", "/copied"]),
        "t.tar.xz\n"
    );
}

#[test]
fn exposed_ports_print_as_podman_prints_them() {
    let env = TestEnv::new("build-exposed");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nEXPOSE 3001\nEXPOSE 53/udp\nVOLUME /data\n",
        )],
    );
    let out = build(&env, &ctx, &["-t", "ports"]);
    assert_eq!(out.code(), 0, "{out:?}");
    // Measured with podman 4.3.1 on the same Containerfile: Go prints a
    // map[string]struct{} as `map[k:{}]`; JSON keeps `{}`.
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.ExposedPorts}} {{.Config.Volumes}}",
            "ports"
        ])
        .trim(),
        "map[3001/tcp:{} 53/udp:{}] map[/data:{}]"
    );
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "--format",
            "{{json .Config.ExposedPorts}}",
            "ports"
        ])
        .trim(),
        "{\"3001/tcp\":{},\"53/udp\":{}}"
    );
}

/// The cause of the `multi_stage_scratch_and_target` flake: `run b` took the image whose
/// ID starts with `b` when one did (1 time in 16 or so), not the image named `b`. Podman
/// (libimage) tries the names a short name expands to before a short ID.
#[test]
fn a_name_wins_over_an_id_prefix() {
    let env = TestEnv::new("build-name-vs-id");
    let base = env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[
            ("Containerfile", "FROM scratch\nCOPY f /f\n"),
            ("f", "named\n"),
        ],
    );
    // Named after the first character of the busybox image's ID (as `b` was).
    let name = &base[..1];
    let out = build(&env, &ctx, &["-t", name]);
    assert_eq!(out.code(), 0, "{out:?}");
    let built = last_line(&out.stdout);
    assert_ne!(built, base);
    assert_eq!(env.inspect(name, "{{.Id}}"), built);
    // Short and full IDs still find the image.
    assert_eq!(env.inspect(&base[..12], "{{.Id}}"), base);
    assert_eq!(env.inspect(&format!("sha256:{base}"), "{{.Id}}"), base);
}

/// Details of podman's own 070-build: `--logfile`, a missing `--authfile`, a RUN the
/// runtime refuses (exit 1, Buildah's), containers.conf's runtime, and the error without a
/// Containerfile.
#[test]
fn logfile_authfile_runtime_flag_and_missing_containerfile() {
    let env = TestEnv::new("build-070");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[("Containerfile", "FROM localhost/busybox\nRUN echo ran-it\n")],
    );
    let log = env.dir.join("build.log");
    let out = build(
        &env,
        &ctx,
        &["--logfile", log.to_str().unwrap(), "-t", "logged"],
    );
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "", "everything goes to the log file");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("ran-it") && text.contains("COMMIT logged"),
        "{text}"
    );
    assert_eq!(last_line(&text), env.inspect("logged", "{{.Id}}"));

    let out = build(&env, &ctx, &["--authfile", "/nonexistent/auth.json"]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert!(
        out.stderr
            .contains("checking authfile: stat /nonexistent/auth.json: no such file or directory"),
        "{out:?}"
    );

    let out = env.run(&[
        "--runtime-flag",
        "invalidflag",
        "build",
        "--no-cache",
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), 1, "{out:?}");
    assert!(out.stderr.contains("invalidflag"), "{out:?}");
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "");

    // containers.conf's `[engine] runtime` is the runtime when --runtime is not given.
    let conf = env.dir.join("containers.conf");
    std::fs::write(&conf, "[engine]\nruntime = \"idonotexist\"\n").unwrap();
    let out = env
        .peapod(&["build", "--no-cache", ctx.to_str().unwrap()])
        .env("CONTAINERS_CONF", &conf)
        .output();
    assert_eq!(out.code(), 125, "{out:?}");
    assert!(out.stderr.contains("\"idonotexist\" not found"), "{out:?}");
    assert_eq!(env.ok(&["ps", "-a", "-q"]).trim(), "");

    let empty = context(&env, "empty", &[("README", "no containerfile\n")]);
    let out = build(&env, &empty, &[]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "stat {}/Dockerfile: no such file or directory",
            empty.display()
        )),
        "{out:?}"
    );
}

/// podman's 070-build `buildx - basic test`: `VOLUME ['/etc/foo', '/etc/bar']` is shell
/// form (`[/etc/foo,` and `/etc/bar]`); a container of the image gets both as volumes,
/// the relative one below `/`, with no warning in its output.
#[test]
fn shell_form_volume_brackets_become_directories() {
    let env = TestEnv::new("build-volume-brackets");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM localhost/busybox\nVOLUME /a/b/c\nVOLUME ['/etc/foo', '/etc/bar']\n",
        )],
    );
    let out = env.run(&[
        "buildx",
        "build",
        "--load",
        "-t",
        "vols",
        "--format=docker",
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = env.run(&["run", "--rm", "vols", "find", "/[", "/etc/bar]", "-print"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "/[\n/[/etc\n/[/etc/foo,\n/etc/bar]\n");
    assert_eq!(out.stderr, "", "{out:?}");
}

/// A WORKDIR the image lacks is made for the RUN steps under it, as Buildah makes it: each
/// missing directory 0755, owned by the USER the step runs as, and kept in the image. Two
/// steps that change nothing (the empty layer twice in the stack) do not stop the next RUN.
#[test]
fn run_makes_a_missing_workdir_owned_by_the_user() {
    let env = TestEnv::new("build-workdir");
    env.import_busybox();
    let ctx = context(
        &env,
        "ctx",
        &[(
            "Containerfile",
            "FROM localhost/busybox\nWORKDIR /made/deep\nRUN pwd > /pwd1\n\
             USER 1000:1001\nWORKDIR /owned/sub\nRUN echo one\nRUN echo two\nRUN echo three\nRUN pwd > /tmp/pwd2\n",
        )],
    );
    let out = build(&env, &ctx, &["-t", "wd"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let stat = env.ok(&[
        "run",
        "--rm",
        "--user",
        "0",
        "wd",
        "sh",
        "-c",
        "cat /pwd1 /tmp/pwd2; stat -c '%n %a %u:%g' /made /made/deep /owned /owned/sub",
    ]);
    assert_eq!(
        lines(&stat),
        [
            "/made/deep",
            "/owned/sub",
            "/made 755 0:0",
            "/made/deep 755 0:0",
            "/owned 755 1000:1001",
            "/owned/sub 755 1000:1001",
        ],
        "{stat}"
    );
    // `run -w` of a directory the image lacks stays an error, as in Podman 4.3.1.
    let out = env.run(&["run", "--rm", "-w", "/no/such/dir", "wd", "true"]);
    assert_eq!(out.code(), 126, "{out:?}");
    assert!(
        out.stderr
            .contains("Error: workdir \"/no/such/dir\" does not exist on container"),
        "{out:?}"
    );
}
