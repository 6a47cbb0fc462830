//! The cache is never wrong: every input that can change a step's result changes its key,
//! and inputs that cannot (an ignored file, a modification time, a line number, a proxy)
//! leave it alone.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::digest::{EntryFacts, digest_facts};
use super::*;
use crate::build::expand::{BuildArgs, GlobalArgs, StageScope, Vars};
use crate::build::ignore::{Ignore, Matcher};
use crate::build::parse::{InstructionKind, parse};

/// The key digests of every step of the first stage (parent "sha256:base"), with
/// `content` as the content summary of each COPY/ADD and `ignore` as its ignore rules.
fn keys(text: &str, args: &[(&str, &str)], content: &str, ignore: &[String]) -> Vec<String> {
    let cf = parse("Containerfile", text).unwrap();
    let args = BuildArgs::new(args.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let global = GlobalArgs::resolve(&cf, Vars::default(), &args).unwrap();
    let mut scope = StageScope::new(&cf, &["PATH=/bin".to_string()]);
    let mut parent = "sha256:base".to_string();
    let mut out = Vec::new();
    for i in &cf.stages[0].instructions {
        let (expanded, copy) = match &i.kind {
            InstructionKind::Arg(d) => {
                scope.declare(d, i.line, &global, &args).unwrap();
                (i.clone(), false)
            }
            InstructionKind::Copy(_) | InstructionKind::Add(_) => (scope.expand(i).unwrap(), true),
            _ => (scope.expand(i).unwrap(), false),
        };
        let key = CacheKey::new(&Step {
            parent: &parent,
            written: i,
            expanded: &expanded,
            scope: &scope,
            content: copy.then_some(content),
            ignore: copy.then_some(ignore),
        });
        scope.apply(&expanded);
        // The next step starts from an image that depends on this one.
        parent = format!("sha256:{}", key.digest());
        out.push(key.digest());
    }
    out
}

const DEMO: &str = "FROM localhost/bb\n\
    ARG GREETING=hi\n\
    ENV APP=/app\n\
    WORKDIR $APP\n\
    COPY --chown=0:0 hello.txt .\n\
    RUN echo \"$GREETING\" > greet.txt && ls\n\
    CMD [\"cat\", \"/app/greet.txt\"]\n";

#[test]
fn same_inputs_same_keys() {
    assert_eq!(
        keys(DEMO, &[], "file:aa", &[]),
        keys(DEMO, &[], "file:aa", &[])
    );
}

#[test]
fn a_changed_file_rebuilds_the_copy_and_what_follows() {
    let a = keys(DEMO, &[], "file:aa", &[]);
    let b = keys(DEMO, &[], "file:bb", &[]);
    assert_eq!(a[..3], b[..3]);
    assert!(a[3..].iter().zip(&b[3..]).all(|(x, y)| x != y));
}

#[test]
fn a_build_arg_reuses_the_arg_step_and_rebuilds_the_run() {
    let a = keys(DEMO, &[], "file:aa", &[]);
    let b = keys(DEMO, &[("GREETING", "yo")], "file:aa", &[]);
    assert_eq!(
        a[..4],
        b[..4],
        "ARG, ENV, WORKDIR and COPY do not use the value"
    );
    assert_ne!(a[4], b[4]);
}

#[test]
fn an_expanded_value_counts_even_when_the_history_does_not_show_it() {
    // podman#8591: `ENV X=$V` writes the same created_by for any V.
    let text = "FROM x\nARG V=1\nENV X=$V\nCOPY --chown=$V a b\n";
    let a = keys(text, &[], "file:aa", &[]);
    let b = keys(text, &[("V", "2")], "file:aa", &[]);
    assert_eq!(a[0], b[0]);
    assert_ne!(a[1], b[1]);
    assert_ne!(a[2], b[2]);
}

#[test]
fn chown_chmod_and_heredoc_bodies_count() {
    let base = keys("FROM x\nCOPY --chown=1:1 a b\n", &[], "file:aa", &[]);
    assert_ne!(
        base,
        keys("FROM x\nCOPY --chown=2:2 a b\n", &[], "file:aa", &[])
    );
    assert_ne!(
        base,
        keys(
            "FROM x\nCOPY --chown=1:1 --chmod=600 a b\n",
            &[],
            "file:aa",
            &[]
        )
    );
    // podman#21498: a heredoc body change must miss, trailing blanks included.
    let a = keys("FROM x\nRUN <<EOF\necho one\nEOF\n", &[], "", &[]);
    let b = keys("FROM x\nRUN <<EOF\necho two\nEOF\n", &[], "", &[]);
    let c = keys("FROM x\nRUN <<EOF\necho one \nEOF\n", &[], "", &[]);
    assert_ne!(a, b);
    assert_ne!(a, c);
    let a = keys("FROM x\nCOPY <<EOF /f\none\nEOF\n", &[], "file:aa", &[]);
    let b = keys("FROM x\nCOPY <<EOF /f\ntwo\nEOF\n", &[], "file:aa", &[]);
    assert_ne!(a, b);
}

#[test]
fn ignore_rules_count_for_context_copies() {
    let a = keys(
        "FROM x\nCOPY . /src\n",
        &[],
        "dir:aa",
        &["*.md".to_string()],
    );
    let b = keys(
        "FROM x\nCOPY . /src\n",
        &[],
        "dir:aa",
        &["*.md".to_string(), "!README.md".to_string()],
    );
    assert_ne!(a, b);
}

#[test]
fn what_cannot_change_the_result_does_not_miss() {
    // Moving an instruction (comments, blank lines) keeps its key.
    let a = keys("FROM x\nRUN make\n", &[], "", &[]);
    let b = keys("FROM x\n# build it\n\nRUN make\n", &[], "", &[]);
    assert_eq!(a, b);
    // A proxy reaches RUN but not the key.
    let c = keys(
        "FROM x\nRUN make\n",
        &[("HTTP_PROXY", "http://p:3128")],
        "",
        &[],
    );
    assert_eq!(a, c);
    // The parent image always counts.
    let d = keys("FROM x\nRUN make\nRUN test\n", &[], "", &[]);
    let e = keys("FROM x\nRUN other\nRUN test\n", &[], "", &[]);
    assert_ne!(d[1], e[1], "same instruction on another parent");
}

#[test]
fn extra_facts_count() {
    let cf = parse(
        "Containerfile",
        "FROM x\nRUN --mount=type=bind,target=/s make\n",
    )
    .unwrap();
    let scope = StageScope::new(&cf, &[]);
    let i = &cf.stages[0].instructions[0];
    let step = Step {
        parent: "sha256:p",
        written: i,
        expanded: i,
        scope: &scope,
        content: None,
        ignore: None,
    };
    let k = CacheKey::new(&step);
    assert_eq!(k.created_by, "/bin/sh -c --mount=type=bind,target=/s make");
    assert_ne!(
        k.clone().with("mount:/s", "dir:1").digest(),
        k.clone().with("mount:/s", "dir:2").digest()
    );
    assert_eq!(k.digest().len(), 64);
}

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

fn digest(root: &Path, rel: &str, m: &Matcher) -> String {
    digest_path(root, rel, m).unwrap().unwrap().to_string()
}

#[test]
fn tree_digest_sees_content_mode_names_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "app/main.js", "console.log(1)\n");
    write(root, "app/lib/util.js", "x");
    let none = Matcher::default();
    let d0 = digest(root, "app", &none);
    assert!(d0.starts_with("dir:"), "{d0}");

    write(root, "app/lib/util.js", "y");
    let d1 = digest(root, "app", &none);
    assert_ne!(d0, d1, "one changed byte");

    fs::set_permissions(
        root.join("app/lib/util.js"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let d2 = digest(root, "app", &none);
    assert_ne!(d1, d2, "a changed mode");

    fs::rename(root.join("app/lib/util.js"), root.join("app/lib/util2.js")).unwrap();
    let d3 = digest(root, "app", &none);
    assert_ne!(d2, d3, "a renamed file");

    std::os::unix::fs::symlink("main.js", root.join("app/link")).unwrap();
    let d4 = digest(root, "app", &none);
    fs::remove_file(root.join("app/link")).unwrap();
    std::os::unix::fs::symlink("lib", root.join("app/link")).unwrap();
    assert_ne!(d4, digest(root, "app", &none), "a changed symlink target");

    let f = digest(root, "app/main.js", &none);
    assert!(f.starts_with("file:"), "{f}");
}

#[test]
fn tree_digest_ignores_mtime_and_ignored_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "src/a.rs", "fn main() {}");
    write(root, "src/notes.md", "draft");
    let ig = Ignore::from_text(Path::new(".containerignore"), "**.md\n").unwrap();
    let d0 = digest(root, "", &ig.matcher);

    write(root, "src/notes.md", "another draft");
    assert_eq!(d0, digest(root, "", &ig.matcher), "an ignored file changed");

    let f = fs::File::options()
        .write(true)
        .open(root.join("src/a.rs"))
        .unwrap();
    f.set_modified(std::time::SystemTime::UNIX_EPOCH).unwrap();
    drop(f);
    assert_eq!(d0, digest(root, "", &ig.matcher), "only the mtime changed");

    assert_eq!(
        digest_path(root, "src/notes.md", &ig.matcher).unwrap(),
        None,
        "an ignored source is nothing"
    );
    assert_ne!(
        d0,
        digest(root, "", &Matcher::default()),
        "without the rule the draft counts"
    );
}

