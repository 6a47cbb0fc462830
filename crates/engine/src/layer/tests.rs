//! Root tests for unpacking (hostile tarballs, metadata, whiteouts) and overlay mounts.
//! They create real files, device nodes and mounts; each uses its own temp dirs and cleans
//! up (mounts through a Drop guard). Without root they print "skipped" and return.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tar::{Builder, EntryType, Header};

use super::*;

fn is_root() -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        eprintln!("skipped: needs root (creates device nodes, chowns, mounts)");
        false
    }
}

/// A header whose name and link are written raw: the tar crate's setters refuse `..` and
/// absolute names, which is exactly what we need to send.
fn raw(name: &str, kind: EntryType, size: u64, link: Option<&str>, mode: u32) -> Header {
    let mut h = Header::new_gnu();
    {
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            old.linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h.set_cksum();
    h
}

enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
}

fn tarball(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = Builder::new(Vec::new());
    for e in entries {
        match e {
            E::File(n, data) => b.append(
                &raw(n, EntryType::Regular, data.len() as u64, None, 0o644),
                *data,
            ),
            E::Dir(n) => b.append(&raw(n, EntryType::Directory, 0, None, 0o755), &[][..]),
            E::Sym(n, t) => b.append(&raw(n, EntryType::Symlink, 0, Some(t), 0o777), &[][..]),
            E::Hard(n, t) => b.append(&raw(n, EntryType::Link, 0, Some(t), 0o644), &[][..]),
        }
        .unwrap();
    }
    b.into_inner().unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn lgetxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let p = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: both strings are NUL-terminated; `buf` has `buf.len()` writable bytes.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return None;
    }
    buf.truncate(r as usize);
    Some(buf)
}

#[test]
fn hostile_tarballs_stay_contained() {
    if !is_root() {
        return;
    }
    let unique = format!("peapod-escape-{:016x}", rand::random::<u64>());
    let host_tmp = PathBuf::from("/tmp").join(&unique);
    let evil_target = format!("/tmp/{unique}");
    let outer_hint = tempfile::tempdir().unwrap();
    let planted_target = outer_hint.path().join("target");
    fs::write(&planted_target, b"host data").unwrap();
    let planted_target_s = planted_target.to_str().unwrap().to_string();

    // (name, tar, expect_ok, path that must exist inside dest)
    let cases: Vec<(&str, Vec<u8>, bool, Option<String>)> = vec![
        (
            "dotdot",
            tarball(&[E::File("../../escape", b"x")]),
            true,
            Some("escape".into()),
        ),
        (
            "absolute",
            tarball(&[E::File("/abs/path", b"x")]),
            true,
            Some("abs/path".into()),
        ),
        (
            "symlink out then through it",
            tarball(&[E::Sym("evil", &evil_target), E::File("evil/owned", b"x")]),
            true,
            Some(format!("tmp/{unique}/owned")),
        ),
        (
            "relative symlink climbing out",
            tarball(&[E::Sym("up", "../../.."), E::File("up/x", b"x")]),
            true,
            Some("x".into()),
        ),
        (
            "dotdot into a symlinked dir",
            tarball(&[E::Sym("d", "/"), E::File("d/../../../../d2/f", b"x")]),
            true,
            Some("d2/f".into()),
        ),
        (
            "hard link to /etc/passwd (absent inside)",
            tarball(&[E::Hard("pw", "/etc/passwd")]),
            false,
            None,
        ),
        (
            "hard link to /etc/passwd (present inside)",
            tarball(&[
                E::File("etc/passwd", b"inner"),
                E::Hard("pw", "/etc/passwd"),
            ]),
            true,
            Some("pw".into()),
        ),
        (
            "hard link to ../../x",
            tarball(&[E::Hard("hl", "../../x")]),
            false,
            None,
        ),
        (
            "hard link through an outward symlink",
            tarball(&[E::Sym("s", &planted_target_s), E::Hard("hl", "s")]),
            true,
            None,
        ),
        (
            "file over a symlink pointing out",
            tarball(&[
                E::Sym("over", &planted_target_s),
                E::File("over", b"replaced"),
            ]),
            true,
            Some("over".into()),
        ),
        (
            "dir over a symlink pointing out",
            tarball(&[
                E::Sym("dd", outer_hint.path().to_str().unwrap()),
                E::Dir("dd"),
                E::File("dd/target", b"x"),
            ]),
            true,
            Some("dd/target".into()),
        ),
    ];
    let passwd_before = fs::metadata("/etc/passwd").unwrap();
    for (what, tar, expect_ok, inside) in cases {
        let outer = tempfile::tempdir().unwrap();
        let dest = outer.path().join("dest");
        let res = unpack(&tar[..], &dest);
        assert_eq!(res.is_ok(), expect_ok, "{what}: {res:?}");
        if let Err(e) = &res {
            assert!(e.to_string().contains("refusing tar entry"), "{what}: {e}");
        }
        assert_eq!(
            listing(outer.path()),
            vec!["dest"],
            "{what}: something appeared beside dest"
        );
        assert!(
            !host_tmp.exists(),
            "{what}: {host_tmp:?} created on the host"
        );
        assert!(!Path::new("/abs/path").exists(), "{what}");
        if let Some(p) = inside {
            let m =
                fs::symlink_metadata(dest.join(&p)).unwrap_or_else(|e| panic!("{what}: {p}: {e}"));
            assert!(!m.file_type().is_symlink(), "{what}: {p} is a symlink");
        }
        // The host files we pointed at are untouched.
        assert_eq!(fs::read(&planted_target).unwrap(), b"host data", "{what}");
        assert_eq!(
            fs::metadata(&planted_target).unwrap().nlink(),
            1,
            "{what}: host file got linked"
        );
        assert_eq!(listing(outer_hint.path()), vec!["target"], "{what}");
    }
    let passwd_after = fs::metadata("/etc/passwd").unwrap();
    assert_eq!(passwd_before.nlink(), passwd_after.nlink());
    assert_eq!(passwd_before.ino(), passwd_after.ino());
}

