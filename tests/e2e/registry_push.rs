//! `push`, `login`/`logout` and TLS against real registries, with skopeo and podman as
//! independent peers.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use peapod_tests::registry::RegistryOptions;

use super::podman::PodmanEnv;
use super::registry_util::{RegEnv, images, skopeo_digest, tools_missing};
use super::util::{PeapodCmd, lines};

/// Check 10: push → the digest file equals skopeo's digest; a fresh root pulls it back with
/// the same id; a second push skips every blob; `--format v2s2` and zstd work.
#[test]
fn push_then_pull_back_gives_the_same_id() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-push");
    let r = e.start(&RegistryOptions::default());
    let addr = e.reg(r).addr.clone();
    let id = e.env.import_busybox_as("localhost/x");
    let dest = format!("{addr}/x");
    let dfile = e.env.dir.join("digest");
    let out = e.run(&[
        "push",
        "--tls-verify=false",
        "--digestfile",
        dfile.to_str().unwrap(),
        "localhost/x",
        &dest,
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "", "push prints nothing on stdout");
    let l = lines(&out.stderr);
    assert_eq!(
        l.first().map(String::as_str),
        Some("Getting image source signatures"),
        "{out:?}"
    );
    assert!(
        l.iter().any(|x| x.starts_with("Copying blob sha256:")),
        "{out:?}"
    );
    assert!(
        l.contains(&format!("Copying config sha256:{id}")),
        "{out:?}"
    );
    assert_eq!(
        &l[l.len() - 2..],
        [
            "Writing manifest to image destination",
            "Storing signatures"
        ]
    );
    let digest = std::fs::read_to_string(&dfile).unwrap();
    assert_eq!(digest, skopeo_digest(&format!("docker://{dest}")));
    let mt =
        peapod_tests::registry::skopeo_inspect(&format!("docker://{dest}"), &["--raw"]).unwrap();
    assert!(
        mt.contains("application/vnd.oci.image.manifest.v1+json"),
        "{mt}"
    );
    assert!(mt.contains("tar+gzip"), "{mt}");
    let d = e.ok(&["image", "inspect", "--format", "{{.Digest}}", "localhost/x"]);
    assert_eq!(d.trim(), digest, "the pushed digest is recorded");

    // A second push sends nothing new and gives the same digest.
    let again = e.run(&[
        "push",
        "--tls-verify=false",
        "--digestfile",
        dfile.to_str().unwrap(),
        "localhost/x",
        &dest,
    ]);
    assert_eq!(again.code(), 0, "{again:?}");
    assert_eq!(std::fs::read_to_string(&dfile).unwrap(), digest);

    // Pulled back into a fresh root: the same id.
    let fresh = RegEnv::new("reg-push-fresh");
    let back = fresh.ok(&["pull", "-q", "--tls-verify=false", &dest]);
    assert_eq!(back.trim(), id);
    let hi = fresh.ok(&["run", "--rm", &dest, "echo", "hi"]);
    assert_eq!(hi, "hi\n");

    // v2s2 and zstd.
    let v2 = format!("{addr}/x-v2s2");
    e.ok(&[
        "push",
        "--tls-verify=false",
        "--format",
        "v2s2",
        "localhost/x",
        &v2,
    ]);
    let raw =
        peapod_tests::registry::skopeo_inspect(&format!("docker://{v2}"), &["--raw"]).unwrap();
    assert!(
        raw.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{raw}"
    );
    let z = format!("{addr}/x-zstd");
    e.ok(&[
        "push",
        "--tls-verify=false",
        "--compression-format",
        "zstd",
        "localhost/x",
        &z,
    ]);
    let raw = peapod_tests::registry::skopeo_inspect(&format!("docker://{z}"), &["--raw"]).unwrap();
    assert!(raw.contains("tar+zstd"), "{raw}");
    let fresh2 = RegEnv::new("reg-push-zstd");
    assert_eq!(
        fresh2.ok(&["pull", "-q", "--tls-verify=false", &z]).trim(),
        id
    );
    e.run(&[
        "push",
        "--tls-verify=false",
        "--format",
        "v2s2",
        "--compression-format",
        "zstd",
        "localhost/x",
        &z,
    ])
    .assert_error(
        125,
        &["zstd compression is not supported with the v2s2 manifest format"],
    );
    e.run(&["push", "--tls-verify=false", "localhost/nothere", &z])
        .assert_error(125, &["localhost/nothere: image not known"]);
}

