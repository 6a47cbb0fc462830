//! The shell patterns of `${V#p}`, `${V%p}` and `${V/p/r}`: `*` (any run), `?` (one
//! character), `\*` `\?` `\\` literals, nothing else special. BuildKit turns them into a Go
//! regular expression (`.*`/`.*?` and `.`, so neither crosses a newline) and uses Go's
//! leftmost-first matching; this module matches the same way without a regex engine:
//! alternatives are tried in Go's priority order, so the first success is Go's match.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character other than a newline.
    Any,
    /// `*`: a run of non-newline characters, longest first when greedy.
    Star {
        greedy: bool,
    },
}

fn compile(pattern: &str, greedy: bool) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push(Tok::Star { greedy }),
            '?' => out.push(Tok::Any),
            '\\' => {
                // `\}` and `\/` were escapes of the `${…}` syntax: the character is literal.
                if matches!(chars.get(i), Some('}' | '/')) {
                    continue;
                }
                match chars.get(i) {
                    Some(&t @ ('*' | '?' | '\\')) => {
                        out.push(Tok::Lit(t));
                        i += 1;
                    }
                    Some(&t) => return Err(format!("invalid escape '\\{t}'")),
                    None => return Err("invalid escape '\\'".to_string()),
                }
            }
            c => out.push(Tok::Lit(c)),
        }
    }
    Ok(out)
}

struct Matcher<'a> {
    toks: &'a [Tok],
    text: &'a [char],
    memo: HashMap<(usize, usize), Option<usize>>,
}

impl Matcher<'_> {
    /// The end of the first match (in priority order) of `toks[ti..]` at `pos`.
    fn at(&mut self, ti: usize, pos: usize) -> Option<usize> {
        if ti == self.toks.len() {
            return Some(pos);
        }
        if let Some(r) = self.memo.get(&(ti, pos)) {
            return *r;
        }
        let r = match self.toks[ti] {
            Tok::Lit(c) => match self.text.get(pos) {
                Some(&t) if t == c => self.at(ti + 1, pos + 1),
                _ => None,
            },
            Tok::Any => match self.text.get(pos) {
                Some(&t) if t != '\n' => self.at(ti + 1, pos + 1),
                _ => None,
            },
            Tok::Star { greedy } => {
                let run = self.text[pos..].iter().take_while(|c| **c != '\n').count();
                if greedy {
                    (0..=run).rev().find_map(|k| self.at(ti + 1, pos + k))
                } else {
                    (0..=run).find_map(|k| self.at(ti + 1, pos + k))
                }
            }
        };
        self.memo.insert((ti, pos), r);
        r
    }

    /// Go's `FindStringIndex` from `from` on: the leftmost start, then the first end.
    fn find(&mut self, from: usize, anchored: bool) -> Option<(usize, usize)> {
        if anchored {
            return if from == 0 {
                self.at(0, 0).map(|e| (0, e))
            } else {
                None
            };
        }
        (from..=self.text.len()).find_map(|s| self.at(0, s).map(|e| (s, e)))
    }
}

fn invalid(pattern: &str, err: String) -> String {
    format!("invalid pattern ({pattern}) in substitution: {err}")
}

/// `${V#p}` (shortest) / `${V##p}` (greedy): remove the matching prefix.
pub fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    trim_prefix_as(pattern, pattern, value, greedy)
}

