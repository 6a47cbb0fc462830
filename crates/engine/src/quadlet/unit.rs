//! systemd's unit-file syntax as quadlet reads and writes it: `[Group]` headers,
//! `Key=Value` lines (repeated keys kept in order), `#`/`;` comments, a trailing `\`
//! continuing a line, and the word splitting of `Exec=`-style values (double or single
//! quotes, C escapes).

/// A unit file: its groups in file order, each with its entries in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitFile {
    pub groups: Vec<(String, Vec<(String, String)>)>,
}

impl UnitFile {
    /// Parses `text`; `path` names the file in errors.
    pub fn parse(text: &str, path: &str) -> Result<UnitFile, String> {
        let mut unit = UnitFile::default();
        let mut logical = String::new();
        let mut lines = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let trimmed = raw.trim_start();
            if logical.is_empty() && (trimmed.starts_with('#') || trimmed.starts_with(';')) {
                continue;
            }
            if let Some(head) = raw.strip_suffix('\\') {
                logical.push_str(head);
                logical.push(' ');
                continue;
            }
            logical.push_str(raw);
            lines.push((n + 1, std::mem::take(&mut logical)));
        }
        if !logical.is_empty() {
            lines.push((text.lines().count(), logical));
        }
        for (n, line) in lines {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let Some(name) = name.strip_suffix(']') else {
                    return Err(format!("{path}:{n}: invalid group header {line:?}"));
                };
                unit.group_mut(name);
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("{path}:{n}: assignment expected, got {line:?}"));
            };
            let Some(group) = unit.groups.last_mut() else {
                return Err(format!(
                    "{path}:{n}: key {:?} outside of any group",
                    k.trim()
                ));
            };
            group.1.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(unit)
    }

    fn group_mut(&mut self, name: &str) -> &mut Vec<(String, String)> {
        let i = match self.groups.iter().position(|(g, _)| g == name) {
            Some(i) => i,
            None => {
                self.groups.push((name.to_string(), Vec::new()));
                self.groups.len() - 1
            }
        };
        &mut self.groups[i].1
    }

    /// A drop-in's entries added after this file's (systemd's merge).
    pub fn merge(&mut self, other: UnitFile) {
        for (g, entries) in other.groups {
            self.group_mut(&g).extend(entries);
        }
    }

    pub fn has_group(&self, group: &str) -> bool {
        self.groups.iter().any(|(g, _)| g == group)
    }

    pub fn keys(&self, group: &str) -> Vec<&str> {
        self.entries(group).map(|(k, _)| k.as_str()).collect()
    }

    fn entries(&self, group: &str) -> impl Iterator<Item = &(String, String)> {
        self.groups
            .iter()
            .filter(move |(g, _)| g == group)
            .flat_map(|(_, e)| e.iter())
    }

    /// Every value of `key`, in order (an empty value resets the list, as in systemd).
    pub fn all(&self, group: &str, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in self.entries(group) {
            if k == key {
                if v.is_empty() {
                    out.clear();
                } else {
                    out.push(v.clone());
                }
            }
        }
        out
    }

    /// The last value of `key`.
    pub fn last(&self, group: &str, key: &str) -> Option<String> {
        self.entries(group)
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .last()
    }

    /// `key` as a systemd boolean; `Err` names a value that is none.
    pub fn boolean(&self, group: &str, key: &str) -> Result<Option<bool>, String> {
        let Some(v) = self.last(group, key) else {
            return Ok(None);
        };
        match v.to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Ok(Some(true)),
            "0" | "no" | "false" | "off" => Ok(Some(false)),
            _ => Err(format!("invalid boolean {v:?} for key {key}")),
        }
    }

    /// Every value of `key` split into words, all of them joined.
    pub fn all_words(&self, group: &str, key: &str) -> Vec<String> {
        self.all(group, key)
            .iter()
            .flat_map(|v| split_words(v))
            .collect()
    }

    pub fn add(&mut self, group: &str, key: &str, value: &str) {
        self.group_mut(group).push((key.into(), value.into()));
    }

    /// `key` set to `value` alone (earlier values dropped).
    pub fn set(&mut self, group: &str, key: &str, value: &str) {
        let g = self.group_mut(group);
        g.retain(|(k, _)| k != key);
        g.push((key.into(), value.into()));
    }

    /// `key=value` put first in the group.
    pub fn prepend(&mut self, group: &str, key: &str, value: &str) {
        self.group_mut(group).insert(0, (key.into(), value.into()));
    }

    pub fn rename_group(&mut self, from: &str, to: &str) {
        for (g, _) in &mut self.groups {
            if g == from {
                *g = to.to_string();
            }
        }
    }

    /// The file's text: groups in order, a blank line between them.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for (i, (g, entries)) in self.groups.iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(&format!("[{g}]\n"));
            for (k, v) in entries {
                s.push_str(&format!("{k}={v}\n"));
            }
        }
        s
    }
}

