//! `pull` against real registries: Podman's lines, ids and digests equal to skopeo's, OCI
//! and Docker v2s2, indexes and platforms, references by digest, TLS and plain HTTP,
//! registries.conf names (aliases, search registries, prefix rewrites), `run --pull`.

use peapod_tests::registry::RegistryOptions;

use super::registry_util::{RegEnv, images, skopeo_config_digest, skopeo_digest, tools_missing};
use super::util::lines;

/// Checks 1 and 2: the lines in order on stderr, the id alone on stdout, equal to the
/// config digest; `images --digests` and `RepoDigests` carry the manifest digest.
#[test]
fn pull_prints_podmans_lines_and_the_config_digest() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-pull-lines");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let name = format!("{addr}/py/single");
    let out = e.run(&["pull", "--tls-verify=false", &name]);
    assert_eq!(out.code(), 0, "{out:?}");
    let want_id = skopeo_config_digest(&format!("docker://{name}"));
    assert_eq!(lines(&out.stdout), vec![want_id.clone()], "{out:?}");
    assert_eq!(want_id, images().amd64.config.trim_start_matches("sha256:"));
    let layer = &images().amd64.layers[0];
    assert_eq!(
        lines(&out.stderr),
        vec![
            format!("Trying to pull {name}:latest..."),
            "Getting image source signatures".to_string(),
            format!("Copying blob {layer}"),
            format!("Copying config sha256:{want_id}"),
            "Writing manifest to image destination".to_string(),
            "Storing signatures".to_string(),
        ],
        "{out:?}"
    );
    let digest = skopeo_digest(&format!("docker://{name}"));
    let listed = e.ok(&[
        "images",
        "--digests",
        "--format",
        "{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}",
    ]);
    assert_eq!(
        lines(&listed),
        vec![format!("{name} latest {digest} {}", &want_id[..12])]
    );
    let table = e.ok(&["images", "--digests"]);
    assert!(table.lines().next().unwrap().contains("DIGEST"), "{table}");
    let rd = e.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.RepoDigests}} {{.Digest}}",
        &name,
    ]);
    assert_eq!(rd.trim(), format!("[{name}@{digest}] {digest}"));

    // A second pull prints the same lines and downloads nothing.
    let (blobs_before, layers_before) = e.store_entries();
    let again = e.run(&["pull", "--tls-verify=false", &name]);
    assert_eq!(again.code(), 0, "{again:?}");
    assert_eq!(lines(&again.stderr), lines(&out.stderr));
    assert_eq!(e.store_entries(), (blobs_before, layers_before));

    // -q: the id alone.
    let q = e.run(&["pull", "-q", "--tls-verify=false", &name]);
    assert_eq!(
        (q.stdout.trim(), q.stderr.trim()),
        (want_id.as_str(), ""),
        "{q:?}"
    );

    // The pulled image runs.
    let hi = e.ok(&["run", "--rm", &name, "echo", "hi"]);
    assert_eq!(hi.trim(), "hi");
}

/// Check 3: plain HTTP without --tls-verify=false fails as Podman's does; an insecure
/// `[[registry]]` in registries.conf makes it work without the flag.
#[test]
fn plain_http_needs_tls_verify_false_or_an_insecure_registry() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-insecure");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let name = format!("{addr}/py/single");
    let out = e.run(&["pull", &name]);
    out.assert_error(
        125,
        &[
            &format!("Error: initializing source docker://{name}:latest: pinging container registry {addr}: Get \"https://{addr}/v2/\": http: server gave HTTP response to HTTPS client"),
        ],
    );
    assert!(e.image_ids().is_empty());
    std::fs::write(
        &e.conf,
        format!("[[registry]]\nlocation = \"{addr}\"\ninsecure = true\n"),
    )
    .unwrap();
    let ok = e.ok(&["pull", "-q", &name]);
    assert_eq!(
        ok.trim(),
        images().amd64.config.trim_start_matches("sha256:")
    );
    // --tls-verify=true overrides registries.conf.
    e.run(&["pull", "--tls-verify=true", &name])
        .assert_error(125, &["server gave HTTP response to HTTPS client"]);
}

