use super::*;

const D1: &str = "sha256:6694f7fdd408b60e34a3862b8691251a01bc20c6b909464082a4acf126c70e53";
const D2: &str = "sha256:e2113fa64702c8fbf3767e8e1226e50ce86e07f13a28b754c748cfa59235eb94";

fn inst(digest: &str, arch: &str, size: u64) -> Instance {
    Instance {
        media_type: OCI_MANIFEST.into(),
        digest: digest.into(),
        size,
        urls: Vec::new(),
        annotations: BTreeMap::new(),
        platform: ListPlatform {
            architecture: arch.into(),
            os: "linux".into(),
            ..Default::default()
        },
    }
}

/// Podman 4.3.1's `manifest inspect` of a new list, byte for byte.
#[test]
fn empty_list_inspects_as_podman() {
    let doc = ListDoc::default();
    assert_eq!(
        doc.inspect_json(),
        "{\n    \"schemaVersion\": 2,\n    \"mediaType\": \"application/vnd.docker.distribution.manifest.list.v2+json\",\n    \"manifests\": null\n}"
    );
    assert_eq!(
        String::from_utf8(doc.oci_bytes()).unwrap(),
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
    );
}

/// The two-entry list measured with podman 4.3.1 (`add --arch arm64 --variant v8
/// --os-version 1.2 --annotation a=b`): the same inspect text and the same stored index.
#[test]
fn two_entries_render_as_podman() {
    let mut doc = ListDoc::default();
    doc.add(inst(D1, "amd64", 343), "containers-storage:x".into());
    let mut arm = inst(D2, "arm64", 348);
    arm.platform.variant = "v8".into();
    arm.platform.os_version = "1.2".into();
    arm.annotations.insert("a".into(), "b".into());
    doc.add(arm, format!("docker://127.0.0.1:5000/bb@{D2}"));
    let want = format!(
        r#"{{
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests": [
        {{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 343,
            "digest": "{D1}",
            "platform": {{
                "architecture": "amd64",
                "os": "linux"
            }}
        }},
        {{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 348,
            "digest": "{D2}",
            "platform": {{
                "architecture": "arm64",
                "os": "linux",
                "os.version": "1.2",
                "variant": "v8"
            }},
            "annotations": {{
                "a": "b"
            }}
        }}
    ]
}}"#
    );
    assert_eq!(doc.inspect_json(), want);
    let oci = String::from_utf8(doc.oci_bytes()).unwrap();
    assert_eq!(
        oci,
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{D1}","size":343,"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{D2}","size":348,"annotations":{{"a":"b"}},"platform":{{"architecture":"arm64","os":"linux","os.version":"1.2","variant":"v8"}}}}]}}"#
        )
    );
    // The Docker list a v2s2 push sends: Docker's field order, no annotations.
    let docker = String::from_utf8(doc.docker_bytes()).unwrap();
    assert!(docker.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"mediaType":"#));
    assert!(!docker.contains("annotations"), "{docker}");
}

#[test]
fn features_go_to_docker_only() {
    let mut doc = ListDoc::default();
    let mut i = inst(D1, "amd64", 1);
    i.platform.features = vec!["sse4".into()];
    i.platform.os_features = vec!["win32k".into()];
    doc.add(i, String::new());
    let oci = String::from_utf8(doc.oci_bytes()).unwrap();
    assert!(oci.contains(r#""os.features":["win32k"]"#), "{oci}");
    assert!(!oci.contains("sse4"), "{oci}");
    let docker = String::from_utf8(doc.docker_bytes()).unwrap();
    assert!(docker.contains(r#""features":["sse4"]"#), "{docker}");
}

#[test]
fn registry_lists_parse_and_store_round_trips() {
    let mut doc = ListDoc::default();
    doc.add(inst(D1, "amd64", 343), "containers-storage:x".into());
    doc.annotations.insert("org.example".into(), "y".into());
    for bytes in [doc.oci_bytes(), doc.docker_bytes()] {
        let back = ListDoc::from_registry(&bytes).unwrap();
        assert_eq!(back.manifests, doc.manifests);
    }
    assert_eq!(
        ListDoc::from_registry(&doc.oci_bytes())
            .unwrap()
            .annotations,
        doc.annotations
    );
    // The store's own form keeps the sources.
    let json = serde_json::to_string(&doc).unwrap();
    assert_eq!(serde_json::from_str::<ListDoc>(&json).unwrap(), doc);
    assert!(ListDoc::from_registry(b"{").is_err());
}

#[test]
fn add_replaces_and_moves_to_the_end_remove_reports() {
    let mut doc = ListDoc::default();
    doc.add(inst(D1, "amd64", 1), "a".into());
    doc.add(inst(D2, "arm64", 2), "b".into());
    doc.add(inst(D1, "amd64", 1), "c".into());
    let order: Vec<&str> = doc.manifests.iter().map(|m| m.digest.as_str()).collect();
    assert_eq!(order, [D2, D1]);
    assert_eq!(doc.sources[D1], "c");
    assert!(doc.remove(D2));
    assert!(!doc.remove(D2));
    assert!(!doc.sources.contains_key(D2));
    assert_eq!(doc.manifests.len(), 1);
}
