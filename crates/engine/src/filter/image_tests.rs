use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use super::*;

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

/// `a` (id `aaa`) was made at 100, `b` at 200; any other name is unknown.
fn lookup(r: &str) -> Result<(String, DateTime<Utc>)> {
    match r {
        "a" => Ok(("aaa".into(), at(100))),
        "b" => Ok(("bbb".into(), at(200))),
        _ => Err(Error::NoSuchImage(r.to_string())),
    }
}

fn parse(f: &[&str]) -> Result<ImageFilters> {
    let f: Vec<String> = f.iter().map(|s| s.to_string()).collect();
    ImageFilters::parse(&f, &lookup)
}

#[derive(Clone)]
struct Img {
    id: &'static str,
    names: Vec<String>,
    created: i64,
    labels: BTreeMap<String, String>,
    containers: usize,
    external_containers: usize,
    has_child: bool,
    manifest_list: bool,
}

impl Img {
    fn new(id: &'static str, names: &[&str], created: i64) -> Img {
        Img {
            id,
            names: names.iter().map(|s| s.to_string()).collect(),
            created,
            labels: BTreeMap::new(),
            containers: 0,
            external_containers: 0,
            has_child: false,
            manifest_list: false,
        }
    }

    fn facts(&self) -> ImageFacts<'_> {
        ImageFacts {
            id: self.id,
            names: &self.names,
            created: at(self.created),
            labels: &self.labels,
            containers: self.containers,
            external_containers: self.external_containers,
            has_child: self.has_child,
            manifest_list: self.manifest_list,
        }
    }
}

fn hits(f: &[&str], img: &Img) -> bool {
    parse(f).unwrap().matches(&img.facts())
}

#[test]
fn every_key_with_libimage_semantics() {
    let mut named = Img::new("aaa", &["docker.io/library/alpine:3.18"], 150);
    named.labels.insert("tier".into(), "web".into());
    named.containers = 2;
    let mut parent = Img::new("bbb", &[], 50);
    parent.has_child = true;
    let dangling = Img::new("ccc", &[], 250);

    // after/since/before compare with the named image's creation.
    assert!(hits(&["after=a"], &named));
    assert!(hits(&["since=a"], &named));
    assert!(!hits(&["after=b"], &named));
    assert!(hits(&["before=b"], &named));
    assert!(!hits(&["before=a"], &named));
    // until: created before the time.
    assert!(hits(&["until=200"], &named));
    assert!(!hits(&["until=100"], &named));
    // containers.
    assert!(hits(&["containers=true"], &named));
    assert!(!hits(&["containers=false"], &named));
    assert!(hits(&["containers=external"], &dangling));
    assert!(
        !hits(&["containers=external"], &named),
        "used by peapod's own"
    );
    let mut building = named.clone();
    building.external_containers = 2; // both of its containers are a build's
    assert!(hits(&["containers=external"], &building));
    assert!(hits(&["containers=true"], &building));
    // dangling and intermediate.
    assert!(hits(&["dangling=true"], &dangling));
    assert!(!hits(&["dangling=true"], &parent));
    assert!(!hits(&["dangling=true"], &named));
    assert!(hits(&["intermediate=true"], &parent));
    assert!(hits(&["intermediate=false"], &dangling));
    assert!(hits(&["dangling=1"], &dangling), "Go's ParseBool forms");
    // id is the whole id (sha256: allowed).
    assert!(hits(&["id=aaa"], &named));
    assert!(hits(&["id=sha256:aaa"], &named));
    assert!(!hits(&["id=aa"], &named));
    // label.
    assert!(hits(&["label=tier"], &named));
    assert!(hits(&["label=tier=web"], &named));
    assert!(!hits(&["label=tier=db"], &named));
    assert!(hits(&["label!=tier=db"], &named));
    // readonly holds for no peapod image; manifest for a manifest list.
    assert!(hits(&["readonly=false"], &named));
    assert!(!hits(&["readonly=true"], &named));
    assert!(!hits(&["manifest=true"], &named));
    assert!(hits(&["manifest=false"], &named));
    let list = Img {
        manifest_list: true,
        ..Img::new("ccc", &["localhost/list:1"], 150)
    };
    assert!(hits(&["manifest=true"], &list));
    assert!(!hits(&["manifest=false"], &list));
}

#[test]
fn same_key_ors_different_keys_and() {
    let named = Img::new("aaa", &["localhost/web:1"], 150);
    assert!(hits(&["reference=web", "reference=nomatch"], &named));
    assert!(!hits(&["reference=web", "dangling=true"], &named));
    assert!(hits(&["reference=web", "dangling=false"], &named));
    // A reference that names an image locally (here `a`, id `aaa`) matches it too.
    let by_id = Img::new("aaa", &["localhost/other:1"], 150);
    assert!(hits(&["reference=a"], &by_id));
    assert!(!hits(&["reference=b"], &by_id));
    // A negated filter still counts among its key's alternatives.
    assert!(hits(&["id=zzz", "id!=zzz"], &named));
}

#[test]
fn reference_matches_every_form_of_a_name() {
    let n = "docker.io/library/alpine:3.18";
    for p in [
        "docker.io/library/alpine:3.18",
        "library/alpine",
        "alpine:3.18",
        "docker.io/library/alpine",
        "library/alpine:3.18",
        "alpine",
        "alpine:*",
        "*/alpine",
        "docker.io/*/alpine:*",
    ] {
        assert!(reference_matches(p, n), "{p} should match {n}");
    }
    for p in ["alp", "docker.io/*", "*:latest", "quay.io/library/alpine"] {
        assert!(!reference_matches(p, n), "{p} should not match {n}");
    }
    let local = "localhost/bb:latest";
    assert!(reference_matches("bb", local));
    assert!(reference_matches("localhost/*", local));
    assert!(reference_matches("*:latest", local));
    let digested = "quay.io/app/db@sha256:0123";
    assert!(reference_matches("app/db", digested));
    assert!(reference_matches("db@sha256:0123", digested));
    assert!(reference_matches("db", digested));
}

#[test]
fn bad_filters_get_libimage_s_messages() {
    let err = |f: &[&str]| parse(f).unwrap_err().to_string();
    assert_eq!(
        err(&["label"]),
        "invalid image filter \"label\": must be in the format \"filter=value or filter!=value\""
    );
    assert_eq!(err(&["bogus=1"]), "unsupported image filter \"bogus\"");
    assert_eq!(
        err(&["dangling=maybe"]),
        "non-boolean value \"dangling\" for maybe filter: strconv.ParseBool: parsing \"maybe\": invalid syntax"
    );
    assert_eq!(
        err(&["dangling=true", "dangling=false"]),
        "specifying \"dangling\" filter more than once with different values is not supported"
    );
    assert!(parse(&["dangling=true", "dangling=true"]).is_ok());
    assert_eq!(
        err(&["containers=maybe"]),
        "unsupported value \"maybe\" for containers filter"
    );
    assert_eq!(
        err(&["after=nosuch"]),
        "could not find local image for filter filter \"after\"=\"nosuch\": nosuch: image not known"
    );
}

#[test]
fn until_takes_durations_and_times() {
    let t = parse_until("1h30m").unwrap();
    let d = Utc::now() - t;
    assert!((5399..=5401).contains(&d.num_seconds()), "{d}");
    assert_eq!(parse_until("0").unwrap().timestamp(), 0);
    assert_eq!(
        parse_until("2020-01-02").unwrap().to_rfc3339(),
        "2020-01-02T00:00:00+00:00"
    );
    assert!(parse_until("yesterday").is_err());
}
