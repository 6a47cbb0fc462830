//! Podman's global flags that change how a command runs: `--runtime-flag` (options for
//! the OCI runtime, on every call), `--noout` (nothing on stdout). `--storage-driver` is
//! in storage_vfs.rs.

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

/// `info` as Podman's users script it: `--format json` is one object under Podman's JSON
/// tags; templates see Podman's Go field names (`.Host.CgroupsVersion`); the store's
/// driver facts, registries, slirp4netns; `--storage-opt ''` and `--volumepath`.
#[test]
fn info_json_templates_and_store_flags() {
    let env = TestEnv::new("info-json");
    let json = env.ok(&["info", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        v["host"]["cgroupVersion"]
            .as_str()
            .unwrap()
            .starts_with('v'),
        "{json}"
    );
    assert_eq!(v["store"]["graphDriverName"], "overlay");
    assert_eq!(v["store"]["graphOptions"], serde_json::json!({}));
    assert_eq!(v["store"]["graphStatus"]["Supports d_type"], "true");
    assert!(v["registries"]["search"].is_array(), "{json}");
    let slirp = v["host"]["slirp4netns"]["executable"].as_str().unwrap();
    if !peapod_tests::skip_unless(
        std::path::Path::new("/usr/bin/slirp4netns").exists(),
        "/usr/bin/slirp4netns (the slirp4netns path check)",
    ) {
        assert_eq!(slirp, "/usr/bin/slirp4netns");
    }
    assert!(
        json.starts_with("{\n    \"host\": {"),
        "Podman's 4-space object:\n{json}"
    );
    let t = env.ok(&[
        "info",
        "--format",
        "{{.Host.CgroupsVersion}}+{{.Host.CgroupManager}} {{.Store.GraphOptions}}",
    ]);
    assert_eq!(
        t.trim(),
        format!(
            "{}+cgroupfs map[]",
            v["host"]["cgroupVersion"].as_str().unwrap()
        )
    );
    let yaml = env.ok(&["--storage-opt", "", "info"]);
    assert!(yaml.contains("  graphOptions: {}\n"), "{yaml}");
    assert!(yaml.contains("registries:\n"), "{yaml}");
    env.run(&["--storage-opt", "overlay.mountopt=nodev", "info"])
        .assert_error(
            125,
            &["storage option \"overlay.mountopt=nodev\" is not supported"],
        );
    // --volumepath: volumes live there, for the container's cleanup too.
    let vp = env.dir.join("vols");
    let vps = vp.to_str().unwrap();
    assert_eq!(
        env.ok(&[
            "--volumepath",
            vps,
            "info",
            "--format",
            "{{.Store.VolumePath}}"
        ])
        .trim(),
        vps
    );
    env.import_busybox();
    env.ok(&["--volumepath", vps, "volume", "create", "vp1"]);
    env.ok(&[
        "--volumepath",
        vps,
        "run",
        "--rm",
        "-v",
        "vp1:/d",
        IMG,
        "sh",
        "-c",
        "echo in > /d/f",
    ]);
    assert_eq!(
        std::fs::read_to_string(vp.join("vp1/_data/f")).unwrap(),
        "in\n"
    );
    env.ok(&["--volumepath", vps, "volume", "rm", "vp1"]);
}

/// `run --env-host`: the caller's environment reaches the container, under `-e`.
#[test]
fn env_host_passes_the_callers_environment() {
    let env = TestEnv::new("gf-envhost");
    env.import_busybox();
    let show = "echo \"${PP_FROM_HOST:-unset} ${PP_OVERRIDDEN:-unset}\"";
    let out = env
        .peapod(&[
            "run",
            "--rm",
            "--env-host",
            "-e",
            "PP_OVERRIDDEN=flag",
            IMG,
            "sh",
            "-c",
            show,
        ])
        .env("PP_FROM_HOST", "host-value")
        .env("PP_OVERRIDDEN", "host")
        .output();
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "host-value flag\n");
    // Without the flag the caller's variables stay outside.
    let out = env
        .peapod(&["run", "--rm", IMG, "sh", "-c", show])
        .env("PP_FROM_HOST", "host-value")
        .output();
    assert_eq!(out.stdout, "unset unset\n", "{out:?}");
}

/// The global `--default-mounts-file`: each `HOST:CONTAINER` line of a mounts.conf is in
/// every container, read-only; a missing host path is skipped; a user's mount at the same
/// place wins.
#[test]
fn default_mounts_file_mounts_its_lines_in_every_container() {
    let env = TestEnv::new("gf-defmounts");
    env.import_busybox();
    let secrets = env.dir.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    std::fs::write(secrets.join("token"), "s3cret\n").unwrap();
    let conf = env.dir.join("mounts.conf");
    std::fs::write(
        &conf,
        format!(
            "# default mounts\n{}:/run/pp-secrets\n{}/nothere:/run/pp-missing\n",
            secrets.display(),
            env.dir.display()
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let out = env.run(&[
        "--default-mounts-file", conf, "run", "--rm", IMG, "sh", "-c",
        "cat /run/pp-secrets/token; ls /run/pp-missing 2>/dev/null || echo no-missing; touch /run/pp-secrets/x 2>/dev/null || echo read-only",
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "s3cret\nno-missing\nread-only\n");
    assert!(!secrets.join("x").exists());
    // A user's volume at the same destination takes its place.
    let own = env.dir.join("own");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("token"), "mine\n").unwrap();
    let vol = format!("{}:/run/pp-secrets", own.display());
    let out = env.run(&[
        "--default-mounts-file",
        conf,
        "run",
        "--rm",
        "-v",
        &vol,
        IMG,
        "cat",
        "/run/pp-secrets/token",
    ]);
    assert_eq!(out.stdout, "mine\n", "{out:?}");
    // Without the flag, nothing is added.
    env.run(&["run", "--rm", IMG, "ls", "/run/pp-secrets"])
        .assert_code(1);
    env.assert_no_mounts();
}
