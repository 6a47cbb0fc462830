//! The engine's reports through Podman's template names: what users write in `--format`
//! (`version --format '{{.Server.Version}}'`, `info --format '{{.Host.LogDriver}}'`,
//! `inspect --format '{{.ID}}'` on an image) answers as in Podman 4.3.

use crate::util::{IMG, TestEnv};

#[test]
fn version_info_and_inspect_take_podmans_field_names() {
    let env = TestEnv::new("reports-fields");
    let id = env.import_busybox();

    let client = env.ok(&["version", "--format", "{{.Client.Version}}"]);
    assert!(!client.trim().is_empty());
    // Without a service Podman's templates see the client as the server too…
    assert_eq!(
        env.ok(&["version", "--format", "{{.Server.Version}}"]),
        client
    );
    // …while its JSON holds the client only.
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["version", "--format", "json"])).unwrap();
    assert!(
        json.get("Client").is_some() && json.get("Server").is_none(),
        "{json}"
    );

    assert_eq!(
        env.ok(&["info", "--format", "{{.Host.LogDriver}}"]),
        "k8s-file\n"
    );
    assert_eq!(
        env.ok(&["info", "--format", "{{.Store.ImageStore.Number}}"]),
        "1\n"
    );
    let graph = env.ok(&["info", "--format", "{{.Store.GraphRoot}}"]);
    assert_eq!(graph.trim(), env.root.display().to_string());

    for args in [
        &["inspect", "--format", "{{.ID}}", IMG][..],
        &["image", "inspect", "--format", "{{.ID}}", IMG][..],
        &["image", "inspect", "--format", "{{.Id}}", IMG][..],
    ] {
        assert_eq!(env.ok(args).trim(), id, "{args:?}");
    }
}
