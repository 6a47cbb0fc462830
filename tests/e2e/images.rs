//! Local images: `import` (file and stdin, `--change`), `images`, `tag`, `image exists`,
//! `image inspect`, `rmi` (Podman's exit codes: 1 no such image, 2 image in use), `rmi -f`.

use crate::util::{IMG, TestEnv, imported_id, is_short_id, lines, name};
use peapod_tests::busybox_rootfs_tar;

#[test]
fn import_file_with_changes() {
    let env = TestEnv::new("img-import");
    let tar = busybox_rootfs_tar().unwrap();
    let out = env.ok(&[
        "import",
        "--change",
        r#"CMD=["/bin/echo","from-cmd"]"#,
        "--change",
        "ENV A=b",
        "--change",
        "WORKDIR /tmp",
        tar.to_str().unwrap(),
        "localhost/changed",
    ]);
    let id = imported_id(&out);
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.Cmd}}",
            "localhost/changed"
        ])
        .trim(),
        "[/bin/echo from-cmd]"
    );
    let envs = env.ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.Env}}",
        "localhost/changed",
    ]);
    assert!(envs.contains("A=b"), "Config.Env: {envs}");
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            "localhost/changed"
        ])
        .trim(),
        id
    );
    // The image's config drives run.
    assert_eq!(env.ok(&["run", "--rm", "localhost/changed"]), "from-cmd\n");
    assert_eq!(
        env.ok(&[
            "run",
            "--rm",
            "localhost/changed",
            "sh",
            "-c",
            "echo $A; pwd"
        ]),
        "b\n/tmp\n"
    );
}

#[test]
fn import_from_stdin() {
    let env = TestEnv::new("img-stdin");
    let tar = std::fs::read(busybox_rootfs_tar().unwrap()).unwrap();
    let out = env
        .peapod(&[
            "import",
            "--change",
            "CMD=/bin/true",
            "-",
            "localhost/fromstdin",
        ])
        .stdin(tar)
        .output()
        .success();
    let id = imported_id(&out);
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            "localhost/fromstdin"
        ])
        .trim(),
        id
    );
    env.run(&["image", "exists", "localhost/fromstdin"])
        .assert_code(0);
    // Shell-form CMD is wrapped in /bin/sh -c, as podman does.
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.Cmd}}",
            "localhost/fromstdin"
        ])
        .trim(),
        "[/bin/sh -c /bin/true]"
    );
    env.ok(&["run", "--rm", "localhost/fromstdin"]);
}

#[test]
fn images_table_quiet_and_format() {
    let env = TestEnv::new("img-list");
    let id = env.import_busybox();
    let table = env.ok(&["images"]);
    let mut rows = table.lines();
    let header: Vec<&str> = rows.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"],
        "images header:\n{table}"
    );
    let row: Vec<&str> = rows
        .find(|l| l.starts_with(IMG))
        .unwrap_or_else(|| panic!("no {IMG} row:\n{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[0], IMG);
    assert_eq!(row[1], "latest");
    assert!(is_short_id(row[2]), "IMAGE ID column: {row:?}");
    assert_eq!(row[2], &id[..12]);
    // Columns are aligned: the TAG header starts where the tag does.
    let header_line = table.lines().next().unwrap();
    let row_line = table.lines().find(|l| l.starts_with(IMG)).unwrap();
    assert_eq!(
        header_line.find("TAG"),
        row_line.find("latest"),
        "\n{table}"
    );

    assert_eq!(lines(&env.ok(&["images", "-q"])), vec![id[..12].to_owned()]);
    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        format!("{IMG}:latest\n")
    );
    assert_eq!(
        env.ok(&["images", "--format", "{{.ID}}", "--no-trunc"])
            .trim(),
        format!("sha256:{id}")
    );
}