#[test]
fn hard_link_inside_shares_inode_with_inner_file() {
    if !is_root() {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    unpack(
        &tarball(&[
            E::File("etc/passwd", b"inner"),
            E::Hard("pw", "/etc/passwd"),
        ])[..],
        &dest,
    )
    .unwrap();
    let a = fs::metadata(dest.join("etc/passwd")).unwrap();
    let b = fs::metadata(dest.join("pw")).unwrap();
    assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()));
    assert_eq!(a.nlink(), 2);
}

#[test]
fn symlink_planted_before_unpack_is_resolved_inside() {
    if !is_root() {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let victim = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    fs::create_dir(&dest).unwrap();
    // As a racing process would: a symlink to a host directory inside dest.
    std::os::unix::fs::symlink(victim.path(), dest.join("pre")).unwrap();
    unpack(&tarball(&[E::File("pre/file", b"x")])[..], &dest).unwrap();
    assert!(
        listing(victim.path()).is_empty(),
        "wrote through a planted symlink"
    );
    let inner = dest
        .join(victim.path().strip_prefix("/").unwrap())
        .join("file");
    assert!(inner.is_file(), "{inner:?}");
}

#[test]
fn metadata_links_devices_xattrs_and_whiteouts() {
    if !is_root() {
        return;
    }
    let mut b = Builder::new(Vec::new());
    let mut dir = raw("d/", EntryType::Directory, 0, None, 0o750);
    dir.set_uid(1000);
    dir.set_gid(1001);
    dir.set_mtime(1_500_000_000);
    dir.set_cksum();
    b.append(&dir, &[][..]).unwrap();
    b.append_pax_extensions([
        ("SCHILY.xattr.user.foo", &b"bar"[..]),
        ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
        (
            "SCHILY.xattr.security.selinux",
            &b"system_u:object_r:bogus_t:s0"[..],
        ),
    ])
    .unwrap();
    let mut f = raw("d/f", EntryType::Regular, 5, None, 0o4755);
    f.set_uid(1234);
    f.set_gid(5678);
    f.set_mtime(1_400_000_000);
    f.set_cksum();
    b.append(&f, &b"hello"[..]).unwrap();
    b.append(
        &raw("d/l", EntryType::Symlink, 0, Some("f"), 0o777),
        &[][..],
    )
    .unwrap();
    b.append(&raw("d/h", EntryType::Link, 0, Some("d/f"), 0o644), &[][..])
        .unwrap();
    b.append(&raw("p", EntryType::Fifo, 0, None, 0o640), &[][..])
        .unwrap();
    let mut c = raw("null", EntryType::Char, 0, None, 0o666);
    c.set_device_major(1).unwrap();
    c.set_device_minor(3).unwrap();
    c.set_cksum();
    b.append(&c, &[][..]).unwrap();
    b.append(
        &raw("implicit/sub/file", EntryType::Regular, 1, None, 0o600),
        &b"z"[..],
    )
    .unwrap();
    b.append(
        &raw(".wh.gone", EntryType::Regular, 0, None, 0o600),
        &[][..],
    )
    .unwrap();
    b.append(
        &raw("d/.wh..wh..opq", EntryType::Regular, 0, None, 0o600),
        &[][..],
    )
    .unwrap();
    let tar = b.into_inner().unwrap();

    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    let summary = unpack(&tar[..], &dest).unwrap();
    use sha2::Digest as _;
    assert_eq!(
        summary.diff_id,
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&tar)))
    );
    assert_eq!(summary.tar_size, tar.len() as u64);
    assert_eq!(summary.content_size, 6);

    let d = fs::symlink_metadata(dest.join("d")).unwrap();
    assert!(d.is_dir());
    assert_eq!((d.uid(), d.gid(), d.mode() & 0o7777), (1000, 1001, 0o750));
    assert_eq!(
        d.mtime(),
        1_500_000_000,
        "directory mtime set after its contents"
    );
    assert_eq!(
        lgetxattr(&dest.join("d"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );

    let fm = fs::symlink_metadata(dest.join("d/f")).unwrap();
    assert_eq!(
        (fm.uid(), fm.gid(), fm.mode() & 0o7777),
        (1234, 5678, 0o4755),
        "setuid kept after chown"
    );
    assert_eq!(fm.mtime(), 1_400_000_000);
    assert_eq!(fs::read(dest.join("d/f")).unwrap(), b"hello");
    assert_eq!(
        lgetxattr(&dest.join("d/f"), "user.foo").as_deref(),
        Some(&b"bar"[..])
    );
    assert_eq!(
        lgetxattr(&dest.join("d/f"), "trusted.overlay.opaque"),
        None,
        "trusted.* from a tar is skipped"
    );
    assert_ne!(
        lgetxattr(&dest.join("d/f"), "security.selinux").as_deref(),
        Some(&b"system_u:object_r:bogus_t:s0"[..])
    );

    assert_eq!(fs::read_link(dest.join("d/l")).unwrap(), Path::new("f"));
    let h = fs::metadata(dest.join("d/h")).unwrap();
    assert_eq!(h.ino(), fm.ino());

    let p = fs::symlink_metadata(dest.join("p")).unwrap();
    assert!(p.file_type().is_fifo());
    assert_eq!(p.mode() & 0o7777, 0o640);
    let n = fs::symlink_metadata(dest.join("null")).unwrap();
    assert!(n.file_type().is_char_device());
    assert_eq!(n.rdev(), libc::makedev(1, 3));
    assert_eq!(n.mode() & 0o7777, 0o666);

    for implicit in ["implicit", "implicit/sub"] {
        let m = fs::metadata(dest.join(implicit)).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o755, "{implicit}");
    }
    let gone = fs::symlink_metadata(dest.join("gone")).unwrap();
    assert!(gone.file_type().is_char_device());
    assert_eq!(gone.rdev(), 0);
    assert!(!dest.join(".wh.gone").exists());
    assert!(!dest.join("d/.wh..wh..opq").exists());
}

