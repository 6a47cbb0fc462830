//! `image history`, `image tree`, `image prune` and `untag`, checked as a user reads them
//! and, where the store is the same, against podman's own output for the same images.

use crate::podman::PodmanEnv;
use crate::util::{IMG, TestEnv, lines, name};

/// Two images sharing a base layer, from one archive loaded by both tools: `history` (JSON
/// and table with absolute times) and the layer lines of `tree` agree with podman's.
#[test]
fn history_and_tree_agree_with_podman() {
    let Some(podman) = PodmanEnv::new("hist-podman", None, "") else {
        return;
    };
    let env = TestEnv::new("hist-podman");
    env.import_busybox();
    let c = name("hist");
    env.ok(&["run", "--name", &c, IMG, "sh", "-c", "echo a > /a"]);
    env.ok(&[
        "commit",
        "-q",
        "-c",
        "CMD [\"cat\", \"/a\"]",
        &c,
        "localhost/child",
    ]);
    let archive = env.dir.join("both.tar");
    env.ok(&[
        "save",
        "-q",
        "-m",
        "-o",
        archive.to_str().unwrap(),
        IMG,
        "localhost/child",
    ]);
    podman.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    for image in [IMG, "localhost/child"] {
        for args in [
            vec!["history", "--format", "json"],
            vec!["history", "--human=false", "--no-trunc"],
            vec!["history", "--human=false"],
            vec!["history", "-q"],
            vec![
                "history",
                "--format",
                "{{.ID}} {{.Size}} {{.CreatedBy}} {{.Comment}}",
            ],
        ] {
            let mut a = args.clone();
            a.push(image);
            assert_eq!(env.ok(&a), podman.ok(&a), "{a:?}");
        }
        for args in [
            vec!["image", "tree"],
            vec!["image", "tree", "--whatrequires"],
        ] {
            let mut a = args.clone();
            a.push(image);
            // Podman counts the manifest and config in an image's size: compare the layers.
            let strip = |s: String| -> Vec<String> {
                lines(&s)
                    .into_iter()
                    .filter(|l| !l.starts_with("Size:"))
                    .collect()
            };
            assert_eq!(strip(env.ok(&a)), strip(podman.ok(&a)), "{a:?}");
        }
    }
    let tree = env.ok(&["image", "tree", "--whatrequires", IMG]);
    assert!(
        tree.contains("Top Layer of: [localhost/child:latest]"),
        "{tree}"
    );
}

#[test]
fn history_of_an_imported_image() {
    let env = TestEnv::new("hist-import");
    let id = env.import_busybox();
    let out = env.ok(&["history", IMG]);
    let rows = lines(&out);
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows[0].starts_with("ID  ") && rows[0].contains("CREATED BY"),
        "{out}"
    );
    assert!(rows[1].starts_with(&id[..12]), "{out}");
    assert!(rows[1].contains("/bin/sh -c #(nop) ADD file:"), "{out}");
    assert!(rows[1].contains("..."), "CREATED BY is truncated: {out}");
    assert_eq!(
        env.ok(&["image", "history", "-q", IMG]),
        format!("{}\n", &id[..12])
    );
    env.run(&["history", "nosuch"])
        .assert_error(125, &["nosuch: image not known"]);
}

#[test]
fn untag_removes_names() {
    let env = TestEnv::new("untag");
    let id = env.import_busybox();
    env.ok(&["tag", IMG, "localhost/a", "localhost/b:v1"]);
    env.run(&["untag", IMG, "localhost/nope"])
        .assert_error(125, &["localhost/nope:latest: tag not known"]);
    env.run(&["untag", "nosuch"])
        .assert_error(125, &["nosuch: image not known"]);
    env.ok(&["untag", IMG, "a"]);
    assert_eq!(
        env.inspect(&id, "{{.RepoTags}}"),
        "[localhost/busybox:latest localhost/b:v1]"
    );
    env.ok(&["image", "untag", &id]);
    assert_eq!(env.inspect(&id, "{{.RepoTags}}"), "[]");
    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "<none>:<none>\n"
    );
}

#[test]
fn prune_removes_what_nothing_uses() {
    let env = TestEnv::new("prune");
    let base = env.import_busybox();
    let c = name("pr");
    env.ok(&["run", "--name", &c, IMG, "touch", "/one"]);
    let child = env
        .ok(&["commit", "-q", "-c", "LABEL keep=no", &c])
        .trim()
        .to_string();
    env.ok(&["rm", &c]);
    let c2 = name("pr2");
    env.ok(&["run", "--name", &c2, IMG, "touch", "/two"]);
    let named = env.ok(&[
        "commit",
        "-q",
        "-c",
        "LABEL keep=yes",
        &c2,
        "localhost/named",
    ]);
    let named = named.trim().to_string();
    env.ok(&["rm", &c2]);
    // Declined: nothing goes.
    let out = env.peapod(&["image", "prune"]).stdin("n\n").output();
    assert_eq!(
        out.stdout,
        "WARNING! This command removes all dangling images.\nAre you sure you want to continue? [y/N] "
    );
    assert!(
        env.ok(&["images", "-a", "-q", "--no-trunc"])
            .contains(&child)
    );
    env.run(&["image", "prune", "-f", "--filter", "bogus=1"])
        .assert_error(125, &["unsupported image filter \"bogus\""]);
    // The nameless child goes; its base has a name, the named image stays.
    env.ok(&["untag", IMG]);
    let ctr = name("user");
    env.ok(&["create", "--name", &ctr, &named]);
    let out = env.ok(&["image", "prune", "-f"]);
    assert_eq!(lines(&out), vec![child.clone()]);
    let left = env.ok(&["images", "-a", "-q", "--no-trunc"]);
    assert!(
        !left.contains(&child) && left.contains(&named) && left.contains(&base),
        "{left}"
    );
    // The base is nameless now but the named image is built on it: still not dangling.
    assert_eq!(env.ok(&["image", "prune", "-f"]), "");
    // -a: every unused image; one a container uses stays.
    assert_eq!(
        env.ok(&["image", "prune", "-a", "-f", "--filter", "label=keep=yes"]),
        ""
    );
    env.ok(&["rm", &ctr]);
    let out = env.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(lines(&out).len(), 2, "{out}");
    assert_eq!(env.ok(&["images", "-a", "-q"]), "");
    let count = |d: &str| {
        std::fs::read_dir(env.root.join(d))
            .map(|r| r.count())
            .unwrap_or(0)
    };
    assert_eq!(count("images/blobs/sha256"), 0, "no blob left");
    assert_eq!(count("layers"), 0, "no layer left");
}
