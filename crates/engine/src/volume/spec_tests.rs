//! Tests of spec.rs.
use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn volume_flag_forms() {
    let m = parse_volume_flag("data:/srv/data:ro,U").unwrap();
    assert_eq!(m.kind, MountKind::Volume);
    assert_eq!(
        (m.source.as_str(), m.destination.as_str()),
        ("data", "/srv/data")
    );
    assert!(m.read_only() && m.chown() && !m.nocopy());
    let m = parse_volume_flag("/host/dir/:/x//y/").unwrap();
    assert_eq!(m.kind, MountKind::Bind);
    assert_eq!(
        (m.source.as_str(), m.destination.as_str()),
        ("/host/dir", "/x/y")
    );
    let m = parse_volume_flag("/anon").unwrap();
    assert_eq!(m.kind, MountKind::Anonymous);
    assert!(m.source.is_empty());
}

#[test]
fn volume_flag_bad_input() {
    let e = |v: &str| parse_volume_flag(v).unwrap_err().to_string();
    assert!(e("rel/path:/x").contains("names must match"));
    assert!(e("rel/path:/x").contains("rel/path"));
    assert!(e("../x:/x").contains("relative host paths"));
    assert!(e("./x:/x").contains("\"./x\""));
    assert_eq!(
        e("/tmp:rel"),
        "invalid container path \"rel\", must be an absolute path"
    );
    assert!(e("/:/").contains("root directory"));
    assert!(e("/x:/a/..").contains("root directory"));
    assert_eq!(e("v:/x:bogus"), "invalid option type \"bogus\"");
    assert_eq!(
        e("v:/x:ro,rw"),
        "invalid options \"ro, rw\", can only specify 1 'rw' or 'ro' option"
    );
    assert!(e("v:/x:shared,slave").contains("[r]shared"));
    assert!(e("a:b:c:d").contains("incorrect volume format"));
    assert!(e(":/x").contains("cannot be empty"));
    assert!(e("v:/x:O").contains("not supported"));
}

#[test]
fn oci_options_match_podman() {
    let none = SourceFlags::default();
    let v = parse_volume_flag("foo:/data").unwrap();
    assert_eq!(
        v.oci_options(none),
        s(&["rw", "rprivate", "nosuid", "nodev", "rbind"])
    );
    assert_eq!(v.inspect_options(none), s(&["nosuid", "nodev", "rbind"]));
    let v = parse_volume_flag("foo:/data:ro,z,nocopy,U").unwrap();
    assert_eq!(
        v.oci_options(none),
        s(&["ro", "rprivate", "nosuid", "nodev", "rbind"])
    );
    let b = parse_volume_flag("/h:/h:ro,z").unwrap();
    assert_eq!(b.oci_options(none), s(&["ro", "rprivate", "rbind"]));
    assert_eq!(b.inspect_options(none), s(&["rbind"]));
    let flags = SourceFlags {
        noexec: true,
        nosuid: true,
        nodev: false,
    };
    let b = parse_volume_flag("/h:/h:shared,exec").unwrap();
    assert_eq!(
        b.oci_options(flags),
        s(&["shared", "exec", "rw", "nosuid", "rbind"])
    );
    assert_eq!(b.propagation(), "shared");
    let t = parse_tmpfs_flag("/tt:size=1m").unwrap();
    assert_eq!(
        t.oci_options(none),
        s(&["size=1m", "rw", "rprivate", "nosuid", "nodev", "tmpcopyup"])
    );
    let v = parse_volume_flag("foo:/x:nocopy,z").unwrap();
    assert_eq!(
        v.inspect_options(none),
        s(&["nocopy", "nosuid", "nodev", "rbind"])
    );
    assert_eq!(v.mode(), "z");
    assert_eq!(
        v.config_options(none),
        s(&["nocopy", "z", "rw", "rprivate", "nosuid", "nodev", "rbind"])
    );
    let b = parse_volume_flag("/h:/h:U,Z").unwrap();
    assert_eq!(b.inspect_options(none), s(&["U", "rbind"]));
    assert_eq!(b.oci_options(none), s(&["rw", "rprivate", "rbind"]));
    let i = MountSpec {
        from_image: true,
        ..parse_volume_flag("/data").unwrap()
    };
    assert_eq!(
        i.oci_options(none),
        s(&["rprivate", "rw", "nodev", "exec", "nosuid", "rbind"])
    );
    assert_eq!(
        i.inspect_options(none),
        s(&["nodev", "exec", "nosuid", "rbind"])
    );
}

