//! Every key of `ps --filter` with Podman's semantics, and the shared matchers.

use chrono::TimeZone;

use super::*;
use crate::volume::{MountKind, MountSpec};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn ctr(name: &str, status: Status) -> Container {
    let config = crate::container::ContainerConfig {
        id: format!("{:0<64}", format!("{:x}", name.len() * 0x1111)),
        name: name.to_string(),
        created: at(0),
        image_id: "a".repeat(64),
        image_name: "localhost/busybox:latest".into(),
        ..Default::default()
    };
    let state = serde_json::from_value(serde_json::json!({
        "status": status, "pid": 0, "pid_start": 0, "conmon_pid": 0, "conmon_start": 0,
        "exit_code": 0, "started_at": null, "finished_at": null, "oom_killed": false,
        "error": "", "mounted": false, "restart_count": 0, "stopped_by_user": false
    }))
    .unwrap();
    Container { config, state }
}

struct Store;

impl Lookup for Store {
    fn container_created(&self, reference: &str) -> Result<DateTime<Utc>> {
        match reference {
            "old" => Ok(at(-100)),
            "new" => Ok(at(100)),
            _ => Err(Error::NoSuchContainer(reference.into())),
        }
    }
    fn pod_id(&self, reference: &str) -> Result<Option<String>> {
        Ok((reference == "p").then(|| "f".repeat(64)))
    }
}

fn parse(filters: &[&str]) -> Result<Vec<ContainerFilter>> {
    let owned: Vec<String> = filters.iter().map(|s| s.to_string()).collect();
    ContainerFilter::parse_all(&owned, &Store)
}

fn keeps(filters: &[&str], c: &Container) -> bool {
    container_matches(&parse(filters).unwrap(), c)
}

#[test]
fn names_are_regular_expressions_found_anywhere() {
    assert!(name_matches("web", "my-web-1"));
    assert!(name_matches("^web", "web-1"));
    assert!(!name_matches("^web", "my-web"));
    assert!(name_matches("1$", "web-1"));
    assert!(!name_matches("^web$", "web-1"));
    assert!(name_matches("^web$", "web"));
    assert!(name_matches("web.*1", "web-db-1"));
    assert!(name_matches("web-[0-9]+$", "web-12"));
    assert!(!name_matches("web-[0-9]+$", "web-x"));
    // An invalid expression matches nothing (Podman ignores it), never an error.
    assert!(!name_matches("web(", "web("));
}

#[test]
fn values_of_one_key_are_alternatives_keys_all_hold() {
    let a = ctr("alpha", Status::Running);
    assert!(keeps(&["name=zzz", "name=alp"], &a));
    assert!(!keeps(&["name=alp", "status=exited"], &a));
    assert!(keeps(&["name=alp", "status=exited", "status=running"], &a));
}

#[test]
fn id_is_a_pattern_too() {
    let a = ctr("alpha", Status::Running);
    assert!(keeps(&[&format!("id={}", &a.config.id[..12])], &a));
    assert!(keeps(&[&format!("id=^{}", &a.config.id[..5])], &a));
    assert!(!keeps(&["id=^ffff"], &a));
}

#[test]
fn every_label_must_hold() {
    let mut a = ctr("alpha", Status::Running);
    a.config.labels.insert("app".into(), "web".into());
    a.config.labels.insert("tier".into(), "front".into());
    assert!(keeps(&["label=app"], &a));
    assert!(keeps(&["label=app=web"], &a));
    assert!(keeps(&["label=app=web", "label=tier"], &a));
    assert!(!keeps(&["label=app=web", "label=tier=back"], &a));
    assert!(!keeps(&["label=nope"], &a));
}

