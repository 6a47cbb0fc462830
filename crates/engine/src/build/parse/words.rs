//! BuildKit's line parsers (`line_parsers.go`, `split_command.go`): how the text after an
//! instruction name becomes flags and arguments. Each instruction has its own rule (JSON or
//! a single string, whitespace-split words, `name=value` pairs…); quotes are kept here and
//! removed later by word expansion, exactly as BuildKit splits the work.

/// The arguments of one instruction, before typing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Args {
    pub args: Vec<String>,
    /// The arguments were a JSON array (exec form).
    pub json: bool,
}

pub(super) const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// Go's `[\t\v\f\r ]+` (BuildKit's `reWhitespace`).
fn is_re_ws(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Go's `regexp.Split(s, n)` with `reWhitespace`: at most `n` pieces (`n` < 0: all).
pub(super) fn split_ws(s: &str, n: isize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        if n > 0 && out.len() as isize == n - 1 {
            out.push(rest.to_string());
            return out;
        }
        match rest.find(is_re_ws) {
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start_matches(is_re_ws);
            }
            None => {
                out.push(rest.to_string());
                return out;
            }
        }
    }
}

/// `splitCommand`: the instruction name, its `--flags`, and the rest of the line.
pub(super) fn split_command(line: &str, escape: char) -> (String, Vec<String>, String) {
    let parts = split_ws(line.trim(), 2);
    let cmd = parts[0].clone();
    let (rest, flags) = match parts.get(1) {
        Some(rest) => extract_builder_flags(rest, escape),
        None => (String::new(), Vec::new()),
    };
    (cmd, flags, rest.trim().to_string())
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Phase {
    Spaces,
    Word,
    Quote,
}

/// `extractBuilderFlags`: leading words that start with `--` are flags (quotes and escapes
/// removed); a bare `--` ends them.
fn extract_builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    let chars: Vec<char> = line.chars().collect();
    let rest_from = |pos: usize| chars[pos..].iter().collect::<String>();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut buf = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    loop {
        let Some(&c) = chars.get(pos) else {
            if phase != Phase::Spaces && buf != "--" && (blank_ok || !buf.is_empty()) {
                words.push(buf);
            }
            return (String::new(), words);
        };
        pos += 1;
        if phase == Phase::Spaces {
            if c.is_whitespace() {
                continue;
            }
            // Only words that start with `--` are flags.
            if c != '-' || chars.get(pos) != Some(&'-') {
                return (rest_from(pos - 1), words);
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Word if c.is_whitespace() => {
                phase = Phase::Spaces;
                if buf == "--" {
                    return (rest_from(pos - 1), words);
                }
                if blank_ok || !buf.is_empty() {
                    words.push(std::mem::take(&mut buf));
                }
                blank_ok = false;
            }
            Phase::Word if c == '\'' || c == '"' => {
                quote = c;
                blank_ok = true;
                phase = Phase::Quote;
            }
            Phase::Quote if c == quote => phase = Phase::Word,
            _ if c == escape => match chars.get(pos) {
                // An escape at the very end is dropped (and ends a quote).
                None => phase = Phase::Word,
                Some(&next) => {
                    buf.push(next);
                    pos += 1;
                }
            },
            _ => buf.push(c),
        }
    }
}

/// `parseWords`: blank-separated words; quotes and escapes are kept in the words (they are
/// removed by expansion later), blanks inside quotes do not split.
pub(super) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut buf = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= chars.len() {
        let at_end = pos == chars.len();
        let mut ch = if at_end { '\0' } else { chars[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !buf.is_empty() {
                words.push(buf);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !buf.is_empty() {
                    words.push(std::mem::take(&mut buf));
                }
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                // Outside quotes the escape and the next character are both kept.
                buf.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            buf.push(ch);
            pos += 1;
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
        }
        // The escape character is special inside "…" but not inside '…'.
        if ch == escape && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            buf.push(ch);
            ch = chars[pos];
        }
        buf.push(ch);
        pos += 1;
    }
    words
}

/// A JSON array of strings (exec form), or why the text is not one.
pub(super) enum JsonArgs {
    Array(Vec<String>),
    NotJson,
    NotStrings,
}

/// `parseJSON`.
pub(super) fn parse_json(rest: &str) -> JsonArgs {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return JsonArgs::NotJson;
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(rest) {
        Err(_) => JsonArgs::NotJson,
        Ok(values) => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    serde_json::Value::String(s) => out.push(s),
                    _ => return JsonArgs::NotStrings,
                }
            }
            JsonArgs::Array(out)
        }
    }
}

/// `parseMaybeJSON`: a JSON array, or the whole text as one argument.
pub(super) fn parse_maybe_json(rest: &str) -> Result<Args, String> {
    if rest.is_empty() {
        return Ok(Args::default());
    }
    match parse_json(rest) {
        JsonArgs::Array(args) => Ok(Args { args, json: true }),
        JsonArgs::NotStrings => Err(NOT_STRING_ARRAY.to_string()),
        JsonArgs::NotJson => Ok(Args {
            args: vec![rest.to_string()],
            json: false,
        }),
    }
}

/// `parseMaybeJSONToList`: a JSON array, or whitespace-separated words.
pub(super) fn parse_maybe_json_to_list(rest: &str) -> Result<Args, String> {
    match parse_json(rest) {
        JsonArgs::Array(args) => Ok(Args { args, json: true }),
        JsonArgs::NotStrings => Err(NOT_STRING_ARRAY.to_string()),
        JsonArgs::NotJson => Ok(Args {
            args: parse_strings_ws(rest),
            json: false,
        }),
    }
}

/// `parseStringsWhitespaceDelimited`.
pub(super) fn parse_strings_ws(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    split_ws(rest, -1)
}