/// Checks 4 and 5: Docker v2s2 and OCI give the same id; an index resolves to the host's
/// platform, `--arch arm64` / `--platform linux/arm64` to the other config.
#[test]
fn manifest_kinds_and_platforms() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-kinds");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let amd = images()
        .amd64
        .config
        .trim_start_matches("sha256:")
        .to_owned();
    let arm = images()
        .arm64
        .config
        .trim_start_matches("sha256:")
        .to_owned();
    let v2 = e.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        &format!("{addr}/py/v2s2"),
    ]);
    let mt = e.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.ManifestType}}",
        &format!("{addr}/py/v2s2"),
    ]);
    assert_eq!(
        mt.trim(),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let oci = e.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        &format!("{addr}/py/single"),
    ]);
    assert_eq!(oci.trim(), amd);
    assert_eq!(v2.trim(), amd, "the same config bytes: the same id");
    let multi = format!("{addr}/py/multi");
    let host = e.ok(&["pull", "-q", "--tls-verify=false", &multi]);
    assert_eq!(host.trim(), amd, "the host is amd64");
    let index_digest = skopeo_digest(&format!("docker://{multi}"));
    let d = e.ok(&["image", "inspect", "--format", "{{.Digest}}", &multi]);
    assert_eq!(d.trim(), index_digest);
    let other = e.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--arch",
        "arm64",
        &multi,
    ]);
    assert_eq!(other.trim(), arm);
    let a = e.ok(&["image", "inspect", "--format", "{{.Architecture}}", &multi]);
    assert_eq!(a.trim(), "arm64", "the tag moved to the arm64 image");
    let p = e.ok(&[
        "pull",
        "-q",
        "--tls-verify=false",
        "--platform",
        "linux/arm64",
        &multi,
    ]);
    assert_eq!(p.trim(), arm);
    e.run(&["pull", "--tls-verify=false", "--arch", "s390x", &multi])
        .assert_error(
            125,
            &["no image found in manifest list for architecture \"s390x\""],
        );
    // Both images share the one layer: unpacked once.
    let (_, layers) = e.store_entries();
    assert_eq!(
        layers.iter().filter(|l| !l.starts_with('.')).count(),
        1,
        "{layers:?}"
    );
}

/// Check 6: `NAME@sha256:…` works; an unknown tag fails naming it, exit 125, nothing left.
#[test]
fn by_digest_and_unknown_tags() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-digest");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let digest = skopeo_digest(&format!("docker://{addr}/py/single"));
    let by_digest = format!("{addr}/py/single@{digest}");
    let id = e.ok(&["pull", "-q", "--tls-verify=false", &by_digest]);
    assert_eq!(
        id.trim(),
        images().amd64.config.trim_start_matches("sha256:")
    );
    let listed = e.ok(&["images", "--format", "{{.Repository}} {{.Tag}}"]);
    assert_eq!(listed.trim(), format!("{addr}/py/single <none>"));
    e.ok(&["image", "exists", &by_digest]);

    let mut e2 = RegEnv::new("reg-digest-404");
    let r2 = e2.start_with_images();
    let addr2 = e2.reg(r2).addr.clone();
    let nope = format!("{addr2}/nope");
    e2.run(&["pull", "--tls-verify=false", &nope]).assert_error(
        125,
        &[&format!(
            "Error: initializing source docker://{nope}:latest: reading manifest latest in {nope}: manifest unknown"
        )],
    );
    e2.run(&[
        "pull",
        "--tls-verify=false",
        &format!("{addr2}/py/single:nosuchtag"),
    ])
    .assert_error(125, &["manifest unknown"]);
    assert!(e2.image_ids().is_empty());
    let (blobs, layers) = e2.store_entries();
    assert!(
        blobs.is_empty() && layers.is_empty(),
        "{blobs:?} {layers:?}"
    );
}