#[test]
fn status_uses_podmans_names() {
    assert!(keeps(&["status=exited"], &ctr("a", Status::Stopped)));
    assert!(keeps(&["status=stopped"], &ctr("a", Status::Exited)));
    assert!(keeps(&["status=created"], &ctr("a", Status::Initialized)));
    assert!(keeps(&["status=paused"], &ctr("a", Status::Paused)));
    assert!(!keeps(&["status=running"], &ctr("a", Status::Paused)));
    let e = parse(&["status=sleeping"]).unwrap_err();
    assert_eq!(e.to_string(), "sleeping is not a valid status");
}

#[test]
fn exited_takes_codes_of_exited_containers_only() {
    let mut a = ctr("a", Status::Exited);
    a.state.exit_code = 3;
    assert!(keeps(&["exited=3"], &a));
    assert!(keeps(&["exited=1", "exited=3"], &a));
    assert!(!keeps(&["exited=0"], &a));
    a.state.status = Status::Running;
    assert!(!keeps(&["exited=3"], &a));
    assert!(parse(&["exited=x"]).is_err());
}

#[test]
fn ancestor_is_the_image_by_id_or_name() {
    let a = ctr("a", Status::Running);
    assert!(keeps(&["ancestor=localhost/busybox:latest"], &a));
    assert!(keeps(&["ancestor=localhost/busybox"], &a));
    assert!(keeps(&["ancestor=busybox"], &a));
    assert!(keeps(&[&format!("ancestor={}", "a".repeat(12))], &a));
    assert!(!keeps(&["ancestor=alpine"], &a));
}

#[test]
fn before_since_and_until_compare_creation_times() {
    let a = ctr("a", Status::Running);
    assert!(keeps(&["before=new"], &a));
    assert!(!keeps(&["before=old"], &a));
    assert!(keeps(&["since=old"], &a));
    assert!(!keeps(&["since=new"], &a));
    assert!(matches!(
        parse(&["before=gone"]),
        Err(Error::NoSuchContainer(_))
    ));
    assert!(keeps(&["until=2100-01-01T00:00:00Z"], &a));
    assert!(!keeps(&["until=2000-01-01T00:00:00Z"], &a));
}

#[test]
fn pod_network_volume_restart_policy() {
    let mut a = ctr("a", Status::Running);
    assert!(!keeps(&["pod=p"], &a));
    a.config.pod = "f".repeat(64);
    assert!(keeps(&["pod=p"], &a));
    assert!(
        !keeps(&["pod=unknown"], &a),
        "an unknown pod matches nothing"
    );

    a.config.networks.insert("front".into(), Default::default());
    assert!(keeps(&["network=front"], &a));
    assert!(!keeps(&["network=back"], &a));

    a.config.mounts.push(MountSpec {
        kind: MountKind::Volume,
        source: "data".into(),
        destination: "/data".into(),
        options: Vec::new(),
        from_image: false,
    });
    assert!(keeps(&["volume=data"], &a));
    assert!(keeps(&["volume=data:/data"], &a));
    assert!(!keeps(&["volume=data:/other"], &a));

    assert!(keeps(&["restart-policy=none"], &a));
    a.config.restart_policy = "always".into();
    assert!(keeps(&["restart-policy=always"], &a));
    assert!(!keeps(&["restart-policy=no"], &a));
    assert_eq!(
        parse(&["restart-policy=sometimes"])
            .unwrap_err()
            .to_string(),
        "sometimes invalid restart policy"
    );
}

#[test]
fn unknown_keys_and_malformed_filters_are_refused() {
    assert_eq!(
        parse(&["bogus=1"]).unwrap_err().to_string(),
        "bogus is an invalid filter"
    );
    assert!(parse(&["name"]).is_err());
}

fn pod(name: &str) -> crate::pod::Pod {
    crate::pod::Pod {
        config: crate::pod::PodConfig {
            id: "e".repeat(64),
            name: name.into(),
            created: at(0),
            ..Default::default()
        },
        state: Default::default(),
    }
}

