//! Hostile tarballs given to `peapod import`: `..` names, absolute names, symlinks and hard
//! links pointing out. Each must be refused (exit 125, `Error:`) or contained: nothing
//! appears or changes outside the store.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::util::{TestEnv, name};

/// A tar entry written with raw header bytes, because the `tar` crate (rightly) refuses to
/// build `..` or absolute names.
fn raw_entry(out: &mut Vec<u8>, path: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]) {
    let mut h = tar::Header::new_old();
    {
        let old = h.as_old_mut();
        assert!(path.len() < old.name.len(), "entry name too long: {path}");
        old.name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(link) = link {
            assert!(
                link.len() < old.linkname.len(),
                "link name too long: {link}"
            );
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
    }
    h.set_entry_type(kind);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(data.len() as u64);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    out.extend_from_slice(data);
    let pad = (512 - data.len() % 512) % 512;
    out.extend(std::iter::repeat_n(0u8, pad));
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    out.extend(std::iter::repeat_n(0u8, 1024));
    out
}

/// A host directory outside the store, removed on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new(tag: &str) -> HostDir {
        let dir = PathBuf::from(format!("/tmp/{}", name(tag)));
        fs::create_dir_all(&dir).unwrap();
        HostDir(dir)
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn entries_of(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Imports `tar` as `reference`: either refused properly, or accepted. Returns true when
/// accepted.
fn import_hostile(env: &TestEnv, tar: &Path, reference: &str) -> bool {
    let out = env.run(&["import", tar.to_str().unwrap(), reference]);
    if out.code() == 0 {
        true
    } else {
        out.assert_error(125, &[]);
        // A refused import leaves no image behind.
        env.run(&["image", "exists", reference]).assert_code(1);
        false
    }
}

#[test]
fn dotdot_and_absolute_names_are_refused_or_contained() {
    let env = TestEnv::new("hostile-dotdot");
    let marker = name("pp-escape");
    let mut tar = Vec::new();
    raw_entry(&mut tar, "ok/", tar::EntryType::Directory, None, b"");
    raw_entry(
        &mut tar,
        "ok/file",
        tar::EntryType::Regular,
        None,
        b"fine\n",
    );
    let mut escapes = Vec::new();
    // Every depth, so whatever the layer dir's depth, one lands exactly at / and others at
    // each ancestor of the store.
    for depth in 1..=12 {
        let entry = format!("{}{marker}-{depth}", "../".repeat(depth));
        raw_entry(
            &mut tar,
            &entry,
            tar::EntryType::Regular,
            None,
            b"escaped\n",
        );
        escapes.push(format!("{marker}-{depth}"));
    }
    let deep = format!("{}tmp/{marker}-tmp", "../".repeat(16));
    raw_entry(&mut tar, &deep, tar::EntryType::Regular, None, b"escaped\n");
    let abs = format!("/tmp/{marker}-abs");
    raw_entry(&mut tar, &abs, tar::EntryType::Regular, None, b"escaped\n");
    let inner = format!("ok/../../{marker}-inner");
    raw_entry(
        &mut tar,
        &inner,
        tar::EntryType::Regular,
        None,
        b"escaped\n",
    );
    escapes.push(format!("{marker}-inner"));
    let path = env.dir.join("dotdot.tar");
    fs::write(&path, finish(tar)).unwrap();

    let accepted = import_hostile(&env, &path, "localhost/hostile-dotdot");
    // Wherever a `..` may have led: the test dir, its ancestors (/tmp, /), none may hold them.
    let mut outside: Vec<PathBuf> = vec![env.dir.clone()];
    let mut p = env.dir.clone();
    while let Some(parent) = p.parent() {
        outside.push(parent.to_path_buf());
        p = parent.to_path_buf();
    }
    for dir in &outside {
        for e in &escapes {
            assert!(
                !dir.join(e).exists(),
                "{} escaped the store (import accepted: {accepted})",
                dir.join(e).display()
            );
        }
    }
    for host in [format!("/tmp/{marker}-tmp"), abs.clone()] {
        assert!(
            !Path::new(&host).exists(),
            "{host} was written on the host (import accepted: {accepted})"
        );
    }
    if accepted {
        // Contained: the image is usable and the benign entry is there.
        env.run(&["image", "exists", "localhost/hostile-dotdot"])
            .assert_code(0);
    }
    env.assert_no_mounts();
}

#[test]
fn escaping_symlinks_and_hardlinks_are_refused_or_contained() {
    let env = TestEnv::new("hostile-links");
    let target = HostDir::new("pp-escape-target");
    let victim = target.0.join("victim");
    fs::write(&victim, b"original\n").unwrap();
    let before = entries_of(&target.0);
    let t = target.0.to_str().unwrap().to_owned();

    let mut tar = Vec::new();
    // Absolute symlink to a host dir, then a file written through it.
    raw_entry(&mut tar, "evil", tar::EntryType::Symlink, Some(&t), b"");
    raw_entry(
        &mut tar,
        "evil/pwned",
        tar::EntryType::Regular,
        None,
        b"pwned\n",
    );
    // Relative symlink climbing out, then a file through it.
    let rel = format!("{}{}", "../".repeat(16), t.trim_start_matches('/'));
    raw_entry(&mut tar, "evil2", tar::EntryType::Symlink, Some(&rel), b"");
    raw_entry(
        &mut tar,
        "evil2/pwned2",
        tar::EntryType::Regular,
        None,
        b"pwned\n",
    );
    // A symlink to the host file itself, then the file overwritten through it.
    raw_entry(
        &mut tar,
        "victimlink",
        tar::EntryType::Symlink,
        Some(victim.to_str().unwrap()),
        b"",
    );
    raw_entry(
        &mut tar,
        "victimlink",
        tar::EntryType::Regular,
        None,
        b"overwritten\n",
    );
    // A hard link to a host file (would share the inode), and one climbing out.
    raw_entry(
        &mut tar,
        "hard",
        tar::EntryType::Link,
        Some(victim.to_str().unwrap()),
        b"",
    );
    let rel_victim = format!(
        "{}{}",
        "../".repeat(16),
        victim.to_str().unwrap().trim_start_matches('/')
    );
    raw_entry(
        &mut tar,
        "hard2",
        tar::EntryType::Link,
        Some(&rel_victim),
        b"",
    );
    let path = env.dir.join("links.tar");
    fs::write(&path, finish(tar)).unwrap();

    let accepted = import_hostile(&env, &path, "localhost/hostile-links");

    assert_eq!(
        entries_of(&target.0),
        before,
        "files appeared in the host dir {} (import accepted: {accepted})",
        target.0.display()
    );
    assert_eq!(
        fs::read(&victim).unwrap(),
        b"original\n",
        "the host file was overwritten through a symlink (import accepted: {accepted})"
    );
    assert_eq!(
        fs::metadata(&victim).unwrap().nlink(),
        1,
        "a hard link to the host file was made (import accepted: {accepted})"
    );
    env.assert_no_mounts();
}
