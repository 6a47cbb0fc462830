//! `save` and `load` in every format, with podman as a peer in both directions, Podman's
//! messages and refusals, the suite's `make-testimage.sh`, `run docker-archive:`, and
//! hostile archives (refused, nothing written anywhere, nothing left in the store).

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::podman::PodmanEnv;
use crate::util::{IMG, TestEnv, lines, name};

/// Regular files under `root/images/blobs` and entries under `root/layers`; asserts no
/// scratch directory of a load is left in `root/tmp`.
#[track_caller]
fn store_counts(env: &TestEnv) -> (usize, usize) {
    let count = |d: PathBuf| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0);
    assert_eq!(
        count(env.root.join("tmp")),
        0,
        "a scratch directory was left"
    );
    (
        count(env.root.join("images/blobs/sha256")),
        count(env.root.join("layers")),
    )
}

fn loaded_names(out: &str) -> Vec<String> {
    lines(out)
        .iter()
        .map(|l| {
            l.strip_prefix("Loaded image: ")
                .unwrap_or_else(|| panic!("not a `Loaded image:` line: {l:?}"))
                .to_string()
        })
        .collect()
}

/// Every format round-trips: the image loaded into a fresh store has the same id, the
/// names Podman gives, and runs.
#[test]
fn save_load_round_trip_in_every_format() {
    let env = TestEnv::new("arc-rt");
    let id = env.import_busybox();
    let dir = env.dir.join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[(&str, &[&str], bool)] = &[
        ("docker-archive", &[], true),
        ("oci-archive", &[], true),
        ("oci-dir", &[], true),
        ("docker-dir", &[], false),
        ("docker-dir", &["--compress"], false),
    ];
    for (i, (format, extra, named)) in cases.iter().enumerate() {
        let path = dir.join(format!("{i}-{format}"));
        let mut args = vec!["save", "--format", format, "-o", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(IMG);
        let out = env.run(&args);
        assert_eq!(out.code(), 0, "{out:?}");
        assert!(
            out.stderr.contains("Copying blob sha256:") && out.stderr.contains("Writing manifest"),
            "progress on stderr: {out:?}"
        );
        let fresh = TestEnv::new("arc-rt-load");
        let out = fresh.run(&["load", "-i", path.to_str().unwrap()]);
        assert_eq!(out.code(), 0, "{format}: {out:?}");
        let want = if *named {
            format!("{IMG}:latest")
        } else {
            format!("sha256:{id}")
        };
        assert_eq!(loaded_names(&out.stdout), vec![want.clone()], "{format}");
        assert!(
            out.stderr.contains("Getting image source signatures"),
            "{out:?}"
        );
        assert_eq!(fresh.inspect(&want, "{{.Id}}"), id, "{format}");
        assert_eq!(
            fresh.ok(&["run", "--rm", &want, "cat", "/etc/group"]),
            "root:x:0:\nnogroup:x:65534:\n"
        );
    }
}

/// Stdout and stdin, compressed or not; `-q`; several images with `-m`; an image saved by
/// id has no name.
#[test]
fn streams_compression_and_several_images() {
    let env = TestEnv::new("arc-stream");
    let id = env.import_busybox();
    env.ok(&["tag", IMG, "localhost/second:v2"]);
    let saved = env
        .peapod(&["save", "localhost/second:v2"])
        .command()
        .output()
        .unwrap();
    assert!(saved.status.success(), "{saved:?}");
    assert_eq!(saved.stderr, b"", "save to stdout is quiet, as Podman's");
    let bytes = saved.stdout;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(bytes.as_slice(), 3).unwrap();
    let inputs = vec![("plain", bytes.clone()), ("gzip", gz), ("zstd", zst)];
    for (what, data) in inputs {
        let fresh = TestEnv::new("arc-stream-in");
        let out = fresh.peapod(&["load", "-q"]).stdin(data).output();
        assert_eq!(out.code(), 0, "{what}: {out:?}");
        assert_eq!(out.stderr, "", "{what}: -q prints no progress");
        assert_eq!(
            loaded_names(&out.stdout),
            vec!["localhost/second:v2"],
            "{what}"
        );
        assert_eq!(fresh.inspect("localhost/second:v2", "{{.Id}}"), id);
    }
    // -m: each name its own image (names of one image gathered); by id: no name.
    let other = env.ok(&["commit", "-q", "-c", "CMD [\"/bin/true\"]", &run_true(&env)]);
    let other = other.trim().to_string();
    let path = env.dir.join("multi.tar");
    env.ok(&[
        "save",
        "-q",
        "-m",
        "-o",
        path.to_str().unwrap(),
        IMG,
        &other,
        "localhost/second:v2",
    ]);
    let fresh = TestEnv::new("arc-multi");
    let out = fresh.ok(&["load", "-i", path.to_str().unwrap()]);
    assert_eq!(
        loaded_names(&out),
        vec![
            format!("{IMG}:latest"),
            "localhost/second:v2".to_string(),
            format!("sha256:{other}")
        ]
    );
    assert_eq!(fresh.inspect(&other, "{{.Id}}"), other);
    // Without -m the other names are more tags for the first image.
    let path = env.dir.join("tags.tar");
    env.ok(&[
        "save",
        "-q",
        "-o",
        path.to_str().unwrap(),
        IMG,
        "localhost/extra:1",
    ]);
    let fresh = TestEnv::new("arc-tags");
    let out = fresh.ok(&["load", "-q", "-i", path.to_str().unwrap()]);
    assert_eq!(
        loaded_names(&out),
        vec!["localhost/extra:1".to_string(), format!("{IMG}:latest")]
    );
    assert_eq!(fresh.inspect("localhost/extra:1", "{{.Id}}"), id);
}

/// A container of the image that exited; its name.
fn run_true(env: &TestEnv) -> String {
    let c = name("arc-c");
    env.ok(&["run", "--name", &c, IMG, "touch", "/made"]);
    c
}

/// Podman's refusals, each with its exit code, and no file left behind.
#[test]
fn save_refusals() {
    let env = TestEnv::new("arc-refuse");
    env.import_busybox();
    let full = env.dir.join("full.tar");
    std::fs::write(&full, b"keep me").unwrap();
    env.run(&["save", "-o", full.to_str().unwrap(), IMG])
        .assert_error(
            125,
            &["docker-archive doesn't support modifying existing images"],
        );
    assert_eq!(std::fs::read(&full).unwrap(), b"keep me");
    let missing = env.dir.join("missing.tar");
    env.run(&["save", "-o", missing.to_str().unwrap(), "nosuch"])
        .assert_error(125, &["nosuch: image not known"]);
    assert!(!missing.exists(), "a failed save leaves no file");
    env.run(&["save", "--compress", "-o", missing.to_str().unwrap(), IMG])
        .assert_error(
            125,
            &["--compress can only be set when --format is 'docker-dir'"],
        );
    env.run(&[
        "save",
        "-m",
        "--format",
        "oci-archive",
        "-o",
        missing.to_str().unwrap(),
        IMG,
        IMG,
    ])
    .assert_error(
        125,
        &["unsupported format \"oci-archive\" for saving multiple images (only docker-archive)"],
    );
    env.run(&[
        "save",
        "--format",
        "tar",
        "-o",
        missing.to_str().unwrap(),
        IMG,
    ])
    .assert_error(125, &["format value must be one of"]);
    assert!(!missing.exists());
    // A terminal on stdout is refused; stdin too for load.
    let mut cmd = env.peapod(&["save", IMG]).command();
    cmd.stdin(std::process::Stdio::null());
    let mut pty = crate::pty::PtyChild::spawn(cmd, 24, 80);
    pty.expect(
        "refusing to save to terminal. Use -o flag or redirect",
        std::time::Duration::from_secs(20),
    );
    assert_eq!(
        pty.wait(std::time::Duration::from_secs(20)).code(),
        Some(125)
    );
    let cmd = env.peapod(&["load"]).command();
    let mut pty = crate::pty::PtyChild::spawn(cmd, 24, 80);
    pty.expect(
        "cannot read from terminal, use command-line redirection or the --input flag",
        std::time::Duration::from_secs(20),
    );
    assert_eq!(
        pty.wait(std::time::Duration::from_secs(20)).code(),
        Some(125)
    );
    env.run(&["load", "-i", "/nonexistent/archive.tar"])
        .assert_error(
            125,
            &["stat /nonexistent/archive.tar: no such file or directory"],
        );
}

/// podman's archives load in peapod with the same id, peapod's docker-archive is byte for
/// byte podman's, and peapod's archives load in podman with the same id.
#[test]
fn podman_and_peapod_exchange_archives() {
    let Some(podman) = PodmanEnv::new("arc-podman", None, "") else {
        return;
    };
    let env = TestEnv::new("arc-podman");
    let tar = peapod_tests::busybox_rootfs_tar().unwrap();
    let out = podman.ok(&[
        "import",
        "-q",
        tar.to_str().unwrap(),
        "localhost/frompodman",
    ]);
    let pid = out.trim().trim_start_matches("sha256:").to_string();
    let dir = env.dir.join("x");
    std::fs::create_dir_all(&dir).unwrap();
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    podman.ok(&["save", "-q", "-o", &p("podman.tar"), "localhost/frompodman"]);
    podman.ok(&[
        "save",
        "-q",
        "--format",
        "oci-archive",
        "-o",
        &p("podman-oci.tar"),
        "localhost/frompodman",
    ]);
    podman.ok(&[
        "save",
        "-q",
        "--format",
        "oci-dir",
        "-o",
        &p("podman-ocidir"),
        "localhost/frompodman",
    ]);
    for f in ["podman.tar", "podman-oci.tar", "podman-ocidir"] {
        let fresh = TestEnv::new("arc-from-podman");
        let out = fresh.ok(&["load", "-q", "-i", &p(f)]);
        assert_eq!(
            loaded_names(&out),
            vec!["localhost/frompodman:latest"],
            "{f}"
        );
        assert_eq!(fresh.inspect("localhost/frompodman", "{{.Id}}"), pid, "{f}");
        assert_eq!(
            fresh.ok(&["run", "--rm", "localhost/frompodman", "echo", "ok"]),
            "ok\n"
        );
    }
    // Saved again by peapod, podman's docker-archive comes out identical.
    env.ok(&["load", "-q", "-i", &p("podman.tar")]);
    env.ok(&["save", "-q", "-o", &p("peapod.tar"), "localhost/frompodman"]);
    assert!(
        std::fs::read(p("podman.tar")).unwrap() == std::fs::read(p("peapod.tar")).unwrap(),
        "peapod's docker-archive differs from podman's for the same image"
    );
    // peapod's own image, in each format, loads in podman with its id. Podman 4.3 names an
    // OCI directory after its path and refuses a path with capitals: keep it lower-case.
    let id = env.import_busybox();
    let lower = LowerDir::new();
    let formats = ["docker-archive", "oci-archive", "oci-dir", "docker-dir"];
    for f in formats {
        let out_path = lower.0.join(format!("pp-{f}"));
        let out_path = out_path.to_str().unwrap();
        env.ok(&["save", "-q", "--format", f, "-o", out_path, IMG]);
        podman.ok(&["rmi", "-af"]);
        let out = podman.ok(&["load", "-q", "-i", out_path]);
        assert!(out.starts_with("Loaded image: "), "{f}: {out}");
        let ids = podman.ok(&["images", "-q", "--no-trunc"]);
        assert_eq!(ids.trim().trim_start_matches("sha256:"), id, "{f}");
    }
    let out = podman.ok(&["run", "--rm", &id, "cat", "/etc/passwd"]);
    assert!(out.starts_with("root:x:0:0"), "{out}");
}

/// A lower-case scratch directory under /tmp, removed when dropped.
struct LowerDir(PathBuf);

impl LowerDir {
    fn new() -> LowerDir {
        let p = PathBuf::from(format!("/tmp/pp-lower-{}", name("d").to_lowercase()));
        std::fs::create_dir_all(&p).unwrap();
        LowerDir(p)
    }
}

impl Drop for LowerDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Podman's suite runner builds its test image as a docker-archive and `load`s it.
#[test]
fn podman_suite_test_image_loads() {
    let script = [
        "../shared/podman-suite/make-testimage.sh",
        "/work/shared/podman-suite/make-testimage.sh",
    ]
    .iter()
    .map(|p| peapod_tests::workspace_root().join(p))
    .find(|p| p.exists());
    let Some(script) = script else {
        peapod_tests::skip_unless(false, "the shared podman-suite (make-testimage.sh)");
        return;
    };
    let env = TestEnv::new("arc-testimage");
    let cli = format!(
        "{} --root {} --runroot {}",
        crate::util::prefix().join("bin/peapod").display(),
        env.root.display(),
        env.runroot.display()
    );
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(["-c", &cli])
        .env("PODMAN_TEST_IMAGE_TAG", "20220615")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("falling back"), "load failed: {stderr}");
    let config = stdout
        .split("config sha256:")
        .nth(1)
        .and_then(|s| s.get(..64))
        .expect("the script names the config");
    assert_eq!(
        env.inspect("quay.io/libpod/testimage:20220615", "{{.Id}}"),
        config
    );
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "quay.io/libpod/testimage:20220615",
            "cat",
            "/home/podman/testimage-id"
        ]),
        "20220615\n"
    );
}

