//! Table tests for the lexer, covering the behaviours of BuildKit's `envVarTest` and
//! `wordsTest` tables with our own cases.

use super::*;

fn env() -> Vec<(String, String)> {
    [
        ("HOME", "/root"),
        ("SH", "dash"),
        ("GREEK", "αβγ"),
        ("EMPTY", ""),
        ("SPACED", "one  two"),
        ("PADDED", "  x y"),
        ("TRAIL", "p q   "),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn word(lex: &Lex, input: &str) -> Result<String, String> {
    lex.process_word(input, &env()).map(|p| p.result)
}

/// `None` means the input must be refused.
const WORD_CASES: &[(&str, Option<&str>)] = &[
    // quotes and escapes
    ("plain", Some("plain")),
    ("pl'ai'n", Some("plain")),
    ("pl'ain", None),
    ("pl\\'ain", Some("pl'ain")),
    ("pl\\\\'ain", None),
    ("a\\tb", Some("atb")),
    ("\"a\\tb\"", Some("a\\tb")),
    ("\"a\\\\tb\"", Some("a\\tb")),
    ("'a\\tb'", Some("a\\tb")),
    ("end\\", Some("end")),
    ("end\\\\", Some("end\\")),
    ("\"open", None),
    ("\"open\\\"", None),
    ("\"it's\"", Some("it's")),
    ("'open", None),
    ("'back\\'", Some("back\\")),
    ("'x\\\\y'", Some("x\\\\y")),
    ("\"''\"", Some("''")),
    ("'\"q\"'", Some("\"q\"")),
    // $ forms
    ("$.", Some("$.")),
    ("a$", Some("a$")),
    ("x$1y", Some("xy")),
    ("x$.y", Some("x$.y")),
    ("x$home.", Some("x.")),
    ("x$HOME", Some("x/root")),
    ("x\\$HOME", Some("x$HOME")),
    ("x\\\\$HOME", Some("x\\/root")),
    ("\"x\\$HOME\"", Some("x$HOME")),
    ("\"x\\\\$HOME\"", Some("x\\/root")),
    ("'x\\$HOME'", Some("x\\$HOME")),
    ("'$HOME'", Some("$HOME")),
    ("\"$HOME\"", Some("/root")),
    ("\"x'$HOME'\"", Some("x'/root'")),
    ("\\${}", Some("${}")),
    ("x\\${}y", Some("x${}y")),
    ("${}", None),
    ("x${}y", None),
    ("${{a}", None),
    ("${a}}", Some("}")),
    ("${a", None),
    ("${:}", None),
    ("${:-b}", None),
    ("${.}", None),
    ("x${unset}y", Some("xy")),
    ("x${HOME}y", Some("x/rooty")),
    ("$GREEK!", Some("αβγ!")),
    ("α'β'γ", Some("αβγ")),
    ("α\\tβ", Some("αtβ")),
    // defaults and alternatives
    ("${U:-d}", Some("d")),
    ("${HOME:-d}", Some("/root")),
    ("${EMPTY:-d}", Some("d")),
    ("${EMPTY-d}", Some("")),
    ("${U-d}", Some("d")),
    ("${U:-$HOME}", Some("/root")),
    ("${U:-${V:-nested}}", Some("nested")),
    ("${U:-${HOME:-no}}", Some("/root")),
    ("${U:+alt}", Some("")),
    ("${HOME:+alt}", Some("alt")),
    ("${EMPTY:+alt}", Some("")),
    ("${EMPTY+alt}", Some("alt")),
    ("${HOME:+${U}}x", Some("x")),
    ("${HOME:+${SH}}x", Some("dashx")),
    ("${HOME:+$HOME:}x", Some("/root:x")),
    ("${U:-\\$HOME:}x", Some("$HOME:x")),
    ("${U:-\\${HOME}z}x", Some("${HOMEz}x")),
    ("${U:-b {c}", Some("b {c")),
    ("${U:-b ${c}", None),
    ("${U:-b", None),
    ("${U:-b}}", Some("b}")),
    ("${U:x}", None),
    ("${HOME:=x}", None),
    // required
    ("${U?}", None),
    ("${U:?}", None),
    ("${HOME?}", Some("/root")),
    ("${HOME:?}", Some("/root")),
    ("${EMPTY?}", Some("")),
    ("${EMPTY:?}", None),
    // positional and special parameters are never set
    ("$1", Some("")),
    ("${12}", Some("")),
    ("${3:-b}", Some("b")),
    ("${3:+b}", Some("")),
    ("$123abc", Some("abc")),
    ("$007x", Some("x")),
    ("$@", Some("")),
    ("$@@@", Some("@@")),
    ("${*:-b}x", Some("bx")),
    ("$#", Some("")),
    ("${?:-b}", Some("b")),
    ("$-", Some("")),
    ("$$", Some("")),
    ("${!}", Some("")),
    ("$0", Some("")),
    ("${0:-b}", Some("b")),
    // patterns
    ("${U#x}", Some("")),
    ("${HOME#/}", Some("root")),
    ("${HOME#*o}", Some("ot")),
    ("${HOME##*o}", Some("t")),
    ("${HOME%o*}", Some("/ro")),
    ("${HOME%%o*}", Some("/r")),
    ("${HOME:#x}", None),
    ("${HOME:%x}", None),
    ("${HOME/o/0}", Some("/r0ot")),
    ("${HOME//o/0}", Some("/r00t")),
    ("${HOME//ro}", None),
    ("${HOME//}", None),
    ("${HOME///}", Some("/root")),
    ("${HOME//\\//\\/}", Some("\\/root")),
    ("${U///}", Some("")),
];

#[test]
fn words_expand_as_buildkit_does() {
    let lex = Lex::new('\\');
    for (input, want) in WORD_CASES {
        let got = word(&lex, input);
        match want {
            Some(w) => assert_eq!(got.as_deref(), Ok(*w), "input {input:?}"),
            None => assert!(got.is_err(), "input {input:?} gave {got:?}"),
        }
    }
}

#[test]
fn backtick_escape_token() {
    let lex = Lex::new('`');
    assert_eq!(word(&lex, "a`$HOME").unwrap(), "a$HOME");
    assert_eq!(word(&lex, "c:\\dir").unwrap(), "c:\\dir");
    assert_eq!(word(&lex, "\"a`\"b\"").unwrap(), "a\"b");
}

#[test]
fn words_split_after_expansion() {
    let lex = Lex::new('\\');
    let cases: &[(&str, &[&str])] = &[
        ("hello", &["hello"]),
        ("a${U}b", &["ab"]),
        ("a${SH}b", &["adashb"]),
        ("a${SPACED}b", &["aone", "twob"]),
        ("a\"${SPACED}\"b", &["aone  twob"]),
        ("a \"${SPACED}\"b", &["a", "one  twob"]),
        ("a${PADDED}c", &["a", "x", "yc"]),
        ("a\"${PADDED}\" c", &["a  x y", "c"]),
        ("a${TRAIL}", &["ap", "q"]),
        ("a${TRAIL}d", &["ap", "q", "d"]),
        ("a\"${TRAIL}\"d", &["ap q   d"]),
        ("a\" b  \"", &["a b  "]),
        ("a b     ", &["a", "b"]),
        ("a\\ b", &["a b"]),
        ("a\\\" b", &["a\"", "b"]),
        ("a\"\\\\b\"", &["a\\b"]),
        ("a'\\\\b'", &["a\\\\b"]),
        ("a'$b'", &["a$b"]),
        ("\"\"", &[]),
        ("x << EOF", &["x", "<< EOF"]),
    ];
    for (input, want) in cases {
        let got = lex.process_words(input, &env()).unwrap();
        assert_eq!(got, *want, "input {input:?}");
    }
    assert!(lex.process_words("a\" b", &env()).is_err());
}

#[test]
fn matched_and_unmatched_are_reported() {
    let lex = Lex::new('\\');
    let p = lex.process_word("${U:-.}${HOME%t}${SH}$Z", &env()).unwrap();
    assert_eq!(p.result, "./roodash");
    assert_eq!(p.matched.into_iter().collect::<Vec<_>>(), ["HOME", "SH"]);
    assert_eq!(p.unmatched.into_iter().collect::<Vec<_>>(), ["U", "Z"]);
}

#[test]
fn skip_unset_and_raw_modes() {
    let mut lex = Lex::new('\\');
    lex.skip_unset_env = true;
    assert_eq!(
        word(&lex, "$U ${U} ${U:-x} ${U/a/b} $HOME").unwrap(),
        "$U ${U} ${U:-x} ${U/a/b} /root"
    );
    let mut raw = Lex::new('\\');
    raw.raw_quotes = true;
    raw.raw_escapes = true;
    assert_eq!(
        word(&raw, "'a' \"b\\$\" c\\d").unwrap(),
        "'a' \"b\\$\" c\\d"
    );
    let mut noquotes = Lex::new('\\');
    noquotes.skip_process_quotes = true;
    assert_eq!(word(&noquotes, "'$HOME' \"x\"").unwrap(), "'/root' \"x\"");
}

#[test]
fn errors_name_the_word() {
    let lex = Lex::new('\\');
    let err = word(&lex, "${U:?must be set}").unwrap_err();
    assert_eq!(
        err,
        "failed to process \"${U:?must be set}\": U: must be set"
    );
    let err = word(&lex, "${U?}").unwrap_err();
    assert_eq!(
        err,
        "failed to process \"${U?}\": U: is not allowed to be unset"
    );
    let err = word(&lex, "${HOME:#x}").unwrap_err();
    assert_eq!(
        err,
        "failed to process \"${HOME:#x}\": unsupported modifier (:#) in substitution"
    );
    let err = word(&lex, "${}").unwrap_err();
    assert_eq!(
        err,
        "failed to process \"${}\": syntax error: bad substitution"
    );
}