/// Checks 7 and 8: registries.conf names. A `[[registry]]` prefix maps docker.io and
/// quay.io to the local registry; aliases come from Debian's shortnames.conf; a short name
/// with neither alias nor search registry fails with Podman's text.
#[test]
fn registries_conf_names() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-names");
    let r = e.start(&RegistryOptions::default());
    let reg = e.reg(r);
    let addr = reg.addr.clone();
    let layout = &images().layout;
    for repo in [
        "library/alpine",
        "library/nginx",
        "quay.io/libpod/banner",
        "bb",
    ] {
        peapod_tests::registry::skopeo_copy(layout, "single", &reg.docker(repo), &[]).unwrap();
    }
    // No alias, no search registry: Podman's error, exactly.
    let out = e.run(&["pull", "foobarx"]);
    let out = out.assert_error(125, &[]);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "Error: short-name \"foobarx\" did not resolve to an alias and no unqualified-search registries are defined in \"{}\"",
            e.conf.display()
        )
    );
    std::fs::write(
        &e.conf,
        format!(
            "unqualified-search-registries = [\"docker.io\"]\n[[registry]]\nprefix = \"docker.io\"\nlocation = \"{addr}\"\ninsecure = true\n[[registry]]\nprefix = \"quay.io\"\nlocation = \"{addr}/quay.io\"\ninsecure = true\n"
        ),
    )
    .unwrap();
    let out = e.run(&["pull", "alpine"]);
    assert_eq!(out.code(), 0, "{out:?}");
    let shortnames = "/etc/containers/registries.conf.d/shortnames.conf";
    if std::path::Path::new(shortnames).exists() {
        assert!(
            out.stderr
                .contains(&format!("Resolved \"alpine\" as an alias ({shortnames})")),
            "{out:?}"
        );
    }
    assert!(
        out.stderr
            .contains("Trying to pull docker.io/library/alpine:latest..."),
        "{out:?}"
    );
    e.ok(&["pull", "-q", "docker.io/nginx"]);
    e.ok(&["pull", "-q", "quay.io/libpod/banner"]);
    let names = e.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut names = lines(&names);
    names.sort();
    assert_eq!(
        names,
        [
            "docker.io/library/alpine:latest",
            "docker.io/library/nginx:latest",
            "quay.io/libpod/banner:latest"
        ]
    );
    let hi = e.ok(&["run", "--rm", "alpine", "echo", "hi"]);
    assert_eq!(hi, "hi\n");

    // Search registries.
    std::fs::write(
        &e.conf,
        format!("unqualified-search-registries = [\"{addr}\"]\n[[registry]]\nlocation = \"{addr}\"\ninsecure = true\n"),
    )
    .unwrap();
    let out = e.run(&["pull", "bb"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "Resolving \"bb\" using unqualified-search registries ({})\nTrying to pull {addr}/bb:latest...",
            e.conf.display()
        )),
        "{out:?}"
    );
    // A blocked registry.
    std::fs::write(
        &e.conf,
        "[[registry]]\nprefix = \"quay.io\"\nblocked = true\n",
    )
    .unwrap();
    e.run(&["pull", "quay.io/libpod/other"])
        .assert_error(125, &["registry quay.io is blocked in"]);
}

/// Check 9: `run` pulls a missing image (lines on stderr only), not a present one;
/// `--pull=always` pulls again; `--pull=never` of a missing image fails.
#[test]
fn run_pull_policies() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-run-pull");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let img = format!("{addr}/py/single");
    let out = e.run(&["run", "--rm", "--tls-verify=false", &img, "echo", "hi"]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "hi\n", "pull lines stay off stdout");
    assert!(
        out.stderr
            .contains(&format!("Trying to pull {img}:latest...")),
        "{out:?}"
    );
    let again = e.run(&["run", "--rm", "--tls-verify=false", &img, "echo", "hi"]);
    assert_eq!(
        (again.stdout.as_str(), again.stderr.as_str()),
        ("hi\n", ""),
        "{again:?}"
    );
    let always = e.run(&[
        "run",
        "--rm",
        "--pull=always",
        "--tls-verify=false",
        &img,
        "true",
    ]);
    assert_eq!(always.code(), 0, "{always:?}");
    assert!(always.stderr.contains("Trying to pull"), "{always:?}");
    let missing = format!("{addr}/nothere");
    e.run(&["run", "--rm", "--pull=never", &missing, "true"])
        .assert_error(125, &[&format!("Error: {missing}: image not known")]);
    e.run(&["create", "--pull=sometimes", &img])
        .assert_error(125, &["unsupported pull policy \"sometimes\""]);
    // create pulls too, and -q keeps it quiet.
    let e2 = {
        let mut e2 = RegEnv::new("reg-create-pull");
        let r2 = e2.start_with_images();
        let a2 = e2.reg(r2).addr.clone();
        let out = e2.run(&[
            "create",
            "-q",
            "--tls-verify=false",
            &format!("{a2}/py/single"),
            "true",
        ]);
        assert_eq!(out.code(), 0, "{out:?}");
        assert_eq!(out.stderr, "", "{out:?}");
        e2
    };
    assert_eq!(e2.image_ids().len(), 1);
}