/// `run docker-archive:PATH` loads the archive (Podman's lines on stderr) and runs it.
#[test]
fn run_from_a_docker_archive_reference() {
    let env = TestEnv::new("arc-run");
    env.import_busybox();
    let c = name("arc-src");
    env.ok(&[
        "run",
        "--name",
        &c,
        "--entrypoint",
        r#"["/bin/echo","magic-word"]"#,
        IMG,
    ]);
    env.ok(&["commit", "-q", &c, "localhost/myi"]);
    let path = env.dir.join("a.tar");
    env.ok(&["save", "-q", "localhost/myi", "-o", path.to_str().unwrap()]);
    env.ok(&["rmi", "localhost/myi"]);
    env.ok(&["rm", &c]);
    let out = env.run(&["run", "--rm", &format!("docker-archive:{}", path.display())]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "magic-word\n");
    assert!(
        out.stderr.starts_with("Getting image source signatures"),
        "{out:?}"
    );
    assert!(out.stderr.contains("Writing manifest to image destination"));
    assert_eq!(
        env.inspect("localhost/myi", "{{.RepoTags}}"),
        "[localhost/myi:latest]"
    );
}

/// One tar member of a crafted archive.
enum Member<'a> {
    File(&'a str, Vec<u8>),
    Symlink(&'a str, &'a str),
}