/// A pulled image pushed to another repository of the same registry keeps its manifest
/// (same digest) and its blobs are not sent again.
#[test]
fn push_of_a_pulled_image_reuses_its_blobs() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-repush");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let src = format!("{addr}/py/single");
    e.ok(&["pull", "-q", "--tls-verify=false", &src]);
    let dest = format!("{addr}/copy/single");
    e.ok(&["push", "--tls-verify=false", &src, &dest]);
    assert_eq!(
        skopeo_digest(&format!("docker://{dest}")),
        skopeo_digest(&format!("docker://{src}"))
    );
}

/// Push by peapod, pull by podman (same id); push by podman, pull by peapod (same id).
#[test]
fn podman_interoperates_both_ways() {
    if tools_missing() {
        return;
    }
    let Some(pm) = PodmanEnv::new("reg-podman", None, "") else {
        return;
    };
    let mut e = RegEnv::new("reg-podman");
    let r = e.start(&RegistryOptions::default());
    let addr = e.reg(r).addr.clone();
    let id = e.env.import_busybox_as("localhost/x");
    let dest = format!("{addr}/from-peapod");
    e.ok(&["push", "--tls-verify=false", "localhost/x", &dest]);
    let podman = |args: &[&str]| {
        pm.podman(args)
            .env("HOME", &e.home)
            .env("XDG_RUNTIME_DIR", &e.xdg_runtime)
            .env("CONTAINERS_REGISTRIES_CONF", &e.conf)
            .timeout(std::time::Duration::from_secs(120))
            .output()
    };
    let out = podman(&["pull", "-q", "--tls-verify=false", &dest]);
    assert_eq!(out.stdout.trim(), id, "{out:?}");
    let back = format!("{addr}/from-podman");
    let out = podman(&["push", "--tls-verify=false", &dest, &back]);
    assert_eq!(out.code(), 0, "{out:?}");
    let fresh = RegEnv::new("reg-podman-back");
    assert_eq!(
        fresh
            .ok(&["pull", "-q", "--tls-verify=false", &back])
            .trim(),
        id
    );
    let _ = podman(&["rmi", "-af"]);
}