#[test]
fn entry_replacing_a_directory_and_existing_types() {
    if !is_root() {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    let tar = tarball(&[
        E::Dir("x"),
        E::File("x/inner", b"1"),
        E::File("x", b"now a file"),
        E::File("y", b"file"),
        E::Dir("y"),
        E::File("y/z", b"2"),
    ]);
    unpack(&tar[..], &dest).unwrap();
    assert_eq!(fs::read(dest.join("x")).unwrap(), b"now a file");
    assert!(dest.join("y").is_dir());
    assert_eq!(fs::read(dest.join("y/z")).unwrap(), b"2");
}

#[test]
fn truncated_and_garbage_streams_give_clean_errors() {
    if !is_root() {
        return;
    }
    let tar = tarball(&[E::File("a", &[7u8; 20000]), E::File("b", b"x")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();

    let outer = tempfile::tempdir().unwrap();
    let ok = unpack(&gz[..], &outer.path().join("ok")).unwrap();
    use sha2::Digest as _;
    assert_eq!(
        ok.diff_id,
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&tar))),
        "diff id of the uncompressed stream"
    );

    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    assert_eq!(
        unpack(&zst[..], &outer.path().join("zst")).unwrap().diff_id,
        ok.diff_id
    );

    let cut = &gz[..gz.len() / 2];
    let e = unpack(cut, &outer.path().join("cut")).unwrap_err();
    assert!(e.to_string().contains("broken tar archive"), "{e}");

    let e = unpack(&tar[..tar.len() - 700], &outer.path().join("cut-plain")).unwrap_err();
    assert!(e.to_string().contains("broken tar archive"), "{e}");

    let e = unpack(
        &[0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2][..],
        &outer.path().join("xz"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("xz"), "{e}");
}

/// Unmounts on drop, so a failing assertion never leaves a mount behind.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        if let Err(e) = unmount(&self.0) {
            eprintln!("cleanup: {e}");
        }
    }
}