#[test]
fn mount_flag() {
    let m = parse_mount_flag("type=bind,src=/h,dst=/x,ro=true,bind-propagation=rslave").unwrap();
    assert_eq!(m.kind, MountKind::Bind);
    assert!(m.read_only());
    assert_eq!(m.propagation(), "rslave");
    let m = parse_mount_flag("type=volume,source=v1,target=/v,nocopy").unwrap();
    assert_eq!((m.kind, m.source.as_str()), (MountKind::Volume, "v1"));
    assert!(m.nocopy());
    let m = parse_mount_flag("type=volume,dst=/v").unwrap();
    assert_eq!(m.kind, MountKind::Anonymous);
    let m = parse_mount_flag("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777").unwrap();
    assert_eq!(m.options, s(&["size=1m", "mode=1777"]));
    let e = |v: &str| parse_mount_flag(v).unwrap_err().to_string();
    assert_eq!(e("type=foo,dst=/x"), "invalid filesystem type \"foo\"");
    assert_eq!(
        e("type=volume,src=a,dst=/x,bogus"),
        "bogus: invalid mount option"
    );
    assert!(e("type=bind,dst=/x").contains("source"));
    assert!(e("type=bind,src=rel,dst=/x").contains("relative"));
    assert!(e("type=volume,src=../x,dst=/x").contains("names must match"));
    assert!(e("type=tmpfs,src=/a,dst=/x").contains("invalid mount option"));
    assert!(e("src=/a,dst=/x").contains("type"));
    assert!(e("type=bind,src=/a").contains("destination"));
    assert!(e("type=bind,src=/,dst=/").contains("root directory"));
}

#[test]
fn tmpfs_flag() {
    assert!(parse_tmpfs_flag("/x:size=64m,mode=1777,noexec").is_ok());
    let e = |v: &str| parse_tmpfs_flag(v).unwrap_err().to_string();
    assert_eq!(
        e("/x:bogus"),
        "unknown mount option \"bogus\": invalid mount option"
    );
    assert!(e("rel").contains("absolute"));
    assert!(e("/x:size=lots").contains("size=lots"));
    assert!(e("/x:ro,rw").contains("duplicate"));
    assert!(e("/x:rbind").contains("not allowed"));
}

#[test]
fn volumes_from() {
    assert_eq!(parse_volumes_from("c1").unwrap(), ("c1".into(), None));
    assert_eq!(
        parse_volumes_from("c1:ro").unwrap(),
        ("c1".into(), Some(true))
    );
    assert!(
        parse_volumes_from("c1:bogus")
            .unwrap_err()
            .to_string()
            .contains("can only use z,ro,rw")
    );
    let m = parse_volume_flag("v:/d:ro,U").unwrap();
    let i = inherit(&m, Some(false)).unwrap();
    assert_eq!(i.options, s(&["rw"]));
    assert!(inherit(&parse_tmpfs_flag("/t").unwrap(), None).is_none());
}

#[test]
fn duplicates_and_cleaning() {
    let a = parse_volume_flag("a:/x").unwrap();
    let b = parse_volume_flag("b:/x/").unwrap();
    assert_eq!(
        check_duplicates(&mut vec![a.clone(), b])
            .unwrap_err()
            .to_string(),
        "/x: duplicate mount destination"
    );
    let mut twice = vec![a.clone(), a.clone()];
    check_duplicates(&mut twice).unwrap();
    assert_eq!(
        twice,
        std::slice::from_ref(&a),
        "the same mount twice is one"
    );
    let t = parse_tmpfs_flag("/t").unwrap();
    let t_ro = parse_tmpfs_flag("/t:ro").unwrap();
    assert!(check_duplicates(&mut vec![t.clone(), t.clone()]).is_ok());
    assert!(check_duplicates(&mut vec![t, t_ro]).is_err());
    assert_eq!(clean_path("/a/./b/../../../c"), "/c");
    assert_eq!(clean_path("/"), "/");
}