fn write_tar(path: &Path, members: &[Member<'_>]) {
    let mut out = Vec::new();
    {
        let mut b = tar::Builder::new(&mut out);
        for m in members {
            let mut h = tar::Header::new_gnu();
            let (name, data, kind, link) = match m {
                Member::File(n, d) => (*n, d.as_slice(), tar::EntryType::Regular, None),
                Member::Symlink(n, t) => (*n, &[][..], tar::EntryType::Symlink, Some(*t)),
            };
            // Raw names: `set_path` refuses `..` and absolute paths, a hostile writer does not.
            let bytes = name.as_bytes();
            h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if let Some(t) = link {
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
            }
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        b.finish().unwrap();
    }
    std::fs::write(path, out).unwrap();
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (n, d) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, n, *d).unwrap();
    }
    b.into_inner().unwrap()
}

fn config_for(layer: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(layer))]}
    }))
    .unwrap()
}

fn manifest(config: &str, layers: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!([{"Config": config, "RepoTags": ["localhost/evil:1"], "Layers": layers}]))
        .unwrap()
}

/// Hostile archives: refused with a clear error, nothing written outside, nothing stored.
#[test]
fn hostile_archives_are_refused_and_leave_nothing() {
    let env = TestEnv::new("arc-hostile");
    let dir = env.dir.join("hostile");
    std::fs::create_dir_all(&dir).unwrap();
    let victim = env.dir.join("victim");
    let good = layer_tar(&[("etc/hello", b"hi\n")]);
    let bad = layer_tar(&[("etc/hello", b"bye\n")]);
    let cfg = config_for(&good);
    let cfg_name = format!("{}.json", sha(&cfg));
    let layer_name = format!("{}.tar", sha(&good));
    let rel_victim = format!("../../../../../../../..{}", victim.display());
    let cases: Vec<(&str, Vec<Member<'_>>, &str)> = vec![
        (
            "traversal",
            vec![
                Member::File(&rel_victim, b"pwned".to_vec()),
                Member::File(&layer_name, good.clone()),
                Member::File(&cfg_name, cfg.clone()),
                Member::File("manifest.json", manifest(&cfg_name, &[&layer_name])),
            ],
            "points outside the archive",
        ),
        (
            "absolute",
            vec![
                Member::File(victim.to_str().unwrap(), b"pwned".to_vec()),
                Member::File("manifest.json", manifest(&cfg_name, &[&layer_name])),
            ],
            "has an absolute path",
        ),
        (
            "manifest-outside",
            vec![
                Member::File(&layer_name, good.clone()),
                Member::File(&cfg_name, cfg.clone()),
                Member::File("manifest.json", manifest(&cfg_name, &["../../etc/shadow"])),
            ],
            "\"../../etc/shadow\" points outside the archive",
        ),
        (
            "symlink-outside",
            vec![
                Member::Symlink("l.tar", "../../../../etc/shadow"),
                Member::File(&cfg_name, cfg.clone()),
                Member::File("manifest.json", manifest(&cfg_name, &["l.tar"])),
            ],
            "which points outside the archive",
        ),
        (
            "diff-id-mismatch",
            vec![
                Member::File(&layer_name, bad.clone()),
                Member::File(&cfg_name, cfg.clone()),
                Member::File("manifest.json", manifest(&cfg_name, &[&layer_name])),
            ],
            "the image config says",
        ),
    ];
    for (what, members, needle) in cases {
        let path = dir.join(format!("{what}.tar"));
        write_tar(&path, &members);
        env.run(&["load", "-i", path.to_str().unwrap()])
            .assert_error(125, &[needle]);
        assert!(!victim.exists(), "{what}: wrote outside");
        assert_eq!(
            store_counts(&env),
            (0, 0),
            "{what}: left something in the store"
        );
        assert_eq!(env.ok(&["images", "-a", "-q"]), "", "{what}");
    }
    env.assert_no_mounts();
}

