use super::*;
use crate::EngineOptions;
use peapod_netsetup::types::NetworkOptions;

fn engine(t: &Path) -> Engine {
    Engine::open(EngineOptions {
        root: Some(t.join("root")),
        runroot: Some(t.join("run")),
        ..Default::default()
    })
    .unwrap()
}

fn held(holder: Holder, resource: Resource) -> Held {
    Held {
        seq: 0,
        holder,
        resource,
        made: true,
    }
}

fn lease(ip: &str, id: &str, run_dir: &Path) -> Lease {
    Lease {
        path: PathBuf::from(format!("/nonexistent/{ip}")),
        what: Leased::Address {
            subnet: "10.88.0.0/16".parse().unwrap(),
            ip: ip.parse().unwrap(),
        },
        id: id.into(),
        run_dir: run_dir.to_path_buf(),
    }
}

/// What is this store's and held, another store's, or nobody's: only the orphans of
/// this store and the dead are found.
#[test]
fn orphans_are_this_stores_or_nobodys() {
    let t = tempfile::tempdir().unwrap();
    let e = engine(t.path());
    let (live, lost) = ("a".repeat(64), "b".repeat(64));
    let stranger = "c".repeat(64);
    // Running, with nothing recorded (a peapod from before the ledger ran it).
    let unrecorded = "e".repeat(64);
    for id in [&live, &lost, &unrecorded] {
        std::fs::create_dir_all(e.paths.container_run_dir(id)).unwrap();
    }
    let elsewhere = t.path().join("other-store/containers/x");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let net = crate::network::store::default_network();
    let pin = e.paths.netns_dir().join(format!("netns-{live}"));
    let seen = Seen {
        netns_files: vec![pin.clone(), e.paths.netns_dir().join("netns-stray")],
        pod_dirs: Vec::new(),
        mounts: Vec::new(),
        leases: vec![
            lease("10.88.0.2", &live, &e.paths.container_run_dir(&live)),
            lease("10.88.0.3", &lost, &e.paths.container_run_dir(&lost)),
            lease("10.88.0.4", &stranger, &elsewhere),
            lease("10.88.0.5", &stranger, &t.path().join("gone")),
            lease(
                "10.88.0.6",
                &unrecorded,
                &e.paths.container_run_dir(&unrecorded),
            ),
        ],
        rules: [
            (live.clone(), "nv_2f259bab_10_88_0_0_nm16".into()),
            (lost.clone(), "nv_2f259bab_10_88_0_0_nm16".into()),
            (stranger.clone(), "nv_2f259bab_10_88_0_0_nm16".into()),
        ]
        .into(),
        runtime: vec![
            crate::oci::runtime::RuntimeListed {
                id: lost.clone(),
                status: "running".into(),
                bundle: e.paths.bundle(&lost),
            },
            crate::oci::runtime::RuntimeListed {
                id: stranger.clone(),
                status: "running".into(),
                bundle: elsewhere.clone(),
            },
        ],
        cgroups: Vec::new(),
        container_dirs: Vec::new(),
        exit_files: vec![e.paths.exit_file(&live), e.paths.exit_file(&lost)],
    };
    let h = Holder::container(&live);
    let options = NetworkOptions {
        container_id: live.clone(),
        ..Default::default()
    };
    let known = Known {
        containers: [
            (live.clone(), Status::Stopped),
            (unrecorded.clone(), Status::Running),
        ]
        .into(),
        pods: BTreeSet::new(),
        live_pods: BTreeSet::new(),
        held: vec![
            held(h.clone(), Resource::Pin { path: pin }),
            held(
                h.clone(),
                Resource::Address {
                    subnet: "10.88.0.0/16".parse().unwrap(),
                    ip: "10.88.0.2".parse().unwrap(),
                },
            ),
            held(
                h.clone(),
                Resource::Network {
                    netns: String::new(),
                    options: Box::new(options),
                },
            ),
            held(
                Holder::pod("gone"),
                Resource::Pin {
                    path: "/run/x".into(),
                },
            ),
        ],
        networks: vec![net],
    };
    let found: Vec<String> = e
        .orphans(&seen, &known)
        .iter()
        .map(Orphan::describe)
        .collect();
    let short = |id: &str| id[..12].to_string();
    let has = |needle: &str| found.iter().any(|f| f.contains(needle));
    assert!(has("resources of removed pod gone"), "{found:#?}");
    assert!(
        has("netns-stray") && !has(&format!("netns-{live}")),
        "{found:#?}"
    );
    assert!(
        has("address lease 10.88.0.3"),
        "this store's, held by nothing: {found:#?}"
    );
    assert!(has("address lease 10.88.0.5"), "nobody's: {found:#?}");
    assert!(!has("10.88.0.2"), "held: {found:#?}");
    assert!(!has("10.88.0.4"), "another store's, alive: {found:#?}");
    assert!(!has("10.88.0.6"), "a running container's: {found:#?}");
    let rules = |id: &str| format!("firewall rules of container {}", short(id));
    assert!(has(&rules(&lost)) && !has(&rules(&live)) && !has(&rules(&stranger)));
    assert!(has(&format!("runtime container {lost}")), "{found:#?}");
    assert!(!has(&format!("runtime container {stranger}")), "{found:#?}");
    // The stopped container's exit file is still needed; the lost one's is not.
    assert!(has(&format!("exits/{lost}")) && !has(&format!("exits/{live}")));
}

#[test]
fn mountinfo_escapes() {
    assert_eq!(unescape("/a\\040b"), "/a b");
    assert_eq!(unescape("/plain"), "/plain");
    assert_eq!(short("pod-0123456789abcdef"), "0123456789ab");
    assert_eq!(short("abc"), "abc");
}
