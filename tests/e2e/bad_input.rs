//! Bad input gets `Error: …` naming the object, Podman's exit code, and leaves nothing
//! behind: no mount, no monitor process, no container or image row, no stray file.

use crate::util::{IMG, TestEnv, name};

/// After a failed command: no mount and no process left mentioning the env.
fn assert_clean(env: &TestEnv) {
    env.assert_no_mounts();
    env.assert_no_processes();
}

#[test]
fn unknown_image() {
    let env = TestEnv::new("bad-image");
    env.import_busybox();
    let img = format!("localhost/{}", name("nosuchimage"));
    env.run(&["run", "--rm", &img, "true"])
        .assert_error(125, &[&img]);
    env.run(&["create", &img, "true"])
        .assert_error(125, &[&img]);
    assert!(env.ids_all().is_empty(), "a failed run left a container");
    env.run(&["image", "inspect", &img])
        .assert_error(125, &[&img]);
    assert_clean(&env);
}

#[test]
fn unknown_container() {
    let env = TestEnv::new("bad-ctr");
    env.import_busybox();
    let c = name("nosuchctr");
    env.run(&["stop", &c])
        .assert_error(125, &[&c, "no such container"]);
    env.run(&["container", "inspect", &c])
        .assert_error(125, &[&c]);
    env.run(&["inspect", &c]).assert_error(125, &[&c]);
    env.run(&["logs", &c]).assert_error(125, &[&c]);
    env.run(&["start", &c]).assert_error(125, &[&c]);
    env.run(&["kill", &c]).assert_error(125, &[&c]);
    // podman rm: exit 1 when a named container does not exist (and nothing else failed).
    env.run(&["rm", &c])
        .assert_error(1, &[&c, "no such container"]);
    assert_clean(&env);
}

#[test]
fn name_already_in_use() {
    let env = TestEnv::new("bad-name");
    env.import_busybox();
    let c = name("taken");
    env.ok(&["create", "--name", &c, IMG, "true"]);
    let before = env.ids_all();
    env.run(&["run", "-d", "--name", &c, IMG, "sleep", "1000"])
        .assert_error(125, &[&c]);
    env.run(&["create", "--name", &c, IMG, "true"])
        .assert_error(125, &[&c]);
    assert_eq!(env.ids_all(), before, "a failed create left a container");
    assert_clean(&env);
}

#[test]
fn ambiguous_id_prefix_is_an_error() {
    let env = TestEnv::new("bad-prefix");
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
    env.run(&["inspect", "--format", "{{.Id}}", &digit])
        .assert_error(125, &[]);
}

#[test]
fn broken_tarball_leaves_nothing() {
    let env = TestEnv::new("bad-tar");
    env.import_busybox();
    let files_before = env.store_file_count();
    let images_before = env.ok(&["images", "-q", "--no-trunc"]);

    // Garbage.
    let garbage = env.dir.join("garbage.tar");
    std::fs::write(&garbage, b"this is not a tarball\n".repeat(100)).unwrap();
    env.run(&["import", garbage.to_str().unwrap(), "localhost/garbage"])
        .assert_error(125, &[]);
    // A real tarball cut in the middle of a file's data.
    let whole = std::fs::read(peapod_tests::busybox_rootfs_tar().unwrap()).unwrap();
    let cut = env.dir.join("cut.tar");
    std::fs::write(&cut, &whole[..whole.len() / 2 + 100]).unwrap();
    env.run(&["import", cut.to_str().unwrap(), "localhost/cut"])
        .assert_error(125, &[]);
    // A missing file.
    let missing = env.dir.join("missing.tar");
    env.run(&["import", missing.to_str().unwrap(), "localhost/missing"])
        .assert_error(125, &["missing.tar"]);

    for img in ["localhost/garbage", "localhost/cut", "localhost/missing"] {
        env.run(&["image", "exists", img]).assert_code(1);
    }
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]), images_before);
    assert_eq!(
        env.store_file_count(),
        files_before,
        "a failed import left files in the store"
    );
    assert_clean(&env);
}