/// Check 11 and 12: login/logout with an htpasswd registry, Podman's messages, the auth file
/// (mode 0600), `--password-stdin`, `--get-login`, wrong password, and files written by
/// podman and docker read by peapod.
#[test]
fn login_logout_and_auth_files() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-login");
    let r = e.start(&RegistryOptions {
        htpasswd: Some(("alice".into(), "s3cret".into())),
        tls: false,
        ..Default::default()
    });
    let addr = e.reg(r).addr.clone();
    peapod_tests::registry::skopeo_copy(
        &images().layout,
        "single",
        &e.reg(r).docker("bb"),
        &["--dest-creds", "alice:s3cret"],
    )
    .unwrap();
    let img = format!("{addr}/bb");
    e.run(&["pull", "--tls-verify=false", &img])
        .assert_error(125, &["authentication required"]);
    e.run(&[
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "wrong",
        &addr,
    ])
    .assert_error(
        125,
        &[&format!(
            "Error: logging into \"{addr}\": invalid username/password"
        )],
    );
    let out = e.ok(&[
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "s3cret",
        &addr,
    ]);
    assert_eq!(out, "Login Succeeded!\n");
    let auth = e.xdg_runtime.join("containers/auth.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&auth).unwrap()).unwrap();
    assert_eq!(v["auths"][&addr]["auth"], "YWxpY2U6czNjcmV0");
    assert_eq!(
        std::fs::metadata(&auth).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(e.ok(&["login", "--get-login", &addr]), "alice\n");
    e.ok(&["pull", "-q", "--tls-verify=false", &img]);
    assert_eq!(
        e.ok(&["logout", &addr]),
        format!("Removed login credentials for {addr}\n")
    );
    e.run(&["logout", &addr])
        .assert_error(125, &[&format!("Error: not logged into {addr}")]);
    e.run(&["rmi", "-a"]).assert_code(0);
    e.run(&["pull", "--tls-verify=false", &img])
        .assert_error(125, &["authentication required"]);
    let out = e
        .peapod(&[
            "login",
            "--tls-verify=false",
            "-u",
            "alice",
            "--password-stdin",
            &addr,
        ])
        .stdin("s3cret\n")
        .output();
    assert_eq!(out.stdout, "Login Succeeded!\n", "{out:?}");
    assert_eq!(
        e.ok(&["logout", "--all"]),
        "Removed login credentials for all registries\n"
    );

    // --authfile and REGISTRY_AUTH_FILE.
    let f = e.env.dir.join("my-auth.json");
    e.ok(&[
        "login",
        "--tls-verify=false",
        "--authfile",
        f.to_str().unwrap(),
        "-u",
        "alice",
        "-p",
        "s3cret",
        &addr,
    ]);
    e.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--authfile",
        f.to_str().unwrap(),
        &img,
    ]);
    e.ok(&["rmi", "-a"]);
    let out = e
        .peapod(&["pull", "-q", "--tls-verify=false", &img])
        .env("REGISTRY_AUTH_FILE", &f)
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    e.ok(&["rmi", "-a"]);
    e.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--creds",
        "alice:s3cret",
        &img,
    ]);
    e.ok(&["rmi", "-a"]);

    // Only ~/.docker/config.json: it is read.
    let docker = e.home.join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        format!("{{\"auths\": {{\"{addr}\": {{\"auth\": \"YWxpY2U6czNjcmV0\"}}}}}}"),
    )
    .unwrap();
    e.ok(&["pull", "-q", "--tls-verify=false", &img]);
    std::fs::remove_file(docker.join("config.json")).unwrap();
    e.ok(&["rmi", "-a"]);

    // A file written by podman works for peapod, and the reverse.
    if Path::new("/usr/bin/podman").exists() {
        let pf = e.env.dir.join("podman-auth.json");
        let out = PeapodCmd::program(
            "/usr/bin/podman",
            &[
                "login",
                "--tls-verify=false",
                "--authfile",
                pf.to_str().unwrap(),
                "-u",
                "alice",
                "-p",
                "s3cret",
                &addr,
            ],
        )
        .env("HOME", &e.home)
        .output();
        assert_eq!(out.code(), 0, "{out:?}");
        e.ok(&[
            "pull",
            "-q",
            "--tls-verify=false",
            "--authfile",
            pf.to_str().unwrap(),
            &img,
        ]);
        let out = PeapodCmd::program(
            "/usr/bin/podman",
            &[
                "login",
                "--get-login",
                "--authfile",
                f.to_str().unwrap(),
                &addr,
            ],
        )
        .env("HOME", &e.home)
        .output();
        assert_eq!(out.stdout, "alice\n", "{out:?}");
    }
}