#[test]
fn whiteouts_and_opaque_dirs_work_under_overlay() {
    if !is_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::new(t.path().join("layers"));
    let lower_tar = tarball(&[
        E::File("a", b"a"),
        E::File("keep", b"k"),
        E::File("o/x", b"x"),
        E::File("o/y", b"y"),
    ]);
    let upper_tar = tarball(&[
        E::File(".wh.a", b""),
        E::File("o/.wh..wh..opq", b""),
        E::File("o/z", b"z"),
    ]);
    let (lower, _) = store.put(&lower_tar[..]).unwrap();
    let (upper, _) = store.put(&upper_tar[..]).unwrap();
    let c = t.path().join("ctr");
    for d in ["diff", "work", "merged"] {
        fs::create_dir_all(c.join(d)).unwrap();
    }
    let target = c.join("merged");
    mount_overlay(
        &[
            store.layer_dir(&upper.diff_id).unwrap(),
            store.layer_dir(&lower.diff_id).unwrap(),
        ],
        &c.join("diff"),
        &c.join("work"),
        &target,
        None,
    )
    .unwrap();
    let _g = MountGuard(target.clone());
    assert!(is_mountpoint(&target));
    assert_eq!(listing(&target), vec!["keep", "o"]);
    assert_eq!(listing(&target.join("o")), vec!["z"]);
    // Writes go to the container's upper dir, never the layers.
    fs::write(target.join("new"), b"n").unwrap();
    assert!(c.join("diff/new").is_file());
    assert!(
        !store
            .layer_dir(&upper.diff_id)
            .unwrap()
            .join("new")
            .exists()
    );
}