fn pod_keeps(filters: &[&str], p: &PodFacts<'_>) -> bool {
    let owned: Vec<String> = filters.iter().map(|s| s.to_string()).collect();
    pod_matches(&PodFilter::parse_all(&owned).unwrap(), p)
}

#[test]
fn pod_filters_every_key() {
    let mut p = pod("web-pod");
    p.config.labels.insert("app".into(), "web".into());
    let mut infra = ctr("web-pod-infra", Status::Running);
    infra.config.is_infra = true;
    let mut member = ctr("web-server", Status::Exited);
    member.config.id = "c".repeat(64);
    let ctrs = vec![infra, member];
    let nets = vec!["front".to_string()];
    let facts = PodFacts {
        pod: &p,
        containers: &ctrs,
        status: "Degraded",
        networks: &nets,
    };
    assert!(pod_keeps(&["name=^web"], &facts));
    assert!(!pod_keeps(&["name=^pod"], &facts));
    assert!(pod_keeps(&["id=^eee"], &facts));
    assert!(pod_keeps(&["label=app=web"], &facts));
    assert!(!pod_keeps(&["label=app=db"], &facts));
    assert!(pod_keeps(&["status=degraded"], &facts));
    assert!(
        pod_keeps(&["status=Degraded"], &facts),
        "status is case-blind"
    );
    assert!(!pod_keeps(&["status=running"], &facts));
    assert!(pod_keeps(&["ctr-names=server$"], &facts));
    assert!(pod_keeps(&["ctr-ids=^ccc"], &facts));
    assert!(pod_keeps(&["ctr-status=exited"], &facts));
    assert!(pod_keeps(&["ctr-status=stopped"], &facts));
    assert!(!pod_keeps(&["ctr-status=paused"], &facts));
    assert!(pod_keeps(&["ctr-number=2"], &facts));
    assert!(pod_keeps(&["ctr-number=1", "ctr-number=2"], &facts));
    assert!(!pod_keeps(&["ctr-number=3"], &facts));
    assert!(pod_keeps(&["network=front"], &facts));
    assert!(!pod_keeps(&["network=back"], &facts));
    assert!(pod_keeps(&["until=2100-01-01T00:00:00Z"], &facts));
    assert!(!pod_keeps(&["name=^web", "status=running"], &facts));

    let err = |f: &str| {
        PodFilter::parse_all(&[f.to_string()])
            .unwrap_err()
            .to_string()
    };
    assert_eq!(err("status=sleeping"), "sleeping is not a valid status");
    assert_eq!(err("ctr-status=sleeping"), "sleeping is not a valid status");
    assert_eq!(err("bogus=1"), "bogus is an invalid filter");
    assert!(err("ctr-number=x").contains("ctr-number"));
}

#[test]
fn network_filters_every_key() {
    let n = crate::network::Network {
        name: "front-net".into(),
        id: "ab".repeat(32),
        driver: "bridge".into(),
        labels: Some([("team".to_string(), "web".to_string())].into()),
        ..Default::default()
    };
    let keeps = |f: &[&str]| {
        let owned: Vec<String> = f.iter().map(|s| s.to_string()).collect();
        NetworkFilter::parse_all(&owned)
            .unwrap()
            .iter()
            .all(|x| x.matches(&n))
    };
    assert!(keeps(&["name=front"]));
    assert!(keeps(&["name=^front-net$"]));
    assert!(!keeps(&["name=^net"]));
    assert!(keeps(&["name=back", "name=front"]));
    assert!(keeps(&["id=^abab"]));
    assert!(!keeps(&["id=^ba"]));
    assert!(keeps(&["driver=bridge"]));
    assert!(!keeps(&["driver=macvlan"]));
    assert!(keeps(&["label=team", "label=team=web"]));
    assert!(!keeps(&["label=team=db"]));
    assert!(!keeps(&["name=front", "driver=macvlan"]));
    assert!(NetworkFilter::parse_all(&["scope=local".into()]).is_err());
}
