use super::*;

fn conf(files: &[(&str, &str)]) -> RegistriesConf {
    let mut c = RegistriesConf {
        path: PathBuf::from(files[0].0),
        search_origin: PathBuf::from(files[0].0),
        ..Default::default()
    };
    for (p, t) in files {
        c.merge_text(Path::new(p), t).unwrap();
    }
    c
}

const MIRROR: &str = r#"
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "docker.io"
location = "127.0.0.1:5000"
insecure = true
[[registry]]
prefix = "quay.io"
location = "127.0.0.1:5000/quay.io"
insecure = true
"#;

const SHORTNAMES: &str = r#"
[aliases]
"alpine" = "docker.io/library/alpine"
"nginx" = "docker.io/library/nginx"
"#;

#[test]
fn alias_then_prefix_rewrite() {
    let c = conf(&[
        ("/tmp/reg/registries.conf", MIRROR),
        (
            "/etc/containers/registries.conf.d/shortnames.conf",
            SHORTNAMES,
        ),
    ]);
    let cand = c.candidates("alpine").unwrap();
    assert_eq!(
        cand.resolution.message().unwrap(),
        "Resolved \"alpine\" as an alias (/etc/containers/registries.conf.d/shortnames.conf)"
    );
    assert_eq!(cand.names.len(), 1);
    let n = &cand.names[0];
    assert_eq!(n.to_string(), "docker.io/library/alpine:latest");
    let eps = c.endpoints(n).unwrap();
    assert_eq!(
        eps,
        vec![Endpoint {
            repository: "127.0.0.1:5000/library/alpine".into(),
            insecure: true
        }]
    );
    let banner = &c.candidates("quay.io/libpod/banner").unwrap().names[0];
    assert_eq!(
        c.endpoints(banner).unwrap()[0].repository,
        "127.0.0.1:5000/quay.io/libpod/banner"
    );
    assert_eq!(banner.to_string(), "quay.io/libpod/banner:latest");
    let nginx = &c.candidates("docker.io/nginx").unwrap().names[0];
    assert_eq!(nginx.to_string(), "docker.io/library/nginx:latest");
    assert_eq!(
        c.candidates("alpine:3.19").unwrap().names[0].to_string(),
        "docker.io/library/alpine:3.19"
    );
}

#[test]
fn search_registries_and_short_name_errors() {
    let c = conf(&[("/etc/containers/registries.conf", "")]);
    let e = c.candidates("foobarx").unwrap_err();
    assert_eq!(
        e.to_string(),
        "short-name \"foobarx\" did not resolve to an alias and no unqualified-search registries are defined in \"/etc/containers/registries.conf\""
    );
    let c = conf(&[(
        "/tmp/r.conf",
        "unqualified-search-registries = [\"127.0.0.1:5000\"]",
    )]);
    let cand = c.candidates("bb").unwrap();
    assert_eq!(
        cand.resolution.message().unwrap(),
        "Resolving \"bb\" using unqualified-search registries (/tmp/r.conf)"
    );
    assert_eq!(cand.names[0].to_string(), "127.0.0.1:5000/bb:latest");
    let c = conf(&[(
        "/tmp/r.conf",
        "unqualified-search-registries = [\"a.io\", \"b.io\"]",
    )]);
    assert!(c.candidates("bb").is_err());
    let c = conf(&[(
        "/tmp/r.conf",
        "unqualified-search-registries = [\"a.io\", \"b.io\"]\nshort-name-mode=\"permissive\"",
    )]);
    let names: Vec<String> = c
        .candidates("bb")
        .unwrap()
        .names
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, ["a.io/bb:latest", "b.io/bb:latest"]);
    let bad = RegistriesConf::default().merge_text(Path::new("/x.conf"), "short-name-mode=1");
    assert!(bad.unwrap_err().to_string().contains("/x.conf"));
}

#[test]
fn mirrors_blocked_and_insecure() {
    let c = conf(&[(
        "/r.conf",
        r#"
[[registry]]
location = "127.0.0.1:5000"
insecure = true
[[registry]]
prefix = "example.com/foo"
location = "example.com/foo"
[[registry.mirror]]
location = "127.0.0.1:6000/mirror"
insecure = true
[[registry.mirror]]
location = "127.0.0.1:7000"
pull-from-mirror = "digest-only"
[[registry]]
prefix = "evil.io"
blocked = true
"#,
    )]);
    assert!(c.insecure_host("127.0.0.1:5000"));
    assert!(c.insecure_host("127.0.0.1:6000"));
    assert!(!c.insecure_host("127.0.0.1:7000"));
    assert!(!c.insecure_host("example.com"));
    let n = &c.candidates("example.com/foo/bar:1").unwrap().names[0];
    let eps: Vec<String> = c
        .endpoints(n)
        .unwrap()
        .into_iter()
        .map(|e| e.repository)
        .collect();
    assert_eq!(eps, ["127.0.0.1:6000/mirror/bar", "example.com/foo/bar"]);
    let d = format!("example.com/foo/bar@sha256:{}", "a".repeat(64));
    let n = &c.candidates(&d).unwrap().names[0];
    assert_eq!(c.endpoints(n).unwrap().len(), 3);
    // A prefix matches whole components only.
    let n = &c.candidates("example.com/foobar").unwrap().names[0];
    assert_eq!(c.endpoints(n).unwrap()[0].repository, "example.com/foobar");
    let n = &c.candidates("evil.io/x").unwrap().names[0];
    assert!(
        c.endpoints(n)
            .unwrap_err()
            .to_string()
            .contains("registry evil.io is blocked")
    );
}

#[test]
fn drop_ins_replace_by_prefix_and_merge_aliases() {
    let c = conf(&[
        (
            "/main.conf",
            "[[registry]]\nprefix=\"docker.io\"\nlocation=\"a:1\"\n[aliases]\n\"x\"=\"quay.io/x\"",
        ),
        (
            "/d/10.conf",
            "[[registry]]\nprefix=\"docker.io\"\nlocation=\"b:2\"\n[aliases]\n\"y\"=\"quay.io/y\"",
        ),
    ]);
    assert_eq!(c.registries.len(), 1);
    assert_eq!(c.registries[0].location, "b:2");
    assert_eq!(c.aliases.len(), 2);
    assert_eq!(c.aliases["y"].1, PathBuf::from("/d/10.conf"));
}