/// Check 13: a TLS registry with a self-signed certificate: refused without the CA, accepted
/// with `--cert-dir DIR` (DIR/ca.crt) or with the CA in certs.d.
#[test]
fn tls_registry_and_certificates() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-tls");
    let r = e.start(&RegistryOptions {
        htpasswd: None,
        tls: true,
        ..Default::default()
    });
    let addr = e.reg(r).addr.clone();
    let ca = e.reg(r).ca.clone().unwrap();
    peapod_tests::registry::skopeo_copy(&images().layout, "single", &e.reg(r).docker("bb"), &[])
        .unwrap();
    let img = format!("{addr}/bb");
    e.run(&["pull", &img])
        .assert_error(125, &["x509: certificate signed by unknown authority"]);
    let certs = e.env.dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(&ca, certs.join("ca.crt")).unwrap();
    let id = e.ok(&["pull", "-q", "--cert-dir", certs.to_str().unwrap(), &img]);
    assert_eq!(
        id.trim(),
        images().amd64.config.trim_start_matches("sha256:")
    );
    e.ok(&["rmi", "-a"]);
    // The per-user certs.d (HOME is the test's): the same lookup as /etc/containers/certs.d.
    let user = e.home.join(".config/containers/certs.d").join(&addr);
    std::fs::create_dir_all(&user).unwrap();
    std::fs::copy(&ca, user.join("ca.crt")).unwrap();
    e.ok(&["pull", "-q", &img]);
    std::fs::remove_dir_all(&user).unwrap();
    e.ok(&["rmi", "-a"]);
    // The system-wide directory, named by this registry's unique port; removed after.
    let system = Path::new("/etc/containers/certs.d").join(&addr);
    struct Remove<'a>(&'a Path);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.0);
        }
    }
    let _guard = Remove(&system);
    std::fs::create_dir_all(&system).unwrap();
    std::fs::copy(&ca, system.join("ca.crt")).unwrap();
    e.ok(&["pull", "-q", &img]);
    // --tls-verify=false accepts the unknown certificate too.
    std::fs::remove_dir_all(&system).unwrap();
    e.ok(&["rmi", "-a"]);
    e.ok(&["pull", "-q", "--tls-verify=false", &img]);
}

/// A `credHelpers` entry sends `login` to `docker-credential-NAME store` and pulls read
/// through `get`; `logout` calls `erase`.
#[test]
fn credential_helpers() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-helper");
    let r = e.start(&RegistryOptions {
        htpasswd: Some(("alice".into(), "s3cret".into())),
        tls: false,
        ..Default::default()
    });
    let addr = e.reg(r).addr.clone();
    peapod_tests::registry::skopeo_copy(
        &images().layout,
        "single",
        &e.reg(r).docker("bb"),
        &["--dest-creds", "alice:s3cret"],
    )
    .unwrap();
    let bin = e.env.dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = e.env.dir.join("helper.log");
    let helper = bin.join("docker-credential-fake");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nin=$(cat)\necho \"$1 $in\" >> {log}\ncase $1 in get) echo '{{\"ServerURL\":\"'$in'\",\"Username\":\"alice\",\"Secret\":\"s3cret\"}}';; esac\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let auth = e.env.dir.join("auth.json");
    std::fs::write(
        &auth,
        format!("{{\"credHelpers\": {{\"{addr}\": \"fake\"}}}}"),
    )
    .unwrap();
    let path = format!(
        "{}:{}:/usr/sbin:/usr/bin:/sbin:/bin",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pp = |args: &[&str]| {
        e.peapod(args)
            .env("PATH", &path)
            .env("REGISTRY_AUTH_FILE", &auth)
            .output()
    };
    let out = pp(&[
        "login",
        "--tls-verify=false",
        "-u",
        "alice",
        "-p",
        "s3cret",
        &addr,
    ]);
    assert_eq!(out.stdout, "Login Succeeded!\n", "{out:?}");
    let out = pp(&["pull", "-q", "--tls-verify=false", &format!("{addr}/bb")]);
    assert_eq!(out.code(), 0, "{out:?}");
    let out = pp(&["logout", &addr]);
    assert_eq!(out.code(), 0, "{out:?}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains(&format!(
            "store {{\"Secret\":\"s3cret\",\"ServerURL\":\"{addr}\",\"Username\":\"alice\"}}"
        )),
        "{calls}"
    );
    assert!(calls.contains(&format!("get {addr}")), "{calls}");
    assert!(calls.contains(&format!("erase {addr}")), "{calls}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&auth).unwrap()).unwrap();
    assert!(
        v.get("auths").is_none(),
        "the secret went to the helper, not the file: {v}"
    );
}