/// An OCI layout whose blob is not what its name says, something that is not an archive, a
/// truncated archive: refused, nothing left; the same archive whole loads.
#[test]
fn corrupt_archives_are_refused_and_leave_nothing() {
    let env = TestEnv::new("arc-corrupt");
    let dir = env.dir.join("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    let good = layer_tar(&[("etc/hello", b"hi\n")]);
    let bad = layer_tar(&[("etc/hello", b"bye\n")]);
    let cfg = config_for(&good);
    let cfg_name = format!("{}.json", sha(&cfg));
    let layer_name = format!("{}.tar", sha(&good));
    let layout = dir.join("oci-mismatch.tar");
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha(&cfg)), "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{}", sha(&good)), "size": good.len()}]
    })).unwrap();
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", sha(&m)), "size": m.len()}]})).unwrap();
    let blob = |d: &[u8]| format!("blobs/sha256/{}", sha(d));
    let (cfg_p, layer_p, m_p) = (blob(&cfg), blob(&good), blob(&m));
    write_tar(
        &layout,
        &[
            Member::File("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            Member::File(&cfg_p, cfg.clone()),
            Member::File(&layer_p, bad.clone()),
            Member::File(&m_p, m.clone()),
            Member::File("index.json", index),
        ],
    );
    env.run(&["load", "-i", layout.to_str().unwrap()])
        .assert_error(125, &["digest mismatch"]);
    assert_eq!(store_counts(&env), (0, 0));
    // Not an archive at all, and a truncated one.
    let garbage = dir.join("garbage");
    std::fs::write(&garbage, b"hello world".repeat(100)).unwrap();
    env.run(&["load", "-i", garbage.to_str().unwrap()])
        .assert_error(
            125,
            &["payload does not match any of the supported image formats"],
        );
    let ok = dir.join("ok.tar");
    write_tar(
        &ok,
        &[
            Member::File(&layer_name, good.clone()),
            Member::File(&cfg_name, cfg.clone()),
            Member::File("manifest.json", manifest(&cfg_name, &[&layer_name])),
        ],
    );
    let whole = std::fs::read(&ok).unwrap();
    let cut = dir.join("cut.tar");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    env.run(&["load", "-i", cut.to_str().unwrap()])
        .assert_error(125, &["reading the archive"]);
    assert_eq!(store_counts(&env), (0, 0));
    // The same archive, whole, loads: the checks refuse only what is wrong.
    let out = env.ok(&["load", "-q", "-i", ok.to_str().unwrap()]);
    assert_eq!(loaded_names(&out), vec!["localhost/evil:1"]);
    env.assert_no_mounts();
}

/// A load killed half-way leaves nothing that counts: its scratch directory is swept by the
/// next load, and the store holds what that load stored, no more.
#[test]
fn killed_load_leaves_nothing() {
    let env = TestEnv::new("arc-killed");
    let src = TestEnv::new("arc-killed-src");
    src.import_busybox();
    let path = src.dir.join("a.tar");
    src.ok(&["save", "-q", "-o", path.to_str().unwrap(), IMG]);
    let bytes = std::fs::read(&path).unwrap();
    let mut child = env
        .peapod(&["load"])
        .command()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    crate::util::wait_until(
        "the load to write its scratch files",
        std::time::Duration::from_secs(20),
        || std::fs::read_dir(env.root.join("tmp")).is_ok_and(|mut d| d.next().is_some()),
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    drop(stdin);
    assert_eq!(env.ok(&["images", "-a", "-q"]), "");
    // The next load sweeps the dead one's scratch and stores exactly what a fresh store gets.
    env.ok(&["load", "-q", "-i", path.to_str().unwrap()]);
    let fresh = TestEnv::new("arc-killed-fresh");
    fresh.ok(&["load", "-q", "-i", path.to_str().unwrap()]);
    assert_eq!(store_counts(&env), store_counts(&fresh));
}