#[test]
fn owner_counts() {
    // Ownership is read from lstat; changing it needs root, so the record is checked here.
    let fact = |uid: u32, gid: u32| EntryFacts {
        rel: b"a".to_vec(),
        kind: b'f',
        mode: 0o644,
        uid,
        gid,
        size: 1,
        content: Some([7; 32]),
        link: None,
        rdev: 0,
    };
    let d = |f: EntryFacts| digest_facts(ContentKind::Dir, &[f]).hex;
    assert_ne!(d(fact(0, 0)), d(fact(1000, 0)));
    assert_ne!(d(fact(0, 0)), d(fact(0, 1000)));
    assert_eq!(d(fact(5, 5)), d(fact(5, 5)));
}

#[test]
fn summaries() {
    let a = digest_data("EOF", b"hello\n");
    assert_ne!(a, digest_data("EOF", b"hello \n"));
    assert_ne!(a, digest_data("OTHER", b"hello\n"));
    assert_eq!(content_summary(std::slice::from_ref(&a)), a.to_string());
    let b = ContentDigest {
        kind: ContentKind::Dir,
        hex: "00".repeat(32),
    };
    let multi = content_summary(&[a.clone(), b.clone()]);
    assert!(
        multi.starts_with("multi:") && multi.len() == "multi:".len() + 64,
        "{multi}"
    );
    assert_ne!(multi, content_summary(&[b, a]), "order counts");
    assert_eq!(content_summary(&[]), "");
}
