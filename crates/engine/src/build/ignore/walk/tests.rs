//! Walk tests on real trees: what a copy of the context includes.

use std::fs;
use std::path::Path;

use super::*;
use crate::build::ignore::Ignore;

fn tree(root: &Path, files: &[&str]) {
    for f in files {
        let p = root.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, f.as_bytes()).unwrap();
    }
}

fn rels(root: &Path, start: &str, ignore: &str) -> Vec<String> {
    let ig = Ignore::from_text(Path::new(".containerignore"), ignore).unwrap();
    walk(root, start, &ig.matcher)
        .unwrap()
        .into_iter()
        .map(|e| e.rel)
        .collect()
}

const CONTEXT: &[&str] = &[
    "Containerfile",
    "README.md",
    "keep.md",
    "docs/guide.md",
    "docs/keep.md",
    "src/main.rs",
    "src/notes.md",
    "ignored.txt",
    "sub/ignored.txt",
    "build/out.o",
    "build/keep.txt",
    "vendor/lib/x.go",
    "vendor/lib/x.c",
];

/// buildah#6417's cases: `**.md`, `!keep.md`, a directory, a leading `/`. Docker keeps
/// only the top `keep.md` (the exception is relative to the context root), drops `build`
/// whole, and drops `/ignored.txt` only at the top.
#[test]
fn docker_semantics_for_buildah_6417() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), CONTEXT);
    let got = rels(dir.path(), "", "**.md\n!keep.md\nbuild\n/ignored.txt\n");
    assert_eq!(
        got,
        [
            "Containerfile",
            "docs",
            "keep.md",
            "src",
            "src/main.rs",
            "sub",
            "sub/ignored.txt",
            "vendor",
            "vendor/lib",
            "vendor/lib/x.c",
            "vendor/lib/x.go",
        ]
    );
}

#[test]
fn plain_exception_inside_an_excluded_directory() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), CONTEXT);
    let got = rels(dir.path(), "build", "build\n!build/keep.txt\n");
    assert_eq!(
        got,
        ["build", "build/keep.txt"],
        "the directory is listed for its kept child"
    );
    let got = rels(dir.path(), "", "*\n!build/keep.txt\n");
    assert_eq!(got, ["build", "build/keep.txt"]);
}

#[test]
fn wildcard_exception_descends_every_excluded_directory() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), CONTEXT);
    let got = rels(dir.path(), "", "*\n!**/*.go\n");
    assert_eq!(got, ["vendor", "vendor/lib", "vendor/lib/x.go"]);
}

#[test]
fn skip_decision() {
    let m = |pats: &[&str]| {
        Exceptions::of(
            &Matcher::new(&pats.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap(),
        )
    };
    assert!(m(&["build"]).may_skip("build"), "no exceptions");
    assert!(m(&["build", "!docs/x"]).may_skip("build"));
    assert!(!m(&["build", "!build/x"]).may_skip("build"));
    assert!(!m(&["build", "!build/sub/**"]).may_skip("build"));
    assert!(!m(&["build", "!build"]).may_skip("build"));
    assert!(
        m(&["build", "!buildx/y"]).may_skip("build"),
        "a prefix of the name is not inside"
    );
    assert!(
        !m(&["build", "!*.txt"]).may_skip("build"),
        "a wildcard exception may match anywhere"
    );
    assert!(!m(&["build", "!docs/*/x"]).may_skip("anything"));
}

#[test]
fn copying_a_subdirectory_or_an_excluded_file() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), CONTEXT);
    let ig = "**.md\n/ignored.txt\n";
    assert_eq!(rels(dir.path(), "src", ig), ["src", "src/main.rs"]);
    assert!(rels(dir.path(), "ignored.txt", ig).is_empty());
    assert_eq!(rels(dir.path(), "sub/ignored.txt", ig), ["sub/ignored.txt"]);
    assert!(rels(dir.path(), "docs", "docs\n").is_empty());
}

#[test]
fn symlinks_are_entries_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), &["real/file"]);
    std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
    std::os::unix::fs::symlink("/etc", dir.path().join("out")).unwrap();
    let got = walk(dir.path(), "", &Matcher::default()).unwrap();
    let names: Vec<(&str, bool)> = got
        .iter()
        .map(|e| (e.rel.as_str(), e.meta.file_type().is_symlink()))
        .collect();
    assert_eq!(
        names,
        [
            ("link", true),
            ("out", true),
            ("real", false),
            ("real/file", false)
        ]
    );
}

#[test]
fn ignore_file_errors_name_the_file_and_pattern() {
    let err = Ignore::from_text(Path::new("ctx/.dockerignore"), "ok\nbad[\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "ctx/.dockerignore: pattern \"bad[\": syntax error in pattern"
    );
}