#[test]
fn bad_flag_values() {
    let env = TestEnv::new("bad-flags");
    env.import_busybox();
    env.run(&["run", "--stop-timeout", "abc", IMG, "true"])
        .assert_error(125, &[]);
    env.run(&["stop", "-t", "abc", "x"]).assert_error(125, &[]);
    env.run(&["run", "--no-such-flag", IMG, "true"])
        .assert_error(125, &[]);
    env.run(&["run", "--stop-signal", "NOTASIGNAL", IMG, "true"])
        .assert_error(125, &[]);
    env.run(&["run", "--env-file", "/nonexistent/env", IMG, "true"])
        .assert_error(125, &["/nonexistent/env"]);
    env.run(&["no-such-command"]).assert_error(125, &[]);
    let tar = peapod_tests::busybox_rootfs_tar().unwrap();
    env.run(&[
        "import",
        "--change",
        "BOGUS=x",
        tar.to_str().unwrap(),
        "localhost/bogus",
    ])
    .assert_error(125, &["BOGUS"]);
    env.run(&["image", "exists", "localhost/bogus"])
        .assert_code(1);
    assert!(env.ids_all().is_empty(), "a rejected run left a container");
    assert_clean(&env);
}

#[test]
fn failed_start_cleans_up() {
    // 127 from the runtime must not leave the rootfs mounted or a monitor behind. As Podman,
    // the container stays "created" (holding nothing) unless `--rm` was given.
    let env = TestEnv::new("bad-start");
    env.import_busybox();
    let c = name("nocmd");
    env.run(&["run", "--name", &c, IMG, "no-such-binary"])
        .assert_error(127, &[]);
    assert_eq!(env.status(&c), "created");
    assert_clean(&env);
    env.ok(&["rm", &c]);
    let c2 = name("nocmd-rm");
    env.run(&["run", "--rm", "--name", &c2, IMG, "no-such-binary"])
        .assert_error(127, &[]);
    assert!(
        !env.names_all().contains(&c2),
        "a failed run --rm left its container behind"
    );
    assert_clean(&env);
    // The names are free again.
    env.ok(&["run", "--rm", "--name", &c, IMG, "true"]);
    env.ok(&["run", "--rm", "--name", &c2, IMG, "true"]);
    assert_clean(&env);
}

