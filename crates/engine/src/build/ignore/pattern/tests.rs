//! Table tests covering the behaviours of moby's patternmatcher tests, with our own cases:
//! `**` at the start, middle and end, `*` and `?` not crossing `/`, classes, escapes, regex
//! metacharacters taken literally, exceptions, and the parent-directory rule. Each case is
//! checked three ways, as patternmatcher's own tests do: with parent directories looked up,
//! with match results handed down from each parent, and without parent information.

use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// (pattern, path, excluded)
const SINGLE: &[(&str, &str, bool)] = &[
    ("**", "notes", true),
    ("**", "a/b/c", true),
    ("**/", "notes", true),
    ("**/**", "a/notes", true),
    ("src/**", "src/main.rs", true),
    ("src/**", "src/deep/er/x", true),
    ("src/**", "src", false),
    ("src/**", "srcx/main.rs", false),
    ("**/build", "build", true),
    ("**/build", "a/build", true),
    ("**/build", "a/build/out.o", true),
    ("**/build", "rebuild", false),
    ("**/cache/*", "x/cache/f", true),
    ("**/cache/**", "x/cache/y/f", true),
    ("**log", "log", true),
    ("**log", "a/b/log", true),
    ("**log", "a/b/changelog", true),
    ("**/log", "a/b/changelog", false),
    ("**/log*", "a/log.txt", true),
    ("**/log*txt", "a/b/log.txt", true),
    ("**/**/*.md", "a/b/x.md", true),
    ("**/**/*.md", "x.md", true),
    ("**/*.md", "x.mdx", false),
    ("**.md", "x.md", true),
    ("**.md", "a/b/x.md", true),
    ("**.md", "a/b/x.markdown", false),
    ("a**/*.txt", "a/f.txt", true),
    ("a**/*.txt", "ab/c/f.txt", true),
    ("a/*.txt", "a/f.txt", true),
    ("a/*.txt", "a/d/f.txt", false),
    ("a/*.txt**", "a/f.txt", true),
    ("*", "top", true),
    ("*", "dir/file", true),
    ("*.go", "main.go", true),
    ("*.go", "cmd/main.go", false),
    ("*/*.go", "cmd/main.go", true),
    ("f?o", "foo", true),
    ("f?o", "fo", false),
    ("f?o", "f/o", false),
    ("v[1-3].txt", "v2.txt", true),
    ("v[1-3].txt", "v4.txt", false),
    ("v[^1-3].txt", "v4.txt", true),
    ("v[^1-3].txt", "v1.txt", false),
    ("v[!1].txt", "v!.txt", true),
    (".*", ".env", true),
    (".*", "env", false),
    ("a.b", "a.b", true),
    ("a.b", "axb", false),
    ("a+b(c)|{d}$", "a+b(c)|{d}$", true),
    ("app-1.0+build.tar.gz", "app-1.0+build.tar.gz", true),
    ("dist/*.whl", "dist/pkg-1.0+local-py3-none-any.whl", true),
    ("a\\*b", "a*b", true),
    ("a\\*b", "axb", false),
    ("a\\\\", "a\\", true),
    ("/abs/path", "abs/path", false),
    ("docs", "docs/a/b.md", true),
    ("docs/", "docs/readme", true),
    ("./docs/../docs", "docs/x", true),
    ("nested/dir", "nested/dir/inner/file", true),
    ("nested/dir", "nested/directory", false),
];

/// (patterns, path, excluded)
const MULTI: &[(&[&str], &str, bool)] = &[
    (&["*.go", "!main.go"], "main.go", false),
    (&["!main.go", "*.go"], "main.go", true),
    (&["docs", "!docs/README.md"], "docs/README.md", false),
    (&["docs/", "!docs/README.md"], "docs/README.md", false),
    (&["docs/*", "!docs/README.md"], "docs/README.md", false),
    (&["docs", "!docs/README.md"], "docs/other.md", true),
    (&["**", "!keep"], "keep/inner", false),
    (&["**", "!keep", "keep/inner"], "keep/inner", true),
    (
        &["**", "!dist/*.whl"],
        "dist/p-1.0+x-py3-none-any.whl",
        false,
    ),
    (&["**.md", "!keep.md"], "keep.md", false),
    (&["**.md", "!keep.md"], "sub/keep.md", true),
    (&["**.md", "!**/keep.md"], "sub/keep.md", false),
    (&[], "anything", false),
];

fn check(patterns: &[String], path: &str, want: bool) {
    let m = Matcher::new(patterns).unwrap();
    assert_eq!(m.matches(path), want, "matches({patterns:?}, {path:?})");

    // Handing results down from each parent directory.
    let mut info = MatchInfo::default();
    let parent = go_dir(path);
    if parent != "." {
        let dirs: Vec<&str> = parent.split('/').collect();
        for i in 0..dirs.len() {
            info = m.matches_with_parent(&dirs[..=i].join("/"), &info).1;
        }
    }
    assert_eq!(
        m.matches_with_parent(path, &info).0,
        want,
        "with parents ({patterns:?}, {path:?})"
    );
    assert_eq!(
        m.matches_with_parent(path, &MatchInfo::default()).0,
        want,
        "no context ({patterns:?}, {path:?})"
    );
}

#[test]
fn single_patterns() {
    for (p, path, want) in SINGLE {
        check(&s(&[p]), path, *want);
    }
}

#[test]
fn several_patterns_later_wins() {
    for (ps, path, want) in MULTI {
        check(&s(ps), path, *want);
    }
}

#[test]
fn bad_patterns() {
    assert_eq!(
        Matcher::new(&s(&["!"])).unwrap_err().1,
        "illegal exclusion pattern: \"!\""
    );
    for p in ["[", "a[", "x\\", "[z-a]", "[]"] {
        assert_eq!(
            Matcher::new(&s(&[p])).unwrap_err().1,
            "syntax error in pattern",
            "{p:?}"
        );
    }
}

#[test]
fn cleaning_and_blanks() {
    let m = Matcher::new(&s(&["  docs/ ", "", "!./keep/", "a//b/./c"])).unwrap();
    let texts: Vec<(&str, bool)> = m
        .patterns()
        .iter()
        .map(|p| (p.text(), p.is_exception()))
        .collect();
    // New cleans before taking the `!` off (ReadAll cleans the rest, see file.rs).
    assert_eq!(texts, [("docs", false), ("./keep", true), ("a/b/c", false)]);
    assert!(m.has_exceptions());
}
