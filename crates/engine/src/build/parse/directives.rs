//! Parser directives (`# syntax=…`, `# escape=…`, `# check=…`): BuildKit's
//! `DirectiveParser`. They are only recognised in the leading comment block: the first line
//! that is not a directive (an instruction, an empty line, an ordinary comment, an unknown
//! directive) ends the block. Each may appear once.

use std::collections::HashSet;

use serde::Serialize;

/// The directives of a Containerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directives {
    /// `# syntax=`: recorded, not acted on (there is no frontend to switch to).
    pub syntax: Option<String>,
    /// `# escape=`: `\` (default) or `` ` ``.
    pub escape: char,
    /// `# check=`: recorded, not acted on (no linter).
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// Reads directives line by line until the block ends.
#[derive(Default)]
pub(super) struct DirectiveParser {
    done: bool,
    seen: HashSet<String>,
}

impl DirectiveParser {
    /// Look at one line (leading blanks already removed); record a directive in `into`.
    /// Returns whether the line was a directive.
    pub(super) fn parse_line(&mut self, line: &str, into: &mut Directives) -> Result<bool, String> {
        if self.done {
            return Ok(false);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(false);
        };
        let Some((key, value)) = split_directive(rest.trim_start()) else {
            self.done = true;
            return Ok(false);
        };
        let key = key.to_ascii_lowercase();
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(false);
        }
        if !self.seen.insert(key.clone()) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        match key.as_str() {
            "escape" => {
                into.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    v => {
                        return Err(format!("invalid escape token '{v}' does not match ` or \\"));
                    }
                }
            }
            "syntax" => into.syntax = Some(value.to_string()),
            _ => into.check = Some(value.to_string()),
        }
        Ok(true)
    }
}

/// Go's `\s`: ASCII blanks only.
fn is_go_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`, as Go's regexp matches it.
fn split_directive(s: &str) -> Option<(&str, &str)> {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() => {}
        _ => return None,
    }
    let name_end = s
        .char_indices()
        .skip(1)
        .find(|(_, c)| !c.is_ascii_alphanumeric())
        .map_or(s.len(), |(i, _)| i);
    let rest = s[name_end..].trim_start_matches(is_go_space);
    let rest = rest.strip_prefix('=')?;
    if rest.is_empty() {
        return None;
    }
    let trimmed = rest.trim_matches(is_go_space);
    let value = if trimmed.is_empty() {
        // Only blanks: the lazy group still needs one character, the last blank.
        &rest[rest.len() - 1..]
    } else {
        trimmed
    };
    Some((&s[..name_end], value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> Result<(Directives, Vec<bool>), String> {
        let mut p = DirectiveParser::default();
        let mut d = Directives::default();
        let mut seen = Vec::new();
        for l in lines {
            seen.push(p.parse_line(l, &mut d)?);
        }
        Ok((d, seen))
    }

    #[test]
    fn leading_block_only() {
        let (d, seen) = run(&[
            "# syntax=docker/dockerfile:1",
            "#escape = `",
            "# check=skip=all",
            "FROM x",
            "# escape=\\",
        ])
        .unwrap();
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape, '`');
        assert_eq!(d.check.as_deref(), Some("skip=all"));
        assert_eq!(seen, [true, true, true, false, false]);
    }

    #[test]
    fn block_ends_at_comment_blank_or_unknown() {
        for stop in ["# a comment", "", "# foo=bar", "#"] {
            let (d, seen) = run(&[stop, "# escape=`"]).unwrap();
            assert_eq!(d.escape, '\\', "after {stop:?}");
            assert_eq!(seen, [false, false]);
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            run(&["# escape=`", "# ESCAPE=\\"]).unwrap_err(),
            "only one escape parser directive can be used"
        );
        assert_eq!(
            run(&["# escape=x"]).unwrap_err(),
            "invalid escape token 'x' does not match ` or \\"
        );
    }

    #[test]
    fn value_is_trimmed() {
        assert_eq!(split_directive("syntax = a b  "), Some(("syntax", "a b")));
        assert_eq!(split_directive("escape=  "), Some(("escape", " ")));
        assert_eq!(split_directive("escape="), None);
        assert_eq!(split_directive("1x=a"), None);
    }
}
