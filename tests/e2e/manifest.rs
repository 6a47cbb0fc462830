//! `manifest …`: lists as images of the store, what `manifest inspect` prints (Podman
//! 4.3.1's text), entries from local images and from real registries (read without pulling
//! layers), `annotate`/`remove`, errors that change nothing, and `manifest push`/`push` of a
//! list to a local docker-registry, checked with skopeo.

use super::registry_util::{RegEnv, images, skopeo_digest, tools_missing};
use super::util::{TestEnv, lines, name};

const EMPTY_LIST: &str = "{\n    \"schemaVersion\": 2,\n    \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n    \"manifests\": null\n}\n";
const ZERO: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn blob_count(env: &TestEnv) -> usize {
    std::fs::read_dir(env.root.join("images/blobs/sha256"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Podman's `images - bare manifest list` and 4.4's 012-manifest: an empty list is an image
/// (`images` shows `sha256:ID` beside the other image's), inspects as Podman prints it (by
/// name and by id, `-v` accepted), is found by `--filter manifest=true`, and `rmi` removes
/// it with its blob.
#[test]
fn bare_list_is_an_image_and_inspects_as_podman() {
    let env = TestEnv::new("manifest-bare");
    let iid = env.import_busybox_as("localhost/mbase");
    let blobs_before = blob_count(&env);
    let list = format!("localhost/{}:1.0", name("ml"));
    let mid = env.ok(&["manifest", "create", &list]).trim().to_owned();
    assert_eq!(mid.len(), 64, "the list id: {mid}");
    assert_ne!(mid, iid);
    assert_eq!(env.ok(&["manifest", "inspect", &list]), EMPTY_LIST);
    assert_eq!(
        env.ok(&["manifest", "inspect", "--verbose", &mid]),
        EMPTY_LIST
    );
    assert_eq!(env.ok(&["manifest", "inspect", "-v", &mid]), EMPTY_LIST);
    let ids = lines(&env.ok(&["images", "--format", "{{.ID}}", "--no-trunc"]));
    assert!(ids.contains(&format!("sha256:{iid}")), "{ids:?}");
    assert!(ids.contains(&format!("sha256:{mid}")), "{ids:?}");
    let lists = env.ok(&["images", "--filter", "manifest=true", "--format", "{{.ID}}"]);
    assert_eq!(lines(&lists), vec![mid[..12].to_string()]);
    let others = env.ok(&[
        "images",
        "--filter",
        "manifest=false",
        "--format",
        "{{.ID}}",
    ]);
    assert_eq!(lines(&others), vec![iid[..12].to_string()]);
    assert_eq!(env.run(&["manifest", "exists", &list]).code(), 0);
    assert_eq!(
        env.run(&["manifest", "exists", "localhost/nolist"]).code(),
        1
    );
    env.run(&["manifest", "exists", "localhost/mbase"])
        .assert_error(
            125,
            &["localhost/mbase:latest: image is not a manifest list"],
        );

    // The name is taken now; --amend reuses the list.
    env.run(&["manifest", "create", &list]).assert_error(
        125,
        &[&format!(
            "image name \"{list}\" is already associated with image \"{mid}\": that name is already in use"
        )],
    );
    assert_eq!(
        env.ok(&["manifest", "create", "--amend", &list]).trim(),
        mid
    );
    env.run(&["manifest", "create", "--amend", "localhost/mbase"])
        .assert_error(125, &["image is not a manifest list"]);

    let out = env.ok(&["rmi", &list]);
    assert_eq!(
        lines(&out),
        vec![format!("Untagged: {list}"), format!("Deleted: {mid}")]
    );
    let ids = lines(&env.ok(&["images", "-q", "--no-trunc"]));
    assert_eq!(ids, vec![format!("sha256:{iid}")]);
    assert_eq!(
        blob_count(&env),
        blobs_before,
        "the list's blob went with it"
    );
}

/// A local image as an entry: its manifest digest, size and platform; annotate, remove, and
/// bad input (no list, no image, bad digest) that changes nothing; `manifest rm`.
#[test]
fn local_entries_annotate_remove_and_refusals() {
    let env = TestEnv::new("manifest-local");
    env.import_busybox_as("localhost/mimg");
    let digest = env
        .ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Digest}}",
            "localhost/mimg",
        ])
        .trim()
        .to_owned();
    let list = format!("localhost/{}", name("ml"));
    let mid = env
        .ok(&[
            "manifest",
            "create",
            &list,
            "containers-storage:localhost/mimg",
        ])
        .trim()
        .to_owned();
    let doc = json(&env.ok(&["manifest", "inspect", &list]));
    let m = &doc["manifests"][0];
    assert_eq!(m["digest"], digest.as_str(), "{doc}");
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        m["platform"],
        serde_json::json!({"architecture": "amd64", "os": "linux"})
    );
    assert!(m["size"].as_u64().unwrap() > 100, "{doc}");
    // `image inspect` of the list is its image for this platform (libimage's lookup).
    let iid = env.ok(&["image", "inspect", "--format", "{{.ID}}", "localhost/mimg"]);
    assert_eq!(
        env.ok(&["image", "inspect", "--format", "{{.ID}}", &list]),
        iid
    );

    let out = env.ok(&[
        "manifest",
        "annotate",
        "--arch",
        "arm64",
        "--variant",
        "v8",
        "--os-version",
        "1.2",
        "--features",
        "f1,f2",
        "--os-features",
        "x",
        "--annotation",
        "a=b",
        &list,
        &digest,
    ]);
    assert_eq!(out.trim(), mid);
    let doc = json(&env.ok(&["manifest", "inspect", &list]));
    let m = &doc["manifests"][0];
    assert_eq!(
        m["platform"],
        serde_json::json!({"architecture": "arm64", "os": "linux", "os.version": "1.2",
            "os.features": ["x"], "variant": "v8", "features": ["f1", "f2"]})
    );
    assert_eq!(m["annotations"], serde_json::json!({"a": "b"}));
    let before = env.ok(&["manifest", "inspect", &list]);

    // Refusals, each with Podman's words and exit 125, and the list unchanged.
    env.run(&[
        "manifest",
        "add",
        "localhost/nolist",
        "containers-storage:localhost/mimg",
    ])
    .assert_error(125, &["localhost/nolist: image not known"]);
    env.run(&[
        "manifest",
        "add",
        &list,
        "containers-storage:localhost/nope",
    ])
    .assert_error(125, &["localhost/nope: image not known"]);
    env.run(&[
        "manifest",
        "add",
        "--annotation",
        "novalue",
        &list,
        "containers-storage:localhost/mimg",
    ])
    .assert_error(125, &["no value given for annotation \"novalue\""]);
    env.run(&["manifest", "remove", &list, "baddigest"])
        .assert_error(
            125,
            &["invalid image digest \"baddigest\": invalid checksum digest format"],
        );
    env.run(&["manifest", "remove", &list, ZERO]).assert_error(
        125,
        &[&format!(
            "no instance matching digest \"{ZERO}\" found in manifest list"
        )],
    );
    env.run(&["manifest", "annotate", "--arch", "s390x", &list, ZERO])
        .assert_error(125, &["no OCI manifest matching digest"]);
    assert_eq!(env.ok(&["manifest", "inspect", &list]), before);
    // A failed create leaves no list behind.
    let images_before = env.ok(&["images", "-q", "--no-trunc"]);
    env.run(&[
        "manifest",
        "create",
        "localhost/mfail",
        "containers-storage:localhost/nope",
    ])
    .assert_error(125, &["localhost/nope: image not known"]);
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]), images_before);

    assert_eq!(env.ok(&["manifest", "remove", &list, &digest]).trim(), mid);
    assert_eq!(
        json(&env.ok(&["manifest", "inspect", &list]))["manifests"],
        serde_json::Value::Null
    );
    // `manifest rm`: the list only; the image stays. A missing one exits 1, an image 125.
    let out = env.ok(&["manifest", "rm", &list]);
    assert_eq!(
        lines(&out),
        vec![
            format!("Untagged: {list}:latest"),
            format!("Deleted: {mid}")
        ]
    );
    assert_eq!(env.run(&["image", "exists", "localhost/mimg"]).code(), 0);
    env.run(&["manifest", "rm", &list])
        .assert_error(1, &["image not known"]);
    env.run(&["manifest", "rm", "localhost/mimg"])
        .assert_error(125, &["image is not a manifest list"]);
}