#[test]
fn tag_and_exists() {
    let env = TestEnv::new("img-tag");
    let id = env.import_busybox();
    env.run(&["image", "exists", IMG]).assert_code(0);
    let missing = format!("localhost/{}", name("missing"));
    let out = env.run(&["image", "exists", &missing]).assert_code(1);
    assert!(out.stdout.is_empty(), "{out:?}");

    env.ok(&["tag", IMG, "localhost/bb2:v1"]);
    env.ok(&["image", "tag", IMG, "short"]);
    let listed = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    for want in [
        "localhost/bb2:v1",
        "localhost/short:latest",
        "localhost/busybox:latest",
    ] {
        assert!(
            listed.lines().any(|l| l == format!("{want} {}", &id[..12])),
            "{want} missing:\n{listed}"
        );
    }
    env.run(&["image", "exists", "localhost/bb2:v1"])
        .assert_code(0);
    // Short names resolve to localhost/…, ids and id prefixes resolve too.
    env.run(&["image", "exists", "short"]).assert_code(0);
    env.run(&["image", "exists", &id[..12]]).assert_code(0);
    env.run(&["image", "exists", &id]).assert_code(0);

    // Untagging one name keeps the image.
    env.ok(&["rmi", "localhost/bb2:v1"]);
    env.run(&["image", "exists", "localhost/bb2:v1"])
        .assert_code(1);
    env.run(&["image", "exists", IMG]).assert_code(0);
}

#[test]
fn rmi_refuses_in_use_and_force_removes() {
    let env = TestEnv::new("img-rmi");
    env.import_busybox();
    let c = name("user");
    env.ok(&["create", "--name", &c, IMG, "true"]);

    env.run(&["rmi", IMG]).assert_error(2, &[]);
    env.run(&["image", "exists", IMG]).assert_code(0);
    assert!(env.names_all().contains(&c));

    let missing = format!("localhost/{}", name("nosuch"));
    env.run(&["rmi", &missing]).assert_error(1, &[&missing]);

    // -f removes the image and the containers using it.
    env.ok(&["rmi", "-f", IMG]);
    env.run(&["image", "exists", IMG]).assert_code(1);
    assert!(!env.names_all().contains(&c), "rmi -f keeps its containers");
    assert!(env.ok(&["images", "-q"]).trim().is_empty());
    env.assert_no_mounts();
}

/// An image with two names: by id it needs `-f` (Podman's words), `rmi -a` removes it whole
/// (as `podman rmi -a` does: every name untagged, the image deleted).
#[test]
fn rmi_of_a_twice_named_image() {
    let env = TestEnv::new("img-rmi2");
    let id = env.import_busybox();
    env.ok(&["tag", IMG, "localhost/second:v2"]);
    let mut names = [format!("{IMG}:latest"), "localhost/second:v2".to_string()];
    names.sort();
    env.run(&["rmi", &id]).assert_error(
        125,
        &[&format!(
            "Error: unable to delete image \"{id}\" by ID with more than one tag ([{}]): please force removal",
            names.join(" ")
        )],
    );
    let out = env.ok(&["rmi", "-a"]);
    for n in &names {
        assert!(out.contains(&format!("Untagged: {n}\n")), "{out}");
    }
    assert!(out.contains(&format!("Deleted: {id}\n")), "{out}");
    assert!(env.ok(&["images", "-aq"]).trim().is_empty());
}

#[test]
fn image_inspect_fields() {
    let env = TestEnv::new("img-inspect");
    let id = env.import_busybox();
    let out = env.ok(&["image", "inspect", IMG]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("image inspect prints JSON");
    let img = &v.as_array().expect("a JSON array")[0];
    assert_eq!(img["Id"], id.as_str());
    assert_eq!(img["RepoTags"][0], format!("{IMG}:latest").as_str());
    for key in ["Created", "Config", "Architecture", "Os", "Size", "RootFS"] {
        assert!(img.get(key).is_some(), "image inspect lacks {key}: {img}");
    }
    assert_eq!(img["Os"], "linux");
}