/// systemd's splitting of a value into words: blanks separate, `"…"` and `'…'` quote,
/// `\` escapes (`\n`, `\t`, `\\`, `\"`, `\'`, `\ `).
pub fn split_words(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('n') => cur.push('\n'),
                    Some('t') => cur.push('\t'),
                    Some('r') => cur.push('\r'),
                    Some('x') => {
                        let hex: String = chars.by_ref().take(2).collect();
                        if let Some(b) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            cur.push(b);
                        }
                    }
                    Some(o) => cur.push(o),
                    None => {}
                }
            }
            '"' | '\'' if quote == Some(c) => quote = None,
            '"' | '\'' if quote.is_none() => {
                quote = Some(c);
                in_word = true;
            }
            c if c.is_whitespace() && quote.is_none() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Quadlet's quoting of a command line (Podman's `escapeWords`): a word with a blank, a
/// control character, a quote or a backslash is double-quoted with C escapes (a blank as
/// `\x20`). Unlike `generate systemd`'s `escape_arg`, `%` and `$` are left alone: a
/// quadlet file's `%N` or `${PORT}` is meant for systemd to expand.
pub fn escape_words(words: &[String]) -> String {
    let needs = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\');
    let mut out = Vec::new();
    for w in words {
        if !w.chars().any(needs) {
            out.push(w.clone());
            continue;
        }
        let mut q = String::from('"');
        for c in w.chars() {
            match c {
                '\n' => q.push_str("\\n"),
                '\r' => q.push_str("\\r"),
                '\t' => q.push_str("\\t"),
                '\\' => q.push_str("\\\\"),
                '"' => q.push_str("\\\""),
                ' ' => q.push_str("\\x20"),
                c if needs(c) && c != '\'' => q.push_str(&format!("\\x{:02x}", c as u32)),
                c => q.push(c),
            }
        }
        q.push('"');
        out.push(q);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_repeated_keys_continuations_and_comments() {
        let text = "# c\n[Unit]\nDescription=x\n\n[Container]\nImage=a\n; c\nEnvironment=A=1 \\\n   B=2\nEnvironment=C=3\n";
        let u = UnitFile::parse(text, "f.container").unwrap();
        assert_eq!(u.last("Unit", "Description").as_deref(), Some("x"));
        assert_eq!(u.all("Container", "Environment"), ["A=1     B=2", "C=3"]);
        assert_eq!(u.keys("Container"), ["Image", "Environment", "Environment"]);
    }

    #[test]
    fn a_line_outside_a_group_or_without_equals_is_an_error_naming_the_line() {
        let e = UnitFile::parse("Image=x\n", "/d/a.container").unwrap_err();
        assert!(e.starts_with("/d/a.container:1:"), "{e}");
        let e = UnitFile::parse("[Container]\nbogus\n", "/d/a.container").unwrap_err();
        assert!(e.starts_with("/d/a.container:2:"), "{e}");
    }

    #[test]
    fn words_split_as_systemd_does() {
        assert_eq!(
            split_words(r#"FOO1=foo1 "FOO2=foo2 "  FOO3=foo3 'FOO4=foo\nfoo' FOO5"#),
            [
                "FOO1=foo1",
                "FOO2=foo2 ",
                "FOO3=foo3",
                "FOO4=foo\nfoo",
                "FOO5"
            ]
        );
        assert_eq!(split_words(r#"a\ b "" c"#), ["a b", "", "c"]);
        assert_eq!(split_words(r#""FOO2=foo2\x20""#), ["FOO2=foo2 "]);
    }

    #[test]
    fn words_quoted_as_quadlet_does_and_split_back() {
        let words: Vec<String> = ["run", "systemd-%N", "${PORT}", "FOO2=foo2 ", "a\nb\\c\"d'e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let line = escape_words(&words);
        assert_eq!(
            line,
            r#"run systemd-%N ${PORT} "FOO2=foo2\x20" "a\nb\\c\"d'e""#
        );
        assert_eq!(split_words(&line), words);
    }

    #[test]
    fn drop_ins_add_after_and_empty_resets() {
        let mut u = UnitFile::parse("[Container]\nVolume=a:/a\n", "x").unwrap();
        u.merge(UnitFile::parse("[Container]\nVolume=\nVolume=b:/b\n", "y").unwrap());
        assert_eq!(u.all("Container", "Volume"), ["b:/b"]);
    }
}