/// `parseString`: the whole text as one argument.
pub(super) fn parse_string(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        Vec::new()
    } else {
        vec![rest.to_string()]
    }
}

/// `parseNameVal` (ENV, LABEL): `key value` (legacy, one pair) or `k=v …`, flattened as
/// BuildKit does into (key, value, separator) triples; the separator is `""` for the legacy
/// form.
pub(super) fn parse_name_val(
    rest: &str,
    instruction: &str,
    escape: char,
) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let parts = split_ws(rest, 2);
        if parts.len() < 2 {
            return Err(format!("{instruction} must have two arguments"));
        }
        return Ok(vec![parts[0].clone(), parts[1].clone(), String::new()]);
    }
    let mut out = Vec::new();
    for word in &words {
        let Some((k, v)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
            ));
        };
        out.extend([k.to_string(), v.to_string(), "=".to_string()]);
    }
    Ok(out)
}

/// `parseHealthConfig`: the type word (`CMD`, `NONE`, …) then a maybe-JSON command.
pub(super) fn parse_health_config(rest: &str) -> Result<Args, String> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok(Args::default());
    }
    let typ = &rest[..sep];
    let cmd = parse_maybe_json(rest[sep..].trim_start())?;
    let mut args = vec![typ.to_string()];
    args.extend(cmd.args);
    Ok(Args {
        args,
        json: cmd.json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_split() {
        assert_eq!(split_ws("a  b\tc", -1), ["a", "b", "c"]);
        assert_eq!(split_ws("a  b\tc", 2), ["a", "b\tc"]);
        assert_eq!(split_ws("a", 2), ["a"]);
        assert_eq!(split_ws("a\u{a0}b c", -1), ["a\u{a0}b", "c"]);
    }

    #[test]
    fn command_and_flags() {
        let cases: &[(&str, &str, &[&str], &str)] = &[
            ("RUN echo hi", "RUN", &[], "echo hi"),
            (
                "  copy   --from=b  --chown=1:1 a b ",
                "copy",
                &["--from=b", "--chown=1:1"],
                "a b",
            ),
            (
                "RUN --mount=type=cache,target=/x -- --not-a-flag",
                "RUN",
                &["--mount=type=cache,target=/x"],
                "--not-a-flag",
            ),
            ("COPY --chown=\"a b\" x y", "COPY", &["--chown=a b"], "x y"),
            ("COPY --chown='' x y", "COPY", &["--chown="], "x y"),
            ("COPY --a=\\x\\ y z", "COPY", &["--a=x y"], "z"),
            ("COPY -a x", "COPY", &[], "-a x"),
            ("RUN", "RUN", &[], ""),
            ("RUN --link", "RUN", &["--link"], ""),
            ("RUN --x=\"unterminated", "RUN", &["--x=unterminated"], ""),
        ];
        for (line, cmd, flags, rest) in cases {
            let (c, f, r) = split_command(line, '\\');
            assert_eq!((c.as_str(), r.as_str()), (*cmd, *rest), "line {line:?}");
            assert_eq!(f, *flags, "line {line:?}");
        }
    }

    #[test]
    fn words_keep_quotes_and_escapes() {
        let cases: &[(&str, &[&str])] = &[
            ("a b", &["a", "b"]),
            ("a=\"x y\" b='z w'", &["a=\"x y\"", "b='z w'"]),
            ("a\\ b c", &["a\\ b", "c"]),
            ("\"a\\\"b\" c", &["\"a\\\"b\"", "c"]),
            ("'a\\'", &["'a\\'"]),
            ("\"\"", &["\"\""]),
            ("x\\", &["x"]),
        ];
        for (rest, want) in cases {
            assert_eq!(parse_words(rest, '\\'), *want, "rest {rest:?}");
        }
    }

    #[test]
    fn name_value_forms() {
        assert_eq!(
            parse_name_val("k v w", "ENV", '\\').unwrap(),
            ["k", "v w", ""]
        );
        assert_eq!(
            parse_name_val("a=1 b=\"2 3\"", "ENV", '\\').unwrap(),
            ["a", "1", "=", "b", "\"2 3\"", "="]
        );
        assert_eq!(
            parse_name_val("k", "ENV", '\\').unwrap_err(),
            "ENV must have two arguments"
        );
        assert_eq!(
            parse_name_val("a=1 b", "LABEL", '\\').unwrap_err(),
            "Syntax error - can't find = in \"b\". Must be of the form: name=value"
        );
        assert!(parse_name_val("", "ENV", '\\').unwrap().is_empty());
    }

    #[test]
    fn json_or_not() {
        let a = parse_maybe_json("[\"a\", \"b c\"]").unwrap();
        assert_eq!(
            (a.args.as_slice(), a.json),
            (&["a".to_string(), "b c".to_string()][..], true)
        );
        let a = parse_maybe_json("[\"a\", 'b']").unwrap();
        assert_eq!((a.args, a.json), (vec!["[\"a\", 'b']".to_string()], false));
        let a = parse_maybe_json("[\"a\"] trailing").unwrap();
        assert!(!a.json);
        assert_eq!(
            parse_maybe_json("[\"a\", 1]").unwrap_err(),
            NOT_STRING_ARRAY
        );
        let a = parse_maybe_json_to_list("a  b").unwrap();
        assert_eq!(a.args, ["a", "b"]);
        let a = parse_maybe_json("[]").unwrap();
        assert!(a.json && a.args.is_empty());
        let h = parse_health_config("CMD [\"curl\", \"-f\"]").unwrap();
        assert_eq!((h.args.len(), h.json), (3, true));
        let h = parse_health_config("NONE").unwrap();
        assert_eq!(h.args, ["NONE"]);
    }
}
