//! `images` as a Podman user filters it: intermediate build images hidden without `-a`,
//! libimage's `--filter` keys (reference globs, dangling, intermediate, label, containers,
//! since/before, id, negation), `images NAME`, Podman's messages for bad filters, and
//! `image prune` of a dangling image only.

use crate::util::{IMG, TestEnv, lines};

fn ids(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut a = vec!["images", "-q", "--no-trunc"];
    a.extend_from_slice(args);
    let mut v = lines(&env.ok(&a));
    v.sort();
    v
}

fn sha(id: &str) -> String {
    format!("sha256:{id}")
}

#[test]
fn images_filters_as_podman() {
    let env = TestEnv::new("img-filter");
    let base = env.import_busybox();
    // A three-step build leaves two nameless intermediate images behind the tagged one.
    let ctx = env.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Containerfile"),
        format!("FROM {IMG}\nRUN echo one > /one\nRUN echo two > /two\nLABEL tier=web\n"),
    )
    .unwrap();
    let out = env.ok(&["build", "-q", "-t", "webapp", ctx.to_str().unwrap()]);
    let web = lines(&out)
        .last()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    // A nameless image nothing is built on: dangling.
    let tar = peapod_tests::busybox_rootfs_tar().unwrap();
    let dangling = crate::util::imported_id(&env.ok(&[
        "import",
        "--change",
        "LABEL tier=db",
        tar.to_str().unwrap(),
    ]));

    // Without -a: the named images and the dangling one, not the intermediates.
    let shown = ids(&env, &[]);
    assert_eq!(shown.len(), 3, "{shown:?}");
    for id in [&base, &web, &dangling] {
        assert!(shown.contains(&sha(id)), "{id} in {shown:?}");
    }
    let all = ids(&env, &["-a"]);
    assert_eq!(all.len(), 5, "-a shows the intermediates: {all:?}");
    let intermediate = ids(&env, &["--filter", "intermediate=true"]);
    assert_eq!(intermediate.len(), 2, "{intermediate:?}");
    assert!(intermediate.iter().all(|i| !shown.contains(i)));

    // dangling, label (with negation), reference globs, id.
    assert_eq!(
        ids(&env, &["--filter", "dangling=true"]),
        vec![sha(&dangling)]
    );
    assert_eq!(ids(&env, &["--filter", "label=tier=web"]), vec![sha(&web)]);
    let mut not_web = ids(&env, &["--filter", "label!=tier=web"]);
    not_web.retain(|i| *i == sha(&web));
    assert!(not_web.is_empty());
    assert_eq!(
        ids(&env, &["--filter", "reference=webapp"]),
        vec![sha(&web)]
    );
    assert_eq!(
        ids(&env, &["--filter", "reference=localhost/web*:latest"]),
        vec![sha(&web)]
    );
    assert!(
        ids(&env, &["--filter", "reference=web"]).is_empty(),
        "a glob, not a substring"
    );
    // Two references are alternatives; two keys must both hold.
    let mut two = vec![sha(&base), sha(&web)];
    two.sort();
    assert_eq!(
        ids(
            &env,
            &[
                "--filter",
                "reference=webapp",
                "--filter",
                "reference=busybox"
            ]
        ),
        two
    );
    assert!(
        ids(
            &env,
            &["--filter", "reference=webapp", "--filter", "dangling=true"]
        )
        .is_empty()
    );
    assert_eq!(
        ids(&env, &["--filter", &format!("id={web}")]),
        vec![sha(&web)]
    );
    // `images NAME`, by name or by id.
    assert_eq!(ids(&env, &["webapp"]), vec![sha(&web)]);
    assert_eq!(ids(&env, &[&web[..12]]), vec![sha(&web)]);

    // containers=, since/before (relative to the base image).
    let ctr = crate::util::name("filter-ctr");
    env.ok(&["create", "--name", &ctr, "webapp", "true"]);
    assert_eq!(ids(&env, &["--filter", "containers=true"]), vec![sha(&web)]);
    assert!(!ids(&env, &["--filter", "containers=false"]).contains(&sha(&web)));
    let since = ids(&env, &["--filter", &format!("since={IMG}")]);
    assert!(
        since.contains(&sha(&web)) && !since.contains(&sha(&base)),
        "{since:?}"
    );
    assert_eq!(
        ids(
            &env,
            &["--filter", "before=webapp", "--filter", "reference=busybox"]
        ),
        vec![sha(&base)]
    );

    // JSON: the parent of the tagged image is its last intermediate.
    let json = env.ok(&["images", "--format", "json", "webapp"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let parent = v[0]["ParentId"].as_str().unwrap().to_string();
    assert!(
        intermediate.contains(&sha(&parent)),
        "ParentId {parent} of {json}"
    );
    assert_eq!(v[0]["Containers"], 1);
}

#[test]
fn bad_image_filters_and_prune() {
    let env = TestEnv::new("img-filter-bad");
    env.import_busybox();
    for (filter, msg) in [
        ("bogus=1", "Error: unsupported image filter \"bogus\""),
        (
            "dangling=maybe",
            "Error: non-boolean value \"dangling\" for maybe filter",
        ),
        (
            "after=nosuch",
            "Error: could not find local image for filter filter \"after\"=\"nosuch\"",
        ),
        (
            "label",
            "Error: invalid image filter \"label\": must be in the format",
        ),
    ] {
        let out = env.run(&["images", "--filter", filter]).assert_code(125);
        assert!(out.stderr.starts_with(msg), "{filter}: {out:?}");
    }
    let out = env
        .run(&["image", "prune", "-f", "--filter", "label"])
        .assert_code(125);
    assert!(
        out.stderr
            .contains("filter input must be in the form of filter=value: label is invalid"),
        "{out:?}"
    );
    // Prune takes the dangling image and leaves the named one.
    let tar = peapod_tests::busybox_rootfs_tar().unwrap();
    let dangling = crate::util::imported_id(&env.ok(&["import", tar.to_str().unwrap()]));
    let pruned = env.ok(&["image", "prune", "-f"]);
    assert_eq!(lines(&pruned), vec![dangling]);
    assert_eq!(
        lines(&env.ok(&["images", "--format", "{{.Repository}}"])),
        vec![IMG]
    );
}

/// `{{.History}}`: every name the image has had, newest first, kept after the name goes
/// (010-images "history output").
#[test]
fn images_history_keeps_old_names() {
    let env = TestEnv::new("img-names-history");
    env.import_busybox_as("localhost/hist");
    let history = || env.ok(&["images", "localhost/hist", "--format", "{{ .History }}"]);
    assert_eq!(history().trim(), "localhost/hist:latest");
    env.ok(&["tag", "localhost/hist", "one"]);
    env.ok(&["rmi", "one"]);
    assert_eq!(
        history().trim(),
        "localhost/hist:latest, localhost/one:latest"
    );
    env.ok(&["tag", "localhost/hist", "two"]);
    env.ok(&["rmi", "two"]);
    assert_eq!(
        history().trim(),
        "localhost/hist:latest, localhost/two:latest, localhost/one:latest"
    );
    let json = env.ok(&[
        "image",
        "inspect",
        "--format",
        "{{json .NamesHistory}}",
        "localhost/hist",
    ]);
    assert_eq!(
        json.trim(),
        r#"["localhost/hist:latest","localhost/two:latest","localhost/one:latest"]"#
    );
}
