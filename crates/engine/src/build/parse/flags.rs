//! Instruction flags (`--from=…`, `--link`, `--mount=…`): BuildKit's `BFlags`, and its
//! "did you mean" suggestions (`util/suggest`: Levenshtein distance below 3).

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FlagKind {
    Bool,
    /// One value; given twice is an error.
    Str,
    /// Repeatable.
    Strs,
}

/// The flags of one instruction after checking them against what it accepts.
#[derive(Debug, Default)]
pub(super) struct Flags {
    used: BTreeSet<String>,
    bools: BTreeMap<String, bool>,
    strs: BTreeMap<String, String>,
    lists: BTreeMap<String, Vec<String>>,
}

impl Flags {
    /// Check `args` against the accepted flags `defs`.
    pub(super) fn parse(args: &[String], defs: &[(&str, FlagKind)]) -> Result<Flags, String> {
        let mut f = Flags::default();
        for a in args {
            if a == "--" {
                // Later words are operands, as POSIX utilities treat them.
                break;
            }
            if !a.starts_with("--") {
                return Err(format!("arg should start with -- : {a}"));
            }
            let (flag_name, value) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (a.as_str(), None),
            };
            let name = &flag_name[2..];
            let Some(&(_, kind)) = defs.iter().find(|(n, _)| *n == name) else {
                let names: Vec<&str> = defs.iter().map(|(n, _)| *n).collect();
                return Err(suggest(
                    format!("unknown flag: {flag_name}"),
                    name,
                    &names,
                    true,
                ));
            };
            if !f.used.insert(name.to_string()) && kind != FlagKind::Strs {
                return Err(format!("duplicate flag specified: {flag_name}"));
            }
            match kind {
                FlagKind::Bool => {
                    let v = match value {
                        Some("") => return Err(format!("missing a value on flag: {flag_name}")),
                        None => true,
                        Some(v) => match v.to_ascii_lowercase().as_str() {
                            "true" => true,
                            "false" => false,
                            _ => {
                                return Err(format!(
                                    "expecting boolean value for flag {flag_name}, not: {v}"
                                ));
                            }
                        },
                    };
                    f.bools.insert(name.to_string(), v);
                }
                FlagKind::Str => {
                    let v = value.ok_or_else(|| format!("missing a value on flag: {flag_name}"))?;
                    f.strs.insert(name.to_string(), v.to_string());
                }
                FlagKind::Strs => {
                    let v = value.ok_or_else(|| format!("missing a value on flag: {flag_name}"))?;
                    f.lists
                        .entry(name.to_string())
                        .or_default()
                        .push(v.to_string());
                }
            }
        }
        Ok(f)
    }

    pub(super) fn bool(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }

    /// A bool flag that was given, or `None`.
    pub(super) fn opt_bool(&self, name: &str) -> Option<bool> {
        self.bools.get(name).copied()
    }

    /// A string flag's value; `None` when not given or given empty (BuildKit's default is "").
    pub(super) fn str(&self, name: &str) -> Option<String> {
        self.strs.get(name).filter(|v| !v.is_empty()).cloned()
    }

    pub(super) fn list(&self, name: &str) -> Vec<String> {
        self.lists.get(name).cloned().unwrap_or_default()
    }

    pub(super) fn used(&self) -> Vec<String> {
        self.used.iter().cloned().collect()
    }
}

/// Append BuildKit's ` (did you mean X?)` when one option is within distance 2 of `val`.
pub(crate) fn suggest(
    message: String,
    val: &str,
    options: &[&str],
    case_sensitive: bool,
) -> String {
    let fold = |s: &str| {
        if case_sensitive {
            s.to_string()
        } else {
            s.to_lowercase()
        }
    };
    let v = fold(val);
    let mut best: Option<String> = None;
    let mut min = 3;
    let mut sorted: Vec<&str> = options.to_vec();
    sorted.sort_unstable();
    for opt in sorted {
        let o = fold(opt);
        if o == v {
            return message;
        }
        let d = levenshtein(&v, &o);
        if d < min {
            min = d;
            best = Some(if case_sensitive {
                o
            } else {
                match_case(&o, val)
            });
        }
    }
    match best {
        Some(b) => format!("{message} (did you mean {b}?)"),
        None => message,
    }
}

fn match_case(val: &str, orig: &str) -> String {
    if orig == orig.to_lowercase() {
        val.to_lowercase()
    } else if orig == orig.to_uppercase() {
        val.to_uppercase()
    } else {
        val.to_string()
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const DEFS: &[(&str, FlagKind)] = &[
        ("from", FlagKind::Str),
        ("link", FlagKind::Bool),
        ("exclude", FlagKind::Strs),
    ];

    #[test]
    fn values_and_errors() {
        let f = Flags::parse(
            &args(&["--from=a", "--link", "--exclude=x", "--exclude=y"]),
            DEFS,
        )
        .unwrap();
        assert_eq!(f.str("from").as_deref(), Some("a"));
        assert!(f.bool("link"));
        assert_eq!(f.list("exclude"), ["x", "y"]);
        assert!(
            !Flags::parse(&args(&["--link=FALSE"]), DEFS)
                .unwrap()
                .bool("link")
        );
        let err = |a: &[&str]| Flags::parse(&args(a), DEFS).unwrap_err();
        assert_eq!(
            err(&["--form=a"]),
            "unknown flag: --form (did you mean from?)"
        );
        assert_eq!(err(&["--zzzzz=a"]), "unknown flag: --zzzzz");
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "duplicate flag specified: --from"
        );
        assert_eq!(err(&["--from"]), "missing a value on flag: --from");
        assert_eq!(err(&["--link="]), "missing a value on flag: --link");
        assert_eq!(
            err(&["--link=yes"]),
            "expecting boolean value for flag --link, not: yes"
        );
        assert_eq!(err(&["-x"]), "arg should start with -- : -x");
        assert!(Flags::parse(&args(&["--", "--whatever"]), DEFS).is_ok());
    }

    #[test]
    fn suggestions_keep_case() {
        let names = ["copy", "run", "from"];
        assert_eq!(
            suggest("x".into(), "COPPY", &names, false),
            "x (did you mean COPY?)"
        );
        assert_eq!(
            suggest("x".into(), "rnu", &names, false),
            "x (did you mean run?)"
        );
        assert_eq!(
            suggest("x".into(), "Fromm", &names, false),
            "x (did you mean from?)"
        );
        assert_eq!(suggest("x".into(), "frobnicate", &names, false), "x");
    }
}