/// `--format` templates that used to abort the CLI (a panic, a 1.9 GB allocation, a stack
/// overflow: exit 134) print what Podman prints, or fail with `Error: template: …` (125).
#[test]
fn format_templates_never_abort() {
    let env = TestEnv::new("bad-format");
    let fmt = |f: &str| env.run(&["version", "--format", f]);
    // Go's fmt gives up on a width or precision past 10^6 (Podman 4.3 prints the same).
    assert_eq!(
        fmt(r#"{{printf "%999999999d" 1}}"#).success(),
        "%!(NOVERB)%!(EXTRA int=1)\n"
    );
    assert_eq!(
        fmt(r#"{{printf "%.999999999f" 1.5}}"#).success(),
        "%!(NOVERB)%!(EXTRA float64=1.5)\n"
    );
    assert_eq!(
        fmt(r#"{{printf "%*d" 999999999 1}}"#).success(),
        "%!(BADWIDTH)1\n"
    );
    assert_eq!(
        fmt(r#"{{printf "%.*f" 999999999 1.5}}"#).success(),
        "%!(BADPREC)1.500000\n"
    );
    // A precision Rust's formatter refused (it panicked past 65535).
    let wide = fmt(r#"{{printf "%.70000f" 1.5}}"#).success();
    assert_eq!(wide.len(), 70_003, "1.5, 70000 decimals, newline");
    // As deep as one argument can nest closed ifs (about 8700 fit in 128 KiB).
    let n = 8000;
    let ifs = format!("{}x{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n));
    assert_eq!(fmt(&ifs).success(), "x\n");
    fmt(&"{{if 1}}".repeat(9000)).assert_error(125, &["template: ", "unexpected EOF"]);
    // Deeper than Go's 10000 (only unclosed ones fit in an argument): refused, not a crash.
    fmt(&"{{if 1}}".repeat(16_000)).assert_error(125, &["max nesting depth exceeded"]);
    let parens = format!("{{{{{}1{}}}}}", "(".repeat(9000), ")".repeat(9000));
    assert_eq!(fmt(&parens).success(), "1\n");
    let parens = format!("{{{{{}1{}}}}}", "(".repeat(20_000), ")".repeat(20_000));
    fmt(&parens).assert_error(125, &["max expression depth exceeded"]);
    // What a template makes is bounded: these would grow until the process died.
    fmt("{{range 2147483647}}x{{end}}")
        .assert_error(125, &["template: ", "template output exceeds 256 MiB"]);
    fmt(r#"{{pad "x" 999999999999 0}}"#)
        .assert_error(125, &["error calling pad", "exceeds 256 MiB"]);
    fmt(r#"{{$x := "xxxxxxxx"}}{{range 64}}{{$x = print $x $x}}{{end}}"#)
        .assert_error(125, &["error calling print", "exceeds 256 MiB"]);
    assert_eq!(
        fmt("{{range 9223372036854775807}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}").success(),
        "012\n"
    );
}

/// Env files are read as Podman reads them: a line of more than 65535 bytes is refused at
/// parse time (exit 125) for `run`, `create` and `exec`, naming the file and the line; an
/// environment no process could start with is refused before anything is made.
#[test]
fn env_files_and_env_over_the_limits() {
    let env = TestEnv::new("bad-envfile");
    env.import_busybox();
    let file = |name: &str, text: &str| {
        let p = env.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let ok = file("ok.env", &format!("A={}\n", "x".repeat(65_533)));
    let long = file("long.env", &format!("B=1\nA={}\n", "x".repeat(10 << 20)));
    let many = file(
        "many.env",
        &(0..120)
            .map(|i| format!("V{i}={}\n", "x".repeat(60_000)))
            .collect::<String>(),
    );

    // The longest line Podman accepts works, from a file and from -e.
    let out = env.ok(&[
        "run",
        "--rm",
        "--env-file",
        &ok,
        IMG,
        "sh",
        "-c",
        "echo ${#A}",
    ]);
    assert_eq!(out.trim(), "65533");
    let big = format!("A={}", "y".repeat(100_000));
    let out = env.ok(&["run", "--rm", "-e", &big, IMG, "sh", "-c", "echo ${#A}"]);
    assert_eq!(out.trim(), "100000");

    // The file's 120, the image's PATH, Podman's defaults container= and TERM=, and the
    // host's proxy variables that --http-proxy passes on.
    let proxies = [
        "http_proxy",
        "https_proxy",
        "ftp_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "FTP_PROXY",
        "NO_PROXY",
    ];
    let vars = 123
        + proxies
            .iter()
            .filter(|p| std::env::var_os(p).is_some())
            .count();
    let too_many = format!("{vars} variables");
    for cmd in ["run", "create"] {
        env.run(&[cmd, "--env-file", &long, IMG, "true"])
            .assert_error(
                125,
                &[
                    "parsing env file",
                    "long.env",
                    "line 2",
                    "bufio.Scanner: token too long",
                ],
            );
        env.run(&[cmd, "--env-file", &many, IMG, "true"])
            .assert_error(125, &[&too_many, "argument list too long"]);
    }
    assert!(env.ids_all().is_empty(), "a refused env left a container");

    let c = name("envexec");
    env.ok(&["run", "-d", "--name", &c, IMG, "sleep", "1000"]);
    env.run(&["exec", "--env-file", &long, &c, "true"])
        .assert_error(125, &["parsing env file", "line 2", "token too long"]);
    env.run(&["exec", "--env-file", &many, &c, "true"])
        .assert_error(125, &["argument list too long"]);
    let out = env.ok(&["exec", "--env-file", &ok, &c, "sh", "-c", "echo ${#A}"]);
    assert_eq!(out.trim(), "65533");
    assert_eq!(
        env.inspect(&c, "{{len .ExecIDs}}"),
        "0",
        "a refused exec left a session"
    );
    env.ok(&["rm", "-f", "-t", "0", &c]);
    assert_clean(&env);
}

/// `--label io.containers.autoupdate=registry` wants the image named by a fully-qualified
/// docker reference, as libpod checks at create: a short name or another transport is
/// refused (exit 125) and no container is left; a full name is fine.
#[test]
fn auto_update_label_wants_a_full_docker_reference() {
    let env = TestEnv::new("bad-autoupdate");
    env.import_busybox();
    let label = "io.containers.autoupdate=registry";
    let id = env.ok(&["create", "--label", label, IMG, "true"]);
    env.ok(&["rm", id.trim()]);
    let short = format!("{}:latest", name("short"));
    env.ok(&["tag", IMG, &short]);
    let out = env.run(&["create", "--label", label, &short, "true"]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Error: short name: auto updates require fully-qualified image reference: \"{short}\""
        )
    );
    let archive = env.dir.join("img.tar");
    let archive_arg = format!("docker-archive:{}", archive.display());
    env.ok(&["save", "-o", &archive.display().to_string(), IMG]);
    env.run(&["create", "--label", label, &archive_arg, "true"]).assert_error(
        125,
        &["auto updates require the docker image transport but image is of transport \"docker-archive\""],
    );
    // Other values ask nothing of the name.
    let id = env.ok(&[
        "create",
        "--label",
        "io.containers.autoupdate=local",
        &short,
        "true",
    ]);
    env.ok(&["rm", id.trim()]);
    assert!(
        env.ids_all().is_empty(),
        "a refused create left a container"
    );
    assert_clean(&env);
}
