use super::*;

#[test]
fn security_opts_parse_as_podman() {
    let p = |s: &str| s.parse::<SecurityOpt>();
    assert_eq!(
        p("no-new-privileges").unwrap(),
        SecurityOpt::NoNewPrivileges(true)
    );
    assert_eq!(
        p("no-new-privileges=false").unwrap(),
        SecurityOpt::NoNewPrivileges(false)
    );
    assert_eq!(
        p("seccomp=unconfined").unwrap(),
        SecurityOpt::SeccompUnconfined
    );
    assert_eq!(
        p("seccomp:unconfined").unwrap(),
        SecurityOpt::SeccompUnconfined
    );
    assert_eq!(
        p("seccomp=/x.json").unwrap(),
        SecurityOpt::SeccompProfile("/x.json".into())
    );
    assert_eq!(
        p("mask=/a:/b").unwrap(),
        SecurityOpt::Mask(vec!["/a".into(), "/b".into()])
    );
    assert_eq!(
        p("systempaths=unconfined").unwrap(),
        SecurityOpt::Unmask("ALL".into())
    );
    assert_eq!(
        p("label=disable").unwrap(),
        SecurityOpt::Label("disable".into())
    );
    assert_eq!(
        p("bogus").unwrap_err().to_string(),
        "invalid --security-opt 1: \"bogus\""
    );
    assert_eq!(
        p("foo=bar").unwrap_err().to_string(),
        "invalid --security-opt 2: \"foo=bar\""
    );
    assert_eq!(
        p("no-new-privileges=maybe").unwrap_err().to_string(),
        "invalid --security-opt 2: \"no-new-privileges=maybe\""
    );
}

#[test]
fn unmask_globs_and_all() {
    let u = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(!should_mask(
        "/proc/keys",
        &u(&["/proc/keys:/sys/fs/cgroup"])
    ));
    assert!(!should_mask("/proc/keys", &u(&["/proc/*"])));
    assert!(should_mask("/sys/firmware", &u(&["/proc/*"])));
    assert!(!should_mask("/sys/firmware", &u(&["all"])));
    let o = Opts::fold(&[
        SecurityOpt::Unmask("/proc/k*".into()),
        SecurityOpt::Mask(vec!["/etc/passwd".into(), "relative".into()]),
    ]);
    let (masked, readonly) = masks(false, &o);
    assert!(!masked.contains(&"/proc/keys".to_string()));
    assert!(!masked.contains(&"/proc/kcore".to_string()));
    assert!(masked.contains(&"/proc/acpi".to_string()));
    assert_eq!(masked.last().unwrap(), "/etc/passwd");
    assert!(!masked.iter().any(|m| m == "relative"));
    assert_eq!(readonly.len(), READONLY_PATHS.len());
    let (masked, readonly) = masks(true, &o);
    assert_eq!(masked, vec!["/etc/passwd"]);
    assert!(readonly.is_empty());
    assert_eq!(clean("/sys//fs/cgroup/"), "/sys/fs/cgroup");
}

#[test]
fn default_sysctls_are_checked_and_filtered() {
    let d = vec![
        "net.ipv4.ping_group_range=0 0".to_string(),
        "kernel.shmmax=100".into(),
    ];
    let all = sysctls(&d, false, false).unwrap();
    assert_eq!(all["net.ipv4.ping_group_range"], "0 0");
    assert_eq!(all.len(), 2);
    assert_eq!(sysctls(&d, true, false).unwrap().len(), 1);
    assert_eq!(
        sysctls(&["kernel.hostname=x".into()], false, false)
            .unwrap_err()
            .to_string(),
        "sysctl 'kernel.hostname' is not allowed"
    );
    assert!(sysctls(&["net.x = 1".into()], false, false).is_err());
    assert!(sysctls(&["net.x".into()], false, false).is_err());
}

#[test]
fn non_root_users_get_only_added_capabilities() {
    let conf = ContainersConf {
        containers: Default::default(),
        engine: Default::default(),
        files: Vec::new(),
    };
    let flags = SecurityFlags {
        cap_add: vec!["NET_ADMIN".into()],
        ..Default::default()
    };
    let host = caps::bounding_set();
    let (bounding, effective, ambient) = capabilities(&flags, &conf, "1000:1000").unwrap();
    assert!(bounding.iter().all(|c| host.contains(c)));
    if host.contains(&"CAP_NET_ADMIN".to_string()) {
        assert_eq!(effective, vec!["CAP_NET_ADMIN"]);
        assert_eq!(ambient, effective);
    }
    let (bounding, effective, ambient) = capabilities(&flags, &conf, "root").unwrap();
    assert_eq!(bounding, effective);
    assert!(ambient.is_empty());
}