/// [`trim_prefix`], naming `shown` in an error.
fn trim_prefix_as(shown: &str, pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let toks = compile(pattern, greedy).map_err(|e| invalid(shown, e))?;
    let text: Vec<char> = value.chars().collect();
    let mut m = Matcher {
        toks: &toks,
        text: &text,
        memo: HashMap::new(),
    };
    Ok(match m.find(0, true) {
        Some((_, end)) => text[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${V%p}` / `${V%%p}`: remove the matching suffix, by matching the reversed pattern
/// against the reversed value (as BuildKit does: a regex cannot find the shortest rightmost
/// match directly).
pub fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let reversed_value: String = value.chars().rev().collect();
    let out = trim_prefix_as(pattern, &reverse_pattern(pattern), &reversed_value, greedy)?;
    Ok(out.chars().rev().collect())
}

/// Reverse a pattern, keeping each `\x` escape in order.
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; chars.len()];
    let last = chars.len().saturating_sub(1);
    let mut i = 0;
    while i < chars.len() {
        let o = last - i;
        if chars[i] == '\\' && i != last {
            out[o - 1] = '\\';
            out[o] = chars[i + 1];
            i += 2;
        } else {
            out[o] = chars[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// `${V/p/r}` (first match) and `${V//p/r}` (every match, Go's `ReplaceAllString`, which
/// also expands `$0`/`${name}` in the replacement; the single form inserts it literally).
pub fn replace(value: &str, pattern: &str, replacement: &str, all: bool) -> Result<String, String> {
    let toks = compile(pattern, true).map_err(|e| invalid(pattern, e))?;
    let text: Vec<char> = value.chars().collect();
    let mut m = Matcher {
        toks: &toks,
        text: &text,
        memo: HashMap::new(),
    };
    if !all {
        return Ok(match m.find(0, false) {
            Some((s, e)) => {
                let mut out: String = text[..s].iter().collect();
                out.push_str(replacement);
                out.extend(&text[e..]);
                out
            }
            None => value.to_string(),
        });
    }
    let mut out = String::new();
    let mut last_end = 0;
    let mut search = 0;
    while search <= text.len() {
        let Some((s, e)) = m.find(search, false) else {
            break;
        };
        out.extend(&text[last_end..s]);
        // No replacement for an empty match right after the previous match.
        if e > last_end || s == 0 {
            let matched: String = text[s..e].iter().collect();
            out.push_str(&go_expand(replacement, &matched));
        }
        last_end = e;
        search = if search + 1 > e { search + 1 } else { e };
    }
    out.extend(&text[last_end..]);
    Ok(out)
}

/// Go's `Regexp.Expand` for a regex without groups: `$$` is `$`, `$0`/`${0}` the match,
/// any other well-formed `$name`/`${name}` nothing, a malformed `$` itself.
fn go_expand(template: &str, matched: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        match extract_name(rest) {
            Some((name, r)) => {
                if name == "0" {
                    out.push_str(matched);
                }
                rest = r;
            }
            None => out.push('$'),
        }
    }
    out.push_str(rest);
    out
}

/// `name` or `{name}` at the start of `s`, with name made of letters, digits and `_`.
fn extract_name(s: &str) -> Option<(&str, &str)> {
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    if let Some(inner) = s.strip_prefix('{') {
        let end = inner.find(|c: char| !is_name(c)).unwrap_or(inner.len());
        if end == 0 || !inner[end..].starts_with('}') {
            return None;
        }
        return Some((&inner[..end], &inner[end + 1..]));
    }
    let end = s.find(|c: char| !is_name(c)).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    Some((&s[..end], &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_suffix_trimming() {
        // (pattern, value, greedy, prefix result, suffix result)
        let cases = [
            ("*x*y", "xxyy", false, "y", "x"),
            ("*x*y", "xxyy", true, "", ""),
            ("*", "xxyy", false, "xxyy", "xxyy"),
            ("*", "xxyy", true, "", ""),
            ("x", "xxyy", false, "xyy", "xxyy"),
            ("", "xxyy", false, "xxyy", "xxyy"),
            ("*x", "xxyy", true, "yy", "xxyy"),
            ("?\\?", "???y", false, "?y", "???y"),
            ("\\**", "xx**", true, "xx**", "xx"),
            ("y*", "xxyy", false, "xxyy", "xxy"),
            ("y*", "xxyy", true, "xxyy", "xx"),
            ("*", "a\nb", true, "\nb", "a\n"),
        ];
        for (pat, value, greedy, prefix, suffix) in cases {
            assert_eq!(
                trim_prefix(pat, value, greedy).unwrap(),
                prefix,
                "#{pat} on {value:?}"
            );
            assert_eq!(
                trim_suffix(pat, value, greedy).unwrap(),
                suffix,
                "%{pat} on {value:?}"
            );
        }
        assert!(trim_prefix("\\a", "a", false).is_err());
    }

    #[test]
    fn replacement_follows_go() {
        assert_eq!(
            replace("/foo*/*/*.txt", "\\*/", ".", false).unwrap(),
            "/foo.*/*.txt"
        );
        assert_eq!(
            replace("/foo*/*/*.txt", "\\*/", ".", true).unwrap(),
            "/foo..*.txt"
        );
        assert_eq!(
            replace("/tmp/tmp/bar.txt", "/tmp", "", true).unwrap(),
            "/bar.txt"
        );
        assert_eq!(
            replace("/a/foo/b/c.txt", "/?/", "/", true).unwrap(),
            "/foo/c.txt"
        );
        assert_eq!(replace("xxyy", "", "ww", false).unwrap(), "wwxxyy");
        assert_eq!(replace("xxyy", "", "", true).unwrap(), "xxyy");
        assert_eq!(replace("xy", "", "-", true).unwrap(), "-x-y-");
        assert_eq!(replace("abc", "b", "[$0]", true).unwrap(), "a[b]c");
        assert_eq!(replace("abc", "b", "[$0]", false).unwrap(), "a[$0]c");
        assert_eq!(replace("abc", "b", "$$x$y${z}$", true).unwrap(), "a$x$c");
        assert_eq!(replace("a.b.c", "*.", "", true).unwrap(), "c");
    }
}