/// `pod create --infra-image` and `kube play` pull their images (lines on stderr);
/// `imagePullPolicy: Never` of a missing image fails before anything is created.
#[test]
fn pod_create_and_kube_play_pull_their_images() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-kube-pull");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    let img = format!("{addr}/py/single");
    let pod = super::util::name("regpod");
    let out = e.run(&[
        "pod",
        "create",
        "--tls-verify=false",
        "--infra-image",
        &img,
        "--name",
        &pod,
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("Trying to pull {img}:latest...")),
        "{out:?}"
    );
    assert_eq!(
        lines(&out.stdout).len(),
        1,
        "the pod id alone on stdout: {out:?}"
    );
    e.ok(&["pod", "rm", "-f", &pod]);
    e.ok(&["rmi", "-af"]);

    let kpod = super::util::name("kpod");
    let yaml = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {kpod}\nspec:\n  containers:\n  - name: c\n    image: {img}\n    command: [\"sh\", \"-c\", \"sleep 1000\"]\n"
    );
    let file = e.env.dir.join("pod.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = e.run(&["kube", "play", "--tls-verify=false", file.to_str().unwrap()]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert!(out.stderr.contains("Trying to pull"), "{out:?}");
    let repos = e.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(lines(&repos).contains(&img), "{repos}");
    e.ok(&["kube", "down", file.to_str().unwrap()]);
    e.ok(&["rmi", "-af"]);
    let never = yaml.replace("    command:", "    imagePullPolicy: Never\n    command:");
    std::fs::write(&file, never).unwrap();
    e.run(&["kube", "play", file.to_str().unwrap()])
        .assert_error(125, &["image not known"]);
    assert!(e.ok(&["pod", "ps", "-q"]).trim().is_empty());
}

/// `--all-tags` pulls every tag of the repository, one id per line.
#[test]
fn all_tags() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("reg-all-tags");
    let r = e.start(&RegistryOptions::default());
    let reg = e.reg(r);
    let layout = &images().layout;
    for (tag, src) in [("a", "single"), ("b", "single"), ("c", "arm64")] {
        peapod_tests::registry::skopeo_copy(
            layout,
            src,
            &reg.docker(&format!("py/tags:{tag}")),
            &[],
        )
        .unwrap();
    }
    let name = format!("{}/py/tags", reg.addr);
    let out = e.ok(&["pull", "--all-tags", "--tls-verify=false", &name]);
    let amd = images()
        .amd64
        .config
        .trim_start_matches("sha256:")
        .to_owned();
    let arm = images()
        .arm64
        .config
        .trim_start_matches("sha256:")
        .to_owned();
    let mut ids = lines(&out);
    ids.sort();
    let mut want = vec![amd.clone(), amd, arm];
    want.sort();
    assert_eq!(ids, want);
    let tags = e.ok(&["images", "--format", "{{.Tag}}"]);
    let mut tags = lines(&tags);
    tags.sort();
    assert_eq!(tags, ["a", "b", "c"]);
    e.run(&[
        "pull",
        "--all-tags",
        "--tls-verify=false",
        &format!("{name}:a"),
    ])
    .assert_error(125, &["tag can't be used with --all-tags"]);
}