#[test]
fn overlay_with_zero_layers_and_with_many_layers() {
    if !is_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // Zero layers: an empty lower beside `work`.
    let c = t.path().join("scratch");
    for d in ["diff", "work", "merged"] {
        fs::create_dir_all(c.join(d)).unwrap();
    }
    mount_overlay(
        &[],
        &c.join("diff"),
        &c.join("work"),
        &c.join("merged"),
        None,
    )
    .unwrap();
    {
        let _g = MountGuard(c.join("merged"));
        assert!(is_mountpoint(&c.join("merged")));
        assert!(listing(&c.join("merged")).is_empty());
        fs::write(c.join("merged/f"), b"x").unwrap();
        assert!(c.join("diff/f").is_file());
    }
    assert!(!is_mountpoint(&c.join("merged")));

    // Enough layers with long paths that the options exceed a page.
    let base = t
        .path()
        .join("a-rather-long-directory-name-for-layers-so-options-overflow-one-page");
    let mut lowers = Vec::new();
    for i in 0..80 {
        let d = base.join(format!("layer-{i:03}-padding-padding-padding"));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join(format!("f{i}")), b"x").unwrap();
        fs::write(d.join("who"), format!("{i}")).unwrap();
        lowers.push(d);
    }
    let total: usize = lowers.iter().map(|p| p.as_os_str().len() + 1).sum();
    assert!(total > 4096, "test must exceed one page ({total})");
    let c = t.path().join("many");
    for d in ["diff", "work", "merged"] {
        fs::create_dir_all(c.join(d)).unwrap();
    }
    mount_overlay(
        &lowers,
        &c.join("diff"),
        &c.join("work"),
        &c.join("merged"),
        None,
    )
    .unwrap();
    let _g = MountGuard(c.join("merged"));
    let names = listing(&c.join("merged"));
    assert_eq!(names.len(), 81, "every layer is present: {names:?}");
    assert_eq!(
        fs::read_to_string(c.join("merged/who")).unwrap(),
        "0",
        "top-most first"
    );
}

#[test]
fn unmount_of_something_not_mounted_is_ok() {
    let t = tempfile::tempdir().unwrap();
    unmount(t.path()).unwrap();
    unmount(&t.path().join("missing")).unwrap();
    assert!(!is_mountpoint(t.path()));
    assert!(is_mountpoint(Path::new("/")));
}

#[test]
fn layer_store_concurrent_puts_and_remove() {
    if !is_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::new(t.path().join("layers"));
    let tar = tarball(&[E::File("etc/os-release", b"ID=test\n"), E::Dir("var/tmp")]);
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| store.put(&tar[..]).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    let diff_id = &results[0].0.diff_id;
    assert!(results.iter().all(|(s, _)| &s.diff_id == diff_id));
    let dir = store.layer_dir(diff_id).unwrap();
    assert_eq!(fs::read(dir.join("etc/os-release")).unwrap(), b"ID=test\n");
    let hex = diff_id.strip_prefix("sha256:").unwrap();
    assert_eq!(
        listing(&store.root),
        vec![hex.to_string()],
        "no temp dirs left"
    );
    assert!(store.exists(diff_id));
    store.remove(diff_id).unwrap();
    store.remove(diff_id).unwrap();
    assert!(listing(&store.root).is_empty());
    assert!(store.layer_dir("sha256:../../x").is_err());

    // A broken layer leaves nothing behind.
    let e = store.put(&tar[..tar.len() - 700]).unwrap_err();
    assert!(e.to_string().contains("broken"), "{e}");
    assert!(listing(&store.root).is_empty());
}

#[test]
fn unpack_root_entry_sets_root_metadata() {
    if !is_root() {
        return;
    }
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("dest");
    let mut b = Builder::new(Vec::new());
    b.append(&raw("./", EntryType::Directory, 0, None, 0o711), &[][..])
        .unwrap();
    b.append(&raw("./f", EntryType::Regular, 0, None, 0o600), &[][..])
        .unwrap();
    unpack(&b.into_inner().unwrap()[..], &dest).unwrap();
    let m = fs::metadata(&dest).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o711);
    assert_eq!(m.mtime(), 1_600_000_000);
}