/// Entries from a registry (an index with `--all`, one image by tag) are read without
/// pulling: no layer lands in the store. `manifest push` sends the images and the list (an
/// OCI index by default, a Docker list with `--format v2s2`); skopeo reads each back.
#[test]
fn registry_entries_and_push_to_a_registry() {
    if tools_missing() {
        return;
    }
    let mut e = RegEnv::new("manifest-reg");
    let r = e.start_with_images();
    let addr = e.reg(r).addr.clone();
    e.env.import_busybox_as("localhost/mlocal");
    let (_, layers_before) = e.store_entries();
    let list = format!("localhost/{}", name("ml"));
    e.ok(&["manifest", "create", &list]);
    let imgs = images();
    e.ok(&[
        "manifest",
        "add",
        "--all",
        "--tls-verify=false",
        &list,
        &format!("docker://{addr}/py/multi"),
    ]);
    let doc = json(&e.ok(&["manifest", "inspect", &list]));
    let digests: Vec<&str> = doc["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        digests,
        vec![imgs.amd64.manifest.as_str(), imgs.arm64.manifest.as_str()]
    );
    assert_eq!(doc["manifests"][1]["platform"]["architecture"], "arm64");
    // One image by tag (no transport: docker://, as Podman 4.3), its platform from its
    // config, overridden by the flags.
    e.ok(&[
        "manifest",
        "add",
        "--tls-verify=false",
        "--os",
        "freebsd",
        "--annotation",
        "k=v",
        &list,
        &format!("{addr}/py/v2s2"),
    ]);
    let doc = json(&e.ok(&["manifest", "inspect", &list]));
    let v2 = &doc["manifests"][2];
    assert_eq!(
        v2["digest"],
        skopeo_digest(&format!("docker://{addr}/py/v2s2")).as_str()
    );
    assert_eq!(
        v2["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        v2["platform"],
        serde_json::json!({"architecture": "amd64", "os": "freebsd"})
    );
    assert_eq!(v2["annotations"], serde_json::json!({"k": "v"}));
    e.ok(&[
        "manifest",
        "add",
        &list,
        "containers-storage:localhost/mlocal",
    ]);
    assert_eq!(e.store_entries().1, layers_before, "adding pulled no layer");
    // A missing remote image: Podman's words, the list unchanged.
    let before = e.ok(&["manifest", "inspect", &list]);
    e.run(&[
        "manifest",
        "add",
        "--tls-verify=false",
        &list,
        &format!("docker://{addr}/py/nope"),
    ])
    .assert_error(
        125,
        &[
            "setting up to read manifest and configuration from",
            "manifest unknown",
        ],
    );
    assert_eq!(e.ok(&["manifest", "inspect", &list]), before);

    // manifest push: the images under their digests, then the list under the tag.
    let dfile = e.env.dir.join("digest");
    let dest = format!("{addr}/pushed/list:1");
    let out = e.run(&[
        "manifest",
        "push",
        "--tls-verify=false",
        "--digestfile",
        dfile.to_str().unwrap(),
        &list,
        &dest,
    ]);
    assert_eq!(out.code(), 0, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains("Copying 4 of 4 images in list"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("Writing manifest list to image destination"),
        "{out:?}"
    );
    let raw =
        peapod_tests::registry::skopeo_inspect(&format!("docker://{dest}"), &["--raw"]).unwrap();
    let pushed = json(&raw);
    assert_eq!(
        pushed["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{raw}"
    );
    let entries = pushed["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 4, "{raw}");
    assert_eq!(entries[0]["digest"], imgs.amd64.manifest.as_str());
    assert_eq!(entries[2]["platform"]["os"], "freebsd");
    assert_eq!(entries[2]["annotations"], serde_json::json!({"k": "v"}));
    for m in entries {
        let d = m["digest"].as_str().unwrap();
        let one = peapod_tests::registry::skopeo_inspect(
            &format!("docker://{addr}/pushed/list@{d}"),
            &["--raw"],
        )
        .unwrap_or_else(|err| panic!("{d} is not in the registry: {err}"));
        assert_eq!(peapod_tests::oci::sha256(one.as_bytes()), d);
    }
    assert_eq!(
        std::fs::read_to_string(&dfile).unwrap(),
        skopeo_digest(&format!("docker://{dest}"))
    );
    // A fresh store pulls this host's image from the pushed list.
    let fresh = RegEnv::new("manifest-reg-pull");
    let id = fresh.ok(&["pull", "-q", "--tls-verify=false", &dest]);
    assert_eq!(id.trim(), imgs.amd64.config.trim_start_matches("sha256:"));

    // --format v2s2 sends a Docker list; `push LIST DEST` pushes a list as well.
    let dest2 = format!("{addr}/pushed/list:v2");
    e.ok(&[
        "manifest",
        "push",
        "-q",
        "--tls-verify=false",
        "--format",
        "v2s2",
        &list,
        &dest2,
    ]);
    let raw =
        peapod_tests::registry::skopeo_inspect(&format!("docker://{dest2}"), &["--raw"]).unwrap();
    assert_eq!(
        json(&raw)["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let dest3 = format!("{addr}/other/list:3");
    e.ok(&["push", "-q", "--tls-verify=false", &list, &dest3]);
    let raw =
        peapod_tests::registry::skopeo_inspect(&format!("docker://{dest3}"), &["--raw"]).unwrap();
    assert_eq!(
        json(&raw)["manifests"].as_array().unwrap().len(),
        4,
        "{raw}"
    );
    // manifest inspect of a name that is no local list reads the registry.
    let remote = json(&e.ok(&["manifest", "inspect", "--tls-verify=false", &dest3]));
    assert_eq!(remote["manifests"].as_array().unwrap().len(), 4);

    // --rm removes the local list once pushed.
    e.ok(&[
        "manifest",
        "push",
        "-q",
        "--rm",
        "--tls-verify=false",
        &list,
        &dest,
    ]);
    assert_eq!(e.run(&["manifest", "exists", &list]).code(), 1);
}

/// Four `manifest add`s of four images to one list at once: every entry lands (the list is
/// read and written under one lock).
#[test]
fn concurrent_adds_all_land() {
    let env = TestEnv::new("manifest-race");
    let tar = peapod_tests::busybox_rootfs_tar().expect("busybox rootfs tarball");
    let tar = tar.to_str().unwrap();
    let names: Vec<String> = (0..4).map(|i| format!("localhost/mrace{i}")).collect();
    let mut digests = Vec::new();
    for (i, n) in names.iter().enumerate() {
        env.ok(&["import", "-q", "--change", &format!("LABEL n={i}"), tar, n]);
        let d = env.ok(&["image", "inspect", "--format", "{{.Digest}}", n]);
        digests.push(d.trim().to_owned());
    }
    let list = format!("localhost/{}", name("ml"));
    env.ok(&["manifest", "create", &list]);
    std::thread::scope(|s| {
        for n in &names {
            let (env, list) = (&env, &list);
            s.spawn(move || {
                env.ok(&["manifest", "add", list, &format!("containers-storage:{n}")]);
            });
        }
    });
    let doc = json(&env.ok(&["manifest", "inspect", &list]));
    let mut got: Vec<String> = doc["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    digests.sort();
    assert_eq!(got, digests, "{doc}");
}
