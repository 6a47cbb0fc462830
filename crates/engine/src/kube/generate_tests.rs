//! Tests of generate.rs.
use super::*;

#[test]
fn names_become_dns_labels() {
    assert_eq!(host_volume_base("/"), "root");
    assert_eq!(host_volume_base("/tmp/My_Data"), "tmp-my-data");
    assert_eq!(dns_label("vol_1.x"), "vol-1-x");
    assert_eq!(app_label("my_pod"), "mypod");
}

/// Names that sanitize to one DNS label get numbered, in order, and stay labels.
#[test]
fn volume_names_are_unique_labels() {
    let mut v = PodVolumes::default();
    fn claim(name: &str) -> impl FnOnce(&str) -> Volume + '_ {
        move |n: &str| Volume {
            name: n.to_string(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: name.to_string(),
                read_only: None,
            }),
            ..Default::default()
        }
    }
    let mut add = |src: &str| {
        v.name_for(
            VolumeSource::Named(src.into()),
            &dns_label(src),
            "-pvc",
            claim(src),
        )
    };
    assert_eq!(add("my_vol"), "my-vol-pvc");
    assert_eq!(add("my-vol"), "my-vol-1-pvc");
    assert_eq!(add("My.Vol"), "my-vol-2-pvc");
    assert_eq!(add("my-vol-1"), "my-vol-1-1-pvc");
    // The same source is the same pod volume.
    assert_eq!(add("my-vol"), "my-vol-1-pvc");
    let long = "x".repeat(80);
    assert_eq!(add(&long), format!("{}-pvc", "x".repeat(55)));
    let long2 = format!("{}y", "x".repeat(60));
    let n = add(&long2);
    assert!(n.len() <= 63 && n.ends_with("-1-pvc"), "{n}");
    assert_eq!(add("___"), "volume-pvc");
    assert_eq!(v.by_name.len(), 7);
    let claims: Vec<_> = v
        .by_name
        .values()
        .map(|vol| {
            vol.persistent_volume_claim
                .as_ref()
                .unwrap()
                .claim_name
                .clone()
        })
        .collect();
    assert!(claims.contains(&"my_vol".to_string()) && claims.contains(&"My.Vol".to_string()));
}

#[test]
fn ports_and_service() {
    let p = PortMapping {
        host_ip: String::new(),
        container_port: 80,
        host_port: 8080,
        range: 1,
        protocol: "tcp".into(),
    };
    let k = kube_ports(std::slice::from_ref(&p)).unwrap();
    assert_eq!(k[0].container_port, 80);
    assert_eq!(k[0].host_port, Some(8080));
    assert_eq!(k[0].protocol, None);
    let s = service("web", &[p]).unwrap();
    let y = to_yaml(&s).unwrap();
    assert!(y.contains("type: NodePort"), "{y}");
    assert!(y.contains("targetPort: 80"), "{y}");
    assert!(!y.contains("nodePort"), "{y}");
    assert!(!y.contains("status"), "{y}");
    assert!(service("web", &[]).is_none());
}

#[test]
fn users_and_restart() {
    let sc = security_context("1000:100", None, false, &[]).unwrap();
    assert_eq!((sc.run_as_user, sc.run_as_group), (Some(1000), Some(100)));
    assert!(security_context("nobody", None, false, &[]).is_none());
    assert!(security_context("", None, false, &[]).is_none());
    // Capabilities against the defaults; privileged lists none; read-only, no-new-privs.
    let defaults = ["CAP_CHOWN", "CAP_KILL"];
    let mut sec = crate::container::SecurityConfig::legacy(true);
    sec.bounding = vec!["CAP_KILL".into(), "CAP_NET_ADMIN".into()];
    sec.no_new_privileges = true;
    let sc = security_context("", Some(&sec), true, &defaults).unwrap();
    let caps = sc.capabilities.unwrap();
    assert_eq!(caps.add.unwrap(), ["CAP_NET_ADMIN"]);
    assert_eq!(caps.drop.unwrap(), ["CAP_CHOWN"]);
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    sec.privileged = true;
    let sc = security_context("", Some(&sec), false, &defaults).unwrap();
    assert_eq!((sc.privileged, sc.capabilities), (Some(true), None));
    assert_eq!(restart_policy("no"), Some("Never"));
    assert_eq!(restart_policy(""), None);
}

#[test]
fn job_and_deployment_kinds() {
    let t = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            name: Some("p".into()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            containers: vec![KubeContainer {
                name: "c".into(),
                image: Some("i".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
    };
    let job = workload_yaml(
        "p",
        t.clone(),
        &GenerateOptions {
            kind: KubeType::Job,
            ..Default::default()
        },
        true,
    )
    .unwrap();
    assert!(
        job.contains("kind: Job") && job.contains("restartPolicy: Never"),
        "{job}"
    );
    let d = workload_yaml(
        "p",
        t,
        &GenerateOptions {
            kind: KubeType::Deployment,
            replicas: Some(2),
            ..Default::default()
        },
        true,
    )
    .unwrap();
    assert!(
        d.contains("apiVersion: apps/v1") && d.contains("replicas: 2"),
        "{d}"
    );
    assert!(d.contains("name: p-deployment"), "{d}");
    assert!(d.contains("matchLabels"), "{d}");
}