#[test]
fn put_checked_keeps_nothing_when_the_check_fails() {
    if !is_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::new(t.path().join("layers"));
    let tar = tarball(&[E::Dir("etc/"), E::File("etc/hostname", b"box\n")]);
    let e = store
        .put_checked(&tar[..], |_, _| {
            Err(LayerError::Verify("digest did not match".into()))
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "digest did not match");
    assert!(
        listing(&store.root).is_empty(),
        "{:?}",
        listing(&store.root)
    );
    // The check sees the summary and can drain the rest of the stream.
    let (summary, created) = store
        .put_checked(&tar[..], |s, r| {
            let mut rest = Vec::new();
            std::io::Read::read_to_end(r, &mut rest).unwrap();
            assert!(rest.is_empty(), "the unpacker read the whole stream");
            assert_eq!(s.tar_size, tar.len() as u64);
            Ok(())
        })
        .unwrap();
    assert!(created);
    assert_eq!(store.tar_size(&summary.diff_id), Some(tar.len() as u64));
}

#[test]
fn sweep_removes_only_entries_of_dead_processes() {
    let t = tempfile::tempdir().unwrap();
    let store = LayerStore::new(t.path());
    // A pid that cannot exist (above pid_max) and our own.
    let dead = t.path().join(".tmp-2147483646-00000000000000aa");
    let mine = t
        .path()
        .join(format!(".tmp-{}-00000000000000bb", std::process::id()));
    let old_style = t.path().join(".tmp-00000000000000cc");
    let layer = t.path().join("abc");
    for d in [&dead, &mine, &old_style, &layer] {
        std::fs::create_dir_all(d.join("diff")).unwrap();
    }
    std::fs::write(t.path().join(".rm-2147483646-1"), b"x").unwrap();
    assert_eq!(store.sweep_stale(), 2);
    assert!(!dead.exists());
    assert!(mine.exists() && old_style.exists() && layer.exists());
}

#[test]
fn only_the_initial_namespace_has_the_identity_map() {
    assert!(is_identity_map("         0          0 4294967295\n"));
    assert!(!is_identity_map("0 1001 1\n1 100000 65536\n"));
    assert!(!is_identity_map("0 0 65536\n"));
    assert!(!is_identity_map(""));
}

#[test]
fn overlay_xattrs_from_a_tar_are_refused() {
    assert!(unpack::xattr_allowed("user.mime_type"));
    assert!(!unpack::xattr_allowed("user.overlay.opaque"));
    assert!(!unpack::xattr_allowed("user.overlay.redirect"));
    assert!(!unpack::xattr_allowed("user.fuseoverlayfs.opaque"));
    assert!(!unpack::xattr_allowed("user.containers.override_stat"));
    assert!(!unpack::xattr_allowed("trusted.overlay.opaque"));
    assert!(unpack::xattr_allowed("security.capability"));
}

#[test]
fn a_volatile_overlay_mounts_again_over_its_own_marker_and_keeps_its_writes() {
    if !is_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let c = t.path().join("ctr");
    for d in ["diff", "work", "merged"] {
        fs::create_dir_all(c.join(d)).unwrap();
    }
    let (upper, work, target) = (c.join("diff"), c.join("work"), c.join("merged"));
    let options = |target: &Path| {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let want = target.to_string_lossy().into_owned();
        info.lines()
            .find(|l| l.split(' ').nth(4) == Some(want.as_str()))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    mount_overlay_volatile(&[], &upper, &work, &target).unwrap();
    let guard = MountGuard(target.clone());
    assert!(
        options(&target).contains("volatile"),
        "{}",
        options(&target)
    );
    fs::write(target.join("new"), b"n").unwrap();
    drop(guard);
    assert!(!is_mountpoint(&target));
    // The kernel leaves its marker, and would refuse a second volatile mount over it.
    assert!(work.join("work/incompat/volatile").is_dir());
    mount_overlay_volatile(&[], &upper, &work, &target).unwrap();
    let _g = MountGuard(target.clone());
    assert_eq!(fs::read(target.join("new")).unwrap(), b"n");
    // A plain mount has no such option.
    let plain = t.path().join("plain");
    for d in ["diff", "work", "merged"] {
        fs::create_dir_all(plain.join(d)).unwrap();
    }
    let ptarget = plain.join("merged");
    mount_overlay(
        &[],
        &plain.join("diff"),
        &plain.join("work"),
        &ptarget,
        None,
    )
    .unwrap();
    let _p = MountGuard(ptarget.clone());
    assert!(!options(&ptarget).contains("volatile"));
}
